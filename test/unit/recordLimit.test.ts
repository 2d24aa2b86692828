// Hostile rows: a JSONL line, CSV/TSV record or .txt file over the record bound fails with an
// InputError (non-retryable) naming the file and line, while the bound is passed — no V8
// RangeError, no multi-gigabyte string — and a record at the bound still reads.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readDatasetShard, scanDataset } from '../../src/data/dataset.ts';
import { DEFAULT_MAX_RECORD_BYTES } from '../../src/data/recordLimit.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-limit-'));
});

const line = (text: string) => JSON.stringify({ text });
/** A JSONL line of exactly `bytes` bytes (ASCII). */
const lineOf = (bytes: number) => line('x'.repeat(bytes - line('').length));

async function rejectsInput(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.equal(err.name, 'InputError', `${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('a JSONL line over the bound names the file and its line; one at the bound reads', async () => {
  const path = join(dir, 'long.jsonl');
  await writeFile(path, [line('a'), '', lineOf(1024), lineOf(1025), line('b')].join('\n') + '\n');
  await rejectsInput(scanDataset({ path }, 2, { maxRecordBytes: 1024 }), /long\.jsonl line 4: record is more than 1024 bytes, over the limit of 1024 \(maxRecordBytes/);
  const ok = await scanDataset({ path, limit: 2 }, 2, { maxRecordBytes: 1024 }); // stops before line 4
  assert.equal(ok.rows, 2);
  // gzip the same; and a shard that resumes after line 1 counts lines from there.
  const gz = join(dir, 'long.jsonl.gz');
  await writeFile(gz, gzipSync([line('a'), '', lineOf(1024), lineOf(1025), line('b')].join('\n') + '\n'));
  await rejectsInput(scanDataset({ path: gz }, 2, { maxRecordBytes: 1024 }), /long\.jsonl\.gz line 4: record is more than 1024 bytes/);
  const scan = await scanDataset({ path }, 1, { maxRecordBytes: 4096 });
  await rejectsInput(readDatasetShard({ path }, scan.shards[2], { maxRecordBytes: 1024 }), /long\.jsonl line 4: record is more than 1024/);
});

test('a line far over the default bound fails at the bound, not with a RangeError', async () => {
  // 40 MiB on one line (no newline at all): held whole it would be a 40 MiB string; the bound is 16 MiB.
  const path = join(dir, 'huge.jsonl');
  const out = createWriteStream(path);
  out.write(line('first') + '\n{"text": "');
  const chunk = 'y'.repeat(1 << 20);
  for (let i = 0; i < 40; i++) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  await rejectsInput(scanDataset({ path }, 4), new RegExp(`huge\\.jsonl line 2: record is more than ${DEFAULT_MAX_RECORD_BYTES} bytes`));
});

test('a CSV or TSV record over the bound names the file and line (a quoted field over many lines too)', async () => {
  const csv = join(dir, 'long.csv');
  const big = `"${'z'.repeat(700)}\n${'z'.repeat(700)}"`;
  await writeFile(csv, `id,text\n1,short\n2,${big}\n3,after\n`);
  await rejectsInput(scanDataset({ path: csv }, 2, { maxRecordBytes: 1024 }), /long\.csv line 3: record is more than 1024 bytes, over the limit of 1024/);
  assert.equal((await scanDataset({ path: csv }, 2, { maxRecordBytes: 4096 })).rows, 3, 'under a larger bound it reads');
  const tsv = join(dir, 'long.tsv');
  await writeFile(tsv, `id\ttext\n1\tshort\n2\t${'w'.repeat(2000)}\n`);
  await rejectsInput(scanDataset({ path: tsv }, 2, { maxRecordBytes: 1024 }), /long\.tsv line 3: record is more than 1024 bytes/);
});

test('a .txt file over the bound is refused by name before it is read', async () => {
  const folder = join(dir, 'texts');
  await mkdir(folder);
  await writeFile(join(folder, 'a.txt'), 'small');
  await writeFile(join(folder, 'b.txt'), 'q'.repeat(3000));
  await rejectsInput(scanDataset({ path: folder }, 2, { maxRecordBytes: 1024 }), /texts\/b\.txt: record is 3000 bytes, over the limit of 1024/);
});
