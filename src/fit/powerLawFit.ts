// Power-law scaling fit without offset (DESIGN §1.10):
//
//   y = a·x^(−b)        (x = parameter count; y > 0)
//
// Fitted as a straight line in log-log space, ln y = ln a − b·ln x, by ordinary least squares in
// closed form (what `numpy.polyfit(log x, log y, 1)` computes): the model-size term of Kaplan et al.,
// "Scaling Laws for Neural Language Models" (arXiv 2001.08361, eq. 1.1). Two parameters, so it is
// identified by as few points as log-linear is — unlike the offset form (powerLawOffsetFit.ts),
// which needs five sizes. R² and residuals are reported in y, not ln y, so forms compare alike.
//
// Needs at least 3 distinct x (two fix the line) and every y > 0.
import { bootstrapIntervals, checkPoints, distinctCount, rSquared, type FitOptions, type FitResult } from './fitResult.ts';

export const POWER_LAW_MIN_POINTS = 3;

export type PowerLawParam = 'a' | 'b';

export function powerLaw(params: Record<PowerLawParam, number>, x: number): number {
  return params.a * Math.pow(x, -params.b);
}

/** Least squares of ln y on ln x (exact through two points); null when every x is the same. */
export function powerLawSolve(x: readonly number[], y: readonly number[]): Record<PowerLawParam, number> | null {
  const n = x.length;
  const lx = x.map(Math.log);
  const ly = y.map(Math.log);
  const xm = lx.reduce((s, v) => s + v, 0) / n;
  const ym = ly.reduce((s, v) => s + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - xm) * (ly[i] - ym);
    sxx += (lx[i] - xm) ** 2;
  }
  if (!(sxx > 0)) return null;
  const slope = sxy / sxx;
  return { a: Math.exp(ym - slope * xm), b: -slope };
}

export function powerLawFit(x: readonly number[], y: readonly number[], opts: FitOptions = {}): FitResult<PowerLawParam> {
  checkPoints(x, y, 'power-law fit');
  const n = x.length;
  const skip = (reason: string): FitResult<PowerLawParam> => ({ ok: false, model: 'powerLaw', n, minPoints: POWER_LAW_MIN_POINTS, reason });
  const distinct = distinctCount(x);
  if (distinct < POWER_LAW_MIN_POINTS) {
    return skip(`too few points: a power-law fit needs at least ${POWER_LAW_MIN_POINTS} distinct parameter counts, got ${distinct}`);
  }
  const nonPositive = y.findIndex((v) => !(v > 0));
  if (nonPositive >= 0) return skip(`a power law a·x^(−b) needs y > 0, but y = ${+y[nonPositive].toPrecision(4)} at x = ${x[nonPositive].toPrecision(3)}`);
  const params = powerLawSolve(x, y)!;
  const fitted = x.map((xi) => powerLaw(params, xi));
  const { intervals, bootstrap } = bootstrapIntervals(x, y, ['a', 'b'], POWER_LAW_MIN_POINTS, powerLawSolve, opts);
  return {
    ok: true,
    model: 'powerLaw',
    n,
    params,
    r2: rSquared(y, fitted),
    residuals: y.map((yi, i) => yi - fitted[i]),
    intervals,
    bootstrap,
  };
}
