// A tiny causal model whose position table is read by Slice instead of Gather: h₀ = wte[ids] +
// wpe[0:seq]. The graph then shows no table a Gather indexes (maxPositions.ts finds no limit), and a
// text longer than the table fails inside onnxruntime exactly as a real one does ("Attempting to
// broadcast an axis by a dimension other than 1"). For testing what happens when inference fails.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeModel, int64Tensor, writeModel } from '../../src/model/onnxProto.ts';
import { writeTinyTransformer, type TinyTransformerConfig } from '../../src/model/tinyTransformer.ts';

export function writeSlicedPositionsModel(dir: string, positions: number, config: Partial<TinyTransformerConfig> = {}): { onnxPath: string; tokenizerPath: string } {
  mkdirSync(dir, { recursive: true });
  const m = writeTinyTransformer(dir, { kind: 'causal', vocab: 128, dModel: 32, layers: 2, heads: 2, seed: 11, ...config, maxPositions: positions });
  const model = decodeModel(readFileSync(m.onnxPath), m.onnxPath);
  const graph = model.graph;
  const k = graph.node.findIndex((n) => n.op_type === 'Gather' && n.input[0] === 'wpe');
  if (k < 0) throw new Error('the tiny model has no Gather(wpe, positions)');
  const out = graph.node[k].output[0];
  graph.initializer.push(int64Tensor('slice_zero', [1], [0]), int64Tensor('slice_one', [1], [1]), int64Tensor('slice_two', [1], [2]));
  graph.node.splice(
    k,
    1,
    { op_type: 'Shape', name: 'pos_shape', input: ['input_ids'], output: ['pos_shape_out'], attribute: [] },
    { op_type: 'Slice', name: 'pos_seq', input: ['pos_shape_out', 'slice_one', 'slice_two', 'slice_zero'], output: ['pos_seq_out'], attribute: [] },
    { op_type: 'Slice', name: 'pos_table', input: ['wpe', 'slice_zero', 'pos_seq_out', 'slice_zero'], output: [out], attribute: [] },
  );
  writeModel(join(dir, 'model.onnx'), model);
  return { onnxPath: m.onnxPath, tokenizerPath: m.tokenizerPath };
}
