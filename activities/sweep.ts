// The last step of a sweep: read every evaluation's summary, fit the scaling laws, write the
// report tables and, last, the sweep's manifest (archive index with sizes and sha256 sums).
import { openStore } from '../src/store/openStore.ts';
import { getJson, putJson } from '../src/store/store.ts';
import { archiveSweep } from '../src/sweep/archive.ts';
import { sha256 } from '../src/io/hash.ts';
import { resultVersions } from '../src/io/versions.ts';
import { scalingFits } from '../src/report/scalingFits.ts';
import { alignmentTable, toMarkdown } from '../src/report/tables.ts';
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
}

const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined ? '—' : x.toFixed(d));

export async function finishSweep(input: { spec: SweepSpec; sweepId: string; evaluations: SweepEvaluation[] }): Promise<SweepOutputs> {
  const store = openStore(input.spec.store);
  const base = `sweeps/${input.sweepId.replace(/[^A-Za-z0-9._-]+/g, '_')}`;
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
  lines.push('', '## Scaling fits (x = parameter count)', '');
  for (const f of fits.filter((f) => f.metric === 'erankOfMeanEntropy')) {
    const pl = f.powerLaw.ok ? `a=${f.powerLaw.params.a.toPrecision(4)}, b=${f.powerLaw.params.b.toPrecision(4)}, c=${f.powerLaw.params.c.toPrecision(4)}, R²=${f.powerLaw.r2.toFixed(3)}` : f.powerLaw.reason;
    const ll = f.logLinear.ok ? `a=${f.logLinear.params.a.toPrecision(4)}, b=${f.logLinear.params.b.toPrecision(4)}, R²=${f.logLinear.r2.toFixed(3)}` : f.logLinear.reason;
    lines.push(`- ${f.family} / ${f.dataset} / ${f.layer} / ${f.metric}: power law: ${pl}; log-linear: ${ll}`);
  }
  const report = new TextEncoder().encode(lines.join('\n') + '\n');
  await store.put(`${base}/report.md`, report);
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
    const keys = [`${base}/fits.json`, `${base}/report.md`, `${base}/manifest.json`, ...files.map((f) => f.key)];
    for (const f of files.filter((f) => f.key.endsWith('/manifest.json'))) {
      const m = await getJson<{ files: Array<{ key: string }> }>(store, f.key);
      keys.push(...m.files.map((x) => x.key));
    }
    archiveUri = await archiveSweep(store, openStore(input.spec.archive), input.sweepId.replace(/[^A-Za-z0-9._-]+/g, '_'), keys, {
      spec: input.spec,
      versions,
      createdAt: new Date().toISOString(),
    });
  }
  return { archiveUri, manifestUri: store.uriOf(`${base}/manifest.json`), fitsUri: store.uriOf(`${base}/fits.json`), reportUri: store.uriOf(`${base}/report.md`) };
}
