// Power-law scaling fit with an offset (DESIGN §1.10):
//
//   y = a·x^(−b) + c        (x = parameter count; c is the level approached at large x)
//
// The form of the model-size term of neural scaling laws (Kaplan et al., "Scaling Laws for Neural
// Language Models", arXiv 2001.08361; with the irreducible offset of Hoffmann et al., "Training
// Compute-Optimal Large Language Models", arXiv 2203.15556, eq. 2).
//
// Nonlinear least squares by Levenberg–Marquardt (Levenberg 1944; Marquardt 1963), with mathjs for
// the 3×3 damped normal equations (JᵀJ + λ·diag JᵀJ) δ = Jᵀr. Parameter counts span decades, so the
// fit runs on u = x/x₀ with x₀ the geometric mean of x, as y = A·u^(−b) + c, and reports
// a = A·x₀^b. Starting points: a log-linear fit of ln y against ln x (c = 0), and the best b of a
// grid where, b fixed, (A, c) is an exact linear least-squares solve ("variable projection",
// Golub & Pereyra 1973); Levenberg–Marquardt starts from the better of the two
// (for bootstrap resamples, also from the full fit).
//
// The exponent is held to |b| ≤ 3 (B_MAX): exponents of scaling laws are a few tenths (Kaplan et
// al. find 0.076 for loss), and on a handful of points an unbounded b runs off to ±12 with a ~1e-80
// amplitude — a curve that fits four points and explodes next to them. When Levenberg–Marquardt
// leaves the bound, the best b of the grid (which lies inside it) is the fit.
//
// Needs at least 5 distinct x: three parameters, and enough left over that leaving one point out
// (scalingLaw.ts chooses forms by leave-one-out error) still leaves a residual.
import { createRequire } from 'node:module';
import type { lusolve as LuSolve } from 'mathjs';
import { bootstrapIntervals, checkPoints, distinctCount, rSquared, type FitOptions, type FitResult } from './fitResult.ts';

// mathjs takes ~1 s of CPU to load (typed-function): loaded by the first fit, not by every worker start.
let mathjsLusolve: typeof LuSolve | undefined;
const lusolve = (a: number[][], b: number[]): unknown =>
  (mathjsLusolve ??= (createRequire(import.meta.url)('mathjs') as { lusolve: typeof LuSolve }).lusolve)(a, b);

export const POWER_LAW_OFFSET_MIN_POINTS = 5;

/** Largest |b| allowed. */
export const B_MAX = 3;

export type PowerLawOffsetParam = 'a' | 'b' | 'c';

export function powerLawOffset(params: Record<PowerLawOffsetParam, number>, x: number): number {
  return params.a * Math.pow(x, -params.b) + params.c;
}

/** Parameters on the scaled axis u = x/x₀. */
interface Scaled {
  A: number;
  b: number;
  c: number;
}

const B_GRID = Array.from({ length: 301 }, (_, i) => -B_MAX + i * 0.02).filter((b) => Math.abs(b) > 1e-9);
const MAX_ITERATIONS = 500;

function sse(l: readonly number[], y: readonly number[], p: Scaled): number {
  let s = 0;
  for (let i = 0; i < l.length; i++) s += (y[i] - (p.A * Math.exp(-p.b * l[i]) + p.c)) ** 2;
  return s;
}

/** b fixed: (A, c) by linear least squares on g_i = u_i^(−b). */
function projected(l: readonly number[], y: readonly number[], b: number): Scaled | null {
  const n = l.length;
  let sg = 0;
  let sgg = 0;
  let sy = 0;
  let sgy = 0;
  for (let i = 0; i < n; i++) {
    const g = Math.exp(-b * l[i]);
    sg += g;
    sgg += g * g;
    sy += y[i];
    sgy += g * y[i];
  }
  const det = n * sgg - sg * sg;
  if (!(Math.abs(det) > 1e-12 * n * sgg)) return null;
  const A = (n * sgy - sg * sy) / det;
  return { A, b, c: (sy - A * sg) / n };
}

function startingPoints(l: readonly number[], y: readonly number[]): Scaled[] {
  const starts: Scaled[] = [];
  // ln|y| = ln|A| − b·ln u, with c = 0, when y keeps one sign.
  const sign = y.every((v) => v > 0) ? 1 : y.every((v) => v < 0) ? -1 : 0;
  if (sign !== 0) {
    const ly = y.map((v) => Math.log(sign * v));
    const n = l.length;
    const lm = l.reduce((s, v) => s + v, 0) / n;
    const ym = ly.reduce((s, v) => s + v, 0) / n;
    let sxy = 0;
    let sxx = 0;
    for (let i = 0; i < n; i++) {
      sxy += (l[i] - lm) * (ly[i] - ym);
      sxx += (l[i] - lm) ** 2;
    }
    const slope = sxy / sxx;
    starts.push({ A: sign * Math.exp(ym - slope * lm), b: -slope, c: 0 });
  }
  let best: Scaled | null = null;
  let bestSse = Infinity;
  for (const b of B_GRID) {
    const p = projected(l, y, b);
    if (!p) continue;
    const s = sse(l, y, p);
    if (s < bestSse) {
      best = p;
      bestSse = s;
    }
  }
  if (best) starts.push(best);
  return starts;
}

/** Levenberg–Marquardt from `p0`; returns the best point found. */
function levenbergMarquardt(l: readonly number[], y: readonly number[], p0: Scaled): { p: Scaled; sse: number } {
  const n = l.length;
  let p = p0;
  let cost = sse(l, y, p);
  let lambda = 1e-3;
  for (let iter = 0; iter < MAX_ITERATIONS && cost > 0; iter++) {
    // J columns: ∂f/∂A = g, ∂f/∂b = −A·ℓ·g, ∂f/∂c = 1, with g = e^(−bℓ); r = y − f.
    const jtj = [
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ];
    const jtr = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const g = Math.exp(-p.b * l[i]);
      const row = [g, -p.A * l[i] * g, 1];
      const r = y[i] - (p.A * g + p.c);
      for (let j = 0; j < 3; j++) {
        jtr[j] += row[j] * r;
        for (let k = 0; k < 3; k++) jtj[j][k] += row[j] * row[k];
      }
    }
    // Marquardt's scaling by diag JᵀJ, floored so a zero column (A = 0 makes ∂f/∂b vanish) is damped too.
    const floor = 1e-12 * Math.max((jtj[0][0] + jtj[1][1] + jtj[2][2]) / 3, 1e-300);
    let improved = false;
    while (lambda < 1e16) {
      const damped = jtj.map((rowj, j) => rowj.map((v, k) => (j === k ? v + lambda * Math.max(v, floor) : v)));
      let delta: number[];
      try {
        delta = (lusolve(damped, jtr) as number[][]).map((d) => d[0]);
      } catch {
        lambda *= 10;
        continue;
      }
      const trial = { A: p.A + delta[0], b: p.b + delta[1], c: p.c + delta[2] };
      const trialCost = sse(l, y, trial);
      if (Number.isFinite(trialCost) && trialCost < cost) {
        const gain = cost - trialCost;
        const tiny = delta.every((d, j) => Math.abs(d) <= 1e-12 * (Math.abs([p.A, p.b, p.c][j]) + 1e-12));
        p = trial;
        lambda = Math.max(lambda / 10, 1e-12);
        improved = true;
        if (gain <= 1e-12 * cost || tiny) return { p, sse: trialCost };
        cost = trialCost;
        break;
      }
      lambda *= 10;
    }
    if (!improved) break;
  }
  return { p, sse: cost };
}

function fitScaled(l: readonly number[], y: readonly number[], extraStart?: Scaled): Scaled | null {
  const starts = startingPoints(l, y);
  if (extraStart) starts.push(extraStart);
  let best: Scaled | null = null;
  let bestSse = Infinity;
  for (const s of starts) {
    const cost = sse(l, y, s);
    if (cost < bestSse) {
      best = s;
      bestSse = cost;
    }
  }
  if (!best) return null;
  const grid = best;
  const r = levenbergMarquardt(l, y, best);
  if (!Number.isFinite(r.sse)) return null;
  return Math.abs(r.p.b) <= B_MAX ? r.p : Math.abs(grid.b) <= B_MAX ? grid : null;
}

function toParams(p: Scaled, x0: number): Record<PowerLawOffsetParam, number> {
  return { a: p.A * Math.pow(x0, p.b), b: p.b, c: p.c };
}

function geometricMean(x: readonly number[]): number {
  return Math.exp(x.reduce((s, v) => s + Math.log(v), 0) / x.length);
}

/** The least-squares parameters alone (no checks, no bootstrap); null when no finite fit was found. */
export function powerLawOffsetSolve(x: readonly number[], y: readonly number[]): Record<PowerLawOffsetParam, number> | null {
  if (y.every((v) => v === y[0])) return null;
  const x0 = geometricMean(x);
  const p = fitScaled(x.map((v) => Math.log(v / x0)), y);
  return p ? toParams(p, x0) : null;
}

export function powerLawOffsetFit(x: readonly number[], y: readonly number[], opts: FitOptions = {}): FitResult<PowerLawOffsetParam> {
  checkPoints(x, y, 'power-law-with-offset fit');
  const n = x.length;
  const skip = (reason: string): FitResult<PowerLawOffsetParam> => ({ ok: false, model: 'powerLawOffset', n, minPoints: POWER_LAW_OFFSET_MIN_POINTS, reason });
  const distinct = distinctCount(x);
  if (distinct < POWER_LAW_OFFSET_MIN_POINTS) {
    return skip(`too few points: a power law with offset needs at least ${POWER_LAW_OFFSET_MIN_POINTS} distinct parameter counts, got ${distinct}`);
  }
  if (y.every((v) => v === y[0])) return skip('y is the same at every x: the exponent is undetermined');
  const x0 = geometricMean(x);
  const l = x.map((v) => Math.log(v / x0));
  const p = fitScaled(l, y);
  if (!p) return skip('no starting point led to a finite fit');
  const params = toParams(p, x0);
  const fitted = x.map((xi) => powerLawOffset(params, xi));
  // Resamples keep the full fit's x₀ (a is reported on the original axis either way) and also
  // start from the full fit, which is usually close.
  const refit = (bx: number[], by: number[]) => {
    if (by.every((v) => v === by[0])) return null;
    const q = fitScaled(bx.map((v) => Math.log(v / x0)), by, p);
    return q ? toParams(q, x0) : null;
  };
  const { intervals, bootstrap } = bootstrapIntervals(x, y, ['a', 'b', 'c'], POWER_LAW_OFFSET_MIN_POINTS - 1, refit, opts);
  return {
    ok: true,
    model: 'powerLawOffset',
    n,
    params,
    r2: rSquared(y, fitted),
    residuals: y.map((yi, i) => yi - fitted[i]),
    intervals,
    bootstrap,
  };
}
