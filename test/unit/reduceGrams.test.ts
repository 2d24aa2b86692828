// The streamed reduction of partial Grams (src/eval/reduceGrams.ts) against the in-memory one, on a
// local-folder store: exact sums, every failure naming its file, atomic output, bounded memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as A from 'apache-arrow';
import { createHash } from 'node:crypto';
import { gramFromArrow, gramToArrow, sumPartials, type PartialGram } from '../../src/arrow/arrowGram.ts';
import { reduceGramFiles } from '../../src/eval/reduceGrams.ts';
import { FsStore } from '../../src/store/fsStore.ts';
import type { ObjectStore } from '../../src/store/store.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

/** A symmetric partial with entries spread over many magnitudes, so summation order shows in the bits. */
function randomPartial(dim: number, seed: number, covers = [{ start: seed * 10, end: seed * 10 + 10 }], layer = 'last'): PartialGram {
  const rng = mulberry32(seed + 1);
  const s = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = gaussian(rng) * 10 ** Math.floor(rng() * 12 - 6);
      s[i * dim + j] = v;
      s[j * dim + i] = v;
    }
  }
  return { dim, n: 10 + seed, s, covers, layer };
}

async function tempStore(): Promise<{ store: FsStore; dir: string; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'entroscope-reduce-'));
  return { store: new FsStore(dir), dir, done: () => rm(dir, { recursive: true, force: true }) };
}

/** A RegExp matching `s` literally. */
const lit = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const bytesOf = (a: Float64Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('streamed reduction equals sumPartials bit for bit (d = 1, 5, 64, 130; k = 1, 2, 7)', async () => {
  const { store, done } = await tempStore();
  try {
    for (const dim of [1, 5, 64, 130]) {
      for (const k of [1, 2, 7]) {
        const parts = Array.from({ length: k }, (_, i) => randomPartial(dim, i));
        const keys = parts.map((_, i) => `d${dim}/k${k}/part-${i}.arrow`);
        // Inputs cut into different batch sizes: the lockstep reader must not assume they line up.
        for (let i = 0; i < k; i++) await store.put(keys[i], gramToArrow(parts[i], i % 2 ? 7 : 64));
        const out = `d${dim}/k${k}/sum.arrow`;
        let batches = 0;
        const header = await reduceGramFiles(store, keys, out, { onBatch: () => batches++ });
        const expected = sumPartials(parts, 'expected');
        const got = gramFromArrow(await store.get(out), out);
        assert.ok(bytesOf(got.s).equals(bytesOf(expected.s)), `d=${dim} k=${k}: sums differ`);
        assert.deepEqual({ n: got.n, dim: got.dim, covers: got.covers, layer: got.layer }, header);
        assert.deepEqual(header, { n: expected.n, dim, covers: expected.covers, layer: 'last' });
        assert.equal(batches, Math.ceil(dim / 64));
      }
    }
  } finally {
    await done();
  }
});

test('a reduced file can itself be reduced: the tree of sums equals the flat sum', async () => {
  const { store, done } = await tempStore();
  try {
    const parts = Array.from({ length: 4 }, (_, i) => randomPartial(70, i));
    for (let i = 0; i < 4; i++) await store.put(`p${i}`, gramToArrow(parts[i]));
    await reduceGramFiles(store, ['p0', 'p1'], 'l1-0');
    await reduceGramFiles(store, ['p2', 'p3'], 'l1-1');
    const top = await reduceGramFiles(store, ['l1-0', 'l1-1'], 'top');
    const got = gramFromArrow(await store.get('top'), 'top');
    const expected = sumPartials([sumPartials(parts.slice(0, 2), 'a'), sumPartials(parts.slice(2), 'b')], 'e');
    assert.ok(bytesOf(got.s).equals(bytesOf(expected.s)));
    assert.deepEqual(top.covers, [{ start: 0, end: 40 }]);
  } finally {
    await done();
  }
});

test('legacy Arrow file-format partials are still read and verified', async () => {
  const { store, done } = await tempStore();
  try {
    const p = randomPartial(9, 3);
    // The pre-streaming layout: IPC file format, sha256 of all values in the schema metadata.
    const listType = new A.FixedSizeList(p.dim, new A.Field('v', new A.Float64(), false));
    const schema = new A.Schema([new A.Field('row', new A.Int32(), false), new A.Field('values', listType, false)], new Map([
      ['entroscope.kind', 'partial-gram'],
      ['entroscope.n', String(p.n)],
      ['entroscope.dim', String(p.dim)],
      ['entroscope.layer', p.layer],
      ['entroscope.covers', JSON.stringify(p.covers)],
      ['entroscope.sha256', createHash('sha256').update(bytesOf(p.s)).digest('hex')],
    ]));
    const data = A.makeData({
      type: new A.Struct(schema.fields),
      length: p.dim,
      children: [
        A.makeData({ type: new A.Int32(), length: p.dim, data: Int32Array.from({ length: p.dim }, (_, i) => i) }),
        A.makeData({ type: listType, length: p.dim, child: A.makeData({ type: new A.Float64(), length: p.dim ** 2, data: p.s }) }),
      ],
    });
    const legacy = A.RecordBatchFileWriter.writeAll([new A.RecordBatch(schema, data)]).toUint8Array(true);
    assert.ok(bytesOf(gramFromArrow(legacy, 'legacy').s).equals(bytesOf(p.s)));
    await store.put('legacy', legacy);
    const q = randomPartial(9, 4);
    await store.put('new', gramToArrow(q));
    await reduceGramFiles(store, ['legacy', 'new'], 'sum');
    assert.ok(bytesOf(gramFromArrow(await store.get('sum'), 'sum').s).equals(bytesOf(sumPartials([p, q], 'e').s)));
    const bad = legacy.slice();
    const at = Buffer.from(bad).indexOf(bytesOf(p.s.subarray(40, 41)));
    bad[at] ^= 1;
    assert.throws(() => gramFromArrow(bad, 'legacy-bad'), /legacy-bad: checksum mismatch/);
  } finally {
    await done();
  }
});

test('overlapping covers fail naming both ranges and both files, and write nothing', async () => {
  const { store, done } = await tempStore();
  try {
    await store.put('a', gramToArrow(randomPartial(5, 0, [{ start: 0, end: 10 }])));
    await store.put('b', gramToArrow(randomPartial(5, 1, [{ start: 5, end: 15 }])));
    await assert.rejects(reduceGramFiles(store, ['a', 'b'], 'out'), (err: Error) => {
      assert.match(err.message, /\[5, 15\)/);
      assert.match(err.message, /\[0, 10\)/);
      assert.ok(err.message.includes(store.uriOf('a')) && err.message.includes(store.uriOf('b')), err.message);
      return true;
    });
    assert.equal(await store.exists('out'), false);
  } finally {
    await done();
  }
});

test('a truncated input fails naming the file, and the output never appears', async () => {
  const { store, done } = await tempStore();
  try {
    const dim = 130;
    await store.put('good', gramToArrow(randomPartial(dim, 0)));
    const whole = gramToArrow(randomPartial(dim, 1));
    // Cut inside the schema message, mid-file, and inside the last record batch.
    for (const cut of [100, Math.floor(whole.length / 2), whole.length - 100]) {
      await store.put('cut', whole.subarray(0, cut));
      await assert.rejects(reduceGramFiles(store, ['good', 'cut'], 'out'), (err: Error) => {
        assert.ok(err.message.includes(store.uriOf('cut')), err.message);
        assert.match(err.message, /truncated|corrupt/);
        return true;
      });
      assert.equal(await store.exists('out'), false);
      assert.throws(() => gramFromArrow(whole.subarray(0, cut), 'cut-in-memory'), /cut-in-memory: (truncated|corrupt)/);
    }
  } finally {
    await done();
  }
});

test('a truncated input cut at a record-batch boundary fails on the row count', async () => {
  const { store, done } = await tempStore();
  try {
    const p = randomPartial(130, 1);
    // The same matrix cut after its first two batches (128 rows), with a valid end-of-stream.
    const whole = gramToArrow(p);
    const reader = A.RecordBatchReader.from(whole);
    const firstTwo = [...reader].slice(0, 2);
    const cut = A.RecordBatchStreamWriter.writeAll(firstTwo).toUint8Array(true);
    await store.put('good', gramToArrow(randomPartial(130, 0)));
    await store.put('cut', cut);
    await assert.rejects(reduceGramFiles(store, ['good', 'cut'], 'out'), new RegExp(`${lit(store.uriOf('cut'))}: truncated partial Gram`));
    assert.throws(() => gramFromArrow(cut, 'cut'), /cut: truncated partial Gram \(128 of 130 rows\)/);
    assert.equal(await store.exists('out'), false);
  } finally {
    await done();
  }
});

test('a corrupted value fails the checksum naming the file, and the output never appears', async () => {
  const { store, done } = await tempStore();
  try {
    const p = randomPartial(130, 1);
    const bytes = gramToArrow(p);
    // Flip the lowest mantissa bit of one value in the last batch (row 129; S is symmetric, so
    // the same bytes also sit in row 3: take the last occurrence).
    const at = Buffer.from(bytes).lastIndexOf(bytesOf(p.s.subarray(129 * 130 + 3, 129 * 130 + 4)));
    assert.ok(at > 0);
    bytes[at] ^= 1;
    await store.put('good', gramToArrow(randomPartial(130, 0)));
    await store.put('bad', bytes);
    await assert.rejects(reduceGramFiles(store, ['good', 'bad'], 'out'), new RegExp(`${lit(store.uriOf('bad'))}: checksum mismatch in matrix rows 128…129`));
    assert.throws(() => gramFromArrow(bytes, 'bad'), /bad: checksum mismatch/);
    assert.equal(await store.exists('out'), false);
  } finally {
    await done();
  }
});

test('a corrupted header (covers) fails the checksum', async () => {
  const p = randomPartial(5, 1, [{ start: 10, end: 20 }]);
  const bytes = gramToArrow(p);
  const at = Buffer.from(bytes).indexOf('"end":20');
  assert.ok(at > 0);
  bytes[at + 7] = '1'.charCodeAt(0); // covers now claims [10, 21)
  assert.throws(() => gramFromArrow(bytes, 'hdr'), /hdr: checksum mismatch/);
});

test('inputs of different dim or layer fail naming the odd file', async () => {
  const { store, done } = await tempStore();
  try {
    await store.put('d5', gramToArrow(randomPartial(5, 0)));
    await store.put('d6', gramToArrow(randomPartial(6, 1)));
    await store.put('l2', gramToArrow(randomPartial(5, 2, undefined, 'layer-2')));
    await assert.rejects(reduceGramFiles(store, ['d5', 'd6'], 'out'), new RegExp(`${lit(store.uriOf('d6'))}: dim 6 differs from dim 5`));
    await assert.rejects(reduceGramFiles(store, ['d5', 'l2'], 'out'), new RegExp(`${lit(store.uriOf('l2'))}: layer layer-2 differs`));
    await assert.rejects(reduceGramFiles(store, ['d5', 'missing'], 'out'), /not found in store/);
    assert.equal(await store.exists('out'), false);
  } finally {
    await done();
  }
});

/** Wraps a store: `onChunk` sees every chunk streamed in or out and may throw to inject a fault. */
function watched(inner: ObjectStore, onChunk: (dir: 'in' | 'out', index: number) => void): ObjectStore {
  const tap = (dir: 'in' | 'out'): Transform => {
    let i = 0;
    return new Transform({
      transform(chunk: Buffer, _enc, cb) {
        try {
          onChunk(dir, i++);
          cb(null, chunk);
        } catch (err) {
          cb(err as Error);
        }
      },
    });
  };
  return {
    uri: inner.uri,
    put: (k, b) => inner.put(k, b),
    get: (k) => inner.get(k),
    // A stream, not a generator, so that destroying it releases the file underneath.
    getStream: async (k) => pipeline(Readable.from(await inner.getStream(k)), tap('in'), () => {}),
    exists: (k) => inner.exists(k),
    list: (p) => inner.list(p),
    uriOf: (k) => inner.uriOf(k),
    putStream: (k, body) => inner.putStream(k, pipeline(Readable.from(body), tap('out'), () => {})),
  };
}

test('a reduction whose write fails mid-way leaves no output and no temp file', async () => {
  const { store, dir, done } = await tempStore();
  try {
    const parts = Array.from({ length: 3 }, (_, i) => randomPartial(130, i));
    const inputs = ['in/p0', 'in/p1', 'in/p2'];
    for (let i = 0; i < 3; i++) await store.put(inputs[i], gramToArrow(parts[i]));
    let chunks = 0;
    await reduceGramFiles(watched(store, (d) => void (d === 'out' && chunks++)), inputs, 'probe/sum');
    assert.ok(chunks > 4, `only ${chunks} chunks written`);
    // Fail before the first chunk, in the middle, and on the very last one (the end-of-stream marker).
    for (const failAt of [0, Math.floor(chunks / 2), chunks - 1]) {
      const faulty = watched(store, (d, i) => {
        if (d === 'out' && i === failAt) throw new Error('injected write fault');
      });
      await assert.rejects(reduceGramFiles(faulty, inputs, 'out/sum'), /injected write fault/);
      assert.equal(await store.exists('out/sum'), false);
      assert.deepEqual(await readdir(join(dir, 'out')), []);
    }
    // The same store then succeeds: nothing was left behind to trip over.
    await reduceGramFiles(store, inputs, 'out/sum');
    assert.ok(bytesOf(gramFromArrow(await store.get('out/sum'), 'sum').s).equals(bytesOf(sumPartials(parts, 'e').s)));
  } finally {
    await done();
  }
});

/** `gc()` without starting node with --expose-gc (flags set at run time apply to new contexts). */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

test('memory: reducing k = 8 partials of d = 1024 holds far less than k × d² doubles', async () => {
  const { store, done } = await tempStore();
  try {
    const dim = 1024;
    const k = 8;
    const keys: string[] = [];
    for (let i = 0; i < k; i++) {
      // Cheap distinct inputs (exactness is tested above): constant matrices.
      keys.push(`big/p${i}`);
      const s = new Float64Array(dim * dim).fill(i + 1);
      await store.put(keys[i], gramToArrow({ dim, n: 1, s, covers: [{ start: i, end: i + 1 }], layer: 'last' }));
    }
    const gc = exposeGc();
    const settle = async (): Promise<number> => {
      await new Promise((r) => setTimeout(r, 10));
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const allInputs = k * dim * dim * 8; // 64 MiB: what a whole-matrix reduction holds (plus the sum)
    const batch = 64 * dim * 8; // one record batch of one input: 512 KiB

    // Live memory: garbage collected, then sampled, every few chunks read or written and after every
    // output batch, so it shows what the reduction holds at any point of its run: each input's
    // current batch and Arrow's read-ahead, the output batch and the write stream's buffer.
    // (Growth with garbage included depends on when V8 collects; it is logged, not asserted.)
    const base = await settle();
    let live = 0;
    let raw = 0;
    let chunks = 0;
    const sample = (): void => {
      raw = Math.max(raw, process.memoryUsage().arrayBuffers - base);
      gc();
      live = Math.max(live, process.memoryUsage().arrayBuffers - base);
    };
    // A full collection costs tens of ms: at every 16th chunk (a few per record batch of each input).
    const onChunk = (): void => void (++chunks % 16 === 0 && sample());
    await reduceGramFiles(watched(store, onChunk), keys, 'big/sum', { onBatch: sample });
    console.log(
      `reduceGrams memory (k=${k}, d=${dim}): live +${(live / 2 ** 20).toFixed(1)} MiB, with garbage +${(raw / 2 ** 20).toFixed(1)} MiB; ` +
        `k·d²·8 = ${allInputs / 2 ** 20} MiB, k·batch = ${(k * batch) / 2 ** 20} MiB`,
    );
    // O(k × batch): 4 batches an input plus 4 (18 MiB here, under 30% of k·d²·8); holding one
    // input whole costs 128 batches, so any reduction that did would fail.
    const bound = 4 * (k + 1) * batch;
    assert.ok(bound < 0.3 * allInputs);
    assert.ok(live < bound, `live arrayBuffers grew by ${live} bytes, bound ${bound}`);
    const sum = gramFromArrow(await store.get('big/sum'), 'sum');
    assert.equal(sum.s[12345], (k * (k + 1)) / 2);
  } finally {
    await done();
  }
});
