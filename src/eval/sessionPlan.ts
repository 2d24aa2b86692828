// How many ONNX sessions a worker runs for one model, and with how many intra-op threads each.
// Every session holds its own copy of the weights (onnxruntime-node sessions cannot be shared
// between worker threads), so a session per pool thread multiplies the model's memory by the
// thread count. The memory bound (issue 12) is
//
//   peak RSS ≤ 1.5 × model bytes + 1 GiB
//
// so the k sessions are the most (≤ cores) whose extra copies fit in the bound's headroom for
// weights: (k − 1) × 2 × bytes ≤ 0.5 × bytes + 512 MiB — a session costs about twice the model's
// bytes (its weights, and onnxruntime's pre-packed copies of the MatMul weights; measured on
// SmolLM2, BENCHMARKS.md) — the other 512 MiB are Node, activations and Grams.
// k = 1 for large models: one session whose intra-op threads use every core. Threads × intra-op
// threads ≤ cores (DESIGN §2). ENTROSCOPE_THREADS still fixes the session count when set.
import { availableParallelism } from 'node:os';

export interface SessionPlan {
  /** Sessions (pool threads) the model is run in. */
  sessions: number;
  /** onnxruntime intra-op threads per session. */
  intraOpThreads: number;
}

const HEADROOM = 512 * 2 ** 20;

export function sessionPlan(modelBytes: number, cores = availableParallelism()): SessionPlan {
  const env = Number(process.env.ENTROSCOPE_THREADS);
  if (Number.isInteger(env) && env > 0) return { sessions: env, intraOpThreads: 1 };
  const fit = Math.floor(1 + (0.5 * modelBytes + HEADROOM) / Math.max(1, 2 * modelBytes));
  const sessions = Math.max(1, Math.min(cores, fit));
  return { sessions, intraOpThreads: Math.max(1, Math.floor(cores / sessions)) };
}
