// The calls a pool thread can make, and the message shapes between threads.
import type { ExtractShardInput, ExtractShardOutput } from '../eval/extractShard.ts';
import type { ExtractMultimodalShardInput } from '../multimodal/extractMultimodalShard.ts';
import type { ExtractHiddenStatesShardInput } from '../hiddenStates/extractHiddenStatesShard.ts';
import type { PooledMetrics } from '../metrics/pooled.ts';
import type { LayerSamplesInput, LayerSamplesOutput } from '../eval/layerSamples.ts';
import type { BatchLayersInput, LayerResult } from '../eval/batchLayers.ts';

// Each task imports its module on first use, so a thread loads only what it runs: a thread that
// only solves pooled spectra starts in ~0.2 s instead of ~0.8 s (ONNX Runtime, tokenizers, images).
export const tasks = {
  extractShard: async (input: ExtractShardInput, onProgress: (done: number) => void, isCancelled: () => boolean): Promise<ExtractShardOutput> =>
    (await import('../eval/extractShard.ts')).extractShard(input, onProgress, isCancelled),
  extractMultimodalShard: async (input: ExtractMultimodalShardInput, onProgress: (done: number) => void, isCancelled: () => boolean): Promise<ExtractShardOutput> =>
    (await import('../multimodal/extractMultimodalShard.ts')).extractMultimodalShard(input, onProgress, isCancelled),
  extractHiddenStatesShard: async (input: ExtractHiddenStatesShardInput, onProgress: (done: number) => void, isCancelled: () => boolean): Promise<ExtractShardOutput> =>
    (await import('../hiddenStates/extractHiddenStatesShard.ts')).extractHiddenStatesShard(input, onProgress, isCancelled),
  /** The d×d eigen-solve of a pooled Gram: seconds at d = 4096, so never on an activity's event loop. */
  pooledMetrics: async (input: { s: Float64Array; n: number; dim: number }): Promise<PooledMetrics> =>
    (await import('../metrics/pooled.ts')).pooledMetrics(input.s, input.n, input.dim),
  /** One layer's per-sample metrics for an extraction thread (src/eval/sampleHelper.ts). */
  layerSamples: async (input: LayerSamplesInput): Promise<LayerSamplesOutput> => (await import('../eval/layerSamples.ts')).layerSamples(input),
  /** A batch's layers on an extraction thread's background thread (src/eval/batchPipeline.ts);
   * null: only lower the thread's priority and say whether that worked. */
  batchLayers: async (input: BatchLayersInput | null): Promise<{ niced: boolean; results: LayerResult[] }> =>
    (await import('../eval/batchLayers.ts')).backgroundBatchLayers(input),
};

/**
 * Tasks not counted busy (coreBudget.ts): `layerSamples`, whose caller took a core for it from the
 * budget, and `batchLayers`, which runs at the lowest priority on cycles nobody else wants.
 */
export const NOT_COUNTED_BUSY: ReadonlySet<string> = new Set(['layerSamples', 'batchLayers']);

export type TaskName = keyof typeof tasks;
export type TaskInput<T extends TaskName> = Parameters<(typeof tasks)[T]>[0];
export type TaskOutput<T extends TaskName> = Awaited<ReturnType<(typeof tasks)[T]>>;

export interface ThreadRequest {
  id: number;
  task: TaskName;
  input: unknown;
  /** Int32 over a SharedArrayBuffer: 1 once the caller cancelled (read between batches). */
  cancelFlag: Int32Array;
}

export type ThreadReply =
  | { id: number; kind: 'ok'; output: unknown }
  | { id: number; kind: 'progress'; done: number }
  | { id: number; kind: 'error'; errorName: string; message: string; stack?: string };
