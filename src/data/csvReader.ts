// CSV and TSV (RFC 4180 quoting, parsed by csv-parse): the first record is the header and names the
// fields. Every record must have as many fields as the header. Streams (gzip too); a shard resumes
// at its first record's byte offset after re-reading the header.
import { pipeline, Readable } from 'node:stream';
import { parse, type Info } from 'csv-parse';
import { InputError } from '../errors.ts';
import { decodedStream, describeSource, type ByteSource } from './byteSource.ts';
import { missingFieldsMessage, type FormatReader, type RecordLocator, type SourceRecord } from './formatReader.ts';
import { DEFAULT_MAX_RECORD_BYTES, recordTooLarge, type ReadLimits } from './recordLimit.ts';

interface Parsed {
  record: string[];
  info: Info;
}

/** Parsed records of the decoded text from byte `start`; `lineBase` lines precede it. */
async function* parsedRecords(source: ByteSource, delimiter: string, start: number, lineBase: number, maxRecordBytes: number): AsyncGenerator<Parsed> {
  let linesDone = 0; // lines of the records parsed so far: the next record starts after them
  const parser = pipeline(
    Readable.from(decodedStream(source, start)),
    parse({
      delimiter,
      bom: start === 0,
      info: true,
      skip_empty_lines: true,
      relax_column_count: true, // checked here, to name the record and both counts
      relax_quotes: delimiter === '\t', // TSV writers often leave quotes inside fields unescaped
      max_record_size: maxRecordBytes, // csv-parse stops as soon as one record's buffers pass it
      on_record: (record: string[], context: { lines: number }) => {
        linesDone = context.lines; // as parsed (the iterator may not have taken it yet)
        return record;
      },
    }),
    () => {},
  );
  try {
    for await (const parsed of parser as AsyncIterable<Parsed>) yield parsed;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const e = err as Error & { lines?: number; code?: string };
    // An oversized record is named by the line it starts on (a quoted field may span many).
    if (e.code === 'CSV_MAX_RECORD_SIZE') throw recordTooLarge(`${source.uri} line ${lineBase + linesDone + 1}`, undefined, maxRecordBytes);
    const line = e.lines !== undefined ? ` line ${lineBase + e.lines}` : '';
    throw new InputError(`${source.uri}${line}: ${e.message}`);
  } finally {
    parser.destroy();
  }
}

async function readHeader(source: ByteSource, delimiter: string, maxRecordBytes: number): Promise<Parsed | undefined> {
  for await (const parsed of parsedRecords(source, delimiter, 0, 0, maxRecordBytes)) return parsed;
  return undefined;
}

export function csvReader(source: ByteSource, delimiter: ',' | '\t', limits: ReadLimits = {}): FormatReader {
  const maxRecordBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  return {
    describe: () => describeSource(source),
    async *records(needed, from?: RecordLocator): AsyncGenerator<SourceRecord> {
      await source.sizeBytes();
      const header = await readHeader(source, delimiter, maxRecordBytes);
      if (!header) return;
      const columns = header.record;
      const missing = needed.filter((f) => !columns.includes(f));
      if (missing.length) throw new InputError(missingFieldsMessage(source.uri, 'column', missing, columns));
      const start = from?.byteOffset ?? header.info.bytes;
      const lineBase = from ? (from.lineNumber ?? 1) - 1 : header.info.lines;
      let physicalRow = from?.physicalRow ?? 0;
      let prev = { bytes: 0, lines: 0 };
      for await (const { record, info } of parsedRecords(source, delimiter, start, lineBase, maxRecordBytes)) {
        const r = physicalRow + 1;
        const line = lineBase + info.lines;
        const where = () => `${source.uri} record ${r} (line ${line})`;
        if (record.length !== columns.length) {
          throw new InputError(`${where()}: ${record.length} field${record.length === 1 ? '' : 's'}, but the header has ${columns.length} (ragged row)`);
        }
        // No prototype: a header naming `__proto__` is a column like any other.
        const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
        for (let i = 0; i < columns.length; i++) fields[columns[i]] = record[i];
        yield { fields, at: { physicalRow, byteOffset: start + prev.bytes, lineNumber: lineBase + prev.lines + 1 }, where };
        prev = { bytes: info.bytes, lines: info.lines };
        physicalRow++;
      }
    },
  };
}
