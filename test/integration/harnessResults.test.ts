// results.json through `run` and `sweep` on real Temporal: every file the CLI writes validates
// against the published schema (ajv), and its provenance is what the test finds itself — the model
// file's and dataset file's sha256, the rows in the file, the repository's commit — while its metric
// values are the summary's, under the lm-evaluation-harness keys.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { requireEnv, runCli } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';
import { sha256 } from '../../src/io/hash.ts';
import type { RunResult } from '../../cli/actions/run.ts';
import type { SweepResult } from '../../workflows/sweep.ts';
import type { EvaluationResults, SweepResults } from '../../src/report/harnessResults.ts';
import type { EvaluationSummary } from '../../src/eval/summary.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
let temporal: TestTemporal;
let dir: string;
const schema = JSON.parse(await readFile(new URL('../../schemas/results.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: new URL('../..', import.meta.url).pathname }).toString().trim();
const readJson = async <T>(uri: string): Promise<T> => JSON.parse(await readFile(new URL(uri), 'utf8')) as T;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-harness-'));
  writeTinyTransformer(join(dir, 'small'), TINY_PRESETS['causal-d32-l2']);
  writeTinyTransformer(join(dir, 'large'), TINY_PRESETS['causal-d64-l4']);
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(join(dir, 'good.jsonl'), demo.slice(0, 20).join('\n') + '\n');
  temporal = await startTestTemporal(address);
});

after(async () => {
  await temporal?.close();
});

function checkValid(doc: unknown, what: string): void {
  assert.ok(validate(doc), `${what} does not validate: ${JSON.stringify(validate.errors, null, 1)}`);
}

test('run writes results.json beside summary.json: harness keys, the summary’s values, provenance the test computes itself', async () => {
  const started = Date.now() / 1000;
  const r = await runCli(['run', '--model', join(dir, 'small'), '--data', join(dir, 'good.jsonl'), '--layers', 'embeddings,last', '--diff-erank', '--shard-size', '8', '--store', join(dir, 'store'), '--temporal', address, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as RunResult;
  assert.ok(result.resultsUri?.endsWith(`/runs/${result.run}/results.json`), result.resultsUri);
  assert.equal(result.resultsUri!.replace(/results\.json$/, 'summary.json'), result.summaryUri);
  const doc = await readJson<EvaluationResults>(result.resultsUri!);
  checkValid(doc, 'the evaluation’s results.json');
  const summary = await readJson<EvaluationSummary>(result.summaryUri);

  const task = 'good.jsonl';
  assert.deepEqual(Object.keys(doc.results), [task]);
  assert.equal(doc.config.model_sha256, sha256(await readFile(join(dir, 'small', 'model.onnx'))));
  assert.equal(doc.config.tokenizer_sha256, sha256(await readFile(join(dir, 'small', 'tokenizer.json'))));
  assert.equal(doc.task_hashes[task], sha256(await readFile(join(dir, 'good.jsonl'))));
  assert.equal(doc.configs[task].dataset_sha256, doc.task_hashes[task]);
  assert.deepEqual(doc['n-samples'][task], { original: 20, effective: 20 });
  assert.equal(doc.git_hash, commit);
  assert.ok(doc.date >= started - 1 && doc.date <= Date.now() / 1000 + 1, `date ${doc.date}`);
  assert.equal(doc.config.random_seed, 0);
  assert.equal(doc.config.untrain_seed, 0);
  assert.equal(doc.software_versions.node, process.version);
  assert.ok(doc.extraction_runtimes.length === 1 && doc.extraction_runtimes[0].shards === 3, JSON.stringify(doc.extraction_runtimes));
  assert.deepEqual(doc.configs[task].layers, ['embeddings', 'last']);
  // Every layer's metrics under `<metric>,<layer>`, standard errors beside the means; loss once.
  for (const l of summary.layers) {
    const res = doc.results[task];
    assert.equal(res[`meanEntropy,${l.layer}`], l.metrics.meanEntropy);
    assert.equal(res[`meanEntropy_stderr,${l.layer}`], l.metrics.meanEntropySE);
    assert.equal(res[`meanNormalizedEntropy,${l.layer}`], l.metrics.meanNormalizedEntropy);
    assert.equal(res[`erankOfMeanEntropy,${l.layer}`], l.metrics.erankOfMeanEntropy);
    assert.equal(res[`meanErank_stderr,${l.layer}`], l.metrics.meanErankSE);
    assert.equal(res[`pooledErank,${l.layer}`], l.pooled.pooledErank);
    assert.equal(res[`diffErank,${l.layer}`], l.diffErank!.diffErank);
  }
  assert.equal(doc.results[task]['meanLoss,none'], summary.meanLoss);
  assert.equal(doc.results[task]['reducedLoss,none'], summary.layers[0].reducedLoss);
  assert.equal(doc.higher_is_better[task].meanLoss, false);
  assert.equal(doc.higher_is_better[task].diffErank, true);
  assert.ok(!Object.keys(doc.results[task]).some((k) => k.startsWith('meanLoss,') && k !== 'meanLoss,none'), 'loss once per model');
  // results.json is one of the run's files: the manifest lists it with its sum.
  const manifest = await readJson<{ files: Array<{ key: string; sha256: string }> }>(result.summaryUri.replace(/summary\.json$/, 'manifest.json'));
  const listed = manifest.files.find((f) => f.key.endsWith(`runs/${result.run}/results.json`));
  assert.equal(listed?.sha256, sha256(await readFile(new URL(result.resultsUri!))));

  // The workflow ID `run` prints is what `status` and `report` take.
  assert.match(result.workflowId ?? '', /^eval-[0-9a-f]{20}$/);
  assert.match(r.stderr, new RegExp(`workflow ${result.workflowId}`));
  const st = JSON.parse((await runCli(['status', result.workflowId!, '--temporal', address])).stdout) as { status: string; results: Record<string, string>; progress: { phase: string; shardsDone: number; shardsTotal: number } };
  assert.equal(st.status, 'COMPLETED');
  assert.equal(st.results.resultsUri, result.resultsUri);
  assert.equal(st.results.summaryUri, result.summaryUri);
  assert.deepEqual([st.progress.phase, st.progress.shardsDone, st.progress.shardsTotal], ['done', 3, 3]);
  const rep = await runCli(['report', result.workflowId!, '--temporal', address, '--format', 'json', '-o', join(dir, 'report-run')]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /^1 evaluation from /, 'that evaluation only, not its twin or neighbours in the store');
});

test('sweep writes one results.json over its evaluations: a task per model × dataset, each pointing at its evaluation’s own file', async () => {
  const specFile = join(dir, 'sweep.yaml');
  await writeFile(
    specFile,
    `name: harness-family
store: ${join(dir, 'sweep-store')}
models:
  - { model: ${join(dir, 'small')}, name: small, family: tiny }
  - { model: ${join(dir, 'large')}, name: large, family: tiny }
  - { model: ${join(dir, 'missing')}, name: missing, family: tiny }
datasets:
  - { data: ${join(dir, 'good.jsonl')} }
layers: [last]
shardSize: 8
seed: 3
`,
  );
  const r = await runCli(['sweep', specFile, '--temporal', address, '--json']);
  assert.equal(r.code, 2, r.stderr);
  const result = JSON.parse(r.stdout) as SweepResult;
  assert.ok(result.resultsUri, 'the sweep names its results.json');
  const doc = await readJson<SweepResults>(result.resultsUri!);
  checkValid(doc, 'the sweep’s results.json');
  assert.deepEqual(Object.keys(doc.results).sort(), ['large/good.jsonl', 'small/good.jsonl']);
  assert.deepEqual(doc.group_subtasks, { small: ['small/good.jsonl'], large: ['large/good.jsonl'] });
  assert.match(doc.entroscope.failed['missing/good.jsonl'], /missing/);
  assert.equal(doc.config.sweep_id, result.sweepId);
  assert.equal(doc.config.random_seed, 3);
  assert.equal(doc.git_hash, commit);
  for (const name of ['small', 'large']) {
    const task = `${name}/good.jsonl`;
    assert.equal(doc.configs[task].model_sha256, sha256(await readFile(join(dir, name, 'model.onnx'))));
    assert.equal(doc.task_hashes[task], sha256(await readFile(join(dir, 'good.jsonl'))));
    const own = await readJson<EvaluationResults>(doc.entroscope.evaluations[task]);
    checkValid(own, `${name}’s results.json`);
    assert.equal(own.config.random_seed, 3);
    const { alias: _a, ...values } = own.results['good.jsonl'];
    const { alias, ...inSweep } = doc.results[task];
    assert.equal(alias, task);
    assert.deepEqual(inSweep, values);
    const e = result.evaluations.find((x) => x.model === name)!;
    const summary = await readJson<EvaluationSummary>(doc.entroscope.evaluations[task].replace(/results\.json$/, 'summary.json'));
    assert.equal(summary.outputs.run, e.summaryKey!.split('/').at(-2));
    assert.equal(values['meanEntropy,last'], summary.layers[0].metrics.meanEntropy);
  }
  // An evaluation ID the sweep prints (`<sweep>/m0-d0`) is what `status` and `report` take.
  const small = result.evaluations.find((x) => x.model === 'small')!;
  const rep = await runCli(['report', small.workflowId, '--temporal', address, '--format', 'md', '-o', join(dir, 'report-small')]);
  assert.equal(rep.code, 0, rep.stderr);
  assert.match(rep.stdout, /^1 evaluation from /);
  const missing = await runCli(['report', 'no-such-sweep', '--temporal', address]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no-such-sweep is neither a results folder nor a sweep or evaluation/);
  // `status` of the finished sweep lists it among the result paths.
  const st = await runCli(['status', result.sweepId, '--temporal', address]);
  assert.equal(st.code, 0, st.stderr);
  assert.equal((JSON.parse(st.stdout) as { results: Record<string, string> }).results.resultsUri, result.resultsUri);
});
