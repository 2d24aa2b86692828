// A helper thread of gramThreads.ts (plain JavaScript: no loader needed). It instantiates gram.wasm
// on the gang's shared memory and, each time its generation slot is bumped, runs
// syrk_upper_cols on the column tiles it was given, then counts itself done. It blocks in
// Atomics.wait between jobs, so it costs no CPU while idle.
import { workerData } from 'node:worker_threads';
import { serveJobs } from './helperLoop.mjs';

let ex;
serveJobs(
  workerData,
  'gram helper',
  (m) => {
    ex = new WebAssembly.Instance(workerData.module, { env: { memory: m.memory } }).exports;
  },
  (ctl, p) => ex.syrk_upper_cols(ctl[p], ctl[p + 1], ctl[p + 2], ctl[p + 3], ctl[p + 4], ctl[p + 5], ctl[p + 6], ctl[p + 7], ctl[p + 8]),
);
