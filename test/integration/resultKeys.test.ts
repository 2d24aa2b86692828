// Keys that mean what they say, through real Temporal with one long-lived worker: a run that differs
// only in its seed or its reduction fan-in reuses every shard but writes its own plan, summary and
// manifest under `runs/<run>/` (and its own reduction tree under `reduce/k<fanIn>/`), leaving the
// other run's files as they were; the worker serves each run its own plan.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import type { EvaluationSpecInput } from '../../src/eval/evaluationSpec.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../../src/model/tinyTransformer.ts';
import { openStore } from '../../src/store/openStore.ts';
import { sha256 } from '../../src/io/hash.ts';
import { requireEnv } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
let temporal: TestTemporal;
let client: Client;
let dir: string;
let base: EvaluationSpecInput;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-keys-'));
  writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['encoder-d32-l2']);
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(join(dir, 'data.jsonl'), demo.slice(0, 20).join('\n') + '\n');
  base = { model: join(dir, 'model'), data: join(dir, 'data.jsonl'), shardSize: 4, store: `file://${join(dir, 'store')}`, layers: ['last'] };
  temporal = await startTestTemporal(address);
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
function evaluate(spec: EvaluationSpecInput): Promise<EvaluationResult> {
  return client.workflow.execute(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId: `test-keys-${Date.now()}-${n++}`, args: [{ spec }] });
}

async function filesUnder(storeUri: string, prefix: string): Promise<Map<string, string>> {
  const store = openStore(storeUri);
  const out = new Map<string, string>();
  for (const k of await store.list(prefix)) out.set(k, sha256(await store.get(k)));
  return out;
}

test('another seed reuses the shards, writes its own run folder, and leaves the first run as it was', async () => {
  const a = await evaluate({ ...base, seed: 0 });
  const before = await filesUnder(a.storeUri, `${a.prefix}/runs/${a.run}/`);
  const b = await evaluate({ ...base, seed: 1 });
  assert.equal(b.prefix, a.prefix);
  assert.equal(b.shardsExtracted, 0, 'every shard reused');
  assert.notEqual(b.run, a.run);
  assert.equal(b.summary.seed, 1, 'the worker served the second run its own plan');
  assert.equal(a.summary.seed, 0);
  assert.deepEqual(await filesUnder(a.storeUri, `${a.prefix}/runs/${a.run}/`), before, 'the first run untouched');
  // The bootstrap interval depends on the seed; the point estimate does not.
  assert.equal(b.summary.metrics.meanEntropy, a.summary.metrics.meanEntropy);
});

test('another reduction fan-in on a stored evaluation builds its own tree and sums the same rows', async () => {
  const a = await evaluate({ ...base, reduceFanIn: 16 });
  const b = await evaluate({ ...base, reduceFanIn: 2 });
  assert.equal(b.shardsExtracted, 0);
  assert.notEqual(b.run, a.run);
  const store = openStore(b.storeUri);
  assert.ok((await store.list(`${b.prefix}/reduce/k2/`)).length >= 5 - 1, 'a fan-in-2 tree over 5 shards');
  assert.ok((await store.list(`${a.prefix}/reduce/k16/`)).length >= 1);
  const [pa, pb] = [a.summary.pooled, b.summary.pooled];
  assert.ok(Math.abs(pa.pooledEntropy - pb.pooledEntropy) <= 1e-9 * Math.abs(pa.pooledEntropy), `${pa.pooledEntropy} vs ${pb.pooledEntropy}`);
});
