// The next-token log-probabilities of a causal LM computed inside its graph, so that the logits
// (batch × sequence × vocab float32: 49,152 values per token for SmolLM2) never leave onnxruntime.
// Appended to the tapped copy (onnxTaps.ts) when the loss is asked for:
//
//   logp[b, t] = log softmax(logits[b, t, :])[next[b, t]],   next[b, t] = id[b, t+1]
//              = GatherElements(LogSoftmax(logits, axis = −1), next[b, t, 1], axis = 2)
//
// (ONNX operators LogSoftmax, opset 13 semantics: over the last axis; GatherElements, opset ≥ 11).
// The loss L = −(1/(N−1)) Σ_{t<N−1} logp[b, t] (DESIGN §1 step 8) is then summed in float64 by
// nextTokenLoss.ts. onnxruntime's LogSoftmax is computed in float32 (max, then Σ exp(x − max) in
// vectorised lanes, then x − max − log Σ), where the JS path sums exp in float64: the loss moves by
// round-off only (measured on SmolLM2: BENCHMARKS.md).
//
// When the rewrite does not apply (no float32 rank-3 logits output, or a default-domain opset
// below 13, whose LogSoftmax coerces to 2-D), the logits are returned and the JS path
// (nextTokenLoss) computes the loss: `inGraphLossPlan` says which, and why.
import { DataType, int64, tensorValueInfo, valueInfoDims, valueInfoElemType, type GraphProto, type ModelProto, type NodeProto, type ValueInfoProto } from './onnxProto.ts';

/** Graph input fed by OnnxModel: int64 [batch, sequence, 1], the id of token t+1 at position t (0 where none). */
export const NEXT_TOKEN_IDS = 'entroscope.next_token_ids';
/** Graph output: float32 [batch, sequence, 1], log p(next[b, t] | id[b, 0…t]). */
export const NEXT_TOKEN_LOGPROB = 'entroscope.next_token_logprob';
const LOG_SOFTMAX = 'entroscope.log_softmax';
/** Part of the tapped copy's cache key: a changed rewrite must be a new cache entry. */
export const IN_GRAPH_LOSS_VERSION = 'logsoftmax-gatherelements.v1';

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
  if (opset < 13) return { path: 'logits', reason: `default-domain opset ${opset} < 13 (LogSoftmax over the last axis)` };
  const names = new Set([...graph.input, ...graph.output].map((v) => v.name));
  for (const n of graph.node) for (const o of n.output) names.add(o);
  const clash = [NEXT_TOKEN_IDS, NEXT_TOKEN_LOGPROB, LOG_SOFTMAX].find((n) => names.has(n));
  if (clash) return { path: 'logits', reason: `the graph already has a tensor named ${clash}` };
  return { path: 'in-graph' };
}

/**
 * What the rewrite adds to the graph (to be merged into it: new nodes, one input, one output),
 * with batch and sequence dims named as `logits` names them.
 */
export function nextTokenLogProbNodes(model: ModelProto, logits: string): Pick<GraphProto, 'node' | 'input' | 'output'> {
  const dims = valueInfoDims(model.graph.output.find((o) => o.name === logits) as ValueInfoProto) ?? ['batch', 'sequence', 'vocab'];
  const [batch, seq] = dims;
  const node: NodeProto[] = [
    { op_type: 'LogSoftmax', name: 'entroscope/LogSoftmax', input: [logits], output: [LOG_SOFTMAX], attribute: [{ name: 'axis', type: 2, i: -1 }] },
    { op_type: 'GatherElements', name: 'entroscope/GatherElements', input: [LOG_SOFTMAX, NEXT_TOKEN_IDS], output: [NEXT_TOKEN_LOGPROB], attribute: [{ name: 'axis', type: 2, i: 2 }] },
  ];
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
