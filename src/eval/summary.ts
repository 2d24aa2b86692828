// The result of one evaluation: dataset aggregates of the per-sample metrics (DESIGN §1.5) and the
// pooled entropy of the reduced Gram (§1.6), with provenance.
import type { DatasetMetrics } from '../metrics/datasetMetrics.ts';
import type { PooledMetrics } from '../metrics/pooled.ts';
import type { MultimodalDatasetMetrics } from '../metrics/multimodalAlignment.ts';

/** Truncated rows listed in a summary at most (the count is always whole); keeps summaries small. */
export const TRUNCATED_ROWS_LISTED = 1000;

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
  /** Against the untrained twin (DESIGN §1.7), with `diffErank`. */
  diffErank?: { untrainedErankOfMeanEntropy: number; diffErank: number; ratio: number; untrainSeed: number };
  /** ΔL = L(untrained) − L(trained) (DESIGN §1.8), for models with logits and `diffErank`. */
  reducedLoss?: number | null;
}

/** What the trained model's summary needs of its twin's, per layer. */
export interface UntrainedLayer {
  layer: string;
  erankOfMeanEntropy: number | null;
  meanLoss: number | null;
}

export interface EvaluationSummary {
  model: {
    name: string;
    onnxSha256: string;
    tokenizerSha256: string;
    family?: string;
    params?: number;
    /** Attention blocks found in the graph (0 or absent: unknown); places layers at relative depth. */
    blocks?: number;
    /** The untrained twin of a Diff-eRank evaluation: a baseline, left out of scaling fits. */
    untrainedTwin?: boolean;
  };
  dataset: { name: string; rows: number; sha256: string };
  layer: string;
  dim: number;
  tokens: number;
  /** Samples cut at `maxTokens`, and (the first TRUNCATED_ROWS_LISTED of) their dataset rows. */
  truncatedSamples: number;
  truncatedRows?: number[];
  /** Tokens kept per text, and the model's limit it defaults to (null when the model does not say). */
  maxTokens?: number;
  maxPositions?: { positions: number; source: string } | null;
  /** The first requested layer's results (also in `layers[0]`). */
  metrics: DatasetMetrics;
  pooled: PooledMetrics;
  meanLoss: number | null;
  /** Every requested layer, in request order. */
  layers: LayerSummary[];
  /**
   * Multimodal evaluations: the image perturbation applied (`none` for the clean run) and the
   * image-text alignment (DESIGN §1.9); `layers` then hold the LLM's layers on the image+text sequence.
   */
  multimodal?: { imageTransform: string; noiseSigma?: number; images: number; alignment: MultimodalDatasetMetrics };
  configSha256: string;
  seed: number;
  /** Store URIs of the outputs. */
  /** `prefix`: the evaluation's folder (shards); `run`: the folder `runs/<run>/` of this summary. */
  outputs: { prefix: string; run?: string; summary: string; gram: string; shards: number };
  versions: Record<string, string>;
}
