// The last step of a sweep: read every evaluation's summary, fit the scaling laws, write the
// report (Markdown tables and the HTML page) and, last, the sweep's manifest (archive index with sizes and sha256 sums).
import { openStore } from '../src/store/openStore.ts';
import { getJson, putJson } from '../src/store/store.ts';
import { archiveSweep } from '../src/sweep/archive.ts';
import { sweepFolder } from '../src/sweep/sweepFolder.ts';
import { sha256 } from '../src/io/hash.ts';
import { resultVersions } from '../src/io/versions.ts';
import { scalingFits } from '../src/report/scalingFits.ts';
import { alignmentTable, fitsSummaryTable, toMarkdown } from '../src/report/tables.ts';
import { buildReport } from '../src/report/report.ts';
import { datasetLabel } from '../src/report/collect.ts';
import type { CollectedRun } from '../src/report/collect.ts';
import type { SweepSpec } from '../src/sweep/sweepSpec.ts';
import type { EvaluationSummary } from '../src/eval/summary.ts';

export interface SweepEvaluation {
  workflowId: string;
  model: string;
  dataset: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  /** Store prefix of the evaluation's outputs, once completed. */
  prefix?: string;
  /** Shards of the (trained) evaluation, and how many of them were computed by this run (the rest were reused). */
  shardsTotal?: number;
  shardsComputed?: number;
  /** Key of the summary.json this sweep's run of it wrote (`<prefix>/runs/<run>/summary.json`). */
  summaryKey?: string;
  error?: string;
}

export interface SweepOutputs {
  manifestUri: string;
  /** The archive's manifest, when the spec names an archive. */
  archiveUri?: string;
  fitsUri: string;
  reportUri: string;
  /** The HTML report (`report/index.html` with its figures); absent in results of older versions. */
  htmlReportUri?: string;
}

const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? '—' : x.toFixed(d));

export async function finishSweep(input: { spec: SweepSpec; sweepId: string; evaluations: SweepEvaluation[] }): Promise<SweepOutputs> {
  const store = openStore(input.spec.store);
  const base = `sweeps/${sweepFolder(input.sweepId)}`;
  const summaries: EvaluationSummary[] = [];
  const runs: CollectedRun[] = [];
  const files = [];
  for (const e of input.evaluations) {
    if (e.status !== 'completed' || !e.prefix || !e.summaryKey) continue;
    // This sweep's own run of the evaluation: its summary and manifest, never a neighbour's.
    const runDir = e.summaryKey.slice(0, e.summaryKey.lastIndexOf('/'));
    for (const name of ['summary.json', 'manifest.json']) {
      const key = `${runDir}/${name}`;
      const bytes = await store.get(key);
      files.push({ key, bytes: bytes.length, sha256: sha256(bytes) });
      if (name === 'summary.json') {
        const summary = JSON.parse(new TextDecoder().decode(bytes)) as EvaluationSummary;
        summaries.push(summary);
        runs.push({ key: e.prefix, uri: store.uriOf(key), summary, sampleKeys: [] });
      }
    }
  }
  // The same fits as `entroscope report` (src/report/scalingFits.ts), so the two never disagree.
  const fits = scalingFits(runs, { seed: input.spec.seed });
  await putJson(store, `${base}/fits.json`, fits);

  const lines = [`# Sweep ${input.sweepId}`, '', '| model | family | params | dataset | layer | erankOfMeanEntropy | meanEntropy | pooledErank | meanLoss | diffErank |', '|---|---|---:|---|---|---:|---:|---:|---:|---:|'];
  for (const s of summaries) {
    for (const l of s.layers) {
      lines.push(`| ${s.model.name} | ${s.model.family ?? ''} | ${s.model.params ?? ''} | ${datasetLabel(s)} | ${l.layer} | ${fmt(l.metrics.erankOfMeanEntropy, 2)} | ${fmt(l.metrics.meanEntropy)} | ${fmt(l.pooled.pooledErank, 2)} | ${fmt(l.meanLoss)} | ${fmt(l.diffErank?.diffErank, 3)} |`);
    }
  }
  const alignment = alignmentTable(runs);
  if (alignment.rows.length) lines.push('', toMarkdown('Image-text alignment', alignment).trimEnd());
  const failed = input.evaluations.filter((e) => e.status === 'failed');
  if (failed.length) {
    lines.push('', '## Failed evaluations', '');
    for (const e of failed) lines.push(`- ${e.model} × ${e.dataset}: ${e.error ?? 'failed'}`);
  }
  // Every fit group (every metric, every depth position, loss once per model), as `entroscope report --format md` lists them.
  lines.push('', toMarkdown('Scaling fits (x = parameter count; form chosen by leave-one-out RMSE)', fitsSummaryTable(fits)).trimEnd());
  const report = new TextEncoder().encode(lines.join('\n') + '\n');
  await store.put(`${base}/report.md`, report);
  // The HTML report beside it (the same page as `entroscope report SWEEP_ID`, without per-sample histograms).
  const html = await buildReport(runs, store, { format: 'html', seed: input.spec.seed, title: `Sweep ${input.sweepId}` });
  const htmlKeys: string[] = [];
  for (const f of html.files) {
    const key = `${base}/report/${f.name}`;
    await store.put(key, typeof f.data === 'string' ? new TextEncoder().encode(f.data) : f.data);
    htmlKeys.push(key);
  }
  // The manifest is written last: the sweep's results are complete when it exists.
  const versions = resultVersions();
  await putJson(store, `${base}/manifest.json`, {
    sweepId: input.sweepId,
    spec: input.spec,
    versions,
    evaluations: input.evaluations,
    files,
  });
  let archiveUri: string | undefined;
  if (input.spec.archive) {
    // Every file the evaluations' manifests list (tables, Grams, plans, summaries), plus the sweep's own.
    const keys = [`${base}/fits.json`, `${base}/report.md`, ...htmlKeys, `${base}/manifest.json`, ...files.map((f) => f.key)];
    for (const f of files.filter((f) => f.key.endsWith('/manifest.json'))) {
      const m = await getJson<{ files: Array<{ key: string }> }>(store, f.key);
      keys.push(...m.files.map((x) => x.key));
    }
    archiveUri = await archiveSweep(store, openStore(input.spec.archive), sweepFolder(input.sweepId), keys, {
      spec: input.spec,
      versions,
      createdAt: new Date().toISOString(),
    });
  }
  return {
    archiveUri,
    manifestUri: store.uriOf(`${base}/manifest.json`),
    fitsUri: store.uriOf(`${base}/fits.json`),
    reportUri: store.uriOf(`${base}/report.md`),
    htmlReportUri: store.uriOf(`${base}/report/index.html`),
  };
}
