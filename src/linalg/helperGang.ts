// A gang of helper threads that share work with their caller through one Int32Array of control
// words (the caller's side of helperLoop.mjs, which each helper runs). A job is up to `stride`
// integers per helper; the caller posts it, bumps each helper's generation slot, runs its own
// share, then waits until REMAINING reaches 0. Shared buffers are posted to a helper once per epoch
// (a new epoch starts when they change), so a job itself carries only integers.
//
// Each helper's share is claimed once, by whichever thread gets there first: the helper when it
// wakes, or the caller once its own share is done (a compare-and-swap of the helper's CLAIM word
// from the previous generation to this one). So a helper that is slow to wake — its core busy with
// inference — or that never started costs the caller no waiting: the caller runs that share itself.
// The caller waits only for shares a helper has claimed and is running. Every share is the same
// fixed piece of work on whichever thread runs it, so results do not depend on who ran what.
//
// Helpers are started lazily, kept for the life of the process (unref'd, blocked in Atomics.wait
// while idle). The cores they run on are the caller's to take from coreBudget.ts.
//
// A helper is counted in nativeLoading.ts from its start until it has loaded its imports (it then
// enters serveJobs, helperLoop.mjs), so the CLI does not exit while one boots, and stop() never
// terminates one that is booting: a thread ended while it loads koffi aborts the process
// (nativeLoading.ts says why). Wasm helpers are counted the same way; they boot in milliseconds.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { nativeLoading } from './nativeLoading.ts';

/** Most helpers a gang starts (64 threads with the caller). */
export const MAX_HELPERS = 63;

interface Helper {
  worker: Worker;
  port: MessagePort;
  /** The epoch whose buffers it last got. */
  epoch: number;
  /** 0 while it boots; 1 once booted (set by the helper), 2 if it exited first (set here). */
  booted: Int32Array;
}

export class HelperGang {
  private readonly layout: { GEN: number; REMAINING: number; EPOCH: number; ERROR: number; STOP: number; PARAMS: number; STRIDE: number; CLAIM: number };
  private ctl: Int32Array;
  private readonly helpers: Helper[] = [];
  private epoch = 0;
  private sent: unknown[] | undefined;
  private spawnedWith: unknown[] | undefined;

  /** `script`: the helper's module (it calls serveJobs of helperLoop.mjs); `what` names it in errors. */
  constructor(
    private readonly script: URL,
    stride: number,
    private readonly what: string,
  ) {
    const claim = 68 + (MAX_HELPERS + 1) * stride;
    this.layout = { GEN: 0, REMAINING: 64, EPOCH: 65, ERROR: 66, STOP: 67, PARAMS: 68, STRIDE: stride, CLAIM: claim };
    this.ctl = new Int32Array(new SharedArrayBuffer(4 * (claim + MAX_HELPERS + 1)));
  }

  /**
   * Runs one job split into `got + 1` shares: share 0 on this thread, share h + 1 on helper h
   * (1 ≤ got ≤ MAX_HELPERS) unless this thread claims it first; returns when all are done, and
   * throws if any share failed. `spawn`: what a new helper is started with (its workerData beside
   * the control words; helpers started with something else are stopped first). `buffers`: the
   * job's shared buffers, posted to a helper when they change. `params(h)`: helper h's job, as its
   * helper script reads it; `share(p)`: share p run on this thread (the same work as the helper's).
   */
  run(got: number, spawn: Record<string, unknown>, buffers: Record<string, unknown>, params: (helper: number) => number[], share: (part: number) => void): void {
    if (got < 1 || got > MAX_HELPERS) throw new RangeError(`helpers must be 1…${MAX_HELPERS}, got ${got}`);
    if (!sameItems(this.spawnedWith, Object.values(spawn))) {
      this.stop();
      this.spawnedWith = Object.values(spawn);
    }
    const { ctl, layout } = this; // after stop(), which replaces the control words
    while (this.helpers.length < got) {
      const index = this.helpers.length;
      const { port1, port2 } = new MessageChannel();
      const booted = new Int32Array(new SharedArrayBuffer(4));
      Atomics.add(nativeLoading, 0, 1); // before it starts: it counts itself off once booted
      let worker: Worker;
      try {
        worker = new Worker(this.script, {
          // Plain JavaScript: no loader or eval flags of the parent process are needed (or wanted).
          execArgv: [],
          workerData: { ...spawn, control: ctl.buffer, index, port: port2, layout, booted: booted.buffer, loading: nativeLoading.buffer },
          transferList: [port2],
        });
      } catch (err) {
        Atomics.sub(nativeLoading, 0, 1);
        throw err;
      }
      // A helper that dies before it boots is no longer loading anything.
      worker.once('exit', () => {
        if (Atomics.compareExchange(booted, 0, 0, 2) === 0) Atomics.sub(nativeLoading, 0, 1);
      });
      worker.unref();
      port1.unref();
      this.helpers.push({ worker, port: port1, epoch: -1, booted });
    }
    if (!sameItems(this.sent, Object.values(buffers))) {
      this.epoch++;
      this.sent = Object.values(buffers);
      Atomics.store(ctl, layout.EPOCH, this.epoch);
    }
    for (const h of this.helpers.slice(0, got)) {
      if (h.epoch !== this.epoch) h.port.postMessage({ epoch: this.epoch, ...buffers });
      h.epoch = this.epoch;
    }
    const jobs = Array.from({ length: got }, (_, h) => params(h));
    for (const p of jobs) if (p.length > layout.STRIDE) throw new RangeError(`a helper job has at most ${layout.STRIDE} parameters`);
    Atomics.store(ctl, layout.ERROR, 0);
    Atomics.store(ctl, layout.REMAINING, got);
    const gens: number[] = [];
    for (let h = 0; h < got; h++) {
      ctl.set(jobs[h], layout.PARAMS + h * layout.STRIDE);
      gens.push(Atomics.add(ctl, layout.GEN + h, 1) + 1);
      Atomics.notify(ctl, layout.GEN + h);
    }
    let failure: unknown;
    try {
      share(0);
    } catch (err) {
      failure = err;
    }
    // The shares no helper has claimed yet are this thread's.
    for (let h = 0; h < got; h++) {
      if (Atomics.compareExchange(ctl, layout.CLAIM + h, gens[h] - 1, gens[h]) !== gens[h] - 1) continue;
      try {
        if (failure === undefined) share(h + 1);
      } catch (err) {
        failure = err;
      }
      Atomics.sub(ctl, layout.REMAINING, 1);
    }
    for (let left = Atomics.load(ctl, layout.REMAINING); left !== 0; left = Atomics.load(ctl, layout.REMAINING)) {
      Atomics.wait(ctl, layout.REMAINING, left);
    }
    if (failure !== undefined) throw failure;
    if (Atomics.load(ctl, layout.ERROR) !== 0) throw new Error(`a ${this.what} thread failed`);
  }

  /**
   * Stops every helper: STOP is set in the current control words and each helper's slot bumped, so
   * it leaves its loop; one that has booted is also terminated. One still booting is left to leave
   * by itself once booted (ending a thread while it loads koffi aborts the process: nativeLoading.ts).
   * The gang continues on fresh control words, which no old helper can see.
   */
  stop(): void {
    const { ctl, layout } = this;
    if (this.helpers.length === 0) return;
    Atomics.store(ctl, layout.STOP, 1);
    for (let i = 0; i < this.helpers.length; i++) {
      Atomics.add(ctl, layout.GEN + i, 1);
      Atomics.notify(ctl, layout.GEN + i);
    }
    for (const h of this.helpers.splice(0)) if (Atomics.load(h.booted, 0) !== 0) void h.worker.terminate();
    this.ctl = new Int32Array(new SharedArrayBuffer(ctl.byteLength));
    this.sent = undefined;
  }
}

/** Whether two lists hold the same objects (by identity), in order. */
function sameItems(a: readonly unknown[] | undefined, b: readonly unknown[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
