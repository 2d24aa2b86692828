// One layer of one batch: every member's per-sample metrics (DESIGN §1.1–1.5), each sample's kept
// unit rows written one after another into `z`, so z[0, kept·dim) is the layer's Z for the pooled
// rank-k update (a skipped sample's rows are overwritten by the next). extractShard runs it on its
// own thread, and for every other layer on a helper thread while a core is idle (sampleHelper.ts):
// the same function either way, so the results do not depend on which thread ran it.
import { InputError } from '../errors.ts';
import { sampleMetrics, type SampleMetrics } from '../metrics/sampleMetrics.ts';

export interface LayerSamplesInput {
  /** The layer's output for the batch: batch × seqLen × dim, row-major (padding after each sample). */
  hidden: Float32Array;
  seqLen: number;
  dim: number;
  /** Real tokens of each batch member, in batch order. */
  lengths: number[];
  /** Dataset row of each batch member (for errors). */
  rows: number[];
  /** The layer as errors name it, e.g. `layer block.3 (/model/layers.3/Add_1_output_0)`. */
  where: string;
  /** Receives Z: at least Σ lengths × dim. */
  z: Float64Array;
}

export interface LayerSamplesOutput {
  /** Per member, in batch order. */
  metrics: SampleMetrics[];
  /** Rows of Z written (the kept rows of the samples that were not skipped). */
  kept: number;
}

export function layerSamples(input: LayerSamplesInput): LayerSamplesOutput {
  const { hidden, seqLen, dim, z } = input;
  let kept = 0;
  const metrics = input.lengths.map((n, b) => {
    const x = hidden.subarray(b * seqLen * dim, (b * seqLen + n) * dim);
    let result;
    try {
      result = sampleMetrics(x, n, dim, { out: z.subarray(kept * dim) });
    } catch (err) {
      throw new InputError(`dataset row ${input.rows[b]}, ${input.where}: ${(err as Error).message}`);
    }
    if (!result.metrics.skipped) kept += result.normalized.kept;
    return result.metrics;
  });
  return { metrics, kept };
}
