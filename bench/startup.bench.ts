// Benchmark: the fixed cost of the CLI — what a user waits for before and around a tiny evaluation,
// for the compiled CLI (`npm run build`'s dist/, what bin/entroscope.js runs when it is fresh) and
// the TypeScript sources through tsx (the same bin with ENTROSCOPE_FROM_SOURCES=1), side by side in
// one run, alternating which goes first each round.
//
//   help:  `entroscope --help`, wall time and CPU time (user + sys of the CLI process, all threads;
//          for runs too — the dev server, a separate process, is not counted)
//   cold:  `entroscope run` on a 2-row dataset with a fresh state folder and a fresh cache (no dev
//          server, no workflow bundle, no tapped-model listing: a first use)
//   warm:  `entroscope run` twice more on the same state folder, each on 2 other rows (so shards are
//          computed, not reused): what every later run costs
// For each run: the total wall time and the time until the workflow started (the CLI's
// `entroscope: workflow …` line on stderr), i.e. start-up before any work. Ratios: tsx ÷ compiled,
// of the medians. Load average (1 min) is printed per round and overall.
//
// `--root DIR` runs another checkout's CLI (e.g. an export of an older commit) for a before/after
// in one run; `--modes compiled,tsx` (default both; a root with no fresh dist/ has only tsx). The
// embedded dev server of each state folder is stopped at the end.
// Usage: node --import tsx bench/startup.bench.ts [--runs 3] [--root DIR] [--port P] [--modes compiled,tsx]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaults } from '../cli/defaults.ts';
import { temporalBinary } from '../cli/temporalDevServer.ts';
import { staleness } from '../bin/builtCli.js';
import { freePort, median } from './benchSupport.ts';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    root: { type: 'string' },
    port: { type: 'string' },
    modes: { type: 'string', default: 'compiled,tsx' },
  },
});
const runs = Number(args.runs);
const root = resolve(args.root ?? new URL('..', import.meta.url).pathname);
const bin = join(root, 'bin', 'entroscope.js');
const model = defaults.model();
type Mode = 'compiled' | 'tsx';
const modes = args.modes.split(',').map((m) => m.trim()) as Mode[];
for (const m of modes) if (m !== 'compiled' && m !== 'tsx') throw new Error(`--modes: ${m} is neither compiled nor tsx`);
if (modes.includes('compiled')) {
  const stale = staleness(root, join(root, 'dist'));
  if (stale) throw new Error(`${root}/dist is ${stale.kind === 'missing' ? 'not built' : `older than ${stale.path}`}: run \`npm run build\` there first (the compiled mode would measure tsx)`);
}
/** What selects the mode: bin/entroscope.js runs a fresh dist/ unless told to run the sources. */
const modeEnv = (m: Mode): NodeJS.ProcessEnv => ({ ENTROSCOPE_FROM_SOURCES: m === 'tsx' ? '1' : '' });
const brown = readFileSync(new URL('../data/demo/brown-200.jsonl', import.meta.url), 'utf8').trim().split('\n');

interface Timed {
  wallMs: number;
  /** Until the CLI printed `entroscope: workflow …` (run only). */
  startedMs?: number;
  cpuMs?: number;
}

/** `entroscope --help` under /usr/bin/time for its CPU time. */
function timeHelp(env: NodeJS.ProcessEnv): Timed {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, bin, '--help'], { encoding: 'utf8', env });
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
interface Series {
  help: Timed[];
  cold: Timed[];
  warm: Timed[];
}
const series = Object.fromEntries(modes.map((m) => [m, { help: [], cold: [], warm: [] } as Series])) as Record<Mode, Series>;
const loads: number[] = [loadavg()[0]];

/** One round of one mode: --help, a first use, two later runs of the same state folder. */
async function round(mode: Mode): Promise<void> {
  const s = series[mode];
  const state = mkdtempSync(join(tmpdir(), 'entroscope-startup-'));
  const cache = join(state, 'cache');
  // A fresh cache for the cold run; the model and the Temporal CLI are read from the real one.
  const env: NodeJS.ProcessEnv = { ...process.env, ...modeEnv(mode), ENTROSCOPE_CACHE: cache, ENTROSCOPE_TEMPORAL_BIN: temporalBinary(), ENTROSCOPE_TEMPORAL_PORT: String(port) };
  delete env.TEMPORAL_ADDRESS;
  s.help.push(timeHelp(env));
  const data = (k: number) => {
    const p = join(state, `d${k}.jsonl`);
    writeFileSync(p, brown.slice(2 * k, 2 * k + 2).join('\n') + '\n');
    return p;
  };
  try {
    s.cold.push(await timeRun(env, state, data(0)));
    for (const k of [1, 2]) s.warm.push(await timeRun(env, state, data(k)));
  } finally {
    stopServer(state);
    await new Promise((r) => setTimeout(r, 1500)); // the server lets go of its port
    rmSync(state, { recursive: true, force: true });
  }
}

for (let i = 0; i < runs; i++) {
  const order = i % 2 === 0 ? modes : [...modes].reverse();
  for (const mode of order) {
    const load = loadavg()[0];
    await round(mode);
    const s = series[mode];
    process.stderr.write(`round ${i + 1} ${mode}: help ${fmt(s.help.at(-1)!.wallMs)} s, cold ${fmt(s.cold.at(-1)!.wallMs)} s, warm ${s.warm.slice(-2).map((w) => fmt(w.wallMs)).join(', ')} s; load average ${load.toFixed(1)} → ${loadavg()[0].toFixed(1)}\n`);
  }
  loads.push(loadavg()[0]);
}

const values = (xs: Timed[], k: keyof Timed) => xs.map((x) => x[k]).filter((x): x is number => x !== undefined);
const col = (xs: Timed[], k: keyof Timed) => {
  const v = values(xs, k);
  return `${v.map((x) => fmt(x)).join(', ')} (median ${fmt(v.length ? median(v) : undefined)})`;
};
const ratio = (what: keyof Series, k: keyof Timed) => {
  if (!series.compiled || !series.tsx) return '—';
  const [c, t] = [values(series.compiled[what], k), values(series.tsx[what], k)];
  return c.length && t.length ? `${(median(t) / median(c)).toFixed(2)}×` : '—';
};
const rows: Array<[string, keyof Series, keyof Timed]> = [
  ['`--help`', 'help', 'wallMs'],
  ['`--help`, CPU', 'help', 'cpuMs'],
  ['`run`, first use — total', 'cold', 'wallMs'],
  ['`run`, first use — until the workflow started', 'cold', 'startedMs'],
  ['`run`, first use — CPU', 'cold', 'cpuMs'],
  ['`run`, same state folder — total', 'warm', 'wallMs'],
  ['`run`, same state folder — until the workflow started', 'warm', 'startedMs'],
  ['`run`, same state folder — CPU', 'warm', 'cpuMs'],
];
console.log(`${bin}; node ${process.version}; load average (1 min) ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}; ${runs} rounds`);
console.log(`| what (s) | ${modes.join(' | ')} | tsx ÷ compiled |`);
console.log(`|---|${modes.map(() => '---|').join('')}---:|`);
for (const [label, what, k] of rows) console.log(`| ${label} | ${modes.map((m) => col(series[m][what], k)).join(' | ')} | ${ratio(what, k)} |`);
