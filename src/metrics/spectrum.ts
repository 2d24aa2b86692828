/**
 * Step 3 of DESIGN §1: the spectrum of one sample as a probability vector.
 *
 *   Σ = ZᵀZ / N  (d×d, trace 1)   — same non-zero eigenvalues as the Gram ZZᵀ / N (N×N)
 *   p = clip(eig(Σ), 0) / Σ clip(eig(Σ), 0)
 *
 * "Clip" here zeroes every eigenvalue ≤ n·ε·λ_max (n the matrix size, ε machine epsilon), not only the
 * negative ones: a backward-stable solver cannot resolve eigenvalues below its error O(n ε ‖Σ‖), so
 * those are round-off of exact zeros (e.g. the zero eigenvalue centring always creates when N ≤ d),
 * and their sign is chance. Entropy, erank and H_α for α ≥ 1 change by < 1e-14; H_α for α < 1 would
 * otherwise pick up ≈ √1e-17 ≈ 3e-9 of noise per zero eigenvalue (numpy.linalg.matrix_rank uses the
 * same tolerance).
 *
 * N is the number of kept rows, so tr Σ = 1 exactly in exact arithmetic (Wei et al. 2024, "Diff-eRank",
 * arXiv 2401.17139, Def. 1). The smaller of the two matrices is decomposed: O(min(N,d)³), not the
 * reference code's O(d³) per sentence.
 */
import { symmetricEigenvalues } from '../linalg/eigen.ts';
import { smallerGram } from '../linalg/gram.ts';
import type { NormalizedRows } from './normalize.ts';

/**
 * Eigenvalues (any order) of an n×n symmetric PSD matrix → probability vector in descending order:
 * round-off eigenvalues (≤ n·ε·λ_max, negatives included) set to 0, then renormalised to sum 1.
 * Throws when nothing positive is left (a zero matrix has no spectrum).
 */
export function spectrumFromEigenvalues(eigenvalues: ArrayLike<number>): Float64Array {
  let max = 0;
  for (let i = 0; i < eigenvalues.length; i++) if (eigenvalues[i] > max) max = eigenvalues[i];
  const roundOff = eigenvalues.length * Number.EPSILON * max;
  const p = Float64Array.from(eigenvalues, (v) => (v > roundOff ? v : 0));
  let total = 0;
  for (const v of p) total += v;
  if (!(total > 0) || !Number.isFinite(total)) {
    throw new Error(`spectrum has no positive mass (sum of clipped eigenvalues = ${total})`);
  }
  for (let i = 0; i < p.length; i++) p[i] /= total;
  return p.sort().reverse();
}

/** Spectrum p of Σ = ZᵀZ/N for a sample's kept rows (kept ≥ 1), descending, length min(N, d). */
export function sampleSpectrum(n: NormalizedRows): Float64Array {
  if (n.kept < 1) throw new Error('sampleSpectrum needs at least one kept row');
  const { matrix, n: size } = smallerGram(n.z, n.kept, n.dim);
  const scale = 1 / n.kept;
  for (let i = 0; i < matrix.length; i++) matrix[i] *= scale;
  return spectrumFromEigenvalues(symmetricEigenvalues(matrix, size));
}
