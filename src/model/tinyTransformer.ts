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
import { normalSampler } from '../metrics/prng.ts';
import { DataType, tensorValueInfo, writeFileAtomic, type AttributeProto, type GraphProto, type NodeProto } from './onnxProto.ts';
import { attrInt, GraphBuilder, type AttentionOptions } from './onnxGraphBuilder.ts';

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

export { normalSampler };

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

  // Additive attention bias: 0 where attending is allowed, −1e4 elsewhere (b×1×s×(past+s) causal).
  const bias = g.attentionBias('attention_mask', causal ? { seq, total, past } : undefined);
  // One set of attention and GELU constants for all blocks, made before them (the builder would
  // make them on first use, inside block 0; here they keep the initialiser order, so the bytes).
  g.ints('head_shape', [0, 0, heads, dh]);
  g.ints('model_shape', [0, 0, d]);
  g.constant('inv_sqrt_dh', 1 / Math.sqrt(dh));
  g.constant('half_float', 0.5);
  g.constant('inv_sqrt_2', 1 / Math.SQRT2);

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
  // Block `layer`'s attention: the shared constants and bias, and with past inputs K/V with the past in front.
  const attentionOf = (layer: number): AttentionOptions => ({
    bias,
    constants: '',
    withPast: pkv === 'none' ? undefined : (kind, cur) => withPast(layer, kind, cur),
  });

  for (let i = 0; i < c.layers; i++) {
    const p = `block.${i}`;
    const lastBlock = i === c.layers - 1;
    if (causal) {
      h = g.preNormBlock(h, p, d, heads, { ...attentionOf(i), dFF: c.dFF });
    } else {
      h = g.layerNorm(g.one('Add', [h, g.attention(h, `${p}.attn`, d, heads, attentionOf(i))]), `${p}.ln1`, d);
      h = g.layerNorm(g.one('Add', [h, g.mlp(h, `${p}.mlp`, d, c.dFF)]), `${p}.ln2`, d, lastBlock ? 'last_hidden_state' : undefined);
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
  const onnx = g.encode('entroscope.tinyTransformer', `tiny-${c.kind}`, inputs, outputs, {
    'entroscope.tiny': JSON.stringify(pastKeyValues === 'none' ? plain : c),
  });
  return { config: c, onnx, tokenizerJson: tinyTokenizerJson(c.kind, vocab), taps };
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
