// The WebAssembly SIMD build of one sample's centring and unit rows (source
// src/linalg/wasm/normalize.c, built by infra/build-wasm.sh, committed as wasm/normalize.wasm):
// the same operations in the same order as `centerAndNormalizeInPlace` in src/metrics/normalize.ts,
// so the same bits, with float32 → float64 conversion and the finiteness check folded into its one
// pass over X. At SmolLM2's 47×576 samples the whole per-sample metric step went from ~455 µs to
// ~217 µs with it (BENCHMARKS.md, "SmolLM2 `--layers all`"). X is copied into wasm memory and Z out
// of it (memcpy speed). If the module cannot be read or compiled, the
// function returns undefined and the caller uses the TypeScript form.

import { WasmKernel, type KernelExports } from './wasmKernel.ts';

/** Memory above which the instance is dropped after a call (wasm memory never shrinks). */
const RETAIN_BYTES = 64 * 2 ** 20;

type Kernel = (x: number, rows: number, cols: number, z: number, mean: number, norms: number, colsq: number) => number;

interface Exports extends KernelExports {
  center_normalize_f32: Kernel;
  center_normalize_f64: Kernel;
}

// One build: the kernel has no multiply-add to fuse (each product is added to a different sum).
const file = new URL('./wasm/normalize.wasm', import.meta.url);
const kernel = new WasmKernel<Exports>({ plain: file, fma: file }, RETAIN_BYTES);

/** Whether the wasm kernel is available in this process. */
export function normalizeWasmAvailable(): boolean {
  return kernel.available();
}

const align = (x: number): number => Math.ceil(x / 16) * 16;

/**
 * Z = unit rows of the centred X into `out` (length ≥ rows×cols) and Σ z² per column into
 * `columnSquares` (length cols). Returns the rows kept (Z = out[0, kept·cols)), 'nonfinite' when X
 * has a NaN or infinity, or undefined when the kernel is unavailable or the sample does not fit in
 * wasm memory (nothing written then).
 */
export function centerAndNormalizeWasm(
  x: Float32Array | Float64Array,
  rows: number,
  cols: number,
  out: Float64Array,
  columnSquares: Float64Array,
): number | 'nonfinite' | undefined {
  const ex = kernel.exports();
  if (ex === undefined) return undefined;
  const size = rows * cols;
  const xBytes = size * x.BYTES_PER_ELEMENT;
  const xPtr = align(Number(ex.__heap_base.value));
  const zPtr = align(xPtr + xBytes);
  const meanPtr = align(zPtr + 8 * size);
  const normsPtr = align(meanPtr + 8 * cols);
  const colsqPtr = align(normsPtr + 8 * rows);
  if (!kernel.ensureMemory(colsqPtr + 8 * cols)) return undefined;
  const buffer = ex.memory.buffer;
  const run = x instanceof Float32Array ? ex.center_normalize_f32 : ex.center_normalize_f64;
  if (x instanceof Float32Array) new Float32Array(buffer, xPtr, size).set(x.subarray(0, size));
  else new Float64Array(buffer, xPtr, size).set(x.subarray(0, size));
  const kept = run(xPtr, rows, cols, zPtr, meanPtr, normsPtr, colsqPtr);
  if (kept < 0) {
    kernel.done();
    return 'nonfinite';
  }
  out.set(new Float64Array(buffer, zPtr, kept * cols));
  columnSquares.set(new Float64Array(buffer, colsqPtr, cols));
  kernel.done();
  return kept;
}
