// Datasets shipped as one JSON document rather than JSON Lines (format `json`) — a top-level array of
// records, as LLaVA's detail_23k.json, or an object with one array of them, as cc_sbu_align's
// filter_cap.json ({"annotations": [records]}) — as a FormatReader. The document is parsed whole (these files are tens of MB at most; gzip allowed), so a
// shard "resumes" by skipping to its record index.
import { InputError } from '../errors.ts';
import { decodedStream, describeSource, type ByteSource } from './byteSource.ts';
import type { FormatReader, RecordLocator, SourceRecord } from './formatReader.ts';

interface JsonRecords {
  /** "" for a top-level array, else the property holding the array. */
  key: string;
  items: unknown[];
}

/** The record array of a JSON document: the document itself, or its only array-valued property. */
function recordsOf(doc: unknown, uri: string): JsonRecords {
  if (Array.isArray(doc)) return { key: '', items: doc };
  if (doc && typeof doc === 'object') {
    const arrays = Object.entries(doc as Record<string, unknown>).filter(([, v]) => Array.isArray(v));
    if (arrays.length === 1) return { key: arrays[0][0], items: arrays[0][1] as unknown[] };
    const keys = Object.keys(doc).join(', ') || 'none';
    throw new InputError(
      `${uri}: expected a JSON array of records or an object with one array of records (as {"annotations": [...]}); found ${arrays.length} array properties (keys: ${keys})`,
    );
  }
  throw new InputError(`${uri}: expected a JSON array of records, got ${doc === null ? 'null' : typeof doc}`);
}

export function jsonDocumentReader(source: ByteSource): FormatReader {
  let parsed: Promise<JsonRecords> | undefined;
  async function load(): Promise<JsonRecords> {
    await source.sizeBytes(); // a clear "not found" first
    const chunks: Buffer[] = [];
    for await (const chunk of decodedStream(source)) chunks.push(chunk);
    let text = Buffer.concat(chunks).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new InputError(`${source.uri}: not valid JSON (${(err as Error).message})`);
    }
    return recordsOf(doc, source.uri);
  }
  return {
    describe: () => describeSource(source),
    async *records(_needed, from?: RecordLocator): AsyncGenerator<SourceRecord> {
      parsed ??= load();
      const { key, items } = await parsed;
      for (let i = from?.physicalRow ?? 0; i < items.length; i++) {
        const n = i;
        const where = () => `${source.uri} ${key}[${n}]`;
        const item = items[i];
        if (!item || typeof item !== 'object' || Array.isArray(item)) {
          throw new InputError(`${where()}: expected a JSON object, got ${Array.isArray(item) ? 'an array' : item === null ? 'null' : typeof item}`);
        }
        yield { fields: item as Record<string, unknown>, at: { physicalRow: i }, where };
      }
    },
  };
}
