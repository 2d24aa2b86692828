/**
 * Steps 1–2 of DESIGN §1: centre the hidden states of one sample and scale each row to unit length.
 *
 *   X̃ = X − 1·μᵀ          (μ the mean row)
 *   z_i = x̃_i / ‖x̃_i‖₂     rows with ‖x̃_i‖ ≤ 1e-12 · max_i ‖x̃_i‖ are dropped and counted
 *
 * As in Wei et al. 2024, "Diff-eRank" (arXiv 2401.17139), §3: normalising rows makes tr(ZᵀZ/N) = 1, so
 * the spectrum is a probability vector.
 */

import { kernelArray } from '../linalg/sharedArray.ts';

/** Relative norm below which a centred row counts as zero (DESIGN §1 step 2). */
export const DROP_RELATIVE_NORM = 1e-12;

export interface NormalizedRows {
  /** Z: kept×dim, row-major, unit rows. */
  z: Float64Array;
  /** Rows of Z (N in DESIGN §1 step 3). */
  kept: number;
  dim: number;
  /** Real tokens of the sample (rows of X, before dropping). */
  tokens: number;
  /** Rows whose centred norm was negligible, dropped from Z. */
  droppedRows: number;
  /**
   * Σ_r z_rc² per column c (the squared column norms of Z that nuclearNorm needs), summed while Z
   * is written so nuclearNorm needs no second pass over Z; absent when Z came from elsewhere.
   */
  columnSquares?: Float64Array;
}

/**
 * X: rows×cols row-major (any numeric array; converted to float64). Input must be finite.
 * With `out` (length ≥ rows×cols), Z is written there (Z = out.subarray(0, kept×cols)) instead of
 * into a new array: callers that pool many samples reuse one buffer.
 */
export function centerAndNormalize(x: ArrayLike<number>, rows: number, cols: number, out?: Float64Array): NormalizedRows {
  if (x.length !== rows * cols) {
    throw new Error(`hidden states have ${x.length} values, expected rows×cols = ${rows}×${cols} = ${rows * cols}`);
  }
  if (out && out.length < rows * cols) throw new RangeError(`out has ${out.length} entries, need ${rows}×${cols} = ${rows * cols}`);
  // One native float64 conversion, then every loop below reads one array type (monomorphic, no
  // per-element ArrayLike dispatch: ~4× faster on float32 hidden states than reading X directly).
  const buf = out ? out.subarray(0, rows * cols) : kernelArray(rows * cols);
  buf.set(x);
  return centerAndNormalizeInPlace(buf, rows, cols);
}

/** `centerAndNormalize` of X already in float64, overwriting it: Z = x.subarray(0, kept×cols). */
export function centerAndNormalizeInPlace(x: Float64Array, rows: number, cols: number): NormalizedRows {
  if (x.length < rows * cols) throw new RangeError(`x has ${x.length} entries, need ${rows}×${cols} = ${rows * cols}`);
  // Mean as x_0 + mean(x_i − x_0): exact for constant columns (so a constant sample centres to exactly
  // zero and is skipped), and less cancellation when the offset is large against the spread.
  const mean = new Float64Array(cols);
  if (rows > 0) {
    for (let r = 1; r < rows; r++) {
      const row = r * cols;
      for (let c = 0; c < cols; c++) mean[c] += x[row + c] - x[c];
    }
    for (let c = 0; c < cols; c++) mean[c] = x[c] + mean[c] / rows;
  }

  // Centre in place (X̃ = X − 1·μᵀ) and take the row norms.
  const norms = new Float64Array(rows);
  let maxNorm = 0;
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let sq = 0;
    for (let c = 0; c < cols; c++) {
      const v = x[row + c] - mean[c];
      x[row + c] = v;
      sq += v * v;
    }
    norms[r] = Math.sqrt(sq);
    if (norms[r] > maxNorm) maxNorm = norms[r];
  }

  // Scale kept rows to unit length, moving them up over dropped ones (k ≤ r: a forward copy).
  const threshold = DROP_RELATIVE_NORM * maxNorm;
  const columnSquares = new Float64Array(cols);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    if (!(norms[r] > threshold)) continue;
    const inv = 1 / norms[r];
    const from = r * cols;
    const to = k * cols;
    for (let c = 0; c < cols; c++) {
      const v = x[from + c] * inv;
      x[to + c] = v;
      columnSquares[c] += v * v;
    }
    k++;
  }
  return { z: x.subarray(0, k * cols), kept: k, dim: cols, tokens: rows, droppedRows: rows - k, columnSquares };
}
