// Hidden-state taps: which tensors of an ONNX transformer are the "hidden states" Hugging Face's
// `output_hidden_states` would return, found from the graph alone, and a rewrite that exposes them
// as extra graph outputs (cached by model hash) so no re-export is needed.
//
// Heuristic. Transformers normalise the residual stream with a norm per sub-layer, so the norms
// (LayerNormalization / RMSNormalization ops, or their decomposed exports: ReduceMean → Sub → … →
// Div → Mul(γ) → Add(β), and Pow(x,2) → ReduceMean → … → Mul(x, ·) → Mul(γ)) are found in
// topological order: n₀ … n_K. Norms reading the same tensor (parallel attention + MLP) count once.
// Then:
//   post-norm (BERT: n₁ reads Add(·, output of n₀)): embeddings = out(n₀), block.i = out(n_{c(i+1)}),
//     no separate final norm;
//   pre-norm (GPT-2, Llama: n₁ reads Add(·, input of n₀)): embeddings = in(n₀),
//     block.i = in(n_{c(i+1)}) (the residual stream), final = out(n_K) (the final norm);
// with c = norms per block = K / L, L = number of attention blocks (Softmax or fused attention ops).
// `last` is the model's hidden-state output (`last_hidden_state`, else the first rank-3 float output
// that is not `logits`), else `final`.
//
// Merged KV-cache decoders (optimum's decoder_model_merged.onnx) hide the decoder inside an `If` on
// the graph input `use_cache_branch`. OnnxModel always feeds it false, so before the analysis and
// in the rewrite such an If is replaced by its else_branch (see withoutCacheBranch): the graph then
// computes what the session computes, with its tensors in the top-level graph where taps can reach.
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { sha256, sha256File } from '../io/hash.ts';
import {
  DataType,
  decodeModel,
  encodeModel,
  externalDataFiles,
  readModel,
  tensorDims,
  tensorValueInfo,
  valueInfoDims,
  valueInfoElemType,
  writeFileAtomic,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
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
}

interface Norm {
  /** First node of the pattern (topological position). */
  at: number;
  input: string;
  output: string;
  scale?: string;
  bias?: string;
}

const NORM_OPS = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'RMSNormalization']);
const SKIP_NORM_OPS = new Set(['SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);
const ATTENTION_OPS = new Set(['Softmax', 'Attention', 'MultiHeadAttention', 'GroupQueryAttention']);
const DYNAMIC_QUANT_OPS = new Set(['DynamicQuantizeLinear', 'DynamicQuantizeMatMul', 'DynamicQuantizeLSTM']);

class GraphIndex {
  readonly producer = new Map<string, number>();
  readonly consumers = new Map<string, number[]>();
  readonly initializers: Set<string>;
  constructor(readonly graph: GraphProto) {
    graph.node.forEach((n, i) => {
      for (const o of n.output) if (o) this.producer.set(o, i);
      for (const x of n.input) {
        if (!x) continue;
        const list = this.consumers.get(x);
        if (list) list.push(i);
        else this.consumers.set(x, [i]);
      }
    });
    this.initializers = new Set(graph.initializer.map((t) => t.name ?? ''));
  }
  node(i: number): NodeProto {
    return this.graph.node[i];
  }
  producerOf(tensor: string): NodeProto | undefined {
    const i = this.producer.get(tensor);
    return i === undefined ? undefined : this.graph.node[i];
  }
  consumersOf(tensor: string): NodeProto[] {
    return (this.consumers.get(tensor) ?? []).map((i) => this.graph.node[i]);
  }
  /** The only consumer of `tensor` with op `op`, if it has exactly one consumer. */
  soleConsumer(tensor: string, op: string): NodeProto | undefined {
    const cs = this.consumersOf(tensor);
    return cs.length === 1 && cs[0].op_type === op ? cs[0] : undefined;
  }
}

function otherInput(n: NodeProto, x: string): string | undefined {
  return n.input.length === 2 ? (n.input[0] === x ? n.input[1] : n.input[1] === x ? n.input[0] : undefined) : undefined;
}

/** Follows an optional γ multiply and β add after a normalised tensor. */
function affineTail(g: GraphIndex, y: string): { output: string; scale?: string; bias?: string } {
  let scale: string | undefined;
  let bias: string | undefined;
  const mul = g.soleConsumer(y, 'Mul');
  if (mul && g.initializers.has(otherInput(mul, y) ?? '')) {
    scale = otherInput(mul, y);
    y = mul.output[0];
    const add = g.soleConsumer(y, 'Add');
    if (add && g.initializers.has(otherInput(add, y) ?? '')) {
      bias = otherInput(add, y);
      y = add.output[0];
    }
  }
  return { output: y, scale, bias };
}

function findNorms(g: GraphIndex): Norm[] {
  const norms: Norm[] = [];
  g.graph.node.forEach((n, i) => {
    if (NORM_OPS.has(n.op_type)) {
      norms.push({ at: i, input: n.input[0], output: n.output[0], scale: n.input[1], bias: n.input[2] });
    } else if (SKIP_NORM_OPS.has(n.op_type)) {
      // Fused residual add + norm: the residual stream is the optional 4th output.
      if (n.output[3]) norms.push({ at: i, input: n.output[3], output: n.output[0], scale: n.input[2], bias: n.input[3] });
    } else if (n.op_type === 'ReduceMean') {
      const x = n.input[0];
      // LayerNorm: Sub(x, mean(x)) → Div(·, sqrt(var + eps)) → Mul(γ) → Add(β).
      const sub = g.consumersOf(x).find((c) => c.op_type === 'Sub' && c.input[0] === x && c.input[1] === n.output[0]);
      if (sub) {
        const div = g.consumersOf(sub.output[0]).find((c) => c.op_type === 'Div' && c.input[0] === sub.output[0]);
        if (div) norms.push({ at: i, input: x, ...affineTail(g, div.output[0]) });
        return;
      }
      // RMSNorm: mean(Pow(x, 2)) → Add(eps) → Sqrt → Div(1, ·) | Reciprocal | Rsqrt → Mul(x, ·) → Mul(γ).
      const pow = g.producerOf(x);
      if (pow?.op_type !== 'Pow') return;
      const base = pow.input[0];
      let frontier = [n.output[0]];
      for (let step = 0; step < 5 && frontier.length > 0; step++) {
        const next: string[] = [];
        for (const t of frontier) {
          for (const c of g.consumersOf(t)) {
            if (c.op_type === 'Mul' && c.input.includes(base) && c.input.includes(t)) {
              const castIn = g.producerOf(base);
              const input = castIn?.op_type === 'Cast' ? castIn.input[0] : base;
              let y = c.output[0];
              const cast = g.soleConsumer(y, 'Cast');
              if (cast) y = cast.output[0];
              norms.push({ at: i, input, ...affineTail(g, y) });
              return;
            }
            next.push(...c.output);
          }
        }
        frontier = next;
      }
    }
  });
  return norms.sort((a, b) => a.at - b.at);
}

/** The initialisers that are norm scales (γ) and norm biases (β), found as findTaps finds norms. */
export function normParameters(model: ModelProto): { scales: Set<string>; biases: Set<string> } {
  const norms = findNorms(new GraphIndex(model.graph));
  const names = (xs: Array<string | undefined>) => new Set(xs.filter((x): x is string => !!x));
  return { scales: names(norms.map((n) => n.scale)), biases: names(norms.map((n) => n.bias)) };
}

/** The model's own hidden-state output, as OnnxModel has always chosen it. */
function hiddenOutput(graph: GraphProto): { name: string; dims?: Array<number | string>; elemType?: number } | undefined {
  const rank3 = graph.output.filter((o) => {
    const dims = valueInfoDims(o);
    const t = valueInfoElemType(o);
    return o.name !== 'logits' && (t === undefined || t === DataType.FLOAT) && (dims === undefined || dims.length === 3);
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

/** Lists the hidden-state taps a model offers (see the file comment for the heuristic). */
export function findTaps(model: ModelProto): ModelTaps {
  const graph = withoutCacheBranch(model).graph;
  const g = new GraphIndex(graph);
  const outputs = new Set(graph.output.map((o) => o.name));
  const logits = graph.output.find((o) => o.name === 'logits')?.name;
  const initDims = new Map(graph.initializer.map((t) => [t.name ?? '', tensorDims(t)]));
  const initType = new Map(graph.initializer.map((t) => [t.name ?? '', t.data_type ?? 0]));
  const inputIds = graph.input.find((i) => i.name === 'input_ids') ?? graph.input[0];
  const [batchDim, seqDim] = (inputIds && valueInfoDims(inputIds)) ?? ['batch', 'sequence'];
  const hidden = hiddenOutput(graph);

  // Norms, deduplicated by what they read (parallel residual blocks normalise one tensor twice).
  const seen = new Set<string>();
  const norms = findNorms(g).filter((n) => (seen.has(n.input) ? false : (seen.add(n.input), true)));
  const blocks = graph.node.filter((n) => ATTENTION_OPS.has(n.op_type)).length;
  const hiddenSize =
    norms.map((n) => initDims.get(n.scale ?? '')).find((d) => d?.length === 1)?.[0] ??
    (typeof hidden?.dims?.[2] === 'number' ? hidden.dims[2] : 'hidden');
  const elemType = initType.get(norms[0]?.scale ?? '') || hidden?.elemType || DataType.FLOAT;
  const tap = (name: string, tensor: string): LayerTap => ({
    name,
    tensor,
    shape: [batchDim, seqDim, hiddenSize],
    elemType,
    isOutput: outputs.has(tensor),
  });

  let layout: ModelTaps['layout'] = 'unknown';
  const taps: LayerTap[] = [];
  const K = norms.length - 1; // norms after the first
  const perBlock = blocks > 0 && K > 0 && K % blocks === 0 ? K / blocks : 0;
  if (perBlock > 0) {
    const feed = g.producerOf(norms[1].input);
    const reads = new Set(feed?.op_type === 'Add' ? feed.input : [norms[1].input]);
    if (reads.has(norms[0].output)) layout = 'post-norm';
    else if (reads.has(norms[0].input)) layout = 'pre-norm';
  }
  if (layout === 'post-norm') {
    taps.push(tap('embeddings', norms[0].output));
    for (let i = 0; i < blocks; i++) taps.push(tap(`block.${i}`, norms[perBlock * (i + 1)].output));
  } else if (layout === 'pre-norm') {
    taps.push(tap('embeddings', norms[0].input));
    for (let i = 0; i < blocks; i++) taps.push(tap(`block.${i}`, norms[perBlock * (i + 1)].input));
    taps.push(tap('final', norms[K].output));
  }
  const lastTensor = hidden?.name ?? taps.find((t) => t.name === 'final')?.tensor;
  if (lastTensor) taps.push({ ...tap('last', lastTensor), ...(hidden?.dims ? { shape: hidden.dims } : {}) });
  const batchCoupled = graph.node.some((n) => DYNAMIC_QUANT_OPS.has(n.op_type));
  return { taps, blocks: layout === 'unknown' ? 0 : blocks, layout, ...(logits ? { logits } : {}), batchCoupled };
}

/**
 * Resolves a layer request to taps: `last`, `all` (every distinct tap: embeddings, blocks, final),
 * tap names, or Hugging Face hidden_states indices (`0` = embeddings, `i` = block.{i-1}).
 * An unknown name is an InputError listing the names that exist.
 */
export function resolveLayers(model: ModelTaps, requested: readonly string[], source: string): LayerTap[] {
  const byName = new Map(model.taps.map((t) => [t.name, t]));
  const out: LayerTap[] = [];
  const add = (t: LayerTap) => {
    if (!out.some((o) => o.name === t.name)) out.push(t);
  };
  for (const raw of requested.flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean)) {
    if (raw === 'all') {
      model.taps.filter((t) => t.name !== 'last' || model.taps.length === 1).forEach(add);
      continue;
    }
    let name = raw;
    if (/^\d+$/.test(raw)) name = Number(raw) === 0 ? 'embeddings' : `block.${Number(raw) - 1}`;
    const t = byName.get(name);
    if (!t) {
      throw new InputError(
        `model ${source} has no layer "${raw}"; layers it offers: ${model.taps.map((x) => x.name).join(', ')}` +
          (model.blocks > 0 ? ` (or hidden_states indices 0…${model.blocks})` : ''),
      );
    }
    add(t);
  }
  if (out.length === 0) throw new InputError(`no layers requested for ${source}`);
  return out;
}

// ---- the rewrite --------------------------------------------------------------------------------

/** `$ENTROSCOPE_CACHE`, default ~/.cache/entroscope. */
export function cacheRoot(): string {
  return resolve(process.env.ENTROSCOPE_CACHE ?? join(homedir(), '.cache', 'entroscope'));
}

/** A copy of `model` whose graph also outputs each tensor in `taps` (in order, no duplicates). */
export function exposeTaps(model: ModelProto, taps: readonly LayerTap[]): ModelProto {
  const existing = new Set(model.graph.output.map((o) => o.name));
  const extra = taps.filter((t, i) => !existing.has(t.tensor) && taps.findIndex((u) => u.tensor === t.tensor) === i);
  return {
    ...model,
    graph: {
      ...model.graph,
      output: [...model.graph.output, ...extra.map((t) => tensorValueInfo(t.tensor, t.elemType, t.shape))],
    },
  };
}

export interface TappedModel {
  /** The ONNX file to load: the original when every tap is already an output. */
  path: string;
  taps: LayerTap[];
  logits?: string;
}

/**
 * Lists a model's taps, cached beside its tapped variants under
 * `$ENTROSCOPE_CACHE/tapped/<model sha256>/taps.v3.json` so later loads skip decoding the graph (v3:
 * merged KV-cache decoders are listed through their else_branch).
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
  const hash = await sha256File(onnxPath);
  const dir = join(cacheDir ?? cacheRoot(), 'tapped', hash);
  const listing = join(dir, 'taps.v3.json');
  if (existsSync(listing)) return { taps: JSON.parse(readFileSync(listing, 'utf8')) as ModelTaps, sha256: hash };
  const model = readModel(onnxPath);
  const taps = findTaps(model);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(listing, new TextEncoder().encode(JSON.stringify(taps, null, 2)));
  return { taps, sha256: hash, model };
}

/**
 * The model with the requested layers (and `logits`, when asked and present) as graph outputs.
 * Written once to `$ENTROSCOPE_CACHE/tapped/<model sha256>/<sha256 of the tensor list>.onnx`
 * (atomic write); external data files are linked beside it.
 */
export async function tappedModel(
  onnxPath: string,
  layers: readonly string[],
  opts: { cacheDir?: string; logits?: boolean; listing?: TapListing } = {},
): Promise<TappedModel> {
  const listed = opts.listing ?? (await modelTaps(onnxPath, opts));
  const taps = resolveLayers(listed.taps, layers, onnxPath);
  const logits = opts.logits ? listed.taps.logits : undefined;
  if (taps.every((t) => t.isOutput)) return { path: onnxPath, taps, ...(logits ? { logits } : {}) };
  const tensors = taps.map((t) => t.tensor);
  const dir = join(opts.cacheDir ?? cacheRoot(), 'tapped', listed.sha256);
  const path = join(dir, `${sha256(JSON.stringify(tensors)).slice(0, 16)}.onnx`);
  if (!existsSync(path)) {
    const model = listed.model ?? decodeModel(readFileSync(onnxPath), onnxPath);
    mkdirSync(dir, { recursive: true });
    for (const f of externalDataFiles(model)) {
      const link = join(dir, f);
      if (!existsSync(link)) {
        mkdirSync(dirname(link), { recursive: true });
        try {
          symlinkSync(resolve(dirname(onnxPath), f), link);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
    }
    writeFileAtomic(path, encodeModel(exposeTaps(withoutCacheBranch(model), taps)));
  }
  return { path, taps: taps.map((t) => ({ ...t, isOutput: true })), ...(logits ? { logits } : {}) };
}
