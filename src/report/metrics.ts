// The per-layer numbers a report shows, fits and compares, named as in DESIGN §1 and read from an
// evaluation summary's LayerSummary. Optional ones (Diff-eRank, loss) are null where absent.
import type { LayerSummary } from '../eval/summary.ts';
import type { PhysicalRange } from '../fit/scalingLaw.ts';

export interface ReportMetric {
  id: string;
  label: string;
  get(layer: LayerSummary): number | null;
  /** A loss, not a representation metric: not correlated with loss. */
  isLoss?: boolean;
  /** Fitted against parameter count (the others, functions of these, are in the tables only). */
  fitted?: boolean;
  /** Where the metric can lie for hidden width d (DESIGN §1): a fitted curve must stay inside. */
  range(d: number): PhysicalRange;
  /** A property of the model, not of a layer (loss): fitted once per model, not per layer. */
  perModel?: boolean;
}

const ERANK = (d: number): PhysicalRange => ({ low: 1, high: d });
const ENTROPY = (d: number): PhysicalRange => ({ low: 0, high: Math.log(d) });
const UNBOUNDED = (): PhysicalRange => ({ low: -Infinity, high: Infinity });

const num = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export const REPORT_METRICS: ReportMetric[] = [
  { id: 'meanNormalizedEntropy', fitted: true, label: 'normalized entropy H/ln d', get: (l) => num(l.metrics.meanNormalizedEntropy), range: () => ({ low: 0, high: 1 }) },
  { id: 'erankOfMeanEntropy', fitted: true, label: 'eRank of mean entropy', get: (l) => num(l.metrics.erankOfMeanEntropy), range: ERANK },
  { id: 'meanEntropy', fitted: true, label: 'mean entropy (nats)', get: (l) => num(l.metrics.meanEntropy), range: ENTROPY },
  { id: 'meanErank', fitted: true, label: 'mean eRank', get: (l) => num(l.metrics.meanErank), range: ERANK },
  { id: 'pooledEntropy', label: 'pooled entropy (nats)', get: (l) => num(l.pooled?.pooledEntropy), range: ENTROPY },
  { id: 'pooledErank', fitted: true, label: 'pooled eRank', get: (l) => num(l.pooled?.pooledErank), range: ERANK },
  // erank(untrained) − erank(trained), both in [1, d].
  { id: 'diffErank', fitted: true, label: 'Diff-eRank', get: (l) => num(l.diffErank?.diffErank), range: (d) => ({ low: 1 - d, high: d - 1 }) },
  { id: 'diffErankRatio', label: 'eRank ratio (trained / untrained)', get: (l) => num(l.diffErank?.ratio), range: (d) => ({ low: 1 / d, high: d }) },
  { id: 'meanLoss', label: 'mean loss (nats/token)', get: (l) => num(l.meanLoss), isLoss: true, fitted: true, perModel: true, range: () => ({ low: 0, high: Infinity }) },
  { id: 'reducedLoss', label: 'reduced loss ΔL (nats/token)', get: (l) => num(l.reducedLoss), isLoss: true, perModel: true, range: UNBOUNDED },
];

export function metricById(id: string): ReportMetric {
  const m = REPORT_METRICS.find((x) => x.id === id);
  if (!m) throw new Error(`unknown report metric ${id}`);
  return m;
}
