// Scaling fits of a report (DESIGN §1.10): for each family × dataset × metric × layer position, the
// metric against the parameter count x over the family's models, with the form chosen by
// src/fit/scalingLaw.ts (log-linear, power law, power law + offset by leave-one-out error, or none,
// with the reason), each metric correlated with the models' mean loss.
//
// Layers are compared at relative depth (relativeDepth.ts: embeddings, ¼, ½, ¾, last), so models
// with 2 and 6 blocks line up. Loss is a property of the model, not of a layer: it is fitted once
// per family × dataset (layer "model"). Models without a parameter count are left out (and say so).
import { correlateWithLoss, type CorrelationResult } from '../fit/correlation.ts';
import { fitScalingLaw, type ScalingLaw } from '../fit/scalingLaw.ts';
import { datasetLabel, type CollectedRun } from './collect.ts';
import { REPORT_METRICS, type ReportMetric } from './metrics.ts';
import { layersByPosition } from './relativeDepth.ts';

export const NO_FAMILY = '(no family)';
/** The "layer" of a per-model metric (loss). */
export const MODEL_LEVEL = 'model';

export interface FitPoint {
  model: string;
  params: number;
  y: number;
  loss: number | null;
  /** The model's own layer at this position, and its relative depth. */
  layer: string;
  depth: number | null;
  dim: number;
}

export interface ScalingFit {
  family: string;
  dataset: string;
  metric: string;
  /** Depth position (embeddings, depth 1/4, depth 1/2, depth 3/4, last) or "model" for loss. */
  layer: string;
  points: FitPoint[];
  law: ScalingLaw;
  /** Metric vs mean loss across the family's models (absent for loss metrics). */
  lossCorrelation?: CorrelationResult;
  /** Set when no form could be used: why. */
  message?: string;
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
  const add = (run: CollectedRun, metric: ReportMetric, layer: string, point: FitPoint) => {
    const family = familyOf(run);
    // A perturbed multimodal run is its own dataset for fitting (rotated images are other data).
    const dataset = datasetLabel(run.summary);
    const key = JSON.stringify([family, dataset, metric.id, layer]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { family, dataset, metric, layer, points: [] }));
    g.points.push(point);
  };
  for (const run of runs) {
    const params = run.summary.model.params;
    if (!(typeof params === 'number' && params > 0)) continue;
    const positions = layersByPosition(run.summary);
    for (const metric of REPORT_METRICS) {
      if (!metric.fitted) continue;
      if (metric.perModel) {
        // Loss is the same at every layer: read it once, from the last layer (or any that has it).
        const l = positions.find((p) => p.position === 'last')?.layer ?? run.summary.layers.find((x) => metric.get(x) !== null);
        const y = l ? metric.get(l) : null;
        if (l && y !== null) add(run, metric, MODEL_LEVEL, { model: run.summary.model.name, params, y, loss: y, layer: l.layer, depth: null, dim: l.dim });
        continue;
      }
      for (const { position, layer, depth } of positions) {
        const y = metric.get(layer);
        if (y === null) continue;
        add(run, metric, position, { model: run.summary.model.name, params, y, loss: layer.meanLoss ?? null, layer: layer.layer, depth, dim: layer.dim });
      }
    }
  }
  const out: ScalingFit[] = [];
  for (const g of groups.values()) {
    g.points.sort((a, b) => a.params - b.params);
    const x = g.points.map((p) => p.params);
    const y = g.points.map((p) => p.y);
    const dMax = Math.max(...g.points.map((p) => p.dim));
    const law = fitScalingLaw(x, y, { range: g.metric.range(dMax), bootstrapResamples: resamples, seed });
    const fit: ScalingFit = { family: g.family, dataset: g.dataset, metric: g.metric.id, layer: g.layer, points: g.points, law };
    if (!g.metric.isLoss) {
      const withLoss = g.points.filter((p) => p.loss !== null);
      if (withLoss.length) fit.lossCorrelation = correlateWithLoss(withLoss.map((p) => p.y), withLoss.map((p) => p.loss!));
    }
    if (!law.chosen) fit.message = `${g.family} on ${g.dataset}, ${g.metric.id} at ${g.layer}: no fit drawn (${law.reason})`;
    out.push(fit);
  }
  return out;
}
