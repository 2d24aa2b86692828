// Planning an evaluation of precomputed hidden states (no model): catalog the files (headers only,
// src/hiddenStates/hiddenStatesSource.ts), choose the layers, pair samples with the texts they were
// computed from when given, cut shards by sample ranges and hash exactly the bytes each shard will
// read — the same content-addressed layout as a text evaluation (see ../eval/plan.ts), so re-runs
// skip finished shards and a worker that reads other bytes is caught.
import { basename, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256Json } from '../io/hash.ts';
import { isS3Uri } from '../data/s3ByteSource.ts';
import { scanDataset, type DatasetShard } from '../data/dataset.ts';
import { keySegment } from '../store/storeKey.ts';
import type { EvaluationSpec } from '../eval/evaluationSpec.ts';
import type { HiddenStatesPlan, HiddenStatesShard } from '../eval/plan.ts';
import { catalogHiddenStates, measuredSamples, spanOf, type HiddenLayer } from './hiddenStatesSource.ts';
import { hiddenShardSha256 } from './hiddenShardHash.ts';

/** The layers `requested` names (`all`, `last`, names, stored indices), in request order, without repeats. */
export function selectHiddenLayers(available: HiddenLayer[], requested: string[], uri: string): number[] {
  const out: number[] = [];
  const push = (i: number) => void (out.includes(i) || out.push(i));
  const deepest = available.reduce((best, l, i) => ((l.index ?? Infinity) >= (available[best].index ?? Infinity) ? i : best), 0);
  for (const r of requested) {
    if (r === 'all') available.forEach((_, i) => push(i));
    else if (r === 'last') push(deepest);
    else {
      const i = /^\d+$/.test(r) ? available.findIndex((l) => l.index === Number(r)) : available.findIndex((l) => l.name === r);
      if (i < 0) {
        throw new InputError(`layers: ${r} is not in the hidden states ${uri}; they hold ${available.map((l) => (l.index === null ? l.name : `${l.name} (${l.index})`)).join(', ')} (or all, last)`);
      }
      push(i);
    }
  }
  return out;
}

export async function planHiddenStatesEvaluation(spec: EvaluationSpec, planVersion: number): Promise<HiddenStatesPlan> {
  const hs = spec.hiddenStates!;
  const modelOnly: string[] = (['imageField', 'imageRoot', 'form'] as const).filter((k) => spec[k] !== undefined);
  if (spec.imageTransform !== 'none') modelOnly.push('imageTransform');
  if (modelOnly.length > 0) throw new InputError(`${modelOnly.join(', ')}: only for multimodal models, not for hidden states (${hs.uri})`);
  if (spec.diffErank && !hs.untrained && !spec.untrainedTwin) {
    throw new InputError(
      `diffErank: hidden states ${hs.uri} come without a model to re-initialise; give the untrained twin's hidden states too (--hidden-states-untrained URI, sweep hiddenStatesUntrained:), computed by the same engine on the same texts`,
    );
  }
  const textOnly = (['format', 'textField', 'template', 'nonEmpty', 'limit', 'sample'] as const).filter((k) => spec[k] !== undefined);
  if (!spec.data && textOnly.length > 0) {
    throw new InputError(`${textOnly.join(', ')}: select rows of the texts file, and no texts (data) were given with the hidden states ${hs.uri}; the hidden states hold every sample there is`);
  }
  const uri = isS3Uri(hs.uri) ? hs.uri : resolve(hs.uri);
  const catalog = await catalogHiddenStates({ uri, format: hs.format, layerIds: hs.layerIds, blocks: hs.blocks });
  const chosen = selectHiddenLayers(catalog.layers, spec.layers, uri);
  const layers = chosen.map((i) => catalog.layers[i].name);
  const longest = Math.max(...catalog.samples.map((s) => s.layers[0].rows));
  const maxTokens = spec.maxTokens ?? longest;
  const samples = measuredSamples(catalog.samples, chosen, maxTokens);

  // The texts the states were computed from: row i of the dataset is sample i.
  let texts: HiddenStatesPlan['dataset']['texts'];
  let textShards: DatasetShard[] | undefined;
  if (spec.data) {
    const dataPath = isS3Uri(spec.data) ? spec.data : resolve(spec.data);
    const format = spec.format === 'json' ? undefined : spec.format;
    const scan = await scanDataset(
      { path: dataPath, format, textField: spec.textField, template: spec.template, filter: spec.nonEmpty ? { nonEmpty: spec.nonEmpty } : undefined, limit: spec.limit, sample: spec.sample },
      spec.shardSize,
      { maxRecordBytes: spec.maxRecordBytes },
    );
    if (scan.rows !== samples.length) {
      throw new InputError(`data ${dataPath}: ${scan.rows} texts, but the hidden states ${uri} hold ${samples.length} samples; row i of the texts must be sample i`);
    }
    texts = { path: dataPath, sha256: scan.sha256, source: scan.source };
    textShards = scan.shards;
  }

  const shards: HiddenStatesShard[] = [];
  for (let start = 0, k = 0; start < samples.length; start += spec.shardSize, k++) {
    const part = samples.slice(start, start + spec.shardSize);
    const textShard = textShards?.[k];
    shards.push({
      startRow: start,
      rows: part.length,
      at: { physicalRow: start },
      sha256: await hiddenShardSha256(catalog.files, part, textShard?.sha256 ?? null),
      span: spanOf(catalog, start, part.length),
      ...(textShard ? { texts: textShard } : {}),
    });
  }
  const bytes = catalog.files.reduce((a, f) => a + f.bytes, 0);
  const statesSha256 = sha256Json({
    format: catalog.format,
    layout: catalog.layout,
    files: catalog.files.map((f) => [basename(f.uri), f.bytes]),
    layers: catalog.layers,
    shards: shards.map((s) => s.sha256),
  });
  const configSha256 = sha256Json({ planVersion, kind: 'hiddenStates', shardSize: spec.shardSize, maxTokens, layers, layerIds: hs.layerIds ?? null, blocks: hs.blocks ?? null });
  const name = basename(uri.replace(/\/+$/, '')).replace(/\.(safetensors|npy|arrows?|ipc|feather)$/i, '');
  const modelName = spec.modelName && !spec.untrainedTwin ? spec.modelName : name;
  const datasetSha256 = texts ? sha256Json([statesSha256, texts.sha256]) : statesSha256;
  const datasetName = texts ? basename(texts.path) : name;
  return {
    planVersion,
    kind: 'hiddenStates',
    prefix: `evaluations/${keySegment(name)}-${statesSha256.slice(0, 12)}/${keySegment(datasetName)}-${datasetSha256.slice(0, 12)}/${configSha256.slice(0, 12)}`,
    run: '', // set by planEvaluation
    spec,
    model: {
      name: modelName,
      onnxPath: uri,
      tokenizerPath: '',
      onnxSha256: statesSha256,
      tokenizerSha256: texts?.sha256 ?? '',
      params: spec.params ?? 0,
      ...(hs.blocks ? { blocks: hs.blocks } : {}),
    },
    dataset: { name: datasetName, path: texts?.path ?? uri, rows: samples.length, bytes, sha256: datasetSha256, ...(texts ? { texts } : {}) },
    hiddenStates: {
      uri,
      format: catalog.format,
      layout: catalog.layout,
      files: catalog.files,
      ...(hs.layerIds ? { layerIds: hs.layerIds } : {}),
      ...(catalog.blocks !== undefined ? { blocks: catalog.blocks } : {}),
      available: catalog.layers,
      firstWhere: catalog.firstWhere,
    },
    layers,
    maxTokens,
    maxPositions: null,
    configSha256,
    shards,
  };
}
