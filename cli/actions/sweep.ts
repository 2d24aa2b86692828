// The work of `entroscope sweep | status | cancel | resume | schedule …` (loaded on demand).
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { readFile } from 'node:fs/promises';
import { parseSweepSpec, type SweepSpec } from '../../src/sweep/sweepSpec.ts';
import { sha256Json } from '../../src/io/hash.ts';
import { storeUri } from '../../src/store/openStore.ts';
import { sweepWorkflow, sweepProgressQuery, type SweepResult } from '../../workflows/sweep.ts';
import { progressQuery } from '../../workflows/evaluation.ts';
import { TASK_QUEUES } from '../../workflows/taskQueues.ts';
import { withTemporal, type SessionOptions } from './temporalSession.ts';
import { evaluationProgress, showProgress } from './run.ts';
import { formatTable } from '../format.ts';

export interface ConnectOptions {
  temporal?: string;
  namespace: string;
  stateDir: string;
}

async function loadSpec(file: string): Promise<SweepSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read sweep spec ${file}: ${(err as Error).message}`);
  }
  const spec = parseSweepSpec(text, file);
  spec.store = storeUri(spec.store);
  return spec;
}

/** Same spec → same sweep ID, so re-running a spec resumes it. */
export function sweepIdOf(spec: SweepSpec): string {
  return `sweep-${spec.name}-${sha256Json(spec).slice(0, 12)}`;
}

/** Shards done/total over a sweep's running evaluations (each asked by its own query). */
async function sweepShardProgress(client: Client, id: string): Promise<{ phase: string; shardsTotal: number; shardsDone: number; samples: number }> {
  const p = await client.workflow.getHandle(id).query(sweepProgressQuery);
  let shardsTotal = 0;
  let shardsDone = 0;
  let samples = 0;
  for (const e of p.evaluations.filter((e) => e.status === 'running')) {
    try {
      // Per shard, chunks included; the evaluation's own count alone if a chunk cannot answer now.
      const ep = await evaluationProgress(client, e.workflowId).catch(() => client.workflow.getHandle(e.workflowId).query(progressQuery));
      shardsTotal += ep.shardsTotal;
      shardsDone += ep.shardsDone;
      samples += ep.samples;
    } catch {
      // not started yet
    }
  }
  const done = p.evaluations.filter((e) => e.status === 'completed' || e.status === 'failed').length;
  return { phase: `${p.phase}, ${done}/${p.evaluations.length} evaluations`, shardsTotal, shardsDone, samples };
}

/** A model or dataset as a reader names it: the file or folder name, not its whole path. */
export function shortName(pathOrUri: string): string {
  const base = pathOrUri.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? pathOrUri;
  return base.replace(/\.onnx$/, '') || pathOrUri;
}

export function printSweep(r: SweepResult): void {
  process.stdout.write(
    formatTable(
      ['evaluation', 'model', 'dataset', 'shards computed/total', 'status'],
      r.evaluations.map((e) => [
        e.workflowId,
        shortName(e.model),
        shortName(e.dataset),
        e.shardsTotal === undefined ? '—' : `${e.shardsComputed ?? 0}/${e.shardsTotal}`,
        e.status === 'failed' ? `failed: ${e.error}` : e.status,
      ]),
    ),
  );
  const counted = r.evaluations.filter((e) => e.shardsTotal !== undefined);
  const total = counted.reduce((s, e) => s + e.shardsTotal!, 0);
  const computed = counted.reduce((s, e) => s + (e.shardsComputed ?? 0), 0);
  if (counted.length) process.stdout.write(`\n${computed} of ${total} shards computed now, ${total - computed} reused (untrained twins not counted)\n`);
  process.stdout.write(`\nreport: ${r.htmlReportUri ?? r.reportUri}\nmarkdown: ${r.reportUri}\nfits: ${r.fitsUri}\nmanifest: ${r.manifestUri}\n`);
}

export async function sweep(file: string, opts: ConnectOptions & { id?: string; detach?: boolean; json?: boolean }): Promise<SweepResult | { sweepId: string }> {
  const spec = await loadSpec(file);
  if (opts.detach && !(opts.temporal ?? process.env.TEMPORAL_ADDRESS)) {
    throw new Error('--detach needs a Temporal server (--temporal or TEMPORAL_ADDRESS) with workers running: the embedded server stops with this command');
  }
  const session: SessionOptions = { ...opts, embeddedWorker: true };
  return withTemporal(session, async ({ client, workerStopped }) => {
    const sweepId = opts.id ?? sweepIdOf(spec);
    let handle;
    try {
      handle = await client.workflow.start(sweepWorkflow, { taskQueue: TASK_QUEUES.orchestration, workflowId: sweepId, args: [{ spec }] });
      process.stderr.write(`entroscope: started sweep ${sweepId}\n`);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      process.stderr.write(`entroscope: attaching to running sweep ${sweepId}\n`);
      handle = client.workflow.getHandle<typeof sweepWorkflow>(sweepId);
    }
    if (opts.detach) return { sweepId };
    const stop = showProgress(() => sweepShardProgress(client, sweepId), opts.json === true);
    try {
      return await (workerStopped ? Promise.race([handle.result(), workerStopped]) : handle.result());
    } finally {
      await stop();
    }
  });
}

export async function status(id: string, opts: ConnectOptions & { json?: boolean; watch?: boolean }): Promise<unknown> {
  return withTemporal({ ...opts, embeddedWorker: false }, async ({ client }) => {
    const handle = client.workflow.getHandle(id);
    if (opts.watch) {
      // A live bar (shards done/total, ETA) until the workflow closes, however it ends.
      const type = (await handle.describe().catch(() => undefined))?.type;
      if (type === undefined) throw new Error(`no workflow ${id} on this Temporal server`);
      const poll = type === 'sweepWorkflow' ? () => sweepShardProgress(client, id) : () => evaluationProgress(client, id);
      const stop = showProgress(poll, false);
      await handle.result().catch(() => undefined);
      await stop();
    }
    let desc;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new Error(`no workflow ${id} on this Temporal server`);
      throw err;
    }
    const out: Record<string, unknown> = { id, type: desc.type, status: desc.status.name, started: desc.startTime.toISOString() };
    if (desc.status.name === 'COMPLETED') {
      // Where the results are: every *Uri of the result (report, HTML report, fits, manifest, archive, summary).
      const result = (await handle.result().catch(() => null)) as Record<string, unknown> | null;
      if (desc.closeTime) out.closed = desc.closeTime.toISOString();
      if (result) out.results = Object.fromEntries(Object.entries(result).filter(([k, v]) => k.endsWith('Uri') && typeof v === 'string'));
    }
    if (desc.status.name === 'RUNNING') {
      if (desc.type === 'sweepWorkflow') {
        out.progress = await handle.query(sweepProgressQuery);
        out.shards = await sweepShardProgress(client, id);
      } else if (desc.type === 'evaluationWorkflow') {
        // Per shard, chunks included; the evaluation's own count alone if a chunk cannot answer now.
        out.progress = await evaluationProgress(client, id).catch(() => handle.query(progressQuery));
      }
    }
    return out;
  });
}

export async function cancel(id: string, opts: ConnectOptions): Promise<void> {
  await withTemporal({ ...opts, embeddedWorker: false }, async ({ client }) => {
    await client.workflow.getHandle(id).cancel();
    process.stderr.write(`entroscope: cancellation requested for ${id}; finished shards stay in the store, \`entroscope resume ${id}\` continues\n`);
  });
}

/** The original input of a workflow, from the first event of its history. */
async function workflowInput(client: Client, id: string): Promise<unknown[]> {
  const history = await client.workflow.getHandle(id).fetchHistory();
  const payloads = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  return payloads.map((p) => defaultPayloadConverter.fromPayload(p));
}

/** The store of a sweep, from its spec as the sweep workflow received it. */
export async function sweepStore(id: string, opts: ConnectOptions): Promise<string> {
  return withTemporal({ ...opts, embeddedWorker: false }, async ({ client }) => {
    let args: unknown[];
    try {
      args = await workflowInput(client, id);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || /NOT_FOUND/.test((err as Error).message)) {
        throw new Error(`${id} is neither a results folder nor a sweep on this Temporal server`);
      }
      throw err;
    }
    const spec = (args[0] as { spec?: { store?: string } } | undefined)?.spec;
    if (!spec?.store) throw new Error(`${id} is not a sweep (its input has no spec.store)`);
    return spec.store;
  });
}

/** Starts a closed (failed, cancelled, terminated) sweep or evaluation again with its original input. */
export async function resume(id: string, opts: ConnectOptions & { json?: boolean }): Promise<unknown> {
  return withTemporal({ ...opts, embeddedWorker: true }, async ({ client, workerStopped }) => {
    const old = client.workflow.getHandle(id);
    const desc = await old.describe();
    if (desc.status.name === 'RUNNING') throw new Error(`${id} is still running: nothing to resume (see \`entroscope status ${id}\`)`);
    const args = await workflowInput(client, id);
    const handle = await client.workflow.start(desc.type, { taskQueue: TASK_QUEUES.orchestration, workflowId: id, args });
    process.stderr.write(`entroscope: resumed ${id} (${desc.type}); finished shards are reused from the store\n`);
    const result = handle.result();
    return workerStopped ? Promise.race([result, workerStopped]) : result;
  });
}

export async function scheduleCreate(file: string, opts: ConnectOptions & { cron: string; id?: string }): Promise<string> {
  const spec = await loadSpec(file);
  if (!(opts.temporal ?? process.env.TEMPORAL_ADDRESS)) {
    throw new Error('schedules need a long-running Temporal server with workers (--temporal or TEMPORAL_ADDRESS)');
  }
  return withTemporal({ ...opts, embeddedWorker: false }, async ({ client }) => {
    const scheduleId = opts.id ?? `schedule-${spec.name}`;
    await client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [opts.cron] },
      // Each run gets its own workflow ID (the schedule appends the time), so each is archived apart.
      action: { type: 'startWorkflow', workflowType: sweepWorkflow, workflowId: `sweep-${spec.name}`, taskQueue: TASK_QUEUES.orchestration, args: [{ spec }] },
      // The server keeps a cron expression only as calendars; the memo keeps it as the user wrote it.
      memo: { specFile: file, cron: opts.cron },
    });
    return scheduleId;
  });
}

/** A calendar range list as cron writes it: `*`, `3`, `1-5`, `0-59/15`, `1,15`. */
function cronField(ranges: Array<{ start: number; end?: number; step?: number }> | undefined, full: { start: number; end: number }): string {
  if (!ranges?.length) return '*';
  return ranges
    .map((r) => {
      const end = r.end ?? r.start;
      const step = r.step && r.step > 1 ? `/${r.step}` : '';
      if (r.start === full.start && end === full.end) return `*${step}`;
      return end === r.start ? `${r.start}` : `${r.start}-${end}${step}`;
    })
    .join(',');
}

const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];

type Range<T> = { start: T; end?: T; step?: number };
/** A schedule's calendar back as a 5-field cron expression (minute hour day-of-month month day-of-week). */
export function calendarToCron(c: { minute?: Range<number>[]; hour?: Range<number>[]; dayOfMonth?: Range<number>[]; month?: Range<string>[]; dayOfWeek?: Range<string>[] }): string {
  const named = (rs: Range<string>[] | undefined, names: string[], base: number) =>
    rs?.map((r) => ({ start: names.indexOf(r.start) + base, end: names.indexOf(r.end ?? r.start) + base, step: r.step }));
  return [
    cronField(c.minute, { start: 0, end: 59 }),
    cronField(c.hour, { start: 0, end: 23 }),
    cronField(c.dayOfMonth, { start: 1, end: 31 }),
    cronField(named(c.month, MONTHS, 1), { start: 1, end: 12 }),
    cronField(named(c.dayOfWeek, DAYS, 0), { start: 0, end: 6 }),
  ].join(' ');
}

export async function scheduleList(opts: ConnectOptions): Promise<Array<{ id: string; paused: boolean; cron: string[]; next: string[] }>> {
  return withTemporal({ ...opts, embeddedWorker: false }, async ({ client }) => {
    const out = [];
    for await (const s of client.schedule.list()) {
      const d = await client.schedule.getHandle(s.scheduleId).describe();
      const memoCron = typeof d.memo?.cron === 'string' ? [d.memo.cron] : null;
      out.push({
        id: s.scheduleId,
        paused: d.state.paused,
        cron: memoCron ?? (d.spec.calendars ?? []).map((c) => calendarToCron(c as Parameters<typeof calendarToCron>[0])),
        next: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
      });
    }
    return out;
  });
}

export async function scheduleAction(id: string, action: 'pause' | 'unpause' | 'delete', opts: ConnectOptions): Promise<void> {
  await withTemporal({ ...opts, embeddedWorker: false }, async ({ client }) => {
    const h = client.schedule.getHandle(id);
    if (action === 'pause') await h.pause('paused by entroscope');
    else if (action === 'unpause') await h.unpause('unpaused by entroscope');
    else await h.delete();
  });
}
