// The native eigen-solve's own threaded tridiagonal reduction (src/linalg/nativeTridiagonal.ts:
// LAPACK dsytrd driven here, its dlatrd panel mat-vec and dsyr2k trailing update split over helper
// threads by a fixed block partition) against numpy.linalg.eigvalsh (numpy's own bundled LAPACK,
// an independent build) and against this library's LAPACK dsyevd (the previous native path);
// bit-identical results on 1, 2, 3 and 4 threads; the core budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { symmetricEigenvalues } from '../../src/linalg/eigen.ts';
import { acquireHelpers, busyThreads, releaseHelpers } from '../../src/linalg/coreBudget.ts';
import { linalgBackend, symmetricEigenvaluesNative } from '../../src/linalg/nativeBlas.ts';
import { DRIVER_MIN_N, eigenLastThreads, eigenvaluesNative } from '../../src/linalg/nativeTridiagonal.ts';
import { rank2kBlockCount, symvBlockCount } from '../../src/linalg/nativeTridiagonalBlocks.mjs';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

// Four cores' budget, whatever this machine has, so that 4 threads really run.
process.env.ENTROSCOPE_THREADS = '4';

const PYTHON = join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python');
const ORACLE = fileURLToPath(new URL('../oracle/eigvalsh.py', import.meta.url));

/** Full symmetric n×n with Gaussian entries. */
function gaussianSymmetric(n: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = gaussian(rng);
  return a;
}

/** A = ZᵀZ/k, Z: k×n Gaussian (a PSD Gram of rank k < n, the product's use case), full symmetric. */
function gram(n: number, k: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  const z = Float64Array.from({ length: k * n }, () => gaussian(rng));
  const a = new Float64Array(n * n);
  for (let r = 0; r < k; r++) {
    const row = z.subarray(r * n, (r + 1) * n);
    for (let i = 0; i < n; i++) {
      const zi = row[i] / k;
      for (let j = i; j < n; j++) a[i * n + j] += zi * row[j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
  return a;
}

const frobenius = (a: Float64Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0));
const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};
const maxDelta = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const bitIdentical = (a: Float64Array, b: Float64Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** numpy.linalg.eigvalsh of the full symmetric `a` (one thread). */
function numpyEigenvalues(dir: string, a: Float64Array, n: number): Float64Array {
  const file = join(dir, `a${n}.f64`);
  writeFileSync(file, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const run = spawnSync(PYTHON, [ORACLE, file, String(n)], {
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' },
  });
  assert.equal(run.status, 0, `oracle failed: ${run.stderr}`);
  return Float64Array.from((JSON.parse(run.stdout) as { eigenvalues: number[] }).eigenvalues);
}

test('the native backend is in use (the threaded reduction is what these tests exercise)', () => {
  // CI installs OpenBLAS (infra/install-blas.sh); missing, this is a failure, not a skip.
  assert.equal(linalgBackend(), 'native');
});

test('the threaded reduction gives numpy\'s (LAPACK\'s) eigenvalues within 1e-14·‖A‖, and dsyevd\'s', () => {
  assert.ok(existsSync(PYTHON), `no Python oracle at ${PYTHON}: run infra/install-python.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-tridiag-'));
  try {
    // Ragged sizes (not multiples of the 32-wide panel or the block widths), dense and PSD.
    const cases = [
      { label: 'Gaussian symmetric 700', n: 700, a: gaussianSymmetric(700, 7) },
      { label: 'rank-300 Gram 1100', n: 1100, a: gram(1100, 300, 11) },
    ];
    for (const { label, n, a } of cases) {
      assert.ok(n >= DRIVER_MIN_N, 'the blocked driver runs at this size');
      const want = numpyEigenvalues(dir, a, n);
      const tol = 1e-14 * frobenius(a);
      const got = eigenvaluesNative(a, n, maxAbs(a), { reduction: 'threaded' })!;
      assert.ok(eigenLastThreads() > 1, `${label}: helper threads were used (${eigenLastThreads()})`);
      const dNumpy = maxDelta(got, want);
      assert.ok(dNumpy <= tol, `${label}: max |Δλ| vs numpy ${dNumpy} > 1e-14·‖A‖_F = ${tol}`);
      // The previous native path (this library's LAPACK dsyevd, one thread): same tolerance.
      const before = symmetricEigenvaluesNative(a.slice(), n)!;
      const dBefore = maxDelta(got, before);
      assert.ok(dBefore <= tol, `${label}: max |Δλ| vs dsyevd ${dBefore} > 1e-14·‖A‖_F = ${tol}`);
      // Relative to ‖A‖₂ = max|λ| both stay at LAPACK-vs-LAPACK level (numpy vs dsyevd). Where the
      // two LAPACKs are the same code on the same kernels they agree exactly (seen: 0), so the floor
      // is the gap two different builds showed (numpy's scipy-openblas 0.3.31 vs Debian's 0.3.21:
      // 0.8–2.3e-14·‖A‖₂, BENCHMARKS.md).
      const norm2 = maxAbs(want);
      const lapackGap = maxDelta(before, want);
      assert.ok(dNumpy <= Math.max(4 * lapackGap, 2.5e-14 * norm2), `${label}: vs numpy ${dNumpy / norm2}·‖A‖₂, LAPACK vs LAPACK ${lapackGap / norm2}·‖A‖₂`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the default native path is dsyevd on one thread, and symmetricEigenvalues uses it', () => {
  const n = 600;
  const a = gaussianSymmetric(n, 71);
  const got = symmetricEigenvalues(a, n);
  assert.equal(eigenLastThreads(), 1);
  assert.ok(bitIdentical(got, symmetricEigenvaluesNative(a.slice(), n)!), 'same bits as dsyevd');
});

test('the threaded reduction is bit-identical on 1, 2, 3 and 4 threads', () => {
  // n = 1100: 2 row blocks of the panel mat-vec and 16 block columns of the first trailing update,
  // so four threads have work in the update; n = 600: the last trailing matrices are updated on one
  // thread (below SPLIT_MIN_M), and from M < 512 on the mat-vec is one dsymv.
  for (const [n, seed] of [[1100, 41], [600, 43]]) {
    assert.ok(symvBlockCount(n - 1) === 2 && rank2kBlockCount(n - 32) >= 4);
    const a = gram(n, Math.floor(n / 2) + 16, seed);
    const amax = maxAbs(a);
    const runs: Float64Array[] = [];
    for (const threads of [1, 2, 3, 4]) {
      runs.push(eigenvaluesNative(a, n, amax, { threads, reduction: 'threaded' })!);
      assert.equal(eigenLastThreads(), threads, `n = ${n}: threads used`);
    }
    for (let t = 1; t < runs.length; t++) assert.ok(bitIdentical(runs[t], runs[0]), `n = ${n}: ${t + 1} threads differ from 1`);
    // And the same bits again on every core of the budget (the default thread count).
    assert.ok(bitIdentical(eigenvaluesNative(a, n, amax, { reduction: 'threaded' })!, runs[0]), `n = ${n}: default threads differ`);
  }
});

test('huge and tiny matrices are scaled (as dsyevd) on the threaded path: numpy\'s eigenvalues, scaled', () => {
  assert.ok(existsSync(PYTHON), `no Python oracle at ${PYTHON}: run infra/install-python.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-tridiag-scale-'));
  try {
    const n = 600;
    const base = gaussianSymmetric(n, 51);
    const want = numpyEigenvalues(dir, base, n);
    const tol = 1e-14 * frobenius(base);
    for (const scale of [2 ** -1000, 1e-300, 1e300, 2 ** 1000]) {
      const scaled = base.map((x) => x * scale);
      const got = eigenvaluesNative(scaled, n, maxAbs(scaled), { reduction: 'threaded' })!;
      assert.ok(got.every(Number.isFinite), `scale ${scale}: non-finite eigenvalue`);
      const d = maxDelta(got.map((x) => x / scale), want);
      assert.ok(d <= tol, `scale ${scale}: max |Δλ|/scale ${d} > 1e-14·‖A‖_F = ${tol}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the eigen-solve only takes idle cores of the process budget and gives them back', () => {
  const n = 600;
  const a = gram(n, 316, 61);
  const amax = maxAbs(a);
  const all = eigenvaluesNative(a, n, amax, { threads: 4, reduction: 'threaded' })!;
  assert.equal(eigenLastThreads(), 4);
  // Three of the four cores busy (as inference threads would be): the solve runs on this thread.
  const took = acquireHelpers(3);
  assert.equal(took, 3);
  try {
    const alone = eigenvaluesNative(a, n, amax, { threads: 4, reduction: 'threaded' })!;
    assert.equal(eigenLastThreads(), 1);
    assert.ok(bitIdentical(alone, all), 'same bits on fewer threads than asked for');
  } finally {
    releaseHelpers(took);
  }
  assert.equal(busyThreads(), 0, 'every core given back');
});
