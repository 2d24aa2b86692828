// A second thread for per-sample metrics while a core would otherwise sit idle.
//
// A large model runs as one session with every core as an intra-op thread (sessionPlan.ts); between
// two inferences its extraction thread measures the batch layer by layer, and the per-sample part
// (centring, the n×n Gram, its eigenvalues) is single-threaded: one core idle for about half the
// metric time (SmolLM2, `--layers all`: 1.5 of 2.9 s per 128 texts). So while extractShard measures layer l, this thread
// measures layer l + 1 when coreBudget.ts grants an idle core; the pooled rank-k updates then run
// as before, one layer after the other. Each layer is computed by the same function on whichever
// thread (layerSamples.ts), so the results are the same with or without the helper.
//
// The helper is one pool thread per extraction thread, started on first use and kept. Its inputs
// travel in shared memory, reused call after call (a set per call in flight): the layer's hidden
// states (copied in, one memcpy of batch × seqLen × dim float32) and the Z it writes. Its task does not count itself busy
// (tasks.ts NOT_COUNTED_BUSY): the caller took the core for it from the budget.
import { ThreadPool } from '../parallel/threadPool.ts';
import { acquireHelpers, releaseHelpers } from '../linalg/coreBudget.ts';
import type { LayerSamplesInput, LayerSamplesOutput } from './layerSamples.ts';

let pool: ThreadPool | undefined;
let calls = 0;

/** Layers this thread has had measured on its helper so far (for tests and benchmarks). */
export function helperCalls(): number {
  return calls;
}

/** Shared buffers for one call in flight; reused by later calls (one set per concurrent call). */
interface Scratch {
  hidden: Float32Array;
  z: Float64Array;
}
const freeScratch: Scratch[] = [];

function takeScratch(hiddenLength: number, zLength: number): Scratch {
  const s = freeScratch.pop() ?? { hidden: new Float32Array(0), z: new Float64Array(0) };
  if (s.hidden.length < hiddenLength) s.hidden = new Float32Array(new SharedArrayBuffer(4 * hiddenLength));
  if (s.z.length < zLength) s.z = new Float64Array(new SharedArrayBuffer(8 * zLength));
  return s;
}

// A small young generation: the helper allocates only each sample's small n×n arrays, and V8's
// default semi-spaces cost ~30 MB of resident memory in it (SmolLM2: 137 against 167 MB measured).
const HELPER_LIMITS = { maxYoungGenerationSizeMb: 2 };

function helperPool(): ThreadPool {
  return (pool ??= new ThreadPool(1, undefined, HELPER_LIMITS));
}

/** Starts the helper thread now, so its loading overlaps the first inference. */
export function warmSampleHelper(): void {
  helperPool().warm(1);
}

/**
 * A running helper call: `done` gives its output and frees its core; `z` holds the Z it writes,
 * valid until `release` (then reused by a later call).
 */
export interface HelperCall {
  z: Float64Array;
  done: () => Promise<LayerSamplesOutput>;
  release: () => void;
}

/**
 * Starts `layerSamples` for one layer on the helper thread if a core is idle; undefined otherwise
 * (the caller then measures the layer itself). `hidden` is copied, so the caller may drop it.
 */
export function startOnHelper(input: Omit<LayerSamplesInput, 'z'>, zLength: number): HelperCall | undefined {
  if (acquireHelpers(1) !== 1) return undefined;
  let scratch: Scratch;
  let running: Promise<LayerSamplesOutput>;
  try {
    const used = input.lengths.length * input.seqLen * input.dim;
    scratch = takeScratch(used, zLength);
    const hidden = scratch.hidden.subarray(0, used);
    hidden.set(input.hidden.subarray(0, used));
    running = helperPool().run('layerSamples', { ...input, hidden, z: scratch.z });
  } catch (err) {
    releaseHelpers(1); // the core goes back if the call could not even start
    throw err;
  }
  calls++;
  // Answered once: a failure is seen by whoever awaits `done`, never as an unhandled rejection.
  running.catch(() => undefined);
  let coreReleased = false;
  let scratchReleased = false;
  return {
    z: scratch.z,
    done: async () => {
      try {
        return await running;
      } finally {
        if (!coreReleased) releaseHelpers(1);
        coreReleased = true;
      }
    },
    release: () => {
      if (!scratchReleased) freeScratch.push(scratch);
      scratchReleased = true;
    },
  };
}
