// Image bytes → 8-bit RGB, with sharp (libvips). PNG, JPEG and WebP are accepted; anything else,
// and any unreadable, truncated or empty image, is an InputError naming the image (and the dataset
// row, through the caller's `where`).
//
// The result matches what Hugging Face's `transformers.image_utils.load_image` hands an image
// processor — `ImageOps.exif_transpose(img).convert("RGB")`, the same `Image.open(…).convert('RGB')`
// LLaVA's training code uses:
// - EXIF orientation is applied (the pixels are turned upright, the tag is dropped);
// - alpha is DROPPED, not composited: PIL's convert("RGB") keeps the colour channels of a
//   transparent pixel as they are, and so do we;
// - grayscale (with or without alpha) becomes RGB by repeating the gray value in R, G and B;
// - 16-bit images are reduced to 8 bits per channel (libvips scales by 255/65535; PIL's handling
//   of 16-bit modes differs, so such images are not bit-exact with PIL);
// - only the first frame of an animated WebP is read.
import sharp from 'sharp';
import { InputError } from '../errors.ts';
import type { RgbImage } from './rgbImage.ts';

export const IMAGE_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** The format told by the file's magic bytes, or undefined when it is none of PNG, JPEG, WebP. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  return undefined;
}

/**
 * Decodes an image. `where` names it in errors, e.g. `data.jsonl line 12, image "img/3.png"`.
 * Pixels are upright RGB (see the header for orientation, alpha and grayscale).
 */
export async function decodeImage(bytes: Uint8Array, where: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new InputError(`${where}: image is empty (0 bytes)`);
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    throw new InputError(`${where}: not a PNG, JPEG or WebP image (unrecognised leading bytes ${hexHead(bytes)})`);
  }
  try {
    // failOn 'warning' (sharp's default, made explicit): a truncated or corrupt image is an error,
    // never a silently half-grey picture.
    const { data, info } = await sharp(bytes, { failOn: 'warning', autoOrient: true })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoder produced ${info.channels} channels, expected 3`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (err) {
    throw new InputError(`${where}: cannot decode ${format.toUpperCase()} image (${oneLine((err as Error).message)})`);
  }
}

function hexHead(bytes: Uint8Array): string {
  return [...bytes.subarray(0, 8)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
}

function oneLine(message: string): string {
  return message.replace(/\s+/g, ' ').trim();
}
