// The one in-memory image type of src/image: 8-bit RGB, row-major, channels interleaved (HWC), what
// decoding yields, what perturbations act on, and what preprocessing turns into pixel_values.

/** An 8-bit RGB image. `data[(y·width + x)·3 + c]` is channel c (0 = R, 1 = G, 2 = B) of pixel (x, y). */
export interface RgbImage {
  width: number;
  height: number;
  /** width·height·3 bytes, HWC. */
  data: Uint8Array;
}

/** A blank (black) image of the given size. */
export function blankImage(width: number, height: number): RgbImage {
  if (!(Number.isInteger(width) && width >= 1 && Number.isInteger(height) && height >= 1)) {
    throw new RangeError(`image size must be positive integers, got ${width}×${height}`);
  }
  return { width, height, data: new Uint8Array(width * height * 3) };
}

/** Checks that `data` has exactly width·height·3 bytes (a programming error otherwise). */
export function assertRgb(image: RgbImage): void {
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(`RGB image ${image.width}×${image.height} needs ${image.width * image.height * 3} bytes, has ${image.data.length}`);
  }
}
