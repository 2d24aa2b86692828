// Types of nativeGramBlocks.mjs.
export interface BlockBlas {
  dsyrk: (order: number, uplo: number, trans: number, n: number, k: number, alpha: number, a: Float64Array, lda: number, beta: number, c: Float64Array, ldc: number) => void;
  dgemm: (
    order: number, ta: number, tb: number, m: number, n: number, k: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number,
  ) => void;
}
export function blockWidth(n: number): number;
export function blockCount(n: number): number;
export function blockWork(b: number, n: number): number;
export function gramBlockColumns(
  blas: BlockBlas, mode: 'T' | 'N', s: Float64Array, ldS: number, z: Float64Array, ldZ: number,
  n: number, k: number, beta: 0 | 1, blocks: readonly number[],
): void;
export function blockParts(n: number, parts: number): number[][];
