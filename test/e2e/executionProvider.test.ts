// `--execution-provider` through the real CLI: the provider is checked when the worker starts (a
// missing one fails the command at once with what is available, never shard by shard through
// retries), and the one used is recorded in every shard's done.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/services.ts';
import { embeddedTestPort, stopDevServer } from '../helpers/devServers.ts';
import { checkExecutionProvider } from '../../src/model/executionProvider.ts';

async function filesNamed(dir: string, name: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name === name).map((e) => join(e.parentPath, e.name));
}

test('checkExecutionProvider: cpu is available; cuda (binaries skipped by .npmrc) and unknown names are refused with what is available', async () => {
  assert.equal(await checkExecutionProvider('cpu'), 'cpu');
  await assert.rejects(checkExecutionProvider('cuda'), /execution provider "cuda" is not available: its binaries are not installed .*--onnxruntime-node-install=cuda12.*available here: cpu/);
  await assert.rejects(checkExecutionProvider('abacus'), /execution provider "abacus" is not available \(not built into onnxruntime-node.*available here: cpu/);
});

test('run --execution-provider: cuda fails at start with one JSON error and no shard written; cpu is recorded in each done.json; worker and --temporal refuse clearly', async () => {
  const state = await mkdtemp(join(tmpdir(), 'entroscope-ep-'));
  const data = join(state, 'small.jsonl');
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(data, demo.slice(0, 4).join('\n') + '\n');
  const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_TEMPORAL_PORT: String(embeddedTestPort(13)) };
  delete env.TEMPORAL_ADDRESS;
  delete env.ENTROSCOPE_EXECUTION_PROVIDER;
  try {
    const cuda = await runCli(['run', '--data', data, '--shard-size', '2', '--state-dir', state, '--execution-provider', 'cuda', '--json'], env);
    assert.equal(cuda.code, 1, cuda.stdout + cuda.stderr);
    const error = JSON.parse(cuda.stdout) as { error: { message: string } };
    assert.match(error.error.message, /execution provider "cuda" is not available.*available here: cpu/);
    assert.deepEqual(await filesNamed(join(state, 'store'), 'done.json'), [], 'no shard was extracted');

    const cpu = await runCli(['run', '--data', data, '--shard-size', '2', '--state-dir', state, '--execution-provider', 'CPU', '--json'], env);
    assert.equal(cpu.code, 0, cpu.stderr);
    const done = await filesNamed(join(state, 'store'), 'done.json');
    assert.equal(done.length, 2, 'two shards of two rows');
    for (const file of done) {
      const record = JSON.parse(await readFile(file, 'utf8')) as { runtime: { executionProvider: string } };
      assert.equal(record.runtime.executionProvider, 'cpu', file);
    }
  } finally {
    await stopDevServer(state);
  }

  const worker = await runCli(['worker', '--temporal', '127.0.0.1:9', '--execution-provider', 'tensorrt'], env);
  assert.notEqual(worker.code, 0);
  assert.match(worker.stderr, /execution provider "tensorrt" is not available/);

  const remote = await runCli(['run', '--data', data, '--temporal', '127.0.0.1:9', '--execution-provider', 'cuda'], env);
  assert.notEqual(remote.code, 0);
  assert.match(remote.stderr, /whose workers choose their own: start them with `entroscope worker --execution-provider cuda`/);
});
