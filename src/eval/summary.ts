// The result of one evaluation: dataset aggregates of the per-sample metrics (DESIGN §1.5) and the
// pooled entropy of the reduced Gram (§1.6), with provenance.
import type { DatasetMetrics } from '../metrics/datasetMetrics.ts';
import type { PooledMetrics } from '../metrics/pooled.ts';

/** One hidden-state tap's results. */
export interface LayerSummary {
  layer: string;
  dim: number;
  metrics: DatasetMetrics;
  pooled: PooledMetrics;
  /** Mean next-token cross-entropy (causal models with logits), else null. */
  meanLoss: number | null;
  /** URI of the layer's reduced Gram (S, n). */
  gram: string;
}

export interface EvaluationSummary {
  model: { name: string; onnxSha256: string; tokenizerSha256: string };
  dataset: { name: string; rows: number; sha256: string };
  layer: string;
  dim: number;
  tokens: number;
  truncatedSamples: number;
  /** The first requested layer's results (also in `layers[0]`). */
  metrics: DatasetMetrics;
  pooled: PooledMetrics;
  meanLoss: number | null;
  /** Every requested layer, in request order. */
  layers: LayerSummary[];
  configSha256: string;
  seed: number;
  /** Store URIs of the outputs. */
  outputs: { prefix: string; summary: string; gram: string; shards: number };
  versions: Record<string, string>;
}
