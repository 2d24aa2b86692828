// A helper thread of gramThreads.ts (plain JavaScript: no loader needed). It instantiates gram.wasm
// on the gang's shared memory and, each time its generation slot is bumped, runs
// syrk_upper_cols on the column tiles it was given, then counts itself done. It blocks in
// Atomics.wait between jobs, so it costs no CPU while idle.
import { receiveMessageOnPort, workerData } from 'node:worker_threads';

const { module, control, index, port, layout } = workerData;
const { GEN, REMAINING, EPOCH, ERROR, PARAMS, STRIDE, STOP } = layout;
const ctl = new Int32Array(control);
let ex;
let epoch = -1;
let seen = 0;
for (;;) {
  Atomics.wait(ctl, GEN + index, seen);
  seen = Atomics.load(ctl, GEN + index);
  if (Atomics.load(ctl, STOP) !== 0) break;
  try {
    const want = Atomics.load(ctl, EPOCH);
    while (epoch !== want) {
      const m = receiveMessageOnPort(port);
      if (m === undefined) throw new Error(`gram helper ${index}: no memory for epoch ${want}`);
      epoch = m.message.epoch;
      ex = new WebAssembly.Instance(module, { env: { memory: m.message.memory } }).exports;
    }
    const p = PARAMS + index * STRIDE;
    ex.syrk_upper_cols(ctl[p], ctl[p + 1], ctl[p + 2], ctl[p + 3], ctl[p + 4], ctl[p + 5], ctl[p + 6], ctl[p + 7], ctl[p + 8]);
  } catch {
    Atomics.store(ctl, ERROR, 1);
  }
  if (Atomics.sub(ctl, REMAINING, 1) === 1) Atomics.notify(ctl, REMAINING);
}
