// Properties of the Gram kernels (src/linalg/gram.ts) against a naive triple loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { addInto, smallerGram, symmetrizeFromUpper, syrkUpper, syrkUpperTs, upperGramRowsTs } from '../../src/linalg/gram.ts';
import { syrkUpperWasm, upperGramRowsWasm, wasmGramAvailable, wasmGramRetainedBytes } from '../../src/linalg/gramWasm.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  return Float64Array.from({ length: rows * cols }, () => gaussian(rng));
}

/** Naive ZᵀZ (cols×cols), Z: rows×cols. */
function naiveZtZ(z: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let r = 0; r < rows; r++) s += z[r * cols + i] * z[r * cols + j];
      out[i * cols + j] = s;
    }
  }
  return out;
}

/** Naive ZZᵀ (rows×rows), Z: rows×cols. */
function naiveZZt(z: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < rows; j++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += z[i * cols + c] * z[j * cols + c];
      out[i * rows + j] = s;
    }
  }
  return out;
}

/** Entries agree to a relative 1e-12 of the largest magnitude (sums are reassociated). */
function assertClose(got: Float64Array, want: Float64Array, label: string): void {
  assert.equal(got.length, want.length, `${label}: length`);
  let scale = 0;
  for (const x of want) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-12 * scale, `${label}: entry ${i}: ${got[i]} vs ${want[i]}`);
  }
}

test('smallerGram picks the smaller side and matches the naive product', () => {
  for (const [rows, cols] of [[5, 9], [9, 5], [7, 7], [1, 4], [4, 1], [13, 31], [31, 13]]) {
    const z = randomMatrix(rows, cols, rows * 100 + cols);
    const { matrix, n } = smallerGram(z, rows, cols);
    assert.equal(n, Math.min(rows, cols), `${rows}×${cols}: size`);
    const want = rows <= cols ? naiveZZt(z, rows, cols) : naiveZtZ(z, rows, cols);
    assertClose(matrix, want, `${rows}×${cols}`);
    // Both triangles are filled and mirror each other exactly.
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.equal(matrix[i * n + j], matrix[j * n + i]);
  }
});

test('syrkUpper adds ZᵀZ on the upper triangle and leaves the lower untouched', () => {
  // Row counts around the 4-row block exercise both the blocked loop and the tail; syrkUpperTs is
  // the TypeScript fallback (syrkUpper itself uses the wasm kernel from 4 rows on).
  for (const syrk of [syrkUpper, syrkUpperTs]) for (const [rows, cols] of [[1, 6], [3, 6], [4, 6], [7, 11], [16, 5], [37, 23]]) {
    const z = randomMatrix(rows, cols, 7 * rows + cols);
    const start = randomMatrix(cols, cols, 999);
    const s = start.slice();
    syrk(s, z, rows, cols);
    const product = naiveZtZ(z, rows, cols);
    for (let i = 0; i < cols; i++) {
      for (let j = 0; j < cols; j++) {
        const k = i * cols + j;
        if (j >= i) {
          const want = start[k] + product[k];
          assert.ok(Math.abs(s[k] - want) <= 1e-12 * (Math.abs(start[k]) + rows * 10), `${rows}×${cols} (${i},${j})`);
        } else {
          assert.equal(s[k], start[k], `${rows}×${cols}: lower (${i},${j}) was touched`);
        }
      }
    }
  }
});

test('syrkUpper skips all-zero columns without changing the result', () => {
  const rows = 8;
  const cols = 10;
  const z = randomMatrix(rows, cols, 3);
  for (let r = 0; r < rows; r++) { z[r * cols + 2] = 0; z[r * cols + 7] = 0; }
  const s = new Float64Array(cols * cols);
  syrkUpper(s, z, rows, cols);
  symmetrizeFromUpper(s, cols);
  assertClose(s, naiveZtZ(z, rows, cols), 'zero columns');
});

test('pooled partials add up in any grouping', () => {
  const rows = 23;
  const cols = 9;
  const z = randomMatrix(rows, cols, 5);
  const whole = new Float64Array(cols * cols);
  syrkUpper(whole, z, rows, cols);
  // Split the rows into shards, accumulate each into its own partial, then reduce in two orders.
  const cuts = [0, 4, 5, 13, 23];
  const partials = cuts.slice(1).map((end, k) => {
    const begin = cuts[k];
    const p = new Float64Array(cols * cols);
    syrkUpper(p, z.subarray(begin * cols, end * cols), end - begin, cols);
    return p;
  });
  const leftToRight = new Float64Array(cols * cols);
  for (const p of partials) addInto(leftToRight, p);
  const tree = partials[2].slice();
  addInto(tree, partials[3]);
  const front = partials[1].slice();
  addInto(front, partials[0]);
  addInto(tree, front);
  assertClose(leftToRight, whole, 'sequential reduce');
  assertClose(tree, whole, 'tree reduce');
  // One shard streamed row by row equals the same shard in one call.
  const streamed = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) syrkUpper(streamed, z.subarray(r * cols, (r + 1) * cols), 1, cols);
  assertClose(streamed, whole, 'row by row');
});

test('symmetrizeFromUpper mirrors the upper triangle onto the lower', () => {
  const n = 6;
  const s = randomMatrix(n, n, 9);
  const upper = s.slice();
  symmetrizeFromUpper(s, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) assert.equal(s[i * n + j], upper[Math.min(i, j) * n + Math.max(i, j)]);
  }
});

test('addInto sums elementwise and rejects mismatched lengths', () => {
  const t = Float64Array.of(1, 2, 3);
  addInto(t, Float64Array.of(0.5, -2, 10));
  assert.deepEqual(Array.from(t), [1.5, 0, 13]);
  assert.throws(() => addInto(t, new Float64Array(2)), RangeError);
});

test('bad shapes are rejected', () => {
  assert.throws(() => smallerGram(new Float64Array(5), 2, 3), RangeError);
  assert.throws(() => syrkUpper(new Float64Array(3), new Float64Array(4), 2, 2), RangeError);
  assert.throws(() => symmetrizeFromUpper(new Float64Array(3), 2), RangeError);
});

// The WebAssembly kernel (gramWasm.ts) against the TypeScript one, at shapes on both sides of its
// 4×4 tiles and 64-column blocks; rows past 256 cross a packed row block, past 512 a copy chunk.
const WASM_ROWS = [1, 3, 4, 5, 47, 130];
const WASM_COLS = [1, 2, 7, 64, 385];

test('the wasm gram kernel is available here', () => {
  assert.ok(wasmGramAvailable(), 'src/linalg/wasm/gram.wasm did not load');
});

test('syrkUpperWasm matches the TypeScript kernel, accumulates, and leaves the lower triangle', () => {
  for (const rows of WASM_ROWS) {
    for (const cols of WASM_COLS) {
      const label = `${rows}×${cols}`;
      const z = randomMatrix(rows, cols, 31 * rows + cols);
      const start = randomMatrix(cols, cols, rows + 17 * cols);
      const ts = start.slice();
      syrkUpperTs(ts, z, rows, cols);
      const wasm = start.slice();
      assert.ok(syrkUpperWasm(wasm, z, rows, cols), `${label}: wasm unavailable`);
      let scale = 0;
      for (let i = 0; i < cols; i++) for (let j = i; j < cols; j++) scale = Math.max(scale, Math.abs(ts[i * cols + j]));
      for (let i = 0; i < cols; i++) {
        for (let j = 0; j < cols; j++) {
          const k = i * cols + j;
          if (j >= i) {
            assert.ok(Math.abs(wasm[k] - ts[k]) <= 1e-12 * scale, `${label} (${i},${j}): ${wasm[k]} vs ${ts[k]}`);
          } else {
            assert.equal(wasm[k], start[k], `${label}: lower (${i},${j}) was touched`);
          }
        }
      }
    }
  }
});

test('syrkUpperWasm streams many rows in chunks like one call of the TypeScript kernel', () => {
  for (const [rows, cols] of [[600, 9], [1100, 6], [257, 33]]) {
    const z = randomMatrix(rows, cols, rows + cols);
    const ts = new Float64Array(cols * cols);
    syrkUpperTs(ts, z, rows, cols);
    const wasm = new Float64Array(cols * cols);
    assert.ok(syrkUpperWasm(wasm, z, rows, cols));
    symmetrizeFromUpper(ts, cols);
    symmetrizeFromUpper(wasm, cols);
    assertClose(wasm, ts, `${rows}×${cols}`);
  }
});

test('upperGramRowsWasm (smallerGram\'s N×N side) matches the TypeScript kernel', () => {
  for (const rows of WASM_ROWS) {
    for (const cols of WASM_COLS) {
      if (rows > cols) continue; // smallerGram only forms ZZᵀ when rows ≤ cols
      const label = `${rows}×${cols}`;
      const z = randomMatrix(rows, cols, 7 * rows + 3 * cols);
      const start = randomMatrix(rows, rows, 5 + rows);
      const ts = start.slice();
      upperGramRowsTs(ts, z, rows, cols);
      const wasm = start.slice();
      assert.ok(upperGramRowsWasm(wasm, z, rows, cols), `${label}: wasm unavailable`);
      let scale = 0;
      for (let i = 0; i < rows; i++) for (let j = i; j < rows; j++) scale = Math.max(scale, Math.abs(ts[i * rows + j]));
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < rows; j++) {
          const k = i * rows + j;
          if (j >= i) assert.ok(Math.abs(wasm[k] - ts[k]) <= 1e-12 * scale, `${label} (${i},${j}): ${wasm[k]} vs ${ts[k]}`);
          else assert.equal(wasm[k], start[k], `${label}: lower (${i},${j}) was touched`);
        }
      }
    }
  }
});

test('the wasm workspace grows for d = 4096 and is released after the call', () => {
  const cols = 4096;
  const rows = 5;
  const z = randomMatrix(rows, cols, 4096);
  const s = new Float64Array(cols * cols);
  assert.ok(syrkUpperWasm(s, z, rows, cols));
  // Spot-check a few entries against direct dot products.
  for (const [i, j] of [[0, 0], [0, 4095], [1000, 3001], [4095, 4095]]) {
    let want = 0;
    for (let r = 0; r < rows; r++) want += z[r * cols + i] * z[r * cols + j];
    assert.ok(Math.abs(s[i * cols + j] - want) <= 1e-12 * rows * 10, `(${i},${j})`);
  }
  assert.equal(s[4095 * cols], 0, 'lower triangle touched');
  assert.ok(wasmGramRetainedBytes() <= 64 * 2 ** 20, `kept ${wasmGramRetainedBytes()} bytes after a d = 4096 call`);
  // The next small call runs on a fresh, small instance and still agrees.
  const small = randomMatrix(47, 64, 1);
  const a = new Float64Array(64 * 64);
  const b = new Float64Array(64 * 64);
  syrkUpperTs(a, small, 47, 64);
  assert.ok(syrkUpperWasm(b, small, 47, 64));
  symmetrizeFromUpper(a, 64);
  symmetrizeFromUpper(b, 64);
  assertClose(b, a, 'after release');
});
