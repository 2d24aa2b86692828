// Prints the activity timeline of one workflow from its Temporal history: for each activity type,
// how many ran, the sum and range of scheduled → started (queue wait) and started → completed
// (run) times, and the workflow's own span. Usage: node --import tsx bench/timeline.ts WORKFLOW_ID [host:port]
import { Connection, Client } from '@temporalio/client';

const [workflowId, address = `127.0.0.1:${process.env.ENTROSCOPE_TEMPORAL_PORT ?? 7233}`] = process.argv.slice(2);
const connection = await Connection.connect({ address });
const client = new Client({ connection });
const history = await client.workflow.getHandle(workflowId).fetchHistory();
const ms = (t: unknown) => { const ts = t as { seconds?: { toNumber(): number } | number; nanos?: number }; const s = typeof ts.seconds === 'number' ? ts.seconds : ts.seconds!.toNumber(); return s * 1000 + (ts.nanos ?? 0) / 1e6; };
const events = history.events ?? [];
const t0 = ms(events[0].eventTime);
const sched = new Map<number, { type: string; at: number; started?: number }>();
const rows: Array<{ type: string; at: number; start: number; end: number }> = [];
// Each extractShard's own counters (its result payload): inference and metric time inside the thread.
const shardTotals = { inferenceMs: 0, metricsMs: 0, shards: 0 };
let wft = 0, wftN = 0;
const wftStart = new Map<number, number>();
for (const e of events) {
  const at = ms(e.eventTime) - t0;
  const id = Number(e.eventId);
  if (e.activityTaskScheduledEventAttributes) sched.set(id, { type: e.activityTaskScheduledEventAttributes.activityType!.name!, at });
  if (e.activityTaskStartedEventAttributes) sched.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId))!.started = at;
  if (e.activityTaskCompletedEventAttributes) {
    const s = sched.get(Number(e.activityTaskCompletedEventAttributes.scheduledEventId))!;
    rows.push({ type: s.type, at: s.at, start: s.started ?? s.at, end: at });
    const data = e.activityTaskCompletedEventAttributes.result?.payloads?.[0]?.data;
    if (s.type === 'extractShard' && data) {
      const r = JSON.parse(new TextDecoder().decode(data)) as { inferenceMs?: number; metricsMs?: number };
      shardTotals.inferenceMs += r.inferenceMs ?? 0;
      shardTotals.metricsMs += r.metricsMs ?? 0;
      shardTotals.shards++;
    }
  }
  if (e.workflowTaskStartedEventAttributes) wftStart.set(id, at);
  if (e.workflowTaskCompletedEventAttributes) { wft += at - wftStart.get(Number(e.workflowTaskCompletedEventAttributes.startedEventId))!; wftN++; }
}
const end = ms(events[events.length - 1].eventTime) - t0;
console.log(`workflow ${workflowId}: ${events.length} events, ${(end / 1000).toFixed(2)} s; ${wftN} workflow tasks, ${(wft / 1000).toFixed(2)} s in them`);
const types = [...new Set(rows.map((r) => r.type))];
for (const type of types) {
  const rs = rows.filter((r) => r.type === type);
  const first = Math.min(...rs.map((r) => r.at)), last = Math.max(...rs.map((r) => r.end));
  const run = rs.reduce((a, r) => a + r.end - r.start, 0), wait = rs.reduce((a, r) => a + r.start - r.at, 0);
  console.log(`${type.padEnd(22)} ×${String(rs.length).padStart(3)}  span ${(first / 1000).toFixed(2)}–${(last / 1000).toFixed(2)} s  run Σ ${(run / 1000).toFixed(2)} s (max ${(Math.max(...rs.map((r) => r.end - r.start)) / 1000).toFixed(2)})  queue Σ ${(wait / 1000).toFixed(2)} s`);
}
if (shardTotals.shards) {
  console.log(`inside the ${shardTotals.shards} extractShard calls: inference Σ ${(shardTotals.inferenceMs / 1000).toFixed(2)} s, metrics Σ ${(shardTotals.metricsMs / 1000).toFixed(2)} s`);
}
await connection.close();
