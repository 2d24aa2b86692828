// Worker processes: one Temporal Worker per task-queue role, all in this process unless `--queues`
// narrows it. Any number of machines can run these against the same server and store.
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import * as activities from '../activities/index.ts';
import { TASK_QUEUES, type QueueRole } from '../workflows/taskQueues.ts';
import { defaultPoolSize } from '../src/parallel/threadPool.ts';
import { closeS3 } from '../src/store/s3Store.ts';
import { temporalConnectionOptions } from './connectionOptions.ts';

export interface WorkerOptions {
  address: string;
  namespace: string;
  roles: QueueRole[];
  /** Extraction activities at once; default: the thread pool's size. */
  extractionConcurrency?: number;
}

export interface RunningWorkers {
  workers: Worker[];
  connection: NativeConnection;
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow code, bundled once per process (webpack; a few seconds). */
function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  return (bundle ??= bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    logger: { log() {}, info() {}, warn: console.warn, error: console.error, debug() {}, trace() {} } as never,
  }));
}

export async function startWorkers(opts: WorkerOptions): Promise<RunningWorkers> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(opts.address));
  const extraction = opts.extractionConcurrency ?? defaultPoolSize(1);
  const workers: Worker[] = [];
  for (const role of opts.roles) {
    const common = { connection, namespace: opts.namespace, taskQueue: TASK_QUEUES[role] };
    if (role === 'orchestration') {
      workers.push(await Worker.create({ ...common, workflowBundle: await workflowBundle() }));
    } else {
      workers.push(
        await Worker.create({
          ...common,
          activities,
          maxConcurrentActivityTaskExecutions: role === 'extraction' ? extraction : 2,
          // Heartbeats reach the server (and a cancellation comes back) within seconds, not at 0.8 ×
          // the heartbeat timeout: `cancel` stops running shards promptly.
          maxHeartbeatThrottleInterval: '2 seconds',
          defaultHeartbeatThrottleInterval: '2 seconds',
        }),
      );
    }
  }
  const done = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  return {
    workers,
    connection,
    done,
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
      await connection.close();
      closeS3();
    },
  };
}
