// Arrow IPC, file format (random access: a shard jumps to its record batch) or stream format (read
// from the start, skipping batches before the shard). Only the needed columns are converted, one
// record batch at a time.
import { open } from 'node:fs/promises';
import { RecordBatchReader, type RecordBatch } from 'apache-arrow';
import { InputError } from '../errors.ts';
import { decodedStream, describeSource, isGzip, type ByteSource } from './byteSource.ts';
import { missingFieldsMessage, type FormatReader, type RecordLocator, type SourceRecord } from './formatReader.ts';

export function arrowReader(source: ByteSource): FormatReader {
  return {
    describe: () => describeSource(source),
    async *records(needed, from?: RecordLocator): AsyncGenerator<SourceRecord> {
      await source.sizeBytes();
      const handle = source.localPath && !(await isGzip(source)) ? await open(source.localPath, 'r') : undefined;
      try {
        let reader;
        try {
          reader = handle ? await RecordBatchReader.from(handle) : await RecordBatchReader.from(decodedStream(source));
          await reader.open();
        } catch (err) {
          throw new InputError(`${source.uri}: not a readable Arrow IPC file or stream (${(err as Error).message})`);
        }
        const present = reader.schema.fields.map((f) => f.name);
        const missing = needed.filter((f) => !present.includes(f));
        if (missing.length) throw new InputError(missingFieldsMessage(source.uri, 'column', missing, present));

        const firstBatch = from?.batch ?? 0;
        let physicalRow = from ? from.physicalRow - (from.rowInBatch ?? 0) : 0;
        const emit = function* (batch: RecordBatch, b: number): Generator<SourceRecord> {
          const columns = needed.map((f) => batch.getChild(f));
          const startRow = b === firstBatch ? (from?.rowInBatch ?? 0) : 0;
          for (let i = startRow; i < batch.numRows; i++) {
            const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>; // `__proto__` is a column too
            needed.forEach((f, k) => (fields[f] = columns[k]?.get(i)));
            const row = physicalRow + i;
            const where = () => `${source.uri} row ${row + 1} (record batch ${b})`;
            yield { fields, at: { physicalRow: row, batch: b, rowInBatch: i }, where };
          }
          physicalRow += batch.numRows;
        };
        if (reader.isFile() && handle) {
          for (let b = firstBatch; b < reader.numRecordBatches; b++) {
            const batch = await reader.readRecordBatch(b);
            if (batch) yield* emit(batch, b);
          }
        } else {
          let b = 0;
          for await (const batch of reader) {
            if (b >= firstBatch) yield* emit(batch, b);
            b++;
          }
        }
      } finally {
        await handle?.close();
      }
    },
  };
}
