// One shard, start to finish, without Temporal: tokenise → run the model batch by batch → per
// sample metrics of the real (unpadded) tokens at every requested layer → one partial Gram
// S = Σ z zᵀ and n per layer; with `loss`, the mean next-token cross-entropy of each sample.
import { InputError, TaskCancelledError } from '../errors.ts';
import { PromiseCache } from '../parallel/promiseCache.ts';
import { OnnxModel, type BatchOutputs, type GraphOptimization } from '../model/onnxModel.ts';
import { inferenceFailure, isTransientInferenceFailure } from '../model/inferenceFailure.ts';
import { TextTokenizer } from '../model/tokenizer.ts';
import { tokenizeBounded } from '../data/textBound.ts';
import { nextTokenLoss, nextTokenLossFromLogProbs } from '../model/nextTokenLoss.ts';
import { layerSamples, type LayerSamplesOutput } from './layerSamples.ts';
import { startOnHelper, warmSampleHelper } from './sampleHelper.ts';
import { backgroundShare, openPipeline, pipelineWanted, startBatch, type PipelinedBatch } from './batchPipeline.ts';
import { measureClaimedLayers, type LayerResult } from './batchLayers.ts';
import { PooledGram } from '../metrics/pooled.ts';
import { symmetrizeFromUpper } from '../linalg/gram.ts';
import { kernelArray } from '../linalg/sharedArray.ts';
import { totalCores } from '../linalg/coreBudget.ts';
import { sampleRowOf, type SampleRow } from '../arrow/sampleTable.ts';
import type { PartialGram } from '../arrow/arrowGram.ts';

export interface ExtractShardInput {
  onnxPath: string;
  tokenizerPath: string;
  maxTokens: number;
  batchSize: number;
  intraOpThreads: number;
  /** Dataset row of texts[0]. */
  startRow: number;
  texts: string[];
  /**
   * Layers to measure (onnxTaps.resolveLayers: `last`, `all`, `embeddings`, `block.3`, `final`, or
   * hidden_states indices `0,6,12`); default `['last']`.
   */
  layers?: string[];
  /** Also compute each sample's next-token loss (models with `logits`; null elsewhere). */
  loss?: boolean;
  /** onnxruntime graph optimisation (OnnxModel LoadOptions); default `all`. */
  graphOptimization?: GraphOptimization;
  /** Measure every other layer on a helper thread when a core is idle (sampleHelper.ts), or with
   * ENTROSCOPE_PIPELINE=1 where a thread's priority can be lowered, measure each batch on a
   * background thread while the next is inferred (batchPipeline.ts); default true. */
  sampleHelper?: boolean;
}

/** A per-sample row plus the sample's next-token loss (the same on every layer's row). */
export interface ExtractedSample extends SampleRow {
  /** Mean next-token cross-entropy (nats); null when not asked, no logits, or fewer than 2 tokens. */
  loss?: number | null;
}

export interface ExtractShardOutput {
  /** Grouped by layer (in `layers` order), each group in dataset row order. */
  samples: ExtractedSample[];
  /** One partial Gram per layer, in `layers` order. */
  grams: PartialGram[];
  /** grams[0], kept for callers that measure one layer. */
  gram: PartialGram;
  /** Resolved layer names, in order (e.g. `['embeddings', 'block.2', 'last']`). */
  layers: string[];
  tokens: number;
  inferenceMs: number;
  metricsMs: number;
}

// One session and tokenizer per model (and layer set) per thread: loading MiniLM takes ~100 ms, a
// shard far less.
const models = new PromiseCache<OnnxModel>();
const tokenizers = new Map<string, TextTokenizer>();

function modelFor(input: ExtractShardInput): Promise<OnnxModel> {
  const opts = { intraOpThreads: input.intraOpThreads, layers: input.layers ?? ['last'], loss: input.loss === true, graphOptimization: input.graphOptimization ?? 'all' };
  return models.get(JSON.stringify([input.onnxPath, opts]), () => OnnxModel.load(input.onnxPath, opts));
}

// The pooled S of each layer accumulates in shared memory, so the native update's helper threads
// write it in place (an ordinary array is copied into shared scratch and back on every update: ~1 ms
// of a 3 ms rank-750 update at d = 576). Shared memory cannot move to the caller as a transfer and
// is freed only once every thread has collected its views, so the accumulators are kept per thread
// and reused shard after shard, and each shard's result is a copy in an ordinary array (moved, not
// copied, to the caller). Kept only while one set is small; larger sets are made per shard as
// ordinary arrays (there the copy per update is small next to the update itself).
const RETAINED_ACCUMULATOR_BYTES = 256 * 2 ** 20;
const freeAccumulators: Float64Array[][] = [];

/** `inSharedMemory`: every accumulator in a SharedArrayBuffer, small ones too (the background
 * thread of batchPipeline.ts writes them); undefined when the set is too large to keep. */
function takeAccumulators(dims: number[], inSharedMemory = false): { s: Float64Array[]; shared: boolean } | undefined {
  const bytes = dims.reduce((a, d) => a + 8 * d * d, 0);
  if (bytes > RETAINED_ACCUMULATOR_BYTES) return inSharedMemory ? undefined : { s: dims.map((d) => new Float64Array(d * d)), shared: false };
  const fits = (set: Float64Array[]) =>
    set.length === dims.length && set.every((a, l) => a.length === dims[l] * dims[l] && (!inSharedMemory || a.buffer instanceof SharedArrayBuffer));
  const i = freeAccumulators.findIndex(fits);
  if (i < 0) return { s: dims.map((d) => (inSharedMemory ? new Float64Array(new SharedArrayBuffer(8 * d * d)) : kernelArray(d * d))), shared: true };
  const [set] = freeAccumulators.splice(i, 1);
  for (const a of set) a.fill(0);
  return { s: set, shared: true };
}

function returnAccumulators(set: Float64Array[]): void {
  freeAccumulators.length = 0; // one set per thread: a thread measures one layer set at a time
  freeAccumulators.push(set);
}

function tokenizerFor(path: string, maxTokens: number): TextTokenizer {
  const key = `${path}#${maxTokens}`;
  let t = tokenizers.get(key);
  if (!t) tokenizers.set(key, (t = TextTokenizer.load(path, maxTokens)));
  return t;
}

/**
 * One batch through the model. When onnxruntime fails, each member is run alone to find the
 * sample that fails (the error names its dataset row and token count); such a failure recurs on
 * every attempt, so it is an InputError (non-retryable) unless it was memory.
 */
async function runBatch(model: OnnxModel, input: ExtractShardInput, ids: number[][], members: number[]): Promise<BatchOutputs> {
  try {
    return await model.runAll(members.map((i) => ids[i]));
  } catch (batchErr) {
    if (isTransientInferenceFailure((batchErr as Error).message ?? '')) throw batchErr;
    if (members.length > 1) {
      for (const i of members) {
        try {
          await model.runAll([ids[i]]);
        } catch (err) {
          throw inferenceFailure(`onnxruntime failed running ${input.onnxPath} on dataset row ${input.startRow + i} (${ids[i].length} tokens)`, err);
        }
      }
    }
    const rows = members.map((i) => input.startRow + i).sort((a, b) => a - b);
    const longest = Math.max(...members.map((i) => ids[i].length));
    throw inferenceFailure(
      `onnxruntime failed running ${input.onnxPath} on dataset row${rows.length > 1 ? 's' : ''} ${rows.join(', ')} (${longest} tokens${rows.length > 1 ? ' at most, as a batch' : ''})`,
      batchErr,
    );
  }
}

/** `isCancelled` is read before each batch: a cancelled shard stops within one batch. */
export async function extractShard(input: ExtractShardInput, onProgress?: (done: number) => void, isCancelled?: () => boolean): Promise<ExtractShardOutput> {
  const wantLoss = input.loss === true;
  const model = await modelFor(input);
  const layers = model.layers;
  // Each text is given to the tokenizer cut near maxTokens' worth of characters (src/data/textBound.ts).
  const tokenizer = tokenizerFor(input.tokenizerPath, input.maxTokens);
  const encoded = await tokenizeBounded(
    input.texts,
    input.maxTokens,
    async (texts) => {
      const t = await tokenizer.encode(texts);
      return t.ids.map((ids, i) => ({ ids, truncated: t.truncated[i] }));
    },
    (e) => e.truncated,
  );
  const ids = encoded.map((e) => e.ids);
  const useHelper = (input.sampleHelper ?? process.env.ENTROSCOPE_SAMPLE_HELPER !== '0') && layers.length > 1 && totalCores() > 1;
  // With ENTROSCOPE_PIPELINE=1, where the background thread's priority can be lowered, it measures
  // each batch while the next is inferred (batchPipeline.ts); otherwise the sample helper takes
  // every other layer when a core is idle.
  const pipelineReady = useHelper && pipelineWanted() ? openPipeline() : undefined;
  if (useHelper && !pipelineReady) warmSampleHelper();
  const truncated = encoded.map((e) => e.truncated);

  // Batch texts of similar length together so little compute goes to padding; the metrics do not
  // depend on the batching (padding rows never enter them).
  const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
  const samples: ExtractedSample[][] = layers.map(() => new Array(ids.length));
  // Made at the first batch, when the layers' widths are known.
  let accumulators: { s: Float64Array[]; shared: boolean } | undefined;
  let pooled: PooledGram[] = [];
  const losses: Array<number | null> = new Array(ids.length).fill(null);
  let zBatch: Float64Array = new Float64Array(0);
  /** Whether batches go to the background thread (decided at the first batch). */
  let pipelined = false;
  /** The batch the background thread is measuring, with what its results are recorded against. */
  let inFlight: { job: PipelinedBatch; members: number[]; rows: number[]; zLength: number } | undefined;
  const record = (members: number[], rows: number[], results: LayerResult[]): void => {
    for (const r of results) {
      members.forEach((i, b) => (samples[r.layer][i] = sampleRowOf(rows[b], layers[r.layer].name, r.metrics[b], truncated[i])));
      pooled[r.layer].n += r.kept;
    }
  };
  // Shared memory when large: the pooled update's helper threads read it in place.
  const zOf = (length: number): Float64Array => (zBatch.length < length ? (zBatch = kernelArray(length)) : zBatch);
  /** Measures the rest of the batch in flight here, waits for the background thread, records it. */
  const settle = async (): Promise<void> => {
    const { job, members, rows, zLength } = inFlight!;
    const results = await job.finish(zOf(zLength));
    inFlight = undefined;
    record(members, rows, results);
  };
  let inferenceMs = 0;
  let metricsMs = 0;
  let tokens = 0;
  try {
    for (let b0 = 0; b0 < order.length; b0 += input.batchSize) {
      if (isCancelled?.()) throw new TaskCancelledError(`shard at row ${input.startRow} cancelled after ${b0} of ${order.length} texts`);
      const members = order.slice(b0, b0 + input.batchSize);
      const t0 = performance.now();
      const out = await runBatch(model, input, ids, members);
      const t1 = performance.now();
      inferenceMs += t1 - t0;
      // Layer by layer: each layer's kept unit rows of this batch are pooled in one rank-k update
      // after its samples (one long update runs ~1.4× faster than one per sample: the kernel's panels
      // fill up). Samples write Z straight into one batch buffer, one after another (layerSamples.ts),
      // so the layer's Z is zBatch[0, kept·dim) with no copy; the buffer is reused by the next layer,
      // so a batch holds one layer's Z (batch tokens × dim float64; two with the helper thread), not
      // every layer's, and each layer's hidden states are let go once measured.
      // Every value is computed as in a sample-major loop (each (sample, layer) pair alone, each
      // layer's update in sample order), so the results do not depend on this order.
      const batchTokens = members.reduce((a, i) => a + ids[i].length, 0);
      if (accumulators === undefined) {
        const dims = out.layers.map((h) => h.dim);
        // The background thread writes S in place: shared memory, and only where the set is kept.
        if (pipelineReady && (await pipelineReady)) accumulators = takeAccumulators(dims, true);
        pipelined = accumulators !== undefined;
        const taken = (accumulators ??= takeAccumulators(dims)!);
        pooled = dims.map((d, l) => PooledGram.fromParts(d, taken.s[l], 0));
      }
      members.forEach((i, b) => {
        const n = ids[i].length;
        tokens += n;
        const row = input.startRow + i;
        // The loss path OnnxModel took (model.lossPath): log-probabilities from the graph, else the logits.
        if (out.nextTokenLogProbs) {
          const { logProbs, seqLen } = out.nextTokenLogProbs;
          try {
            losses[i] = nextTokenLossFromLogProbs(logProbs.subarray(b * seqLen, b * seqLen + n), n);
          } catch (err) {
            throw new InputError(`dataset row ${row}, ${model.nextTokenLogProbOutput} of ${input.onnxPath}: ${(err as Error).message}`);
          }
        } else if (out.logits) {
          const { logits, seqLen, vocab } = out.logits;
          try {
            losses[i] = nextTokenLoss(logits.subarray(b * seqLen * vocab, (b * seqLen + n) * vocab), ids[i], vocab);
          } catch (err) {
            throw new InputError(`dataset row ${row}, ${model.logitsOutput} of ${input.onnxPath}: ${(err as Error).message}`);
          }
        }
      });
      delete out.logits;
      const lengths = members.map((i) => ids[i].length);
      const rows = members.map((i) => input.startRow + i);
      const where = (l: number) => `layer ${layers[l].name} (${layers[l].tensor})`;
      const checkWidth = (l: number, dim: number): void => {
        if (pooled[l].dim !== dim) throw new InputError(`${where(l)} of ${input.onnxPath} is ${dim} wide in one batch and ${pooled[l].dim} in another`);
      };
      const measured = (l: number, r: LayerSamplesOutput, z: Float64Array) => {
        const h = out.layers[l];
        members.forEach((i, b) => (samples[l][i] = sampleRowOf(rows[b], layers[l].name, r.metrics[b], truncated[i])));
        const g = pooled[l];
        checkWidth(l, h.dim);
        g.add({ z: z.subarray(0, r.kept * h.dim), kept: r.kept, dim: h.dim, tokens: r.kept, droppedRows: 0 });
        out.layers[l] = { ...h, hidden: new Float32Array(0) };
      };
      const samplesHere = (l: number): LayerSamplesOutput => {
        const h = out.layers[l];
        return layerSamples({ hidden: h.hidden, seqLen: h.seqLen, dim: h.dim, lengths, rows, where: where(l), z: zOf(batchTokens * h.dim) });
      };
      if (pipelined) {
        // The previous batch is finished first (here: the layers the background thread has not
        // claimed), so every S sums its batches in order. Then the last K layers of this batch go
        // to the background thread and the others are measured here, now (batchPipeline.ts).
        if (inFlight) await settle();
        out.layers.forEach((h, l) => checkWidth(l, h.dim));
        const count = out.layers.length;
        const widest = Math.max(...out.layers.map((h) => h.dim));
        const zLength = batchTokens * widest;
        const first = count - backgroundShare(count, 4 * members.length * out.layers[0].seqLen * widest);
        const part = (from: number, to: number) => ({
          lengths,
          rows,
          where: layers.slice(from, to).map((_, j) => where(from + j)),
          s: pooled.slice(from, to).map((g) => g.s),
          layerIndex: Array.from({ length: to - from }, (_, j) => from + j),
        });
        if (first < count) inFlight = { job: startBatch(out.layers.slice(first), part(first, count)), members, rows, zLength };
        const here = out.layers.slice(0, first);
        const claim = new Int32Array(1);
        const mine = { ...part(0, first), hidden: here.map((h) => h.hidden), seqLen: here.map((h) => h.seqLen), dim: here.map((h) => h.dim), claim };
        record(members, rows, measureClaimedLayers(mine, zOf(zLength)));
        out.layers = [];
      } else {
        // Two layers at a time: layer l here and, when a core is idle, layer l + 1 on the helper
        // thread (sampleHelper.ts); then both layers' pooled updates, in layer order.
        for (let l = 0; l < layers.length; l += 2) {
          const next = l + 1 < layers.length ? out.layers[l + 1] : undefined;
          const remote =
            next && useHelper
              ? startOnHelper({ hidden: next.hidden, seqLen: next.seqLen, dim: next.dim, lengths, rows, where: where(l + 1) }, batchTokens * next.dim)
              : undefined;
          try {
            const here = samplesHere(l);
            const there = await remote?.done();
            measured(l, here, zBatch);
            if (there) measured(l + 1, there, remote!.z);
            else if (next) {
              const r = samplesHere(l + 1);
              measured(l + 1, r, zBatch);
            }
          } finally {
            // The helper has finished with its buffers before they go back (when this thread failed first, too).
            if (remote) {
              await remote.done().catch(() => undefined);
              remote.release();
            }
          }
        }
      }
      metricsMs += performance.now() - t1;
      onProgress?.(Math.min(b0 + input.batchSize, order.length));
    }
    if (inFlight) {
      const t = performance.now();
      await settle();
      metricsMs += performance.now() - t;
    }
  } finally {
    // After a failure the background thread finishes its layer before its buffers can be reused.
    if (inFlight) await inFlight.job.abandon();
  }
  if (ids.length === 0) throw new InputError(`shard at row ${input.startRow} is empty`);
  const covers = [{ start: input.startRow, end: input.startRow + input.texts.length }];
  const grams = layers.map((layer, l): PartialGram => {
    const p = pooled[l];
    // Shared accumulators are copied out (they are reused by the next shard); ordinary ones are
    // used in place (a copy would double d² × layers × 8 bytes).
    const s = accumulators!.shared ? new Float64Array(p.s) : p.s;
    symmetrizeFromUpper(s, p.dim);
    return { dim: p.dim, n: p.n, s, covers, layer: layer.name };
  });
  if (accumulators!.shared) returnAccumulators(accumulators!.s);
  if (wantLoss) for (const group of samples) group.forEach((r, i) => (r.loss = losses[i]));
  return {
    samples: samples.flat(),
    grams,
    gram: grams[0],
    layers: layers.map((l) => l.name),
    tokens,
    inferenceMs,
    metricsMs,
  };
}
