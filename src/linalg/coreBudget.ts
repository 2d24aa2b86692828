// One count of busy threads per process, shared by every thread of it, so that the metric
// kernels' helper threads and inference together never run more busy threads than cores.
//
//   total  = ENTROSCOPE_THREADS if set, else os.availableParallelism()
//   busy   = threads inside `holdCore` (each pool thread while it runs a task, see
//            src/parallel/threadMain.ts; any thread while it runs a kernel) + helpers granted
//   a kernel call gets 1 + min(wanted − 1, total − busy) threads: itself, plus idle cores only.
//
// The count lives in a SharedArrayBuffer handed to new worker threads through
// worker_threads.setEnvironmentData (set on import here; src/parallel/threadPool.ts imports this
// module before it starts its threads, and nested workers inherit it).
import { availableParallelism } from 'node:os';
import { processCounter } from './processCounter.ts';

const busy = processCounter('entroscope.coreBudget');
/** How deep this thread is in `holdCore` (only the outermost hold counts). */
let depth = 0;

/** Cores the process may keep busy. */
export function totalCores(): number {
  const env = Number(process.env.ENTROSCOPE_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, availableParallelism());
}

/** Threads counted busy right now, in the whole process. */
export function busyThreads(): number {
  return Atomics.load(busy, 0);
}

/**
 * A background thread (src/eval/batchPipeline.ts: niced, it runs on the cycles inference leaves
 * idle) counts nothing and takes no helper cores: its kernels run on it alone.
 */
let background = false;
export function markBackgroundThread(): void {
  background = true;
}

/** Runs fn with this thread counted busy (re-entrant: a kernel inside a pool task counts once). */
export function holdCore<T>(fn: () => T): T {
  if (background) return fn();
  if (depth++ === 0) Atomics.add(busy, 0, 1);
  try {
    return fn();
  } finally {
    if (--depth === 0) Atomics.sub(busy, 0, 1);
  }
}

/** Async form of `holdCore` for a pool task. */
export async function holdCoreAsync<T>(fn: () => Promise<T>): Promise<T> {
  if (depth++ === 0) Atomics.add(busy, 0, 1);
  try {
    return await fn();
  } finally {
    if (--depth === 0) Atomics.sub(busy, 0, 1);
  }
}

/** Runs fn on a core its caller already took for this thread (`acquireHelpers`): kernels inside
 * count nothing more, as inside `holdCore`. */
export async function onGrantedCore<T>(fn: () => Promise<T>): Promise<T> {
  depth++;
  try {
    return await fn();
  } finally {
    depth--;
  }
}

/** Takes up to `wanted` idle cores for helper threads (never blocks; 0 when none is idle).
 * Give them back with `releaseHelpers`. */
export function acquireHelpers(wanted: number): number {
  if (background) return 0;
  const total = totalCores();
  for (;;) {
    const now = Atomics.load(busy, 0);
    const got = Math.max(0, Math.min(wanted, total - now));
    if (got === 0) return 0;
    if (Atomics.compareExchange(busy, 0, now, now + got) === now) return got;
  }
}

export function releaseHelpers(count: number): void {
  if (count > 0) Atomics.sub(busy, 0, count);
}
