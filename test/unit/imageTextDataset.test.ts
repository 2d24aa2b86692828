// Image-text datasets: the three row forms (plain, LLaVA conversations, cc_sbu_align captions) read
// the same rows and images from generated fixtures, shards cover the selection, the content hash
// follows the images' bytes, and bad rows or images fail with errors naming the file and the row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, readFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { InputError } from '../../src/errors.ts';
import { writeImageTextFixtures, renderScene, LLAVA_HUMAN_PROMPT, type ImageFixtureSet } from '../fixtures/imageFixtures.ts';
import { loadImage, readImageTextShard, scanImageTextDataset, type ImageTextRow, type ImageTextSource } from '../../src/data/imageTextDataset.ts';

const COUNT = 7;
let dir: string;
let set: ImageFixtureSet;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-imagetext-'));
  set = await writeImageTextFixtures({ dir, count: COUNT, seed: 17, formats: ['png', 'webp'] });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(source: ImageTextSource, shardSize = 3): Promise<ImageTextRow[]> {
  const scan = await scanImageTextDataset(source, shardSize);
  const rows: ImageTextRow[] = [];
  for (const shard of scan.shards) rows.push(...(await readImageTextShard(scan.source, shard)));
  assert.equal(rows.length, scan.rows);
  return rows;
}

async function rejectsInput(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('plain JSONL rows give the captions and images, in shards of the selection', async () => {
  const scan = await scanImageTextDataset({ path: set.jsonl }, 3);
  assert.deepEqual([scan.form, scan.format, scan.rows, scan.images], ['plain', 'jsonl', COUNT, COUNT]);
  assert.deepEqual(scan.shards.map((s) => [s.startRow, s.rows]), [[0, 3], [3, 3], [6, 1]]);
  const rows = await readAll({ path: set.jsonl });
  assert.deepEqual(rows.map((r) => r.text), set.fixtures.map((f) => f.caption));
  assert.deepEqual(rows.map((r) => r.row), [...Array(COUNT).keys()]);
  for (const [i, r] of rows.entries()) {
    assert.equal(r.imageRef, join(dir, set.fixtures[i].image));
    assert.match(r.where, new RegExp(`data\\.jsonl line ${i + 1}, image "${set.fixtures[i].image}"`));
    // PNG and lossless WebP: the decoded pixels are the rendered scene.
    assert.deepEqual((await loadImage(r.imageRef, r.where)).data, renderScene(set.fixtures[i]).data);
  }
});

test('LLaVA detail_23k (JSON and JSONL) gives the gpt turn as text and the human turn as prompt', async () => {
  for (const path of [set.llavaJson, set.llavaJsonl]) {
    const rows = await readAll({ path });
    assert.deepEqual(rows.map((r) => r.text), set.fixtures.map((f) => f.caption), path);
    assert.ok(rows.every((r) => r.prompt === LLAVA_HUMAN_PROMPT), path);
    assert.deepEqual(rows.map((r) => r.imageRef), set.fixtures.map((f) => join(dir, f.image)));
  }
  const scan = await scanImageTextDataset({ path: set.llavaJson }, 100);
  assert.deepEqual([scan.form, scan.format], ['llava', 'json']);
});

test('cc_sbu_align captions (filter_cap.json and JSONL) find image/{image_id}.jpg', async () => {
  for (const path of [set.ccSbuJson, set.ccSbuJsonl]) {
    const rows = await readAll({ path }, 2);
    assert.deepEqual(rows.map((r) => r.text), set.fixtures.map((f) => f.caption));
    assert.deepEqual(rows.map((r) => r.image), set.fixtures.map((_, i) => `image/${i}.jpg`));
    const img = await loadImage(rows[0].imageRef, rows[0].where);
    assert.deepEqual([img.width, img.height], [32, 32]);
  }
  assert.match((await readAll({ path: set.ccSbuJson }))[2].where, /filter_cap\.json annotations\[2\], image "image\/2\.jpg"/);
});

test('Parquet with custom fields, an image root, limit and sample select like text datasets', async () => {
  const parquet = join(dir, 'sub', 'pairs.parquet');
  await mkdir(join(dir, 'sub'), { recursive: true });
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'picture', data: set.fixtures.map((f) => f.image), type: 'STRING' },
      { name: 'caption', data: set.fixtures.map((f) => f.caption), type: 'STRING' },
    ],
  });
  await writeFile(parquet, new Uint8Array(buf));
  const rows = await readAll({ path: parquet, imageField: 'picture', textField: 'caption', imageRoot: dir, limit: 5 }, 2);
  assert.deepEqual(rows.map((r) => r.text), set.fixtures.slice(0, 5).map((f) => f.caption));
  assert.equal(rows[4].imageRef, join(dir, set.fixtures[4].image));
  const sampled = await readAll({ path: set.jsonl, sample: { count: 3, seed: 5 } }, 2);
  assert.equal(sampled.length, 3);
  assert.deepEqual(sampled, [...sampled].sort((a, b) => a.row - b.row));
  const captions = new Set(set.fixtures.map((f) => f.caption));
  assert.ok(sampled.every((r) => captions.has(r.text)));
});

test('the content hash covers the images: same rows, changed image bytes, new hash', async () => {
  const copyDir = await mkdtemp(join(tmpdir(), 'entroscope-imagetext-copy-'));
  try {
    const copy = await writeImageTextFixtures({ dir: copyDir, count: COUNT, seed: 17, formats: ['png', 'webp'] });
    const a = await scanImageTextDataset({ path: set.jsonl }, 4);
    const b = await scanImageTextDataset({ path: copy.jsonl }, 4);
    assert.equal(a.contentSha256, b.contentSha256, 'same content in another folder, same address');
    await copyFile(join(copyDir, copy.fixtures[1].image), join(copyDir, copy.fixtures[0].image));
    const c = await scanImageTextDataset({ path: copy.jsonl }, 4);
    assert.equal(c.sha256, a.sha256, 'the JSONL is unchanged');
    assert.notEqual(c.imagesSha256, a.imagesSha256);
    assert.notEqual(c.contentSha256, a.contentSha256);
  } finally {
    await rm(copyDir, { recursive: true, force: true });
  }
});

test('a missing image, a row without the image field and a truncated PNG name the file and row', async () => {
  const lines = (await readFile(set.jsonl, 'utf8')).trimEnd().split('\n');
  const missing = join(dir, 'missing.jsonl');
  await writeFile(missing, [lines[0], JSON.stringify({ image: 'images/nope.png', text: 'a red circle' })].join('\n'));
  await rejectsInput(scanImageTextDataset({ path: missing }, 4), /missing\.jsonl line 2, image "images\/nope\.png": image file not found: .*images\/nope\.png/);

  const noField = join(dir, 'nofield.jsonl');
  await writeFile(noField, [lines[0], lines[1], JSON.stringify({ text: 'a red circle' })].join('\n'));
  await rejectsInput(scanImageTextDataset({ path: noField }, 4), /nofield\.jsonl line 3: field "image" is missing \(fields present: text\)/);

  const png = await readFile(join(dir, set.fixtures[0].image));
  await writeFile(join(dir, 'images', 'cut.png'), png.subarray(0, png.length - 20));
  const truncated = join(dir, 'truncated.jsonl');
  await writeFile(truncated, [lines[1], JSON.stringify({ image: 'images/cut.png', text: 'a red circle' })].join('\n'));
  const scan = await scanImageTextDataset({ path: truncated }, 4); // planning reads bytes, does not decode
  const [, row] = await readImageTextShard(scan.source, scan.shards[0]);
  await rejectsInput(loadImage(row.imageRef, row.where), /truncated\.jsonl line 2, image "images\/cut\.png": cannot decode PNG image/);

  const badTurns = join(dir, 'badturns.jsonl');
  await writeFile(badTurns, JSON.stringify({ id: '1', image: 'images/0000.png', conversations: [{ from: 'human', value: '<image>' }] }));
  await rejectsInput(scanImageTextDataset({ path: badTurns }, 4), /badturns\.jsonl line 1: conversations has no "gpt" turn/);
  await rejectsInput(scanImageTextDataset({ path: set.jsonl, form: 'llava', imageField: 'x' }, 4), /imageField apply only to form plain/);
});
