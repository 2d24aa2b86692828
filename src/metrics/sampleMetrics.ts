/**
 * All DESIGN §1 metrics of one sample at one layer (steps 1–4):
 *
 *   X (N×d) → centre, unit rows → Z → p = spectrum(ZᵀZ/N)
 *   entropy H = −Σ p log p; erank = exp H; normalizedEntropy = H / log d; renyi2 = −log Σ p²;
 *   H_α = log(Σ p^α)/(1−α); nuclearNorm = (top min(N,d) column norms of Z) / N
 *
 * Wei et al. 2024 "Diff-eRank" (arXiv 2401.17139); Li et al. 2024 "Matrix Nuclear-Norm"
 * (arXiv 2410.10672); Skean et al. 2025 "Layer by Layer" (Rényi family).
 */
import { normalizedEntropy, vonNeumannEntropy } from './entropy.ts';
import { erankFromEntropy } from './erank.ts';
import { centerAndNormalize, type NormalizedRows } from './normalize.ts';
import { nuclearNorm } from './nuclearNorm.ts';
import { renyiEntropy } from './renyi.ts';
import { sampleSpectrum } from './spectrum.ts';

/** Skip reasons; they are also the keys of DatasetMetrics.skipReasons. */
export const SKIP_TOO_FEW_TOKENS = 'fewer than 2 tokens';
export const SKIP_DEGENERATE_ROWS = 'fewer than 2 rows left after dropping rows equal to the mean';

export interface SampleMetrics {
  /** N: real tokens (rows of X), padding excluded by the caller. */
  tokens: number;
  dim: number;
  skipped: boolean;
  skipReason?: string;
  droppedRows: number;
  entropy?: number;
  normalizedEntropy?: number;
  erank?: number;
  renyi2?: number;
  nuclearNorm?: number;
  /** H_α for each requested α, keyed by String(α) (e.g. "0.5", "2"). */
  renyi?: Record<string, number>;
  /** p in descending order, only with keepSpectrum. */
  spectrum?: number[];
}

export interface SampleMetricsOptions {
  /** Rényi orders to report in `renyi` (each > 0; 1 is von Neumann). */
  alphas?: number[];
  /** Also return the probability spectrum p. */
  keepSpectrum?: boolean;
  /**
   * Scratch for Z (length ≥ rows×cols): `normalized.z` is then a view of it, valid until the
   * caller reuses it (extractShard writes a batch's samples one after another into one buffer).
   */
  out?: Float64Array;
}

/** X: rows×cols row-major hidden states of the sample's real tokens. */
export function sampleMetrics(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  opts: SampleMetricsOptions = {},
): { metrics: SampleMetrics; normalized: NormalizedRows } {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 1) {
    throw new Error(`hidden states shape ${rows}×${cols} is invalid (need rows ≥ 0, cols ≥ 1)`);
  }
  if (x.length !== rows * cols) {
    throw new Error(`hidden states have ${x.length} values, expected ${rows}×${cols} = ${rows * cols}`);
  }
  for (const a of opts.alphas ?? []) {
    if (!(a > 0)) throw new Error(`Rényi order must be > 0, got ${a}`);
  }
  // X in float64 once, checked on the way (a non-finite value throws, naming its row and column).
  const normalized = centerAndNormalize(x, rows, cols, opts.out);
  const base = { tokens: rows, dim: cols, droppedRows: normalized.droppedRows };

  if (normalized.kept < 2) {
    const skipReason = rows < 2 ? SKIP_TOO_FEW_TOKENS : SKIP_DEGENERATE_ROWS;
    return { metrics: { ...base, skipped: true, skipReason }, normalized };
  }

  const p = sampleSpectrum(normalized);
  const entropy = vonNeumannEntropy(p);
  const metrics: SampleMetrics = {
    ...base,
    skipped: false,
    entropy,
    normalizedEntropy: normalizedEntropy(entropy, cols),
    erank: erankFromEntropy(entropy),
    renyi2: renyiEntropy(p, 2),
    nuclearNorm: nuclearNorm(normalized),
  };
  if (opts.alphas && opts.alphas.length > 0) {
    metrics.renyi = Object.fromEntries(opts.alphas.map((a) => [String(a), renyiEntropy(p, a)]));
  }
  if (opts.keepSpectrum) metrics.spectrum = Array.from(p);
  return { metrics, normalized };
}
