// The size bound on one record of a dataset (a JSONL line, a CSV/TSV record, a .txt file): past it
// the reader stops with an error naming the file and line, before a huge line becomes a string
// (V8 cannot hold strings over ~512 MiB, and long before that a worker would run out of memory).
import { InputError } from '../errors.ts';

/** Default bound: far above any text a model reads, far below what breaks a worker. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024;
/** The largest bound a spec may set (V8's string limit is 2^29 − 24 UTF-16 units). */
export const MAX_RECORD_BYTES_LIMIT = 256 * 1024 * 1024;

export interface ReadLimits {
  /** Largest record, in bytes (default DEFAULT_MAX_RECORD_BYTES). */
  maxRecordBytes?: number;
}

/** The error for a record over the bound; `where` names the file and line. */
export function recordTooLarge(where: string, bytes: number | undefined, limit: number): InputError {
  const size = bytes === undefined ? `more than ${limit}` : String(bytes);
  return new InputError(`${where}: record is ${size} bytes, over the limit of ${limit} (maxRecordBytes; raise it with --max-record-bytes or the spec's maxRecordBytes)`);
}
