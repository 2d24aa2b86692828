// Scaling fits over a sweep (DESIGN §1.10): for each family × dataset × layer × metric, the metric
// against parameter count x — power law y = a·x^(−b) + c and log-linear y = a + b·log x — and the
// metric's correlation with loss. Families with too few points get the fit's own "too few" result.
import { powerLawFit } from '../fit/powerLawFit.ts';
import { logLinearFit } from '../fit/logLinearFit.ts';
import { correlateWithLoss, type CorrelationResult } from '../fit/correlation.ts';
import type { FitResult } from '../fit/fitResult.ts';
import type { EvaluationSummary, LayerSummary } from '../eval/summary.ts';

export const FIT_METRICS = ['erankOfMeanEntropy', 'meanEntropy', 'meanNormalizedEntropy', 'pooledErank', 'diffErank'] as const;
export type FitMetric = (typeof FIT_METRICS)[number];

export interface SweepFit {
  family: string;
  dataset: string;
  layer: string;
  metric: FitMetric;
  points: Array<{ model: string; params: number; value: number; loss: number | null }>;
  powerLaw: FitResult<'a' | 'b' | 'c'>;
  logLinear: FitResult<'a' | 'b'>;
  withLoss: CorrelationResult;
}

function metricOf(l: LayerSummary, metric: FitMetric): number | null {
  switch (metric) {
    case 'pooledErank':
      return l.pooled.pooledErank;
    case 'diffErank':
      return l.diffErank?.diffErank ?? null;
    default:
      return l.metrics[metric];
  }
}

export function sweepFits(summaries: EvaluationSummary[], opts: { seed?: number; bootstrapResamples?: number } = {}): SweepFit[] {
  const groups = new Map<string, EvaluationSummary[]>();
  for (const s of summaries) {
    if (s.model.params === undefined) continue; // no x: nothing to fit
    const key = JSON.stringify([s.model.family ?? s.model.name, s.dataset.name]);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const fits: SweepFit[] = [];
  for (const [key, group] of groups) {
    const [family, dataset] = JSON.parse(key) as [string, string];
    const layers = [...new Set(group.flatMap((s) => s.layers.map((l) => l.layer)))];
    for (const layer of layers) {
      for (const metric of FIT_METRICS) {
        const points = group
          .map((s) => ({ s, l: s.layers.find((x) => x.layer === layer) }))
          .filter((p): p is { s: EvaluationSummary; l: LayerSummary } => p.l !== undefined && metricOf(p.l, metric) !== null)
          .map(({ s, l }) => ({ model: s.model.name, params: s.model.params!, value: metricOf(l, metric)!, loss: l.meanLoss }))
          .sort((a, b) => a.params - b.params);
        if (points.length === 0) continue;
        const x = points.map((p) => p.params);
        const y = points.map((p) => p.value);
        const withLossPoints = points.filter((p) => p.loss !== null);
        fits.push({
          family,
          dataset,
          layer,
          metric,
          points,
          powerLaw: powerLawFit(x, y, opts),
          logLinear: logLinearFit(x, y, opts),
          withLoss: correlateWithLoss(withLossPoints.map((p) => p.value), withLossPoints.map((p) => p.loss!)),
        });
      }
    }
  }
  return fits;
}
