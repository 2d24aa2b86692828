// Float64 arrays for matrices a kernel may split over helper threads: large ones live in a
// SharedArrayBuffer, so nativeGram.ts hands them to its helpers without copying (an ordinary
// ArrayBuffer would be copied into shared scratch first). Small ones stay ordinary: they never
// leave the calling thread.

/** From this many bytes on, `kernelArray` allocates shared memory: a pooled d×d S from d ≈ 370 on
 * (SmolLM2's 576² S is 2.6 MB), which is copied into and out of shared scratch on every update
 * otherwise (~1 ms of a 3 ms rank-750 update at d = 576, measured). */
const SHARED_FROM_BYTES = 2 ** 20;

/** A zeroed Float64Array of `length`, in a SharedArrayBuffer when large. */
export function kernelArray(length: number): Float64Array {
  return 8 * length >= SHARED_FROM_BYTES ? new Float64Array(new SharedArrayBuffer(8 * length)) : new Float64Array(length);
}
