// The report's figures, as SVG (svg.ts):
//   headline       per dataset, the question first: normalized entropy and eRank of the last layer
//                  vs parameters with the chosen fit and its band, loss beside them, and Diff-eRank
//                  against the reduced loss ΔL
//   scaling        every fitted metric at every depth position (embeddings, ¼, ½, ¾, last) vs
//                  parameters; a family whose fit was refused shows its points and the reason
//   layers         per-layer profiles at relative depth (x = k/L), one line per model
//   distribution   histogram of per-sample entropy at each depth position, one outline per model
import type { SampleRow } from '../arrow/sampleTable.ts';
import { correlateWithLoss } from '../fit/correlation.ts';
import { FORM_LABEL } from '../fit/scalingLaw.ts';
import type { CollectedRun } from './collect.ts';
import { fitLabel, num } from './fitText.ts';
import { metricById } from './metrics.ts';
import { DEPTH_POSITIONS, layersByPosition, relativeDepth } from './relativeDepth.ts';
import { familyOf, MODEL_LEVEL, type ScalingFit } from './scalingFits.ts';
import { PALETTE, renderPlot, type PlotSpec, type Series } from './svg.ts';

export type FigureKind = 'headline' | 'scaling' | 'layers' | 'distribution';

export interface Figure {
  /** File name stem under figures/ and the element id in the page. */
  id: string;
  kind: FigureKind;
  /** The dataset it shows. */
  dataset: string;
  title: string;
  caption: string;
  svg: string;
}

/** Metrics drawn against parameter count at every depth position (all of them are in the tables). */
export const FIGURE_METRICS = ['meanNormalizedEntropy', 'erankOfMeanEntropy', 'meanEntropy', 'diffErank'] as const;
/** Metrics drawn across layers. */
export const PROFILE_METRICS = ['meanNormalizedEntropy', 'erankOfMeanEntropy'] as const;

const HIST_BINS = 30;
const HEADLINE_WIDTH = 380;
const HEADLINE_HEIGHT = 300;

function slug(...parts: string[]): string {
  return parts.map((p) => p.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')).join('--');
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function colorOf(keys: string[], key: string): string {
  return PALETTE[keys.indexOf(key) % PALETTE.length];
}

function figure(kind: FigureKind, dataset: string, spec: PlotSpec, caption: string): Figure {
  return { id: spec.id, kind, dataset, title: spec.title, caption, svg: renderPlot(spec) };
}

/**
 * One metric at one position vs parameters, a series per family: the points, and the chosen fit's
 * curve and band when there is one. Refused fits are named in the figure and explained in the caption.
 */
function scalingFigure(kind: FigureKind, fits: ScalingFit[], families: string[], size?: { width: number; height: number }): Figure {
  const { dataset, metric: metricId, layer } = fits[0];
  const metric = metricById(metricId);
  const series: Series[] = [];
  const refused: string[] = [];
  const lines: string[] = [];
  for (const fit of fits) {
    const s: Series = { name: fit.family, color: colorOf(families, fit.family), points: fit.points.map((p) => ({ x: p.params, y: p.y })) };
    if (fit.law.chosen && fit.law.curve) {
      s.line = fit.law.curve;
      s.fit = true;
      if (fit.law.band) s.band = fit.law.band;
      s.name = `${fit.family} (${FORM_LABEL[fit.law.chosen]})`;
    } else {
      refused.push(fit.family);
    }
    lines.push(`${fit.family} (n = ${fit.points.length}): ${fitLabel(fit)}`);
    series.push(s);
  }
  const where = layer === MODEL_LEVEL ? '' : `, ${layer}`;
  const spec: PlotSpec = {
    id: slug(kind, dataset, metricId, layer),
    title: `${metric.label}${where} — ${dataset}`,
    xLabel: 'parameters (log scale)',
    yLabel: metric.label,
    xLog: true,
    series,
    yRange: fits[0].law.range,
    ...(refused.length ? { note: `no fit drawn for ${refused.join(', ')} (see caption)` } : {}),
    ...(size ?? {}),
  };
  const caption =
    `${metric.label}${layer === MODEL_LEVEL ? '' : ` at ${layer === 'last' ? 'the last layer' : layer}`} on ${dataset} against parameter count, per family. ` +
    `${lines.join('. ')}. The form is chosen by leave-one-out error among those whose curve stays in the metric's physical range; shaded: pointwise bootstrap 95% band.`;
  return figure(kind, dataset, spec, caption);
}

function fitsAt(fits: ScalingFit[], dataset: string, metric: string, layer: string): ScalingFit[] {
  return fits.filter((f) => f.dataset === dataset && f.metric === metric && f.layer === layer).sort((a, b) => (a.family < b.family ? -1 : 1));
}

/** Diff-eRank of the last layer against ΔL, per family, with the correlation in the caption. */
function diffErankVsReducedLoss(runs: CollectedRun[], dataset: string, families: string[]): Figure | null {
  const series: Series[] = [];
  const notes: string[] = [];
  for (const family of families) {
    const pts = runs
      .filter((r) => familyOf(r) === family && r.summary.dataset.name === dataset)
      .map((r) => layersByPosition(r.summary).find((p) => p.position === 'last')?.layer)
      .map((l) => ({ x: l?.reducedLoss ?? null, y: l?.diffErank?.diffErank ?? null }))
      .filter((p): p is { x: number; y: number } => p.x !== null && p.y !== null && Number.isFinite(p.x) && Number.isFinite(p.y))
      .sort((a, b) => a.x - b.x);
    if (!pts.length) continue;
    series.push({ name: family, color: colorOf(families, family), points: pts });
    const c = correlateWithLoss(pts.map((p) => p.y), pts.map((p) => p.x));
    notes.push(c.ok ? `${family}: Pearson r = ${num(c.pearson, 2)}, Spearman ρ = ${num(c.spearman, 2)} (n = ${c.n})` : `${family}: ${c.reason}`);
  }
  if (!series.length) return null;
  const spec: PlotSpec = {
    id: slug('headline', dataset, 'differank-vs-reduced-loss'),
    title: `Diff-eRank vs ΔL, last layer — ${dataset}`,
    xLabel: 'reduced loss ΔL = L(untrained) − L(trained)',
    yLabel: 'Diff-eRank',
    series,
    width: HEADLINE_WIDTH,
    height: HEADLINE_HEIGHT,
  };
  return figure('headline', dataset, spec, `Diff-eRank of the last layer against the reduced loss ΔL, one point per model (the paper's Fig. 2). ${notes.join('; ')}.`);
}

/** Per dataset: normalized entropy and eRank of the last layer, loss, and Diff-eRank vs ΔL. */
export function headlineFigures(runs: CollectedRun[], fits: ScalingFit[]): Figure[] {
  const out: Figure[] = [];
  const families = unique(fits.map((f) => f.family)).sort();
  for (const dataset of unique(fits.map((f) => f.dataset))) {
    for (const [metric, layer] of [['meanNormalizedEntropy', 'last'], ['erankOfMeanEntropy', 'last'], ['meanLoss', MODEL_LEVEL]] as const) {
      const group = fitsAt(fits, dataset, metric, layer);
      if (group.length) out.push(scalingFigure('headline', group, families, { width: HEADLINE_WIDTH, height: HEADLINE_HEIGHT }));
    }
    const d = diffErankVsReducedLoss(runs, dataset, families);
    if (d) out.push(d);
  }
  return out;
}

/** Every figure metric at every depth position (the headline's own panels are not repeated). */
export function scalingFigures(fits: ScalingFit[]): Figure[] {
  const out: Figure[] = [];
  const families = unique(fits.map((f) => f.family)).sort();
  for (const dataset of unique(fits.map((f) => f.dataset))) {
    for (const metric of FIGURE_METRICS) {
      for (const { id: layer } of DEPTH_POSITIONS) {
        if (layer === 'last' && (metric === 'meanNormalizedEntropy' || metric === 'erankOfMeanEntropy')) continue;
        const group = fitsAt(fits, dataset, metric, layer);
        if (group.length) out.push(scalingFigure('scaling', group, families));
      }
    }
  }
  return out;
}

function runLabel(run: CollectedRun): string {
  return run.summary.model.name;
}

/** Metric against relative depth, one line per model: models of different depth on one axis. */
export function layerFigures(runs: CollectedRun[]): Figure[] {
  const out: Figure[] = [];
  for (const dataset of unique(runs.map((r) => r.summary.dataset.name))) {
    const inDataset = runs.filter((r) => r.summary.dataset.name === dataset);
    if (!inDataset.some((r) => r.summary.layers.length >= 2)) continue;
    for (const metricId of PROFILE_METRICS) {
      const metric = metricById(metricId);
      const series: Series[] = inDataset.map((run, i) => {
        const byDepth = new Map<number, number>();
        for (const l of run.summary.layers) {
          const depth = relativeDepth(run.summary, l.layer);
          const y = metric.get(l);
          // `last` and `final` both sit at depth 1; `last` (what HF returns) wins.
          if (depth !== null && y !== null && (!byDepth.has(depth) || l.layer === 'last')) byDepth.set(depth, y);
        }
        const pts = [...byDepth].map(([x, y]) => ({ x, y })).sort((a, b) => a.x - b.x);
        return { name: runLabel(run), color: PALETTE[i % PALETTE.length], points: pts, line: pts };
      });
      const spec: PlotSpec = {
        id: slug('layers', dataset, metricId),
        title: `${metric.label} by relative depth — ${dataset}`,
        xLabel: 'relative depth (0 = embeddings, 1 = last layer)',
        yLabel: metric.label,
        xDomain: [0, 1],
        series,
      };
      out.push(figure('layers', dataset, spec, `${metric.label} at each evaluated layer on ${dataset} against relative depth k/L (block k of L), one line per model, so models of different depth line up.`));
    }
  }
  return out;
}

/** Histogram of per-sample entropy per model at each depth position of a dataset; shared bins. */
export function distributionFigures(runs: CollectedRun[], samples: Map<CollectedRun, SampleRow[]>): Figure[] {
  const out: Figure[] = [];
  for (const dataset of unique(runs.map((r) => r.summary.dataset.name))) {
    const inDataset = runs.filter((r) => r.summary.dataset.name === dataset && (samples.get(r)?.length ?? 0) > 0);
    for (const { id: position } of DEPTH_POSITIONS) {
      const values = inDataset.map((r) => {
        const layer = layersByPosition(r.summary).find((p) => p.position === position)?.layer.layer;
        return layer === undefined ? [] : samples.get(r)!.filter((s) => s.layer === layer && !s.skipped && s.entropy !== null).map((s) => s.entropy!);
      });
      const all = values.flat();
      if (!all.length) continue;
      let min = Math.min(...all);
      let max = Math.max(...all);
      if (min === max) [min, max] = [min - 0.5, max + 0.5];
      const width = (max - min) / HIST_BINS;
      const edges = Array.from({ length: HIST_BINS + 1 }, (_, i) => min + i * width);
      const series: Series[] = [];
      inDataset.forEach((run, i) => {
        if (!values[i].length) return;
        const counts = new Array<number>(HIST_BINS).fill(0);
        for (const v of values[i]) counts[Math.min(HIST_BINS - 1, Math.floor((v - min) / width))]++;
        series.push({
          name: `${runLabel(run)} (n=${values[i].length})`,
          color: PALETTE[i % PALETTE.length],
          histogram: { edges, counts: counts.map((c) => c / values[i].length) },
        });
      });
      const spec: PlotSpec = {
        id: slug('distribution', dataset, position),
        title: `Per-sample entropy — ${dataset}, ${position}`,
        xLabel: 'per-sample entropy (nats)',
        yLabel: 'fraction of samples',
        series,
      };
      out.push(figure('distribution', dataset, spec, `Distribution of per-sample matrix entropy at ${position} on ${dataset} (${HIST_BINS} shared bins; skipped samples left out).`));
    }
  }
  return out;
}
