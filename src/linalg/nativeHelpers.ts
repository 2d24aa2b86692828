// The helper threads of the native kernels (nativeGram.ts, nativeTridiagonal.ts): worker threads
// that load the same OpenBLAS and run their share of a job's fixed block partition on two shared
// buffers (nativeHelperWorker.mjs). A job is a kind plus up to 7 integers per helper; the caller
// runs its own share meanwhile and then waits for all of them. Which thread runs a block never
// changes its result, so a job's output is the same whatever the thread count.
//
// Helpers are started lazily, kept for the life of the process (unref'd, blocked in Atomics.wait
// while idle). The cores they run on are the caller's to take from coreBudget.ts.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

/** Most helpers a process starts (64 threads with the caller). */
export const MAX_HELPERS = 63;
/** Job kinds (the first parameter of a job): the Gram modes of nativeGramBlocks.mjs and the
 * tridiagonal reduction's trailing rank-2k update and panel mat-vec (nativeTridiagonalBlocks.mjs). */
export const JOB = { GRAM_N: 0, GRAM_T: 1, RANK2K: 2, SYMV: 3 } as const;

const layout = { GEN: 0, REMAINING: 64, EPOCH: 65, ERROR: 66, STOP: 67, PARAMS: 68, STRIDE: 8 };
const CONTROL_INTS = layout.PARAMS + MAX_HELPERS * layout.STRIDE;
const ctl = new Int32Array(new SharedArrayBuffer(4 * CONTROL_INTS));

interface Helper {
  worker: Worker;
  port: MessagePort;
  epoch: number;
}
const helpers: Helper[] = [];
let epoch = 0;
let sentS: SharedArrayBuffer | undefined;
let sentZ: SharedArrayBuffer | undefined;

function ensureHelpers(count: number, library: string): void {
  while (helpers.length < count) {
    const index = helpers.length;
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./nativeHelperWorker.mjs', import.meta.url), {
      execArgv: [],
      workerData: { library, control: ctl.buffer, index, port: port2, layout },
      transferList: [port2],
    });
    worker.unref();
    port1.unref();
    helpers.push({ worker, port: port1, epoch: -1 });
  }
}

/**
 * Runs one job on `got` helpers (1…MAX_HELPERS) and `own` on this thread, and returns when all are
 * done. `params(h)` gives helper h's job: [kind, …up to 7 integers]. `s` and `z` are the job's two
 * shared buffers (sent to a helper only when they change). Throws if any side failed.
 */
export function runOnHelpers(
  library: string, s: SharedArrayBuffer, z: SharedArrayBuffer, got: number, params: (helper: number) => number[], own: () => void,
): void {
  if (got < 1 || got > MAX_HELPERS) throw new RangeError(`helpers must be 1…${MAX_HELPERS}, got ${got}`);
  if (sentS !== s || sentZ !== z) {
    epoch++;
    sentS = s;
    sentZ = z;
    Atomics.store(ctl, layout.EPOCH, epoch);
  }
  ensureHelpers(got, library);
  for (const h of helpers.slice(0, got)) {
    if (h.epoch !== epoch) h.port.postMessage({ epoch, s, z });
    h.epoch = epoch;
  }
  Atomics.store(ctl, layout.ERROR, 0);
  Atomics.store(ctl, layout.REMAINING, got);
  for (let h = 0; h < got; h++) {
    const p = params(h);
    if (p.length > layout.STRIDE) throw new RangeError(`a helper job has at most ${layout.STRIDE} parameters`);
    ctl.set(p, layout.PARAMS + h * layout.STRIDE);
    Atomics.add(ctl, layout.GEN + h, 1);
    Atomics.notify(ctl, layout.GEN + h);
  }
  let failure: unknown;
  try {
    own();
  } catch (err) {
    failure = err;
  }
  for (let left = Atomics.load(ctl, layout.REMAINING); left !== 0; left = Atomics.load(ctl, layout.REMAINING)) {
    Atomics.wait(ctl, layout.REMAINING, left);
  }
  if (failure !== undefined) throw failure;
  if (Atomics.load(ctl, layout.ERROR) !== 0) throw new Error('a native kernel helper thread failed');
}
