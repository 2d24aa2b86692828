// Specs through the CLI as a user meets them: a sweep spec with typos fails before anything runs,
// naming each key and the one meant; every evaluation setting has a `run` flag (and a README line)
// and each flag really reaches the evaluation on the real Temporal server.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvaluationSpecSchema } from '../../src/eval/evaluationSpec.ts';
import { SweepSpecSchema } from '../../src/sweep/sweepSpec.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../../src/model/tinyTransformer.ts';
import { requireEnv, runCli } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

/** Spec keys whose `run` flag is not the key in kebab case; `untrainedTwin` is set by the workflow only. */
const FLAG_OF: Record<string, string | null> = {
  maxParallelShards: '--parallel',
  maxParallelChunks: '--parallel-chunks',
  loss: '--no-loss',
  sample: '--sample',
  untrainedTwin: null,
};
const kebab = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-spec-cli-'));
});

test('sweep: a spec with unknown keys fails at once, each named with its path and the key meant', async () => {
  const spec = join(dir, 'typos.yaml');
  await writeFile(spec, 'store: r\nmodels:\n  - { model: a }\n  - { model: b, parms: 1000 }\ndatasets:\n  - { data: d.jsonl, nonEmtpy: [context] }\nreduce_fan_in: 4\n');
  const env = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' }; // never reached: the spec fails first
  const r = await runCli(['sweep', spec], env, 60_000);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /typos\.yaml: invalid sweep spec/);
  assert.match(r.stderr, /\n {2}models\[1\]\.parms: unknown key \(did you mean params\?\)/);
  assert.match(r.stderr, /\n {2}datasets\[0\]\.nonEmtpy: unknown key \(did you mean nonEmpty\?\)/);
  assert.match(r.stderr, /\n {2}reduce_fan_in: unknown key \(did you mean reduceFanIn\?\)/);
});

test('every evaluation setting has its run flag, and every flag and sweep key a README line', async () => {
  const help = (await runCli(['run', '--help'], process.env, 60_000)).stdout;
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  for (const key of Object.keys(EvaluationSpecSchema.shape)) {
    const flag = key in FLAG_OF ? FLAG_OF[key] : kebab(key);
    if (flag === null) continue;
    assert.ok(help.includes(`${flag} `) || help.includes(`${flag}\n`), `run --help has no ${flag} (spec key ${key})`);
    assert.ok(readme.includes(`\`${flag}`), `README does not describe ${flag}`);
  }
  for (const key of Object.keys(SweepSpecSchema.shape)) assert.ok(readme.includes(`\`${key}\``), `README does not describe the sweep key ${key}`);
});

test('run: each new flag reaches the evaluation (sample, seed, fan-in, heartbeat, chunks, no-loss) on real Temporal', async () => {
  const address = requireEnv('TEMPORAL_ADDRESS');
  let temporal: TestTemporal | undefined;
  try {
    temporal = await startTestTemporal(address);
    writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['causal-d32-l2']);
    const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
    await writeFile(join(dir, 'data.jsonl'), demo.slice(0, 12).join('\n') + '\n');
    const store = join(dir, 'store');
    const common = ['run', '--model', join(dir, 'model'), '--data', join(dir, 'data.jsonl'), '--temporal', address, '--store', store, '--shard-size', '2', '--json'];
    const flags = ['--sample', '5', '--sample-seed', '3', '--seed', '7', '--reduce-fan-in', '2', '--heartbeat-seconds', '30', '--parallel-chunks', '2'];

    const quiet = await runCli([...common, ...flags, '--no-loss']);
    assert.equal(quiet.code, 0, quiet.stderr);
    const r = JSON.parse(quiet.stdout) as { prefix: string; run: string; shardsTotal: number; summary: { seed: number; meanLoss: number | null; dataset: { rows: number } } };
    assert.equal(r.summary.dataset.rows, 5, '--sample 5 keeps 5 of 12 rows');
    assert.equal(r.shardsTotal, 3, '5 rows in shards of 2');
    assert.equal(r.summary.seed, 7);
    assert.equal(r.summary.meanLoss, null, '--no-loss: no loss although the model has logits');
    // The run's plan holds what changes results; operational settings (heartbeat, chunks) are checked
    // in the workflow's history below.
    const plan = JSON.parse(await readFile(join(store, r.prefix, 'runs', r.run, 'plan.json'), 'utf8')) as { spec: Record<string, unknown> };
    assert.deepEqual([plan.spec.sample, plan.spec.reduceFanIn, plan.spec.loss], [{ count: 5, seed: 3 }, 2, false]);
    // Fan-in 2 over 3 shards: the first reduction level has ⌈3/2⌉ = 2 nodes (fan-in 16 would make 1).
    assert.equal((await readdir(join(store, r.prefix, 'reduce', 'k2', 'last', 'level-1'))).length, 2);
    // The heartbeat timeout the extraction activities were scheduled with.
    const workflowId = /workflow (eval-\S+)/.exec(quiet.stderr)?.[1];
    assert.ok(workflowId, quiet.stderr);
    const history = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const timeouts = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes)
      .filter((a) => a?.activityType?.name === 'extractShard')
      .map((a) => Number(a?.heartbeatTimeout?.seconds));
    assert.deepEqual(timeouts, [30, 30, 30]);
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
    const input = JSON.parse(Buffer.from(started ?? new Uint8Array()).toString('utf8')) as { spec: { maxParallelChunks: number } };
    assert.equal(input.spec.maxParallelChunks, 2, '--parallel-chunks reaches the workflow');

    const withLoss = await runCli([...common, ...flags]);
    assert.equal(withLoss.code, 0, withLoss.stderr);
    const l = JSON.parse(withLoss.stdout) as { summary: { meanLoss: number | null } };
    assert.ok(typeof l.summary.meanLoss === 'number' && l.summary.meanLoss > 0, 'without --no-loss the causal model reports its loss');
  } finally {
    await temporal?.close();
  }
});
