// The WebAssembly SIMD build of the rank-k update S += AᵀA on the upper triangle (source
// src/linalg/wasm/gram.c, built by infra/build-wasm.sh, committed as wasm/gram.wasm). Serves
// `syrkUpper` (A = Z) and `smallerGram`'s N×N side (A = Zᵀ) in gram.ts: packed 4-column panels,
// 4×4 tiles of S in eight f64x2 accumulators (gram-fma.wasm, with fused multiply-adds, where the
// runtime has relaxed SIMD). The module runs on a shared memory, and large updates are split by
// column tiles over helper threads (gramThreads.ts): bit-identical results for any thread count.
// If the module cannot be read or compiled, the functions here return false and the caller uses
// the TypeScript kernels.

import { syrkUpperThreaded, wantedThreads, type ColsKernel } from './gramThreads.ts';
import { WasmKernel, type KernelExports } from './wasmKernel.ts';

/** Memory above which the instance is dropped after a call, so that one large matrix does not
 * pin its workspace for the life of the process (wasm memory never shrinks). */
const RETAIN_BYTES = 64 * 2 ** 20;
/** Rows of Z copied into wasm memory per kernel call in `syrkUpperWasm` (bounds the workspace by
 * cols² + CHUNK_ROWS·cols, whatever the row count). */
const CHUNK_ROWS = 512;

interface Exports extends KernelExports, ColsKernel {
  pack_doubles: (n: number) => number;
  syrk_upper: (s: number, n: number, a: number, k: number, rs: number, cs: number, pack: number) => void;
}

const kernel = new WasmKernel<Exports>(
  { plain: new URL('./wasm/gram.wasm', import.meta.url), fma: new URL('./wasm/gram-fma.wasm', import.meta.url) },
  RETAIN_BYTES,
  true,
);

/** Which build of the kernel runs here: 'fma' (relaxed SIMD) or 'plain'; undefined if none loads. */
export function wasmGramBuild(): 'plain' | 'fma' | undefined {
  return kernel.buildInUse();
}

/** Options of the wasm Gram kernels. */
export interface GramThreadOptions {
  /** Threads to split the update over (this one included); default: every core for large updates,
   * one for small ones. Fewer are used when the process's core budget has no idle core. */
  threads?: number;
}

/** Threads the last call used (for tests and benchmarks). */
let lastThreads = 0;
export function wasmGramLastThreads(): number {
  return lastThreads;
}

/** Whether the wasm kernel is available in this process (the file is present and the runtime has
 * WebAssembly SIMD). */
export function wasmGramAvailable(): boolean {
  return kernel.available();
}

const align = (x: number): number => Math.ceil(x / 16) * 16;

interface Workspace {
  ex: Exports;
  /** The instance's memory as doubles. */
  heap: Float64Array;
  /** Byte offsets (16-aligned): S (n×n), then Z, then one pack scratch per thread. */
  sPtr: number;
  zPtr: number;
  packPtrs: number[];
}

/** The instance with room past its heap base for S (n×n doubles), `zDoubles` of Z and `threads`
 * pack scratches for n columns, laid out in that order; undefined if unavailable or over 4 GiB. */
function workspace(n: number, zDoubles: number, threads: number): Workspace | undefined {
  const ex = kernel.exports();
  if (ex === undefined) return undefined;
  const sPtr = align(Number(ex.__heap_base.value));
  const zPtr = sPtr + align(8 * n * n);
  const packBytes = align(8 * ex.pack_doubles(n));
  const packPtrs = Array.from({ length: threads }, (_, p) => zPtr + align(8 * zDoubles) + p * packBytes);
  if (!kernel.ensureMemory(packPtrs[threads - 1] + packBytes)) return undefined;
  return { ex, heap: new Float64Array(kernel.memory()!.buffer), sPtr, zPtr, packPtrs };
}

/** One kernel call S += AᵀA, split over threads when worth it. */
function update(ws: Workspace, args: { s: number; n: number; a: number; k: number; rs: number; cs: number }, threads: number): void {
  lastThreads = syrkUpperThreaded(ws.ex, kernel.compiled()!, kernel.memory()!, args, ws.packPtrs, threads);
}

/** Bytes of wasm linear memory the kernel holds between calls (0 when no instance is live). */
export function wasmGramRetainedBytes(): number {
  return kernel.heldBytes();
}

/** Copy the upper triangle (j ≥ i) of the n×n row-major matrix at heap[from..] into s. */
function copyUpperOut(s: Float64Array, heap: Float64Array, from: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const row = i * n;
    s.set(heap.subarray(from + row + i, from + row + n), row + i);
  }
}

/**
 * S += ZᵀZ on the upper triangle of S (cols×cols), Z: rows×cols, both row-major; the lower
 * triangle of S is left as it was. Shapes are the caller's to check. Returns false, with S
 * untouched, if the wasm kernel is unavailable.
 */
export function syrkUpperWasm(s: Float64Array, z: Float64Array, rows: number, cols: number, opts: GramThreadOptions = {}): boolean {
  const n = cols;
  if (n === 0 || rows === 0) return wasmGramAvailable();
  const chunk = Math.min(rows, CHUNK_ROWS);
  const threads = wantedThreads((n * n * chunk) / 2, opts.threads);
  const ws = workspace(n, chunk * n, threads);
  if (ws === undefined) return false;
  const { heap, sPtr, zPtr } = ws;
  heap.set(s.subarray(0, n * n), sPtr / 8);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const k = Math.min(chunk, rows - r0);
    heap.set(z.subarray(r0 * n, (r0 + k) * n), zPtr / 8);
    update(ws, { s: sPtr, n, a: zPtr, k, rs: n, cs: 1 }, threads);
  }
  copyUpperOut(s, heap, sPtr / 8, n);
  kernel.done();
  return true;
}

/**
 * out (rows×rows, row-major) = ZZᵀ on the upper triangle (overwritten; the lower triangle is left
 * as it was), Z: rows×cols row-major. Returns false, with out untouched, if the wasm kernel is
 * unavailable.
 */
export function upperGramRowsWasm(out: Float64Array, z: Float64Array, rows: number, cols: number, opts: GramThreadOptions = {}): boolean {
  const n = rows;
  if (n === 0) return wasmGramAvailable();
  const threads = wantedThreads((n * n * cols) / 2, opts.threads);
  const ws = workspace(n, rows * cols, threads);
  if (ws === undefined) return false;
  const { heap, sPtr, zPtr } = ws;
  heap.fill(0, sPtr / 8, sPtr / 8 + n * n);
  heap.set(z.subarray(0, rows * cols), zPtr / 8);
  // A = Zᵀ: cols×rows, A(t, i) = Z[i][t] at z[i·cols + t].
  update(ws, { s: sPtr, n, a: zPtr, k: cols, rs: 1, cs: cols }, threads);
  copyUpperOut(out, heap, sPtr / 8, n);
  kernel.done();
  return true;
}
