// The background thread that measures batch b while batch b + 1 is inferred (src/eval/batchPipeline.ts):
// it runs at the lowest priority (nice 19, read back from /proc), a shard measured through it equals
// the same shard measured on one thread bit for bit whatever the batch size and however many shards
// run at once, and a bad hidden state it meets is an InputError naming the dataset row and the
// layer, after which the next shard is still right.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractShard, type ExtractShardOutput } from '../../src/eval/extractShard.ts';
import { backgroundLayers, openPipeline, pipelinedBatches, startBatch } from '../../src/eval/batchPipeline.ts';
import { measureClaimedLayers } from '../../src/eval/batchLayers.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { SHARD_TEXTS, assertShardsIdentical } from '../helpers/shardEquality.ts';

const TEXTS = SHARD_TEXTS;

let model: { onnxPath: string; tokenizerPath: string };

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-pipeline-'));
  model = writeTinyTransformer(dir, { ...TINY_PRESETS['causal-d64-l4'], seed: 11 });
});

// Two cores in the budget whatever this machine has (coreBudget.ts reads it at each call).
process.env.ENTROSCOPE_THREADS = '2';
/** With the pipeline (opt-in, ENTROSCOPE_PIPELINE=1) or without it (the sample helper instead). */
const pipeline = (on: boolean): void => void (process.env.ENTROSCOPE_PIPELINE = on ? '1' : '0');

function shard(background: boolean, batchSize: number, texts = TEXTS): Promise<ExtractShardOutput> {
  return extractShard({ ...model, maxTokens: 32, batchSize, intraOpThreads: 1, startRow: 40, texts, layers: ['all'], loss: true, sampleHelper: background });
}

const assertIdentical = assertShardsIdentical;

/** The nice value of each thread of this process (field 19 of /proc/self/task/TID/stat). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('background batch pipeline', { skip: process.platform !== 'linux' && 'thread priorities are lowered on Linux only' }, () => {
  test('its thread runs at nice 19; the rest of the process is untouched', async () => {
    const before = threadNices();
    assert.ok(before.every((n) => n === before[0]), `threads start at one nice value: ${before}`);
    assert.equal(await openPipeline(), true, 'the background thread lowered its priority');
    const after = threadNices();
    assert.equal(after.filter((n) => n === 19).length, 1, `one thread at nice 19: ${after}`);
    assert.ok(after.filter((n) => n !== 19).every((n) => n === before[0]), `the others unchanged: ${after}`);
  });

  test('every layer equals the one-thread result bit for bit (batch 1, 3 and 7)', async () => {
    for (const batch of [1, 3, 7]) {
      pipeline(false);
      const alone = await shard(false, batch);
      pipeline(true);
      const batches = pipelinedBatches();
      const piped = await shard(true, batch);
      assert.equal(pipelinedBatches() - batches, Math.ceil(TEXTS.length / batch), 'every batch went to the background thread');
      assert.ok(alone.layers.length >= 3, 'several layers');
      assertIdentical(piped, alone);
    }
  });

  // Which thread measures a layer is chance in a shard (a tiny model infers its next batch before
  // the background thread wakes); here the caller waits until the idle background thread has
  // claimed every layer, and gets the same values as measuring them itself.
  test('layers the background thread measured equal the same layers measured here', async () => {
    assert.equal(await openPipeline(), true);
    const dim = 6;
    const meta = { lengths: [4, 1, 3], rows: [3, 4, 5], where: ['layer a (a)', 'layer b (b)', 'layer c (c)'] };
    const layers = [0, 1, 2].map((l) => ({ hidden: new Float32Array(3 * 4 * dim).map((_, i) => Math.sin(i * (l + 1)) + l), seqLen: 4, dim }));
    const accumulators = () => layers.map(() => new Float64Array(new SharedArrayBuffer(8 * dim * dim)).fill(0.5));
    const [sThere, sHere] = [accumulators(), accumulators()];
    const before = backgroundLayers();
    const job = startBatch(layers, { ...meta, s: sThere })!;
    for (const end = Date.now() + 10_000; job.claimed() < layers.length && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
    assert.equal(job.claimed(), layers.length, 'the background thread claimed every layer');
    const there = (await job.finish(new Float64Array(8 * dim))).sort((a, b) => a.layer - b.layer);
    assert.equal(backgroundLayers() - before, layers.length, 'all three measured in the background');
    const here = measureClaimedLayers(
      { ...meta, s: sHere, hidden: layers.map((h) => h.hidden), seqLen: layers.map((h) => h.seqLen), dim: layers.map((h) => h.dim), claim: new Int32Array(1) },
      new Float64Array(8 * dim),
    );
    assert.deepEqual(there, here);
    sThere.forEach((s, l) => assert.deepEqual(Array.from(s), Array.from(sHere[l]), `S of layer ${l}`));
  });

  test('two shards at once on one thread keep their batches apart', async () => {
    pipeline(false);
    const [alone3, alone2] = [await shard(false, 3), await shard(false, 2, TEXTS.slice(1))];
    pipeline(true);
    const [a, b] = await Promise.all([shard(true, 3), shard(true, 2, TEXTS.slice(1))]);
    assertIdentical(a, alone3);
    assertIdentical(b, alone2);
  });

  test('a non-finite hidden state met in the background is an InputError naming the row and the layer; the next shard is right', async () => {
    assert.equal(await openPipeline(), true);
    const dim = 4;
    const layers = [0, 1, 2].map((l) => ({ hidden: new Float32Array(2 * 3 * dim).map((_, i) => Math.sin(i + l)), seqLen: 3, dim }));
    layers[2].hidden[3 * dim + dim + 2] = NaN; // layer 2, member 1, token 1
    const s = layers.map(() => new Float64Array(new SharedArrayBuffer(8 * dim * dim)));
    const where = ['layer embeddings (a)', 'layer block.0 (b)', 'layer block.1 (c)'];
    const job = startBatch(layers, { lengths: [3, 2], rows: [7, 8], where, s });
    assert.ok(job, 'small enough to pipeline');
    // Give the background thread the time to claim every layer (it is idle), then finish: the
    // failure comes back from whichever thread met it.
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(job.finish(new Float64Array(5 * dim)), (err: Error) => err.name === 'InputError' && /^dataset row 8, layer block\.1 \(c\): /.test(err.message));
    pipeline(false);
    const alone = await shard(false, 3);
    pipeline(true);
    assertIdentical(await shard(true, 3), alone);
  });
});
