// Properties of the symmetric eigenvalue solver (src/linalg/eigen.ts), checked against matrices
// whose spectrum is known by construction (A = Q diag(λ) Qᵀ, Q a product of Householder
// reflections of seeded random vectors) and, where Python is present, against LAPACK via numpy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { symmetricEigenvalues, symmetricEigenvaluesTridiagonal } from '../../src/linalg/eigen.ts';
import { tridiagonalizeUpper, tridiagonalizeUpperBlocked } from '../../src/linalg/tridiagonalize.ts';
import { tridiagonalizeUpperWasm, wasmTridiagonalizeAvailable } from '../../src/linalg/tridiagonalizeWasm.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

const TOLERANCE = 1e-10;

/** A = Q diag(λ) Qᵀ (n×n, full symmetric), Q = H_1 ⋯ H_k, H = I − 2vvᵀ/‖v‖². */
function withSpectrum(lambda: ArrayLike<number>, seed: number, reflections = Math.min(lambda.length, 24)): Float64Array {
  const n = lambda.length;
  const rng = mulberry32(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = lambda[i];
  const v = new Float64Array(n);
  const av = new Float64Array(n);
  for (let h = 0; h < reflections; h++) {
    let vv = 0;
    for (let i = 0; i < n; i++) { v[i] = gaussian(rng); vv += v[i] * v[i]; }
    // H A H = A − c v (Av)ᵀ − c (Av) vᵀ + c² (vᵀAv) v vᵀ with c = 2/‖v‖².
    let vav = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * v[j];
      av[i] = s;
      vav += v[i] * s;
    }
    const c = 2 / vv;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        a[i * n + j] += -c * v[i] * av[j] - c * av[i] * v[j] + c * c * vav * v[i] * v[j];
      }
    }
    // Re-symmetrise: the update is symmetric in exact arithmetic only.
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) a[j * n + i] = a[i * n + j];
  }
  return a;
}

function sortedCopy(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x).sort();
}

function spectralNorm(lambda: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < lambda.length; i++) m = Math.max(m, Math.abs(lambda[i]));
  return m;
}

function assertSpectrum(got: Float64Array, expected: ArrayLike<number>, norm: number, label: string): void {
  const want = sortedCopy(expected);
  assert.equal(got.length, want.length, `${label}: length`);
  for (let i = 1; i < got.length; i++) assert.ok(got[i - 1] <= got[i], `${label}: not ascending at ${i}`);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= TOLERANCE * norm, `${label}: max |Δλ| = ${worst} > ${TOLERANCE}·‖A‖ = ${TOLERANCE * norm}`);
}

function uniformSpectrum(n: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  return Float64Array.from({ length: n }, () => 2 * rng() - 1);
}

test('eigenvalues match a known spectrum to 1e-10·‖A‖ for n = 2, 3, 10, 64, 200', () => {
  for (const n of [2, 3, 10, 64, 200]) {
    const lambda = uniformSpectrum(n, 100 + n);
    const a = withSpectrum(lambda, 200 + n);
    assertSpectrum(symmetricEigenvalues(a, n), lambda, spectralNorm(lambda), `n=${n}`);
  }
});

test('a 1×1 matrix is its own eigenvalue', () => {
  assert.deepEqual(Array.from(symmetricEigenvalues(Float64Array.of(-3.5), 1)), [-3.5]);
  assert.deepEqual(Array.from(symmetricEigenvalues(Float64Array.of(0), 1)), [0]);
});

test('repeated eigenvalues are each found with their multiplicity', () => {
  const n = 64;
  const lambda = Float64Array.from({ length: n }, (_, i) => [1, 1, 1, -2, 0.5][i % 5]);
  assertSpectrum(symmetricEigenvalues(withSpectrum(lambda, 7), n), lambda, 2, 'clustered');
  const identityish = new Float64Array(10).fill(4);
  assertSpectrum(symmetricEigenvalues(withSpectrum(identityish, 8), 10), identityish, 4, 'scalar multiple of I');
});

test('the zero matrix and a rank-deficient Gram have zero eigenvalues to 1e-10·‖A‖', () => {
  assert.deepEqual(Array.from(symmetricEigenvalues(new Float64Array(25), 5)), [0, 0, 0, 0, 0]);
  // Rank 3 of 50: Z Zᵀ with Z 50×3, PSD.
  const n = 50;
  const k = 3;
  const rng = mulberry32(11);
  const z = Float64Array.from({ length: n * k }, () => gaussian(rng));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += z[i * k + t] * z[j * k + t];
      a[i * n + j] = s;
    }
  }
  const got = symmetricEigenvalues(a, n);
  const norm = got[n - 1];
  for (let i = 0; i < n - k; i++) assert.ok(Math.abs(got[i]) <= TOLERANCE * norm, `λ_${i} = ${got[i]} is not ~0`);
  for (let i = n - k; i < n; i++) assert.ok(got[i] > 1, `λ_${i} = ${got[i]} should be a large non-zero`);
  // Rank-deficient with a known spectrum as well.
  const lambda = Float64Array.from({ length: 40 }, (_, i) => (i < 30 ? 0 : i - 29));
  assertSpectrum(symmetricEigenvalues(withSpectrum(lambda, 12), 40), lambda, 10, 'rank 10 of 40');
});

test('a Gram with half its eigenvalues zero converges (noise-level trailing block)', () => {
  // Top-down Householder leaves a trailing block of round-off-sized entries here; Numerical
  // Recipes' tqli needed > 60 sweeps on it, LAPACK's QL/QR choice needs a few.
  const n = 256;
  const k = 144;
  const rng = mulberry32(1256);
  const z = Float64Array.from({ length: k * n }, () => gaussian(rng)); // Z: k×n
  const a = new Float64Array(n * n); // A = ZᵀZ, rank k
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < n; i++) {
      const zi = z[r * n + i];
      for (let j = i; j < n; j++) a[i * n + j] += zi * z[r * n + j];
    }
  }
  const got = symmetricEigenvalues(a, n);
  const norm = got[n - 1];
  let trace = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) { trace += a[i * n + i]; sum += got[i]; }
  for (let i = 0; i < n - k; i++) assert.ok(Math.abs(got[i]) <= TOLERANCE * norm, `λ_${i} = ${got[i]} is not ~0`);
  assert.ok(got[n - k] > 1e-3 * norm, 'the rank is k');
  assert.ok(Math.abs(sum - trace) <= 1e-12 * trace, `Σλ = ${sum} ≠ tr A = ${trace}`);
});

test('tiny and huge scales neither underflow nor overflow', () => {
  const n = 30;
  const lambda = uniformSpectrum(n, 21);
  const base = withSpectrum(lambda, 22);
  for (const scale of [2 ** -1000, 1e-300, 1e-150, 1e150, 1e300, 2 ** 1000]) {
    const a = base.map((x) => x * scale);
    const scaled = lambda.map((x) => x * scale);
    assertSpectrum(symmetricEigenvalues(a, n), scaled, spectralNorm(scaled), `scale ${scale}`);
  }
});

test('a spectrum decaying over 12 decades keeps its small eigenvalues to 1e-10·‖A‖', () => {
  const n = 80;
  const lambda = Float64Array.from({ length: n }, (_, i) => 10 ** (-12 * i / (n - 1)));
  assertSpectrum(symmetricEigenvalues(withSpectrum(lambda, 31), n), lambda, 1, 'decaying');
});

test('a diagonal matrix returns its sorted diagonal exactly', () => {
  const n = 17;
  const rng = mulberry32(41);
  const d = Float64Array.from({ length: n }, () => gaussian(rng));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) a[i * n + i] = d[i];
  assert.deepEqual(Array.from(symmetricEigenvalues(a, n)), Array.from(sortedCopy(d)));
});

test('tridiagonal inputs: the 1-D Laplacian has eigenvalues 2 − 2cos(kπ/(n+1))', () => {
  const n = 100;
  const expected = Float64Array.from({ length: n }, (_, k) => 2 - 2 * Math.cos(((k + 1) * Math.PI) / (n + 1)));
  const diag = new Float64Array(n).fill(2);
  const off = new Float64Array(n - 1).fill(-1);
  assertSpectrum(symmetricEigenvaluesTridiagonal(diag, off), expected, 4, 'tridiagonal solver');
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 2;
    if (i + 1 < n) { a[i * n + i + 1] = -1; a[(i + 1) * n + i] = -1; }
  }
  assertSpectrum(symmetricEigenvalues(a, n), expected, 4, 'dense tridiagonal');
  // The tridiagonal solver leaves its inputs alone.
  assert.ok(diag.every((x) => x === 2) && off.every((x) => x === -1));
});

test('only the upper triangle is read and the input is not modified', () => {
  const n = 12;
  const lambda = uniformSpectrum(n, 51);
  const a = withSpectrum(lambda, 52);
  const upperOnly = a.slice();
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) upperOnly[i * n + j] = Number.NaN;
  const before = upperOnly.slice();
  assertSpectrum(symmetricEigenvalues(upperOnly, n), lambda, 1, 'NaN below the diagonal');
  assert.deepEqual(Array.from(upperOnly), Array.from(before));
});

test('bad shapes and non-finite entries are rejected', () => {
  assert.throws(() => symmetricEigenvalues(new Float64Array(3), 2), RangeError);
  assert.throws(() => symmetricEigenvalues(new Float64Array(4), 1.5), RangeError);
  assert.throws(() => symmetricEigenvalues(Float64Array.of(1, Number.NaN, 0, 1), 2), RangeError);
  assert.throws(() => symmetricEigenvalues(Float64Array.of(Number.POSITIVE_INFINITY), 1), RangeError);
});

/** Eigenvalues of the tridiagonal form that `reduce` computes from a copy of the upper triangle of a. */
function eigenvaluesVia(
  a: Float64Array,
  n: number,
  reduce: (w: Float64Array, diag: Float64Array, off: Float64Array) => void,
): Float64Array {
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) w[i * n + j] = a[i * n + j];
  const diag = new Float64Array(n);
  const off = new Float64Array(Math.max(n - 1, 0));
  reduce(w, diag, off);
  return symmetricEigenvaluesTridiagonal(diag, off);
}

/** Test matrices for the reduction paths: a known spectrum (n ≥ 2) and a rank-deficient Gram. */
function reductionCases(n: number): Array<{ label: string; a: Float64Array; norm: number }> {
  const lambda = uniformSpectrum(n, 300 + n);
  const cases = [{ label: `known spectrum n=${n}`, a: withSpectrum(lambda, 400 + n), norm: spectralNorm(lambda) }];
  const k = Math.max(1, Math.floor(n / 3));
  const rng = mulberry32(500 + n);
  const z = Float64Array.from({ length: k * n }, () => gaussian(rng)); // Z: k×n
  const g = new Float64Array(n * n); // ZᵀZ, rank k
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < n; i++) for (let j = i; j < n; j++) g[i * n + j] += z[r * n + i] * z[r * n + j];
  }
  let trace = 0;
  for (let i = 0; i < n; i++) trace += g[i * n + i];
  cases.push({ label: `rank-${k} Gram n=${n}`, a: g, norm: trace });
  return cases;
}

function maxAbsDifference(x: Float64Array, y: Float64Array): number {
  assert.equal(x.length, y.length);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  return worst;
}

const REDUCTION_SIZES = [1, 2, 3, 31, 64, 65, 130, 300];

test('blocked and unblocked TypeScript reductions agree to 1e-12·‖A‖ across panel boundaries', () => {
  for (const n of REDUCTION_SIZES) {
    for (const { label, a, norm } of reductionCases(n)) {
      const reference = eigenvaluesVia(a, n, (w, d, e) => tridiagonalizeUpper(w, n, d, e));
      // (block size, crossover): single reflectors, ragged panels, the defaults.
      for (const [nb, nx] of [[1, 1], [7, 7], [8, 20], [32, 64]]) {
        const got = eigenvaluesVia(a, n, (w, d, e) => tridiagonalizeUpperBlocked(w, n, d, e, nb, nx));
        const delta = maxAbsDifference(got, reference);
        assert.ok(delta <= 1e-12 * norm, `${label} nb=${nb} nx=${nx}: max |Δλ| = ${delta} > 1e-12·‖A‖`);
      }
    }
  }
});

test('the WebAssembly reduction loads and agrees with the TypeScript one to 1e-12·‖A‖', () => {
  // The .wasm is committed (infra/build-wasm.sh rebuilds it); Node 20 has WebAssembly SIMD.
  assert.ok(wasmTridiagonalizeAvailable(), 'src/linalg/wasm/eigen.wasm did not load');
  for (const n of REDUCTION_SIZES) {
    for (const { label, a, norm } of reductionCases(n)) {
      const reference = eigenvaluesVia(a, n, (w, d, e) => tridiagonalizeUpper(w, n, d, e));
      for (const nb of [1, 3, 8, 32, 64]) {
        const diag = new Float64Array(n);
        const off = new Float64Array(Math.max(n - 1, 0));
        const ran = tridiagonalizeUpperWasm(n, diag, off, (w) => {
          // Garbage below the diagonal: the kernel must read the upper triangle only.
          w.fill(Number.NaN);
          for (let i = 0; i < n; i++) for (let j = i; j < n; j++) w[i * n + j] = a[i * n + j];
        }, nb);
        assert.ok(ran, 'the wasm reduction did not run');
        const delta = maxAbsDifference(symmetricEigenvaluesTridiagonal(diag, off), reference);
        assert.ok(delta <= 1e-12 * norm, `${label} nb=${nb}: max |Δλ| = ${delta} > 1e-12·‖A‖`);
      }
    }
  }
});

test('nothing is printed while solving (no debug output on stdout or stderr)', () => {
  // A regression guard: a 768×768 solve once printed per-iteration debug lines.
  const n = 768;
  const a = withSpectrum(uniformSpectrum(n, 71), 72, 4);
  const writes: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const log = console.log;
  const capture = (chunk: unknown): boolean => { writes.push(String(chunk)); return true; };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  console.log = (...parts: unknown[]) => { writes.push(parts.join(' ')); };
  try {
    symmetricEigenvalues(a, n);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    console.log = log;
  }
  assert.deepEqual(writes, []);
});

const PYTHON = join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python');
const ORACLE = fileURLToPath(new URL('../oracle/eigvalsh.py', import.meta.url));

test('eigenvalues agree with numpy.linalg.eigvalsh (LAPACK) to 1e-10·‖A‖', () => {
  // The oracle is installed by `npm test` (infra/install.sh); missing, it is a failure, never a skip.
  assert.ok(existsSync(PYTHON), `no Python oracle at ${PYTHON}: run infra/install-python.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-eigen-'));
  try {
    const rng = mulberry32(61);
    const cases: Array<{ label: string; n: number; a: Float64Array }> = [];
    // A dense symmetric matrix with Gaussian entries, and a PSD Gram (the product's use case).
    {
      const n = 120;
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = gaussian(rng);
      cases.push({ label: 'Gaussian symmetric', n, a });
    }
    {
      const n = 90;
      const k = 40;
      const z = Float64Array.from({ length: n * k }, () => gaussian(rng));
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let c = 0; c < k; c++) s += z[i * k + c] * z[j * k + c];
          a[i * n + j] = s;
        }
      }
      cases.push({ label: 'rank-40 Gram', n, a });
    }
    for (const { label, n, a } of cases) {
      const file = join(dir, `${n}.f64`);
      writeFileSync(file, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
      const run = spawnSync(PYTHON, [ORACLE, file, String(n)], { encoding: 'utf8' });
      assert.equal(run.status, 0, `oracle failed: ${run.stderr}`);
      const oracle = JSON.parse(run.stdout) as { eigenvalues: number[] };
      assertSpectrum(symmetricEigenvalues(a, n), oracle.eigenvalues, spectralNorm(oracle.eigenvalues), label);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
