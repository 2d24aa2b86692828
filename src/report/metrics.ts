// The per-layer numbers a report shows, fits and compares, named as in DESIGN §1 and read from an
// evaluation summary's LayerSummary. Optional ones (Diff-eRank, loss) are null where absent.
import type { LayerSummary } from '../eval/summary.ts';

export interface ReportMetric {
  id: string;
  label: string;
  get(layer: LayerSummary): number | null;
  /** A loss, not a representation metric: not correlated with loss. */
  isLoss?: boolean;
  /** Fitted against parameter count (the others, functions of these, are in the tables only). */
  fitted?: boolean;
}

const num = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export const REPORT_METRICS: ReportMetric[] = [
  { id: 'erankOfMeanEntropy', fitted: true, label: 'eRank of mean entropy', get: (l) => num(l.metrics.erankOfMeanEntropy) },
  { id: 'meanEntropy', fitted: true, label: 'mean entropy (nats)', get: (l) => num(l.metrics.meanEntropy) },
  { id: 'meanErank', fitted: true, label: 'mean eRank', get: (l) => num(l.metrics.meanErank) },
  { id: 'meanNormalizedEntropy', fitted: true, label: 'mean normalized entropy', get: (l) => num(l.metrics.meanNormalizedEntropy) },
  { id: 'pooledEntropy', label: 'pooled entropy (nats)', get: (l) => num(l.pooled?.pooledEntropy) },
  { id: 'pooledErank', fitted: true, label: 'pooled eRank', get: (l) => num(l.pooled?.pooledErank) },
  { id: 'diffErank', fitted: true, label: 'Diff-eRank', get: (l) => num(l.diffErank?.diffErank) },
  { id: 'diffErankRatio', label: 'eRank ratio (trained / untrained)', get: (l) => num(l.diffErank?.ratio) },
  { id: 'meanLoss', label: 'mean loss (nats/token)', get: (l) => num(l.meanLoss), isLoss: true, fitted: true },
  { id: 'reducedLoss', label: 'reduced loss ΔL', get: (l) => num(l.reducedLoss), isLoss: true },
];

export function metricById(id: string): ReportMetric {
  const m = REPORT_METRICS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown report metric ${id}`);
  return m;
}
