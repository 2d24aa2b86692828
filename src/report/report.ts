// `entroscope report`: collect every evaluation under a results location, fit each family's scaling
// (scalingFits.ts), draw the figures (figures.ts) and write them with the tables:
//   html  DIR/index.html (self-contained, the headline first) + DIR/figures/<id>.svg and <id>.png
//   md    DIR/report.md      json  DIR/report.json      csv  DIR/results.csv + DIR/fits.csv
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import type { SampleRow } from '../arrow/sampleTable.ts';
import { LOG_LINEAR_MIN_POINTS } from '../fit/logLinearFit.ts';
import { POWER_LAW_OFFSET_MIN_POINTS } from '../fit/powerLawOffsetFit.ts';
import type { ObjectStore } from '../store/store.ts';
import { collectRuns, readSamples, type CollectedRun } from './collect.ts';
import { distributionFigures, headlineFigures, layerFigures, scalingFigures, type Figure } from './figures.ts';
import { headlineSentence } from './fitText.ts';
import { PER_SAMPLE_FORMATS, perSampleTable, toParquet, type PerSampleFormat } from './sampleExport.ts';
import { renderHtml } from './html.ts';
import { svgToPng } from './png.ts';
import { familyOf, scalingFits, type ScalingFit } from './scalingFits.ts';
import { alignmentTable, fitsSummaryTable, fitsTable, modelsTable, resultsTable, toCsv, toMarkdown, toObjects } from './tables.ts';

export const REPORT_FORMATS = ['html', 'md', 'json', 'csv'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportOptions {
  outDir: string;
  format?: ReportFormat;
  /** Bootstrap resamples for fit intervals and bands (default 100). */
  bootstrapResamples?: number;
  seed?: number;
  /** Only this sweep's evaluations (its manifest in the store names them). */
  sweep?: string;
  /** Timestamp shown in the page (default now); fixed in tests. */
  generatedAt?: string;
  /** Also write every per-sample row: samples.csv or samples.parquet. */
  perSample?: PerSampleFormat;
}

export interface ReportResult {
  source: string;
  outDir: string;
  /** Files written, relative to outDir. */
  files: string[];
  runs: number;
  fits: number;
  figures: number;
  messages: string[];
}

/** Notes a reader needs: models left out of fits, family × dataset pairs with too few points. */
export function reportMessages(runs: CollectedRun[], fits: ScalingFit[]): string[] {
  const out: string[] = [];
  for (const run of runs) {
    if (!(typeof run.summary.model.params === 'number' && run.summary.model.params > 0)) {
      out.push(`${run.summary.model.name} on ${run.summary.dataset.name} has no parameter count (model.params): shown, but left out of the scaling fits.`);
    }
  }
  const sizes = new Map<string, { family: string; dataset: string; params: Set<number> }>();
  for (const f of fits) {
    const key = JSON.stringify([f.family, f.dataset]);
    const entry = sizes.get(key) ?? { family: f.family, dataset: f.dataset, params: new Set<number>() };
    f.points.forEach((p) => entry.params.add(p.params));
    sizes.set(key, entry);
  }
  for (const { family, dataset, params } of sizes.values()) {
    const n = params.size;
    if (n < LOG_LINEAR_MIN_POINTS) {
      out.push(`family ${family} on ${dataset}: too few points to fit (${n} model size${n === 1 ? '' : 's'}; log-linear and power-law fits need ${LOG_LINEAR_MIN_POINTS}).`);
    } else if (n < POWER_LAW_OFFSET_MIN_POINTS) {
      out.push(`family ${family} on ${dataset}: ${n} model sizes: log-linear and power law a·x^(−b) compared; a power law with offset needs ${POWER_LAW_OFFSET_MIN_POINTS}.`);
    }
  }
  return out;
}

export interface BuiltReport {
  /** Files relative to the report's folder. */
  files: Array<{ name: string; data: string | Uint8Array }>;
  fits: ScalingFit[];
  figures: Figure[];
  messages: string[];
}

/**
 * The report of `runs` in one format, in memory (the CLI writes it to a folder, a sweep to its
 * store). Per-sample distributions are drawn from the runs' sample files in `store`, when listed.
 */
export async function buildReport(
  runs: CollectedRun[],
  store: ObjectStore,
  opts: { format: ReportFormat; bootstrapResamples?: number; seed?: number; generatedAt?: string; title?: string },
): Promise<BuiltReport> {
  const fitOpts = { bootstrapResamples: opts.bootstrapResamples ?? 100, seed: opts.seed ?? 0 };
  const fits = scalingFits(runs, fitOpts);
  const messages = reportMessages(runs, fits);
  const results = resultsTable(runs);
  const alignment = alignmentTable(runs);
  const withAlignment = alignment.rows.length > 0;
  const files: BuiltReport['files'] = [];
  let figures: Figure[] = [];
  const title = opts.title ?? 'entroscope report';
  switch (opts.format) {
    case 'md':
      files.push({
        name: 'report.md',
        data: [
          `# ${title}`,
          '',
          `${runs.length} evaluations from ${store.uri}.`,
          '',
          ...headlineSentences(fits).map((m) => `- ${m}`),
          '',
          ...messages.map((m) => `- ${m}`),
          '',
          toMarkdown('Models', modelsTable(runs)),
          toMarkdown('Fits (x = parameter count; form chosen by leave-one-out RMSE)', fitsSummaryTable(fits)),
          toMarkdown('Results', results),
          ...(withAlignment ? [toMarkdown('Image-text alignment', alignment)] : []),
        ].join('\n'),
      });
      break;
    case 'json':
      files.push({
        name: 'report.json',
        data: JSON.stringify({ source: store.uri, messages, headline: headlineSentences(fits), models: toObjects(modelsTable(runs)), results: toObjects(results), fits: toObjects(fitsTable(fits)), ...(withAlignment ? { alignment: toObjects(alignment) } : {}) }, null, 2) + '\n',
      });
      break;
    case 'csv':
      files.push({ name: 'results.csv', data: toCsv(results) }, { name: 'fits.csv', data: toCsv(fitsTable(fits)) });
      if (withAlignment) files.push({ name: 'alignment.csv', data: toCsv(alignment) });
      break;
    case 'html': {
      const samples = new Map<CollectedRun, SampleRow[]>();
      for (const run of runs) samples.set(run, await readSamples(store, run));
      figures = [...headlineFigures(runs, fits), ...scalingFigures(fits), ...layerFigures(runs), ...distributionFigures(runs, samples)];
      for (const f of figures) files.push({ name: `figures/${f.id}.svg`, data: f.svg + '\n' }, { name: `figures/${f.id}.png`, data: svgToPng(f.svg) });
      const html = renderHtml({
        title,
        source: store.uri,
        generatedAt: opts.generatedAt ?? new Date().toISOString(),
        runs: runs.length,
        families: [...new Set(runs.map(familyOf))].sort(),
        datasets: [...new Set(runs.map((r) => r.summary.dataset.name))].sort(),
        messages,
        headline: headlineSentences(fits),
        figures,
        models: modelsTable(runs),
        fits: fitsSummaryTable(fits),
        results,
        alignment,
      });
      files.push({ name: 'index.html', data: html });
      break;
    }
  }
  return { files, fits, figures, messages };
}

/** One sentence per family × dataset: normalized entropy of the last layer vs size (DESIGN §1.10). */
export function headlineSentences(fits: ScalingFit[]): string[] {
  return fits.filter((f) => f.metric === 'meanNormalizedEntropy' && f.layer === 'last').map(headlineSentence);
}

export async function writeReport(location: string, opts: ReportOptions): Promise<ReportResult> {
  const format = opts.format ?? 'html';
  if (!REPORT_FORMATS.includes(format)) throw new InputError(`report format "${String(format)}" is not one of ${REPORT_FORMATS.join(', ')}`);
  const { store, runs } = await collectRuns(location, { sweep: opts.sweep });
  const built = await buildReport(runs, store, { format, bootstrapResamples: opts.bootstrapResamples, seed: opts.seed, generatedAt: opts.generatedAt });
  if (opts.perSample) {
    if (!PER_SAMPLE_FORMATS.includes(opts.perSample)) throw new InputError(`per-sample format "${String(opts.perSample)}" is not one of ${PER_SAMPLE_FORMATS.join(', ')}`);
    const samples = new Map<CollectedRun, SampleRow[]>();
    for (const run of runs) samples.set(run, await readSamples(store, run));
    const table = perSampleTable(runs, samples);
    built.files.push(opts.perSample === 'csv' ? { name: 'samples.csv', data: toCsv(table) } : { name: 'samples.parquet', data: toParquet(table) });
  }
  const outDir = resolve(opts.outDir);
  await mkdir(join(outDir, 'figures'), { recursive: true });
  for (const f of built.files) await writeFile(join(outDir, f.name), f.data);
  return { source: store.uri, outDir, files: built.files.map((f) => f.name), runs: runs.length, fits: built.fits.length, figures: built.figures.length, messages: built.messages };
}
