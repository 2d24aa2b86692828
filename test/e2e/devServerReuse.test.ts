// Start-up in seconds: the embedded dev server stays up between runs of one state folder and is
// reused, the workflow bundle is built once per content and reused from the cache, an idle server
// of another state folder on the same port is replaced, and ENTROSCOPE_DEV_SERVER_IDLE=0 stops the
// server when the run ends. All through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelDir, runCli } from '../helpers/services.ts';
import { alive, devServerRecord, embeddedTestPort, stopDevServer } from '../helpers/devServers.ts';
import { temporalBinary } from '../../cli/temporalDevServer.ts';

test('a second run of a state folder reuses its dev server and the cached workflow bundle; another folder replaces it when idle; idle 0 stops it', async () => {
  const root = await mkdtemp(join(tmpdir(), 'entroscope-reuse-'));
  const [a, b, cache] = [join(root, 'a'), join(root, 'b'), join(root, 'cache')];
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  const data = async (k: number) => {
    const p = join(root, `d${k}.jsonl`);
    await writeFile(p, demo.slice(2 * k, 2 * k + 2).join('\n') + '\n');
    return p;
  };
  // A fresh cache (so the bundle is built by the first run); the model and Temporal CLI from the real one.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ENTROSCOPE_CACHE: cache,
    ENTROSCOPE_TEMPORAL_BIN: temporalBinary(),
    ENTROSCOPE_TEMPORAL_PORT: String(embeddedTestPort(5)),
  };
  delete env.TEMPORAL_ADDRESS;
  const run = async (state: string, k: number, extra: NodeJS.ProcessEnv = {}) => {
    const r = await runCli(['run', '--model', modelDir('all-minilm-l6-v2'), '--data', await data(k), '--state-dir', state, '--json'], { ...env, ...extra });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as { shardsExtracted: number; summary: { dataset: { rows: number } } };
    assert.equal(result.shardsExtracted, 1, 'the run computed its shard');
    return result;
  };
  try {
    await run(a, 0);
    const first = devServerRecord(a);
    assert.ok(first, 'the run left a record of its dev server');
    assert.ok(alive(first.keeperPid) && alive(first.serverPid), 'the server is still up after the run');
    const bundles = await readdir(join(cache, 'workflow-bundles'));
    assert.equal(bundles.length, 1, 'one workflow bundle was built');
    const bundle = join(cache, 'workflow-bundles', bundles[0]);
    const built = (await stat(bundle)).mtimeMs;

    await run(a, 1);
    assert.deepEqual(devServerRecord(a), first, 'the second run used the same server');
    assert.deepEqual(await readdir(join(cache, 'workflow-bundles')), bundles);
    assert.equal((await stat(bundle)).mtimeMs, built, 'and the cached bundle, not a new one');

    // Another state folder on the same port: a's idle server is replaced by b's own.
    await run(b, 2);
    const other = devServerRecord(b);
    assert.ok(other && alive(other.serverPid), 'b has its own server');
    assert.ok(!alive(first.keeperPid) && !alive(first.serverPid), "a's idle server was stopped");
    assert.equal(devServerRecord(a), undefined);
    assert.ok(existsSync(join(b, 'temporal.db')), "b's workflows persist in b's database");

    // Idle 0: the server stops when the run ends.
    await run(b, 3, { ENTROSCOPE_DEV_SERVER_IDLE: '0' });
    for (let i = 0; i < 100 && alive(other.serverPid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(!alive(other.keeperPid) && !alive(other.serverPid), 'and stopped it at its end');
    assert.equal(devServerRecord(b), undefined);
  } finally {
    await stopDevServer(a);
    await stopDevServer(b);
  }
});
