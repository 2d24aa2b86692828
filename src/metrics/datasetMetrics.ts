/**
 * Dataset-level summaries of per-sample metrics, DESIGN §1 step 5 (skipped samples excluded and counted):
 *
 *   meanEntropy = (1/M) Σ_s H_s
 *   erankOfMeanEntropy = exp(meanEntropy)        Diff-eRank "algorithm (a)", the default
 *   meanErank = (1/M) Σ_s exp(H_s)               Diff-eRank "algorithm (b)"
 *   meanNormalizedEntropy = (1/M) Σ_s H_s / log d (the first-version matrix entropy)
 *
 * Wei et al. 2024, "Diff-eRank" (arXiv 2401.17139). Each mean carries its standard error
 * SE = s / √M (s the sample standard deviation, M − 1 in the denominator) and a percentile bootstrap
 * 95% interval from a seeded PRNG (all three means share the same resamples).
 *
 * Null, never NaN: with M = 0 every mean, SE and interval is null; with M = 1 the means are set and
 * the SEs and intervals are null (a spread needs two samples); bootstrapResamples = 0 gives null intervals.
 */
import { mulberry32 } from './prng.ts';
import type { SampleMetrics } from './sampleMetrics.ts';

export interface Interval {
  low: number;
  high: number;
}

export interface DatasetMetrics {
  samplesUsed: number;
  samplesSkipped: number;
  /** Skipped samples per reason (SampleMetrics.skipReason). */
  skipReasons: Record<string, number>;
  meanEntropy: number | null;
  meanEntropySE: number | null;
  meanEntropyCI95: Interval | null;
  erankOfMeanEntropy: number | null;
  /** exp of meanEntropyCI95 (exp is monotone, so this is the bootstrap interval of exp(mean H)). */
  erankOfMeanEntropyCI95: Interval | null;
  meanErank: number | null;
  meanErankSE: number | null;
  meanErankCI95: Interval | null;
  meanNormalizedEntropy: number | null;
  meanNormalizedEntropySE: number | null;
  meanNormalizedEntropyCI95: Interval | null;
}

export interface DatasetMetricsOptions {
  /** Bootstrap resamples for the 95% intervals; default 1000. */
  bootstrapResamples?: number;
  /** PRNG seed for the bootstrap; default 0. */
  seed?: number;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** s / √M with s the (M − 1) sample standard deviation; null for M < 2. */
export function standardError(xs: ArrayLike<number>): number | null {
  const m = xs.length;
  if (m < 2) return null;
  const mu = mean(xs);
  let ss = 0;
  for (let i = 0; i < m; i++) ss += (xs[i] - mu) ** 2;
  return Math.sqrt(ss / (m - 1)) / Math.sqrt(m);
}

/** Quantile q ∈ [0,1] of ascending-sorted values, linear interpolation (numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile bootstrap 95% intervals of the means of several aligned series (resampling sample
 * indices jointly). Null for fewer than 2 values.
 */
export function bootstrapMeanCI95(
  series: Float64Array[],
  resamples: number,
  seed: number,
): (Interval | null)[] {
  const m = series[0]?.length ?? 0;
  if (m < 2 || resamples < 1) return series.map(() => null);
  const rand = mulberry32(seed);
  const stats = series.map(() => new Float64Array(resamples));
  const sums = new Float64Array(series.length);
  for (let b = 0; b < resamples; b++) {
    sums.fill(0);
    for (let i = 0; i < m; i++) {
      const j = Math.floor(rand() * m);
      for (let k = 0; k < series.length; k++) sums[k] += series[k][j];
    }
    for (let k = 0; k < series.length; k++) stats[k][b] = sums[k] / m;
  }
  return stats.map((s) => {
    s.sort();
    return { low: quantileSorted(s, 0.025), high: quantileSorted(s, 0.975) };
  });
}

export function datasetMetrics(perSample: SampleMetrics[], opts: DatasetMetricsOptions = {}): DatasetMetrics {
  const resamples = opts.bootstrapResamples ?? 1000;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 0) {
    throw new Error(`bootstrapResamples must be a non-negative integer, got ${resamples}`);
  }

  const used: SampleMetrics[] = [];
  const skipReasons: Record<string, number> = {};
  perSample.forEach((s, i) => {
    if (s.skipped) {
      const reason = s.skipReason ?? 'unspecified';
      skipReasons[reason] = (skipReasons[reason] ?? 0) + 1;
      return;
    }
    for (const name of ['entropy', 'erank', 'normalizedEntropy'] as const) {
      if (!Number.isFinite(s[name])) throw new Error(`sample ${i} is not skipped but has no finite ${name}`);
    }
    used.push(s);
  });
  const field = (name: 'entropy' | 'erank' | 'normalizedEntropy') => Float64Array.from(used, (s) => s[name] as number);
  const entropy = field('entropy');
  const erank = field('erank');
  const normalized = field('normalizedEntropy');
  const m = used.length;
  const [entropyCI, erankCI, normalizedCI] = bootstrapMeanCI95([entropy, erank, normalized], resamples, seed);
  const meanEntropy = m > 0 ? mean(entropy) : null;

  return {
    samplesUsed: m,
    samplesSkipped: perSample.length - m,
    skipReasons,
    meanEntropy,
    meanEntropySE: standardError(entropy),
    meanEntropyCI95: entropyCI,
    erankOfMeanEntropy: meanEntropy === null ? null : Math.exp(meanEntropy),
    erankOfMeanEntropyCI95: entropyCI && { low: Math.exp(entropyCI.low), high: Math.exp(entropyCI.high) },
    meanErank: m > 0 ? mean(erank) : null,
    meanErankSE: standardError(erank),
    meanErankCI95: erankCI,
    meanNormalizedEntropy: m > 0 ? mean(normalized) : null,
    meanNormalizedEntropySE: standardError(normalized),
    meanNormalizedEntropyCI95: normalizedCI,
  };
}
