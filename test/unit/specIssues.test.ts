import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { editDistance, nearest, objectKeysAt, specIssueLines } from '../../src/specIssues.ts';
import { parseEvaluationSpec } from '../../src/eval/evaluationSpec.ts';

test('edit distance counts insertions, deletions, substitutions and adjacent transpositions', () => {
  // Textbook values, worked by hand.
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('parms', 'params'), 1);
  assert.equal(editDistance('ab', 'ba'), 1);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('same', 'same'), 0);
});

test('a suggestion is given only when a known key is close', () => {
  assert.equal(nearest('shard_size', ['shardSize', 'batchSize']), 'shardSize');
  assert.equal(nearest('maxToken', ['maxTokens', 'maxRecordBytes']), 'maxTokens');
  assert.equal(nearest('colour', ['model', 'data', 'store']), undefined);
});

test('the keys of a nested object are found through arrays, optionals and defaults', () => {
  const schema = z.strictObject({ a: z.array(z.strictObject({ b: z.strictObject({ c: z.number(), d: z.string() }).optional() })).default([]) });
  assert.deepEqual(objectKeysAt(schema, ['a', 3, 'b']), ['c', 'd']);
  assert.deepEqual(objectKeysAt(schema, []), ['a']);
  const r = schema.safeParse({ a: [{ b: { c: 1, d: 'x', e: 2 } }] });
  assert.equal(r.success, false);
  assert.deepEqual(specIssueLines(schema, r.error!.issues), ['a[0].b.e: unknown key (did you mean c?)']);
});

test('an evaluation spec is strict too: a typo in a workflow input names the key and the one meant', () => {
  assert.throws(
    () => parseEvaluationSpec({ model: '/m', data: '/d.jsonl', store: '/s', maxToken: 12, sample: { count: 2, seed: 0, extra: 1 } }),
    (err: Error) => {
      assert.equal(err.name, 'InputError');
      assert.match(err.message, /^invalid evaluation spec:/);
      assert.match(err.message, /\n {2}maxToken: unknown key \(did you mean maxTokens\?\)/);
      assert.match(err.message, /\n {2}sample\.extra: unknown key/);
      return true;
    },
  );
});
