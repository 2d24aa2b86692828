// The untrained twin of a model (DESIGN §1 step 7): the same graph, its weights re-initialised the
// way Hugging Face `PreTrainedModel._init_weights` does by default, from a recorded seed:
//
//   ≥2-D float initialisers read as weights (MatMul/Gemm/Conv operands, Gather tables = embeddings,
//     Add operands)                                          → normal(0, 0.02)
//   norm scales γ (LayerNormalization / RMSNorm, or their decomposed Mul)   → ones
//   norm biases β and every other 1-D float initialiser (linear biases)    → zeros
//   scalars, integer/bool tensors (shapes, indices, position ids), and float tensors with no
//     weight-like consumer (mask buffers, constants)                        → kept as they are
//
// Each tensor draws from its own stream, seeded by sha256(seed, tensor name), so the twin is the
// same bytes for the same seed whatever the initialiser order. The seed, the rule and the source
// model's sha256 are recorded in metadata_props (`entroscope.untrained.*`).
//
// Quantised models (int8/uint8 weights feeding MatMulInteger, DequantizeLinear, QLinear*) are
// refused: their weight scales live in other tensors or in fused nodes, so "normal(0, 0.02)" has no
// faithful int8 form. Untrain the float original instead (and quantise the twin the same way, if
// the quantised baseline is wanted): untrained weights are random either way.
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256, sha256File } from '../io/hash.ts';
import { resolveModelFiles } from './modelRef.ts';
import { normalSampler } from './tinyTransformer.ts';
import { normParameters } from './normParameters.ts';
import {
  DataType,
  getMetadata,
  readModel,
  setMetadata,
  tensorDims,
  tensorSize,
  writeModel,
  type ModelProto,
  type TensorProto,
} from './onnxProto.ts';

export const UNTRAIN_RULE =
  'hf-default-init/v1: normal(0,0.02) for >=2-D float weights (MatMul/Gemm/Conv/Gather/Add operands); ' +
  'ones for norm scales; zeros for norm biases and other 1-D float biases; scalars, integer tensors ' +
  'and other constants kept; per-tensor stream seeded by sha256(seed:name)';

export const INIT_STD = 0.02;

const WEIGHT_CONSUMERS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Gather', 'Add']);
const QUANTISED_CONSUMERS = new Set(['MatMulInteger', 'ConvInteger', 'DequantizeLinear', 'QLinearMatMul', 'QLinearConv', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul']);

export type InitRule = 'normal' | 'ones' | 'zeros' | 'kept';

export interface UntrainReport {
  seed: number;
  rule: string;
  /** Initialisers per rule. */
  counts: Record<InitRule, number>;
  /** Parameters (elements) re-initialised. */
  parameters: number;
}

/** The per-tensor seed: the first 32 bits of sha256("<seed>:<name>"). */
function tensorSeed(seed: number, name: string): number {
  return parseInt(sha256(`${seed}:${name}`).slice(0, 8), 16);
}

/** Which rule applies to each float initialiser (see the file comment). */
export function initRules(model: ModelProto): Map<string, InitRule> {
  const consumers = new Map<string, string[]>();
  for (const n of model.graph.node) for (const x of n.input) if (x) consumers.set(x, [...(consumers.get(x) ?? []), n.op_type]);
  const { scales, biases } = normParameters(model);
  const rules = new Map<string, InitRule>();
  for (const t of model.graph.initializer) {
    const name = t.name ?? '';
    const ops = consumers.get(name) ?? [];
    if ((t.data_type === DataType.INT8 || t.data_type === DataType.UINT8) && ops.some((o) => QUANTISED_CONSUMERS.has(o))) {
      throw new InputError(
        `this is a quantised model (initialiser ${name}, ${t.data_type === DataType.INT8 ? 'int8' : 'uint8'}, feeds ${ops.join(', ')}): ` +
          'untrain the float model instead (and quantise the twin the same way if a quantised baseline is wanted)',
      );
    }
    const float = t.data_type === DataType.FLOAT || t.data_type === DataType.DOUBLE;
    if (!float || tensorSize(t) <= 1) {
      rules.set(name, 'kept');
      continue;
    }
    if (t.data_location === 1) throw new InputError(`initialiser ${name} has external data, which untrain does not handle yet`);
    const rank = tensorDims(t).filter((d) => d > 1).length;
    if (scales.has(name)) rules.set(name, 'ones');
    else if (biases.has(name)) rules.set(name, 'zeros');
    else if (!ops.some((o) => WEIGHT_CONSUMERS.has(o))) rules.set(name, 'kept');
    else rules.set(name, rank >= 2 ? 'normal' : 'zeros');
  }
  return rules;
}

function reinit(t: TensorProto, rule: Exclude<InitRule, 'kept'>, seed: number): TensorProto {
  const n = tensorSize(t);
  const values = new Float64Array(n);
  if (rule === 'ones') values.fill(1);
  if (rule === 'normal') {
    const normal = normalSampler(tensorSeed(seed, t.name ?? ''));
    for (let i = 0; i < n; i++) values[i] = INIT_STD * normal();
  }
  const raw = t.data_type === DataType.DOUBLE ? new Uint8Array(values.buffer) : new Uint8Array(Float32Array.from(values).buffer);
  // Keep name, dims, type and metadata; replace the data with raw_data.
  return { ...t, raw_data: raw, float_data: [], double_data: [] };
}

/** The untrained twin of `model` (a new ModelProto; the input is not modified). */
export function untrainModel(model: ModelProto, seed: number, sourceSha256?: string): { model: ModelProto; report: UntrainReport } {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`seed must be an integer in 0…2^32−1, got ${seed}`);
  if (getMetadata(model, 'entroscope.untrained.seed') !== undefined) {
    throw new InputError('this model is already an untrained twin (metadata entroscope.untrained.seed is set)');
  }
  const rules = initRules(model);
  const counts: Record<InitRule, number> = { normal: 0, ones: 0, zeros: 0, kept: 0 };
  let parameters = 0;
  const initializer = model.graph.initializer.map((t) => {
    const rule = rules.get(t.name ?? '') ?? 'kept';
    counts[rule]++;
    if (rule === 'kept') return t;
    parameters += tensorSize(t);
    return reinit(t, rule, seed);
  });
  const twin: ModelProto = { ...model, graph: { ...model.graph, initializer } };
  setMetadata(twin, 'entroscope.untrained.seed', String(seed));
  setMetadata(twin, 'entroscope.untrained.rule', UNTRAIN_RULE);
  if (sourceSha256) setMetadata(twin, 'entroscope.untrained.source_sha256', sourceSha256);
  return { model: twin, report: { seed, rule: UNTRAIN_RULE, counts, parameters } };
}

export interface UntrainFilesResult extends UntrainReport {
  onnxPath: string;
  /** The tokenizer copied beside the twin, when the source had one. */
  tokenizerPath?: string;
  sourceSha256: string;
}

/**
 * Writes the untrained twin of MODEL (a folder or .onnx file) to OUT: a folder receives
 * `model.onnx` (+ the source's `tokenizer.json`); a path ending in `.onnx` is the file itself.
 */
export async function untrainFiles(model: string, out: string, seed: number): Promise<UntrainFilesResult> {
  const src = resolve(model);
  const isFile = existsSync(src) && statSync(src).isFile();
  let onnxIn: string;
  let tokenizerIn: string | undefined;
  if (isFile) {
    onnxIn = src;
    try {
      tokenizerIn = resolveModelFiles(src).tokenizerPath;
    } catch {
      tokenizerIn = undefined;
    }
  } else {
    const files = resolveModelFiles(src);
    onnxIn = files.onnxPath;
    tokenizerIn = files.tokenizerPath;
  }
  const dest = resolve(out);
  const onnxOut = dest.endsWith('.onnx') ? dest : join(dest, 'model.onnx');
  if (resolve(onnxOut) === onnxIn) throw new InputError(`refusing to overwrite the trained model ${onnxIn}`);
  const sourceSha256 = await sha256File(onnxIn);
  const { model: twin, report } = untrainModel(readModel(onnxIn), seed, sourceSha256);
  mkdirSync(dirname(onnxOut), { recursive: true });
  writeModel(onnxOut, twin);
  let tokenizerPath: string | undefined;
  if (tokenizerIn) {
    tokenizerPath = dest.endsWith('.onnx') ? join(dirname(onnxOut), `${basename(onnxOut, '.onnx')}-tokenizer.json`) : join(dest, 'tokenizer.json');
    copyFileSync(tokenizerIn, tokenizerPath);
  }
  return { ...report, onnxPath: onnxOut, ...(tokenizerPath ? { tokenizerPath } : {}), sourceSha256 };
}
