// Keeps the embedded Temporal dev server of one state folder up between CLI runs, and stops it once
// it has been idle for a while. Started detached by cli/temporalDevServer.ts; plain JavaScript so it
// starts in milliseconds and needs no loader.
//
//   node devServerKeeper.mjs STATE_DIR PORT TEMPORAL_BIN IDLE_MS
//
// It starts `temporal server start-dev` on PORT (UI on PORT + 1000) persisting to
// STATE_DIR/temporal.db, and records itself in STATE_DIR/dev-server.json and, because ports are
// machine-wide, in $TMPDIR/entroscope-dev-servers/PORT.json. Every CLI process using the server
// holds a lease: a file STATE_DIR/dev-server-leases/PID. When no live process has held a lease for
// IDLE_MS, or on SIGTERM/SIGINT, it stops the server, removes its records and exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [stateDir, portText, temporalBin, idleText] = process.argv.slice(2);
const port = Number(portText);
const idleMs = Number(idleText);
const recordPath = join(stateDir, 'dev-server.json');
const leasesDir = join(stateDir, 'dev-server-leases');
const portRecordPath = join(tmpdir(), 'entroscope-dev-servers', `${port}.json`);
const POLL_MS = 1000;

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};

/** Live leases (removing those of processes that died). */
function liveLeases() {
  let n = 0;
  for (const f of existsSync(leasesDir) ? readdirSync(leasesDir) : []) {
    if (alive(Number(f))) n++;
    else rmSync(join(leasesDir, f), { force: true });
  }
  return n;
}

const writeJson = (path, value) => {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, path);
};

/** Removes the records that are this keeper's (a keeper that lost a race must not remove the winner's). */
function removeRecords() {
  for (const path of [recordPath, portRecordPath]) {
    try {
      if (JSON.parse(readFileSync(path, 'utf8')).keeperPid === process.pid) rmSync(path, { force: true });
    } catch {
      // not there
    }
  }
}

mkdirSync(leasesDir, { recursive: true });
mkdirSync(join(tmpdir(), 'entroscope-dev-servers'), { recursive: true });
const log = openSync(join(stateDir, 'temporal.log'), 'a');
const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(port + 1000),
  '--db-filename', join(stateDir, 'temporal.db'), '--log-level', 'warn'];
const server = spawn(temporalBin, args, { stdio: ['ignore', log, log] });
let stopping = false;
server.on('error', (err) => {
  writeFileSync(join(stateDir, 'temporal.log'), `cannot start ${temporalBin}: ${err.message}\n`, { flag: 'a' });
  removeRecords();
  process.exit(1);
});
server.on('exit', (code) => {
  removeRecords();
  process.exit(stopping ? 0 : code ?? 1);
});
const record = { keeperPid: process.pid, serverPid: server.pid, port, address: `127.0.0.1:${port}`, stateDir, idleMs, startedAt: new Date().toISOString() };
writeJson(recordPath, record);
writeJson(portRecordPath, record);

function stop() {
  if (stopping) return;
  stopping = true;
  removeRecords();
  server.kill('SIGTERM');
  setTimeout(() => server.kill('SIGKILL'), 10_000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

let lastBusy = Date.now();
setInterval(() => {
  if (stopping) return;
  if (liveLeases() > 0) lastBusy = Date.now();
  else if (Date.now() - lastBusy >= idleMs) {
    // Withdraw the record first, then look again: a CLI that leased meanwhile keeps the server.
    rmSync(recordPath, { force: true });
    if (liveLeases() > 0) {
      writeJson(recordPath, record);
      lastBusy = Date.now();
    } else stop();
  }
}, POLL_MS);
