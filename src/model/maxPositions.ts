// How many positions a model can embed: the longest token sequence it accepts. The paper truncates
// each text at the model's own limit; longer inputs make onnxruntime fail mid-run (a Gather out of
// bounds, or "Attempting to broadcast an axis by a dimension other than 1. 512 by 525").
//
// Two sources, and the smaller wins when both speak:
// - config.json beside the .onnx (what `optimum-cli export onnx` writes): `max_position_embeddings`
//   (BERT, Llama, Mistral, OPT, GPT-NeoX, Phi-3), `n_positions` (GPT-2), `max_sequence_length`,
//   `seq_length`, `n_ctx`.
// - the graph: the rows of the learned position-embedding table — a rank-2 initialiser of the token
//   embedding's width that a Gather indexes with something other than the token ids or token type
//   ids (BERT's `embeddings.position_embeddings.weight`, GPT-2's `wpe`), or the position table of
//   onnxruntime's fused EmbedLayerNormalization. OPT's table has 2 rows more than its positions
//   (an offset), so its config.json, when present, is the tighter bound.
// Rotary models (Llama, Mistral …) have no table: only config.json knows their limit.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { int64, tensorDims, type ModelProto, type NodeProto } from './onnxProto.ts';
import { tokenEmbedding } from './vocabCheck.ts';

export interface MaxPositions {
  positions: number;
  /** Where the number comes from, for messages (`max_position_embeddings in …/config.json`). */
  source: string;
}

/** config.json keys that hold the number of positions, in the order they are trusted. */
const CONFIG_KEYS = ['max_position_embeddings', 'n_positions', 'max_sequence_length', 'seq_length', 'n_ctx'] as const;

// Ops that pass indices (or a weight) through unchanged in value.
const PASS_THROUGH = new Set(['Cast', 'Identity', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten']);
const WEIGHT_PASS_THROUGH = new Set(['Cast', 'DequantizeLinear', 'Identity']);

/** The limit stated by the config.json beside `onnxPath`, if any. */
export function configMaxPositions(onnxPath: string): MaxPositions | undefined {
  const path = join(dirname(onnxPath), 'config.json');
  if (!existsSync(path)) return undefined;
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new InputError(`cannot read ${path}: ${(err as Error).message}`);
  }
  for (const key of CONFIG_KEYS) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return { positions: v, source: `${key} in ${path}` };
  }
  return undefined;
}

/** A learned position-embedding table: its initialiser and rows. */
export interface PositionTable {
  initializer: string;
  rows: number;
}

/** The rows of the model's learned position-embedding table, if the graph has one. */
export function graphMaxPositions(model: ModelProto, onnxPath: string): MaxPositions | undefined {
  const table = positionTable(model);
  return table && { positions: table.rows, source: `rows of ${table.initializer} in ${onnxPath}` };
}

/** The model's learned position-embedding table (see the file comment); the smallest if several. */
export function positionTable(model: ModelProto): PositionTable | undefined {
  const graph = model.graph;
  const inits = new Map(graph.initializer.map((t) => [t.name ?? '', t]));
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of graph.node) {
    for (const o of n.output) if (o) producer.set(o, n);
    for (const x of n.input) if (x) consumers.set(x, [...(consumers.get(x) ?? []), n]);
  }
  const tokens = tokenEmbedding(model);
  if (!tokens) return undefined;
  const width = tensorDims(inits.get(tokens.initializer)!)[1];

  // Tensors that are (reshaped or retyped) token ids or token type ids: their Gathers are not positions.
  const tokenLike = new Set<string>();
  const queue: string[] = graph.input.map((i) => i.name).filter((n) => n === 'input_ids' || n === 'token_type_ids');
  for (const q of queue) tokenLike.add(q);
  while (queue.length > 0) {
    for (const n of consumers.get(queue.pop()!) ?? []) {
      if (PASS_THROUGH.has(n.op_type) && tokenLike.has(n.input[0]) && !tokenLike.has(n.output[0])) {
        tokenLike.add(n.output[0]);
        queue.push(n.output[0]);
      }
    }
  }
  const isConstant = (t: string): boolean => inits.has(t) || producer.get(t)?.op_type === 'Constant';
  const weightOf = (tensor: string): string | undefined => {
    for (let depth = 0; depth < 4; depth++) {
      if (inits.has(tensor)) return tensor;
      const p = producer.get(tensor);
      if (!p || !WEIGHT_PASS_THROUGH.has(p.op_type)) return undefined;
      tensor = p.input[0];
    }
    return undefined;
  };
  const tableRows = (weight: string | undefined): number | undefined => {
    if (!weight || weight === tokens.initializer) return undefined;
    const dims = tensorDims(inits.get(weight)!);
    return dims.length === 2 && dims[1] === width ? dims[0] : undefined;
  };

  let best: PositionTable | undefined;
  const consider = (weight: string, rows: number | undefined): void => {
    if (rows !== undefined && (!best || rows < best.rows)) best = { initializer: weight, rows };
  };
  for (const n of graph.node) {
    if (n.op_type === 'Gather') {
      const axis = int64(n.attribute?.find((a) => a.name === 'axis')?.i);
      if (axis !== 0 || tokenLike.has(n.input[1]) || isConstant(n.input[1])) continue;
      const weight = weightOf(n.input[0]);
      consider(weight ?? '', tableRows(weight));
    } else if (n.op_type === 'EmbedLayerNormalization' && n.input[3]) {
      const weight = weightOf(n.input[3]);
      consider(weight ?? '', tableRows(weight));
    }
  }
  return best;
}

/** The model's limit: the smaller of config.json's and the graph's; undefined when neither says. */
export function modelMaxPositions(model: ModelProto, onnxPath: string): MaxPositions | undefined {
  return maxPositionsOf(onnxPath, positionTable(model));
}

/** The smaller of config.json's limit and the rows of `table` (the graph's, found before). */
export function maxPositionsOf(onnxPath: string, table: PositionTable | undefined): MaxPositions | undefined {
  const fromGraph = table && { positions: table.rows, source: `rows of ${table.initializer} in ${onnxPath}` };
  const found = [configMaxPositions(onnxPath), fromGraph].filter((m): m is MaxPositions => m !== undefined);
  return found.sort((a, b) => a.positions - b.positions)[0];
}

/** Tokens kept per text when the model's limit is unknown: the paper's truncation length. */
export const MAX_TOKENS_WITHOUT_LIMIT = 2048;

/**
 * The tokens kept per text: the requested number, else the model's limit (else
 * MAX_TOKENS_WITHOUT_LIMIT). A request above the model's limit is refused, naming it.
 */
export function resolveMaxTokens(requested: number | undefined, limit: MaxPositions | undefined, modelName: string): number {
  if (requested === undefined) return limit?.positions ?? MAX_TOKENS_WITHOUT_LIMIT;
  if (limit && requested > limit.positions) {
    throw new InputError(
      `maxTokens (--max-tokens) ${requested} is more than model ${modelName} can embed: ${limit.positions} positions ` +
        `(${limit.source}); use --max-tokens ${limit.positions} or less, or leave it out to use the model's limit`,
    );
  }
  return requested;
}
