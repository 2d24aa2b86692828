// Eigenvalues on the native backend, on every core, bit-identical for any thread count.
//
// LAPACK's dsyevd (jobz = 'N') is dsytrd (Householder tridiagonalisation, GVL §8.3.1, blocked as
// in Dongarra, Sorensen & Hammarling 1989) then dsterf. OpenBLAS's own threads change dsytrd's
// results with the thread count, so above DRIVER_MIN_N this file drives dsytrd itself, exactly as
// LAPACK's dsytrd.f (uplo = 'L', column-major — the row-major upper triangle we hold):
//
//   for i = 0, nb, 2nb, … while n − i > NX:
//     dlatrd: reduce columns i…i+nb−1, giving reflectors V and W, with A(i:n, i:n) − V Wᵀ − W Vᵀ
//             the updated matrix (never formed here); LAPACK's dlatrd.f step for step (`panel`
//             below) on this thread, except its dsymv, split into the fixed row blocks of
//             nativeTridiagonalBlocks.mjs over the helpers
//     trailing update A(t:n, t:n) −= V Wᵀ + W Vᵀ, t = i + nb: the fixed block-column partition of
//             nativeTridiagonalBlocks.mjs, shared out over helper threads (nativeHelpers.ts)
//     d(j) = A(j, j), e(j) = A(j+1, j) for the panel's columns
//   dsytd2 on the last ≤ NX columns; dsterf on (d, e).
//
// Each element of A is computed by the same sequence of single-threaded OpenBLAS calls whatever
// the thread count, so the eigenvalues are too. For n < DRIVER_MIN_N the solve is dsyevd on one
// thread (faster there: the split's per-panel hand-offs cost more than a second core gains); the
// path depends on n only, never on the thread count. The driver is opt-in (`reduction:
// 'threaded'`); by default every n goes to dsyevd on one thread, see NativeEigenOptions.
//
// Scaling as dsyevd: a matrix with max|a_ij| outside [rmin, rmax] (rmin = √(safmin/ε), rmax =
// 1/rmin) is scaled first, here by a power of two (exact), and the eigenvalues back.
import { acquireHelpers, holdCore, releaseHelpers, totalCores } from './coreBudget.ts';
import { blas, symmetricEigenvaluesNative, type Blas } from './nativeBlas.ts';
import { JOB, MAX_HELPERS, runOnHelpers } from './nativeHelpers.ts';
import { rank2kBlockColumns, rank2kBlockCount, rank2kParts, symvBlockCount, symvPart, symvRowBlocks } from './nativeTridiagonalBlocks.mjs';

/** From this n on the blocked driver runs (at any thread count); below, dsyevd on one thread. */
export const DRIVER_MIN_N = 512;
/** Panel width (LAPACK's ilaenv default for dsytrd: 32). */
export const PANEL = 32;
/** dsytd2 reduces the last columns once at most this many remain (LAPACK: max(nb, 32)). */
const NX = 32;
/** Trailing matrices smaller than this are updated on this thread alone (no hand-off). */
const SPLIT_MIN_M = 192;

// dsyevd's scaling bounds: safmin = 2⁻¹⁰²², ε = 2⁻⁵², rmin = √(safmin/ε) = 2⁻⁴⁸⁵, rmax = 2⁴⁸⁵.
const RMIN = 2 ** -485;
const RMAX = 2 ** 485;

const UPLO_L = new Uint8Array([0x4c]);
// CBLAS enums (cblas.h).
const COL_MAJOR = 102;
const NO_TRANS = 111;
const TRANS = 112;
/** dlarfg's by-reference integers [n, incx = 1], in shared memory (raw addresses are taken). */
const ints = new Int32Array(new SharedArrayBuffer(8));
ints[1] = 1;

let lastThreads = 0;
/** Threads the last eigen-solve used (1 on the dsyevd path; for tests and benchmarks). */
export function eigenLastThreads(): number {
  return lastThreads;
}

/** Options of the native eigen-solve. */
export interface NativeEigenOptions {
  /** Threads to use (this one included); default every core. Fewer when the process's core
   * budget has no idle core. Never changes the result. */
  threads?: number;
  /** 'dsyevd' (the default, every n): LAPACK dsyevd on this thread. 'threaded': from n =
   * DRIVER_MIN_N the dsytrd driver of this file over helper threads (below, dsyevd). Both give the
   * same bits for any thread count; they differ from each other by rounding (≤ 1e-14·‖A‖_F). The
   * driver is not the default because it measured slower (BENCHMARKS.md, "the threaded
   * reduction"): 1.6–2.0× LAPACK at one thread, where dsyevd is 1.1×, and no gain from a second
   * core on the shared 2-core machine it was measured on. */
  reduction?: 'dsyevd' | 'threaded';
}

/**
 * Eigenvalues, ascending, of the symmetric n×n `a` (row-major, upper triangle read; not
 * modified), max|a_ij| = `amax` > 0 and finite. Returns undefined when the native backend is not in
 * use; throws if LAPACK reports failure.
 */
export function eigenvaluesNative(a: Float64Array, n: number, amax: number, opts: NativeEigenOptions = {}): Float64Array | undefined {
  const b = blas();
  if (b === undefined) return undefined;
  if ((opts.reduction ?? 'dsyevd') === 'dsyevd' || n < DRIVER_MIN_N) {
    lastThreads = 1;
    return symmetricEigenvaluesNative(Float64Array.from(a.subarray(0, n * n)), n);
  }
  const wanted = Math.max(1, Math.min(MAX_HELPERS + 1, Math.floor(opts.threads ?? totalCores())));
  return holdCore(() => {
    const got = wanted > 1 ? acquireHelpers(Math.min(wanted - 1, rank2kBlockCount(n - PANEL) - 1)) : 0;
    try {
      lastThreads = 1 + got;
      return blockedEigenvalues(b, a, n, amax, got);
    } finally {
      releaseHelpers(got);
    }
  });
}

/** Power of two σ that dsyevd-style scaling multiplies A by (1 when none is needed). */
function scaleFor(amax: number): number {
  if (amax >= RMIN && amax <= RMAX) return 1;
  // To max|a_ij| ≈ 1; the exponent clamped so that 2^k is finite (amax ≥ 2⁻¹⁰⁷⁴ still lands in range).
  return 2 ** Math.max(-1000, Math.min(1000, -Math.round(Math.log2(amax))));
}

function blockedEigenvalues(b: Blas, a: Float64Array, n: number, amax: number, helpers: number): Float64Array {
  // A in shared memory (the helpers update it in place): column-major lower = row-major upper.
  const sa = new Float64Array(new SharedArrayBuffer(8 * n * n));
  const sigma = scaleFor(amax);
  if (sigma === 1) sa.set(a.subarray(0, n * n));
  else for (let r = 0; r < n; r++) for (let c = r; c < n; c++) sa[r * n + c] = a[r * n + c] * sigma;
  const ldw = n;
  const w = new Float64Array(new SharedArrayBuffer(8 * ldw * PANEL));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const tau = new Float64Array(new SharedArrayBuffer(8 * n));
  const nn = Int32Array.of(n);
  const at = (r: number, c: number): Float64Array => sa.subarray(r + c * n);

  let i = 0;
  for (; n - i > NX && i + PANEL < n; i += PANEL) {
    panel(b, sa, n, i, w, ldw, e, tau, helpers);
    const m = n - i - PANEL;
    const parts = helpers > 0 && m >= SPLIT_MIN_M ? Math.min(helpers + 1, rank2kBlockCount(m)) : 1;
    const split = rank2kParts(m, parts);
    if (parts === 1) rank2kBlockColumns(b, sa, n, i, PANEL, w, ldw, split[0]);
    else {
      runOnHelpers(
        b.library, sa.buffer as SharedArrayBuffer, w.buffer as SharedArrayBuffer, parts - 1,
        (h) => [JOB.RANK2K, n, i, PANEL, ldw, h + 1, parts],
        (part) => rank2kBlockColumns(b, sa, n, i, PANEL, w, ldw, split[part]),
      );
    }
    for (let j = i; j < i + PANEL; j++) {
      sa[j + 1 + j * n] = e[j];
      d[j] = sa[j + j * n];
    }
  }
  const info = new Int32Array(1);
  b.dsytd2(UPLO_L, Int32Array.of(n - i), at(i, i), nn, d.subarray(i), e.subarray(i), tau.subarray(i), info, 1);
  if (info[0] !== 0) throw new Error(`LAPACK dsytd2: argument ${-info[0]} had an illegal value`);
  b.dsterf(nn, d, e, info);
  if (info[0] < 0) throw new Error(`LAPACK dsterf: argument ${-info[0]} had an illegal value`);
  if (info[0] > 0) throw new Error(`LAPACK dsterf did not converge (${info[0]} off-diagonal elements did not reach zero)`);
  if (sigma !== 1) for (let k = 0; k < n; k++) d[k] /= sigma;
  return d;
}

/**
 * LAPACK dlatrd (uplo = 'L', nb = PANEL) on A(i0:n, i0:n): reduces its first PANEL columns, writing
 * e(i0…), tau(i0…), the reflectors below the subdiagonal and W (N×PANEL, N = n − i0, leading
 * dimension ldw). Comments give dlatrd.f's lines (1-based there, 0-based here). Its calls take raw
 * addresses (`&A(r, c)`): sa, w and tau live in SharedArrayBuffers, which never move.
 */
function panel(b: Blas, sa: Float64Array, n: number, i0: number, w: Float64Array, ldw: number, e: Float64Array, tau: Float64Array, helpers: number): void {
  const N = n - i0;
  const pa = b.address(sa);
  const pw = b.address(w);
  const ptau = b.address(tau);
  const pint = b.address(ints);
  const A = (r: number, c: number): number => pa + 8 * (i0 + r + (i0 + c) * n);
  const W = (r: number, c: number): number => pw + 8 * (r + c * ldw);
  for (let I = 0; I < PANEL; I++) {
    // Update A(i:n, i): A(i:n, i) −= A(i:n, 1:i−1)·W(i, 1:i−1)ᵀ + W(i:n, 1:i−1)·A(i, 1:i−1)ᵀ
    if (I > 0) {
      b.dgemv(COL_MAJOR, NO_TRANS, N - I, I, -1, A(I, 0), n, W(I, 0), ldw, 1, A(I, I), 1);
      b.dgemv(COL_MAJOR, NO_TRANS, N - I, I, -1, W(I, 0), ldw, A(I, 0), n, 1, A(I, I), 1);
    }
    if (I < N - 1) {
      const M = N - I - 1;
      // Reflector H(i) annihilating A(i+2:n, i)
      ints[0] = M;
      b.dlarfg(pint, A(I + 1, I), A(Math.min(I + 2, N - 1), I), pint + 4, ptau + 8 * (i0 + I));
      e[i0 + I] = sa[i0 + I + 1 + (i0 + I) * n];
      sa[i0 + I + 1 + (i0 + I) * n] = 1;
      // W(i+1:n, i) = A(i+1:n, i+1:n)·v (dsymv), split by fixed row blocks
      symv(b, pa, pw, sa.buffer as SharedArrayBuffer, w.buffer as SharedArrayBuffer, n, i0 + I + 1, i0 + I, I + 1 + I * ldw, helpers);
      if (I > 0) {
        b.dgemv(COL_MAJOR, TRANS, M, I, 1, W(I + 1, 0), ldw, A(I + 1, I), 1, 0, W(0, I), 1);
        b.dgemv(COL_MAJOR, NO_TRANS, M, I, -1, A(I + 1, 0), n, W(0, I), 1, 1, W(I + 1, I), 1);
        b.dgemv(COL_MAJOR, TRANS, M, I, 1, A(I + 1, 0), n, A(I + 1, I), 1, 0, W(0, I), 1);
        b.dgemv(COL_MAJOR, NO_TRANS, M, I, -1, W(I + 1, 0), ldw, W(0, I), 1, 1, W(I + 1, I), 1);
      }
      const t = tau[i0 + I];
      b.dscal(M, t, W(I + 1, I), 1);
      const alpha = -0.5 * t * b.ddot(M, W(I + 1, I), 1, A(I + 1, I), 1);
      b.daxpy(M, alpha, A(I + 1, I), 1, W(I + 1, I), 1);
    }
  }
}

/** y = A(t:n, t:n)·A(t:n, col) into w[yOff …], as the fixed row blocks of symvRowBlocks. */
function symv(
  b: Blas, pa: number, pw: number, sa: SharedArrayBuffer, w: SharedArrayBuffer, n: number, t: number, col: number, yOff: number, helpers: number,
): void {
  const count = symvBlockCount(n - t);
  const parts = Math.min(helpers + 1, count);
  if (parts === 1) {
    symvRowBlocks(b, pa, n, t, col, pw, yOff, 0, count);
    return;
  }
  runOnHelpers(
    b.library, sa, w, parts - 1,
    (h) => [JOB.SYMV, n, t, col, yOff, h + 1, parts],
    (part) => symvRowBlocks(b, pa, n, t, col, pw, yOff, ...symvPart(n - t, part, parts)),
  );
}
