// The report and compare commands on synthetic results: a family of five models whose
// erankOfMeanEntropy follows a known power law in the parameter count, and a family of two (too few
// to fit). The report must recover the law, say which family is too small, and write every format.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayerSummary } from '../../src/eval/summary.ts';
import { collectRuns } from '../../src/report/collect.ts';
import { compareSummaries, loadSummary } from '../../src/report/compare.ts';
import { scalingFits } from '../../src/report/scalingFits.ts';
import { writeReport } from '../../src/report/report.ts';
import { linearTicks, logTicks, tickLabels } from '../../src/report/svg.ts';
import { parquetReadObjects } from 'hyparquet';
import { runCli } from '../helpers/services.ts';
import { syntheticLayer, syntheticRow, writeSyntheticEvaluation } from '../helpers/syntheticResults.ts';

const LAW = { a: 400, b: 0.3, c: 12 }; // erankOfMeanEntropy = a·x^(−b) + c at layer "last"
const LAYERS = ['embeddings', 'block.0', 'last'];
const MODELS = [
  { name: 'pico-14m', family: 'pico', params: 14e6 },
  { name: 'pico-70m', family: 'pico', params: 70e6 },
  { name: 'pico-160m', family: 'pico', params: 160e6 },
  { name: 'pico-410m', family: 'pico', params: 410e6 },
  { name: 'pico-1b', family: 'pico', params: 1e9 },
  { name: 'duo-small', family: 'duo', params: 30e6 },
  { name: 'duo-large', family: 'duo', params: 300e6 },
];

let dir: string;
let results: string;

function layerSummary(model: (typeof MODELS)[number], layer: string, li: number): LayerSummary {
  // Other layers and numbers follow other power laws, so every fit converges quickly.
  const erank = layer === 'last' ? LAW.a * Math.pow(model.params, -LAW.b) + LAW.c : 300 * Math.pow(model.params, -0.2) + 10 + 3 * li;
  const loss = 2 + 30 * Math.pow(model.params, -0.15);
  const pico = model.family === 'pico';
  return syntheticLayer(layer, erank, {
    ciWidth: 0.02,
    samples: 12,
    pooledRows: 300,
    loss: pico ? loss : null,
    ...(pico ? { diff: { untrained: erank + 5, diffErank: 9 - 50 * Math.pow(model.params, -0.1) }, reducedLoss: 6 - loss } : {}),
  });
}

async function writeRun(root: string, model: (typeof MODELS)[number], i: number): Promise<string> {
  const layers = LAYERS.map((l, li) => layerSummary(model, l, li));
  const evalDir = join(root, 'evaluations', `${model.name}-${String(i).repeat(12)}`, 'tiny-corpus-cdcdcdcdcdcd', 'efefefefefef');
  const shards = [0, 6].map((start) => ({
    start,
    rows: LAYERS.flatMap((layer, li) =>
      Array.from({ length: 6 }, (_, k) => syntheticRow(start + k, layer, Math.log(layers[li].metrics.erankOfMeanEntropy!) + 0.05 * Math.sin(start + k + i), 25, 10)),
    ),
  }));
  await writeSyntheticEvaluation(evalDir, { ...model, index: i, dataset: 'tiny-corpus.jsonl', rows: 12, tokens: 300, seed: 7, layers }, shards);
  return evalDir;
}

const evalDirs: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-report-'));
  results = join(dir, 'store');
  for (const [i, m] of MODELS.entries()) evalDirs.push(await writeRun(results, m, i));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('every summary under a results folder is collected, with its shards\' sample files', async () => {
  const { runs } = await collectRuns(results);
  assert.equal(runs.length, MODELS.length);
  for (const run of runs) assert.equal(run.sampleKeys.length, 2);
  const viaUri = await collectRuns(`file://${results}`);
  assert.equal(viaUri.runs.length, MODELS.length);
});

test('the chosen fit recovers the known law of the five-model family; the two-model family is too few', async () => {
  const { runs } = await collectRuns(results);
  const fits = scalingFits(runs, { bootstrapResamples: 50 });
  const pico = fits.find((f) => f.family === 'pico' && f.metric === 'erankOfMeanEntropy' && f.layer === 'last')!;
  assert.equal(pico.points.length, 5);
  // Exact points of a·x^(−b) + c: the offset form predicts left-out sizes best, so it is chosen.
  assert.equal(pico.law.chosen, 'powerLawOffset', pico.law.reason);
  const offset = pico.law.candidates.find((c) => c.form === 'powerLawOffset')!;
  assert.ok(offset.fit.ok);
  if (offset.fit.ok) {
    assert.ok(Math.abs(offset.fit.params.b - LAW.b) < 1e-3, `b = ${offset.fit.params.b}`);
    assert.ok(Math.abs(offset.fit.params.c - LAW.c) < 1e-2, `c = ${offset.fit.params.c}`);
    assert.ok(offset.fit.r2 > 0.9999);
  }
  assert.ok(pico.lossCorrelation?.ok, 'correlated with loss');
  const duo = fits.find((f) => f.family === 'duo' && f.metric === 'erankOfMeanEntropy' && f.layer === 'last')!;
  assert.equal(duo.law.chosen, null);
  assert.equal(duo.law.curve, undefined);
  assert.match(duo.message ?? '', /too few points/);
  // Loss does not depend on the layer: one fit per family, at layer "model".
  const loss = fits.filter((f) => f.family === 'pico' && f.metric === 'meanLoss');
  assert.deepEqual(loss.map((f) => f.layer), ['model']);
});

test('the HTML report is one page with inline SVG figures, and every figure is also an SVG and a PNG file', async () => {
  const out = join(dir, 'html');
  const r = await writeReport(results, { outDir: out, bootstrapResamples: 50, generatedAt: 'test' });
  const html = await readFile(join(out, 'index.html'), 'utf8');
  for (const m of MODELS) assert.ok(html.includes(m.name), `${m.name} in the page`);
  assert.match(html, /family duo on tiny-corpus\.jsonl: too few points to fit/);
  assert.ok(!/<script|<link |src="http/.test(html), 'self-contained: no scripts or external resources');
  const figs = (await readdir(join(out, 'figures'))).sort();
  const svgs = figs.filter((f) => f.endsWith('.svg'));
  const pngs = figs.filter((f) => f.endsWith('.png'));
  assert.equal(svgs.length, r.figures);
  assert.equal(pngs.length, r.figures);
  for (const kind of ['headline--', 'scaling--', 'layers--', 'distribution--']) {
    assert.ok(svgs.some((f) => f.startsWith(kind)), `a ${kind} figure`);
  }
  assert.equal((html.match(/<svg /g) ?? []).length, r.figures, 'every figure inline');
  for (const f of pngs) {
    const bytes = await readFile(join(out, 'figures', f));
    assert.ok(bytes.length > 2000, `${f} is ${bytes.length} bytes`);
    assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${f} is a PNG`);
  }
  for (const f of svgs) {
    const text = await readFile(join(out, 'figures', f), 'utf8');
    assert.match(text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok((await stat(join(out, 'figures', f))).size > 500);
  }
  // The headline comes first in the page; the too-small family is named inside its figure.
  assert.ok(html.indexOf('id="headline"') < html.indexOf('<details'), 'headline before the details');
  const headline = await readFile(join(out, 'figures', 'headline--tiny-corpus-jsonl--erankofmeanentropy--last.svg'), 'utf8');
  assert.match(headline, /no fit drawn for duo/);
  assert.match(headline, /<polyline[^>]*class="fit"/, 'the chosen curve of pico');
  assert.match(html, /pico on tiny-corpus\.jsonl: normalized entropy H\/ln d of the last layer falls with size \(n = 5 models, 14M–1B parameters/);
});

test('md, json and csv hold every model and every layer', async () => {
  for (const format of ['md', 'json', 'csv'] as const) {
    const out = join(dir, format);
    const r = await writeReport(results, { outDir: out, format, bootstrapResamples: 20 });
    const text = (await Promise.all(r.files.map((f) => readFile(join(out, f), 'utf8')))).join('\n');
    for (const m of MODELS) assert.ok(text.includes(m.name), `${format}: ${m.name}`);
    for (const l of LAYERS) assert.ok(text.includes(l), `${format}: ${l}`);
    assert.ok(text.includes('cd'.repeat(32)), `${format}: dataset hash as provenance`);
  }
  const json = JSON.parse(await readFile(join(dir, 'json', 'report.json'), 'utf8')) as { results: Array<Record<string, unknown>>; fits: Array<Record<string, unknown>>; messages: string[] };
  assert.equal(json.results.length, MODELS.length * LAYERS.length);
  // Every metric's fits are listed, each candidate form with whether it was chosen.
  for (const metric of ['meanNormalizedEntropy', 'erankOfMeanEntropy', 'meanEntropy', 'diffErank', 'meanLoss']) {
    assert.ok(json.fits.some((f) => f.metric === metric && f.family === 'pico' && f.chosen === true), `a chosen ${metric} fit`);
  }
  const md = await readFile(join(dir, 'md', 'report.md'), 'utf8');
  for (const metric of ['meanNormalizedEntropy', 'erankOfMeanEntropy', 'meanEntropy', 'diffErank', 'meanLoss']) assert.ok(md.includes(`| pico | tiny-corpus.jsonl | ${metric} |`), `report.md lists ${metric} fits`);
  assert.ok(!/x\^\(?[−-][−-]/.test(md), 'no double minus');
  assert.ok(json.messages.some((m) => m.includes('duo') && m.includes('too few points')));
  const csv = await readFile(join(dir, 'csv', 'results.csv'), 'utf8');
  assert.equal(csv.trim().split('\r\n').length, 1 + MODELS.length * LAYERS.length);
});

test('every per-sample row exports as CSV and as Parquet, with model, layer, dataset row and hash', async () => {
  const out = join(dir, 'per-sample');
  const r = await writeReport(results, { outDir: out, format: 'md', bootstrapResamples: 0, perSample: 'parquet' });
  assert.ok(r.files.includes('samples.parquet'));
  const bytes = await readFile(join(out, 'samples.parquet'));
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const rows = (await parquetReadObjects({ file })) as Array<Record<string, unknown>>;
  // 7 models × 2 shards × 6 rows × 3 layers, read back by hyparquet.
  assert.equal(rows.length, MODELS.length * 12 * LAYERS.length);
  const i = 2;
  const expected = Math.log(layerSummary(MODELS[i], 'block.0', 1).metrics.erankOfMeanEntropy!) + 0.05 * Math.sin(6 + 3 + i);
  const row = rows.find((x) => x.model === MODELS[i].name && x.layer === 'block.0' && x.row === 9)!;
  assert.ok(Math.abs((row.entropy as number) - expected) < 1e-12, `${row.entropy} vs ${expected}`);
  assert.equal(row.datasetSha256, 'cd'.repeat(32));
  assert.equal(row.family, 'pico');
  assert.equal(row.params, MODELS[i].params);
  const csvOut = join(dir, 'per-sample-csv');
  await writeReport(results, { outDir: csvOut, format: 'md', bootstrapResamples: 0, perSample: 'csv' });
  const csv = (await readFile(join(csvOut, 'samples.csv'), 'utf8')).trim().split('\r\n');
  assert.equal(csv.length, 1 + rows.length);
  assert.ok(csv[0].startsWith('model,family,params,dataset,datasetSha256,layer,relativeDepth,row,'));
  const cli = await runCli(['report', results, '-o', join(dir, 'per-sample-cli'), '--format', 'md', '--bootstrap', '0', '--per-sample', 'csv']);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /samples\.csv/);
  const bad = await runCli(['report', results, '-o', join(dir, 'x'), '--per-sample', 'xlsx']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--per-sample must be csv or parquet, got xlsx/);
});

test('compare lines up two evaluations layer by layer with absolute and relative differences', async () => {
  const a = await loadSummary(join(evalDirs[0], 'summary.json'));
  const b = await loadSummary(evalDirs[4]); // a folder holding one evaluation
  const cmp = compareSummaries(a, b);
  const row = cmp.rows.find((r) => r.layer === 'last' && r.metric === 'erankOfMeanEntropy')!;
  const ea = LAW.a * Math.pow(14e6, -LAW.b) + LAW.c;
  const eb = LAW.a * Math.pow(1e9, -LAW.b) + LAW.c;
  assert.ok(Math.abs(row.a! - ea) < 1e-9 && Math.abs(row.b! - eb) < 1e-9);
  assert.ok(Math.abs(row.diff! - (eb - ea)) < 1e-9);
  assert.ok(Math.abs(row.relative! - (eb - ea) / ea) < 1e-12);
  await assert.rejects(loadSummary(results), /holds 7 evaluations/);
});

test('the CLI: report writes the page, compare prints the differences (and --json)', async () => {
  const out = join(dir, 'cli');
  const rep = await runCli(['report', results, '-o', out, '--format', 'md', '--bootstrap', '20']);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /7 evaluations/);
  assert.match(rep.stderr, /too few points/);
  assert.ok((await readFile(join(out, 'report.md'), 'utf8')).includes('pico-1b'));

  const a = join(evalDirs[0], 'summary.json');
  const b = join(evalDirs[1], 'summary.json');
  const cmp = await runCli(['compare', a, b]);
  assert.equal(cmp.code, 0, cmp.stderr);
  assert.match(cmp.stdout, /A: pico-14m/);
  assert.match(cmp.stdout, /B − A/);
  assert.match(cmp.stdout, /last\s+erankOfMeanEntropy\s+\S+\s+\S+\s+-\S+\s+-\d+\.\d+%/);
  const js = await runCli(['compare', a, b, '--json']);
  assert.equal(js.code, 0, js.stderr);
  const parsed = JSON.parse(js.stdout) as { rows: Array<{ layer: string; metric: string; diff: number }> };
  assert.ok(parsed.rows.some((r) => r.layer === 'block.0' && r.metric === 'meanEntropy' && r.diff < 0));

  const bad = await runCli(['report', join(dir, 'nothing-here'), '-o', join(dir, 'x')]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no evaluation results/);
});

test('axis ticks: every tick labelled apart, and a sub-decade log axis gets inner ticks', () => {
  assert.deepEqual(logTicks(3.09e6, 6.62e6), [4e6, 5e6, 6e6]);
  assert.deepEqual(logTicks(1e5, 1e8), [1e5, 1e6, 1e7, 1e8]);
  const labels = tickLabels([12, 12.05, 12.1, 12.15]);
  assert.equal(new Set(labels).size, 4, labels.join(', '));
  assert.deepEqual(labels, ['12', '12.05', '12.1', '12.15']);
  assert.deepEqual(linearTicks(0, 0.3, 3), [0, 0.1, 0.2, 0.3]);
});
