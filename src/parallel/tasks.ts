// The calls a pool thread can make, and the message shapes between threads.
import { extractShard, type ExtractShardInput, type ExtractShardOutput } from '../eval/extractShard.ts';

export const tasks = {
  extractShard: (input: ExtractShardInput, onProgress: (done: number) => void): Promise<ExtractShardOutput> =>
    extractShard(input, onProgress),
};

export type TaskName = keyof typeof tasks;
export type TaskInput<T extends TaskName> = Parameters<(typeof tasks)[T]>[0];
export type TaskOutput<T extends TaskName> = Awaited<ReturnType<(typeof tasks)[T]>>;

export interface ThreadRequest {
  id: number;
  task: TaskName;
  input: unknown;
}

export type ThreadReply =
  | { id: number; kind: 'ok'; output: unknown }
  | { id: number; kind: 'progress'; done: number }
  | { id: number; kind: 'error'; errorName: string; message: string; stack?: string };
