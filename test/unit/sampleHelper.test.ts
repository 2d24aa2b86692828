// The helper thread that measures every other layer while a core is idle (src/eval/sampleHelper.ts):
// a shard measured with it equals the same shard measured on one thread, bit for bit, whatever
// the batch size and however many shards run at once; a bad hidden state it meets is an InputError
// naming the dataset row and the layer, as on the calling thread.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractShard, type ExtractShardOutput } from '../../src/eval/extractShard.ts';
import { helperCalls, startOnHelper } from '../../src/eval/sampleHelper.ts';
import { layerSamples } from '../../src/eval/layerSamples.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { SHARD_TEXTS, assertShardsIdentical } from '../helpers/shardEquality.ts';

const TEXTS = SHARD_TEXTS;

let model: { onnxPath: string; tokenizerPath: string };

before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-helper-'));
  model = writeTinyTransformer(dir, { ...TINY_PRESETS['causal-d64-l4'], seed: 11 });
});

function shard(sampleHelper: boolean, batchSize: number): Promise<ExtractShardOutput> {
  return extractShard({ ...model, maxTokens: 32, batchSize, intraOpThreads: 1, startRow: 40, texts: TEXTS, layers: ['all'], loss: true, sampleHelper });
}

const assertIdentical = assertShardsIdentical;

// Two cores in the budget whatever this machine has (coreBudget.ts reads it at each call).
process.env.ENTROSCOPE_THREADS = '2';
// The sample helper is the fallback where the background pipeline is off or cannot lower its
// thread's priority (test/unit/batchPipeline.test.ts tests that one).
process.env.ENTROSCOPE_PIPELINE = '0';

describe('sample helper thread', () => {
  test('with the helper, every layer equals the one-thread result bit for bit (batch 1, 3 and 7)', async () => {
    for (const batch of [1, 3, 7]) {
      const alone = await shard(false, batch);
      const before = helperCalls();
      const helped = await shard(true, batch);
      assert.ok(helperCalls() > before, 'the helper measured some layers');
      assert.ok(alone.layers.length >= 3, 'several layers');
      assertIdentical(helped, alone);
    }
  });

  test('two shards at once on one thread share the helper without mixing their buffers', async () => {
    const [alone3, alone2] = [await shard(false, 3), await shard(false, 2)];
    const [a, b] = await Promise.all([shard(true, 3), shard(true, 2)]);
    assertIdentical(a, alone3);
    assertIdentical(b, alone2);
  });

  test('a non-finite hidden state measured on the helper is an InputError naming the row and the layer', async () => {
    const dim = 4;
    const hidden = new Float32Array(2 * 3 * dim).map((_, i) => Math.sin(i));
    hidden[3 * dim + dim + 2] = NaN; // member 1, token 1
    const input = { hidden, seqLen: 3, dim, lengths: [3, 2], rows: [7, 8], where: 'layer block.2 (t)' };
    assert.throws(() => layerSamples({ ...input, z: new Float64Array(5 * dim) }), (err: Error) => err.name === 'InputError' && /^dataset row 8, layer block\.2 \(t\): /.test(err.message));
    const call = startOnHelper(input, 5 * dim);
    assert.ok(call, 'a core was idle');
    await assert.rejects(call.done(), (err: Error) => err.name === 'InputError' && /^dataset row 8, layer block\.2 \(t\): /.test(err.message));
    call.release();
  });
});
