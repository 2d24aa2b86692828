// One node of the reduction tree, streamed: S_out = Σ_i S_i over k partial Gram files (DESIGN §1.6),
// read in lockstep record batch by record batch and written as it is summed, so memory is about
// k × batch (+ the store's write buffer: 2 × 5 MiB parts for S3), never k × d² (DESIGN §4).
// Inputs in the legacy Arrow file format are the exception: Arrow reads those whole.
//
// Each output element is summed in input order starting from +0 — ((0 + S_0) + S_1) + … — exactly
// as `sumPartials` does, so a streamed reduction equals the in-memory one bit for bit.
import {
  DEFAULT_BATCH_ROWS,
  gramToArrowStream,
  mergeRanges,
  openGramStream,
  type GramHeader,
  type GramRange,
  type GramRows,
  type GramStream,
} from '../arrow/arrowGram.ts';
import type { ObjectStore } from '../store/store.ts';

export interface ReduceGramsOptions {
  /** Called after each output batch is produced (e.g. to heartbeat). */
  onBatch?: () => void;
  /** Rows of S per output record batch. */
  batchRows?: number;
}

/** Pulls one input's verified batches on demand; holds at most its current batch. */
class RowCursor {
  private current?: GramRows;
  private readonly it: AsyncIterator<GramRows>;
  constructor(
    stream: GramStream,
    private readonly source: string,
  ) {
    this.it = stream.rows[Symbol.asyncIterator]();
  }

  /** The batch holding matrix row `row` (rows are asked for in increasing order). */
  async at(row: number): Promise<GramRows> {
    while (!this.current || row >= this.current.firstRow + this.current.rows) {
      const next = await this.it.next();
      if (next.done) throw new Error(`${this.source}: truncated partial Gram (row ${row} missing)`);
      this.current = next.value;
    }
    return this.current;
  }

  /** Runs the reader to its end, which verifies the row count and (legacy files) the checksum. */
  async finish(): Promise<void> {
    const next = await this.it.next();
    if (!next.done) throw new Error(`${this.source}: rows after the last matrix row`);
  }
}

/** Checks for a dataset row range covered by two inputs, naming both files. */
function checkCovers(headers: GramHeader[], names: string[], output: string): GramRange[] {
  const all = headers.flatMap((h, i) => h.covers.map((r) => ({ ...r, file: names[i] })));
  all.sort((a, b) => a.start - b.start);
  for (let i = 1; i < all.length; i++) {
    const [a, b] = [all[i - 1], all[i]];
    if (b.start < a.end) {
      throw new Error(
        `${output}: rows [${b.start}, ${b.end}) of ${b.file} counted twice (overlaps [${a.start}, ${a.end}) of ${a.file})`,
      );
    }
  }
  return mergeRanges(all.map(({ start, end }) => ({ start, end })), output);
}

/**
 * Sums the partial Grams stored under `inputs` into `output`, streamed. Inputs must agree on dim and
 * layer and cover disjoint dataset rows; every input is verified (row order, row count, checksum)
 * and any failure names the file. The output appears only if the whole reduction succeeds
 * (`putStream` is atomic). Skipping an existing output is the caller's business.
 */
export async function reduceGramFiles(
  store: ObjectStore,
  inputs: string[],
  output: string,
  opts: ReduceGramsOptions = {},
): Promise<{ n: number; dim: number; covers: GramRange[]; layer: string }> {
  const outName = store.uriOf(output);
  if (inputs.length === 0) throw new Error(`${outName}: nothing to reduce`);
  const batchRows = opts.batchRows ?? DEFAULT_BATCH_ROWS;
  const names = inputs.map((k) => store.uriOf(k));
  const streams: GramStream[] = [];
  try {
    for (let i = 0; i < inputs.length; i++) {
      streams.push(await openGramStream(await store.getStream(inputs[i]), names[i]));
    }
    const headers = streams.map((s) => s.header);
    const { dim, layer } = headers[0];
    headers.forEach((h, i) => {
      if (h.dim !== dim) throw new Error(`${names[i]}: dim ${h.dim} differs from dim ${dim} of ${names[0]}`);
      if (h.layer !== layer) throw new Error(`${names[i]}: layer ${h.layer} differs from layer ${layer} of ${names[0]}`);
    });
    const header: GramHeader = {
      dim,
      layer,
      n: headers.reduce((a, h) => a + h.n, 0),
      covers: checkCovers(headers, names, outName),
    };
    const cursors = streams.map((s, i) => new RowCursor(s, names[i]));

    async function* sums(): AsyncGenerator<GramRows> {
      for (let r0 = 0; r0 < dim; r0 += batchRows) {
        const rows = Math.min(batchRows, dim - r0);
        const out = new Float64Array(rows * dim); // fresh each batch: the writer keeps views on it
        for (const c of cursors) {
          for (let r = r0; r < r0 + rows; ) {
            const b = await c.at(r);
            const upto = Math.min(b.firstRow + b.rows, r0 + rows);
            const src = b.values.subarray((r - b.firstRow) * dim, (upto - b.firstRow) * dim);
            const off = (r - r0) * dim;
            for (let j = 0; j < src.length; j++) out[off + j] += src[j];
            r = upto;
          }
        }
        if (r0 + rows === dim) for (const c of cursors) await c.finish();
        yield { firstRow: r0, rows, values: out };
        opts.onBatch?.();
      }
    }

    await store.putStream(output, gramToArrowStream(header, sums(), outName));
    return header;
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
}
