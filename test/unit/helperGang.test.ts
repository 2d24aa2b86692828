// HelperGang (src/linalg/helperGang.ts): every share of a job runs exactly once — on its helper or,
// when the helper has not claimed it, on the caller — and a helper that never starts cannot hang
// the caller (the failure mode behind a stuck SmolLM2 shard: the pool thread waited for ever on a
// helper's count).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HelperGang } from '../../src/linalg/helperGang.ts';
import { nativeLoading, nativeLoadsSettled } from '../../src/linalg/nativeLoading.ts';

const script = new URL('../fixtures/countingHelper.mjs', import.meta.url);
const HELPER_TOTAL = 0x3ff;

/** One job of got + 1 shares; the caller's own share (0) takes ~0.2 ms, so started helpers get to theirs. */
function job(gang: HelperGang, got: number, counts: Int32Array, spawn: Record<string, unknown>): void {
  gang.run(got, spawn, { counts: counts.buffer }, (h) => [h + 1], (part) => {
    if (part === 0) for (const end = performance.now() + 0.2; performance.now() < end; );
    Atomics.add(counts, part, 1);
  });
}

test('2,000 jobs over 1 and 3 helpers: each share runs exactly once, on its helper or on the caller', () => {
  for (const got of [1, 3]) {
    const gang = new HelperGang(script, 1, 'counting helper');
    const counts = new Int32Array(new SharedArrayBuffer(4 * 1024));
    for (let j = 0; j < 2000; j++) job(gang, got, counts, { exitAtOnce: false });
    assert.deepEqual(Array.from(counts.subarray(0, got + 1)), new Array(got + 1).fill(2000), `got ${got}`);
    // Shares taken by helpers and by the caller add up; with a live helper some ran on it.
    assert.ok(counts[HELPER_TOTAL] > 0 && counts[HELPER_TOTAL] <= 2000 * got, `helpers ran ${counts[HELPER_TOTAL]} shares`);
    gang.stop();
  }
});

test('a helper that never starts: the caller runs its shares and returns', () => {
  const gang = new HelperGang(script, 1, 'counting helper');
  const counts = new Int32Array(new SharedArrayBuffer(4 * 1024));
  const t0 = performance.now();
  for (let j = 0; j < 50; j++) job(gang, 2, counts, { exitAtOnce: true });
  assert.deepEqual(Array.from(counts.subarray(0, 3)), [50, 50, 50]);
  assert.equal(counts[HELPER_TOTAL], 0, 'no helper ran anything');
  assert.ok(performance.now() - t0 < 5000, 'no waiting on the dead helpers');
  gang.stop();
});

// A thread ended while it loads koffi aborts the whole process (src/linalg/nativeLoading.ts), so a
// booting helper is counted process-wide until it has booted, the CLI waits for that count before
// it exits, and stop() leaves a booting helper to end by itself. A slow-booting helper shows it.
test('a booting helper is counted until it boots; nativeLoadsSettled waits for it; stop() does not kill it', async () => {
  const gang = new HelperGang(script, 1, 'counting helper');
  const counts = new Int32Array(new SharedArrayBuffer(4 * 1024));
  const left = new Int32Array(new SharedArrayBuffer(4));
  await nativeLoadsSettled(); // the dead helpers of the test above are counted off as their exits arrive
  const before = Atomics.load(nativeLoading, 0);
  assert.equal(before, 0);
  const t0 = performance.now();
  job(gang, 1, counts, { bootMs: 400, left: left.buffer });
  assert.deepEqual(Array.from(counts.subarray(0, 2)), [1, 1], 'the caller ran the booting helper\'s share');
  assert.equal(Atomics.load(nativeLoading, 0), before + 1, 'the booting helper is counted');
  await nativeLoadsSettled();
  assert.ok(performance.now() - t0 >= 390, `settled after ${performance.now() - t0} ms, before the helper booted`);
  assert.equal(Atomics.load(nativeLoading, 0), before, 'counted off once booted');

  // stop() while a second gang's helper boots: the helper still boots and leaves its loop itself.
  const gang2 = new HelperGang(script, 1, 'counting helper');
  const left2 = new Int32Array(new SharedArrayBuffer(4));
  job(gang2, 1, counts, { bootMs: 300, left: left2.buffer });
  gang2.stop();
  await nativeLoadsSettled();
  for (const end = Date.now() + 5000; Atomics.load(left2, 0) === 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  assert.equal(Atomics.load(left2, 0), 1, 'the helper stopped by stop() while booting was not terminated: it left its loop itself');
  // After stop(), the gang runs jobs on fresh helpers.
  job(gang2, 1, counts, { bootMs: 0 });
  gang.stop();
  gang2.stop();
});

test('a helper that dies before it boots is counted off', async () => {
  const gang = new HelperGang(script, 1, 'counting helper');
  const counts = new Int32Array(new SharedArrayBuffer(4 * 1024));
  await nativeLoadsSettled();
  job(gang, 2, counts, { exitAtOnce: true });
  assert.equal(Atomics.load(nativeLoading, 0), 2, 'two helpers booting');
  await nativeLoadsSettled(5000);
  assert.equal(Atomics.load(nativeLoading, 0), 0);
  gang.stop();
});
