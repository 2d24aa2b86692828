// Datasets in any supported format, behind one API: scan once (validate, hash, select, cut shards),
// then read any shard on its own. Selection is filter → seeded sample → limit, in file order
// (selection.ts); shards are ranges of the *selected* rows, each carrying a format-specific locator
// of its first record so a reader resumes there instead of re-reading the file.
//
// Formats: jsonl, csv, tsv (gzip allowed: `.gz` suffix or gzip magic), parquet, arrow (IPC file or
// stream), txt (a folder of .txt files, one text per file; fields `text` and `name`). The readers
// also serve `json` (one JSON document), which image-text datasets take (imageTextDataset.ts) and
// text datasets do not.
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { InputError } from '../errors.ts';
import { fileSource, folderSource, isLocalFolder, type ByteSource, type FolderSource } from './byteSource.ts';
import { isS3Folder, isS3Uri, s3FolderSource, s3Source } from './s3ByteSource.ts';
import type { FormatReader, RecordLocator, SourceRecord } from './formatReader.ts';
import { jsonlReader } from './jsonlReader.ts';
import { csvReader } from './csvReader.ts';
import { parquetReader } from './parquetReader.ts';
import { arrowReader } from './arrowReader.ts';
import { txtFolderReader } from './txtFolderReader.ts';
import { jsonDocumentReader } from './jsonDocumentReader.ts';
import { parseTemplate, renderTemplate, type Template } from './template.ts';
import { BottomK, inSample, passesFilter, type SampleCut } from './selection.ts';
import type { ReadLimits } from './recordLimit.ts';

export const DATASET_FORMATS = ['jsonl', 'csv', 'tsv', 'parquet', 'arrow', 'txt'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];
/** Every format a reader exists for: the text dataset formats and `json`, one JSON document. */
export type ReaderFormat = DatasetFormat | 'json';

export interface DatasetSource {
  /** Local file or `s3://bucket/key`; a folder (local or an S3 prefix) for `txt`. */
  path: string;
  /** Inferred from the extension (after stripping `.gz`) when absent; a folder means `txt`. */
  format?: DatasetFormat;
  /** Field holding the text (default "text"); same as the template `{textField}`. */
  textField?: string;
  /** Text built from fields, e.g. "{instruction}\n{context}\n{response}". Excludes textField. */
  template?: string;
  /** Keep only records whose listed fields are present, non-null and not only whitespace. */
  filter?: { nonEmpty?: string[] };
  /** Keep at most this many records (the first, after filter and sample). */
  limit?: number;
  /** A seeded subset of `count` records (after filter), in file order. */
  sample?: { count: number; seed: number };
}

/** A source with defaults applied and format resolved: what a plan should hash as its "selection". */
export interface ResolvedDatasetSource {
  path: string;
  format: DatasetFormat;
  template: string;
  filter: { nonEmpty: string[] };
  limit?: number;
  sample?: { count: number; seed: number };
}

/** A range of selected rows and where to resume reading for it. JSON-serialisable. */
export interface DatasetShard {
  /** First selected row (0-based) in the shard; rows are numbered after selection. */
  startRow: number;
  rows: number;
  /** Locator of the shard's first record. */
  at: RecordLocator;
  /** Present when the dataset is sampled: decides membership of each record. */
  sample?: SampleCut;
  /** Text datasets: sha256 of the shard's texts (shardTextsSha256), so a shard read elsewhere is checked. */
  sha256?: string;
}

/** The content hash of a shard: sha256 over its texts in order, each JSON-encoded and newline-ended. */
export class ShardTextsHash {
  private readonly hash = createHash('sha256');
  add(text: string): void {
    this.hash.update(JSON.stringify(text) + '\n');
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

export function shardTextsSha256(texts: readonly string[]): string {
  const h = new ShardTextsHash();
  for (const t of texts) h.add(t);
  return h.digest();
}

export interface DatasetScan {
  path: string;
  format: DatasetFormat;
  source: ResolvedDatasetSource;
  /** Selected rows. */
  rows: number;
  /** Size of the dataset as stored (compressed size for gzip; sum of files for a folder). */
  bytes: number;
  /** sha256 of the stored bytes (for a folder: of each file's name, size and bytes, in order). */
  sha256: string;
  /** Records parsed and validated (fewer than in the file when `limit` stopped the scan early). */
  recordsRead: number;
  /** Of those, records that passed the filter. */
  eligible: number;
  shards: DatasetShard[];
}

const EXTENSIONS: Record<string, DatasetFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.jsonlines': 'jsonl',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.parquet': 'parquet',
  '.pq': 'parquet',
  '.arrow': 'arrow',
  '.arrows': 'arrow',
  '.ipc': 'arrow',
  '.feather': 'arrow',
};

function positiveInt(value: number | undefined, name: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
    throw new InputError(`dataset ${name} must be a positive integer, got ${value}`);
  }
}

/** Checks a source and fills in defaults; infers the format from the path. */
export async function resolveDatasetSource(source: DatasetSource): Promise<ResolvedDatasetSource> {
  if (!source.path) throw new InputError('dataset path is empty');
  if (source.path.includes('://') && !isS3Uri(source.path)) throw new InputError(`dataset ${source.path}: only local paths and s3:// URIs are supported`);
  if (source.template !== undefined && source.textField !== undefined) {
    throw new InputError('dataset: give either textField or template, not both');
  }
  positiveInt(source.limit, 'limit');
  if (source.sample) {
    positiveInt(source.sample.count, 'sample.count');
    if (!(Number.isInteger(source.sample.seed) && source.sample.seed >= 0)) {
      throw new InputError(`dataset sample.seed must be a non-negative integer, got ${source.sample.seed}`);
    }
  }
  const folder = isS3Uri(source.path) ? await isS3Folder(source.path) : await isLocalFolder(source.path);
  let format = source.format;
  if (format === undefined) {
    if (folder) format = 'txt';
    else format = EXTENSIONS[extname(source.path.replace(/\.gz$/i, '')).toLowerCase()];
    if (format === undefined) {
      throw new InputError(`dataset ${source.path}: cannot tell the format from the extension; set format to one of ${DATASET_FORMATS.join(', ')}`);
    }
  } else if (!DATASET_FORMATS.includes(format)) {
    throw new InputError(`dataset format "${String(format)}" is not one of ${DATASET_FORMATS.join(', ')}`);
  }
  if ((format === 'txt') !== folder) {
    throw new InputError(format === 'txt' ? `dataset ${source.path}: format txt needs a folder of .txt files` : `dataset ${source.path} is a folder; only format txt reads folders`);
  }
  if (source.textField !== undefined && /[{}]/.test(source.textField)) {
    throw new InputError(`dataset textField "${source.textField}" contains a brace; use a template`);
  }
  const template = source.template ?? `{${source.textField ?? 'text'}}`;
  parseTemplate(template);
  return {
    path: source.path,
    format,
    template,
    filter: { nonEmpty: [...(source.filter?.nonEmpty ?? [])] },
    ...(source.limit !== undefined ? { limit: source.limit } : {}),
    ...(source.sample ? { sample: { count: source.sample.count, seed: source.sample.seed } } : {}),
  };
}

function byteSourceOf(path: string): ByteSource {
  return isS3Uri(path) ? s3Source(path) : fileSource(path);
}

function folderSourceOf(path: string): FolderSource {
  return isS3Uri(path) ? s3FolderSource(path) : folderSource(path);
}

/** The reader of a local or s3:// file (a folder for `txt`) in `format`; `limits` bound each record. */
export function readerFor(path: string, format: ReaderFormat, limits: ReadLimits = {}): FormatReader {
  switch (format) {
    case 'jsonl':
      return jsonlReader(byteSourceOf(path), limits);
    case 'json':
      return jsonDocumentReader(byteSourceOf(path));
    case 'csv':
      return csvReader(byteSourceOf(path), ',', limits);
    case 'tsv':
      return csvReader(byteSourceOf(path), '\t', limits);
    case 'parquet':
      return parquetReader(byteSourceOf(path));
    case 'arrow':
      return arrowReader(byteSourceOf(path));
    case 'txt':
      return txtFolderReader(folderSourceOf(path), limits);
  }
}

interface Selection extends RowSelection {
  template: Template;
}

/** The source's selection; it reads the template's fields and the filter's. */
function selectionOf(source: ResolvedDatasetSource): Selection {
  const template = parseTemplate(source.template);
  const nonEmpty = source.filter.nonEmpty;
  return { template, nonEmpty, needed: [...new Set([...template.fields, ...nonEmpty])], sample: source.sample, limit: source.limit };
}

function render(sel: Selection, rec: SourceRecord): string {
  return renderTemplate(sel.template, rec.fields, rec.where);
}

/** How rows are selected: the fields read, the nonEmpty filter, then the seeded sample and the limit. */
export interface RowSelection {
  /** Fields read from the source (columnar readers read only these). */
  needed: readonly string[];
  nonEmpty: readonly string[];
  sample?: { count: number; seed: number };
  limit?: number;
}

/** Selected rows cut into shards, with the source's size and hash. */
export interface ShardPlan {
  rows: number;
  recordsRead: number;
  eligible: number;
  shards: DatasetShard[];
  bytes: number;
  sha256: string;
}

/**
 * Selects the rows of `reader` (`path` names it in messages) and cuts shards of `shardSize`
 * selected rows, hashing the source meanwhile. Reads the records once (twice when sampling: once
 * to find the sample, once to cut shards); with a `limit` and no sample, parsing stops at the limit
 * (the hash still covers every byte). `visit` sees each selected record in order and `check`
 * (default `visit`) each eligible record of the sampling pass; either fails the scan by throwing.
 */
export async function planShards(
  reader: FormatReader,
  path: string,
  sel: RowSelection,
  shardSize: number,
  visit: (rec: SourceRecord) => unknown,
  check: (rec: SourceRecord) => unknown = visit,
): Promise<ShardPlan> {
  const described = reader.describe();
  described.catch(() => {}); // awaited below; a scan error must not leave it unhandled

  let cut: SampleCut | undefined;
  if (sel.sample) {
    const bottom = new BottomK(sel.sample.seed, sel.sample.count);
    for await (const rec of reader.records(sel.needed)) {
      if (!passesFilter(rec.fields, sel.nonEmpty)) continue;
      await check(rec);
      bottom.offer(rec.at.physicalRow);
    }
    cut = bottom.cut();
  }

  const shards: DatasetShard[] = [];
  let rows = 0;
  let recordsRead = 0;
  let eligible = 0;
  for await (const rec of reader.records(sel.needed)) {
    recordsRead++;
    if (!passesFilter(rec.fields, sel.nonEmpty)) continue;
    eligible++;
    if (cut && !inSample(cut, rec.at.physicalRow)) continue;
    await visit(rec);
    if (rows % shardSize === 0) shards.push({ startRow: rows, rows: 0, at: rec.at, ...(cut ? { sample: cut } : {}) });
    shards[shards.length - 1].rows++;
    rows++;
    if (rows === sel.limit) break;
  }
  if (rows === 0) {
    throw new InputError(
      recordsRead === 0
        ? `dataset ${path} has no rows`
        : `dataset ${path}: no rows left after filtering (nonEmpty: ${sel.nonEmpty.join(', ')}; ${recordsRead} read, none kept)`,
    );
  }
  const { bytes, sha256 } = await described;
  return { rows, recordsRead, eligible, shards, bytes, sha256 };
}

/** The selected records of one planned shard, in order, each made a row by `toRow` (given its index in the shard). */
export async function readShardRows<T>(
  reader: FormatReader,
  path: string,
  sel: Pick<RowSelection, 'needed' | 'nonEmpty'>,
  shard: DatasetShard,
  toRow: (rec: SourceRecord, index: number) => T,
): Promise<T[]> {
  const out: T[] = [];
  if (shard.rows > 0) {
    for await (const rec of reader.records(sel.needed, shard.at)) {
      if (!passesFilter(rec.fields, sel.nonEmpty)) continue;
      if (shard.sample && !inSample(shard.sample, rec.at.physicalRow)) continue;
      out.push(toRow(rec, out.length));
      if (out.length === shard.rows) break;
    }
  }
  if (out.length !== shard.rows) {
    throw new InputError(`${path}: shard at row ${shard.startRow} expected ${shard.rows} rows, found ${out.length} (dataset changed since planning?)`);
  }
  return out;
}

/** Validates the dataset, hashes it and plans shards of `shardSize` selected rows (see planShards). */
export async function scanDataset(source: DatasetSource, shardSize: number, limits: ReadLimits = {}): Promise<DatasetScan> {
  if (!(Number.isInteger(shardSize) && shardSize >= 1)) throw new InputError(`shardSize must be a positive integer, got ${shardSize}`);
  const resolved = await resolveDatasetSource(source);
  const sel = selectionOf(resolved);
  // Each selected row is visited once, in order: row r belongs to shard ⌊r / shardSize⌋.
  const hashes: ShardTextsHash[] = [];
  let visited = 0;
  const visit = (rec: SourceRecord) => {
    const text = render(sel, rec);
    if (visited++ % shardSize === 0) hashes.push(new ShardTextsHash());
    hashes[hashes.length - 1].add(text);
  };
  const plan = await planShards(readerFor(resolved.path, resolved.format, limits), resolved.path, sel, shardSize, visit, (rec) => render(sel, rec));
  const { rows, bytes, sha256, recordsRead, eligible } = plan;
  const shards = plan.shards.map((s, i) => ({ ...s, sha256: hashes[i].digest() }));
  return { path: resolved.path, format: resolved.format, source: resolved, rows, bytes, sha256, recordsRead, eligible, shards };
}

/** The texts of one planned shard, in order. */
export async function readDatasetShard(source: DatasetSource, shard: DatasetShard, limits: ReadLimits = {}): Promise<string[]> {
  const resolved = await resolveDatasetSource(source);
  const sel = selectionOf(resolved);
  return readShardRows(readerFor(resolved.path, resolved.format, limits), resolved.path, sel, shard, (rec) => render(sel, rec));
}
