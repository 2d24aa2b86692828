/**
 * Next-token cross-entropy of one sample (DESIGN §1 step 8, the loss Diff-eRank is set against):
 *
 *   L = (1 / (N−1)) Σ_{t=0}^{N−2} −log softmax(logits_t)[id_{t+1}]      (natural log, float64)
 *
 * over the sample's N real tokens (padding never counts); null when N < 2 (nothing to predict).
 * logits: the sample's rows, N×vocab row-major (float32 from the model).
 */
export function nextTokenLoss(logits: ArrayLike<number>, ids: readonly number[], vocab: number): number | null {
  const n = ids.length;
  if (n < 2) return null;
  if (logits.length < (n - 1) * vocab) throw new Error(`logits have ${logits.length} values, need ${n - 1}×${vocab}`);
  let total = 0;
  for (let t = 0; t < n - 1; t++) {
    const off = t * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) if (logits[off + v] > max) max = logits[off + v];
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[off + v] - max);
    const target = ids[t + 1];
    if (!(target >= 0 && target < vocab)) throw new Error(`token id ${target} at position ${t + 1} is outside the vocabulary of ${vocab} logits`);
    total += max + Math.log(sum) - logits[off + target];
  }
  const loss = total / (n - 1);
  if (!Number.isFinite(loss)) throw new Error(`next-token loss is ${loss} (non-finite logits)`);
  return loss;
}

/**
 * The same loss from the log-probabilities the graph computed (nextTokenLogProbs.ts):
 *
 *   L = −(1 / (N−1)) Σ_{t=0}^{N−2} logp_t,   logp_t = log softmax(logits_t)[id_{t+1}]   (summed in float64)
 *
 * logProbs: the sample's positions 0…N−1 (position N−1 predicts nothing and is not read).
 */
export function nextTokenLossFromLogProbs(logProbs: ArrayLike<number>, n: number): number | null {
  if (n < 2) return null;
  if (logProbs.length < n - 1) throw new Error(`next-token log-probabilities have ${logProbs.length} values, need ${n - 1}`);
  let total = 0;
  for (let t = 0; t < n - 1; t++) total -= logProbs[t];
  const loss = total / (n - 1);
  if (!Number.isFinite(loss)) throw new Error(`next-token loss is ${loss} (non-finite logits)`);
  return loss;
}
