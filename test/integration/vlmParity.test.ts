// Multimodal alignment end to end on generated tiny LLaVA-style models: VlmModel (onnxruntime-node,
// batched and right-padded) + multimodalAlignment give the same eRank1–5, image reduction ratio and
// image-text alignment as the independent Python oracle (onnx + onnxruntime + tokenizers + numpy,
// one sample at a time, prompt spliced by itself), per sample and per dataset, to 1e-6; and a broken
// folder fails with an error that names the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeNpyArray } from '../../src/io/npy.ts';
import { mulberry32 } from '../../src/metrics/prng.ts';
import {
  ERANK_PARTS,
  multimodalDatasetMetrics,
  multimodalSampleMetrics,
  type MultimodalSampleMetrics,
} from '../../src/metrics/multimodalAlignment.ts';
import { tinyTokenizerJson } from '../fixtures/tinyTransformer.ts';
import { TINY_VLM_PRESETS, writeTinyVlm, type TinyVlmConfig } from '../fixtures/tinyVlm.ts';
import { VlmModel, type VlmSample, type VlmSampleHidden } from '../../src/multimodal/vlmModel.ts';
import { runOracle } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'entroscope-vlm-'));
process.env.ENTROSCOPE_CACHE = join(dir, 'cache');
after(() => rmSync(dir, { recursive: true, force: true }));

const oracleScript = new URL('../oracle/vlm_oracle.py', import.meta.url).pathname;
const MAX_TOKENS = 12;

// Captions in the fixture style, plus edge cases: one longer than MAX_TOKENS (truncated), one with
// words the vocabulary lacks (<unk>), an empty text (text alone is only BOS: eRank4 has one row, so
// the sample is skipped), upper case and punctuation.
const CAPTIONS = [
  'a red circle on a blue background .',
  'the image shows two small green squares in the top left corner and a large yellow triangle at the bottom right , with white stripes',
  'Purple STRIPES with black dots',
  'a zebra quagga near an orange star',
  '',
  'three white triangles on a dark gray background',
];

/** Seeded images: a stripe or checker pattern of a random colour plus noise, normalised as CLIP does. */
function pixels(seed: number, size: number): Float32Array {
  const rand = mulberry32(seed);
  const mean = [0.48145466, 0.4578275, 0.40821073];
  const std = [0.26862954, 0.26130258, 0.27577711];
  const colour = [rand(), rand(), rand()];
  const period = 2 + Math.floor(rand() * 6);
  const kind = seed % 3;
  const out = new Float32Array(3 * size * size);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const on = kind === 0 ? Math.floor(x / period) % 2 : kind === 1 ? (Math.floor(x / period) + Math.floor(y / period)) % 2 : Math.floor((x + y) / period) % 2;
        const v = Math.min(255, Math.max(0, Math.round(255 * (on ? colour[c] : 1 - colour[c]) + 40 * (rand() - 0.5))));
        out[(c * size + y) * size + x] = (v / 255 - mean[c]) / std[c];
      }
    }
  }
  return out;
}

interface OracleOut {
  perSample: Array<Record<string, number | null> & { tokens: VlmSampleHidden['tokens']; textTokens: number; truncated: boolean }>;
  dataset: {
    samplesUsed: number;
    meanErank: Record<string, number>;
    imageReductionRatio: number;
    imageTextAlignment: number;
    meanSampleImageReductionRatio: number;
    meanSampleImageTextAlignment: number;
  };
}

function relClose(actual: number | null | undefined, expected: number | null | undefined, tol: number, what: string): void {
  assert.ok(actual != null && expected != null, `${what}: ${actual} vs ${expected}`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= tol, `${what}: ${actual} vs ${expected} (relative error ${err.toExponential(2)})`);
}

// The two presets, and a variant that keeps CLS (`full`) and puts the text before the image.
const CASES: Record<string, TinyVlmConfig> = {
  ...TINY_VLM_PRESETS,
  'vlm-s32-full-text-first': {
    ...TINY_VLM_PRESETS['vlm-s32'],
    selectStrategy: 'full',
    promptTemplate: 'USER: describe {text} <image> ASSISTANT:',
    seed: 31,
  },
};

const models: Record<string, { dir: string; samples: VlmSample[]; npy: string[]; lastTensor: string; patches: number }> = {};
before(() => {
  for (const [name, cfg] of Object.entries(CASES)) {
    const m = writeTinyVlm(join(dir, name), cfg);
    const S = m.config.imageSize;
    const samples = CAPTIONS.map((text, i) => ({ pixels: pixels(100 + i, S), text }));
    const npy = samples.map((s, i) => {
      const path = join(dir, `${name}-image-${i}.npy`);
      writeFileSync(path, writeNpyArray(s.pixels, [3, S, S]));
      return path;
    });
    models[name] = { dir: m.dir, samples, npy, lastTensor: m.decoderTaps.last, patches: m.patches + (cfg.selectStrategy === 'full' ? 1 : 0) };
  }
});

function metricsAt(hidden: VlmSampleHidden[], layer = 0): MultimodalSampleMetrics[] {
  return hidden.map((h) =>
    multimodalSampleMetrics({
      encoderImage: h.encoderImage,
      projectedImage: h.projectedImage,
      imageText: h.imageText[layer],
      imageSpan: h.imageSpan,
      textAlone: h.textAlone[layer],
    }),
  );
}

describe('multimodal alignment parity with the Python oracle', () => {
  for (const preset of Object.keys(CASES)) {
    test(`${preset}: eRank1–5, ratio and alignment match per sample and per dataset to 1e-6 (one padded batch)`, async () => {
      const m = models[preset];
      const vlm = await VlmModel.load(m.dir, { maxTokens: MAX_TOKENS });
      const [hidden, oracle] = await Promise.all([
        vlm.runSamples(m.samples),
        runOracle<OracleOut>(oracleScript, {
          dir: m.dir,
          tensor: m.lastTensor,
          maxTokens: MAX_TOKENS,
          samples: m.samples.map((s, i) => ({ pixels: m.npy[i], text: s.text })),
        }),
      ]);
      await vlm.release();
      const ours = metricsAt(hidden);
      const P = m.patches;
      let compared = 0;
      ours.forEach((s, i) => {
        const want = oracle.perSample[i];
        assert.deepEqual(hidden[i].tokens, want.tokens, `sample ${i} token counts`);
        assert.equal(hidden[i].textTokens, want.textTokens);
        assert.equal(hidden[i].truncated, want.truncated);
        assert.equal(hidden[i].imageSpan.length, P);
        for (const k of ERANK_PARTS) {
          if (want[k] === null) {
            assert.equal(s[k], undefined, `sample ${i} ${k} should be skipped`);
            continue;
          }
          relClose(s[k], want[k], 1e-6, `${preset} sample ${i} ${k}`);
          compared++;
        }
        for (const r of ['imageReductionRatio', 'imageTextAlignment'] as const) {
          if (want[r] === null) assert.equal(s[r], undefined);
          else relClose(s[r], want[r], 1e-6, `${preset} sample ${i} ${r}`);
        }
      });
      assert.ok(compared >= 5 * (CAPTIONS.length - 1) - 1, `compared ${compared} eRanks`);
      // The fixtures exercise what they claim to: one truncated text, one skipped sample.
      assert.deepEqual(hidden.map((h) => h.truncated), [false, true, false, false, false, false]);
      assert.equal(ours[4].skipped, true);
      assert.match(ours[4].skipReason!, /^eRank4 \(LLM on the text alone\): fewer than 2 tokens/);

      const ds = multimodalDatasetMetrics(ours, { bootstrapResamples: 200, seed: 3 });
      assert.equal(ds.samplesUsed, oracle.dataset.samplesUsed);
      assert.equal(ds.samplesSkipped, 1);
      for (const k of ERANK_PARTS) relClose(ds.meanErank[k].mean, oracle.dataset.meanErank[k], 1e-6, `${preset} mean ${k}`);
      relClose(ds.imageReductionRatio, oracle.dataset.imageReductionRatio, 1e-6, 'dataset imageReductionRatio');
      relClose(ds.imageTextAlignment, oracle.dataset.imageTextAlignment, 1e-6, 'dataset imageTextAlignment');
      relClose(ds.meanSampleImageReductionRatio.mean, oracle.dataset.meanSampleImageReductionRatio, 1e-6, 'mean per-sample ratio');
      relClose(ds.meanSampleImageTextAlignment.mean, oracle.dataset.meanSampleImageTextAlignment, 1e-6, 'mean per-sample alignment');
      for (const ci of [ds.imageReductionRatioCI95, ds.imageTextAlignmentCI95]) {
        assert.ok(ci && ci.low <= ci.high, 'a bootstrap interval');
      }
    });
  }

  test('results do not depend on batch size or padding; any LLM layer can be read', async () => {
    const m = models['vlm-s32'];
    const vlm = await VlmModel.load(m.dir, { maxTokens: MAX_TOKENS, layers: ['embeddings', 'block.0', 'last'] });
    assert.deepEqual(vlm.layers.map((l) => l.name), ['embeddings', 'block.0', 'last']);
    const batched = await vlm.runSamples(m.samples);
    const single: VlmSampleHidden[] = [];
    for (const s of m.samples) single.push(...(await vlm.runSamples([s])));
    await vlm.release();
    const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i])), 0);
    batched.forEach((h, i) => {
      assert.equal(h.imageText.length, 3);
      for (let l = 0; l < 3; l++) {
        assert.equal(h.imageText[l].rows, h.tokens.prefix + h.tokens.image + h.tokens.suffix);
        assert.equal(h.textAlone[l].rows, h.tokens.textAlone);
        assert.ok(maxAbs(h.imageText[l].data, single[i].imageText[l].data) < 1e-5, `sample ${i} layer ${l} image+text`);
        assert.ok(maxAbs(h.textAlone[l].data, single[i].textAlone[l].data) < 1e-5, `sample ${i} layer ${l} text alone`);
      }
      // The embeddings tap holds the spliced sequence (plus positions): the image rows differ from text rows.
      assert.notDeepEqual(h.imageText[0].data.subarray(0, h.imageText[0].cols), h.imageText[2].data.subarray(0, h.imageText[2].cols));
    });
  });
});

describe('broken multimodal folders', () => {
  test('a projector whose output width is not the LLM embedding width names both files and both widths', async () => {
    const bad = join(dir, 'bad-projector');
    const good = writeTinyVlm(bad, 'vlm-s32');
    const wrong = writeTinyVlm(join(dir, 'wrong-width'), { ...TINY_VLM_PRESETS['vlm-s32'], projectorDim: 40 });
    copyFileSync(join(wrong.dir, 'projector.onnx'), join(bad, 'projector.onnx'));
    await assert.rejects(VlmModel.load(good.dir), (err: Error) => {
      assert.equal(err.name, 'InputError');
      assert.match(err.message, /projector .*bad-projector\/projector\.onnx outputs image_embeds of width 40/);
      assert.match(err.message, /bad-projector\/embed_tokens\.onnx inputs_embeds\) have width 48/);
      return true;
    });
  });

  test('a missing part is named', async () => {
    const m = writeTinyVlm(join(dir, 'missing'), 'vlm-s32');
    rmSync(join(m.dir, 'embed_tokens.onnx'));
    await assert.rejects(VlmModel.load(m.dir), (err: Error) => err.name === 'InputError' && /missing .*missing\/embed_tokens\.onnx/.test(err.message));
  });

  test('a tokenizer with more ids than embedding rows, a template without the image token, and wrong-sized pixels are refused', async () => {
    const m = writeTinyVlm(join(dir, 'misc'), 'vlm-s32');
    const tokenizer = join(m.dir, 'tokenizer.json');
    writeFileSync(tokenizer, tinyTokenizerJson('causal', 300));
    await assert.rejects(VlmModel.load(m.dir), /tokenizer .*misc\/tokenizer\.json has 300 token ids but model .*embed_tokens\.onnx embeds only 174/);
    writeFileSync(tokenizer, m.tokenizerJson);

    const config = join(m.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(m.configJson), prompt_template: 'USER: {text} ASSISTANT:' }));
    await assert.rejects(VlmModel.load(m.dir), /misc\/config\.json: prompt_template must contain the image token "<image>" exactly once, found 0/);
    writeFileSync(config, m.configJson);

    const vlm = await VlmModel.load(m.dir);
    await assert.rejects(
      vlm.runSamples([{ pixels: new Float32Array(3 * 32 * 32), text: 'a' }, { pixels: new Float32Array(3 * 16 * 16), text: 'b' }]),
      /sample 1: pixels must be a Float32Array of 3×32×32 = 3072 values/,
    );
    await vlm.release();
  });
});
