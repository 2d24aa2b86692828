// Parameter counts from the initialisers: the weights a generated config implies, numpy's count of
// MiniLM's float initialisers, the same count for its int8 twin, and a cache by model hash.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../../src/io/hash.ts';
import { countParameters, parameterCountDetails } from '../../src/model/parameterCount.ts';
import { TINY_PRESETS, writeTinyTransformer, type TinyTransformerConfig } from '../fixtures/tinyTransformer.ts';
import { modelDir, pythonBin } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'entroscope-params-'));
const cacheDir = join(dir, 'cache');

/** What a tiny transformer's config implies, counted from its architecture (see tinyTransformer.ts). */
function impliedParams(config: TinyTransformerConfig): number {
  const d = config.dModel;
  const dFF = config.dFF ?? 4 * d;
  const positions = config.maxPositions ?? 128;
  const layerNorm = 2 * d;
  const linear = (i: number, o: number) => i * o + o;
  const block = 4 * linear(d, d) + linear(d, dFF) + linear(dFF, d) + 2 * layerNorm;
  const embeddings = config.vocab * d + positions * d + (config.kind === 'encoder' ? 2 * d + layerNorm : 0);
  const head = config.kind === 'causal' ? layerNorm + d * config.vocab : 0;
  return embeddings + config.layers * block + head;
}

/** numpy's total size of a model's float initialisers (the oracle for an fp32 model). */
function numpyFloatParams(onnxPath: string): number {
  const script = [
    'import sys, numpy as np, onnx',
    'm = onnx.load(sys.argv[1])',
    'print(sum(int(np.prod(t.dims)) for t in m.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) > 0))',
  ].join('\n');
  const r = spawnSync(pythonBin, ['-c', script, onnxPath], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python oracle (${pythonBin}) failed: ${r.stderr || r.error?.message}; run \`npm test\` once to install it`);
  return Number(r.stdout.trim());
}

describe('parameter count', () => {
  for (const [name, config] of Object.entries(TINY_PRESETS)) {
    test(`a generated ${name} counts exactly the weights its config implies`, async () => {
      const m = writeTinyTransformer(join(dir, name), config);
      assert.equal(await countParameters(m.onnxPath, { cacheDir }), impliedParams(config));
    });
  }

  test('a wider MLP and more positions change the count as the formula says', async () => {
    const config: TinyTransformerConfig = { kind: 'causal', vocab: 97, dModel: 24, layers: 3, heads: 3, dFF: 40, maxPositions: 33, seed: 9 };
    const m = writeTinyTransformer(join(dir, 'odd'), config);
    assert.equal(await countParameters(m.onnxPath, { cacheDir }), impliedParams(config));
  });

  test('all-MiniLM-L6-v2 fp32 counts what numpy counts (22.57M), and its int8 twin the same', async () => {
    const fp32 = join(modelDir('all-minilm-l6-v2'), 'model.onnx');
    const int8 = join(modelDir('all-minilm-l6-v2-q'), 'model.onnx');
    assert.ok(existsSync(fp32) && existsSync(int8), `MiniLM models missing under ${modelDir('')}: run \`npm test\` once to fetch them`);
    const expected = numpyFloatParams(fp32);
    assert.equal(expected, 22_565_376); // BERT-MiniLM-L6 without the pooler (22.7M with it)
    const a = await parameterCountDetails(fp32, { cacheDir });
    assert.deepEqual(a, { params: expected, quantized: 0, tensors: 101 });
    // Quantised: each int8/uint8 weight once; scales and zero points are not parameters.
    const q = await parameterCountDetails(int8, { cacheDir });
    assert.equal(q.params, expected);
    assert.equal(q.quantized, 11_917_824 + 10_616_832); // uint8 embeddings + int8 MatMul weights
  });

  test('the count is cached by model hash beside the tap listing', async () => {
    const m = writeTinyTransformer(join(dir, 'cached'), TINY_PRESETS['causal-d32-l2']);
    const first = await countParameters(m.onnxPath, { cacheDir });
    const file = join(cacheDir, 'tapped', await sha256File(m.onnxPath), 'params.v1.json');
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { params: number }).params, first);
    // Later calls read the cache (a doctored entry shows through), also for a copy of the same bytes.
    writeFileSync(file, JSON.stringify({ params: 12345, quantized: 0, tensors: 1 }));
    const copy = writeTinyTransformer(join(dir, 'cached-copy'), TINY_PRESETS['causal-d32-l2']);
    assert.equal(await countParameters(copy.onnxPath, { cacheDir }), 12345);
  });
});
