// JSON Lines: one JSON object per line; blank lines are skipped and not counted as records. Streams
// (gzip too); a shard resumes at its byte offset (for gzip: decompresses up to it). A line longer
// than the record bound (recordLimit.ts) fails as soon as the bound is passed, naming its line,
// without ever holding it whole.
import { InputError } from '../errors.ts';
import { decodedStream, describeSource, type ByteSource } from './byteSource.ts';
import type { FormatReader, RecordLocator, SourceRecord } from './formatReader.ts';
import { DEFAULT_MAX_RECORD_BYTES, recordTooLarge, type ReadLimits } from './recordLimit.ts';

/** A line passed `maxLineBytes`: the `index`-th line (0-based) from the start of the read. */
export class LineTooLong extends Error {
  constructor(
    readonly index: number,
    readonly maxLineBytes: number,
  ) {
    super(`line ${index} from the start of the read is over ${maxLineBytes} bytes`);
  }
}

/** Lines of the decoded text from byte `start`, each with the byte offset where it begins. */
export async function* decodedLines(source: ByteSource, start = 0, maxLineBytes = Infinity): AsyncGenerator<{ text: string; offset: number }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let pendingStart = start;
  let offset = start;
  let index = 0;
  for await (const chunk of decodedStream(source, start)) {
    let from = 0;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) {
      if (pendingBytes + (i - from) > maxLineBytes) throw new LineTooLong(index, maxLineBytes);
      pending.push(chunk.subarray(from, i));
      yield { text: Buffer.concat(pending).toString('utf8'), offset: pendingStart };
      index++;
      pending = [];
      pendingBytes = 0;
      pendingStart = offset + i + 1;
      from = i + 1;
    }
    if (from < chunk.length) {
      pendingBytes += chunk.length - from;
      if (pendingBytes > maxLineBytes) throw new LineTooLong(index, maxLineBytes);
      pending.push(chunk.subarray(from));
    }
    offset += chunk.length;
  }
  if (pending.length) yield { text: Buffer.concat(pending).toString('utf8'), offset: pendingStart };
}

function parseObject(line: string, where: () => string): Record<string, unknown> {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (err) {
    throw new InputError(`${where()}: not valid JSON (${(err as Error).message})`);
  }
  if (!row || typeof row !== 'object' || Array.isArray(row)) {
    throw new InputError(`${where()}: expected a JSON object, got ${Array.isArray(row) ? 'an array' : row === null ? 'null' : typeof row}`);
  }
  return row as Record<string, unknown>;
}

export function jsonlReader(source: ByteSource, limits: ReadLimits = {}): FormatReader {
  const maxRecordBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  return {
    describe: () => describeSource(source),
    async *records(_needed, from?: RecordLocator): AsyncGenerator<SourceRecord> {
      await source.sizeBytes(); // a clear "not found" before streaming
      let physicalRow = from?.physicalRow ?? 0;
      const firstLine = from?.lineNumber ?? 1;
      let lineNumber = firstLine - 1;
      try {
        for await (const { text, offset } of decodedLines(source, from?.byteOffset ?? 0, maxRecordBytes)) {
          lineNumber++;
          const line = offset === 0 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
          if (line.trim() === '') continue;
          const n = lineNumber;
          const where = () => `${source.uri} line ${n}`;
          yield { fields: parseObject(line, where), at: { physicalRow, byteOffset: offset, lineNumber: n }, where };
          physicalRow++;
        }
      } catch (err) {
        if (err instanceof LineTooLong) throw recordTooLarge(`${source.uri} line ${firstLine + err.index}`, undefined, err.maxLineBytes);
        throw err;
      }
    },
  };
}
