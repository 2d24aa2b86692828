// Object store: the one place results live. Keys are '/'-separated paths relative to the store
// root; every write is atomic (a reader never sees half a file), so "exists" means "complete".
// The streamed pair (getStream / putStream) keeps that promise for objects too big to hold in
// memory: a putStream whose body fails leaves nothing under the key.

export interface ObjectStore {
  /** The URI this store was opened from (`file:///…` or `s3://bucket/prefix`). */
  readonly uri: string;
  /** Writes the whole object atomically (temp + rename, or a single PUT). */
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** Reads the whole object; throws `NotFoundError` if absent. */
  get(key: string): Promise<Uint8Array>;
  /** Opens the object as a byte stream; throws `NotFoundError` (at open, not mid-way) if absent. */
  getStream(key: string): Promise<AsyncIterable<Uint8Array>>;
  /**
   * Writes `body` as it is produced, atomically: the object appears under `key` only once the body
   * has ended without error (temp + rename, or a multipart upload completed only on success and
   * aborted on failure). An error from `body` is rethrown after the partial write is discarded.
   */
  putStream(key: string, body: AsyncIterable<Uint8Array>): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** A full URI for a key, for provenance and messages. */
  uriOf(key: string): string;
}

export class NotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`not found in store: ${uri}`);
    this.name = 'NotFoundError';
  }
}

export async function putJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.put(key, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n'));
}

export async function getJson<T>(store: ObjectStore, key: string): Promise<T> {
  return JSON.parse(new TextDecoder().decode(await store.get(key))) as T;
}
