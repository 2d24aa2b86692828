/**
 * Von Neumann (matrix) entropy of a spectrum, DESIGN §1 step 4:
 *
 *   H = −Σ_i p_i log p_i          (natural log, 0·log 0 = 0)
 *   normalizedEntropy = H / log d (the first-version "matrix entropy"; lower = more compression)
 *
 * Wei et al. 2024, "Large Language Model Evaluation via Matrix Entropy" / "Diff-eRank",
 * arXiv 2401.17139, Def. 2.
 */

/** p: probability vector (non-negative, sum 1). */
export function vonNeumannEntropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v > 0) h -= v * Math.log(v);
  }
  // Every term is ≥ 0; write 0 rather than −0 for a single-mass spectrum.
  return h > 0 ? h : 0;
}

/** H / log d. For d = 1 the spectrum is a single point mass (H = 0), defined here as 0, never NaN. */
export function normalizedEntropy(entropy: number, dim: number): number {
  return dim > 1 ? entropy / Math.log(dim) : 0;
}
