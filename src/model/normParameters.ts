// Norm parameters of an ONNX transformer: the initialisers that are norm scales (γ) and biases (β),
// which the untrained twin resets to 1 and 0 as Hugging Face's `_init_weights` does. Found by the
// shapes norms take in exports: LayerNormalization / RMSNormalization ops (and fused Skip… ops),
// or decomposed: ReduceMean → Sub → … → Div → Mul(γ) → Add(β) (LayerNorm) and
// Pow(x, 2) → ReduceMean → … → Mul(x, ·) → Mul(γ) (RMSNorm).
import type { ModelProto, NodeProto } from './onnxProto.ts';
import { DataFlow } from './residualStream.ts';

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
/** DataFlow's producer / consumer maps, with the look-ups the norm patterns need. */
class GraphIndex extends DataFlow {
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

/** The initialisers that are norm scales (γ) and norm biases (β). */
export function normParameters(model: ModelProto): { scales: Set<string>; biases: Set<string> } {
  const norms = findNorms(new GraphIndex(model.graph));
  const names = (xs: Array<string | undefined>) => new Set(xs.filter((x): x is string => !!x));
  return { scales: names(norms.map((n) => n.scale)), biases: names(norms.map((n) => n.bias)) };
}

