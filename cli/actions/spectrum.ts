// The work of `entroscope spectrum` (cli/commands/spectrum.ts): DESIGN §1 metrics of hidden states already on disk, no model or Temporal.
//
//   entroscope spectrum FILE                one sample: its metrics (steps 1–4)
//   entroscope spectrum FILE FILE… | DIR    each sample, then the dataset aggregates (steps 5–6)
//
// Inputs: a .npy float32/float64 C-order array N×d (tokens × hidden), or L×N×d (layers × tokens ×
// hidden) with --layer-axis i (alias --layer) choosing one layer; or an Arrow IPC file (float columns, one per hidden
// dimension, or one FixedSizeList<float> column, one row per token). The format is recognised by the
// file's magic bytes; a folder contributes its *.npy and *.arrow files (not recursive), sorted by name.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readArrowMatrix } from '../../src/io/arrowMatrix.ts';
import { readNpyArray } from '../../src/io/npy.ts';
import { alphaReq } from '../../src/metrics/alphaReq.ts';
import { datasetMetrics, type DatasetMetrics, type Interval } from '../../src/metrics/datasetMetrics.ts';
import { meanHiddenState, meanPooledMetrics } from '../../src/metrics/meanPooled.ts';
import { PooledGram } from '../../src/metrics/pooled.ts';
import { sampleMetrics, type SampleMetrics } from '../../src/metrics/sampleMetrics.ts';
import { formatTable } from '../format.ts';

export interface SpectrumOptions {
  alpha: string;
  layerAxis?: string;
  layer?: string;
  json?: boolean;
  spectrum?: boolean;
}

/** One sample's metrics as printed (`--json` field names are DESIGN §1's). Null where skipped. */
export interface SampleReport {
  file: string;
  /** The layer chosen from a 3-D array, when --layer-axis was given. */
  layer?: number;
  tokens: number;
  dim: number;
  skipped: boolean;
  skipReason?: string;
  droppedRows: number;
  entropy: number | null;
  normalizedEntropy: number | null;
  erank: number | null;
  renyi2: number | null;
  nuclearNorm: number | null;
  /** H_α for each --alpha, keyed by String(α). */
  renyi: Record<string, number> | null;
  /** Power-law decay of the eigenvalues (α-ReQ), with the R² of its log-log fit. */
  alphaReq: { alpha: number; rSquared: number; points: number } | null;
  /** p, descending, with --spectrum. */
  spectrum?: number[];
}

/** Dataset aggregates: DESIGN §1 step 5 (datasetMetrics) plus pooled and mean-pooled entropy (step 6). */
export interface DatasetReport extends DatasetMetrics {
  pooledEntropy: number | null;
  pooledErank: number | null;
  pooledNormalizedEntropy: number | null;
  /** Kept rows summed into the pooled Gram. */
  pooledRows: number;
  meanPooledEntropy: number | null;
  meanPooledErank: number | null;
  meanPooledNormalizedEntropy: number | null;
  /** Samples whose mean hidden state entered the mean-pooled matrix (the non-skipped ones). */
  meanPooledSamples: number;
}

/** The work of `entroscope spectrum`, loaded only when that command runs. */
export function spectrum(paths: string[], opts: SpectrumOptions): void {
  const alphas = parseAlphas(opts.alpha);
  if (opts.layerAxis !== undefined && opts.layer !== undefined && opts.layerAxis !== opts.layer) {
    throw new Error(`--layer-axis ${opts.layerAxis} and --layer ${opts.layer} disagree: give one`);
  }
  const layerText = opts.layerAxis ?? opts.layer;
  const layer = layerText === undefined ? undefined : parseLayer(layerText);
  const { files, datasetMode } = expandInputs(paths);
  if (!datasetMode) {
    const { report } = measure(files[0], alphas, layer, opts.spectrum === true);
    if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else process.stdout.write(formatSamples([report], alphas));
    return;
  }
  const { samples, dataset } = measureDataset(files, alphas, layer, opts.spectrum === true);
  if (opts.json) process.stdout.write(JSON.stringify({ samples, dataset }, null, 2) + '\n');
  else process.stdout.write(formatSamples(samples, alphas) + '\n' + formatDataset(dataset));
}

// ── inputs ──────────────────────────────────────────────────────────────────────────────────────

function parseAlphas(list: string): number[] {
  const alphas = list.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    const a = Number(s);
    if (!(a > 0) || !Number.isFinite(a)) throw new Error(`--alpha: '${s}' is not a positive number`);
    return a;
  });
  if (alphas.length === 0) throw new Error('--alpha: give at least one Rényi order, e.g. --alpha 2');
  return alphas;
}

function parseLayer(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new Error(`--layer-axis: '${text}' is not a layer index (0, 1, 2, …)`);
  return Number(text);
}

const DATA_FILE = /\.(npy|arrow)$/i;

/** Files to read, in order; dataset mode when several paths or any folder were given. */
function expandInputs(paths: string[]): { files: string[]; datasetMode: boolean } {
  const files: string[] = [];
  let folder = false;
  for (const path of paths) {
    let isDir: boolean;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      throw new Error(`${path}: no such file or directory`);
    }
    if (!isDir) {
      files.push(path);
      continue;
    }
    folder = true;
    const inside = readdirSync(path).filter((name) => DATA_FILE.test(name)).sort();
    if (inside.length === 0) throw new Error(`${path}: folder has no .npy or .arrow files`);
    files.push(...inside.map((name) => join(path, name)));
  }
  return { files, datasetMode: folder || files.length > 1 };
}

interface Matrix {
  x: ArrayLike<number>;
  rows: number;
  cols: number;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/** X: N×d of one file (one layer of a 3-D .npy with `layer`); errors name the file. */
function readMatrix(file: string, layer: number | undefined): Matrix {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!NPY_MAGIC.every((b, i) => bytes[i] === b)) {
    if (layer !== undefined) throw new Error(`${file}: --layer-axis applies only to 3-D .npy arrays (layers × tokens × hidden)`);
    if (/\.npy$/i.test(file)) throw new Error(`${file}: not a .npy file (bad magic; expected "\\x93NUMPY")`);
    const m = readArrowMatrix(bytes, file);
    return { x: m.data, rows: m.rows, cols: m.cols };
  }
  const a = readNpyArray(bytes, file);
  if (a.shape.length === 2) {
    if (layer !== undefined) {
      throw new Error(`${file}: --layer-axis applies only to 3-D arrays (layers × tokens × hidden), got shape ${a.shapeText}`);
    }
    return { x: a.data, rows: a.shape[0], cols: a.shape[1] };
  }
  if (a.shape.length === 3) {
    const [layers, rows, cols] = a.shape;
    if (layer === undefined) {
      throw new Error(`${file}: 3-D array of shape ${a.shapeText} (layers × tokens × hidden): choose a layer with --layer-axis <i>`);
    }
    if (layer >= layers) throw new Error(`${file}: --layer-axis ${layer} is out of range; shape ${a.shapeText} has layers 0…${layers - 1}`);
    return { x: a.data.subarray(layer * rows * cols, (layer + 1) * rows * cols), rows, cols };
  }
  throw new Error(`${file}: expected a 2-D array (tokens × hidden) or, with --layer, a 3-D one (layers × tokens × hidden); got shape ${a.shapeText}`);
}

// ── metrics ─────────────────────────────────────────────────────────────────────────────────────

function withFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    throw new Error(message.startsWith(`${file}: `) ? message : `${file}: ${message}`);
  }
}

function measure(file: string, alphas: number[], layer: number | undefined, keepSpectrum: boolean) {
  const m = readMatrix(file, layer);
  const result = withFile(file, () => sampleMetrics(m.x, m.rows, m.cols, { alphas, keepSpectrum: true }));
  return { report: toReport(file, layer, result.metrics, keepSpectrum), matrix: m, ...result };
}

function toReport(file: string, layer: number | undefined, s: SampleMetrics, keepSpectrum: boolean): SampleReport {
  const fit = s.spectrum ? alphaReq(s.spectrum) : null;
  const report: SampleReport = {
    file,
    ...(layer === undefined ? {} : { layer }),
    tokens: s.tokens,
    dim: s.dim,
    skipped: s.skipped,
    ...(s.skipReason === undefined ? {} : { skipReason: s.skipReason }),
    droppedRows: s.droppedRows,
    entropy: s.entropy ?? null,
    normalizedEntropy: s.normalizedEntropy ?? null,
    erank: s.erank ?? null,
    renyi2: s.renyi2 ?? null,
    nuclearNorm: s.nuclearNorm ?? null,
    renyi: s.renyi ?? null,
    alphaReq: fit && { alpha: fit.alpha, rSquared: fit.rSquared, points: fit.points },
  };
  if (keepSpectrum && s.spectrum) report.spectrum = s.spectrum;
  return report;
}

/** Each file's metrics, then the aggregates; every file must have the same hidden size d. */
function measureDataset(files: string[], alphas: number[], layer: number | undefined, keepSpectrum: boolean) {
  const samples: SampleReport[] = [];
  const metrics: SampleMetrics[] = [];
  const means: Float64Array[] = [];
  let pooled: PooledGram | undefined;
  let first: SampleReport | undefined;
  for (const file of files) {
    const { report, metrics: m, normalized, matrix } = measure(file, alphas, layer, keepSpectrum);
    first ??= report;
    if (report.dim !== first.dim) {
      throw new Error(`${file}: hidden size ${report.dim} differs from ${first.file}'s ${first.dim}; a dataset needs one d`);
    }
    samples.push(report);
    metrics.push(m);
    if (m.skipped) continue;
    pooled ??= new PooledGram(report.dim);
    pooled.add(normalized);
    means.push(meanHiddenState(matrix.x, matrix.rows, matrix.cols));
  }
  const pooledMetrics = pooled && pooled.n > 0 ? pooled.metrics() : null;
  const meanPooled = means.length > 0 ? meanPooledMetrics(means, first!.dim) : null;
  const dataset: DatasetReport = {
    ...datasetMetrics(metrics),
    pooledEntropy: pooledMetrics?.pooledEntropy ?? null,
    pooledErank: pooledMetrics?.pooledErank ?? null,
    pooledNormalizedEntropy: pooledMetrics?.pooledNormalizedEntropy ?? null,
    pooledRows: pooledMetrics?.n ?? 0,
    meanPooledEntropy: meanPooled?.entropy ?? null,
    meanPooledErank: meanPooled?.erank ?? null,
    meanPooledNormalizedEntropy: meanPooled?.normalizedEntropy ?? null,
    meanPooledSamples: means.length,
  };
  return { samples, dataset };
}

// ── human output ────────────────────────────────────────────────────────────────────────────────

function num(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return String(Number(v.toPrecision(6)));
}

function interval(ci: Interval | null): string {
  return ci ? `[${num(ci.low)}, ${num(ci.high)}]` : '—';
}

function formatSamples(samples: SampleReport[], alphas: number[]): string {
  const extra = alphas.filter((a) => a !== 2).map(String);
  const header = ['file', 'tokens', 'dim', 'dropped', 'entropy', 'H/log d', 'erank', 'renyi2', ...extra.map((a) => `H_${a}`), 'nuclear', 'alphaReq (R²)'];
  const rows = samples.map((s) => [
    s.layer === undefined ? s.file : `${s.file} [layer ${s.layer}]`,
    String(s.tokens),
    String(s.dim),
    String(s.droppedRows),
    num(s.entropy),
    num(s.normalizedEntropy),
    num(s.erank),
    num(s.renyi2),
    ...extra.map((a) => num(s.renyi?.[a])),
    num(s.nuclearNorm),
    s.alphaReq ? `${num(s.alphaReq.alpha)} (${num(s.alphaReq.rSquared)})` : '—',
  ]);
  let out = formatTable(header, rows);
  for (const s of samples) if (s.skipped) out += `skipped ${s.file}: ${s.skipReason}\n`;
  for (const s of samples) {
    if (!s.spectrum) continue;
    out += `\nspectrum of ${s.file} (p, descending, ${s.spectrum.length} values):\n`;
    for (let i = 0; i < s.spectrum.length; i += 8) out += '  ' + s.spectrum.slice(i, i + 8).map(num).join('  ') + '\n';
  }
  return out;
}

function formatDataset(d: DatasetReport): string {
  const rows = [
    ['samplesUsed', String(d.samplesUsed), '', ''],
    ['samplesSkipped', String(d.samplesSkipped), '', ''],
    ['meanEntropy', num(d.meanEntropy), num(d.meanEntropySE), interval(d.meanEntropyCI95)],
    ['erankOfMeanEntropy', num(d.erankOfMeanEntropy), '', interval(d.erankOfMeanEntropyCI95)],
    ['meanErank', num(d.meanErank), num(d.meanErankSE), interval(d.meanErankCI95)],
    ['meanNormalizedEntropy', num(d.meanNormalizedEntropy), num(d.meanNormalizedEntropySE), interval(d.meanNormalizedEntropyCI95)],
    ['pooledEntropy', num(d.pooledEntropy), '', ''],
    ['pooledErank', num(d.pooledErank), '', ''],
    ['meanPooledEntropy', num(d.meanPooledEntropy), '', ''],
    ['meanPooledErank', num(d.meanPooledErank), '', ''],
  ];
  let out = formatTable(['dataset', 'value', 'SE', 'CI95'], rows);
  for (const [reason, count] of Object.entries(d.skipReasons)) out += `skipped ${count}: ${reason}\n`;
  return out;
}
