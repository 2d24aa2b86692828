// A tiny LLaVA-style vision-language model for tests, generated deterministically from a seed: the
// four ONNX parts a multimodal export splits a LLaVA into (opset 17, our own proto encoder), a
// WordLevel tokenizer.json whose vocabulary covers the fixture captions, preprocessor_config.json
// (CLIPImageProcessor style) and config.json (image token, feature selection, prompt template).
//
//   vision_encoder  (ViT, pre-norm, as CLIP's vision tower):
//       pixel_values B×3×S×S → patches = Conv(k = stride = patch) → B×P×dv   (P = (S/patch)²)
//       h₀ = LN_pre([cls; patches] + pos);  h ← h + Attn(LN₁ h);  h ← h + MLP(LN₂ h)
//       last_hidden_state = LN_post(h)                                 B×(1+P)×dv, CLS first
//   projector       (LLaVA-1.5's mlp2x_gelu):  image_embeds = W₂ GELU(W₁ x + b₁) + b₂   B×P×dl
//   embed_tokens    inputs_embeds = wte[input_ids]                                     B×T×dl
//   decoder_model   (GPT-2 style causal LM on inputs_embeds, pre-norm):
//       h₀ = inputs_embeds + wpe[0…T−1];  h ← h + Attn(LN₁ h) (causal + padding mask);
//       h ← h + MLP(LN₂ h);  logits = LN_f(h) · W_lm                                   B×T×V
// MLP = W₂ GELU(W₁ x + b₁) + b₂ (erf GELU). Weights ~ normal(0, std), each part from its own
// stream derived from the seed. Masked scores get −1e4 added: exp underflows to exactly 0 in
// float32, so padding never leaks into real positions.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, tensorValueInfo, writeFileAtomic } from './onnxProto.ts';
import { attrInt, attrInts, GraphBuilder } from './onnxGraphBuilder.ts';
import { VLM_PART_FILES as VLM_FILES } from '../multimodal/vlmConfig.ts';
import { normalSampler } from './tinyTransformer.ts';

export interface TinyVlmConfig {
  /** Square image side S in pixels (pixel_values is B×3×S×S). */
  imageSize: number;
  /** Patch side; S must be a multiple of it. P = (S / patch)² image tokens. */
  patchSize: number;
  /** Vision width dv, blocks and heads. */
  visionDim: number;
  visionLayers: number;
  visionHeads: number;
  /** LLM width dl (= embedding width), blocks and heads. */
  textDim: number;
  textLayers: number;
  textHeads: number;
  /** Output width of the projector; default textDim. Anything else makes a broken model (for error tests). */
  projectorDim?: number;
  /** LLM position table rows (longest image+text sequence); default 512. */
  maxPositions?: number;
  /** Std of the normal weights (default 0.2: larger than HF's 0.02 so layers differ visibly). */
  initStd?: number;
  /** LLaVA's vision_feature_select_strategy: `default` drops CLS, `full` keeps it. */
  selectStrategy?: 'default' | 'full';
  /** Where the image goes in the conversation; `<image>` and `{text}` once each. */
  promptTemplate?: string;
  seed: number;
}

export const TINY_VLM_PRESETS = {
  /** 32×32 images, patch 8: 16 image tokens; dv = 32, dl = 48. */
  'vlm-s32': {
    imageSize: 32, patchSize: 8, visionDim: 32, visionLayers: 2, visionHeads: 2,
    textDim: 48, textLayers: 2, textHeads: 2, seed: 21,
  },
  /** 64×64 images, patch 8: 64 image tokens; dv = 64, dl = 96. */
  'vlm-s64': {
    imageSize: 64, patchSize: 8, visionDim: 64, visionLayers: 3, visionHeads: 4,
    textDim: 96, textLayers: 3, textHeads: 4, seed: 22,
  },
} as const satisfies Record<string, TinyVlmConfig>;

export type TinyVlmPreset = keyof typeof TINY_VLM_PRESETS;

export const DEFAULT_PROMPT_TEMPLATE = 'USER: <image>\n{text} ASSISTANT:';

export interface TinyVlm {
  config: Required<TinyVlmConfig>;
  /** Image tokens per image: (S / patch)². */
  patches: number;
  /** Vocabulary size (rows of the embedding matrix). */
  vocab: number;
  visionEncoder: Uint8Array;
  projector: Uint8Array;
  embedTokens: Uint8Array;
  decoder: Uint8Array;
  tokenizerJson: string;
  preprocessorJson: string;
  configJson: string;
  /** The decoder tensors that hold each hidden state, by tap name (ground truth for onnxTaps). */
  decoderTaps: Record<string, string>;
}

const PRODUCER = 'entroscope.tinyVlm';
/** Metadata of every part: the resolved config. */
const metadata = (c: Required<TinyVlmConfig>) => ({ 'entroscope.tinyVlm': JSON.stringify(c) });

// ---- the four parts -------------------------------------------------------------------------------

function visionEncoder(c: Required<TinyVlmConfig>, seed: number): Uint8Array {
  const { imageSize: s, patchSize: k, visionDim: d } = c;
  const P = (s / k) ** 2;
  const g = new GraphBuilder(normalSampler(seed), c.initStd);
  // Patchify: a k×k convolution with stride k is a linear map of each non-overlapping patch.
  const conv = g.one('Conv', ['pixel_values', g.weight('patch_embed.weight', [d, 3, k, k]), g.weight('patch_embed.bias', [d])], [
    attrInts('kernel_shape', [k, k]),
    attrInts('strides', [k, k]),
  ]); // B×d×(s/k)×(s/k)
  const patches = g.one('Transpose', [g.one('Reshape', [conv, g.ints('patch_shape', [0, d, P])])], [attrInts('perm', [0, 2, 1])]); // B×P×d
  // CLS token, broadcast over the batch: Expand(cls, [B, 1, d]).
  const batch = g.one('Gather', [g.one('Shape', ['pixel_values']), g.ints('index_0', [0])], [attrInt('axis', 0)]);
  const clsShape = g.one('Concat', [batch, g.ints('one_by_d', [1, d])], [attrInt('axis', 0)]);
  const cls = g.one('Expand', [g.weight('cls_token', [1, 1, d]), clsShape]);
  const tokens = g.one('Concat', [cls, patches], [attrInt('axis', 1)]); // B×(1+P)×d
  let h = g.layerNorm(g.one('Add', [tokens, g.weight('position_embedding', [1 + P, d])]), 'pre_layernorm', d);
  for (let i = 0; i < c.visionLayers; i++) h = g.preNormBlock(h, `vision.block.${i}`, d, c.visionHeads);
  g.layerNorm(h, 'post_layernorm', d, 'last_hidden_state');
  return g.encode(
    PRODUCER,
    'tiny-vlm-vision-encoder',
    [tensorValueInfo('pixel_values', DataType.FLOAT, ['batch', 3, s, s])],
    [tensorValueInfo('last_hidden_state', DataType.FLOAT, ['batch', 1 + P, d])],
    metadata(c),
  );
}

function projector(c: Required<TinyVlmConfig>, seed: number): Uint8Array {
  const { visionDim: dv, projectorDim: dl } = c;
  const g = new GraphBuilder(normalSampler(seed), c.initStd);
  const u = g.linear('image_features', 'linear_1', dv, dl);
  g.linear(g.gelu(u), 'linear_2', dl, dl, 'image_embeds');
  return g.encode(
    PRODUCER,
    'tiny-vlm-projector',
    [tensorValueInfo('image_features', DataType.FLOAT, ['batch', 'patches', dv])],
    [tensorValueInfo('image_embeds', DataType.FLOAT, ['batch', 'patches', dl])],
    metadata(c),
  );
}

function embedTokens(c: Required<TinyVlmConfig>, seed: number, vocab: number): Uint8Array {
  const g = new GraphBuilder(normalSampler(seed), c.initStd);
  g.one('Gather', [g.weight('embed_tokens.weight', [vocab, c.textDim]), 'input_ids'], [attrInt('axis', 0)], 'inputs_embeds');
  return g.encode(
    PRODUCER,
    'tiny-vlm-embed-tokens',
    [tensorValueInfo('input_ids', DataType.INT64, ['batch', 'sequence'])],
    [tensorValueInfo('inputs_embeds', DataType.FLOAT, ['batch', 'sequence', c.textDim])],
    metadata(c),
  );
}

function decoder(c: Required<TinyVlmConfig>, seed: number, vocab: number): { onnx: Uint8Array; taps: Record<string, string> } {
  const d = c.textDim;
  const g = new GraphBuilder(normalSampler(seed), c.initStd);
  const taps: Record<string, string> = {};
  const seq = g.one('Gather', [g.one('Shape', ['inputs_embeds']), g.ints('one_scalar', [1], true)], [attrInt('axis', 0)]);
  const positions = g.one('Range', [g.ints('zero_scalar', [0], true), seq, 'one_scalar']);
  let h = g.one('Add', ['inputs_embeds', g.one('Gather', [g.weight('wpe', [c.maxPositions, d]), positions])]);
  taps.embeddings = h;

  // Additive attention bias b×1×s×s: 0 where attending is allowed, −1e4 for padding and the future.
  const bias = g.attentionBias('attention_mask', { seq, total: seq });

  for (let i = 0; i < c.textLayers; i++) {
    h = g.preNormBlock(h, `block.${i}`, d, c.textHeads, { bias });
    taps[`block.${i}`] = h;
  }
  const final = g.layerNorm(h, 'ln_f', d);
  taps.final = final;
  taps.last = final;
  g.one('MatMul', [final, g.weight('lm_head.weight', [d, vocab])], [], 'logits');
  const onnx = g.encode(
    PRODUCER,
    'tiny-vlm-decoder',
    [tensorValueInfo('inputs_embeds', DataType.FLOAT, ['batch', 'sequence', d]), tensorValueInfo('attention_mask', DataType.INT64, ['batch', 'sequence'])],
    [tensorValueInfo('logits', DataType.FLOAT, ['batch', 'sequence', vocab])],
    metadata(c),
  );
  return { onnx, taps };
}

// ---- tokenizer and JSON files ------------------------------------------------------------------

const SPECIALS = ['<pad>', '<unk>', '<s>', '</s>', '<image>'];
const PUNCT = ['.', ',', '!', '?', ';', ':', "'", '"', '(', ')', '-', '/'];
// Lower case: the tokenizer lowercases before lookup. Covers the prompt template and the words of
// generated shape/colour captions; order is the id order, so never reorder (append only).
const VLM_WORDS = (
  'user assistant system human gpt describe image picture photo shows show showing there is are it this that ' +
  'a an the of on in at with and or to from by its one two three four five six seven eight nine ten ' +
  'red green blue yellow white black purple orange gray grey pink brown cyan magenta dark light bright pale ' +
  'circle circles square squares triangle triangles stripe stripes striped rectangle rectangles dot dots ' +
  'line lines cross star ellipse shape shapes pattern checkerboard checkered grid gradient noise noisy ' +
  'background foreground colour color colours colors small large big tiny medium left right top bottom ' +
  'center centre middle corner corners upper lower half side above below next near over under ' +
  'horizontal vertical diagonal rotated upside down grayscale greyscale solid plain filled empty blank ' +
  'outline some many several what how where which do does see can you please detail details caption'
).split(' ');
const DIGITS = '0123456789'.split('');

/** The tokenizer's tokens in id order (specials first). Deterministic; duplicates removed. */
export function tinyVlmVocabulary(): string[] {
  return [...new Set([...SPECIALS, ...PUNCT, ...DIGITS, ...VLM_WORDS])];
}

/**
 * A causal WordLevel tokenizer.json: lowercase, whitespace/punctuation pre-tokenisation, `<s>`
 * prepended by the post-processor, `<image>` an added special token (so it is never split).
 */
export function tinyVlmTokenizerJson(): string {
  const tokens = tinyVlmVocabulary();
  const ids = Object.fromEntries(tokens.map((t, i) => [t, i]));
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((t) => ({ id: ids[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [ids['<s>']], tokens: ['<s>'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: ids, unk_token: '<unk>' },
  });
}

/** CLIPImageProcessor settings for an S×S model: resize shortest edge to S, centre-crop S×S, CLIP mean/std. */
export function tinyVlmPreprocessorJson(imageSize: number): string {
  return JSON.stringify(
    {
      image_processor_type: 'CLIPImageProcessor',
      do_resize: true,
      size: { shortest_edge: imageSize },
      resample: 3,
      do_center_crop: true,
      crop_size: { height: imageSize, width: imageSize },
      do_rescale: true,
      rescale_factor: 1 / 255,
      do_normalize: true,
      image_mean: [0.48145466, 0.4578275, 0.40821073],
      image_std: [0.26862954, 0.26130258, 0.27577711],
      do_convert_rgb: true,
    },
    null,
    2,
  );
}

// ---- public entry points -----------------------------------------------------------------------

function resolveConfig(config: TinyVlmConfig): Required<TinyVlmConfig> {
  const c: Required<TinyVlmConfig> = {
    projectorDim: config.textDim,
    maxPositions: 512,
    initStd: 0.2,
    selectStrategy: 'default',
    promptTemplate: DEFAULT_PROMPT_TEMPLATE,
    ...config,
  };
  if (!Number.isInteger(c.imageSize / c.patchSize)) throw new Error(`imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.visionDim % c.visionHeads !== 0) throw new Error(`visionDim ${c.visionDim} is not a multiple of visionHeads ${c.visionHeads}`);
  if (c.textDim % c.textHeads !== 0) throw new Error(`textDim ${c.textDim} is not a multiple of textHeads ${c.textHeads}`);
  return c;
}

/** Generates every file of the model folder in memory. Same config → same bytes. */
export function tinyVlm(config: TinyVlmConfig): TinyVlm {
  const c = resolveConfig(config);
  const vocab = tinyVlmVocabulary().length;
  // One independent weight stream per part, so changing one part's shape leaves the others alone.
  const seedOf = (part: number) => (Math.imul(c.seed >>> 0, 4) + part) >>> 0;
  const dec = decoder(c, seedOf(3), vocab);
  return {
    config: c,
    patches: (c.imageSize / c.patchSize) ** 2,
    vocab,
    visionEncoder: visionEncoder(c, seedOf(0)),
    projector: projector(c, seedOf(1)),
    embedTokens: embedTokens(c, seedOf(2), vocab),
    decoder: dec.onnx,
    tokenizerJson: tinyVlmTokenizerJson(),
    preprocessorJson: tinyVlmPreprocessorJson(c.imageSize),
    configJson: JSON.stringify(
      {
        model_type: 'llava',
        image_token: '<image>',
        vision_feature_select_strategy: c.selectStrategy,
        prompt_template: c.promptTemplate,
        image_size: c.imageSize,
        patch_size: c.patchSize,
        vision_hidden_size: c.visionDim,
        text_hidden_size: c.textDim,
      },
      null,
      2,
    ),
    decoderTaps: dec.taps,
  };
}

/** Writes the model folder (the files of vlmConfig's VLM_PART_FILES) into `dir`, each file atomically; returns what it wrote. */
export function writeTinyVlm(dir: string, preset: TinyVlmPreset | TinyVlmConfig): TinyVlm & { dir: string } {
  const m = tinyVlm(typeof preset === 'string' ? TINY_VLM_PRESETS[preset] : preset);
  mkdirSync(dir, { recursive: true });
  const text = (s: string) => new TextEncoder().encode(s);
  writeFileAtomic(join(dir, VLM_FILES.visionEncoder), m.visionEncoder);
  writeFileAtomic(join(dir, VLM_FILES.projector), m.projector);
  writeFileAtomic(join(dir, VLM_FILES.embedTokens), m.embedTokens);
  writeFileAtomic(join(dir, VLM_FILES.decoder), m.decoder);
  writeFileAtomic(join(dir, VLM_FILES.tokenizer), text(m.tokenizerJson));
  writeFileAtomic(join(dir, VLM_FILES.preprocessor), text(m.preprocessorJson));
  writeFileAtomic(join(dir, VLM_FILES.config), text(m.configJson));
  return { ...m, dir };
}
