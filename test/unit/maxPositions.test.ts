// The model's maximum positions, read from config.json and from the graph's position table, and
// what --max-tokens becomes from it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../src/errors.ts';
import { readModel } from '../../src/model/onnxProto.ts';
import { writeTinyTransformer } from '../../src/model/tinyTransformer.ts';
import { graphMaxPositions, MAX_TOKENS_WITHOUT_LIMIT, modelMaxPositions, resolveMaxTokens } from '../../src/model/maxPositions.ts';
import { modelDir } from '../helpers/services.ts';
import { writeSlicedPositionsModel } from '../helpers/slicedPositionsModel.ts';

const dir = mkdtempSync(join(tmpdir(), 'entroscope-maxpos-'));
const limitOf = (onnxPath: string) => modelMaxPositions(readModel(onnxPath), onnxPath);

describe("a model's maximum positions", () => {
  // all-MiniLM-L6-v2 is a BERT with max_position_embeddings = 512 (its Hugging Face config.json).
  for (const name of ['all-minilm-l6-v2', 'all-minilm-l6-v2-q']) {
    test(`${name} (no config.json beside it): 512, the rows of its position embedding table`, () => {
      const onnx = join(modelDir(name), 'model.onnx');
      const limit = limitOf(onnx);
      assert.equal(limit?.positions, 512);
      assert.match(limit!.source, /embeddings\.position_embeddings\.weight/);
    });
  }

  for (const kind of ['causal', 'encoder'] as const) {
    test(`a generated ${kind} model with 40 positions: 40 (its token type table of 2 rows is not taken)`, () => {
      const m = writeTinyTransformer(join(dir, kind), { kind, vocab: 64, dModel: 16, layers: 1, heads: 2, maxPositions: 40, seed: 5 });
      assert.deepEqual(limitOf(m.onnxPath), { positions: 40, source: `rows of wpe in ${m.onnxPath}` });
    });
  }

  test('config.json and the graph: the smaller limit wins, named by its source', () => {
    const tight = writeTinyTransformer(join(dir, 'tight'), { kind: 'causal', vocab: 64, dModel: 16, layers: 1, heads: 2, maxPositions: 40, seed: 5 });
    writeFileSync(join(dir, 'tight', 'config.json'), JSON.stringify({ model_type: 'gpt2', n_positions: 24 }));
    assert.deepEqual(limitOf(tight.onnxPath), { positions: 24, source: `n_positions in ${join(dir, 'tight', 'config.json')}` });
    const loose = writeTinyTransformer(join(dir, 'loose'), { kind: 'causal', vocab: 64, dModel: 16, layers: 1, heads: 2, maxPositions: 40, seed: 5 });
    writeFileSync(join(dir, 'loose', 'config.json'), JSON.stringify({ max_position_embeddings: 100 }));
    assert.equal(limitOf(loose.onnxPath)?.positions, 40);
  });

  test('a table the graph does not index by Gather: unknown from the graph, known from config.json', () => {
    const m = writeSlicedPositionsModel(join(dir, 'sliced'), 16);
    assert.equal(graphMaxPositions(readModel(m.onnxPath), m.onnxPath), undefined);
    assert.equal(limitOf(m.onnxPath), undefined);
    writeFileSync(join(dir, 'sliced', 'config.json'), JSON.stringify({ max_position_embeddings: 16 }));
    assert.equal(limitOf(m.onnxPath)?.positions, 16);
  });
});

describe('--max-tokens from the limit', () => {
  const limit = { positions: 512, source: 'rows of pos in m.onnx' };
  test('absent: the model\'s limit, or the paper\'s 2048 when the model does not say', () => {
    assert.equal(resolveMaxTokens(undefined, limit, 'm'), 512);
    assert.equal(resolveMaxTokens(undefined, undefined, 'm'), MAX_TOKENS_WITHOUT_LIMIT);
    assert.equal(MAX_TOKENS_WITHOUT_LIMIT, 2048);
  });
  test('at or under the limit: kept; over it: an InputError naming the limit and where it comes from', () => {
    assert.equal(resolveMaxTokens(512, limit, 'm'), 512);
    assert.equal(resolveMaxTokens(100, limit, 'm'), 100);
    assert.equal(resolveMaxTokens(5000, undefined, 'm'), 5000);
    assert.throws(() => resolveMaxTokens(1024, limit, 'm'), (e: Error) => e instanceof InputError && /1024/.test(e.message) && /512 positions \(rows of pos in m\.onnx\)/.test(e.message));
  });
});
