/**
 * Effective rank, DESIGN §1 step 4:
 *
 *   erank = exp(H),  H the von Neumann entropy of the normalised spectrum
 *
 * Roy & Vetterli 2007 "The effective rank"; used as the model score by Wei et al. 2024,
 * "Diff-eRank" (arXiv 2401.17139), Def. 3. 1 ≤ erank ≤ rank(Σ).
 */
import { vonNeumannEntropy } from './entropy.ts';

export function erankFromEntropy(entropy: number): number {
  return Math.exp(entropy);
}

/** p: probability vector (non-negative, sum 1). */
export function erank(p: ArrayLike<number>): number {
  return erankFromEntropy(vonNeumannEntropy(p));
}
