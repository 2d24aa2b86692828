// Perturbations of a decoded image, applied before preprocessing, to test alignment claims: the
// paper rotates images and sees imageTextAlignment fall. All are exact integer maps or use a seeded
// PRNG, so a numpy oracle reproduces them bit for bit:
//
//   rotate90   90° clockwise: out(x', y') = in(y', H − 1 − x'), size H×W      (np.rot90(img, k=−1))
//   rotate180  out(x, y) = in(W − 1 − x, H − 1 − y)                           (np.rot90(img, k=2))
//   grayscale  ITU-R BT.601 luma Y = ⌊0.299·R + 0.587·G + 0.114·B + ½⌋, in R, G and B
//   noise      v' = clip(⌊v + σ·z + ½⌋, 0, 255), z ~ N(0, 1) i.i.d. per byte in HWC order, from
//              mulberry32(seed) by Box–Muller: u1, u2 ~ U[0,1), r = √(−2·ln(1 − u1)),
//              z₂ₖ = r·cos(2π·u2), z₂ₖ₊₁ = r·sin(2π·u2)
import { InputError } from '../errors.ts';
import { mulberry32 } from '../metrics/prng.ts';
import { assertRgb, type RgbImage } from './rgbImage.ts';

export const IMAGE_TRANSFORMS = ['rotate90', 'rotate180', 'grayscale', 'noise'] as const;
export type ImageTransformName = (typeof IMAGE_TRANSFORMS)[number];

/** Default noise standard deviation, on the 0–255 scale. */
export const DEFAULT_NOISE_SIGMA = 25;

export interface ImageTransformOptions {
  /** noise: standard deviation on the 0–255 scale (default 25). */
  sigma?: number;
  /** noise: PRNG seed (default 0). Give each image its own, e.g. a base seed plus the row. */
  seed?: number;
}

/** Checks a transform name from a CLI flag or spec. */
export function parseImageTransform(name: string): ImageTransformName {
  if (!(IMAGE_TRANSFORMS as readonly string[]).includes(name)) {
    throw new InputError(`image transform "${name}" is not one of ${IMAGE_TRANSFORMS.join(', ')}`);
  }
  return name as ImageTransformName;
}

/** Applies one perturbation; the input is not modified. */
export function transformImage(image: RgbImage, name: ImageTransformName, options: ImageTransformOptions = {}): RgbImage {
  switch (name) {
    case 'rotate90':
      return rotate90(image);
    case 'rotate180':
      return rotate180(image);
    case 'grayscale':
      return grayscale(image);
    case 'noise':
      return gaussianNoise(image, options.sigma ?? DEFAULT_NOISE_SIGMA, options.seed ?? 0);
  }
}

/** 90° clockwise: the left column becomes the top row. */
export function rotate90(image: RgbImage): RgbImage {
  assertRgb(image);
  const { width: W, height: H, data } = image;
  const out = new Uint8Array(data.length);
  // Output is H wide and W high; output pixel (x', y') shows input pixel (y', H − 1 − x').
  for (let y2 = 0; y2 < W; y2++) {
    for (let x2 = 0; x2 < H; x2++) {
      const src = ((H - 1 - x2) * W + y2) * 3;
      const dst = (y2 * H + x2) * 3;
      out[dst] = data[src];
      out[dst + 1] = data[src + 1];
      out[dst + 2] = data[src + 2];
    }
  }
  return { width: H, height: W, data: out };
}

/** 180°: pixel order reversed. */
export function rotate180(image: RgbImage): RgbImage {
  assertRgb(image);
  const { data } = image;
  const n = image.width * image.height;
  const out = new Uint8Array(data.length);
  for (let p = 0; p < n; p++) {
    const src = (n - 1 - p) * 3;
    out[p * 3] = data[src];
    out[p * 3 + 1] = data[src + 1];
    out[p * 3 + 2] = data[src + 2];
  }
  return { width: image.width, height: image.height, data: out };
}

/** BT.601 luma, rounded half up, replicated into the three channels. */
export function grayscale(image: RgbImage): RgbImage {
  assertRgb(image);
  const { data } = image;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 3) {
    const y = Math.floor(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2] + 0.5);
    out[i] = out[i + 1] = out[i + 2] = y;
  }
  return { width: image.width, height: image.height, data: out };
}

/** Additive Gaussian noise of standard deviation `sigma` (0–255 scale), clipped and rounded. */
export function gaussianNoise(image: RgbImage, sigma: number, seed: number): RgbImage {
  assertRgb(image);
  if (!(Number.isFinite(sigma) && sigma >= 0)) throw new InputError(`noise sigma must be a non-negative number, got ${sigma}`);
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new InputError(`noise seed must be an integer in [0, 2^32), got ${seed}`);
  const random = mulberry32(seed);
  const { data } = image;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random()));
    const theta = 2 * Math.PI * random();
    out[i] = noisy(data[i], sigma * r * Math.cos(theta));
    if (i + 1 < data.length) out[i + 1] = noisy(data[i + 1], sigma * r * Math.sin(theta));
  }
  return { width: image.width, height: image.height, data: out };
}

function noisy(value: number, noise: number): number {
  return Math.min(255, Math.max(0, Math.floor(value + noise + 0.5)));
}
