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
import { InputError } from '../errors.ts';
import { modelConfigPath, positiveIntegerOf, readModelConfig } from './modelConfig.ts';
import { int64, tensorDims, type ModelProto } from './onnxProto.ts';
import { DataFlow } from './residualStream.ts';
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
  const config = readModelConfig(onnxPath);
  const found = config && positiveIntegerOf(config, ...CONFIG_KEYS);
  return found && { positions: found.value, source: `${found.key} in ${modelConfigPath(onnxPath)}` };
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
  const flow = new DataFlow(graph);
  const tokens = tokenEmbedding(model, flow);
  if (!tokens) return undefined;
  const width = tensorDims(flow.initializers.get(tokens.initializer)!)[1];

  // Tensors that are (reshaped or retyped) token ids or token type ids: their Gathers are not positions.
  const seeds = graph.input.map((i) => i.name).filter((n) => n === 'input_ids' || n === 'token_type_ids');
  const tokenLike = flow.sameValues(seeds, PASS_THROUGH);
  const isConstant = (t: string): boolean => flow.initializers.has(t) || (flow.producer.has(t) && graph.node[flow.producer.get(t)!].op_type === 'Constant');
  const weightOf = (tensor: string) => flow.initializerOf(tensor, WEIGHT_PASS_THROUGH);
  const tableRows = (weight: string | undefined): number | undefined => {
    if (!weight || weight === tokens.initializer) return undefined;
    const dims = tensorDims(flow.initializers.get(weight)!);
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
