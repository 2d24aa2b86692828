// A helper thread of nativeGram.ts (plain JavaScript: no loader needed). It loads the same OpenBLAS
// as the calling thread and, each time its generation slot is bumped, runs its share of the block
// columns (nativeGramBlocks.mjs) on the shared Z and S, then counts itself done. It blocks in
// Atomics.wait between jobs, so it costs no CPU while idle.
import { createRequire } from 'node:module';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { blockParts, gramBlockColumns } from './nativeGramBlocks.mjs';

const { library, control, index, port, layout } = workerData;
const { GEN, REMAINING, EPOCH, ERROR, PARAMS, STRIDE, STOP } = layout;
const ctl = new Int32Array(control);
const koffi = createRequire(import.meta.url)('koffi');
const lib = koffi.load(library);
const blas = {
  dsyrk: lib.func('void cblas_dsyrk(int, int, int, int, int, double, void *, int, double, void *, int)'),
  dgemm: lib.func('void cblas_dgemm(int, int, int, int, int, int, double, void *, int, void *, int, double, void *, int)'),
};
let s;
let z;
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
      if (m === undefined) throw new Error(`native gram helper ${index}: no buffers for epoch ${want}`);
      ({ epoch } = m.message);
      s = new Float64Array(m.message.s);
      z = new Float64Array(m.message.z);
    }
    const p = PARAMS + index * STRIDE;
    const [mode, ldS, ldZ, n, k, beta, part, parts] = ctl.subarray(p, p + 8);
    gramBlockColumns(blas, mode === 1 ? 'T' : 'N', s, ldS, z, ldZ, n, k, beta, blockParts(n, parts)[part]);
  } catch {
    Atomics.store(ctl, ERROR, 1);
  }
  if (Atomics.sub(ctl, REMAINING, 1) === 1) Atomics.notify(ctl, REMAINING);
}
