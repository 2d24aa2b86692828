// One batch's metrics, every layer, shared out between an extraction thread and its background
// thread (batchPipeline.ts) one layer at a time: a thread claims the next layer (one atomic add on
// a shared counter), measures its samples (layerSamples.ts) and adds the layer's kept unit rows to
// that layer's pooled S in one rank-k update, then claims another, until none is left. Each layer
// is done by the same calls whichever thread claims it, and a batch's layers are all done before
// the next batch's start, so S sums the same updates in the same order as a one-thread loop: the
// results are bit-identical however the layers fell (test/unit/batchPipeline.test.ts).
import { markBackgroundThread } from '../linalg/coreBudget.ts';
import { syrkUpper } from '../linalg/gram.ts';
import { layerSamples } from './layerSamples.ts';
import type { SampleMetrics } from '../metrics/sampleMetrics.ts';
import { lowerThreadPriority } from './threadPriority.ts';

export interface BatchLayersInput {
  /** Per layer: its hidden states for the batch (batch × seqLen[l] × dim[l]), in shared memory. */
  hidden: Float32Array[];
  seqLen: number[];
  dim: number[];
  /** Real tokens of each batch member, in batch order. */
  lengths: number[];
  /** Dataset row of each batch member (for errors). */
  rows: number[];
  /** Each layer as errors name it. */
  where: string[];
  /** Per layer: its pooled S (dim × dim, upper triangle), in shared memory. */
  s: Float64Array[];
  /** claim[0]: the next layer to claim (shared). */
  claim: Int32Array;
  /** The layers' numbers as the caller counts them (default 0, 1, …): results carry these. */
  layerIndex?: number[];
}

export interface LayerResult {
  layer: number;
  /** Per member, in batch order. */
  metrics: SampleMetrics[];
  /** Rows added to the layer's S. */
  kept: number;
}

/** Claims and measures layers until none is left; `z`: scratch of at least Σ lengths × max dim. */
export function measureClaimedLayers(input: BatchLayersInput, z: Float64Array): LayerResult[] {
  const done: LayerResult[] = [];
  for (;;) {
    const l = Atomics.add(input.claim, 0, 1);
    if (l >= input.hidden.length) return done;
    const dim = input.dim[l];
    const r = layerSamples({ hidden: input.hidden[l], seqLen: input.seqLen[l], dim, lengths: input.lengths, rows: input.rows, where: input.where[l], z });
    if (r.kept > 0) syrkUpper(input.s[l], z.subarray(0, r.kept * dim), r.kept, dim);
    done.push({ layer: input.layerIndex?.[l] ?? l, metrics: r.metrics, kept: r.kept });
  }
}

/** Stops further claims (a thread failed): the others finish the layer they hold and return. */
export function stopClaims(input: Pick<BatchLayersInput, 'claim' | 'hidden'>): void {
  Atomics.store(input.claim, 0, input.hidden.length);
}

let z = new Float64Array(0);
let priority: boolean | undefined;

/**
 * The background thread's side (tasks.ts `batchLayers`). On its first call the thread lowers its
 * own priority to the lowest (nice 19) and stops counting itself in the core budget; the answer says
 * whether lowering worked (without it the thread would compete with inference for the cores, and
 * batchPipeline.ts does not use it).
 */
export function backgroundBatchLayers(input: BatchLayersInput | null): { niced: boolean; results: LayerResult[] } {
  if (priority === undefined) {
    priority = lowerThreadPriority();
    markBackgroundThread();
  }
  if (input === null) return { niced: priority, results: [] };
  const need = input.lengths.reduce((a, n) => a + n, 0) * Math.max(...input.dim);
  if (z.length < need) z = new Float64Array(need);
  try {
    return { niced: priority, results: measureClaimedLayers(input, z) };
  } catch (err) {
    stopClaims(input);
    throw err;
  }
}
