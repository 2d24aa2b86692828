// The ONNX graph builder behind the generated test models (tinyTransformer, tinyVlm): nodes and
// initialisers in creation order, weights ~ normal(0, std) drawn in that order, and the transformer
// pieces both generators share (LayerNorm, erf GELU, MLP, multi-head attention, attention mask
// bias, pre-norm block). Creation order is part of the model bytes and of the weights each name
// gets, so a generator that must keep its bytes keeps its call order.
//
//   GELU(x) = x/2 · (1 + erf(x/√2))                 MLP(x) = W₂ GELU(W₁ x + b₁) + b₂
//   Attn(x) = W_o concat_h softmax(Q_h K_hᵀ/√dh + bias) V_h + b_o
// Masked scores get −1e4 added: exp underflows to exactly 0 in float32, so padding never leaks.
import {
  AttributeType,
  DataType,
  encodeModel,
  float32Tensor,
  int64Tensor,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnxProto.ts';

export const attrInt = (name: string, i: number): AttributeProto => ({ name, type: AttributeType.INT, i });
export const attrFloat = (name: string, f: number): AttributeProto => ({ name, type: AttributeType.FLOAT, f });
export const attrInts = (name: string, ints: number[]): AttributeProto => ({ name, type: AttributeType.INTS, ints });

export interface AttentionOptions {
  /** Additive score bias broadcast onto b×heads×s×(past+s) (see `attentionBias`); none → no Add. */
  bias?: string;
  /**
   * Name prefix of the head/model shapes and 1/√dh initialisers, made on first use: default
   * `${p}.` (one set per attention); '' lets every attention of the graph share one set.
   */
  constants?: string;
  /** Maps this attention's K or V (b×heads×s×dh) to the one attended over, e.g. with past in front. */
  withPast?: (kind: 'key' | 'value', current: string) => string;
}

/** Int64 scalars sizing the causal mask: queries `seq` = s, keys `total` = past + s (`seq` itself without a past). */
export interface CausalSpan {
  seq: string;
  total: string;
  /** Keys before the first query (absent: none). */
  past?: string;
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private count = 0;
  constructor(private readonly normal: () => number, private readonly std: number) {}

  /** One node; its output is `name`, or `${op}_${n}_out0` with n counting unnamed nodes. */
  one(op: string, inputs: string[], attrs: AttributeProto[] = [], name?: string): string {
    const base = name ?? `${op}_${this.count++}`;
    const out = name ?? `${base}_out0`;
    this.nodes.push({ op_type: op, name: base, input: inputs, output: [out], attribute: attrs });
    return out;
  }
  /** A float initialiser ~ normal(0, std), drawn now. */
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
  /** A float scalar initialiser, created once per name (later calls return the first). */
  constant(name: string, value: number): string {
    return this.has(name) ? name : this.fill(name, [], value);
  }
  /** x W + b with W `${prefix}.weight` (dIn×dOut) and b `${prefix}.bias`. */
  linear(x: string, prefix: string, dIn: number, dOut: number, name?: string): string {
    const mm = this.one('MatMul', [x, this.weight(`${prefix}.weight`, [dIn, dOut])]);
    return this.one('Add', [mm, this.weight(`${prefix}.bias`, [dOut])], [], name);
  }
  /** LayerNorm over the last axis, ε = 1e-5, scale 1 and bias 0. */
  layerNorm(x: string, prefix: string, d: number, name?: string): string {
    const scale = this.fill(`${prefix}.weight`, [d], 1);
    const bias = this.fill(`${prefix}.bias`, [d], 0);
    return this.one('LayerNormalization', [x, scale, bias], [attrFloat('epsilon', 1e-5), attrInt('axis', -1)], name);
  }
  /** GELU(x) = x/2 · (1 + erf(x/√2)). */
  gelu(x: string): string {
    const half = this.constant('half_float', 0.5);
    const one = this.constant('one_float', 1);
    const invSqrt2 = this.constant('inv_sqrt_2', 1 / Math.SQRT2);
    return this.one('Mul', [this.one('Mul', [x, half]), this.one('Add', [one, this.one('Erf', [this.one('Mul', [x, invSqrt2])])])]);
  }
  /** W₂ GELU(W₁ x + b₁) + b₂ with W₁ `${p}.fc1` (d×dFF) and W₂ `${p}.fc2` (dFF×d). */
  mlp(x: string, p: string, d: number, dFF: number): string {
    return this.linear(this.gelu(this.linear(x, `${p}.fc1`, d, dFF)), `${p}.fc2`, dFF, d);
  }

  /**
   * Additive attention bias from an int64 `mask` (b×(past+s), 1 = token): 0 where attending is
   * allowed, −1e4 elsewhere; b×1×1×(past+s), or with `causal` b×1×s×(past+s), where query i
   * (absolute position past+i) also sees only keys j ≤ past + i.
   */
  attentionBias(mask: string, causal?: CausalSpan): string {
    const keep = this.one('Cast', [mask], [attrInt('to', DataType.FLOAT)]);
    const negInf = this.fill('mask_value', [], -1e4);
    const oneF = this.constant('one_float', 1);
    const padBias = this.one('Unsqueeze', [this.one('Mul', [this.one('Sub', [oneF, keep]), negInf]), this.ints('axes_1_2', [1, 2])]);
    if (!causal) return padBias;
    // The lower triangle of an s×(past+s) matrix of ones, shifted right by past (Trilu's k).
    const { seq, past, total } = causal;
    const seq1 = this.one('Unsqueeze', [seq, this.ints('axes_0', [0])]);
    const total1 = past === undefined ? seq1 : this.one('Unsqueeze', [total, 'axes_0']);
    const ones = this.one('ConstantOfShape', [this.one('Concat', [seq1, total1], [attrInt('axis', 0)])], [
      { name: 'value', type: AttributeType.TENSOR, t: float32Tensor('value', [1], [1]) },
    ]);
    const lower = this.one('Trilu', past === undefined ? [ones] : [ones, past], [attrInt('upper', 0)]);
    return this.one('Add', [padBias, this.one('Mul', [this.one('Sub', [oneF, lower]), negInf])]);
  }

  /** Multi-head attention over x (b×s×d), then the output projection `${p}.o`; see `AttentionOptions`. */
  attention(x: string, p: string, d: number, heads: number, options: AttentionOptions = {}): string {
    const { bias, constants = `${p}.`, withPast } = options;
    const dh = d / heads;
    const shape = (name: string, values: number[]) => (this.has(name) ? name : this.ints(name, values));
    const headShape = shape(`${constants}head_shape`, [0, 0, heads, dh]);
    const modelShape = shape(`${constants}model_shape`, [0, 0, d]);
    const split = (t: string, perm: number[]) => this.one('Transpose', [this.one('Reshape', [t, headShape])], [attrInts('perm', perm)]);
    const q = split(this.linear(x, `${p}.q`, d, d), [0, 2, 1, 3]);
    // K is wanted transposed (b×heads×dh×keys): in one step, or after the past is put in front.
    const k = withPast
      ? this.one('Transpose', [withPast('key', split(this.linear(x, `${p}.k`, d, d), [0, 2, 1, 3]))], [attrInts('perm', [0, 1, 3, 2])])
      : split(this.linear(x, `${p}.k`, d, d), [0, 2, 3, 1]);
    const vHeads = split(this.linear(x, `${p}.v`, d, d), [0, 2, 1, 3]);
    const v = withPast ? withPast('value', vHeads) : vHeads;
    let scores = this.one('Mul', [this.one('MatMul', [q, k]), this.constant(`${constants}inv_sqrt_dh`, 1 / Math.sqrt(dh))]);
    if (bias) scores = this.one('Add', [scores, bias]);
    const probs = this.one('Softmax', [scores], [attrInt('axis', -1)]);
    const ctx = this.one('Transpose', [this.one('MatMul', [probs, v])], [attrInts('perm', [0, 2, 1, 3])]);
    return this.linear(this.one('Reshape', [ctx, modelShape]), `${p}.o`, d, d);
  }

  /** h + MLP(LN₂ h) after h ← h + Attn(LN₁ h): one pre-norm transformer block of width d (MLP width dFF, default 4d). */
  preNormBlock(h: string, p: string, d: number, heads: number, options: AttentionOptions & { dFF?: number } = {}): string {
    h = this.one('Add', [h, this.attention(this.layerNorm(h, `${p}.ln1`, d), `${p}.attn`, d, heads, options)]);
    return this.one('Add', [h, this.mlp(this.layerNorm(h, `${p}.ln2`, d), `${p}.mlp`, d, options.dFF ?? 4 * d)]);
  }

  /** The graph as an opset-17 model (ir_version 8), encoded; `metadata` becomes metadata_props. */
  encode(producer: string, graphName: string, inputs: ValueInfoProto[], outputs: ValueInfoProto[], metadata: Record<string, string>): Uint8Array {
    return encodeModel({
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      producer_name: producer,
      producer_version: '1',
      graph: { name: graphName, node: this.nodes, initializer: this.inits, input: inputs, output: outputs },
      metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
  }

  private has(name: string): boolean {
    return this.inits.some((t) => t.name === name);
  }
}
