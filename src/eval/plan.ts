// Planning an evaluation: hash the model and the dataset, validate every row, cut shards, and name
// every output. Every key is a pure function of (model hash, dataset hash, config hash, shard
// range), so a re-run finds finished work and skips it.
import { basename, resolve } from 'node:path';
import { resolveModelFiles } from '../model/modelRef.ts';
import { scanJsonl, type ShardBoundary } from '../data/jsonlDataset.ts';
import { sha256File, sha256Json } from '../io/hash.ts';
import type { EvaluationSpec } from './evaluationSpec.ts';

export const PLAN_VERSION = 1;

export interface EvaluationPlan {
  planVersion: number;
  /** Store prefix of this evaluation: `evaluations/<model>/<dataset>/<config>`. */
  prefix: string;
  spec: EvaluationSpec;
  model: { name: string; onnxPath: string; tokenizerPath: string; onnxSha256: string; tokenizerSha256: string };
  dataset: { name: string; path: string; rows: number; bytes: number; sha256: string };
  /** Hash of the settings that change results (not of paths, store or parallelism). */
  configSha256: string;
  shards: ShardBoundary[];
}

function slug(name: string): string {
  return name.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 48) || 'x';
}

export async function planEvaluation(spec: EvaluationSpec): Promise<EvaluationPlan> {
  const files = resolveModelFiles(spec.model);
  const dataPath = resolve(spec.data);
  const [onnxSha256, tokenizerSha256, scan] = await Promise.all([
    sha256File(files.onnxPath),
    sha256File(files.tokenizerPath),
    scanJsonl(dataPath, spec.textField, spec.shardSize),
  ]);
  const configSha256 = sha256Json({
    planVersion: PLAN_VERSION,
    textField: spec.textField,
    shardSize: spec.shardSize,
    maxTokens: spec.maxTokens,
    layer: 'last',
  });
  const modelId = `${slug(files.name)}-${sha256Json([onnxSha256, tokenizerSha256]).slice(0, 12)}`;
  const datasetId = `${slug(basename(dataPath))}-${scan.sha256.slice(0, 12)}`;
  return {
    planVersion: PLAN_VERSION,
    prefix: `evaluations/${modelId}/${datasetId}/${configSha256.slice(0, 12)}`,
    spec,
    model: { ...files, onnxSha256, tokenizerSha256 },
    dataset: { name: basename(dataPath), path: dataPath, rows: scan.rows, bytes: scan.bytes, sha256: scan.sha256 },
    configSha256,
    shards: scan.shards,
  };
}

/** Output keys, all under the plan's prefix. */
export const keys = {
  plan: (prefix: string) => `${prefix}/plan.json`,
  shardDir: (prefix: string, s: ShardBoundary) =>
    `${prefix}/shards/${String(s.startRow).padStart(9, '0')}-${String(s.startRow + s.rows).padStart(9, '0')}`,
  shardSamples: (prefix: string, s: ShardBoundary) => `${keys.shardDir(prefix, s)}/samples.arrow`,
  shardGram: (prefix: string, s: ShardBoundary) => `${keys.shardDir(prefix, s)}/gram.arrow`,
  /** Written last by an extraction: its presence means the shard is complete. */
  shardDone: (prefix: string, s: ShardBoundary) => `${keys.shardDir(prefix, s)}/done.json`,
  reduced: (prefix: string, level: number, index: number) =>
    `${prefix}/reduce/level-${level}/${String(index).padStart(6, '0')}.arrow`,
  gram: (prefix: string) => `${prefix}/gram.arrow`,
  summary: (prefix: string) => `${prefix}/summary.json`,
  manifest: (prefix: string) => `${prefix}/manifest.json`,
};
