// Where the memory of one SmolLM2-sized shard goes: peak RSS (process.resourceUsage().maxRSS) and
// current RSS after the model load and after extractShard, in-process, with the options the
// embedded worker uses (sessionPlan's intra-op threads). Not a test: numbers for BENCHMARKS.md.
// Usage: node --import tsx bench/shardMemory.ts --model DIR [--texts 64] [--layers all] [--loss]
//          [--batch-size 16] [--max-tokens 8192] [--threads N]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';

import { brownSentences } from '../src/data/brownCorpus.ts';
import { extractShard } from '../src/eval/extractShard.ts';
import { sessionPlan } from '../src/eval/sessionPlan.ts';
import { modelIdentity } from '../src/model/externalData.ts';
import { resolveModelFiles } from '../src/model/modelRef.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    texts: { type: 'string', default: '64' },
    layers: { type: 'string', default: 'all' },
    loss: { type: 'boolean', default: false },
    'batch-size': { type: 'string', default: '16' },
    'max-tokens': { type: 'string', default: '8192' },
    threads: { type: 'string' },
  },
});
if (!args.model) throw new Error('--model DIR is required');
const files = resolveModelFiles(args.model);
const mb = (b: number) => Math.round(b / 2 ** 20);
const report = (what: string) =>
  process.stderr.write(`${what}: rss ${mb(process.memoryUsage().rss)} MB, peak ${mb(process.resourceUsage().maxRSS * 1024)} MB, load ${loadavg()[0].toFixed(2)}\n`);
const plan = sessionPlan((await modelIdentity(files.onnxPath)).bytes);
const intraOpThreads = args.threads ? Number(args.threads) : plan.intraOpThreads;
report(`start (intra-op threads ${intraOpThreads})`);
const texts = brownSentences(Number(args.texts)).map((s) => s.text);
const input = {
  onnxPath: files.onnxPath,
  tokenizerPath: files.tokenizerPath,
  maxTokens: Number(args['max-tokens']),
  batchSize: Number(args['batch-size']),
  intraOpThreads,
  startRow: 0,
  layers: args.layers.split(','),
  loss: args.loss,
};
const t0 = performance.now();
// A 2-text shard first: the model load (and tapped copy) alone.
await extractShard({ ...input, texts: texts.slice(0, 2) });
report(`model loaded (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
const t1 = performance.now();
const out = await extractShard({ ...input, texts });
report(`shard of ${texts.length} texts, ${out.tokens} tokens (${((performance.now() - t1) / 1000).toFixed(1)} s: inference ${(out.inferenceMs / 1000).toFixed(1)} s, metrics ${(out.metricsMs / 1000).toFixed(1)} s)`);
const losses = out.samples.filter((s) => s.layer === out.layers[0]).map((s) => s.loss ?? null);
process.stdout.write(JSON.stringify({ layers: out.layers.length, tokens: out.tokens, losses, entropy: out.samples.map((s) => s.entropy) }) + '\n');
