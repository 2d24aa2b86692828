// The hidden-states readers on hand-made files whose values are known: bfloat16/float16 decoding,
// Arrow's list<list<float>> and float16 cells, numeric-aware sample order, layer selection, and the
// layouts' errors — each naming the file, tensor and sample.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as A from 'apache-arrow';
import { bf16ToFloat, decodeFloats } from '../../src/hiddenStates/safetensors.ts';
import { catalogHiddenStates, naturalCompare, readSamples } from '../../src/hiddenStates/hiddenStatesSource.ts';
import { selectHiddenLayers } from '../../src/hiddenStates/planHiddenStates.ts';
import { floatToHalf } from '../../src/io/float16.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-hs-unit-'));
});

/** A safetensors file from tensors given as raw little-endian bytes. */
function safetensors(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): Uint8Array {
  let at = 0;
  const header: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + t.bytes.length] };
    at += t.bytes.length;
  }
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let p = 8 + h.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, p);
    p += t.bytes.length;
  }
  return out;
}

const u16 = (xs: number[]) => new Uint8Array(new Uint16Array(xs).buffer);

test('bfloat16 is the top half of a float32; float16 is IEEE binary16', () => {
  // 1.0 = 0x3f80, -2.5 = 0xc020, 0.15625 = 0x3e20 in bfloat16.
  assert.deepEqual(Array.from(decodeFloats(u16([0x3f80, 0xc020, 0x3e20]), 'BF16', 'x')), [1, -2.5, 0.15625]);
  assert.equal(bf16ToFloat(0x7f80), Infinity);
  assert.deepEqual(Array.from(decodeFloats(u16([floatToHalf(0.5), floatToHalf(-3)]), 'F16', 'x')), [0.5, -3]);
});

test('samples come in numeric-aware name order', () => {
  assert.deepEqual(['s_10', 's_2', 's_1', 'a'].sort(naturalCompare), ['a', 's_1', 's_2', 's_10']);
});

test('vLLM layout: layer j of [N, k, d] is read strided, named from the layer ids', async () => {
  // N = 2 tokens, k = 2 layers, d = 3: value = 100·token + 10·layer + column.
  const values = new Float32Array([0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112]);
  const f = join(dir, 'vllm');
  await mkdir(f);
  await writeFile(
    join(f, 'req-0.safetensors'),
    safetensors({ hidden_states: { dtype: 'F32', shape: [2, 2, 3], bytes: new Uint8Array(values.buffer) }, token_ids: { dtype: 'I64', shape: [2], bytes: new Uint8Array(16) } }),
  );
  await writeFile(join(f, 'req-0.safetensors.lock'), '');
  await assert.rejects(catalogHiddenStates({ uri: f }), /req-0\.safetensors: vLLM extract_hidden_states file .* does not record its layers/);
  const c = await catalogHiddenStates({ uri: f, layerIds: [1, 4] });
  assert.deepEqual(c.layers.map((l) => l.name), ['block.0', 'block.3']);
  const read = await readSamples(c.files, c.samples, true);
  assert.deepEqual(Array.from(read.samples[0].layers[1].data), [10, 11, 12, 110, 111, 112]);
  assert.deepEqual(selectHiddenLayers(c.layers, ['last'], f), [1]);
  assert.deepEqual(selectHiddenLayers(c.layers, ['1', 'block.3', 'all'], f), [0, 1]);
  assert.throws(() => selectHiddenLayers(c.layers, ['final'], f), /layers: final is not in the hidden states .*block\.0 \(1\), block\.3 \(4\)/);
});

test('Arrow: list<list<float32>> and float16 cells; a ragged token names the row', async () => {
  const list = (child: A.DataType) => new A.List(new A.Field('item', new A.List(new A.Field('item', child))));
  const t32 = new A.Table({ hidden_states: A.vectorFromArray([[[1, 2], [3, 5]], [[0, 1], [1, 0], [2, 2]]], list(new A.Float32())) });
  await writeFile(join(dir, 'f32.arrow'), A.tableToIPC(t32, 'file'));
  const c = await catalogHiddenStates({ uri: join(dir, 'f32.arrow') });
  assert.equal(c.samples.length, 2);
  const read = await readSamples(c.files, c.samples, true);
  assert.deepEqual(Array.from(read.samples[1].layers[0].data), [0, 1, 1, 0, 2, 2]);
  const t16 = new A.Table({ hidden_states: A.vectorFromArray([[[0.5, -1], [2, 4]]], list(new A.Float16())) });
  await writeFile(join(dir, 'f16.arrow'), A.tableToIPC(t16, 'file'));
  const c16 = await catalogHiddenStates({ uri: join(dir, 'f16.arrow') });
  assert.deepEqual(Array.from((await readSamples(c16.files, c16.samples, true)).samples[0].layers[0].data), [0.5, -1, 2, 4]);
  const ragged = new A.Table({ hidden_states: A.vectorFromArray([[[1, 2], [3]]], list(new A.Float64())) });
  await writeFile(join(dir, 'ragged.arrow'), A.tableToIPC(ragged, 'file'));
  await assert.rejects(catalogHiddenStates({ uri: join(dir, 'ragged.arrow') }), /ragged\.arrow, row 0, column 'hidden_states': token 1 has 1 values, token 0 has 2 \(ragged\)/);
});

test('a sample without a layer the first one has is named', async () => {
  const f = join(dir, 'missing');
  await mkdir(f);
  const x = new Uint8Array(new Float32Array(4).buffer);
  await writeFile(join(f, 's_0.safetensors'), safetensors({ 'hidden_states.0': { dtype: 'F32', shape: [2, 2], bytes: x }, 'hidden_states.1': { dtype: 'F32', shape: [2, 2], bytes: x } }));
  await writeFile(join(f, 's_1.safetensors'), safetensors({ 'hidden_states.0': { dtype: 'F32', shape: [2, 2], bytes: x } }));
  await assert.rejects(catalogHiddenStates({ uri: f }), /s_1\.safetensors: holds layers \[embeddings\], but .*s_0\.safetensors holds \[embeddings, hidden_states\.1\]; every sample needs the same layers/);
});

test('Arrow, one row per token: consecutive rows with the same id are one sample, the text from its first row', async () => {
  const d = 2;
  const rows = [[1, 0], [0, 1], [5, 5], [1, 2], [2, 1], [0, 0]];
  const ids = ['a', 'a', 'a', 'b', 'b', 'c'];
  const t = new A.Table({
    id: A.vectorFromArray(ids, new A.Utf8()),
    text: A.vectorFromArray(['first', 'first', 'first', 'second', 'second', 'third'], new A.Utf8()),
    hidden_states: A.vectorFromArray(rows, new A.FixedSizeList(d, new A.Field('item', new A.Float32()))),
  });
  await writeFile(join(dir, 'tokens.arrow'), A.tableToIPC(t, 'file'));
  const c = await catalogHiddenStates({ uri: join(dir, 'tokens.arrow') });
  assert.deepEqual(c.samples.map((s) => [s.text, s.layers[0].rows]), [['first', 3], ['second', 2], ['third', 1]]);
  const read = await readSamples(c.files, c.samples, true);
  assert.deepEqual(Array.from(read.samples[1].layers[0].data), [1, 2, 2, 1]);
  // Without an id column the file is one sample (list<float> rows).
  const one = new A.Table({ hidden_states: A.vectorFromArray(rows, new A.List(new A.Field('item', new A.Float64()))) });
  await writeFile(join(dir, 'one.arrow'), A.tableToIPC(one, 'file'));
  const c1 = await catalogHiddenStates({ uri: join(dir, 'one.arrow') });
  assert.equal(c1.samples.length, 1);
  assert.deepEqual(Array.from((await readSamples(c1.files, c1.samples, true)).samples[0].layers[0].data), rows.flat());
});

test('a worker that reads other bytes than the planner hashed refuses the shard, naming both hashes', async () => {
  const { parseEvaluationSpec } = await import('../../src/eval/evaluationSpec.ts');
  const { planHiddenStatesEvaluation } = await import('../../src/hiddenStates/planHiddenStates.ts');
  const { extractHiddenStatesShard } = await import('../../src/hiddenStates/extractHiddenStatesShard.ts');
  const { writeNpyArray } = await import('../../src/io/npy.ts');
  const f = join(dir, 'changed');
  await mkdir(f);
  const x = (seed: number) => writeNpyArray(Float64Array.from({ length: 12 }, (_, k) => Math.sin(seed + k)), [3, 4]);
  for (let i = 0; i < 3; i++) await writeFile(join(f, `s_${i}.npy`), x(i));
  const plan = await planHiddenStatesEvaluation(parseEvaluationSpec({ hiddenStates: { uri: f }, store: join(dir, 'store'), shardSize: 2 }), 3);
  const input = (k: number) => ({
    hiddenStates: plan.hiddenStates,
    span: plan.shards[k].span,
    startRow: plan.shards[k].startRow,
    layers: plan.layers,
    maxTokens: plan.maxTokens,
    textsSha256: null,
    sha256: plan.shards[k].sha256!,
    worker: 'test-worker',
  });
  const out = await extractHiddenStatesShard(input(1));
  assert.deepEqual(out.samples.map((s) => s.row), [2]);
  await writeFile(join(f, 's_1.npy'), x(7)); // same size, other values
  await assert.rejects(extractHiddenStatesShard(input(0)), /hidden states shard at sample 0 .*read on worker test-worker: its bytes hash to sha256 [0-9a-f]{64}, but the plan has sha256 [0-9a-f]{64}/);
});
