// Symmetric rank-2k update of an upper triangle, C ← C − V Wᵀ − W Vᵀ (BLAS dsyr2k, uplo = 'U'
// in row-major terms), the level-3 half of the blocked Householder tridiagonalisation (LAPACK
// dsytrd). Written as a GEMM C ← C − L Rᵀ with L = [V W] and R = [W V] (both m×2k), packed in
// panels of four rows interleaved along the 2k axis, and a 4×4 register-blocked dot-product
// micro-kernel: per step of the 2k axis it loads 8 numbers and does 16 multiply-adds, which is
// what lets V8's scalar code run this part several times faster than the level-2 sweeps.

/** Rows (and columns) of the micro-kernel tile. */
const TILE = 4;
/** Columns of C per cache block: the packed R of one block (COLUMN_BLOCK × 2k doubles) stays in L1/L2. */
const COLUMN_BLOCK = 64;

/**
 * C[i][j] −= Σ_p (V_p[i] W_p[j] + W_p[i] V_p[j]) for from ≤ i ≤ j < n, where C[i][j] = c[i*n + j]
 * (row-major n×n, upper triangle; entries below the diagonal of the diagonal tiles are also
 * written, with the mirrored values, and are never read by the callers).
 *
 * V_p[j] = c[vRow(p)*n + j]: the k reflectors live in rows `vRows` of `c` itself (as LAPACK keeps
 * them in the panel); W_p[j] = wmat[p*n + j]. `pack` is scratch of at least 2·(n−from+3)·2k doubles
 * rounded up to whole tiles.
 */
export function syr2kUpper(
  c: Float64Array,
  n: number,
  from: number,
  vRows: number,
  k: number,
  wmat: Float64Array,
  pack: Float64Array,
): void {
  const m = n - from;
  if (m <= 0 || k === 0) return;
  const kk = 2 * k;
  const tiles = Math.ceil(m / TILE);
  const panel = TILE * kk; // doubles per packed tile
  const rOffset = tiles * panel;
  // Pack L = [V W] and R = [W V], tile by tile: pack[t*panel + q*4 + r] = L[from + 4t + r][q].
  for (let t = 0; t < tiles; t++) {
    const base = t * panel;
    for (let r = 0; r < TILE; r++) {
      const i = from + t * TILE + r;
      if (i < n) {
        for (let p = 0; p < k; p++) {
          const v = c[(vRows + p) * n + i];
          const w = wmat[p * n + i];
          pack[base + p * TILE + r] = v;
          pack[base + (k + p) * TILE + r] = w;
          pack[rOffset + base + p * TILE + r] = w;
          pack[rOffset + base + (k + p) * TILE + r] = v;
        }
      } else {
        for (let q = 0; q < kk; q++) {
          pack[base + q * TILE + r] = 0;
          pack[rOffset + base + q * TILE + r] = 0;
        }
      }
    }
  }
  const tilesPerBlock = COLUMN_BLOCK / TILE;
  for (let cb = 0; cb < tiles; cb += tilesPerBlock) {
    const cbEnd = Math.min(cb + tilesPerBlock, tiles);
    // Row tiles that meet this column block in the upper triangle: t ≤ last column tile.
    for (let t = 0; t < cbEnd; t++) {
      const lBase = t * panel;
      const i0 = from + t * TILE;
      for (let u = Math.max(cb, t); u < cbEnd; u++) {
        const rBase = rOffset + u * panel;
        const j0 = from + u * TILE;
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
        let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
        let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let q = 0; q < kk; q++) {
          const lq = lBase + q * TILE;
          const rq = rBase + q * TILE;
          const l0 = pack[lq], l1 = pack[lq + 1], l2 = pack[lq + 2], l3 = pack[lq + 3];
          const r0 = pack[rq], r1 = pack[rq + 1], r2 = pack[rq + 2], r3 = pack[rq + 3];
          c00 += l0 * r0; c01 += l0 * r1; c02 += l0 * r2; c03 += l0 * r3;
          c10 += l1 * r0; c11 += l1 * r1; c12 += l1 * r2; c13 += l1 * r3;
          c20 += l2 * r0; c21 += l2 * r1; c22 += l2 * r2; c23 += l2 * r3;
          c30 += l3 * r0; c31 += l3 * r1; c32 += l3 * r2; c33 += l3 * r3;
        }
        if (i0 + TILE <= n && j0 + TILE <= n) {
          let o = i0 * n + j0;
          c[o] -= c00; c[o + 1] -= c01; c[o + 2] -= c02; c[o + 3] -= c03;
          o += n;
          c[o] -= c10; c[o + 1] -= c11; c[o + 2] -= c12; c[o + 3] -= c13;
          o += n;
          c[o] -= c20; c[o + 1] -= c21; c[o + 2] -= c22; c[o + 3] -= c23;
          o += n;
          c[o] -= c30; c[o + 1] -= c31; c[o + 2] -= c32; c[o + 3] -= c33;
        } else {
          // Ragged last tile: store only the entries inside the matrix.
          const acc = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
          for (let r = 0; r < TILE && i0 + r < n; r++) {
            for (let s = 0; s < TILE && j0 + s < n; s++) c[(i0 + r) * n + j0 + s] -= acc[r * TILE + s];
          }
        }
      }
    }
  }
}

/** Doubles of scratch `syr2kUpper` needs for n, from and k. */
export function syr2kPackLength(n: number, from: number, k: number): number {
  return 2 * Math.ceil(Math.max(n - from, 0) / TILE) * TILE * 2 * k;
}
