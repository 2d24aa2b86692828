// Hidden states from another engine, through `entroscope run --hidden-states`: states of a real
// model (the zoo's tiny Llama, run by PyTorch/transformers with output_hidden_states=True) saved in
// every layout README "Hidden states from another engine" defines — safetensors stacked (F32), one
// tensor per layer (BF16), many samples in one file (F16), vLLM's extract_hidden_states connector
// layout, .npy (F64), Arrow — give per-sample and dataset metrics equal to a numpy oracle that
// reads back the same files (test/oracle/hidden_states_export.py); s3:// gives what the local copy
// gives; bad tensors fail the run at once, non-retried, naming the file, tensor and sample.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import * as A from 'apache-arrow';
import type { EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { readNpyArray, writeNpyArray } from '../../src/io/npy.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { cacheDir, ensureBucket, hfPythonBin, requireEnv, runCli, runOracle } from '../helpers/services.ts';
import { assertFailedOnceNonRetryable, startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
requireEnv('AWS_ENDPOINT_URL');
const bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
const s3Prefix = `hidden-states-test/${randomUUID()}`;
const exportScript = new URL('../oracle/hidden_states_export.py', import.meta.url).pathname;
const hf = join(cacheDir, 'zoo', 'llama', 'hf');

interface OracleSample { skipped: boolean; entropy?: number; erank?: number; normalizedEntropy?: number; renyi2?: number; nuclearNorm?: number }
interface OracleLayer { perSample: OracleSample[]; pooledEntropy: number; pooledErank: number; pooledRows: number }
interface Oracle { blocks: number; tokens: number[]; layouts: Record<string, Record<string, OracleLayer>> }

const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
const TEXTS = demo.slice(10, 17);

let temporal: TestTemporal;
let dir: string;
let oracle: Oracle;
let textsFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-hidden-'));
  temporal = await startTestTemporal(address);
  oracle = await runOracle<Oracle>(exportScript, { hf, texts: TEXTS, out: dir }, hfPythonBin);
  textsFile = join(dir, 'texts.jsonl');
  await writeFile(textsFile, TEXTS.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  // Arrow: one row per sample, a list<fixed_size_list<float64>[d]> column per HF layer, and the text.
  const stacks = await Promise.all(TEXTS.map(async (_, i) => readNpyArray(await readFile(join(dir, 'npy', `sample_${i}.npy`)))));
  const [layers, , d] = stacks[0].shape;
  const rowsOf = (a: (typeof stacks)[number], l: number) => {
    const n = a.shape[1];
    return Array.from({ length: n }, (_, t) => Array.from(a.data.subarray((l * n + t) * d, (l * n + t + 1) * d)));
  };
  const type = new A.List(new A.Field('item', new A.FixedSizeList(d, new A.Field('item', new A.Float64()))));
  const columns: Record<string, A.Vector> = {};
  for (let l = 0; l < layers; l++) columns[`hidden_states.${l}`] = A.vectorFromArray(stacks.map((a) => rowsOf(a, l)), type);
  columns.text = A.vectorFromArray(TEXTS, new A.Utf8());
  await writeFile(join(dir, 'states.arrow'), A.tableToIPC(new A.Table(columns), 'file'));
  // Arrow, one row per token: the last HF layer as fixed_size_list<float64>[d] rows, an id per sample.
  const last = layers - 1;
  const tokenRows = stacks.flatMap((a) => rowsOf(a, last));
  const tokenIds = stacks.flatMap((a, i) => Array.from({ length: a.shape[1] }, () => `s${i}`));
  await writeFile(
    join(dir, 'tokens.arrow'),
    A.tableToIPC(new A.Table({ id: A.vectorFromArray(tokenIds, new A.Utf8()), hidden_states: A.vectorFromArray(tokenRows, new A.FixedSizeList(d, new A.Field('item', new A.Float64()))) }), 'file'),
  );
  // The same stacked safetensors and .npy folders in MinIO.
  await ensureBucket(bucket);
  const s3 = new S3Client({ region: process.env.AWS_REGION ?? 'us-east-1', forcePathStyle: true });
  for (const folder of ['st-stacked', 'npy']) {
    for (const name of await readdir(join(dir, folder))) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${s3Prefix}/${folder}/${name}`, Body: await readFile(join(dir, folder, name)) }));
    }
  }
  s3.destroy();
});
after(async () => {
  await temporal?.close();
});

async function run(args: string[], store: string): Promise<EvaluationResult> {
  const r = await runCli(['run', ...args, '--store', store, '--temporal', address, '--shard-size', '3', '--json']);
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return JSON.parse(r.stdout) as EvaluationResult;
}

async function sampleRows(r: EvaluationResult): Promise<SampleRow[]> {
  const store = openStore(r.storeUri);
  const keys = (await store.list(`${r.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow'));
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows.sort((a, b) => a.layer.localeCompare(b.layer) || a.row - b.row);
}

const close = (a: number, b: number, what: string, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs oracle ${b}`);

/** Every per-sample metric and the dataset aggregates of every layer equal the oracle's. */
async function assertMatchesOracle(r: EvaluationResult, expected: Record<string, OracleLayer>): Promise<SampleRow[]> {
  const rows = await sampleRows(r);
  assert.deepEqual(r.summary.layers.map((l) => l.layer).sort(), Object.keys(expected).sort(), 'layers');
  for (const [layer, o] of Object.entries(expected)) {
    const mine = rows.filter((x) => x.layer === layer);
    assert.equal(mine.length, TEXTS.length, `${layer}: one row per sample`);
    mine.forEach((x, i) => {
      assert.equal(x.tokens, oracle.tokens[i], `${layer} row ${i} tokens`);
      for (const k of ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const) close(x[k]!, o.perSample[i][k]!, `${layer} row ${i} ${k}`);
    });
    const s = r.summary.layers.find((l) => l.layer === layer)!;
    const entropies = o.perSample.map((p) => p.entropy!);
    const mean = entropies.reduce((a, b) => a + b, 0) / entropies.length;
    close(s.metrics.meanEntropy!, mean, `${layer} meanEntropy`);
    close(s.metrics.erankOfMeanEntropy!, Math.exp(mean), `${layer} erankOfMeanEntropy`);
    close(s.metrics.meanErank!, o.perSample.reduce((a, p) => a + p.erank!, 0) / entropies.length, `${layer} meanErank`);
    close(s.pooled.pooledEntropy!, o.pooledEntropy, `${layer} pooledEntropy`);
    assert.equal(s.pooled.n, o.pooledRows, `${layer} pooled rows`);
  }
  return rows;
}

describe('hidden states from another engine, through run', () => {
  test("--diff-erank with the untrained twin's states: Diff-eRank from both sets of states, as numpy computes it; refused without them", async () => {
    const r = await run(['--hidden-states', join(dir, 'st-stacked'), '--hidden-states-untrained', join(dir, 'untrained'), '--diff-erank', '--layers', 'embeddings,final'], join(dir, 'store'));
    const meanH = (o: OracleLayer) => o.perSample.reduce((a, p) => a + p.entropy!, 0) / o.perSample.length;
    for (const layer of ['embeddings', 'final']) {
      const l = r.summary.layers.find((x) => x.layer === layer)!;
      const trained = Math.exp(meanH(oracle.layouts['st-stacked'][layer]));
      const untrained = Math.exp(meanH(oracle.layouts.untrained[layer]));
      close(l.diffErank!.diffErank, untrained - trained, `${layer} diffErank`);
      close(l.diffErank!.ratio, trained / untrained, `${layer} ratio`);
    }
    const refused = await runCli(['run', '--hidden-states', join(dir, 'st-stacked'), '--diff-erank', '--store', join(dir, 'store'), '--temporal', address]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /diffErank: hidden states .*st-stacked come without a model to re-initialise; give the untrained twin's hidden states too \(--hidden-states-untrained URI/);
  });

  test('a sweep whose entries name hiddenStates (local and s3://, vLLM with its layer ids) paired with the texts: each equals numpy', async () => {
    const specFile = join(dir, 'sweep.yaml');
    await writeFile(
      specFile,
      [
        'name: hidden-family',
        `store: ${join(dir, 'store-sweep')}`,
        'models:',
        `  - { hiddenStates: ${join(dir, 'st-stacked')}, name: states-f32, family: tiny, params: 1000 }`,
        `  - { hiddenStates: s3://${bucket}/${s3Prefix}/npy, name: states-f64, family: tiny, params: 2000 }`,
        `  - { hiddenStates: ${join(dir, 'vllm')}, name: states-vllm, hiddenStatesLayerIds: [1, ${oracle.blocks}] }`,
        'datasets:',
        `  - { data: ${textsFile} }`,
        'layers: [last]',
        'shardSize: 3',
      ].join('\n') + '\n',
    );
    const r = await runCli(['sweep', specFile, '--temporal', address, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const result = JSON.parse(r.stdout) as { evaluations: Array<{ model: string; status: string; summaryKey?: string }> };
    assert.deepEqual(result.evaluations.map((e) => [e.model, e.status]), [['states-f32', 'completed'], ['states-f64', 'completed'], ['states-vllm', 'completed']]);
    const store = openStore(join(dir, 'store-sweep'));
    const expected: Record<string, [string, OracleLayer]> = {
      'states-f32': ['final', oracle.layouts['st-stacked'].final],
      'states-f64': ['final', oracle.layouts.npy.final],
      'states-vllm': [`block.${oracle.blocks - 1}`, oracle.layouts.vllm[`block.${oracle.blocks - 1}`]],
    };
    for (const e of result.evaluations) {
      const summary = JSON.parse(new TextDecoder().decode(await store.get(e.summaryKey!))) as EvaluationResult['summary'];
      const [layer, o] = expected[e.model];
      assert.equal(summary.layers[0].layer, layer, `${e.model}: last is the deepest stored layer`);
      assert.equal(summary.model.name, e.model);
      const mean = o.perSample.reduce((a, p) => a + p.entropy!, 0) / o.perSample.length;
      close(summary.layers[0].metrics.meanEntropy!, mean, `${e.model} meanEntropy`);
      close(summary.layers[0].pooled.pooledEntropy, o.pooledEntropy, `${e.model} pooledEntropy`);
    }
  });

  test('safetensors stacked [L+1, N, d] float32: every HF layer, named as HF indexes them, equals numpy', async () => {
    const r = await run(['--hidden-states', join(dir, 'st-stacked'), '--layers', 'all', '--data', textsFile], join(dir, 'store'));
    const rows = await assertMatchesOracle(r, oracle.layouts['st-stacked']);
    assert.equal(r.shardsTotal, 3, '7 samples in shards of 3');
    assert.equal(r.summary.dataset.rows, TEXTS.length);
    // With the texts given, a sample's id is the sha256 of its text.
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    assert.deepEqual(rows.filter((x) => x.layer === 'final').map((x) => x.sampleId), TEXTS.map(sha));
  });

  test('one safetensors file per sample with a bfloat16 tensor per layer (hidden_states.{i}), --hidden-states-blocks names the last final', async () => {
    const r = await run(['--hidden-states', join(dir, 'st-layers'), '--layers', 'all', '--hidden-states-blocks', String(oracle.blocks)], join(dir, 'store'));
    await assertMatchesOracle(r, oracle.layouts['st-layers']);
  });

  test('many samples in one safetensors file (sample_{i}, float16)', async () => {
    const r = await run(['--hidden-states', join(dir, 'st-one.safetensors')], join(dir, 'store'));
    const rows = await assertMatchesOracle(r, oracle.layouts['st-one']);
    // Without texts, a sample's id hashes its values.
    assert.equal(new Set(rows.map((x) => x.sampleId)).size, TEXTS.length);
  });

  test("vLLM's extract_hidden_states layout ([N, k, d] + token_ids) with its layer ids: id i is the stream entering layer i", async () => {
    const r = await run(['--hidden-states', join(dir, 'vllm'), '--layers', 'all', '--hidden-states-layer-ids', `1,${oracle.blocks}`], join(dir, 'store'));
    await assertMatchesOracle(r, oracle.layouts.vllm);
  });

  test('.npy per sample, stacked float64', async () => {
    const r = await run(['--hidden-states', join(dir, 'npy'), '--layers', 'embeddings,final'], join(dir, 'store'));
    const o = oracle.layouts.npy;
    await assertMatchesOracle(r, { embeddings: o.embeddings, final: o.final });
  });

  test('Arrow, one row per sample with a text column', async () => {
    const r = await run(['--hidden-states', join(dir, 'states.arrow'), '--layers', 'all', '--hidden-states-blocks', String(oracle.blocks)], join(dir, 'store'));
    await assertMatchesOracle(r, oracle.layouts.npy);
  });

  test('Arrow, one row per token grouped by an id column', async () => {
    const r = await run(['--hidden-states', join(dir, 'tokens.arrow')], join(dir, 'store'));
    await assertMatchesOracle(r, { last: oracle.layouts.npy.final });
  });

  test('--max-tokens keeps each sample\'s first rows, counted as truncated; the strided vLLM layer cuts as the contiguous one does', async () => {
    const stacked = await run(['--hidden-states', join(dir, 'st-stacked'), '--layers', 'block.0', '--max-tokens', '5'], join(dir, 'store'));
    const vllm = await run(['--hidden-states', join(dir, 'vllm'), '--layers', 'block.0', '--hidden-states-layer-ids', `1,${oracle.blocks}`, '--max-tokens', '5'], join(dir, 'store'));
    const long = oracle.tokens.flatMap((n, i) => (n > 5 ? [i] : []));
    assert.ok(long.length > 0);
    for (const r of [stacked, vllm]) {
      assert.equal(r.summary.truncatedSamples, long.length);
      assert.deepEqual(r.summary.truncatedRows, long);
      assert.deepEqual((await sampleRows(r)).map((x) => x.tokens), oracle.tokens.map((n) => Math.min(n, 5)));
    }
    // Both hold HF hidden_states[1] in float32: the same values, so the same metrics to the bit.
    assert.deepEqual((await sampleRows(vllm)).map((x) => x.entropy), (await sampleRows(stacked)).map((x) => x.entropy));
    assert.deepEqual(vllm.summary.layers[0].pooled, stacked.summary.layers[0].pooled);
  });

  test("the model's own ONNX evaluation gives what its PyTorch states give, layer by layer (vLLM's id L is the pre-norm block.{L-1})", async () => {
    const onnx = await run(['--model', join(cacheDir, 'zoo', 'llama', 'no-past'), '--data', textsFile, '--layers', 'all', '--no-loss'], join(dir, 'store'));
    const stacked = await run(['--hidden-states', join(dir, 'st-stacked'), '--layers', 'all', '--data', textsFile], join(dir, 'store'));
    const vllm = await run(['--hidden-states', join(dir, 'vllm'), '--layers', 'all', '--hidden-states-layer-ids', `1,${oracle.blocks}`, '--data', textsFile], join(dir, 'store'));
    const byLayer = (r: EvaluationResult) => new Map(r.summary.layers.map((l) => [l.layer, l]));
    const reference = byLayer(onnx);
    for (const r of [stacked, vllm]) {
      for (const [layer, l] of byLayer(r)) {
        const o = reference.get(layer);
        assert.ok(o, `the ONNX evaluation has layer ${layer}`);
        // float32 through two engines (onnxruntime, PyTorch): agreement to ~1e-8 measured here.
        close(l.metrics.meanEntropy!, o.metrics.meanEntropy!, `${layer} meanEntropy`, 1e-6);
        close(l.pooled.pooledEntropy, o.pooled.pooledEntropy, `${layer} pooledEntropy`, 1e-6);
      }
    }
    assert.ok(byLayer(vllm).has(`block.${oracle.blocks - 1}`));
  });

  test('s3:// hidden states give exactly what the local copy gives', async () => {
    for (const folder of ['st-stacked', 'npy']) {
      const local = await run(['--hidden-states', join(dir, folder), '--layers', 'all'], join(dir, `store-local-${folder}`));
      const remote = await run(['--hidden-states', `s3://${bucket}/${s3Prefix}/${folder}`, '--layers', 'all'], join(dir, `store-s3-${folder}`));
      assert.deepEqual(remote.summary.layers.map((l) => [l.layer, l.metrics, l.pooled]), local.summary.layers.map((l) => [l.layer, l.metrics, l.pooled]), folder);
      assert.deepEqual(await sampleRows(remote), await sampleRows(local), `${folder}: per-sample rows`);
    }
  });
});

/** Runs a bad input; it must fail at once, non-retried, with `message` on stderr. */
async function assertFailsAtOnce(args: string[], message: RegExp): Promise<void> {
  const t0 = Date.now();
  const r = await runCli(['run', ...args, '--store', join(dir, 'store-bad'), '--temporal', address, '--shard-size', '2'], process.env, 120_000);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, message);
  assert.ok(Date.now() - t0 < 60_000, `failed at once (${Date.now() - t0} ms)`);
  const workflowId = /entroscope: workflow (\S+)/.exec(r.stderr)?.[1];
  assert.ok(workflowId, r.stderr);
  await assertFailedOnceNonRetryable(temporal.client, workflowId);
}

describe('bad hidden states fail at once, naming the file, tensor and sample', () => {
  const good = (i: number, rows = 4, cols = 8) => writeNpyArray(Float64Array.from({ length: rows * cols }, (_, k) => Math.sin(k * 0.7 + i)), [rows, cols]);
  async function folder(name: string, files: Record<string, Uint8Array>): Promise<string> {
    const f = join(dir, 'bad', name);
    await mkdir(f, { recursive: true });
    for (const [n, b] of Object.entries(files)) await writeFile(join(f, n), b);
    return f;
  }

  test('a NaN: the sample, row and column named, from the shard that reads it', async () => {
    const nan = Float64Array.from({ length: 32 }, (_, k) => Math.cos(k));
    nan[13] = NaN;
    const f = await folder('nan', { 'a_0.npy': good(0), 'a_1.npy': good(1), 'a_2.npy': writeNpyArray(nan, [4, 8]) });
    await assertFailsAtOnce(['--hidden-states', f], /bad\/nan\/a_2\.npy, layer last \(sample 2\): hidden state row 1, column 5 is NaN/);
  });

  test('an infinity in a safetensors tensor names the file and tensor', async () => {
    // A one-tensor file, written by hand: header + float32 data.
    const data = new Float32Array(24).map((_, k) => Math.sin(k));
    data[5] = Infinity;
    const header = new TextEncoder().encode(JSON.stringify({ hidden_states: { dtype: 'F32', shape: [3, 8], data_offsets: [0, 96] } }));
    const bytes = new Uint8Array(8 + header.length + 96);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    bytes.set(new Uint8Array(data.buffer), 8 + header.length);
    const f = await folder('inf', { 's_0.safetensors': bytes });
    await assertFailsAtOnce(['--hidden-states', f], /s_0\.safetensors, tensor 'hidden_states', layer last \(sample 0\): hidden state row 0, column 5 is Infinity/);
  });

  test('wrong rank', async () => {
    const f = await folder('rank', { 'a_0.npy': good(0), 'a_1.npy': writeNpyArray(new Float64Array(8), [8]) });
    await assertFailsAtOnce(['--hidden-states', f], /bad\/rank\/a_1\.npy.*shape \[8\] has rank 1; expected \[tokens, hidden\]/);
  });

  test('ragged widths across samples of one layer', async () => {
    const f = await folder('ragged', { 'a_0.npy': good(0), 'a_1.npy': good(1), 'a_2.npy': good(2, 4, 6) });
    await assertFailsAtOnce(['--hidden-states', f], /bad\/ragged\/a_2\.npy.*layer last is 6 wide, but .*a_0\.npy has 8 \(ragged widths across samples\)/);
  });

  test('a dtype that is not a hidden-state dtype', async () => {
    const header = new TextEncoder().encode(JSON.stringify({ hidden_states: { dtype: 'I32', shape: [2, 2], data_offsets: [0, 16] } }));
    const bytes = new Uint8Array(8 + header.length + 16);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(header, 8);
    const f = await folder('dtype', { 's_0.safetensors': bytes });
    await assertFailsAtOnce(['--hidden-states', f], /s_0\.safetensors, tensor 'hidden_states': dtype I32 is not a hidden-state dtype/);
  });

  test('a truncated file', async () => {
    const whole = await readFile(join(dir, 'st-stacked', 'sample_1.safetensors'));
    const f = await folder('cut', {});
    await copyFile(join(dir, 'st-stacked', 'sample_0.safetensors'), join(f, 'sample_0.safetensors'));
    await writeFile(join(f, 'sample_1.safetensors'), whole.subarray(0, whole.length - 100));
    await assertFailsAtOnce(['--hidden-states', f], new RegExp(`bad/cut/sample_1\\.safetensors: truncated safetensors file: ${whole.length - 100} bytes, its header needs ${whole.length}`));
  });
});
