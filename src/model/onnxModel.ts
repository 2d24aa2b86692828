// An ONNX transformer run by onnxruntime-node. Inputs are discovered from the graph (input_ids,
// attention_mask, token_type_ids, position_ids), not hard-coded. By default it returns the model's
// hidden-state output (`last_hidden_state`, else the first rank-3 float output that is not
// `logits`); with `layers` it runs a tapped copy of the graph (see onnxTaps.ts) and returns every
// requested layer, and with `logits` also the causal LM's logits. With `loss` it returns what the
// next-token loss needs: the log-probability of each next token, computed in the graph
// (nextTokenLogProbs.ts: the batch × sequence × vocab logits never leave onnxruntime), or, for
// graphs that rewrite does not apply to (`lossPath` says why), the logits for nextTokenLoss.ts.
//
// Decoders exported with a KV cache (`optimum-cli export onnx`: decoder_with_past_model.onnx,
// decoder_model_merged.onnx) also take past_key_values.{i}.key/value (batch × kv-heads × past ×
// head_dim) and, when merged, a bool `use_cache_branch` [1]. entroscope reads whole texts, so it
// feeds an empty past (past = 0: the attention_mask over past + current tokens is the mask of the
// current ones, positions start at 0) and use_cache_branch = false: the same computation as the
// plain decoder. heads and head_dim come from the input's static dims, else the present.{i}.*
// output's, else the config.json beside the model.
//
// Note: InferenceSession.run is a promise around a *synchronous* native call, so callers that must
// keep an event loop responsive (Temporal activities) run this inside a worker thread.
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.ts';
import { modelConfigPath, readModelConfig } from './modelConfig.ts';
import { configuredExecutionProvider } from './executionProvider.ts';
import { halfToFloat } from '../io/float16.ts';
import { modelTaps, tappedModel, type LayerTap } from './onnxTaps.ts';
import { NEXT_TOKEN_IDS, nextTokenIds, type LossPath } from './nextTokenLogProbs.ts';

const TOKEN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);
const PAST_INPUT = /^past_key_values\.(\d+)\.(key|value)$/;
const USE_CACHE_BRANCH = 'use_cache_branch';

/** An empty past for one past_key_values input: dims batch × heads × 0 × headDim. */
interface PastInput {
  name: string;
  type: 'float32' | 'float16';
  heads: number;
  headDim: number;
}

/** Hidden states of one batch: `hidden: batch×seqLen×dim` float32, row-major. */
export interface HiddenBatch {
  hidden: Float32Array;
  batch: number;
  seqLen: number;
  dim: number;
}

/** Logits of one batch: `logits: batch×seqLen×vocab` float32, row-major. */
export interface LogitsBatch {
  logits: Float32Array;
  batch: number;
  seqLen: number;
  vocab: number;
}

export interface LoadOptions {
  intraOpThreads?: number;
  /** Layer names (see onnxTaps.resolveLayers); default `['last']`. */
  layers?: readonly string[];
  /** Also return `logits` when the model has them. */
  logits?: boolean;
  /**
   * Return what the next-token loss needs, for models with logits: `nextTokenLogProbs` when the
   * graph can compute them (see the file comment), else `logits`.
   */
  loss?: boolean;
  /** Where tapped graphs are cached; default `$ENTROSCOPE_CACHE`. */
  cacheDir?: string;
  /**
   * onnxruntime graph optimisation; default `all`. Fusions change float rounding slightly, and for
   * int8 models a rounding flip before a requantisation moves outputs by ~1e-5 relative between
   * onnxruntime versions at `all`; `basic` gives results reproducible across versions.
   */
  graphOptimization?: GraphOptimization;
}

export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

/** Every requested layer (in `OnnxModel.layers` order) and, when asked for and present, the logits. */
export interface BatchOutputs {
  layers: HiddenBatch[];
  logits?: LogitsBatch;
  /** In-graph loss: `logProbs: batch×seqLen`, log p(id[b][t+1] | id[b][0…t]) at [b, t] (meaningless at a row's last token and in padding). */
  nextTokenLogProbs?: { logProbs: Float32Array; batch: number; seqLen: number };
}

/** A layer the model returns: its name (`last`, `block.3` …) and the graph tensor holding it. */
export type LayerOutput = Pick<LayerTap, 'name' | 'tensor'>;

export class OnnxModel {
  private constructor(
    readonly path: string,
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    /** Requested layers, in order; `run` returns the first. */
    readonly layers: readonly LayerOutput[],
    /** The logits output name, when requested and present. */
    readonly logitsOutput: string | undefined,
    /** The ONNX file actually loaded (a cached tapped copy when layers needed a rewrite). */
    readonly sessionPath: string,
    /** Dynamically quantised: batches are run one sample at a time (see ModelTaps.batchCoupled). */
    readonly batchCoupled: boolean,
    /** past_key_values inputs, fed empty (see the file comment). */
    readonly pastInputs: readonly PastInput[],
    /** The graph output of next-token log-probabilities (in-graph loss), when loaded with `loss` and the rewrite applies. */
    readonly nextTokenLogProbOutput: string | undefined,
    /** With `loss` on a model with logits: where the loss is computed, and why not in the graph. */
    readonly lossPath: LossPath | undefined,
  ) {}

  /** The tensor `run` returns (the first requested layer). */
  get hiddenOutput(): string {
    return this.layers[0].tensor;
  }

  static async load(path: string, opts: LoadOptions = {}): Promise<OnnxModel> {
    const layers = opts.layers && opts.layers.length > 0 ? opts.layers : ['last'];
    const listing = await modelTaps(path, { cacheDir: opts.cacheDir });
    const tapped = await tappedModel(path, layers, { cacheDir: opts.cacheDir, logits: opts.logits, loss: opts.loss, listing });
    const session = await createSession(tapped.path, opts.intraOpThreads, opts.graphOptimization);
    checkInputs(session, path);
    const pastInputs = pastInputsOf(session, path);
    const missing = tapped.taps.filter((t) => !session.outputNames.includes(t.tensor));
    if (missing.length > 0) {
      throw new InputError(`ONNX model ${tapped.path} lacks outputs ${missing.map((t) => `${t.tensor} (layer ${t.name})`).join(', ')}`);
    }
    return new OnnxModel(
      path,
      session,
      session.inputNames,
      tapped.taps.map((t) => ({ name: t.name, tensor: t.tensor })),
      // In-graph loss: the logits stay inside onnxruntime unless asked for themselves.
      tapped.nextTokenLogProb && !opts.logits ? undefined : tapped.logits,
      tapped.path,
      listing.taps.batchCoupled,
      pastInputs,
      tapped.nextTokenLogProb,
      tapped.loss,
    );
  }

  /** Runs one right-padded batch and returns the first requested layer (default: last). */
  async run(ids: number[][]): Promise<HiddenBatch> {
    return (await this.runAll(ids)).layers[0];
  }

  /** Runs one right-padded batch (padding positions get attention_mask 0); every requested output. */
  async runAll(ids: number[][]): Promise<BatchOutputs> {
    if (this.batchCoupled && ids.length > 1) return this.runOneByOne(ids);
    const batch = ids.length;
    const seqLen = Math.max(...ids.map((r) => r.length));
    const inputIds = new BigInt64Array(batch * seqLen);
    const mask = new BigInt64Array(batch * seqLen);
    const positions = new BigInt64Array(batch * seqLen);
    ids.forEach((row, b) => {
      row.forEach((id, t) => {
        inputIds[b * seqLen + t] = BigInt(id);
        mask[b * seqLen + t] = 1n;
        positions[b * seqLen + t] = BigInt(t);
      });
    });
    const dims = [batch, seqLen];
    const all: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputIds, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
      token_type_ids: new ort.Tensor('int64', new BigInt64Array(batch * seqLen), dims),
      position_ids: new ort.Tensor('int64', positions, dims),
    };
    for (const p of this.pastInputs) {
      all[p.name] = new ort.Tensor(p.type, p.type === 'float32' ? new Float32Array(0) : new Uint16Array(0), [batch, p.heads, 0, p.headDim]);
    }
    all[USE_CACHE_BRANCH] = new ort.Tensor('bool', new Uint8Array([0]), [1]);
    if (this.nextTokenLogProbOutput) all[NEXT_TOKEN_IDS] = new ort.Tensor('int64', nextTokenIds(ids, seqLen), [batch, seqLen, 1]);
    const feeds = Object.fromEntries(this.inputNames.map((n) => [n, all[n]]));
    const names = [
      ...new Set([...this.layers.map((l) => l.tensor), ...(this.logitsOutput ? [this.logitsOutput] : []), ...(this.nextTokenLogProbOutput ? [this.nextTokenLogProbOutput] : [])]),
    ];
    const out = await this.session.run(feeds, names);
    const read = (name: string) => {
      const tensor = out[name];
      const [b, s, d] = tensor.dims;
      if (tensor.dims.length !== 3 || b !== batch || s !== seqLen) {
        throw new InputError(`tensor ${name} of ${this.path} has shape [${tensor.dims.join(', ')}], expected [${batch}, ${seqLen}, d]`);
      }
      return { data: toFloat32(tensor, name, this.path), d };
    };
    const layers = this.layers.map((l) => {
      const { data, d } = read(l.tensor);
      return { hidden: data, batch, seqLen, dim: d };
    });
    const result: BatchOutputs = { layers };
    if (this.logitsOutput) {
      const { data, d } = read(this.logitsOutput);
      result.logits = { logits: data, batch, seqLen, vocab: d };
    }
    if (this.nextTokenLogProbOutput) {
      const { data, d } = read(this.nextTokenLogProbOutput);
      if (d !== 1) throw new InputError(`tensor ${this.nextTokenLogProbOutput} of ${this.sessionPath} has last dim ${d}, expected 1`);
      result.nextTokenLogProbs = { logProbs: data, batch, seqLen };
    }
    return result;
  }

  /** Each sample alone, assembled into one zero-padded batch (for batch-coupled models). */
  private async runOneByOne(ids: number[][]): Promise<BatchOutputs> {
    const batch = ids.length;
    const seqLen = Math.max(...ids.map((r) => r.length));
    const parts: BatchOutputs[] = [];
    for (const row of ids) parts.push(await this.runAll([row]));
    const stack = (pick: (p: BatchOutputs) => { data: Float32Array; s: number; d: number }) => {
      const d = pick(parts[0]).d;
      const data = new Float32Array(batch * seqLen * d);
      parts.forEach((p, b) => data.set(pick(p).data, b * seqLen * d));
      return { data, d };
    };
    const layers = this.layers.map((_, l) => {
      const { data, d } = stack((p) => ({ data: p.layers[l].hidden, s: p.layers[l].seqLen, d: p.layers[l].dim }));
      return { hidden: data, batch, seqLen, dim: d };
    });
    const result: BatchOutputs = { layers };
    if (this.logitsOutput) {
      const { data, d } = stack((p) => ({ data: p.logits!.logits, s: p.logits!.seqLen, d: p.logits!.vocab }));
      result.logits = { logits: data, batch, seqLen, vocab: d };
    }
    if (this.nextTokenLogProbOutput) {
      result.nextTokenLogProbs = { logProbs: stack((p) => ({ data: p.nextTokenLogProbs!.logProbs, s: p.nextTokenLogProbs!.seqLen, d: 1 })).data, batch, seqLen };
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

async function createSession(path: string, intraOpThreads = 1, level: GraphOptimization = 'all'): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path, {
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: level,
      executionProviders: [configuredExecutionProvider()],
      enableCpuMemArena: process.env.ENTROSCOPE_CPU_MEM_ARENA !== '0',
      // Pre-packed MatMul weights: a second, kernel-friendly copy of each weight matrix (~0.3 GB
      // for SmolLM2). ENTROSCOPE_ORT_PREPACK=0 saves that memory (BENCHMARKS.md: its cost in speed).
      ...(process.env.ENTROSCOPE_ORT_PREPACK === '0' ? { extra: { session: { disable_prepacking: '1' } } } : {}),
    });
  } catch (err) {
    throw new InputError(`cannot load ONNX model ${path}: ${(err as Error).message}`);
  }
}

function checkInputs(session: ort.InferenceSession, path: string): void {
  const known = (n: string) => TOKEN_INPUTS.has(n) || PAST_INPUT.test(n) || n === USE_CACHE_BRANCH || n === NEXT_TOKEN_IDS;
  const unknown = session.inputNames.filter((n) => !known(n));
  if (!session.inputNames.includes('input_ids') || unknown.length > 0) {
    throw new InputError(
      `ONNX model ${path} has inputs [${session.inputNames.join(', ')}]; entroscope feeds ` +
        `input_ids (required), attention_mask, token_type_ids, position_ids, past_key_values.{i}.key/value ` +
        `(empty) and use_cache_branch (false)` +
        (unknown.length ? ` — cannot feed: ${unknown.join(', ')}` : ''),
    );
  }
  const cache = session.inputMetadata.find((m) => m.name === USE_CACHE_BRANCH);
  if (cache?.isTensor && cache.type !== 'bool') {
    throw new InputError(`ONNX model ${path}: input ${USE_CACHE_BRANCH} is ${cache.type}, expected bool`);
  }
}

/**
 * Each past_key_values input with the dims of its empty past. heads (dim 1) and head_dim (dim 3)
 * from the input's own static dims, else from the matching present.{i}.{key|value} output, else
 * from config.json beside the model (num_key_value_heads or num_attention_heads; head_dim or
 * hidden_size / num_attention_heads); else an InputError naming the input.
 */
function pastInputsOf(session: ort.InferenceSession, path: string): PastInput[] {
  const outputs = new Map(session.outputMetadata.map((m) => [m.name, m]));
  let config: Record<string, unknown> | undefined;
  const fromConfig = (): { heads?: number; headDim?: number } => {
    config ??= readModelConfig(path) ?? {};
    const num = (k: string) => (typeof config![k] === 'number' ? (config![k] as number) : undefined);
    const attnHeads = num('num_attention_heads') ?? num('n_head');
    const hidden = num('hidden_size') ?? num('n_embd') ?? num('d_model');
    return {
      heads: num('num_key_value_heads') ?? attnHeads,
      headDim: num('head_dim') ?? (hidden !== undefined && attnHeads ? hidden / attnHeads : undefined),
    };
  };
  const fixed = (shape: ReadonlyArray<number | string> | undefined, i: number) =>
    typeof shape?.[i] === 'number' && (shape[i] as number) > 0 ? (shape[i] as number) : undefined;
  const past: PastInput[] = [];
  for (const meta of session.inputMetadata) {
    const match = PAST_INPUT.exec(meta.name);
    if (!match) continue;
    if (!meta.isTensor || (meta.type !== 'float32' && meta.type !== 'float16')) {
      throw new InputError(`ONNX model ${path}: input ${meta.name} must be a float32 or float16 tensor`);
    }
    const present = outputs.get(`present.${match[1]}.${match[2]}`);
    const presentShape = present?.isTensor ? present.shape : undefined;
    const heads = fixed(meta.shape, 1) ?? fixed(presentShape, 1) ?? fromConfig().heads;
    const headDim = fixed(meta.shape, 3) ?? fixed(presentShape, 3) ?? fromConfig().headDim;
    if (!heads || !headDim || !Number.isInteger(heads) || !Number.isInteger(headDim)) {
      throw new InputError(
        `ONNX model ${path}: cannot size the empty past for input ${meta.name} [${meta.shape.join(', ')}]: ` +
          `heads (dim 1) and head_dim (dim 3) are symbolic, present.${match[1]}.${match[2]} does not fix them, ` +
          `and ${modelConfigPath(path)} has no num_attention_heads with hidden_size or head_dim`,
      );
    }
    past.push({ name: meta.name, type: meta.type, heads, headDim });
  }
  return past;
}

/** float32 as is; float16 widened (IEEE 754 binary16). */
function toFloat32(tensor: ort.Tensor, name: string, path: string): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type === 'float16') {
    const src = new Uint16Array((tensor.data as Uint16Array).buffer, (tensor.data as Uint16Array).byteOffset, tensor.size);
    const out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]);
    return out;
  }
  throw new InputError(`tensor ${name} of ${path} is ${tensor.type}; hidden states must be float32 or float16`);
}
