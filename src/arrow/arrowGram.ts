// Partial Gram matrices as Arrow IPC files.
//
// A shard's partial is S = Σ z zᵀ over every kept, normalised row z of every sample in it, with
// n = the number of such rows (DESIGN §1.6). Partials add up exactly, so a reduction is a sum.
// Layout: one row of the table per matrix row — columns `row: int32`, `values: FixedSizeList<f64>[d]`
// — written in record batches of `batchRows` matrix rows, so a reducer can stream k files in
// lockstep holding k × batch in memory, never k × d². Schema metadata carries n, dim, the shard
// ranges the matrix covers (a reduction checks for gaps and doubles) and a sha256 of the values.
import * as A from 'apache-arrow';
import { createHash } from 'node:crypto';

export interface GramRange {
  /** First dataset row covered (inclusive). */
  start: number;
  /** Last dataset row covered (exclusive). */
  end: number;
}

export interface PartialGram {
  dim: number;
  /** Kept rows summed into s. */
  n: number;
  /** S: dim×dim, row-major, full symmetric. */
  s: Float64Array;
  /** Dataset row ranges summed into s, sorted. */
  covers: GramRange[];
  /** Which hidden-state tap (e.g. `last`). */
  layer: string;
}

const DEFAULT_BATCH_ROWS = 64;

function valuesChecksum(s: Float64Array): string {
  return createHash('sha256').update(new Uint8Array(s.buffer, s.byteOffset, s.byteLength)).digest('hex');
}

export function gramToArrow(g: PartialGram, batchRows = DEFAULT_BATCH_ROWS): Uint8Array {
  const listType = new A.FixedSizeList(g.dim, new A.Field('v', new A.Float64(), false));
  const metadata = new Map([
    ['entroscope.kind', 'partial-gram'],
    ['entroscope.n', String(g.n)],
    ['entroscope.dim', String(g.dim)],
    ['entroscope.layer', g.layer],
    ['entroscope.covers', JSON.stringify(g.covers)],
    ['entroscope.sha256', valuesChecksum(g.s)],
  ]);
  const schema = new A.Schema(
    [new A.Field('row', new A.Int32(), false), new A.Field('values', listType, false)],
    metadata,
  );
  const batches: A.RecordBatch[] = [];
  for (let r0 = 0; r0 < g.dim; r0 += batchRows) {
    const rows = Math.min(batchRows, g.dim - r0);
    const rowIds = Int32Array.from({ length: rows }, (_, i) => r0 + i);
    const values = g.s.slice(r0 * g.dim, (r0 + rows) * g.dim);
    const data = A.makeData({
      type: new A.Struct(schema.fields),
      length: rows,
      children: [
        A.makeData({ type: new A.Int32(), length: rows, data: rowIds }),
        A.makeData({
          type: listType,
          length: rows,
          child: A.makeData({ type: new A.Float64(), length: rows * g.dim, data: values }),
        }),
      ],
    });
    batches.push(new A.RecordBatch(schema, data));
  }
  return A.RecordBatchFileWriter.writeAll(batches).toUint8Array(true);
}

/** Reads and verifies a partial Gram file; `source` names it in errors. */
export function gramFromArrow(bytes: Uint8Array, source: string): PartialGram {
  const reader = A.RecordBatchReader.from(bytes);
  reader.open();
  const meta = reader.schema.metadata;
  if (meta.get('entroscope.kind') !== 'partial-gram') throw new Error(`${source}: not an entroscope partial Gram file`);
  const dim = Number(meta.get('entroscope.dim'));
  const n = Number(meta.get('entroscope.n'));
  const s = new Float64Array(dim * dim);
  let filled = 0;
  for (const batch of reader) {
    const rows = batch.getChildAt(0)!.toArray() as Int32Array;
    const values = batch.getChildAt(1)!.data[0].children[0].values as Float64Array;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] !== filled) throw new Error(`${source}: matrix row ${filled} expected, found ${rows[i]}`);
      s.set(values.subarray(i * dim, (i + 1) * dim), filled * dim);
      filled++;
    }
  }
  if (filled !== dim) throw new Error(`${source}: truncated partial Gram (${filled} of ${dim} rows)`);
  if (valuesChecksum(s) !== meta.get('entroscope.sha256')) throw new Error(`${source}: checksum mismatch, the file is corrupt`);
  return {
    dim,
    n,
    s,
    covers: JSON.parse(meta.get('entroscope.covers') ?? '[]') as GramRange[],
    layer: meta.get('entroscope.layer') ?? 'last',
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
