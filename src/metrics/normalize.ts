/**
 * Steps 1–2 of DESIGN §1: centre the hidden states of one sample and scale each row to unit length.
 *
 *   X̃ = X − 1·μᵀ          (μ the mean row)
 *   z_i = x̃_i / ‖x̃_i‖₂     rows with ‖x̃_i‖ ≤ 1e-12 · max_i ‖x̃_i‖ are dropped and counted
 *
 * As in Wei et al. 2024, "Diff-eRank" (arXiv 2401.17139), §3: normalising rows makes tr(ZᵀZ/N) = 1, so
 * the spectrum is a probability vector.
 */

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
}

/** X: rows×cols row-major (any numeric array; converted to float64). Input must be finite. */
export function centerAndNormalize(x: ArrayLike<number>, rows: number, cols: number): NormalizedRows {
  if (x.length !== rows * cols) {
    throw new Error(`hidden states have ${x.length} values, expected rows×cols = ${rows}×${cols} = ${rows * cols}`);
  }
  // Mean as x_0 + mean(x_i − x_0): exact for constant columns (so a constant sample centres to exactly
  // zero and is skipped), and less cancellation when the offset is large against the spread.
  const mean = new Float64Array(cols);
  if (rows > 0) {
    for (let r = 1; r < rows; r++) {
      for (let c = 0; c < cols; c++) mean[c] += x[r * cols + c] - x[c];
    }
    for (let c = 0; c < cols; c++) mean[c] = x[c] + mean[c] / rows;
  }

  const centred = new Float64Array(rows * cols);
  const norms = new Float64Array(rows);
  let maxNorm = 0;
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c] - mean[c];
      centred[r * cols + c] = v;
      sq += v * v;
    }
    norms[r] = Math.sqrt(sq);
    if (norms[r] > maxNorm) maxNorm = norms[r];
  }

  const threshold = DROP_RELATIVE_NORM * maxNorm;
  let kept = 0;
  for (let r = 0; r < rows; r++) if (norms[r] > threshold) kept++;

  // Usually nothing is dropped: scale the centred rows in place rather than copying them.
  const z = kept === rows ? centred : new Float64Array(kept * cols);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    if (!(norms[r] > threshold)) continue;
    const inv = 1 / norms[r];
    for (let c = 0; c < cols; c++) z[k * cols + c] = centred[r * cols + c] * inv;
    k++;
  }
  return { z, kept, dim: cols, tokens: rows, droppedRows: rows - kept };
}
