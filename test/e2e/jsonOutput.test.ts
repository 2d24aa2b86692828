// `--json` prints exactly one JSON document on stdout, always — a result or an error — and every log
// line (Temporal core's included, which go to stdout unless forwarded) goes to stderr. The real CLI,
// on its embedded dev server and worker, with core logging turned up so there are logs to misroute.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/services.ts';
import { writeSlicedPositionsModel } from '../helpers/slicedPositionsModel.ts';
import { embeddedTestPort, stopDevServer } from '../helpers/devServers.ts';

/** stdout as exactly one JSON document: JSON.parse rejects anything before or after it. */
function oneJsonDocument(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch (err) {
    assert.fail(`stdout is not exactly one JSON document (${(err as Error).message}):\n${stdout.slice(0, 2000)}`);
  }
}

test('run --json: stdout is one JSON document on success and on failure; core and onnxruntime logs go to stderr', async () => {
  const state = await mkdtemp(join(tmpdir(), 'entroscope-json-'));
  const data = join(state, 'small.jsonl');
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(data, demo.slice(0, 5).join('\n') + '\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ENTROSCOPE_TEMPORAL_PORT: String(embeddedTestPort(3)),
    ENTROSCOPE_LOG_LEVEL: 'INFO',
  };
  delete env.TEMPORAL_ADDRESS;
  try {
    await runs(state, data, env);
  } finally {
    await stopDevServer(state);
  }
});

async function runs(state: string, data: string, env: NodeJS.ProcessEnv): Promise<void> {
  const ok = await runCli(['run', '--data', data, '--shard-size', '2', '--state-dir', state, '--json'], env);
  assert.equal(ok.code, 0, ok.stderr);
  const result = oneJsonDocument(ok.stdout) as { shardsTotal: number; summary: { dataset: { rows: number } } };
  assert.equal(result.shardsTotal, 3);
  assert.equal(result.summary.dataset.rows, 5);
  assert.match(ok.stderr, /\[INFO\] Initializing worker/, 'core logs were written, to stderr');

  // A failing inference: onnxruntime logs its own error line, the run fails; stdout is still one document.
  const model = writeSlicedPositionsModel(join(state, 'sliced'), 8);
  await writeFile(join(state, 'long.jsonl'), JSON.stringify({ text: 'the cat sat on the mat and the dog sat on the cat' }) + '\n');
  const failed = await runCli(['run', '--model', model.onnxPath, '--data', join(state, 'long.jsonl'), '--state-dir', state, '--json'], env);
  assert.equal(failed.code, 1, failed.stdout);
  const error = oneJsonDocument(failed.stdout) as { error: { message: string } };
  assert.match(error.error.message, /dataset row 0 \(\d+ tokens\)/);
  assert.match(failed.stderr, /onnxruntime/);
}
