// A dataset in S3 (the real MinIO started by infra/services.sh) reads exactly as the same bytes on
// local disk: the same hash, the same shard plan, the same texts, in every format; a missing object
// fails with a clear "not found".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { tableFromArrays, tableToIPC, Table } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { InputError } from '../../src/errors.ts';
import { readDatasetShard, scanDataset, type DatasetScan, type DatasetSource } from '../../src/data/dataset.ts';
import { closeS3Sources, s3Source } from '../../src/data/s3ByteSource.ts';
import { ensureBucket, requireEnv } from '../helpers/services.ts';

requireEnv('AWS_ENDPOINT_URL');
const bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
const prefix = `datasets-test/${randomUUID()}`;
const SHARD = 6;

const FIELDS = ['instruction', 'context', 'text'] as const;
const ROWS = Array.from({ length: 29 }, (_, i) => ({
  instruction: `instr ${i} — é 漢字 🙂`,
  context: i % 3 === 0 ? '' : `context ${i}, "quoted"\nsecond line`,
  text: `text number ${i}`,
}));

// name in the bucket → bytes; '.txt' files go into a folder.
const FILES: Record<string, Uint8Array> = {};
let dir: string;
let s3: S3Client;

function arrowTable(): Table {
  const whole = tableFromArrays(Object.fromEntries(FIELDS.map((f) => [f, ROWS.map((r) => r[f])])));
  const batches = [];
  for (let i = 0; i < ROWS.length; i += 5) batches.push(...whole.slice(i, i + 5).batches);
  return new Table(batches);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-s3dataset-'));
  const jsonl = ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const csv = [FIELDS.join(','), ...ROWS.map((r) => FIELDS.map((f) => `"${r[f].replace(/"/g, '""')}"`).join(','))].join('\n') + '\n';
  FILES['d.jsonl'] = new TextEncoder().encode(jsonl);
  FILES['d.jsonl.gz'] = gzipSync(jsonl);
  FILES['d.csv.gz'] = gzipSync(csv);
  FILES['d.parquet'] = new Uint8Array(
    parquetWriteBuffer({ columnData: FIELDS.map((f) => ({ name: f, data: ROWS.map((r) => r[f]), type: 'STRING' as const })), rowGroupSize: 7 }),
  );
  FILES['d.arrow'] = tableToIPC(arrowTable(), 'file');
  FILES['d.arrows'] = tableToIPC(arrowTable(), 'stream');
  ROWS.forEach((r, i) => (FILES[`txt/doc-${String(i).padStart(3, '0')}.txt`] = new TextEncoder().encode(r.text)));

  await mkdir(join(dir, 'txt'));
  await ensureBucket(bucket);
  s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true });
  for (const [name, bytes] of Object.entries(FILES)) {
    await writeFile(join(dir, name), bytes);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${name}`, Body: bytes }));
  }
});

after(async () => {
  s3?.destroy();
  closeS3Sources();
  await rm(dir, { recursive: true, force: true });
});

async function readAll(source: DatasetSource, scan: DatasetScan): Promise<string[]> {
  const parts = [];
  for (const shard of scan.shards) parts.push(await readDatasetShard(source, JSON.parse(JSON.stringify(shard))));
  return parts.flat();
}

const CASES: Array<{ name: string; path: string; template: string; nonEmpty?: string[] }> = [
  { name: 'JSONL', path: 'd.jsonl', template: '{instruction}\n{context}' },
  { name: 'JSONL, gzip', path: 'd.jsonl.gz', template: '{instruction}\n{context}', nonEmpty: ['context'] },
  { name: 'CSV, gzip', path: 'd.csv.gz', template: '{text}: {context}' },
  { name: 'Parquet', path: 'd.parquet', template: '{instruction}\n{context}', nonEmpty: ['context'] },
  { name: 'Arrow IPC file', path: 'd.arrow', template: '{text}' },
  { name: 'Arrow IPC stream', path: 'd.arrows', template: '{text}' },
  { name: 'folder of .txt', path: 'txt', template: '{text}' },
];

for (const c of CASES) {
  test(`${c.name} in S3 has the same hash, shard plan and texts as the local file`, async () => {
    const selection = { template: c.template, ...(c.nonEmpty ? { filter: { nonEmpty: c.nonEmpty } } : {}) };
    const local: DatasetSource = { path: join(dir, c.path), ...selection };
    const remote: DatasetSource = { path: `s3://${bucket}/${prefix}/${c.path}`, ...selection };
    const [l, r] = [await scanDataset(local, SHARD), await scanDataset(remote, SHARD)];
    assert.equal(r.format, l.format);
    assert.equal(r.rows, l.rows);
    assert.equal(r.bytes, l.bytes);
    assert.equal(r.sha256, l.sha256);
    assert.deepEqual(r.shards, l.shards);
    assert.ok(r.shards.length >= 3, `several shards (${r.shards.length})`);
    const [lt, rt] = [await readAll(local, l), await readAll(remote, r)];
    assert.equal(rt.length, r.rows);
    assert.deepEqual(rt, lt);
  });
}

test('a folder URI with a trailing slash reads as the same folder', async () => {
  const scan = await scanDataset({ path: `s3://${bucket}/${prefix}/txt/` }, SHARD);
  assert.equal(scan.format, 'txt');
  assert.equal(scan.rows, ROWS.length);
  assert.equal((await readdir(join(dir, 'txt'))).length, ROWS.length);
});

test('a ranged read returns exactly the requested bytes, clipped at the end of the object', async () => {
  const source = s3Source(`s3://${bucket}/${prefix}/d.parquet`);
  const bytes = await readFile(join(dir, 'd.parquet'));
  assert.equal(await source.sizeBytes(), bytes.length);
  assert.deepEqual(Buffer.from(await source.slice(4, 100)), bytes.subarray(4, 100));
  assert.deepEqual(Buffer.from(await source.slice(bytes.length - 8, bytes.length + 50)), bytes.subarray(bytes.length - 8));
  assert.equal((await source.slice(bytes.length, bytes.length + 5)).length, 0);
  const tail = [];
  for await (const chunk of source.stream(bytes.length - 20)) tail.push(chunk);
  assert.deepEqual(Buffer.concat(tail), bytes.subarray(bytes.length - 20));
});

test('a missing S3 object is an InputError naming the URI', async () => {
  const uri = `s3://${bucket}/${prefix}/absent.jsonl`;
  await assert.rejects(scanDataset({ path: uri }, SHARD), (err: Error) => {
    assert.ok(err instanceof InputError, `InputError, got ${err.name}: ${err.message}`);
    assert.match(err.message, /not found/);
    assert.ok(err.message.includes(uri), err.message);
    return true;
  });
});

test('other URI schemes are refused with a message naming the supported ones', async () => {
  await assert.rejects(scanDataset({ path: 'gs://bucket/d.jsonl' }, SHARD), /only local paths and s3:\/\/ URIs/);
});
