/**
 * Steps 1–2 of DESIGN §1: centre the hidden states of one sample and scale each row to unit length.
 *
 *   X̃ = X − 1·μᵀ          (μ the mean row)
 *   z_i = x̃_i / ‖x̃_i‖₂     rows with ‖x̃_i‖ ≤ 1e-12 · max_i ‖x̃_i‖ are dropped and counted
 *
 * As in Wei et al. 2024, "Diff-eRank" (arXiv 2401.17139), §3: normalising rows makes tr(ZᵀZ/N) = 1, so
 * the spectrum is a probability vector.
 *
 * The exact order of operations (the same in the WebAssembly kernel, src/linalg/wasm/normalize.c,
 * and here, so both give the same bits):
 *   μ_c = x_0c + (Σ_{r≥1} (x_rc − x_0c)) / rows     (exact for a constant column: it centres to 0)
 *   ‖x̃_r‖² = (s0 + s1) + (s2 + s3), s_j the sum of x̃_rc² over columns c ≡ j (mod 4), in column order
 *   z_rc = x̃_rc · (1 / ‖x̃_r‖);  columnSquares_c = Σ_{kept r} z_rc², in row order
 */

import { kernelArray } from '../linalg/sharedArray.ts';
import { centerAndNormalizeWasm } from '../linalg/normalizeWasm.ts';

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
 * X: rows×cols row-major (any numeric array; converted to float64). Input must be finite (a
 * non-finite value throws, naming its row and column).
 * With `out` (length ≥ rows×cols), Z is written there (Z = out.subarray(0, kept×cols)) instead of
 * into a new array: callers that pool many samples reuse one buffer.
 */
export function centerAndNormalize(x: ArrayLike<number>, rows: number, cols: number, out?: Float64Array): NormalizedRows {
  if (x.length !== rows * cols) {
    throw new Error(`hidden states have ${x.length} values, expected rows×cols = ${rows}×${cols} = ${rows * cols}`);
  }
  if (out && out.length < rows * cols) throw new RangeError(`out has ${out.length} entries, need ${rows}×${cols} = ${rows * cols}`);
  const buf = out ? out.subarray(0, rows * cols) : kernelArray(rows * cols);
  const normalized = centerAndNormalizeInto(x, rows, cols, buf);
  if (normalized === undefined) {
    assertFiniteHiddenStates(x, rows, cols);
    throw new Error('hidden states are not finite'); // unreachable: the scan above throws
  }
  return normalized;
}

/**
 * `centerAndNormalize` into `out` (length ≥ rows×cols) without the locating scan: undefined when X
 * has a value that is not finite. Float32Array and Float64Array inputs run in the WebAssembly
 * kernel (one pass over X, then one over each row of Z while it is in cache; ~4× the TypeScript
 * form at 47×576); other inputs, or where the kernel cannot load, in TypeScript.
 */
function centerAndNormalizeInto(x: ArrayLike<number>, rows: number, cols: number, out: Float64Array): NormalizedRows | undefined {
  if (x instanceof Float32Array || x instanceof Float64Array) {
    const columnSquares = new Float64Array(cols);
    const kept = centerAndNormalizeWasm(x, rows, cols, out, columnSquares);
    if (kept === 'nonfinite') return undefined;
    if (kept !== undefined) return { z: out.subarray(0, kept * cols), kept, dim: cols, tokens: rows, droppedRows: rows - kept, columnSquares };
  }
  // Convert once natively, then every loop reads one array type (monomorphic: ~4× faster on
  // float32 hidden states than reading X directly); v − v is 0 for finite v, NaN otherwise.
  const x64 = out.subarray(0, rows * cols);
  x64.set(x);
  let check = 0;
  for (let i = 0; i < x64.length; i++) check += x64[i] - x64[i];
  if (check !== 0) return undefined;
  return centerAndNormalizeInPlace(x64, rows, cols);
}

/**
 * Throws `hidden state row r, column c is NaN` (0-based) on the first non-finite value, so bad model
 * output is reported where it is rather than surfacing as a NaN entropy.
 */
export function assertFiniteHiddenStates(x: ArrayLike<number>, rows: number, cols: number): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) {
      const row = cols > 0 ? Math.floor(i / cols) : 0;
      const col = cols > 0 ? i % cols : 0;
      throw new Error(`hidden state row ${row}, column ${col} is ${v} (shape ${rows}×${cols}, 0-based)`);
    }
  }
}

/** `centerAndNormalize` of finite X already in float64, overwriting it: Z = x.subarray(0, kept×cols).
 * The TypeScript form of src/linalg/wasm/normalize.c, operation for operation. */
export function centerAndNormalizeInPlace(x: Float64Array, rows: number, cols: number): NormalizedRows {
  if (x.length < rows * cols) throw new RangeError(`x has ${x.length} entries, need ${rows}×${cols} = ${rows * cols}`);
  const columnSquares = new Float64Array(cols);
  if (rows === 0) return { z: x.subarray(0, 0), kept: 0, dim: cols, tokens: 0, droppedRows: 0, columnSquares };
  // Mean as x_0 + mean(x_i − x_0): exact for constant columns (so a constant sample centres to exactly
  // zero and is skipped), and less cancellation when the offset is large against the spread.
  const mean = new Float64Array(cols);
  for (let r = 1; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) mean[c] += x[row + c] - x[c];
  }
  for (let c = 0; c < cols; c++) mean[c] = x[c] + mean[c] / rows;

  // Row by row, while the row is in cache: centre (X̃ = X − 1·μᵀ) and take the norm, then scale to
  // unit length. A row is scaled before the largest norm is known; negligible rows are dropped after.
  const norms = new Float64Array(rows);
  let maxNorm = 0;
  const tail = cols - (cols % 4);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let c = 0; c < tail; c += 4) {
      const v0 = x[row + c] - mean[c];
      const v1 = x[row + c + 1] - mean[c + 1];
      const v2 = x[row + c + 2] - mean[c + 2];
      const v3 = x[row + c + 3] - mean[c + 3];
      x[row + c] = v0;
      x[row + c + 1] = v1;
      x[row + c + 2] = v2;
      x[row + c + 3] = v3;
      s0 += v0 * v0;
      s1 += v1 * v1;
      s2 += v2 * v2;
      s3 += v3 * v3;
    }
    for (let c = tail; c < cols; c++) {
      const v = x[row + c] - mean[c];
      x[row + c] = v;
      if (c === tail) s0 += v * v;
      else if (c === tail + 1) s1 += v * v;
      else s2 += v * v;
    }
    const norm = Math.sqrt(s0 + s1 + (s2 + s3));
    norms[r] = norm;
    if (norm > maxNorm) maxNorm = norm;
    const inv = 1 / norm;
    for (let c = 0; c < cols; c++) {
      const w = x[row + c] * inv;
      x[row + c] = w;
      columnSquares[c] += w * w;
    }
  }

  const threshold = DROP_RELATIVE_NORM * maxNorm;
  let k = 0;
  for (let r = 0; r < rows; r++) if (norms[r] > threshold) k++;
  if (k < rows) {
    // Keep the other rows in order (k ≤ r: a forward copy) and sum their column squares again.
    columnSquares.fill(0);
    k = 0;
    for (let r = 0; r < rows; r++) {
      if (!(norms[r] > threshold)) continue;
      const from = r * cols;
      const to = k * cols;
      for (let c = 0; c < cols; c++) {
        const w = x[from + c];
        x[to + c] = w;
        columnSquares[c] += w * w;
      }
      k++;
    }
  }
  return { z: x.subarray(0, k * cols), kept: k, dim: cols, tokens: rows, droppedRows: rows - k, columnSquares };
}
