// The embedded default: a local Temporal dev server (the official CLI's `server start-dev`),
// persisting to SQLite under the state folder so a crashed run can resume where it stopped.
//
// Starting one takes seconds, so it stays up between runs of one state folder: a detached keeper
// (devServerKeeper.mjs) owns it and stops it after ENTROSCOPE_DEV_SERVER_IDLE seconds (default 600)
// with no CLI process using it; 0 stops it when the command ends. A run finds it through
// `<state>/dev-server.json` and holds a lease (`<state>/dev-server-leases/<pid>`) while it works.
// A server on the port that belongs to another state folder is stopped and replaced when idle (it
// would keep this folder's workflows in the other folder's database); a server entroscope did not
// start (e.g. `temporal server start-dev` by hand) is used as it is.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '@temporalio/client';

export interface DevServer {
  address: string;
  /** Whether entroscope keeps this server (false: someone else's, on the same port). */
  owned: boolean;
  /** This process is done with it: its lease ends; the server stops too when the idle time is 0. */
  stop(): Promise<void>;
}

/** What devServerKeeper.mjs records about the server it keeps. */
interface ServerRecord {
  keeperPid: number;
  serverPid: number;
  port: number;
  address: string;
  stateDir: string;
}

const keeperScript = fileURLToPath(new URL('./devServerKeeper.mjs', import.meta.url));

/** Finds the `temporal` CLI: $ENTROSCOPE_TEMPORAL_BIN, the infra venv, then PATH. */
export function temporalBinary(): string {
  const cache = process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope');
  const candidates = [process.env.ENTROSCOPE_TEMPORAL_BIN, join(cache, 'venv', 'bin', 'temporal')];
  for (const c of candidates) if (c && existsSync(c)) return c;
  return 'temporal';
}

/** ENTROSCOPE_DEV_SERVER_IDLE in milliseconds (default 10 minutes). */
export function devServerIdleMs(): number {
  const s = Number(process.env.ENTROSCOPE_DEV_SERVER_IDLE ?? 600);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : 600_000;
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

const alive = (pid: number | undefined): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

function readRecord(path: string): ServerRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ServerRecord;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live leases of a state folder other than this process's. */
function otherLeases(stateDir: string): number {
  const dir = join(stateDir, 'dev-server-leases');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((f) => Number(f) !== process.pid && alive(Number(f))).length;
}

/** Stops a keeper (and so its server) and waits until it is gone. */
async function stopKeeper(r: ServerRecord): Promise<void> {
  try {
    process.kill(r.keeperPid, 'SIGTERM');
  } catch {
    // already gone: its server may be orphaned
    if (alive(r.serverPid)) process.kill(r.serverPid, 'SIGTERM');
  }
  const deadline = Date.now() + 15_000;
  while ((alive(r.keeperPid) || alive(r.serverPid)) && Date.now() < deadline) await sleep(100);
}

/** Holds this process's lease on a state folder's server until `stop`. */
function lease(stateDir: string): () => void {
  const dir = join(stateDir, 'dev-server-leases');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, String(process.pid));
  writeFileSync(file, '');
  const release = () => rmSync(file, { force: true });
  process.once('exit', release);
  return release;
}

export async function ensureDevServer(stateDir: string, port: number, opts: { idleMs?: number } = {}): Promise<DevServer> {
  const idleMs = opts.idleMs ?? devServerIdleMs();
  mkdirSync(stateDir, { recursive: true });
  // The lease comes first, so a keeper deciding it is idle sees it.
  const release = lease(stateDir);
  const recordPath = join(stateDir, 'dev-server.json');
  const kept = (r: ServerRecord): DevServer => ({
    address: r.address,
    owned: true,
    async stop() {
      release();
      if (idleMs === 0 && otherLeases(stateDir) === 0) await stopKeeper(r);
    },
  });
  try {
    // 1. This folder's server, still up: reuse it.
    const mine = readRecord(recordPath);
    if (mine && alive(mine.keeperPid) && (await reachable(mine.address, 2000))) return kept(mine);
    if (mine) await stopKeeper(mine); // a keeper without a server, or a server without its keeper

    // 2. Something answers on the port: another folder's server (replaced when idle) or a foreign one.
    const address = `127.0.0.1:${port}`;
    if (await reachable(address, 1000)) {
      const other = readRecord(join(tmpdir(), 'entroscope-dev-servers', `${port}.json`));
      if (!other || !alive(other.keeperPid)) {
        release();
        return { address, owned: false, async stop() {} };
      }
      if (otherLeases(other.stateDir) > 0) {
        throw new Error(
          `port ${port} is used by the embedded Temporal dev server of state folder ${other.stateDir}, and a run is using it; ` +
            `run with --state-dir ${other.stateDir}, wait for it, or set ENTROSCOPE_TEMPORAL_PORT to another port`,
        );
      }
      await stopKeeper(other);
    }

    // 3. Start one: a detached keeper owns it, so it outlives this process.
    const log = join(stateDir, 'temporal.log');
    const keeper = spawn(process.execPath, [keeperScript, stateDir, String(port), temporalBinary(), String(idleMs)], {
      detached: true,
      stdio: 'ignore',
    });
    keeper.unref();
    const started = Date.now();
    while (Date.now() - started < 60_000) {
      // Ours, or one a concurrent run of this folder started first (ours then fails to bind and exits).
      const r = readRecord(recordPath);
      if (r && alive(r.keeperPid) && (await reachable(r.address, 1000))) return kept(r);
      if ((keeper.exitCode !== null || !alive(keeper.pid)) && !(r && alive(r.keeperPid))) {
        const tail = existsSync(log) && statSync(log).size > 0 ? readFileSync(log, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
        throw new Error(
          `the Temporal dev server (${temporalBinary()}) did not start; see ${log}` + (tail ? `:\n${tail}` : '') + '\nRun `bash infra/install.sh` if it is not installed.',
        );
      }
      await sleep(100);
    }
    const r = readRecord(recordPath);
    if (r) await stopKeeper(r);
    throw new Error(`the Temporal dev server did not answer on ${address} within 60 s; see ${log}`);
  } catch (err) {
    release();
    throw err;
  }
}
