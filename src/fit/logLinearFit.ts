// Log-linear scaling fit (DESIGN §1.10):
//
//   y = a + b·ln x        (natural log; x = parameter count)
//
// Ordinary least squares in closed form on centred ln x, which is exact up to round-off:
//   b = Σ (ℓ_i − ℓ̄)(y_i − ȳ) / Σ (ℓ_i − ℓ̄)²,   a = ȳ − b·ℓ̄,   ℓ_i = ln x_i.
// The Diff-eRank paper (Wei et al., arXiv 2401.17139, Fig. 2) shows Diff-eRank rising about linearly
// in log model size, which is what this form describes.
//
// Needs at least 3 distinct x: two determine the line exactly, a third is the least that leaves a
// residual to judge R² and the bootstrap by.
import { bootstrapIntervals, checkPoints, distinctCount, rSquared, type FitOptions, type FitResult } from './fitResult.ts';

export const LOG_LINEAR_MIN_POINTS = 3;

export type LogLinearParam = 'a' | 'b';

export function logLinear(params: Record<LogLinearParam, number>, x: number): number {
  return params.a + params.b * Math.log(x);
}

/** Least squares on ln x (exact through two points). */
export function logLinearSolve(x: readonly number[], y: readonly number[]): Record<LogLinearParam, number> {
  const n = x.length;
  const l = x.map(Math.log);
  const lMean = l.reduce((s, v) => s + v, 0) / n;
  const yMean = y.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (l[i] - lMean) * (y[i] - yMean);
    sxx += (l[i] - lMean) ** 2;
  }
  const b = sxy / sxx;
  return { a: yMean - b * lMean, b };
}

export function logLinearFit(x: readonly number[], y: readonly number[], opts: FitOptions = {}): FitResult<LogLinearParam> {
  checkPoints(x, y, 'log-linear fit');
  const n = x.length;
  const distinct = distinctCount(x);
  if (distinct < LOG_LINEAR_MIN_POINTS) {
    return {
      ok: false,
      model: 'logLinear',
      n,
      minPoints: LOG_LINEAR_MIN_POINTS,
      reason: `too few points: a log-linear fit needs at least ${LOG_LINEAR_MIN_POINTS} distinct parameter counts, got ${distinct}`,
    };
  }
  const params = logLinearSolve(x, y);
  const fitted = x.map((xi) => logLinear(params, xi));
  const { intervals, bootstrap } = bootstrapIntervals(x, y, ['a', 'b'], LOG_LINEAR_MIN_POINTS, logLinearSolve, opts);
  return {
    ok: true,
    model: 'logLinear',
    n,
    params,
    r2: rSquared(y, fitted),
    residuals: y.map((yi, i) => yi - fitted[i]),
    intervals,
    bootstrap,
  };
}
