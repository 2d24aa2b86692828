// Planning an evaluation: hash the model and the dataset, validate every row, cut shards, and name
// every output. Shard outputs are keyed by (model hash, dataset hash, config hash, shard range), so a
// re-run finds finished work and skips it; reductions also by their fan-in; and what depends on
// more than that (plan.json, the summary, the manifest: seed, Diff-eRank, family, params, fan-in)
// lives under `runs/<run>/`, where `run` is the hash of the whole plan.
import { basename, resolve } from 'node:path';
import { localModelFiles } from '../model/modelFetch.ts';
import { countParameters } from '../model/parameterCount.ts';
import { checkTokenizerAgainst } from '../model/vocabCheck.ts';
import { isS3Uri } from '../data/s3ByteSource.ts';
import { scanDataset, type DatasetShard, type DatasetSource, type ResolvedDatasetSource } from '../data/dataset.ts';
import { modelTaps, resolveLayers } from '../model/onnxTaps.ts';
import { graphFacts } from '../model/graphFacts.ts';
import { maxPositionsOf, resolveMaxTokens, type MaxPositions } from '../model/maxPositions.ts';
import { sha256File, sha256Json } from '../io/hash.ts';
import type { ResolvedImageTextSource } from '../data/imageTextDataset.ts';
import { planMultimodalEvaluation } from '../multimodal/planMultimodal.ts';
import { planHiddenStatesEvaluation } from '../hiddenStates/planHiddenStates.ts';
import type { HiddenLayer, HiddenStatesFile, ShardSpan } from '../hiddenStates/hiddenStatesSource.ts';
import type { HiddenStatesFormat } from '../hiddenStates/hiddenStatesFormats.ts';
import { isMultimodalModel, VLM_PART_FILES } from '../multimodal/vlmConfig.ts';
import { InputError } from '../errors.ts';
import type { EvaluationSpec } from './evaluationSpec.ts';
import { keySegment } from '../store/storeKey.ts';

export const PLAN_VERSION = 3;

/** Spec fields that change how a run goes, never what it writes: kept out of the plan and its hash. */
export const OPERATIONAL_FIELDS = ['store', 'maxParallelShards', 'maxParallelChunks', 'heartbeatSeconds', 'allowMixedVersions'] as const;
export type ResultSpec = Omit<EvaluationSpec, (typeof OPERATIONAL_FIELDS)[number]>;

export function resultSpec(spec: EvaluationSpec): ResultSpec {
  const out: Record<string, unknown> = { ...spec };
  for (const f of OPERATIONAL_FIELDS) delete out[f];
  return out as ResultSpec;
}

interface PlanCommon {
  planVersion: number;
  /** Store prefix of this evaluation: `evaluations/<model>/<dataset>/<config>`. */
  prefix: string;
  /**
   * sha256 (16 hex) of everything else in the plan: the folder `runs/<run>/` of this run's plan,
   * summary and manifest. Two runs that differ in anything that changes those files differ here.
   */
  run: string;
  spec: ResultSpec;
  /**
   * Multimodal: onnxPath is the LLM part and onnxSha256 the hash of every part's hash. A model in S3
   * is named by its URIs (each worker fetches its own copy), never by a worker's local cache path.
   */
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

/** Hidden states computed elsewhere, evaluated without a model (src/hiddenStates/planHiddenStates.ts). */
export interface HiddenStatesPlan extends PlanCommon {
  kind: 'hiddenStates';
  /** sha256: of the layout and of every byte the shards read, plus the texts when given. */
  dataset: { name: string; path: string; rows: number; bytes: number; sha256: string; texts?: { path: string; sha256: string; source: ResolvedDatasetSource } };
  shards: HiddenStatesShard[];
  hiddenStates: {
    uri: string;
    format: HiddenStatesFormat;
    layout: string;
    files: HiddenStatesFile[];
    layerIds?: number[];
    /** L when known: names HF index L `final`. */
    blocks?: number;
    /** Every layer the files hold (`layers` above: the ones measured). */
    available: HiddenLayer[];
    /** The first sample, which every other is checked against. */
    firstWhere: string;
  };
}

/**
 * A range of samples: where they are (files and the first one's position; a worker re-reads those
 * files' headers, so the plan stays small however many samples and layers) and the sha256 of the
 * bytes it reads.
 */
export interface HiddenStatesShard extends DatasetShard {
  span: ShardSpan;
  /** The shard of the texts file read for these samples (same rows). */
  texts?: DatasetShard;
}

export type EvaluationPlan = TextPlan | MultimodalPlan | HiddenStatesPlan;

/** A spec that names a model (and so a dataset), narrowed once where planning branches. */
export type ModelEvaluationSpec = EvaluationSpec & { model: string; data: string };

/** The plan of an evaluation (see the file comment), the same on whichever worker makes it. */
export async function planEvaluation(spec: EvaluationSpec): Promise<EvaluationPlan> {
  const body = spec.hiddenStates
    ? await planHiddenStatesEvaluation(spec, PLAN_VERSION)
    : isMultimodalModel(spec.model!)
      ? await planMultimodalEvaluation(spec as ModelEvaluationSpec, PLAN_VERSION)
      : await planTextEvaluation(spec as ModelEvaluationSpec);
  const { run: _run, ...rest } = { ...body, spec: resultSpec(spec) };
  return { ...rest, run: sha256Json(rest).slice(0, 16) } as EvaluationPlan;
}

/** Where a model's files are, as the plan names them: its s3:// URIs for a model in S3. */
function modelLocations(location: string, local: { onnxPath: string; tokenizerPath: string }): { onnxPath: string; tokenizerPath: string } {
  if (!isS3Uri(location)) return local;
  const trimmed = location.replace(/\/+$/, '');
  const folder = trimmed.endsWith('.onnx') ? trimmed.slice(0, trimmed.lastIndexOf('/')) : trimmed;
  return { onnxPath: `${folder}/${basename(local.onnxPath)}`, tokenizerPath: `${folder}/${basename(local.tokenizerPath)}` };
}

async function planTextEvaluation(spec: ModelEvaluationSpec): Promise<TextPlan> {
  const imageOnly: string[] = (['imageField', 'imageRoot', 'form'] as const).filter((k) => spec[k] !== undefined);
  if (spec.imageTransform !== 'none') imageOnly.push('imageTransform');
  if (spec.format === 'json') imageOnly.push('format json');
  if (imageOnly.length > 0) {
    throw new InputError(`${imageOnly.join(', ')}: only for multimodal models, and ${spec.model} is a text model (no ${VLM_PART_FILES.visionEncoder})`);
  }
  const format = spec.format === 'json' ? undefined : spec.format;
  // s3:// models are fetched into this worker's cache; extraction workers fetch their own copy.
  const files = await localModelFiles(spec.model);
  const dataPath = isS3Uri(spec.data) ? spec.data : resolve(spec.data);
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
    run: '',
    spec,
    // The display name; the store key above keeps the file's name, so renaming a model reuses its shards.
    model: {
      ...modelLocations(spec.model, files),
      name: spec.modelName && !spec.untrainedTwin ? spec.modelName : files.name,
      onnxSha256,
      tokenizerSha256,
      params,
      blocks: listing.taps.blocks,
    },
    dataset: { name: basename(dataPath), path: dataPath, rows: scan.rows, bytes: scan.bytes, sha256: scan.sha256, source: scan.source },
    layers,
    maxTokens,
    maxPositions,
    configSha256,
    shards: scan.shards,
  };
}

/** Output keys, all under the plan's prefix; a run's own files under `runs/<run>/`. */
export const keys = {
  runDir: (prefix: string, run: string) => `${prefix}/runs/${run}`,
  plan: (prefix: string, run: string) => `${keys.runDir(prefix, run)}/plan.json`,
  shardDir: (prefix: string, s: DatasetShard) =>
    `${prefix}/shards/${String(s.startRow).padStart(9, '0')}-${String(s.startRow + s.rows).padStart(9, '0')}`,
  /** Per-sample rows of every layer. */
  shardSamples: (prefix: string, s: DatasetShard) => `${keys.shardDir(prefix, s)}/samples.arrow`,
  shardGram: (prefix: string, s: DatasetShard, layer: string) => `${keys.shardDir(prefix, s)}/gram-${layer}.arrow`,
  /** Written last by an extraction: its presence means the shard is complete. */
  shardDone: (prefix: string, s: DatasetShard) => `${keys.shardDir(prefix, s)}/done.json`,
  /** The engine versions shards of this prefix were extracted with, one file per distinct runtime. */
  runtimes: (prefix: string) => `${prefix}/runtimes/`,
  runtime: (prefix: string, runtimeSha256: string) => `${prefix}/runtimes/${runtimeSha256.slice(0, 16)}.json`,
  /** A node of the reduction tree of fan-in k (other fan-ins sum in another order: other bits). */
  reduced: (prefix: string, fanIn: number, layer: string, level: number, index: number) =>
    `${prefix}/reduce/k${fanIn}/${layer}/level-${level}/${String(index).padStart(6, '0')}.arrow`,
  gram: (prefix: string, run: string, layer: string) => `${keys.runDir(prefix, run)}/gram-${layer}.arrow`,
  summary: (prefix: string, run: string) => `${keys.runDir(prefix, run)}/summary.json`,
  results: (prefix: string, run: string) => `${keys.runDir(prefix, run)}/results.json`,
  manifest: (prefix: string, run: string) => `${keys.runDir(prefix, run)}/manifest.json`,
};
