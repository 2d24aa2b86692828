// preprocessor_config.json → pixel_values, as Hugging Face's CLIPImageProcessor (the processor
// LLaVA-style models ship) computes them for one image:
//
//   resize   shortest edge → size.shortest_edge, other edge int(s·long/short) (HF
//            get_resize_output_image_size, default_to_square=False); or exactly size.{height,width}
//   crop     center crop to crop_size: top = ⌊(H − h)/2⌋, left = ⌊(W − w)/2⌋; an image smaller than
//            the crop is first zero-padded, placed at ⌈(h − H)/2⌉, ⌈(w − W)/2⌉ (HF center_crop)
//   rescale  x = float32(u8 · rescale_factor)
//   normalise y = float32(float32(x − mean_c) / std_c)        (float32 arithmetic, as numpy does it)
//   layout   CHW: y[c·h·w + i·w + j]
//
// Resizing is Pillow's algorithm transcribed (pilResample.ts), not sharp's: HF resizes with PIL and
// libvips differs from it by up to 100+ levels when enlarging (see pilResample.ts). So every step is
// exact and the pixels match HF's to float32 rounding.
import { z } from 'zod';
import { InputError } from '../errors.ts';
import { assertRgb, type RgbImage } from './rgbImage.ts';
import { isSupportedResample, pilResize } from './pilResample.ts';

/** OpenAI CLIP's channel statistics, CLIPImageProcessor's defaults. */
export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Processor types whose preprocessing this file reproduces (the feature extractor is its old name). */
export const SUPPORTED_PROCESSORS = ['CLIPImageProcessor', 'CLIPFeatureExtractor'] as const;

const positiveInt = z.number().int().positive();
const triple = z.tuple([z.number(), z.number(), z.number()]);

// HF accepts an int for size (→ shortest edge) and for crop_size (→ square), from old configs.
// CLIPImageProcessor.resize checks "shortest_edge" first, then "height" and "width".
type ResizeTarget = { shortestEdge: number } | { height: number; width: number };
const SizeSchema = z.union([
  positiveInt.transform((n): ResizeTarget => ({ shortestEdge: n })),
  z.looseObject({ shortest_edge: positiveInt }).transform((s): ResizeTarget => ({ shortestEdge: s.shortest_edge })),
  z.looseObject({ height: positiveInt, width: positiveInt }).transform((s): ResizeTarget => ({ height: s.height, width: s.width })),
]);
const CropSchema = z.union([positiveInt.transform((n) => ({ height: n, width: n })), z.looseObject({ height: positiveInt, width: positiveInt })]);

const PreprocessorSchema = z.looseObject({
  image_processor_type: z.string().optional(),
  feature_extractor_type: z.string().optional(),
  do_resize: z.boolean().default(true),
  size: SizeSchema.default({ shortestEdge: 224 }),
  resample: z.number().int().default(3),
  do_center_crop: z.boolean().default(true),
  crop_size: CropSchema.default({ height: 224, width: 224 }),
  do_rescale: z.boolean().default(true),
  rescale_factor: z.number().positive().default(1 / 255),
  do_normalize: z.boolean().default(true),
  image_mean: z.union([z.number(), triple]).default([...OPENAI_CLIP_MEAN]),
  image_std: z.union([z.number(), triple]).default([...OPENAI_CLIP_STD]),
  do_convert_rgb: z.boolean().default(true),
});

/** A checked preprocessor config (HF field names, CLIPImageProcessor defaults filled in). */
export interface ImagePreprocessor {
  processorType: string;
  /** Resize target: shortest edge, or an exact size; undefined when do_resize is false. */
  resize?: ResizeTarget;
  /** PIL resampling filter number (3 = bicubic). */
  resample: number;
  /** Center crop size; undefined when do_center_crop is false. */
  crop?: { height: number; width: number };
  /** Undefined when do_rescale is false. */
  rescaleFactor?: number;
  /** Per channel (R, G, B); undefined when do_normalize is false. */
  mean?: [number, number, number];
  std?: [number, number, number];
}

/** Parses preprocessor_config.json text; `file` names it in errors. */
export function parsePreprocessorConfig(json: string, file: string): ImagePreprocessor {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new InputError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  return preprocessorFromConfig(raw, file);
}

/** Checks a parsed preprocessor_config.json object. */
export function preprocessorFromConfig(raw: unknown, file: string): ImagePreprocessor {
  const result = PreprocessorSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new InputError(`${file}: invalid preprocessor config\n${lines.join('\n')}`);
  }
  const c = result.data;
  const processorType = c.image_processor_type ?? c.feature_extractor_type;
  if (processorType === undefined || !(SUPPORTED_PROCESSORS as readonly string[]).includes(processorType)) {
    throw new InputError(
      `${file}: image_processor_type ${processorType === undefined ? 'is missing' : `"${processorType}" is not supported`}; supported: ${SUPPORTED_PROCESSORS.join(', ')}`,
    );
  }
  if (!c.do_convert_rgb) {
    throw new InputError(`${file}: do_convert_rgb false is not supported (images are always decoded to RGB)`);
  }
  if (c.do_resize && !isSupportedResample(c.resample)) {
    throw new InputError(`${file}: resample ${c.resample} is not a PIL filter; use 0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC, 4 BOX or 5 HAMMING`);
  }
  const perChannel = (v: number | [number, number, number]): [number, number, number] => (typeof v === 'number' ? [v, v, v] : v);
  const std = perChannel(c.image_std);
  if (c.do_normalize && std.some((s) => !(s > 0))) throw new InputError(`${file}: image_std must be positive, got [${std.join(', ')}]`);
  return {
    processorType,
    ...(c.do_resize ? { resize: c.size } : {}),
    resample: c.resample,
    ...(c.do_center_crop ? { crop: { height: c.crop_size.height, width: c.crop_size.width } } : {}),
    ...(c.do_rescale ? { rescaleFactor: c.rescale_factor } : {}),
    ...(c.do_normalize ? { mean: perChannel(c.image_mean), std } : {}),
  };
}

/**
 * HF get_resize_output_image_size(default_to_square=False): the short edge becomes `shortest`, the
 * long edge int(shortest · long / short) (truncated, not rounded).
 */
export function shortestEdgeSize(width: number, height: number, shortest: number): { width: number; height: number } {
  const [short, long] = width <= height ? [width, height] : [height, width];
  const newLong = Math.trunc((shortest * long) / short);
  return width <= height ? { width: shortest, height: newLong } : { width: newLong, height: shortest };
}

/** The size after the resize step. */
export function resizedSize(pre: ImagePreprocessor, width: number, height: number): { width: number; height: number } {
  if (!pre.resize) return { width, height };
  return 'shortestEdge' in pre.resize ? shortestEdgeSize(width, height, pre.resize.shortestEdge) : { ...pre.resize };
}

/** HF center_crop on an 8-bit image: crop at the centre, zero-padding an image smaller than the crop. */
export function centerCrop(image: RgbImage, cropWidth: number, cropHeight: number): RgbImage {
  assertRgb(image);
  const { width: W, height: H } = image;
  if (W === cropWidth && H === cropHeight) return image;
  // Offsets of the crop window in the (padded) image; the image sits at (padLeft, padTop) in it.
  const padTop = Math.max(0, Math.ceil((cropHeight - H) / 2));
  const padLeft = Math.max(0, Math.ceil((cropWidth - W) / 2));
  const top = Math.floor((H - cropHeight) / 2) + padTop;
  const left = Math.floor((W - cropWidth) / 2) + padLeft;
  const out = new Uint8Array(cropWidth * cropHeight * 3);
  for (let i = 0; i < cropHeight; i++) {
    const y = top + i - padTop; // row in the original image
    if (y < 0 || y >= H) continue;
    for (let j = 0; j < cropWidth; j++) {
      const x = left + j - padLeft;
      if (x < 0 || x >= W) continue;
      const src = (y * W + x) * 3;
      const dst = (i * cropWidth + j) * 3;
      out[dst] = image.data[src];
      out[dst + 1] = image.data[src + 1];
      out[dst + 2] = image.data[src + 2];
    }
  }
  return { width: cropWidth, height: cropHeight, data: out };
}

/** pixel_values of one image: Float32Array CHW of 3·height·width, with its height and width. */
export interface PixelValues {
  pixels: Float32Array;
  height: number;
  width: number;
}

/** Rescale, normalise and lay out CHW, in float32 as numpy does it (see the header). */
export function normalizeToChw(image: RgbImage, pre: Pick<ImagePreprocessor, 'rescaleFactor' | 'mean' | 'std'>): PixelValues {
  assertRgb(image);
  const { width, height, data } = image;
  const plane = width * height;
  const pixels = new Float32Array(3 * plane);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const mean = pre.mean ? f(pre.mean[c]) : 0;
    const std = pre.std ? f(pre.std[c]) : 1;
    for (let p = 0; p < plane; p++) {
      // numpy: astype(float64) · factor → astype(float32); then (x − mean) / std in float32.
      const x = pre.rescaleFactor === undefined ? data[p * 3 + c] : f(data[p * 3 + c] * pre.rescaleFactor);
      pixels[c * plane + p] = pre.mean ? f(f(x - mean) / std) : x;
    }
  }
  return { pixels, height, width };
}

/** The whole CLIPImageProcessor pipeline for one decoded image. */
export function preprocessImage(image: RgbImage, pre: ImagePreprocessor): PixelValues {
  const size = resizedSize(pre, image.width, image.height);
  let out = pilResize(image, size.width, size.height, pre.resample);
  if (pre.crop) out = centerCrop(out, pre.crop.width, pre.crop.height);
  return normalizeToChw(out, pre);
}
