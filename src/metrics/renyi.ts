/**
 * Rényi entropy of order α of a spectrum, DESIGN §1 step 4:
 *
 *   H_α = log(Σ_i p_i^α) / (1 − α),   α > 0, α ≠ 1
 *   H_1 = −Σ p log p (von Neumann, the α → 1 limit);  H_2 = −log Σ p²;  H_∞ = −log max p
 *
 * Matrix-based Rényi entropy as in Giraldo, Rao & Príncipe 2015 and Skean et al. 2025, "Layer by
 * Layer: Uncovering Hidden Representations in Language Models". Always computed from the eigenvalues:
 * the Gram shortcut Σ K²/n² is only right when tr K = n (DESIGN §1, pitfalls).
 */
import { vonNeumannEntropy } from './entropy.ts';

/** p: probability vector (non-negative, sum 1); alpha > 0 (Infinity allowed). */
export function renyiEntropy(p: ArrayLike<number>, alpha: number): number {
  if (!(alpha > 0) || Number.isNaN(alpha)) {
    throw new Error(`Rényi order must be > 0, got ${alpha}`);
  }
  if (alpha === 1) return vonNeumannEntropy(p);
  if (alpha === Infinity) {
    let max = 0;
    for (let i = 0; i < p.length; i++) if (p[i] > max) max = p[i];
    return Math.max(0, -Math.log(max));
  }
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i];
    if (v > 0) sum += alpha === 2 ? v * v : Math.pow(v, alpha);
  }
  const h = Math.log(sum) / (1 - alpha);
  return h > 0 ? h : 0;
}

/** H_2 = −log Σ p² (collision entropy). */
export function renyi2(p: ArrayLike<number>): number {
  return renyiEntropy(p, 2);
}
