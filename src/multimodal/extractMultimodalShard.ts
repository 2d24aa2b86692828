// One shard of an image-text dataset, start to finish, without Temporal: read and decode each image
// (optionally perturbed: rotate90 | rotate180 | grayscale | noise), preprocess it as the model's
// preprocessor_config.json says, run the vision-language model batch by batch, then per sample
//   eRank1 … eRank5 (DESIGN §1.9; src/metrics/multimodalAlignment.ts), stored as sample rows whose
//   `layer` is `eRank1` … `eRank5` (so the sample table and its reader stay the same as for text);
//   the requested LLM layers on the image+text sequence, as for a text model: per-sample metrics
//   and one partial Gram S = Σ z zᵀ per layer (the pooled entropy over every image+text token).
import { InputError, TaskCancelledError } from '../errors.ts';
import { PromiseCache } from '../parallel/promiseCache.ts';
import type { GraphOptimization } from '../model/onnxModel.ts';
import { VlmModel, type VlmSample } from './vlmModel.ts';
import { ERANK_PARTS, multimodalSampleMetrics } from '../metrics/multimodalAlignment.ts';
import { sampleMetrics } from '../metrics/sampleMetrics.ts';
import { PooledGram } from '../metrics/pooled.ts';
import { symmetrizeFromUpper } from '../linalg/gram.ts';
import { loadImage } from '../data/imageSource.ts';
import { preprocessImage, type ImagePreprocessor } from '../image/preprocess.ts';
import { transformImage, type ImageTransformName } from '../image/transforms.ts';
import type { PartialGram } from '../arrow/arrowGram.ts';
import { sampleRowOf } from '../arrow/sampleTable.ts';
import type { ExtractedSample, ExtractShardOutput } from '../eval/extractShard.ts';

/** `none` or one of the perturbations the paper uses to test alignment claims. */
export type ImageTransformSetting = 'none' | ImageTransformName;

export interface MultimodalShardRow {
  text: string;
  /** Absolute path or s3:// URI of the image (ImageTextRow.imageRef). */
  imageRef: string;
  /** For messages: `<dataset> line 12, image "images/3.png"`. */
  where: string;
}

export interface ExtractMultimodalShardInput {
  /** The model folder (see src/multimodal/vlmConfig.ts). */
  modelDir: string;
  maxTokens: number;
  batchSize: number;
  intraOpThreads: number;
  /** Dataset row of rows[0]. */
  startRow: number;
  rows: MultimodalShardRow[];
  /** LLM layers measured on the image+text sequence; default `['last']`. */
  layers?: string[];
  imageTransform?: ImageTransformSetting;
  /** noise: standard deviation on the 0–255 scale. */
  noiseSigma?: number;
  /** noise: image of dataset row r gets PRNG seed `seed + r`, so shards do not depend on each other. */
  seed?: number;
  graphOptimization?: GraphOptimization;
}

// One model per folder and settings per thread: four sessions take a while to open.
const models = new PromiseCache<VlmModel>();
function modelFor(input: ExtractMultimodalShardInput): Promise<VlmModel> {
  const opts = { intraOpThreads: input.intraOpThreads, layers: input.layers ?? ['last'], maxTokens: input.maxTokens, graphOptimization: input.graphOptimization ?? 'all' };
  return models.get(JSON.stringify([input.modelDir, opts]), () => VlmModel.load(input.modelDir, opts));
}

/** The pixel_values of one row: decode → perturb → CLIP preprocessing. */
async function pixelsOf(row: MultimodalShardRow, datasetRow: number, pre: ImagePreprocessor, input: ExtractMultimodalShardInput): Promise<Float32Array> {
  let image = await loadImage(row.imageRef, row.where);
  const transform = input.imageTransform ?? 'none';
  if (transform !== 'none') image = transformImage(image, transform, { sigma: input.noiseSigma, seed: (input.seed ?? 0) + datasetRow });
  return preprocessImage(image, pre).pixels;
}

/** `isCancelled` is read before each batch: a cancelled shard stops within one batch. */
export async function extractMultimodalShard(
  input: ExtractMultimodalShardInput,
  onProgress?: (done: number) => void,
  isCancelled?: () => boolean,
): Promise<ExtractShardOutput> {
  if (input.rows.length === 0) throw new InputError(`shard at row ${input.startRow} is empty`);
  const model = await modelFor(input);
  const pre = model.config.preprocessor;
  const layers = model.layers;
  const layerRows: ExtractedSample[][] = layers.map(() => new Array(input.rows.length));
  const partRows: ExtractedSample[][] = ERANK_PARTS.map(() => new Array(input.rows.length));
  const pooled: Array<PooledGram | undefined> = layers.map(() => undefined);
  // eRank3–5 are read at the LLM's last layer, which the plan always includes.
  const last = layers.findIndex((l) => l.name === 'last');
  if (last < 0) throw new Error(`multimodal extraction needs the LLM layer 'last' among [${layers.map((l) => l.name).join(', ')}]`);
  let inferenceMs = 0;
  let metricsMs = 0;
  let tokens = 0;
  for (let b0 = 0; b0 < input.rows.length; b0 += input.batchSize) {
    if (isCancelled?.()) throw new TaskCancelledError(`shard at row ${input.startRow} cancelled after ${b0} of ${input.rows.length} rows`);
    const batch = input.rows.slice(b0, b0 + input.batchSize);
    // Images decode in libvips' own threads, a batch's worth at once; a bad one is reported in row
    // order (the first bad row), whichever finished first.
    const decoded = await Promise.allSettled(batch.map((r, i) => pixelsOf(r, input.startRow + b0 + i, pre, input)));
    const failed = decoded.find((d): d is PromiseRejectedResult => d.status === 'rejected');
    if (failed) throw failed.reason;
    const samples: VlmSample[] = decoded.map((d, i) => ({ text: batch[i].text, pixels: (d as PromiseFulfilledResult<Float32Array>).value }));
    const t0 = performance.now();
    let hidden;
    try {
      hidden = await model.runSamples(samples);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`rows ${input.startRow + b0}…${input.startRow + b0 + batch.length - 1}: ${err.message}`);
      throw err;
    }
    const t1 = performance.now();
    inferenceMs += t1 - t0;
    hidden.forEach((h, i) => {
      const k = b0 + i;
      const row = input.startRow + k;
      const where = batch[i].where;
      tokens += h.imageText[0].rows;
      layers.forEach((layer, l) => {
        const x = h.imageText[l];
        let result;
        try {
          result = sampleMetrics(x.data, x.rows, x.cols);
        } catch (err) {
          throw new InputError(`${where}: LLM layer ${layer.name} (${layer.tensor}): ${(err as Error).message}`);
        }
        if (!result.metrics.skipped) (pooled[l] ??= new PooledGram(x.cols)).add(result.normalized);
        layerRows[l][k] = sampleRowOf(row, layer.name, result.metrics, h.truncated);
      });
      let mm;
      try {
        mm = multimodalSampleMetrics({
          encoderImage: h.encoderImage,
          projectedImage: h.projectedImage,
          imageText: h.imageText[last],
          imageSpan: h.imageSpan,
          textAlone: h.textAlone[last],
        });
      } catch (err) {
        throw new InputError(`${where}: ${(err as Error).message}`);
      }
      ERANK_PARTS.forEach((part, p) => (partRows[p][k] = sampleRowOf(row, part, mm.parts[part], h.truncated)));
    });
    metricsMs += performance.now() - t1;
    onProgress?.(Math.min(b0 + input.batchSize, input.rows.length));
  }
  const covers = [{ start: input.startRow, end: input.startRow + input.rows.length }];
  const grams = layers.map((layer, l): PartialGram => {
    const p = pooled[l] ?? new PooledGram(layerRows[l][0].dim);
    // In place: the shard's pooled Gram is not used again (a copy would double d² × layers × 8 bytes).
    const s = p.s;
    symmetrizeFromUpper(s, p.dim);
    return { dim: p.dim, n: p.n, s, covers, layer: layer.name };
  });
  return {
    samples: [...layerRows.flat(), ...partRows.flat()],
    grams,
    gram: grams[0],
    layers: layers.map((l) => l.name),
    tokens,
    inferenceMs,
    metricsMs,
  };
}
