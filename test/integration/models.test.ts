// Real models, any layer: the real all-MiniLM-L6-v2 (fp32 and dynamically quantised int8) measured at
// several layers through the tapped graph, checked against the independent Python oracle (the onnx
// package exposes the same tensors, onnxruntime runs each sample alone, numpy does DESIGN §1).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { extractShard, type ExtractShardOutput } from '../../src/eval/extractShard.ts';
import type { GraphOptimization } from '../../src/model/onnxModel.ts';
import { modelTaps } from '../../src/model/onnxTaps.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { modelDir, runOracle } from '../helpers/services.ts';

const oracleScript = new URL('../oracle/layers_oracle.py', import.meta.url).pathname;
const LAYERS = ['embeddings', 'block.2', 'last'];
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;
const TEXTS = [
  'The cat sat on the mat.',
  'Hello',
  '',
  'Matrix entropy measures how much a model compresses what it reads, layer by layer.',
  'a a a a a a a a',
  'Colorless green ideas sleep furiously; the quick brown fox jumps over the lazy dog.',
  'x',
  'One more sentence, of middling length, so the batches mix long and short texts.',
  'Numbers 1 2 3 4 5 6 7 8 9 10 and punctuation!?',
];

interface OracleLayer {
  skipped: boolean;
  droppedRows: number;
  entropy?: number;
  erank?: number;
  normalizedEntropy?: number;
  renyi2?: number;
  nuclearNorm?: number;
}
interface OracleOut {
  perSample: Array<{ tokens: number; loss: number | null; layers: Record<string, OracleLayer> }>;
}

function relClose(actual: number | null, expected: number | undefined, tol: number, what: string): void {
  assert.ok(actual !== null && expected !== undefined, `${what}: ${actual} vs ${expected}`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= tol, `${what}: ${actual} vs oracle ${expected} (relative error ${err.toExponential(2)})`);
}

async function extract(dir: string, batchSize: number, graphOptimization: GraphOptimization = 'all'): Promise<ExtractShardOutput> {
  return extractShard({
    graphOptimization,
    onnxPath: join(dir, 'model.onnx'),
    tokenizerPath: join(dir, 'tokenizer.json'),
    maxTokens: 64,
    batchSize,
    intraOpThreads: 1,
    startRow: 100,
    texts: TEXTS,
    layers: LAYERS,
  });
}

for (const name of ['all-minilm-l6-v2', 'all-minilm-l6-v2-q']) {
  describe(`real model ${name}`, () => {
    const dir = modelDir(name);

    // Parity at the default optimisation (`all`) for int8 too. What once kept int8 at `basic` was not
    // the onnxruntime version but how the oracle declared its extra outputs: untyped, onnxruntime
    // fused the quantised MatMuls otherwise than for our rewrite, and a rounding flip before a
    // requantisation moved the near-degenerate sample ("a a a …") by up to 2e-2. The oracle now
    // declares them batch × sequence × hidden as we do (and its onnxruntime is pinned to ours,
    // infra/env.sh ONNXRUNTIME_VERSION); the hidden states then agree bit for bit.
    const cases: Array<[GraphOptimization, number]> = [['all', 1e-6], ...(name.endsWith('-q') ? [['basic', 1e-6] as [GraphOptimization, number]] : [])];
    for (const [level, tol] of cases) {
      test(`per-layer metrics match the onnx + numpy oracle to ${tol} (embeddings, block.2, last; optimisation ${level})`, async () => {
        const onnxPath = join(dir, 'model.onnx');
        const { taps } = await modelTaps(onnxPath);
        const tensors = Object.fromEntries(LAYERS.map((l) => [l, taps.taps.find((t) => t.name === l)!.tensor]));
        const { ids } = await TextTokenizer.load(join(dir, 'tokenizer.json'), 64).encode(TEXTS);
        const [ours, oracle] = await Promise.all([
          extract(dir, 4, level),
          runOracle<OracleOut>(oracleScript, { model: onnxPath, layers: tensors, ids, optimization: level }),
        ]);
        assert.deepEqual(ours.layers, LAYERS);
        assert.equal(ours.samples.length, TEXTS.length * LAYERS.length);
        for (const row of ours.samples) {
          const i = row.row - 100;
          const want = oracle.perSample[i].layers[row.layer];
          assert.equal(row.tokens, ids[i].length);
          assert.equal(row.skipped, want.skipped, `row ${i} ${row.layer} skipped`);
          if (row.skipped) continue;
          for (const m of METRICS) relClose(row[m], want[m], tol, `${name} row ${i} ${row.layer} ${m}`);
        }
        // One partial Gram per layer, each over every kept row of that layer.
        assert.equal(ours.grams.length, LAYERS.length);
        ours.grams.forEach((g, l) => {
          assert.equal(g.layer, LAYERS[l]);
          assert.equal(g.dim, 384);
          const kept = ours.samples.filter((r) => r.layer === LAYERS[l] && !r.skipped).reduce((a, r) => a + r.tokens - r.droppedRows, 0);
          assert.equal(g.n, kept);
        });
      });
    }

    test('batch size 1 and 7 give the same per-layer metrics and partial Grams to 1e-6', async () => {
      const [one, seven] = await Promise.all([extract(dir, 1), extract(dir, 7)]);
      one.samples.forEach((r, k) => {
        const s = seven.samples[k];
        assert.equal(s.row, r.row);
        assert.equal(s.layer, r.layer);
        if (r.skipped) return assert.ok(s.skipped);
        for (const m of METRICS) relClose(s[m], r[m] ?? undefined, 1e-6, `row ${r.row} ${r.layer} ${m}`);
      });
      one.grams.forEach((g, l) => {
        assert.equal(seven.grams[l].n, g.n);
        let maxDiff = 0;
        for (let i = 0; i < g.s.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g.s[i] - seven.grams[l].s[i]));
        assert.ok(maxDiff <= 1e-6 * g.n, `gram ${g.layer}: max |ΔS| ${maxDiff}`);
      });
    });
  });
}
