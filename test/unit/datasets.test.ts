// One logical dataset written in every supported format must read as the same texts with the same
// shard plan; selection (template, filter, limit, sample) behaves the same everywhere; malformed
// input fails with an InputError that says where.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { tableFromArrays, tableToIPC, Table } from 'apache-arrow';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { InputError } from '../../src/errors.ts';
import { readDatasetShard, scanDataset, type DatasetScan, type DatasetSource } from '../../src/data/dataset.ts';

interface Row {
  instruction: string;
  context: string;
  response: string;
  text: string;
}

// Awkward on purpose: commas, quotes, tabs, newlines (LF and CRLF), non-ASCII, empty fields.
const ROWS: Row[] = Array.from({ length: 23 }, (_, i) => {
  const context = i % 3 === 0 ? '' : i % 5 === 0 ? `ctx ${i}, "quoted"\nsecond line` : `context ${i}\twith tab`;
  return {
    instruction: `instr ${i} — é 漢字 🙂`,
    context,
    response: i % 4 === 0 ? `resp ${i}\r\nwith crlf` : `resp ${i}`,
    text: `text number ${i}${i % 7 === 0 ? '\nline two, "q"' : ''}`,
  };
});
const FIELDS = ['instruction', 'context', 'response', 'text'] as const;

let dir: string;
const paths: Record<string, string> = {};

function quoteCsv(value: string, delimiter: string): string {
  return /["\r\n]/.test(value) || value.includes(delimiter) ? `"${value.replace(/"/g, '""')}"` : value;
}

function delimited(delimiter: string, eol = '\n'): string {
  const lines = [FIELDS.join(delimiter), ...ROWS.map((r) => FIELDS.map((f) => quoteCsv(r[f], delimiter)).join(delimiter))];
  return lines.join(eol) + eol;
}

function arrowTable(): Table {
  const whole = tableFromArrays(Object.fromEntries(FIELDS.map((f) => [f, ROWS.map((r) => r[f])])));
  // Several record batches of 5 rows, so shards start inside batches.
  const batches = [];
  for (let i = 0; i < ROWS.length; i += 5) batches.push(...whole.slice(i, i + 5).batches);
  return new Table(batches);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-datasets-'));
  const jsonl = ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n\n'; // trailing blank line
  paths.jsonl = join(dir, 'd.jsonl');
  await writeFile(paths.jsonl, jsonl);
  paths.jsonlGz = join(dir, 'd.jsonl.gz');
  await writeFile(paths.jsonlGz, gzipSync(jsonl));
  paths.jsonlGzNoSuffix = join(dir, 'magic.jsonl'); // gzip recognised by its magic bytes
  await writeFile(paths.jsonlGzNoSuffix, gzipSync(jsonl));
  paths.csv = join(dir, 'd.csv');
  await writeFile(paths.csv, '\ufeff' + delimited(',', '\r\n')); // BOM and CRLF, as spreadsheets write
  paths.csvGz = join(dir, 'd.csv.gz');
  await writeFile(paths.csvGz, gzipSync(delimited(',')));
  paths.tsv = join(dir, 'd.tsv');
  await writeFile(paths.tsv, delimited('\t'));
  paths.parquet = join(dir, 'd.parquet');
  const pq = parquetWriteBuffer({
    columnData: FIELDS.map((f) => ({ name: f, data: ROWS.map((r) => r[f]), type: 'STRING' as const })),
    rowGroupSize: 7,
  });
  await writeFile(paths.parquet, new Uint8Array(pq));
  paths.arrowFile = join(dir, 'd.arrow');
  await writeFile(paths.arrowFile, tableToIPC(arrowTable(), 'file'));
  paths.arrowStream = join(dir, 'd.arrows');
  await writeFile(paths.arrowStream, tableToIPC(arrowTable(), 'stream'));
  paths.txt = join(dir, 'txt');
  await mkdir(paths.txt);
  await Promise.all(ROWS.map((r, i) => writeFile(join(paths.txt, `doc-${String(i).padStart(3, '0')}.txt`), r.text)));
  await writeFile(join(paths.txt, 'README.md'), 'not a .txt file: ignored');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const FORMATS = ['jsonl', 'jsonlGz', 'jsonlGzNoSuffix', 'csv', 'csvGz', 'tsv', 'parquet', 'arrowFile', 'arrowStream'] as const;
const ALL = [...FORMATS, 'txt'] as const;

async function readAll(source: DatasetSource, scan: DatasetScan): Promise<string[]> {
  const parts = [];
  for (const shard of scan.shards) {
    // Round-trip through JSON, as a plan stored in the object store would.
    parts.push(await readDatasetShard(source, JSON.parse(JSON.stringify(shard))));
  }
  return parts.flat();
}

function plan(scan: DatasetScan): [number, number][] {
  return scan.shards.map((s) => [s.startRow, s.rows]);
}

/** [startRow, rows] of consecutive shards of `size` over `n` rows. */
function expectedPlan(n: number, size: number): [number, number][] {
  return Array.from({ length: Math.ceil(n / size) }, (_, i) => [i * size, Math.min(size, n - i * size)]);
}

test('every format reads the same texts with the same shard plan', async () => {
  const expected = ROWS.map((r) => r.text);
  for (const shardSize of [1, 4, 100]) {
    for (const name of ALL) {
      const source = { path: paths[name] };
      const scan = await scanDataset(source, shardSize);
      assert.equal(scan.rows, ROWS.length, name);
      assert.deepEqual(plan(scan), expectedPlan(ROWS.length, shardSize), `${name} shardSize ${shardSize}`);
      assert.deepEqual(await readAll(source, scan), expected, `${name} shardSize ${shardSize}`);
    }
  }
});

test('the format is inferred from the extension, gzip from the suffix or the magic bytes', async () => {
  const formats = await Promise.all(ALL.map(async (name) => (await scanDataset({ path: paths[name] }, 8)).format));
  assert.deepEqual(formats, ['jsonl', 'jsonl', 'jsonl', 'csv', 'csv', 'tsv', 'parquet', 'arrow', 'arrow', 'txt']);
});

test('the content hash is the sha256 of the stored bytes and changes with them', async () => {
  for (const name of ['jsonl', 'jsonlGz', 'parquet', 'arrowFile'] as const) {
    const scan = await scanDataset({ path: paths[name] }, 8);
    const bytes = await readFile(paths[name]);
    assert.equal(scan.sha256, createHash('sha256').update(bytes).digest('hex'), name);
    assert.equal(scan.bytes, bytes.length, name);
  }
  const changed = join(dir, 'changed.jsonl');
  await writeFile(changed, (await readFile(paths.jsonl, 'utf8')).replace('text number 1', 'text number one'));
  assert.notEqual((await scanDataset({ path: changed }, 8)).sha256, (await scanDataset({ path: paths.jsonl }, 8)).sha256);
  const txtA = await scanDataset({ path: paths.txt }, 8);
  assert.equal((await scanDataset({ path: paths.txt }, 8)).sha256, txtA.sha256);
  assert.equal(txtA.bytes, ROWS.reduce((n, r) => n + Buffer.byteLength(r.text), 0));
});

test('a template over fields with a non-empty filter gives the same texts in every tabular format', async () => {
  const template = '{instruction}\n{context}\n{response}';
  const expected = ROWS.filter((r) => r.context.trim() !== '').map((r) => `${r.instruction}\n${r.context}\n${r.response}`);
  assert.ok(expected.length > 0 && expected.length < ROWS.length);
  for (const name of FORMATS) {
    const source: DatasetSource = { path: paths[name], template, filter: { nonEmpty: ['context'] } };
    const scan = await scanDataset(source, 3);
    assert.equal(scan.rows, expected.length, name);
    assert.equal(scan.eligible, expected.length, name);
    assert.equal(scan.recordsRead, ROWS.length, name);
    assert.deepEqual(plan(scan), expectedPlan(expected.length, 3), name);
    assert.deepEqual(await readAll(source, scan), expected, name);
  }
});

test('limit keeps the first rows after filtering', async () => {
  const expected = ROWS.filter((r) => r.context.trim() !== '').slice(0, 5).map((r) => r.response);
  for (const name of FORMATS) {
    const source: DatasetSource = { path: paths[name], textField: 'response', filter: { nonEmpty: ['context'] }, limit: 5 };
    const scan = await scanDataset(source, 2);
    assert.deepEqual(plan(scan), [[0, 2], [2, 2], [4, 1]], name);
    assert.deepEqual(await readAll(source, scan), expected, name);
  }
  const scan = await scanDataset({ path: paths.jsonl, limit: 1000 }, 10);
  assert.equal(scan.rows, ROWS.length, 'a limit above the row count keeps everything');
});

test('seeded sampling is deterministic, order-preserving, of the asked size, and the same in every format', async () => {
  const all = ROWS.map((r) => r.text);
  const pick = async (name: (typeof ALL)[number], seed: number, count = 9) => {
    const source: DatasetSource = { path: paths[name], sample: { count, seed } };
    const scan = await scanDataset(source, 4);
    assert.equal(scan.rows, count);
    return readAll(source, scan);
  };
  const a = await pick('jsonl', 7);
  assert.equal(a.length, 9);
  assert.deepEqual(await pick('jsonl', 7), a, 'same seed, same subset');
  const idx = a.map((t) => all.indexOf(t));
  assert.deepEqual(idx, [...idx].sort((x, y) => x - y), 'file order is kept');
  assert.notDeepEqual(await pick('jsonl', 8), a, 'another seed, another subset');
  for (const name of ALL) assert.deepEqual(await pick(name, 7), a, name);
  // A sample as large as the data keeps everything.
  assert.deepEqual(await pick('csv', 7, 23), all);
  const big = await scanDataset({ path: paths.jsonl, sample: { count: 50, seed: 1 } }, 4);
  assert.equal(big.rows, 23);
});

test('sampling applies after the filter and before the limit', async () => {
  const eligible = ROWS.filter((r) => r.context.trim() !== '').map((r) => r.text);
  const source: DatasetSource = { path: paths.parquet, filter: { nonEmpty: ['context'] }, sample: { count: 6, seed: 3 } };
  const sampled = await readAll(source, await scanDataset(source, 4));
  assert.equal(sampled.length, 6);
  for (const t of sampled) assert.ok(eligible.includes(t));
  const limited = { ...source, limit: 4 };
  assert.deepEqual(await readAll(limited, await scanDataset(limited, 4)), sampled.slice(0, 4));
});

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected an InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('a bad JSON line is an InputError naming the file and line', async () => {
  const path = join(dir, 'bad.jsonl');
  await writeFile(path, '{"text":"a"}\n\n{"text": oops}\n{"text":"c"}\n');
  await rejects(scanDataset({ path }, 2), /bad\.jsonl line 3: not valid JSON/);
  const gz = join(dir, 'bad.jsonl.gz');
  await writeFile(gz, gzipSync('{"text":"a"}\n[1,2]\n'));
  await rejects(scanDataset({ path: gz }, 2), /bad\.jsonl\.gz line 2: expected a JSON object, got an array/);
});

test('a ragged CSV row is an InputError naming the record and line', async () => {
  const path = join(dir, 'ragged.csv');
  await writeFile(path, 'text,label\n"a",1\n"multi\nline",2\nc\nd,4\n');
  await rejects(scanDataset({ path }, 2), /ragged\.csv record 3 \(line 5\): 1 field, but the header has 2/);
  const tsv = join(dir, 'ragged.tsv');
  await writeFile(tsv, 'text\tlabel\na\t1\tx\n');
  await rejects(scanDataset({ path: tsv }, 2), /ragged\.tsv record 1 \(line 2\): 3 fields/);
  const unclosed = join(dir, 'unclosed.csv');
  await writeFile(unclosed, 'text\n"open\n');
  await rejects(scanDataset({ path: unclosed }, 2), /unclosed\.csv/);
});

test('a missing column is an InputError naming it and listing the columns present', async () => {
  for (const name of ['parquet', 'arrowFile', 'arrowStream', 'csv'] as const) {
    await rejects(
      scanDataset({ path: paths[name], template: '{instruction} {title}' }, 4),
      /column "title" not found \(columns present: instruction, context, response, text\)/,
    );
  }
  await rejects(scanDataset({ path: paths.parquet, filter: { nonEmpty: ['ctx'] } }, 4), /column "ctx" not found/);
  await rejects(scanDataset({ path: paths.txt, textField: 'body' }, 4), /only the fields "text" and "name", not "body"/);
});

test('a template naming a field absent from a JSONL row names the field and the row', async () => {
  const path = join(dir, 'absent.jsonl');
  await writeFile(path, '{"q":"a","a":"b"}\n{"q":"c"}\n');
  await rejects(scanDataset({ path, template: 'Q: {q}\nA: {a}' }, 4), /absent\.jsonl line 2: field "a" is missing \(fields present: q\)/);
  await rejects(scanDataset({ path, template: 'Q: {q' }, 4), /unclosed or empty "\{"/);
});

test('an empty selection is an InputError', async () => {
  const path = join(dir, 'empties.jsonl');
  await writeFile(path, '{"text":"a","context":""}\n{"text":"b","context":"  "}\n{"text":"c","context":null}\n');
  await rejects(scanDataset({ path, filter: { nonEmpty: ['context'] } }, 4), /no rows left after filtering \(nonEmpty: context; 3 read/);
  const blank = join(dir, 'blank.jsonl');
  await writeFile(blank, '\n\n');
  await rejects(scanDataset({ path: blank }, 4), /has no rows/);
  await rejects(scanDataset({ path: join(dir, 'nope.jsonl') }, 4), /dataset not found/);
  await rejects(scanDataset({ path: join(dir, 'd.xyz') }, 4), /cannot tell the format/);
  await rejects(scanDataset({ path: paths.jsonl, limit: 0 }, 4), /limit must be a positive integer/);
});

test('a shard read after the file changed is an InputError, not silently wrong', async () => {
  const path = join(dir, 'shrinks.jsonl');
  await writeFile(path, '{"text":"a"}\n{"text":"b"}\n{"text":"c"}\n');
  const scan = await scanDataset({ path }, 2);
  await writeFile(path, '{"text":"a"}\n{"text":"b"}\n');
  await rejects(readDatasetShard({ path }, scan.shards[1]), /expected 1 rows, found 0/);
});
