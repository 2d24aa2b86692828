// Models in object storage: `s3://bucket/prefix/` (a folder with one .onnx — `model.onnx` when there
// are several — and its tokenizer JSON) or `s3://bucket/prefix/name.onnx` (tokenizer.json or
// name-tokenizer.json beside it), downloaded once into
//
//   $ENTROSCOPE_CACHE/models-s3/<sha256 of the URI + the objects' versions>/
//
// and then read from there like any local model folder. The folder appears atomically (downloaded
// into a temp folder beside it, then renamed), so a crash or a concurrent fetch never leaves half a
// model under the final name; two processes fetching at once both succeed and one copy wins.
//
// An object's version is its ETag when the store can tell it without downloading (a store with a
// `stat(key)` method): then a second fetch of an unchanged model downloads nothing. A store without
// `stat` is read in full each time and keyed by the sha256 of the bytes: the cache then saves the
// disk copy and the tapped-graph caches keyed by model hash, not the transfer.
// Files an .onnx keeps its weights in (external data, for models over 2 GB) are fetched beside it.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { openStore } from '../store/openStore.ts';
import { NotFoundError, type ObjectStore } from '../store/store.ts';
import { resolveModelFiles, type ModelFiles } from './modelRef.ts';
import { readModel } from './onnxProto.ts';
import { externalFilesOf } from './externalData.ts';
import { cacheRoot } from './onnxTaps.ts';

/** A store that can tell an object's version (ETag) without reading it. */
export interface VersionedStore extends ObjectStore {
  stat(key: string): Promise<{ etag?: string; bytes?: number } | undefined>;
}

export interface FetchOptions {
  /** Cache root; default `$ENTROSCOPE_CACHE`. */
  cacheDir?: string;
  /** The store holding the model's folder (default: `openStore` of the location's folder). */
  store?: ObjectStore;
}

export interface FetchedModel {
  files: ModelFiles;
  /** The local folder holding the model. */
  dir: string;
  /** The folder was already there: nothing was written. */
  cacheHit: boolean;
  /** Bytes read from the store by this call. */
  downloadedBytes: number;
}

/** Local paths of a model: `s3://…` locations are fetched into the cache; local ones pass through. */
export async function localModelFiles(location: string, opts: FetchOptions = {}): Promise<ModelFiles> {
  if (!location.startsWith('s3://')) return resolveModelFiles(location);
  return (await fetchModel(location, opts)).files;
}

/** Fetches an `s3://` model (see the file comment) and says whether the cache already had it. */
export async function fetchModel(location: string, opts: FetchOptions = {}): Promise<FetchedModel> {
  const isFile = location.endsWith('.onnx');
  const trimmed = location.replace(/\/+$/, '');
  const folderUri = isFile ? trimmed.slice(0, trimmed.lastIndexOf('/')) : trimmed;
  if (!/^s3:\/\/[^/]+/.test(folderUri)) throw new InputError(`model location ${location} has no bucket (use s3://bucket/prefix/)`);
  const store = opts.store ?? openStore(folderUri);
  const names = (await store.list('')).filter((k) => !k.includes('/'));
  const onnx = isFile ? basename(trimmed) : pickOnnx(names, location);
  if (!names.includes(onnx)) throw new InputError(`model not found: ${store.uriOf(onnx)}`);
  const tokenizerCandidates = ['tokenizer.json', `${basename(onnx, '.onnx')}-tokenizer.json`];
  const tokenizer = tokenizerCandidates.find((c) => names.includes(c));
  if (!tokenizer) {
    throw new InputError(`no tokenizer JSON beside the model in ${folderUri}/ (looked for ${tokenizerCandidates.join(', ')})`);
  }
  const name = isFile ? basename(onnx, '.onnx') : basename(folderUri.slice('s3://'.length)) || basename(onnx, '.onnx');
  const root = join(opts.cacheDir ?? cacheRoot(), 'models-s3');
  // Other top-level objects may be the .onnx's external data: they enter the version key, so a
  // changed weight file is a new cache entry even when the graph file is unchanged.
  const others = names.filter((n) => n !== onnx && n !== tokenizer && !n.endsWith('.onnx'));
  const keyed = [onnx, tokenizer, ...others];
  const versions = await etags(store, keyed);

  const finish = (dir: string, cacheHit: boolean, downloadedBytes: number): FetchedModel => {
    const files = resolveModelFiles(join(dir, onnx));
    return { files: { ...files, name, tokenizerPath: join(dir, tokenizer) }, dir, cacheHit, downloadedBytes };
  };
  if (versions) {
    const dir = join(root, versionKey(store.uriOf(onnx), keyed, versions));
    if (existsSync(dir)) return finish(dir, true, 0);
  }

  mkdirSync(root, { recursive: true });
  const tmp = join(root, `.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  mkdirSync(tmp);
  try {
    let downloadedBytes = 0;
    const contentHashes = new Map<string, string>();
    // Streamed to disk (data files are gigabytes), hashed on the way.
    const download = async (key: string, what = 'model file') => {
      let body: AsyncIterable<Uint8Array>;
      try {
        body = await store.getStream(key);
      } catch (err) {
        if (err instanceof NotFoundError) throw new InputError(`${what} ${store.uriOf(key)} is missing (${store.uriOf(onnx)} references it)`);
        throw err;
      }
      const hash = createHash('sha256');
      mkdirSync(dirname(join(tmp, key)), { recursive: true });
      const out = createWriteStream(join(tmp, key));
      await pipeline(
        (async function* () {
          for await (const chunk of body) {
            downloadedBytes += chunk.length;
            hash.update(chunk);
            yield chunk;
          }
        })(),
        out,
      );
      contentHashes.set(key, hash.digest('hex'));
    };
    await download(onnx);
    await download(tokenizer);
    // A small graph is always read (its data files may be missing from the store: say so now);
    // a large one only when other objects beside it may be its data.
    const small = statSync(join(tmp, onnx)).size < 256 * 2 ** 20;
    const external = others.length > 0 || small ? externalFilesOf(readModel(join(tmp, onnx))) : [];
    for (const f of external) {
      if (f.split('/').includes('..')) throw new InputError(`model ${store.uriOf(onnx)} keeps weights outside its folder: ${f}`);
      await download(f, 'external data file');
    }
    const key = versions ?? keyed.map((k) => contentHashes.get(k) ?? 'absent');
    const dir = join(root, versionKey(store.uriOf(onnx), keyed, key));
    if (existsSync(dir)) {
      rmSync(tmp, { recursive: true, force: true });
      return finish(dir, true, downloadedBytes);
    }
    try {
      renameSync(tmp, dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(dir)) throw err;
      rmSync(tmp, { recursive: true, force: true }); // another process finished the same model first
    }
    return finish(dir, false, downloadedBytes);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

function pickOnnx(names: string[], location: string): string {
  const onnx = names.filter((n) => n.endsWith('.onnx')).sort();
  if (onnx.length === 0) throw new InputError(`model folder has no .onnx file: ${location}`);
  return onnx.includes('model.onnx') ? 'model.onnx' : onnx[0];
}

/** Each key's ETag, or undefined when the store cannot tell versions without reading. */
async function etags(store: ObjectStore, keys: string[]): Promise<string[] | undefined> {
  const stat = (store as Partial<VersionedStore>).stat;
  if (typeof stat !== 'function') return undefined;
  const out: string[] = [];
  for (const k of keys) {
    const s = await stat.call(store, k);
    if (!s?.etag) return undefined;
    out.push(`etag:${s.etag}`);
  }
  return out;
}

function versionKey(onnxUri: string, keys: string[], versions: string[]): string {
  return createHash('sha256').update(JSON.stringify([onnxUri, keys, versions])).digest('hex');
}
