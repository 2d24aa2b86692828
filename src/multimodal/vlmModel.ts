// A LLaVA-style vision-language model run by onnxruntime-node, from a model folder (vlmConfig.ts):
// four sessions (vision encoder, projector, token embedder, LLM decoder) and the tokenizer.
//
// Per sample (pixels: a preprocessed 3×H×W image, text), one batch at a time:
//   image tokens   F = select(vision_encoder(pixels))      P×dv  (`default` drops CLS, `full` keeps it)
//   projected      E = projector(F)                          P×dl
//   image+text     [embed(prefix ids); E; embed(suffix ids)] → LLM → hidden states at each layer, (a+P+b)×dl
//                  prefix = template text before the image token, tokenised WITH special tokens (BOS),
//                  suffix = template text after it, WITHOUT; `{text}` is the sample's (truncated) text
//   text alone     embed(ids of the text, with special tokens) → LLM → hidden states, n×dl (no template)
// Batches are padded on the right with attention_mask 0; only the real rows are returned, so padding
// never enters a metric. The LLM is loaded through onnxTaps.tappedModel, so any of its layers can be
// read (`layers`, default ['last']).
//
// maxTokens caps the sample text's own tokens (counted without special tokens and without the
// template): a longer text is cut after its maxTokens-th token (at that token's end in the text, so
// both sequences see the same cut) and counted as truncated.
//
// Note: InferenceSession.run blocks the calling thread; callers that must stay responsive (Temporal
// activities) run this inside a worker thread, as for text models.
import * as ort from 'onnxruntime-node';
import { Tokenizer } from 'tokenizers';
import { InputError } from '../errors.ts';
import type { HiddenMatrix } from '../metrics/multimodalAlignment.ts';
import type { GraphOptimization, LayerOutput } from '../model/onnxModel.ts';
import { modelTaps, tappedModel } from '../model/onnxTaps.ts';
import { checkTokenizerMatchesModel } from '../model/vocabCheck.ts';
import { inferenceFailure } from '../model/inferenceFailure.ts';
import { fillTextSlot, locateVlmParts, readVlmConfig, type VlmConfig, type VlmPaths } from './vlmConfig.ts';
import { tokenizeBounded } from '../data/textBound.ts';

/** Text tokens kept per caption when not asked for (counted without the template and the image). */
export const VLM_DEFAULT_MAX_TOKENS = 256;

export interface VlmLoadOptions {
  /** onnxruntime intra-op threads per session (default 1). */
  intraOpThreads?: number;
  /** LLM layers to return (onnxTaps.resolveLayers names); default ['last']. */
  layers?: readonly string[];
  /** onnxruntime graph optimisation for every part; default `all`. */
  graphOptimization?: GraphOptimization;
  /** Where the tapped LLM graph is cached; default `$ENTROSCOPE_CACHE`. */
  cacheDir?: string;
  /** Cap on the sample text's own tokens (see the file comment); default 256. */
  maxTokens?: number;
}

/** One image-text pair: `pixels` is a preprocessed image, 3×H×W channel-major float32, `(x/255 − mean)/std`. */
export interface VlmSample {
  pixels: Float32Array;
  text: string;
}

/** What the model computed for one sample. Matrices hold real tokens only. */
export interface VlmSampleHidden {
  /** P×dv: the image tokens the encoder hands to the projector (eRank1). */
  encoderImage: HiddenMatrix;
  /** P×dl: the projector's output (eRank2). */
  projectedImage: HiddenMatrix;
  /** Per requested LLM layer (VlmModel.layers order): the image+text sequence, (prefix+P+suffix)×dl. */
  imageText: HiddenMatrix[];
  /** Rows of `imageText` that are the image tokens. */
  imageSpan: { start: number; length: number };
  /** Per requested LLM layer: the text alone, with special tokens. */
  textAlone: HiddenMatrix[];
  /** Token counts: template prefix (with specials), suffix, text alone (with specials). */
  tokens: { prefix: number; image: number; suffix: number; textAlone: number };
  /** The text's own tokens after truncation (no special tokens, no template). */
  textTokens: number;
  /** The text was cut at maxTokens. */
  truncated: boolean;
}

const DECODER_INPUTS = new Set(['inputs_embeds', 'attention_mask', 'position_ids']);

type Dims = ReadonlyArray<number | string>;

function tensorMeta(session: ort.InferenceSession, name: string, kind: 'input' | 'output'): Dims | undefined {
  const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
  const m = list.find((x) => x.name === name);
  return m && m.isTensor ? m.shape : undefined;
}

async function createSession(path: string, threads: number, level: GraphOptimization): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: level });
  } catch (err) {
    throw new InputError(`cannot load ONNX model ${path}: ${(err as Error).message}`);
  }
}

/** The session must have these inputs and outputs; otherwise an InputError naming the file and tensors. */
function requireTensors(session: ort.InferenceSession, path: string, inputs: string[], outputs: string[]): void {
  const noIn = inputs.filter((n) => !session.inputNames.includes(n));
  const noOut = outputs.filter((n) => !session.outputNames.includes(n));
  if (noIn.length > 0 || noOut.length > 0) {
    throw new InputError(
      `ONNX model ${path} ` +
        [noIn.length ? `lacks input ${noIn.join(', ')} (has ${session.inputNames.join(', ')})` : '', noOut.length ? `lacks output ${noOut.join(', ')} (has ${session.outputNames.join(', ')})` : '']
          .filter(Boolean)
          .join(' and '),
    );
  }
}

const lastDim = (dims: Dims | undefined): number | undefined => {
  const d = dims?.[dims.length - 1];
  return typeof d === 'number' && d > 0 ? d : undefined;
};

function float32Output(out: ort.InferenceSession.OnnxValueMapType, name: string, path: string, want: Array<number | undefined>): { data: Float32Array; dims: number[] } {
  const t = out[name];
  if (t.type !== 'float32') throw new InputError(`tensor ${name} of ${path} is ${t.type}; expected float32`);
  const dims = [...t.dims];
  if (dims.length !== want.length || want.some((w, i) => w !== undefined && dims[i] !== w)) {
    throw new InputError(`tensor ${name} of ${path} has shape [${dims.join(', ')}], expected [${want.map((w) => w ?? '?').join(', ')}]`);
  }
  return { data: t.data as Float32Array, dims };
}

/** session.run, with the file and the input shapes named when onnxruntime fails. */
async function runPart(
  session: ort.InferenceSession,
  path: string,
  feeds: Record<string, ort.Tensor>,
  outputs: string[],
): Promise<ort.InferenceSession.OnnxValueMapType> {
  try {
    return await session.run(feeds, outputs);
  } catch (err) {
    const shapes = Object.entries(feeds).map(([n, t]) => `${n} [${t.dims.join(', ')}]`).join(', ');
    throw inferenceFailure(`onnxruntime failed running ${path} on ${shapes}`, err);
  }
}

interface TokenizedSample {
  prefix: number[];
  suffix: number[];
  text: number[];
  textTokens: number;
  truncated: boolean;
}

export class VlmModel {
  private constructor(
    readonly dir: string,
    readonly paths: VlmPaths,
    readonly config: VlmConfig,
    private readonly vision: ort.InferenceSession,
    private readonly projector: ort.InferenceSession,
    private readonly embed: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    /** Requested LLM layers, in order. */
    readonly layers: readonly LayerOutput[],
    /** LLM width dl (embedding rows' width). */
    readonly textDim: number | undefined,
    readonly maxTokens: number,
    /** The LLM quantises activations per batch: run it one sample at a time (see ModelTaps.batchCoupled). */
    private readonly decoderBatchCoupled: boolean,
  ) {}

  /** Opens and cross-checks every part of the folder (see the file comment of vlmConfig.ts). */
  static async load(dir: string, opts: VlmLoadOptions = {}): Promise<VlmModel> {
    const maxTokens = opts.maxTokens ?? VLM_DEFAULT_MAX_TOKENS;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new InputError(`maxTokens must be a positive integer, got ${maxTokens}`);
    const paths = locateVlmParts(dir);
    const config = readVlmConfig(paths);
    checkTokenizerMatchesModel(paths.tokenizer, paths.embedTokens);
    let tokenizer: Tokenizer;
    try {
      tokenizer = Tokenizer.fromFile(paths.tokenizer);
    } catch (err) {
      throw new InputError(`cannot read tokenizer ${paths.tokenizer}: ${(err as Error).message}`);
    }
    tokenizer.disablePadding();
    tokenizer.disableTruncation();

    const threads = opts.intraOpThreads ?? 1;
    const level = opts.graphOptimization ?? 'all';
    const layers = opts.layers && opts.layers.length > 0 ? opts.layers : ['last'];
    const listing = await modelTaps(paths.decoder, { cacheDir: opts.cacheDir });
    const tapped = await tappedModel(paths.decoder, layers, { cacheDir: opts.cacheDir, listing });
    const opened = await Promise.allSettled(
      [paths.visionEncoder, paths.projector, paths.embedTokens, tapped.path].map((p) => createSession(p, threads, level)),
    );
    const sessions = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await Promise.all(sessions.map((s) => s.release()));
      throw failed.reason;
    }
    const [vision, projector, embed, decoder] = sessions;
    try {
      requireTensors(vision, paths.visionEncoder, ['pixel_values'], ['last_hidden_state']);
      requireTensors(projector, paths.projector, ['image_features'], ['image_embeds']);
      requireTensors(embed, paths.embedTokens, ['input_ids'], ['inputs_embeds']);
      requireTensors(decoder, paths.decoder, ['inputs_embeds'], tapped.taps.map((t) => t.tensor));
      const unknown = decoder.inputNames.filter((n) => !DECODER_INPUTS.has(n));
      if (unknown.length > 0) {
        throw new InputError(`ONNX model ${paths.decoder} has inputs [${decoder.inputNames.join(', ')}]; entroscope feeds inputs_embeds, attention_mask, position_ids — cannot feed: ${unknown.join(', ')}`);
      }
      const textDim = checkWidths(paths, config, { vision, projector, embed, decoder });
      return new VlmModel(
        dir,
        paths,
        config,
        vision,
        projector,
        embed,
        decoder,
        tokenizer,
        tapped.taps.map((t) => ({ name: t.name, tensor: t.tensor })),
        textDim,
        maxTokens,
        listing.taps.batchCoupled,
      );
    } catch (err) {
      await Promise.all(sessions.map((s) => s.release()));
      throw err;
    }
  }

  /** H×W the pixel tensors must have. */
  get imageSize(): { height: number; width: number } {
    return { height: this.config.imageHeight, width: this.config.imageWidth };
  }

  /** Runs one batch of samples; the caller picks the batch size. */
  async runSamples(samples: readonly VlmSample[]): Promise<VlmSampleHidden[]> {
    if (samples.length === 0) return [];
    const B = samples.length;
    const { imageHeight: H, imageWidth: W } = this.config;
    samples.forEach((s, i) => {
      if (!(s.pixels instanceof Float32Array) || s.pixels.length !== 3 * H * W) {
        throw new InputError(`sample ${i}: pixels must be a Float32Array of 3×${H}×${W} = ${3 * H * W} values (from ${this.paths.preprocessor}), got ${s.pixels?.length}`);
      }
      const bad = s.pixels.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new InputError(`sample ${i}: pixel value ${bad} is ${s.pixels[bad]}`);
      if (typeof s.text !== 'string') throw new InputError(`sample ${i}: text must be a string`);
    });

    // Image tokens: encoder → select → projector.
    const pixels = new Float32Array(B * 3 * H * W);
    samples.forEach((s, i) => pixels.set(s.pixels, i * 3 * H * W));
    const vOut = await runPart(this.vision, this.paths.visionEncoder, { pixel_values: new ort.Tensor('float32', pixels, [B, 3, H, W]) }, ['last_hidden_state']);
    const enc = float32Output(vOut, 'last_hidden_state', this.paths.visionEncoder, [B, undefined, undefined]);
    const [, S, dv] = enc.dims;
    const skip = this.config.selectStrategy === 'default' ? 1 : 0;
    const P = S - skip;
    if (P < 1) throw new InputError(`${this.paths.visionEncoder}: last_hidden_state has ${S} tokens, none left after dropping CLS`);
    const features = new Float32Array(B * P * dv);
    for (let b = 0; b < B; b++) features.set(enc.data.subarray((b * S + skip) * dv, (b + 1) * S * dv), b * P * dv);
    const pOut = await runPart(this.projector, this.paths.projector, { image_features: new ort.Tensor('float32', features, [B, P, dv]) }, ['image_embeds']);
    const proj = float32Output(pOut, 'image_embeds', this.paths.projector, [B, P, undefined]);
    const dl = proj.dims[2];
    if (this.textDim !== undefined && dl !== this.textDim) throw this.widthError(dl, this.textDim);

    // Token embeddings of every piece: rows 3b, 3b+1, 3b+2 = prefix, suffix, text of sample b.
    const tok = await Promise.all(samples.map((s) => this.tokenize(s.text)));
    const pieces = tok.flatMap((t) => [t.prefix, t.suffix, t.text]);
    const L = Math.max(1, ...pieces.map((p) => p.length));
    const ids = new BigInt64Array(pieces.length * L);
    pieces.forEach((p, r) => p.forEach((id, t) => (ids[r * L + t] = BigInt(id))));
    const eOut = await runPart(this.embed, this.paths.embedTokens, { input_ids: new ort.Tensor('int64', ids, [pieces.length, L]) }, ['inputs_embeds']);
    const emb = float32Output(eOut, 'inputs_embeds', this.paths.embedTokens, [pieces.length, L, undefined]);
    if (emb.dims[2] !== dl) throw this.widthError(dl, emb.dims[2]);
    const embRows = (r: number, n: number) => emb.data.subarray(r * L * dl, (r * L + n) * dl);

    // Image+text: [prefix; image; suffix], and the text alone.
    const joint = tok.map((t, b) => [embRows(3 * b, t.prefix.length), proj.data.subarray(b * P * dl, (b + 1) * P * dl), embRows(3 * b + 1, t.suffix.length)]);
    const alone = tok.map((t, b) => [embRows(3 * b + 2, t.text.length)]);
    const [jointHidden, aloneHidden] = [await this.runDecoder(joint, dl), await this.runDecoder(alone, dl)];

    return tok.map((t, b) => ({
      encoderImage: { data: features.slice(b * P * dv, (b + 1) * P * dv), rows: P, cols: dv },
      projectedImage: { data: proj.data.slice(b * P * dl, (b + 1) * P * dl), rows: P, cols: dl },
      imageText: jointHidden.map((layer) => layer[b]),
      imageSpan: { start: t.prefix.length, length: P },
      textAlone: aloneHidden.map((layer) => layer[b]),
      tokens: { prefix: t.prefix.length, image: P, suffix: t.suffix.length, textAlone: t.text.length },
      textTokens: t.textTokens,
      truncated: t.truncated,
    }));
  }

  async release(): Promise<void> {
    await Promise.all([this.vision, this.projector, this.embed, this.decoder].map((s) => s.release()));
  }

  /** The sample's text cut at maxTokens, and the token ids of the template pieces and the text alone. */
  private async tokenize(text: string): Promise<TokenizedSample> {
    // Given only a bounded prefix of a long text (src/data/textBound.ts): the same tokens, cut.
    const [own] = await tokenizeBounded(
      [text],
      this.maxTokens,
      (texts) => Promise.all(texts.map((t) => this.tokenizer.encode(t, null, { addSpecialTokens: false }))),
      (e) => e.getLength() > this.maxTokens,
    );
    let kept = text;
    let textTokens = own.getLength();
    const truncated = textTokens > this.maxTokens;
    if (truncated) {
      // Offsets count Unicode code points of the original text (not UTF-16 units).
      const end = own.getOffsets()[this.maxTokens - 1][1];
      kept = Array.from(text).slice(0, end).join('');
      textTokens = this.maxTokens;
    }
    const ids = async (s: string, special: boolean) => (await this.tokenizer.encode(s, null, { addSpecialTokens: special })).getIds();
    return {
      prefix: await ids(fillTextSlot(this.config.promptBefore, kept), true),
      suffix: await ids(fillTextSlot(this.config.promptAfter, kept), false),
      text: await ids(kept, true),
      textTokens,
      truncated,
    };
  }

  /**
   * Runs the LLM on sequences given as row blocks of embeddings (each block n×dl), right-padded into
   * one batch; returns per layer, per sequence, its real rows.
   */
  private async runDecoder(seqs: Float32Array[][], dl: number): Promise<HiddenMatrix[][]> {
    if (this.decoderBatchCoupled && seqs.length > 1) {
      const parts: HiddenMatrix[][][] = [];
      for (const s of seqs) parts.push(await this.runDecoder([s], dl));
      return this.layers.map((_, l) => parts.map((p) => p[l][0]));
    }
    const lengths = seqs.map((blocks) => blocks.reduce((n, x) => n + x.length / dl, 0));
    const B = seqs.length;
    const T = Math.max(1, ...lengths);
    const x = new Float32Array(B * T * dl);
    const mask = new BigInt64Array(B * T);
    const positions = new BigInt64Array(B * T);
    seqs.forEach((blocks, b) => {
      let off = b * T * dl;
      for (const block of blocks) {
        x.set(block, off);
        off += block.length;
      }
      for (let t = 0; t < lengths[b]; t++) {
        mask[b * T + t] = 1n;
        positions[b * T + t] = BigInt(t);
      }
    });
    const all: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', x, [B, T, dl]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
      position_ids: new ort.Tensor('int64', positions, [B, T]),
    };
    const feeds = Object.fromEntries(this.decoder.inputNames.map((n) => [n, all[n]]));
    const out = await runPart(this.decoder, this.paths.decoder, feeds, [...new Set(this.layers.map((l) => l.tensor))]);
    return this.layers.map((layer) => {
      const h = float32Output(out, layer.tensor, this.paths.decoder, [B, T, undefined]);
      const d = h.dims[2];
      return lengths.map((n, b) => ({ data: h.data.slice(b * T * d, (b * T + n) * d), rows: n, cols: d }));
    });
  }

  private widthError(projectorDim: number, textDim: number): InputError {
    return new InputError(
      `projector ${this.paths.projector} outputs image_embeds of width ${projectorDim}, but the LLM's token embeddings ` +
        `(${this.paths.embedTokens} inputs_embeds) have width ${textDim}: the projector does not belong to this LLM`,
    );
  }
}

/**
 * Static shape checks from the graphs' declared dims (symbolic dims are checked at run time):
 * encoder H×W vs the preprocessor, encoder width vs projector input, projector output vs the
 * LLM embedding width (embed_tokens output and decoder inputs_embeds). Returns dl when known.
 */
function checkWidths(
  paths: VlmPaths,
  config: VlmConfig,
  s: { vision: ort.InferenceSession; projector: ort.InferenceSession; embed: ort.InferenceSession; decoder: ort.InferenceSession },
): number | undefined {
  const pixelDims = tensorMeta(s.vision, 'pixel_values', 'input');
  if (pixelDims && pixelDims.length === 4) {
    const [, c, h, w] = pixelDims;
    const fixed = (v: number | string) => typeof v === 'number' && v > 0;
    if ((fixed(c) && c !== 3) || (fixed(h) && h !== config.imageHeight) || (fixed(w) && w !== config.imageWidth)) {
      throw new InputError(
        `${paths.visionEncoder} takes pixel_values of shape [${pixelDims.join(', ')}] but ${paths.preprocessor} makes 3×${config.imageHeight}×${config.imageWidth} images`,
      );
    }
  }
  const dvEnc = lastDim(tensorMeta(s.vision, 'last_hidden_state', 'output'));
  const dvProj = lastDim(tensorMeta(s.projector, 'image_features', 'input'));
  if (dvEnc !== undefined && dvProj !== undefined && dvEnc !== dvProj) {
    throw new InputError(
      `vision encoder ${paths.visionEncoder} outputs last_hidden_state of width ${dvEnc}, but projector ${paths.projector} takes image_features of width ${dvProj}`,
    );
  }
  const dlProj = lastDim(tensorMeta(s.projector, 'image_embeds', 'output'));
  const dlEmbed = lastDim(tensorMeta(s.embed, 'inputs_embeds', 'output'));
  const dlDec = lastDim(tensorMeta(s.decoder, 'inputs_embeds', 'input'));
  if (dlEmbed !== undefined && dlDec !== undefined && dlEmbed !== dlDec) {
    throw new InputError(`token embedder ${paths.embedTokens} outputs inputs_embeds of width ${dlEmbed}, but decoder ${paths.decoder} takes inputs_embeds of width ${dlDec}`);
  }
  const dl = dlEmbed ?? dlDec;
  if (dlProj !== undefined && dl !== undefined && dlProj !== dl) {
    throw new InputError(
      `projector ${paths.projector} outputs image_embeds of width ${dlProj}, but the LLM's token embeddings ` +
        `(${dlEmbed !== undefined ? `${paths.embedTokens} inputs_embeds` : `${paths.decoder} inputs_embeds`}) have width ${dl}: the projector does not belong to this LLM`,
    );
  }
  return dl ?? dlProj;
}
