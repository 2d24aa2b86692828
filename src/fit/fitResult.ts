// What a scaling fit returns, and the parts every fit shares: input checks, R², and the seeded
// percentile bootstrap over points (DESIGN §1.10).
//
//   R² = 1 − SSE/SST,  SSE = Σ (y_i − ŷ_i)²,  SST = Σ (y_i − ȳ)²   (R² = 1 when SST = SSE = 0)
//   bootstrap: draw n points with replacement, refit, take the 2.5% and 97.5% quantiles of each
//   parameter (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13).
import { InputError } from '../errors.ts';
import { mulberry32 } from '../metrics/prng.ts';
import { quantileSorted, type Interval } from '../metrics/datasetMetrics.ts';

export type { Interval };

/** log-linear a + b·ln x; power law a·x^(−b) (log-log); power law with offset a·x^(−b) + c. */
export type FitModel = 'logLinear' | 'powerLaw' | 'powerLawOffset';

export interface FitOptions {
  /** Bootstrap resamples for the intervals (default 1000; 0 for none). */
  bootstrapResamples?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
}

export interface FitOk<P extends string> {
  ok: true;
  model: FitModel;
  /** Points fitted. */
  n: number;
  params: Record<P, number>;
  r2: number;
  /** y_i − ŷ_i, in input order. */
  residuals: number[];
  /** Percentile bootstrap 95% interval of each parameter; null when too few resamples could be fitted. */
  intervals: Record<P, Interval> | null;
  bootstrap: { resamples: number; fitted: number; seed: number };
}

/** A family that cannot be fitted (too few points, or nothing to fit); not an error. */
export interface FitSkipped {
  ok: false;
  model: FitModel;
  n: number;
  /** Distinct x values needed. */
  minPoints: number;
  reason: string;
}

export type FitResult<P extends string> = FitOk<P> | FitSkipped;

/** Throws InputError for mismatched, non-finite or non-positive-x input. */
export function checkPoints(x: readonly number[], y: readonly number[], what: string): void {
  if (x.length !== y.length) throw new InputError(`${what}: ${x.length} x values but ${y.length} y values`);
  for (let i = 0; i < x.length; i++) {
    if (!(Number.isFinite(x[i]) && x[i] > 0)) throw new InputError(`${what}: x[${i}] = ${x[i]}; x (parameter count) must be finite and > 0`);
    if (!Number.isFinite(y[i])) throw new InputError(`${what}: y[${i}] = ${y[i]} is not finite`);
  }
}

export function distinctCount(x: readonly number[]): number {
  return new Set(x).size;
}

export function rSquared(y: readonly number[], fitted: readonly number[]): number {
  const mean = y.reduce((s, v) => s + v, 0) / y.length;
  let sse = 0;
  let sst = 0;
  for (let i = 0; i < y.length; i++) {
    sse += (y[i] - fitted[i]) ** 2;
    sst += (y[i] - mean) ** 2;
  }
  if (sst === 0) return sse === 0 ? 1 : 0;
  return 1 - sse / sst;
}

/** Fewer fitted resamples than this and the intervals are reported as null. */
const MIN_FITTED_RESAMPLES = 10;

/**
 * Percentile bootstrap over points. `fit` returns null for a resample it cannot fit; a resample with
 * fewer than `minDistinct` distinct x (the fit's own minimum: one more than its parameters, so a
 * residual is left) is not fitted at all. With fewer than minDistinct + 1 distinct x in the data,
 * every fittable resample is the data itself, so there is no interval (null), not a zero-width one.
 */
export function bootstrapIntervals<P extends string>(
  x: readonly number[],
  y: readonly number[],
  names: readonly P[],
  minDistinct: number,
  fit: (x: number[], y: number[]) => Record<P, number> | null,
  opts: FitOptions,
): { intervals: Record<P, Interval> | null; bootstrap: FitOk<P>['bootstrap'] } {
  const resamples = opts.bootstrapResamples ?? 1000;
  const seed = opts.seed ?? 0;
  if (!(Number.isInteger(resamples) && resamples >= 0)) throw new InputError(`bootstrapResamples must be a non-negative integer, got ${resamples}`);
  const rand = mulberry32(seed);
  const n = x.length;
  const draws: Record<string, number[]> = Object.fromEntries(names.map((p) => [p, []]));
  let fitted = 0;
  for (let r = 0; r < resamples; r++) {
    const bx: number[] = [];
    const by: number[] = [];
    for (let i = 0; i < n; i++) {
      const j = Math.floor(rand() * n);
      bx.push(x[j]);
      by.push(y[j]);
    }
    if (distinctCount(bx) < minDistinct) continue;
    const params = fit(bx, by);
    if (!params || names.some((p) => !Number.isFinite(params[p]))) continue;
    for (const p of names) draws[p].push(params[p]);
    fitted++;
  }
  const bootstrap = { resamples, fitted, seed };
  if (fitted < MIN_FITTED_RESAMPLES || distinctCount(x) < minDistinct + 1) return { intervals: null, bootstrap };
  const intervals = Object.fromEntries(
    names.map((p) => {
      const sorted = Float64Array.from(draws[p]).sort();
      return [p, { low: quantileSorted(sorted, 0.025), high: quantileSorted(sorted, 0.975) }];
    }),
  ) as Record<P, Interval>;
  return { intervals, bootstrap };
}
