// eRank1–5, the image reduction ratio and the image-text alignment on matrices with known spectra,
// and their dataset aggregation.
//
// A matrix whose rows are ±e_i, each sign m_i times, has mean 0 and unit rows, so Z = X and
// ZᵀZ/N = diag(2m_i)/N: p_i = m_i / Σm exactly. With equal m_i over k directions, erank = k.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapMeanCI95, standardError } from '../../src/metrics/datasetMetrics.ts';
import {
  ERANK_PARTS,
  bootstrapStatOfMeansCI95,
  imageReductionRatio,
  imageTextAlignment,
  multimodalDatasetMetrics,
  multimodalSampleMetrics,
  type HiddenMatrix,
  type MultimodalSampleInput,
} from '../../src/metrics/multimodalAlignment.ts';

const D = 16;

/** Rows ±e_i (i = offset … offset+len−1), each sign `mult[i]` times, width D. */
function signed(mult: number[], offset = 0): HiddenMatrix {
  const rows: number[][] = [];
  mult.forEach((m, i) => {
    for (let r = 0; r < m; r++) {
      for (const sign of [1, -1]) {
        const row = new Array<number>(D).fill(0);
        row[offset + i] = sign;
        rows.push(row);
      }
    }
  });
  return { data: Float32Array.from(rows.flat()), rows: rows.length, cols: D };
}
const uniform = (k: number, offset = 0) => signed(new Array<number>(k).fill(1), offset);

function concatRows(...ms: HiddenMatrix[]): HiddenMatrix {
  const data = new Float32Array(ms.reduce((n, m) => n + m.data.length, 0));
  let off = 0;
  for (const m of ms) {
    data.set(m.data, off);
    off += m.data.length;
  }
  return { data, rows: ms.reduce((n, m) => n + m.rows, 0), cols: D };
}

/** A sample with eRank1…5 = k1…k5 (k3 ≤ k5): the image rows are ±e_1…±e_k3 at the start of the sequence. */
function sampleWith([k1, k2, k3, k4, k5]: number[]): MultimodalSampleInput {
  return {
    encoderImage: uniform(k1),
    projectedImage: uniform(k2),
    imageText: concatRows(uniform(k3), uniform(k5 - k3, k3)),
    imageSpan: { start: 0, length: 2 * k3 },
    textAlone: uniform(k4),
  };
}

const close = (a: number | null | undefined, b: number, tol = 1e-9, what = '') =>
  assert.ok(a != null && Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

describe('per-sample eRanks and ratios', () => {
  test('uniform spectra over k directions give eRank k; the ratio and alignment follow their formulas', () => {
    // Prefix rows (±e_9), then the image rows (±e_1, ±e_2), then the rest of the sequence (±e_3…±e_5):
    // eRank3 sees only the image rows (2), eRank5 the whole sequence (6 directions).
    const imageText = concatRows(uniform(1, 8), uniform(2), uniform(3, 2));
    const s = multimodalSampleMetrics({
      encoderImage: uniform(8),
      projectedImage: signed([2, 2, 2, 2]),
      imageText,
      imageSpan: { start: 2, length: 4 },
      textAlone: uniform(4),
    });
    assert.equal(s.skipped, false);
    close(s.eRank1, 8, 1e-9, 'eRank1');
    close(s.eRank2, 4, 1e-9, 'eRank2');
    close(s.eRank3, 2, 1e-9, 'eRank3');
    close(s.eRank4, 4, 1e-9, 'eRank4');
    close(s.eRank5, 6, 1e-9, 'eRank5');
    close(s.imageReductionRatio, (8 - 4) / 8, 1e-9, 'ratio');
    close(s.imageTextAlignment, (2 + 4 + 6) / 3 / 6, 1e-9, 'alignment');
    assert.equal(s.parts.eRank3.tokens, 4);
    assert.equal(s.parts.eRank5.tokens, 12);
  });

  test('a non-uniform spectrum gives exp of its entropy', () => {
    // p = (1/4, 3/4): H = −(¼ log ¼ + ¾ log ¾).
    const h = -(0.25 * Math.log(0.25) + 0.75 * Math.log(0.75));
    const s = multimodalSampleMetrics({ ...sampleWith([4, 4, 2, 3, 5]), projectedImage: signed([1, 3]) });
    close(s.eRank2, Math.exp(h), 1e-9, 'eRank2');
    close(s.imageReductionRatio, (4 - Math.exp(h)) / 4, 1e-9, 'ratio');
  });

  test('eRank3 depends only on the image rows', () => {
    const base = sampleWith([4, 4, 3, 3, 6]);
    const a = multimodalSampleMetrics(base);
    const moved = { ...base, imageText: concatRows(uniform(3), signed([5, 1, 2], 3)) };
    const b = multimodalSampleMetrics(moved);
    close(b.eRank3, a.eRank3!, 1e-12, 'eRank3 unchanged');
    assert.ok(Math.abs(b.eRank5! - a.eRank5!) > 0.1, 'eRank5 changed');
  });

  test('alignment is 1 when the three LLM eRanks agree and 1/3 in the limit of one dominating', () => {
    close(imageTextAlignment(5, 5, 5), 1);
    close(imageTextAlignment(1e-9, 1e-9, 1), (1 + 2e-9) / 3);
    close(imageReductionRatio(10, 2.5), 0.75);
    close(imageReductionRatio(2, 4), -1);
  });

  test('a text of one token skips the sample with a reason naming eRank4; the image ratio is still given', () => {
    const s = multimodalSampleMetrics({ ...sampleWith([8, 4, 2, 4, 6]), textAlone: { data: new Float32Array(D).fill(1), rows: 1, cols: D } });
    assert.equal(s.skipped, true);
    assert.equal(s.skipReason, 'eRank4 (LLM on the text alone): fewer than 2 tokens');
    assert.equal(s.eRank4, undefined);
    assert.equal(s.imageTextAlignment, undefined);
    close(s.imageReductionRatio, 0.5);
  });

  test('an image span outside the sequence and a shape that does not add up are errors', () => {
    assert.throws(() => multimodalSampleMetrics({ ...sampleWith([8, 4, 2, 4, 6]), imageSpan: { start: 10, length: 4 } }), /image span \[10, 14\) is not inside the 12 rows/);
    assert.throws(() => multimodalSampleMetrics({ ...sampleWith([8, 4, 2, 4, 6]), textAlone: { data: new Float32Array(5), rows: 2, cols: D } }), /textAlone: 5 values for shape 2×16/);
  });
});

describe('dataset aggregation', () => {
  const A = [8, 4, 2, 4, 6];
  const B = [2, 2, 3, 3, 3];
  const C = [6, 3, 1, 2, 4];

  test('the dataset ratio comes from the mean eRanks; the mean of per-sample ratios is reported beside it', () => {
    const perSample = [A, B].map((k) => multimodalSampleMetrics(sampleWith(k)));
    const ds = multimodalDatasetMetrics(perSample, { bootstrapResamples: 0 });
    assert.equal(ds.samplesUsed, 2);
    const m = [5, 3, 2.5, 3.5, 4.5];
    ERANK_PARTS.forEach((k, i) => close(ds.meanErank[k].mean, m[i], 1e-9, `mean ${k}`));
    close(ds.imageReductionRatio, (5 - 3) / 5, 1e-9, 'ratio of means'); // 0.4
    close(ds.meanSampleImageReductionRatio.mean, (0.5 + 0) / 2, 1e-9, 'mean of ratios'); // 0.25
    close(ds.imageTextAlignment, (2.5 + 3.5 + 4.5) / 3 / 4.5, 1e-9, 'alignment of means');
    close(ds.meanSampleImageTextAlignment.mean, (2 / 3 + 1) / 2, 1e-9, 'mean of alignments');
    assert.equal(ds.imageReductionRatioCI95, null, 'no resamples, no interval');
    // Each part's DatasetMetrics is the text one's (meanErank over the same samples).
    close(ds.parts.eRank1.meanErank, 5);
    close(ds.parts.eRank5.erankOfMeanEntropy, Math.exp((Math.log(6) + Math.log(3)) / 2));
  });

  test('standard errors, seeded bootstrap intervals shared with datasetMetrics, skipped samples counted', () => {
    const oneToken = { data: new Float32Array(D), rows: 1, cols: D };
    const perSample = [A, B, C, A, B].map((k) => multimodalSampleMetrics(sampleWith(k)));
    perSample.push(multimodalSampleMetrics({ ...sampleWith(C), textAlone: oneToken }));
    const ds = multimodalDatasetMetrics(perSample, { bootstrapResamples: 500, seed: 7 });
    assert.equal(ds.samplesUsed, 5);
    assert.equal(ds.samplesSkipped, 1);
    assert.deepEqual(ds.skipReasons, { 'eRank4 (LLM on the text alone): fewer than 2 tokens': 1 });
    const series = ERANK_PARTS.map((_, i) => Float64Array.from([A, B, C, A, B], (k) => k[i]));
    const cis = bootstrapMeanCI95(series, 500, 7);
    ERANK_PARTS.forEach((k, i) => {
      close(ds.meanErank[k].se, standardError(series[i])!, 1e-9, `${k} SE`);
      close(ds.meanErank[k].ci95!.low, cis[i]!.low, 1e-9, `${k} CI low`);
      close(ds.meanErank[k].ci95!.high, cis[i]!.high, 1e-9, `${k} CI high`);
      // The same resamples as datasetMetrics over that part's per-sample metrics.
      close(ds.parts[k].meanErankCI95!.low, cis[i]!.low, 1e-9);
    });
    const ratio = bootstrapStatOfMeansCI95(series, (mm) => (mm[0] - mm[1]) / mm[0], 500, 7)!;
    close(ds.imageReductionRatioCI95!.low, ratio.low, 1e-9, 'ratio CI low');
    close(ds.imageReductionRatioCI95!.high, ratio.high, 1e-9, 'ratio CI high');
    assert.ok(ratio.low <= ds.imageReductionRatio! && ds.imageReductionRatio! <= ratio.high);
    assert.ok(ds.imageTextAlignmentCI95!.low <= ds.imageTextAlignment! && ds.imageTextAlignment! <= ds.imageTextAlignmentCI95!.high);
    const again = multimodalDatasetMetrics(perSample, { bootstrapResamples: 500, seed: 7 });
    assert.deepEqual(again, ds, 'same seed, same numbers');
  });

  test('no usable samples give nulls; one gives means without spread', () => {
    const none = multimodalDatasetMetrics([]);
    assert.equal(none.samplesUsed, 0);
    assert.equal(none.imageReductionRatio, null);
    assert.equal(none.meanErank.eRank1.mean, null);
    assert.equal(none.meanSampleImageTextAlignment.mean, null);
    const one = multimodalDatasetMetrics([multimodalSampleMetrics(sampleWith(A))]);
    close(one.imageReductionRatio, 0.5);
    assert.equal(one.imageReductionRatioCI95, null);
    assert.equal(one.meanErank.eRank2.se, null);
  });
});
