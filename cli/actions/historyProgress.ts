// Progress of a sweep or evaluation read from its workflow histories, not from queries: a query
// needs a worker to answer it, a history only the Temporal server. `entroscope status` uses this,
// so it works while no worker polls (e.g. after the CLI and its embedded worker were killed).
//
// An evaluation's history says: planShards' result (shards in all, and those still to extract),
// each extractShard that completed, each chunk workflow (its result, or its own history while it
// runs), and whether the reductions or the summary have been scheduled. A sweep's says which
// evaluations started, finished or failed, with their results.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { twinWorkflowId, type EvaluationResult } from '../../workflows/evaluation.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export interface EvaluationHistoryProgress {
  phase: 'planning' | 'extracting' | 'reducing' | 'summarising' | 'done' | 'failed' | 'closed';
  shardsTotal: number;
  shardsDone: number;
  /** Shards found in the store at planning (finished by an earlier run). */
  shardsReused: number;
  /** Shards extracted by this run so far. */
  shardsComputed: number;
}

export interface SweepHistoryEvaluation {
  workflowId: string;
  model: string;
  dataset: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  shardsTotal?: number;
  shardsDone?: number;
  shardsComputed?: number;
  shardsReused?: number;
  /** The untrained twin's shards (Diff-eRank), counted in the sweep's totals. */
  twin?: { workflowId: string; shardsTotal: number; shardsDone: number; shardsComputed: number };
  summaryUri?: string;
  resultsUri?: string;
  error?: string;
}

export interface SweepHistoryProgress {
  phase: 'evaluating' | 'reporting' | 'done' | 'failed' | 'closed';
  evaluations: SweepHistoryEvaluation[];
  /** Over every evaluation that started, twins included. */
  shards: { total: number; done: number; computed: number; reused: number };
}

const decode = (p: temporal.api.common.v1.IPayloads | null | undefined): unknown =>
  p?.payloads?.[0] ? defaultPayloadConverter.fromPayload(p.payloads[0]) : undefined;

async function historyEvents(client: Client, workflowId: string): Promise<HistoryEvent[] | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  } catch (err) {
    if (err instanceof WorkflowNotFoundError || /not found/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

function closedPhase(events: HistoryEvent[]): 'done' | 'failed' | 'closed' | undefined {
  const last = events.at(-1);
  if (last?.workflowExecutionCompletedEventAttributes) return 'done';
  if (last?.workflowExecutionFailedEventAttributes) return 'failed';
  if (last?.workflowExecutionCanceledEventAttributes || last?.workflowExecutionTerminatedEventAttributes || last?.workflowExecutionTimedOutEventAttributes) return 'closed';
  return undefined;
}

/** Completed activities by type (with their results), and the types scheduled at all. */
function activities(events: HistoryEvent[]): { scheduled: Set<string>; completed: Array<{ type: string; result: unknown }> } {
  const typeOf = new Map<string, string>();
  const scheduled = new Set<string>();
  const completed: Array<{ type: string; result: unknown }> = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const type = s.activityType?.name ?? '';
      typeOf.set(String(e.eventId), type);
      scheduled.add(type);
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c) completed.push({ type: typeOf.get(String(c.scheduledEventId)) ?? '', result: decode(c.result) });
  }
  return { scheduled, completed };
}

/** Child workflows by ID: started, and how they closed (completed with a result, or failed). */
function children(events: HistoryEvent[]): Map<string, { type: string; state: 'initiated' | 'running' | 'completed' | 'failed'; result?: unknown; error?: string }> {
  const out = new Map<string, { type: string; state: 'initiated' | 'running' | 'completed' | 'failed'; result?: unknown; error?: string }>();
  for (const e of events) {
    const i = e.startChildWorkflowExecutionInitiatedEventAttributes;
    if (i?.workflowId) out.set(i.workflowId, { type: i.workflowType?.name ?? '', state: 'initiated' });
    const s = e.childWorkflowExecutionStartedEventAttributes;
    const sid = s?.workflowExecution?.workflowId;
    if (sid && out.has(sid)) out.get(sid)!.state = 'running';
    const c = e.childWorkflowExecutionCompletedEventAttributes;
    const cid = c?.workflowExecution?.workflowId;
    if (cid && out.has(cid)) Object.assign(out.get(cid)!, { state: 'completed', result: decode(c.result) });
    const failure =
      e.childWorkflowExecutionFailedEventAttributes ?? e.childWorkflowExecutionCanceledEventAttributes ?? e.childWorkflowExecutionTerminatedEventAttributes ?? e.childWorkflowExecutionTimedOutEventAttributes;
    const fid = failure?.workflowExecution?.workflowId;
    if (fid && out.has(fid)) {
      const f = (failure as { failure?: { message?: string | null; cause?: { message?: string | null } | null } | null }).failure;
      Object.assign(out.get(fid)!, { state: 'failed', error: f?.cause?.message ?? f?.message ?? 'closed without a result' });
    }
  }
  return out;
}

/** An evaluation's shards done/total from its history (and its chunks' histories); undefined if it does not exist. */
export async function evaluationHistoryProgress(client: Client, workflowId: string): Promise<EvaluationHistoryProgress | undefined> {
  const events = await historyEvents(client, workflowId);
  if (!events) return undefined;
  const { scheduled, completed } = activities(events);
  const plan = completed.find((a) => a.type === 'planShards')?.result as { shardCount: number; pending: Array<[number, number]> } | undefined;
  const shardsTotal = plan?.shardCount ?? 0;
  const pending = plan ? plan.pending.reduce((s, [a, b]) => s + b - a, 0) : 0;
  let computed = completed.filter((a) => a.type === 'extractShard').length;
  for (const [id, child] of children(events)) {
    if (child.type !== 'extractChunkWorkflow') continue;
    if (child.state === 'completed') computed += (child.result as { extracted: number }).extracted;
    else if (child.state === 'running') {
      const chunkEvents = (await historyEvents(client, id)) ?? [];
      computed += activities(chunkEvents).completed.filter((a) => a.type === 'extractShard').length;
    }
  }
  const phase =
    closedPhase(events) ??
    (!plan ? 'planning' : scheduled.has('summarize') ? 'summarising' : scheduled.has('reduceGrams') && computed >= pending ? 'reducing' : 'extracting');
  return { phase, shardsTotal, shardsReused: shardsTotal - pending, shardsComputed: computed, shardsDone: shardsTotal - pending + computed };
}

interface SweepSpecView {
  models: Array<{ model: string; name?: string }>;
  datasets: Array<{ data: string; imageTransform?: string }>;
  diffErank?: boolean;
  untrainSeed?: number;
}

/** A sweep's phase, evaluations and shard counts (twins included) from its history and its children's. */
export async function sweepHistoryProgress(client: Client, sweepId: string): Promise<SweepHistoryProgress | undefined> {
  const events = await historyEvents(client, sweepId);
  if (!events) return undefined;
  const spec = (decode(events[0]?.workflowExecutionStartedEventAttributes?.input) as { spec: SweepSpecView } | undefined)?.spec;
  if (!spec) throw new Error(`${sweepId} is not a sweep (its input has no spec)`);
  const kids = children(events);
  const evaluations: SweepHistoryEvaluation[] = [];
  const shards = { total: 0, done: 0, computed: 0, reused: 0 };
  for (const [i, m] of spec.models.entries()) {
    for (const [j, d] of spec.datasets.entries()) {
      const workflowId = `${sweepId}/m${i}-d${j}`;
      const child = kids.get(workflowId);
      const e: SweepHistoryEvaluation = {
        workflowId,
        model: m.name ?? m.model,
        dataset: d.imageTransform && d.imageTransform !== 'none' ? `${d.data} (${d.imageTransform})` : d.data,
        status: !child ? 'pending' : child.state === 'completed' ? 'completed' : child.state === 'failed' ? 'failed' : 'running',
      };
      if (child?.state === 'completed') {
        const r = child.result as EvaluationResult;
        Object.assign(e, { shardsTotal: r.shardsTotal, shardsDone: r.shardsTotal, shardsComputed: r.shardsExtracted, shardsReused: r.shardsTotal - r.shardsExtracted, summaryUri: r.summaryUri });
        if (r.resultsUri) e.resultsUri = r.resultsUri;
        if (r.twin) e.twin = { workflowId: r.twin.workflowId, shardsTotal: r.twin.shardsTotal, shardsDone: r.twin.shardsTotal, shardsComputed: r.twin.shardsExtracted };
      } else if (child?.state === 'failed') {
        e.error = child.error;
      } else if (child) {
        const p = await evaluationHistoryProgress(client, workflowId);
        if (p) Object.assign(e, { shardsTotal: p.shardsTotal, shardsDone: p.shardsDone, shardsComputed: p.shardsComputed, shardsReused: p.shardsReused });
        if (spec.diffErank) {
          const twinId = twinWorkflowId(workflowId, spec.untrainSeed ?? 0);
          const t = await evaluationHistoryProgress(client, twinId);
          if (t) e.twin = { workflowId: twinId, shardsTotal: t.shardsTotal, shardsDone: t.shardsDone, shardsComputed: t.shardsComputed };
        }
      }
      shards.total += (e.shardsTotal ?? 0) + (e.twin?.shardsTotal ?? 0);
      shards.done += (e.shardsDone ?? 0) + (e.twin?.shardsDone ?? 0);
      shards.computed += (e.shardsComputed ?? 0) + (e.twin?.shardsComputed ?? 0);
      evaluations.push(e);
    }
  }
  shards.reused = shards.done - shards.computed;
  const { scheduled } = activities(events);
  const phase = closedPhase(events) ?? (scheduled.has('finishSweep') ? 'reporting' : 'evaluating');
  return { phase, evaluations, shards };
}
