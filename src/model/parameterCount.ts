// Parameter count of an ONNX model, from its initialisers (the x of DESIGN §1 step 10's scaling
// fits when a model spec gives no `params`).
//
//   params = Σ elements of every weight initialiser
//
// A weight initialiser is a tensor of rank ≥ 1 stored as a float (float32/16, bfloat16, double) or
// as a quantised integer (int8/uint8/int4/uint4). Not counted:
//   - int64/int32/bool initialisers: shapes, axes, position-id tables;
//   - rank-0 tensors: scalar constants (ε, 1/√d_head, the mask value), not weights;
//   - quantisation parameters: scales and zero points (the 2nd/3rd inputs of QuantizeLinear /
//     DequantizeLinear, the zero points of MatMulInteger / ConvInteger / QLinear* ops, and
//     onnxruntime's dynamic-quantisation weight scales, multiplied into DynamicQuantizeLinear's scale).
// So a quantised model counts each quantised weight once, by its elements, and all-MiniLM-L6-v2
// gives 22,565,376 in fp32 and in int8 alike. Tied weights (one initialiser read twice) count once;
// weights held in Constant nodes rather than initialisers are not counted.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, readModel, tensorDims, writeFileAtomic, type ModelProto } from './onnxProto.ts';
import { cacheRoot, modelTaps, type TapListing } from './onnxTaps.ts';

const INT4 = 22;
const UINT4 = 21;
const WEIGHT_TYPES = new Set<number>([
  DataType.FLOAT,
  DataType.FLOAT16,
  DataType.BFLOAT16,
  DataType.DOUBLE,
  DataType.INT8,
  DataType.UINT8,
  INT4,
  UINT4,
]);

/** Inputs (by position) of each op that are quantisation scales or zero points, never weights. */
const QUANT_PARAM_INPUTS: Record<string, number[]> = {
  QuantizeLinear: [1, 2],
  DequantizeLinear: [1, 2],
  MatMulInteger: [2, 3],
  ConvInteger: [2, 3],
  QLinearMatMul: [1, 2, 4, 5, 6, 7],
  QLinearConv: [1, 2, 4, 5, 6, 7],
  DynamicQuantizeMatMul: [2, 3],
  MatMulIntegerToFloat: [2, 3, 4, 5],
  MatMulNBits: [2, 3],
  GatherBlockQuantized: [2, 3],
};

export interface ParameterCount {
  /** Weight elements, as defined in the file comment. */
  params: number;
  /** Of which stored as quantised integers. */
  quantized: number;
  /** Weight initialisers counted. */
  tensors: number;
}

/** Counts the weights of a decoded model (see the file comment for what counts). */
export function parameterCountOf(model: ModelProto): ParameterCount {
  const graph = model.graph;
  const excluded = new Set<string>();
  const dynamicScales = new Set<string>();
  for (const n of graph.node) {
    for (const i of QUANT_PARAM_INPUTS[n.op_type] ?? []) if (n.input[i]) excluded.add(n.input[i]);
    if (n.op_type === 'DynamicQuantizeLinear' && n.output[1]) dynamicScales.add(n.output[1]);
  }
  // onnxruntime's dynamic quantisation: Mul(activation scale, weight scale) → rescales MatMulInteger.
  for (const n of graph.node) {
    if (n.op_type === 'Mul' && n.input.some((x) => dynamicScales.has(x))) for (const x of n.input) excluded.add(x);
  }
  let params = 0;
  let quantized = 0;
  let tensors = 0;
  for (const t of graph.initializer) {
    const dims = tensorDims(t);
    const type = t.data_type ?? 0;
    if (dims.length === 0 || !WEIGHT_TYPES.has(type) || excluded.has(t.name ?? '')) continue;
    const size = dims.reduce((a, b) => a * b, 1);
    params += size;
    tensors++;
    if (type === DataType.INT8 || type === DataType.UINT8 || type === INT4 || type === UINT4) quantized += size;
  }
  return { params, quantized, tensors };
}

/**
 * The parameter count of the ONNX model at `onnxPath`, cached beside its tap listing under
 * `$ENTROSCOPE_CACHE/tapped/<model sha256>/params.v1.json` (a model is decoded once, ever).
 */
export async function countParameters(onnxPath: string, opts: { cacheDir?: string; listing?: TapListing } = {}): Promise<number> {
  return (await parameterCountDetails(onnxPath, opts)).params;
}

export async function parameterCountDetails(
  onnxPath: string,
  opts: { cacheDir?: string; listing?: TapListing } = {},
): Promise<ParameterCount> {
  const listing = opts.listing ?? (await modelTaps(onnxPath, { cacheDir: opts.cacheDir }));
  const dir = join(opts.cacheDir ?? cacheRoot(), 'tapped', listing.sha256);
  const file = join(dir, 'params.v1.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as ParameterCount;
  const count = parameterCountOf(listing.model ?? readModel(onnxPath));
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(file, new TextEncoder().encode(JSON.stringify(count, null, 2)));
  return count;
}
