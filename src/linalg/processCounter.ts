// A counter shared by every thread of the process: an Int32Array over a SharedArrayBuffer handed
// to new worker threads through worker_threads.setEnvironmentData under `key` (nested workers
// inherit it). The first thread to ask creates it; threads started later find it. Used by
// coreBudget.ts (busy threads) and nativeLoading.ts (threads loading koffi).
import { getEnvironmentData, setEnvironmentData } from 'node:worker_threads';

export function processCounter(key: string): Int32Array {
  const have = getEnvironmentData(key);
  if (have instanceof SharedArrayBuffer) return new Int32Array(have);
  const sab = new SharedArrayBuffer(4);
  setEnvironmentData(key, sab);
  return new Int32Array(sab);
}
