// Models over 2 GB, in the format optimum-cli writes them (model.onnx + model.onnx_data), tested
// with a small zoo model re-saved that way by onnx itself (test/zoo/to_external_data.py): through
// the real workflow its per-layer metrics equal the same model without external data and the
// PyTorch oracle (hf_oracle.py: transformers on the checkpoint, independent of entroscope); its
// parameter count and untrained twin match the inline model's; a truncated or missing data file is
// a non-retryable error naming the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { parameterCountDetails } from '../../src/model/parameterCount.ts';
import { untrainFiles } from '../../src/model/untrain.ts';
import { OnnxModel } from '../../src/model/onnxModel.ts';
import { cacheDir, ensureBucket, hfPythonBin, requireEnv } from '../helpers/services.ts';
import { assertRowsMatchHf, hfOracle, type HfOracleOutput } from '../helpers/hfOracle.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const converter = new URL('../zoo/to_external_data.py', import.meta.url).pathname;
const zooFile = join(cacheDir, 'zoo', 'zoo.json');
if (!existsSync(zooFile)) throw new Error(`${zooFile} is missing: run infra/build-zoo.sh (npm test does)`);
const entry = (JSON.parse(readFileSync(zooFile, 'utf8')) as { entries: Array<{ arch: string; form: string; hf: string; onnx: string }> }).entries.find(
  (e) => e.arch === 'llama' && e.form === 'no-past',
)!;
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;
const MAX_TOKENS = 40;

let temporal: TestTemporal;
let dir: string;
let external: string;
let dataPath: string;
let texts: string[];

async function evaluate(model: string, tag: string, opts: { loss?: boolean } = {}): Promise<SampleRow[]> {
  const r: EvaluationResult = await temporal.client.workflow.execute(evaluationWorkflow, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: `external-${tag}-${Date.now()}`,
    args: [{ spec: { model, data: dataPath, layers: ['all'], maxTokens: MAX_TOKENS, shardSize: 4, ...(opts.loss === false ? { loss: false } : {}), store: `file://${join(dir, `store-${tag}`)}` } }],
  });
  const store = openStore(r.storeUri);
  const rows: SampleRow[] = [];
  for (const k of (await store.list(`${r.prefix}/shards/`)).filter((x) => x.endsWith('samples.arrow'))) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows.sort((a, b) => a.layer.localeCompare(b.layer) || a.row - b.row);
}

function assertSameRows(got: SampleRow[], want: SampleRow[]): void {
  assert.equal(got.length, want.length);
  got.forEach((r, i) => {
    assert.equal(r.layer, want[i].layer);
    assert.equal(r.row, want[i].row);
    for (const m of METRICS) assert.equal(r[m], want[i][m], `${r.layer} row ${r.row} ${m}`);
  });
}

let oracle: Promise<HfOracleOutput> | undefined;

/** Every row against transformers' hidden_states on the checkpoint (helpers/hfOracle.ts), to 1e-5 relative. */
async function assertMatchesPyTorch(rows: SampleRow[]): Promise<void> {
  const o = await (oracle ??= hfOracle(entry.hf, texts, MAX_TOKENS));
  const checked = assertRowsMatchHf(rows, o);
  assert.ok(checked >= (o.numLayers + 1) * texts.length - 2, `${checked} rows matched to PyTorch`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-external-'));
  external = join(dir, 'llama-external');
  execFileSync(hfPythonBin, [converter, entry.onnx, external]);
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  texts = demo.slice(0, 8).map((l) => (JSON.parse(l) as { text: string }).text);
  dataPath = join(dir, 'texts.jsonl');
  await writeFile(dataPath, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
  temporal = await startTestTemporal(address);
});

after(async () => {
  await temporal?.close();
});

describe('external-data ONNX (model.onnx + model.onnx_data)', () => {
  test('the converted graph keeps no weights inline: model.onnx is small, model.onnx_data holds them', () => {
    assert.ok(statSync(join(external, 'model.onnx')).size < statSync(join(external, 'model.onnx_data')).size / 10);
  });

  test('run: every layer equals the inline model exactly and PyTorch to 1e-5', async () => {
    const inline = await evaluate(entry.onnx, 'inline');
    const ext = await evaluate(external, 'ext');
    assertSameRows(ext, inline);
    assert.ok(new Set(ext.map((r) => r.layer)).size > 3, 'several layers');
    await assertMatchesPyTorch(ext);
  });

  test('run with the loss off (the tapped graph cut to the nodes of the hidden states): equals the inline model and PyTorch', async () => {
    const inline = await evaluate(entry.onnx, 'inline-noloss', { loss: false });
    const ext = await evaluate(external, 'ext-noloss', { loss: false });
    assertSameRows(ext, inline);
    assert.ok(ext.every((r) => r.loss === null), 'no loss computed');
    await assertMatchesPyTorch(ext);
  });

  test('run from s3:// (the share-nothing path): the worker fetches model.onnx_data with the graph; results equal the local run', async () => {
    requireEnv('AWS_ENDPOINT_URL');
    const bucket = 'entroscope-test';
    await ensureBucket(bucket);
    const prefix = `external-data-${Date.now()}`;
    const store = openStore(`s3://${bucket}/${prefix}`);
    for (const f of ['model.onnx', 'model.onnx_data', 'tokenizer.json', 'config.json', 'tokenizer_config.json']) {
      if (existsSync(join(external, f))) await store.put(f, readFileSync(join(external, f)));
    }
    const saved = process.env.ENTROSCOPE_CACHE;
    process.env.ENTROSCOPE_CACHE = join(dir, 'fresh-cache'); // this process's fetch starts from nothing
    try {
      const fromS3 = await evaluate(`s3://${bucket}/${prefix}/`, 's3');
      const local = await evaluate(external, 'ext-again');
      assert.equal(fromS3.length, local.length);
      fromS3.forEach((r, i) => {
        for (const m of METRICS) assert.equal(r[m], local[i][m], `${r.layer} row ${r.row} ${m}`);
      });
      const fetched = join(dir, 'fresh-cache', 'models-s3');
      const dirs = existsSync(fetched) ? readdirSync(fetched).filter((d) => !d.startsWith('.')) : [];
      assert.ok(dirs.some((d) => existsSync(join(fetched, d, 'model.onnx_data'))), 'model.onnx_data fetched into the cache beside model.onnx');
    } finally {
      if (saved === undefined) delete process.env.ENTROSCOPE_CACHE;
      else process.env.ENTROSCOPE_CACHE = saved;
    }
  });

  test('parameter count equals the inline model', async () => {
    const a = await parameterCountDetails(join(entry.onnx, 'model.onnx'));
    const b = await parameterCountDetails(join(external, 'model.onnx'));
    assert.deepEqual(b, a);
    assert.ok(a.params > 1000);
  });

  test('untrain: the twin is written with external data and computes what the inline twin computes', async () => {
    const twinA = await untrainFiles(entry.onnx, join(dir, 'twin-inline'), 7);
    const twinB = await untrainFiles(external, join(dir, 'twin-ext'), 7);
    assert.ok(twinB.dataPath && existsSync(twinB.dataPath), 'model.onnx_data beside the twin');
    assert.equal(twinA.dataPath, undefined);
    assert.equal(twinB.parameters, twinA.parameters);
    const ids = [[1, 5, 9, 13, 2, 7]];
    const a = await OnnxModel.load(twinA.onnxPath, { cacheDir: dir });
    const b = await OnnxModel.load(twinB.onnxPath, { cacheDir: dir });
    const ha = (await a.run(ids)).hidden;
    const hb = (await b.run(ids)).hidden;
    assert.deepEqual(Array.from(hb), Array.from(ha));
    assert.ok(ha.some((x) => x !== 0));
    await a.release();
    await b.release();
  });

  test('a truncated data file, then a missing one, fails the run without retry, naming the file', async () => {
    const broken = join(dir, 'llama-broken');
    await cp(external, broken, { recursive: true });
    truncateSync(join(broken, 'model.onnx_data'), Math.floor(statSync(join(broken, 'model.onnx_data')).size / 2));
    await assert.rejects(evaluate(broken, 'truncated'), (err: Error) => {
      const text = JSON.stringify(err, Object.getOwnPropertyNames(err)) + String((err as { cause?: unknown }).cause);
      assert.match(text, /model\.onnx_data is truncated/);
      return true;
    });
    copyFileSync(join(external, 'model.onnx'), join(dir, 'lonely.onnx'));
    copyFileSync(join(external, 'tokenizer.json'), join(dir, 'lonely-tokenizer.json'));
    await assert.rejects(evaluate(join(dir, 'lonely.onnx'), 'missing'), (err: Error) => {
      const text = JSON.stringify(err, Object.getOwnPropertyNames(err)) + String((err as { cause?: unknown }).cause);
      assert.match(text, /external data file .*model\.onnx_data .*is missing/);
      return true;
    });
  });
});
