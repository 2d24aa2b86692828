// Properties of the metric layer (DESIGN §1) that hold for any input, checked with fast-check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { symmetricEigenvalues } from '../../src/linalg/eigen.ts';
import { symmetrizeFromUpper, syrkUpper } from '../../src/linalg/gram.ts';
import {
  alphaReq,
  centerAndNormalize,
  datasetMetrics,
  diffErank,
  meanHiddenState,
  meanPooledMetrics,
  PooledGram,
  renyiEntropy,
  sampleMetrics,
  sampleSpectrum,
  spectrumFromEigenvalues,
  vonNeumannEntropy,
  type SampleMetrics,
} from '../../src/metrics/index.ts';

const RUNS = { numRuns: 50 };

interface Matrix { rows: number; cols: number; data: number[] }

/** Small integer-valued matrices: exact duplicates and rank deficiency are common, as in real layers. */
const matrix = (minRows = 2, maxRows = 9, maxCols = 7): fc.Arbitrary<Matrix> =>
  fc
    .record({ rows: fc.integer({ min: minRows, max: maxRows }), cols: fc.integer({ min: 1, max: maxCols }) })
    .chain(({ rows, cols }) =>
      fc.array(fc.integer({ min: -8, max: 8 }), { minLength: rows * cols, maxLength: rows * cols }).map((data) => ({ rows, cols, data })),
    );

const metricsOf = (m: Matrix) => sampleMetrics(m.data, m.rows, m.cols).metrics;

const FIELDS = ['entropy', 'normalizedEntropy', 'erank', 'renyi2', 'nuclearNorm'] as const;

function assertSameMetrics(a: SampleMetrics, b: SampleMetrics, tol = 1e-9): void {
  assert.equal(a.skipped, b.skipped);
  assert.equal(a.droppedRows, b.droppedRows);
  for (const k of FIELDS) {
    if (a.skipped) continue;
    const x = a[k]!;
    const y = b[k]!;
    assert.ok(Math.abs(x - y) <= tol * Math.max(1, Math.abs(x)), `${k}: ${x} vs ${y}`);
  }
}

function assertNoNaN(m: SampleMetrics): void {
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'number') assert.ok(Number.isFinite(v), `${k} is ${v}`);
  }
  if (m.skipped) for (const k of FIELDS) assert.equal(m[k], undefined, `skipped sample has ${k}`);
}

describe('sample metrics are invariances of the centred, row-normalised representation', () => {
  it('metrics are invariant to the order of rows', () => {
    fc.assert(
      fc.property(matrix().chain((m) => fc.tuple(fc.constant(m), fc.shuffledSubarray([...Array(m.rows).keys()], { minLength: m.rows, maxLength: m.rows }))), ([m, perm]) => {
        const data = perm.flatMap((r) => m.data.slice(r * m.cols, (r + 1) * m.cols));
        assertSameMetrics(metricsOf(m), metricsOf({ ...m, data }));
      }),
      RUNS,
    );
  });

  it('metrics are invariant to a common offset added to every row', () => {
    fc.assert(
      fc.property(matrix(), fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 7, maxLength: 7 }), (m, offset) => {
        const data = m.data.map((v, i) => v + offset[i % m.cols]);
        assertSameMetrics(metricsOf(m), metricsOf({ ...m, data }));
      }),
      RUNS,
    );
  });

  it('metrics are invariant to scaling the whole matrix by c > 0', () => {
    fc.assert(
      fc.property(matrix(), fc.double({ min: 0.1, max: 10, noNaN: true }), (m, c) => {
        assertSameMetrics(metricsOf(m), metricsOf({ ...m, data: m.data.map((v) => v * c) }));
      }),
      RUNS,
    );
  });

  it('entropy lies in [0, log min(N−1, d)], erank in [1, min(N−1, d)], H_2 ≤ H ≤ H_0.5, nuclear norm in (0, 1]', () => {
    fc.assert(
      fc.property(matrix(), (m) => {
        const { metrics: s, normalized } = sampleMetrics(m.data, m.rows, m.cols, { alphas: [0.5] });
        assertNoNaN(s);
        if (s.skipped) return;
        const maxRank = Math.min(normalized.kept - 1, m.cols);
        const eps = 1e-9;
        assert.ok(s.entropy! >= 0 && s.entropy! <= Math.log(maxRank) + eps, `H = ${s.entropy}, max rank ${maxRank}`);
        assert.ok(s.erank! >= 1 - eps && s.erank! <= maxRank + eps, `erank = ${s.erank}, max rank ${maxRank}`);
        assert.ok(s.renyi2! <= s.entropy! + eps && s.entropy! <= s.renyi!['0.5'] + eps);
        assert.ok(s.nuclearNorm! > 0 && s.nuclearNorm! <= 1 + eps, `nuclear norm ${s.nuclearNorm}`);
        if (m.cols > 1) assert.ok(s.normalizedEntropy! >= 0 && s.normalizedEntropy! <= 1 + eps);
      }),
      RUNS,
    );
  });
});

/** Spectrum of an n×n full symmetric matrix, padded with zeros to `len`, descending. */
function paddedSpectrum(a: Float64Array, n: number, len: number): number[] {
  const p = Array.from(spectrumFromEigenvalues(symmetricEigenvalues(a, n)));
  while (p.length < len) p.push(0);
  return p;
}

describe('the Gram path and the covariance path agree', () => {
  it('ZZᵀ/N (N×N) and ZᵀZ/N (d×d) give the same spectrum and entropy', () => {
    fc.assert(
      fc.property(matrix(2, 10, 10), (m) => {
        const n = centerAndNormalize(m.data, m.rows, m.cols);
        if (n.kept < 2) return;
        const { z, kept: N, dim: d } = n;
        const gram = new Float64Array(N * N);
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let c = 0; c < d; c++) s += z[i * d + c] * z[j * d + c];
            gram[i * N + j] = s / N;
          }
        }
        const cov = new Float64Array(d * d);
        syrkUpper(cov, z, N, d);
        for (let i = 0; i < cov.length; i++) cov[i] /= N;
        symmetrizeFromUpper(cov, d);
        const len = Math.max(N, d);
        const pg = paddedSpectrum(gram, N, len);
        const pc = paddedSpectrum(cov, d, len);
        for (let i = 0; i < len; i++) assert.ok(Math.abs(pg[i] - pc[i]) <= 1e-12, `p[${i}]: ${pg[i]} vs ${pc[i]}`);
        assert.ok(Math.abs(vonNeumannEntropy(pg) - vonNeumannEntropy(pc)) <= 1e-10);
        const chosen = Array.from(sampleSpectrum(n));
        for (let i = 0; i < chosen.length; i++) assert.ok(Math.abs(chosen[i] - pg[i]) <= 1e-12);
      }),
      RUNS,
    );
  });
});

describe('pooled Gram partials', () => {
  const samples = (dim: number) =>
    fc.array(
      fc.integer({ min: 2, max: 6 }).chain((rows) =>
        fc.array(fc.integer({ min: -8, max: 8 }), { minLength: rows * dim, maxLength: rows * dim }).map((data) => ({ rows, data })),
      ),
      { minLength: 1, maxLength: 7 },
    );

  it('pooled partials add up in any grouping and merge order to the same pooled entropy', () => {
    const dim = 5;
    fc.assert(
      fc.property(samples(dim), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 7, maxLength: 7 }), fc.boolean(), (ss, groupOf, reverse) => {
        const rows = ss.map((s) => sampleMetrics(s.data, s.rows, dim)).filter((r) => !r.metrics.skipped).map((r) => r.normalized);
        const whole = new PooledGram(dim);
        rows.forEach((r) => whole.add(r));
        if (whole.n === 0) return;
        const groups = [0, 1, 2, 3].map(() => new PooledGram(dim));
        rows.forEach((r, i) => groups[groupOf[i]].add(r));
        const order = reverse ? [...groups].reverse() : groups;
        // Round-trip one partial through fromParts, as a stored shard would.
        const total = PooledGram.fromParts(dim, Float64Array.from(order[0].s), order[0].n);
        order.slice(1).forEach((g) => total.merge(g));
        assert.equal(total.n, whole.n);
        const a = whole.metrics();
        const b = total.metrics();
        assert.ok(Math.abs(a.pooledEntropy - b.pooledEntropy) <= 1e-10, `${a.pooledEntropy} vs ${b.pooledEntropy}`);
        assert.ok(Math.abs(a.pooledErank - b.pooledErank) <= 1e-9 * a.pooledErank);
      }),
      RUNS,
    );
  });

  it('a pooled Gram refuses rows of another width', () => {
    const g = new PooledGram(3);
    assert.throws(() => g.add(centerAndNormalize([1, 2, 3, 4], 2, 2)), /dim 2 .* dim 3/);
    assert.throws(() => g.merge(new PooledGram(4)), /dim 4 .* dim 3/);
    assert.throws(() => g.metrics(), /at least one row/);
  });
});

describe('degenerate input never produces NaN', () => {
  it('rank-deficient and near-duplicate rows give finite metrics or a skip', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 9 }),
        fc.integer({ min: 1, max: 8 }),
        fc.constantFrom(0, 1e-300, 1e-15, 1e-12, 1e-8, 1),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (rows, cols, eps, distinct, seed) => {
          // `distinct` base rows repeated, each copy nudged by eps in one coordinate.
          const data: number[] = [];
          for (let r = 0; r < rows; r++) {
            const base = r % distinct;
            for (let c = 0; c < cols; c++) data.push(Math.sin(seed + 7 * base + c) * 3 + (c === (r + seed) % cols ? eps * r : 0));
          }
          const { metrics } = sampleMetrics(data, rows, cols, { alphas: [0.5, 2, Infinity], keepSpectrum: true });
          assertNoNaN(metrics);
          if (!metrics.skipped) {
            assert.ok(metrics.erank! >= 1 - 1e-12);
            for (const v of Object.values(metrics.renyi!)) assert.ok(Number.isFinite(v) && v >= 0);
          }
        },
      ),
      RUNS,
    );
  });

  it('a constant sample is skipped with every row dropped and a reason', () => {
    const { metrics } = sampleMetrics(new Float32Array(5 * 8).fill(0.3), 5, 8);
    assert.equal(metrics.skipped, true);
    assert.equal(metrics.droppedRows, 5);
    assert.match(metrics.skipReason!, /fewer than 2 rows/);
  });

  it('a one-token or empty sample is skipped as too few tokens', () => {
    for (const rows of [0, 1]) {
      const { metrics } = sampleMetrics(new Array(rows * 4).fill(1), rows, 4);
      assert.equal(metrics.skipped, true);
      assert.equal(metrics.skipReason, 'fewer than 2 tokens');
    }
  });
});

describe('Rényi entropies', () => {
  const spectrum = matrix(3, 9, 7).map((m) => sampleMetrics(m.data, m.rows, m.cols, { keepSpectrum: true }).metrics.spectrum);

  it('H_α approaches the von Neumann entropy as α → 1', () => {
    fc.assert(
      fc.property(spectrum, fc.constantFrom(1 - 1e-6, 1 + 1e-6), (p, alpha) => {
        if (!p) return;
        const h = vonNeumannEntropy(p);
        assert.ok(Math.abs(renyiEntropy(p, alpha) - h) <= 1e-5 * Math.max(1, h), `H_${alpha} = ${renyiEntropy(p, alpha)}, H = ${h}`);
        assert.equal(renyiEntropy(p, 1), h);
      }),
      RUNS,
    );
  });

  it('H_α is non-increasing in α', () => {
    fc.assert(
      fc.property(spectrum, (p) => {
        if (!p) return;
        const alphas = [0.25, 0.5, 0.9, 1, 1.5, 2, 4, Infinity];
        const hs = alphas.map((a) => renyiEntropy(p, a));
        for (let i = 1; i < hs.length; i++) assert.ok(hs[i] <= hs[i - 1] + 1e-12, `H_${alphas[i]} > H_${alphas[i - 1]}`);
      }),
      RUNS,
    );
  });

  it('a non-positive order is rejected', () => {
    assert.throws(() => renyiEntropy([0.5, 0.5], 0), /must be > 0/);
    assert.throws(() => sampleMetrics([1, 2, 3, 4], 2, 2, { alphas: [-1] }), /must be > 0/);
  });
});

describe('bad hidden states fail with a clear error', () => {
  it('a NaN or infinite value names its row and column', () => {
    fc.assert(
      fc.property(
        matrix().chain((m) => fc.tuple(fc.constant(m), fc.integer({ min: 0, max: m.rows * m.cols - 1 }), fc.constantFrom(NaN, Infinity, -Infinity))),
        ([m, at, bad]) => {
          const data = Float64Array.from(m.data);
          data[at] = bad;
          const row = Math.floor(at / m.cols);
          const col = at % m.cols;
          assert.throws(() => sampleMetrics(data, m.rows, m.cols), {
            message: new RegExp(`^hidden state row ${row}, column ${col} is ${String(bad)}`),
          });
        },
      ),
      RUNS,
    );
  });

  it('a length that does not match rows×cols is rejected', () => {
    assert.throws(() => sampleMetrics([1, 2, 3], 2, 2), /3 values, expected 2×2 = 4/);
  });
});

describe('dataset metrics', () => {
  const used = (entropy: number, dim = 8): SampleMetrics => ({
    tokens: 10, dim, skipped: false, droppedRows: 0, entropy, erank: Math.exp(entropy), normalizedEntropy: entropy / Math.log(dim),
  });

  it('standard errors are the (n−1) sample standard deviation over √n', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 2, maxLength: 20 }), (hs) => {
        const d = datasetMetrics(hs.map((h) => used(h)), { bootstrapResamples: 50 });
        const mean = hs.reduce((a, b) => a + b, 0) / hs.length;
        const sd = Math.sqrt(hs.reduce((a, h) => a + (h - mean) ** 2, 0) / (hs.length - 1));
        assert.ok(Math.abs(d.meanEntropy! - mean) <= 1e-12 * Math.max(1, mean));
        assert.ok(Math.abs(d.meanEntropySE! - sd / Math.sqrt(hs.length)) <= 1e-12);
        assert.equal(d.erankOfMeanEntropy, Math.exp(d.meanEntropy!));
      }),
      RUNS,
    );
  });

  it('bootstrap intervals are reproducible from the seed, ordered, and within the data range', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 2, maxLength: 20 }), fc.integer(), (hs, seed) => {
        const samples = hs.map((h) => used(h));
        const a = datasetMetrics(samples, { bootstrapResamples: 200, seed });
        const b = datasetMetrics(samples, { bootstrapResamples: 200, seed });
        assert.deepEqual(a, b);
        for (const ci of [a.meanEntropyCI95!, a.meanErankCI95!, a.meanNormalizedEntropyCI95!]) assert.ok(ci.low <= ci.high);
        assert.ok(a.meanEntropyCI95!.low >= Math.min(...hs) - 1e-12 && a.meanEntropyCI95!.high <= Math.max(...hs) + 1e-12);
        assert.ok(Math.abs(a.erankOfMeanEntropyCI95!.low - Math.exp(a.meanEntropyCI95!.low)) <= 1e-12 * a.erankOfMeanEntropyCI95!.low);
      }),
      RUNS,
    );
  });

  it('skipped samples are excluded and counted by reason; no used samples gives nulls, never NaN', () => {
    const skipped: SampleMetrics = { tokens: 1, dim: 8, skipped: true, skipReason: 'fewer than 2 tokens', droppedRows: 1 };
    const none = datasetMetrics([skipped, skipped]);
    assert.equal(none.samplesUsed, 0);
    assert.equal(none.samplesSkipped, 2);
    assert.deepEqual(none.skipReasons, { 'fewer than 2 tokens': 2 });
    for (const [k, v] of Object.entries(none)) if (k.startsWith('mean') || k.startsWith('erank')) assert.equal(v, null, k);
    const one = datasetMetrics([skipped, used(1.5)]);
    assert.equal(one.meanEntropy, 1.5);
    assert.equal(one.meanEntropySE, null);
    assert.equal(one.meanEntropyCI95, null);
  });

  it('a sample marked used without an entropy is rejected', () => {
    assert.throws(() => datasetMetrics([{ tokens: 3, dim: 2, skipped: false, droppedRows: 0 }]), /sample 0 is not skipped but has no finite entropy/);
  });
});

describe('Diff-eRank, mean-pooled entropy and α-ReQ', () => {
  it('Diff-eRank is untrained − trained erank of mean entropy, ratio trained/untrained', () => {
    assert.deepEqual(diffErank({ erankOfMeanEntropy: 10 }, { erankOfMeanEntropy: 4 }), { diffErank: 6, ratio: 0.4 });
    assert.throws(() => diffErank({ erankOfMeanEntropy: null }, { erankOfMeanEntropy: 4 }), /untrained has no used samples/);
  });

  it('mean-pooled entropy is steps 1–4 on the matrix of per-sample mean hidden states, in any sample order', () => {
    fc.assert(
      fc.property(fc.array(matrix(1, 5, 4).filter((m) => m.cols === 4), { minLength: 2, maxLength: 6 }), (ms) => {
        const means = ms.map((m) => meanHiddenState(m.data, m.rows, m.cols));
        const a = meanPooledMetrics(means, 4);
        const b = meanPooledMetrics([...means].reverse(), 4);
        assert.equal(a.tokens, ms.length);
        assertSameMetrics(a, b);
        const stacked = means.flatMap((m) => Array.from(m));
        assertSameMetrics(a, sampleMetrics(stacked, ms.length, 4).metrics, 0);
      }),
      { numRuns: 20 },
    );
  });

  it('α-ReQ recovers the exponent of an exact power-law spectrum with R² = 1', () => {
    const fit = alphaReq(Array.from({ length: 20 }, (_, i) => 3 * (i + 1) ** -1.7).reverse())!;
    assert.ok(Math.abs(fit.alpha - 1.7) < 1e-12 && Math.abs(fit.rSquared - 1) < 1e-12 && fit.points === 20);
    assert.equal(alphaReq([1, 0, 0]), null);
  });
});
