// ONNX ModelProto in and out of bytes, with protobufjs reflecting over the vendored onnx.proto
// (field names kept in snake_case, exactly as the schema spells them).
//
// Decoding keeps `bytes` fields (initialisers' raw_data) as views into the input buffer, so a 90 MB
// model costs one copy of itself, not two. int64 fields decode as `Long` (or number); `int64()`
// turns either into a number. Only the parts of the schema entroscope touches are typed here; every
// other field survives a decode → encode round trip untouched.
import { closeSync, copyFileSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import protobuf from 'protobufjs';
import { InputError } from '../errors.ts';
import { halfToFloat } from '../io/float16.ts';

/** An int64 as protobufjs gives it: a number, or a Long when the value needs 64 bits. */
export type Int64 = number | { toNumber(): number };

export function int64(v: Int64 | null | undefined): number {
  if (v == null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** TensorProto.DataType values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface StringStringEntry {
  key: string;
  value: string;
}

export interface TensorProto {
  name?: string;
  dims?: Int64[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: Int64[];
  double_data?: number[];
  data_location?: number;
  external_data?: StringStringEntry[];
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: Int64[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute?: AttributeProto[];
}

export interface Dimension {
  dim_value?: Int64;
  dim_param?: string;
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim?: Dimension[] } };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  doc_string?: string;
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info?: ValueInfoProto[];
}

export interface OperatorSetId {
  domain?: string;
  version: Int64;
}

export interface ModelProto {
  ir_version?: Int64;
  opset_import: OperatorSetId[];
  producer_name?: string;
  producer_version?: string;
  doc_string?: string;
  graph: GraphProto;
  metadata_props?: StringStringEntry[];
}

const schema = readFileSync(new URL('./onnx.proto', import.meta.url), 'utf8');
const root = protobuf.parse(schema, { keepCase: true }).root;
const ModelType = root.lookupType('onnx.ModelProto');

/** Decodes ONNX bytes; a file that is not ONNX is an InputError naming `source`. */
export function decodeModel(bytes: Uint8Array, source: string): ModelProto {
  let model: ModelProto;
  try {
    model = ModelType.decode(bytes) as unknown as ModelProto;
  } catch (err) {
    throw new InputError(`${source} is not an ONNX model: ${(err as Error).message}`);
  }
  if (!model.graph || int64(model.ir_version) < 1 || model.graph.node.length === 0) {
    throw new InputError(`${source} is not an ONNX model (no ir_version or no graph)`);
  }
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return ModelType.encode(model as unknown as protobuf.Message).finish();
}

export function readModel(path: string): ModelProto {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new InputError(`cannot read ONNX model ${path}: ${(err as Error).message}`);
  }
  return decodeModel(bytes, path);
}

/** A fresh temp file name beside `path`, unique per process, thread and call. */
function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${threadId}.${Math.random().toString(36).slice(2)}.tmp`);
}

/** Writes `bytes` (or what `write` writes to the open file) into `tmp` (flag 'w': a new file; 'a': after what it holds), fsyncs it and renames it to `path`; `tmp` is removed on failure. */
function commitTemp(tmp: string, path: string, bytes: Uint8Array | ((fd: number) => void), flag: 'w' | 'a'): void {
  const fd = openSync(tmp, flag);
  try {
    if (typeof bytes === 'function') bytes(fd);
    else writeAll(fd, bytes);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** Writes all of `bytes` to `fd` at its current position. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Writes bytes to `path` atomically: a temp file beside it, fsync, rename. With a function, that function writes the open temp file. */
export function writeFileAtomic(path: string, bytes: Uint8Array | ((fd: number) => void)): void {
  commitTemp(tempBeside(path), path, bytes, 'w');
}

export function writeModel(path: string, model: ModelProto): void {
  writeFileAtomic(path, encodeModel(model));
}

/**
 * Writes `path` atomically as the bytes of the ONNX file `source` followed by `more` serialised.
 * Protobuf parsers merge a message given twice (singular message fields merge, repeated fields
 * concatenate), so the result reads as `source` with `more` merged in: e.g. `{ graph: { node,
 * output } }` adds nodes and outputs to its graph. The source is copied by the file system, never
 * held in memory.
 */
export function appendToModelFile(source: string, path: string, more: Partial<ModelProto>): void {
  const tmp = tempBeside(path);
  copyFileSync(source, tmp);
  commitTemp(tmp, path, ModelType.encode(more as unknown as protobuf.Message).finish(), 'a');
}

// ---- tensors ----------------------------------------------------------------------------------

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(int64);
}

export function tensorSize(t: TensorProto): number {
  return tensorDims(t).reduce((a, b) => a * b, 1);
}

/** Initialiser values as float64, whatever their storage (raw_data or typed fields). Float types only. */
export function tensorToFloat64(t: TensorProto): Float64Array {
  const n = tensorSize(t);
  const raw = t.raw_data && t.raw_data.length > 0 ? t.raw_data : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const out = new Float64Array(n);
  switch (t.data_type) {
    case DataType.FLOAT:
      for (let i = 0; i < n; i++) out[i] = view ? view.getFloat32(4 * i, true) : t.float_data![i];
      return out;
    case DataType.DOUBLE:
      for (let i = 0; i < n; i++) out[i] = view ? view.getFloat64(8 * i, true) : t.double_data![i];
      return out;
    case DataType.FLOAT16:
      // typed storage keeps float16 bit patterns in int32_data
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view ? view.getUint16(2 * i, true) : t.int32_data![i]);
      return out;
    case DataType.INT8:
    case DataType.UINT8:
    case DataType.INT32:
      for (let i = 0; i < n; i++) {
        out[i] = view
          ? t.data_type === DataType.INT8 ? view.getInt8(i) : t.data_type === DataType.UINT8 ? view.getUint8(i) : view.getInt32(4 * i, true)
          : t.int32_data![i];
      }
      return out;
    case DataType.INT64:
      for (let i = 0; i < n; i++) out[i] = view ? Number(view.getBigInt64(8 * i, true)) : int64(t.int64_data![i]);
      return out;
    default:
      throw new InputError(`tensor ${t.name}: data type ${t.data_type} is not supported here`);
  }
}

/** A float32 initialiser stored as raw_data (little-endian, as ONNX requires). */
export function float32Tensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  const data = Float32Array.from(values);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  return { name, dims, data_type: DataType.FLOAT, raw_data: new Uint8Array(data.buffer) };
}

export function int64Tensor(name: string, dims: number[], values: ArrayLike<number>): TensorProto {
  const data = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  return { name, dims, data_type: DataType.INT64, raw_data: new Uint8Array(data.buffer) };
}

/** The files an initialiser with external data lives in (relative to the model's folder). */
export function externalDataFiles(model: ModelProto): string[] {
  const files = new Set<string>();
  for (const t of model.graph.initializer) {
    if (t.data_location !== 1) continue;
    const loc = t.external_data?.find((e) => e.key === 'location')?.value;
    if (loc) files.add(loc);
  }
  return [...files].sort();
}

/** A tensor-typed ValueInfo: elem type and dims (numbers are fixed, strings symbolic). */
export function tensorValueInfo(name: string, elemType: number, dims: Array<number | string>): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/** ValueInfo dims as numbers (fixed) or strings (symbolic, `?` when unnamed); undefined when unknown. */
export function valueInfoDims(v: ValueInfoProto): Array<number | string> | undefined {
  const dims = v.type?.tensor_type?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) => (d.dim_param ? d.dim_param : int64(d.dim_value) > 0 ? int64(d.dim_value) : '?'));
}

export function valueInfoElemType(v: ValueInfoProto): number | undefined {
  return v.type?.tensor_type?.elem_type || undefined;
}

export function getMetadata(model: ModelProto, key: string): string | undefined {
  return model.metadata_props?.find((e) => e.key === key)?.value;
}

export function setMetadata(model: ModelProto, key: string, value: string): void {
  // Absent repeated fields decode as a shared frozen empty array: always replace, never push.
  const props = (model.metadata_props ?? []).filter((e) => e.key !== key);
  model.metadata_props = [...props, { key, value }];
}
