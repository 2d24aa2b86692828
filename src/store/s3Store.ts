// A store in an S3 bucket (AWS S3, MinIO or any S3-compatible service). A single PutObject is
// atomic: readers see the old object or the whole new one, never a part. A streamed write is a
// multipart upload (`@aws-sdk/lib-storage`): S3 shows the object only once CompleteMultipartUpload
// succeeds, which happens only after the whole body was read; on any error the upload is aborted,
// so its parts never become an object. Memory of a streamed write: queueSize × partSize.
//
// Configuration follows the AWS SDK's standard chain: credentials from env / profile / IMDS, region
// from AWS_REGION (default us-east-1), endpoint from AWS_ENDPOINT_URL(_S3). A custom endpoint
// (MinIO) implies path-style addressing unless ENTROSCOPE_S3_PATH_STYLE=false.
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { NotFoundError, type ObjectStore } from './store.ts';
import { checkKey } from './storeKey.ts';

/** S3's smallest multipart part; bodies under it go up as one PutObject. */
const PART_BYTES = 5 * 1024 * 1024;
/** Parts in flight at once during a streamed write. */
const PARTS_IN_FLIGHT = 2;
/** Concurrent connections of the shared client (a reduction's fan-in must stay well below it). */
export const MAX_SOCKETS = 256;

let sharedClient: S3Client | undefined;

/** The process's one S3 client (stores and dataset readers share it, and its sockets). */
export function s3Client(): S3Client {
  if (!sharedClient) {
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    sharedClient = new S3Client({
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: endpoint !== undefined && process.env.ENTROSCOPE_S3_PATH_STYLE !== 'false',
      maxAttempts: 5,
      // A streamed reduction holds one GetObject body open per input (fan-in k) while it uploads
      // its output: with the SDK's default of 50 sockets, a fan-in near 50 would wait forever.
      requestHandler: { httpAgent: { maxSockets: MAX_SOCKETS }, httpsAgent: { maxSockets: MAX_SOCKETS } },
    });
  }
  return sharedClient;
}

/** Closes the shared client's sockets (keep-alive connections would hold a process open). */
export function closeS3(): void {
  sharedClient?.destroy();
  sharedClient = undefined;
}

export class S3Store implements ObjectStore {
  readonly uri: string;
  constructor(
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.prefix = prefix.replace(/^\/+|\/+$/g, '');
    this.uri = `s3://${bucket}${this.prefix ? '/' + this.prefix : ''}`;
  }

  private key(key: string): string {
    if (key !== '') checkKey(key); // '' is the store's root, for list('')
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await s3Client().send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(key), Body: bytes }));
  }

  async putStream(key: string, body: AsyncIterable<Uint8Array>): Promise<void> {
    const upload = new Upload({
      client: s3Client(),
      params: { Bucket: this.bucket, Key: this.key(key), Body: Readable.from(body, { objectMode: false }) },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async getStream(key: string): Promise<AsyncIterable<Uint8Array>> {
    try {
      const res = await s3Client().send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      if (!res.Body) throw new Error(`empty body for ${this.uriOf(key)}`);
      // In Node the body is an http.IncomingMessage (a Readable), itself an async iterable of Buffers.
      return res.Body as unknown as AsyncIterable<Uint8Array>;
    } catch (err) {
      if (err instanceof NoSuchKey || err instanceof NotFound) throw new NotFoundError(this.uriOf(key));
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const res = await s3Client().send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      if (!res.Body) throw new Error(`empty body for ${this.uriOf(key)}`);
      return await res.Body.transformToByteArray();
    } catch (err) {
      if (err instanceof NoSuchKey || err instanceof NotFound) throw new NotFoundError(this.uriOf(key));
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await s3Client().send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return true;
    } catch (err) {
      if (err instanceof NotFound || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
        return false;
      }
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const full = this.key(prefix);
    let token: string | undefined;
    do {
      const res = await s3Client().send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key) out.push(this.prefix ? o.Key.slice(this.prefix.length + 1) : o.Key);
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort();
  }

  uriOf(key: string): string {
    return `s3://${this.bucket}/${this.key(key)}`;
  }
}
