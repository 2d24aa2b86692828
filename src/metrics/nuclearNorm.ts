/**
 * Matrix Nuclear-Norm, DESIGN §1 step 4:
 *
 *   nuclearNorm = (sum of the min(N, d) largest column L2-norms of Z) / N
 *
 * Li et al. 2024, "Large Language Model Evaluation via Matrix Nuclear-Norm" (arXiv 2410.10672): the
 * nuclear norm ‖Z‖_* is approximated by the L2 norms of the columns, avoiding an SVD. Z: N×d with unit
 * rows (N kept rows), so the value lies in (0, 1].
 */
import type { NormalizedRows } from './normalize.ts';

export function nuclearNorm(n: NormalizedRows): number {
  const { z, kept, dim } = n;
  if (kept < 1) throw new Error('nuclearNorm needs at least one kept row');
  // Squared column norms Σ_r z_rc², summed by centerAndNormalize when it wrote Z (same order, same
  // values), else here.
  let sq = n.columnSquares;
  if (!sq || sq.length !== dim) {
    sq = new Float64Array(dim);
    for (let r = 0; r < kept; r++) {
      const row = r * dim;
      for (let c = 0; c < dim; c++) sq[c] += z[row + c] * z[row + c];
    }
  }
  // The k largest norms, summed largest first (ascending sort, read from the end).
  const norms = new Float64Array(dim);
  for (let c = 0; c < dim; c++) norms[c] = Math.sqrt(sq[c]);
  norms.sort();
  const k = Math.min(kept, dim);
  let sum = 0;
  for (let i = 0; i < k; i++) sum += norms[dim - 1 - i];
  return sum / kept;
}
