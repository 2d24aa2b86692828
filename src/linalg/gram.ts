// Gram / covariance kernels on dense row-major float64 matrices (DESIGN §1: Σ = ZᵀZ / N and the
// Gram ZZᵀ / N share their non-zero eigenvalues, so always form the smaller one).
//
// All kernels are unscaled sums of products: the caller divides by N. Partial sums add up exactly
// up to floating-point reassociation, which is what makes per-shard partial Grams reducible in any
// grouping (DESIGN §1 "partials add up").
//
// Speed: the hot loop is `syrkUpper`, a symmetric rank-k update (BLAS dsyrk, uplo='U', trans='T').
// Few rows (< PANEL_MIN_ROWS): rank-1 updates S += z_r z_rᵀ four rows at a time, so each S element
// is loaded and stored once per 4 rows of Z. More rows: Z is copied transposed in panels of up to
// PANEL_ROWS rows (columns of Z become contiguous), and each 4×4 block of S gets 16 dot products
// over the panel held in registers — S is then touched once per panel, not once per 4 rows, and
// each pair of loads feeds 4 multiply-adds instead of one (≈3× faster at d = 384 on V8).
// `smallerGram`'s N×N side uses the same 4×4 register blocking on row dot products.
// Backends, first that serves wins: the system's OpenBLAS (nativeGram.ts: blocks of dsyrk/dgemm,
// split over threads, when the library loads; ENTROSCOPE_LINALG picks), then WebAssembly SIMD
// (gramWasm.ts, source wasm/gram.c: packed panels, 4×4 tiles in f64x2 registers, no bounds checks),
// then the TypeScript kernels here, which also serve updates with too few rows to pay for copying
// S in and out of wasm memory.

import { syrkUpperWasm, upperGramRowsWasm } from './gramWasm.ts';
import { syrkUpperNative, upperGramRowsNative } from './nativeGram.ts';
import { kernelArray } from './sharedArray.ts';

/** From this many rows on, syrkUpper uses the wasm kernel (below, copying S in and out of wasm
 * memory costs more than the kernel saves). */
const WASM_MIN_ROWS = 4;
/** How many rows of Z each pass over S consumes (register blocking of the rank-k update). */
const ROW_BLOCK = 4;
/** From this many rows on, syrkUpper works on transposed panels. */
const PANEL_MIN_ROWS = 16;
/** Rows of Z per transposed panel (PANEL_ROWS × cols float64 of scratch). */
const PANEL_ROWS = 256;

/**
 * The smaller of the two Gram matrices of Z, unscaled, with both triangles filled.
 * Z: rows×cols (row-major). Returns ZZᵀ (rows×rows) if rows ≤ cols, else ZᵀZ (cols×cols).
 */
export function smallerGram(z: Float64Array, rows: number, cols: number): { matrix: Float64Array; n: number } {
  checkShape(z, rows, cols);
  if (rows <= cols) {
    const n = rows;
    const matrix = kernelArray(n * n);
    // (ZZᵀ)_ij = z_i · z_j: dot products of contiguous rows; upper triangle, then mirror.
    if (!upperGramRowsNative(matrix, z, rows, cols) && !upperGramRowsWasm(matrix, z, rows, cols)) upperDots(matrix, z, n, cols);
    symmetrizeFromUpper(matrix, n);
    return { matrix, n };
  }
  const n = cols;
  const matrix = kernelArray(n * n);
  syrkUpper(matrix, z, rows, cols);
  symmetrizeFromUpper(matrix, n);
  return { matrix, n };
}

/**
 * Rank-k update S += ZᵀZ touching only the upper triangle of S (s[i*cols + j], j ≥ i); the lower
 * triangle is left as it was. Z: rows×cols, S: cols×cols (both row-major).
 */
export function syrkUpper(s: Float64Array, z: Float64Array, rows: number, cols: number): void {
  checkShape(z, rows, cols);
  if (s.length < cols * cols) throw new RangeError(`S has ${s.length} entries, need cols*cols = ${cols * cols}`);
  if (syrkUpperNative(s, z, rows, cols)) return;
  if (rows >= WASM_MIN_ROWS && syrkUpperWasm(s, z, rows, cols)) return;
  syrkUpperTs(s, z, rows, cols);
}

/** `syrkUpper` in TypeScript only (the fallback when the wasm kernel is unavailable); exported
 * for tests and benchmarks. */
export function syrkUpperTs(s: Float64Array, z: Float64Array, rows: number, cols: number): void {
  checkShape(z, rows, cols);
  if (s.length < cols * cols) throw new RangeError(`S has ${s.length} entries, need cols*cols = ${cols * cols}`);
  if (rows >= PANEL_MIN_ROWS) {
    const panel = panelScratch(Math.min(rows, PANEL_ROWS) * cols);
    for (let r0 = 0; r0 < rows; r0 += PANEL_ROWS) {
      const k = Math.min(PANEL_ROWS, rows - r0);
      // panel: cols×k, panel[i*k + t] = z[(r0+t)*cols + i] (column i of this block of Z, contiguous).
      for (let t = 0; t < k; t++) {
        const src = (r0 + t) * cols;
        for (let i = 0; i < cols; i++) panel[i * k + t] = z[src + i];
      }
      upperDots(s, panel, cols, k, true);
    }
    return;
  }
  const n = cols;
  let r = 0;
  for (; r + ROW_BLOCK <= rows; r += ROW_BLOCK) {
    const r0 = r * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    for (let i = 0; i < n; i++) {
      const a0 = z[r0 + i];
      const a1 = z[r1 + i];
      const a2 = z[r2 + i];
      const a3 = z[r3 + i];
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue; // padding / ReLU zeros
      const si = i * n;
      for (let j = i; j < n; j++) {
        s[si + j] += a0 * z[r0 + j] + a1 * z[r1 + j] + a2 * z[r2 + j] + a3 * z[r3 + j];
      }
    }
  }
  for (; r < rows; r++) {
    const r0 = r * n;
    for (let i = 0; i < n; i++) {
      const a0 = z[r0 + i];
      if (a0 === 0) continue;
      const si = i * n;
      for (let j = i; j < n; j++) s[si + j] += a0 * z[r0 + j];
    }
  }
}

let scratch = new Float64Array(0);
function panelScratch(size: number): Float64Array {
  if (scratch.length < size) scratch = new Float64Array(size);
  return scratch;
}

/** The upper triangle (j ≥ i) of ZZᵀ (rows×rows) into out, TypeScript only (the fallback of
 * `smallerGram`'s N×N side); exported for tests and benchmarks. The lower triangle is untouched. */
export function upperGramRowsTs(out: Float64Array, z: Float64Array, rows: number, cols: number): void {
  checkShape(z, rows, cols);
  if (out.length < rows * rows) throw new RangeError(`out has ${out.length} entries, need rows*rows = ${rows * rows}`);
  upperDots(out, z, rows, cols);
}

/**
 * out[i*n + j] (+)= a_i · a_j for j ≥ i, a_i the i-th row of A: n×k (row-major); `accumulate` adds to
 * out, else overwrites. 4×4 blocks of out are computed with 16 accumulators in registers.
 */
function upperDots(out: Float64Array, a: Float64Array, n: number, k: number, accumulate = false): void {
  const n4 = n - (n % 4);
  for (let i = 0; i < n4; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    for (let j = i; j < n4; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0;
      let s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      let s20 = 0, s21 = 0, s22 = 0, s23 = 0;
      let s30 = 0, s31 = 0, s32 = 0, s33 = 0;
      for (let t = 0; t < k; t++) {
        const x0 = a[a0 + t];
        const x1 = a[a1 + t];
        const x2 = a[a2 + t];
        const x3 = a[a3 + t];
        const y0 = a[b0 + t];
        const y1 = a[b1 + t];
        const y2 = a[b2 + t];
        const y3 = a[b3 + t];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
        s20 += x2 * y0; s21 += x2 * y1; s22 += x2 * y2; s23 += x2 * y3;
        s30 += x3 * y0; s31 += x3 * y1; s32 += x3 * y2; s33 += x3 * y3;
      }
      const o0 = i * n + j;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      if (!accumulate) {
        out[o0] = 0; out[o0 + 1] = 0; out[o0 + 2] = 0; out[o0 + 3] = 0;
        out[o1 + 1] = 0; out[o1 + 2] = 0; out[o1 + 3] = 0;
        out[o2 + 2] = 0; out[o2 + 3] = 0;
        out[o3 + 3] = 0;
        if (j > i) {
          out[o1] = 0;
          out[o2] = 0; out[o2 + 1] = 0;
          out[o3] = 0; out[o3 + 1] = 0; out[o3 + 2] = 0;
        }
      }
      out[o0] += s00; out[o0 + 1] += s01; out[o0 + 2] += s02; out[o0 + 3] += s03;
      out[o1 + 1] += s11; out[o1 + 2] += s12; out[o1 + 3] += s13;
      out[o2 + 2] += s22; out[o2 + 3] += s23;
      out[o3 + 3] += s33;
      if (j > i) {
        // Off the diagonal the whole block is upper triangle.
        out[o1] += s10;
        out[o2] += s20; out[o2 + 1] += s21;
        out[o3] += s30; out[o3 + 1] += s31; out[o3 + 2] += s32;
      }
    }
    // Columns past the last full block.
    for (let p = 0; p < 4; p++) for (let j = n4; j < n; j++) put(out, a, n, k, i + p, j, accumulate);
  }
  for (let i = n4; i < n; i++) for (let j = i; j < n; j++) put(out, a, n, k, i, j, accumulate);
}

function put(out: Float64Array, a: Float64Array, n: number, k: number, i: number, j: number, accumulate: boolean): void {
  const ai = i * k;
  const aj = j * k;
  let s0 = 0;
  let s1 = 0;
  let t = 0;
  for (; t + 1 < k; t += 2) {
    s0 += a[ai + t] * a[aj + t];
    s1 += a[ai + t + 1] * a[aj + t + 1];
  }
  if (t < k) s0 += a[ai + t] * a[aj + t];
  out[i * n + j] = (accumulate ? out[i * n + j] : 0) + s0 + s1;
}

/** Copy the upper triangle of the n×n row-major S onto its lower triangle, in place. */
export function symmetrizeFromUpper(s: Float64Array, n: number): void {
  if (s.length < n * n) throw new RangeError(`S has ${s.length} entries, need n*n = ${n * n}`);
  // Row i of the lower triangle is column i of the upper: a strided read, but each cache line of
  // the destination row is written once.
  for (let i = 1; i < n; i++) {
    const row = i * n;
    for (let j = 0; j < i; j++) s[row + j] = s[j * n + i];
  }
}

/** target += source, elementwise (summing partial Grams). Shapes must match. */
export function addInto(target: Float64Array, source: Float64Array): void {
  if (target.length !== source.length) {
    throw new RangeError(`length mismatch: target ${target.length}, source ${source.length}`);
  }
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

function checkShape(z: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`rows and cols must be non-negative integers, got ${rows}×${cols}`);
  }
  if (z.length < rows * cols) throw new RangeError(`Z has ${z.length} entries, need rows*cols = ${rows * cols}`);
}
