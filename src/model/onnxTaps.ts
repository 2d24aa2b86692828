// Hidden-state taps: which tensors of an ONNX transformer are the "hidden states" Hugging Face's
// `output_hidden_states` would return, found from the graph alone, and a rewrite that exposes them
// as extra graph outputs (cached by model hash) so no re-export is needed.
//
// Found by data flow, not by op patterns: the residual stream is walked through its residual
// additions (residualStream.ts), so exporter details (no-op Casts, Identity, Constant nodes,
// decomposed norms, int8 and fp16 graphs) do not hide it. Names and Hugging Face indices:
//   embeddings  = hidden_states[0]  (the stream before the first block)
//   block.i     = hidden_states[i+1] for i < L−1: the stream after block i
//   block.{L−1} = the stream after the last block; pre-norm models: before the final norm (no HF index)
//   final       = hidden_states[L] of pre-norm models: after the final norm (the LM head's input)
//   last        = the model's hidden-state output (`last_hidden_state`), else `final`
// A tensor can also be named directly: `tensor:NAME`.
//
// Merged KV-cache decoders (optimum's decoder_model_merged.onnx) hide the decoder inside an `If` on
// the graph input `use_cache_branch`. OnnxModel always feeds it false, so before the analysis and
// in the rewrite such an If is replaced by its else_branch (see withoutCacheBranch): the graph then
// computes what the session computes, with its tensors in the top-level graph where taps can reach.
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { readModelConfig, positiveIntegerOf } from './modelConfig.ts';
import { sha256 } from '../io/hash.ts';
import { externalFilesOf, modelIdentity } from './externalData.ts';
import { DataFlow, lmHeadInput, residualStream } from './residualStream.ts';
import { prunePlan, writePrunedModelFile } from './pruneGraph.ts';
import { IN_GRAPH_LOSS_VERSION, NEXT_TOKEN_LOGPROB, inGraphLossPlan, nextTokenLogProbNodes, type LossPath } from './nextTokenLogProbs.ts';
import {
  DataType,
  appendToModelFile,
  decodeModel,
  encodeModel,
  readModel,
  tensorValueInfo,
  valueInfoDims,
  valueInfoElemType,
  writeFileAtomic,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type ValueInfoProto,
} from './onnxProto.ts';

export interface LayerTap {
  /** `embeddings`, `block.0` … `block.{L-1}`, `final`, or `last`. */
  name: string;
  /** The graph tensor holding it. */
  tensor: string;
  /** batch × sequence × hidden; symbolic dims as the graph names them. */
  shape: Array<number | string>;
  /** TensorProto data type (1 = float32). */
  elemType: number;
  /** Already a graph output (no rewrite needed to read it). */
  isOutput: boolean;
  /** Its index in Hugging Face's `output_hidden_states`, when it has one. */
  hfIndex?: number;
}

export interface ModelTaps {
  taps: LayerTap[];
  /** Attention blocks found (0 when the structure was not recognised). */
  blocks: number;
  /** `post-norm`, `pre-norm`, or `unknown` (only `last` offered). */
  layout: 'post-norm' | 'pre-norm' | 'unknown';
  /** The logits output, for causal LMs. */
  logits?: string;
  /**
   * The graph quantises activations dynamically (DynamicQuantizeLinear: one scale per tensor,
   * taken over the whole batch), so a sample's outputs depend on what else is in its batch and on
   * the padding: such models must run one sample at a time to be batch-size invariant.
   */
  batchCoupled: boolean;
  /** Why no layers were found (layout `unknown`). */
  diagnosis?: string;
}

const ATTENTION_OPS = new Set(['Softmax', 'Attention', 'MultiHeadAttention', 'GroupQueryAttention']);
const DYNAMIC_QUANT_OPS = new Set(['DynamicQuantizeLinear', 'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM']);

/** The hidden width: of the token embedding table (a Gather of an initialiser by input_ids), else of `inputs_embeds`. */
function embeddingWidth(graph: GraphProto): number | undefined {
  const dims = new Map(graph.initializer.map((t) => [t.name ?? '', (t.dims ?? []).map(Number)]));
  const table = graph.node.find((n) => n.op_type === 'Gather' && n.input[1] === 'input_ids' && dims.get(n.input[0])?.length === 2);
  if (table) return dims.get(table.input[0])![1];
  // Decoders fed embeddings (a vision-language model's LLM): the width of `inputs_embeds`.
  const embeds = graph.input.find((i) => i.name === 'inputs_embeds');
  const width = embeds && valueInfoDims(embeds)?.[2];
  return typeof width === 'number' ? width : undefined;
}

/** The model's own hidden-state output, as OnnxModel has always chosen it. */
function hiddenOutput(graph: GraphProto): { name: string; dims?: Array<number | string>; elemType?: number } | undefined {
  const rank3 = graph.output.filter((o) => {
    const dims = valueInfoDims(o);
    const t = valueInfoElemType(o);
    return o.name !== 'logits' && (t === undefined || t === DataType.FLOAT || t === DataType.FLOAT16) && (dims === undefined || dims.length === 3);
  });
  const o = rank3.find((x) => x.name === 'last_hidden_state') ?? rank3[0];
  return o && { name: o.name, dims: valueInfoDims(o), elemType: valueInfoElemType(o) };
}

/** A GraphProto-valued attribute (onnxProto types only the attribute fields it reads itself). */
type GraphAttribute = AttributeProto & { g?: GraphProto };

/**
 * `model` with every `If` whose condition is the graph input `use_cache_branch` replaced by its
 * else_branch (the branch taken when the input is false, as OnnxModel feeds it): the branch's
 * nodes and initialisers move to the top-level graph and an Identity maps each branch output to
 * the If's output of the same position. The input itself stays (the session is still fed it).
 * Returns `model` unchanged when it has no such If.
 */
export function withoutCacheBranch(model: ModelProto): ModelProto {
  const graph = model.graph;
  const isCacheIf = (n: NodeProto) => n.op_type === 'If' && n.input[0] === 'use_cache_branch' && graph.input.some((i) => i.name === 'use_cache_branch');
  if (!graph.node.some(isCacheIf)) return model;
  const node: NodeProto[] = [];
  const initializer = [...graph.initializer];
  for (const n of graph.node) {
    if (!isCacheIf(n)) {
      node.push(n);
      continue;
    }
    const branch = (n.attribute as GraphAttribute[] | undefined)?.find((a) => a.name === 'else_branch')?.g;
    if (!branch) throw new InputError(`If node ${n.name ?? ''} on use_cache_branch has no else_branch`);
    node.push(...branch.node);
    initializer.push(...(branch.initializer ?? []));
    n.output.forEach((out, k) => {
      const from = branch.output[k]?.name;
      if (out && from) node.push({ op_type: 'Identity', name: `${n.name ?? 'If'}/else/${k}`, input: [from], output: [out] });
    });
  }
  return { ...model, graph: { ...graph, node, initializer } };
}

/** What the graph alone cannot say: the block count and width from the model's config.json. */
export interface TapHints {
  /** `num_hidden_layers` (or n_layer, num_layers). */
  blocks?: number;
  /** `hidden_size` (or n_embd, d_model). */
  hiddenSize?: number;
}

/**
 * Lists the hidden-state taps a model offers, numbered as Hugging Face's output_hidden_states:
 * the residual stream is walked through its additions (residualStream.ts), grouped into blocks
 * (additions per block = additions / blocks, blocks from config.json or the attention ops), and
 * the last index is the final hidden state (the LM head's input or `last_hidden_state`).
 */
export function findTaps(model: ModelProto, hints: TapHints = {}): ModelTaps {
  const graph = withoutCacheBranch(model).graph;
  const flow = new DataFlow(graph);
  const outputs = new Set(graph.output.map((o) => o.name));
  const logits = graph.output.find((o) => o.name === 'logits')?.name;
  const inputIds = graph.input.find((i) => i.name === 'input_ids') ?? graph.input[0];
  const [batchDim, seqDim] = (inputIds && valueInfoDims(inputIds)) ?? ['batch', 'sequence'];
  const hidden = hiddenOutput(graph);
  const hiddenSize = hints.hiddenSize ?? (typeof hidden?.dims?.[2] === 'number' ? hidden.dims[2] : undefined) ?? embeddingWidth(graph) ?? 'hidden';
  const tap = (name: string, tensor: string, hfIndex?: number): LayerTap => ({
    name,
    tensor,
    shape: [batchDim, seqDim, hiddenSize],
    elemType: flow.types.get(tensor) ?? DataType.FLOAT,
    isOutput: outputs.has(tensor),
    ...(hfIndex !== undefined ? { hfIndex } : {}),
  });

  const stream = residualStream(flow);
  const attentionOps = graph.node.filter((n) => ATTENTION_OPS.has(n.op_type)).length;
  const blocks = hints.blocks ?? attentionOps;
  const blocksFrom = hints.blocks !== undefined ? 'config.json' : `${attentionOps} attention ops (Softmax / Attention)`;
  const finalTensor = hidden?.name ?? (logits ? lmHeadInput(flow, logits) : undefined);
  const R = stream.additions;
  const perBlock = blocks > 0 && R > 0 && R % blocks === 0 ? R / blocks : 0;
  let layout: ModelTaps['layout'] = 'unknown';
  let diagnosis: string | undefined;
  const taps: LayerTap[] = [];
  if (perBlock > 0) {
    layout = stream.postNorm ? 'post-norm' : 'pre-norm';
    taps.push(tap('embeddings', stream.states[0], 0));
    for (let i = 0; i < blocks; i++) {
      const last = i === blocks - 1;
      if (layout === 'post-norm' && last) taps.push(tap(`block.${i}`, finalTensor ?? stream.states[R], blocks));
      else {
        // A pre-norm model's last residual is not an HF hidden state when a final norm follows it.
        const hasFinal = layout === 'pre-norm' && finalTensor !== undefined && finalTensor !== stream.states[R];
        taps.push(tap(`block.${i}`, stream.states[perBlock * (i + 1)], last && hasFinal ? undefined : i + 1));
      }
    }
    if (layout === 'pre-norm' && finalTensor && finalTensor !== stream.states[R]) taps.push(tap('final', finalTensor, blocks));
  } else {
    diagnosis =
      R === 0
        ? 'no residual addition (Add(x, f(x))) found in the graph'
        : `found ${R} residual additions starting at ${stream.states[0]}, which do not divide into ${blocks} blocks (from ${blocksFrom})`;
  }
  if (finalTensor) taps.push({ ...tap('last', finalTensor), ...(hidden?.dims ? { shape: hidden.dims } : {}) });
  const batchCoupled = graph.node.some((n) => DYNAMIC_QUANT_OPS.has(n.op_type));
  return {
    taps,
    blocks: layout === 'unknown' ? 0 : blocks,
    layout,
    ...(logits ? { logits } : {}),
    batchCoupled,
    ...(diagnosis ? { diagnosis } : {}),
  };
}

/**
 * Resolves a layer request to taps: `last`, `all` (every distinct tap: embeddings, blocks, final),
 * tap names, Hugging Face hidden_states indices (`0` = embeddings, `i` = output of block i−1, the
 * last index = `final`, after the final norm), or `tensor:NAME` (any graph tensor, checked when
 * the graph is rewritten). An unknown name is an InputError listing the names that exist.
 */
export function resolveLayers(model: ModelTaps, requested: readonly string[], source: string): LayerTap[] {
  const byName = new Map(model.taps.map((t) => [t.name, t]));
  const byIndex = new Map(model.taps.filter((t) => t.hfIndex !== undefined && t.name !== 'last').map((t) => [t.hfIndex!, t]));
  const out: LayerTap[] = [];
  const add = (t: LayerTap) => {
    if (!out.some((o) => o.name === t.name)) out.push(t);
  };
  const offered = () =>
    model.taps.length === 0
      ? `none were found (${model.diagnosis ?? 'structure not recognised'}); name graph tensors with tensor:NAME`
      : model.taps.map((x) => x.name).join(', ') + (model.blocks > 0 ? ` (or hidden_states indices 0…${model.blocks})` : '');
  for (const raw of requested.flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean)) {
    if (raw.startsWith('tensor:') && raw.length > 'tensor:'.length) {
      const tensor = raw.slice('tensor:'.length);
      const shape = model.taps[0]?.shape ?? ['batch', 'sequence', 'hidden'];
      add({ name: raw, tensor, shape, elemType: DataType.FLOAT, isOutput: false });
      continue;
    }
    if (raw === 'all') {
      if (model.taps.length === 0) throw new InputError(`model ${source}: cannot list its layers for "all": ${offered()}`);
      model.taps.filter((t) => t.name !== 'last' || model.taps.length === 1).forEach(add);
      continue;
    }
    const t = /^\d+$/.test(raw) ? byIndex.get(Number(raw)) : byName.get(raw);
    if (!t) throw new InputError(`model ${source} has no layer "${raw}"; layers it offers: ${offered()}`);
    add(t);
  }
  if (out.length === 0) throw new InputError(`no layers requested for ${source} (give names, indices, all, or tensor:NAME)`);
  return out;
}

/** The block count and width a model's config.json states (for findTaps). */
export function tapHints(onnxPath: string): TapHints {
  const config = readModelConfig(onnxPath);
  if (!config) return {};
  const text = (config.text_config ?? config) as Record<string, unknown>;
  const blocks = positiveIntegerOf(text, 'num_hidden_layers', 'n_layer', 'num_layers')?.value;
  const hiddenSize = positiveIntegerOf(text, 'hidden_size', 'n_embd', 'd_model')?.value;
  return { ...(blocks ? { blocks } : {}), ...(hiddenSize ? { hiddenSize } : {}) };
}

// ---- the rewrite --------------------------------------------------------------------------------

/** Bumped when what a tapped copy keeps changes (v1: only the nodes its outputs need). */
const PRUNED_COPY_VERSION = 'pruned-v1';

/** `$ENTROSCOPE_CACHE`, default ~/.cache/entroscope. */
export function cacheRoot(): string {
  return resolve(process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope'));
}

/** The outputs a tapped copy adds: each tensor in `taps` not already an output (in order, no duplicates). */
export function tapOutputs(model: ModelProto, taps: readonly LayerTap[]): ValueInfoProto[] {
  const existing = new Set(model.graph.output.map((o) => o.name));
  const extra = taps.filter((t, i) => !existing.has(t.tensor) && taps.findIndex((u) => u.tensor === t.tensor) === i);
  return extra.map((t) => tensorValueInfo(t.tensor, t.elemType, t.shape));
}

export interface TappedModel {
  /** The ONNX file to load: the original when every tap is already an output. */
  path: string;
  taps: LayerTap[];
  logits?: string;
  /** With `loss`: where the next-token loss is computed (in the graph, or in JS from the logits) and why. */
  loss?: LossPath;
  /** The graph output holding the next-token log-probabilities (in-graph loss only). */
  nextTokenLogProb?: string;
}

/**
 * Lists a model's taps, cached beside its tapped variants under
 * `$ENTROSCOPE_CACHE/tapped/<model sha256>/taps.v5-<config hints hash>.json` so later loads skip
 * decoding the graph (v4: found by the residual stream, with Hugging Face indices; v5: summands
 * through a linear map, sums written as chains of Adds).
 */
export interface TapListing {
  taps: ModelTaps;
  /** sha256 of the ONNX file. */
  sha256: string;
  /** The decoded model, when this call had to decode it. */
  model?: ModelProto;
}

// Per process: path + size + mtime → listing, so a thread pool hashes a model once per thread.
const listings = new Map<string, TapListing>();

export async function modelTaps(onnxPath: string, opts: { cacheDir?: string } = {}): Promise<TapListing> {
  let st;
  try {
    st = statSync(onnxPath);
  } catch (err) {
    throw new InputError(`cannot read ONNX model ${onnxPath}: ${(err as Error).message}`);
  }
  const key = JSON.stringify([resolve(onnxPath), st.size, st.mtimeMs, opts.cacheDir ?? cacheRoot()]);
  const memo = listings.get(key);
  if (memo) return { taps: memo.taps, sha256: memo.sha256 };
  const listing = await listTaps(onnxPath, opts.cacheDir);
  listings.set(key, { taps: listing.taps, sha256: listing.sha256 });
  return listing;
}

async function listTaps(onnxPath: string, cacheDir: string | undefined): Promise<TapListing> {
  const hash = (await modelIdentity(onnxPath, { cacheDir })).sha256;
  const hints = tapHints(onnxPath);
  const dir = join(cacheDir ?? cacheRoot(), 'tapped', hash);
  const listing = join(dir, `taps.v5-${sha256(JSON.stringify(hints)).slice(0, 8)}.json`);
  if (existsSync(listing)) return { taps: JSON.parse(readFileSync(listing, 'utf8')) as ModelTaps, sha256: hash };
  const model = readModel(onnxPath);
  const taps = findTaps(model, hints);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(listing, new TextEncoder().encode(JSON.stringify(taps, null, 2)));
  return { taps, sha256: hash, model };
}

/**
 * The model with the requested layers (and `logits`, when asked and present) as graph outputs;
 * with `loss`, also the next-token log-probabilities computed in the graph (nextTokenLogProbs.ts)
 * when that rewrite applies, else the logits for the JS path (the choice and its reason are in
 * `loss` of the result). Written once to
 * `$ENTROSCOPE_CACHE/tapped/<model sha256>/<sha256 of the tensor list[, rewrite version]>.onnx`
 * (atomic write; the in-graph loss has its own entry, and `<same>.loss.json` records the path
 * taken); external data files are linked beside it.
 *
 * The copy is written as the original file's bytes followed by one more serialised
 * `ModelProto.graph` (field 7) holding only the added outputs, input and nodes: protobuf merges a
 * message field given twice, concatenating its repeated fields (GraphProto.node 1, input 11,
 * output 12), so onnxruntime reads the union — without a decode and re-encode of the whole model
 * in JS. Only a merged KV-cache decoder, whose `If` on use_cache_branch is replaced by its branch
 * (withoutCacheBranch), is re-encoded as a whole.
 */
export async function tappedModel(
  onnxPath: string,
  layers: readonly string[],
  opts: { cacheDir?: string; logits?: boolean; loss?: boolean; listing?: TapListing } = {},
): Promise<TappedModel> {
  const listed = opts.listing ?? (await modelTaps(onnxPath, opts));
  const taps = resolveLayers(listed.taps, layers, onnxPath);
  const lossLogits = opts.loss ? listed.taps.logits : undefined;
  const logits = opts.logits || lossLogits ? listed.taps.logits : undefined;
  const dir = join(opts.cacheDir ?? cacheRoot(), 'tapped', listed.sha256);
  const tensors = taps.map((t) => t.tensor);
  let model: ModelProto | undefined = listed.model;
  const decoded = () => (model ??= decodeModel(readFileSync(onnxPath), onnxPath));
  let loss: LossPath | undefined;
  if (lossLogits) {
    const key = sha256(JSON.stringify([tensors, IN_GRAPH_LOSS_VERSION])).slice(0, 16);
    const decisionFile = join(dir, `${key}.loss.json`);
    if (existsSync(decisionFile)) loss = JSON.parse(readFileSync(decisionFile, 'utf8')) as LossPath;
    else {
      loss = inGraphLossPlan(decoded(), lossLogits);
      mkdirSync(dir, { recursive: true });
      writeFileAtomic(decisionFile, new TextEncoder().encode(JSON.stringify(loss)));
    }
    if (loss.path === 'in-graph') {
      const path = join(dir, `${key}.onnx`);
      if (!existsSync(path)) writeTapped(onnxPath, decoded(), taps, dir, path, nextTokenLogProbNodes(decoded(), lossLogits));
      else linkExternalData(await externalFiles(onnxPath, opts.cacheDir), onnxPath, dir, true);
      return { path, taps: taps.map((t) => ({ ...t, isOutput: true })), logits: lossLogits, loss, nextTokenLogProb: NEXT_TOKEN_LOGPROB };
    }
  }
  const extra = loss ? { loss } : {};
  if (taps.every((t) => t.isOutput)) return { path: onnxPath, taps, ...(logits ? { logits } : {}), ...extra };
  // Keyed by what the copy keeps (pruneGraph.ts: a copy without the logits has no lm_head).
  const path = join(dir, `${sha256(JSON.stringify([tensors, logits ?? null, PRUNED_COPY_VERSION])).slice(0, 16)}.onnx`);
  if (existsSync(path)) linkExternalData(await externalFiles(onnxPath, opts.cacheDir), onnxPath, dir, true);
  else writeTapped(onnxPath, decoded(), taps, dir, path, undefined, logits ? [logits] : []);
  return { path, taps: taps.map((t) => ({ ...t, isOutput: true })), ...(logits ? { logits } : {}), ...extra };
}

/** The external data files of the model at `onnxPath` (from its identity: no decode once cached). */
async function externalFiles(onnxPath: string, cacheDir: string | undefined): Promise<string[]> {
  return (await modelIdentity(onnxPath, { cacheDir })).externalFiles;
}

/**
 * Writes the tapped copy of `model` (read from `onnxPath`) to `path`: the taps as outputs, plus
 * `more` (nodes, inputs, outputs) merged into its graph. See tappedModel for how.
 */
function writeTapped(
  onnxPath: string,
  model: ModelProto,
  taps: LayerTap[],
  dir: string,
  path: string,
  more: Pick<GraphProto, 'node' | 'input' | 'output'> = { node: [], input: [], output: [] },
  alsoKeep: readonly string[] = [],
): void {
  const named = taps.filter((t) => t.name.startsWith('tensor:'));
  if (named.length > 0) {
    const flow = new DataFlow(withoutCacheBranch(model).graph);
    for (const t of named) {
      if (!flow.producer.has(t.tensor) && !flow.graph.input.some((i) => i.name === t.tensor)) {
        const near = [...flow.producer.keys()].filter((k) => k.includes(t.tensor.split('/').pop() ?? t.tensor)).slice(0, 5);
        throw new InputError(`model ${onnxPath} has no tensor "${t.tensor}"` + (near.length ? `; similar: ${near.join(', ')}` : ''));
      }
      t.elemType = flow.types.get(t.tensor) ?? DataType.FLOAT;
    }
  }
  mkdirSync(dir, { recursive: true });
  linkExternalData(externalFilesOf(model), onnxPath, dir);
  const unbranched = withoutCacheBranch(model);
  const outputs = tapOutputs(unbranched, taps);
  // Only the nodes the copy's outputs need (pruneGraph.ts): onnxruntime runs every node it is given.
  const required = [...taps.map((t) => t.tensor), ...more.output.map((o) => o.name), ...alsoKeep];
  const plan = prunePlan(unbranched.graph, required, more.node);
  const fragment: Partial<ModelProto> = { graph: { node: more.node, initializer: [], input: more.input, output: [...outputs, ...more.output] } };
  if (unbranched === model) {
    if (plan.prunes) writePrunedModelFile(onnxPath, path, model.graph, plan, encodeModel(fragment as ModelProto));
    else appendToModelFile(onnxPath, path, fragment);
    return;
  }
  const g = unbranched.graph;
  const node = g.node.filter((_, i) => plan.nodes.has(i));
  const initializer = g.initializer.filter((t) => plan.initializers.has(t.name ?? ''));
  const output = g.output.filter((o) => plan.outputs.has(o.name));
  writeFileAtomic(path, encodeModel({ ...unbranched, graph: { ...g, node: [...node, ...more.node], initializer, input: [...g.input, ...more.input], output: [...output, ...outputs, ...more.output] } }));
}

/**
 * Hard-links each external data file `files` (relative to `onnxPath`) into `dir`, where the
 * tapped copy is read from, so the copy references the same bytes and never holds them itself
 * (onnxruntime refuses a symlink that resolves outside the model's folder; a data file on another
 * file system is copied). With `relink`, an entry that is not the same file is replaced atomically.
 */
function linkExternalData(files: readonly string[], onnxPath: string, dir: string, relink = false): void {
  for (const f of files) {
    const link = join(dir, f);
    const target = resolve(dirname(onnxPath), f);
    if (existsSync(link)) {
      if (!relink) continue;
      const [a, b] = [statSync(link), statSync(target)];
      if (a.ino === b.ino && a.dev === b.dev) continue;
    }
    mkdirSync(dirname(link), { recursive: true });
    const tmp = `${link}.${process.pid}.${threadId}.${Math.random().toString(36).slice(2)}.lnk`;
    try {
      linkSync(target, tmp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      copyFileSync(target, tmp);
    }
    renameSync(tmp, link);
  }
}
