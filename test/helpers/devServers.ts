// The embedded dev server a CLI run leaves up for its state folder (cli/temporalDevServer.ts):
// its record, whether a process is alive, and stopping it at the end of a test.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DevServerRecord {
  keeperPid: number;
  serverPid: number;
  address: string;
}

export function devServerRecord(stateDir: string): DevServerRecord | undefined {
  const file = join(stateDir, 'dev-server.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DevServerRecord) : undefined;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a state folder's dev server (its keeper stops the server) and waits until both are gone. */
export async function stopDevServer(stateDir: string): Promise<void> {
  const r = devServerRecord(stateDir);
  if (!r) return;
  try {
    process.kill(r.keeperPid, 'SIGTERM');
  } catch {
    // gone
  }
  for (let i = 0; i < 150 && (alive(r.keeperPid) || alive(r.serverPid)); i++) await new Promise((res) => setTimeout(res, 100));
}

/**
 * A port for a test's own embedded dev server: `offset` above the test Temporal's port
 * (ENTROSCOPE_TEST_TEMPORAL_PORT, else TEMPORAL_ADDRESS's), so parallel test setups do not collide.
 */
export function embeddedTestPort(offset: number): number {
  const base = Number(process.env.ENTROSCOPE_TEST_TEMPORAL_PORT ?? process.env.TEMPORAL_ADDRESS?.split(':').pop() ?? 17233);
  return base + offset;
}
