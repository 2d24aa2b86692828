// The report's figures, as SVG (svg.ts):
//   scaling        metric vs parameter count (log x), per family, with the fitted curve and its
//                  bootstrap band; families too small to fit are named in the figure
//   layers         metric vs layer (embeddings … last), one line per model
//   distribution   histogram of per-sample entropy, one outline per model
//   diffErank/loss Diff-eRank and mean loss vs parameter count (or model), side by side
import type { SampleRow } from '../arrow/sampleTable.ts';
import type { CollectedRun } from './collect.ts';
import { metricById } from './metrics.ts';
import { curveWithBand, familyOf, type FitOptions, type ScalingFit } from './scalingFits.ts';
import { PALETTE, renderPlot, type PlotSpec, type Series } from './svg.ts';

export type FigureKind = 'scaling' | 'layers' | 'distribution' | 'diffErankLoss';

export interface Figure {
  /** File name stem under figures/ and the element id in the page. */
  id: string;
  kind: FigureKind;
  title: string;
  caption: string;
  svg: string;
}

/** Metrics drawn against parameter count and across layers (all of them are in the tables). */
export const FIGURE_METRICS = ['erankOfMeanEntropy', 'meanEntropy'] as const;

const HIST_BINS = 30;

function slug(...parts: string[]): string {
  return parts.map((p) => p.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')).join('--');
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** embeddings < block.0 < block.1 < … < final < last; plain indices by value; others after, by name. */
export function layerOrder(name: string): number {
  if (name === 'embeddings') return -1;
  const block = /^block\.(\d+)$/.exec(name);
  if (block) return Number(block[1]);
  if (/^\d+$/.test(name)) return Number(name) - 1;
  if (name === 'final') return 1e6;
  if (name === 'last') return 1e6 + 1;
  return 2e6;
}

function sortedLayers(names: string[]): string[] {
  return unique(names).sort((a, b) => layerOrder(a) - layerOrder(b) || (a < b ? -1 : a > b ? 1 : 0));
}

function colorOf(keys: string[], key: string): string {
  return PALETTE[keys.indexOf(key) % PALETTE.length];
}

function figure(kind: FigureKind, spec: PlotSpec, caption: string): Figure {
  return { id: spec.id, kind, title: spec.title, caption, svg: renderPlot(spec) };
}

export function scalingFigures(fits: ScalingFit[], opts: FitOptions = {}): Figure[] {
  const out: Figure[] = [];
  const datasets = unique(fits.map((f) => f.dataset));
  const families = unique(fits.map((f) => f.family)).sort();
  for (const dataset of datasets) {
    for (const metricId of FIGURE_METRICS) {
      const forMetric = fits.filter((f) => f.dataset === dataset && f.metric === metricId);
      for (const layer of sortedLayers(forMetric.map((f) => f.layer))) {
        const group = forMetric.filter((f) => f.layer === layer);
        const series: Series[] = [];
        const tooFew: string[] = [];
        const fitted: string[] = [];
        for (const fit of group) {
          const color = colorOf(families, fit.family);
          const s: Series = { name: fit.family, color, points: fit.points.map((p) => ({ x: p.params, y: p.y })) };
          const curve = curveWithBand(fit, opts);
          if (curve) {
            s.line = curve.curve;
            if (curve.band) s.band = curve.band;
            s.dashed = curve.model === 'logLinear';
            fitted.push(`${fit.family}: ${curve.model === 'powerLaw' ? describePowerLaw(fit) : describeLogLinear(fit)}`);
          } else {
            tooFew.push(`${fit.family} (${fit.points.length} point${fit.points.length === 1 ? '' : 's'})`);
          }
          series.push(s);
        }
        const metric = metricById(metricId);
        const spec: PlotSpec = {
          id: slug('scaling', dataset, metricId, layer),
          title: `${metric.label} vs parameters — ${dataset}, ${layer}`,
          xLabel: 'parameters (log scale)',
          yLabel: metric.label,
          xLog: true,
          series,
          ...(tooFew.length ? { note: `too few points to fit: ${tooFew.join(', ')}` } : {}),
        };
        const caption =
          `${metric.label} at layer ${layer} on ${dataset} against parameter count, per family; ` +
          (fitted.length ? `curves: ${fitted.join('; ')}; shaded: pointwise bootstrap 95% band. ` : '') +
          (tooFew.length ? `Too few points to fit: ${tooFew.join(', ')} (log-linear needs 3 distinct sizes, power law 4).` : '');
        out.push(figure('scaling', spec, caption));
      }
    }
  }
  return out;
}

function describePowerLaw(fit: ScalingFit): string {
  if (!fit.powerLaw.ok) return '';
  const { a, b, c } = fit.powerLaw.params;
  return `y = ${a.toPrecision(3)}·x^(−${b.toPrecision(3)}) + ${c.toPrecision(4)}, R² = ${fit.powerLaw.r2.toFixed(3)}`;
}

function describeLogLinear(fit: ScalingFit): string {
  if (!fit.logLinear.ok) return '';
  const { a, b } = fit.logLinear.params;
  return `y = ${a.toPrecision(4)} + ${b.toPrecision(3)}·ln x (log-linear, dashed), R² = ${fit.logLinear.r2.toFixed(3)}`;
}

function runLabel(run: CollectedRun): string {
  return run.summary.model.name;
}

export function layerFigures(runs: CollectedRun[]): Figure[] {
  const out: Figure[] = [];
  for (const dataset of unique(runs.map((r) => r.summary.dataset.name))) {
    const inDataset = runs.filter((r) => r.summary.dataset.name === dataset);
    const layers = sortedLayers(inDataset.flatMap((r) => r.summary.layers.map((l) => l.layer)));
    if (layers.length < 2) continue;
    const models = inDataset.map(runLabel);
    for (const metricId of FIGURE_METRICS) {
      const metric = metricById(metricId);
      const series: Series[] = inDataset.map((run, i) => {
        const pts = run.summary.layers
          .map((l) => ({ x: layers.indexOf(l.layer), y: metric.get(l) }))
          .filter((p): p is { x: number; y: number } => p.y !== null)
          .sort((a, b) => a.x - b.x);
        return { name: models[i], color: PALETTE[i % PALETTE.length], points: pts, line: pts };
      });
      const spec: PlotSpec = {
        id: slug('layers', dataset, metricId),
        title: `${metric.label} by layer — ${dataset}`,
        xLabel: 'layer',
        yLabel: metric.label,
        xCategories: layers,
        series,
      };
      out.push(figure('layers', spec, `${metric.label} at each evaluated layer on ${dataset}, one line per model.`));
    }
  }
  return out;
}

/** Histogram of per-sample entropy per model, one figure per dataset × layer; shared bins. */
export function distributionFigures(runs: CollectedRun[], samples: Map<CollectedRun, SampleRow[]>): Figure[] {
  const out: Figure[] = [];
  for (const dataset of unique(runs.map((r) => r.summary.dataset.name))) {
    const inDataset = runs.filter((r) => r.summary.dataset.name === dataset && (samples.get(r)?.length ?? 0) > 0);
    const layers = sortedLayers(inDataset.flatMap((r) => samples.get(r)!.map((s) => s.layer)));
    for (const layer of layers) {
      const values = inDataset.map((r) =>
        samples.get(r)!.filter((s) => s.layer === layer && !s.skipped && s.entropy !== null).map((s) => s.entropy!),
      );
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
        id: slug('distribution', dataset, layer),
        title: `Per-sample entropy — ${dataset}, ${layer}`,
        xLabel: 'per-sample entropy (nats)',
        yLabel: 'fraction of samples',
        series,
      };
      out.push(figure('distribution', spec, `Distribution of per-sample matrix entropy at layer ${layer} on ${dataset} (${HIST_BINS} shared bins; skipped samples left out).`));
    }
  }
  return out;
}

/** Diff-eRank and loss side by side, per dataset × layer, where either is present. */
export function diffErankLossFigures(runs: CollectedRun[]): Figure[] {
  const out: Figure[] = [];
  for (const dataset of unique(runs.map((r) => r.summary.dataset.name))) {
    const inDataset = runs.filter((r) => r.summary.dataset.name === dataset);
    const byParams = inDataset.every((r) => typeof r.summary.model.params === 'number' && r.summary.model.params > 0);
    const families = unique(inDataset.map(familyOf)).sort();
    const models = inDataset.map(runLabel);
    const layers = sortedLayers(inDataset.flatMap((r) => r.summary.layers.map((l) => l.layer)));
    for (const layer of layers) {
      const has = (id: string) => inDataset.some((r) => r.summary.layers.some((l) => l.layer === layer && metricById(id).get(l) !== null));
      if (!has('diffErank') && !has('meanLoss')) continue;
      for (const id of ['diffErank', 'meanLoss']) {
        const metric = metricById(id);
        const series: Series[] = families.map((family) => {
          const pts = inDataset
            .filter((r) => familyOf(r) === family)
            .map((r) => {
              const l = r.summary.layers.find((x) => x.layer === layer);
              const y = l ? metric.get(l) : null;
              return { x: byParams ? r.summary.model.params! : models.indexOf(runLabel(r)), y };
            })
            .filter((p): p is { x: number; y: number } => p.y !== null)
            .sort((a, b) => a.x - b.x);
          return { name: family, color: colorOf(families, family), points: pts, line: pts };
        });
        const empty = series.every((s) => !s.points?.length);
        const spec: PlotSpec = {
          id: slug(id === 'diffErank' ? 'differank' : 'loss', dataset, layer),
          title: `${metric.label} — ${dataset}, ${layer}`,
          xLabel: byParams ? 'parameters (log scale)' : 'model',
          yLabel: metric.label,
          ...(byParams ? { xLog: true } : { xCategories: models }),
          series,
          ...(empty ? { note: `no ${metric.label} in these results` } : {}),
          width: 420,
        };
        out.push(figure('diffErankLoss', spec, `${metric.label} at layer ${layer} on ${dataset}, per family.`));
      }
    }
  }
  return out;
}
