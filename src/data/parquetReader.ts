// Parquet (read by hyparquet, with hyparquet-compressors for gzip/zstd/brotli/lz4 pages): reads only
// the columns the template and filter name, one row group at a time, so memory is bounded by a row
// group's slice of those columns. A shard resumes at its first record's physical row.
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { InputError } from '../errors.ts';
import { describeSource, type ByteSource } from './byteSource.ts';
import { missingFieldsMessage, type FormatReader, type RecordLocator, type SourceRecord } from './formatReader.ts';

/** Row groups of this many rows or more are read in pieces of this size. */
const MAX_ROWS_PER_READ = 65_536;

function asyncBuffer(source: ByteSource, byteLength: number): AsyncBuffer {
  return {
    byteLength,
    async slice(start, end) {
      const bytes = await source.slice(start, end ?? byteLength);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

export function parquetReader(source: ByteSource): FormatReader {
  return {
    describe: () => describeSource(source),
    async *records(needed, from?: RecordLocator): AsyncGenerator<SourceRecord> {
      const file = asyncBuffer(source, await source.sizeBytes());
      let metadata: FileMetaData;
      try {
        metadata = await parquetMetadataAsync(file);
      } catch (err) {
        throw new InputError(`${source.uri}: not a readable Parquet file (${(err as Error).message})`);
      }
      const present = parquetSchema(metadata).children.map((c) => c.element.name);
      const missing = needed.filter((f) => !present.includes(f));
      if (missing.length) throw new InputError(missingFieldsMessage(source.uri, 'column', missing, present));
      let groupStart = 0;
      for (let g = 0; g < metadata.row_groups.length; g++) {
        const groupEnd = groupStart + Number(metadata.row_groups[g].num_rows);
        for (let rowStart = Math.max(groupStart, from?.physicalRow ?? 0); rowStart < groupEnd; rowStart += MAX_ROWS_PER_READ) {
          const rowEnd = Math.min(groupEnd, rowStart + MAX_ROWS_PER_READ);
          let rows;
          try {
            rows = await parquetReadObjects({ file, metadata, columns: [...needed], rowStart, rowEnd, compressors });
          } catch (err) {
            throw new InputError(`${source.uri} rows ${rowStart + 1}–${rowEnd} (row group ${g}): cannot decode (${(err as Error).message})`);
          }
          for (let i = 0; i < rows.length; i++) {
            const physicalRow = rowStart + i;
            const where = () => `${source.uri} row ${physicalRow + 1} (row group ${g})`;
            yield { fields: rows[i], at: { physicalRow, rowGroup: g }, where };
          }
        }
        groupStart = groupEnd;
      }
    },
  };
}
