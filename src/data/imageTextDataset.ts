// Image-text datasets: rows that pair an image with a text, read with the same formats, selection
// (filter → seeded sample → limit) and shard plan as text datasets (dataset.ts), so an image-text
// shard is a range of selected rows exactly like a text shard.
//
// Row forms:
//   plain  {"image": "images/3.png", "text": "…"}; the fields are `imageField` (default "image") and
//          `textField` (default "text") or a `template`.
//   llava  LLaVA conversations (detail_23k): {"id", "image", "conversations": [{"from": "human",
//          "value": "<image>\n…"}, {"from": "gpt", "value": "…"}]}; text = the first gpt turn, prompt
//          = the first human turn with the "<image>" marker removed.
//   ccSbu  cc_sbu_align captions: {"image_id": "2", "caption": "…"}, image at image/{image_id}.jpg.
// When `form` is absent it is told from the first record: `conversations` → llava; `image_id` and
// `caption` → ccSbu; else plain (columnar formats that return only requested columns give plain).
//
// Formats: those of dataset.ts (jsonl, csv, tsv, parquet, arrow; gzip) plus `json`, one JSON
// document (detail_23k.json, or filter_cap.json whose records sit under "annotations").
//
// Content address: the scan hashes the dataset file's bytes (as for text) AND every selected row's
// image bytes (sha256 of each image, listed with its reference as written, in row order). Hashing the
// bytes rather than sizes and mtimes costs one read of each image at planning time, but it makes the
// address independent of copies, clocks and buckets, and finds a missing image before any work runs.
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { InputError } from '../errors.ts';
import {
  planShards,
  readerFor,
  readShardRows,
  resolveDatasetSource,
  type DatasetFormat,
  type DatasetShard,
  type DatasetSource,
  type ReaderFormat,
  type ResolvedDatasetSource,
} from './dataset.ts';
import type { FormatReader, SourceRecord } from './formatReader.ts';
import { fieldText, parseTemplate, renderTemplate, type Template } from './template.ts';
import { imageBase, readImageBytes, resolveImageRef } from './imageSource.ts';
import type { ReadLimits } from './recordLimit.ts';

export { loadImage } from './imageSource.ts';

export const IMAGE_TEXT_FORMS = ['plain', 'llava', 'ccSbu'] as const;
export type ImageTextForm = (typeof IMAGE_TEXT_FORMS)[number];
export type ImageTextFormat = Exclude<ReaderFormat, 'txt'>;

/** The image marker LLaVA puts in the human turn. */
export const LLAVA_IMAGE_TOKEN = '<image>';

/** The selection (filter, sample, limit) is a text dataset's: see DatasetSource. */
export interface ImageTextSource extends Pick<DatasetSource, 'filter' | 'limit' | 'sample'> {
  /** Local file or `s3://bucket/key`. */
  path: string;
  /** Inferred from the extension (after `.gz`) when absent; `.json` means one JSON document. */
  format?: ImageTextFormat;
  /** Row form; told from the first record when absent. */
  form?: ImageTextForm;
  /** plain: field holding the image reference (default "image"). */
  imageField?: string;
  /** plain: field holding the text (default "text"). */
  textField?: string;
  /** plain: text built from fields, e.g. "{title}: {caption}". Excludes textField. */
  template?: string;
  /** Folder (local or s3://) relative image references are resolved against; default the dataset file's folder. */
  imageRoot?: string;
  /** Let rows name images outside that folder (absolute paths, `..`, other s3:// locations). */
  allowAbsoluteImages?: boolean;
}

/** A source with its format and form fixed and defaults filled in: what a plan records and hashes. */
export interface ResolvedImageTextSource extends Pick<ResolvedDatasetSource, 'filter' | 'limit' | 'sample'> {
  path: string;
  format: ImageTextFormat;
  form: ImageTextForm;
  /** plain only. */
  imageField?: string;
  /** plain only. */
  template?: string;
  /** Absolute folder or s3:// prefix (ending in '/') that relative image references are resolved against. */
  imageBase: string;
  /** Present (true) only when rows may name images outside imageBase. */
  allowAbsoluteImages?: true;
}

/** One selected row. */
export interface ImageTextRow {
  /** 0-based index among the selected rows (as DatasetShard.startRow counts). */
  row: number;
  text: string;
  /** llava: the human turn without the image marker. */
  prompt?: string;
  /** The image reference as written in the row (ccSbu: "image/{image_id}.jpg"). */
  image: string;
  /** Where the image is: an absolute local path or an s3:// URI; give it to loadImage. */
  imageRef: string;
  /** For messages: `<dataset> line 12, image "images/3.png"`. */
  where: string;
}

export interface ImageTextScan {
  path: string;
  format: ImageTextFormat;
  form: ImageTextForm;
  source: ResolvedImageTextSource;
  /** Selected rows. */
  rows: number;
  /** Size and sha256 of the dataset file as stored. */
  bytes: number;
  sha256: string;
  /** Distinct images of the selected rows, and their total size. */
  images: number;
  imageBytes: number;
  /** sha256 of the list `<image as written>\t<sha256 of its bytes>\n`, one line per selected row. */
  imagesSha256: string;
  /** sha256 of `<sha256>\n<imagesSha256>`: the content address of the selected data. */
  contentSha256: string;
  recordsRead: number;
  eligible: number;
  shards: DatasetShard[];
}

const EXTENSIONS_JSON = new Set(['.json']);

/** Checks a source, fills in defaults, infers the format; the form is fixed later from the data. */
async function resolveBase(source: ImageTextSource): Promise<Omit<ResolvedImageTextSource, 'form'> & { form?: ImageTextForm }> {
  if (source.form !== undefined && !IMAGE_TEXT_FORMS.includes(source.form)) {
    throw new InputError(`image-text dataset form "${String(source.form)}" is not one of ${IMAGE_TEXT_FORMS.join(', ')}`);
  }
  const plainOnly = (['imageField', 'textField', 'template'] as const).filter((k) => source[k] !== undefined);
  if (source.form !== undefined && source.form !== 'plain' && plainOnly.length > 0) {
    throw new InputError(`image-text dataset ${source.path}: ${plainOnly.join(', ')} apply only to form plain, not ${source.form}`);
  }
  if (source.imageField !== undefined && source.imageField.trim() === '') throw new InputError('image-text dataset imageField is empty');
  const isJson = source.format === 'json' || (source.format === undefined && EXTENSIONS_JSON.has(extname(source.path.replace(/\.gz$/i, '')).toLowerCase()));
  // dataset.ts validates path, limit, sample, template and infers the other formats.
  const resolved = await resolveDatasetSource({
    path: source.path,
    ...(isJson ? { format: 'jsonl' as const } : source.format !== undefined ? { format: source.format as DatasetFormat } : {}),
    ...(source.template !== undefined ? { template: source.template } : {}),
    ...(source.textField !== undefined ? { textField: source.textField } : {}),
    ...(source.filter ? { filter: source.filter } : {}),
    ...(source.limit !== undefined ? { limit: source.limit } : {}),
    ...(source.sample ? { sample: source.sample } : {}),
  });
  if (resolved.format === 'txt') throw new InputError(`image-text dataset ${source.path}: a folder of .txt files has no images; use jsonl, json, csv, tsv, parquet or arrow`);
  return {
    path: resolved.path,
    format: isJson ? 'json' : resolved.format,
    ...(source.form !== undefined ? { form: source.form } : {}),
    imageBase: imageBase(source.path, source.imageRoot),
    ...(source.allowAbsoluteImages === true ? { allowAbsoluteImages: true as const } : {}),
    filter: resolved.filter,
    ...(resolved.limit !== undefined ? { limit: resolved.limit } : {}),
    ...(resolved.sample ? { sample: resolved.sample } : {}),
    ...(source.form === undefined || source.form === 'plain' ? { imageField: source.imageField ?? 'image', template: resolved.template } : {}),
  };
}

/** The form told by a record's fields. */
export function detectForm(fields: Record<string, unknown>): ImageTextForm {
  if ('conversations' in fields) return 'llava';
  if ('image_id' in fields && 'caption' in fields) return 'ccSbu';
  return 'plain';
}

async function fixForm(base: Awaited<ReturnType<typeof resolveBase>>, reader: FormatReader): Promise<ResolvedImageTextSource> {
  if (base.form !== undefined) return { ...base, form: base.form };
  let form: ImageTextForm = 'plain';
  for await (const rec of reader.records([])) {
    form = detectForm(rec.fields);
    break;
  }
  if (form !== 'plain') {
    const { imageField: _i, template: _t, ...rest } = base;
    return { ...rest, form };
  }
  return { ...base, form };
}

/** How one form turns a record into (image, text, prompt). */
interface RowReader {
  /** Fields read from the source (columnar readers read only these). */
  needed: string[];
  read(rec: SourceRecord): { image: string; text: string; prompt?: string };
}

function rowReaderFor(source: ResolvedImageTextSource): RowReader {
  const nonEmpty = source.filter.nonEmpty;
  switch (source.form) {
    case 'plain': {
      const imageField = source.imageField ?? 'image';
      const template: Template = parseTemplate(source.template ?? '{text}');
      return {
        needed: [...new Set([imageField, ...template.fields, ...nonEmpty])],
        read: (rec) => ({ image: nonBlankField(rec, imageField, ' (the image)'), text: renderTemplate(template, rec.fields, rec.where) }),
      };
    }
    case 'llava':
      return {
        needed: [...new Set(['image', 'conversations', ...nonEmpty])],
        read: (rec) => ({ image: nonBlankField(rec, 'image'), ...llavaTurns(rec.fields.conversations, rec.where) }),
      };
    case 'ccSbu':
      return {
        needed: [...new Set(['image_id', 'caption', ...nonEmpty])],
        read: (rec) => ({ image: `image/${nonBlankField(rec, 'image_id')}.jpg`, text: fieldText(rec.fields, 'caption', rec.where) }),
      };
  }
}

/** A field's text, which must not be blank (`what` says what the field is, for the message). */
function nonBlankField(rec: SourceRecord, field: string, what = ''): string {
  const text = fieldText(rec.fields, field, rec.where);
  if (text.trim() === '') throw new InputError(`${rec.where()}: field "${field}"${what} is empty`);
  return text;
}

/** text = first gpt turn; prompt = first human turn without the image marker. */
function llavaTurns(conversations: unknown, where: () => string): { text: string; prompt?: string } {
  if (conversations === undefined) throw new InputError(`${where()}: field "conversations" is missing`);
  if (!Array.isArray(conversations)) throw new InputError(`${where()}: field "conversations" must be an array of {from, value} turns`);
  let text: string | undefined;
  let prompt: string | undefined;
  conversations.forEach((turn: unknown, i) => {
    const t = turn as { from?: unknown; value?: unknown } | null;
    if (!t || typeof t !== 'object' || typeof t.from !== 'string' || typeof t.value !== 'string') {
      throw new InputError(`${where()}: conversations[${i}] must be an object with string "from" and "value"`);
    }
    if (t.from === 'gpt' && text === undefined) text = t.value;
    if (t.from === 'human' && prompt === undefined) prompt = t.value.replace(LLAVA_IMAGE_TOKEN, '').trim();
  });
  if (text === undefined) throw new InputError(`${where()}: conversations has no "gpt" turn (the text)`);
  return { text, ...(prompt !== undefined ? { prompt } : {}) };
}

function whereOf(rec: SourceRecord, image: string): string {
  return `${rec.where()}, image "${image}"`;
}

/**
 * Validates the dataset, hashes it with its images and plans shards of `shardSize` selected rows
 * (as scanDataset does for text). Every selected row's image is read once, not decoded.
 */
export async function scanImageTextDataset(source: ImageTextSource, shardSize: number, limits: ReadLimits = {}): Promise<ImageTextScan> {
  if (!(Number.isInteger(shardSize) && shardSize >= 1)) throw new InputError(`shardSize must be a positive integer, got ${shardSize}`);
  const base = await resolveBase(source);
  const reader = readerFor(base.path, base.format, limits);
  const resolved = await fixForm(base, reader);
  const rowReader = rowReaderFor(resolved);
  const sel = { needed: rowReader.needed, nonEmpty: resolved.filter.nonEmpty, sample: resolved.sample, limit: resolved.limit };
  const imageList = createHash('sha256');
  const imageHashes = new Map<string, string>();
  let imageBytes = 0;
  // Each selected row's image, hashed once per location; every row listed with its hash.
  const hashImage = async (rec: SourceRecord) => {
    const { image } = rowReader.read(rec);
    const where = whereOf(rec, image);
    const location = resolveImageRef(image, resolved.imageBase, where, resolved.allowAbsoluteImages === true);
    let digest = imageHashes.get(location);
    if (digest === undefined) {
      const bytes = await readImageBytes(location, where);
      if (bytes.length === 0) throw new InputError(`${where}: image is empty (0 bytes)`);
      digest = createHash('sha256').update(bytes).digest('hex');
      imageHashes.set(location, digest);
      imageBytes += bytes.length;
    }
    imageList.update(`${image}\t${digest}\n`);
  };
  const checkRow = (rec: SourceRecord) => rowReader.read(rec); // the sampling pass: rows must read, images wait
  const { rows, bytes, sha256, recordsRead, eligible, shards } = await planShards(reader, resolved.path, sel, shardSize, hashImage, checkRow);
  const imagesSha256 = imageList.digest('hex');
  const contentSha256 = createHash('sha256').update(`${sha256}\n${imagesSha256}`).digest('hex');
  return {
    path: resolved.path,
    format: resolved.format,
    form: resolved.form,
    source: resolved,
    rows,
    bytes,
    sha256,
    images: imageHashes.size,
    imageBytes,
    imagesSha256,
    contentSha256,
    recordsRead,
    eligible,
    shards,
  };
}

/** Checks a source and fixes its format and form (reading the first record when the form is absent). */
export async function resolveImageTextSource(source: ImageTextSource): Promise<ResolvedImageTextSource> {
  const base = await resolveBase(source);
  return fixForm(base, readerFor(base.path, base.format));
}

/** The rows of one planned shard, in order; `source` is the scan's (ImageTextScan.source). */
export async function readImageTextShard(resolved: ResolvedImageTextSource, shard: DatasetShard, limits: ReadLimits = {}): Promise<ImageTextRow[]> {
  const rowReader = rowReaderFor(resolved);
  const sel = { needed: rowReader.needed, nonEmpty: resolved.filter.nonEmpty };
  return readShardRows(readerFor(resolved.path, resolved.format, limits), resolved.path, sel, shard, (rec, i): ImageTextRow => {
    const { image, text, prompt } = rowReader.read(rec);
    const where = whereOf(rec, image);
    const imageRef = resolveImageRef(image, resolved.imageBase, where, resolved.allowAbsoluteImages === true);
    return { row: shard.startRow + i, text, ...(prompt !== undefined ? { prompt } : {}), image, imageRef, where };
  });
}
