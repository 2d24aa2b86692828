// Types of nativeTridiagonalBlocks.mjs.
import type { BlockBlas } from './nativeGramBlocks.mjs';

export interface Rank2kBlas extends Pick<BlockBlas, 'dgemm'> {
  dsyr2k: (
    order: number, uplo: number, trans: number, n: number, k: number, alpha: number,
    a: Float64Array, lda: number, b: Float64Array, ldb: number, beta: number, c: Float64Array, ldc: number,
  ) => void;
  dgemv: (
    order: number, trans: number, m: number, n: number, alpha: number, a: Float64Array, lda: number,
    x: Float64Array, incx: number, beta: number, y: Float64Array, incy: number,
  ) => void;
  dsymv: (
    order: number, uplo: number, n: number, alpha: number, a: Float64Array, lda: number,
    x: Float64Array, incx: number, beta: number, y: Float64Array, incy: number,
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
  blas: Rank2kBlas, a: Float64Array, n: number, t: number, col: number, w: Float64Array, yOff: number, first: number, end: number,
): void;
