// Live progress of a chunked evaluation (more than k^m ≥ 256 shards, so chunk child workflows run):
// the shards-done count moves per shard, not per finished chunk, and never goes back — read both
// through the client (evaluationProgress) and through the real `entroscope status ID --watch`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { chunkLevels, evaluationWorkflow } from '../../workflows/evaluation.ts';
import { evaluationProgress } from '../../cli/actions/run.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { evaluationHistoryProgress } from '../../cli/actions/historyProgress.ts';
import { requireEnv, runCli } from '../helpers/services.ts';
import { startTestTemporal, type TestTemporal } from '../helpers/temporal.ts';

const address = requireEnv('TEMPORAL_ADDRESS');
const FAN_IN = 16;
const { chunkShards } = chunkLevels(FAN_IN); // 256
const SHARDS = 2 * chunkShards + 88; // three chunks, the last one partial
let temporal: TestTemporal;
let client: Client;
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-progress-'));
  writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['encoder-d32-l2']);
  const words = ['progress', 'moves', 'one', 'shard', 'at', 'a', 'time'];
  const lines = Array.from({ length: SHARDS }, (_, i) => JSON.stringify({ text: `${words[i % words.length]} ${words[(i * 3) % words.length]} ${i}` }));
  await writeFile(join(dir, 'lines.jsonl'), lines.join('\n') + '\n');
  temporal = await startTestTemporal(address, { extractionConcurrency: 2 });
  client = temporal.client;
});

after(async () => {
  await temporal?.close();
});

/** Shard counts from `status --watch`'s lines (`entroscope: extracting: 300/600 shards`). */
function watchedCounts(stderr: string): number[] {
  return [...stderr.matchAll(/: (\d+)\/(\d+) shards/g)].map((m) => Number(m[1]));
}

const nonDecreasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x >= xs[i - 1]);

test('a chunked evaluation reports shards done per shard, never decreasing', async () => {
  const workflowId = `test-progress-${Date.now()}`;
  const spec = { model: join(dir, 'model'), data: join(dir, 'lines.jsonl'), store: `file://${join(dir, 'store')}`, shardSize: 1, reduceFanIn: FAN_IN, maxParallelShards: 4, maxParallelChunks: 1 };
  const handle = await client.workflow.start(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId, args: [{ spec }] });
  const watch = runCli(['status', workflowId, '--watch'], { ...process.env, TEMPORAL_ADDRESS: address });

  // Poll the way the CLI does, until the workflow closes.
  const seen: number[] = [];
  // And as `status` reads it with no worker to ask: from the histories (the evaluation's and its running chunks').
  const fromHistory: number[] = [];
  let polls = 0;
  let closed = false;
  const result = handle.result().finally(() => (closed = true));
  while (!closed) {
    try {
      const p = await evaluationProgress(client, workflowId);
      if (p.shardsTotal > 0) seen.push(p.shardsDone);
      if (polls++ % 10 === 0) {
        const h = await evaluationHistoryProgress(client, workflowId);
        if (h && h.shardsTotal > 0) fromHistory.push(h.shardsDone);
      }
    } catch {
      // not yet planned, or a chunk not yet answering: the CLI keeps its last value too
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await result;
  assert.equal(r.shardsExtracted, SHARDS);
  const final = await evaluationProgress(client, workflowId);
  assert.equal(final.shardsDone, SHARDS);
  assert.deepEqual(final.runningChunks, []);

  assert.ok(nonDecreasing(seen), `done counts went back: ${seen.join(' ')}`);
  const between = seen.filter((x) => x % chunkShards !== 0 && x < SHARDS);
  assert.ok(between.length >= 5, `expected counts between chunk boundaries, saw ${[...new Set(seen)].join(' ')}`);

  assert.ok(nonDecreasing(fromHistory), `history counts went back: ${fromHistory.join(' ')}`);
  assert.ok(fromHistory.some((x) => x % chunkShards !== 0 && x < SHARDS), `history counts only at chunk boundaries: ${fromHistory.join(' ')}`);
  const st = await runCli(['status', workflowId], { ...process.env, TEMPORAL_ADDRESS: address });
  assert.deepEqual((JSON.parse(st.stdout) as { progress: unknown }).progress, { phase: 'done', shardsTotal: SHARDS, shardsReused: 0, shardsComputed: SHARDS, shardsDone: SHARDS });

  const cli = await watch;
  assert.equal(cli.code, 0, cli.stderr);
  const lines = watchedCounts(cli.stderr);
  assert.ok(nonDecreasing(lines), `status --watch went back: ${lines.join(' ')}`);
  assert.ok(
    lines.some((x) => x % chunkShards !== 0 && x < SHARDS),
    `status --watch showed only chunk boundaries: ${lines.join(' ')}`,
  );
});
