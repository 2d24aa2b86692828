// HelperGang (src/linalg/helperGang.ts): every share of a job runs exactly once — on its helper or,
// when the helper has not claimed it, on the caller — and a helper that never starts cannot hang
// the caller (the failure mode behind a stuck SmolLM2 shard: the pool thread waited for ever on a
// helper's count).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HelperGang } from '../../src/linalg/helperGang.ts';

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
