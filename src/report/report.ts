// `entroscope report`: collect every evaluation under a results location, fit each family's scaling
// (scalingFits.ts), draw the figures (figures.ts) and write them with the tables:
//   html  DIR/index.html (self-contained) + DIR/figures/<id>.svg and <id>.png
//   md    DIR/report.md      json  DIR/report.json      csv  DIR/results.csv + DIR/fits.csv
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import type { SampleRow } from '../arrow/sampleTable.ts';
import { LOG_LINEAR_MIN_POINTS } from '../fit/logLinearFit.ts';
import { POWER_LAW_MIN_POINTS } from '../fit/powerLawFit.ts';
import { collectRuns, readSamples, type CollectedRun } from './collect.ts';
import { diffErankLossFigures, distributionFigures, layerFigures, scalingFigures, type Figure } from './figures.ts';
import { renderHtml } from './html.ts';
import { svgToPng } from './png.ts';
import { familyOf, scalingFits, type ScalingFit } from './scalingFits.ts';
import { alignmentTable, fitsTable, resultsTable, toCsv, toMarkdown, toObjects } from './tables.ts';

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
      out.push(`family ${family} on ${dataset}: too few points to fit (${n} model size${n === 1 ? '' : 's'}; a log-linear fit needs ${LOG_LINEAR_MIN_POINTS}, a power law ${POWER_LAW_MIN_POINTS}).`);
    } else if (n < POWER_LAW_MIN_POINTS) {
      out.push(`family ${family} on ${dataset}: too few points for a power-law fit (${n} model sizes; it needs ${POWER_LAW_MIN_POINTS}); log-linear fit only.`);
    }
  }
  return out;
}

export async function writeReport(location: string, opts: ReportOptions): Promise<ReportResult> {
  const format = opts.format ?? 'html';
  if (!REPORT_FORMATS.includes(format)) throw new InputError(`report format "${String(format)}" is not one of ${REPORT_FORMATS.join(', ')}`);
  const fitOpts = { bootstrapResamples: opts.bootstrapResamples ?? 100, seed: opts.seed ?? 0 };
  const { store, runs } = await collectRuns(location, { sweep: opts.sweep });
  const fits = scalingFits(runs, fitOpts);
  const messages = reportMessages(runs, fits);
  const results = resultsTable(runs);
  const fitRows = fitsTable(fits);
  const alignment = alignmentTable(runs);
  const withAlignment = alignment.rows.length > 0;
  const outDir = resolve(opts.outDir);
  await mkdir(outDir, { recursive: true });
  const files: string[] = [];
  const write = async (name: string, data: string | Uint8Array) => {
    await writeFile(join(outDir, name), data);
    files.push(name);
  };
  let figures: Figure[] = [];

  switch (format) {
    case 'md':
      await write(
        'report.md',
        [`# entroscope report`, '', `${runs.length} evaluations from ${store.uri}.`, '', ...messages.map((m) => `- ${m}`), '', toMarkdown('Results', results), toMarkdown('Fits', fitRows), ...(withAlignment ? [toMarkdown('Image-text alignment', alignment)] : [])].join('\n'),
      );
      break;
    case 'json':
      await write('report.json', JSON.stringify({ source: store.uri, messages, results: toObjects(results), fits: toObjects(fitRows), ...(withAlignment ? { alignment: toObjects(alignment) } : {}) }, null, 2) + '\n');
      break;
    case 'csv':
      await write('results.csv', toCsv(results));
      await write('fits.csv', toCsv(fitRows));
      if (withAlignment) await write('alignment.csv', toCsv(alignment));
      break;
    case 'html': {
      const samples = new Map<CollectedRun, SampleRow[]>();
      for (const run of runs) samples.set(run, await readSamples(store, run));
      figures = [...scalingFigures(fits, fitOpts), ...diffErankLossFigures(runs), ...layerFigures(runs), ...distributionFigures(runs, samples)];
      await mkdir(join(outDir, 'figures'), { recursive: true });
      for (const f of figures) {
        await write(`figures/${f.id}.svg`, f.svg + '\n');
        await write(`figures/${f.id}.png`, svgToPng(f.svg));
      }
      const html = renderHtml({
        source: store.uri,
        generatedAt: opts.generatedAt ?? new Date().toISOString(),
        runs: runs.length,
        families: [...new Set(runs.map(familyOf))].sort(),
        datasets: [...new Set(runs.map((r) => r.summary.dataset.name))].sort(),
        messages,
        figures,
        fits: fitRows,
        results,
        alignment,
      });
      await write('index.html', html);
      break;
    }
  }
  return { source: store.uri, outDir, files, runs: runs.length, fits: fits.length, figures: figures.length, messages };
}
