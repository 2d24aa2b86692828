// Where a dataset's bytes come from. Format readers take a ByteSource (one file) or a FolderSource
// (a folder of files), never a path, so an object-store source (s3://) only has to implement these
// two interfaces: local files here, S3 objects in s3ByteSource.ts.
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { createHash } from 'node:crypto';
import { InputError } from '../errors.ts';

export interface ByteSource {
  /** Path or URI, for messages and provenance. */
  readonly uri: string;
  /** Set when the bytes are a file on this machine: lets readers use a random-access handle. */
  readonly localPath?: string;
  sizeBytes(): Promise<number>;
  /** Bytes from `start` (default 0) to the end, in chunks. */
  stream(start?: number): AsyncIterable<Uint8Array>;
  /** Bytes [start, end). */
  slice(start: number, end: number): Promise<Uint8Array>;
}

export interface FolderEntry {
  name: string;
  sizeBytes: number;
}

export interface FolderSource {
  readonly uri: string;
  /** Files directly in the folder whose name ends with `suffix`, sorted by name (code-unit order). */
  list(suffix: string): Promise<FolderEntry[]>;
  file(name: string): ByteSource;
}

export function fileSource(path: string): ByteSource {
  return {
    uri: path,
    localPath: path,
    async sizeBytes() {
      try {
        const s = await stat(path);
        if (!s.isFile()) throw new InputError(`dataset ${path} is not a file`);
        return s.size;
      } catch (err) {
        if (err instanceof InputError) throw err;
        throw new InputError(`dataset not found: ${path}`);
      }
    },
    stream(start = 0) {
      return createReadStream(path, { start }) as AsyncIterable<Buffer>;
    },
    async slice(start, end) {
      const fh = await open(path, 'r');
      try {
        const buf = Buffer.alloc(Math.max(0, end - start));
        const { bytesRead } = await fh.read(buf, 0, buf.length, start);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
  };
}

export function folderSource(path: string): FolderSource {
  return {
    uri: path,
    async list(suffix) {
      let names: string[];
      try {
        names = await readdir(path);
      } catch {
        throw new InputError(`dataset folder not found: ${path}`);
      }
      const entries: FolderEntry[] = [];
      for (const name of names.filter((n) => n.endsWith(suffix)).sort(byCodeUnits)) {
        const s = await stat(join(path, name));
        if (s.isFile()) entries.push({ name, sizeBytes: s.size });
      }
      return entries;
    },
    file: (name) => fileSource(join(path, name)),
  };
}

/** Plain code-unit order: the same on every machine and locale. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Is it a local folder? (Object-store sources will answer from their own listing.) */
export async function isLocalFolder(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];

export async function isGzip(source: ByteSource): Promise<boolean> {
  if (source.uri.endsWith('.gz')) return true;
  const head = await source.slice(0, 2);
  return head.length === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/**
 * The decoded bytes (gunzipped when the source is gzip) from decoded offset `start`. A gzip stream
 * cannot seek, so it is decompressed from the beginning and the first `start` bytes are dropped.
 */
export async function* decodedStream(source: ByteSource, start = 0, gzip?: boolean): AsyncGenerator<Buffer> {
  if (!(gzip ?? (await isGzip(source)))) {
    for await (const chunk of source.stream(start)) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    return;
  }
  // pipeline forwards a read error or a corrupt stream to the iterator, and tears both down on exit.
  const gunzip = pipeline(Readable.from(source.stream(0)), createGunzip(), () => {});
  let skip = start;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${source.uri}: cannot decompress (${(err as Error).message})`);
  } finally {
    gunzip.destroy();
  }
}

/** A single-file source's size and sha256, as stored: what FormatReader.describe reports for it. */
export async function describeSource(source: ByteSource): Promise<{ bytes: number; sha256: string }> {
  const [bytes, sha256] = await Promise.all([source.sizeBytes(), sha256Source(source)]);
  return { bytes, sha256 };
}

/** sha256 (hex) of every byte of the source, as stored (compressed bytes for gzip). */
export async function sha256Source(source: ByteSource): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of source.stream(0)) hash.update(chunk);
  return hash.digest('hex');
}
