// `entroscope spectrum` (cli/commands/spectrum.ts) run as a real process on files in a temp folder:
// its JSON equals the metrics core on the same matrix, it reproduces the golden numpy values, and every
// bad input exits non-zero with a message naming the file and the problem.
import * as A from 'apache-arrow';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeNpy, writeNpyArray } from '../../src/io/npy.ts';
import { alphaReq } from '../../src/metrics/alphaReq.ts';
import { sampleMetrics } from '../../src/metrics/sampleMetrics.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

const BIN = fileURLToPath(new URL('../../bin/entroscope.js', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'spectrum', ...args], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs CLI calls two at a time (each process spends most of its time loading modules). */
async function cliAll(calls: string[][]): Promise<CliResult[]> {
  const out: CliResult[] = new Array(calls.length);
  let next = 0;
  const lane = async () => {
    while (next < calls.length) {
      const i = next++;
      out[i] = await cli(...calls[i]);
    }
  };
  await Promise.all([lane(), lane()]);
  return out;
}

function json(r: CliResult): Record<string, unknown> {
  assert.equal(r.code, 0, `exit code 0 expected; stderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** 1e-9 relative, or 1e-12 absolute near zero (DESIGN §1). */
function assertClose(actual: unknown, expected: number, what: string): void {
  assert.ok(typeof actual === 'number' && Number.isFinite(actual), `${what}: got ${actual}, expected ${expected}`);
  const diff = Math.abs(actual - expected);
  assert.ok(diff <= 1e-12 || diff <= 1e-9 * Math.abs(expected), `${what}: got ${actual}, expected ${expected} (diff ${diff.toExponential(2)})`);
}

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  return Float64Array.from({ length: rows * cols }, () => gaussian(rng));
}

/** Arrow IPC file of X: rows×cols as one FixedSizeList<float64> column, split into two record batches. */
function listArrow(x: Float64Array, rows: number, cols: number): Uint8Array {
  const listType = new A.FixedSizeList(cols, new A.Field('v', new A.Float64(), false));
  const schema = new A.Schema([new A.Field('hidden', listType, false)]);
  const batch = (r0: number, r1: number) => {
    const n = r1 - r0;
    const values = x.slice(r0 * cols, r1 * cols);
    const list = A.makeData({ type: listType, length: n, child: A.makeData({ type: new A.Float64(), length: n * cols, data: values }) });
    return new A.RecordBatch(schema, A.makeData({ type: new A.Struct(schema.fields), length: n, children: [list] }));
  };
  const half = Math.floor(rows / 2);
  return A.RecordBatchFileWriter.writeAll([batch(0, half), batch(half, rows)]).toUint8Array(true);
}

/** Arrow IPC file of X: rows×cols as one float32 column per hidden dimension. */
function wideArrow(x: Float32Array, rows: number, cols: number): Uint8Array {
  const columns: Record<string, A.Vector> = {};
  for (let j = 0; j < cols; j++) {
    columns[`h${j}`] = A.makeVector(Float32Array.from({ length: rows }, (_, i) => x[i * cols + j]));
  }
  return A.tableToIPC(new A.Table(columns), 'file');
}

/** A .npy file with an arbitrary header dict and data bytes. */
function rawNpy(header: string, data: Uint8Array): Uint8Array {
  const h = header + ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  out.set(data, 10 + h.length);
  return out;
}

const f8 = (values: number[]) => new Uint8Array(Float64Array.from(values).buffer);

interface GoldenSample { rows: number; cols: number; data: number[] }
interface Golden {
  cases: (GoldenSample & { name: string; expected: Record<string, number | boolean> })[];
  dataset: { samples: GoldenSample[]; expected: Record<string, number> & { perSample: Record<string, number | boolean>[] } };
}
const golden: Golden = JSON.parse(readFileSync(new URL('../golden/metric-cases.json', import.meta.url), 'utf8'));

const dir = mkdtempSync(join(tmpdir(), 'entroscope-spectrum-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const path = (name: string) => join(dir, name);

describe('spectrum --json on one file equals sampleMetrics on the same matrix', () => {
  const rows = 40;
  const cols = 24;
  const x64 = randomMatrix(rows, cols, 7);
  const x32 = Float32Array.from(x64);
  let results: CliResult[];

  before(async () => {
    writeFileSync(path('x64.npy'), writeNpy(x64, rows, cols));
    writeFileSync(path('x32.npy'), writeNpy(x32, rows, cols));
    writeFileSync(path('list.arrow'), listArrow(x64, rows, cols));
    writeFileSync(path('wide.arrow'), wideArrow(x32, rows, cols));
    const layers = new Float64Array(3 * rows * cols);
    layers.set(randomMatrix(rows, cols, 1), 0);
    layers.set(x64, rows * cols);
    layers.set(randomMatrix(rows, cols, 2), 2 * rows * cols);
    writeFileSync(path('layers.npy'), writeNpyArray(layers, [3, rows, cols]));
    results = await cliAll([
      [path('x64.npy'), '--json', '--alpha', '0.5,2,3', '--spectrum'],
      [path('x32.npy'), '--json'],
      [path('list.arrow'), '--json', '--alpha', '0.5,2,3', '--spectrum'],
      [path('wide.arrow'), '--json'],
      [path('layers.npy'), '--layer-axis', '1', '--json', '--alpha', '0.5,2,3', '--spectrum'],
      [path('x64.npy'), '--alpha', '0.5,2'],
    ]);
  });

  /** Every DESIGN §1 field of the CLI's JSON equals the core's value (JSON keeps doubles exactly). */
  function assertEqualsCore(out: Record<string, unknown>, x: ArrayLike<number>, alphas: number[], spectrum: boolean): void {
    const { metrics } = sampleMetrics(x, rows, cols, { alphas, keepSpectrum: true });
    for (const k of ['tokens', 'dim', 'skipped', 'droppedRows', 'entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm', 'renyi'] as const) {
      assert.deepEqual(out[k], metrics[k], k);
    }
    const fit = alphaReq(metrics.spectrum!)!;
    assert.deepEqual(out.alphaReq, { alpha: fit.alpha, rSquared: fit.rSquared, points: fit.points });
    if (spectrum) assert.deepEqual(out.spectrum, metrics.spectrum);
    else assert.equal(out.spectrum, undefined, 'no spectrum without --spectrum');
  }

  it('float64 .npy: every field, the Rényi orders asked for, alphaReq and the spectrum match', () => {
    const out = json(results[0]);
    assert.equal(out.file, path('x64.npy'));
    assert.deepEqual(Object.keys(out.renyi as object).sort(), ['0.5', '2', '3']);
    assertEqualsCore(out, x64, [0.5, 2, 3], true);
    const p = out.spectrum as number[];
    assert.equal(p.length, Math.min(rows, cols));
    assert.ok(p.every((v, i) => i === 0 || v <= p[i - 1]), 'spectrum is descending');
    assertClose(p.reduce((a, b) => a + b, 0), 1, 'spectrum sums to 1');
  });

  it('float32 .npy matches the core on the same float32 values, renyi defaults to order 2', () => {
    const out = json(results[1]);
    assert.deepEqual(Object.keys(out.renyi as object), ['2']);
    assertEqualsCore(out, x32, [2], false);
  });

  it('Arrow FixedSizeList<float64> column in two record batches reads as the same matrix', () => {
    assertEqualsCore(json(results[2]), x64, [0.5, 2, 3], true);
  });

  it('Arrow table of float32 columns (one per hidden dimension) reads as the same matrix', () => {
    assertEqualsCore(json(results[3]), x32, [2], false);
  });

  it('--layer-axis 1 on a 3-D layers×N×d .npy measures exactly that layer', () => {
    const out = json(results[4]);
    assert.equal(out.layer, 1);
    assertEqualsCore(out, x64, [0.5, 2, 3], true);
  });

  it('human output is an aligned table naming the file, with one column per extra Rényi order', () => {
    const r = results[5];
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^file\s+tokens\s+dim\s+dropped\s+entropy\s+.*H_0\.5/);
    assert.match(lines[1], /^-+( +-+)+$/);
    assert.ok(lines[2].startsWith(path('x64.npy')));
    const { metrics } = sampleMetrics(x64, rows, cols);
    assert.ok(lines[2].includes(String(Number(metrics.entropy!.toPrecision(6)))), 'entropy printed to 6 digits');
    assert.equal(lines[0].indexOf('tokens'), lines[2].indexOf('40'), 'columns aligned');
  });
});

describe('golden cases run through the CLI agree with the numpy reference to 1e-9', () => {
  let results: CliResult[];
  before(async () => {
    for (const c of golden.cases) writeFileSync(path(`golden-${c.name}.npy`), writeNpy(Float64Array.from(c.data), c.rows, c.cols));
    results = await cliAll(golden.cases.map((c) => [path(`golden-${c.name}.npy`), '--json']));
  });

  golden.cases.forEach((c, i) => {
    it(`case ${c.name} (${c.rows}×${c.cols}) matches every expected field except renyi0_5`, () => {
      const out = json(results[i]);
      const e = c.expected;
      for (const k of ['tokens', 'dim', 'skipped', 'droppedRows'] as const) assert.equal(out[k], e[k], k);
      if (e.skipped) {
        assert.ok(typeof out.skipReason === 'string' && out.skipReason.length > 0, 'skipped with a reason');
        for (const k of ['entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm'] as const) assert.equal(out[k], null, k);
        return;
      }
      for (const k of ['entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm'] as const) assertClose(out[k], e[k] as number, k);
      assertClose((out.renyi as Record<string, number>)['2'], e.renyi2 as number, 'renyi["2"]');
    });
  });
});

describe('folder mode gives the golden dataset aggregates', () => {
  const { samples, expected } = golden.dataset;
  let folder: CliResult;
  let listed: CliResult;
  let human: CliResult;
  const files = samples.map((_, i) => path(`ds/sample-${String(i).padStart(2, '0')}.npy`));

  before(async () => {
    mkdirSync(path('ds'));
    samples.forEach((s, i) => writeFileSync(files[i], writeNpy(Float64Array.from(s.data), s.rows, s.cols)));
    writeFileSync(path('ds/notes.txt'), 'not a data file, ignored');
    [folder, listed, human] = await cliAll([[path('ds'), '--json'], [...[...files].reverse(), '--json'], [path('ds')]]);
  });

  it('a folder gives { samples, dataset } with one sample per .npy file in name order', () => {
    const out = json(folder) as { samples: { file: string }[]; dataset: object };
    assert.deepEqual(Object.keys(out), ['samples', 'dataset']);
    assert.deepEqual(out.samples.map((s) => s.file), files);
  });

  it('per-sample metrics in folder mode match the golden per-sample values', () => {
    const out = json(folder) as { samples: Record<string, number>[] };
    out.samples.forEach((s, i) => {
      const e = expected.perSample[i];
      for (const k of ['entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm'] as const) assertClose(s[k], e[k] as number, `sample ${i} ${k}`);
    });
  });

  it('samplesUsed, mean entropy, erank of mean entropy, mean erank, mean normalized entropy and pooled entropy/erank match to 1e-9', () => {
    const d = (json(folder) as { dataset: Record<string, unknown> }).dataset;
    assert.equal(d.samplesUsed, expected.samplesUsed);
    assert.equal(d.samplesSkipped, expected.samplesSkipped);
    for (const k of ['meanEntropy', 'erankOfMeanEntropy', 'meanErank', 'meanNormalizedEntropy', 'pooledEntropy', 'pooledErank']) {
      assertClose(d[k], expected[k], k);
    }
    assert.equal(d.pooledRows, samples.reduce((n, s) => n + s.rows, 0));
    for (const k of ['meanEntropySE', 'meanErankSE', 'meanNormalizedEntropySE', 'meanPooledEntropy', 'meanPooledErank']) {
      assert.ok(typeof d[k] === 'number' && Number.isFinite(d[k]) && (d[k] as number) > 0, `${k} is a positive number`);
    }
    const ci = d.meanEntropyCI95 as { low: number; high: number };
    assert.ok(ci.low <= (d.meanEntropy as number) && (d.meanEntropy as number) <= ci.high, 'CI95 brackets the mean');
    assert.equal(d.meanPooledSamples, samples.length);
  });

  it('files listed explicitly are measured in the order given, with the same aggregates', () => {
    const a = json(folder) as { dataset: Record<string, unknown> };
    const b = json(listed) as { samples: { file: string }[]; dataset: Record<string, unknown> };
    assert.deepEqual(b.samples.map((s) => s.file), [...files].reverse());
    for (const k of ['meanEntropy', 'meanErank', 'pooledEntropy', 'meanPooledEntropy']) assertClose(b.dataset[k], a.dataset[k] as number, k);
  });

  it('human folder output has a row per sample and a dataset table', () => {
    assert.equal(human.code, 0, human.stderr);
    for (const f of files) assert.ok(human.stdout.includes(f), `${f} listed`);
    assert.match(human.stdout, /^dataset\s+value\s+SE\s+CI95$/m);
    assert.match(human.stdout, /^erankOfMeanEntropy\s+8\.26507\s+\[/m);
  });
});

describe('bad input exits non-zero with "entroscope: error: <file>: <problem>"', () => {
  const header = (descr: string, fortran: string, shape: string) => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  const good = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i));
  const withBad = (v: number) => {
    const x = Float64Array.from(good);
    x[7] = v;
    return writeNpy(x, 4, 3);
  };
  const arrowOk = listArrow(good, 4, 3);
  const cases: { name: string; file: string; bytes?: Uint8Array; args?: string[]; problem: RegExp }[] = [
    { name: 'a 1-D array', file: 'one-d.npy', bytes: rawNpy(header('<f8', 'False', '(4,)'), f8([1, 2, 3, 4])), problem: /expected a 2-D array .*got shape \(4,\)/ },
    { name: 'a 4-D array', file: 'four-d.npy', bytes: rawNpy(header('<f8', 'False', '(1, 1, 2, 2)'), f8([1, 2, 3, 4])), problem: /expected a 2-D array .*\(1, 1, 2, 2\)/ },
    { name: 'a 3-D array without --layer', file: 'layers.npy', bytes: writeNpyArray(new Float64Array(2 * 4 * 3), [2, 4, 3]), problem: /3-D array of shape \(2, 4, 3\).*--layer/ },
    { name: '--layer out of range', file: 'layers2.npy', bytes: writeNpyArray(new Float64Array(2 * 4 * 3), [2, 4, 3]), args: ['--layer', '2'], problem: /--layer-axis 2 is out of range.*layers 0…1/ },
    { name: '--layer on a 2-D array', file: 'flat.npy', bytes: writeNpy(good, 4, 3), args: ['--layer', '0'], problem: /--layer-axis applies only to 3-D arrays/ },
    { name: 'an integer dtype', file: 'ints.npy', bytes: rawNpy(header('<i8', 'False', '(2, 2)'), f8([1, 2, 3, 4])), problem: /unsupported dtype '<i8'/ },
    { name: 'a big-endian dtype', file: 'big.npy', bytes: rawNpy(header('>f8', 'False', '(2, 2)'), f8([1, 2, 3, 4])), problem: /unsupported dtype '>f8'/ },
    { name: 'Fortran order', file: 'fortran.npy', bytes: rawNpy(header('<f8', 'True', '(2, 2)'), f8([1, 2, 3, 4])), problem: /Fortran-order arrays are not supported/ },
    { name: 'truncated data', file: 'cut.npy', bytes: writeNpy(good, 4, 3).subarray(0, -20), problem: /truncated data: .*needs 96 bytes, file has 76/ },
    { name: 'a truncated header', file: 'cuthead.npy', bytes: writeNpy(good, 4, 3).subarray(0, 30), problem: /truncated \.npy header/ },
    { name: 'a NaN value', file: 'nan.npy', bytes: withBad(NaN), problem: /hidden state row 2, column 1 is NaN/ },
    { name: 'an infinite value', file: 'inf.npy', bytes: withBad(-Infinity), problem: /hidden state row 2, column 1 is -Infinity/ },
    { name: 'a .npy file that is not one', file: 'text.npy', bytes: new TextEncoder().encode('hello, world'), problem: /not a \.npy file/ },
    { name: 'a file in neither format', file: 'text.arrow', bytes: new TextEncoder().encode('hello, world'), problem: /not an Arrow IPC file/ },
    { name: 'a truncated Arrow file', file: 'cut.arrow', bytes: arrowOk.subarray(0, Math.floor(arrowOk.length / 2)), problem: /truncated Arrow IPC file/ },
    {
      name: 'an Arrow string column',
      file: 'strings.arrow',
      bytes: A.tableToIPC(new A.Table({ a: A.vectorFromArray([1, 2], new A.Float64()), word: A.vectorFromArray(['x', 'y'], new A.Utf8()) }), 'file'),
      problem: /column 'word' is Utf8; expected every column float32\/float64/,
    },
    {
      name: 'an Arrow column with nulls',
      file: 'nulls.arrow',
      bytes: A.tableToIPC(new A.Table({ a: A.vectorFromArray([1, null, 3], new A.Float64()), b: A.vectorFromArray([1, 2, 3], new A.Float64()) }), 'file'),
      problem: /column 'a' has 1 null values/,
    },
    { name: 'a missing file', file: 'missing.npy', problem: /no such file or directory/ },
    { name: 'an empty folder', file: 'empty-folder', problem: /folder has no \.npy or \.arrow files/ },
  ];
  let results: CliResult[];

  before(async () => {
    mkdirSync(path('bad'));
    mkdirSync(path('bad/empty-folder'));
    for (const c of cases) if (c.bytes) writeFileSync(path(`bad/${c.file}`), c.bytes);
    results = await cliAll(cases.map((c) => [path(`bad/${c.file}`), ...(c.args ?? [])]));
  });

  cases.forEach((c, i) => {
    it(`${c.name} is rejected, naming the file and the problem`, () => {
      const r = results[i];
      assert.notEqual(r.code, 0, `non-zero exit; stdout: ${r.stdout}`);
      const prefix = `entroscope: error: ${path(`bad/${c.file}`)}: `;
      assert.ok(r.stderr.startsWith(prefix), `stderr starts with "${prefix}", got: ${r.stderr}`);
      assert.match(r.stderr, c.problem);
      assert.equal(r.stdout, '', 'nothing printed to stdout');
    });
  });

  it('a bad file inside a folder fails the whole dataset, naming that file', async () => {
    mkdirSync(path('mixed'));
    writeFileSync(path('mixed/a.npy'), writeNpy(good, 4, 3));
    writeFileSync(path('mixed/b.npy'), withBad(NaN));
    const r = await cli(path('mixed'), '--json');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`^entroscope: error: ${path('mixed/b.npy').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: hidden state row 2, column 1 is NaN`));
  });

  it('files with different hidden sizes cannot form a dataset', async () => {
    writeFileSync(path('d3.npy'), writeNpy(good, 4, 3));
    writeFileSync(path('d4.npy'), writeNpy(good, 3, 4));
    const r = await cli(path('d3.npy'), path('d4.npy'));
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.startsWith(`entroscope: error: ${path('d4.npy')}: hidden size 4 differs`), r.stderr);
  });

  it('a non-positive --alpha is rejected', async () => {
    const r = await cli(path('d3.npy'), '--alpha', '0.5,-1');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--alpha: '-1' is not a positive number/);
  });
});
