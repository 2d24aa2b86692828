// The tiny transformer generator: deterministic from a seed, fast, loadable by onnxruntime and the
// `tokenizers` package, and causal where it says so.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxModel } from '../../src/model/onnxModel.ts';
import { TINY_PRESETS, tinyTransformer, writeTinyTransformer } from '../../src/model/tinyTransformer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { runCli } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'entroscope-tiny-'));
process.env.ENTROSCOPE_CACHE = join(dir, 'cache');

describe('tiny transformers', () => {
  test('the same config gives the same bytes, another seed other bytes, every preset in well under a second', () => {
    for (const [name, cfg] of Object.entries(TINY_PRESETS)) {
      const t0 = performance.now();
      const a = tinyTransformer(cfg);
      const ms = performance.now() - t0;
      assert.ok(ms < 500, `${name} took ${ms.toFixed(0)} ms`);
      assert.deepEqual(tinyTransformer(cfg).onnx, a.onnx);
      assert.notDeepEqual(tinyTransformer({ ...cfg, seed: cfg.seed + 100 }).onnx, a.onnx);
    }
  });

  test('the tokenizer loads, adds its special tokens and stays inside the vocabulary', async () => {
    for (const [name, cfg] of Object.entries(TINY_PRESETS)) {
      const m = writeTinyTransformer(join(dir, name), cfg);
      const { ids } = await TextTokenizer.load(m.tokenizerPath, 16).encode(['The cat sat on the mat.', 'zebra quagga']);
      assert.equal(ids[0][0], 2, `${name}: first token is BOS / [CLS]`);
      if (cfg.kind === 'encoder') assert.equal(ids[0].at(-1), 3, `${name}: last token is [SEP]`);
      assert.ok(ids.flat().every((i) => i >= 0 && i < cfg.vocab));
      assert.equal(ids[1][1], 1, 'unknown words map to the unknown token');
    }
  });

  test('onnxruntime runs both kinds; the causal model never looks ahead, the encoder does', async () => {
    const c = writeTinyTransformer(join(dir, 'c'), TINY_PRESETS['causal-d32-l2']);
    const e = writeTinyTransformer(join(dir, 'e'), TINY_PRESETS['encoder-d32-l2']);
    const causal = await OnnxModel.load(c.onnxPath, { logits: true });
    const encoder = await OnnxModel.load(e.onnxPath);
    const a = [2, 20, 30, 40, 50];
    const b = [2, 20, 30, 41, 99];
    const [ca, cb] = [await causal.runAll([a]), await causal.runAll([b])];
    assert.equal(ca.logits!.vocab, 128);
    assert.equal(ca.layers[0].dim, 32);
    const d = 32;
    for (let i = 0; i < 3 * d; i++) assert.ok(Math.abs(ca.layers[0].hidden[i] - cb.layers[0].hidden[i]) < 1e-6, 'prefix unchanged by later tokens');
    assert.ok(Math.abs(ca.layers[0].hidden[3 * d] - cb.layers[0].hidden[3 * d]) > 1e-6);
    const [ea, eb] = [await encoder.run([a]), await encoder.run([b])];
    assert.equal(encoder.hiddenOutput, 'last_hidden_state');
    assert.ok(Math.abs(ea.hidden[0] - eb.hidden[0]) > 1e-6, 'an encoder attends both ways');
    await Promise.all([causal.release(), encoder.release()]);
  });

  test('`entroscope layers` lists the taps, and an unknown layer lists the valid ones', async () => {
    const m = writeTinyTransformer(join(dir, 'cli'), TINY_PRESETS['causal-d32-l2']);
    const ok = await runCli(['layers', join(dir, 'cli'), '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    const out = JSON.parse(ok.stdout) as { layout: string; layers: Array<{ name: string; tensor: string; shape: unknown[] }> };
    assert.equal(out.layout, 'pre-norm');
    assert.deepEqual(out.layers.map((l) => [l.name, l.tensor]), Object.entries(m.taps));
    const bad = await runCli(['layers', m.onnxPath, '--layers', 'block.5']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no layer "block\.5"; layers it offers: embeddings, block\.0, block\.1, final, last/);
  });
});
