// The WebAssembly SIMD build of the blocked Householder tridiagonalisation (source
// src/linalg/wasm/tridiagonalize.c, built by infra/build-wasm.sh, committed as wasm/eigen.wasm).
// Same algorithm and storage as `tridiagonalizeUpperBlocked` in tridiagonalize.ts (eigen-fma.wasm,
// with fused multiply-adds, where the runtime has relaxed SIMD); the f64x2
// kernels and the absence of bounds checks make it ~4× faster than the TypeScript form at n = 1024.
// If the module cannot be read or compiled, `tridiagonalizeUpperWasm` returns false and the
// caller uses the TypeScript form.

import { WasmKernel, type KernelExports } from './wasmKernel.ts';

/**
 * Panel width of the wasm reduction for an n×n matrix. The panel's own work grows with the width
 * (each row of a panel is updated by all earlier reflectors of the panel) while the trailing
 * update gains from it, so small matrices want narrow panels; on the development machine the best
 * widths were about 8 up to n ≈ 300, 16–24 around n = 512, 24–32 from n = 1024.
 */
export function wasmBlockSize(n: number): number {
  if (n <= 320) return 8;
  if (n <= 768) return 16;
  return 32;
}

/** Memory above which the instance is dropped after a call, so that one large matrix does not
 * pin its workspace for the life of the process (wasm memory never shrinks). */
const RETAIN_BYTES = 64 * 2 ** 20;

interface Exports extends KernelExports {
  tridiagonalize: (n: number, nb: number, w: number, diag: number, off: number, wmat: number, pack: number, t: number) => void;
}

const kernel = new WasmKernel<Exports>(
  { plain: new URL('./wasm/eigen.wasm', import.meta.url), fma: new URL('./wasm/eigen-fma.wasm', import.meta.url) },
  RETAIN_BYTES,
);

/** Which build of the kernel runs here: 'fma' (relaxed SIMD) or 'plain'; undefined if none loads. */
export function wasmTridiagonalizeBuild(): 'plain' | 'fma' | undefined {
  return kernel.buildInUse();
}

/** Whether the wasm kernel is available in this process (the file is present and the runtime has
 * WebAssembly SIMD). */
export function wasmTridiagonalizeAvailable(): boolean {
  return kernel.available();
}

/**
 * Tridiagonal form, diag (n) and off (n−1), of the symmetric n×n matrix that `fill` writes into
 * the upper triangle of the row-major n×n view it is given (inside wasm memory; its lower
 * triangle holds garbage and is never read). Returns false, before calling `fill`, if the wasm
 * module is unavailable or the workspace does not fit in 4 GiB of wasm memory.
 */
export function tridiagonalizeUpperWasm(
  n: number,
  diag: Float64Array,
  off: Float64Array,
  fill: (w: Float64Array) => void,
  blockSize = wasmBlockSize(n),
): boolean {
  const ex = kernel.exports();
  if (ex === undefined) return false;
  const nb = Math.max(1, Math.floor(blockSize));
  // Layout (bytes, 16-aligned): w n², diag n, off n, wmat nb·n, pack 2·⌈n/4⌉·4·2nb, t 2nb.
  const align = (x: number): number => Math.ceil(x / 16) * 16;
  const base = align(Number(ex.__heap_base.value));
  const wPtr = base;
  const diagPtr = align(wPtr + 8 * n * n);
  const offPtr = align(diagPtr + 8 * n);
  const wmatPtr = align(offPtr + 8 * n);
  const packPtr = align(wmatPtr + 8 * nb * n);
  const tPtr = align(packPtr + 8 * 2 * Math.ceil(n / 4) * 4 * 2 * nb);
  if (!kernel.ensureMemory(tPtr + 8 * 2 * nb)) return false;
  const heap = new Float64Array(ex.memory.buffer);
  fill(heap.subarray(wPtr / 8, wPtr / 8 + n * n));
  ex.tridiagonalize(n, nb, wPtr, diagPtr, offPtr, wmatPtr, packPtr, tPtr);
  diag.set(heap.subarray(diagPtr / 8, diagPtr / 8 + n));
  off.set(heap.subarray(offPtr / 8, offPtr / 8 + Math.max(n - 1, 0)));
  kernel.done();
  return true;
}
