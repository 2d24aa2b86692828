// Metrics of batch b while batch b + 1 is inferred: a background thread at the lowest priority.
//
// A large model runs as one session whose intra-op threads use every core (sessionPlan.ts), and its
// run is synchronous on the extraction thread. Even so the cores are not busy all the time: between
// and inside operators onnxruntime's threads wait on each other. Measured on this project's 2-core
// machine (SmolLM2, 200 texts, every layer): a thread at nice 19 running per-sample metrics beside
// the floor benchmark got 14–21 % of a core while inference time did not measurably change; at
// normal priority the same thread doubled inference time (three busy threads on two cores). So
// after inferring batch b the extraction thread copies its hidden states into shared memory and
// hands the batch to a background thread (nice 19) that measures its layers (batchLayers.ts) while
// the extraction thread infers batch b + 1; then the extraction thread measures the layers the
// background thread has not claimed yet, waits for the one it is on, and hands over batch b + 1.
// The results are the same bits as measuring in one thread (batchLayers.ts says why).
//
// Used only where lowering the thread's priority works (Linux; threadPriority.ts) and a batch's
// hidden states are at most MAX_PIPELINED_BYTES (they are held twice: onnxruntime's output of
// b + 1 and the shared copy of b). ENTROSCOPE_PIPELINE=0 turns it off.
import { ThreadPool } from '../parallel/threadPool.ts';
import { measureClaimedLayers, stopClaims, type BatchLayersInput, type LayerResult } from './batchLayers.ts';

/** Largest batch (all layers' hidden states, float32 bytes) handed to the background thread. */
export const MAX_PIPELINED_BYTES = 128 * 2 ** 20;

// A small young generation, as the sample helper (sampleHelper.ts): the thread allocates only each
// sample's small arrays.
const LIMITS = { maxYoungGenerationSizeMb: 2 };

let pool: ThreadPool | undefined;
let ready: Promise<boolean> | undefined;
/** Shared buffers for the hidden states of a batch in flight, per layer, grown as needed; a set
 * per batch in flight (two shards may run at once in one thread), reused once it is finished. */
const freeBuffers: Float32Array[][] = [];
let batches = 0;
let layersThere = 0;

/** Batches handed to the background thread so far in this thread (for tests and benchmarks). */
export function pipelinedBatches(): number {
  return batches;
}

/** (batch, layer) pairs the background thread measured so far (for tests and benchmarks). */
export function backgroundLayers(): number {
  return layersThere;
}

export function pipelineWanted(): boolean {
  return process.env.ENTROSCOPE_PIPELINE !== '0';
}

/**
 * Starts the background thread (once per extraction thread); resolves to whether it runs at the
 * lowest priority — if not, it is not used.
 */
export function openPipeline(): Promise<boolean> {
  pool ??= new ThreadPool(1, undefined, LIMITS);
  ready ??= pool.run('batchLayers', null).then(
    (r) => r.niced,
    () => false,
  );
  return ready;
}

export interface LayerHidden {
  hidden: Float32Array;
  seqLen: number;
  dim: number;
}

/** A batch whose layers are being measured: `finish` measures the rest here and returns them all. */
export interface PipelinedBatch {
  /** Measures the layers not yet claimed on this thread (z: scratch of Σ lengths × max dim), waits
   * for the background thread, and returns every layer's result (any order). */
  finish: (z: Float64Array) => Promise<LayerResult[]>;
  /** Stops claims and waits for the background thread (errors ignored): after a failure elsewhere. */
  abandon: () => Promise<void>;
  /** Layers claimed so far, by either thread (for tests). */
  claimed: () => number;
}

/**
 * Hands a batch to the background thread (openPipeline must have resolved true): copies each
 * layer's hidden states (the caller may drop its own) and returns at once; undefined when the batch
 * is too large to hold twice (the caller measures it itself).
 */
export function startBatch(
  layers: LayerHidden[],
  meta: Pick<BatchLayersInput, 'lengths' | 'rows' | 'where' | 's'>,
): PipelinedBatch | undefined {
  const used = layers.map((h) => meta.lengths.length * h.seqLen * h.dim);
  if (4 * used.reduce((a, n) => a + n, 0) > MAX_PIPELINED_BYTES) return undefined;
  const buffers = freeBuffers.pop() ?? [];
  const hidden = layers.map((h, l) => {
    if ((buffers[l]?.length ?? 0) < used[l]) buffers[l] = new Float32Array(new SharedArrayBuffer(4 * used[l]));
    const view = buffers[l].subarray(0, used[l]);
    view.set(h.hidden.subarray(0, used[l]));
    return view;
  });
  let returned = false;
  const giveBack = (): void => {
    if (!returned) freeBuffers.push(buffers);
    returned = true;
  };
  const input: BatchLayersInput = {
    ...meta,
    hidden,
    seqLen: layers.map((h) => h.seqLen),
    dim: layers.map((h) => h.dim),
    claim: new Int32Array(new SharedArrayBuffer(4)),
  };
  const background = pool!.run('batchLayers', input);
  background.catch(() => undefined); // answered once, by finish or abandon
  batches++;
  return {
    finish: async (z) => {
      let here: LayerResult[] = [];
      let failure: unknown;
      try {
        here = measureClaimedLayers(input, z);
      } catch (err) {
        stopClaims(input);
        failure = err;
      }
      let there: LayerResult[] = [];
      try {
        there = (await background).results;
        layersThere += there.length;
      } catch (err) {
        failure ??= err;
      }
      giveBack(); // the background thread is done with them
      if (failure !== undefined) throw failure;
      return [...here, ...there];
    },
    abandon: async () => {
      stopClaims(input);
      await background.catch(() => undefined);
      giveBack();
    },
    claimed: () => Math.min(layers.length, Atomics.load(input.claim, 0)),
  };
}
