// The helper threads of the native kernels (nativeGram.ts, nativeTridiagonal.ts): a HelperGang
// (helperGang.ts) of worker threads that load the same OpenBLAS and run their share of a job's
// fixed block partition on two shared buffers (nativeHelperWorker.mjs). A job is a kind plus up to
// 7 integers per helper; the caller runs its own share meanwhile and then waits for all of them.
// Which thread runs a block never changes its result, so a job's output is the same whatever the
// thread count.
import { HelperGang, MAX_HELPERS } from './helperGang.ts';

export { MAX_HELPERS };
/** Job kinds (the first parameter of a job): the Gram modes of nativeGramBlocks.mjs and the
 * tridiagonal reduction's trailing rank-2k update and panel mat-vec (nativeTridiagonalBlocks.mjs). */
export const JOB = { GRAM_N: 0, GRAM_T: 1, RANK2K: 2, SYMV: 3 } as const;

const gang = new HelperGang(new URL('./nativeHelperWorker.mjs', import.meta.url), 8, 'native kernel helper');

/**
 * Runs one job of `got + 1` shares — share 0 on this thread, share h + 1 on helper h (1 ≤ got ≤
 * MAX_HELPERS) unless this thread gets to it first (helperGang.ts) — and returns when all are done.
 * `params(h)` gives helper h's job: [kind, …up to 7 integers]; `share(p)` runs share p here, the
 * same work. `s` and `z` are the job's two shared buffers (sent to a helper only when they change).
 * Throws if any share failed.
 */
export function runOnHelpers(
  library: string, s: SharedArrayBuffer, z: SharedArrayBuffer, got: number, params: (helper: number) => number[], share: (part: number) => void,
): void {
  gang.run(got, { library }, { s, z }, params, share);
}
