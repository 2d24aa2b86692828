// Householder reduction of a dense symmetric matrix to tridiagonal form, QᵀAQ = T, in plain
// TypeScript (GVL "Matrix Computations" 4th ed. §8.3.1; LAPACK dsytd2 / dlatrd / dsytrd).
//
// Storage: the symmetric matrix is the upper triangle of a row-major n×n Float64Array, which is
// the same memory as LAPACK's column-major *lower* triangle, so LAPACK's uplo = 'L' algorithms
// carry over with "column k" read as our row k (contiguous from the diagonal rightwards).
//
// Two forms:
//   - `tridiagonalizeUpper`: unblocked (dsytd2). At step k the reflector P = I − τ v vᵀ zeroes
//     row k right of its super-diagonal and the trailing block B is updated by the symmetric
//     rank-2 form p = τ B v, w = p − (τ/2)(pᵀv) v, B ← B − v wᵀ − w vᵀ (GVL eq. 8.3.2).
//   - `tridiagonalizeUpperBlocked`: blocked (dsytrd). A panel of nb reflectors is built with
//     dlatrd-style updates that touch only the panel row being reduced, while V and W (with
//     W_i = the w of reflector i, corrected for the not-yet-applied updates of the panel) are
//     accumulated; the trailing block then gets the whole panel at once as the rank-2nb update
//     B ← B − V Wᵀ − W Vᵀ (syr2k.ts). Half the flops become level-3; the other half, one
//     symmetric mat-vec per reflector, stays level-2 and is done as one pass over the upper
//     triangle.

import { syr2kPackLength, syr2kUpper } from './syr2k.ts';

/** Default panel width (LAPACK's ilaenv gives 32 for dsytrd). */
export const DEFAULT_BLOCK_SIZE = 32;
/** Below this trailing size the unblocked form finishes the reduction (LAPACK's nx). */
export const DEFAULT_CROSSOVER = 64;

/**
 * Unblocked Householder reduction of the symmetric matrix held in the upper triangle of `w` (n×n,
 * row-major, destroyed), starting at row `k0` (rows above it must already be reduced and their
 * updates applied): fills diag[k0…n−1] and off[k0…n−2].
 *
 * Row k right of the diagonal is contiguous in row-major storage, so each reflector is built from
 * a contiguous slice. The rank-2 update of step k and the symmetric mat-vec of step k+1 are fused
 * into one sweep over the trailing upper triangle (each element is loaded and stored once per
 * step): that halves the memory traffic of the textbook two-sweep form.
 */
export function tridiagonalizeUpper(w: Float64Array, n: number, diag: Float64Array, off: Float64Array, k0 = 0): void {
  // Vectors are indexed in global column coordinates (k+1 … n−1) to avoid offset arithmetic.
  // (v, p): reflector and rank-2 partner of the step being applied; (vNext, pNext): the next one.
  let v = new Float64Array(n);
  let p = new Float64Array(n);
  let vNext = new Float64Array(n);
  let pNext = new Float64Array(n);
  let pending = false; // whether (v, p) still has to be applied to the trailing block
  for (let k = k0; k < n - 2; k++) {
    const rowK = k * n;
    // Bring row k up to date (the pending update of step k−1 on row k).
    if (pending) {
      const vk = v[k];
      const pk = p[k];
      for (let j = k; j < n; j++) w[rowK + j] -= vk * p[j] + pk * v[j];
    }
    diag[k] = w[rowK + k];
    // x = w[k, k+1:n]; reflector (I − τ uuᵀ) x = β e₁ with u[k+1] = 1 (LAPACK dlarfg).
    const alpha = w[rowK + k + 1];
    let sigma = 0;
    for (let j = k + 2; j < n; j++) { const x = w[rowK + j]; sigma += x * x; }
    let tau = 0;
    if (sigma === 0) {
      off[k] = alpha;
    } else {
      const beta = alpha >= 0 ? -Math.sqrt(alpha * alpha + sigma) : Math.sqrt(alpha * alpha + sigma);
      tau = (beta - alpha) / beta;
      const inv = 1 / (alpha - beta);
      vNext[k + 1] = 1;
      for (let j = k + 2; j < n; j++) vNext[j] = w[rowK + j] * inv;
      off[k] = beta;
    }
    if (tau === 0 && !pending) continue; // P = I and nothing to apply
    // One sweep over rows i > k: apply the pending rank-2 update, then accumulate
    // pNext = B vNext from the updated upper triangle (symmetric mat-vec, row i and column i).
    for (let j = k + 1; j < n; j++) pNext[j] = 0;
    if (tau === 0) {
      // Only the pending update (the next reflector is the identity).
      for (let i = k + 1; i < n; i++) {
        const row = i * n;
        const vi = v[i];
        const pi = p[i];
        for (let j = i; j < n; j++) w[row + j] -= vi * p[j] + pi * v[j];
      }
      pending = false;
      continue;
    }
    if (pending) {
      for (let i = k + 1; i < n; i++) {
        const row = i * n;
        const vi = v[i];
        const pi = p[i];
        const ui = vNext[i];
        const bii = w[row + i] - 2 * vi * pi;
        w[row + i] = bii;
        // Unrolled by two with two partial sums: breaks the add-latency chain on s, which is
        // what bounds this loop in V8's scalar code (measured ~1.6× over the plain loop).
        let s0 = bii * ui;
        let s1 = 0;
        let j = i + 1;
        for (; j + 1 < n; j += 2) {
          const r = row + j;
          const b0 = w[r] - vi * p[j] - pi * v[j];
          const b1 = w[r + 1] - vi * p[j + 1] - pi * v[j + 1];
          w[r] = b0;
          w[r + 1] = b1;
          s0 += b0 * vNext[j];
          s1 += b1 * vNext[j + 1];
          pNext[j] += b0 * ui;
          pNext[j + 1] += b1 * ui;
        }
        if (j < n) {
          const b = w[row + j] - vi * p[j] - pi * v[j];
          w[row + j] = b;
          s0 += b * vNext[j];
          pNext[j] += b * ui;
        }
        pNext[i] += s0 + s1;
      }
    } else {
      symmetricMatVecUpper(w, n, k + 1, vNext, pNext);
    }
    // pNext := τ B u − (τ²/2)(uᵀ B u) u, the rank-2 partner (GVL eq. 8.3.2).
    let pu = 0;
    for (let j = k + 1; j < n; j++) { pNext[j] *= tau; pu += pNext[j] * vNext[j]; }
    const half = 0.5 * tau * pu;
    for (let j = k + 1; j < n; j++) pNext[j] -= half * vNext[j];
    [v, vNext] = [vNext, v];
    [p, pNext] = [pNext, p];
    pending = true;
  }
  // The last 2×2 block, after the last pending update.
  for (let k = Math.max(n - 2, k0); k < n; k++) {
    const rowK = k * n;
    if (pending) {
      const vk = v[k];
      const pk = p[k];
      for (let j = k; j < n; j++) w[rowK + j] -= vk * p[j] + pk * v[j];
    }
    diag[k] = w[rowK + k];
    if (k + 1 < n) off[k] = w[rowK + k + 1];
  }
}

/**
 * Blocked Householder reduction (LAPACK dsytrd with dlatrd panels, uplo = 'L' in column-major
 * terms) of the upper triangle of `w` (n×n row-major, destroyed) to diag (n), off (n−1).
 * Panels of `blockSize` reflectors while more than `crossover` rows remain, then the unblocked
 * form. Same result as `tridiagonalizeUpper` up to round-off.
 */
export function tridiagonalizeUpperBlocked(
  w: Float64Array,
  n: number,
  diag: Float64Array,
  off: Float64Array,
  blockSize = DEFAULT_BLOCK_SIZE,
  crossover = DEFAULT_CROSSOVER,
): void {
  const nb = Math.max(1, Math.floor(blockSize));
  const nx = Math.max(nb, crossover);
  if (n - nx <= 0) {
    tridiagonalizeUpper(w, n, diag, off);
    return;
  }
  const wmat = new Float64Array(nb * n); // W_p[j] = wmat[p*n + j]
  const pack = new Float64Array(syr2kPackLength(n, nb, nb));
  const t = new Float64Array(2 * nb); // the small products Wᵀu and Vᵀu of dlatrd
  let s = 0;
  for (; n - s > nx; s += nb) {
    reducePanel(w, n, s, nb, diag, off, wmat, t);
    syr2kUpper(w, n, s + nb, s, nb, wmat, pack);
  }
  tridiagonalizeUpper(w, n, diag, off, s);
}

/**
 * One dlatrd panel: reduces rows s … s+nb−1 (needs s + nb < n), leaving reflector i in row
 * s+i right of the diagonal (with its leading 1 stored explicitly, as the trailing update reads
 * it there) and its W in wmat row i. The trailing block rows ≥ s+nb are read, not updated.
 */
function reducePanel(
  w: Float64Array,
  n: number,
  s: number,
  nb: number,
  diag: Float64Array,
  off: Float64Array,
  wmat: Float64Array,
  t: Float64Array,
): void {
  for (let i = 0; i < nb; i++) {
    const k = s + i;
    const rowK = k * n;
    // Row k ← row k − Σ_{p<i} (V_p[k] W_p + W_p[k] V_p), over columns k … n−1.
    for (let p = 0; p < i; p++) {
      const vRow = (s + p) * n;
      const wRow = p * n;
      const vk = w[vRow + k];
      const wk = wmat[wRow + k];
      for (let j = k; j < n; j++) w[rowK + j] -= vk * wmat[wRow + j] + wk * w[vRow + j];
    }
    diag[k] = w[rowK + k];
    // Reflector (I − τ uuᵀ) x = β e₁ for x = row k, columns k+1 …; u[k+1] = 1 (dlarfg).
    const alpha = w[rowK + k + 1];
    let sigma = 0;
    for (let j = k + 2; j < n; j++) { const x = w[rowK + j]; sigma += x * x; }
    const wRowI = i * n;
    if (sigma === 0) {
      off[k] = alpha;
      // τ = 0: P = I and W_i = 0, so this reflector contributes nothing to later updates.
      for (let j = k + 1; j < n; j++) wmat[wRowI + j] = 0;
      continue;
    }
    const beta = alpha >= 0 ? -Math.sqrt(alpha * alpha + sigma) : Math.sqrt(alpha * alpha + sigma);
    const tau = (beta - alpha) / beta;
    const inv = 1 / (alpha - beta);
    w[rowK + k + 1] = 1;
    for (let j = k + 2; j < n; j++) w[rowK + j] *= inv;
    off[k] = beta;
    // y = B u over the trailing block B = rows/columns k+1 … (not yet updated by this panel).
    const y = wmat.subarray(wRowI, wRowI + n);
    for (let j = k + 1; j < n; j++) y[j] = 0;
    symmetricMatVecUpper(w, n, k + 1, w.subarray(rowK, rowK + n), y);
    // Corrections for the panel's pending updates: y −= V (Wᵀu) + W (Vᵀu).
    for (let p = 0; p < i; p++) {
      const vRow = (s + p) * n;
      const wRow = p * n;
      let tw = 0;
      let tv = 0;
      for (let j = k + 1; j < n; j++) {
        const u = w[rowK + j];
        tw += wmat[wRow + j] * u;
        tv += w[vRow + j] * u;
      }
      t[p] = tw;
      t[nb + p] = tv;
    }
    for (let p = 0; p < i; p++) {
      const vRow = (s + p) * n;
      const wRow = p * n;
      const tw = t[p];
      const tv = t[nb + p];
      for (let j = k + 1; j < n; j++) y[j] -= tw * w[vRow + j] + tv * wmat[wRow + j];
    }
    // W_i = τ y − (τ²/2)(yᵀu) u.
    let yu = 0;
    for (let j = k + 1; j < n; j++) { y[j] *= tau; yu += y[j] * w[rowK + j]; }
    const half = 0.5 * tau * yu;
    for (let j = k + 1; j < n; j++) y[j] -= half * w[rowK + j];
  }
}

/**
 * y[j] += Σ_m B[j][m] u[m] for j, m ≥ from, B symmetric held in the upper triangle of `w`
 * (dsymv), in one pass over it: row i contributes to y[i] (dot product) and, through its
 * mirrored column, to y[j > i] (axpy). Vectors in global coordinates.
 */
function symmetricMatVecUpper(w: Float64Array, n: number, from: number, u: Float64Array, y: Float64Array): void {
  for (let i = from; i < n; i++) {
    const row = i * n;
    const ui = u[i];
    // Unrolled by two with two partial sums (breaks the add-latency chain on s).
    let s0 = w[row + i] * ui;
    let s1 = 0;
    let j = i + 1;
    for (; j + 1 < n; j += 2) {
      const b0 = w[row + j];
      const b1 = w[row + j + 1];
      s0 += b0 * u[j];
      s1 += b1 * u[j + 1];
      y[j] += b0 * ui;
      y[j + 1] += b1 * ui;
    }
    if (j < n) {
      const b = w[row + j];
      s0 += b * u[j];
      y[j] += b * ui;
    }
    y[i] += s0 + s1;
  }
}
