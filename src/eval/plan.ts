// Planning an evaluation: hash the model and the dataset, validate every row, cut shards, and name
// every output. Every key is a pure function of (model hash, dataset hash, config hash, shard
// range), so a re-run finds finished work and skips it.
import { basename, resolve } from 'node:path';
import { localModelFiles } from '../model/modelFetch.ts';
import { countParameters } from '../model/parameterCount.ts';
import { checkTokenizerAgainst } from '../model/vocabCheck.ts';
import { scanDataset, type DatasetShard, type DatasetSource, type ResolvedDatasetSource } from '../data/dataset.ts';
import { modelTaps, resolveLayers } from '../model/onnxTaps.ts';
import { graphFacts } from '../model/graphFacts.ts';
import { maxPositionsOf, resolveMaxTokens, type MaxPositions } from '../model/maxPositions.ts';
import { sha256File, sha256Json } from '../io/hash.ts';
import type { ResolvedImageTextSource } from '../data/imageTextDataset.ts';
import { planMultimodalEvaluation } from '../multimodal/planMultimodal.ts';
import { isMultimodalModel, VLM_PART_FILES } from '../multimodal/vlmConfig.ts';
import { InputError } from '../errors.ts';
import type { EvaluationSpec } from './evaluationSpec.ts';
import { keySegment } from '../store/storeKey.ts';

export const PLAN_VERSION = 2;

interface PlanCommon {
  planVersion: number;
  /** Store prefix of this evaluation: `evaluations/<model>/<dataset>/<config>`. */
  prefix: string;
  spec: EvaluationSpec;
  /** Multimodal: onnxPath is the LLM part and onnxSha256 the hash of every part's hash. */
  model: {
    name: string;
    onnxPath: string;
    tokenizerPath: string;
    onnxSha256: string;
    tokenizerSha256: string;
    params: number;
    /** Attention blocks in the graph (0: structure not recognised); absent in older plans. */
    blocks?: number;
  };
  /** Resolved tap names, in request order (e.g. `embeddings`, `block.2`, `last`). */
  layers: string[];
  /** Tokens kept per text: `spec.maxTokens`, else the model's limit (maxPositions.ts). */
  maxTokens: number;
  /** The model's limit, when config.json or the graph tells it. */
  maxPositions: MaxPositions | null;
  /** Hash of the settings that change results (not of paths, store or parallelism). */
  configSha256: string;
  shards: DatasetShard[];
}

/** A text model over a text dataset (plans written before multimodal support have no `kind`). */
export interface TextPlan extends PlanCommon {
  kind?: 'text';
  dataset: { name: string; path: string; rows: number; bytes: number; sha256: string; source: ResolvedDatasetSource };
}

/** A vision-language model over an image-text dataset (src/multimodal/planMultimodal.ts). */
export interface MultimodalPlan extends PlanCommon {
  kind: 'multimodal';
  /** sha256: the content address of the rows and every image they name. */
  dataset: { name: string; path: string; rows: number; bytes: number; sha256: string; source: ResolvedImageTextSource };
  multimodal: {
    modelDir: string;
    /** sha256 of each part of the model folder. */
    parts: Record<string, string>;
    images: number;
    imageBytes: number;
    imagesSha256: string;
    imageTransform: EvaluationSpec['imageTransform'];
    noiseSigma: number;
  };
}

export type EvaluationPlan = TextPlan | MultimodalPlan;

export async function planEvaluation(spec: EvaluationSpec): Promise<EvaluationPlan> {
  if (isMultimodalModel(spec.model)) return planMultimodalEvaluation(spec, PLAN_VERSION);
  const imageOnly: string[] = (['imageField', 'imageRoot', 'form'] as const).filter((k) => spec[k] !== undefined);
  if (spec.imageTransform !== 'none') imageOnly.push('imageTransform');
  if (spec.format === 'json') imageOnly.push('format json');
  if (imageOnly.length > 0) {
    throw new InputError(`${imageOnly.join(', ')}: only for multimodal models, and ${spec.model} is a text model (no ${VLM_PART_FILES.visionEncoder})`);
  }
  const format = spec.format === 'json' ? undefined : spec.format;
  // s3:// models are fetched into this worker's cache; extraction workers fetch their own copy.
  const files = await localModelFiles(spec.model);
  const dataPath = resolve(spec.data);
  const source: DatasetSource = {
    path: dataPath,
    format,
    textField: spec.textField,
    template: spec.template,
    filter: spec.nonEmpty ? { nonEmpty: spec.nonEmpty } : undefined,
    limit: spec.limit,
    sample: spec.sample,
  };
  const [tokenizerSha256, scan, listing] = await Promise.all([
    sha256File(files.tokenizerPath),
    scanDataset(source, spec.shardSize, { maxRecordBytes: spec.maxRecordBytes }),
    modelTaps(files.onnxPath), // hashes the model, lists its taps (cached)
  ]);
  const onnxSha256 = listing.sha256;
  // An unknown layer fails here, before any shard runs, listing the ones that exist.
  const layers = resolveLayers(listing.taps, spec.layers, files.onnxPath).map((t) => t.name);
  // A tokenizer that emits ids the embedding does not have would fail (or worse) mid-run.
  const facts = graphFacts(files.onnxPath, listing);
  checkTokenizerAgainst(files.tokenizerPath, files.onnxPath, facts.embedding);
  // A text longer than the model's positions would fail inference; the default is that limit.
  const maxPositions = maxPositionsOf(files.onnxPath, facts.positionTable) ?? null;
  const maxTokens = resolveMaxTokens(spec.maxTokens, maxPositions ?? undefined, files.name);
  const params = spec.params ?? (await countParameters(files.onnxPath, { listing: { ...listing, model: listing.model ?? facts.model } }));
  const { path: _path, ...selection } = scan.source;
  const configSha256 = sha256Json({
    planVersion: PLAN_VERSION,
    selection,
    shardSize: spec.shardSize,
    maxTokens,
    layers,
    loss: spec.loss,
  });
  const modelId = `${keySegment(files.name)}-${sha256Json([onnxSha256, tokenizerSha256]).slice(0, 12)}`;
  const datasetId = `${keySegment(basename(dataPath))}-${scan.sha256.slice(0, 12)}`;
  return {
    planVersion: PLAN_VERSION,
    kind: 'text',
    prefix: `evaluations/${modelId}/${datasetId}/${configSha256.slice(0, 12)}`,
    spec,
    // The display name; the store key above keeps the file's name, so renaming a model reuses its shards.
    model: { ...files, name: spec.modelName && !spec.untrainedTwin ? spec.modelName : files.name, onnxSha256, tokenizerSha256, params, blocks: listing.taps.blocks },
    dataset: { name: basename(dataPath), path: dataPath, rows: scan.rows, bytes: scan.bytes, sha256: scan.sha256, source: scan.source },
    layers,
    maxTokens,
    maxPositions,
    configSha256,
    shards: scan.shards,
  };
}

/** Output keys, all under the plan's prefix. */
export const keys = {
  plan: (prefix: string) => `${prefix}/plan.json`,
  shardDir: (prefix: string, s: DatasetShard) =>
    `${prefix}/shards/${String(s.startRow).padStart(9, '0')}-${String(s.startRow + s.rows).padStart(9, '0')}`,
  /** Per-sample rows of every layer. */
  shardSamples: (prefix: string, s: DatasetShard) => `${keys.shardDir(prefix, s)}/samples.arrow`,
  shardGram: (prefix: string, s: DatasetShard, layer: string) => `${keys.shardDir(prefix, s)}/gram-${layer}.arrow`,
  /** Written last by an extraction: its presence means the shard is complete. */
  shardDone: (prefix: string, s: DatasetShard) => `${keys.shardDir(prefix, s)}/done.json`,
  reduced: (prefix: string, layer: string, level: number, index: number) =>
    `${prefix}/reduce/${layer}/level-${level}/${String(index).padStart(6, '0')}.arrow`,
  gram: (prefix: string, layer: string) => `${prefix}/gram-${layer}.arrow`,
  summary: (prefix: string) => `${prefix}/summary.json`,
  manifest: (prefix: string) => `${prefix}/manifest.json`,
};
