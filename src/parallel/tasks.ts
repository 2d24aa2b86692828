// The calls a pool thread can make, and the message shapes between threads.
import { extractShard, type ExtractShardInput, type ExtractShardOutput } from '../eval/extractShard.ts';
import { extractMultimodalShard, type ExtractMultimodalShardInput } from '../multimodal/extractMultimodalShard.ts';
import { extractHiddenStatesShard, type ExtractHiddenStatesShardInput } from '../hiddenStates/extractHiddenStatesShard.ts';
import { pooledMetrics, type PooledMetrics } from '../metrics/pooled.ts';

export const tasks = {
  extractShard: (input: ExtractShardInput, onProgress: (done: number) => void, isCancelled: () => boolean): Promise<ExtractShardOutput> =>
    extractShard(input, onProgress, isCancelled),
  extractMultimodalShard: (input: ExtractMultimodalShardInput, onProgress: (done: number) => void, isCancelled: () => boolean): Promise<ExtractShardOutput> =>
    extractMultimodalShard(input, onProgress, isCancelled),
  /** The d×d eigen-solve of a pooled Gram: seconds at d = 4096, so never on an activity's event loop. */
  extractHiddenStatesShard: (input: ExtractHiddenStatesShardInput, onProgress: (done: number) => void, isCancelled: () => boolean): Promise<ExtractShardOutput> =>
    extractHiddenStatesShard(input, onProgress, isCancelled),
  pooledMetrics: async (input: { s: Float64Array; n: number; dim: number }): Promise<PooledMetrics> =>
    pooledMetrics(input.s, input.n, input.dim),
};

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
