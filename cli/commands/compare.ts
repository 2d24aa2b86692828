// `entroscope compare A B`: two evaluations' metrics side by side, per layer, with B − A and the
// relative difference. A and B: summary.json files or evaluation folders (path, file://, s3://).
import type { Command } from 'commander';
import { formatTable } from '../format.ts';

interface CompareOptions {
  json?: boolean;
}

function fmt(v: number | null, digits = 5): string {
  if (v === null) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toPrecision(digits));
}

function pct(v: number | null): string {
  return v === null ? '—' : `${v >= 0 ? '+' : ''}${(v * 100).toFixed(2)}%`;
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('two evaluations side by side: each layer\'s metrics, B − A and the relative difference')
    .argument('<a>', 'summary.json or evaluation folder (path, file://, s3://)')
    .argument('<b>', 'summary.json or evaluation folder (path, file://, s3://)')
    .option('--json', 'print one JSON object')
    .action(async (a: string, b: string, opts: CompareOptions) => {
      const { compareSummaries, loadSummary } = await import('../../src/report/compare.ts');
      const cmp = compareSummaries(await loadSummary(a), await loadSummary(b));
      if (opts.json) {
        process.stdout.write(JSON.stringify(cmp, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `A: ${cmp.a.model} on ${cmp.a.dataset}  (${cmp.a.source})\nB: ${cmp.b.model} on ${cmp.b.dataset}  (${cmp.b.source})\n` +
          cmp.notes.map((n) => `note: ${n}\n`).join('') +
          '\n' +
          formatTable(
            ['layer', 'metric', 'A', 'B', 'B − A', 'relative'],
            cmp.rows.map((r) => [r.layer, r.metric, fmt(r.a), fmt(r.b), fmt(r.diff), pct(r.relative)]),
          ),
      );
    });
}
