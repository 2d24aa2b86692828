// Scale: an evaluation of many cheap shards (a generated tiny model on one-line texts) must stay
// within Temporal's limits — chunks as child workflows, bounded windows — and give the same
// numbers as the same data in one shard. SCALE_SHARDS sets the size (default 20,000; the issue's
// bar), so a quick local run can use fewer; SCALE_STORE=s3 puts the store in MinIO instead of a folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { chunkLevels, evaluationWorkflow } from '../../workflows/evaluation.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { ensureBucket, requireEnv } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const SHARDS = Number(process.env.SCALE_SHARDS ?? 20_000);
const FAN_IN = 16;
const S3 = process.env.SCALE_STORE === 's3';
let temporal: TestTemporal;
let client: Client;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-scale-'));
  writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['encoder-d32-l2']);
  const words = ['the', 'model', 'reads', 'a', 'line', 'of', 'text', 'and', 'its', 'states', 'compress'];
  const line = (i: number) => Array.from({ length: 4 + (i % 5) }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(' ');
  await writeFile(join(dir, 'lines.jsonl'), Array.from({ length: SHARDS }, (_, i) => JSON.stringify({ text: `${line(i)} ${i}` })).join('\n') + '\n');
  if (S3) await ensureBucket(requireEnv('ENTROSCOPE_TEST_BUCKET'));
  temporal = await startTestTemporal(address, { extractionConcurrency: 8 });
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
});

async function historyLength(workflowId: string): Promise<number> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;
}

/** Start → completion of a workflow's `activityType` activity (the last such), in ms, from its history. */
async function activityMs(workflowId: string, activityType: string): Promise<number> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const at = (e: (typeof events)[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId));
  const id = scheduled[scheduled.length - 1];
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id);
  const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id);
  if (!started || !completed) throw new Error(`${workflowId}: no completed ${activityType} activity`);
  return at(completed) - at(started);
}

test(`${SHARDS} one-row shards complete within Temporal's limits and agree with one big shard`, async (t) => {
  const store = S3 ? `s3://${process.env.ENTROSCOPE_TEST_BUCKET}/scale-${Date.now()}` : `file://${join(dir, 'store')}`;
  const spec = { model: join(dir, 'model'), data: join(dir, 'lines.jsonl'), store, reduceFanIn: FAN_IN, batchSize: 16 };
  const workflowId = `test-scale-${Date.now()}`;
  const many = await client.workflow.execute(evaluationWorkflow, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId,
    args: [{ spec: { ...spec, shardSize: 1, maxParallelShards: 32, maxParallelChunks: 4 } }],
  });
  assert.equal(many.shardsTotal, SHARDS);
  assert.equal(many.shardsExtracted, SHARDS);
  assert.equal(many.summary.metrics.samplesUsed + many.summary.metrics.samplesSkipped, SHARDS);
  // A measurement, not a bound: summarize reads every shard's per-sample table (see BENCHMARKS.md).
  t.diagnostic(`summarize over ${SHARDS} shards (${S3 ? 'MinIO' : 'folder'} store): ${((await activityMs(workflowId, 'summarize')) / 1000).toFixed(2)} s`);

  // Bounded histories: the parent and every chunk stay far below 51,200 events.
  const { chunkShards } = chunkLevels(FAN_IN);
  const chunks = Math.ceil(SHARDS / chunkShards);
  const parent = await historyLength(workflowId);
  assert.ok(parent < 20_000, `parent history ${parent} events`);
  if (chunks > 1) {
    for (const c of [0, chunks - 1]) {
      const n = await historyLength(`${workflowId}/chunk-${c}`);
      assert.ok(n < 10_000, `chunk ${c} history ${n} events`);
    }
  }

  const one = await client.workflow.execute(evaluationWorkflow, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: `test-scale-one-${Date.now()}`,
    args: [{ spec: { ...spec, shardSize: SHARDS } }],
  });
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
  assert.ok(rel(many.summary.pooled.pooledEntropy, one.summary.pooled.pooledEntropy) < 1e-9, 'pooled entropy: partials add up in any grouping');
  assert.equal(many.summary.pooled.n, one.summary.pooled.n);
  assert.ok(rel(many.summary.metrics.meanEntropy!, one.summary.metrics.meanEntropy!) < 1e-6, 'mean entropy');
});
