// Benchmark: what Temporal costs per shard, on shards so cheap that almost nothing else is left
// (a generated tiny model, one short line per shard).
//
//   temporal:  evaluationWorkflow on its own Temporal dev server (official CLI, fresh SQLite file,
//              a free port), orchestration/extraction/reduction workers in this process; shardSize 1
//   baseline:  the same shards through the same extractShard activity function (same reads, same
//              pool thread, same Arrow writes, same done.json), called directly — no Temporal — with
//              the same number at once as the worker runs (its extraction concurrency)
//   measured:  the extraction phase of each: temporal from its history (first extractShard
//              ActivityTaskScheduled → last ActivityTaskCompleted), baseline by the clock; shards/s
//              and the difference per shard; schedule-to-start latency (ActivityTaskScheduled →
//              ActivityTaskStarted event times) and history events per shard
//
// The two alternate (B T, T B, …) so load from other work falls on both; medians are reported.
// Usage: node --import tsx bench/temporalOverhead.bench.ts [--shards 300] [--window 8]
//                                                          [--concurrency 2] [--repeats 2] [--port P]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncLocalStorage, Context, type Info } from '@temporalio/activity';
import { Client, Connection } from '@temporalio/client';
import { noopMetricMeter } from '@temporalio/common';
import { extractShard, planShards } from '../activities/evaluation.ts';
import { ensureDevServer } from '../cli/temporalDevServer.ts';
import { quietTemporalRuntime } from '../cli/runtime.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../src/model/tinyTransformer.ts';
import { startWorkers } from '../workers/worker.ts';
import { chunkLevels, evaluationWorkflow } from '../workflows/evaluation.ts';
import { ALL_ROLES, TASK_QUEUES } from '../workflows/taskQueues.ts';
import { freePort, median, quantile, eventMs, type HistoryEvent } from './benchSupport.ts';

const { values: args } = parseArgs({
  options: {
    shards: { type: 'string', default: '300' },
    window: { type: 'string', default: '8' },
    concurrency: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '2' },
    port: { type: 'string' },
  },
});
const shards = Number(args.shards);
const window = Number(args.window);
const concurrency = Number(args.concurrency);
const repeats = Number(args.repeats);
const FAN_IN = 16;
if (shards > chunkLevels(FAN_IN).chunkShards) throw new Error(`--shards ≤ ${chunkLevels(FAN_IN).chunkShards}: one history (no chunk workflows) keeps the event counts readable`);

// ---- helpers -----------------------------------------------------------------------------------

interface HistoryTimes {
  events: number;
  extractionSpanMs: number;
  scheduleToStartMs: number[];
}

/** From a history: its size, the extraction phase's span and each extractShard's schedule-to-start. */
function historyTimes(events: HistoryEvent[]): HistoryTimes {
  const scheduled = new Map<string, number>();
  const starts: number[] = [];
  let last = -Infinity;
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'extractShard') scheduled.set(String(e.eventId), eventMs(e));
    const started = e.activityTaskStartedEventAttributes;
    if (started && scheduled.has(String(started.scheduledEventId))) starts.push(eventMs(e) - scheduled.get(String(started.scheduledEventId))!);
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed && scheduled.has(String(completed.scheduledEventId))) last = Math.max(last, eventMs(e));
  }
  const first = Math.min(...scheduled.values());
  return { events: events.length, extractionSpanMs: last - first, scheduleToStartMs: starts };
}

/**
 * Runs an activity function outside Temporal: the activity Context it reads (heartbeats go
 * nowhere), as @temporalio/testing's MockActivityEnvironment sets it up.
 */
function outsideTemporal<T>(fn: () => Promise<T>): Promise<T> {
  const Ctor = Context as unknown as new (...a: unknown[]) => Context;
  const ctx = new Ctor({ activityType: 'bench' } as Partial<Info>, new Promise<never>(() => undefined), new AbortController().signal, () => undefined, undefined, console, noopMetricMeter, {});
  return asyncLocalStorage.run(ctx, fn);
}

// ---- setup -------------------------------------------------------------------------------------

const dir = await mkdtemp(join(tmpdir(), 'entroscope-bench-overhead-'));
writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['encoder-d32-l2']);
const words = ['a', 'cheap', 'shard', 'costs', 'little', 'to', 'run'];
await writeFile(join(dir, 'lines.jsonl'), Array.from({ length: shards }, (_, i) => JSON.stringify({ text: `${words[i % 7]} ${words[(i * 3) % 7]} ${i}` })).join('\n') + '\n');

quietTemporalRuntime();
const port = args.port ? Number(args.port) : await freePort();
const server = await ensureDevServer(join(dir, 'temporal'), port, { idleMs: 0 });
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection });
const workers = await startWorkers({ address: server.address, namespace: 'default', roles: ALL_ROLES, extractionConcurrency: concurrency });

const cpu = cpus();
console.log(`node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}); load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`tiny model encoder-d32-l2; ${shards} shards of one line each; workflow window ${window}; ${concurrency} extraction activities at once (and ${concurrency} at once in the baseline)`);
console.log(`Temporal dev server ${server.address}${server.owned ? '' : ' (already running: not ours)'}, workers in this process`);

const spec = (store: string) => ({ model: join(dir, 'model'), data: join(dir, 'lines.jsonl'), store: `file://${join(dir, store)}`, shardSize: 1, maxParallelShards: window, reduceFanIn: FAN_IN });

let runIndex = 0;

/** Extraction of every shard through Temporal; times from the history. */
async function temporalRun(): Promise<HistoryTimes & { wallMs: number }> {
  const workflowId = `bench-overhead-${runIndex}`;
  const t0 = performance.now();
  await client.workflow.execute(evaluationWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId, args: [{ spec: spec(`store-${runIndex++}`) }] });
  const wallMs = performance.now() - t0;
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return { ...historyTimes(events), wallMs };
}

/** The same shards through the same activity function, `concurrency` at once, no Temporal. */
async function baselineRun(): Promise<number> {
  const plan = await outsideTemporal(() => planShards(spec(`store-${runIndex++}`)));
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < plan.shardCount) {
        const shard = next++;
        await outsideTemporal(() => extractShard({ storeUri: plan.storeUri, prefix: plan.prefix, run: plan.run, shard }));
      }
    }),
  );
  return performance.now() - t0;
}

// ---- measure -----------------------------------------------------------------------------------

await baselineRun(); // warm-up: the pool's threads load the model, JIT
const baseline: number[] = [];
const temporal: Array<HistoryTimes & { wallMs: number }> = [];
try {
  console.log('');
  console.log('| round | path | extraction (s) | shards/s | evaluation wall (s) | history events | load avg (1 min) |');
  console.log('|---:|---|---:|---:|---:|---:|---:|');
  for (let r = 0; r < repeats; r++) {
    for (const which of r % 2 === 0 ? ['baseline', 'temporal'] : ['temporal', 'baseline']) {
      const load = loadavg()[0].toFixed(2);
      if (which === 'baseline') {
        const t = await baselineRun();
        baseline.push(t);
        console.log(`| ${r + 1} | baseline: extractShard directly | ${(t / 1000).toFixed(2)} | ${(shards / (t / 1000)).toFixed(1)} | — | — | ${load} |`);
      } else {
        const t = await temporalRun();
        temporal.push(t);
        console.log(`| ${r + 1} | Temporal | ${(t.extractionSpanMs / 1000).toFixed(2)} | ${(shards / (t.extractionSpanMs / 1000)).toFixed(1)} | ${(t.wallMs / 1000).toFixed(2)} | ${t.events} | ${load} |`);
      }
    }
  }
} finally {
  await workers.shutdown();
  await connection.close();
  await server.stop();
}

const b = median(baseline);
const t = median(temporal.map((x) => x.extractionSpanMs));
const s2s = temporal.flatMap((x) => x.scheduleToStartMs);
console.log('');
console.log(`baseline (no Temporal): median ${(shards / (b / 1000)).toFixed(1)} shards/s (${(b / shards).toFixed(1)} ms per shard at ${concurrency} at once)`);
console.log(`Temporal:               median ${(shards / (t / 1000)).toFixed(1)} shards/s (${(t / shards).toFixed(1)} ms per shard); ${(t / b).toFixed(2)}× the baseline's time`);
console.log(`overhead per shard: ${((t - b) / shards).toFixed(1)} ms of wall time (${(((t - b) / shards) * concurrency).toFixed(1)} ms per activity slot)`);
console.log(`schedule-to-start (ActivityTaskScheduled → Started), ${s2s.length} activities: median ${median(s2s).toFixed(1)} ms, p95 ${quantile(s2s, 0.95).toFixed(1)} ms, max ${Math.max(...s2s).toFixed(1)} ms`);
console.log(`history: ${median(temporal.map((x) => x.events))} events for ${shards} shards → ${(median(temporal.map((x) => x.events)) / shards).toFixed(2)} events per shard (incl. planning, reduction, summary)`);
await rm(dir, { recursive: true, force: true });
// Temporal's native runtime keeps the event loop alive after the workers stop: exit explicitly.
process.exit(0);
