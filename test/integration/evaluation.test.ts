// A real evaluation of the real all-MiniLM-L6-v2 model through the real Temporal server, a real
// worker and real stores (a local folder and MinIO), checked against the independent Python oracle.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { userMessage } from '../../cli/errors.ts';
import type { EvaluationSpecInput } from '../../src/eval/evaluationSpec.ts';
import { ensureBucket, modelDir, requireEnv, runCli, runOracle } from '../helpers/services.ts';
import { scheduledActivities, startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
const model = modelDir('all-minilm-l6-v2');
const oracleScript = new URL('../oracle/hidden_oracle.py', import.meta.url).pathname;
const TEXTS = 60;
const SHARD = 25; // 3 shards: 25 + 25 + 10

let temporal: TestTemporal;
let client: Client;
let dir: string;
let dataPath: string;
let texts: string[];

interface OracleOut {
  perSample: Array<{ tokens: number; skipped: boolean; entropy?: number; erank?: number; normalizedEntropy?: number }>;
  pooledEntropy: number;
  pooledErank: number;
}
let oracle: Promise<OracleOut>;

async function evaluate(spec: EvaluationSpecInput, id: string): Promise<EvaluationResult> {
  return client.workflow.execute(evaluationWorkflow, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: `test-${id}-${Date.now()}`,
    args: [{ spec }],
  });
}

async function sampleRows(r: EvaluationResult): Promise<SampleRow[]> {
  const store = openStore(r.storeUri);
  const keys = (await store.list(`${r.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow'));
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows.sort((a, b) => a.row - b.row || a.layer.localeCompare(b.layer));
}

function assertRelClose(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= rel, `${what}: ${actual} vs oracle ${expected} (relative error ${err.toExponential(2)} > ${rel})`);
}

function assertMatchesOracle(rows: SampleRow[], pooledEntropy: number, o: OracleOut): void {
  assert.equal(rows.length, TEXTS);
  rows.forEach((r, i) => {
    assert.equal(r.row, i);
    assert.equal(r.tokens, o.perSample[i].tokens, `row ${i} tokens`);
    assert.equal(r.skipped, o.perSample[i].skipped, `row ${i} skipped`);
    assertRelClose(r.entropy!, o.perSample[i].entropy!, 1e-6, `row ${i} entropy`);
    assertRelClose(r.erank!, o.perSample[i].erank!, 1e-6, `row ${i} erank`);
    assertRelClose(r.normalizedEntropy!, o.perSample[i].normalizedEntropy!, 1e-6, `row ${i} normalizedEntropy`);
  });
  assertRelClose(pooledEntropy, o.pooledEntropy, 1e-6, 'pooled entropy');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-it-'));
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  texts = demo.slice(0, TEXTS).map((l) => (JSON.parse(l) as { text: string }).text);
  dataPath = join(dir, 'sample.jsonl');
  await writeFile(dataPath, texts.map((text, i) => JSON.stringify({ id: i, text })).join('\n') + '\n');
  const { ids } = await TextTokenizer.load(join(model, 'tokenizer.json'), 256).encode(texts);
  oracle = runOracle<OracleOut>(oracleScript, { model: join(model, 'model.onnx'), ids });
  await ensureBucket(bucket);
  temporal = await startTestTemporal(address);
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
});

describe('evaluation of real MiniLM through real Temporal', () => {
  let first: EvaluationResult;

  test('local store: per-sample and pooled entropies agree with the onnxruntime+numpy oracle to 1e-6', async () => {
    const spec = { model, data: dataPath, shardSize: SHARD, store: `file://${join(dir, 'store')}` };
    first = await evaluate(spec, 'fs');
    assert.equal(first.shardsTotal, 3);
    assert.equal(first.shardsExtracted, 3);
    assert.equal(first.summary.metrics.samplesUsed, TEXTS);
    assertMatchesOracle(await sampleRows(first), first.summary.pooled.pooledEntropy, await oracle);
  });

  test('S3 store (MinIO): the same numbers, written to the bucket', async () => {
    const spec = { model, data: dataPath, shardSize: SHARD, store: `s3://${bucket}/it-${Date.now()}` };
    const r = await evaluate(spec, 's3');
    assert.equal(r.shardsExtracted, 3);
    assert.match(r.summaryUri, /^s3:\/\//);
    const store = openStore(r.storeUri);
    assert.ok(await store.exists(`${r.prefix}/runs/${r.run}/manifest.json`), 'manifest written');
    assertMatchesOracle(await sampleRows(r), r.summary.pooled.pooledEntropy, await oracle);
  });

  test('running the same evaluation again writes the same keys and extracts no shard', async () => {
    const store = openStore(first.storeUri);
    const keysBefore = await store.list(`${first.prefix}/`);
    const samplesBefore = await store.get(`${keysBefore.find((k) => k.endsWith('samples.arrow'))}`);
    const workflowId = `test-rerun-${Date.now()}`;
    const spec = { model, data: dataPath, shardSize: SHARD, store: `file://${join(dir, 'store')}` };
    const again = await client.workflow.execute(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId, args: [{ spec }] });
    assert.equal(again.prefix, first.prefix);
    assert.equal(again.shardsExtracted, 0);
    assert.equal(await scheduledActivities(client, workflowId, 'extractShard'), 0, 'no extractShard activity scheduled on the re-run');
    assert.deepEqual(await store.list(`${first.prefix}/`), keysBefore);
    assert.deepEqual(await store.get(keysBefore.find((k) => k.endsWith('samples.arrow'))!), samplesBefore);
    assert.equal(again.summary.metrics.meanEntropy, first.summary.metrics.meanEntropy);
    assert.equal(again.summary.pooled.pooledEntropy, first.summary.pooled.pooledEntropy);
  });
});

describe('layers and dataset formats through the workflow', () => {
  test('a CSV copy of the data with three layers gives one summary per layer, and the same last layer as JSONL', async () => {
    const csv = join(dir, 'sample.csv');
    const quote = (t: string) => `"${t.replace(/"/g, '""')}"`;
    await writeFile(csv, 'id,text\n' + texts.map((t, i) => `${i},${quote(t)}`).join('\n') + '\n');
    const layers = ['embeddings', 'block.2', 'last'];
    const r = await evaluate({ model, data: csv, shardSize: SHARD, store: `file://${join(dir, 'store-layers')}`, layers }, 'layers');
    assert.deepEqual(r.summary.layers.map((l) => l.layer), layers);
    for (const l of r.summary.layers) assert.equal(l.metrics.samplesUsed, TEXTS, `layer ${l.layer}`);
    const rows = await sampleRows(r);
    assert.equal(rows.length, TEXTS * layers.length, 'one row per sample per layer');
    const last = r.summary.layers[2];
    const o = await oracle;
    const meanOracle = o.perSample.reduce((a, p) => a + p.entropy!, 0) / TEXTS;
    assertRelClose(last.metrics.meanEntropy!, meanOracle, 1e-6, 'last layer mean entropy from CSV');
    assertRelClose(last.pooled.pooledEntropy, o.pooledEntropy, 1e-6, 'last layer pooled entropy from CSV');
    assert.notEqual(r.summary.layers[0].metrics.meanEntropy, last.metrics.meanEntropy, 'layers differ');
  });

  test('an unknown layer fails before any shard runs, listing the layers that exist', async () => {
    await assert.rejects(
      evaluate({ model, data: dataPath, shardSize: SHARD, store: `file://${join(dir, 'store-bad-layer')}`, layers: ['block.99'] }, 'bad-layer'),
      (err: Error) => /block\.99/.test(userMessage(err)) && /embeddings/.test(userMessage(err)),
    );
  });
});

describe('bad input through the CLI fails fast with a clear message', () => {
  const cli = (args: string[]) =>
    runCli(['run', '--temporal', address, '--store', join(dir, 'bad-store'), '--model', model, ...args]);

  test('a missing model file is named, exit code non-zero', async () => {
    const r = await runCli(['run', '--temporal', address, '--store', join(dir, 'bad-store'), '--model', join(dir, 'nope'), '--data', dataPath]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /model not found: .*nope/);
  });

  test('a JSONL line that is not JSON is named by its line number, with no retry', async () => {
    const bad = join(dir, 'bad-json.jsonl');
    await writeFile(bad, '{"text": "fine"}\n{"text": "fine too"}\n{"text": oops}\n');
    const started = Date.now();
    const r = await cli(['--data', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bad-json\.jsonl line 3: not valid JSON/);
    assert.ok(Date.now() - started < 60_000, 'failed without a retry loop');
  });

  test('a missing text field is named with the fields that are there', async () => {
    const bad = join(dir, 'no-field.jsonl');
    await writeFile(bad, '{"text": "fine"}\n{"body": "no text here"}\n');
    const r = await cli(['--data', bad]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /no-field\.jsonl line 2: field "text" is missing \(fields present: body\)/);
  });
});
