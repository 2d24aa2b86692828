// The report's tables: every number of every evaluation (one row per model × dataset × layer) with
// its provenance, and every scaling fit; written as Markdown, CSV or JSON, and as HTML by html.ts.
import type { Interval } from '../metrics/datasetMetrics.ts';
import { datasetLabel, type CollectedRun } from './collect.ts';
import { FORM_LABEL } from '../fit/scalingLaw.ts';
import { chosenFit, equation, num, paramCount, refusal, slopeOf, slopeText } from './fitText.ts';
import { blockCount, layersByPosition } from './relativeDepth.ts';
import { familyOf, type ScalingFit } from './scalingFits.ts';

export type Cell = string | number | boolean | null;

export interface Table {
  columns: string[];
  rows: Cell[][];
}

const lo = (i: Interval | null | undefined): number | null => i?.low ?? null;
const hi = (i: Interval | null | undefined): number | null => i?.high ?? null;

/** One row per run × layer, with every number and the provenance it came from. */
export function resultsTable(runs: CollectedRun[]): Table {
  const columns = [
    'model', 'family', 'params', 'dataset', 'datasetRows', 'layer', 'dim', 'samplesUsed', 'samplesSkipped',
    'meanEntropy', 'meanEntropySE', 'meanEntropyCI95Low', 'meanEntropyCI95High',
    'erankOfMeanEntropy', 'erankOfMeanEntropyCI95Low', 'erankOfMeanEntropyCI95High',
    'meanErank', 'meanErankSE', 'meanErankCI95Low', 'meanErankCI95High',
    'meanNormalizedEntropy', 'meanNormalizedEntropySE', 'meanNormalizedEntropyCI95Low', 'meanNormalizedEntropyCI95High',
    'pooledEntropy', 'pooledErank', 'pooledNormalizedEntropy', 'pooledRows',
    'meanLoss', 'diffErank', 'diffErankRatio', 'untrainedErankOfMeanEntropy', 'reducedLoss',
    'seed', 'onnxSha256', 'tokenizerSha256', 'datasetSha256', 'configSha256', 'versions', 'summary',
  ];
  const rows: Cell[][] = [];
  for (const run of runs) {
    const s = run.summary;
    const versions = Object.entries(s.versions ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
    for (const l of s.layers) {
      const m = l.metrics;
      rows.push([
        s.model.name, familyOf(run), s.model.params ?? null, datasetLabel(s), s.dataset.rows, l.layer, l.dim, m.samplesUsed, m.samplesSkipped,
        m.meanEntropy, m.meanEntropySE, lo(m.meanEntropyCI95), hi(m.meanEntropyCI95),
        m.erankOfMeanEntropy, lo(m.erankOfMeanEntropyCI95), hi(m.erankOfMeanEntropyCI95),
        m.meanErank, m.meanErankSE, lo(m.meanErankCI95), hi(m.meanErankCI95),
        m.meanNormalizedEntropy, m.meanNormalizedEntropySE, lo(m.meanNormalizedEntropyCI95), hi(m.meanNormalizedEntropyCI95),
        l.pooled?.pooledEntropy ?? null, l.pooled?.pooledErank ?? null, l.pooled?.pooledNormalizedEntropy ?? null, l.pooled?.n ?? null,
        l.meanLoss ?? null, l.diffErank?.diffErank ?? null, l.diffErank?.ratio ?? null, l.diffErank?.untrainedErankOfMeanEntropy ?? null, l.reducedLoss ?? null,
        s.seed, s.model.onnxSha256, s.model.tokenizerSha256, s.dataset.sha256, s.configSha256, versions, run.uri,
      ]);
    }
  }
  return { columns, rows };
}

/**
 * Image-text alignment of multimodal runs (DESIGN §1.9): one row per model × dataset × image
 * perturbation, the clean run first, each perturbed run with its change against the clean one (the
 * paper rotates images and sees alignment fall).
 */
export function alignmentTable(runs: CollectedRun[]): Table {
  const columns = [
    'model', 'dataset', 'imageTransform', 'samplesUsed', 'samplesSkipped',
    'eRank1', 'eRank2', 'eRank3', 'eRank4', 'eRank5',
    'imageReductionRatio', 'imageReductionRatioCI95Low', 'imageReductionRatioCI95High',
    'imageTextAlignment', 'imageTextAlignmentCI95Low', 'imageTextAlignmentCI95High',
    'meanSampleImageReductionRatio', 'meanSampleImageTextAlignment',
    'alignmentChangeVsClean', 'summary',
  ];
  const mm = runs.filter((r) => r.summary.multimodal);
  const order = (t: string) => (t === 'none' ? '' : t);
  mm.sort((a, b) => {
    const [x, y] = [a.summary, b.summary];
    return x.model.name.localeCompare(y.model.name) || x.dataset.name.localeCompare(y.dataset.name) || order(x.multimodal!.imageTransform).localeCompare(order(y.multimodal!.imageTransform));
  });
  const rows: Cell[][] = mm.map((run) => {
    const s = run.summary;
    const a = s.multimodal!.alignment;
    const clean = mm.find((r) => r.summary.model.onnxSha256 === s.model.onnxSha256 && r.summary.dataset.sha256 === s.dataset.sha256 && r.summary.multimodal!.imageTransform === 'none');
    const cleanAlignment = clean?.summary.multimodal!.alignment.imageTextAlignment ?? null;
    const change = s.multimodal!.imageTransform !== 'none' && cleanAlignment !== null && a.imageTextAlignment !== null ? a.imageTextAlignment - cleanAlignment : null;
    return [
      s.model.name, s.dataset.name, s.multimodal!.imageTransform, a.samplesUsed, a.samplesSkipped,
      a.meanErank.eRank1.mean, a.meanErank.eRank2.mean, a.meanErank.eRank3.mean, a.meanErank.eRank4.mean, a.meanErank.eRank5.mean,
      a.imageReductionRatio, lo(a.imageReductionRatioCI95), hi(a.imageReductionRatioCI95),
      a.imageTextAlignment, lo(a.imageTextAlignmentCI95), hi(a.imageTextAlignmentCI95),
      a.meanSampleImageReductionRatio.mean, a.meanSampleImageTextAlignment.mean,
      change, run.uri,
    ];
  });
  return { columns, rows };
}

/**
 * Every candidate form of every fit group, with full-precision numbers (for csv/json): one row per
 * group × form, `chosen` marking the form the report draws, `status` saying why a form is not used.
 */
export function fitsTable(fits: ScalingFit[]): Table {
  const columns = [
    'family', 'dataset', 'metric', 'layer', 'points', 'fit', 'chosen', 'a', 'aLow', 'aHigh', 'b', 'bLow', 'bHigh', 'c', 'cLow', 'cHigh', 'r2',
    'looRmse', 'rangeLow', 'rangeHigh', 'pearsonWithLoss', 'spearmanWithLoss', 'status',
  ];
  const rows: Cell[][] = [];
  for (const f of fits) {
    const corr = f.lossCorrelation?.ok ? f.lossCorrelation : null;
    const range: Cell[] = [Number.isFinite(f.law.range.low) ? f.law.range.low : null, Number.isFinite(f.law.range.high) ? f.law.range.high : null];
    for (const cand of f.law.candidates) {
      const r = cand.fit;
      const head: Cell[] = [f.family, f.dataset, f.metric, f.layer, f.points.length, cand.form, f.law.chosen === cand.form];
      if (!r.ok) {
        rows.push([...head, ...Array<Cell>(11).fill(null), ...range, null, null, r.reason]);
        continue;
      }
      const p = r.params as Record<string, number>;
      const iv = r.intervals as Record<string, Interval> | null;
      const triple = (k: string): Cell[] => (k in p ? [p[k], iv?.[k]?.low ?? null, iv?.[k]?.high ?? null] : [null, null, null]);
      rows.push([...head, ...triple('a'), ...triple('b'), ...triple('c'), r.r2, cand.looRmse, ...range, corr?.pearson ?? null, corr?.spearman ?? null, cand.usable ? 'ok' : `not used: ${cand.reason}`]);
    }
  }
  return { columns, rows };
}

/**
 * One row per fit group, as a reader wants it (html, md): the chosen form and its equation, the
 * slope with its 95% interval, R², leave-one-out RMSE, rank correlation with loss, or why no form.
 */
export function fitsSummaryTable(fits: ScalingFit[]): Table {
  const columns = ['family', 'dataset', 'metric', 'layer', 'n', 'fit', 'equation', 'slope [95% CI]', 'R²', 'LOO RMSE', 'ρ with loss', 'note'];
  const rows: Cell[][] = [];
  // A family too small for any fit gets one row, not one per metric and layer.
  const tooSmall = new Set<string>();
  for (const f of fits) {
    const c = chosenFit(f);
    const cand = f.law.candidates.find((x) => x.form === f.law.chosen);
    const rho = f.lossCorrelation?.ok ? num(f.lossCorrelation.spearman, 2) : null;
    const head: Cell[] = [f.family, f.dataset, f.metric, f.layer, f.points.length];
    if (!c || !f.law.chosen || !cand) {
      const why = refusal(f);
      if (why.startsWith('too few sizes')) {
        const key = JSON.stringify([f.family, f.dataset]);
        if (tooSmall.has(key)) continue;
        tooSmall.add(key);
        rows.push([f.family, f.dataset, '(every metric)', '(every layer)', f.points.length, 'none', null, null, null, null, null, why]);
        continue;
      }
      rows.push([...head, 'none', null, null, null, null, rho, why]);
      continue;
    }
    const slope = slopeOf(f.law.chosen, c.params, c.intervals as Record<string, Interval> | null);
    const others = f.law.candidates.filter((x) => x.form !== f.law.chosen);
    const note = others.map((o) => `${FORM_LABEL[o.form]}: ${o.usable ? `LOO RMSE ${num(o.looRmse!)}` : o.reason}`).join('; ');
    const what = f.law.chosen === 'logLinear' ? 'per 10×' : 'exponent';
    rows.push([...head, FORM_LABEL[f.law.chosen], equation(f.law.chosen, c.params), `${what} ${slopeText(slope)}`, c.r2.toFixed(3), num(cand.looRmse!), rho, note]);
  }
  return { columns, rows };
}

/** One row per evaluation: the model, its size and loss (once, not per layer), its last layer's numbers. */
export function modelsTable(runs: CollectedRun[]): Table {
  const columns = ['model', 'family', 'params', 'blocks', 'dataset', 'samples', 'last layer', 'd', 'normalized entropy', 'eRank', 'mean eRank', 'Diff-eRank', 'mean loss (nats/token)', 'ΔL'];
  const rows: Cell[][] = runs.map((run) => {
    const s = run.summary;
    const last = layersByPosition(s).find((p) => p.position === 'last')?.layer ?? s.layers[s.layers.length - 1];
    const lossLayer = s.layers.find((l) => typeof l.meanLoss === 'number');
    const blocks = blockCount(s);
    return [
      s.model.name, familyOf(run), typeof s.model.params === 'number' ? paramCount(s.model.params) : null, blocks > 0 ? blocks : null, datasetLabel(s), last.metrics.samplesUsed,
      last.layer, last.dim, last.metrics.meanNormalizedEntropy, last.metrics.erankOfMeanEntropy, last.metrics.meanErank, last.diffErank?.diffErank ?? null,
      lossLayer?.meanLoss ?? null, lossLayer?.reducedLoss ?? null,
    ];
  });
  return { columns, rows };
}

/** Numbers as printed in md/html: 5 significant digits at most, large counts as 124M; text as it is. */
export function formatCell(v: Cell): string {
  if (v === null) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return Math.abs(v) >= 1e6 ? paramCount(v) : String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toPrecision(5));
  }
  return String(v);
}

export function toMarkdown(title: string, table: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `## ${title}`,
    '',
    `| ${table.columns.join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map((c) => esc(formatCell(c))).join(' | ')} |`),
    '',
  ].join('\n');
}

/** RFC 4180: quote fields with commas, quotes or line breaks; full precision numbers. */
export function toCsv(table: Table): string {
  const field = (c: Cell) => {
    const s = c === null ? '' : String(c);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [table.columns, ...table.rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

export function toObjects(table: Table): Array<Record<string, Cell>> {
  return table.rows.map((r) => Object.fromEntries(table.columns.map((c, i) => [c, r[i]])));
}
