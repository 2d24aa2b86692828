// The untrained twin: same graph, Hugging Face default initialisation from a recorded seed,
// reproducible to the byte, different from the trained model, and refused for quantised graphs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractShard } from '../../src/eval/extractShard.ts';
import { DataType, decodeModel, encodeModel, getMetadata, int64Tensor, tensorToFloat64, tensorValueInfo, type ModelProto } from '../../src/model/onnxProto.ts';
import { TINY_PRESETS, tinyTransformer, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { INIT_STD, UNTRAIN_RULE, untrainFiles, untrainModel } from '../../src/model/untrain.ts';
import { runCli } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'entroscope-untrain-'));
process.env.ENTROSCOPE_CACHE = join(dir, 'cache');
const trained = () => decodeModel(tinyTransformer(TINY_PRESETS['causal-d64-l4']).onnx, 'tiny');
const values = (m: ModelProto, name: string) => tensorToFloat64(m.graph.initializer.find((t) => t.name === name)!);

describe('untrained twin', () => {
  test('the same seed gives the same bytes; another seed, other bytes; both differ from the trained model', () => {
    const a = encodeModel(untrainModel(trained(), 7).model);
    const b = encodeModel(untrainModel(trained(), 7).model);
    const c = encodeModel(untrainModel(trained(), 8).model);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(values(decodeModel(a, 'a'), 'wte'), values(trained(), 'wte'));
  });

  test('initialisation follows the Hugging Face default, and seed and rule are recorded', () => {
    const { model, report } = untrainModel(trained(), 42, 'abc');
    const w = values(model, 'block.1.attn.q.weight');
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 0.003 && Math.abs(std - INIT_STD) < 0.002, `mean ${mean}, std ${std}`);
    assert.ok(values(model, 'wte').some((x) => x !== 0));
    assert.ok(values(model, 'block.0.ln1.weight').every((x) => x === 1));
    assert.ok(values(model, 'block.0.ln1.bias').every((x) => x === 0));
    assert.ok(values(model, 'block.2.mlp.fc1.bias').every((x) => x === 0));
    // Scalars and integer tensors (constants, shapes) are kept.
    assert.deepEqual(values(model, 'inv_sqrt_dh'), values(trained(), 'inv_sqrt_dh'));
    assert.deepEqual(values(model, 'head_shape'), values(trained(), 'head_shape'));
    assert.equal(getMetadata(model, 'entroscope.untrained.seed'), '42');
    assert.equal(getMetadata(model, 'entroscope.untrained.rule'), UNTRAIN_RULE);
    assert.equal(getMetadata(model, 'entroscope.untrained.source_sha256'), 'abc');
    assert.equal(report.counts.ones, 4 * 2 + 1);
    assert.ok(report.counts.normal >= 4 * 6 + 3 && report.counts.kept > 0);
    assert.throws(() => untrainModel(model, 1), /already an untrained twin/);
  });

  test('the twin runs, keeps the graph, and measures differently from the trained model', async () => {
    const src = writeTinyTransformer(join(dir, 'trained'), TINY_PRESETS['causal-d32-l2']);
    const twin = await untrainFiles(join(dir, 'trained'), join(dir, 'twin'), 3);
    assert.deepEqual(readFileSync(twin.tokenizerPath!), readFileSync(src.tokenizerPath));
    const a = decodeModel(readFileSync(src.onnxPath), 'a');
    const b = decodeModel(readFileSync(twin.onnxPath), 'b');
    assert.deepEqual(b.graph.node.map((n) => n.op_type), a.graph.node.map((n) => n.op_type));
    const texts = ['the cat sat on the mat .', 'he was a good man , and she said so .'];
    const run = (onnxPath: string, tokenizerPath: string) =>
      extractShard({ onnxPath, tokenizerPath, maxTokens: 32, batchSize: 2, intraOpThreads: 1, startRow: 0, texts, layers: ['last'], loss: true });
    const [t, u] = await Promise.all([run(src.onnxPath, src.tokenizerPath), run(twin.onnxPath, twin.tokenizerPath!)]);
    assert.notEqual(t.samples[0].entropy, u.samples[0].entropy);
    // An untrained LM predicts nearly uniformly: its loss is close to log(vocab).
    assert.ok(Math.abs(u.samples[0].loss! - Math.log(128)) < 0.05, `untrained loss ${u.samples[0].loss}`);
  });

  test('a quantised graph is refused with advice', () => {
    const q: ModelProto = {
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      graph: {
        name: 'q',
        node: [{ op_type: 'DequantizeLinear', input: ['w', 's', 'zp'], output: ['y'] }],
        initializer: [
          { ...int64Tensor('w', [2, 2], [0, 0, 0, 0]), data_type: DataType.INT8, raw_data: new Uint8Array(4) },
          { ...int64Tensor('zp', [], [0]), data_type: DataType.INT8, raw_data: new Uint8Array(1) },
        ],
        input: [tensorValueInfo('s', DataType.FLOAT, [])],
        output: [tensorValueInfo('y', DataType.FLOAT, [2, 2])],
      },
    };
    assert.throws(() => untrainModel(q, 1), (e: Error) => e.name === 'InputError' && /quantised model .*untrain the float model/.test(e.message));
  });

  test('`entroscope untrain MODEL --seed S -o OUT` writes the twin and refuses a bad seed', async () => {
    writeTinyTransformer(join(dir, 'cli-src'), TINY_PRESETS['encoder-d32-l2']);
    const ok = await runCli(['untrain', join(dir, 'cli-src'), '--seed', '5', '-o', join(dir, 'cli-twin'), '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const r = JSON.parse(ok.stdout) as { seed: number; onnxPath: string };
    assert.equal(r.seed, 5);
    assert.equal(getMetadata(decodeModel(readFileSync(r.onnxPath), r.onnxPath), 'entroscope.untrained.seed'), '5');
    const bad = await runCli(['untrain', join(dir, 'cli-src'), '--seed', 'x', '-o', join(dir, 'cli-twin2')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--seed must be an integer/);
  });
});
