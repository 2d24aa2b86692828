// The untrained twin of a model (DESIGN §1 step 7): the same graph, its weights re-initialised the
// way Hugging Face `PreTrainedModel._init_weights` does for the architecture, from a recorded seed:
//
//   ≥2-D float initialisers read as weights (MatMul/Gemm/Conv operands, Gather tables = embeddings,
//     Add operands)                                 → normal(0, σ), σ = config.json initializer_range
//                                                     (init_std for OPT; default 0.02); GPT-2's and
//                                                     GPTBigCode's c_proj weights σ/√(2·n_layer), as
//                                                     their _init_weights
//   the word embedding's padding row (config pad_token_id; not GPT-2, GPT-NeoX, GPT-J, GPT-Neo,
//     CodeGen, GPTBigCode, BLOOM, Falcon, MPT, which set no padding_idx)   → zeros
//   norm scales γ (found as norms, or a 1-D weight of a module named *norm* / ln_* / LayerNorm)
//                                                   → ones
//   norm biases β and every other 1-D float initialiser (linear biases)    → zeros
//   an LM head that equals the (transposed) embedding in the source: tied → the twin's embedding again
//   scalars, integer/bool tensors (shapes, indices, position ids), and float tensors with no
//     weight-like consumer (mask buffers, rotary tables, constants)         → kept as they are
// float32, float64 and float16 initialisers are re-initialised alike. The module an initialiser
// belongs to is its own dotted name (`model.layers.0.input_layernorm.weight`) or, for exporter
// names (`onnx::MatMul_123`), the path in its consumer node's name (`/model/layers.0/mlp/up_proj/MatMul`).
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
import { readModelConfig } from './modelConfig.ts';
import { sha256 } from '../io/hash.ts';
import { externalFilesOf, modelIdentity, tensorData, withInlineData, writeModelWithExternalData } from './externalData.ts';
import { resolveModelFiles } from './modelRef.ts';
import { normalSampler } from '../metrics/prng.ts';
import { normParameters } from './normParameters.ts';
import { floatToHalf } from '../io/float16.ts';
import {
  DataType,
  getMetadata,
  readModel,
  setMetadata,
  tensorDims,
  tensorSize,
  tensorToFloat64,
  writeModel,
  type ModelProto,
  type TensorProto,
} from './onnxProto.ts';

export const UNTRAIN_RULE =
  'hf-default-init/v2: normal(0,initializer_range|init_std|0.02) for >=2-D float weights (MatMul/Gemm/Conv/Gather/Add operands), ' +
  'GPT-2/GPTBigCode c_proj std/sqrt(2*n_layer), embedding padding row zero; ones for norm scales; zeros for norm biases and other 1-D ' +
  'float biases; tied LM heads stay tied; scalars, integer tensors and other constants kept; per-tensor stream seeded by sha256(seed:name)';

export const INIT_STD = 0.02;

const WEIGHT_CONSUMERS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose', 'Gather', 'Add']);
const QUANTISED_CONSUMERS = new Set(['MatMulInteger', 'ConvInteger', 'DequantizeLinear', 'QLinearMatMul', 'QLinearConv', 'MatMulIntegerToFloat', 'DynamicQuantizeMatMul']);

export type InitRule = 'normal' | 'ones' | 'zeros' | 'tied' | 'kept';

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

/** What of the model's config.json the initialisation reads (HF's `config`). */
export interface InitConfig {
  model_type?: string;
  initializer_range?: number;
  init_std?: number;
  n_layer?: number;
  num_hidden_layers?: number;
  pad_token_id?: number | null;
  tie_word_embeddings?: boolean;
}

const FLOAT_INITS = new Set<number>([DataType.FLOAT, DataType.DOUBLE, DataType.FLOAT16]);
const NORM_MODULE = /(^|\.)(\w*norm\w*|ln_\w+|ln\d*)\.(weight|bias)$/i;
/** Architectures whose word embedding has no padding_idx (modeling_*.py: nn.Embedding(vocab, d)). */
const NO_PADDING_IDX = new Set(['gpt2', 'gpt_neox', 'gptj', 'gpt_neo', 'codegen', 'gpt_bigcode', 'bloom', 'falcon', 'mpt']);
/** Architectures whose _init_weights scales the residual projections c_proj by 1/√(2·n_layer). */
const SCALED_C_PROJ = new Set(['gpt2', 'gpt_bigcode']);

/** The HF parameter path of an initialiser: its own dotted name, else its consumer's module path. */
export function modulePath(model: ModelProto, name: string): string {
  if (/^[A-Za-z_][\w]*(\.[\w]+)+$/.test(name)) return name;
  const consumer = model.graph.node.find((n) => n.input.includes(name) && n.name);
  if (!consumer?.name) return name;
  const parts = consumer.name.split('/').filter(Boolean);
  return `${parts.slice(0, -1).join('.')}.weight`;
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
    const float = FLOAT_INITS.has(t.data_type ?? 0);
    if (!float || tensorSize(t) <= 1) {
      rules.set(name, 'kept');
      continue;
    }
    const rank = tensorDims(t).filter((d) => d > 1).length;
    const path = rank < 2 ? modulePath(model, name) : '';
    if (scales.has(name) || (rank < 2 && NORM_MODULE.test(path) && path.endsWith('.weight'))) rules.set(name, 'ones');
    else if (biases.has(name)) rules.set(name, 'zeros');
    else if (!ops.some((o) => WEIGHT_CONSUMERS.has(o))) rules.set(name, 'kept');
    else rules.set(name, rank >= 2 ? 'normal' : 'zeros');
  }
  return rules;
}

function draw(t: TensorProto, rule: 'normal' | 'ones' | 'zeros', seed: number, std: number): Float64Array {
  const n = tensorSize(t);
  const values = new Float64Array(n);
  if (rule === 'ones') values.fill(1);
  if (rule === 'normal') {
    const normal = normalSampler(tensorSeed(seed, t.name ?? ''));
    for (let i = 0; i < n; i++) values[i] = std * normal();
  }
  return values;
}

/** `t` with `values` as its data, in its own float type (raw_data; name, dims, type kept). */
function withValues(t: TensorProto, values: Float64Array): TensorProto {
  let raw: Uint8Array;
  if (t.data_type === DataType.DOUBLE) raw = new Uint8Array(values.buffer);
  else if (t.data_type === DataType.FLOAT16) raw = new Uint8Array(Uint16Array.from(values, floatToHalf).buffer);
  else raw = new Uint8Array(Float32Array.from(values).buffer);
  return { ...t, raw_data: raw, float_data: [], double_data: [], int32_data: [], data_location: 0, external_data: [] };
}

/** The untrained twin of `model` (a new ModelProto; the input is not modified). */
export function untrainModel(
  model: ModelProto,
  seed: number,
  sourceSha256?: string,
  config: InitConfig = {},
  /** Reads a tensor's values as stored (external data: externalData.ts withInlineData). */
  read: (t: TensorProto) => TensorProto = (t) => t,
): { model: ModelProto; report: UntrainReport } {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new InputError(`seed must be an integer in 0…2^32−1, got ${seed}`);
  if (getMetadata(model, 'entroscope.untrained.seed') !== undefined) {
    throw new InputError('this model is already an untrained twin (metadata entroscope.untrained.seed is set)');
  }
  const std = config.initializer_range ?? config.init_std ?? INIT_STD;
  const layers = config.n_layer ?? config.num_hidden_layers;
  const rules = initRules(model);
  const embedding = wordEmbedding(model);
  const tied = config.tie_word_embeddings === false || !embedding ? new Map<string, boolean>() : tiedHeads(model, embedding, read);
  for (const name of tied.keys()) rules.set(name, 'tied');
  const padRow = embedding && typeof config.pad_token_id === 'number' && !NO_PADDING_IDX.has(config.model_type ?? '') ? config.pad_token_id : undefined;
  const counts: Record<InitRule, number> = { normal: 0, ones: 0, zeros: 0, tied: 0, kept: 0 };
  let parameters = 0;
  const fresh = new Map<string, Float64Array>();
  const initializer = model.graph.initializer.map((t) => {
    const name = t.name ?? '';
    const rule = rules.get(name) ?? 'kept';
    counts[rule]++;
    if (rule === 'kept' || rule === 'tied') return t;
    parameters += tensorSize(t);
    const scaled = SCALED_C_PROJ.has(config.model_type ?? '') && layers && rule === 'normal' && /c_proj\.weight$/.test(modulePath(model, name));
    const values = draw(t, rule, seed, scaled ? std / Math.sqrt(2 * layers) : std);
    if (name === embedding && padRow !== undefined) {
      const d = tensorDims(t)[1];
      if (padRow * d < values.length) values.fill(0, padRow * d, (padRow + 1) * d);
    }
    if (name === embedding) fresh.set(name, values);
    return withValues(t, values);
  });
  // Tied heads: the twin's embedding again, transposed when the head is stored d × V.
  const twinInits = initializer.map((t) => {
    const transposed = tied.get(t.name ?? '');
    if (transposed === undefined) return t;
    const e = fresh.get(embedding!)!;
    const [V, d] = tensorDims(model.graph.initializer.find((x) => x.name === embedding)!);
    if (!transposed) return withValues(t, e);
    const out = new Float64Array(e.length);
    for (let v = 0; v < V; v++) for (let j = 0; j < d; j++) out[j * V + v] = e[v * d + j];
    return withValues(t, out);
  });
  const twin: ModelProto = { ...model, graph: { ...model.graph, initializer: twinInits } };
  setMetadata(twin, 'entroscope.untrained.seed', String(seed));
  setMetadata(twin, 'entroscope.untrained.rule', UNTRAIN_RULE);
  if (sourceSha256) setMetadata(twin, 'entroscope.untrained.source_sha256', sourceSha256);
  return { model: twin, report: { seed, rule: UNTRAIN_RULE, counts, parameters } };
}

/** The word-embedding table: the Gather table indexed by `input_ids` (through casts). */
function wordEmbedding(model: ModelProto): string | undefined {
  const inits = new Set(model.graph.initializer.map((t) => t.name ?? ''));
  const ids = new Set(['input_ids']);
  for (const n of model.graph.node) {
    if ((n.op_type === 'Cast' || n.op_type === 'Identity') && ids.has(n.input[0])) ids.add(n.output[0]);
    if (n.op_type === 'Gather' && inits.has(n.input[0]) && ids.has(n.input[1])) return n.input[0];
  }
  return undefined;
}

/**
 * LM heads tied to the embedding in the source: 2-D initialisers other than the embedding whose
 * values equal it (V × d) or its transpose (d × V). Name → stored transposed.
 */
function tiedHeads(model: ModelProto, embedding: string, read: (t: TensorProto) => TensorProto): Map<string, boolean> {
  const e = model.graph.initializer.find((t) => t.name === embedding)!;
  const [V, d] = tensorDims(e);
  const ev = tensorToFloat64(read(e));
  const out = new Map<string, boolean>();
  for (const t of model.graph.initializer) {
    if (t.name === embedding || !FLOAT_INITS.has(t.data_type ?? 0)) continue;
    const dims = tensorDims(t);
    if (dims.length !== 2 || dims[0] * dims[1] !== V * d) continue;
    const transposed = dims[0] === d && dims[1] === V && d !== V;
    if (!transposed && !(dims[0] === V && dims[1] === d)) continue;
    const tv = tensorToFloat64(read(t));
    let same = true;
    for (let v = 0; v < V && same; v++) for (let j = 0; j < d && same; j++) same = ev[v * d + j] === tv[transposed ? j * V + v : v * d + j];
    if (same) out.set(t.name ?? '', transposed);
  }
  return out;
}

/** config.json beside a model, as the initialisation reads it ({} when there is none). */
export function initConfig(onnxPath: string): InitConfig {
  const c = (readModelConfig(onnxPath) ?? {}) as InitConfig & { text_config?: InitConfig };
  return { ...c, ...(c.text_config ?? {}) };
}

/** Files beside a model that describe it (copied beside its twin so the twin is read the same way). */
const SIDE_FILES = ['config.json', 'generation_config.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export interface UntrainFilesResult extends UntrainReport {
  onnxPath: string;
  /** The twin's external data file (beside onnxPath), when the source keeps its weights outside the graph. */
  dataPath?: string;
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
  const source = readModel(onnxIn);
  const sourceSha256 = (await modelIdentity(onnxIn, { model: source })).sha256;
  const external = externalFilesOf(source).length > 0;
  const { model: twin, report } = untrainModel(source, seed, sourceSha256, initConfig(onnxIn), (t) => withInlineData(t, onnxIn));
  mkdirSync(dirname(onnxOut), { recursive: true });
  // A source with external data gets a twin with external data (one file beside it): a model
  // over 2 GB cannot be one protobuf.
  let dataPath: string | undefined;
  if (external) {
    dataPath = join(dirname(onnxOut), `${basename(onnxOut)}_data`);
    writeModelWithExternalData(onnxOut, twin, basename(dataPath), (t) => tensorData(t, onnxIn));
  } else writeModel(onnxOut, twin);
  if (!dest.endsWith('.onnx')) {
    for (const f of SIDE_FILES) if (existsSync(join(dirname(onnxIn), f))) copyFileSync(join(dirname(onnxIn), f), join(dest, f));
  }
  let tokenizerPath: string | undefined;
  if (tokenizerIn) {
    tokenizerPath = dest.endsWith('.onnx') ? join(dirname(onnxOut), `${basename(onnxOut, '.onnx')}-tokenizer.json`) : join(dest, 'tokenizer.json');
    copyFileSync(tokenizerIn, tokenizerPath);
  }
  return { ...report, onnxPath: onnxOut, ...(dataPath ? { dataPath } : {}), ...(tokenizerPath ? { tokenizerPath } : {}), sourceSha256 };
}
