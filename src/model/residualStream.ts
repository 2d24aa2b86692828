// The residual stream of an ONNX transformer, found from the graph's data flow alone.
//
// Every transformer block adds its sub-layers' outputs back to the stream it reads:
//   pre-norm (GPT-2, Llama, Mistral, NeoX, OPT, Phi-3):   r ← r + f(norm(r))      (once or twice a block)
//   parallel (GPT-J, CodeGen, Phi, Cohere):               r ← r + (attn(norm(r)) + mlp(norm(r)))
//                                                          (Cohere: (r + attn(…)) + mlp(…), one sum)
//   post-norm (BERT):                                      r ← norm(r + f(r))
// so a **residual addition** is an `Add(x, y)` whose operand y is computed from x through a learned
// linear map (f holds a MatMul) while x itself enters unchanged. That property is what is searched for, not op patterns of
// norms, so exporter details (float→float `Cast`s Llama's RMSNorm emits, `Identity`, decomposed or
// fused norms, Constant nodes instead of initialisers, int8 `DynamicQuantizeLinear` chains, fp16
// casts to float32 and back) do not hide it. Walk:
//   r₀ = the stream operand of the first residual addition in topological order (the embedding
//        output as HF's hidden_states[0] holds it: token + position embeddings, BERT's embedding LN);
//   r_{k+1} = the addition's output when the next residual addition reads it directly (pre-norm),
//        else the first tensor downstream of it that a residual addition reads (post-norm: the LN);
//   the walk ends when no residual addition is downstream.
// The model's final hidden state (HF's last hidden_states entry, after the final norm) is the input
// of the LM head (the MatMul/Gemm feeding `logits`) or the model's `last_hidden_state` output.
import { DataType, type GraphProto, type NodeProto, type TensorProto } from './onnxProto.ts';

/** Ops that pass a tensor through unchanged at inference (and float→float Casts, see isPassThrough). */
const PASS_THROUGH = new Set(['Identity', 'Dropout']);
const SHAPE_OPS = new Set(['Shape', 'Size']);
/** Matrix products with a weight (float, int8, 4-bit), as a head or a sub-layer computes them. */
const MATMUL_OPS = new Set(['MatMul', 'Gemm', 'MatMulInteger', 'DynamicQuantizeMatMul', 'MatMulNBits', 'FusedMatMul']);
/** Ops that apply learned weights to their input: a sub-layer f in r + f(norm(r)) contains one. */
const LINEAR_OPS = new Set([...MATMUL_OPS, 'Conv', 'Einsum', 'Attention', 'MultiHeadAttention', 'GroupQueryAttention', 'MoE', 'QMoE']);
const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, 11 /* DOUBLE */]);
/** Ops whose output type is fixed whatever their inputs. */
const OUTPUT_TYPE: Record<string, number> = {
  Shape: 7, Size: 7, NonZero: 7, ArgMax: 7, ArgMin: 7,
  Equal: 9, Less: 9, Greater: 9, LessOrEqual: 9, GreaterOrEqual: 9, Not: 9, And: 9, Or: 9, Xor: 9, IsNaN: 9, IsInf: 9,
  DynamicQuantizeLinear: 2, MatMulInteger: 6, ConvInteger: 6,
};

export interface ResidualStream {
  /** r₀ … r_R (see the file comment). */
  states: string[];
  /** Residual additions walked (R). */
  additions: number;
  /** The stream continued through a norm after an addition (BERT-style). */
  postNorm: boolean;
  /** Element type of each state (TensorProto data type). */
  elemTypes: number[];
}

/** Producer, consumers, order and inferred element types of a graph's tensors. */
export class DataFlow {
  readonly producer = new Map<string, number>();
  readonly consumers = new Map<string, number[]>();
  readonly constants = new Set<string>();
  readonly types = new Map<string, number>();
  readonly initializers = new Map<string, TensorProto>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer) {
      this.initializers.set(t.name ?? '', t);
      this.constants.add(t.name ?? '');
      this.types.set(t.name ?? '', t.data_type ?? 0);
    }
    for (const v of [...graph.input, ...(graph.value_info ?? []), ...graph.output]) {
      const t = v.type?.tensor_type?.elem_type;
      if (t) this.types.set(v.name, t);
    }
    graph.node.forEach((n, i) => {
      for (const o of n.output) if (o) this.producer.set(o, i);
      for (const x of n.input) {
        if (!x) continue;
        const list = this.consumers.get(x);
        if (list) list.push(i);
        else this.consumers.set(x, [i]);
      }
      if (n.op_type === 'Constant' || (n.input.filter(Boolean).length > 0 && n.input.every((x) => !x || this.constants.has(x)))) {
        for (const o of n.output) if (o) this.constants.add(o);
      }
      const out = n.output[0];
      if (out && !this.types.has(out)) {
        const type = this.outputType(n);
        if (type) this.types.set(out, type);
      }
    });
  }

  private outputType(n: NodeProto): number | undefined {
    const attr = (name: string) => n.attribute?.find((a) => a.name === name);
    if (n.op_type === 'Cast') return Number(attr('to')?.i ?? 0) || undefined;
    if (n.op_type === 'Constant') return attr('value')?.t?.data_type ?? DataType.FLOAT;
    if (n.op_type === 'ConstantOfShape') return attr('value')?.t?.data_type ?? DataType.FLOAT;
    if (n.op_type === 'DequantizeLinear') return this.types.get(n.input[1]) ?? DataType.FLOAT;
    if (n.op_type === 'QuantizeLinear') return this.types.get(n.input[2] ?? '') ?? 2;
    if (OUTPUT_TYPE[n.op_type] !== undefined) return OUTPUT_TYPE[n.op_type];
    if (n.op_type === 'Gather' || n.op_type === 'GatherElements' || n.op_type === 'GatherND') return this.types.get(n.input[0]);
    if (n.op_type === 'Where') return this.types.get(n.input[1]) ?? this.types.get(n.input[2]);
    for (const x of n.input) {
      const t = x ? this.types.get(x) : undefined;
      if (t) return t;
    }
    return undefined;
  }

  order(tensor: string): number {
    return this.producer.get(tensor) ?? -1;
  }

  isFloat(tensor: string): boolean {
    const t = this.types.get(tensor);
    return t === undefined || FLOAT_TYPES.has(t);
  }

  /**
   * A node that passes its input's values through (Identity, Dropout, a Cast between float types:
   * a no-op float→float Cast, or fp16 ↔ fp32 around a norm, is the same stream at another precision).
   */
  isPassThrough(n: NodeProto): boolean {
    if (PASS_THROUGH.has(n.op_type)) return true;
    if (n.op_type !== 'Cast') return false;
    const from = this.types.get(n.input[0]);
    const to = this.types.get(n.output[0]);
    return from !== undefined && to !== undefined && FLOAT_TYPES.has(from) && FLOAT_TYPES.has(to);
  }

  /** The tensor a chain of pass-through nodes started from. */
  root(tensor: string): string {
    for (;;) {
      const p = this.producer.get(tensor);
      const n = p === undefined ? undefined : this.graph.node[p];
      if (!n || !this.isPassThrough(n)) return tensor;
      tensor = n.input[0];
    }
  }

  /**
   * `seeds` and every tensor computed from them by chains of `ops` reading them as their first input
   * (e.g. input_ids and its Casts, Reshapes and Unsqueezes: tensors that still are the ids).
   */
  sameValues(seeds: Iterable<string>, ops: ReadonlySet<string>): Set<string> {
    const found = new Set(seeds);
    const queue = [...found];
    while (queue.length > 0) {
      for (const i of this.consumers.get(queue.pop()!) ?? []) {
        const n = this.graph.node[i];
        if (ops.has(n.op_type) && found.has(n.input[0]) && n.output[0] && !found.has(n.output[0])) {
          found.add(n.output[0]);
          queue.push(n.output[0]);
        }
      }
    }
    return found;
  }

  /**
   * The initialiser `tensor` is read from through at most `depth` nodes of `ops` (Cast,
   * DequantizeLinear, Identity: a weight as fp16, int8 or renamed); undefined if it is not one.
   */
  initializerOf(tensor: string, ops: ReadonlySet<string>, depth = 4): string | undefined {
    for (let d = 0; d < depth; d++) {
      if (this.initializers.has(tensor)) return tensor;
      const p = this.producer.get(tensor);
      if (p === undefined || !ops.has(this.graph.node[p].op_type)) return undefined;
      tensor = this.graph.node[p].input[0];
    }
    return undefined;
  }

  /** Nodes reading `tensor`, directly or through pass-through nodes: [node index, the input it reads]. */
  readers(tensor: string): Array<[number, string]> {
    const out: Array<[number, string]> = [];
    const stack = [tensor];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      for (const i of this.consumers.get(t) ?? []) {
        const n = this.graph.node[i];
        if (this.isPassThrough(n)) stack.push(n.output[0]);
        else out.push([i, t]);
      }
    }
    return out.sort((a, b) => a[0] - b[0]);
  }

  /**
   * Whether `tensor` is computed from `ancestor`'s values through a learned linear map: some path
   * from `ancestor` to `tensor` passes a MatMul-like node (constants and shapes excluded). That is
   * what makes y in Add(x, y) a sub-layer's output f(x) rather than an elementwise expression of x:
   * tanh-GELU's x + 0.044715·x³ (GPT-J, CodeGen, Phi, whose parallel blocks put the MLP's activation
   * before the block's first residual addition) is an Add whose operand depends on the other too.
   */
  dependsOn(tensor: string, ancestor: string): boolean {
    const target = this.root(ancestor);
    const floor = this.order(target);
    // A state is a tensor and whether the path from `tensor` down to it has passed a linear map.
    const stack: Array<[string, boolean]> = [[tensor, false]];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const [t, linear] = stack.pop()!;
      if (t === target || t === ancestor) {
        if (linear) return true;
        continue;
      }
      const key = linear ? `1${t}` : `0${t}`;
      if (seen.has(key) || this.constants.has(t)) continue;
      seen.add(key);
      const p = this.producer.get(t);
      if (p === undefined || p <= floor) continue;
      const n = this.graph.node[p];
      // A shape is not a value: positions computed from Shape(x) do not make x a residual summand.
      if (SHAPE_OPS.has(n.op_type)) continue;
      const through = linear || LINEAR_OPS.has(n.op_type);
      for (const x of n.input) if (x) stack.push([x, through]);
    }
    return false;
  }

  /** The residual addition reading `x` (directly or through pass-throughs), earliest first. */
  residualAdditionOf(x: string): NodeProto | undefined {
    if (!this.isFloat(x) || this.constants.has(x)) return undefined;
    for (const [i, read] of this.readers(x)) {
      const n = this.graph.node[i];
      if (n.op_type !== 'Add' || n.input.length !== 2) continue;
      const other = n.input[0] === read ? n.input[1] : n.input[0];
      if (other === read || this.constants.has(other)) continue;
      if (this.root(other) !== this.root(x) && this.dependsOn(other, x)) return n;
    }
    return undefined;
  }
}

/**
 * Walks the residual stream (see the file comment). Returns no states when the graph has no
 * residual addition.
 */
export function residualStream(flow: DataFlow): ResidualStream {
  const graph = flow.graph;
  let r0: string | undefined;
  for (const n of graph.node) {
    if (n.op_type !== 'Add' || n.input.length !== 2) continue;
    const [a, b] = n.input;
    for (const [x, y] of [[a, b], [b, a]]) {
      if (r0 === undefined && flow.isFloat(x) && !flow.constants.has(x) && !flow.constants.has(y) && flow.root(x) !== flow.root(y) && flow.dependsOn(y, x)) r0 = x;
    }
    if (r0 !== undefined) break;
  }
  if (r0 === undefined) return { states: [], additions: 0, postNorm: false, elemTypes: [] };
  const states = [r0];
  let additions = 0;
  let postNorm = false;
  for (let r = r0; ; ) {
    const add = flow.residualAdditionOf(r);
    if (!add) break;
    additions++;
    const t = withLaterSummands(flow, add.output[0], r);
    if (flow.residualAdditionOf(t)) {
      states.push(t);
      r = t;
      continue;
    }
    const next = firstStreamAfter(flow, t);
    if (next === undefined) {
      // The last addition; a model that adds in tokens×d (OPT's MLP) views it back as batch×seq×d.
      const view = flow.readers(t).map(([i]) => flow.graph.node[i]).find((n) => LAYOUT_OPS.has(n.op_type));
      states.push(view?.output[0] ?? t);
      break;
    }
    // A reshape of the sum (OPT adds its MLP residual in tokens×d) is the same stream; a norm is post-norm.
    if (!isLayoutOf(flow, next, t)) postNorm = true;
    states.push(next);
    r = next;
  }
  return { states, additions, postNorm, elemTypes: states.map((s) => flow.types.get(s) ?? DataType.FLOAT) };
}

const LAYOUT_OPS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);

/**
 * The end of a residual sum written as a chain of Adds: Cohere's r + attn(norm(r)) + mlp(norm(r))
 * exports as Add(Add(r, attn), mlp), whose second Add reads the first's output `t` and a summand
 * computed from the stream `r` but not from `t`. The block's output is the last Add of the chain.
 */
function withLaterSummands(flow: DataFlow, t: string, r: string): string {
  for (;;) {
    const next = flow.readers(t).find(([i, read]) => {
      const n = flow.graph.node[i];
      if (n.op_type !== 'Add' || n.input.length !== 2) return false;
      const other = n.input[0] === read ? n.input[1] : n.input[0];
      return other !== read && !flow.constants.has(other) && !flow.dependsOn(other, t) && flow.dependsOn(other, r);
    });
    if (!next) return t;
    t = flow.graph.node[next[0]].output[0];
  }
}

/** Whether `view` is `t` through layout ops (reshapes) and pass-throughs only. */
function isLayoutOf(flow: DataFlow, view: string, t: string): boolean {
  for (let x = view; ; ) {
    if (x === t) return true;
    const p = flow.producer.get(x);
    const n = p === undefined ? undefined : flow.graph.node[p];
    if (!n || !(LAYOUT_OPS.has(n.op_type) || flow.isPassThrough(n))) return false;
    x = n.input[0];
  }
}

/** The first tensor computed from `t`, in topological order, that a residual addition reads. */
function firstStreamAfter(flow: DataFlow, t: string): string | undefined {
  const reached = new Set([t]);
  const start = flow.order(t);
  const nodes = flow.graph.node;
  for (let i = start + 1; i < nodes.length; i++) {
    const n = nodes[i];
    if (!n.input.some((x) => reached.has(x))) continue;
    for (const o of n.output) {
      if (!o) continue;
      reached.add(o);
      if (!flow.isPassThrough(n) && flow.residualAdditionOf(o)) return o;
    }
  }
  return undefined;
}

/**
 * The hidden state a causal LM's head reads: the non-constant operand of the nearest MatMul / Gemm
 * (float or int8) that `logits` is computed from (through reshapes, casts, dequantising Muls), as
 * the batch×sequence×d tensor it started from.
 */
export function lmHeadInput(flow: DataFlow, logits: string): string | undefined {
  const queue: Array<[string, number]> = [[flow.root(logits), 0]];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const [t, depth] = queue.shift()!;
    if (seen.has(t) || depth > 10) continue;
    seen.add(t);
    const p = flow.producer.get(t);
    if (p === undefined) continue;
    const n = flow.graph.node[p];
    if (MATMUL_OPS.has(n.op_type)) {
      const x = n.input.find((i) => i && !flow.constants.has(i) && !isConstantTransform(flow, i));
      if (x !== undefined) return unreshaped(flow, flow.root(x));
    }
    for (const i of n.input) if (i && !flow.constants.has(i)) queue.push([flow.root(i), depth + 1]);
  }
  return undefined;
}


/** Whether a tensor is computed from constants only through layout ops (a transposed tied weight). */
function isConstantTransform(flow: DataFlow, t: string): boolean {
  const p = flow.producer.get(t);
  if (p === undefined) return flow.constants.has(t);
  const n = flow.graph.node[p];
  return ['Transpose', 'Reshape', 'Cast', 'DequantizeLinear'].includes(n.op_type) && n.input.filter(Boolean).every((x) => flow.constants.has(x) || isConstantTransform(flow, x));
}

/** The tensor a Reshape (of a batch×sequence×d hidden state to tokens×d, as Gemm needs) started from. */
function unreshaped(flow: DataFlow, t: string): string {
  const p = flow.producer.get(t);
  const n = p === undefined ? undefined : flow.graph.node[p];
  if (n && (n.op_type === 'Reshape' || n.op_type === 'Flatten') && !flow.constants.has(n.input[0])) return flow.root(n.input[0]);
  if (n?.op_type === 'DynamicQuantizeLinear') return unreshaped(flow, flow.root(n.input[0]));
  return t;
}
