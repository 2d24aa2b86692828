// The reference algorithm the benchmarks compare against (the Diff-eRank code's): per sentence, the
// d×d covariance Σ = ZᵀZ/N of the centred unit rows, eigen-solved in full — O(d³) whatever N is.
import { symmetricEigenvalues } from '../src/linalg/eigen.ts';
import { symmetrizeFromUpper, syrkUpper } from '../src/linalg/gram.ts';
import { vonNeumannEntropy } from '../src/metrics/entropy.ts';
import { centerAndNormalize } from '../src/metrics/normalize.ts';
import { spectrumFromEigenvalues } from '../src/metrics/spectrum.ts';

/** H of one sample (x: n×d row-major) by the reference path; NaN when fewer than 2 rows are kept. */
export function referenceEntropy(x: Float32Array | Float64Array, n: number, d: number): number {
  const z = centerAndNormalize(x, n, d);
  if (z.kept < 2) return NaN;
  const sigma = new Float64Array(d * d);
  syrkUpper(sigma, z.z, z.kept, d);
  symmetrizeFromUpper(sigma, d);
  const scale = 1 / z.kept;
  for (let i = 0; i < sigma.length; i++) sigma[i] *= scale;
  return vonNeumannEntropy(spectrumFromEigenvalues(symmetricEigenvalues(sigma, d)));
}
