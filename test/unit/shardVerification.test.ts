// What a shard reads is checked against the plan: every shard of a scanned dataset carries the
// sha256 of its texts; a worker reading other texts, another model file, or resuming over shards of
// another engine runtime fails with an error naming both hashes (or both runtimes) and the worker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanDataset } from '../../src/data/dataset.ts';
import { checkFileHash, checkShardTexts } from '../../src/eval/verifyShardInputs.ts';
import { checkRuntime, extractionRuntime } from '../../src/eval/extractionRuntime.ts';
import { FsStore } from '../../src/store/fsStore.ts';
import { keys } from '../../src/eval/plan.ts';
import { putJson } from '../../src/store/store.ts';
import { InputError } from '../../src/errors.ts';
import { sha256FileRemembered } from '../../src/model/externalData.ts';

let dir: string;
const texts = Array.from({ length: 7 }, (_, i) => `text ${i} "quoted" \n line`);
const worker = `${process.pid}@${hostname()}`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-verify-'));
  await writeFile(join(dir, 'd.jsonl'), texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** sha256 over each text JSON-encoded and newline-ended, computed here with node:crypto directly. */
function expectedHash(t: string[]): string {
  return createHash('sha256').update(t.map((x) => JSON.stringify(x) + '\n').join('')).digest('hex');
}

test('every planned shard carries the sha256 of its own texts', async () => {
  const scan = await scanDataset({ path: join(dir, 'd.jsonl') }, 3);
  assert.deepEqual(scan.shards.map((s) => s.sha256), [expectedHash(texts.slice(0, 3)), expectedHash(texts.slice(3, 6)), expectedHash(texts.slice(6))]);
});

test('a shard whose texts differ from the plan fails naming both hashes and the worker', async () => {
  const scan = await scanDataset({ path: join(dir, 'd.jsonl') }, 3);
  const shard = scan.shards[1];
  checkShardTexts('d.jsonl', shard, texts.slice(3, 6)); // the same texts pass
  const other = [texts[3], 'another copy', texts[5]];
  assert.throws(
    () => checkShardTexts('d.jsonl', shard, other),
    (err: Error) => err instanceof InputError && err.message.includes(expectedHash(other)) && err.message.includes(shard.sha256!) && err.message.includes(worker),
  );
});

test('a model file that differs from the planned one fails naming both hashes and the worker', async () => {
  const path = join(dir, 'model.onnx');
  await writeFile(path, 'the planned bytes');
  const planned = createHash('sha256').update('the planned bytes').digest('hex');
  await checkFileHash('model', path, planned, 's3://b/m/model.onnx');
  await writeFile(path, 'other bytes at the same path');
  const actual = createHash('sha256').update('other bytes at the same path').digest('hex');
  await assert.rejects(
    checkFileHash('model', path, planned, 's3://b/m/model.onnx'),
    (err: Error) => err instanceof InputError && err.message.includes(actual) && err.message.includes(planned) && err.message.includes(worker),
  );
});

test('resuming over shards of another runtime is refused with both named, unless allowed', async () => {
  const store = new FsStore(join(dir, 'store'));
  const prefix = 'evaluations/m/d/c';
  const mine = extractionRuntime(1);
  await checkRuntime(store, prefix, mine, { register: true, allowMixed: false });
  await checkRuntime(store, prefix, mine, { register: false, allowMixed: false }); // the same runtime again: fine
  const old = { ...mine, onnxruntime: '1.0.0-old' };
  await putJson(store, keys.runtime(prefix, 'f'.repeat(64)), old);
  await assert.rejects(
    checkRuntime(store, prefix, mine, { register: false, allowMixed: false }),
    (err: Error) => err instanceof InputError && err.message.includes('onnxruntime 1.0.0-old') && err.message.includes(`onnxruntime ${mine.onnxruntime}`) && err.message.includes('--allow-mixed-versions'),
  );
  await checkRuntime(store, prefix, mine, { register: false, allowMixed: true });
});

test('a model file hash is remembered by its stat fields, and a file changed in place is hashed again', async () => {
  const cache = join(dir, 'cache');
  const file = join(dir, 'big.onnx');
  const bytes = new Uint8Array(33 * 2 ** 20).map((_, i) => (i * 2654435761) >>> 24);
  await writeFile(file, bytes);
  const coreutils = () => execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
  assert.equal(await sha256FileRemembered(file, cache), coreutils());
  const remembered = await readdir(join(cache, 'hashes'));
  assert.equal(remembered.length, 1);
  assert.equal((await readFile(join(cache, 'hashes', remembered[0]), 'utf8')).trim(), coreutils());
  // Same bytes, same stat: the remembered value is what is returned (planted here to show it is read).
  await writeFile(join(cache, 'hashes', remembered[0]), 'f'.repeat(64) + '\n');
  assert.equal(await sha256FileRemembered(file, cache), 'f'.repeat(64));
  // Rewritten in place with the same size and its old mtime put back: the ctime still moved, so it is hashed again.
  const { mtime } = statSync(file);
  bytes[12345] ^= 0xff;
  await writeFile(file, bytes);
  await utimes(file, mtime, mtime);
  assert.equal(await sha256FileRemembered(file, cache), coreutils());
  assert.notEqual(coreutils(), 'f'.repeat(64));
});
