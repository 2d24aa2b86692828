// An ONNX transformer run by onnxruntime-node. Inputs are discovered from the graph (input_ids,
// attention_mask, token_type_ids, position_ids), not hard-coded; the hidden-state output is
// `last_hidden_state` or else the first rank-3 float output that is not `logits`.
//
// Note: InferenceSession.run is a promise around a *synchronous* native call, so callers that must
// keep an event loop responsive (Temporal activities) run this inside a worker thread.
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.ts';

const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids', 'position_ids']);

/** Hidden states of one batch: `hidden: batch×seqLen×dim` float32, row-major. */
export interface HiddenBatch {
  hidden: Float32Array;
  batch: number;
  seqLen: number;
  dim: number;
}

export class OnnxModel {
  private constructor(
    readonly path: string,
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly hiddenOutput: string,
  ) {}

  static async load(path: string, opts: { intraOpThreads?: number } = {}): Promise<OnnxModel> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: opts.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new InputError(`cannot load ONNX model ${path}: ${(err as Error).message}`);
    }
    const unknown = session.inputNames.filter((n) => !KNOWN_INPUTS.has(n));
    if (!session.inputNames.includes('input_ids') || unknown.length > 0) {
      throw new InputError(
        `ONNX model ${path} has inputs [${session.inputNames.join(', ')}]; entroscope feeds ` +
          `input_ids (required), attention_mask, token_type_ids, position_ids` +
          (unknown.length ? ` — cannot feed: ${unknown.join(', ')}` : ''),
      );
    }
    const meta = session.outputMetadata;
    const candidates = meta.filter(
      (m) => m.isTensor && m.type === 'float32' && m.shape.length === 3 && m.name !== 'logits',
    );
    const hidden = candidates.find((m) => m.name === 'last_hidden_state') ?? candidates[0];
    if (!hidden) {
      throw new InputError(
        `ONNX model ${path} has no rank-3 float32 hidden-state output (outputs: ${session.outputNames.join(', ')})`,
      );
    }
    return new OnnxModel(path, session, session.inputNames, hidden.name);
  }

  /** Runs one right-padded batch; padding positions get attention_mask 0. */
  async run(ids: number[][]): Promise<HiddenBatch> {
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
    const feeds = Object.fromEntries(this.inputNames.map((n) => [n, all[n]]));
    const out = await this.session.run(feeds, [this.hiddenOutput]);
    const tensor = out[this.hiddenOutput];
    const [b, s, d] = tensor.dims;
    if (b !== batch || s !== seqLen) {
      throw new InputError(`tensor ${this.hiddenOutput} of ${this.path} has shape [${tensor.dims.join(', ')}], expected [${batch}, ${seqLen}, d]`);
    }
    return { hidden: tensor.data as Float32Array, batch, seqLen, dim: d };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
