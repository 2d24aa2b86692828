// The fixed block decomposition of a native Gram (plain JavaScript, shared by nativeGram.ts and its
// helper threads, nativeHelperWorker.mjs). The upper triangle of S (n×n, row-major, leading dimension
// ldS) is cut into block columns of blockWidth(n) columns, a partition that depends on n only. Block column
// [c0, c1) is the rectangle above its diagonal block, one dgemm (rows 0…c0−1), and the diagonal block,
// one dsyrk, both single-threaded OpenBLAS calls. Each entry of S is therefore computed by the same
// call, with the same arguments, whichever thread runs it: S is bit-identical for any thread count
// (OpenBLAS's own threaded dsyrk is not: its split moves the diagonal blocks, measured).
//
//   mode 'T': S (+)= AᵀA with A = Z (k×n, leading dimension ldZ): the pooled S += ZᵀZ
//   mode 'N': S (+)= AAᵀ with A = Z (n×k, leading dimension ldZ): the N×N Gram ZZᵀ
//   beta: 1 adds to S, 0 overwrites it (BLAS semantics).

/**
 * Columns per block column of the partition of an n×n S: a function of n only.
 * 512 from n = 2048 on: each block column re-packs the operand above its diagonal, so the packing
 * traffic is ~1/width of the flops; at 2048×4096 the blocks cost 5–15 % over one whole dsyrk at
 * 512 and 20–25 % at 256 (measured, one thread). Below, wide blocks leave too few of them to share
 * out: at n = 576 (SmolLM2) 512-wide blocks split 79 % / 21 % over two threads, so the second
 * thread gained 1.27× at most; 128-wide blocks give five blocks that two threads split ~50/50.
 */
export function blockWidth(n) {
  return n >= 2048 ? 512 : n >= 1024 ? 256 : 128;
}

// CBLAS enums (cblas.h).
const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;
const UPPER = 121;

/** Number of block columns of an n×n S. */
export function blockCount(n) {
  return Math.ceil(n / blockWidth(n));
}

/** Relative work of block column b (its dgemm rectangle plus half its diagonal block). */
export function blockWork(b, n) {
  const width = blockWidth(n);
  const c0 = b * width;
  const w = Math.min(width, n - c0);
  return w * (c0 + w / 2);
}

/** Runs the listed block columns of S with the single-threaded dsyrk/dgemm of `blas`. */
export function gramBlockColumns(blas, mode, s, ldS, z, ldZ, n, k, beta, blocks) {
  const width = blockWidth(n);
  for (const b of blocks) {
    const c0 = b * width;
    const w = Math.min(width, n - c0);
    const zBlock = mode === 'T' ? z.subarray(c0) : z.subarray(c0 * ldZ);
    if (c0 > 0) {
      if (mode === 'T') blas.dgemm(ROW_MAJOR, TRANS, NO_TRANS, c0, w, k, 1, z, ldZ, zBlock, ldZ, beta, s.subarray(c0), ldS);
      else blas.dgemm(ROW_MAJOR, NO_TRANS, TRANS, c0, w, k, 1, z, ldZ, zBlock, ldZ, beta, s.subarray(c0), ldS);
    }
    blas.dsyrk(ROW_MAJOR, UPPER, mode === 'T' ? TRANS : NO_TRANS, w, k, 1, zBlock, ldZ, beta, s.subarray(c0 * ldS + c0), ldS);
  }
}

/** The block columns of each of `parts` threads: largest first, each to the least-loaded part
 * (ties: the lowest part), so the parts' work is balanced even with few blocks (a deterministic
 * function of n and parts; which thread computes a block never changes its result). */
export function blockParts(n, parts) {
  const blocks = blockCount(n);
  const lists = Array.from({ length: parts }, () => []);
  const load = new Array(parts).fill(0);
  for (let b = blocks - 1; b >= 0; b--) {
    let p = 0;
    for (let q = 1; q < parts; q++) if (load[q] < load[p]) p = q;
    lists[p].push(b);
    load[p] += blockWork(b, n);
  }
  return lists;
}
