// Opens a store from its URI: `file:///abs/dir`, a plain path, or `s3://bucket/prefix`.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsStore } from './fsStore.ts';
import { S3Store } from './s3Store.ts';
import type { ObjectStore } from './store.ts';

export function openStore(uri: string): ObjectStore {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    if (!bucket) throw new Error(`store URI has no bucket: ${uri}`);
    return new S3Store(bucket, slash < 0 ? '' : rest.slice(slash + 1));
  }
  if (uri.startsWith('file://')) return new FsStore(fileURLToPath(uri));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) throw new Error(`unsupported store URI scheme: ${uri} (use file://… or s3://…)`);
  return new FsStore(resolve(uri));
}

/** Normalises a user-given store location to a URI every worker can open. */
export function storeUri(location: string): string {
  return openStore(location).uri;
}
