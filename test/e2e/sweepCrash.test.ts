// A sweep a user can drive after a crash, through the real CLI in its default (embedded) mode: the
// CLI and its in-process worker are SIGKILLed mid-sweep; `status` still answers from the workflow's
// history and says no worker is polling; re-running the same `sweep` command continues the running
// sweep with a new embedded worker (no `cancel`), keeps every shard finished before the crash, counts
// the untrained twins' shards in its progress, and ends with results byte-identical to an
// uninterrupted sweep of the same models and data.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { runCli } from '../helpers/services.ts';
import { embeddedTestPort, stopDevServer } from '../helpers/devServers.ts';
import type { SweepResult } from '../../workflows/sweep.ts';

let dir: string;
let state: string;
let env: NodeJS.ProcessEnv;

const spec = (store: string) => `name: crash-family
store: ${store}
models:
  - { model: small, name: small, family: tiny, params: 40000 }
  - { model: large, name: large, family: tiny, params: 220000 }
datasets:
  - { data: good.jsonl }
layers: [last]
shardSize: 2
diffErank: true
heartbeatSeconds: 3
concurrency: { evaluations: 1, shards: 1 }
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-crash-'));
  state = join(dir, 'state');
  writeTinyTransformer(join(dir, 'small'), TINY_PRESETS['causal-d32-l2']);
  writeTinyTransformer(join(dir, 'large'), TINY_PRESETS['causal-d64-l4']);
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  await writeFile(join(dir, 'good.jsonl'), demo.slice(0, 40).join('\n') + '\n');
  await writeFile(join(dir, 'baseline.yaml'), spec('store-a'));
  await writeFile(join(dir, 'crash.yaml'), spec('store-b'));
  env = { ...process.env, ENTROSCOPE_STATE: state, ENTROSCOPE_TEMPORAL_PORT: String(embeddedTestPort(11)) };
  delete env.TEMPORAL_ADDRESS;
});

after(async () => {
  await stopDevServer(state);
});

/** Every file under a folder, as paths relative to it. */
async function files(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  return ((await readdir(root, { recursive: true, withFileTypes: true })) as Array<{ name: string; parentPath: string; isFile(): boolean }>)
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('after SIGKILL mid-sweep: status answers without a worker, the same command continues, finished shards are kept, results match an uninterrupted sweep', async () => {
  // The uninterrupted sweep, for comparison (its own store).
  const baseline = await runCli(['sweep', join(dir, 'baseline.yaml'), '--json'], env, 600_000);
  assert.equal(baseline.code, 0, baseline.stderr);
  const base = JSON.parse(baseline.stdout) as SweepResult;

  // The same sweep into another store, killed (CLI and embedded worker: one process) once some shards are done.
  const storeB = join(dir, 'store-b');
  const doneFiles = async () => (await files(storeB)).filter((f) => f.endsWith('/done.json'));
  /** Starts a CLI command and SIGKILLs it once `count` shards are done in store B; its stderr. */
  const killWhen = async (args: string[], count: number): Promise<string> => {
    const child = spawn(process.execPath, [new URL('../../bin/entroscope.js', import.meta.url).pathname, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    for (let i = 0; i < 1200 && (await doneFiles()).length < count; i++) await sleep(100);
    assert.ok((await doneFiles()).length >= count, `${count} shards done before the kill; stderr: ${stderr}`);
    child.kill('SIGKILL');
    await exited;
    return stderr;
  };
  const firstStderr = await killWhen(['sweep', join(dir, 'crash.yaml')], 6);
  const doneBefore = await doneFiles();
  const sweepId = /started sweep (\S+)/.exec(firstStderr)?.[1];
  assert.ok(sweepId, firstStderr);

  // `status` with no worker: from the history, and saying so (never FAILED_PRECONDITION as an error).
  const st = await runCli(['status', sweepId], env);
  assert.equal(st.code, 0, st.stderr);
  const s = JSON.parse(st.stdout) as { status: string; worker: string; note: string; phase: string; shards: { total: number; done: number }; evaluations: Array<{ status: string }> };
  assert.equal(s.status, 'RUNNING');
  assert.equal(s.worker, 'none');
  assert.match(s.note, /no worker/);
  assert.equal(s.phase, 'evaluating');
  assert.ok(s.shards.total >= 20 && s.shards.done >= 1 && s.shards.done <= doneBefore.length, st.stdout);
  assert.equal(s.evaluations.length, 2);
  assert.equal(s.evaluations[0].status, 'running');

  // `resume` of the running sweep attaches with an embedded worker and goes on (killed again here).
  const resumed = await killWhen(['resume', sweepId], doneBefore.length + 4);
  assert.match(resumed, /is still running: attaching with an embedded worker/);
  const doneBeforeRerun = await doneFiles();
  assert.ok(doneBeforeRerun.length >= doneBefore.length + 4);
  const mtimes = new Map(await Promise.all(doneBeforeRerun.map(async (f) => [f, (await stat(join(storeB, f))).mtimeMs] as const)));

  // The same command again: it attaches to the running sweep with an embedded worker and finishes it.
  const again = await runCli(['sweep', join(dir, 'crash.yaml')], env, 600_000);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, new RegExp(`attaching to running sweep ${sweepId}`));
  const printed = /\n(\d+) of (\d+) shards computed now, (\d+) reused \(untrained twins included\)/.exec(again.stdout);
  assert.ok(printed, again.stdout);
  // Progress lines count the twins' shards: the largest total seen is every shard, twins included.
  const totals = [...again.stderr.matchAll(/: (\d+)\/(\d+) shards/g)].map((m) => Number(m[2]));
  const firstDone = Number(/: (\d+)\/\d+ shards/.exec(again.stderr)?.[1] ?? -1);
  const all = base.evaluations.reduce((a, e) => a + e.shardsTotal! + e.twinShardsTotal!, 0);
  assert.equal(Number(printed[2]), all);
  assert.equal(Math.max(...totals), all, again.stderr);
  assert.ok(firstDone >= 1, `the continued sweep starts from the shards already done: ${again.stderr}`);
  // Every shard finished before the crash was kept, not computed again.
  for (const [f, t] of mtimes) assert.equal((await stat(join(storeB, f))).mtimeMs, t, `${f} rewritten`);

  // Byte-identical results: every table, Gram and reduction node; summaries and fits up to the store's
  // path. A twin lives in its store, so its run folder (the hash of a plan naming it) differs: compared by evaluation.
  const storeA = join(dir, 'store-a');
  const runOf = (f: string) => /\/runs\/([0-9a-f]{16})\//.exec(f)?.[1];
  const normal = (f: string) => f.replace(/\/runs\/[0-9a-f]{16}\//, '/runs/RUN/');
  const arrowsA = (await files(storeA)).filter((f) => f.endsWith('.arrow') && f.startsWith('evaluations/'));
  const arrowsB = (await files(storeB)).filter((f) => f.endsWith('.arrow') && f.startsWith('evaluations/'));
  assert.deepEqual(arrowsB.map(normal), arrowsA.map(normal));
  for (const [i, f] of arrowsA.entries()) assert.ok((await readFile(join(storeA, f))).equals(await readFile(join(storeB, arrowsB[i]))), f);
  const runsB = new Map(arrowsB.filter(runOf).map((f) => [normal(f), runOf(f)!]));
  const summaries = (await files(storeA)).filter((f) => f.endsWith('/summary.json'));
  assert.equal(summaries.length, 4, 'two models and their twins');
  for (const f of summaries) {
    const runA = runOf(f)!;
    const runB = runsB.get(normal(f).replace(/summary\.json$/, 'gram-last.arrow'))!;
    const b = (await readFile(join(storeB, f.replace(runA, runB)), 'utf8')).replaceAll(storeB, storeA).replaceAll(runB, runA);
    assert.equal(b, await readFile(join(storeA, f), 'utf8'), f);
  }
  const fitsA = await readFile(new URL(base.fitsUri), 'utf8');
  const st2 = JSON.parse((await runCli(['status', sweepId], env)).stdout) as { status: string; results: { fitsUri: string; resultsUri: string } };
  assert.equal(st2.status, 'COMPLETED');
  assert.equal((await readFile(new URL(st2.results.fitsUri), 'utf8')).replaceAll(storeB, storeA), fitsA);
  assert.ok(existsSync(new URL(st2.results.resultsUri)), 'results.json among the finished sweep’s paths');
});
