// A helper thread of the native kernels (nativeHelpers.ts; plain JavaScript: no loader needed). It
// loads the same OpenBLAS as the calling thread and, each time its generation slot is bumped, runs
// its share of the job's fixed block partition on the two shared buffers — Gram block columns
// (nativeGramBlocks.mjs: s = S, z = Z) or the tridiagonal reduction's rank-2k update
// and panel mat-vec (nativeTridiagonalBlocks.mjs: s = A, z = W) — then counts itself done. It blocks in Atomics.wait
// between jobs, so it costs no CPU while idle.
import { createRequire } from 'node:module';
import { workerData } from 'node:worker_threads';
import { serveJobs } from './helperLoop.mjs';
import { blockParts, gramBlockColumns } from './nativeGramBlocks.mjs';
import { rank2kBlockColumns, rank2kParts, symvPart, symvRowBlocks } from './nativeTridiagonalBlocks.mjs';

const { library } = workerData;
const RANK2K = 2; // nativeHelpers.ts JOB.RANK2K
const SYMV = 3; // nativeHelpers.ts JOB.SYMV
const koffi = createRequire(import.meta.url)('koffi');
const lib = koffi.load(library);
const blas = {
  dsyrk: lib.func('void cblas_dsyrk(int, int, int, int, int, double, void *, int, double, void *, int)'),
  dgemm: lib.func('void cblas_dgemm(int, int, int, int, int, int, double, void *, int, void *, int, double, void *, int)'),
  dsyr2k: lib.func('void cblas_dsyr2k(int, int, int, int, int, double, void *, int, void *, int, double, void *, int)'),
  // Raw addresses for the arrays, as nativeBlas.ts.
  dgemv: lib.func('void cblas_dgemv(int, int, int, int, double, intptr_t, int, intptr_t, int, double, intptr_t, int)'),
  dsymv: lib.func('void cblas_dsymv(int, int, int, double, intptr_t, int, intptr_t, int, double, intptr_t, int)'),
};
let s;
let z;
let sAddress = 0;
let zAddress = 0;
serveJobs(
  workerData,
  'native kernel helper',
  (m) => {
    s = new Float64Array(m.s);
    z = new Float64Array(m.z);
    // Shared memory: the same addresses in every thread, and a SharedArrayBuffer never moves.
    sAddress = Number(koffi.address(s));
    zAddress = Number(koffi.address(z));
  },
  (ctl, p) => {
    const job = ctl.slice(p, p + 8);
    if (job[0] === SYMV) {
      const [, n, t, col, yOff, part, parts] = job;
      const [first, end] = symvPart(n - t, part, parts);
      symvRowBlocks(blas, sAddress, n, t, col, zAddress, yOff, first, end);
    } else if (job[0] === RANK2K) {
      const [, n, i, nb, ldw, part, parts] = job;
      rank2kBlockColumns(blas, s, n, i, nb, z, ldw, rank2kParts(n - i - nb, parts)[part]);
    } else {
      const [mode, ldS, ldZ, n, k, beta, part, parts] = job;
      gramBlockColumns(blas, mode === 1 ? 'T' : 'N', s, ldS, z, ldZ, n, k, beta, blockParts(n, parts)[part]);
    }
  },
);
