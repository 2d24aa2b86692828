/**
 * Hidden states computed by another engine (vLLM, a PyTorch/transformers script on a GPU box), read
 * from a file or folder, local or s3://, as samples X: N×d per layer (README "Hidden states from
 * another engine" is the normative layout):
 *
 *   safetensors, vLLM's extract_hidden_states (ExampleHiddenStatesConnector: one `<req_id>.safetensors`
 *     per request): `hidden_states` [N, k, d] + `token_ids` [N]; the k layers are the
 *     `eagle_aux_hidden_state_layer_ids` given to vLLM (`layerIds`), vLLM id i = the residual stream
 *     entering decoder layer i = HF hidden_states[i] (i = L: the last block's output before the final norm).
 *   safetensors, as HF users save them: per file `hidden_states` [N, d] or stacked [layers, N, d]
 *     (HF output_hidden_states order), or `hidden_states.{i}` [N, d] per HF index i; several samples
 *     in one file as `sample_{j}` ([N, d] / [layers, N, d]) or `sample_{j}.hidden_states.{i}` / `sample_{j}.{i}`.
 *     A file holding one float tensor of another name is that file's sample.
 *   .npy: one file per sample, [N, d] or stacked [layers, N, d]; '<f4', '<f8', '<f2'.
 *   Arrow IPC: one row per sample, `hidden_states` (or `hidden_states.{i}`) a list of per-token lists
 *     (list<fixed_size_list<float>[d]> or list<list<float>>); or one row per token, `hidden_states` a
 *     list<float> / fixed_size_list<float>[d], consecutive rows with the same `id` one sample (no
 *     `id`: the file is one sample); optional `text` column.
 *
 * Dtypes F32, F16, BF16 (safetensors), F64. Everything checkable from headers (rank, dtype, widths
 * across samples of a layer, the same layers in every sample, truncated files) is checked when the
 * catalog is made; values (NaN/Inf) when they are read. Each error names the file, tensor and sample.
 */
import { stat, readdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as A from 'apache-arrow';
import { InputError } from '../errors.ts';
import { fileSource, type ByteSource } from '../data/byteSource.ts';
import { isS3Folder, isS3Uri, s3FolderSource, s3Source } from '../data/s3ByteSource.ts';
import { readNpyHeader } from '../io/npy.ts';
import { halfToFloat } from '../io/float16.ts';
import { decodeFloats, FLOAT_DTYPE_BYTES, parseSafetensorsHeader, safetensorsHeaderLength, type SafetensorsTensor } from './safetensors.ts';

export { HIDDEN_STATES_FORMATS, type HiddenStatesFormat } from './hiddenStatesFormats.ts';
import type { HiddenStatesFormat } from './hiddenStatesFormats.ts';

export interface HiddenStatesOptions {
  /** A file or folder: absolute local path or s3:// URI. */
  uri: string;
  /** From the extension when absent. */
  format?: HiddenStatesFormat;
  /**
   * The layer index of each stored layer, in stored order: vLLM's `eagle_aux_hidden_state_layer_ids`
   * (required for vLLM files, which do not record them), or HF indices of a stacked tensor that holds
   * a subset of the layers, or the index of a single unindexed layer.
   */
  layerIds?: number[];
  /** The model's num_hidden_layers L: HF index L is then named `final` (a stacked [L+1, N, d] tells it itself). */
  blocks?: number;
}

/** A layer the files hold: its name in results and the index it was stored under (HF's or vLLM's). */
export interface HiddenLayer {
  name: string;
  /** null: a single layer saved without an index (named `last`). */
  index: number | null;
  /** Whose indices: Hugging Face's hidden_states or vLLM's layer ids. */
  kind: 'hf' | 'vllm';
  /** Width d. */
  cols: number;
}

export interface HiddenStatesFile {
  /** Absolute path or s3:// URI. */
  uri: string;
  bytes: number;
}

/** One layer of one sample: the stored tensor and how its N×d values sit in it. */
export interface TensorSlice {
  file: number;
  tensor: string;
  /** F32 | F16 | BF16 | F64. */
  dtype: string;
  /** The tensor's absolute byte range in the file (Arrow: the whole file). */
  begin: number;
  end: number;
  rows: number;
  cols: number;
  /** Elements of the tensor to take: `runs` runs of `run`, the r-th starting at `first + r·stride`. */
  pick: { first: number; run: number; stride: number; runs: number };
  /** Arrow: the table row (one row per sample), or the first of `arrowRows` rows (one row per token). */
  arrowRow?: number;
  arrowRows?: number;
}

export interface SampleRef {
  /** For messages: `file, sample j`. */
  where: string;
  /** One slice per layer of the catalog, in its order. */
  layers: TensorSlice[];
  /** Arrow `text` column. */
  text?: string;
}

export interface HiddenStatesCatalog {
  format: HiddenStatesFormat;
  /** Which layout the files were read as (vllm | stacked | per-layer | single | arrow). */
  layout: string;
  files: HiddenStatesFile[];
  layers: HiddenLayer[];
  /** L, when known (given, or told by a stacked tensor of every layer). */
  blocks?: number;
  /** The first sample, which the others are checked against. */
  firstWhere: string;
  samples: SampleRef[];
}

/** Files (headers, byte ranges) read at once: S3 round trips overlap; memory ≈ this many ranges. */
const READ_CONCURRENCY = 8;

const EXTENSIONS: Record<string, HiddenStatesFormat> = {
  '.safetensors': 'safetensors', '.npy': 'npy', '.arrow': 'arrow', '.arrows': 'arrow', '.ipc': 'arrow', '.feather': 'arrow',
};

/** Numeric-aware name order: sample_2 before sample_10 (the order samples are numbered in). */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    if (i % 2 === 1) {
      const d = BigInt(pa[i]) - BigInt(pb[i]);
      if (d !== 0n) return d < 0n ? -1 : 1;
    }
    return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

export function byteSourceOf(uri: string): ByteSource {
  return isS3Uri(uri) ? s3Source(uri) : fileSource(uri);
}

/** The files of a file or folder URI, in sample order, with the format they are in. */
async function listFiles(opts: HiddenStatesOptions): Promise<{ files: HiddenStatesFile[]; format: HiddenStatesFormat }> {
  const uri = opts.uri;
  let entries: HiddenStatesFile[];
  let folder: boolean;
  if (isS3Uri(uri)) {
    folder = await isS3Folder(uri);
    if (folder) {
      const f = s3FolderSource(uri);
      const base = uri.replace(/\/+$/, '');
      entries = (await f.list('')).map((e) => ({ uri: `${base}/${e.name}`, bytes: e.sizeBytes }));
    } else entries = [{ uri, bytes: await s3Source(uri).sizeBytes() }];
  } else {
    let s;
    try {
      s = await stat(uri);
    } catch {
      throw new InputError(`hidden states not found: ${uri}`);
    }
    folder = s.isDirectory();
    if (folder) {
      entries = [];
      for (const name of await readdir(uri)) {
        const st = await stat(join(uri, name));
        if (st.isFile()) entries.push({ uri: join(uri, name), bytes: st.size });
      }
    } else entries = [{ uri, bytes: s.size }];
  }
  const formatOf = (u: string) => EXTENSIONS[extname(u).toLowerCase()];
  let format = opts.format;
  if (!format) {
    const found = [...new Set(entries.map((e) => formatOf(e.uri)).filter((f): f is HiddenStatesFormat => f !== undefined))];
    if (found.length > 1) throw new InputError(`hidden states ${uri}: holds ${found.join(' and ')} files; keep one format per folder, or give the format`);
    if (found.length === 0) throw new InputError(`hidden states ${uri}: no .safetensors, .npy or .arrow file${folder ? ' in the folder' : ''} (give the format when the extension does not say)`);
    format = found[0];
  }
  // A folder contributes the files of its format (vLLM's `.lock` companions and anything else are ignored).
  const files = (folder ? entries.filter((e) => formatOf(e.uri) === format) : entries).sort((a, b) => naturalCompare(basename(a.uri), basename(b.uri)));
  if (files.length === 0) throw new InputError(`hidden states ${uri}: no ${format} files in the folder`);
  return { files, format };
}

/** Layer names from indices: HF's (0 = embeddings, i = block.{i−1}, L = final) or vLLM's (i = block.{i−1}). */
function layerName(index: number | null, kind: 'hf' | 'vllm', blocks: number | undefined): string {
  if (index === null) return 'last';
  if (index === 0) return 'embeddings';
  if (kind === 'vllm') return `block.${index - 1}`;
  if (blocks === undefined) return `hidden_states.${index}`;
  if (index === blocks) return 'final';
  if (index > blocks) throw new InputError(`hidden-states layer index ${index} is past the model's ${blocks} blocks (HF indices run 0…${blocks})`);
  return `block.${index - 1}`;
}

interface StoredLayer {
  index: number | null;
  kind: 'hf' | 'vllm';
  slice: Omit<TensorSlice, 'file'>;
}

function float2(t: SafetensorsTensor, where: string): { rows: number; cols: number } {
  if (FLOAT_DTYPE_BYTES[t.dtype] === undefined) throw new InputError(`${where}: dtype ${t.dtype} is not a hidden-state dtype (F32, F16, BF16, F64)`);
  return { rows: t.shape[0], cols: t.shape[1] };
}

/** A [N, d] tensor (or the layers of a stacked [layers, N, d] one) of one sample. */
function layersOfTensor(t: SafetensorsTensor, where: string, opts: HiddenStatesOptions, index: number | null): StoredLayer[] {
  const bytes = FLOAT_DTYPE_BYTES[t.dtype];
  if (bytes === undefined) throw new InputError(`${where}, tensor '${t.name}': dtype ${t.dtype} is not a hidden-state dtype (F32, F16, BF16, F64)`);
  const base = { tensor: t.name, dtype: t.dtype, begin: t.begin, end: t.end };
  if (t.shape.length === 2 && index !== undefined) {
    const [rows, cols] = t.shape;
    const id = index ?? opts.layerIds?.[0] ?? null;
    return [{ index: id, kind: 'hf', slice: { ...base, rows, cols, pick: { first: 0, run: rows * cols, stride: rows * cols, runs: 1 } } }];
  }
  if (t.shape.length === 3 && index === null) {
    const [k, rows, cols] = t.shape;
    const ids = opts.layerIds ?? Array.from({ length: k }, (_, i) => i);
    if (ids.length !== k) throw new InputError(`${where}, tensor '${t.name}': ${k} stacked layers, but ${ids.length} layer ids were given`);
    return ids.map((id, l) => ({ index: id, kind: 'hf' as const, slice: { ...base, rows, cols, pick: { first: l * rows * cols, run: rows * cols, stride: rows * cols, runs: 1 } } }));
  }
  throw new InputError(
    `${where}, tensor '${t.name}': shape [${t.shape.join(', ')}] has rank ${t.shape.length}; expected [tokens, hidden]${index === null ? ' or stacked [layers, tokens, hidden]' : ''}`,
  );
}

/** The samples of one safetensors file (one, or many under `sample_{j}` keys), each as layers. */
function safetensorsSamples(tensors: SafetensorsTensor[], file: string, opts: HiddenStatesOptions): { layout: string; samples: Array<{ where: string; layers: StoredLayer[] }> } {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const hs = byName.get('hidden_states');
  const tokenIds = byName.get('token_ids');
  if (hs && tokenIds && hs.shape.length === 3 && tokenIds.shape.length === 1 && tokenIds.shape[0] === hs.shape[0]) {
    // vLLM ExampleHiddenStatesConnector: [N, k, d], layer j = N runs of d, stride k·d.
    const [rows, k, cols] = hs.shape;
    const where = `${file}, tensor 'hidden_states'`;
    float2({ ...hs, shape: [rows, cols] }, where);
    if (!opts.layerIds) {
      throw new InputError(`${file}: vLLM extract_hidden_states file ([${hs.shape.join(', ')}] with token_ids) does not record its layers: give the eagle_aux_hidden_state_layer_ids you passed to vLLM (--hidden-states-layer-ids ${Array.from({ length: k }, (_, i) => i + 1).join(',')} …)`);
    }
    if (opts.layerIds.length !== k) throw new InputError(`${where}: holds ${k} layers, but ${opts.layerIds.length} layer ids were given (${opts.layerIds.join(',')})`);
    const layers = opts.layerIds.map((id, j): StoredLayer => ({
      index: id, kind: 'vllm',
      slice: { tensor: 'hidden_states', dtype: hs.dtype, begin: hs.begin, end: hs.end, rows, cols, pick: { first: j * cols, run: cols, stride: k * cols, runs: rows } },
    }));
    return { layout: 'vllm', samples: [{ where: `${file}`, layers }] };
  }
  const floats = tensors.filter((t) => FLOAT_DTYPE_BYTES[t.dtype] !== undefined);
  const samples = new Map<number, StoredLayer[]>();
  let layout = '';
  const add = (j: number, ls: StoredLayer[]) => samples.set(j, [...(samples.get(j) ?? []), ...ls]);
  for (const t of tensors) {
    let m;
    if ((m = /^sample_(\d+)$/.exec(t.name))) {
      add(Number(m[1]), layersOfTensor(t, `${file}, sample ${m[1]}`, opts, null));
      layout ||= 'samples';
    } else if ((m = /^sample_(\d+)\.(?:hidden_states\.)?(\d+)$/.exec(t.name))) {
      add(Number(m[1]), layersOfTensor(t, `${file}, sample ${m[1]}`, opts, Number(m[2])));
      layout ||= 'samples';
    } else if (t.name === 'hidden_states') {
      add(0, layersOfTensor(t, file, opts, null));
      layout ||= 'file';
    } else if ((m = /^hidden_states\.(\d+)$/.exec(t.name))) {
      add(0, layersOfTensor(t, file, opts, Number(m[1])));
      layout ||= 'file';
    }
  }
  if (samples.size === 0) {
    if (floats.length !== 1) {
      throw new InputError(`${file}: no hidden-states tensor: expected 'hidden_states', 'hidden_states.{layer}', 'sample_{i}' or one float tensor; found ${tensors.map((t) => `'${t.name}' ${t.dtype}[${t.shape.join(', ')}]`).join(', ') || 'none'}`);
    }
    add(0, layersOfTensor(floats[0], file, opts, null));
    layout = 'file';
  }
  const order = [...samples.keys()].sort((a, b) => a - b);
  return { layout, samples: order.map((j) => ({ where: layout === 'samples' ? `${file}, sample ${j}` : file, layers: samples.get(j)! })) };
}

const NPY_DTYPES: Record<string, string> = { '<f4': 'F32', '<f8': 'F64', '<f2': 'F16' };

function npySample(head: Uint8Array, file: HiddenStatesFile, opts: HiddenStatesOptions): { where: string; layers: StoredLayer[] } {
  let h;
  try {
    h = readNpyHeader(head, file.uri);
  } catch (err) {
    throw new InputError((err as Error).message);
  }
  const dtype = NPY_DTYPES[h.descr];
  if (!dtype) throw new InputError(`${file.uri}: dtype '${h.descr}' is not a hidden-state dtype ('<f4' float32, '<f8' float64, '<f2' float16)`);
  const count = h.shape.reduce((a, b) => a * b, 1);
  const end = h.dataStart + count * FLOAT_DTYPE_BYTES[dtype];
  if (file.bytes < end) throw new InputError(`${file.uri}: truncated .npy file: ${file.bytes} bytes, shape ${h.shapeText} ${h.descr} needs ${end}`);
  const t: SafetensorsTensor = { name: '', dtype, shape: h.shape, begin: h.dataStart, end };
  return { where: file.uri, layers: layersOfTensor(t, file.uri, opts, null) };
}

/** Is an Arrow column one token per row (list<float> / fixed_size_list<float>), rather than one sample per row? */
function isTokenColumn(type: A.DataType): boolean {
  const child = (type as A.List | A.FixedSizeList).children?.[0]?.type;
  return (A.DataType.isList(type) || A.DataType.isFixedSizeList(type)) && child !== undefined && A.DataType.isFloat(child);
}

/**
 * Arrow: the hidden-states columns, either one row per sample (a list of per-token lists) or one
 * row per token (a list of floats), consecutive rows with the same `id` forming a sample (no `id`
 * column: the whole file is one sample); shapes from the cells.
 */
function arrowSamples(bytes: Uint8Array, file: HiddenStatesFile, opts: HiddenStatesOptions): Array<{ where: string; layers: StoredLayer[]; text?: string }> {
  let table: A.Table;
  try {
    table = A.tableFromIPC(bytes);
  } catch (err) {
    throw new InputError(`${file.uri}: not a readable Arrow IPC file (${(err as Error).message})`);
  }
  const cols = table.schema.fields.filter((f) => f.name === 'hidden_states' || /^hidden_states\.\d+$/.test(f.name));
  if (cols.length === 0) throw new InputError(`${file.uri}: no 'hidden_states' or 'hidden_states.{layer}' column (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`);
  const textCol = table.getChild('text');
  const idCol = table.getChild('id');
  const perToken = isTokenColumn(cols[0].type);
  if (cols.some((f) => isTokenColumn(f.type) !== perToken)) throw new InputError(`${file.uri}: mixes per-token and per-sample hidden-states columns`);
  // Samples as runs of rows: one row each, or the rows sharing an id.
  const runs: Array<{ first: number; count: number; label: string }> = [];
  for (let r = 0; r < table.numRows; r++) {
    const id = idCol ? String(idCol.get(r)) : '';
    const last = runs[runs.length - 1];
    if (perToken && last && last.label === id) last.count++;
    else runs.push({ first: r, count: 1, label: id });
  }
  const out = runs.map((run, j) => ({
    where: `${file.uri}, ${perToken ? (idCol ? `sample id ${run.label} (rows ${run.first}…${run.first + run.count - 1})` : 'the one sample') : `row ${run.first}`}`,
    layers: [] as StoredLayer[],
    text: textCol ? String(textCol.get(run.first) ?? '') : undefined,
    sample: j,
  }));
  for (const f of cols) {
    const m = /^hidden_states\.(\d+)$/.exec(f.name);
    const index = m ? Number(m[1]) : (opts.layerIds?.[0] ?? null);
    const col = table.getChild(f.name)!;
    runs.forEach((run, j) => {
      const where = `${out[j].where}, column '${f.name}'`;
      const x = perToken ? arrowTokens(col, run.first, run.count, where) : arrowCell(col.get(run.first), where);
      const slice = { tensor: f.name, dtype: 'F64', begin: 0, end: file.bytes, rows: x.rows, cols: x.cols, pick: { first: 0, run: 0, stride: 0, runs: 0 }, arrowRow: run.first, ...(perToken ? { arrowRows: run.count } : {}) };
      out[j].layers.push({ index, kind: 'hf', slice });
    });
  }
  return out;
}

/** Per-token rows first … first+count−1 of an Arrow column as one sample. */
export function arrowTokens(col: A.Vector, first: number, count: number, where: string): { rows: number; cols: number; data: Float64Array } {
  return arrowCell(Array.from({ length: count }, (_, i) => col.get(first + i)), where);
}

/** One Arrow cell: a list of per-token float lists → N×d float64 (rows of unequal width are an error). */
export function arrowCell(cell: unknown, where: string): { rows: number; cols: number; data: Float64Array } {
  if (cell === null || cell === undefined) throw new InputError(`${where}: null hidden states`);
  const tokens = [...(cell as Iterable<unknown>)];
  let cols = -1;
  const rowsOut: ArrayLike<number>[] = [];
  tokens.forEach((t, i) => {
    if (t === null || typeof t !== 'object' || !(Symbol.iterator in (t as object))) {
      throw new InputError(`${where}: expected a list of per-token lists (list<list<float>> or list<fixed_size_list<float>>), token ${i} is ${t === null ? 'null' : typeof t}`);
    }
    const v = (t as { toArray?: () => ArrayLike<number> }).toArray ? (t as { toArray: () => ArrayLike<number> }).toArray() : [...(t as Iterable<number>)];
    if (cols < 0) cols = v.length;
    else if (v.length !== cols) throw new InputError(`${where}: token ${i} has ${v.length} values, token 0 has ${cols} (ragged)`);
    rowsOut.push(v);
  });
  const data = new Float64Array(tokens.length * Math.max(cols, 0));
  rowsOut.forEach((v, i) => {
    for (let j = 0; j < cols; j++) {
      const x = v[j] as number;
      data[i * cols + j] = v instanceof Uint16Array ? halfToFloat(x) : Number(x);
    }
  });
  return { rows: tokens.length, cols: Math.max(cols, 0), data };
}

interface FileSample {
  where: string;
  layers: StoredLayer[];
  file: number;
  text?: string;
}

/** The samples of files[from … to] (headers; Arrow: the files), in order, file indices as in `files`. */
async function fileSamples(files: HiddenStatesFile[], from: number, to: number, format: HiddenStatesFormat, opts: HiddenStatesOptions): Promise<{ samples: FileSample[]; layout: string }> {
  const samples: FileSample[] = [];
  let layout = format === 'npy' ? 'file' : format;
  // Headers are read READ_CONCURRENCY files at a time (S3: one round trip each), results in file order.
  const indices = Array.from({ length: to - from + 1 }, (_, k) => from + k);
  const perFile = Readable.from(indices).map(
    async (fi: number): Promise<{ layout?: string; samples: FileSample[] }> => {
      const file = files[fi];
      const src = byteSourceOf(file.uri);
      if (format === 'safetensors') {
        const n = safetensorsHeaderLength(await src.slice(0, 8), file.uri);
        const header = parseSafetensorsHeader(await src.slice(8, 8 + n), n, file.bytes, file.uri);
        const got = safetensorsSamples(header.tensors, file.uri, opts);
        return { layout: got.layout, samples: got.samples.map((x) => ({ ...x, file: fi })) };
      }
      if (format === 'npy') {
        const head = await src.slice(0, Math.min(file.bytes, 65_536));
        return { samples: [{ ...npySample(head, file, opts), file: fi }] };
      }
      return { samples: arrowSamples(await src.slice(0, file.bytes), file, opts).map((x) => ({ where: x.where, layers: x.layers, text: x.text, file: fi })) };
    },
    { concurrency: READ_CONCURRENCY },
  );
  for await (const got of perFile as AsyncIterable<{ layout?: string; samples: FileSample[] }>) {
    if (got.layout) layout = got.layout;
    samples.push(...got.samples);
  }
  return { samples, layout };
}

const keyOf = (l: { kind: 'hf' | 'vllm'; index: number | null }) => `${l.kind}:${l.index}`;

/** Each sample's slices in the order of `available` (the first sample's layers), checking every sample holds them, as wide. */
function alignSamples(samples: FileSample[], available: HiddenLayer[], firstWhere: string, blocks: number | undefined): SampleRef[] {
  const names = available.map((l) => l.name);
  return samples.map((s) => {
    const have = new Map(s.layers.map((l) => [keyOf(l), l]));
    return {
      where: s.where,
      ...(s.text !== undefined ? { text: s.text } : {}),
      layers: available.map((a) => {
        const l = have.get(keyOf(a));
        if (!l || s.layers.length !== available.length) {
          throw new InputError(`${s.where}: holds layers [${s.layers.map((x) => layerName(x.index, x.kind, blocks)).join(', ')}], but ${firstWhere} holds [${names.join(', ')}]; every sample needs the same layers`);
        }
        if (l.slice.cols !== a.cols) {
          throw new InputError(`${s.where}, tensor '${l.slice.tensor}': layer ${a.name} is ${l.slice.cols} wide, but ${firstWhere} has ${a.cols} (ragged widths across samples)`);
        }
        return { ...l.slice, file: s.file };
      }),
    };
  });
}

/** Reads every file's header (Arrow: the file) and checks the layout; values are read per shard. */
export async function catalogHiddenStates(opts: HiddenStatesOptions): Promise<HiddenStatesCatalog> {
  const { files, format } = await listFiles(opts);
  const { samples, layout } = await fileSamples(files, 0, files.length - 1, format, opts);
  if (samples.length === 0) throw new InputError(`hidden states ${opts.uri}: no samples`);
  // Every sample holds the same layers, each as wide as in the first sample.
  const first = samples[0];
  const blocks = opts.blocks ?? stackedBlocks(first.layers);
  const layers: HiddenLayer[] = first.layers.map((l) => ({ index: l.index, kind: l.kind, cols: l.slice.cols, name: layerName(l.index, l.kind, blocks) }));
  const names = layers.map((l) => l.name);
  if (new Set(names).size !== names.length) throw new InputError(`${first.where}: layer ${names.find((n, i) => names.indexOf(n) !== i)} appears twice`);
  return { format, layout, files, layers, blocks, firstWhere: first.where, samples: alignSamples(samples, layers, first.where, blocks) };
}

/** Where a shard's samples are: files[first … last], from the `offset`-th sample of files[first]. */
export interface ShardSpan {
  files: [number, number];
  offset: number;
  rows: number;
}

/** The span of samples [start, start + rows) of a catalog (samples are in file order). */
export function spanOf(catalog: HiddenStatesCatalog, start: number, rows: number): ShardSpan {
  const first = catalog.samples[start].layers[0].file;
  const last = catalog.samples[start + rows - 1].layers[0].file;
  let offset = 0;
  while (start - offset - 1 >= 0 && catalog.samples[start - offset - 1].layers[0].file === first) offset++;
  return { files: [first, last], offset, rows };
}

/** A shard's samples, re-read from its files' headers on the worker (the plan keeps spans, not slices). */
export async function samplesOfSpan(
  hs: { files: HiddenStatesFile[]; format: HiddenStatesFormat; layerIds?: number[]; blocks?: number; available: HiddenLayer[]; firstWhere: string },
  span: ShardSpan,
): Promise<SampleRef[]> {
  const { samples } = await fileSamples(hs.files, span.files[0], span.files[1], hs.format, { uri: '', layerIds: hs.layerIds, blocks: hs.blocks });
  const part = samples.slice(span.offset, span.offset + span.rows);
  if (part.length !== span.rows) throw new InputError(`${hs.files[span.files[0]].uri}: ${part.length} samples from sample ${span.offset} on, the plan has ${span.rows} (the files changed since planning)`);
  return alignSamples(part, hs.available, hs.firstWhere, hs.blocks);
}

/** Keeps the first `maxTokens` rows of a slice (the rows are tokens in order). */
function truncateSlice(s: TensorSlice, maxTokens: number): TensorSlice {
  if (s.rows <= maxTokens) return s;
  const p = s.pick;
  // Contiguous [N, d]: one run of N·d; vLLM's strided layer: N runs of d; Arrow: the rows decoded, then cut.
  const pick = p.runs === 1 ? { ...p, run: maxTokens * s.cols } : { ...p, runs: maxTokens };
  return { ...s, rows: maxTokens, pick };
}

/** What a shard measures of its samples: the chosen layers (indices into the catalog's), each cut at maxTokens rows. */
export function measuredSamples(refs: SampleRef[], chosen: number[], maxTokens: number): MeasuredSample[] {
  return refs.map((s) => ({
    where: s.where,
    ...(s.text !== undefined ? { text: s.text } : {}),
    truncated: s.layers[0].rows > maxTokens,
    layers: chosen.map((i) => truncateSlice(s.layers[i], maxTokens)),
  }));
}

export interface MeasuredSample extends SampleRef {
  truncated: boolean;
}

/** A stacked [L+1, N, d] tensor of every HF layer (no layer ids given) tells L. */
function stackedBlocks(layers: StoredLayer[]): number | undefined {
  if (layers.length < 2 || layers.some((l, i) => l.index !== i || l.kind !== 'hf')) return undefined;
  const tensors = new Set(layers.map((l) => l.slice.tensor));
  return tensors.size === 1 ? layers.length - 1 : undefined;
}

export interface ReadSample {
  /** Per layer, X: rows×cols float64 row-major. */
  layers: Array<{ data: Float64Array; rows: number; cols: number }>;
}

/**
 * Reads samples' layers (the slices given), one byte range per file, and the sha256 of exactly
 * the bytes read (each range as `file-index begin end` then its bytes, in order of first use), so
 * a worker's read is checked against the planner's.
 */
export async function readSamples(files: HiddenStatesFile[], samples: Array<{ where: string; layers: TensorSlice[] }>, decode: boolean): Promise<{ samples: ReadSample[]; sha256: string }> {
  const ranges = new Map<number, { begin: number; end: number }>();
  for (const s of samples) {
    for (const l of s.layers) {
      const r = ranges.get(l.file);
      ranges.set(l.file, r ? { begin: Math.min(r.begin, l.begin), end: Math.max(r.end, l.end) } : { begin: l.begin, end: l.end });
    }
  }
  const hash = createHash('sha256');
  const bytesOf = new Map<number, { begin: number; bytes: Uint8Array; table?: A.Table }>();
  const read = Readable.from([...ranges]).map(
    async ([fi, r]: [number, { begin: number; end: number }]) => {
      const file = files[fi];
      const bytes = await byteSourceOf(file.uri).slice(r.begin, r.end);
      if (bytes.length !== r.end - r.begin) throw new InputError(`${file.uri}: truncated: bytes [${r.begin}, ${r.end}) were planned, ${bytes.length} read`);
      return { fi, r, bytes };
    },
    { concurrency: READ_CONCURRENCY },
  );
  // In order of first use, whichever read finished first.
  for await (const { fi, r, bytes } of read as AsyncIterable<{ fi: number; r: { begin: number; end: number }; bytes: Uint8Array }>) {
    hash.update(`${fi} ${r.begin} ${r.end}\n`);
    hash.update(bytes);
    bytesOf.set(fi, { begin: r.begin, bytes });
  }
  if (!decode) return { samples: [], sha256: hash.digest('hex') };
  const out = samples.map((s) => ({
    layers: s.layers.map((l) => {
      const f = bytesOf.get(l.file)!;
      const where = `${s.where}${l.tensor ? `, tensor '${l.tensor}'` : ''}`;
      if (l.arrowRow !== undefined) {
        f.table ??= A.tableFromIPC(f.bytes);
        const col = f.table.getChild(l.tensor)!;
        const x = l.arrowRows !== undefined ? arrowTokens(col, l.arrowRow, l.arrowRows, where) : arrowCell(col.get(l.arrowRow), where);
        // --max-tokens: the first l.rows tokens.
        return x.rows > l.rows ? { data: x.data.slice(0, l.rows * x.cols), rows: l.rows, cols: x.cols } : x;
      }
      const data = decodeFloats(f.bytes.subarray(l.begin - f.begin, l.end - f.begin), l.dtype, where, l.pick);
      return { data, rows: l.rows, cols: l.cols };
    }),
  }));
  return { samples: out, sha256: hash.digest('hex') };
}
