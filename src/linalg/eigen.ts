// Eigenvalues of a dense real symmetric matrix, float64, no eigenvectors.
//
// Algorithm (the classical two-phase method, Golub & Van Loan, "Matrix Computations", 4th ed.):
//   1. Householder tridiagonalisation, QᵀAQ = T (GVL §8.3.1, Alg. 8.3.1), blocked as LAPACK
//      dsytrd/dlatrd: panels of reflectors with the trailing update applied as one rank-2k update.
//      Only the upper triangle is stored and touched. It runs in the WebAssembly SIMD kernel
//      (tridiagonalizeWasm.ts, source wasm/tridiagonalize.c) and falls back to the same algorithm
//      in TypeScript (tridiagonalize.ts) where the .wasm cannot load.
//   2. Pal–Walker–Kahan root-free implicit QL/QR with Wilkinson-type shifts on T, eigenvalues only
//      (LAPACK dsterf; Parlett, "The Symmetric Eigenvalue Problem", §8.15). Unlike Numerical
//      Recipes' tqli it splits and scales each block and picks QL or QR by which end is larger.
//
// Where the system's OpenBLAS loads (nativeBlas.ts; ENTROSCOPE_LINALG picks), LAPACK does both
// phases instead (the same dsytrd + dsterf algorithms): dsyevd with jobz = 'N' on the calling
// thread (nativeTridiagonal.ts, which also holds an opt-in dsytrd driver split over helper threads,
// bit-identical for any thread count, not the default: it measured slower, see there).
//
// The input is scaled by a power of two so that max|a_ij| ≈ 1 before reduction (exact, as LAPACK
// dsyev does) so that squares neither overflow nor underflow for "huge" or "tiny" matrices.
//
// Backward stable: the computed eigenvalues are exact for A + E with ‖E‖ = O(n ε ‖A‖), hence each
// is within O(n ε ‖A‖) of the true one (Weyl); tests require ≤ 1e-10·‖A‖.

import { tridiagonalizeUpperBlocked } from './tridiagonalize.ts';
import { tridiagonalizeUpperWasm } from './tridiagonalizeWasm.ts';
import { eigenvaluesNative } from './nativeTridiagonal.ts';

/** Average iteration cap per eigenvalue of the QL/QR phase (the whole solve gets n times this),
 * as LAPACK dsterf's MAXIT. */
const MAX_ITERATIONS_PER_EIGENVALUE = 30;

/**
 * All eigenvalues, ascending, of the dense symmetric n×n matrix `a` (row-major).
 *
 * Only the upper triangle is read: a[i*n + j] for j ≥ i. The lower triangle may hold anything
 * (e.g. stale values from an accumulation that only touched the upper part). `a` is not modified.
 *
 * A: n×n, returns λ: n (ascending). Throws RangeError on a bad shape or a non-finite entry.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  if (a.length < n * n) throw new RangeError(`matrix has ${a.length} entries, need n*n = ${n * n}`);
  if (n === 0) return new Float64Array(0);

  const amax = maxAbsUpper(a, n);
  if (!Number.isFinite(amax)) throw new RangeError('matrix has a non-finite entry (NaN or ±Infinity)');
  if (amax === 0) return new Float64Array(n);
  // The native path scales as LAPACK dsyevd does (into [√(safmin/ε), √(ε/safmin)]).
  const native = eigenvaluesNative(a, n, amax);
  if (native !== undefined) return native;

  // Exact power-of-two scaling to max|a_ij| ∈ [0.5, 2).
  const exponent = -Math.round(Math.log2(amax));
  const diag = new Float64Array(n);
  const off = new Float64Array(Math.max(n - 1, 0));
  const fill = (w: Float64Array): void => copyScaledUpper(a, n, exponent, w);
  if (!tridiagonalizeUpperWasm(n, diag, off, fill)) {
    const w = new Float64Array(n * n);
    fill(w);
    tridiagonalizeUpperBlocked(w, n, diag, off);
  }
  const lambda = symmetricEigenvaluesTridiagonal(diag, off);
  for (let i = 0; i < n; i++) lambda[i] = scaleByPowerOfTwo(lambda[i], -exponent);
  return lambda;
}

/**
 * All eigenvalues, ascending, of the symmetric tridiagonal matrix with diagonal `diag` (n) and
 * off-diagonal `off` (n−1; off[i] couples i and i+1). Inputs are not modified.
 * Root-free QL/QR (LAPACK dsterf), see `tridiagonalEigenvaluesInPlace`.
 */
export function symmetricEigenvaluesTridiagonal(diag: Float64Array, off: Float64Array): Float64Array {
  const n = diag.length;
  if (n === 0) return new Float64Array(0);
  if (off.length < n - 1) throw new RangeError(`off-diagonal has ${off.length} entries, need ${n - 1}`);
  const d = Float64Array.from(diag);
  const e = new Float64Array(n); // e[n-1] = 0 sentinel
  for (let i = 0; i < n - 1; i++) e[i] = off[i];
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(d[i]) || !Number.isFinite(e[i])) throw new RangeError('tridiagonal matrix has a non-finite entry');
  }
  tridiagonalEigenvaluesInPlace(d, e, n);
  d.sort();
  return d;
}

// ───────────────────────────── helpers ─────────────────────────────

function maxAbsUpper(a: Float64Array, n: number): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = i; j < n; j++) {
      const v = Math.abs(a[row + j]);
      if (Number.isNaN(v)) return v; // must not be skipped (a later entry would replace it)
      if (v > m) m = v;
    }
  }
  return m;
}

/** w[i][j] = a[i][j]·2^e on the upper triangle (exact: a power of two). */
function copyScaledUpper(a: Float64Array, n: number, e: number, w: Float64Array): void {
  if (Math.abs(e) <= 1000) {
    const f = 2 ** e;
    for (let i = 0; i < n; i++) {
      const row = i * n;
      for (let j = i; j < n; j++) w[row + j] = a[row + j] * f;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let j = i; j < n; j++) w[row + j] = scaleByPowerOfTwo(a[row + j], e);
  }
}

/** x·2^e without overflow of 2^e itself (|e| may exceed 1023 for subnormal inputs). */
function scaleByPowerOfTwo(x: number, e: number): number {
  while (e > 1000) { x *= 2 ** 1000; e -= 1000; }
  while (e < -1000) { x *= 2 ** -1000; e += 1000; }
  return x * 2 ** e;
}

/**
 * Eigenvalues of the symmetric tridiagonal (d, e), in place; e[i] couples i and i+1 (e has ≥ n−1
 * entries; it is destroyed). On return d holds the eigenvalues, unsorted.
 *
 * Pal–Walker–Kahan root-free implicit QL/QR (LAPACK dsterf; Parlett, "The Symmetric Eigenvalue
 * Problem", §8.15): the iteration runs on e² so no square root is taken per rotation. The matrix
 * is split where |e_i| ≤ ε·√|d_i|·√|d_i+1|; each unreduced block is scaled to avoid over/underflow
 * of e² and is swept by QL or QR depending on which end is larger. That choice matters: plain
 * tqli-style QL needs hundreds of iterations on the trailing noise-level block that a rank-deficient
 * Gram leaves at the bottom after top-down Householder reduction.
 */
function tridiagonalEigenvaluesInPlace(d: Float64Array, e: Float64Array, n: number): void {
  const eps = Number.EPSILON / 2; // LAPACK's dlamch('E'): the unit round-off
  const eps2 = eps * eps;
  const safmin = 2 ** -1022;
  const safmax = 1 / safmin;
  const ssfmax = Math.sqrt(safmax) / 3;
  const ssfmin = Math.sqrt(safmin) / eps2;
  const maxIterations = MAX_ITERATIONS_PER_EIGENVALUE * n;
  let iterations = 0;

  let l1 = 0;
  while (l1 < n) {
    // Look for a small off-diagonal element to split the matrix at.
    if (l1 > 0) e[l1 - 1] = 0;
    let m = l1;
    for (; m < n - 1; m++) {
      if (Math.abs(e[m]) <= Math.sqrt(Math.abs(d[m])) * Math.sqrt(Math.abs(d[m + 1])) * eps) {
        e[m] = 0;
        break;
      }
    }
    let l = l1;
    const lsv = l;
    let lend = m;
    const lendsv = lend;
    l1 = m + 1;
    if (lend === l) continue;

    // Scale the unreduced block [l, lend] into a safe range.
    let anorm = 0;
    for (let i = l; i <= lend; i++) anorm = Math.max(anorm, Math.abs(d[i]));
    for (let i = l; i < lend; i++) anorm = Math.max(anorm, Math.abs(e[i]));
    if (anorm === 0) continue;
    let scale = 1;
    if (anorm > ssfmax) scale = ssfmax / anorm;
    else if (anorm < ssfmin) scale = ssfmin / anorm;
    if (scale !== 1) {
      for (let i = l; i <= lend; i++) d[i] *= scale;
      for (let i = l; i < lend; i++) e[i] *= scale;
    }
    for (let i = l; i < lend; i++) e[i] *= e[i];

    // QL if the block is larger at its bottom end, else QR (dsterf).
    if (Math.abs(d[lend]) < Math.abs(d[l])) {
      lend = lsv;
      l = lendsv;
    }

    if (lend >= l) {
      // QL iteration: find eigenvalues at the top (index l) of the block.
      while (l <= lend) {
        let mm = l;
        for (; mm < lend; mm++) if (Math.abs(e[mm]) <= eps2 * Math.abs(d[mm] * d[mm + 1])) break;
        if (mm < lend) e[mm] = 0;
        let p = d[l];
        if (mm === l) { d[l] = p; l++; continue; }
        if (mm === l + 1) {
          const [rt1, rt2] = eigenvalues2x2(d[l], Math.sqrt(e[l]), d[l + 1]);
          d[l] = rt1;
          d[l + 1] = rt2;
          e[l] = 0;
          l += 2;
          continue;
        }
        if (iterations === maxIterations) throw new Error('tridiagonal QL/QR iteration did not converge');
        iterations++;
        // Wilkinson-type shift from the leading 2×2.
        const rte = Math.sqrt(e[l]);
        let sigma = (d[l + 1] - p) / (2 * rte);
        const r0 = hypot2(sigma, 1);
        sigma = p - rte / (sigma + (sigma >= 0 ? r0 : -r0));
        let c = 1;
        let s = 0;
        let gamma = d[mm] - sigma;
        p = gamma * gamma;
        for (let i = mm - 1; i >= l; i--) {
          const bb = e[i];
          const r = p + bb;
          if (i !== mm - 1) e[i + 1] = s * r;
          const oldc = c;
          c = p / r;
          s = bb / r;
          const oldgam = gamma;
          const alpha = d[i];
          gamma = c * (alpha - sigma) - s * oldgam;
          d[i + 1] = oldgam + (alpha - gamma);
          p = c !== 0 ? (gamma * gamma) / c : oldc * bb;
        }
        e[l] = s * p;
        d[l] = sigma + gamma;
      }
    } else {
      // QR iteration: find eigenvalues at the bottom (index l) of the block, l decreasing.
      while (l >= lend) {
        let mm = l;
        for (; mm > lend; mm--) if (Math.abs(e[mm - 1]) <= eps2 * Math.abs(d[mm] * d[mm - 1])) break;
        if (mm > lend) e[mm - 1] = 0;
        let p = d[l];
        if (mm === l) { d[l] = p; l--; continue; }
        if (mm === l - 1) {
          const [rt1, rt2] = eigenvalues2x2(d[l], Math.sqrt(e[l - 1]), d[l - 1]);
          d[l] = rt1;
          d[l - 1] = rt2;
          e[l - 1] = 0;
          l -= 2;
          continue;
        }
        if (iterations === maxIterations) throw new Error('tridiagonal QL/QR iteration did not converge');
        iterations++;
        const rte = Math.sqrt(e[l - 1]);
        let sigma = (d[l - 1] - p) / (2 * rte);
        const r0 = hypot2(sigma, 1);
        sigma = p - rte / (sigma + (sigma >= 0 ? r0 : -r0));
        let c = 1;
        let s = 0;
        let gamma = d[mm] - sigma;
        p = gamma * gamma;
        for (let i = mm; i < l; i++) {
          const bb = e[i];
          const r = p + bb;
          if (i !== mm) e[i - 1] = s * r;
          const oldc = c;
          c = p / r;
          s = bb / r;
          const oldgam = gamma;
          const alpha = d[i + 1];
          gamma = c * (alpha - sigma) - s * oldgam;
          d[i] = oldgam + (alpha - gamma);
          p = c !== 0 ? (gamma * gamma) / c : oldc * bb;
        }
        e[l - 1] = s * p;
        d[l] = sigma + gamma;
      }
    }
    // Undo the scaling of this block.
    if (scale !== 1) for (let i = lsv; i <= lendsv; i++) d[i] /= scale;
  }
}

/** Eigenvalues (rt1 ≥ rt2 in magnitude order of LAPACK dlae2) of [[a, b], [b, c]], computed
 * without cancellation in the smaller one. */
function eigenvalues2x2(a: number, b: number, c: number): [number, number] {
  const sm = a + c;
  const adf = Math.abs(a - c);
  const ab = Math.abs(b + b);
  const [acmx, acmn] = Math.abs(a) > Math.abs(c) ? [a, c] : [c, a];
  let rt: number;
  if (adf > ab) rt = adf * Math.sqrt(1 + (ab / adf) ** 2);
  else if (adf < ab) rt = ab * Math.sqrt(1 + (adf / ab) ** 2);
  else rt = ab * Math.SQRT2;
  if (sm === 0) return [0.5 * rt, -0.5 * rt];
  const rt1 = sm < 0 ? 0.5 * (sm - rt) : 0.5 * (sm + rt);
  // The other root via the determinant, which does not cancel.
  const rt2 = (acmx / rt1) * acmn - (b / rt1) * b;
  return [rt1, rt2];
}

/** √(a² + b²) avoiding overflow/underflow of the squares. */
function hypot2(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  const big = x > y ? x : y;
  if (big === 0) return 0;
  const small = x > y ? y : x;
  const t = small / big;
  return big * Math.sqrt(1 + t * t);
}
