// Deterministic test images with captions, from a seed: one coloured shape (circle, square,
// triangle) or a set of stripes on a plain background, rendered into raw RGB here (so a test knows
// every pixel) and encoded with sharp. Captions use only the tiny vision-language model's words:
//   red green blue yellow white black purple orange circle square triangle stripe stripes a an the
//   on of with and background small large left right top bottom image picture shows
//
// Written to `dir`:
//   images/0000.png …                 one per fixture (the format cycles through `formats`)
//   data.jsonl                        {"image": "images/0003.png", "text": "a small red circle on a blue background"}
//   detail_23k.json / .jsonl          LLaVA conversations: {"id", "image", "conversations": [human, gpt]}
//   filter_cap.json + image/{id}.jpg  cc_sbu_align: {"annotations": [{"image_id", "caption"}]}, JPEG images
//   cc_sbu_align.jsonl                the same annotations one per line
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../metrics/prng.ts';
import { blankImage, type RgbImage } from './rgbImage.ts';
import type { ImageFormat } from './decodeImage.ts';

/** The vocabulary every caption is drawn from (the tiny VLM's word list). */
export const CAPTION_WORDS = [
  'red', 'green', 'blue', 'yellow', 'white', 'black', 'purple', 'orange',
  'circle', 'square', 'triangle', 'stripe', 'stripes',
  'a', 'an', 'the', 'on', 'of', 'with', 'and', 'background', 'small', 'large',
  'left', 'right', 'top', 'bottom', 'image', 'picture', 'shows',
] as const;

export const COLOURS = {
  red: [230, 25, 25],
  green: [20, 160, 40],
  blue: [30, 60, 220],
  yellow: [250, 220, 20],
  white: [255, 255, 255],
  black: [0, 0, 0],
  purple: [130, 40, 160],
  orange: [250, 140, 10],
} as const satisfies Record<string, readonly [number, number, number]>;
export type ColourName = keyof typeof COLOURS;
const COLOUR_NAMES = Object.keys(COLOURS) as ColourName[];

export const SHAPES = ['circle', 'square', 'triangle', 'stripes'] as const;
export type ShapeName = (typeof SHAPES)[number];
export const POSITIONS = ['left', 'right', 'top', 'bottom'] as const;
export type Position = (typeof POSITIONS)[number];

/** What one fixture image shows. Stripes fill the image; `size` and `position` apply to shapes. */
export interface ShapeScene {
  shape: ShapeName;
  colour: ColourName;
  background: ColourName;
  size: 'small' | 'large';
  /** Where the shape sits; undefined = centred. */
  position?: Position;
}

export interface ImageFixture extends ShapeScene {
  /** Path of the image relative to the fixture folder, e.g. "images/0003.png". */
  image: string;
  caption: string;
}

export interface ImageFixtureOptions {
  dir: string;
  count: number;
  seed: number;
  /** Image size in pixels (default 32×32, the tiny VLM's crop size). */
  width?: number;
  height?: number;
  /** Formats cycled over the images (default ['png']). PNG and WebP are lossless; JPEG is not. */
  formats?: ImageFormat[];
}

export interface ImageFixtureSet {
  dir: string;
  fixtures: ImageFixture[];
  /** Absolute paths of the dataset files written. */
  jsonl: string;
  llavaJson: string;
  llavaJsonl: string;
  ccSbuJson: string;
  ccSbuJsonl: string;
}

/** The human turn of every LLaVA fixture conversation (the `<image>` marker, then a prompt). */
export const LLAVA_HUMAN_PROMPT = 'the picture shows';

/** Scenes from a seed: the same seed gives the same scenes on every machine. */
export function fixtureScenes(seed: number, count: number): ShapeScene[] {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const scenes: ShapeScene[] = [];
  for (let i = 0; i < count; i++) {
    const shape = pick(SHAPES);
    const colour = pick(COLOUR_NAMES);
    const background = pick(COLOUR_NAMES.filter((c) => c !== colour));
    const size = random() < 0.5 ? 'small' : 'large';
    const position = shape !== 'stripes' && size === 'small' && random() < 0.5 ? pick(POSITIONS) : undefined;
    scenes.push({ shape, colour, background, size, ...(position ? { position } : {}) });
  }
  return scenes;
}

/** A caption of the scene; `variant` picks one of three phrasings. */
export function caption(scene: ShapeScene, variant = 0): string {
  const { shape, colour, background, size, position } = scene;
  const thing = shape === 'stripes' ? `${colour} stripes` : `${size === 'small' ? 'a small' : 'a large'} ${colour} ${shape}`;
  const where = position ? ` on the ${position} of` : ' on';
  switch (variant % 3) {
    case 0:
      return `${thing}${where} ${article(background)} ${background} background`;
    case 1:
      return `the image shows ${thing}${where} ${article(background)} ${background} background`;
    default:
      return `a picture of ${thing} with ${article(background)} ${background} background`;
  }
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}

/** Renders the scene into a raw RGB image (hard edges: every pixel is the shape's or the background's colour). */
export function renderScene(scene: ShapeScene, width = 32, height = 32): RgbImage {
  const image = blankImage(width, height);
  const fg = COLOURS[scene.colour];
  const bg = COLOURS[scene.background];
  const m = Math.min(width, height);
  const radius = (scene.size === 'small' ? 0.2 : 0.38) * m;
  // Centre of the shape, in pixel coordinates (pixel (x, y) has its centre at x + ½, y + ½).
  let cx = width / 2;
  let cy = height / 2;
  const off = 0.25 * m;
  if (scene.position === 'left') cx -= off;
  if (scene.position === 'right') cx += off;
  if (scene.position === 'top') cy -= off;
  if (scene.position === 'bottom') cy += off;
  const stripe = Math.max(1, Math.round(m / 8));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5 - cx;
      const py = y + 0.5 - cy;
      let inside: boolean;
      switch (scene.shape) {
        case 'circle':
          inside = px * px + py * py <= radius * radius;
          break;
        case 'square':
          inside = Math.abs(px) <= radius && Math.abs(py) <= radius;
          break;
        case 'triangle':
          // Apex up at (0, −r), base from (−r, r) to (r, r): |px| ≤ (py + r)/2.
          inside = py <= radius && Math.abs(px) <= (py + radius) / 2;
          break;
        case 'stripes':
          inside = Math.floor(x / stripe) % 2 === 0;
          break;
      }
      const c = inside ? fg : bg;
      const i = (y * width + x) * 3;
      image.data[i] = c[0];
      image.data[i + 1] = c[1];
      image.data[i + 2] = c[2];
    }
  }
  return image;
}

/** Encodes a raw RGB image; PNG and WebP losslessly, JPEG at quality 95 without chroma subsampling. */
export async function encodeImage(image: RgbImage, format: ImageFormat): Promise<Buffer> {
  const s = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  switch (format) {
    case 'png':
      return s.png().toBuffer();
    case 'jpeg':
      return s.jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'webp':
      return s.webp({ lossless: true }).toBuffer();
  }
}

const EXTENSION: Record<ImageFormat, string> = { png: 'png', jpeg: 'jpg', webp: 'webp' };

/** Writes `count` images and the image-text dataset files listed in the header. */
export async function writeImageTextFixtures(options: ImageFixtureOptions): Promise<ImageFixtureSet> {
  const { dir, count, seed, width = 32, height = 32, formats = ['png'] } = options;
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`fixture count must be a positive integer, got ${count}`);
  await mkdir(join(dir, 'images'), { recursive: true });
  await mkdir(join(dir, 'image'), { recursive: true });
  const fixtures: ImageFixture[] = [];
  const scenes = fixtureScenes(seed, count);
  for (const [i, scene] of scenes.entries()) {
    const format = formats[i % formats.length];
    const image = `images/${String(i).padStart(4, '0')}.${EXTENSION[format]}`;
    const pixels = renderScene(scene, width, height);
    await writeFile(join(dir, image), await encodeImage(pixels, format));
    // cc_sbu_align keeps JPEGs named by image_id.
    await writeFile(join(dir, 'image', `${i}.jpg`), await encodeImage(pixels, 'jpeg'));
    fixtures.push({ ...scene, image, caption: caption(scene, i) });
  }
  const lines = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const plain = fixtures.map((f) => ({ image: f.image, text: f.caption }));
  const llava = fixtures.map((f, i) => ({
    id: String(i).padStart(12, '0'),
    image: f.image,
    conversations: [
      { from: 'human', value: i % 2 === 0 ? `<image>\n${LLAVA_HUMAN_PROMPT}` : `${LLAVA_HUMAN_PROMPT}\n<image>` },
      { from: 'gpt', value: f.caption },
    ],
  }));
  const annotations = fixtures.map((f, i) => ({ image_id: String(i), caption: f.caption }));
  const set: ImageFixtureSet = {
    dir,
    fixtures,
    jsonl: join(dir, 'data.jsonl'),
    llavaJson: join(dir, 'detail_23k.json'),
    llavaJsonl: join(dir, 'detail_23k.jsonl'),
    ccSbuJson: join(dir, 'filter_cap.json'),
    ccSbuJsonl: join(dir, 'cc_sbu_align.jsonl'),
  };
  await writeFile(set.jsonl, lines(plain));
  await writeFile(set.llavaJson, JSON.stringify(llava, null, 1));
  await writeFile(set.llavaJsonl, lines(llava));
  await writeFile(set.ccSbuJson, JSON.stringify({ annotations }));
  await writeFile(set.ccSbuJsonl, lines(annotations));
  return set;
}
