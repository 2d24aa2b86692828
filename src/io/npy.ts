/**
 * NumPy `.npy` reader and writer for float32/float64 little-endian C-order arrays (hidden-state
 * dumps from the Python oracle, fixtures, benchmarks): `readNpy` for 2-D matrices (tokens × hidden),
 * `readNpyArray` for any number of dimensions (e.g. layers × tokens × hidden).
 *
 * Format (numpy.lib.format, versions 1.0/2.0/3.0):
 *   "\x93NUMPY" | major u8 | minor u8 | header_len (u16 LE for v1, u32 LE for v2/v3) | header | data
 *   header: a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), }
 *   padded with spaces and a final '\n' so data starts on a 64-byte boundary (16 in old files).
 */

export interface NpyMatrix {
  data: Float32Array | Float64Array;
  rows: number;
  cols: number;
}

/** An n-dimensional array, row-major (C order); shape [] is a scalar. */
export interface NpyArray {
  data: Float32Array | Float64Array;
  shape: number[];
  /** '<f4' or '<f8'. */
  descr: string;
  /** The shape as written in the header, e.g. "(2, 3, 4)", for error messages. */
  shapeText: string;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DTYPES: Record<string, { bytes: number; make: (n: number) => Float32Array | Float64Array }> = {
  '<f4': { bytes: 4, make: (n) => new Float32Array(n) },
  '<f8': { bytes: 8, make: (n) => new Float64Array(n) },
};

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function headerField(header: string, key: string, file: string): string {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\)|\\[[^\\]]*\\])`).exec(header);
  if (!m) throw new Error(`${file}: .npy header has no '${key}' field: ${header.trim()}`);
  return m[1];
}

/** Parses a 2-D .npy file's bytes; `file` names it in errors. The data is a view on `bytes` when
 * aligned (see `readNpyArray`). */
export function readNpy(bytes: Uint8Array, file = '<npy>'): NpyMatrix {
  const { data, shape, shapeText } = readNpyArray(bytes, file);
  if (shape.length !== 2) throw new Error(`${file}: expected a 2-D array (tokens × hidden), got shape ${shapeText}`);
  return { data, rows: shape[0], cols: shape[1] };
}

/** A .npy header: dtype, shape and where the data starts (also for dtypes readNpyArray does not decode). */
export interface NpyHeader {
  descr: string;
  shape: number[];
  shapeText: string;
  dataStart: number;
}

/** Parses the header of a .npy file from its first bytes (at least the whole header); `file` names it in errors. */
export function readNpyHeader(bytes: Uint8Array, file = '<npy>'): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${file}: not a .npy file (bad magic; expected "\\x93NUMPY")`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerStart = 10;
    headerLen = view.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`${file}: truncated .npy header`);
    headerStart = 12;
    headerLen = view.getUint32(8, true);
  } else {
    throw new Error(`${file}: unsupported .npy format version ${major}.${bytes[7]} (supported: 1, 2, 3)`);
  }
  const dataStart = headerStart + headerLen;
  if (bytes.length < dataStart) {
    throw new Error(`${file}: truncated .npy header (needs ${dataStart} bytes, file has ${bytes.length})`);
  }
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const descr = headerField(header, 'descr', file).slice(1, -1);
  if (headerField(header, 'fortran_order', file) !== 'False') {
    throw new Error(`${file}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  }
  const shapeText = headerField(header, 'shape', file);
  const dims = shapeText.slice(1, -1).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (!/^[([]/.test(shapeText) || !dims.every((s) => /^\d+$/.test(s))) {
    throw new Error(`${file}: .npy header has an unreadable shape ${shapeText}`);
  }
  return { descr, shape: dims.map(Number), shapeText, dataStart };
}

/** Parses a .npy file's bytes, any number of dimensions; `file` names it in errors. On a
 * little-endian host the data is a view on `bytes`, not a copy, when its start is aligned to the
 * element size (always for a file read whole); else a copy. */
export function readNpyArray(bytes: Uint8Array, file = '<npy>'): NpyArray {
  const { descr, shape, shapeText, dataStart } = readNpyHeader(bytes, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dtype = DTYPES[descr];
  if (!dtype) {
    throw new Error(`${file}: unsupported dtype '${descr}' (supported: '<f4' float32, '<f8' float64, little-endian)`);
  }

  const count = shape.reduce((a, b) => a * b, 1);
  const dataBytes = count * dtype.bytes;
  if (bytes.length - dataStart < dataBytes) {
    throw new Error(
      `${file}: truncated data: shape ${shapeText} ${descr} needs ${dataBytes} bytes, file has ${bytes.length - dataStart}`,
    );
  }
  const at = bytes.byteOffset + dataStart;
  if (HOST_LITTLE_ENDIAN && at % dtype.bytes === 0) {
    // No copy: a view on the file's bytes (.npy pads its header to a multiple of 64 bytes, so the
    // data of a file read whole is always aligned).
    const data = dtype.bytes === 4 ? new Float32Array(bytes.buffer, at, count) : new Float64Array(bytes.buffer, at, count);
    return { data, shape, descr, shapeText };
  }
  const data = dtype.make(count);
  if (HOST_LITTLE_ENDIAN) {
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart, dataStart + dataBytes));
  } else {
    for (let i = 0; i < count; i++) {
      const at = dataStart + i * dtype.bytes;
      data[i] = dtype.bytes === 4 ? view.getFloat32(at, true) : view.getFloat64(at, true);
    }
  }
  return { data, shape, descr, shapeText };
}

/** Serialises a rows×cols row-major matrix as a version 1.0 .npy file ('<f4' or '<f8'). */
export function writeNpy(data: Float32Array | Float64Array, rows: number, cols: number): Uint8Array {
  if (data.length !== rows * cols) throw new Error(`writeNpy: ${data.length} values, expected ${rows}×${cols}`);
  return writeNpyArray(data, [rows, cols]);
}

/** Serialises a row-major array of any shape as a version 1.0 .npy file ('<f4' or '<f8'). */
export function writeNpyArray(data: Float32Array | Float64Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`writeNpy: ${data.length} values, expected ${shape.join('×')} = ${count}`);
  const descr = data instanceof Float32Array ? '<f4' : '<f8';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const body = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) body.setFloat32(i * 4, data[i], true);
    else body.setFloat64(i * 8, data[i], true);
  }
  return out;
}
