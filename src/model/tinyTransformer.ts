// Tiny transformers for tests, generated deterministically from a seed: the ONNX graph (written with
// our own proto encoder, opset 17) and a matching WordLevel tokenizer.json.
//
//   causal  (GPT-2 style, pre-norm): inputs input_ids, attention_mask → output logits.
//           h₀ = wte[ids] + wpe[pos];  h ← h + Attn(LN₁ h) (causal + padding mask);
//           h ← h + MLP(LN₂ h);  logits = LN_f(h) · W_lm
//   encoder (BERT style, post-norm): inputs input_ids, attention_mask, token_type_ids →
//           last_hidden_state.  h₀ = LN(wte[ids] + wpe[pos] + tte[types]);
//           h ← LN₁(h + Attn(h)) (padding mask);  h ← LN₂(h + MLP(h))
// MLP = W₂ GELU(W₁ x + b₁) + b₂ (erf GELU). Weights ~ normal(0, std) from mulberry32(seed).
// Masked scores get −1e4 added: exp underflows to exactly 0 in float32, so padding never leaks.
//
// Causal models may take past key/values as an `optimum-cli export onnx` decoder does
// (`pastKeyValues`): inputs past_key_values.{i}.key/value (batch × heads × past × head_dim), an
// attention_mask over past + current tokens, outputs present.{i}.key/value = concat(past, K/V)
// along the sequence axis; positions and the causal mask are offset by past = dim 2 of
// past_key_values.0.key. 'merged' adds optimum's bool `use_cache_branch` [1], consumed by an `If`
// per K and V: then → concat(past, K), else → K alone (past ignored). optimum's merged export puts
// the whole decoder in the two branches; ours keeps only the choice inside them, which computes
// the same thing and keeps the branches tiny. The weights are drawn in the same order whatever
// `pastKeyValues` is, so the same seed gives the same weights with and without past inputs.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../metrics/prng.ts';
import {
  AttributeType,
  DataType,
  encodeModel,
  float32Tensor,
  int64Tensor,
  tensorValueInfo,
  writeFileAtomic,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnxProto.ts';

export interface TinyTransformerConfig {
  kind: 'causal' | 'encoder';
  vocab: number;
  dModel: number;
  layers: number;
  heads: number;
  /** MLP width (default 4 × dModel). */
  dFF?: number;
  maxPositions?: number;
  /** Std of the normal weights (default 0.2: larger than HF's 0.02 so layers differ visibly). */
  initStd?: number;
  /**
   * Causal only: past key/value inputs as optimum exports them (see the file comment); `none`
   * (default), `inputs` (decoder_with_past_model.onnx) or `merged` (decoder_model_merged.onnx).
   */
  pastKeyValues?: PastKeyValues;
  seed: number;
}

export type PastKeyValues = 'none' | 'inputs' | 'merged';

export const TINY_PRESETS = {
  'causal-d32-l2': { kind: 'causal', vocab: 128, dModel: 32, layers: 2, heads: 2, seed: 1 },
  'causal-d64-l4': { kind: 'causal', vocab: 256, dModel: 64, layers: 4, heads: 4, seed: 2 },
  'encoder-d32-l2': { kind: 'encoder', vocab: 128, dModel: 32, layers: 2, heads: 2, seed: 3 },
  'encoder-d64-l3': { kind: 'encoder', vocab: 300, dModel: 64, layers: 3, heads: 4, seed: 4 },
} as const satisfies Record<string, TinyTransformerConfig>;

export interface TinyModel {
  config: Required<TinyTransformerConfig>;
  onnx: Uint8Array;
  tokenizerJson: string;
  /** The tensors that hold each hidden state, by tap name (ground truth for onnxTaps). */
  taps: Record<string, string>;
}

/** Normal draws (Box–Muller, both branches) from a 32-bit seed. */
export function normalSampler(seed: number): () => number {
  const rng = mulberry32(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const t = 2 * Math.PI * rng();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private count = 0;
  constructor(private readonly normal: () => number, private readonly std: number) {}

  node(op: string, inputs: string[], attrs: AttributeProto[] = [], name?: string, outputs = 1): string[] {
    const base = name ?? `${op}_${this.count++}`;
    const outs = Array.from({ length: outputs }, (_, i) => (name && i === 0 ? name : `${base}_out${i}`));
    this.nodes.push({ op_type: op, name: base, input: inputs, output: outs, attribute: attrs });
    return outs;
  }
  one(op: string, inputs: string[], attrs: AttributeProto[] = [], name?: string): string {
    return this.node(op, inputs, attrs, name)[0];
  }
  weight(name: string, dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.inits.push(float32Tensor(name, dims, Float32Array.from({ length: n }, () => this.std * this.normal())));
    return name;
  }
  fill(name: string, dims: number[], value: number): string {
    this.inits.push(float32Tensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value)));
    return name;
  }
  ints(name: string, values: number[], scalar = false): string {
    this.inits.push(int64Tensor(name, scalar ? [] : [values.length], values));
    return name;
  }
  linear(x: string, prefix: string, dIn: number, dOut: number): string {
    const mm = this.one('MatMul', [x, this.weight(`${prefix}.weight`, [dIn, dOut])]);
    return this.one('Add', [mm, this.weight(`${prefix}.bias`, [dOut])]);
  }
  layerNorm(x: string, prefix: string, d: number, name?: string): string {
    const scale = this.fill(`${prefix}.weight`, [d], 1);
    const bias = this.fill(`${prefix}.bias`, [d], 0);
    return this.one('LayerNormalization', [x, scale, bias], [attrFloat('epsilon', 1e-5), attrInt('axis', -1)], name);
  }
}

const attrInt = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
const attrFloat = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });
const attrInts = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });
/** A subgraph attribute (AttributeType GRAPH = 5; onnxProto types only the fields it reads). */
const graphAttr = (name: string, graph: GraphProto): AttributeProto => ({ name, type: 5, g: graph }) as AttributeProto;

export function tinyTransformer(config: TinyTransformerConfig): TinyModel {
  const c: Required<TinyTransformerConfig> = {
    dFF: 4 * config.dModel,
    maxPositions: 128,
    initStd: 0.2,
    pastKeyValues: 'none',
    ...config,
  };
  const { dModel: d, heads, vocab } = c;
  if (d % heads !== 0) throw new Error(`dModel ${d} is not a multiple of heads ${heads}`);
  const dh = d / heads;
  const causal = c.kind === 'causal';
  const pkv = c.pastKeyValues;
  if (pkv !== 'none' && !causal) throw new Error(`pastKeyValues '${pkv}' needs a causal model`);
  const g = new GraphBuilder(normalSampler(c.seed), c.initStd);
  const taps: Record<string, string> = {};

  // Embeddings: token + position (+ token type).
  const shape = g.one('Shape', ['input_ids']);
  const seq = g.one('Gather', [shape, g.ints('one_scalar', [1], true)], [attrInt('axis', 0)]);
  // With past key/values: positions past … past+seq−1, past = dim 2 of past_key_values.0.key.
  const past =
    pkv === 'none'
      ? undefined
      : g.one('Gather', [g.one('Shape', ['past_key_values.0.key']), g.ints('two_scalar', [2], true)], [attrInt('axis', 0)]);
  const total = past === undefined ? seq : g.one('Add', [past, seq]);
  const positions = g.one('Range', [past ?? g.ints('zero_scalar', [0], true), total, 'one_scalar']);
  const tok = g.one('Gather', [g.weight('wte', [vocab, d]), 'input_ids']);
  const pos = g.one('Gather', [g.weight('wpe', [c.maxPositions, d]), positions]);
  let h = g.one('Add', [tok, pos]);
  if (!causal) h = g.one('Add', [h, g.one('Gather', [g.weight('tte', [2, d]), 'token_type_ids'])]);
  if (!causal) h = g.layerNorm(h, 'embeddings.ln', d);
  taps.embeddings = h;

  // Additive attention bias: 0 where attending is allowed, −1e4 elsewhere.
  const keep = g.one('Cast', ['attention_mask'], [attrInt('to', DataType.FLOAT)]);
  const negInf = g.fill('mask_value', [], -1e4);
  const oneF = g.fill('one_float', [], 1);
  const padBias = g.one('Unsqueeze', [g.one('Mul', [g.one('Sub', [oneF, keep]), negInf]), g.ints('axes_1_2', [1, 2])]);
  let bias = padBias; // b×1×1×(past+s)
  if (causal) {
    // Query i (absolute position past+i) sees key j iff j ≤ past + i: the lower triangle of a
    // s×(past+s) matrix of ones, shifted right by past (Trilu's k).
    const seq1 = g.one('Unsqueeze', [seq, g.ints('axes_0', [0])]);
    const total1 = past === undefined ? seq1 : g.one('Unsqueeze', [total, 'axes_0']);
    const ones = g.one('ConstantOfShape', [g.one('Concat', [seq1, total1], [attrInt('axis', 0)])], [
      { name: 'value', type: AttributeType.TENSOR, t: float32Tensor('value', [1], [1]) },
    ]);
    const lower = g.one('Trilu', past === undefined ? [ones] : [ones, past], [attrInt('upper', 0)]);
    bias = g.one('Add', [bias, g.one('Mul', [g.one('Sub', [oneF, lower]), negInf])]); // b×1×s×(past+s)
  }
  const headShape = g.ints('head_shape', [0, 0, heads, dh]);
  const modelShape = g.ints('model_shape', [0, 0, d]);
  const invSqrt = g.fill('inv_sqrt_dh', [], 1 / Math.sqrt(dh));
  const halfF = g.fill('half_float', [], 0.5);
  const invSqrt2 = g.fill('inv_sqrt_2', [], 1 / Math.SQRT2);

  // K/V with the past in front (b×heads×(past+s)×dh), named as optimum names the present outputs.
  const withPast = (layer: number, kind: 'key' | 'value', cur: string): string => {
    const pastName = `past_key_values.${layer}.${kind}`;
    const present = `present.${layer}.${kind}`;
    if (pkv === 'inputs') return g.one('Concat', [pastName, cur], [attrInt('axis', 2)], present);
    // merged: If(use_cache_branch) then concat(past, cur) else cur (the branches read outer names).
    const branch = (name: string, node: NodeProto): GraphProto => ({
      name,
      node: [node],
      initializer: [],
      input: [],
      output: [tensorValueInfo(node.output[0], DataType.FLOAT, ['batch', heads, '?', dh])],
    });
    const thenOut = `${present}.with_past`;
    const elseOut = `${present}.without_past`;
    return g.one('If', ['use_cache_branch'], [
      graphAttr('then_branch', branch(`${present}.then`, { op_type: 'Concat', input: [pastName, cur], output: [thenOut], attribute: [attrInt('axis', 2)] })),
      graphAttr('else_branch', branch(`${present}.else`, { op_type: 'Identity', input: [cur], output: [elseOut] })),
    ], present);
  };
  const attention = (x: string, p: string, layer: number): string => {
    const split = (t: string, perm: number[]) => g.one('Transpose', [g.one('Reshape', [t, headShape])], [attrInts('perm', perm)]);
    const q = split(g.linear(x, `${p}.q`, d, d), [0, 2, 1, 3]);
    let k: string;
    let v: string;
    if (pkv === 'none') {
      k = split(g.linear(x, `${p}.k`, d, d), [0, 2, 3, 1]);
      v = split(g.linear(x, `${p}.v`, d, d), [0, 2, 1, 3]);
    } else {
      const kAll = withPast(layer, 'key', split(g.linear(x, `${p}.k`, d, d), [0, 2, 1, 3]));
      k = g.one('Transpose', [kAll], [attrInts('perm', [0, 1, 3, 2])]);
      v = withPast(layer, 'value', split(g.linear(x, `${p}.v`, d, d), [0, 2, 1, 3]));
    }
    const scores = g.one('Add', [g.one('Mul', [g.one('MatMul', [q, k]), invSqrt]), bias]);
    const probs = g.one('Softmax', [scores], [attrInt('axis', -1)]);
    const ctx = g.one('Transpose', [g.one('MatMul', [probs, v])], [attrInts('perm', [0, 2, 1, 3])]);
    return g.linear(g.one('Reshape', [ctx, modelShape]), `${p}.o`, d, d);
  };
  const mlp = (x: string, p: string): string => {
    const u = g.linear(x, `${p}.fc1`, d, c.dFF);
    const gelu = g.one('Mul', [g.one('Mul', [u, halfF]), g.one('Add', [oneF, g.one('Erf', [g.one('Mul', [u, invSqrt2])])])]);
    return g.linear(gelu, `${p}.fc2`, c.dFF, d);
  };

  for (let i = 0; i < c.layers; i++) {
    const p = `block.${i}`;
    const lastBlock = i === c.layers - 1;
    if (causal) {
      h = g.one('Add', [h, attention(g.layerNorm(h, `${p}.ln1`, d), `${p}.attn`, i)]);
      h = g.one('Add', [h, mlp(g.layerNorm(h, `${p}.ln2`, d), `${p}.mlp`)]);
    } else {
      h = g.layerNorm(g.one('Add', [h, attention(h, `${p}.attn`, i)]), `${p}.ln1`, d);
      h = g.layerNorm(g.one('Add', [h, mlp(h, `${p}.mlp`)]), `${p}.ln2`, d, lastBlock ? 'last_hidden_state' : undefined);
    }
    taps[p] = h;
  }
  const outputs = [];
  if (causal) {
    const final = g.layerNorm(h, 'ln_f', d);
    taps.final = final;
    taps.last = final;
    g.one('MatMul', [final, g.weight('lm_head.weight', [d, vocab])], [], 'logits');
    outputs.push(tensorValueInfo('logits', DataType.FLOAT, ['batch', 'sequence', vocab]));
    if (pkv !== 'none') {
      for (let i = 0; i < c.layers; i++) {
        for (const kind of ['key', 'value']) {
          outputs.push(tensorValueInfo(`present.${i}.${kind}`, DataType.FLOAT, ['batch', heads, 'past_sequence + sequence', dh]));
        }
      }
    }
  } else {
    taps.last = h;
    outputs.push(tensorValueInfo('last_hidden_state', DataType.FLOAT, ['batch', 'sequence', d]));
  }

  const inputs = [
    tensorValueInfo('input_ids', DataType.INT64, ['batch', 'sequence']),
    tensorValueInfo('attention_mask', DataType.INT64, ['batch', pkv === 'none' ? 'sequence' : 'past_sequence + sequence']),
    ...(causal ? [] : [tensorValueInfo('token_type_ids', DataType.INT64, ['batch', 'sequence'])]),
  ];
  if (pkv !== 'none') {
    for (let i = 0; i < c.layers; i++) {
      for (const kind of ['key', 'value']) {
        inputs.push(tensorValueInfo(`past_key_values.${i}.${kind}`, DataType.FLOAT, ['batch', heads, 'past_sequence', dh]));
      }
    }
    if (pkv === 'merged') inputs.push(tensorValueInfo('use_cache_branch', DataType.BOOL, [1]));
  }
  // The config as metadata; `pastKeyValues: 'none'` left out so plain models keep their bytes.
  const { pastKeyValues, ...plain } = c;
  const model: ModelProto = {
    ir_version: 8,
    opset_import: [{ domain: '', version: 17 }],
    producer_name: 'entroscope.tinyTransformer',
    producer_version: '1',
    graph: {
      name: `tiny-${c.kind}`,
      node: g.nodes,
      initializer: g.inits,
      input: inputs,
      output: outputs,
    },
    metadata_props: [{ key: 'entroscope.tiny', value: JSON.stringify(pastKeyValues === 'none' ? plain : c) }],
  };
  return { config: c, onnx: encodeModel(model), tokenizerJson: tinyTokenizerJson(c.kind, vocab), taps };
}

/** Writes `model.onnx` and `tokenizer.json` into `dir` (a model folder entroscope accepts). */
export function writeTinyTransformer(dir: string, config: TinyTransformerConfig): TinyModel & { onnxPath: string; tokenizerPath: string } {
  const m = tinyTransformer(config);
  mkdirSync(dir, { recursive: true });
  const onnxPath = join(dir, 'model.onnx');
  const tokenizerPath = join(dir, 'tokenizer.json');
  writeFileAtomic(onnxPath, m.onnx);
  writeFileAtomic(tokenizerPath, new TextEncoder().encode(m.tokenizerJson));
  return { ...m, onnxPath, tokenizerPath };
}

const WORDS = (
  'the of and to a in is it you that he was for on are with as i his they be at one have this from ' +
  'or had by not word but what some we can out other were all there when up use your how said an each ' +
  'she which do their time if will way about many then them write would like so these her long make ' +
  'thing see him two has look more day could go come did number sound no most people my over know ' +
  'water than call first who may down side been now find any new work part take get place made live ' +
  'where after back little only round man year came show every good me give our under name very ' +
  'through just form sentence great think say help low line differ turn cause much mean before move ' +
  'right boy old too same tell does set three want air well also play small end put home read hand ' +
  'port large spell add even land here must big high such follow act why ask men change went light ' +
  'kind off need house picture try us again animal point mother world near build self earth father ' +
  'cat dog sat mat matrix entropy model layer hello quick brown fox jumps lazy'
).split(' ');
const PUNCT = ['.', ',', '!', '?', ';', ':', "'", '"', '(', ')', '-'];

/** A WordLevel tokenizer.json over `vocab` ids: 4 specials, punctuation, common words, then w0, w1, …. */
export function tinyTokenizerJson(kind: 'causal' | 'encoder', vocab: number): string {
  const specials = kind === 'causal' ? ['<pad>', '<unk>', '<s>', '</s>'] : ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
  const tokens = [...specials, ...PUNCT, ...WORDS];
  for (let i = 0; tokens.length < vocab; i++) tokens.push(`w${i}`);
  tokens.length = vocab;
  const ids = Object.fromEntries(tokens.map((t, i) => [t, i]));
  const special = (t: string) => ({ SpecialToken: { id: t, type_id: 0 } });
  const seqA = { Sequence: { id: 'A', type_id: 0 } };
  const seqB = { Sequence: { id: 'B', type_id: kind === 'causal' ? 0 : 1 } };
  const [, unk, first, second] = specials;
  const template =
    kind === 'causal'
      ? { single: [special(first), seqA], pair: [special(first), seqA, seqB] }
      : { single: [special(first), seqA, special(second)], pair: [special(first), seqA, special(second), seqB, special(second)] };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t, id) => ({ id, content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      ...template,
      special_tokens: Object.fromEntries(
        (kind === 'causal' ? [first] : [first, second]).map((t) => [t, { id: t, ids: [ids[t]], tokens: [t] }]),
      ),
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: ids, unk_token: unk },
  });
}
