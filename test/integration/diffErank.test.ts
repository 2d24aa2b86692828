// Diff-eRank end to end: a generated causal model and its untrained twin, evaluated through real
// Temporal (the twin as a child workflow), with the difference, the ratio and ΔL checked against
// the twin's own summary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { requireEnv } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
let temporal: TestTemporal;
let client: Client;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-diff-'));
  writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['causal-d32-l2']);
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(join(dir, 'data.jsonl'), demo.slice(0, 30).join('\n') + '\n');
  temporal = await startTestTemporal(address);
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
});

async function run(id: string, seed: number): Promise<{ trained: EvaluationResult; untrained: EvaluationResult }> {
  const workflowId = `test-diff-${id}-${Date.now()}`;
  const spec = {
    model: join(dir, 'model'),
    data: join(dir, 'data.jsonl'),
    shardSize: 10,
    store: `file://${join(dir, 'store')}`,
    layers: ['embeddings', 'last'],
    diffErank: true,
    untrainSeed: seed,
  };
  const trained = await client.workflow.execute(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId, args: [{ spec }] });
  const untrained = await client.workflow.getHandle<typeof evaluationWorkflow>(`${workflowId}/untrained-seed${seed}`).result();
  return { trained, untrained };
}

test('Diff-eRank and ΔL equal untrained minus trained per layer; the twin is reproducible from its seed', async () => {
  const a = await run('a', 7);
  assert.notEqual(a.untrained.summary.model.onnxSha256, a.trained.summary.model.onnxSha256, 'the twin has other weights');
  for (const [i, l] of a.trained.summary.layers.entries()) {
    const u = a.untrained.summary.layers[i];
    assert.equal(u.layer, l.layer);
    assert.ok(l.diffErank, `layer ${l.layer} has Diff-eRank`);
    assert.equal(l.diffErank.diffErank, u.metrics.erankOfMeanEntropy! - l.metrics.erankOfMeanEntropy!);
    assert.equal(l.diffErank.ratio, l.metrics.erankOfMeanEntropy! / u.metrics.erankOfMeanEntropy!);
    assert.equal(l.diffErank.untrainSeed, 7);
    assert.ok(l.meanLoss !== null && u.meanLoss !== null, 'a causal model reports loss');
    assert.equal(l.reducedLoss, u.meanLoss! - l.meanLoss!);
  }
  const b = await run('b', 7);
  assert.equal(b.untrained.summary.model.onnxSha256, a.untrained.summary.model.onnxSha256, 'same seed, same twin');
  assert.equal(b.trained.summary.layers[1].diffErank!.diffErank, a.trained.summary.layers[1].diffErank!.diffErank);
  const c = await run('c', 8);
  assert.notEqual(c.untrained.summary.model.onnxSha256, a.untrained.summary.model.onnxSha256, 'another seed, another twin');
});
