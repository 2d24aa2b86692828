// Images: decoding (PNG/JPEG/WebP, orientation, alpha, grayscale, broken files), the perturbations,
// and CLIPImageProcessor preprocessing — each checked against test/oracle/image_oracle.py, which
// does the same with Pillow and numpy (what Hugging Face's processor runs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { InputError } from '../../src/errors.ts';
import { decodeImage } from '../../src/image/decodeImage.ts';
import { encodeImage, renderScene, fixtureScenes, caption, CAPTION_WORDS } from '../fixtures/imageFixtures.ts';
import { gaussianNoise, grayscale, parseImageTransform, rotate180, rotate90, transformImage } from '../../src/image/transforms.ts';
import { centerCrop, parsePreprocessorConfig, preprocessImage, preprocessorFromConfig, shortestEdgeSize, type PixelValues } from '../../src/image/preprocess.ts';
import type { RgbImage } from '../../src/image/rgbImage.ts';
import { runOracle } from '../helpers/services.ts';

const ORACLE = 'test/oracle/image_oracle.py';
const TINY_CONFIG = {
  image_processor_type: 'CLIPImageProcessor',
  do_resize: true,
  size: { shortest_edge: 32 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 32, width: 32 },
  do_rescale: true,
  rescale_factor: 0.00392156862745098,
  do_normalize: true,
  image_mean: [0.48145466, 0.4578275, 0.40821073],
  image_std: [0.26862954, 0.26130258, 0.27577711],
  do_convert_rgb: true,
};

interface OracleImage {
  width: number;
  height: number;
  data: number[];
}
interface OraclePixels {
  shape: number[];
  pixels: number[];
  resized: number[];
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-images-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function img(width: number, height: number, pixels: number[][]): RgbImage {
  return { width, height, data: Uint8Array.from(pixels.flat()) };
}

/** A scene with noise on top, so every pixel differs from its neighbours (the hard case for resizing). */
function busyImage(width: number, height: number, seed: number): RgbImage {
  const scene = fixtureScenes(seed, 1)[0];
  return gaussianNoise(renderScene(scene, width, height), 50, seed);
}

async function writeImage(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function rejectsInput(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('PNG and lossless WebP decode to exactly the rendered pixels, as Pillow decodes them', async () => {
  const raw = busyImage(23, 17, 3);
  const paths: string[] = [];
  for (const format of ['png', 'webp'] as const) {
    const bytes = await encodeImage(raw, format);
    const decoded = await decodeImage(bytes, `${format} fixture`);
    assert.deepEqual([decoded.width, decoded.height], [23, 17]);
    assert.deepEqual(decoded.data, raw.data, format);
    paths.push(await writeImage(`exact.${format}`, bytes));
  }
  const { results } = await runOracle<{ results: OracleImage[] }>(ORACLE, { cases: paths.map((path) => ({ op: 'decode', path })) });
  for (const r of results) assert.deepEqual(Uint8Array.from(r.data), raw.data);
});

test('JPEG decodes close to the source and within one level of Pillow', async () => {
  const raw = renderScene({ shape: 'circle', colour: 'orange', background: 'blue', size: 'large' }, 40, 30);
  const bytes = await encodeImage(raw, 'jpeg');
  const decoded = await decodeImage(bytes, 'jpeg fixture');
  assert.deepEqual([decoded.width, decoded.height], [40, 30]);
  const path = await writeImage('scene.jpg', bytes);
  const { results } = await runOracle<{ results: OracleImage[] }>(ORACLE, { cases: [{ op: 'decode', path }] });
  // Both libraries use libjpeg(-turbo)-derived IDCTs; they may round differently by one level.
  assert.ok(maxAbsDiff(decoded.data, results[0].data) <= 1, `sharp vs Pillow: ${maxAbsDiff(decoded.data, results[0].data)}`);
  let sum = 0;
  for (let i = 0; i < raw.data.length; i++) sum += Math.abs(raw.data[i] - decoded.data[i]);
  assert.ok(sum / raw.data.length < 4, `mean JPEG error ${sum / raw.data.length} levels`);
});

test('grayscale becomes RGB with equal channels and alpha is dropped, as PIL convert("RGB")', async () => {
  const gray = Uint8Array.from({ length: 6 * 5 }, (_, i) => (i * 37) % 256);
  const grayPng = await sharp(gray, { raw: { width: 6, height: 5, channels: 1 } }).png().toBuffer();
  // RGBA with transparent pixels whose colour must survive (PIL keeps it; compositing would not).
  const rgba = Uint8Array.from({ length: 4 * 3 * 4 }, (_, i) => (i % 4 === 3 ? (i % 8 === 3 ? 0 : 128) : (i * 29) % 256));
  const rgbaPng = await sharp(rgba, { raw: { width: 4, height: 3, channels: 4 } }).png().toBuffer();

  const g = await decodeImage(grayPng, 'gray.png');
  for (let p = 0; p < 30; p++) assert.deepEqual([...g.data.subarray(p * 3, p * 3 + 3)], [gray[p], gray[p], gray[p]]);
  const a = await decodeImage(rgbaPng, 'rgba.png');
  for (let p = 0; p < 12; p++) assert.deepEqual([...a.data.subarray(p * 3, p * 3 + 3)], [...rgba.subarray(p * 4, p * 4 + 3)]);

  const cases = [await writeImage('gray.png', grayPng), await writeImage('rgba.png', rgbaPng)].map((path) => ({ op: 'decode', path }));
  const { results } = await runOracle<{ results: OracleImage[] }>(ORACLE, { cases });
  assert.deepEqual(Uint8Array.from(results[0].data), g.data);
  assert.deepEqual(Uint8Array.from(results[1].data), a.data);
});

test('EXIF orientation 6 is applied: the decoded image is the stored one turned 90° clockwise', async () => {
  const raw = busyImage(5, 3, 11);
  const bytes = await sharp(raw.data, { raw: { width: 5, height: 3, channels: 3 } }).webp({ lossless: true }).withMetadata({ orientation: 6 }).toBuffer();
  assert.equal((await sharp(bytes).metadata()).orientation, 6);
  const decoded = await decodeImage(bytes, 'oriented.webp');
  assert.deepEqual(decoded, rotate90(raw));
  const { results } = await runOracle<{ results: OracleImage[] }>(ORACLE, { cases: [{ op: 'decode', path: await writeImage('oriented.webp', bytes) }] });
  assert.deepEqual([results[0].width, results[0].height], [3, 5]);
  assert.deepEqual(Uint8Array.from(results[0].data), decoded.data);
});

test('empty, unknown, truncated and corrupt images are InputErrors naming the image and row', async () => {
  const where = 'data.jsonl row 12, image "img/3.png"';
  const png = await encodeImage(busyImage(16, 16, 1), 'png');
  const jpeg = await encodeImage(busyImage(16, 16, 1), 'jpeg');
  await rejectsInput(decodeImage(new Uint8Array(0), where), /^data\.jsonl row 12, image "img\/3\.png": image is empty/);
  await rejectsInput(decodeImage(Buffer.from('GIF89a not supported'), where), /img\/3\.png.*not a PNG, JPEG or WebP/);
  await rejectsInput(decodeImage(png.subarray(0, png.length - 30), where), /row 12, image "img\/3\.png": cannot decode PNG image/);
  await rejectsInput(decodeImage(jpeg.subarray(0, Math.floor(jpeg.length / 2)), where), /row 12, image "img\/3\.png": cannot decode JPEG image/);
  const corrupt = Buffer.from(png);
  corrupt.fill(0x55, 40, 80); // inside the IDAT chunk: CRC and zlib stream broken
  await rejectsInput(decodeImage(corrupt, where), /row 12.*cannot decode PNG/);
});

test('rotations and grayscale give the hand-computed pixels', () => {
  // 3 wide, 2 high: A B C / D E F, each pixel (k, k+1, k+2).
  const px = (k: number) => [k, k + 1, k + 2];
  const [A, B, C, D, E, F] = [0, 10, 20, 30, 40, 50].map(px);
  const image = img(3, 2, [A, B, C, D, E, F]);
  // Clockwise: the left column (A over D) becomes the top row read right to left: D A / E B / F C.
  assert.deepEqual(rotate90(image), img(2, 3, [D, A, E, B, F, C]));
  assert.deepEqual(rotate180(image), img(3, 2, [F, E, D, C, B, A]));
  assert.deepEqual(rotate90(rotate90(image)), rotate180(image));
  const colours = img(4, 1, [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]);
  // 0.299·255 = 76.245 → 76; 0.587·255 = 149.685 → 150; 0.114·255 = 29.07 → 29; 2.99 + 11.74 + 3.42 = 18.15 → 18.
  assert.deepEqual(grayscale(colours), img(4, 1, [[76, 76, 76], [150, 150, 150], [29, 29, 29], [18, 18, 18]]));
  assert.deepEqual(transformImage(image, 'rotate90'), rotate90(image));
  assert.equal(parseImageTransform('noise'), 'noise');
  assert.throws(() => parseImageTransform('rotate45'), (e: unknown) => e instanceof InputError && /rotate45.*rotate90, rotate180, grayscale, noise/.test(e.message));
});

test('perturbations agree with the numpy oracle bit for bit, and noise is seeded', async () => {
  const image = busyImage(13, 9, 5); // odd byte count: the last Box–Muller pair is half used
  const ops = [
    { op: 'rotate90', mine: rotate90(image) },
    { op: 'rotate180', mine: rotate180(image) },
    { op: 'grayscale', mine: grayscale(image) },
    { op: 'noise', sigma: 25, seed: 42, mine: transformImage(image, 'noise', { seed: 42 }) },
    { op: 'noise', sigma: 80, seed: 7, mine: gaussianNoise(image, 80, 7) },
  ];
  const cases = ops.map(({ mine: _m, ...c }) => ({ ...c, image: { width: image.width, height: image.height, data: [...image.data] } }));
  const { results } = await runOracle<{ results: OracleImage[] }>(ORACLE, { cases });
  ops.forEach(({ op, mine }, i) => {
    assert.deepEqual([results[i].width, results[i].height], [mine.width, mine.height], op);
    assert.deepEqual(Uint8Array.from(results[i].data), mine.data, op);
  });
  assert.deepEqual(gaussianNoise(image, 25, 42), ops[3].mine, 'same seed, same noise');
  assert.notDeepEqual(gaussianNoise(image, 25, 43).data, ops[3].mine.data, 'another seed, other noise');
  assert.deepEqual(gaussianNoise(image, 0, 1), image, 'sigma 0 changes nothing');
  // Clipping: with sigma 1000 a byte stays inside (0, 255) with probability ≈ 255/(1000·√(2π)) ≈ 0.1.
  const loud = gaussianNoise(image, 1000, 3).data;
  const clipped = loud.filter((v) => v === 0 || v === 255).length / loud.length;
  assert.ok(clipped > 0.8, `clipped fraction ${clipped}`);
});

test('preprocessor config: HF forms and defaults are read, unknown or bad fields named', () => {
  const tiny = parsePreprocessorConfig(JSON.stringify(TINY_CONFIG), 'tiny/preprocessor_config.json');
  assert.deepEqual(tiny.resize, { shortestEdge: 32 });
  assert.deepEqual(tiny.crop, { height: 32, width: 32 });
  const old = preprocessorFromConfig({ feature_extractor_type: 'CLIPFeatureExtractor', size: 224, crop_size: 224 }, 'old.json');
  assert.deepEqual([old.resize, old.crop, old.resample, old.rescaleFactor], [{ shortestEdge: 224 }, { height: 224, width: 224 }, 3, 1 / 255]);
  const exact = preprocessorFromConfig({ image_processor_type: 'CLIPImageProcessor', size: { height: 20, width: 30 }, do_center_crop: false }, 'x.json');
  assert.deepEqual([exact.resize, exact.crop], [{ height: 20, width: 30 }, undefined]);
  const bad = (config: unknown, pattern: RegExp) =>
    assert.throws(() => preprocessorFromConfig(config, 'm/preprocessor_config.json'), (e: unknown) => e instanceof InputError && pattern.test(e.message));
  bad({ image_processor_type: 'SiglipImageProcessor' }, /m\/preprocessor_config\.json: image_processor_type "SiglipImageProcessor" is not supported; supported: CLIPImageProcessor/);
  bad({}, /image_processor_type is missing/);
  bad({ image_processor_type: 'CLIPImageProcessor', crop_size: { height: 0, width: 3 } }, /crop_size/);
  bad({ image_processor_type: 'CLIPImageProcessor', image_std: [1, 0, 1] }, /image_std must be positive/);
  bad({ image_processor_type: 'CLIPImageProcessor', resample: 9 }, /resample 9/);
  assert.throws(() => parsePreprocessorConfig('{oops', 'p.json'), (e: unknown) => e instanceof InputError && /p\.json: not valid JSON/.test(e.message));
  assert.deepEqual(shortestEdgeSize(500, 333, 224), { width: 336, height: 224 }); // int(224·500/333) = int(336.34)
  assert.deepEqual(shortestEdgeSize(333, 500, 224), { width: 224, height: 336 });
});

test('images at the crop size give exactly HF CLIPImageProcessor pixel_values (1e-6)', async () => {
  const pre = preprocessorFromConfig(TINY_CONFIG, 'tiny');
  const cases: { op: string; path: string; config: unknown }[] = [];
  const mine: PixelValues[] = [];
  for (const [i, scene] of fixtureScenes(9, 4).entries()) {
    const raw = i % 2 ? renderScene(scene) : gaussianNoise(renderScene(scene), 40, i);
    const path = await writeImage(`crop-${i}.png`, await encodeImage(raw, 'png'));
    mine.push(preprocessImage(await decodeImage(await encodeImage(raw, 'png'), path), pre));
    cases.push({ op: 'preprocess', path, config: TINY_CONFIG });
  }
  const { results } = await runOracle<{ results: OraclePixels[] }>(ORACLE, { cases });
  results.forEach((r, i) => {
    assert.deepEqual(r.shape, [3, 32, 32]);
    assert.deepEqual([mine[i].height, mine[i].width, mine[i].pixels.length], [32, 32, 3 * 32 * 32]);
    assert.ok(maxAbsDiff(mine[i].pixels, r.pixels) <= 1e-6, `image ${i}: ${maxAbsDiff(mine[i].pixels, r.pixels)}`);
  });
});

test('resized, cropped and padded images match HF CLIPImageProcessor too, for every PIL filter', async () => {
  // Pillow's resampling is transcribed exactly (src/image/pilResample.ts), so the tolerance stays
  // 1e-6 (float32 rounding) even when enlarging, shrinking 10×, or changing the aspect ratio.
  const sizes: [number, number][] = [[48, 40], [40, 53], [100, 77], [333, 500], [20, 25], [31, 32], [7, 90]];
  const configs = [
    ...[0, 1, 2, 3, 4, 5].map((resample) => ({ ...TINY_CONFIG, resample })),
    { ...TINY_CONFIG, size: { height: 24, width: 40 }, crop_size: { height: 30, width: 36 } }, // pads width, crops height
    { ...TINY_CONFIG, do_resize: false, crop_size: 64 }, // pads both
    { ...TINY_CONFIG, do_center_crop: false, do_normalize: false },
    { ...TINY_CONFIG, do_rescale: false, image_mean: 127.5, image_std: 64 },
  ];
  const cases: { op: string; path: string; config: unknown }[] = [];
  const mine: PixelValues[] = [];
  for (const [w, h] of sizes) {
    const raw = busyImage(w, h, w * 1000 + h);
    const bytes = await encodeImage(raw, 'png');
    const path = await writeImage(`resize-${w}x${h}.png`, bytes);
    for (const config of configs) {
      mine.push(preprocessImage(raw, preprocessorFromConfig(config, 'c')));
      cases.push({ op: 'preprocess', path, config });
    }
  }
  const { results } = await runOracle<{ results: OraclePixels[] }>(ORACLE, { cases });
  results.forEach((r, i) => {
    const label = `${JSON.stringify(cases[i].config)} on ${cases[i].path}`;
    assert.deepEqual([3, mine[i].height, mine[i].width], r.shape, label);
    assert.ok(maxAbsDiff(mine[i].pixels, r.pixels) <= 1e-6, `${label}: ${maxAbsDiff(mine[i].pixels, r.pixels)}`);
  });
});

test('center crop pads a small image with zeros placed as HF places them', () => {
  const image = img(1, 2, [[1, 2, 3], [4, 5, 6]]);
  // Crop 4×3: image at column ⌈3/2⌉ = 2, row ⌈1/2⌉ = 1.
  const out = centerCrop(image, 4, 3);
  const z = [0, 0, 0];
  assert.deepEqual(out, img(4, 3, [z, z, z, z, z, z, [1, 2, 3], z, z, z, [4, 5, 6], z]));
});

test('fixture captions use only the tiny VLM vocabulary and are deterministic', () => {
  const words = new Set<string>(CAPTION_WORDS);
  const scenes = fixtureScenes(1234, 200);
  assert.deepEqual(scenes, fixtureScenes(1234, 200));
  for (const [i, scene] of scenes.entries()) {
    assert.notEqual(scene.colour, scene.background);
    for (const word of caption(scene, i).split(' ')) assert.ok(words.has(word), `"${word}" in "${caption(scene, i)}"`);
  }
  assert.equal(caption({ shape: 'circle', colour: 'red', background: 'orange', size: 'small' }), 'a small red circle on an orange background');
  assert.equal(caption({ shape: 'stripes', colour: 'blue', background: 'white', size: 'large' }, 1), 'the image shows blue stripes on a white background');
});
