// The README's main command on embedded defaults, as a new user runs it: the CLI starts its own
// Temporal dev server (SQLite in the state folder) and an in-process worker, evaluates the bundled
// model on the bundled data, prints a table — and a second run reuses every shard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/services.ts';
import { embeddedTestPort, stopDevServer } from '../helpers/devServers.ts';

test('embedded run: starts its own Temporal, prints the results table, and a re-run reuses every shard', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'entroscope-e2e-'));
  const data = join(state, 'small.jsonl');
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(data, demo.slice(0, 40).join('\n') + '\n');
  // No TEMPORAL_ADDRESS: the embedded default must be used, on a port of its own.
  const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_TEMPORAL_PORT: String(embeddedTestPort(7)) };
  delete env.TEMPORAL_ADDRESS;
  // The dev server stays up after the runs (for the next one); this test stops it when done.
  t.after(() => stopDevServer(state));

  const first = await runCli(['run', '--data', data, '--shard-size', '16', '--state-dir', state], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /model\s+layer\s+samples used\s+skipped\s+meanEntropy\s+erankOfMeanEntropy\s+meanErank\s+meanNormalizedEntropy/);
  assert.match(first.stdout, /all-minilm-l6-v2\s+last\s+40\s+0\s+\d+\.\d{4}/);
  assert.match(first.stdout, /3 of 3 shards computed now, 0 reused/);
  assert.ok(existsSync(join(state, 'temporal.db')), 'the dev server persisted to the state folder');
  const summaryUri = /summary: (file:\S+)/.exec(first.stdout)?.[1];
  assert.ok(summaryUri, 'prints where the summary was written');
  const summary = JSON.parse(await readFile(new URL(summaryUri), 'utf8')) as { metrics: { samplesUsed: number; meanEntropy: number } };
  assert.equal(summary.metrics.samplesUsed, 40);

  const second = await runCli(['run', '--data', data, '--shard-size', '16', '--state-dir', state, '--json'], env);
  assert.equal(second.code, 0, second.stderr);
  const result = JSON.parse(second.stdout) as { shardsExtracted: number; shardsTotal: number; summary: { metrics: { meanEntropy: number } } };
  assert.equal(result.shardsTotal, 3);
  assert.equal(result.shardsExtracted, 0);
  assert.equal(result.summary.metrics.meanEntropy, summary.metrics.meanEntropy);
});
