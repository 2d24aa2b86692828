// Planning a multimodal evaluation (a LLaVA-style model folder × an image-text dataset): hash every
// model part and every image, check the model's parts fit together, validate every row, cut shards
// and name the outputs — the same content-addressed layout as a text evaluation (see ../eval/plan.ts),
// so re-runs skip finished shards. The image perturbation is part of the configuration hash: a
// rotated run and a clean run of the same model and data are two evaluations side by side.
import { basename, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256File, sha256Json } from '../io/hash.ts';
import { modelTaps, resolveLayers } from '../model/onnxTaps.ts';
import { countParameters } from '../model/parameterCount.ts';
import { scanImageTextDataset, type ImageTextSource } from '../data/imageTextDataset.ts';
import { locateVlmParts, readVlmConfig, VLM_PART_FILES, type VlmPart } from './vlmConfig.ts';
import { VLM_DEFAULT_MAX_TOKENS, VlmModel } from './vlmModel.ts';
import type { ModelEvaluationSpec, MultimodalPlan } from '../eval/plan.ts';
import { keySegment } from '../store/storeKey.ts';

export async function planMultimodalEvaluation(spec: ModelEvaluationSpec, planVersion: number): Promise<MultimodalPlan> {
  const dir = resolve(spec.model);
  if (spec.diffErank) {
    throw new InputError(`diffErank: not available for vision-language models yet (${dir}): untrain re-initialises one ONNX graph, and this model has four parts`);
  }
  const paths = locateVlmParts(dir);
  readVlmConfig(paths); // a bad config.json fails here, naming the field
  const dataPath = /^s3:\/\//.test(spec.data) ? spec.data : resolve(spec.data);
  if (spec.format === 'txt') throw new InputError(`data: a folder of .txt files has no images; give JSONL, JSON, CSV, Parquet or Arrow rows with an image column`);
  const source: ImageTextSource = {
    path: dataPath,
    format: spec.format,
    form: spec.form,
    imageField: spec.imageField,
    textField: spec.textField,
    template: spec.template,
    imageRoot: spec.imageRoot,
    allowAbsoluteImages: spec.allowAbsoluteImages,
    filter: spec.nonEmpty ? { nonEmpty: spec.nonEmpty } : undefined,
    limit: spec.limit,
    sample: spec.sample,
  };
  const partNames = Object.keys(VLM_PART_FILES) as VlmPart[];
  const [partHashes, scan, listing] = await Promise.all([
    Promise.all(partNames.map((p) => sha256File(paths[p]))),
    scanImageTextDataset(source, spec.shardSize, { maxRecordBytes: spec.maxRecordBytes }),
    modelTaps(paths.decoder),
  ]);
  const parts = Object.fromEntries(partNames.map((p, i) => [p, partHashes[i]])) as Record<VlmPart, string>;
  // eRank3–5 are read at the LLM's last layer, so `last` is always measured.
  const requested = spec.layers.includes('last') ? spec.layers : [...spec.layers, 'last'];
  const layers = resolveLayers(listing.taps, requested, paths.decoder).map((t) => t.name);
  // Opening the model checks every part's inputs and outputs, the projector's width against the
  // LLM's, and the tokenizer against the embedding, before any shard runs.
  // maxTokens caps the caption's own tokens here (not the image + text sequence): the text default stays.
  const maxTokens = spec.maxTokens ?? VLM_DEFAULT_MAX_TOKENS;
  const model = await VlmModel.load(dir, { layers, maxTokens, intraOpThreads: 1 });
  await model.release();
  const params =
    spec.params ??
    (await Promise.all([paths.visionEncoder, paths.projector, paths.embedTokens, paths.decoder].map((p) => countParameters(p)))).reduce((a, b) => a + b, 0);
  const { path: _path, ...selection } = scan.source;
  const configSha256 = sha256Json({
    planVersion,
    kind: 'multimodal',
    selection,
    shardSize: spec.shardSize,
    maxTokens,
    layers,
    imageTransform: spec.imageTransform,
    ...(spec.imageTransform === 'noise' ? { noiseSigma: spec.noiseSigma, noiseSeed: spec.seed } : {}),
  });
  const modelSha256 = sha256Json(parts);
  const modelId = `${keySegment(basename(dir))}-${modelSha256.slice(0, 12)}`;
  const datasetId = `${keySegment(basename(dataPath))}-${scan.contentSha256.slice(0, 12)}`;
  const transform = spec.imageTransform === 'none' ? '' : `-${spec.imageTransform}`;
  return {
    planVersion,
    kind: 'multimodal',
    prefix: `evaluations/${modelId}/${datasetId}/${configSha256.slice(0, 12)}${transform}`,
    run: '', // set by planEvaluation
    spec,
    model: { name: basename(dir), onnxPath: paths.decoder, tokenizerPath: paths.tokenizer, onnxSha256: modelSha256, tokenizerSha256: parts.tokenizer, params },
    dataset: { name: basename(dataPath), path: dataPath, rows: scan.rows, bytes: scan.bytes, sha256: scan.contentSha256, source: scan.source },
    multimodal: {
      modelDir: dir,
      parts,
      images: scan.images,
      imageBytes: scan.imageBytes,
      imagesSha256: scan.imagesSha256,
      imageTransform: spec.imageTransform,
      noiseSigma: spec.noiseSigma,
    },
    layers,
    maxTokens,
    maxPositions: null,
    configSha256,
    shards: scan.shards,
  };
}
