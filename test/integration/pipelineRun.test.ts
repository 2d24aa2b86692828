// `ENTROSCOPE_PIPELINE=1` on the user's path (src/eval/batchPipeline.ts): `entroscope run --layers
// all` on an optimum export (zoo Llama) with the background thread gives exactly the per-sample rows
// and the summary of the same run without it, and the thread is really there: while the run goes,
// one of the CLI process's threads runs at nice 19 (read from /proc), and none does without it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/openStore.ts';
import { samplesFromArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import type { EvaluationResult } from '../../workflows/evaluation.ts';
import { cacheDir } from '../helpers/services.ts';
import { embeddedTestPort, stopDevServer } from '../helpers/devServers.ts';

const zooFile = join(cacheDir, 'zoo', 'zoo.json');
if (!existsSync(zooFile)) throw new Error(`${zooFile} is missing: run infra/build-zoo.sh (npm test does)`);
const llama = (JSON.parse(readFileSync(zooFile, 'utf8')) as { entries: Array<{ arch: string; form: string; onnx: string }> }).entries.find(
  (e) => e.arch === 'llama' && e.form === 'with-past',
);
if (!llama) throw new Error(`${zooFile} has no llama with-past entry: run infra/build-zoo.sh`);
const dataPath = new URL('../../data/demo/brown-200.jsonl', import.meta.url).pathname;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-pipeline-run-'));
});
after(async () => {
  if (dir) await stopDevServer(join(dir, 'state'));
});

/** Highest nice value among a process's threads (field 19 of /proc/PID/task/TID/stat); -99 if gone. */
function maxThreadNice(pid: number): number {
  let max = -99;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      max = Math.max(max, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    }
  } catch {
    // the process or a thread ended while being read
  }
  return max;
}

/** `entroscope run` with ENTROSCOPE_PIPELINE set as given; the highest thread nice seen while it ran. */
function run(pipeline: '0' | '1', tag: string): Promise<{ result: EvaluationResult; maxNice: number }> {
  return new Promise((resolve, reject) => {
    const bin = new URL('../../bin/entroscope.js', import.meta.url).pathname;
    // The embedded default, as a user runs it: the CLI's own dev server (one state folder for both
    // runs) and worker, so the pipeline runs inside this very process.
    const args = ['run', '--model', llama!.onnx, '--data', dataPath, '--limit', '60', '--layers', 'all', '--shard-size', '20', '--state-dir', join(dir, 'state'), '--store', `file://${join(dir, tag)}`, '--json'];
    const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_CACHE: process.env.ENTROSCOPE_CACHE ?? cacheDir, ENTROSCOPE_PIPELINE: pipeline, ENTROSCOPE_TEMPORAL_PORT: String(embeddedTestPort(17)) };
    delete env.TEMPORAL_ADDRESS;
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    let stdout = '';
    let stderr = '';
    let maxNice = -99;
    const watch = setInterval(() => (maxNice = Math.max(maxNice, maxThreadNice(child.pid!))), 20);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(watch);
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`run exited ${code}: ${stderr}`));
      resolve({ result: JSON.parse(stdout) as EvaluationResult, maxNice });
    });
  });
}

async function sampleRows(r: EvaluationResult): Promise<SampleRow[]> {
  const store = openStore(r.storeUri);
  const keys = (await store.list(`${r.prefix}/shards/`)).filter((k) => k.endsWith('samples.arrow')).sort();
  const rows: SampleRow[] = [];
  for (const k of keys) rows.push(...samplesFromArrow(await store.get(k), k));
  return rows.sort((a, b) => a.layer.localeCompare(b.layer) || a.row - b.row);
}

describe('ENTROSCOPE_PIPELINE=1 through `entroscope run`', { skip: process.platform !== 'linux' && 'thread priorities are lowered on Linux only' }, () => {
  test('the same rows and summary as without it, with a nice-19 thread in the CLI process while it runs', async () => {
    const off = await run('0', 'off');
    const on = await run('1', 'on');
    assert.equal(on.maxNice, 19, 'a thread of the run at nice 19');
    assert.ok(off.maxNice < 19, `no nice-19 thread without the pipeline (saw ${off.maxNice})`);
    const [rowsOn, rowsOff] = [await sampleRows(on.result), await sampleRows(off.result)];
    assert.ok(new Set(rowsOff.map((r) => r.layer)).size > 3, 'several layers');
    assert.equal(rowsOn.length, rowsOff.length);
    assert.deepEqual(rowsOn, rowsOff);
    assert.deepEqual(on.result.summary.metrics, off.result.summary.metrics);
  });
});
