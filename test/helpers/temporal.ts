// A test's view of the real Temporal server: an in-process worker polling every task queue and a
// client, torn down together; plus what tests read from a workflow's history.
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { startWorkers } from '../../workers/worker.ts';
import { ALL_ROLES } from '../../workflows/taskQueues.ts';
import { quietTemporalRuntime } from '../../cli/runtime.ts';

export interface TestTemporal {
  client: Client;
  close(): Promise<void>;
}

export async function startTestTemporal(address: string, opts: { extractionConcurrency?: number } = {}): Promise<TestTemporal> {
  quietTemporalRuntime();
  const workers = await startWorkers({ address, namespace: 'default', roles: ALL_ROLES, ...opts });
  const connection = await Connection.connect({ address });
  return {
    client: new Client({ connection }),
    async close() {
      await connection.close();
      await workers.shutdown();
    },
  };
}

/** How many `activityType` activities a workflow scheduled, from its history. */
export async function scheduledActivities(client: Client, workflowId: string, activityType: string): Promise<number> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).length;
}

/**
 * Asserts, from its history, that a workflow failed on its first bad input: exactly one activity
 * failed, non-retryably, and no activity ran more than once (the "no retry loop, ever" rule).
 */
export async function assertFailedOnceNonRetryable(client: Client, workflowId: string): Promise<void> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const started = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
  const failed = (history.events ?? []).flatMap((e) => (e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes] : []));
  assert.equal(failed.length, 1, 'one activity failed');
  assert.equal(failed[0].failure?.applicationFailureInfo?.nonRetryable, true, 'non-retryable');
  assert.deepEqual(started.map((e) => e.activityTaskStartedEventAttributes!.attempt), started.map(() => 1), 'every activity ran once');
}
