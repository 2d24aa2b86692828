// Metrics of batch b while batch b + 1 is inferred: a background thread at the lowest priority.
//
// A large model runs as one session whose intra-op threads use every core (sessionPlan.ts), and its
// run is synchronous on the extraction thread. Even so the cores are not busy all the time: between
// and inside operators onnxruntime's threads wait on each other. Measured on this project's 2-core
// machine (SmolLM2, 200 texts, every layer): a thread at nice 19 running per-sample metrics beside
// the floor benchmark got 14–21 % of a core while inference time did not measurably change; at
// normal priority the same thread doubled inference time (three busy threads on two cores).
//
// So after inferring batch b the extraction thread copies the hidden states of its last K layers
// into shared memory and hands them to a background thread (nice 19), measures the other layers
// itself meanwhile (both cores busy: inference is not running), and infers batch b + 1 while the
// background thread goes on with what is left of its K layers on the cycles inference leaves idle.
// Before batch b + 1 is handed over, the extraction thread measures the layers of b the background
// thread has not claimed yet (batchLayers.ts: one claim per layer) and waits for the one it is on.
// K follows what the background thread managed last time (one more if it claimed all of them), so
// only about the layers it gets to are held in shared memory during inference. The results are the
// same bits as measuring in one thread (batchLayers.ts says why).
//
// Used only where lowering the thread's priority works (Linux; threadPriority.ts); the K layers'
// hidden states are at most MAX_PIPELINED_BYTES.
//
// Opt-in (ENTROSCOPE_PIPELINE=1): measured on SmolLM2, 500 texts, every layer (BENCHMARKS.md), it
// takes 1.6–2.9 s off the ~10 s of metrics on the critical path, which is within the run-to-run
// noise of whole runs on this machine, and costs 80–250 MB of peak RSS (the background thread and
// the K layers held during inference), which takes the run over its 2.5 GB bound.
import { ThreadPool } from '../parallel/threadPool.ts';
import { measureClaimedLayers, stopClaims, type BatchLayersInput, type LayerResult } from './batchLayers.ts';

/** Most bytes of hidden states (float32, the K layers of one batch) handed to the background thread. */
export const MAX_PIPELINED_BYTES = 64 * 2 ** 20;

// A small young generation, as the sample helper (sampleHelper.ts): the thread allocates only each
// sample's small arrays.
const LIMITS = { maxYoungGenerationSizeMb: 2 };

let pool: ThreadPool | undefined;
let ready: Promise<boolean> | undefined;
/** Shared buffers for the hidden states of a batch in flight, per layer, grown as needed; a set
 * per batch in flight (two shards may run at once in one thread), reused once it is finished. */
const freeBuffers: Float32Array[][] = [];
let batches = 0;
let layersThere = 0;

/** Batches handed to the background thread so far in this thread (for tests and benchmarks). */
export function pipelinedBatches(): number {
  return batches;
}

/** (batch, layer) pairs the background thread measured so far (for tests and benchmarks). */
export function backgroundLayers(): number {
  return layersThere;
}

export function pipelineWanted(): boolean {
  return process.env.ENTROSCOPE_PIPELINE === '1';
}

/** Idle this long, the background thread ends (its ~0.1 GB of heap and buffers freed: after the
 * last shard of a run, before the reduction and summary); the next shard starts a new one. */
const IDLE_CLOSE_MS = 1000;
let inFlightBatches = 0;
let idleTimer: NodeJS.Timeout | undefined;

function busy(): void {
  inFlightBatches++;
  clearTimeout(idleTimer);
}

function idle(): void {
  if (--inFlightBatches > 0) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (inFlightBatches > 0 || !pool) return;
    void pool.close();
    pool = undefined;
    ready = undefined;
    freeBuffers.length = 0;
  }, IDLE_CLOSE_MS).unref();
}

/**
 * Starts the background thread (once per extraction thread, again after it ended idle); resolves
 * to whether it runs at the lowest priority — if not, it is not used.
 */
export function openPipeline(): Promise<boolean> {
  clearTimeout(idleTimer);
  pool ??= new ThreadPool(1, undefined, LIMITS);
  ready ??= pool.run('batchLayers', null).then(
    (r) => r.niced,
    () => false,
  );
  return ready;
}

export interface LayerHidden {
  hidden: Float32Array;
  seqLen: number;
  dim: number;
}

/** A batch whose layers are being measured: `finish` measures the rest here and returns them all. */
export interface PipelinedBatch {
  /** Measures the layers not yet claimed on this thread (z: scratch of Σ lengths × max dim), waits
   * for the background thread, and returns every layer's result (any order). */
  finish: (z: Float64Array) => Promise<LayerResult[]>;
  /** Stops claims and waits for the background thread (errors ignored): after a failure elsewhere. */
  abandon: () => Promise<void>;
  /** Layers claimed so far, by either thread (for tests). */
  claimed: () => number;
}

let share = 0;

/**
 * How many of a batch's `layers` (the last ones) to hand to the background thread: K as above,
 * at most what fits in MAX_PIPELINED_BYTES (`bytesPerLayer` each) and at most all but one.
 */
export function backgroundShare(layers: number, bytesPerLayer: number): number {
  if (share === 0) share = Math.ceil(layers / 2);
  return Math.max(0, Math.min(share, layers - 1, Math.floor(MAX_PIPELINED_BYTES / Math.max(1, bytesPerLayer))));
}

/** Records what the background thread managed of a batch of `given` layers. */
function adapt(given: number, measuredThere: number): void {
  share = measuredThere >= given ? given + 1 : Math.max(1, measuredThere);
}

/**
 * Hands layers of a batch to the background thread (openPipeline must have resolved true): copies
 * their hidden states (the caller may drop its own) and returns at once. `meta.where`, `meta.s`
 * and `layerIndex` go with `layers`, one per layer.
 */
export function startBatch(
  layers: LayerHidden[],
  meta: Pick<BatchLayersInput, 'lengths' | 'rows' | 'where' | 's'> & { layerIndex?: number[] },
): PipelinedBatch {
  const used = layers.map((h) => meta.lengths.length * h.seqLen * h.dim);
  const buffers = freeBuffers.pop() ?? [];
  const hidden = layers.map((h, l) => {
    if ((buffers[l]?.length ?? 0) < used[l]) buffers[l] = new Float32Array(new SharedArrayBuffer(4 * used[l]));
    const view = buffers[l].subarray(0, used[l]);
    view.set(h.hidden.subarray(0, used[l]));
    return view;
  });
  let returned = false;
  const giveBack = (): void => {
    if (!returned) {
      freeBuffers.push(buffers);
      idle();
    }
    returned = true;
  };
  const input: BatchLayersInput = {
    ...meta,
    hidden,
    seqLen: layers.map((h) => h.seqLen),
    dim: layers.map((h) => h.dim),
    claim: new Int32Array(new SharedArrayBuffer(4)),
  };
  // A shard opens the pipeline before its first batch; one that ended idle since is opened again.
  if (!pool) void openPipeline();
  busy();
  const background = pool!.run('batchLayers', input);
  background.catch(() => undefined); // answered once, by finish or abandon
  batches++;
  return {
    finish: async (z) => {
      let here: LayerResult[] = [];
      let failure: unknown;
      try {
        here = measureClaimedLayers(input, z);
      } catch (err) {
        stopClaims(input);
        failure = err;
      }
      let there: LayerResult[] = [];
      try {
        there = (await background).results;
        layersThere += there.length;
      } catch (err) {
        failure ??= err;
      }
      giveBack(); // the background thread is done with them
      if (failure !== undefined) throw failure;
      adapt(layers.length, there.length);
      return [...here, ...there];
    },
    abandon: async () => {
      stopClaims(input);
      await background.catch(() => undefined);
      giveBack();
    },
    claimed: () => Math.min(layers.length, Atomics.load(input.claim, 0)),
  };
}
