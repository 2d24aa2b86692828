// Worker processes: one Temporal Worker per task-queue role, all in this process unless `--queues`
// narrows it. Any number of machines can run these against the same server and store.
import { NativeConnection, Worker } from '@temporalio/worker';
import * as activities from '../activities/index.ts';
import { TASK_QUEUES, type QueueRole } from '../workflows/taskQueues.ts';
import { defaultPoolSize, sharedPool } from '../src/parallel/threadPool.ts';
import { closeS3 } from '../src/store/s3Store.ts';
import { temporalConnectionOptions } from './connectionOptions.ts';
import { workflowBundlePath } from './workflowBundle.ts';

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

let bundle: Promise<string> | undefined;

/**
 * Starts what the first tasks need — the pool's threads (each loads ONNX Runtime and the core
 * library: seconds) and the workflow bundle — so it overlaps the rest of start-up.
 */
export function prepareWorkers(roles: readonly QueueRole[]): void {
  if (roles.includes('extraction') || roles.includes('reduction')) sharedPool().warm(1);
  if (roles.includes('orchestration')) (bundle ??= workflowBundlePath()).catch(() => undefined); // awaited in startWorkers
}

export async function startWorkers(opts: WorkerOptions): Promise<RunningWorkers> {
  prepareWorkers(opts.roles);
  const connection = await NativeConnection.connect(temporalConnectionOptions(opts.address));
  const extraction = opts.extractionConcurrency ?? defaultPoolSize(1);
  // Created side by side: each validates against the server and the orchestration one loads the bundle.
  const workers: Worker[] = await Promise.all(
    opts.roles.map(async (role) => {
      const common = { connection, namespace: opts.namespace, taskQueue: TASK_QUEUES[role] };
      if (role === 'orchestration') return Worker.create({ ...common, workflowBundle: { codePath: await (bundle ??= workflowBundlePath()) } });
      return Worker.create({
        ...common,
        activities,
        maxConcurrentActivityTaskExecutions: role === 'extraction' ? extraction : 2,
        // Heartbeats reach the server (and a cancellation comes back) within seconds, not at 0.8 ×
        // the heartbeat timeout: `cancel` stops running shards promptly.
        maxHeartbeatThrottleInterval: '2 seconds',
        defaultHeartbeatThrottleInterval: '2 seconds',
      });
    }),
  );
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
