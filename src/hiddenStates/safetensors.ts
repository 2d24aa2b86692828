/**
 * safetensors (Hugging Face): the header of a file and the values of one tensor.
 *
 * Format (github.com/huggingface/safetensors, "Format"):
 *   u64 little-endian N | N bytes of JSON header | data
 *   header: { "<name>": { "dtype": "F32", "shape": [r, c], "data_offsets": [begin, end] }, …,
 *             "__metadata__": { string: string } (optional) }
 *   offsets are relative to the first data byte (8 + N); tensors are C-order, little-endian.
 * Only the floating dtypes hidden states come in are decoded (F32, F16, BF16, F64); other tensors
 * (vLLM's `token_ids` I64) are listed so a layout can recognise them, never decoded.
 */
import { InputError } from '../errors.ts';
import { halfToFloat } from '../io/float16.ts';

export interface SafetensorsTensor {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offsets [begin, end) in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: SafetensorsTensor[];
  metadata: Record<string, string>;
  /** Bytes the header says the file has (8 + N + the last tensor's end). */
  expectedBytes: number;
}

/** Bytes per element of each dtype decoded here. */
export const FLOAT_DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

const ELEMENT_BYTES: Record<string, number> = {
  ...FLOAT_DTYPE_BYTES, BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, I32: 4, U32: 4, I64: 8, U64: 8,
};

/** A header larger than this is not a hidden-states file (safetensors itself caps it at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** N from the file's first 8 bytes. */
export function safetensorsHeaderLength(first8: Uint8Array, file: string): number {
  if (first8.length < 8) throw new InputError(`${file}: truncated safetensors file (${first8.length} bytes, the header length needs 8)`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n === 0n || n > BigInt(MAX_HEADER_BYTES)) throw new InputError(`${file}: not a safetensors file (header length ${n})`);
  return Number(n);
}

/** Parses the JSON header (the N bytes after the length); checks shapes against offsets and the file size. */
export function parseSafetensorsHeader(headerBytes: Uint8Array, headerLength: number, fileBytes: number, file: string): SafetensorsHeader {
  if (headerBytes.length < headerLength) throw new InputError(`${file}: truncated safetensors header (${headerBytes.length} of ${headerLength} bytes)`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(headerBytes.subarray(0, headerLength)));
  } catch (err) {
    throw new InputError(`${file}: safetensors header is not JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new InputError(`${file}: safetensors header is not a JSON object`);
  const dataStart = 8 + headerLength;
  const tensors: SafetensorsTensor[] = [];
  let metadata: Record<string, string> = {};
  let last = 0;
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const where = `${file}, tensor '${name}'`;
    if (typeof t?.dtype !== 'string' || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets) || t.data_offsets.length !== 2) {
      throw new InputError(`${where}: malformed safetensors entry (needs dtype, shape and data_offsets)`);
    }
    const shape = t.shape as number[];
    const [b, e] = t.data_offsets as number[];
    if (!shape.every((s) => Number.isInteger(s) && s >= 0) || !Number.isInteger(b) || !Number.isInteger(e) || e < b) {
      throw new InputError(`${where}: malformed shape ${JSON.stringify(shape)} or data_offsets [${b}, ${e}]`);
    }
    const size = ELEMENT_BYTES[t.dtype];
    if (size !== undefined && (e - b) !== shape.reduce((a, s) => a * s, 1) * size) {
      throw new InputError(`${where}: data_offsets [${b}, ${e}] hold ${e - b} bytes, but shape ${JSON.stringify(shape)} ${t.dtype} needs ${shape.reduce((a, s) => a * s, 1) * size}`);
    }
    tensors.push({ name, dtype: t.dtype, shape, begin: dataStart + b, end: dataStart + e });
    last = Math.max(last, e);
  }
  const expectedBytes = dataStart + last;
  if (fileBytes < expectedBytes) {
    throw new InputError(`${file}: truncated safetensors file: ${fileBytes} bytes, its header needs ${expectedBytes}`);
  }
  return { tensors, metadata, expectedBytes };
}

/**
 * The values of `count` elements of a float tensor's bytes, as float64, starting at element
 * `first` and taking every `stride`-th run of `run` elements (a layer out of [N, k, d] is N runs of
 * d, stride k·d). `bytes` holds the tensor from its first byte.
 */
export function decodeFloats(bytes: Uint8Array, dtype: string, where: string, pick?: { first: number; run: number; stride: number; runs: number }): Float64Array {
  const size = FLOAT_DTYPE_BYTES[dtype];
  if (size === undefined) throw new InputError(`${where}: dtype ${dtype} is not a hidden-state dtype (F32, F16, BF16, F64)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const total = Math.floor(bytes.byteLength / size);
  const p = pick ?? { first: 0, run: total, stride: total, runs: 1 };
  const out = new Float64Array(p.run * p.runs);
  const read =
    dtype === 'F32' ? (i: number) => view.getFloat32(i * 4, true)
    : dtype === 'F64' ? (i: number) => view.getFloat64(i * 8, true)
    : dtype === 'F16' ? (i: number) => halfToFloat(view.getUint16(i * 2, true))
    : (i: number) => bf16ToFloat(view.getUint16(i * 2, true));
  let k = 0;
  for (let r = 0; r < p.runs; r++) {
    const at = p.first + r * p.stride;
    for (let j = 0; j < p.run; j++) out[k++] = read(at + j);
  }
  return out;
}

const bf16Scratch = new DataView(new ArrayBuffer(4));
/** bfloat16 is the top half of a float32. */
export function bf16ToFloat(bits: number): number {
  bf16Scratch.setUint32(0, bits << 16);
  return bf16Scratch.getFloat32(0);
}
