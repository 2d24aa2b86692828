// The streamed reduction through S3 (the real MinIO started by infra/services.sh): sums equal the
// in-memory reduction bit for bit, small outputs (one PutObject) and large ones (multipart) alike,
// and a reduction that fails mid-upload leaves neither an object nor a pending multipart upload.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { HeadObjectCommand, ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { gramFromArrow, gramToArrow, sumPartials, type PartialGram } from '../../src/arrow/arrowGram.ts';
import { reduceGramFiles } from '../../src/eval/reduceGrams.ts';
import { openStore } from '../../src/store/openStore.ts';
import { closeS3 } from '../../src/store/s3Store.ts';
import { NotFoundError, type ObjectStore } from '../../src/store/store.ts';
import { ensureBucket, requireEnv } from '../helpers/services.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

requireEnv('AWS_ENDPOINT_URL');
const bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
const prefix = `reduce-test/${randomUUID()}`;
let store: ObjectStore;
let s3: S3Client;

before(async () => {
  await ensureBucket(bucket);
  store = openStore(`s3://${bucket}/${prefix}`);
  s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true });
});

after(() => {
  s3.destroy();
  closeS3();
});

function randomPartial(dim: number, seed: number): PartialGram {
  const rng = mulberry32(seed + 101);
  const s = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) s[i * dim + j] = s[j * dim + i] = gaussian(rng) * 10 ** Math.floor(rng() * 12 - 6);
  }
  return { dim, n: 5 + seed, s, covers: [{ start: seed * 100, end: seed * 100 + 100 }], layer: 'last' };
}

const bytesOf = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** A store whose streamed writes fail once `failAfterBytes` bytes of the body have passed. */
function failingWrites(inner: ObjectStore, failAfterBytes: number): ObjectStore {
  return {
    uri: inner.uri,
    put: (k, b) => inner.put(k, b),
    get: (k) => inner.get(k),
    getStream: (k) => inner.getStream(k),
    exists: (k) => inner.exists(k),
    list: (p) => inner.list(p),
    uriOf: (k) => inner.uriOf(k),
    putStream: (k, body) =>
      inner.putStream(
        k,
        (async function* () {
          let bytes = 0;
          for await (const chunk of body) {
            bytes += chunk.byteLength;
            if (bytes > failAfterBytes) throw new Error('injected upload fault');
            yield chunk;
          }
        })(),
      ),
  };
}

async function pendingUploads(key: string): Promise<number> {
  const res = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `${prefix}/${key}` }));
  return (res.Uploads ?? []).length;
}

test('streamed get and put round-trip through S3; a missing key fails as not found', async () => {
  const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array([4])];
  await store.putStream('rt/x', (async function* () { yield* chunks; })());
  const back: number[] = [];
  for await (const c of await store.getStream('rt/x')) back.push(...c);
  assert.deepEqual(back, [1, 2, 3, 4]);
  await assert.rejects(store.getStream('rt/missing'), NotFoundError);
});

test('reduction through S3 equals sumPartials bit for bit (one PutObject, d = 130, k = 3)', async () => {
  const parts = [0, 1, 2].map((i) => randomPartial(130, i));
  const keys = parts.map((_, i) => `small/p${i}`);
  for (let i = 0; i < parts.length; i++) await store.put(keys[i], gramToArrow(parts[i]));
  const header = await reduceGramFiles(store, keys, 'small/sum');
  const expected = sumPartials(parts, 'expected');
  const got = gramFromArrow(await store.get('small/sum'), 'small/sum');
  assert.ok(bytesOf(got.s).equals(bytesOf(expected.s)));
  assert.deepEqual(header, { dim: 130, layer: 'last', n: expected.n, covers: [{ start: 0, end: 300 }] });
});

test('reduction through S3 equals sumPartials bit for bit (multipart upload, d = 1024, k = 2)', async () => {
  const parts = [0, 1].map((i) => randomPartial(1024, i)); // 8 MiB each: the output takes 2 parts
  const keys = parts.map((_, i) => `large/p${i}`);
  for (let i = 0; i < parts.length; i++) await store.put(keys[i], gramToArrow(parts[i]));
  let batches = 0;
  await reduceGramFiles(store, keys, 'large/sum', { onBatch: () => batches++ });
  assert.equal(batches, 16);
  const got = gramFromArrow(await store.get('large/sum'), 'large/sum');
  assert.ok(bytesOf(got.s).equals(bytesOf(sumPartials(parts, 'expected').s)));
  assert.equal(await pendingUploads('large/sum'), 0);
  // A multipart object's ETag ends in -<parts>: the output really went up in parts.
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefix}/large/sum` }));
  assert.match(head.ETag ?? '', /-2"?$/);
});

test('a reduction failing mid-upload leaves no object and no pending multipart upload', async () => {
  const parts = [0, 1].map((i) => randomPartial(1024, i + 10));
  const keys = parts.map((_, i) => `abort/p${i}`);
  for (let i = 0; i < parts.length; i++) await store.put(keys[i], gramToArrow(parts[i]));
  // After 6 MiB (a 5 MiB part already on its way) and after 1 MiB (before any part is full).
  for (const failAfter of [6 * 2 ** 20, 2 ** 20]) {
    const out = `abort/sum-${failAfter}`;
    await assert.rejects(reduceGramFiles(failingWrites(store, failAfter), keys, out), /injected upload fault/);
    assert.equal(await store.exists(out), false);
    assert.equal(await pendingUploads(out), 0, 'the multipart upload was aborted');
  }
  // A corrupt input is found mid-stream, after parts of the output went up: same outcome.
  const bad = gramToArrow(parts[1]);
  const at = Buffer.from(bad).lastIndexOf(bytesOf(parts[1].s.subarray(1000 * 1024 + 7, 1000 * 1024 + 8)));
  bad[at] ^= 1;
  await store.put('abort/bad', bad);
  await assert.rejects(
    reduceGramFiles(store, ['abort/p0', 'abort/bad'], 'abort/sum-bad'),
    new RegExp(`${store.uriOf('abort/bad')}: checksum mismatch in matrix rows 960…1023`),
  );
  assert.equal(await store.exists('abort/sum-bad'), false);
  assert.equal(await pendingUploads('abort/sum-bad'), 0);
});
