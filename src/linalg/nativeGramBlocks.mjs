// The fixed block decomposition of a native Gram (plain JavaScript, shared by nativeGram.ts and its
// helper threads, nativeGramWorker.mjs). The upper triangle of S (n×n, row-major, leading dimension
// ldS) is cut into block columns of BLOCK columns, a partition that depends on n only. Block column
// [c0, c1) is the rectangle above its diagonal block, one dgemm (rows 0…c0−1), and the diagonal block,
// one dsyrk, both single-threaded OpenBLAS calls. Each entry of S is therefore computed by the same
// call, with the same arguments, whichever thread runs it: S is bit-identical for any thread count
// (OpenBLAS's own threaded dsyrk is not: its split moves the diagonal blocks, measured).
//
//   mode 'T': S (+)= AᵀA with A = Z (k×n, leading dimension ldZ): the pooled S += ZᵀZ
//   mode 'N': S (+)= AAᵀ with A = Z (n×k, leading dimension ldZ): the N×N Gram ZZᵀ
//   beta: 1 adds to S, 0 overwrites it (BLAS semantics).

/** Columns per block column of the partition. */
export const BLOCK = 256;

// CBLAS enums (cblas.h).
const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;
const UPPER = 121;

/** Number of block columns of an n×n S. */
export function blockCount(n) {
  return Math.ceil(n / BLOCK);
}

/** Relative work of block column b (its dgemm rectangle plus half its diagonal block). */
export function blockWork(b, n) {
  const c0 = b * BLOCK;
  const w = Math.min(BLOCK, n - c0);
  return w * (c0 + w / 2);
}

/** Runs block columns [from, to) of S with the single-threaded dsyrk/dgemm of `blas`. */
export function gramBlockColumns(blas, mode, s, ldS, z, ldZ, n, k, beta, from, to) {
  for (let b = from; b < to; b++) {
    const c0 = b * BLOCK;
    const w = Math.min(BLOCK, n - c0);
    const zBlock = mode === 'T' ? z.subarray(c0) : z.subarray(c0 * ldZ);
    if (c0 > 0) {
      if (mode === 'T') blas.dgemm(ROW_MAJOR, TRANS, NO_TRANS, c0, w, k, 1, z, ldZ, zBlock, ldZ, beta, s.subarray(c0), ldS);
      else blas.dgemm(ROW_MAJOR, NO_TRANS, TRANS, c0, w, k, 1, z, ldZ, zBlock, ldZ, beta, s.subarray(c0), ldS);
    }
    blas.dsyrk(ROW_MAJOR, UPPER, mode === 'T' ? TRANS : NO_TRANS, w, k, 1, zBlock, ldZ, beta, s.subarray(c0 * ldS + c0), ldS);
  }
}

/** Block boundaries [0, …, blockCount(n)] splitting the block columns into `parts` contiguous
 * ranges of (nearly) equal work. */
export function blockSplit(n, parts) {
  const blocks = blockCount(n);
  let total = 0;
  for (let b = 0; b < blocks; b++) total += blockWork(b, n);
  const bounds = [0];
  let acc = 0;
  let b = 0;
  for (let p = 1; p < parts; p++) {
    const target = (total * p) / parts;
    while (b < blocks && acc + blockWork(b, n) / 2 <= target) acc += blockWork(b++, n);
    bounds.push(Math.max(b, bounds[p - 1]));
  }
  bounds.push(blocks);
  return bounds;
}
