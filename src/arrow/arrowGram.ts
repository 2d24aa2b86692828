// Partial Gram matrices as Arrow IPC streams.
//
// A shard's partial is S = Σ z zᵀ over every kept, normalised row z of every sample in it, with
// n = the number of such rows (DESIGN §1.6). Partials add up exactly, so a reduction is a sum.
//
// Layout: Arrow IPC *stream* format (so a file can be read and written incrementally), one table
// row per matrix row — columns `row: int32`, `values: FixedSizeList<f64>[d]` — in record batches of
// `batchRows` matrix rows, so a reducer streams k files in lockstep holding k × batch in memory,
// never k × d² (DESIGN §4). Schema metadata: `entroscope.kind = partial-gram`, `n`, `dim`, `layer`,
// `covers` (the dataset row ranges summed in; a reduction checks for doubles) and
// `entroscope.checksum = sha256-running`.
//
// Checksum: a streamed writer must emit the schema before it has seen the values, so the sha256
// cannot live in the schema. Instead every record batch carries, in its own custom metadata
// (`entroscope.sha256`), the sha256 of
//     "partial-gram\n" n "\n" dim "\n" layer "\n" covers "\n"  ‖  values of rows 0 … last row of this batch
// (header strings exactly as stored; values as little-endian f64 bytes): a running hash. The last
// batch's hash therefore covers the header and every value, and each batch is verified as it is
// read, before it is summed. Readers also check that rows come as 0, 1, …, d−1 and that all d are
// there, so a truncated file fails even when it was cut at a batch boundary.
//
// Legacy: files written before streaming (Arrow IPC *file* format, `entroscope.sha256` of all values
// in the schema metadata) are still read and verified, by both the in-memory and the streamed reader.
import * as A from 'apache-arrow';
import { createHash, type Hash } from 'node:crypto';

export interface GramRange {
  /** First dataset row covered (inclusive). */
  start: number;
  /** Last dataset row covered (exclusive). */
  end: number;
}

/** Everything about a partial Gram except S itself: what a file's schema says. */
export interface GramHeader {
  dim: number;
  /** Kept rows summed into s. */
  n: number;
  /** Dataset row ranges summed into s, sorted. */
  covers: GramRange[];
  /** Which hidden-state tap (e.g. `last`). */
  layer: string;
}

export interface PartialGram extends GramHeader {
  /** S: dim×dim, row-major, full symmetric. */
  s: Float64Array;
}

/** A verified slice of S: rows `firstRow … firstRow + rows − 1`, row-major (`rows × dim`). */
export interface GramRows {
  firstRow: number;
  rows: number;
  values: Float64Array;
}

export const DEFAULT_BATCH_ROWS = 64;

const KIND = 'partial-gram';
const CHECKSUM_SCHEME = 'sha256-running';

function bytesOf(a: Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function schemaOf(h: GramHeader): A.Schema {
  const listType = new A.FixedSizeList(h.dim, new A.Field('v', new A.Float64(), false));
  const metadata = new Map([
    ['entroscope.kind', KIND],
    ['entroscope.n', String(h.n)],
    ['entroscope.dim', String(h.dim)],
    ['entroscope.layer', h.layer],
    ['entroscope.covers', JSON.stringify(h.covers)],
    ['entroscope.checksum', CHECKSUM_SCHEME],
  ]);
  return new A.Schema([new A.Field('row', new A.Int32(), false), new A.Field('values', listType, false)], metadata);
}

/** The running hash's starting state: the header strings exactly as the schema stores them. */
function headerHash(meta: Map<string, string>): Hash {
  const fields = ['kind', 'n', 'dim', 'layer', 'covers'].map((f) => meta.get(`entroscope.${f}`) ?? '');
  return createHash('sha256').update(fields.join('\n') + '\n');
}

/** Encodes consecutive row slices of S as record batches, each stamped with the running checksum. */
class GramBatchEncoder {
  readonly schema: A.Schema;
  private readonly hash: Hash;
  private next = 0;
  constructor(readonly header: GramHeader) {
    this.schema = schemaOf(header);
    this.hash = headerHash(this.schema.metadata);
  }

  batch(values: Float64Array, rows: number): A.RecordBatch {
    const { dim } = this.header;
    if (values.length !== rows * dim) throw new Error(`internal: ${values.length} values for ${rows} rows of dim ${dim}`);
    const r0 = this.next;
    this.next += rows;
    this.hash.update(bytesOf(values));
    const listType = this.schema.fields[1].type as A.FixedSizeList;
    const data = A.makeData({
      type: new A.Struct(this.schema.fields),
      length: rows,
      children: [
        A.makeData({ type: new A.Int32(), length: rows, data: Int32Array.from({ length: rows }, (_, i) => r0 + i) }),
        A.makeData({
          type: listType,
          length: rows,
          child: A.makeData({ type: new A.Float64(), length: rows * dim, data: values }),
        }),
      ],
    });
    return new A.RecordBatch(this.schema, data, new Map([['entroscope.sha256', this.hash.copy().digest('hex')]]));
  }

  get rowsWritten(): number {
    return this.next;
  }
}

/** Encodes a whole in-memory partial Gram (Arrow IPC stream bytes). */
export function gramToArrow(g: PartialGram, batchRows = DEFAULT_BATCH_ROWS): Uint8Array {
  if (g.s.length !== g.dim * g.dim) throw new Error(`partial Gram of dim ${g.dim} has ${g.s.length} values`);
  const enc = new GramBatchEncoder(g);
  const batches: A.RecordBatch[] = [];
  for (let r0 = 0; r0 < g.dim; r0 += batchRows) {
    const rows = Math.min(batchRows, g.dim - r0);
    // A view: the writer copies each batch body into its output.
    batches.push(enc.batch(g.s.subarray(r0 * g.dim, (r0 + rows) * g.dim), rows));
  }
  return A.RecordBatchStreamWriter.writeAll(batches).toUint8Array(true);
}

/** An AsyncByteQueue that hands the writer's chunks to us synchronously instead of queueing them. */
class ChunkCollector extends A.AsyncByteQueue {
  chunks: Uint8Array[] = [];
  override write(value: Parameters<A.AsyncByteQueue['write']>[0]): void {
    // The writer converts every chunk to a Uint8Array before handing it over.
    if (!(value instanceof Uint8Array)) throw new Error('internal: Arrow writer emitted a non-byte chunk');
    if (value.byteLength > 0) this.chunks.push(value);
  }
  take(): Uint8Array[] {
    const out = this.chunks;
    this.chunks = [];
    return out;
  }
}

/**
 * Streams a partial Gram out as Arrow IPC stream bytes while its rows are still being computed:
 * `slices` yields consecutive row slices, and the encoded bytes of a batch are yielded before the
 * next slice is pulled, so memory stays at about one batch. Each slice becomes one record batch; its `values` must not be reused, as the yielded
 * chunks are views on it. Fails if the slices do not add up to exactly `dim` rows.
 */
export async function* gramToArrowStream(
  header: GramHeader,
  slices: AsyncIterable<GramRows>,
  source: string,
): AsyncGenerator<Uint8Array> {
  const enc = new GramBatchEncoder(header);
  const sink = new ChunkCollector();
  const writer = new A.RecordBatchStreamWriter();
  writer.reset(sink as Parameters<A.RecordBatchStreamWriter['reset']>[0], enc.schema);
  yield* sink.take();
  for await (const slice of slices) {
    if (slice.firstRow !== enc.rowsWritten) {
      throw new Error(`${source}: internal: rows ${slice.firstRow}… produced where ${enc.rowsWritten} was due`);
    }
    writer.write(enc.batch(slice.values, slice.rows));
    yield* sink.take();
  }
  if (enc.rowsWritten !== header.dim) throw new Error(`${source}: internal: ${enc.rowsWritten} of ${header.dim} rows produced`);
  writer.finish(); // end-of-stream marker
  yield* sink.take();
}

/** Checks a file's schema and row batches as they arrive; one per file read. */
class GramVerifier {
  readonly header: GramHeader;
  private readonly running?: Hash;
  private readonly legacy?: { hash: Hash; expected: string };
  private filled = 0;

  constructor(
    schema: A.Schema | null | undefined,
    private readonly source: string,
  ) {
    const meta = schema?.metadata;
    if (!meta || meta.get('entroscope.kind') !== KIND) throw new Error(`${source}: not an entroscope partial Gram file`);
    const dim = Number(meta.get('entroscope.dim'));
    const n = Number(meta.get('entroscope.n'));
    if (!Number.isInteger(dim) || dim < 1 || !Number.isInteger(n) || n < 0) {
      throw new Error(`${source}: corrupt partial Gram header (dim ${meta.get('entroscope.dim')}, n ${meta.get('entroscope.n')})`);
    }
    let covers: GramRange[];
    try {
      covers = JSON.parse(meta.get('entroscope.covers') ?? '[]') as GramRange[];
    } catch {
      throw new Error(`${source}: corrupt partial Gram header (covers ${meta.get('entroscope.covers')})`);
    }
    this.header = { dim, n, covers, layer: meta.get('entroscope.layer') ?? 'last' };
    const legacySum = meta.get('entroscope.sha256');
    if (meta.get('entroscope.checksum') === CHECKSUM_SCHEME) this.running = headerHash(meta);
    else if (legacySum) this.legacy = { hash: createHash('sha256'), expected: legacySum };
    else throw new Error(`${source}: partial Gram has no checksum`);
  }

  /** Verifies one record batch and returns its rows (a view into the batch, no copy). */
  batch(batch: A.RecordBatch): GramRows {
    const { dim } = this.header;
    const rowIds = batch.getChildAt(0)?.toArray() as Int32Array | undefined;
    const child = batch.getChildAt(1)?.data[0]?.children[0];
    if (!rowIds || !child) throw new Error(`${this.source}: corrupt partial Gram (missing columns)`);
    const rows = rowIds.length;
    const values = (child.values as Float64Array).subarray(child.offset, child.offset + rows * dim);
    if (values.length !== rows * dim) throw new Error(`${this.source}: corrupt partial Gram (short values column)`);
    for (let i = 0; i < rows; i++) {
      if (rowIds[i] !== this.filled + i) {
        throw new Error(`${this.source}: matrix row ${this.filled + i} expected, found ${rowIds[i]}`);
      }
    }
    if (this.filled + rows > dim) throw new Error(`${this.source}: more than ${dim} rows in a partial Gram of dim ${dim}`);
    if (this.running) {
      this.running.update(bytesOf(values));
      const expected = batch.metadata.get('entroscope.sha256');
      if (expected !== this.running.copy().digest('hex')) {
        throw new Error(
          `${this.source}: checksum mismatch in matrix rows ${this.filled}…${this.filled + rows - 1}, the file is corrupt`,
        );
      }
    } else this.legacy!.hash.update(bytesOf(values));
    const out = { firstRow: this.filled, rows, values };
    this.filled += rows;
    return out;
  }

  /** After the last batch: every row present, and (legacy files) the whole-file checksum. */
  finish(): void {
    const { dim } = this.header;
    if (this.filled !== dim) throw new Error(`${this.source}: truncated partial Gram (${this.filled} of ${dim} rows)`);
    if (this.legacy && this.legacy.hash.digest('hex') !== this.legacy.expected) {
      throw new Error(`${this.source}: checksum mismatch, the file is corrupt`);
    }
  }
}

/** Arrow's own decoding errors (cut or mangled bytes) re-thrown naming the file. */
function unreadable(source: string, err: unknown): Error {
  const msg = err instanceof Error ? err.message : String(err);
  if (msg.startsWith(`${source}:`)) return err as Error;
  return new Error(`${source}: truncated or corrupt partial Gram (${msg})`, { cause: err });
}

/** Reads and verifies a partial Gram held in memory (stream or legacy file format); `source` names it in errors. */
export function gramFromArrow(bytes: Uint8Array, source: string): PartialGram {
  try {
    const reader = A.RecordBatchReader.from(bytes);
    reader.open();
    const v = new GramVerifier(reader.schema, source);
    const { dim } = v.header;
    const s = new Float64Array(dim * dim);
    for (const batch of reader) {
      const r = v.batch(batch);
      s.set(r.values, r.firstRow * dim);
    }
    v.finish();
    return { ...v.header, s };
  } catch (err) {
    throw unreadable(source, err);
  }
}

/** A partial Gram opened for streaming: its header now, its rows batch by batch, each verified. */
export interface GramStream {
  header: GramHeader;
  /** Verified row slices in order; throws naming the file on truncation or corruption. */
  rows: AsyncIterable<GramRows>;
  /** Releases the underlying byte stream (safe to call at any point, and more than once). */
  close(): Promise<void>;
}

async function* plainIterable(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of bytes) yield chunk;
}

/** Opens a partial Gram byte stream and reads its header (stream or legacy file format). */
export async function openGramStream(bytes: AsyncIterable<Uint8Array>, source: string): Promise<GramStream> {
  let reader: A.RecordBatchReader;
  let verifier: GramVerifier;
  try {
    // Handed over as a plain async iterable: given a Node stream, Arrow reads it with read(size),
    // which grows the stream's buffer to the message size — several batches per input in memory.
    reader = await A.RecordBatchReader.from(plainIterable(bytes));
    await reader.open();
    verifier = new GramVerifier(reader.schema, source);
  } catch (err) {
    const destroy = (bytes as { destroy?: () => void }).destroy;
    if (typeof destroy === 'function') destroy.call(bytes);
    throw unreadable(source, err);
  }
  async function* rows(): AsyncGenerator<GramRows> {
    try {
      for await (const batch of reader as AsyncIterable<A.RecordBatch>) yield verifier.batch(batch);
    } catch (err) {
      throw unreadable(source, err);
    }
    verifier.finish();
  }
  let closed = false;
  return {
    header: verifier.header,
    rows: rows(),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await reader.cancel();
      } catch {
        // already ended or failed; nothing left to release
      }
      const destroy = (bytes as { destroy?: () => void }).destroy;
      if (typeof destroy === 'function') destroy.call(bytes);
    },
  };
}

/**
 * Sums partials. Their ranges must tile without overlap: a range counted twice fails loudly.
 * The result covers the union, sorted and merged where adjacent.
 */
export function sumPartials(parts: PartialGram[], source: string): PartialGram {
  if (parts.length === 0) throw new Error(`${source}: nothing to reduce`);
  const { dim, layer } = parts[0];
  const s = new Float64Array(dim * dim);
  let n = 0;
  const covers: GramRange[] = [];
  for (const p of parts) {
    if (p.dim !== dim) throw new Error(`${source}: partials disagree on dim (${p.dim} vs ${dim})`);
    for (let i = 0; i < s.length; i++) s[i] += p.s[i];
    n += p.n;
    covers.push(...p.covers);
  }
  return { dim, n, s, covers: mergeRanges(covers, source), layer };
}

export function mergeRanges(ranges: GramRange[], source: string): GramRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const out: GramRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start < last.end) {
      throw new Error(`${source}: rows [${r.start}, ${r.end}) counted twice (overlaps [${last.start}, ${last.end}))`);
    }
    if (last && r.start === last.end) last.end = r.end;
    else out.push({ ...r });
  }
  return out;
}
