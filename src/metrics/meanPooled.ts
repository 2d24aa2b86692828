/**
 * Mean-pooled dataset entropy, DESIGN §1 step 6 ("also offered"):
 *
 *   m_s = (1/N_s) Σ_t x_{s,t}   (one mean hidden state per sample, M×d)
 *   then steps 1–4 (centre, unit rows, p = spectrum(ZᵀZ/M), H = −Σ p log p, …) on that M×d matrix
 *
 * Skean et al. 2025, "Layer by Layer: Uncovering Hidden Representations in Language Models"
 * (dataset-level prompt entropy over pooled sample representations).
 */
import { sampleMetrics, type SampleMetrics, type SampleMetricsOptions } from './sampleMetrics.ts';

/** Mean row of X: rows×cols (rows ≥ 1), float64. */
export function meanHiddenState(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  if (rows < 1) throw new Error('mean hidden state of a sample with no tokens is undefined');
  if (x.length !== rows * cols) throw new Error(`hidden states have ${x.length} values, expected ${rows}×${cols}`);
  const m = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) m[c] += x[r * cols + c];
  }
  for (let c = 0; c < cols; c++) m[c] /= rows;
  return m;
}

/**
 * Steps 1–4 on the M×dim matrix whose rows are the samples' mean hidden states. `tokens` in the result
 * is M (samples); skipped (with a reason) when fewer than 2 distinct means remain.
 */
export function meanPooledMetrics(
  means: ArrayLike<number>[],
  dim: number,
  opts: SampleMetricsOptions = {},
): SampleMetrics {
  const stacked = new Float64Array(means.length * dim);
  means.forEach((m, i) => {
    if (m.length !== dim) throw new Error(`mean hidden state ${i} has ${m.length} values, expected dim ${dim}`);
    stacked.set(m, i * dim);
  });
  return sampleMetrics(stacked, means.length, dim, opts).metrics;
}
