/**
 * α-ReQ: power-law decay exponent of the eigenspectrum (an extra, not in DESIGN §1's required list).
 *
 *   λ_i ≈ c · i^(−α)   ⇔   log λ_i = log c − α · log i,   i = 1..k (λ sorted descending)
 *
 * fitted by ordinary least squares on the log-log points, with R² of that line.
 * Agrawal et al. 2022, "α-ReQ: Assessing Representation Quality in Self-Supervised Learning by
 * measuring eigenspectrum decay" (NeurIPS 2022). Larger α = faster decay = more compressed.
 */

export interface AlphaReq {
  /** Decay exponent α (slope of −log λ against log i). */
  alpha: number;
  /** log c, the fitted log of the leading eigenvalue. */
  logIntercept: number;
  /** Coefficient of determination of the log-log fit; 1 for a perfect (or flat) fit. */
  rSquared: number;
  /** Eigenvalues used (k). */
  points: number;
}

export interface AlphaReqOptions {
  /**
   * Eigenvalues at or below minRelative · λ_max are round-off of a rank-deficient matrix, not decay,
   * and would dominate a log fit; they are left out. Default 1e-10.
   */
  minRelative?: number;
}

/** spectrum: eigenvalues or probabilities, any order. Null when fewer than 2 eigenvalues are usable. */
export function alphaReq(spectrum: ArrayLike<number>, opts: AlphaReqOptions = {}): AlphaReq | null {
  const minRelative = opts.minRelative ?? 1e-10;
  const sorted = Float64Array.from(spectrum).sort().reverse();
  const max = sorted.length > 0 ? sorted[0] : 0;
  if (!(max > 0)) return null;
  const xs: number[] = [];
  const ys: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (!(sorted[i] > minRelative * max)) break;
    xs.push(Math.log(i + 1));
    ys.push(Math.log(sorted[i]));
  }
  const k = xs.length;
  if (k < 2) return null;

  const mx = xs.reduce((a, b) => a + b, 0) / k;
  const my = ys.reduce((a, b) => a + b, 0) / k;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < k; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssRes = 0;
  for (let i = 0; i < k; i++) ssRes += (ys[i] - intercept - slope * xs[i]) ** 2;
  const rSquared = syy > 0 ? 1 - ssRes / syy : 1;
  return { alpha: 0 - slope, logIntercept: intercept, rSquared, points: k };
}
