// What every format reader offers the dataset layer: the records of one source in file order, each
// with a locator from which reading can resume (how a shard finds its first record again) and its
// position for messages.

/** JSON-serialisable resume point of one record. Which fields are set depends on the format. */
export interface RecordLocator {
  /** 0-based index of the record among all records of the source (before any selection). */
  physicalRow: number;
  /** JSONL/CSV/TSV: offset of the record's first byte in the (decompressed) text. */
  byteOffset?: number;
  /** JSONL/CSV/TSV: 1-based line where the record starts. */
  lineNumber?: number;
  /** Parquet: row group holding the record. */
  rowGroup?: number;
  /** Arrow: record batch holding the record, and the row inside it. */
  batch?: number;
  rowInBatch?: number;
  /** Folder of .txt: the file's name. */
  file?: string;
}

export interface SourceRecord {
  fields: Record<string, unknown>;
  at: RecordLocator;
  /** "<path> line 12", "<path> row 7 (row group 0)", … for error messages. */
  where: () => string;
}

export interface FormatReader {
  /** Total size and sha256 of the bytes the dataset consists of. */
  describe(): Promise<{ bytes: number; sha256: string }>;
  /**
   * Records from `from` (default: the first) to the end. `needed` are the fields the caller will
   * use: columnar readers read only those and fail at once when one is missing.
   */
  records(needed: readonly string[], from?: RecordLocator): AsyncGenerator<SourceRecord>;
}

/** The error for fields absent from a schema or header, listing what is there. */
export function missingFieldsMessage(uri: string, kind: string, missing: string[], present: string[]): string {
  const names = missing.map((m) => `"${m}"`).join(', ');
  return `${uri}: ${kind} ${names} not found (${kind}s present: ${present.join(', ') || 'none'})`;
}
