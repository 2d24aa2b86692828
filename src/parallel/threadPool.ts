// A small pool of worker threads for CPU-heavy calls (ONNX inference, eigen-solves), so the
// calling process's event loop stays free for Temporal heartbeats and cancellation.
// onnxruntime-node's `run` is synchronous native work behind a promise: on the main thread it would
// block everything. Each thread runs `threadMain.ts`, which keeps its own ORT session cache.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { InputError } from '../errors.ts';
// Sets up the process-wide busy-thread count before any pool thread starts, so they all share it.
import '../linalg/coreBudget.ts';
import type { TaskName, TaskInput, TaskOutput, ThreadReply, ThreadRequest } from './tasks.ts';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (done: number) => void;
}

interface Slot {
  worker: Worker;
  busy: boolean;
}

/** Threads × intra-op threads ≤ cores (DESIGN §2). */
export function defaultPoolSize(intraOpThreads: number): number {
  const env = Number(process.env.ENTROSCOPE_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, intraOpThreads)));
}

export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Array<() => void> = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Set when a thread died: the pool fails every call from then on instead of hanging. */
  private broken: Error | undefined;

  constructor(readonly size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./threadBoot.mjs', import.meta.url));
      worker.unref();
      worker.on('message', (msg: ThreadReply) => this.onMessage(msg));
      worker.on('error', (err) => this.failAll(err));
      this.slots.push({ worker, busy: false });
    }
  }

  run<T extends TaskName>(task: T, input: TaskInput<T>, onProgress?: (done: number) => void): Promise<TaskOutput<T>> {
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      const start = (): void => {
        if (this.broken) return reject(this.broken);
        const slot = this.slots.find((s) => !s.busy)!;
        slot.busy = true;
        const id = this.nextId++;
        const release = (): void => {
          slot.busy = false;
          this.queue.shift()?.();
        };
        this.pending.set(id, {
          resolve: (v) => (release(), resolve(v as TaskOutput<T>)),
          reject: (e) => (release(), reject(e)),
          onProgress,
        });
        const request: ThreadRequest = { id, task, input };
        slot.worker.postMessage(request);
      };
      if (this.slots.some((s) => !s.busy)) start();
      else this.queue.push(start);
    });
  }

  private onMessage(msg: ThreadReply): void {
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.kind === 'progress') return p.onProgress?.(msg.done);
    this.pending.delete(msg.id);
    if (msg.kind === 'ok') p.resolve(msg.output);
    else {
      const err = msg.errorName === 'InputError' ? new InputError(msg.message) : new Error(msg.message);
      if (msg.stack) err.stack = msg.stack;
      p.reject(err);
    }
  }

  private failAll(err: Error): void {
    this.broken = new Error(`a worker thread of the pool died: ${err.message}`);
    for (const start of this.queue.splice(0)) start();
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(err);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

let shared: ThreadPool | undefined;

/** The process-wide pool, created on first use. */
export function sharedPool(intraOpThreads = 1): ThreadPool {
  return (shared ??= new ThreadPool(defaultPoolSize(intraOpThreads)));
}
