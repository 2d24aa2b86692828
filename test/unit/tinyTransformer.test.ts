// The tiny transformer generator: deterministic from a seed, fast, loadable by onnxruntime and the
// `tokenizers` package, and causal where it says so; with past key/value inputs it decodes
// incrementally exactly as it runs whole texts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { OnnxModel } from '../../src/model/onnxModel.ts';
import { decodeModel } from '../../src/model/onnxProto.ts';
import { TINY_PRESETS, tinyTransformer, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
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

  test('with past key/values (plain and merged) the same seed gives the same weights, and decoding with the cache equals the full pass', async () => {
    const cfg = TINY_PRESETS['causal-d32-l2'];
    const ids = [2, 20, 30, 40, 50, 60];
    const plainModel = writeTinyTransformer(join(dir, 'pkv-none'), cfg);
    const plain = await ort.InferenceSession.create(plainModel.onnxPath);
    const int64 = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs.map(BigInt)), [1, xs.length]);
    const full = (await plain.run({ input_ids: int64(ids), attention_mask: int64(ids.map(() => 1)) })).logits.data as Float32Array;
    for (const kind of ['inputs', 'merged'] as const) {
      const m = writeTinyTransformer(join(dir, `pkv-${kind}`), { ...cfg, pastKeyValues: kind });
      assert.deepEqual(tinyTransformer({ ...cfg, pastKeyValues: kind }).onnx, m.onnx);
      const weights = (onnx: Uint8Array) => decodeModel(onnx, kind).graph.initializer.filter((t) => /weight|bias|^w[tp]e$/.test(t.name ?? ''));
      assert.deepEqual(weights(m.onnx), weights(plainModel.onnx));
      const session = await ort.InferenceSession.create(m.onnxPath);
      const step = async (x: number[], past: ort.Tensor[], useCache: boolean) => {
        const feeds: Record<string, ort.Tensor> = { input_ids: int64(x), attention_mask: int64(Array(past[0].dims[2] + x.length).fill(1)) };
        past.forEach((t, k) => (feeds[`past_key_values.${k >> 1}.${k % 2 ? 'value' : 'key'}`] = t));
        if (kind === 'merged') feeds.use_cache_branch = new ort.Tensor('bool', new Uint8Array([useCache ? 1 : 0]), [1]);
        const out = await session.run(feeds);
        const present = Array.from({ length: 2 * cfg.layers }, (_, k) => out[`present.${k >> 1}.${k % 2 ? 'value' : 'key'}`]);
        return { logits: out.logits.data as Float32Array, present };
      };
      const empty = Array.from({ length: 2 * cfg.layers }, () => new ort.Tensor('float32', new Float32Array(0), [1, cfg.heads, 0, cfg.dModel / cfg.heads]));
      // Empty past: the plain decoder's logits exactly.
      assert.deepEqual((await step(ids, empty, false)).logits, full);
      // Prefix of 4, then 2 more tokens against its cache: the full pass's last two positions.
      const prefix = await step(ids.slice(0, 4), empty, false);
      assert.deepEqual(prefix.present[0].dims, [1, cfg.heads, 4, cfg.dModel / cfg.heads]);
      const next = await step(ids.slice(4), prefix.present, true);
      const want = full.subarray(4 * cfg.vocab);
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(next.logits[i] - want[i]) <= 1e-5, `${kind} logit ${i}: ${next.logits[i]} vs ${want[i]}`);
      await session.release();
    }
    await plain.release();
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
