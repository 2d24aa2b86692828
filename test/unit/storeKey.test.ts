// Keys are sanitised: names from users and datasets become safe key segments (ordinary names as
// before, so stored results keep their keys), both stores refuse keys that climb out of their root
// or read differently on disk and in S3, and a row's field names are its own — `__proto__`,
// `constructor` and `toString` are columns like any other, never inherited values.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKey, idSegment, keySegment, MAX_KEY_BYTES } from '../../src/store/storeKey.ts';
import { FsStore } from '../../src/store/fsStore.ts';
import { openStore } from '../../src/store/openStore.ts';
import { readDatasetShard, scanDataset } from '../../src/data/dataset.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-keys-'));
});

test('names become one safe key segment; ordinary names are unchanged', () => {
  // Ordinary names: exactly the segments plans have always used.
  assert.equal(keySegment('brown-200.jsonl'), 'brown-200');
  assert.equal(keySegment('all-minilm-l6-v2'), 'all-minilm-l6-v2');
  assert.equal(keySegment('model.onnx'), 'model');
  assert.equal(keySegment('smollm2_135m.v1'), 'smollm2_135m');
  // Hostile ones.
  assert.equal(keySegment('..'), 'x');
  assert.equal(keySegment('.hidden'), 'x');
  assert.equal(keySegment('../../etc/passwd'), 'x', '(its "extension" ./etc/passwd dropped): still one safe segment');
  assert.equal(keySegment('..%2F..%2Fx.jsonl'), '2F..-2Fx', '`..` inside a segment is only characters');
  assert.equal(keySegment('a/b c\u0000d.jsonl'), 'a-b-c-d');
  assert.equal(keySegment('名前.jsonl'), 'x');
  assert.equal(keySegment('z'.repeat(500)).length, 48);
  assert.equal(idSegment('sweep-a-0123'), 'sweep-a-0123');
  assert.equal(idSegment('../x/y'), '_._x_y');
  assert.equal(idSegment('..'), '_.');
  for (const name of ['..', '.', 'a/b', '\u0000', '..jsonl', '. .jsonl', '-'.repeat(3)]) assert.doesNotThrow(() => checkKey(`evaluations/${keySegment(name)}-abc/${idSegment(name)}/plan.json`), name);
});

test('keys that climb out, have empty or dot segments, control characters or too many bytes are refused', () => {
  assert.equal(checkKey('evaluations/m-1/d-2/abc/plan.json'), 'evaluations/m-1/d-2/abc/plan.json');
  assert.doesNotThrow(() => checkKey('evaluations/m-1/shards/'), 'a listing prefix ends in /');
  for (const key of ['../x', 'a/../b', 'a/./b', '/abs/key', 'a//b', 'a\u0000b', 'a\nb', 'a\\b', 'k'.repeat(MAX_KEY_BYTES + 1)]) {
    assert.throws(() => checkKey(key), /invalid store key/, JSON.stringify(key.slice(0, 20)));
  }
});

test('both stores check every key: nothing is written outside a folder store, nothing sent for S3', async () => {
  const root = join(dir, 'store');
  const fs = new FsStore(root);
  await assert.rejects(fs.put('../escaped.json', new Uint8Array([1])), /invalid store key "\.\.\/escaped\.json": it has a \. or \.\. segment/);
  await assert.rejects(fs.put('a//b', new Uint8Array([1])), /empty segment/);
  assert.ok(!(await readdir(dir)).includes('escaped.json'), 'nothing written beside the store');
  await fs.put('ok/x.json', new Uint8Array([1]));
  assert.deepEqual(await fs.list(''), ['ok/x.json']);
  // The S3 store refuses before any request (there is no server at this endpoint).
  const prev = process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9';
  try {
    const s3 = openStore('s3://bucket/prefix');
    await assert.rejects(s3.put('../../other-prefix/x', new Uint8Array([1])), /invalid store key/);
    await assert.rejects(s3.exists('a/./b'), /invalid store key/);
  } finally {
    if (prev === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = prev;
  }
});

test('a row\'s field names are its own: __proto__, constructor and toString are columns, not inherited', async () => {
  const csv = join(dir, 'proto.csv');
  await writeFile(csv, '__proto__,constructor,text\nP1,C1,T1\nP2,,T2\n');
  const byProto = await scanDataset({ path: csv, template: '{__proto__}|{constructor}' }, 5);
  assert.deepEqual(await readDatasetShard({ path: csv, template: '{__proto__}|{constructor}' }, byProto.shards[0]), ['P1|C1', 'P2|']);
  assert.equal((await scanDataset({ path: csv, filter: { nonEmpty: ['constructor'] } }, 5)).rows, 1, 'nonEmpty reads the column');
  const jsonl = join(dir, 'plain.jsonl');
  await writeFile(jsonl, '{"text": "a"}\n{"text": "b"}\n');
  await assert.rejects(scanDataset({ path: jsonl, template: '{constructor}' }, 5), /plain\.jsonl line 1: field "constructor" is missing \(fields present: text\)/);
  await assert.rejects(scanDataset({ path: jsonl, filter: { nonEmpty: ['toString'] } }, 5), /no rows left after filtering/);
});
