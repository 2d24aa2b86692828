// Layer taps on generated tiny transformers: the graph heuristic finds the tensors the generator
// built as hidden states; the tapped graph run through extractShard matches the independent Python
// oracle (onnx exposes the same tensors, onnxruntime runs each sample alone, numpy does DESIGN §1,
// and the next-token loss); results do not depend on batch size or padding. Decoders exported with
// past key/value inputs (plain and merged) give exactly what the same decoder without them gives.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractShard, type ExtractShardInput, type ExtractShardOutput } from '../../src/eval/extractShard.ts';
import { OnnxModel } from '../../src/model/onnxModel.ts';
import { findTaps, modelTaps, resolveLayers, tappedModel } from '../../src/model/onnxTaps.ts';
import { DataType, decodeModel, readModel, tensorValueInfo, writeModel, type ValueInfoProto } from '../../src/model/onnxProto.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { TextTokenizer } from '../../src/model/tokenizer.ts';
import { vocabSplit } from '../../src/model/nextTokenLogProbs.ts';
import { nextTokenLoss, nextTokenLossFromLogProbs } from '../../src/model/nextTokenLoss.ts';
import { runOracle } from '../helpers/services.ts';

// Tapped graphs go to a private cache, never the user's.
const dir = mkdtempSync(join(tmpdir(), 'entroscope-taps-'));
process.env.ENTROSCOPE_CACHE = join(dir, 'cache');

const oracleScript = new URL('../oracle/layers_oracle.py', import.meta.url).pathname;
const METRICS = ['entropy', 'erank', 'normalizedEntropy', 'renyi2', 'nuclearNorm'] as const;
const TEXTS = [
  'the cat sat on the mat .',
  '',
  'one',
  'he was a good man , and she said so in the year of the great water .',
  'a a a a a a',
  'where did you find the animal ? under the house , near the light .',
  'hello world',
  'we can make it work if they help',
  'w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13',
];

const causal = () => writeTinyTransformer(join(dir, 'causal'), TINY_PRESETS['causal-d64-l4']);
const encoder = () => writeTinyTransformer(join(dir, 'encoder'), TINY_PRESETS['encoder-d32-l2']);
let causalModel: ReturnType<typeof causal>;
let encoderModel: ReturnType<typeof encoder>;
before(() => {
  causalModel = causal();
  encoderModel = encoder();
});

function shard(m: { onnxPath: string; tokenizerPath: string }, over: Partial<ExtractShardInput>): Promise<ExtractShardOutput> {
  return extractShard({
    onnxPath: m.onnxPath,
    tokenizerPath: m.tokenizerPath,
    maxTokens: 32,
    batchSize: 4,
    intraOpThreads: 1,
    startRow: 0,
    texts: TEXTS,
    ...over,
  });
}

function relClose(actual: number | null | undefined, expected: number | null | undefined, tol: number, what: string): void {
  assert.ok(actual != null && expected != null, `${what}: ${actual} vs ${expected}`);
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-12);
  assert.ok(err <= tol, `${what}: ${actual} vs ${expected} (relative error ${err.toExponential(2)})`);
}

describe('finding taps', () => {
  test('the heuristic finds exactly the hidden states the generator built, for every preset', () => {
    for (const [name, cfg] of Object.entries(TINY_PRESETS)) {
      const m = writeTinyTransformer(join(dir, name), cfg);
      const found = findTaps(readModel(m.onnxPath));
      assert.equal(found.blocks, cfg.layers, name);
      assert.equal(found.layout, cfg.kind === 'causal' ? 'pre-norm' : 'post-norm', name);
      assert.deepEqual(Object.fromEntries(found.taps.map((t) => [t.name, t.tensor])), m.taps, name);
      assert.equal(found.batchCoupled, false);
      assert.deepEqual(found.taps[0].shape, ['batch', 'sequence', cfg.dModel]);
    }
  });

  test('a logits-only causal model offers `last` as its final norm, and its logits', () => {
    const found = findTaps(readModel(causalModel.onnxPath));
    assert.equal(found.logits, 'logits');
    const last = found.taps.find((t) => t.name === 'last')!;
    assert.equal(last.tensor, found.taps.find((t) => t.name === 'final')!.tensor);
    assert.equal(last.isOutput, false);
  });

  test('layer requests resolve names, hidden_states indices and all; an unknown name lists the valid ones', () => {
    const found = findTaps(readModel(causalModel.onnxPath));
    assert.deepEqual(resolveLayers(found, ['0,2', 'last'], 'm').map((t) => t.name), ['embeddings', 'block.1', 'last']);
    assert.deepEqual(resolveLayers(found, ['all'], 'm').map((t) => t.name), ['embeddings', 'block.0', 'block.1', 'block.2', 'block.3', 'final']);
    assert.throws(
      () => resolveLayers(found, ['block.7'], 'm.onnx'),
      (err: Error) =>
        err.name === 'InputError' &&
        err.message.includes('no layer "block.7"') &&
        err.message.includes('embeddings, block.0, block.1, block.2, block.3, final, last'),
    );
  });

  test('OnnxModel.load with an unknown layer fails naming the layers that exist', async () => {
    await assert.rejects(OnnxModel.load(encoderModel.onnxPath, { layers: ['block.9'] }), /no layer "block\.9".*embeddings, block\.0, block\.1, last/);
  });

  test('the tapped graph is written once to the cache, keyed by model hash and tap list, and reused', async () => {
    const a = await tappedModel(causalModel.onnxPath, ['embeddings', 'block.2']);
    const b = await tappedModel(causalModel.onnxPath, ['embeddings', 'block.2']);
    const listing = await modelTaps(causalModel.onnxPath);
    assert.equal(a.path, b.path);
    assert.ok(a.path.startsWith(join(process.env.ENTROSCOPE_CACHE!, 'tapped', listing.sha256)));
    const tapped = decodeModel(readFileSync(a.path), a.path);
    const outs = tapped.graph.output.map((o) => o.name);
    // The taps only: the logits (not asked for) and the nodes only they need are left out (pruneGraph.ts).
    assert.deepEqual(outs, a.taps.map((t) => t.tensor));
    // No temp files left behind by the atomic write.
    assert.ok(readdirSync(join(process.env.ENTROSCOPE_CACHE!, 'tapped', listing.sha256)).every((f) => !f.endsWith('.tmp')));
    // The default layer of an encoder needs no rewrite.
    assert.equal((await tappedModel(encoderModel.onnxPath, ['last'])).path, encoderModel.onnxPath);
    assert.ok(existsSync(a.path));
  });
});

describe('metrics at any layer', () => {
  const LAYERS = ['embeddings', 'block.2', 'last'];

  test('per-layer metrics and next-token loss match the onnx + numpy oracle to 1e-6 on a generated causal model', async () => {
    const listing = await modelTaps(causalModel.onnxPath);
    const tensors = Object.fromEntries(LAYERS.map((l) => [l, listing.taps.taps.find((t) => t.name === l)!.tensor]));
    const { ids } = await TextTokenizer.load(causalModel.tokenizerPath, 32).encode(TEXTS);
    const [ours, oracle] = await Promise.all([
      shard(causalModel, { layers: LAYERS, loss: true, startRow: 10 }),
      runOracle<{ perSample: Array<{ tokens: number; loss: number | null; layers: Record<string, Record<string, number | boolean>> }> }>(
        oracleScript,
        { model: causalModel.onnxPath, layers: tensors, ids, loss: true },
      ),
    ]);
    assert.equal(ours.samples.length, TEXTS.length * LAYERS.length);
    let compared = 0;
    for (const row of ours.samples) {
      const i = row.row - 10;
      const want = oracle.perSample[i];
      assert.equal(row.tokens, want.tokens);
      if (want.loss === null) assert.equal(row.loss, null, `row ${i} loss`);
      else relClose(row.loss, want.loss, 1e-6, `row ${i} loss`);
      assert.equal(row.skipped, want.layers[row.layer].skipped, `row ${i} ${row.layer} skipped`);
      if (row.skipped) continue;
      for (const m of METRICS) relClose(row[m], want.layers[row.layer][m] as number, 1e-6, `row ${i} ${row.layer} ${m}`);
      compared++;
    }
    assert.ok(compared >= (TEXTS.length - 2) * LAYERS.length);
    // Rows of one layer share no values with another: the taps really are different tensors.
    assert.notEqual(ours.samples[0].entropy, ours.samples[TEXTS.length].entropy);
  });

  test('without the loss, the tapped copy holds only the nodes its taps need (no lm_head), and its metrics match the oracle on the original model', async () => {
    const original = readModel(causalModel.onnxPath);
    const logits = original.graph.output.find((o) => o.name === 'logits');
    assert.ok(logits, 'the generated causal model outputs logits');
    const tapped = await tappedModel(causalModel.onnxPath, LAYERS);
    assert.notEqual(tapped.path, causalModel.onnxPath);
    const copy = decodeModel(readFileSync(tapped.path), tapped.path);
    assert.ok(!copy.graph.output.some((o) => o.name === 'logits'), 'logits dropped from the outputs');
    assert.ok(!copy.graph.node.some((n) => n.output.includes('logits')), 'the node computing the logits is gone');
    assert.ok(copy.graph.node.length < original.graph.node.length);
    for (const t of tapped.taps) assert.ok(copy.graph.output.some((o) => o.name === t.tensor), `${t.tensor} is an output`);
    // Every kept node's inputs are produced in the copy (a node, an initializer or an input).
    const have = new Set([...copy.graph.node.flatMap((n) => n.output), ...copy.graph.initializer.map((t) => t.name), ...copy.graph.input.map((i) => i.name), '']);
    for (const n of copy.graph.node) for (const i of n.input) assert.ok(have.has(i), `${n.name} reads ${i}`);
    // The copy asked for logits keeps them.
    const withLogits = await tappedModel(causalModel.onnxPath, LAYERS, { logits: true });
    assert.ok(decodeModel(readFileSync(withLogits.path), withLogits.path).graph.output.some((o) => o.name === 'logits'));

    const tensors = Object.fromEntries(LAYERS.map((l) => [l, tapped.taps.find((t) => t.name === l)!.tensor]));
    const { ids } = await TextTokenizer.load(causalModel.tokenizerPath, 32).encode(TEXTS);
    const [ours, oracle] = await Promise.all([
      shard(causalModel, { layers: LAYERS, loss: false }),
      runOracle<{ perSample: Array<{ layers: Record<string, Record<string, number | boolean>> }> }>(oracleScript, { model: causalModel.onnxPath, layers: tensors, ids, loss: false }),
    ]);
    let compared = 0;
    for (const row of ours.samples) {
      const want = oracle.perSample[row.row].layers[row.layer];
      assert.equal(row.skipped, want.skipped);
      if (row.skipped) continue;
      for (const m of METRICS) relClose(row[m], want[m] as number, 1e-6, `row ${row.row} ${row.layer} ${m}`);
      compared++;
    }
    assert.ok(compared >= (TEXTS.length - 2) * LAYERS.length);
  });

  for (const [kind, model] of [['causal', () => causalModel], ['encoder', () => encoderModel]] as const) {
    test(`${kind}: batch size 1 and 7 give the same metrics, loss and partial Grams to 1e-6`, async () => {
      const [one, seven] = await Promise.all([
        shard(model(), { layers: ['all'], loss: true, batchSize: 1 }),
        shard(model(), { layers: ['all'], loss: true, batchSize: 7 }),
      ]);
      assert.deepEqual(one.layers, seven.layers);
      one.samples.forEach((r, k) => {
        const s = seven.samples[k];
        assert.equal(`${s.row}/${s.layer}`, `${r.row}/${r.layer}`);
        assert.equal(s.skipped, r.skipped);
        if (r.loss != null) relClose(s.loss, r.loss, 1e-6, `row ${r.row} loss`);
        if (!r.skipped) for (const m of METRICS) relClose(s[m], r[m], 1e-6, `row ${r.row} ${r.layer} ${m}`);
      });
      one.grams.forEach((g, l) => {
        assert.equal(seven.grams[l].layer, g.layer);
        assert.equal(seven.grams[l].n, g.n);
        for (let i = 0; i < g.s.length; i++) assert.ok(Math.abs(g.s[i] - seven.grams[l].s[i]) <= 1e-6 * g.n, `gram ${g.layer}[${i}]`);
      });
      // Loss needs logits: an encoder's rows say null, a causal model's say a number.
      if (kind === 'encoder') assert.ok(one.samples.every((r) => r.loss === null));
      else assert.equal(typeof one.samples[0].loss, 'number');
    });
  }

  test('in-graph loss: both log-sum-exp forms (two stages for a vocabulary that splits, LogSoftmax for a prime one) equal the float64 JS path on the same logits to 1e-6', async () => {
    assert.deepEqual(vocabSplit(49152), { c: 192, k: 256 });
    assert.deepEqual(vocabSplit(256), { c: 16, k: 16 });
    assert.equal(vocabSplit(131), undefined);
    assert.equal(vocabSplit('vocab'), undefined);
    const prime = writeTinyTransformer(join(dir, 'causal-v131'), { ...TINY_PRESETS['causal-d64-l4'], vocab: 131 });
    const ids = [[2, 15, 20, 30, 7], [2, ...Array.from({ length: 20 }, (_, i) => 10 + i)], [5]];
    for (const m of [causalModel, prime]) {
      const [js, graph] = await Promise.all([OnnxModel.load(m.onnxPath, { layers: ['last'], logits: true }), OnnxModel.load(m.onnxPath, { layers: ['last'], loss: true })]);
      assert.deepEqual(graph.lossPath, { path: 'in-graph' });
      const [a, b] = await Promise.all([js.runAll(ids), graph.runAll(ids)]);
      assert.equal(b.logits, undefined, 'the logits stay in onnxruntime');
      const { logits, seqLen, vocab } = a.logits!;
      const { logProbs } = b.nextTokenLogProbs!;
      ids.forEach((row, k) => {
        const want = nextTokenLoss(logits.subarray(k * seqLen * vocab, (k * seqLen + row.length) * vocab), row, vocab);
        const got = nextTokenLossFromLogProbs(logProbs.subarray(k * seqLen, k * seqLen + row.length), row.length);
        if (want === null) assert.equal(got, null);
        else relClose(got, want, 1e-6, `vocab ${vocab} row ${k} loss`);
      });
      await Promise.all([js.release(), graph.release()]);
    }
    // Which form each tapped copy holds.
    const ops = async (m: { onnxPath: string }) => {
      const t = await tappedModel(m.onnxPath, ['last'], { loss: true });
      return readModel(t.path).graph.node.filter((n) => n.name?.startsWith('entroscope/')).map((n) => n.op_type);
    };
    assert.ok((await ops(causalModel)).filter((o) => o === 'ReduceLogSumExp').length === 2);
    assert.ok((await ops(prime)).includes('LogSoftmax'));
  });

  test('padding never enters: a short text batched with a long one has exactly its own hidden rows', async () => {
    const model = await OnnxModel.load(causalModel.onnxPath, { layers: ['block.1', 'last'], logits: true });
    const short = [2, 15, 20, 30];
    const long = [2, ...Array.from({ length: 20 }, (_, i) => 10 + i)];
    const alone = await model.runAll([short]);
    const mixed = await model.runAll([long, short]);
    model.layers.forEach((_, l) => {
      const d = alone.layers[l].dim;
      const a = alone.layers[l].hidden;
      const m = mixed.layers[l].hidden.subarray(mixed.layers[l].seqLen * d, (mixed.layers[l].seqLen + short.length) * d);
      for (let i = 0; i < short.length * d; i++) assert.ok(Math.abs(a[i] - m[i]) <= 1e-5 * (1 + Math.abs(a[i])), `layer ${l} value ${i}`);
    });
    const encoder = await OnnxModel.load(encoderModel.onnxPath, { layers: ['embeddings', 'last'] });
    const e1 = await encoder.runAll([short]);
    const e2 = await encoder.runAll([short, long]);
    const d = e1.layers[1].dim;
    for (let i = 0; i < short.length * d; i++) assert.ok(Math.abs(e1.layers[1].hidden[i] - e2.layers[1].hidden[i]) <= 1e-5, `encoder value ${i}`);
    await Promise.all([model.release(), encoder.release()]);
  });
});

describe('decoders with past key/values (optimum decoder_with_past / decoder_model_merged)', () => {
  const LAYERS = ['embeddings', 'block.1', 'last'];
  const cfg = TINY_PRESETS['causal-d64-l4'];
  const pkvModel = (kind: 'inputs' | 'merged') => writeTinyTransformer(join(dir, `pkv-${kind}`), { ...cfg, pastKeyValues: kind });

  /**
   * The model with its past inputs' dims 1 and 3 made symbolic and, with `dropPresents`, without
   * present outputs (onnxruntime infers their dims from the graph, so they cannot be loosened).
   */
  function symbolicHeads(kind: 'inputs' | 'merged', name: string, dropPresents: boolean, config?: object): string {
    const m = pkvModel(kind);
    const model = readModel(m.onnxPath);
    const loosen = (v: ValueInfoProto) =>
      v.name.startsWith('past_key_values.') ? tensorValueInfo(v.name, DataType.FLOAT, ['batch', 'heads', 'past', 'head_dim']) : v;
    model.graph.input = model.graph.input.map(loosen);
    if (dropPresents) model.graph.output = model.graph.output.filter((o) => !o.name.startsWith('present.'));
    const out = join(dir, name);
    mkdirSync(out, { recursive: true });
    writeModel(join(out, 'model.onnx'), model);
    if (config) writeFileSync(join(out, 'config.json'), JSON.stringify(config));
    return join(out, 'model.onnx');
  }

  for (const kind of ['inputs', 'merged'] as const) {
    test(`${kind}: taps are found, and hidden states, loss, metrics and Grams equal the plain model's from the same seed`, async () => {
      const m = pkvModel(kind);
      const found = findTaps(readModel(m.onnxPath));
      assert.equal(found.layout, 'pre-norm');
      assert.equal(found.blocks, cfg.layers);
      assert.deepEqual(Object.fromEntries(found.taps.map((t) => [t.name, t.tensor])), m.taps);

      // Straight from the session: every tapped layer and the logits, one padded batch.
      const ids = [[2, 15, 20, 30, 40, 50], [2, 11, 12]];
      const [withPast, plain] = await Promise.all([
        OnnxModel.load(m.onnxPath, { layers: LAYERS, logits: true }),
        OnnxModel.load(causalModel.onnxPath, { layers: LAYERS, logits: true }),
      ]);
      assert.deepEqual(withPast.pastInputs.map((p) => [p.name, p.heads, p.headDim]).slice(0, 2), [
        ['past_key_values.0.key', cfg.heads, cfg.dModel / cfg.heads],
        ['past_key_values.0.value', cfg.heads, cfg.dModel / cfg.heads],
      ]);
      const [a, b] = [await withPast.runAll(ids), await plain.runAll(ids)];
      a.layers.forEach((h, l) => assert.deepEqual(h.hidden, b.layers[l].hidden, `layer ${LAYERS[l]}`));
      assert.deepEqual(a.logits!.logits, b.logits!.logits);
      await Promise.all([withPast.release(), plain.release()]);

      // Through extractShard: every per-sample row, the loss and the partial Grams.
      const [ours, reference] = await Promise.all([
        shard(m, { layers: ['all'], loss: true, batchSize: 3 }),
        shard(causalModel, { layers: ['all'], loss: true, batchSize: 3 }),
      ]);
      assert.deepEqual(ours.layers, reference.layers);
      assert.deepEqual(ours.samples, reference.samples);
      assert.deepEqual(ours.grams, reference.grams);
    });

    test(`${kind}: per-layer metrics and loss match the onnx + numpy oracle fed the empty past to 1e-6`, async () => {
      const m = pkvModel(kind);
      const listing = await modelTaps(m.onnxPath);
      const tensors = Object.fromEntries(LAYERS.map((l) => [l, listing.taps.taps.find((t) => t.name === l)!.tensor]));
      const { ids } = await TextTokenizer.load(m.tokenizerPath, 32).encode(TEXTS);
      const [ours, oracle] = await Promise.all([
        shard(m, { layers: LAYERS, loss: true }),
        runOracle<{ perSample: Array<{ tokens: number; loss: number | null; layers: Record<string, Record<string, number | boolean>> }> }>(
          oracleScript,
          { model: m.onnxPath, layers: tensors, ids, loss: true },
        ),
      ]);
      let compared = 0;
      for (const row of ours.samples) {
        const want = oracle.perSample[row.row];
        if (want.loss === null) assert.equal(row.loss, null);
        else relClose(row.loss, want.loss, 1e-6, `row ${row.row} loss`);
        assert.equal(row.skipped, want.layers[row.layer].skipped, `row ${row.row} ${row.layer} skipped`);
        if (row.skipped) continue;
        for (const metric of METRICS) relClose(row[metric], want.layers[row.layer][metric] as number, 1e-6, `row ${row.row} ${row.layer} ${metric}`);
        compared++;
      }
      assert.ok(compared >= (TEXTS.length - 2) * LAYERS.length);
    });
  }

  test('symbolic heads / head_dim are read from the present outputs, else config.json, else an InputError naming the input', async () => {
    const fromPresent = await OnnxModel.load(symbolicHeads('merged', 'pkv-present', false));
    assert.deepEqual([fromPresent.pastInputs[0].heads, fromPresent.pastInputs[0].headDim], [cfg.heads, cfg.dModel / cfg.heads]);
    const hfConfig = { num_attention_heads: cfg.heads, hidden_size: cfg.dModel };
    const fromConfig = await OnnxModel.load(symbolicHeads('inputs', 'pkv-config', true, hfConfig));
    assert.deepEqual([fromConfig.pastInputs[3].name, fromConfig.pastInputs[3].heads, fromConfig.pastInputs[3].headDim], [
      'past_key_values.1.value',
      cfg.heads,
      cfg.dModel / cfg.heads,
    ]);
    const plain = await OnnxModel.load(causalModel.onnxPath);
    assert.deepEqual(await fromConfig.run([[2, 15, 20]]), await plain.run([[2, 15, 20]]));
    await Promise.all([fromPresent.release(), fromConfig.release(), plain.release()]);
    await assert.rejects(
      OnnxModel.load(symbolicHeads('inputs', 'pkv-unsized', true)),
      (err: Error) => err.name === 'InputError' && /cannot size the empty past for input past_key_values\.0\.key/.test(err.message) && err.message.includes('config.json'),
    );
  });

  test('an input entroscope cannot feed (pixel_values) is an InputError naming it', async () => {
    const model = readModel(causalModel.onnxPath);
    model.graph.input = [...model.graph.input, tensorValueInfo('pixel_values', DataType.FLOAT, ['batch', 3, 8, 8])];
    const path = join(dir, 'pixel-input.onnx');
    writeModel(path, model);
    await assert.rejects(
      OnnxModel.load(path),
      (err: Error) => err.name === 'InputError' && err.message.includes(path) && /cannot feed: pixel_values$/.test(err.message),
    );
  });
});
