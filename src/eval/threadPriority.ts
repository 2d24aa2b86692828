// Lowers the calling thread's scheduling priority to the lowest (nice 19), so that it runs only on
// cycles that no normal-priority thread wants. Linux: setpriority(PRIO_PROCESS, tid) applies to one
// thread, and Node's os.setPriority is that call; the thread's id is the last part of
// /proc/thread-self (read by the calling thread: fs calls made synchronously run on it).
// Elsewhere (or when it fails) returns false and changes nothing.
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export const LOWEST_PRIORITY = 19;

export function lowerThreadPriority(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return false;
    setPriority(tid, LOWEST_PRIORITY);
    return getPriority(tid) === LOWEST_PRIORITY;
  } catch {
    return false;
  }
}
