// Where an image-text row's image lives and how its bytes are fetched: a path relative to the
// dataset file's folder (or to an explicit image root) and inside it; with the user's leave, also
// an absolute local path or `s3://bucket/key` anywhere (read through the S3 client the stores use,
// src/data/s3ByteSource.ts). Every failure names the image and the dataset row through `where`.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, posix, relative, resolve, sep } from 'node:path';
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
 * local path. A row comes from the dataset, which may come from anyone, so its image must stay
 * inside `base` (the dataset's folder or the image root): `../../etc/passwd`, `/home/me/.ssh/…` or
 * another bucket's `s3://…` are refused unless `allowOutside` (the user's `--allow-absolute-images`).
 * `where` names the row for errors.
 */
export function resolveImageRef(ref: string, base: string, where: string, allowOutside = false): string {
  if (ref.trim() === '') throw new InputError(`${where}: image reference is empty`);
  let location: string;
  if (isS3Uri(ref)) location = ref;
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) throw new InputError(`${where}: image "${ref}": only local paths and s3:// URIs are supported`);
  else if (isAbsolute(ref)) location = resolve(ref);
  else if (isS3Uri(base)) {
    const { bucket, key } = parseS3Uri(base);
    const joined = posix.normalize(posix.join(key, ref));
    if (joined.startsWith('../') || joined === '..') throw new InputError(`${where}: image "${ref}" points above the bucket root of ${base}`);
    location = `s3://${bucket}/${joined}`;
  } else location = resolve(base, ref);
  if (!allowOutside && !isInside(location, base)) {
    throw new InputError(
      `${where}: image "${ref}" is outside ${base} (the dataset's folder or --image-root); ` +
        'give --allow-absolute-images (allowAbsoluteImages: true in a spec) to read images from elsewhere',
    );
  }
  return location;
}

/** Whether a resolved image location lies under `base` (a folder, or an s3:// prefix ending in '/'). */
function isInside(location: string, base: string): boolean {
  if (isS3Uri(base) !== isS3Uri(location)) return false;
  if (isS3Uri(base)) {
    const b = parseS3Uri(base);
    const l = parseS3Uri(location);
    // S3 keys are literal, so a `..` segment is not "up"; it is refused rather than interpreted.
    return l.bucket === b.bucket && l.key.startsWith(b.key) && !l.key.split('/').includes('..');
  }
  const rel = relative(base, location);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
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
