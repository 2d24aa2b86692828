// Datasets in any supported format, behind one API: scan once (validate, hash, select, cut shards),
// then read any shard on its own. Selection is filter → seeded sample → limit, in file order
// (selection.ts); shards are ranges of the *selected* rows, each carrying a format-specific locator
// of its first record so a reader resumes there instead of re-reading the file.
//
// Formats: jsonl, csv, tsv (gzip allowed: `.gz` suffix or gzip magic), parquet, arrow (IPC file or
// stream), txt (a folder of .txt files, one text per file; fields `text` and `name`).
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
import { parseTemplate, renderTemplate, type Template } from './template.ts';
import { BottomK, inSample, passesFilter, type SampleCut } from './selection.ts';

export const DATASET_FORMATS = ['jsonl', 'csv', 'tsv', 'parquet', 'arrow', 'txt'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

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

function readerFor(source: ResolvedDatasetSource): FormatReader {
  switch (source.format) {
    case 'jsonl':
      return jsonlReader(byteSourceOf(source.path));
    case 'csv':
      return csvReader(byteSourceOf(source.path), ',');
    case 'tsv':
      return csvReader(byteSourceOf(source.path), '\t');
    case 'parquet':
      return parquetReader(byteSourceOf(source.path));
    case 'arrow':
      return arrowReader(byteSourceOf(source.path));
    case 'txt':
      return txtFolderReader(folderSourceOf(source.path));
  }
}

interface Selection {
  template: Template;
  nonEmpty: string[];
  /** Fields read from the source: the template's and the filter's. */
  needed: string[];
}

function selectionOf(source: ResolvedDatasetSource): Selection {
  const template = parseTemplate(source.template);
  const nonEmpty = source.filter.nonEmpty;
  return { template, nonEmpty, needed: [...new Set([...template.fields, ...nonEmpty])] };
}

function render(sel: Selection, rec: SourceRecord): string {
  return renderTemplate(sel.template, rec.fields, rec.where);
}

/**
 * Validates the dataset, hashes it and plans shards of `shardSize` selected rows. Reads the records
 * once (twice when sampling: once to find the sample, once to cut shards); with a `limit` and no
 * sample, parsing stops at the limit (the hash still covers every byte).
 */
export async function scanDataset(source: DatasetSource, shardSize: number): Promise<DatasetScan> {
  if (!(Number.isInteger(shardSize) && shardSize >= 1)) throw new InputError(`shardSize must be a positive integer, got ${shardSize}`);
  const resolved = await resolveDatasetSource(source);
  const reader = readerFor(resolved);
  const sel = selectionOf(resolved);
  const described = reader.describe();
  described.catch(() => {}); // awaited below; a scan error must not leave it unhandled

  let cut: SampleCut | undefined;
  if (resolved.sample) {
    const bottom = new BottomK(resolved.sample.seed, resolved.sample.count);
    for await (const rec of reader.records(sel.needed)) {
      if (!passesFilter(rec.fields, sel.nonEmpty)) continue;
      render(sel, rec);
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
    render(sel, rec);
    if (rows % shardSize === 0) shards.push({ startRow: rows, rows: 0, at: rec.at, ...(cut ? { sample: cut } : {}) });
    shards[shards.length - 1].rows++;
    rows++;
    if (rows === resolved.limit) break;
  }
  if (rows === 0) {
    throw new InputError(
      recordsRead === 0
        ? `dataset ${resolved.path} has no rows`
        : `dataset ${resolved.path}: no rows left after filtering (nonEmpty: ${sel.nonEmpty.join(', ')}; ${recordsRead} read, none kept)`,
    );
  }
  const { bytes, sha256 } = await described;
  return { path: resolved.path, format: resolved.format, source: resolved, rows, bytes, sha256, recordsRead, eligible, shards };
}

/** The texts of one planned shard, in order. */
export async function readDatasetShard(source: DatasetSource, shard: DatasetShard): Promise<string[]> {
  const resolved = await resolveDatasetSource(source);
  const reader = readerFor(resolved);
  const sel = selectionOf(resolved);
  const texts: string[] = [];
  if (shard.rows > 0) {
    for await (const rec of reader.records(sel.needed, shard.at)) {
      if (!passesFilter(rec.fields, sel.nonEmpty)) continue;
      if (shard.sample && !inSample(shard.sample, rec.at.physicalRow)) continue;
      texts.push(render(sel, rec));
      if (texts.length === shard.rows) break;
    }
  }
  if (texts.length !== shard.rows) {
    throw new InputError(`${resolved.path}: shard at row ${shard.startRow} expected ${shard.rows} rows, found ${texts.length} (dataset changed since planning?)`);
  }
  return texts;
}
