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
import { readSamples, type HiddenStatesFile, type TensorSlice } from './hiddenStatesSource.ts';
import { sha256Json } from '../io/hash.ts';
import { sampleIdOf } from './sampleId.ts';

export interface ExtractHiddenStatesShardInput {
  files: HiddenStatesFile[];
  /** Dataset row (sample index) of samples[0]. */
  startRow: number;
  samples: Array<{ where: string; layers: TensorSlice[]; text?: string; truncated?: boolean }>;
  /** Names of the layers, in the slices' order. */
  layers: string[];
  /** Texts of the samples from the texts file, when given (already checked against the plan). */
  texts?: string[];
  /** The shard's texts hash from the plan (null without a texts file). */
  textsSha256: string | null;
  /** The plan's shard hash: sha256Json([bytes read, texts file shard, inline texts]). */
  sha256: string;
  /** For messages: which worker read it. */
  worker: string;
}

/** `isCancelled` is read between samples. */
export async function extractHiddenStatesShard(input: ExtractHiddenStatesShardInput, onProgress?: (done: number) => void, isCancelled?: () => boolean): Promise<ExtractShardOutput> {
  if (input.samples.length === 0) throw new InputError(`shard at row ${input.startRow} is empty`);
  const t0 = performance.now();
  const read = await readSamples(input.files, input.samples, true);
  const inline = input.samples.some((s) => s.text !== undefined) ? sha256Json(input.samples.map((s) => s.text ?? null)) : null;
  const actual = sha256Json([read.sha256, input.textsSha256, inline]);
  if (actual !== input.sha256) {
    throw new InputError(
      `hidden states shard at sample ${input.startRow} (${input.samples.length} samples: ${input.samples[0].where} …), read on worker ${input.worker}: ` +
        `its bytes hash to sha256 ${actual}, but the plan has sha256 ${input.sha256} (the files changed since planning, or this worker reads another copy)`,
    );
  }
  const t1 = performance.now();
  const samples: ExtractedSample[][] = input.layers.map(() => []);
  const pooled: Array<PooledGram | undefined> = input.layers.map(() => undefined);
  let tokens = 0;
  input.samples.forEach((s, k) => {
    if (isCancelled?.()) throw new TaskCancelledError(`shard at row ${input.startRow} cancelled after ${k} of ${input.samples.length} samples`);
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
  const covers = [{ start: input.startRow, end: input.startRow + input.samples.length }];
  const grams = input.layers.map((layer, l): PartialGram => {
    const p = pooled[l] ?? new PooledGram(read.samples[0].layers[l].cols);
    const s = p.s.slice();
    symmetrizeFromUpper(s, p.dim);
    return { dim: p.dim, n: p.n, s, covers, layer };
  });
  return { samples: samples.flat(), grams, gram: grams[0], layers: input.layers, tokens, inferenceMs: t1 - t0, metricsMs: performance.now() - t1 };
}
