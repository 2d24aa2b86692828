// The floor of an `entroscope run`: ONNX inference alone, with the same taps, shards, batches and
// threads as the run's embedded worker, and nothing else (no metrics, no Arrow, no Temporal).
// A process of its own, so it is timed as a whole command like the run: P worker threads with T
// intra-op threads each, as the run's worker plans them for this model (src/eval/sessionPlan.ts:
// by the model's bytes; ENTROSCOPE_THREADS overrides), each with one OnnxModel
// loaded with the options extractShard uses (same tapped graph, same session settings), take
// shards of `--shard-size` rows from a queue; each shard is tokenised as extractShard does
// (tokenizeBounded, the same TextTokenizer and maxTokens), sorted by length, cut into batches of
// `--batch-size` and run with model.runAll.
// Prints one JSON line: wall (from process start), model-load, inference and tokens.
// `--burner NICE` (0 or 19) also runs bench/burner.ts on one more thread at that nice value and
// reports how many samples it measured meanwhile (how much CPU inference leaves idle).
// Usage: node --import tsx bench/inferenceFloor.ts --model DIR --data FILE.jsonl --max-tokens N
//          [--layers all] [--loss] [--shard-size 64] [--batch-size 16] [--burner NICE]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { tokenizeBounded } from '../src/data/textBound.ts';
import { resolveModelFiles } from '../src/model/modelRef.ts';
import { OnnxModel } from '../src/model/onnxModel.ts';
import { TextTokenizer } from '../src/model/tokenizer.ts';
import { sessionPlan } from '../src/eval/sessionPlan.ts';
import { modelIdentity } from '../src/model/externalData.ts';

interface Job {
  onnxPath: string;
  tokenizerPath: string;
  layers: string[];
  loss: boolean;
  maxTokens: number;
  batchSize: number;
  intraOpThreads: number;
}
interface ThreadReport {
  loadMs: number;
  inferenceMs: number;
  tokens: number;
}

if (isMainThread) {
  const { values: args } = parseArgs({
    options: {
      model: { type: 'string' },
      data: { type: 'string' },
      layers: { type: 'string', default: 'last' },
      loss: { type: 'boolean', default: false },
      'max-tokens': { type: 'string' },
      'shard-size': { type: 'string', default: '64' },
      'batch-size': { type: 'string', default: '16' },
      burner: { type: 'string' },
    },
  });
  if (!args.model || !args.data || !args['max-tokens']) throw new Error('--model, --data and --max-tokens are required');
  const files = resolveModelFiles(args.model);
  const texts = readFileSync(args.data, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { text: string }).text);
  const shardSize = Number(args['shard-size']);
  const shards: string[][] = [];
  for (let s = 0; s < texts.length; s += shardSize) shards.push(texts.slice(s, s + shardSize));
  const plan = sessionPlan((await modelIdentity(files.onnxPath)).bytes);
  const job: Job = {
    onnxPath: files.onnxPath,
    tokenizerPath: files.tokenizerPath,
    layers: args.layers.split(','),
    loss: args.loss,
    maxTokens: Number(args['max-tokens']),
    batchSize: Number(args['batch-size']),
    intraOpThreads: plan.intraOpThreads,
  };
  const threads = Math.min(plan.sessions, shards.length);
  const burned = new Int32Array(new SharedArrayBuffer(4));
  if (args.burner !== undefined) {
    const boot = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(new URL('./burner.ts', import.meta.url).href)});`;
    new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: { counter: burned.buffer, nice: Number(args.burner) } }).unref();
  }
  const burnStart = performance.now();
  let next = 0;
  const reports = await Promise.all(
    Array.from({ length: threads }, () =>
      new Promise<ThreadReport>((done, fail) => {
        // Node 20 worker threads do not run `--import` loaders for their entry: register tsx first.
        const boot = `const { register } = await import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}); register(); await import(${JSON.stringify(import.meta.url)});`;
        const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: job });
        w.on('error', fail);
        w.on('message', (m: { ready?: true; report?: ThreadReport }) => {
          if (m.report) {
            done(m.report);
            void w.terminate();
            return;
          }
          // ready for (another) shard
          w.postMessage(next < shards.length ? shards[next++] : null);
        });
      }),
    ),
  );
  process.stdout.write(
    JSON.stringify({
      wallMs: performance.now(),
      threads,
      intraOpThreads: plan.intraOpThreads,
      shards: shards.length,
      texts: texts.length,
      tokens: reports.reduce((a, r) => a + r.tokens, 0),
      loadMs: Math.max(...reports.map((r) => r.loadMs)),
      inferenceMs: reports.map((r) => r.inferenceMs),
      ...(args.burner !== undefined ? { burnerNice: Number(args.burner), burnerSamplesPerS: Atomics.load(burned, 0) / ((performance.now() - burnStart) / 1000) } : {}),
    }) + '\n',
  );
} else {
  const job = workerData as Job;
  const t0 = performance.now();
  const model = await OnnxModel.load(job.onnxPath, { intraOpThreads: job.intraOpThreads, layers: job.layers, loss: job.loss, graphOptimization: 'all' });
  const tokenizer = TextTokenizer.load(job.tokenizerPath, job.maxTokens);
  const report: ThreadReport = { loadMs: performance.now() - t0, inferenceMs: 0, tokens: 0 };
  parentPort!.on('message', (texts: string[] | null) => {
    void (async () => {
      if (texts === null) {
        await model.release();
        parentPort!.postMessage({ report });
        return;
      }
      const encoded = await tokenizeBounded(
        texts,
        job.maxTokens,
        async (ts) => {
          const t = await tokenizer.encode(ts);
          return t.ids.map((ids, i) => ({ ids, truncated: t.truncated[i] }));
        },
        (e) => e.truncated,
      );
      const ids = encoded.map((e) => e.ids);
      const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
      for (let b0 = 0; b0 < order.length; b0 += job.batchSize) {
        const members = order.slice(b0, b0 + job.batchSize);
        const r0 = performance.now();
        await model.runAll(members.map((i) => ids[i]));
        report.inferenceMs += performance.now() - r0;
        for (const i of members) report.tokens += ids[i].length;
      }
      parentPort!.postMessage({ ready: true });
    })();
  });
  parentPort!.postMessage({ ready: true });
}
