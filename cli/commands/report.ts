// `entroscope report RESULTS`: scaling fits, figures and tables of every evaluation under a results
// folder or store (a local path, file://… or s3://bucket/prefix).
//
//   entroscope report RESULTS [-o DIR]                 DIR/index.html + DIR/figures/*.svg, *.png
//   entroscope report RESULTS --format md|json|csv     the tables only
//   … --per-sample csv|parquet                          also every per-sample row
import type { Command } from 'commander';
import { InputError } from '../../src/errors.ts';

interface ReportCliOptions {
  sweep?: string;
  temporal?: string;
  namespace: string;
  stateDir: string;
  output: string;
  format: string;
  bootstrap: string;
  seed: string;
  perSample?: string;
}

function nonNegativeInt(value: string, flag: string): number {
  const n = Number(value);
  if (!(Number.isInteger(n) && n >= 0)) throw new InputError(`${flag} must be a non-negative integer, got ${value}`);
  return n;
}

function parsePerSample(value: string): 'csv' | 'parquet' {
  if (value !== 'csv' && value !== 'parquet') throw new InputError(`--per-sample must be csv or parquet, got ${value}`);
  return value;
}

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('fit scaling laws and write an HTML report (figures as SVG + PNG) or tables of every evaluation under a results folder or store')
    .argument('<results>', 'results folder or store (a path, file://DIR or s3://bucket/prefix), or a sweep ID')
    .option('--sweep <id>', "only this sweep's evaluations (from its manifest in the store)")
    .option('--temporal <host:port>', 'where to look a sweep ID up (default $TEMPORAL_ADDRESS, else the embedded dev server)')
    .option('--namespace <ns>', 'Temporal namespace', process.env.TEMPORAL_NAMESPACE ?? 'default')
    .option('--state-dir <dir>', 'embedded dev server database', process.env.ENTROSCOPE_STATE ?? '.entroscope')
    .option('-o, --output <dir>', 'output folder', 'entroscope-report')
    .option('--format <fmt>', 'html (page + figures) | md | json | csv (tables only)', 'html')
    .option('--bootstrap <n>', 'bootstrap resamples for fit intervals and bands', '100')
    .option('--seed <n>', 'seed of the bootstrap', '0')
    .option('--per-sample <fmt>', 'also write every per-sample row (model, layer, dataset row, metrics): csv | parquet')
    .action(async (results: string, opts: ReportCliOptions) => {
      const { writeReport, REPORT_FORMATS } = await import('../../src/report/report.ts');
      const format = opts.format as (typeof REPORT_FORMATS)[number];
      if (!REPORT_FORMATS.includes(format)) throw new InputError(`--format must be one of ${REPORT_FORMATS.join(', ')}, got ${opts.format}`);
      let location = results;
      let sweep = opts.sweep;
      const { existsSync } = await import('node:fs');
      if (!/[\\/]/.test(results) && !existsSync(results)) {
        // No path separator and no such folder: a sweep ID, whose spec (on Temporal) names its store.
        const { sweepStore } = await import('../actions/sweep.ts');
        location = await sweepStore(results, opts);
        sweep = results;
      }
      const r = await writeReport(location, {
        sweep,
        outDir: opts.output,
        format,
        bootstrapResamples: nonNegativeInt(opts.bootstrap, '--bootstrap'),
        seed: nonNegativeInt(opts.seed, '--seed'),
        ...(opts.perSample ? { perSample: parsePerSample(opts.perSample) } : {}),
      });
      for (const m of r.messages) process.stderr.write(`entroscope: note: ${m}\n`);
      const main = r.files.find((f) => !f.startsWith('figures/'));
      process.stdout.write(
        `${r.runs} evaluation${r.runs === 1 ? '' : 's'} from ${r.source}; ${r.fits} fit group${r.fits === 1 ? '' : 's'}` +
          (format === 'html' ? `, ${r.figures} figures (SVG + PNG)` : '') +
          `\nwrote ${r.outDir}/${format === 'csv' ? '{results,fits}.csv' : main}` +
          (opts.perSample ? ` and ${r.outDir}/samples.${opts.perSample}` : '') +
          '\n',
      );
    });
}
