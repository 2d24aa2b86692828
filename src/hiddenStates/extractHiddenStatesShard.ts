// One shard of precomputed hidden states, start to finish, without Temporal: read the shard's
// tensors (one byte range per file, local or s3://), check that the bytes are those the planner
// hashed, then per sample and layer the DESIGN §1 metrics and one partial Gram S = Σ z zᵀ per layer
// — what src/eval/extractShard.ts does after inference, with the inference done elsewhere.
import { InputError, TaskCancelledError } from '../errors.ts';
import { sampleMetrics } from '../metrics/sampleMetrics.ts';
import { PooledGram } from '../metrics/pooled.ts';
import { symmetrizeFromUpper } from '../linalg/gram.ts';
import { sampleRowOf } from '../arrow/sampleTable.ts';
import type { PartialGram } from '../arrow/arrowGram.ts';
import type { ExtractedSample, ExtractShardOutput } from '../eval/extractShard.ts';
import { measuredSamples, readSamples, samplesOfSpan, type HiddenLayer, type HiddenStatesFile, type ShardSpan } from './hiddenStatesSource.ts';
import type { HiddenStatesFormat } from './hiddenStatesFormats.ts';
import { shardSha256 } from './hiddenShardHash.ts';
import { sampleIdOf } from './sampleId.ts';

export interface ExtractHiddenStatesShardInput {
  /** The plan's description of the files (HiddenStatesPlan.hiddenStates). */
  hiddenStates: { files: HiddenStatesFile[]; format: HiddenStatesFormat; layerIds?: number[]; blocks?: number; available: HiddenLayer[]; firstWhere: string };
  /** Where the shard's samples are. */
  span: ShardSpan;
  /** Dataset row (sample index) of the shard's first sample. */
  startRow: number;
  /** Names of the layers to measure, in order (among hiddenStates.available). */
  layers: string[];
  maxTokens: number;
  /** Texts of the samples from the texts file, when given (already checked against the plan). */
  texts?: string[];
  /** The shard's texts hash from the plan (null without a texts file). */
  textsSha256: string | null;
  /** The plan's shard hash (hiddenShardHash.ts). */
  sha256: string;
  /** For messages: which worker read it. */
  worker: string;
}

/** `isCancelled` is read between samples. */
export async function extractHiddenStatesShard(input: ExtractHiddenStatesShardInput, onProgress?: (done: number) => void, isCancelled?: () => boolean): Promise<ExtractShardOutput> {
  const t0 = performance.now();
  const chosen = input.layers.map((name) => input.hiddenStates.available.findIndex((l) => l.name === name));
  if (chosen.some((i) => i < 0)) throw new InputError(`layers ${input.layers.join(', ')}: not all in the hidden states (${input.hiddenStates.available.map((l) => l.name).join(', ')})`);
  // The shard's samples from its files' headers, measured as the planner measured them.
  const measured = measuredSamples(await samplesOfSpan(input.hiddenStates, input.span), chosen, input.maxTokens);
  if (measured.length === 0) throw new InputError(`shard at row ${input.startRow} is empty`);
  const read = await readSamples(input.hiddenStates.files, measured, true);
  const actual = shardSha256(read.sha256, input.textsSha256, measured);
  if (actual !== input.sha256) {
    throw new InputError(
      `hidden states shard at sample ${input.startRow} (${measured.length} samples: ${measured[0].where} …), read on worker ${input.worker}: ` +
        `its bytes hash to sha256 ${actual}, but the plan has sha256 ${input.sha256} (the files changed since planning, or this worker reads another copy)`,
    );
  }
  const t1 = performance.now();
  const samples: ExtractedSample[][] = input.layers.map(() => []);
  const pooled: Array<PooledGram | undefined> = input.layers.map(() => undefined);
  let tokens = 0;
  measured.forEach((s, k) => {
    if (isCancelled?.()) throw new TaskCancelledError(`shard at row ${input.startRow} cancelled after ${k} of ${measured.length} samples`);
    const row = input.startRow + k;
    const x = read.samples[k];
    const id = sampleIdOf(input.texts?.[k] ?? s.text, x.layers[0].data);
    tokens += x.layers[0].rows;
    input.layers.forEach((layer, l) => {
      const m = x.layers[l];
      let result;
      try {
        result = sampleMetrics(m.data, m.rows, m.cols);
      } catch (err) {
        throw new InputError(`${s.where}${s.layers[l].tensor ? `, tensor '${s.layers[l].tensor}'` : ''}, layer ${layer} (sample ${row}): ${(err as Error).message}`);
      }
      if (!result.metrics.skipped) (pooled[l] ??= new PooledGram(m.cols)).add(result.normalized);
      samples[l].push({ ...sampleRowOf(row, layer, result.metrics, s.truncated === true), sampleId: id });
    });
    onProgress?.(k + 1);
  });
  const covers = [{ start: input.startRow, end: input.startRow + measured.length }];
  const grams = input.layers.map((layer, l): PartialGram => {
    const p = pooled[l] ?? new PooledGram(read.samples[0].layers[l].cols);
    // In place: the shard's pooled Gram is not used again (a copy would double d² × layers × 8 bytes).
    const s = p.s;
    symmetrizeFromUpper(s, p.dim);
    return { dim: p.dim, n: p.n, s, covers, layer };
  });
  return { samples: samples.flat(), grams, gram: grams[0], layers: input.layers, tokens, inferenceMs: t1 - t0, metricsMs: performance.now() - t1 };
}
