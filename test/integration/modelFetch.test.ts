// Models in S3 (real MinIO, as `npm test` starts it): a folder or an .onnx key is fetched into the
// cache byte for byte, atomically, once; a changed object is a new cache entry; bad locations are
// clear InputErrors; local locations pass through.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { InputError } from '../../src/errors.ts';
import { fetchModel, localModelFiles, type VersionedStore } from '../../src/model/modelFetch.ts';
import { TINY_PRESETS, tinyTransformer, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { checkTokenizerMatchesModel } from '../../src/model/vocabCheck.ts';
import { openStore } from '../../src/store/openStore.ts';
import { closeS3 } from '../../src/store/s3Store.ts';
import { ensureBucket, requireEnv } from '../helpers/services.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'entroscope-fetch-'));
const tiny = tinyTransformer(TINY_PRESETS['encoder-d32-l2']);
const tokenizerBytes = new TextEncoder().encode(tiny.tokenizerJson);
let bucket = '';
let base = '';

function assertSameBytes(path: string, expected: Uint8Array, message?: string): void {
  assert.ok(Buffer.from(readFileSync(path)).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)), message ?? `${path} differs from what was uploaded`);
}

/** The S3 store with ETags from HeadObject: what a store with `stat` gives fetchModel. */
function versioned(uri: string, s3: S3Client): VersionedStore {
  const store = openStore(uri);
  const [, b, ...rest] = uri.slice('s3://'.length).match(/^([^/]+)\/?(.*)$/) ?? [];
  const prefix = rest.join('');
  return Object.assign(Object.create(store) as VersionedStore, {
    async stat(key: string) {
      const res = await s3.send(new HeadObjectCommand({ Bucket: b, Key: prefix ? `${prefix}/${key}` : key }));
      return { etag: res.ETag, bytes: res.ContentLength };
    },
  });
}

describe('models in S3', () => {
  let s3: S3Client;
  before(async () => {
    requireEnv('AWS_ENDPOINT_URL');
    bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
    await ensureBucket(bucket);
    base = `s3://${bucket}/model-fetch-${Date.now()}-${randomBytes(3).toString('hex')}`;
    s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true });
    const folder = openStore(`${base}/tiny`);
    await folder.put('model.onnx', tiny.onnx);
    await folder.put('tokenizer.json', tokenizerBytes);
    const files = openStore(`${base}/files`);
    await files.put('tiny.onnx', tiny.onnx);
    await files.put('tiny-tokenizer.json', tokenizerBytes);
    await files.put('notes.txt', new TextEncoder().encode('not part of the model'));
  });
  after(() => {
    s3?.destroy();
    closeS3();
  });

  test('a folder is fetched byte for byte; a second fetch hits the cache', async () => {
    const files = await localModelFiles(`${base}/tiny/`, { cacheDir });
    assert.equal(files.name, 'tiny');
    assertSameBytes(files.onnxPath, tiny.onnx);
    assertSameBytes(files.tokenizerPath, tokenizerBytes);
    assert.ok(files.onnxPath.startsWith(join(cacheDir, 'models-s3')));
    const mtime = statSync(files.onnxPath).mtimeMs;
    const again = await fetchModel(`${base}/tiny/`, { cacheDir });
    assert.equal(again.cacheHit, true);
    assert.deepEqual(again.files, files);
    assert.equal(statSync(files.onnxPath).mtimeMs, mtime);
    // The fetched model is usable: its tokenizer matches its embedding.
    assert.equal(checkTokenizerMatchesModel(files.tokenizerPath, files.onnxPath).embedding?.rows, 128);
    // Atomic: no temp folder left behind.
    assert.deepEqual(readdirSync(join(cacheDir, 'models-s3')).filter((f) => f.startsWith('.tmp')), []);
  });

  test('an .onnx key with <stem>-tokenizer.json beside it', async () => {
    const files = await localModelFiles(`${base}/files/tiny.onnx`, { cacheDir });
    assert.equal(files.name, 'tiny');
    assertSameBytes(files.onnxPath, tiny.onnx);
    assert.ok(files.tokenizerPath.endsWith('tiny-tokenizer.json'));
    assert.ok(!existsSync(join(files.onnxPath, '..', 'notes.txt')), 'unrelated objects are not downloaded');
  });

  test('with ETags a cache hit downloads nothing, and a changed object is a new entry', async () => {
    const uri = `${base}/etag`;
    const store = versioned(uri, s3);
    await store.put('model.onnx', tiny.onnx);
    await store.put('tokenizer.json', tokenizerBytes);
    const first = await fetchModel(`${uri}/`, { cacheDir, store });
    assert.equal(first.cacheHit, false);
    assert.equal(first.downloadedBytes, tiny.onnx.length + tokenizerBytes.length);
    const second = await fetchModel(`${uri}/`, { cacheDir, store });
    assert.deepEqual([second.cacheHit, second.downloadedBytes, second.dir], [true, 0, first.dir]);
    const other = tinyTransformer(TINY_PRESETS['encoder-d64-l3']);
    await store.put('model.onnx', other.onnx);
    const third = await fetchModel(`${uri}/`, { cacheDir, store });
    assert.equal(third.cacheHit, false);
    assert.notEqual(third.dir, first.dir);
    assertSameBytes(third.files.onnxPath, other.onnx);
    assertSameBytes(first.files.onnxPath, tiny.onnx, 'the old entry is untouched');
  });

  test('a folder without a model or tokenizer, or a missing key, is an InputError naming it', async () => {
    const store = openStore(`${base}/no-tokenizer`);
    await store.put('model.onnx', tiny.onnx);
    await assert.rejects(fetchModel(`${base}/no-tokenizer/`, { cacheDir }), (e: Error) => e instanceof InputError && /no tokenizer JSON/.test(e.message));
    await assert.rejects(fetchModel(`${base}/empty/`, { cacheDir }), (e: Error) => e instanceof InputError && /no \.onnx file/.test(e.message));
    await assert.rejects(
      fetchModel(`${base}/files/absent.onnx`, { cacheDir }),
      (e: Error) => e instanceof InputError && e.message.includes(`${base}/files/absent.onnx`),
    );
    assert.deepEqual(readdirSync(join(cacheDir, 'models-s3')).filter((f) => f.startsWith('.tmp')), []);
  });

  test('a local folder passes through to resolveModelFiles', async () => {
    const m = writeTinyTransformer(join(cacheDir, 'local-model'), TINY_PRESETS['causal-d32-l2']);
    const files = await localModelFiles(join(cacheDir, 'local-model'));
    assert.deepEqual(files, { name: 'local-model', onnxPath: m.onnxPath, tokenizerPath: m.tokenizerPath });
  });
});
