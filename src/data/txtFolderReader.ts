// A folder of `.txt` files, one text per file, in name order (code-unit order, the same on every
// machine). Each record has the fields `text` (the file's UTF-8 content) and `name` (its file name).
// Only files directly in the folder count; one file is in memory at a time.
import { createHash } from 'node:crypto';
import { InputError } from '../errors.ts';
import type { FolderSource } from './byteSource.ts';
import type { FormatReader, RecordLocator, SourceRecord } from './formatReader.ts';
import { DEFAULT_MAX_RECORD_BYTES, recordTooLarge, type ReadLimits } from './recordLimit.ts';

const SUFFIX = '.txt';

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
  return Buffer.concat(parts);
}

export function txtFolderReader(folder: FolderSource, limits: ReadLimits = {}): FormatReader {
  const maxRecordBytes = limits.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  return {
    /** sha256 over (name, NUL, size, NUL, bytes) of each file in order, so renames count too. */
    async describe() {
      const hash = createHash('sha256');
      let bytes = 0;
      for (const entry of await folder.list(SUFFIX)) {
        hash.update(`${entry.name}\0${entry.sizeBytes}\0`);
        for await (const chunk of folder.file(entry.name).stream(0)) hash.update(chunk);
        bytes += entry.sizeBytes;
      }
      return { bytes, sha256: hash.digest('hex') };
    },
    async *records(needed, from?: RecordLocator): AsyncGenerator<SourceRecord> {
      const present = ['text', 'name'];
      const missing = needed.filter((f) => !present.includes(f));
      if (missing.length) {
        throw new InputError(`${folder.uri}: a folder of .txt files has only the fields "text" and "name", not ${missing.map((m) => `"${m}"`).join(', ')}`);
      }
      const entries = await folder.list(SUFFIX);
      const first = from?.physicalRow ?? 0;
      if (from && entries[first]?.name !== from.file) {
        throw new InputError(`${folder.uri}: expected file ${from.file} at position ${first + 1} (folder changed since planning?)`);
      }
      for (let i = first; i < entries.length; i++) {
        const name = entries[i].name;
        // One file is one record: a file over the bound is refused before it is read.
        if (entries[i].sizeBytes > maxRecordBytes) throw recordTooLarge(`${folder.uri}/${name}`, entries[i].sizeBytes, maxRecordBytes);
        const text = (await readAll(folder.file(name).stream(0))).toString('utf8');
        yield { fields: { text, name }, at: { physicalRow: i, file: name }, where: () => `${folder.uri}/${name}` };
      }
    },
  };
}
