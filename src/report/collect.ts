// Finds every evaluation under a results location — a local folder, `file://…` or `s3://bucket/prefix`
// (a store root, or any folder below it) — by its summary.json, and reads the per-sample rows of its
// shards (`shards/*/samples.arrow`) on demand.
import { InputError } from '../errors.ts';
import { samplesFromArrow, type SampleRow } from '../arrow/sampleTable.ts';
import { openStore } from '../store/openStore.ts';
import { getJson, type ObjectStore } from '../store/store.ts';
import type { EvaluationSummary } from '../eval/summary.ts';
import { sweepFolder } from '../sweep/sweepFolder.ts';

export interface CollectedRun {
  /** Key of the evaluation's folder in the store ('' when the location is the folder itself). */
  key: string;
  /** URI of its summary.json. */
  uri: string;
  summary: EvaluationSummary;
  /** Keys of its samples.arrow files, sorted (shard order). */
  sampleKeys: string[];
}

export interface Collected {
  location: string;
  store: ObjectStore;
  runs: CollectedRun[];
}

const SUMMARY = 'summary.json';

function parentKey(key: string): string {
  const i = key.lastIndexOf('/');
  return i < 0 ? '' : key.slice(0, i);
}

/** The evaluation folder (shards) of a summary's folder: a summary lives in `<evaluation>/runs/<run>/`. */
function evaluationKey(summaryDir: string): string {
  const m = /(^|\/)runs\/[^/]+$/.exec(summaryDir);
  return m ? summaryDir.slice(0, m.index) : summaryDir;
}

/**
 * Every summary.json under the location, in key order — or, with `sweep`, only the evaluations that
 * sweep completed (from `sweeps/<id>/manifest.json` in that store). Throws InputError when there is none.
 */
export async function collectRuns(location: string, opts: { sweep?: string } = {}): Promise<Collected> {
  let store: ObjectStore;
  try {
    store = openStore(location);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  const keys = await store.list('');
  let only: Set<string> | undefined;
  if (opts.sweep) {
    const manifestKey = `sweeps/${sweepFolder(opts.sweep)}/manifest.json`;
    let manifest: { evaluations: Array<{ status: string; prefix?: string; summaryKey?: string }> };
    try {
      manifest = await getJson(store, manifestKey);
    } catch (err) {
      throw new InputError(`no finished sweep ${opts.sweep} in ${store.uri} (${(err as Error).message})`);
    }
    // The sweep's own runs (summaryKey); sweeps recorded before runs had folders name the prefix.
    only = new Set(manifest.evaluations.filter((e) => e.status === 'completed' && e.prefix).map((e) => (e.summaryKey ? parentKey(e.summaryKey) : e.prefix!)));
  }
  const runs: CollectedRun[] = [];
  for (const key of keys) {
    if (!(key === SUMMARY || key.endsWith('/' + SUMMARY))) continue;
    const dir = parentKey(key);
    if (only && !only.has(dir)) continue;
    let summary: EvaluationSummary;
    try {
      summary = await getJson<EvaluationSummary>(store, key);
    } catch (err) {
      throw new InputError(`${store.uriOf(key)}: not a readable summary (${(err as Error).message})`);
    }
    if (!summary?.model?.name || !Array.isArray(summary.layers)) {
      throw new InputError(`${store.uriOf(key)}: not an evaluation summary (no model.name or layers)`);
    }
    const evaluation = evaluationKey(dir);
    const shardPrefix = evaluation ? `${evaluation}/shards/` : 'shards/';
    const sampleKeys = keys.filter((k) => k.startsWith(shardPrefix) && k.endsWith('/samples.arrow'));
    // An untrained twin is a Diff-eRank baseline, reported through its trained model, not a model of its own.
    if (summary.model.untrainedTwin) continue;
    runs.push({ key: dir, uri: store.uriOf(key), summary, sampleKeys });
  }
  if (!runs.length) throw new InputError(`no evaluation results (summary.json) under ${store.uri}`);
  return { location, store, runs };
}

/** The dataset's name, with the image perturbation of a perturbed multimodal run: `data.jsonl (rotate90)`. */
export function datasetLabel(s: EvaluationSummary): string {
  const t = s.multimodal?.imageTransform;
  return t && t !== 'none' ? `${s.dataset.name} (${t})` : s.dataset.name;
}

/** Per-sample rows of one run, every shard and layer. */
export async function readSamples(store: ObjectStore, run: CollectedRun): Promise<SampleRow[]> {
  const rows: SampleRow[] = [];
  for (const key of run.sampleKeys) rows.push(...samplesFromArrow(await store.get(key), store.uriOf(key)));
  return rows;
}
