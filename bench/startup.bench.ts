// Benchmark: the fixed cost of the CLI — what a user waits for before and around a tiny evaluation.
//
//   help:  `entroscope --help`, wall time and CPU time (user + sys of the CLI process, all threads;
//          for runs too — the dev server, a separate process, is not counted)
//   cold:  `entroscope run` on a 2-row dataset with a fresh state folder and a fresh cache (no dev
//          server, no workflow bundle, no tapped-model listing: a first use)
//   warm:  `entroscope run` twice more on the same state folder, each on 2 other rows (so shards are
//          computed, not reused): what every later run costs
// For each run: the total wall time and the time until the workflow started (the CLI's
// `entroscope: workflow …` line on stderr), i.e. start-up before any work.
//
// `--root DIR` runs another checkout's CLI (e.g. an export of an older commit) for a before/after
// in one run. The embedded dev server of each state folder is stopped at the end.
// Usage: node --import tsx bench/startup.bench.ts [--runs 3] [--root DIR] [--port P]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaults } from '../cli/defaults.ts';
import { temporalBinary } from '../cli/temporalDevServer.ts';
import { freePort, median } from './benchSupport.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    root: { type: 'string' },
    port: { type: 'string' },
  },
});
const runs = Number(args.runs);
const root = resolve(args.root ?? new URL('..', import.meta.url).pathname);
const bin = join(root, 'bin', 'entroscope.js');
const model = defaults.model();
const brown = readFileSync(new URL('../data/demo/brown-200.jsonl', import.meta.url), 'utf8').trim().split('\n');

interface Timed {
  wallMs: number;
  /** Until the CLI printed `entroscope: workflow …` (run only). */
  startedMs?: number;
  cpuMs?: number;
}

/** `entroscope --help` under /usr/bin/time for its CPU time. */
function timeHelp(): Timed {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, bin, '--help'], { encoding: 'utf8' });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`--help failed: ${r.stderr}`);
  const [user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { wallMs, cpuMs: (user + sys) * 1000 };
}

function timeRun(env: NodeJS.ProcessEnv, state: string, data: string): Promise<Timed> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    let startedMs: number | undefined;
    let stderr = '';
    const child = spawn('/usr/bin/time', ['-f', 'cpu %U %S', process.execPath, bin, 'run', '--model', model, '--data', data, '--state-dir', state, '--json'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (startedMs === undefined && /entroscope: workflow /.test(stderr)) startedMs = performance.now() - t0;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) return fail(new Error(`run exited ${code}: ${stderr}`));
      const [user, sys] = (/cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr) ?? []).slice(1).map(Number);
      done({ wallMs: performance.now() - t0, startedMs, cpuMs: (user + sys) * 1000 });
    });
  });
}

/** Stops the dev server a state folder's runs left up (if the CLI keeps one), by its recorded pid. */
function stopServer(state: string): void {
  const file = join(state, 'dev-server.json');
  if (!existsSync(file)) return;
  const { keeperPid } = JSON.parse(readFileSync(file, 'utf8')) as { keeperPid?: number };
  if (keeperPid) {
    try {
      process.kill(keeperPid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

const fmt = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(2));
const port = args.port ? Number(args.port) : await freePort();
const help: Timed[] = [];
const cold: Timed[] = [];
const warm: Timed[] = [];
const loads: number[] = [loadavg()[0]];
for (let i = 0; i < runs; i++) {
  help.push(timeHelp());
  const state = mkdtempSync(join(tmpdir(), 'entroscope-startup-'));
  const cache = join(state, 'cache');
  // A fresh cache for the cold run; the model and the Temporal CLI are read from the real one.
  const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_CACHE: cache, ENTROSCOPE_TEMPORAL_BIN: temporalBinary(), ENTROSCOPE_TEMPORAL_PORT: String(port) };
  delete env.TEMPORAL_ADDRESS;
  const data = (k: number) => {
    const p = join(state, `d${k}.jsonl`);
    writeFileSync(p, brown.slice(2 * k, 2 * k + 2).join('\n') + '\n');
    return p;
  };
  try {
    cold.push(await timeRun(env, state, data(0)));
    for (const k of [1, 2]) warm.push(await timeRun(env, state, data(k)));
  } finally {
    stopServer(state);
    await new Promise((r) => setTimeout(r, 1500)); // the server lets go of its port
    rmSync(state, { recursive: true, force: true });
  }
  loads.push(loadavg()[0]);
  process.stderr.write(`round ${i + 1}: help ${fmt(help[i].wallMs)} s, cold ${fmt(cold[i].wallMs)} s, warm ${warm.slice(-2).map((w) => fmt(w.wallMs)).join(', ')} s\n`);
}

const col = (xs: Timed[], k: keyof Timed) => {
  const v = xs.map((x) => x[k]).filter((x): x is number => x !== undefined);
  return `${v.map((x) => fmt(x)).join(', ')} (median ${fmt(v.length ? median(v) : undefined)})`;
};
console.log(`${bin}; node ${process.version}; load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; ${runs} rounds`);
console.log(`| what | wall (s) | until the workflow started (s) | CPU (s) |`);
console.log(`|---|---|---|---|`);
console.log(`| \`--help\` | ${col(help, 'wallMs')} | — | ${col(help, 'cpuMs')} |`);
console.log(`| \`run\`, 2 rows, first use (fresh state and cache) | ${col(cold, 'wallMs')} | ${col(cold, 'startedMs')} | ${col(cold, 'cpuMs')} |`);
console.log(`| \`run\`, 2 other rows, same state folder | ${col(warm, 'wallMs')} | ${col(warm, 'startedMs')} | ${col(warm, 'cpuMs')} |`);
