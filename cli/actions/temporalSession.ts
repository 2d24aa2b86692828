// A Temporal client for one CLI command: the configured server (`--temporal` / TEMPORAL_ADDRESS),
// or else the embedded default — a local dev server under the state folder plus an in-process
// worker — stopped again when the command is done.
import { Client, Connection } from '@temporalio/client';
import { resolve } from 'node:path';
import { defaults } from '../defaults.ts';
import { ensureDevServer, type DevServer } from '../temporalDevServer.ts';
import { quietTemporalRuntime } from '../runtime.ts';
import type { RunningWorkers } from '../../workers/worker.ts';
import { temporalConnectionOptions } from '../../workers/connectionOptions.ts';
import { ALL_ROLES } from '../../workflows/taskQueues.ts';

export interface SessionOptions {
  temporal?: string;
  namespace: string;
  stateDir: string;
  /** Start an in-process worker when embedded (commands that wait for work to finish). */
  embeddedWorker: boolean;
}

export interface Session {
  client: Client;
  /** Rejects if the embedded worker stops while the command waits. */
  workerStopped?: Promise<never>;
  embedded: boolean;
}

export async function withTemporal<T>(opts: SessionOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  quietTemporalRuntime();
  const external = opts.temporal ?? process.env.TEMPORAL_ADDRESS;
  let server: DevServer | undefined;
  let workers: RunningWorkers | undefined;
  let connection: Connection | undefined;
  try {
    let address = external;
    if (!address) {
      // The worker's modules (ONNX, Arrow, S3 …) load while the dev server starts or is found.
      const [started, workerModule] = await Promise.all([
        ensureDevServer(resolve(opts.stateDir), defaults.temporalPort),
        opts.embeddedWorker
          ? import('../../workers/worker.ts').then((m) => (m.prepareWorkers(ALL_ROLES), m))
          : undefined,
      ]);
      server = started;
      address = server.address;
      if (workerModule) workers = await workerModule.startWorkers({ address, namespace: opts.namespace, roles: ALL_ROLES });
    }
    connection = await Connection.connect(temporalConnectionOptions(address));
    const client = new Client({ connection, namespace: opts.namespace });
    const workerStopped = workers?.done.then((): never => {
      throw new Error('the embedded worker stopped unexpectedly');
    });
    workerStopped?.catch(() => undefined);
    return await fn({ client, workerStopped, embedded: !external });
  } finally {
    await connection?.close();
    await workers?.shutdown();
    await server?.stop();
  }
}
