// Splits one rank-k update of gram.wasm over helper threads on the kernel's shared memory.
//
// The column tiles of S are cut into `parts` contiguous ranges of equal work (column tile t has
// t + 1 tiles on or above the diagonal); part 0 runs on the calling thread, the others on helper
// threads (gramWorker.mjs), each with its own pack scratch. Each tile of S is computed by exactly
// one part with the same sequence of operations as in a one-thread call, so S is bit-identical
// whatever the number of threads (no reduction across threads at all).
//
// Helpers are started lazily, kept for the life of the process (unref'd, blocked in Atomics.wait
// while idle) and only used when coreBudget.ts grants idle cores: a call never adds busy threads
// beyond ENTROSCOPE_THREADS / the core count, counting inference in the pool's threads.
import { acquireHelpers, holdCore, releaseHelpers, totalCores } from './coreBudget.ts';
import { HelperGang, MAX_HELPERS } from './helperGang.ts';

/** Below this many multiply-adds (n²·K/2) a call stays on one thread (waking helpers costs ~0.1 ms). */
export const MIN_THREADED_MADDS = 2 ** 23;

export interface ColsKernel {
  syrk_upper_cols: (s: number, n: number, a: number, k: number, rs: number, cs: number, pack: number, from: number, to: number) => void;
}

/** The helpers (gramWorker.mjs): started with the kernel's module, posted its shared memory. */
const gang = new HelperGang(new URL('./gramWorker.mjs', import.meta.url), 9, 'gram helper');

/** Column tile boundaries [b0 = 0, b1, …, b_parts = tiles] splitting the upper triangle's tiles
 * into `parts` ranges of (nearly) equal count. */
export function columnSplit(tiles: number, parts: number): number[] {
  const total = (tiles * (tiles + 1)) / 2;
  const bounds = [0];
  let c = 0;
  for (let p = 1; p < parts; p++) {
    const target = (total * p) / parts;
    while (c < tiles && ((c + 1) * (c + 2)) / 2 <= target) c++;
    bounds.push(Math.max(c, bounds[p - 1]));
  }
  bounds.push(tiles);
  return bounds;
}

/** Threads a call with this much work wants: the process's core count unless told otherwise. */
export function wantedThreads(madds: number, requested?: number): number {
  if (requested !== undefined) return Math.max(1, Math.min(MAX_HELPERS + 1, Math.floor(requested)));
  if (madds < MIN_THREADED_MADDS) return 1;
  return Math.min(MAX_HELPERS + 1, totalCores());
}

/**
 * S += AᵀA (upper triangle) with the arguments of syrk_upper_cols, over `threads` threads
 * (this one included; fewer when the core budget has no idle core). `packPtrs[p]`: the pack
 * scratch of part p (at least `threads` of them). Returns the number of threads used.
 */
export function syrkUpperThreaded(
  ex: ColsKernel,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  args: { s: number; n: number; a: number; k: number; rs: number; cs: number },
  packPtrs: number[],
  threads: number,
): number {
  const tiles = Math.ceil(args.n / 4);
  const { s, n, a, k, rs, cs } = args;
  return holdCore(() => {
    const got = threads > 1 ? acquireHelpers(Math.min(threads - 1, packPtrs.length - 1, tiles - 1)) : 0;
    try {
      if (got === 0) {
        ex.syrk_upper_cols(s, n, a, k, rs, cs, packPtrs[0], 0, tiles);
        return 1;
      }
      const parts = got + 1;
      const bounds = columnSplit(tiles, parts);
      gang.run(
        got,
        { module },
        { memory },
        (h) => [s, n, a, k, rs, cs, packPtrs[h + 1], bounds[h + 1], bounds[h + 2]],
        (part) => ex.syrk_upper_cols(s, n, a, k, rs, cs, packPtrs[part], bounds[part], bounds[part + 1]),
      );
      return parts;
    } finally {
      releaseHelpers(got);
    }
  });
}
