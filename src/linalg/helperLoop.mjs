// The job loop every helper thread runs (gramWorker.mjs: wasm Gram tiles; nativeHelperWorker.mjs:
// OpenBLAS blocks). The caller's gang shares one Int32Array of control words (`layout` names the
// offsets): a thread blocks in Atomics.wait on its generation slot, so it costs no CPU while idle;
// when the slot is bumped it stops if STOP is set, else takes the shared buffers of a new EPOCH from
// its port, runs the job in its PARAMS slot, flags ERROR if it threw, and counts REMAINING down
// (the last one wakes the caller). A job is run only if this thread claims it (its CLAIM word from
// the previous generation to this one): the caller takes the shares of helpers that have not
// woken yet (helperGang.ts). Plain JavaScript: no loader needed.
import { receiveMessageOnPort } from 'node:worker_threads';

/**
 * Serves jobs until STOP. `onBuffers(message)` adopts an epoch's buffers; `run(ctl, p)` does the
 * job whose parameters start at ctl[p].
 */
export function serveJobs({ control, index, port, layout, booted, loading }, what, onBuffers, run) {
  const { GEN, REMAINING, EPOCH, ERROR, PARAMS, STRIDE, STOP, CLAIM } = layout;
  const ctl = new Int32Array(control);
  // This thread's imports (koffi, OpenBLAS) are loaded: it no longer holds up the process's exit
  // nor its own termination (nativeLoading.ts, helperGang.ts).
  if (Atomics.compareExchange(new Int32Array(booted), 0, 0, 1) === 0) Atomics.sub(new Int32Array(loading), 0, 1);
  let epoch = -1;
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, GEN + index, seen);
    seen = Atomics.load(ctl, GEN + index);
    if (Atomics.load(ctl, STOP) !== 0) break;
    // The caller ran this generation's share itself (or a later one is posted and this is it).
    if (Atomics.compareExchange(ctl, CLAIM + index, seen - 1, seen) !== seen - 1) continue;
    try {
      const want = Atomics.load(ctl, EPOCH);
      while (epoch !== want) {
        const m = receiveMessageOnPort(port);
        if (m === undefined) throw new Error(`${what} ${index}: no buffers for epoch ${want}`);
        epoch = m.message.epoch;
        onBuffers(m.message);
      }
      run(ctl, PARAMS + index * STRIDE);
    } catch {
      Atomics.store(ctl, ERROR, 1);
    }
    if (Atomics.sub(ctl, REMAINING, 1) === 1) Atomics.notify(ctl, REMAINING);
  }
}
