// Two evaluations side by side (`entroscope compare A B`): each metric of each layer, with the
// difference B − A and the relative difference (B − A)/|A|. A and B are summary.json files or
// evaluation folders, local or in a store (file://, s3://).
import { readFile } from 'node:fs/promises';
import { InputError } from '../errors.ts';
import type { EvaluationSummary } from '../eval/summary.ts';
import { openStore } from '../store/openStore.ts';
import { getJson } from '../store/store.ts';
import { collectRuns } from './collect.ts';
import { REPORT_METRICS } from './metrics.ts';

export interface ComparisonRow {
  layer: string;
  metric: string;
  a: number | null;
  b: number | null;
  /** b − a. */
  diff: number | null;
  /** (b − a)/|a|; null when a is 0 or either is missing. */
  relative: number | null;
}

export interface Comparison {
  a: { source: string; model: string; dataset: string; configSha256: string };
  b: { source: string; model: string; dataset: string; configSha256: string };
  /** Differences in provenance worth knowing (different datasets, seeds, versions). */
  notes: string[];
  rows: ComparisonRow[];
}

/** A summary from a summary.json (path or URI) or from a folder holding exactly one evaluation. */
export async function loadSummary(location: string): Promise<{ source: string; summary: EvaluationSummary }> {
  if (location.endsWith('.json')) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
      const slash = location.lastIndexOf('/');
      const store = openStore(location.slice(0, slash));
      return { source: location, summary: await getJson<EvaluationSummary>(store, location.slice(slash + 1)) };
    }
    let text: string;
    try {
      text = await readFile(location, 'utf8');
    } catch {
      throw new InputError(`summary not found: ${location}`);
    }
    try {
      return { source: location, summary: JSON.parse(text) as EvaluationSummary };
    } catch (err) {
      throw new InputError(`${location}: not JSON (${(err as Error).message})`);
    }
  }
  const { runs } = await collectRuns(location);
  if (runs.length !== 1) {
    throw new InputError(`${location} holds ${runs.length} evaluations; name one of them:\n${runs.map((r) => `  ${r.uri}`).join('\n')}`);
  }
  return { source: runs[0].uri, summary: runs[0].summary };
}

export function compareSummaries(a: { source: string; summary: EvaluationSummary }, b: { source: string; summary: EvaluationSummary }): Comparison {
  const layers = [...a.summary.layers.map((l) => l.layer)];
  for (const l of b.summary.layers) if (!layers.includes(l.layer)) layers.push(l.layer);
  const rows: ComparisonRow[] = [];
  for (const layer of layers) {
    const la = a.summary.layers.find((l) => l.layer === layer);
    const lb = b.summary.layers.find((l) => l.layer === layer);
    for (const metric of REPORT_METRICS) {
      const va = la ? metric.get(la) : null;
      const vb = lb ? metric.get(lb) : null;
      if (va === null && vb === null) continue;
      const diff = va !== null && vb !== null ? vb - va : null;
      rows.push({ layer, metric: metric.id, a: va, b: vb, diff, relative: diff !== null && va !== 0 ? diff / Math.abs(va!) : null });
    }
  }
  const notes: string[] = [];
  const [sa, sb] = [a.summary, b.summary];
  if (sa.dataset.sha256 !== sb.dataset.sha256) notes.push(`different datasets: ${sa.dataset.name} (${sa.dataset.sha256.slice(0, 12)}) vs ${sb.dataset.name} (${sb.dataset.sha256.slice(0, 12)})`);
  if (sa.seed !== sb.seed) notes.push(`different seeds: ${sa.seed} vs ${sb.seed}`);
  for (const k of new Set([...Object.keys(sa.versions ?? {}), ...Object.keys(sb.versions ?? {})])) {
    if (sa.versions?.[k] !== sb.versions?.[k]) notes.push(`${k}: ${sa.versions?.[k] ?? '—'} vs ${sb.versions?.[k] ?? '—'}`);
  }
  const side = (x: { source: string; summary: EvaluationSummary }) => ({
    source: x.source,
    model: x.summary.model.name,
    dataset: x.summary.dataset.name,
    configSha256: x.summary.configSha256,
  });
  return { a: side(a), b: side(b), notes, rows };
}
