// A test's view of the real Temporal server: an in-process worker polling every task queue and a
// client, torn down together; plus counting a workflow's scheduled activities from its history.
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
