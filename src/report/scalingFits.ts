// Scaling fits of a report (DESIGN §1.10): for each family × dataset × metric × layer, the metric
// against the parameter count x over the family's models, fitted as a power law a·x^(−b)+c and as
// log-linear a + b·ln x (src/fit), each metric correlated with the models' mean loss. Models without
// a parameter count are left out of the fits (and say so); a family with too few points gets the
// fit's own "too few points" reason instead of a curve.
//
// The band drawn around a curve is a pointwise percentile bootstrap: resample the points, refit,
// evaluate on a grid of x, keep the 2.5% and 97.5% quantiles at each x (Efron & Tibshirani 1993,
// ch. 13, as fitResult.ts does for the parameters).
import { powerLaw, powerLawFit, type PowerLawParam } from '../fit/powerLawFit.ts';
import { logLinear, logLinearFit, type LogLinearParam } from '../fit/logLinearFit.ts';
import { correlateWithLoss, type CorrelationResult } from '../fit/correlation.ts';
import type { FitResult } from '../fit/fitResult.ts';
import { mulberry32 } from '../metrics/prng.ts';
import { quantileSorted } from '../metrics/datasetMetrics.ts';
import { datasetLabel, type CollectedRun } from './collect.ts';
import { REPORT_METRICS, type ReportMetric } from './metrics.ts';

export const NO_FAMILY = '(no family)';

export interface FitPoint {
  model: string;
  params: number;
  y: number;
  loss: number | null;
}

export interface ScalingFit {
  family: string;
  dataset: string;
  metric: string;
  layer: string;
  points: FitPoint[];
  powerLaw: FitResult<PowerLawParam>;
  logLinear: FitResult<LogLinearParam>;
  /** Metric vs mean loss across the family's models (absent for loss metrics). */
  lossCorrelation?: CorrelationResult;
  /** Set when neither fit could be made: why (e.g. too few points). */
  message?: string;
}

export interface CurveWithBand {
  model: 'powerLaw' | 'logLinear';
  curve: Array<{ x: number; y: number }>;
  /** Null when too few resamples could be fitted. */
  band: Array<{ x: number; low: number; high: number }> | null;
}

export interface FitOptions {
  /** Bootstrap resamples for parameter intervals and bands (default 100). */
  bootstrapResamples?: number;
  seed?: number;
}

export function familyOf(run: CollectedRun): string {
  return run.summary.model.family ?? NO_FAMILY;
}

/** Every group with at least one model with a parameter count. */
export function scalingFits(runs: CollectedRun[], opts: FitOptions = {}): ScalingFit[] {
  const resamples = opts.bootstrapResamples ?? 100;
  const seed = opts.seed ?? 0;
  const groups = new Map<string, { family: string; dataset: string; metric: ReportMetric; layer: string; points: FitPoint[] }>();
  for (const run of runs) {
    const params = run.summary.model.params;
    if (!(typeof params === 'number' && params > 0)) continue;
    for (const layer of run.summary.layers) {
      for (const metric of REPORT_METRICS) {
        if (!metric.fitted) continue;
        const y = metric.get(layer);
        if (y === null) continue;
        const family = familyOf(run);
        // A perturbed multimodal run is its own dataset for fitting (rotated images are other data).
        const dataset = datasetLabel(run.summary);
        const key = JSON.stringify([family, dataset, metric.id, layer.layer]);
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { family, dataset, metric, layer: layer.layer, points: [] }));
        g.points.push({ model: run.summary.model.name, params, y, loss: layer.meanLoss ?? null });
      }
    }
  }
  const out: ScalingFit[] = [];
  for (const g of groups.values()) {
    g.points.sort((a, b) => a.params - b.params);
    const x = g.points.map((p) => p.params);
    const y = g.points.map((p) => p.y);
    const powerLawResult = powerLawFit(x, y, { bootstrapResamples: resamples, seed });
    const logLinearResult = logLinearFit(x, y, { bootstrapResamples: resamples, seed });
    const fit: ScalingFit = { family: g.family, dataset: g.dataset, metric: g.metric.id, layer: g.layer, points: g.points, powerLaw: powerLawResult, logLinear: logLinearResult };
    if (!g.metric.isLoss) {
      const withLoss = g.points.filter((p) => p.loss !== null);
      if (withLoss.length) fit.lossCorrelation = correlateWithLoss(withLoss.map((p) => p.y), withLoss.map((p) => p.loss!));
    }
    if (!powerLawResult.ok && !logLinearResult.ok) {
      fit.message = `${g.family} on ${g.dataset}, ${g.metric.id} at ${g.layer}: ${logLinearResult.reason}; ${powerLawResult.reason}`;
    }
    out.push(fit);
  }
  return out;
}

function logGrid(lo: number, hi: number, n: number): number[] {
  const a = Math.log(lo);
  const b = Math.log(hi);
  return Array.from({ length: n }, (_, i) => Math.exp(a + ((b - a) * i) / (n - 1)));
}

/**
 * The curve to draw (the power law when it fitted, else log-linear), over [min x / 2, max x · 2] in
 * log space, with a pointwise bootstrap band. Null when neither fitted.
 */
export function curveWithBand(fit: ScalingFit, opts: FitOptions = {}): CurveWithBand | null {
  const x = fit.points.map((p) => p.params);
  const y = fit.points.map((p) => p.y);
  const grid = logGrid(Math.min(...x) / 1.5, Math.max(...x) * 1.5, 60);
  let model: CurveWithBand['model'];
  let evaluate: (bx: number[], by: number[]) => ((v: number) => number) | null;
  if (fit.powerLaw.ok) {
    model = 'powerLaw';
    evaluate = (bx, by) => {
      const r = powerLawFit(bx, by, { bootstrapResamples: 0 });
      return r.ok ? (v) => powerLaw(r.params, v) : null;
    };
  } else if (fit.logLinear.ok) {
    model = 'logLinear';
    evaluate = (bx, by) => {
      const r = logLinearFit(bx, by, { bootstrapResamples: 0 });
      return r.ok ? (v) => logLinear(r.params, v) : null;
    };
  } else {
    return null;
  }
  const full = evaluate(x, y)!;
  const curve = grid.map((g) => ({ x: g, y: full(g) }));

  const resamples = opts.bootstrapResamples ?? 100;
  const rand = mulberry32(opts.seed ?? 0);
  const draws: number[][] = grid.map(() => []);
  for (let r = 0; r < resamples; r++) {
    const bx: number[] = [];
    const by: number[] = [];
    for (let i = 0; i < x.length; i++) {
      const j = Math.floor(rand() * x.length);
      bx.push(x[j]);
      by.push(y[j]);
    }
    const f = evaluate(bx, by);
    if (!f) continue;
    const values = grid.map(f);
    if (!values.every(Number.isFinite)) continue;
    values.forEach((v, i) => draws[i].push(v));
  }
  if (draws[0].length < 10) return { model, curve, band: null };
  const band = grid.map((g, i) => {
    const sorted = Float64Array.from(draws[i]).sort();
    return { x: g, low: quantileSorted(sorted, 0.025), high: quantileSorted(sorted, 0.975) };
  });
  return { model, curve, band };
}
