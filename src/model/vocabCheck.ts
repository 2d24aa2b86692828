// Does the tokenizer fit the model? Every id the tokenizer can emit must index a row of the token
// embedding matrix: otherwise onnxruntime's Gather fails mid-run (or, on some builds, reads out of
// bounds) and the user sees an opaque error far from its cause. Fewer tokenizer ids than rows is
// fine: exports often pad the vocabulary to a multiple of 64 or 128.
//
// The embedding matrix is the initialiser that input_ids index: Gather(E, input_ids) (ids possibly
// through Cast/Identity/Reshape/Unsqueeze/Squeeze, E possibly through Cast/DequantizeLinear/Identity),
// or the word-embedding input of onnxruntime's fused EmbedLayerNormalization.
import { Tokenizer } from 'tokenizers';
import { InputError } from '../errors.ts';
import { int64, readModel, tensorDims, type ModelProto } from './onnxProto.ts';
import { DataFlow } from './residualStream.ts';

export interface TokenEmbedding {
  /** The initialiser holding the matrix. */
  initializer: string;
  /** Its rows: the ids the model can embed. */
  rows: number;
}

export interface VocabCheck {
  /** Ids the tokenizer can emit: 1 + its largest id (added/special tokens included). */
  tokenizerIds: number;
  /** Undefined when no embedding matrix was found (the check then passes: nothing to compare). */
  embedding?: TokenEmbedding;
}

const ID_PASS_THROUGH = new Set(['Cast', 'Identity', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten']);
const WEIGHT_PASS_THROUGH = new Set(['Cast', 'DequantizeLinear', 'Identity']);

/** The initialiser input_ids index, and its rows; undefined if the graph does not show one. */
export function tokenEmbedding(model: ModelProto, flow: DataFlow = new DataFlow(model.graph)): TokenEmbedding | undefined {
  const graph = model.graph;
  if (!graph.input.some((i) => i.name === 'input_ids')) return undefined;
  // Tensors that still are the ids (only reshaped or retyped).
  const ids = flow.sameValues(['input_ids'], ID_PASS_THROUGH);
  const weightOf = (tensor: string) => flow.initializerOf(tensor, WEIGHT_PASS_THROUGH);
  for (const n of graph.node) {
    let weight: string | undefined;
    let axis = 0;
    if (n.op_type === 'Gather' && ids.has(n.input[1])) {
      weight = weightOf(n.input[0]);
      axis = int64(n.attribute?.find((a) => a.name === 'axis')?.i);
    } else if (n.op_type === 'EmbedLayerNormalization' && ids.has(n.input[0])) {
      weight = weightOf(n.input[2]);
    }
    if (!weight) continue;
    const dims = tensorDims(flow.initializers.get(weight)!);
    if (dims.length !== 2) continue;
    return { initializer: weight, rows: dims[axis < 0 ? axis + dims.length : axis] };
  }
  return undefined;
}

/** 1 + the largest id a tokenizer.json can emit (its vocabulary and added tokens, via `tokenizers`). */
export function tokenizerIdCount(tokenizerPath: string): number {
  let tokenizer: Tokenizer;
  try {
    tokenizer = Tokenizer.fromFile(tokenizerPath);
  } catch (err) {
    throw new InputError(`cannot read tokenizer ${tokenizerPath}: ${(err as Error).message}`);
  }
  // Ids need not be dense (a sparse WordLevel vocabulary): the largest one decides.
  let maxId = -1;
  for (const id of Object.values(tokenizer.getVocab(true))) if (id > maxId) maxId = id;
  return Math.max(maxId + 1, tokenizer.getVocabSize(true));
}

/**
 * Checks that every id the tokenizer emits has an embedding row. A tokenizer with more ids than the
 * model has rows is an InputError naming both files and both sizes; fewer is fine (padded vocab).
 */
export function checkTokenizerMatchesModel(tokenizerPath: string, onnxPath: string, model?: ModelProto): VocabCheck {
  return checkTokenizerAgainst(tokenizerPath, onnxPath, tokenEmbedding(model ?? readModel(onnxPath)));
}

/** The same check against an embedding found before (graphFacts.ts caches it per model). */
export function checkTokenizerAgainst(tokenizerPath: string, onnxPath: string, embedding: TokenEmbedding | undefined): VocabCheck {
  const tokenizerIds = tokenizerIdCount(tokenizerPath);
  if (embedding && tokenizerIds > embedding.rows) {
    throw new InputError(
      `tokenizer ${tokenizerPath} has ${tokenizerIds} token ids but model ${onnxPath} embeds only ` +
        `${embedding.rows} (rows of ${embedding.initializer}): the tokenizer does not belong to this model`,
    );
  }
  return { tokenizerIds, ...(embedding ? { embedding } : {}) };
}
