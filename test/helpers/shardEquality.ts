// Texts and a bit-for-bit comparison of two extractShard results, for the tests that check a way of
// measuring a shard against one thread (sampleHelper.test.ts, batchPipeline.test.ts).
import assert from 'node:assert/strict';
import type { ExtractShardOutput } from '../../src/eval/extractShard.ts';

/** Short and long texts, one of a single token (skipped) and one of two. */
export const SHARD_TEXTS = [
  'the quick brown fox jumps over the lazy dog',
  'a b',
  'entropy of hidden representations',
  'x',
  'one two three four five six seven eight nine ten eleven twelve',
  'matrix entropy measures how spread the spectrum is',
  'models compress what they learn',
];

/** Same layers, same per-sample rows, and every partial Gram's n and S bit for bit. */
export function assertShardsIdentical(got: ExtractShardOutput, want: ExtractShardOutput): void {
  assert.deepEqual(got.layers, want.layers);
  assert.deepEqual(got.samples, want.samples);
  got.grams.forEach((g, l) => {
    assert.equal(g.n, want.grams[l].n);
    assert.deepEqual(Array.from(g.s), Array.from(want.grams[l].s), `layer ${g.layer}`);
  });
}
