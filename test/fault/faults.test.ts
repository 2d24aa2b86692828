// Fault tests on the real services (DESIGN §2, issue 5): a worker killed with SIGKILL mid-run, the
// Temporal server stopped and restarted on its database, and S3 (MinIO) down for a while. Each
// evaluation must still complete, with the same numbers as an uninterrupted run and no shard
// counted twice. Worker processes are real `entroscope worker` processes.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { evaluationWorkflow, type EvaluationResult } from '../../workflows/evaluation.ts';
import { openStore } from '../../src/store/openStore.ts';
import { closeS3 } from '../../src/store/s3Store.ts';
import { getJson, type ObjectStore } from '../../src/store/store.ts';
import { sha256 } from '../../src/io/hash.ts';
import type { ShardDone } from '../../activities/evaluation.ts';
import { cacheDir, ensureBucket, modelDir, requireEnv } from '../helpers/services.ts';

const sharedAddress = requireEnv('TEMPORAL_ADDRESS');
const bin = new URL('../../bin/entroscope.js', import.meta.url).pathname;
const temporalBin = join(cacheDir, 'venv', 'bin', 'temporal');
const minioBin = join(cacheDir, 'bin', 'minio');
const model = modelDir('all-minilm-l6-v2');
const children: ChildProcess[] = [];
let dir: string;
let data: string;

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => undefined);
  children.push(child);
  return child;
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

const worker = (address: string, env: NodeJS.ProcessEnv = process.env) =>
  start(process.execPath, [bin, 'worker', '--temporal', address], { ...env, ENTROSCOPE_THREADS: '1' });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function doneShards(store: ObjectStore): Promise<number> {
  return (await store.list('evaluations/')).filter((k) => k.endsWith('/done.json')).length;
}

async function connect(address: string): Promise<{ client: Client; connection: Connection }> {
  let lastError: unknown;
  for (let i = 0; i < 120; i++) {
    try {
      const connection = await Connection.connect({ address });
      await connection.workflowService.getSystemInfo({});
      return { client: new Client({ connection }), connection };
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  throw lastError;
}

function spec(store: string) {
  return { model, data, store, shardSize: 4, batchSize: 4, maxParallelShards: 2, heartbeatSeconds: 3 };
}

/** Every finished shard's files are whole: their bytes match the sums its done.json recorded. */
async function assertShardsWhole(store: ObjectStore): Promise<void> {
  for (const key of (await store.list('evaluations/')).filter((k) => k.endsWith('/done.json'))) {
    for (const f of (await getJson<ShardDone>(store, key)).files) {
      assert.equal(sha256(await store.get(f.key)), f.sha256, `${f.key} matches its done.json`);
    }
  }
}

async function filesByName(r: EvaluationResult): Promise<Map<string, string>> {
  const store = openStore(r.storeUri);
  const out = new Map<string, string>();
  for (const k of await store.list(`${r.prefix}/`)) {
    if (k.endsWith('.arrow') && !k.includes('/reduce/')) out.set(k.slice(r.prefix.length), sha256(await store.get(k)));
  }
  return out;
}

let reference: EvaluationResult;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-fault-'));
  const demo = (await readFile(new URL('../../data/demo/brown-200.jsonl', import.meta.url), 'utf8')).trim().split('\n');
  data = join(dir, 'data.jsonl');
  await writeFile(data, demo.slice(0, 60).join('\n') + '\n');
  // The uninterrupted run everything is compared with.
  const w = worker(sharedAddress);
  const { client, connection } = await connect(sharedAddress);
  reference = await client.workflow.execute(evaluationWorkflow, {
    taskQueue: TASK_QUEUES.orchestration,
    workflowId: `fault-reference-${Date.now()}`,
    args: [{ spec: spec(`file://${join(dir, 'reference')}`) }],
  });
  await connection.close();
  await stop(w, 'SIGTERM');
});

after(async () => {
  closeS3();
  await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
});

/** Workers of one test: stopped at its end, so the next test's workers alone poll the queues. */
const testWorkers: ChildProcess[] = [];
const testWorker = (address: string, env: NodeJS.ProcessEnv = process.env): ChildProcess => {
  const w = worker(address, env);
  testWorkers.push(w);
  return w;
};

describe('faults', () => {
  afterEach(async () => {
    await Promise.all(testWorkers.splice(0).map((w) => stop(w, 'SIGKILL')));
  });

  test('a worker killed with SIGKILL mid-run: a second worker finishes, bit for bit as uninterrupted, no shard twice', async () => {
    const storeUri = `file://${join(dir, 'killed')}`;
    const store = openStore(storeUri);
    const a = testWorker(sharedAddress);
    const { client, connection } = await connect(sharedAddress);
    const handle = await client.workflow.start(evaluationWorkflow, {
      taskQueue: TASK_QUEUES.orchestration,
      workflowId: `fault-sigkill-${Date.now()}`,
      args: [{ spec: spec(storeUri) }],
    });
    await until('three finished shards', async () => (await doneShards(store)) >= 3);
    await stop(a, 'SIGKILL');
    assert.ok((await doneShards(store)) < 15, 'killed before the end');
    testWorker(sharedAddress);
    const r = await handle.result();
    await connection.close();
    assert.equal(r.summary.metrics.samplesUsed, 60);
    assert.equal(r.summary.pooled.n, reference.summary.pooled.n, 'every token row counted once');
    assert.deepEqual(await filesByName(r), await filesByName(reference), 'shard and reduced files identical to the uninterrupted run');
    assert.equal(r.summary.pooled.pooledEntropy, reference.summary.pooled.pooledEntropy);
    assert.equal(r.summary.metrics.meanEntropy, reference.summary.metrics.meanEntropy);
    await assertShardsWhole(store);
  });

  test('the Temporal server stopped and restarted on the same database: the evaluation completes', async () => {
    const port = 17461;
    const address = `127.0.0.1:${port}`;
    const db = join(dir, 'temporal-restart.db');
    const serverArgs = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--db-filename', db, '--log-level', 'error', '--ui-port', String(port + 1000)];
    let server = start(temporalBin, serverArgs);
    let { client, connection } = await connect(address);
    testWorker(address);
    const storeUri = `file://${join(dir, 'restart')}`;
    const store = openStore(storeUri);
    const workflowId = `fault-restart-${Date.now()}`;
    await client.workflow.start(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId, args: [{ spec: spec(storeUri) }] });
    await until('two finished shards', async () => (await doneShards(store)) >= 2);
    await connection.close();
    await stop(server, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 2000));
    server = start(temporalBin, serverArgs);
    ({ client, connection } = await connect(address));
    const r = await client.workflow.getHandle<typeof evaluationWorkflow>(workflowId).result();
    await connection.close();
    assert.equal(r.summary.metrics.samplesUsed, 60);
    assert.equal(r.summary.pooled.pooledEntropy, reference.summary.pooled.pooledEntropy);
    await assertShardsWhole(store);
  });

  test('S3 down for a while: retries recover, and nothing half-written is read as complete', async () => {
    const port = 19471;
    const endpoint = `http://127.0.0.1:${port}`;
    const env = { ...process.env, MINIO_ROOT_USER: 'fault', MINIO_ROOT_PASSWORD: 'fault-secret-123', AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'fault', AWS_SECRET_ACCESS_KEY: 'fault-secret-123' };
    const minioArgs = ['server', join(dir, 'minio'), '--address', `127.0.0.1:${port}`, '--quiet'];
    let minio = start(minioBin, minioArgs, env);
    await until('MinIO', async () => (await fetch(`${endpoint}/minio/health/live`)).ok, 60_000);
    // This process's S3 client must talk to the fault MinIO too.
    const saved = { e: process.env.AWS_ENDPOINT_URL, k: process.env.AWS_ACCESS_KEY_ID, s: process.env.AWS_SECRET_ACCESS_KEY };
    Object.assign(process.env, { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'fault', AWS_SECRET_ACCESS_KEY: 'fault-secret-123' });
    closeS3();
    try {
      await ensureBucket('fault');
      const storeUri = 's3://fault/run';
      const store = openStore(storeUri);
      testWorker(sharedAddress, env);
      const { client, connection } = await connect(sharedAddress);
      const handle = await client.workflow.start(evaluationWorkflow, {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: `fault-s3-${Date.now()}`,
        args: [{ spec: spec(storeUri) }],
      });
      await until('two finished shards', async () => (await doneShards(store)) >= 2);
      await stop(minio, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 5000));
      minio = start(minioBin, minioArgs, env);
      const r = await handle.result();
      await connection.close();
      assert.equal(r.summary.metrics.samplesUsed, 60);
      assert.equal(r.summary.pooled.pooledEntropy, reference.summary.pooled.pooledEntropy);
      await assertShardsWhole(store);
    } finally {
      Object.assign(process.env, { AWS_ENDPOINT_URL: saved.e, AWS_ACCESS_KEY_ID: saved.k, AWS_SECRET_ACCESS_KEY: saved.s });
      closeS3();
    }
  });
});
