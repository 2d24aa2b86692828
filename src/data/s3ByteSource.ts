// Dataset bytes in an S3 bucket (AWS S3, MinIO or any S3-compatible service): the ByteSource and
// FolderSource of byteSource.ts over `s3://bucket/key`. A slice is one ranged GetObject
// (`Range: bytes=start-(end−1)`, RFC 9110 §14.1.2), so Parquet reads only its footer and the column
// chunks it needs; a stream is one GetObject from `start` to the end, consumed as it arrives, so a
// JSONL/CSV scan never holds the whole object.
//
// The client is the stores' (src/store/s3Store.ts): the AWS SDK's credential chain, AWS_REGION
// (default us-east-1), AWS_ENDPOINT_URL(_S3) for MinIO with path-style addressing.
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { closeS3, s3Client } from '../store/s3Store.ts';
import { InputError } from '../errors.ts';
import type { ByteSource, FolderEntry, FolderSource } from './byteSource.ts';

const client = s3Client;

/** Closes the shared client's keep-alive sockets (they would hold a process open). */
export function closeS3Sources(): void {
  closeS3();
}

export function isS3Uri(path: string): boolean {
  return path.startsWith('s3://');
}

export interface S3Location {
  bucket: string;
  /** Object key, or folder prefix without the trailing '/'. */
  key: string;
}

export function parseS3Uri(uri: string): S3Location {
  if (!isS3Uri(uri)) throw new InputError(`not an s3:// URI: ${uri}`);
  const rest = uri.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  if (!bucket) throw new InputError(`dataset ${uri}: no bucket in the URI (expected s3://bucket/key)`);
  return { bucket, key };
}

function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isMissing(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return httpStatus(err) === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket';
}

/** An S3 failure as a message a user can act on (missing objects are InputErrors: no retry helps). */
function s3Error(uri: string, err: unknown): Error {
  if (err instanceof InputError) return err;
  if (isMissing(err)) return new InputError(`dataset not found: ${uri}`);
  const status = httpStatus(err);
  if (status === 403) return new InputError(`dataset ${uri}: access denied (check AWS credentials and the bucket policy)`);
  return new Error(`dataset ${uri}: S3 request failed (${(err as Error).message || (err as { name?: string }).name})`);
}

export function s3Source(uri: string): ByteSource {
  const { bucket, key } = parseS3Uri(uri);
  if (!key || key.endsWith('/')) throw new InputError(`dataset ${uri}: names a folder, not an object`);
  let size: Promise<number> | undefined;

  async function get(range?: string): Promise<AsyncIterable<Uint8Array>> {
    try {
      const res = await client().send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
      if (!res.Body) throw new Error('empty response body');
      return res.Body as AsyncIterable<Uint8Array>;
    } catch (err) {
      throw s3Error(uri, err);
    }
  }

  const source: ByteSource = {
    uri,
    sizeBytes() {
      size ??= client()
        .send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
        .then((h) => h.ContentLength ?? 0)
        .catch((err: unknown) => {
          size = undefined; // a transient failure is not remembered
          throw s3Error(uri, err);
        });
      return size;
    },
    async *stream(start = 0) {
      const total = await source.sizeBytes();
      if (start >= total) return; // a Range past the end is a 416, not an empty body
      const body = await get(start > 0 ? `bytes=${start}-` : undefined);
      try {
        for await (const chunk of body) yield chunk;
      } catch (err) {
        throw s3Error(uri, err);
      }
    },
    async slice(start, end) {
      const total = await source.sizeBytes();
      const last = Math.min(end, total) - 1;
      if (last < start) return new Uint8Array(0);
      const parts: Uint8Array[] = [];
      let length = 0;
      try {
        for await (const chunk of await get(`bytes=${start}-${last}`)) {
          parts.push(chunk);
          length += chunk.byteLength;
        }
      } catch (err) {
        throw s3Error(uri, err);
      }
      return parts.length === 1 ? parts[0] : Buffer.concat(parts, length);
    },
  };
  return source;
}

/** Keys directly under `prefix/` (the common-prefix "folder" convention), with their sizes. */
async function listDirect(bucket: string, prefix: string, uri: string): Promise<FolderEntry[]> {
  const out: FolderEntry[] = [];
  let token: string | undefined;
  try {
    do {
      const res = await client().send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        const name = o.Key?.slice(prefix.length);
        if (name) out.push({ name, sizeBytes: o.Size ?? 0 });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    throw s3Error(uri, err);
  }
  return out;
}

function folderPrefix(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  return trimmed ? `${trimmed}/` : '';
}

export function s3FolderSource(uri: string): FolderSource {
  const { bucket, key } = parseS3Uri(uri);
  const prefix = folderPrefix(key);
  const base = `s3://${bucket}/${prefix}`;
  return {
    uri,
    async list(suffix) {
      const entries = (await listDirect(bucket, prefix, uri)).filter((e) => e.name.endsWith(suffix));
      // Code-unit order, as folderSource: S3 lists in UTF-8 byte order, which differs beyond the BMP.
      return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    },
    file: (name) => s3Source(base + name),
  };
}

/**
 * Does the URI name a "folder" (objects under `key/`) rather than an object? A trailing '/' says so
 * outright; otherwise an existing object wins, then a non-empty prefix.
 */
export async function isS3Folder(uri: string): Promise<boolean> {
  const { bucket, key } = parseS3Uri(uri);
  if (!key || key.endsWith('/')) return true;
  try {
    await client().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return false;
  } catch (err) {
    if (!isMissing(err)) throw s3Error(uri, err);
  }
  try {
    const res = await client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${key}/`, MaxKeys: 1 }));
    return (res.KeyCount ?? res.Contents?.length ?? 0) > 0;
  } catch (err) {
    throw s3Error(uri, err);
  }
}
