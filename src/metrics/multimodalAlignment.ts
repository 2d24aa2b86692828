/**
 * Multimodal alignment of a LLaVA-style model (vision encoder → projector → LLM), DESIGN §1.9,
 * after Wei et al. 2024 "Diff-eRank" (arXiv 2401.17139), §"Multi-modal LLMs":
 *
 *   eRank1  image tokens at the vision encoder output          (the P features fed to the projector)
 *   eRank2  the same tokens after the projector
 *   eRank3  LLM layer (default last) on the image tokens, at their positions in the image+text sequence
 *   eRank4  LLM layer on the text alone (no image, no template)
 *   eRank5  LLM layer on the whole image+text sequence
 *
 *   imageReductionRatio = (eRank1 − eRank2) / eRank1
 *   imageTextAlignment  = mean(eRank3, eRank4, eRank5) / max(eRank3, eRank4, eRank5)
 *
 * Each eRank is one sample's erank = exp(H), H the von Neumann entropy of DESIGN §1 steps 1–4
 * (sampleMetrics: centre, unit rows, spectrum of ZᵀZ/N), from float32 hidden states.
 *
 * Over a dataset, a sample counts only when all five eRanks exist (a part with fewer than 2 usable
 * rows — e.g. a one-token text — skips the sample, counted by reason), so every mean is over the same
 * samples. Reported:
 *   - mean eRank_k (= Diff-eRank's "algorithm (b)", mean of per-sample eranks) with SE and bootstrap
 *     95% interval, plus the full DatasetMetrics of each part;
 *   - imageReductionRatio and imageTextAlignment computed from the dataset MEAN eRanks
 *     ((m1 − m2)/m1, mean(m3,m4,m5)/max(m3,m4,m5)) — one ratio per dataset, as the paper reports it;
 *     their intervals are percentile bootstrap intervals of that ratio of means;
 *   - meanSampleImageReductionRatio and meanSampleImageTextAlignment: the mean of the per-sample
 *     ratios, with SE and interval. The two differ in general (a mean of ratios is not a ratio of
 *     means); both are given so neither is mistaken for the other.
 * Every bootstrap uses the same seeded resamples of sample indices as datasetMetrics.
 */
import { bootstrapMeanCI95, datasetMetrics, quantileSorted, standardError, type DatasetMetrics, type Interval } from './datasetMetrics.ts';
import { mulberry32 } from './prng.ts';
import { sampleMetrics, type SampleMetrics } from './sampleMetrics.ts';

/** Hidden states of N rows (tokens) of width d, row-major. */
export interface HiddenMatrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** One sample's matrices at one LLM layer. */
export interface MultimodalSampleInput {
  /** P×dv: the image tokens the vision encoder hands to the projector. */
  encoderImage: HiddenMatrix;
  /** P×dl: the projector's output. */
  projectedImage: HiddenMatrix;
  /** T×dl: the LLM layer on the image+text sequence (real tokens only). */
  imageText: HiddenMatrix;
  /** Rows [start, start + length) of `imageText` are the image tokens. */
  imageSpan: { start: number; length: number };
  /** n×dl: the LLM layer on the text alone. */
  textAlone: HiddenMatrix;
}

export const ERANK_PARTS = ['eRank1', 'eRank2', 'eRank3', 'eRank4', 'eRank5'] as const;
export type ErankPart = (typeof ERANK_PARTS)[number];

/** What each eRank is taken on (for reports and skip reasons). */
export const ERANK_PART_LABELS: Record<ErankPart, string> = {
  eRank1: 'image tokens at the vision encoder output',
  eRank2: 'image tokens after the projector',
  eRank3: 'LLM on the image tokens (image+text sequence)',
  eRank4: 'LLM on the text alone',
  eRank5: 'LLM on the image+text sequence',
};

export interface MultimodalSampleMetrics {
  /** True when any part has no erank; then the ratios are absent and skipReason says which part. */
  skipped: boolean;
  skipReason?: string;
  /** Full DESIGN §1 metrics of each part. */
  parts: Record<ErankPart, SampleMetrics>;
  eRank1?: number;
  eRank2?: number;
  eRank3?: number;
  eRank4?: number;
  eRank5?: number;
  imageReductionRatio?: number;
  imageTextAlignment?: number;
}

/** (eRank1 − eRank2) / eRank1. */
export function imageReductionRatio(eRank1: number, eRank2: number): number {
  return (eRank1 - eRank2) / eRank1;
}

/** mean(eRank3, eRank4, eRank5) / max(eRank3, eRank4, eRank5); in (1/3, 1], 1 when all three agree. */
export function imageTextAlignment(eRank3: number, eRank4: number, eRank5: number): number {
  return (eRank3 + eRank4 + eRank5) / 3 / Math.max(eRank3, eRank4, eRank5);
}

function rowsOf(m: HiddenMatrix, start: number, length: number): HiddenMatrix {
  return { data: m.data.subarray(start * m.cols, (start + length) * m.cols), rows: length, cols: m.cols };
}

function checkShape(m: HiddenMatrix, what: string): void {
  if (m.data.length !== m.rows * m.cols) {
    throw new Error(`${what}: ${m.data.length} values for shape ${m.rows}×${m.cols}`);
  }
}

/** eRank1…eRank5 and the two ratios of one sample. */
export function multimodalSampleMetrics(input: MultimodalSampleInput): MultimodalSampleMetrics {
  const { start, length } = input.imageSpan;
  for (const [what, m] of Object.entries({ encoderImage: input.encoderImage, projectedImage: input.projectedImage, imageText: input.imageText, textAlone: input.textAlone })) {
    checkShape(m, what);
  }
  if (!(Number.isInteger(start) && Number.isInteger(length) && start >= 0 && length >= 0 && start + length <= input.imageText.rows)) {
    throw new Error(`image span [${start}, ${start + length}) is not inside the ${input.imageText.rows} rows of the image+text sequence`);
  }
  const of = (m: HiddenMatrix) => sampleMetrics(m.data, m.rows, m.cols).metrics;
  const parts: Record<ErankPart, SampleMetrics> = {
    eRank1: of(input.encoderImage),
    eRank2: of(input.projectedImage),
    eRank3: of(rowsOf(input.imageText, start, length)),
    eRank4: of(input.textAlone),
    eRank5: of(input.imageText),
  };
  return combineParts(parts);
}

/**
 * One sample's eRank1–5 and ratios from its five parts' metrics (also how stored per-part rows are
 * put back together for the dataset aggregation). A sample counts only when all five parts have an
 * erank; otherwise it is skipped with the first failing part as the reason.
 */
export function combineParts(parts: Record<ErankPart, SampleMetrics>): MultimodalSampleMetrics {
  const out: MultimodalSampleMetrics = { skipped: false, parts };
  for (const k of ERANK_PARTS) {
    if (parts[k].skipped) {
      out.skipped = true;
      out.skipReason ??= `${k} (${ERANK_PART_LABELS[k]}): ${parts[k].skipReason}`;
    } else {
      out[k] = parts[k].erank;
    }
  }
  if (out.eRank1 !== undefined && out.eRank2 !== undefined) out.imageReductionRatio = imageReductionRatio(out.eRank1, out.eRank2);
  if (out.eRank3 !== undefined && out.eRank4 !== undefined && out.eRank5 !== undefined) {
    out.imageTextAlignment = imageTextAlignment(out.eRank3, out.eRank4, out.eRank5);
  }
  return out;
}

export interface MeanWithInterval {
  mean: number | null;
  se: number | null;
  ci95: Interval | null;
}

export interface MultimodalDatasetMetrics {
  /** Samples with all five eRanks. */
  samplesUsed: number;
  samplesSkipped: number;
  /** Skipped samples per reason (the first part without an erank). */
  skipReasons: Record<string, number>;
  /** Mean per-sample eRank_k over the used samples, with SE and bootstrap 95% interval. */
  meanErank: Record<ErankPart, MeanWithInterval>;
  /** datasetMetrics of each part over the used samples (meanEntropy, erankOfMeanEntropy, …). */
  parts: Record<ErankPart, DatasetMetrics>;
  /** (m1 − m2)/m1 from the mean eRanks m_k: the dataset's ratio, as the paper reports it. */
  imageReductionRatio: number | null;
  imageReductionRatioCI95: Interval | null;
  /** mean(m3, m4, m5)/max(m3, m4, m5) from the mean eRanks. */
  imageTextAlignment: number | null;
  imageTextAlignmentCI95: Interval | null;
  /** Mean of the per-sample ratios (not the same number as imageReductionRatio). */
  meanSampleImageReductionRatio: MeanWithInterval;
  meanSampleImageTextAlignment: MeanWithInterval;
}

export interface MultimodalDatasetOptions {
  /** Bootstrap resamples for the 95% intervals; default 1000. */
  bootstrapResamples?: number;
  /** PRNG seed for the bootstrap; default 0. */
  seed?: number;
}

function mean(xs: Float64Array): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/**
 * Percentile bootstrap 95% interval of `stat(means of the series)`, resampling sample indices
 * jointly with mulberry32(seed) in the same order as bootstrapMeanCI95 (so the resamples coincide).
 * Null for fewer than 2 samples or no resamples.
 */
export function bootstrapStatOfMeansCI95(series: Float64Array[], stat: (means: number[]) => number, resamples: number, seed: number): Interval | null {
  const m = series[0]?.length ?? 0;
  if (m < 2 || resamples < 1) return null;
  const rand = mulberry32(seed);
  const values = new Float64Array(resamples);
  const sums = new Array<number>(series.length);
  for (let b = 0; b < resamples; b++) {
    sums.fill(0);
    for (let i = 0; i < m; i++) {
      const j = Math.floor(rand() * m);
      for (let k = 0; k < series.length; k++) sums[k] += series[k][j];
    }
    values[b] = stat(sums.map((s) => s / m));
  }
  values.sort();
  return { low: quantileSorted(values, 0.025), high: quantileSorted(values, 0.975) };
}

/** Dataset aggregation of per-sample multimodal metrics (see the file comment for what is reported). */
export function multimodalDatasetMetrics(perSample: MultimodalSampleMetrics[], opts: MultimodalDatasetOptions = {}): MultimodalDatasetMetrics {
  const resamples = opts.bootstrapResamples ?? 1000;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 0) throw new Error(`bootstrapResamples must be a non-negative integer, got ${resamples}`);
  const used = perSample.filter((s) => !s.skipped);
  const skipReasons: Record<string, number> = {};
  for (const s of perSample) if (s.skipped) skipReasons[s.skipReason ?? 'unspecified'] = (skipReasons[s.skipReason ?? 'unspecified'] ?? 0) + 1;

  const erank = Object.fromEntries(ERANK_PARTS.map((k) => [k, Float64Array.from(used, (s) => s[k] as number)])) as Record<ErankPart, Float64Array>;
  const series = ERANK_PARTS.map((k) => erank[k]);
  const m = used.length;
  const cis = bootstrapMeanCI95(series, resamples, seed);
  const meanErank = Object.fromEntries(
    ERANK_PARTS.map((k, i) => [k, { mean: m > 0 ? mean(erank[k]) : null, se: standardError(erank[k]), ci95: cis[i] }]),
  ) as Record<ErankPart, MeanWithInterval>;
  const parts = Object.fromEntries(
    ERANK_PARTS.map((k) => [k, datasetMetrics(used.map((s) => s.parts[k]), { bootstrapResamples: resamples, seed })]),
  ) as Record<ErankPart, DatasetMetrics>;

  // Ratios of the mean eRanks; series order is eRank1…eRank5, so means[0] = m1 … means[4] = m5.
  const reduction = (means: number[]) => imageReductionRatio(means[0], means[1]);
  const alignment = (means: number[]) => imageTextAlignment(means[2], means[3], means[4]);
  const means = series.map((x) => (m > 0 ? mean(x) : NaN));

  const perSampleSeries = (name: 'imageReductionRatio' | 'imageTextAlignment'): MeanWithInterval => {
    const xs = Float64Array.from(used, (s) => s[name] as number);
    return { mean: m > 0 ? mean(xs) : null, se: standardError(xs), ci95: bootstrapMeanCI95([xs], resamples, seed)[0] };
  };

  return {
    samplesUsed: m,
    samplesSkipped: perSample.length - m,
    skipReasons,
    meanErank,
    parts,
    imageReductionRatio: m > 0 ? reduction(means) : null,
    imageReductionRatioCI95: bootstrapStatOfMeansCI95(series, reduction, resamples, seed),
    imageTextAlignment: m > 0 ? alignment(means) : null,
    imageTextAlignmentCI95: bootstrapStatOfMeansCI95(series, alignment, resamples, seed),
    meanSampleImageReductionRatio: perSampleSeries('imageReductionRatio'),
    meanSampleImageTextAlignment: perSampleSeries('imageTextAlignment'),
  };
}
