// Which scaling law a family's points support, if any (DESIGN §1.10).
//
// Candidates (x = parameter count):
//   logLinear       y = a + b·ln x            2 parameters, ≥ 3 sizes
//   powerLaw        y = a·x^(−b)              2 parameters, ≥ 3 sizes, y > 0 (log-log least squares)
//   powerLawOffset  y = a·x^(−b) + c          3 parameters, ≥ 5 sizes, |b| ≤ 3
//
// Criterion: the lowest leave-one-out prediction error, RMSE_LOO = √(Σ_i (y_i − ŷ_{−i}(x_i))² / n),
// ŷ_{−i} fitted without point i (Stone, "Cross-validatory choice and assessment of statistical
// predictions", 1974) — in y units for every form, so a form with more parameters wins only if it
// predicts unseen sizes better; ties go to the form with fewer parameters. Only usable forms
// compete. A form is unusable, and said why, when over the drawn range [min x / 1.25, max x · 1.25]:
//   - its curve leaves the metric's physical range (eRank in [1, d], entropy in [0, ln d], loss ≥ 0),
//   - or leaves the data's bounds widened by their span on each side (it explodes next to the points),
//   - or its pointwise bootstrap 95% band is wider than twice the data's span (the points do not
//     determine it: its parameter intervals span orders of magnitude),
//   - or R² < 0.5 (it does not describe the points).
// No form usable → no curve: the reasons are the result.
import { mulberry32 } from '../metrics/prng.ts';
import { quantileSorted } from '../metrics/datasetMetrics.ts';
import type { FitModel, FitResult } from './fitResult.ts';
import { distinctCount } from './fitResult.ts';
import { logLinear, logLinearFit, logLinearSolve, LOG_LINEAR_MIN_POINTS } from './logLinearFit.ts';
import { powerLaw, powerLawFit, powerLawSolve, POWER_LAW_MIN_POINTS } from './powerLawFit.ts';
import { powerLawOffset, powerLawOffsetFit, powerLawOffsetSolve, POWER_LAW_OFFSET_MIN_POINTS } from './powerLawOffsetFit.ts';

export interface PhysicalRange {
  low: number;
  high: number;
}

export const MIN_R2 = 0.5;
/** Curves are drawn (and judged) from min x / DRAW_MARGIN to max x · DRAW_MARGIN. */
export const DRAW_MARGIN = 1.25;
const GRID_POINTS = 60;

type Params = Record<string, number>;

export interface Candidate {
  form: FitModel;
  fit: FitResult<string>;
  /** Leave-one-out RMSE in y units; null when the form could not be fitted. */
  looRmse: number | null;
  usable: boolean;
  /** Why the form is not usable (absent when it is). */
  reason?: string;
}

export interface ScalingLaw {
  n: number;
  criterion: 'leave-one-out RMSE';
  range: PhysicalRange;
  candidates: Candidate[];
  /** The form chosen; null when none is usable. */
  chosen: FitModel | null;
  /** Why there is no chosen form. */
  reason?: string;
  /** The chosen form over the drawn range, with its pointwise bootstrap 95% band (null: too few sizes). */
  curve?: Array<{ x: number; y: number }>;
  band?: Array<{ x: number; low: number; high: number }> | null;
}

export interface ScalingLawOptions {
  range: PhysicalRange;
  bootstrapResamples?: number;
  seed?: number;
}

export const FORM_LABEL: Record<FitModel, string> = {
  logLinear: 'log-linear',
  powerLaw: 'power law',
  powerLawOffset: 'power law + offset',
};

const MIN_POINTS: Record<FitModel, number> = {
  logLinear: LOG_LINEAR_MIN_POINTS,
  powerLaw: POWER_LAW_MIN_POINTS,
  powerLawOffset: POWER_LAW_OFFSET_MIN_POINTS,
};

export function formValue(form: FitModel, params: Params, x: number): number {
  if (form === 'logLinear') return logLinear(params as { a: number; b: number }, x);
  if (form === 'powerLaw') return powerLaw(params as { a: number; b: number }, x);
  return powerLawOffset(params as { a: number; b: number; c: number }, x);
}

/** Least-squares parameters without checks or bootstrap; null when the form cannot be fitted. */
function solve(form: FitModel, x: number[], y: number[]): Params | null {
  let p: Params | null;
  if (form === 'logLinear') p = distinctCount(x) >= 2 ? logLinearSolve(x, y) : null;
  else if (form === 'powerLaw') p = distinctCount(x) >= 2 && y.every((v) => v > 0) ? powerLawSolve(x, y) : null;
  else p = distinctCount(x) >= POWER_LAW_OFFSET_MIN_POINTS - 1 ? powerLawOffsetSolve(x, y) : null;
  return p && Object.values(p).every(Number.isFinite) ? p : null;
}

function fitForm(form: FitModel, x: readonly number[], y: readonly number[], opts: { bootstrapResamples: number; seed: number }): FitResult<string> {
  if (form === 'logLinear') return logLinearFit(x, y, opts);
  if (form === 'powerLaw') return powerLawFit(x, y, opts);
  return powerLawOffsetFit(x, y, opts);
}

/** RMSE of predicting each point from a fit to the others; null when a fold cannot be fitted. */
export function leaveOneOutRmse(form: FitModel, x: readonly number[], y: readonly number[]): number | null {
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const bx = x.filter((_, j) => j !== i);
    const by = y.filter((_, j) => j !== i);
    const p = solve(form, bx, by);
    if (!p) return null;
    const e = y[i] - formValue(form, p, x[i]);
    if (!Number.isFinite(e)) return null;
    sum += e * e;
  }
  return Math.sqrt(sum / x.length);
}

export function drawnGrid(x: readonly number[]): number[] {
  const a = Math.log(Math.min(...x) / DRAW_MARGIN);
  const b = Math.log(Math.max(...x) * DRAW_MARGIN);
  return Array.from({ length: GRID_POINTS }, (_, i) => Math.exp(a + ((b - a) * i) / (GRID_POINTS - 1)));
}

/** Pointwise percentile bootstrap band of a form over `grid`; null with too few distinct sizes. */
function bootstrapBand(form: FitModel, x: readonly number[], y: readonly number[], grid: number[], resamples: number, seed: number): ScalingLaw['band'] {
  const min = MIN_POINTS[form];
  if (distinctCount(x) < min + 1 || resamples === 0) return null;
  const rand = mulberry32(seed);
  const draws: number[][] = grid.map(() => []);
  for (let r = 0; r < resamples; r++) {
    const bx: number[] = [];
    const by: number[] = [];
    for (let i = 0; i < x.length; i++) {
      const j = Math.floor(rand() * x.length);
      bx.push(x[j]);
      by.push(y[j]);
    }
    if (distinctCount(bx) < min) continue;
    const p = solve(form, bx, by);
    if (!p) continue;
    const values = grid.map((g) => formValue(form, p, g));
    if (!values.every(Number.isFinite)) continue;
    values.forEach((v, i) => draws[i].push(v));
  }
  if (draws[0].length < 10) return null;
  return grid.map((g, i) => {
    const sorted = Float64Array.from(draws[i]).sort();
    return { x: g, low: quantileSorted(sorted, 0.025), high: quantileSorted(sorted, 0.975) };
  });
}

const sig = (v: number) => String(+v.toPrecision(4)).replace(/^-/, '−');
const size = (v: number) => (v >= 1e9 ? `${+(v / 1e9).toPrecision(3)}B` : v >= 1e6 ? `${+(v / 1e6).toPrecision(3)}M` : v >= 1e3 ? `${+(v / 1e3).toPrecision(3)}k` : sig(v));

/** Why a fitted form cannot be used, or undefined when it can. */
function unusable(form: FitModel, fit: Extract<FitResult<string>, { ok: true }>, x: readonly number[], y: readonly number[], range: PhysicalRange, band: ScalingLaw['band']): string | undefined {
  const grid = drawnGrid(x);
  const curve = grid.map((g) => formValue(form, fit.params, g));
  const yMin = Math.min(...y);
  const yMax = Math.max(...y);
  const span = yMax - yMin;
  const tol = 1e-9 * Math.max(Math.abs(range.low), Math.abs(range.high), 1);
  const out = curve.findIndex((v) => !(v >= range.low - tol && v <= range.high + tol));
  if (out >= 0) {
    return `its curve leaves the physical range [${sig(range.low)}, ${sig(range.high)}] (${sig(curve[out])} at ${size(grid[out])} parameters)`;
  }
  const wild = curve.findIndex((v) => v < yMin - span - tol || v > yMax + span + tol);
  if (wild >= 0) return `its curve leaves the data's bounds next to the points (${sig(curve[wild])} at ${size(grid[wild])} parameters; data ${sig(yMin)}…${sig(yMax)})`;
  if (fit.r2 < MIN_R2) return `poor fit: R² = ${fit.r2.toFixed(3)} < ${MIN_R2}`;
  if (band && span > 0) {
    const widest = Math.max(...band.map((b) => b.high - b.low));
    if (widest > 2 * span) return `its bootstrap 95% band is ${sig(widest / span)}× the data's range: these points do not determine it`;
  }
  return undefined;
}

/** Fits every candidate form, judges each, and chooses one by leave-one-out RMSE. */
export function fitScalingLaw(x: readonly number[], y: readonly number[], opts: ScalingLawOptions): ScalingLaw {
  const resamples = opts.bootstrapResamples ?? 100;
  const seed = opts.seed ?? 0;
  const range = opts.range;
  const distinct = distinctCount(x);
  const forms: FitModel[] = ['logLinear', 'powerLaw', ...(distinct >= POWER_LAW_OFFSET_MIN_POINTS ? (['powerLawOffset'] as const) : [])];
  const grid = x.length ? drawnGrid(x) : [];
  const bands = new Map<FitModel, ScalingLaw['band']>();
  const candidates: Candidate[] = forms.map((form) => {
    const fit = fitForm(form, x, y, { bootstrapResamples: resamples, seed });
    if (!fit.ok) return { form, fit, looRmse: null, usable: false, reason: fit.reason };
    const band = bootstrapBand(form, x, y, grid, resamples, seed);
    bands.set(form, band);
    const looRmse = leaveOneOutRmse(form, x, y);
    const reason = unusable(form, fit, x, y, range, band) ?? (looRmse === null ? 'leave-one-out fits failed' : undefined);
    return { form, fit, looRmse, usable: reason === undefined, ...(reason ? { reason } : {}) };
  });
  let best: Candidate | null = null;
  for (const c of candidates) {
    if (c.usable && (best === null || c.looRmse! < best.looRmse! * (1 - 1e-9))) best = c;
  }
  const law: ScalingLaw = { n: x.length, criterion: 'leave-one-out RMSE', range, candidates, chosen: best?.form ?? null };
  if (!best || !best.fit.ok) {
    law.reason = candidates.map((c) => `${FORM_LABEL[c.form]}: ${c.reason}`).join('; ');
    return law;
  }
  const params = best.fit.params;
  law.curve = grid.map((g) => ({ x: g, y: formValue(best.form, params, g) }));
  const band = bands.get(best.form) ?? null;
  // The band is an interval of the curve; past the physical bounds it says nothing, so it is cut there.
  law.band = band ? band.map((b) => ({ x: b.x, low: Math.max(b.low, range.low), high: Math.min(b.high, range.high) })) : null;
  return law;
}
