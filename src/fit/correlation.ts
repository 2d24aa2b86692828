// Correlation of a metric with loss across the models of a family (DESIGN §1.10):
//
//   Pearson  r = Σ (x_i − x̄)(y_i − ȳ) / √(Σ (x_i − x̄)² · Σ (y_i − ȳ)²)
//   Spearman ρ = Pearson r of the ranks, ties given their average rank
//   (Spearman, "The proof and measurement of association between two things", 1904).
//
// The Diff-eRank paper (Wei et al., arXiv 2401.17139, §4) sets Diff-eRank against the reduced loss
// ΔL; both coefficients are reported so a monotone but curved relation is not missed.
// Needs at least 3 points (two always correlate ±1) and neither series constant.
import { InputError } from '../errors.ts';

export const CORRELATION_MIN_POINTS = 3;

export type CorrelationResult =
  | { ok: true; n: number; pearson: number; spearman: number }
  | { ok: false; n: number; minPoints: number; reason: string };

function centredSums(x: readonly number[], y: readonly number[]): { sxy: number; sxx: number; syy: number } {
  const n = x.length;
  const xm = x.reduce((s, v) => s + v, 0) / n;
  const ym = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - xm) * (y[i] - ym);
    sxx += (x[i] - xm) ** 2;
    syy += (y[i] - ym) ** 2;
  }
  return { sxy, sxx, syy };
}

/** Pearson r; NaN when either series is constant. Clamped to [−1, 1] against round-off. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  const { sxy, sxx, syy } = centredSums(x, y);
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, ties sharing the mean of their ranks. */
export function averageRanks(x: readonly number[]): number[] {
  const order = x.map((_, i) => i).sort((i, j) => x[i] - x[j]);
  const ranks = new Array<number>(x.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && x[order[end]] === x[order[start]]) end++;
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]] = rank;
    start = end;
  }
  return ranks;
}

export function spearman(x: readonly number[], y: readonly number[]): number {
  return pearson(averageRanks(x), averageRanks(y));
}

/** Pearson and Spearman correlation of a metric with loss, model by model. */
export function correlateWithLoss(metric: readonly number[], loss: readonly number[]): CorrelationResult {
  if (metric.length !== loss.length) throw new InputError(`correlation: ${metric.length} metric values but ${loss.length} losses`);
  metric.forEach((v, i) => {
    if (!Number.isFinite(v) || !Number.isFinite(loss[i])) throw new InputError(`correlation: point ${i} is not finite (metric ${v}, loss ${loss[i]})`);
  });
  const n = metric.length;
  const skip = (reason: string): CorrelationResult => ({ ok: false, n, minPoints: CORRELATION_MIN_POINTS, reason });
  if (n < CORRELATION_MIN_POINTS) return skip(`too few points: a correlation needs at least ${CORRELATION_MIN_POINTS} models, got ${n}`);
  if (metric.every((v) => v === metric[0])) return skip('the metric is the same for every model');
  if (loss.every((v) => v === loss[0])) return skip('the loss is the same for every model');
  return { ok: true, n, pearson: pearson(metric, loss), spearman: spearman(metric, loss) };
}
