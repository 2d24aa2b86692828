// A dataset's rows may come from anyone, so the images they name stay inside the dataset's folder
// (or the image root): `../`, absolute paths and other buckets are refused, naming the row and the
// image, unless the user allows them (`--allow-absolute-images`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.ts';
import { writeImageTextFixtures, type ImageFixtureSet } from '../../src/image/imageFixtures.ts';
import { readImageTextShard, scanImageTextDataset } from '../../src/data/imageTextDataset.ts';
import { resolveImageRef } from '../../src/data/imageSource.ts';

let dir: string;
let set: ImageFixtureSet;
let outside: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-imagepaths-'));
  set = await writeImageTextFixtures({ dir: join(dir, 'data'), count: 3, seed: 5, formats: ['png'] });
  // A real image outside the dataset's folder: reading it is possible, so only the rule refuses it.
  outside = join(dir, 'private', 'secret.png');
  await mkdir(join(dir, 'private'));
  await copyFile(join(set.dir, set.fixtures[0].image), outside);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejectsInput(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

async function rowsFile(name: string, images: string[]): Promise<string> {
  const path = join(set.dir, name);
  await writeFile(path, images.map((image, i) => JSON.stringify({ image, text: `caption ${i}` })).join('\n') + '\n');
  return path;
}

test('an image above the dataset folder or at an absolute path elsewhere is refused, naming row and image', async () => {
  const up = await rowsFile('up.jsonl', [set.fixtures[0].image, '../private/secret.png']);
  await rejectsInput(scanImageTextDataset({ path: up }, 2), /up\.jsonl line 2, image "\.\.\/private\/secret\.png": image "\.\.\/private\/secret\.png" is outside .*data \(the dataset's folder or --image-root\); give --allow-absolute-images/);
  const abs = await rowsFile('abs.jsonl', [outside]);
  await rejectsInput(scanImageTextDataset({ path: abs }, 2), /abs\.jsonl line 1, image ".*secret\.png": .* is outside/);
  const bucket = await rowsFile('bucket.jsonl', ['s3://someone-else/x.png']);
  await rejectsInput(scanImageTextDataset({ path: bucket }, 2), /bucket\.jsonl line 1, image "s3:\/\/someone-else\/x\.png": .* is outside/);
});

test('allowed by the user, the same rows read; an absolute path inside the folder needs no leave', async () => {
  const up = await rowsFile('up-ok.jsonl', [set.fixtures[0].image, '../private/secret.png', outside]);
  const scan = await scanImageTextDataset({ path: up, allowAbsoluteImages: true }, 2);
  assert.equal(scan.rows, 3);
  assert.equal(scan.source.allowAbsoluteImages, true, 'the plan records the leave, so shards read under it too');
  const rows = [...(await readImageTextShard(scan.source, scan.shards[0])), ...(await readImageTextShard(scan.source, scan.shards[1]))];
  assert.deepEqual(rows.map((r) => r.imageRef), [join(set.dir, set.fixtures[0].image), outside, outside]);
  // Without leave the plan's source has no such key (plans of ordinary datasets hash as before).
  const inside = await rowsFile('inside.jsonl', [join(set.dir, set.fixtures[1].image)]);
  const plain = await scanImageTextDataset({ path: inside }, 2);
  assert.equal(plain.rows, 1);
  assert.ok(!('allowAbsoluteImages' in plain.source));
});

test('with an image root, images stay inside the root, not the dataset folder', async () => {
  const root = join(set.dir, 'images');
  const inRoot = await rowsFile('rooted.jsonl', [set.fixtures[0].image.replace(/^images\//, '')]);
  assert.equal((await scanImageTextDataset({ path: inRoot, imageRoot: root }, 2)).rows, 1);
  const beside = await rowsFile('beside.jsonl', ['../up.jsonl']);
  await rejectsInput(scanImageTextDataset({ path: beside, imageRoot: root }, 2), /is outside .*images \(the dataset's folder or --image-root\)/);
});

test('in S3: the same bucket under the prefix is inside; another bucket, another prefix or a .. key is not', () => {
  const base = 's3://data/sets/a/';
  assert.equal(resolveImageRef('img/1.png', base, 'row 1'), 's3://data/sets/a/img/1.png');
  assert.equal(resolveImageRef('s3://data/sets/a/img/2.png', base, 'row 2'), 's3://data/sets/a/img/2.png');
  for (const ref of ['s3://data/sets/b/1.png', 's3://other/sets/a/1.png', 's3://data/sets/a/../b/1.png', '../b/1.png', '/etc/passwd']) {
    assert.throws(() => resolveImageRef(ref, base, 'row 3'), (err: Error) => err instanceof InputError && /row 3: image ".*" is outside s3:\/\/data\/sets\/a\//.test(err.message), ref);
    assert.doesNotThrow(() => resolveImageRef(ref, base, 'row 3', true), `${ref} with leave`);
  }
});
