// The Gram kernels on the native backend (nativeBlas.ts): S += ZᵀZ (pooled) and ZZᵀ (a sample's
// N×N side) as the fixed block decomposition of nativeGramBlocks.mjs — one single-threaded dgemm
// and one dsyrk per block column of S — split by block columns over helper threads
// (nativeHelpers.ts). Bit-identical for any thread count: every entry of S comes from the same
// OpenBLAS call with the same arguments whichever thread runs it.
//
// One thread: the calls run on the caller's arrays, no copy. More: Z and S must be visible to the
// helpers, so they are used in place when they already live in a SharedArrayBuffer and copied into
// a shared scratch otherwise (one pass over Z and S, small next to the n²k/2 multiply-adds that make
// a call worth splitting). Helpers (nativeHelpers.ts) are only used when coreBudget.ts grants idle
// cores.
import { acquireHelpers, holdCore, releaseHelpers, totalCores } from './coreBudget.ts';
import { blas, type Blas } from './nativeBlas.ts';
import { blockCount, blockParts, gramBlockColumns } from './nativeGramBlocks.mjs';
import { JOB, MAX_HELPERS, runOnHelpers } from './nativeHelpers.ts';

/** Below this many multiply-adds (n²·k/2) a call stays on one thread. */
export const MIN_THREADED_MADDS = 2 ** 23;
/** Shared scratch above this is dropped after a call (so one large matrix does not pin it). */
const RETAIN_BYTES = 64 * 2 ** 20;

let scratchS: Float64Array | undefined;
let scratchZ: Float64Array | undefined;

/** Threads the last call used (for tests and benchmarks). */
let lastThreads = 0;
export function nativeGramLastThreads(): number {
  return lastThreads;
}

/** Options of the native Gram kernels. */
export interface NativeGramOptions {
  /** Threads to split the call over (this one included); default every core for large calls, one
   * for small ones. Fewer are used when the process's core budget has no idle core. */
  threads?: number;
}

function wantedThreads(madds: number, requested?: number): number {
  if (requested !== undefined) return Math.max(1, Math.min(MAX_HELPERS + 1, Math.floor(requested)));
  return madds < MIN_THREADED_MADDS ? 1 : Math.min(MAX_HELPERS + 1, totalCores());
}

function shared(have: Float64Array | undefined, length: number): Float64Array {
  if (have !== undefined && have.length >= length) return have.subarray(0, length);
  return new Float64Array(new SharedArrayBuffer(8 * length));
}

const isShared = (a: Float64Array): boolean => a.buffer instanceof SharedArrayBuffer && a.byteOffset === 0;

/** Runs the block columns of S = (+=) Gram(Z) over this thread and `got` helpers. */
function runSplit(b: Blas, mode: 'T' | 'N', s: Float64Array, z: Float64Array, n: number, k: number, beta: 0 | 1, got: number): void {
  const zLen = n * k;
  // Shared views of Z and S (S: the caller's, or scratch filled from it when accumulating).
  const zs = isShared(z) ? z : (scratchZ = shared(scratchZ, zLen));
  if (zs !== z) zs.set(z.subarray(0, zLen));
  const ss = isShared(s) ? s : (scratchS = shared(scratchS, n * n));
  if (ss !== s && beta === 1) ss.set(s.subarray(0, n * n));
  const ldZ = mode === 'T' ? n : k;
  const parts = blockParts(n, got + 1);
  runOnHelpers(
    b.library, ss.buffer as SharedArrayBuffer, zs.buffer as SharedArrayBuffer, got,
    (h) => [mode === 'T' ? JOB.GRAM_T : JOB.GRAM_N, n, ldZ, n, k, beta, h + 1, got + 1],
    (part) => gramBlockColumns(b, mode, ss, n, zs, ldZ, n, k, beta, parts[part]),
  );
  if (ss !== s) copyUpperOut(s, ss, n);
  if (scratchZ !== undefined && 8 * scratchZ.length > RETAIN_BYTES) scratchZ = undefined;
  if (scratchS !== undefined && 8 * scratchS.length > RETAIN_BYTES) scratchS = undefined;
}

/** Copy the upper triangle (j ≥ i) of the n×n row-major `from` into s. */
function copyUpperOut(s: Float64Array, from: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) s.set(from.subarray(i * n + i, i * n + n), i * n + i);
}

function gram(mode: 'T' | 'N', s: Float64Array, z: Float64Array, n: number, k: number, beta: 0 | 1, opts: NativeGramOptions): boolean {
  const b = blas();
  if (b === undefined) return false;
  if (n === 0) return true;
  const wanted = wantedThreads((n * n * k) / 2, opts.threads);
  holdCore(() => {
    const got = wanted > 1 ? acquireHelpers(Math.min(wanted - 1, blockCount(n) - 1)) : 0;
    try {
      lastThreads = 1 + got;
      if (got === 0) gramBlockColumns(b, mode, s, n, z, mode === 'T' ? n : k, n, k, beta, blockParts(n, 1)[0]);
      else runSplit(b, mode, s, z, n, k, beta, got);
    } finally {
      releaseHelpers(got);
    }
  });
  return true;
}

/**
 * S += ZᵀZ on the upper triangle of S (cols×cols, row-major; the lower triangle is left as it
 * was), Z: rows×cols row-major. Shapes are the caller's to check. Returns false, with S untouched,
 * when the native backend is not in use.
 */
export function syrkUpperNative(s: Float64Array, z: Float64Array, rows: number, cols: number, opts: NativeGramOptions = {}): boolean {
  if (rows === 0) return blas() !== undefined;
  return gram('T', s, z, cols, rows, 1, opts);
}

/**
 * out (rows×rows, row-major) = ZZᵀ on the upper triangle (overwritten; the lower triangle is left
 * as it was), Z: rows×cols row-major. Returns false, with out untouched, when the native backend is
 * not in use.
 */
export function upperGramRowsNative(out: Float64Array, z: Float64Array, rows: number, cols: number, opts: NativeGramOptions = {}): boolean {
  if (cols === 0) {
    if (blas() === undefined) return false;
    for (let i = 0; i < rows; i++) out.fill(0, i * rows + i, i * rows + rows);
    return true;
  }
  return gram('N', out, z, rows, cols, 0, opts);
}
