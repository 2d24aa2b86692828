// The fixed block decomposition of the tridiagonal reduction's trailing rank-2k update (plain
// JavaScript, shared by nativeTridiagonal.ts and the helper threads, nativeHelperWorker.mjs).
//
// After a panel of nb reflectors at columns i…i+nb−1 (LAPACK dsytrd, uplo = 'L', column-major),
// the trailing m×m lower triangle C = A(t:n, t:n), t = i + nb, m = n − t, gets
//   C −= V Wᵀ + W Vᵀ,   V = A(t:n, i:i+nb) (the reflectors),  W = W(nb:nb+m, 0:nb) (dlatrd's W),
// LAPACK's one dsyr2k call (dsytrd.f). Here C is cut into block columns of a width that depends on
// m only; block column [c0, c1) is its diagonal block, one dsyr2k, and the rectangle below it,
// rows c1…m−1, two dgemm calls (−V Wᵀ, then −W Vᵀ), all single-threaded OpenBLAS calls. Each
// element of C is so computed by the same calls, with the same arguments, in the same order,
// whichever thread runs its block: the reduction is bit-identical for any thread count.

// CBLAS enums (cblas.h).
const COL_MAJOR = 102;
const NO_TRANS = 111;
const TRANS = 112;
const LOWER = 122;

/** Block columns a trailing matrix is cut into (at least MIN_WIDTH wide each). */
const TARGET_BLOCKS = 16;
const MIN_WIDTH = 64;

/** Width of the block columns of an m×m trailing matrix (a multiple of 32). */
export function rank2kBlockWidth(m) {
  return Math.max(MIN_WIDTH, Math.ceil(m / TARGET_BLOCKS / 32) * 32);
}

/** Number of block columns of an m×m trailing matrix. */
export function rank2kBlockCount(m) {
  return m <= 0 ? 0 : Math.ceil(m / rank2kBlockWidth(m));
}

/** The block columns of each of `parts` threads: largest work first, each to the least-loaded
 * part (ties: the lowest), a deterministic function of m and parts. */
export function rank2kParts(m, parts) {
  const width = rank2kBlockWidth(m);
  const lists = Array.from({ length: parts }, () => []);
  const load = new Array(parts).fill(0);
  for (let b = 0; b < rank2kBlockCount(m); b++) {
    const c0 = b * width;
    const w = Math.min(width, m - c0);
    let p = 0;
    for (let q = 1; q < parts; q++) if (load[q] < load[p]) p = q;
    lists[p].push(b);
    load[p] += w * (m - c0 - w / 2); // rectangle below plus half the diagonal block
  }
  return lists;
}

/**
 * Runs the listed block columns of the trailing update after the panel at column i (width nb) of
 * the column-major n×n `a` (leading dimension n), with W (leading dimension ldw) from dlatrd.
 */
export function rank2kBlockColumns(blas, a, n, i, nb, w, ldw, blocks) {
  const t = i + nb;
  const m = n - t;
  const width = rank2kBlockWidth(m);
  const at = (r, c) => a.subarray(r + c * n); // A(r, c), column-major
  const wt = (r) => w.subarray(r); // W(r, 0)
  for (const b of blocks) {
    const c0 = b * width;
    const c1 = Math.min(m, c0 + width);
    const cw = c1 - c0;
    blas.dsyr2k(COL_MAJOR, LOWER, NO_TRANS, cw, nb, -1, at(t + c0, i), n, wt(nb + c0), ldw, 1, at(t + c0, t + c0), n);
    if (c1 < m) {
      const rows = m - c1;
      const c = at(t + c1, t + c0);
      blas.dgemm(COL_MAJOR, NO_TRANS, TRANS, rows, cw, nb, -1, at(t + c1, i), n, wt(nb + c0), ldw, 1, c, n);
      blas.dgemm(COL_MAJOR, NO_TRANS, TRANS, rows, cw, nb, -1, wt(nb + c1), ldw, at(t + c0, i), n, 1, c, n);
    }
  }
}

// The panel's symmetric mat-vec (dlatrd's dsymv, half the reduction's flops, memory-bound):
//   y = B v,  B = A(t:n, t:n) (lower triangle stored), v = A(t:n, col), y = w[yOff …],
// cut into row blocks whose number depends on M = n − t only. Row block [r0, r1) of y is
//   A(r0:r1, 0:r0) v(0:r0)        one dgemv (the stored rectangle left of the diagonal block)
//   + B(r0:r1, r0:r1) v(r0:r1)    one dsymv (the diagonal block)
//   + A(r1:M, r0:r1)ᵀ v(r1:M)     one dgemv (the stored rectangle below it, transposed)
// in that order, by one thread: each y(r) is the same sum in the same order for any thread count.
// One block (small M) is LAPACK's single dsymv. The split reads the rectangle below the first block
// twice (once per side) where one dsymv reads each stored entry once: with c blocks of equal height
// the mat-vec moves 2 − 1/c times dsymv's data. So c = 2 (1.5×, and the two blocks then read
// equal shares, 3/8 of M² each); more would cost every thread count for the sake of a third core.

/** Rows per symv block at least (below 2× this, one dsymv); at most MAX_SYMV_BLOCKS blocks. */
const SYMV_MIN_ROWS = 256;
const MAX_SYMV_BLOCKS = 2;

/** Number of row blocks of the panel mat-vec on an M×M trailing matrix. */
export function symvBlockCount(m) {
  return Math.max(1, Math.min(MAX_SYMV_BLOCKS, Math.floor(m / SYMV_MIN_ROWS)));
}

/** The row blocks [first, end) of part p of `parts` (contiguous, in order). */
export function symvPart(m, part, parts) {
  const count = symvBlockCount(m);
  return [Math.floor((part * count) / parts), Math.floor(((part + 1) * count) / parts)];
}

/** Runs row blocks first…end−1 of y = A(t:n, t:n)·A(t:n, col) into w[yOff …]. `a` and `w` are the
 * raw addresses (bytes) of the column-major n×n A (leading dimension n) and of W's buffer: this runs
 * once per reflector, and koffi converts a number several times faster than a typed array. */
export function symvRowBlocks(blas, a, n, t, col, w, yOff, first, end) {
  const m = n - t;
  const count = symvBlockCount(m);
  const height = Math.ceil(m / count);
  const at = (r, c) => a + 8 * (t + r + (t + c) * n); // &B(r, c)
  const v = (r) => a + 8 * (t + r + col * n);
  for (let b = first; b < end; b++) {
    const r0 = b * height;
    const r1 = Math.min(m, r0 + height);
    const h = r1 - r0;
    const y = w + 8 * (yOff + r0);
    if (r0 > 0) blas.dgemv(COL_MAJOR, NO_TRANS, h, r0, 1, at(r0, 0), n, v(0), 1, 0, y, 1);
    blas.dsymv(COL_MAJOR, LOWER, h, 1, at(r0, r0), n, v(r0), 1, r0 > 0 ? 1 : 0, y, 1);
    if (r1 < m) blas.dgemv(COL_MAJOR, TRANS, m - r1, h, 1, at(r1, r0), n, v(r1), 1, 1, y, 1);
  }
}
