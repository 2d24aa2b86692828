// Where an image-text row's image lives and how its bytes are fetched: a path relative to the
// dataset file's folder (or to an explicit image root), an absolute local path, or `s3://bucket/key`
// (read through the S3 client the stores use, src/data/s3ByteSource.ts). Every failure names the
// image and the dataset row through `where`.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, posix, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { decodeImage } from '../image/decodeImage.ts';
import type { RgbImage } from '../image/rgbImage.ts';
import { isS3Uri, parseS3Uri, s3Source } from './s3ByteSource.ts';

/** The folder relative image references are resolved against: `imageRoot`, else the dataset file's folder. */
export function imageBase(datasetPath: string, imageRoot?: string): string {
  const root = imageRoot ?? (isS3Uri(datasetPath) ? datasetPath.slice(0, datasetPath.lastIndexOf('/') + 1) : dirname(resolve(datasetPath)));
  if (isS3Uri(root)) {
    parseS3Uri(root); // checks the bucket
    return root.endsWith('/') ? root : `${root}/`;
  }
  if (root.includes('://')) throw new InputError(`imageRoot ${root}: only local folders and s3:// URIs are supported`);
  return resolve(root);
}

/**
 * The absolute location of an image reference as written in a row: an s3:// URI or an absolute
 * local path. `where` names the row for errors.
 */
export function resolveImageRef(ref: string, base: string, where: string): string {
  if (ref.trim() === '') throw new InputError(`${where}: image reference is empty`);
  if (isS3Uri(ref)) return ref;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) throw new InputError(`${where}: image "${ref}": only local paths and s3:// URIs are supported`);
  if (isAbsolute(ref)) return ref;
  if (isS3Uri(base)) {
    const { bucket, key } = parseS3Uri(base);
    const joined = posix.normalize(posix.join(key, ref));
    if (joined.startsWith('../') || joined === '..') throw new InputError(`${where}: image "${ref}" points above the bucket root of ${base}`);
    return `s3://${bucket}/${joined}`;
  }
  return resolve(base, ref);
}

/** The stored bytes of an image (local file or S3 object). */
export async function readImageBytes(location: string, where: string): Promise<Uint8Array> {
  if (isS3Uri(location)) {
    const source = s3Source(location);
    try {
      const size = await source.sizeBytes();
      return await source.slice(0, size);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`${where}: cannot read image ${location} (${err.message})`);
      throw new Error(`${where}: cannot read image ${location} (${(err as Error).message})`, { cause: err });
    }
  }
  try {
    return await readFile(location);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${where}: image file not found: ${location}`);
    if (code === 'EISDIR') throw new InputError(`${where}: image ${location} is a folder, not a file`);
    if (code === 'EACCES') throw new InputError(`${where}: image ${location} is not readable (permission denied)`);
    throw err;
  }
}

/** Reads and decodes one image to upright 8-bit RGB (see src/image/decodeImage.ts). */
export async function loadImage(location: string, where: string): Promise<RgbImage> {
  return decodeImage(await readImageBytes(location, where), where);
}
