// One count per process of threads that are loading a native addon (koffi and, through it,
// OpenBLAS), shared by every thread as coreBudget.ts shares its count (worker_threads environment
// data, inherited by nested workers).
//
// Why: a thread cut short while it loads koffi — the process exiting, or terminate() — aborts the
// whole process with "FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw" (node-addon-api
// cannot throw into an environment that is shutting down). Reproduced by calling process.exit
// 10–40 ms after starting a worker thread that requires koffi: about one exit in three aborts. The
// CLI calls process.exit when a command is done, and a kernel's helper thread may still be booting
// then (its share of the job was run by the caller instead, helperGang.ts). So the CLI waits for
// this count to reach zero before it exits (cli/main.ts), and HelperGang.stop() never terminates a
// helper that is still booting (it leaves by itself once booted).
import { setTimeout as sleep } from 'node:timers/promises';
import { processCounter } from './processCounter.ts';

/** The shared count (index 0); helper threads get its buffer in their workerData. */
export const nativeLoading = processCounter('entroscope.nativeLoading');

/** Runs fn (which loads a native library) with this thread counted as loading. */
export function whileLoadingNative<T>(fn: () => T): T {
  Atomics.add(nativeLoading, 0, 1);
  try {
    return fn();
  } finally {
    Atomics.sub(nativeLoading, 0, 1);
  }
}

/** Resolves once no thread of the process is loading a native addon, or after `timeoutMs`. */
export async function nativeLoadsSettled(timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Atomics.load(nativeLoading, 0) > 0 && Date.now() < deadline) await sleep(5);
}
