// A small pool of worker threads for CPU-heavy calls (ONNX inference, eigen-solves), so the
// calling process's event loop stays free for Temporal heartbeats and cancellation.
// onnxruntime-node's `run` is synchronous native work behind a promise: on the main thread it would
// block everything. Each thread runs `threadMain.ts`, which keeps its own ORT session cache.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { InputError, TaskCancelledError } from '../errors.ts';
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
  /** The request the thread is running, if any. */
  running?: number;
}

/** Threads × intra-op threads ≤ cores (DESIGN §2). */
export function defaultPoolSize(intraOpThreads: number): number {
  const env = Number(process.env.ENTROSCOPE_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, intraOpThreads)));
}

/**
 * Threads are started on demand (see the constructor). A task may be cancelled by an AbortSignal: the caller's
 * promise rejects at once and a shared flag tells the thread, whose loops check it between batches
 * (tasks.ts `isCancelled`), so the thread is free again within one batch. A thread that dies (an
 * uncaught error, a native crash that ends the thread, OOM in the thread) fails only the task it was
 * running and is replaced by a fresh one.
 */
export class ThreadPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Array<() => void> = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** Threads started to replace dead ones (for tests and logs). */
  replacedThreads = 0;

  /**
   * `entry`: the thread's boot script (tests inject faults with their own). Default: threadBoot.mjs,
   * which registers tsx for the TypeScript sources; compiled (dist/, this file a .js) the thread
   * runs threadMain.js directly, with no loader.
   * Threads start on demand, up to `size` (each loads ONNX Runtime and the core library: seconds of
   * CPU, wasted on a tiny run that needs one); `warm(n)` starts some ahead.
   */
  constructor(
    readonly size: number,
    private readonly entry: URL = new URL(import.meta.url.endsWith('.js') ? './threadMain.js' : './threadBoot.mjs', import.meta.url),
    /** V8 heap limits of each thread (worker_threads ResourceLimits). */
    private readonly resourceLimits?: ResourceLimits,
  ) {}

  /** Starts threads until `n` (at most `size`) exist, so their loading overlaps other work. */
  warm(n = 1): this {
    while (this.slots.length < Math.min(n, this.size)) this.addThread();
    return this;
  }

  private addThread(): void {
    const slot: Slot = { worker: undefined as unknown as Worker };
    this.startThread(slot);
    this.slots.push(slot);
  }

  private startThread(slot: Slot): void {
    const worker = new Worker(this.entry, this.resourceLimits ? { resourceLimits: this.resourceLimits } : {});
    worker.unref();
    slot.worker = worker;
    slot.running = undefined;
    worker.on('message', (msg: ThreadReply) => this.onMessage(slot, msg));
    let died = false;
    const die = (why: string): void => {
      if (died || this.closed) return;
      died = true;
      const id = slot.running;
      this.startThread(slot);
      this.replacedThreads++;
      if (id !== undefined) this.settle(id, (p) => p.reject(new Error(`a worker thread of the pool died while running this task: ${why}`)));
      this.queue.shift()?.();
    };
    worker.on('error', (err) => die(err.message));
    worker.on('exit', (code) => die(`exit code ${code}`));
  }

  /** Threads started so far (at most `size`). */
  get started(): number {
    return this.slots.length;
  }

  /** The threads' ids, in slot order (a replaced thread has a new one). */
  threadIds(): number[] {
    return this.slots.map((s) => s.worker.threadId);
  }

  run<T extends TaskName>(task: T, input: TaskInput<T>, onProgress?: (done: number) => void, signal?: AbortSignal): Promise<TaskOutput<T>> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new TaskCancelledError());
      const cancelFlag = new Int32Array(new SharedArrayBuffer(4));
      let queued: (() => void) | undefined;
      const onAbort = (): void => {
        Atomics.store(cancelFlag, 0, 1);
        if (queued) {
          const i = this.queue.indexOf(queued);
          if (i >= 0) this.queue.splice(i, 1);
        }
        // The caller is answered now; the thread's slot frees when the thread stops (between batches).
        reject(new TaskCancelledError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (): void => signal?.removeEventListener('abort', onAbort);
      const start = (): void => {
        queued = undefined;
        const slot = this.slots.find((s) => s.running === undefined)!;
        const id = this.nextId++;
        slot.running = id;
        slot.worker.ref(); // a running task keeps the process alive; an idle pool does not
        this.pending.set(id, {
          resolve: (v) => (finish(), resolve(v as TaskOutput<T>)),
          reject: (e) => (finish(), reject(e)),
          onProgress,
        });
        const request: ThreadRequest = { id, task, input, cancelFlag };
        slot.worker.postMessage(request);
      };
      if (!this.slots.some((s) => s.running === undefined) && this.slots.length < this.size) this.addThread();
      if (this.slots.some((s) => s.running === undefined)) start();
      else this.queue.push((queued = start));
    });
  }

  /** Ends request `id`: frees its thread's slot, starts the next queued task, answers the caller. */
  private settle(id: number, answer: (p: Pending) => void): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    const slot = this.slots.find((s) => s.running === id);
    if (slot) {
      slot.running = undefined;
      slot.worker.unref();
      this.queue.shift()?.();
    }
    if (p) answer(p);
  }

  private onMessage(_slot: Slot, msg: ThreadReply): void {
    if (msg.kind === 'progress') return this.pending.get(msg.id)?.onProgress?.(msg.done);
    this.settle(msg.id, (p) => {
      if (msg.kind === 'ok') p.resolve(msg.output);
      else {
        const err =
          msg.errorName === 'InputError' ? new InputError(msg.message) : msg.errorName === 'TaskCancelledError' ? new TaskCancelledError(msg.message) : new Error(msg.message);
        if (msg.stack) err.stack = msg.stack;
        p.reject(err);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

let shared: ThreadPool | undefined;

/** The process-wide pool, created on first use. */
export function sharedPool(intraOpThreads = 1): ThreadPool {
  return (shared ??= new ThreadPool(defaultPoolSize(intraOpThreads)));
}

const extractionPools = new Map<number, ThreadPool>();

/** A pool of `size` threads for model sessions (sessionPlan.ts): the shared pool when it has that size. */
export function extractionPool(size: number): ThreadPool {
  const main = sharedPool();
  if (main.size === size) return main;
  let p = extractionPools.get(size);
  if (!p) extractionPools.set(size, (p = new ThreadPool(size)));
  return p;
}
