// The inference thread pool heals and stops on request: a thread that dies fails only its own task
// and is replaced by a fresh one; a cancelled task's caller is answered at once and the thread
// stops between two batches, free for the next task.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThreadPool } from '../../src/parallel/threadPool.ts';
import { TaskCancelledError } from '../../src/errors.ts';
import { TINY_PRESETS, writeTinyTransformer } from '../fixtures/tinyTransformer.ts';
import { pooledMetrics } from '../../src/metrics/pooled.ts';
import { extractShard } from '../../src/eval/extractShard.ts';
import { resultTransferables } from '../../src/parallel/transferables.ts';

let dir: string;
let model: { onnxPath: string; tokenizerPath: string };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'entroscope-pool-'));
  model = writeTinyTransformer(join(dir, 'model'), TINY_PRESETS['encoder-d32-l2']);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A 2×2 Gram S = diag(3, 1) of n = 2 rows. */
const gram = { s: new Float64Array([3, 0, 0, 1]), n: 2, dim: 2 };

test('a pool thread that dies fails only its task and is replaced; the pool keeps serving', async () => {
  const pool = new ThreadPool(1, new URL('../fixtures/crashingThread.mjs', import.meta.url)).warm(1);
  try {
    const before = pool.threadIds();
    await assert.rejects(pool.run('pooledMetrics', { s: new Float64Array(0), n: 0, dim: -1 }), /worker thread of the pool died/);
    assert.equal(pool.replacedThreads, 1);
    assert.notDeepEqual(pool.threadIds(), before, 'a new thread took the slot');
    const got = await pool.run('pooledMetrics', gram);
    assert.deepEqual(got, pooledMetrics(gram.s, gram.n, gram.dim), 'the replacement computes what the library does');
  } finally {
    await pool.close();
  }
});

test('a cancelled shard answers its caller at once, stops between batches, and frees its thread', async () => {
  const pool = new ThreadPool(1);
  try {
    const texts = Array.from({ length: 400 }, (_, i) => `text number ${i} with a few words in it`);
    const input = { ...model, maxTokens: 32, batchSize: 1, intraOpThreads: 1, startRow: 0, texts, layers: ['last'] };
    const controller = new AbortController();
    let progressed = 0;
    const running = pool.run('extractShard', input, (d) => {
      progressed = d;
      if (d >= 5) controller.abort();
    }, controller.signal);
    await assert.rejects(running, TaskCancelledError);
    // One thread: the next task runs only once the cancelled one has left it, so by then every
    // progress report of the cancelled one is in.
    const small = await pool.run('extractShard', { ...input, texts: texts.slice(0, 3) });
    assert.equal(small.samples.length, 3);
    assert.ok(progressed >= 5 && progressed < texts.length, `the thread stopped after ${progressed} of ${texts.length} texts`);
    assert.equal(pool.replacedThreads, 0, 'cancellation does not kill the thread');
  } finally {
    await pool.close();
  }
});

test("a shard's partial Grams move out of the pool thread intact (transferred, not copied)", async () => {
  const pool = new ThreadPool(1);
  try {
    const texts = Array.from({ length: 20 }, (_, i) => `sentence ${i}: the quick brown fox jumps over ${i % 3} lazy dogs`);
    const input = { ...model, maxTokens: 32, batchSize: 4, intraOpThreads: 1, startRow: 0, texts, layers: ['all'] };
    const viaPool = await pool.run('extractShard', input);
    const here = await extractShard(input);
    assert.ok(viaPool.grams.length >= 2, `${viaPool.grams.length} layers`);
    viaPool.grams.forEach((g, l) => {
      assert.equal(g.layer, here.grams[l].layer);
      assert.equal(g.n, here.grams[l].n);
      assert.deepEqual(g.s, here.grams[l].s, `layer ${g.layer}: the same S as the shard computed in this thread`);
      // S is symmetric (the upper triangle mirrored in place).
      for (let i = 0; i < g.dim; i++) for (let j = 0; j < i; j++) assert.equal(g.s[i * g.dim + j], g.s[j * g.dim + i]);
    });
    assert.equal(viaPool.gram, viaPool.grams[0], 'gram and grams[0] stay one object across the transfer');
  } finally {
    await pool.close();
  }
});

test('resultTransferables lists each Gram buffer once and leaves views, shared buffers and other arrays alone', () => {
  const a = new Float64Array(4);
  const b = new Float64Array(9);
  const view = new Float64Array(16).subarray(0, 4);
  const shared = new Float64Array(new SharedArrayBuffer(32));
  const other = new Float32Array(8);
  const grams = [{ s: a }, { s: b }, { s: view }, { s: shared }];
  const got = resultTransferables({ grams, gram: grams[0], samples: [{ x: other }] });
  assert.deepEqual(got, [a.buffer, b.buffer]);
  assert.deepEqual(resultTransferables({ samples: [] }), []);
  assert.deepEqual(resultTransferables(null), []);
});
