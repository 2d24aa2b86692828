// Synthetic evaluation results for report tests: a summary.json whose per-layer numbers the test
// chooses (e.g. a known power law in the parameter count), and per-sample tables around them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { samplesToArrow, type SampleRow } from '../../src/arrow/sampleTable.ts';
import type { EvaluationSummary, LayerSummary } from '../../src/eval/summary.ts';

const DEFAULT_DIM = 64;

/** One layer's summary with erankOfMeanEntropy = erank; intervals ±ciWidth (relative). */
export function syntheticLayer(
  layer: string,
  erank: number,
  o: { ciWidth: number; samples: number; pooledRows: number; loss: number | null; diff?: { untrained: number; diffErank: number }; reducedLoss?: number; dim?: number },
): LayerSummary {
  const DIM = o.dim ?? DEFAULT_DIM;
  const h = Math.log(erank);
  const ci = (v: number) => ({ low: v * (1 - o.ciWidth), high: v * (1 + o.ciWidth) });
  return {
    layer,
    dim: DIM,
    metrics: {
      samplesUsed: o.samples,
      samplesSkipped: 0,
      skipReasons: {},
      meanEntropy: h,
      meanEntropySE: 0.01,
      meanEntropyCI95: ci(h),
      erankOfMeanEntropy: erank,
      erankOfMeanEntropyCI95: ci(erank),
      meanErank: erank * 1.05,
      meanErankSE: 0.1,
      meanErankCI95: ci(erank * 1.05),
      meanNormalizedEntropy: h / Math.log(DIM),
      meanNormalizedEntropySE: 0.001,
      meanNormalizedEntropyCI95: ci(h / Math.log(DIM)),
    },
    pooled: { pooledEntropy: h + 1, pooledErank: Math.exp(h + 1), pooledNormalizedEntropy: (h + 1) / Math.log(DIM), n: o.pooledRows },
    meanLoss: o.loss,
    gram: `file:///x/gram-${layer}.arrow`,
    ...(o.diff ? { diffErank: { untrainedErankOfMeanEntropy: o.diff.untrained, diffErank: o.diff.diffErank, ratio: 0.8, untrainSeed: 0 } } : {}),
    ...(o.reducedLoss !== undefined ? { reducedLoss: o.reducedLoss } : {}),
  };
}

/** A per-sample row of `layer` with the given entropy. */
export function syntheticRow(row: number, layer: string, entropy: number, tokens: number, nuclearNorm: number, DIM = DEFAULT_DIM): SampleRow {
  return { row, layer, tokens, truncated: false, dim: DIM, skipped: false, skipReason: null, droppedRows: 0, entropy, normalizedEntropy: entropy / Math.log(DIM), erank: Math.exp(entropy), renyi2: entropy * 0.9, nuclearNorm };
}

/** Writes `evalDir/summary.json` and one `shards/<start>-<end>/samples.arrow` per shard. */
export async function writeSyntheticEvaluation(
  evalDir: string,
  o: { name: string; family: string; params: number; index: number; dataset: string; rows: number; tokens: number; seed: number; layers: LayerSummary[]; blocks?: number },
  shards: Array<{ start: number; rows: SampleRow[] }>,
): Promise<void> {
  const summary: EvaluationSummary = {
    model: { name: o.name, onnxSha256: String(o.index).repeat(64), tokenizerSha256: 'ab'.repeat(32), family: o.family, params: o.params, ...(o.blocks ? { blocks: o.blocks } : {}) },
    dataset: { name: o.dataset, rows: o.rows, sha256: 'cd'.repeat(32) },
    layer: o.layers[0].layer,
    dim: o.layers[0].dim,
    tokens: o.tokens,
    truncatedSamples: 0,
    metrics: o.layers[0].metrics,
    pooled: o.layers[0].pooled,
    meanLoss: o.layers[0].meanLoss,
    layers: o.layers,
    configSha256: 'ef'.repeat(32),
    seed: o.seed,
    outputs: { prefix: '', summary: '', gram: '', shards: shards.length },
    versions: { entroscope: '0.1.0', node: process.version },
  };
  for (const { start, rows } of shards) {
    const end = start + new Set(rows.map((r) => r.row)).size;
    const shard = join(evalDir, 'shards', `${String(start).padStart(9, '0')}-${String(end).padStart(9, '0')}`);
    await mkdir(shard, { recursive: true });
    await writeFile(join(shard, 'samples.arrow'), samplesToArrow(rows));
  }
  await writeFile(join(evalDir, 'summary.json'), JSON.stringify(summary, null, 2));
}
