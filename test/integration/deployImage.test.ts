// The worker image starts: no container engine runs here, so the test lays out the image's file set
// as infra/deploy/Dockerfile builds it — each COPY (filtered by .dockerignore) and its `npm ci
// --omit=dev` (from the npm cache when offline) into a folder outside the repository — then runs
// the image's ENTRYPOINT + CMD (`entroscope worker`) there against the test Temporal server, sees it
// poll every task queue, and has it (alone) run an evaluation. The compose file is checked to bind
// to loopback by default and to take its secrets from the environment.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, writeFile, rm } from 'node:fs/promises';
import { tmpdir, hostname } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { Client, Connection } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow } from '../../workflows/evaluation.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { requireEnv } from '../helpers/services.ts';

const repo = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const deploy = join(repo, 'infra', 'deploy');

interface Instruction {
  op: string;
  args: string;
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped). */
async function dockerfile(): Promise<Instruction[]> {
  const text = (await readFile(join(deploy, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

/** .dockerignore patterns as regular expressions over repository-relative paths. */
async function dockerignore(): Promise<RegExp[]> {
  const lines = (await readFile(join(repo, '.dockerignore'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  assert.ok(lines.every((l) => !l.startsWith('!')), 'the test reads no exceptions (!pattern) in .dockerignore');
  return lines.map((p) => {
    const body = p.replace(/^\/+|\/+$/g, '').split('**/').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('(?:.*/)?');
    return new RegExp(`^${body}(?:/.*)?$`); // a matched folder excludes what is inside it
  });
}

const json = (s: string): string[] => JSON.parse(s) as string[];
const exec = promisify(execFile);

let dir: string;
let worker: ChildProcess | undefined;
let workerLog = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-image-')); // outside the repository: no node_modules above it
});

after(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGKILL');
    await new Promise((r) => worker!.once('exit', r));
  }
});

test('the compose file publishes on loopback unless told otherwise and takes every secret from the environment', async () => {
  const compose = parseYaml(await readFile(join(deploy, 'compose.yaml'), 'utf8')) as { services: Record<string, { ports?: string[]; environment?: Record<string, string> }> };
  // Compose interpolation with nothing set: ${VAR:-default} → default; ${VAR:?message} → refuses to start.
  const unset = (value: string) => value.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');
  const ports = Object.values(compose.services).flatMap((s) => s.ports ?? []);
  assert.ok(ports.length >= 3, 'Temporal, its UI and MinIO are published');
  for (const p of ports) assert.match(unset(p), /^127\.0\.0\.1:\d+:\d+$/, `port ${p} binds beyond loopback by default`);
  const secrets = Object.values(compose.services).flatMap((s) => Object.entries(s.environment ?? {})).filter(([k]) => /PASSWORD|SECRET|ACCESS_KEY|TOKEN|API_KEY/.test(k));
  assert.ok(secrets.length >= 3, 'MinIO and the workers have credentials');
  for (const [k, v] of secrets) assert.match(String(v), /^\$\{[A-Z0-9_]+:\?[^}]+\}$/, `${k} is not taken from the environment (required): ${v}`);
});

test('the worker image file set (Dockerfile COPY + npm ci --omit=dev) starts `entroscope worker`, which polls and runs an evaluation', async () => {
  const address = requireEnv('TEMPORAL_ADDRESS');
  const ignore = await dockerignore();
  const ignored = (rel: string) => ignore.some((re) => re.test(rel));
  for (const path of ['node_modules', '.git', '.entroscope', 'test/unit/datasets.test.ts', 'src/x/node_modules/y']) assert.ok(ignored(path), `.dockerignore keeps ${path} out`);

  const app = join(dir, 'app');
  await mkdir(app);
  const env: Record<string, string> = {};
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const { op, args } of await dockerfile()) {
    if (op === 'COPY') {
      const parts = args.split(/\s+/);
      assert.ok(!parts.some((p) => p.startsWith('--')), `COPY flags are not laid out by this test: ${args}`);
      const dest = join(app, parts.pop()!);
      for (const src of parts) {
        const target = dest.endsWith('/') || parts.length > 1 ? join(dest, src.split('/').pop()!) : dest;
        await cp(join(repo, src), target, { recursive: true, filter: (from) => from === join(repo, src) || !ignored(relative(repo, from)) });
      }
    } else if (op === 'RUN' && args.startsWith('apt-get ')) {
      // System packages: the image's OpenBLAS for the native metric kernels. This machine has it
      // from infra/install-blas.sh (the same Debian package); the worker below loads it.
      assert.match(args, /^apt-get update && apt-get install -y --no-install-recommends libopenblas0-pthread && rm -rf \/var\/lib\/apt\/lists\/\*$/);
    } else if (op === 'RUN') {
      assert.equal(args, 'npm ci --omit=dev', 'the only build step besides system packages is the production install (the test runs it as written)');
      // From the npm cache where it holds every package (offline machines), else the registry.
      await exec('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, timeout: 600_000 });
    } else if (op === 'ENV') {
      for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[m[1]] = m[2];
    } else if (op === 'ENTRYPOINT') entrypoint = json(args);
    else if (op === 'CMD') cmd = json(args);
  }
  assert.deepEqual([...entrypoint, ...cmd], ['node', 'bin/entroscope.js', 'worker']);
  assert.equal(env.NODE_ENV, 'production');

  // What the image must not hold, and what it must.
  const { stdout: devOnly } = await exec('npm', ['ls', '--omit=dev', '--depth=0', '--json'], { cwd: app });
  const installed = Object.keys((JSON.parse(devOnly) as { dependencies?: Record<string, unknown> }).dependencies ?? {});
  assert.ok(installed.includes('tsx'), 'tsx (the runtime loader) is installed');
  assert.ok(!installed.includes('typescript') && !installed.includes('eslint'), 'dev tools stay out of the image');

  const home = join(dir, 'home');
  await mkdir(home);
  worker = spawn(process.execPath, [...entrypoint.slice(1), ...cmd, '--temporal', address], {
    cwd: app,
    // The image's environment, with its cache under this test's folder (no /home/node here).
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env, ENTROSCOPE_CACHE: join(home, 'cache'), ENTROSCOPE_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  worker.stdout!.on('data', (d: Buffer) => (workerLog += d.toString()));
  worker.stderr!.on('data', (d: Buffer) => (workerLog += d.toString()));
  const exited = new Promise<never>((_, reject) => worker!.once('exit', (code) => reject(new Error(`worker exited (${code}) before polling:\n${workerLog}`))));
  exited.catch(() => {}); // raced below; its later exit (SIGTERM at the end) is expected

  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection });
    const identity = `${worker.pid}@${hostname()}`;
    const queues: Array<[string, number]> = [
      [TASK_QUEUES.orchestration, 1], // TASK_QUEUE_TYPE_WORKFLOW
      [TASK_QUEUES.extraction, 2], // TASK_QUEUE_TYPE_ACTIVITY
      [TASK_QUEUES.reduction, 2],
    ];
    const polling = async (): Promise<void> => {
      for (;;) {
        const seen = await Promise.all(
          queues.map(async ([name, taskQueueType]) => {
            const r = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name }, taskQueueType });
            return (r.pollers ?? []).some((p) => p.identity === identity);
          }),
        );
        if (seen.every(Boolean)) return;
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`worker did not poll within 180 s:\n${workerLog}`)), 180_000).unref());
    await Promise.race([polling(), exited, timeout]);
    assert.match(workerLog, /entroscope worker: polling orchestration, extraction, reduction/);

    // The image's worker alone runs an evaluation: workflows bundled, ONNX inference in its pool
    // threads (TypeScript through tsx), reduction and summary.
    writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['encoder-d32-l2']);
    const demo = (await readFile(join(repo, 'data/demo/brown-200.jsonl'), 'utf8')).trim().split('\n');
    await writeFile(join(dir, 'data.jsonl'), demo.slice(0, 6).join('\n') + '\n');
    const spec = { model: join(dir, 'model'), data: join(dir, 'data.jsonl'), store: `file://${join(dir, 'store')}`, shardSize: 3 };
    const run = client.workflow.execute(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId: `test-image-${Date.now()}`, args: [{ spec }] });
    const result = await Promise.race([run, exited]);
    assert.equal(result.summary.dataset.rows, 6);
    assert.equal(result.shardsExtracted, 2);
    assert.equal(result.summary.metrics.samplesUsed + result.summary.metrics.samplesSkipped, 6);
  } finally {
    await connection.close();
  }
  // SIGTERM: the worker drains and exits cleanly, as `docker stop` asks it to.
  const code = await new Promise<number | null>((resolve) => {
    worker!.once('exit', (c) => resolve(c));
    worker!.kill('SIGTERM');
  });
  assert.equal(code, 0, workerLog);
  await rm(join(dir, 'app'), { recursive: true, force: true });
});
