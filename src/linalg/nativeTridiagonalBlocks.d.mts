// Types of nativeTridiagonalBlocks.mjs.
import type { BlockBlas } from './nativeGramBlocks.mjs';

export interface Rank2kBlas extends Pick<BlockBlas, 'dgemm'> {
  dsyr2k: (
    order: number, uplo: number, trans: number, n: number, k: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number,
  ) => void;
  /** cblas_dgemv with raw addresses (bytes) for the arrays (see nativeBlas.ts `address`). */
  dgemv: (
    order: number, trans: number, m: number, n: number, alpha: number, a: number, lda: number,
    x: number, incx: number, beta: number, y: number, incy: number,
  ) => void;
  /** cblas_dsymv with raw addresses for the arrays. */
  dsymv: (
    order: number, uplo: number, n: number, alpha: number, a: number, lda: number,
    x: number, incx: number, beta: number, y: number, incy: number,
  ) => void;
}
export function rank2kBlockWidth(m: number): number;
export function rank2kBlockCount(m: number): number;
export function rank2kParts(m: number, parts: number): number[][];
export function rank2kBlockColumns(
  blas: Rank2kBlas, a: Float64Array, n: number, i: number, nb: number, w: Float64Array, ldw: number, blocks: readonly number[],
): void;
export function symvBlockCount(m: number): number;
export function symvPart(m: number, part: number, parts: number): [number, number];
export function symvRowBlocks(
  blas: Rank2kBlas, a: number, n: number, t: number, col: number, w: number, yOff: number, first: number, end: number,
): void;
