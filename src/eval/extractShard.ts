// One shard, start to finish, without Temporal: tokenise → run the model batch by batch → per
// sample metrics of the real (unpadded) tokens → the shard's partial Gram S = Σ z zᵀ and n.
import { InputError } from '../errors.ts';
import { OnnxModel } from '../model/onnxModel.ts';
import { TextTokenizer } from '../model/tokenizer.ts';
import { sampleMetrics } from '../metrics/sampleMetrics.ts';
import { PooledGram } from '../metrics/pooled.ts';
import { symmetrizeFromUpper } from '../linalg/gram.ts';
import type { SampleRow } from '../arrow/sampleTable.ts';
import type { PartialGram } from '../arrow/arrowGram.ts';

export interface ExtractShardInput {
  onnxPath: string;
  tokenizerPath: string;
  maxTokens: number;
  batchSize: number;
  intraOpThreads: number;
  /** Dataset row of texts[0]. */
  startRow: number;
  texts: string[];
}

export interface ExtractShardOutput {
  samples: SampleRow[];
  gram: PartialGram;
  tokens: number;
  inferenceMs: number;
  metricsMs: number;
}

const LAYER = 'last';

// One session and tokenizer per model per thread: loading MiniLM takes ~100 ms, a shard far less.
const models = new Map<string, Promise<OnnxModel>>();
const tokenizers = new Map<string, TextTokenizer>();

function modelFor(path: string, intraOpThreads: number): Promise<OnnxModel> {
  let m = models.get(path);
  if (!m) {
    m = OnnxModel.load(path, { intraOpThreads });
    m.catch(() => models.delete(path));
    models.set(path, m);
  }
  return m;
}

function tokenizerFor(path: string, maxTokens: number): TextTokenizer {
  const key = `${path}#${maxTokens}`;
  let t = tokenizers.get(key);
  if (!t) tokenizers.set(key, (t = TextTokenizer.load(path, maxTokens)));
  return t;
}

export async function extractShard(input: ExtractShardInput, onProgress?: (done: number) => void): Promise<ExtractShardOutput> {
  const model = await modelFor(input.onnxPath, input.intraOpThreads);
  const { ids, truncated } = await tokenizerFor(input.tokenizerPath, input.maxTokens).encode(input.texts);

  // Batch texts of similar length together so little compute goes to padding; the metrics do not
  // depend on the batching (padding rows never enter them).
  const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
  const samples: SampleRow[] = new Array(ids.length);
  let pooled: PooledGram | undefined;
  let inferenceMs = 0;
  let metricsMs = 0;
  let tokens = 0;
  for (let b0 = 0; b0 < order.length; b0 += input.batchSize) {
    const members = order.slice(b0, b0 + input.batchSize);
    const t0 = performance.now();
    const out = await model.run(members.map((i) => ids[i]));
    const t1 = performance.now();
    inferenceMs += t1 - t0;
    pooled ??= new PooledGram(out.dim);
    members.forEach((i, b) => {
      const n = ids[i].length;
      tokens += n;
      const x = out.hidden.subarray(b * out.seqLen * out.dim, (b * out.seqLen + n) * out.dim);
      const row = input.startRow + i;
      let result;
      try {
        result = sampleMetrics(x, n, out.dim);
      } catch (err) {
        throw new InputError(`dataset row ${row}, layer ${LAYER} (${model.hiddenOutput}): ${(err as Error).message}`);
      }
      const m = result.metrics;
      if (!m.skipped) pooled!.add(result.normalized);
      samples[i] = {
        row,
        layer: LAYER,
        tokens: n,
        truncated: truncated[i],
        dim: out.dim,
        skipped: m.skipped,
        skipReason: m.skipReason ?? null,
        droppedRows: m.droppedRows,
        entropy: m.entropy ?? null,
        normalizedEntropy: m.normalizedEntropy ?? null,
        erank: m.erank ?? null,
        renyi2: m.renyi2 ?? null,
        nuclearNorm: m.nuclearNorm ?? null,
      };
    });
    metricsMs += performance.now() - t1;
    onProgress?.(Math.min(b0 + input.batchSize, order.length));
  }
  if (!pooled) throw new InputError(`shard at row ${input.startRow} is empty`);
  const s = pooled.s.slice();
  symmetrizeFromUpper(s, pooled.dim);
  return {
    samples,
    gram: { dim: pooled.dim, n: pooled.n, s, covers: [{ start: input.startRow, end: input.startRow + input.texts.length }], layer: LAYER },
    tokens,
    inferenceMs,
    metricsMs,
  };
}
