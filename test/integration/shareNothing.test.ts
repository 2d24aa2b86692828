// Workers that share nothing but Temporal and MinIO, as on separate machines: every worker and the
// client run in their own mount namespace (test/helpers/isolatedProcess.ts), with a private tmpfs
// at the same path for the working folder and ENTROSCOPE_CACHE, and the test's files and the local
// models hidden. The model (all-MiniLM-L6-v2) and the data (JSONL, Parquet, a folder of .txt) are
// only in MinIO. Evaluations use every layer and Diff-eRank (the untrained twin goes through the
// store). A one-worker sweep is the reference; two workers, one SIGKILLed mid-shard, must give
// bit-identical results through `run`; so must a run resumed after every process was killed; and a
// cancelled run must stop its running shards within seconds. A decoder exported by optimum (the
// zoo's Llama), only in MinIO, with the loss off on two workers, must match PyTorch sample by sample.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { cacheDir, ensureBucket, modelDir, requireEnv } from '../helpers/services.ts';
import { assertRowsMatchHf, hfOracle } from '../helpers/hfOracle.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import { spawnIsolated, type IsolatedProcess } from '../helpers/isolatedProcess.ts';
import { openStore } from '../../src/store/openStore.ts';
import { getJson, type ObjectStore } from '../../src/store/store.ts';
import { sha256 } from '../../src/io/hash.ts';
import { UNTRAIN_RULE_ID } from '../../activities/untrained.ts';
import type { EvaluationSummary } from '../../src/eval/summary.ts';
import type { ShardDone } from '../../activities/evaluation.ts';
import type { SweepResult } from '../../workflows/sweep.ts';
import type { RunResult } from '../../cli/actions/run.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
requireEnv('AWS_ENDPOINT_URL');
const bucket = requireEnv('ENTROSCOPE_TEST_BUCKET');
const base = `s3://${bucket}/share-nothing-${randomUUID()}`;
const bin = new URL('../../bin/entroscope.js', import.meta.url).pathname;
/** Every isolated process mounts its private tmpfs here (the same path in each namespace). */
const root = join(tmpdir(), 'entroscope-share-nothing-root');

let staging: string; // the test's own files: the client reads the sweep spec here, workers cannot
let client: Client;
let connection: Connection;
const processes: IsolatedProcess[] = [];
const model = `${base}/models/minilm`;
const datasets = { jsonl: `${base}/data/texts.jsonl`, parquet: `${base}/data/texts.parquet`, txt: `${base}/data/txt` } as const;
type DatasetKind = keyof typeof datasets;
const expectedRows: Record<DatasetKind, number> = { jsonl: 10, parquet: 6, txt: 4 };
const uploaded: Record<string, Uint8Array> = {};
let modelSha256: string;
const common = ['--layers', 'all', '--diff-erank', '--shard-size', '2', '--batch-size', '2', '--max-tokens', '64'];

function worker(): IsolatedProcess {
  const p = spawnIsolated({
    root,
    hide: [staging, join(cacheDir, 'models')],
    argv: [process.execPath, bin, 'worker', '--temporal', address, '--extraction-concurrency', '1'],
    env: { ...process.env, ENTROSCOPE_THREADS: '1' },
  });
  processes.push(p);
  return p;
}

function cli(args: string[]): IsolatedProcess {
  const p = spawnIsolated({ root, hide: [join(cacheDir, 'models')], argv: [process.execPath, bin, ...args, '--temporal', address] });
  processes.push(p);
  return p;
}

async function finished(p: IsolatedProcess): Promise<string> {
  const code = await p.exited;
  assert.equal(code, 0, `entroscope ${p.child.spawnargs.slice(-8).join(' ')} exited ${code}:\n${p.output()}`);
  return p.output();
}

/** The last JSON object a `--json` command printed (stdout and stderr share one buffer here). */
function jsonOf<T>(output: string): T {
  const start = output.indexOf('\n{') >= 0 ? output.indexOf('\n{') + 1 : output.indexOf('{');
  return JSON.parse(output.slice(start, output.lastIndexOf('}') + 1)) as T;
}

function kill(p: IsolatedProcess): Promise<number | null> {
  p.child.kill('SIGKILL');
  return p.exited;
}

/** Waits until some extractShard of `workflowIds` is running on a worker with `identity` (or any, when absent). */
async function shardRunningOn(workflowIds: () => string[], identity?: string, ms = 180_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    for (const id of workflowIds()) {
      const d = await client.workflow.getHandle(id).describe().catch(() => undefined);
      const running = (d?.raw.pendingActivities ?? []).filter(
        (a) =>
          a.activityType?.name === 'extractShard' &&
          (Number(a.state) === 2 || String(a.state) === 'PENDING_ACTIVITY_STATE_STARTED') &&
          (!identity || a.lastWorkerIdentity === identity),
      );
      if (running.length > 0) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no shard of ${workflowIds().join(', ')} ran on ${identity ?? 'any worker'} within ${ms} ms`);
}

/** The workflow ID a `run` prints on stderr. */
function workflowIdOf(p: IsolatedProcess): string | undefined {
  return /entroscope: workflow (\S+)/.exec(p.output())?.[1];
}

/** What must be bit-identical between two runs of one evaluation in two stores. */
async function resultsOf(storeUri: string, summaryKey: string): Promise<{ layers: unknown; files: unknown; harness: unknown; plan: string }> {
  const store = openStore(storeUri);
  const summary = await getJson<EvaluationSummary>(store, summaryKey);
  const runDir = summaryKey.slice(0, summaryKey.lastIndexOf('/'));
  const manifest = await getJson<{ files: Array<{ key: string; bytes: number; sha256: string }> }>(store, `${runDir}/manifest.json`);
  // summary.json and results.json name their own store (URIs), and results.json the time it was
  // written and the runtimes that extracted; everything else must match byte for byte, and
  // results.json's metrics, sample counts and configs value for value.
  const files = manifest.files.filter((f) => !f.key.endsWith('/summary.json') && !f.key.endsWith('/results.json'));
  const layers = summary.layers.map((l) => ({ ...l, gram: l.gram.slice(storeUri.length) }));
  const results = await getJson<Record<string, unknown>>(store, `${runDir}/results.json`);
  const harness = { results: results.results, nSamples: results['n-samples'], configs: results.configs, config: results.config, taskHashes: results.task_hashes };
  return { layers, files, harness, plan: new TextDecoder().decode(await store.get(`${runDir}/plan.json`)) };
}

async function shardDones(store: ObjectStore, prefix: string): Promise<ShardDone[]> {
  const keys = (await store.list(`${prefix}/shards/`)).filter((k) => k.endsWith('/done.json'));
  return Promise.all(keys.map((k) => getJson<ShardDone>(store, k)));
}

before(async () => {
  staging = await mkdtemp(join(tmpdir(), 'entroscope-share-nothing-'));
  await rm(root, { recursive: true, force: true });
  await ensureBucket(bucket);
  const upload = openStore(base);
  const put = async (key: string, bytes: Uint8Array) => {
    uploaded[key] = bytes;
    await upload.put(key, bytes);
  };
  const onnx = await readFile(join(modelDir('all-minilm-l6-v2'), 'model.onnx'));
  modelSha256 = sha256(onnx);
  await put('models/minilm/model.onnx', onnx);
  await put('models/minilm/tokenizer.json', await readFile(join(modelDir('all-minilm-l6-v2'), 'tokenizer.json')));
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { text: string }).text);
  await put('data/texts.jsonl', new TextEncoder().encode(demo.slice(0, 10).map((text) => JSON.stringify({ text })).join('\n') + '\n'));
  await put('data/texts.parquet', new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: demo.slice(10, 16), type: 'STRING' }] })));
  for (const [i, text] of demo.slice(16, 20).entries()) await put(`data/txt/doc-${i}.txt`, new TextEncoder().encode(text));
  // Long texts (~256 tokens) for the cancellation: shards of 32 that take many seconds.
  const long = Array.from({ length: 64 }, (_, i) => `${i}. ` + Array.from({ length: 8 }, (_, k) => demo[(40 + i * 8 + k) % demo.length]).join(' '));
  await put('data/long.jsonl', new TextEncoder().encode(long.map((text) => JSON.stringify({ text })).join('\n') + '\n'));
  connection = await Connection.connect({ address });
  client = new Client({ connection });
});

after(async () => {
  await Promise.all(processes.filter((p) => p.child.exitCode === null && p.child.signalCode === null).map(kill));
  await connection?.close();
  await rm(staging, { recursive: true, force: true });
});

let reference: SweepResult;
let firstWorker: IsolatedProcess;

test('one isolated worker: a sweep over a model and JSONL, Parquet and txt data only in MinIO, every layer, Diff-eRank through the store', async () => {
  firstWorker = worker();
  await firstWorker.waitFor('entroscope worker: polling');
  const specFile = join(staging, 'sweep.yaml');
  await writeFile(
    specFile,
    [
      'name: share-nothing',
      `store: ${base}/store-reference`,
      'models:',
      `  - { model: ${model}, family: minilm }`,
      'datasets:',
      `  - { data: ${datasets.jsonl} }`,
      `  - { data: ${datasets.parquet} }`,
      `  - { data: ${datasets.txt} }`,
      'layers: [all]',
      'diffErank: true',
      'shardSize: 2',
      'batchSize: 2',
      'maxTokens: 64',
      'concurrency: { evaluations: 3, shards: 2 }',
      '',
    ].join('\n'),
  );
  reference = jsonOf<SweepResult>(await finished(cli(['sweep', specFile, '--json'])));
  assert.deepEqual(reference.evaluations.map((e) => e.status), ['completed', 'completed', 'completed']);
  const store = openStore(`${base}/store-reference`);
  // The twin is in the store, keyed by the source model's sha256 (computed here from the uploaded bytes).
  const twinKey = `untrained/${modelSha256}-seed0-${UNTRAIN_RULE_ID}`;
  assert.ok(await store.exists(`${twinKey}/model.onnx`), `twin at ${twinKey}`);
  assert.equal(sha256(await store.get(`${twinKey}/tokenizer.json`)), sha256(uploaded['models/minilm/tokenizer.json']));
  for (const [i, kind] of (['jsonl', 'parquet', 'txt'] as const).entries()) {
    const e = reference.evaluations[i];
    const summary = await getJson<EvaluationSummary>(store, e.summaryKey!);
    assert.equal(summary.model.onnxSha256, modelSha256);
    assert.equal(summary.dataset.rows, expectedRows[kind]);
    if (kind !== 'txt') assert.equal(summary.dataset.sha256, sha256(uploaded[`data/texts.${kind}`]), `${kind}: the dataset hash is of the uploaded bytes`);
    assert.deepEqual(summary.layers.map((l) => l.layer), ['embeddings', 'block.0', 'block.1', 'block.2', 'block.3', 'block.4', 'block.5']);
    for (const l of summary.layers) assert.ok(l.diffErank && Number.isFinite(l.diffErank.diffErank), `${kind} ${l.layer} has Diff-eRank`);
  }
  // The sweep's fits read its own three summaries.
  const fits = await getJson<Array<{ dataset: string }>>(store, reference.fitsUri.slice(`${base}/store-reference/`.length));
  assert.ok(Array.isArray(fits));
  // Nothing a worker or the client wrote is visible outside its namespace.
  assert.deepEqual(await readdir(root), []);
});

test('two isolated workers, one SIGKILLed mid-shard, give through `run` results bit-identical to the one-worker sweep', async () => {
  const second = worker();
  await second.waitFor('entroscope worker: polling');
  const store = `${base}/store-two`;
  const runs: Record<string, IsolatedProcess> = {};
  runs.jsonl = cli(['run', '--model', model, '--data', datasets.jsonl, ...common, '--family', 'minilm', '--store', store, '--parallel', '2', '--heartbeat-seconds', '3', '--json']);
  // A shard running on the first worker: kill it there, mid-shard, then bring up a fresh third worker.
  await shardRunningOn(() => {
    const id = workflowIdOf(runs.jsonl);
    return id ? [id, `${id}/untrained-seed0`] : [];
  }, firstWorker.identity);
  await kill(firstWorker);
  const third = worker();
  runs.parquet = cli(['run', '--model', model, '--data', datasets.parquet, ...common, '--family', 'minilm', '--store', store, '--heartbeat-seconds', '3', '--json']);
  runs.txt = cli(['run', '--model', model, '--data', datasets.txt, ...common, '--family', 'minilm', '--store', store, '--heartbeat-seconds', '3', '--json']);
  await third.waitFor('entroscope worker: polling');
  const workersSeen = new Set<string>();
  for (const [i, kind] of (['jsonl', 'parquet', 'txt'] as const).entries()) {
    const r = jsonOf<RunResult>(await finished(runs[kind]));
    const ref = reference.evaluations[i];
    assert.equal(r.summaryKey, ref.summaryKey, `${kind}: the same run folder (same plan hash)`);
    assert.deepEqual(await resultsOf(store, r.summaryKey), await resultsOf(`${base}/store-reference`, ref.summaryKey!), `${kind}: bit-identical`);
    for (const d of await shardDones(openStore(store), r.prefix)) workersSeen.add(d.runtime!.worker);
  }
  assert.ok(workersSeen.size >= 2, `shards were extracted on ${[...workersSeen].join(', ')}`);
  await Promise.all([kill(second), kill(third)]);
});

test('a run resumed after every worker and the client were killed gives the same results', async () => {
  const store = `${base}/store-resume`;
  // Without the twin (tested above), so the resumed run is quick; the shards must match the reference's.
  const args = ['run', '--model', model, '--data', datasets.jsonl, ...common.filter((a) => a !== '--diff-erank'), '--family', 'minilm', '--store', store, '--parallel', '1', '--heartbeat-seconds', '3', '--json'];
  const workers = [worker(), worker()];
  const first = cli(args);
  const s = openStore(store);
  // Wait until some shards are finished, then kill everything.
  for (const until = Date.now() + 240_000; ; ) {
    const dones = (await s.list('evaluations/')).filter((k) => k.endsWith('/done.json'));
    if (dones.length >= 2) break;
    assert.ok(Date.now() < until, 'no shard finished in time');
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.all([...workers, first].map(kill));
  const fresh = [worker(), worker()];
  const resumed = cli(args);
  const r = jsonOf<RunResult>(await finished(resumed));
  assert.match(resumed.output(), /attaching to running workflow/);
  const got = await resultsOf(store, r.summaryKey);
  const want = await resultsOf(`${base}/store-reference`, reference.evaluations[0].summaryKey!);
  const shardFiles = (x: typeof got) => (x.files as Array<{ key: string }>).filter((f) => f.key.includes('/shards/'));
  assert.deepEqual(shardFiles(got), shardFiles(want), 'every shard file bit-identical');
  const metrics = (x: typeof got) => (x.layers as Array<Record<string, unknown>>).map(({ layer, dim, metrics, pooled, meanLoss }) => ({ layer, dim, metrics, pooled, meanLoss }));
  assert.deepEqual(metrics(got), metrics(want), 'every layer\'s metrics bit-identical');
  resumeWorkers = fresh;
});

let resumeWorkers: IsolatedProcess[] = [];

/** CPU seconds (user + system) a process has used, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
  return (Number(stat[11]) + Number(stat[12])) / 100; // utime, stime in clock ticks (100/s)
}

test('cancelling a run stops its running shards within seconds', async () => {
  const store = `${base}/store-cancel`;
  const run = cli(['run', '--model', model, '--data', `${base}/data/long.jsonl`, '--layers', 'all', '--shard-size', '32', '--batch-size', '1', '--max-tokens', '256', '--store', store, '--parallel', '2', '--json']);
  await shardRunningOn(() => {
    const id = workflowIdOf(run);
    return id ? [id] : [];
  });
  const id = workflowIdOf(run)!;
  await new Promise((r) => setTimeout(r, 1000));
  await finished(cli(['cancel', id]));
  await run.exited;
  // Within a few seconds both workers are idle, and no shard finishes afterwards.
  await new Promise((r) => setTimeout(r, 6000));
  const s = openStore(store);
  const doneBefore = (await s.list('evaluations/')).filter((k) => k.endsWith('/done.json')).length;
  const cpu0 = await Promise.all(resumeWorkers.map((w) => cpuSeconds(w.child.pid!)));
  await new Promise((r) => setTimeout(r, 4000));
  const cpu1 = await Promise.all(resumeWorkers.map((w) => cpuSeconds(w.child.pid!)));
  const doneAfter = (await s.list('evaluations/')).filter((k) => k.endsWith('/done.json')).length;
  assert.equal(doneAfter, doneBefore, 'no shard completed after the cancellation');
  assert.ok(doneAfter < 2, `the shards were stopped, not finished (${doneAfter} of 2 done)`);
  cpu1.forEach((c, i) => assert.ok(c - cpu0[i] < 1, `worker ${i} used ${(c - cpu0[i]).toFixed(2)} CPU s in 4 s after the cancellation`));
  assert.equal((await client.workflow.getHandle(id).describe()).status.name, 'CANCELLED');
});

test('a decoder exported by optimum, only in MinIO, every layer with the loss off on two isolated workers: each sample equals PyTorch', async () => {
  // The zoo's Llama (optimum-cli, no KV cache): each worker taps it and cuts the graph to the hidden
  // states in its own cache; the oracle is transformers on the checkpoint (hf_oracle.py).
  const zoo = JSON.parse(await readFile(join(cacheDir, 'zoo', 'zoo.json'), 'utf8')) as { entries: Array<{ arch: string; form: string; hf: string; onnx: string }> };
  const llama = zoo.entries.find((e) => e.arch === 'llama' && e.form === 'no-past')!;
  const upload = openStore(base);
  for (const f of await readdir(llama.onnx)) await upload.put(`models/llama/${f}`, await readFile(join(llama.onnx, f)));
  const store = `${base}/store-llama`;
  const run = cli(['run', '--model', `${base}/models/llama`, '--data', datasets.jsonl, '--layers', 'all', '--no-loss', '--shard-size', '1', '--batch-size', '2', '--max-tokens', '40', '--store', store, '--parallel', '2', '--json']);
  const r = jsonOf<RunResult>(await finished(run));
  const s = openStore(store);
  const rows: SampleRow[] = [];
  for (const k of (await s.list(`${r.prefix}/shards/`)).filter((x) => x.endsWith('samples.arrow'))) rows.push(...samplesFromArrow(await s.get(k), k));
  const workersSeen = new Set((await shardDones(s, r.prefix)).map((d) => d.runtime!.worker));
  assert.equal(workersSeen.size, 2, `shards were extracted on ${[...workersSeen].join(', ')}`);
  assert.ok(rows.every((x) => x.loss === null), 'no loss computed');
  const texts = new TextDecoder().decode(uploaded['data/texts.jsonl']).trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
  const oracle = await hfOracle(llama.hf, texts, 40);
  const checked = assertRowsMatchHf(rows, oracle);
  assert.equal(checked, (oracle.numLayers + 1) * expectedRows.jsonl, 'every row of every hidden_states index');
});
