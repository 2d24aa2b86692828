/**
 * Pooled (dataset-level) matrix entropy, DESIGN §1 step 6:
 *
 *   S = Σ_{every kept row z of every sample} z zᵀ   (d×d, the "partial Gram" a shard writes)
 *   n = #rows;  Σ_pool = S / n;  p = spectrum(Σ_pool);  pooledEntropy = −Σ p log p;  pooledErank = exp(H)
 *
 * Matrix entropy as in Wei et al. 2024, "Diff-eRank" (arXiv 2401.17139), taken over the whole dataset
 * at once. Partials add exactly (S and n are sums), so shards reduce in any grouping and order.
 * Only the upper triangle of S is accumulated; the lower triangle is meaningless until symmetrised.
 * Callers add the rows of non-skipped samples (a skipped sample keeps fewer than 2 rows anyway).
 */
import { symmetricEigenvalues } from '../linalg/eigen.ts';
import { addInto, symmetrizeFromUpper, syrkUpper } from '../linalg/gram.ts';
import { normalizedEntropy, vonNeumannEntropy } from './entropy.ts';
import { erankFromEntropy } from './erank.ts';
import type { NormalizedRows } from './normalize.ts';
import { spectrumFromEigenvalues } from './spectrum.ts';

export class PooledGram {
  readonly dim: number;
  /** S: dim×dim row-major; upper triangle accumulated. */
  s: Float64Array;
  /** Rows summed into S. */
  n: number;

  constructor(dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`pooled Gram dim must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.s = new Float64Array(dim * dim);
    this.n = 0;
  }

  /** S += ZᵀZ, n += kept. */
  add(rows: NormalizedRows): void {
    if (rows.dim !== this.dim) {
      throw new Error(`cannot pool rows of dim ${rows.dim} into a pooled Gram of dim ${this.dim}`);
    }
    if (rows.kept === 0) return;
    syrkUpper(this.s, rows.z, rows.kept, rows.dim);
    this.n += rows.kept;
  }

  /** S += S_other, n += n_other (the tree reduction's step). */
  merge(other: PooledGram): void {
    if (other.dim !== this.dim) {
      throw new Error(`cannot merge a pooled Gram of dim ${other.dim} into one of dim ${this.dim}`);
    }
    addInto(this.s, other.s);
    this.n += other.n;
  }

  /** Wraps a stored partial (S: dim×dim upper triangle accumulated, n rows). S is not copied. */
  static fromParts(dim: number, s: Float64Array, n: number): PooledGram {
    if (s.length !== dim * dim) throw new Error(`partial Gram has ${s.length} entries, expected ${dim}×${dim} = ${dim * dim}`);
    if (!Number.isInteger(n) || n < 0) throw new Error(`partial Gram row count must be a non-negative integer, got ${n}`);
    const g = new PooledGram(dim);
    g.s = s;
    g.n = n;
    return g;
  }

  metrics(): PooledMetrics {
    return pooledMetrics(this.s, this.n, this.dim);
  }
}

export interface PooledMetrics {
  pooledEntropy: number;
  pooledErank: number;
  /** pooledEntropy / log d. */
  pooledNormalizedEntropy: number;
  /** Rows pooled. */
  n: number;
}

/** S: dim×dim (upper triangle read, not modified), n ≥ 1 rows. */
export function pooledMetrics(s: Float64Array, n: number, dim: number): PooledMetrics {
  if (s.length !== dim * dim) throw new Error(`partial Gram has ${s.length} entries, expected ${dim}×${dim} = ${dim * dim}`);
  if (!(n >= 1)) throw new Error('pooled entropy needs at least one row; every sample was skipped or empty');
  const sigma = new Float64Array(s.length);
  const scale = 1 / n;
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) sigma[i * dim + j] = s[i * dim + j] * scale;
  }
  symmetrizeFromUpper(sigma, dim);
  const h = vonNeumannEntropy(spectrumFromEigenvalues(symmetricEigenvalues(sigma, dim)));
  return {
    pooledEntropy: h,
    pooledErank: erankFromEntropy(h),
    pooledNormalizedEntropy: normalizedEntropy(h, dim),
    n,
  };
}
