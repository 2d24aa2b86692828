// The next-token log-probabilities of a causal LM computed inside its graph, so that the logits
// (batch × sequence × vocab float32: 49,152 values per token for SmolLM2) never leave onnxruntime.
// Appended to the tapped copy (onnxTaps.ts) when the loss is asked for:
//
//   logp[b, t] = log softmax(logits[b, t, :])[next[b, t]],   next[b, t] = id[b, t+1]
//              = logits[b, t, next[b, t]] − log Σ_v exp(logits[b, t, v])
//              = Sub(GatherElements(logits, next[b, t, 1], axis = 2), lse[b, t, 1])
//
// (ONNX operators GatherElements, opset ≥ 11; ReduceLogSumExp, `axes` an attribute below opset 18
// and an input from 18; Reshape; Sub; LogSoftmax, opset 13 semantics.) The log-sum-exp is taken
// in two stages over the logits viewed as [b, t, C, K] (nextTokenLogProbNodes): unlike
// LogSoftmax, which writes a second batch × sequence × vocab tensor, the reductions and the gather
// write one value per position (or per C), so the in-graph loss adds almost nothing to
// onnxruntime's peak memory beyond the logits themselves. onnxruntime computes it in float32
// where the JS path sums exp in float64: the loss moves by round-off only (checked against
// PyTorch per zoo model and on SmolLM2: test/integration/zoo.test.ts, smollm2.test.ts).
// The loss L = −(1/(N−1)) Σ_{t<N−1} logp[b, t] (DESIGN §1 step 8) is then summed in float64 by
// nextTokenLoss.ts.
//
// When the rewrite does not apply (no float32 rank-3 logits output, or a default-domain opset
// below 13), the logits are returned and the JS path (nextTokenLoss) computes the loss:
// `inGraphLossPlan` says which, and why.
import { AttributeType, DataType, int64, tensorValueInfo, valueInfoDims, valueInfoElemType, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from './onnxProto.ts';

/** Graph input fed by OnnxModel: int64 [batch, sequence, 1], the id of token t+1 at position t (0 where none). */
export const NEXT_TOKEN_IDS = 'entroscope.next_token_ids';
/** Graph output: float32 [batch, sequence, 1], log p(next[b, t] | id[b, 0…t]). */
export const NEXT_TOKEN_LOGPROB = 'entroscope.next_token_logprob';
/** Every other tensor the rewrite adds is named with this prefix. */
const PREFIX = 'entroscope.loss.';
const TARGET_LOGIT = `${PREFIX}target_logit`;
const LOG_SUM_EXP = `${PREFIX}log_sum_exp`;
const LOG_SOFTMAX = `${PREFIX}log_softmax`;
/** Part of the tapped copy's cache key: a changed rewrite must be a new cache entry. */
export const IN_GRAPH_LOSS_VERSION = 'two-stage-logsumexp.v3';

export type LossPath = { path: 'in-graph' } | { path: 'logits'; reason: string };

/** Whether the next-token log-probabilities can be computed in `model`'s graph from `logits`. */
export function inGraphLossPlan(model: ModelProto, logits: string): LossPath {
  const graph = model.graph;
  const out = graph.output.find((o) => o.name === logits);
  if (!out) return { path: 'logits', reason: `${logits} is not a graph output` };
  const type = valueInfoElemType(out);
  if (type !== DataType.FLOAT) return { path: 'logits', reason: `${logits} is ${type === DataType.FLOAT16 ? 'float16' : `of type ${type}`}, not float32 (the JS path widens it and sums in float64)` };
  const dims = valueInfoDims(out);
  if (dims?.length !== 3) return { path: 'logits', reason: `${logits} is not declared rank 3 (batch × sequence × vocab)` };
  const opset = int64(model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  if (opset < 13) return { path: 'logits', reason: `default-domain opset ${opset} < 13` };
  const names = new Set([...graph.input, ...graph.output].map((v) => v.name));
  for (const n of graph.node) for (const o of n.output) names.add(o);
  const clash = [...names].find((n) => n === NEXT_TOKEN_IDS || n === NEXT_TOKEN_LOGPROB || n.startsWith(PREFIX));
  if (clash) return { path: 'logits', reason: `the graph already has a tensor named ${clash}` };
  return { path: 'in-graph' };
}

/** The split V = C × K of a vocabulary for the two-stage log-sum-exp (C, K ≥ 16, C nearest √V), or undefined. */
export function vocabSplit(vocab: number | string | undefined): { c: number; k: number } | undefined {
  if (typeof vocab !== 'number' || vocab < 256) return undefined;
  let best: number | undefined;
  for (let c = 16; c <= vocab / 16; c++) {
    if (vocab % c === 0 && (best === undefined || Math.abs(Math.log(c / Math.sqrt(vocab))) < Math.abs(Math.log(best / Math.sqrt(vocab))))) best = c;
  }
  return best === undefined ? undefined : { c: best, k: vocab / best };
}

const int64Constant = (name: string, values: number[]): NodeProto => ({
  op_type: 'Constant',
  name: `entroscope/${name}`,
  input: [],
  output: [name],
  attribute: [{ name: 'value', type: AttributeType.TENSOR, t: { dims: [values.length], data_type: DataType.INT64, int64_data: values } }],
});

/** ReduceLogSumExp over `axes` with keepdims = 1: `axes` an attribute below opset 18, an input (a Constant) from 18. */
function reduceLogSumExp(opset: number, input: string, output: string, axes: number[]): NodeProto[] {
  const keep = { name: 'keepdims', type: AttributeType.INT, i: 1 };
  if (opset < 18) return [{ op_type: 'ReduceLogSumExp', name: `entroscope/${output}`, input: [input], output: [output], attribute: [{ name: 'axes', type: AttributeType.INTS, ints: axes }, keep] }];
  return [int64Constant(`${output}.axes`, axes), { op_type: 'ReduceLogSumExp', name: `entroscope/${output}`, input: [input, `${output}.axes`], output: [output], attribute: [keep] }];
}

/**
 * What the rewrite adds to the graph (to be merged into it: new nodes, one input, one output),
 * with batch and sequence dims named as `logits` names them. See the file comment for the formula;
 * how log Σ_v exp(logits[b, t, v]) is computed:
 *
 * - vocabulary V static with a split V = C × K (vocabSplit): in two stages,
 *   lse = log Σ_c exp(log Σ_k exp(x[b, t, c, k])) over the logits reshaped to [b, t, C, K]
 *   (Reshape is a view). onnxruntime's CPU ReduceLogSumExp adds exp(x − max) one after another in
 *   float32, so over 49,152 terms at once its round-off reaches ~1e-4 of the loss; the two stages
 *   add ~√V terms each (measured on SmolLM2: BENCHMARKS.md).
 * - otherwise: LogSoftmax over the last axis (opset ≥ 13 semantics; vectorised, exact to
 *   round-off), which costs a second batch × sequence × vocab tensor inside onnxruntime.
 */
export function nextTokenLogProbNodes(model: ModelProto, logits: string): Pick<GraphProto, 'node' | 'input' | 'output'> {
  const dims = valueInfoDims(model.graph.output.find((o) => o.name === logits) as ValueInfoProto) ?? ['batch', 'sequence', 'vocab'];
  const [batch, seq, vocab] = dims;
  const opset = int64(model.opset_import.find((o) => !o.domain || o.domain === 'ai.onnx')?.version);
  const gather = (data: string): NodeProto => ({
    op_type: 'GatherElements',
    name: 'entroscope/GatherElements',
    input: [data, NEXT_TOKEN_IDS],
    output: [data === logits ? TARGET_LOGIT : NEXT_TOKEN_LOGPROB],
    attribute: [{ name: 'axis', type: AttributeType.INT, i: 2 }],
  });
  const split = vocabSplit(vocab);
  const node: NodeProto[] = split
    ? [
        gather(logits),
        int64Constant(`${PREFIX}split_shape`, [0, 0, split.c, split.k]),
        { op_type: 'Reshape', name: `entroscope/${PREFIX}split`, input: [logits, `${PREFIX}split_shape`], output: [`${PREFIX}split`] },
        ...reduceLogSumExp(opset, `${PREFIX}split`, `${PREFIX}lse_k`, [-1]),
        ...reduceLogSumExp(opset, `${PREFIX}lse_k`, `${PREFIX}lse_ck`, [2, 3]),
        int64Constant(`${PREFIX}lse_shape`, [0, 0, 1]),
        { op_type: 'Reshape', name: `entroscope/${LOG_SUM_EXP}`, input: [`${PREFIX}lse_ck`, `${PREFIX}lse_shape`], output: [LOG_SUM_EXP] },
        { op_type: 'Sub', name: 'entroscope/Sub', input: [TARGET_LOGIT, LOG_SUM_EXP], output: [NEXT_TOKEN_LOGPROB] },
      ]
    : [{ op_type: 'LogSoftmax', name: 'entroscope/LogSoftmax', input: [logits], output: [LOG_SOFTMAX], attribute: [{ name: 'axis', type: AttributeType.INT, i: -1 }] }, gather(LOG_SOFTMAX)];
  return {
    node,
    input: [tensorValueInfo(NEXT_TOKEN_IDS, DataType.INT64, [batch, seq, 1])],
    output: [tensorValueInfo(NEXT_TOKEN_LOGPROB, DataType.FLOAT, [batch, seq, 1])],
  };
}

/** Targets for one right-padded batch: next[b, t] = ids[b][t+1], 0 at the last real position and in padding. */
export function nextTokenIds(ids: readonly number[][], seqLen: number): BigInt64Array {
  const next = new BigInt64Array(ids.length * seqLen);
  ids.forEach((row, b) => {
    for (let t = 0; t + 1 < row.length; t++) next[b * seqLen + t] = BigInt(row[t + 1]);
  });
  return next;
}
