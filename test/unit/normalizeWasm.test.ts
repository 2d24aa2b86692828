// The WebAssembly centring kernel (src/linalg/wasm/normalize.c) against the TypeScript form of
// src/metrics/normalize.ts: the same bits on every shape, dropped rows and non-finite input; and
// both against a plain float64 computation written here (the definition, DESIGN §1 steps 1–2).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { centerAndNormalizeWasm, normalizeWasmAvailable } from '../../src/linalg/normalizeWasm.ts';
import { centerAndNormalize, centerAndNormalizeInPlace } from '../../src/metrics/normalize.ts';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** rows×cols values: an offset per column plus noise, as hidden states look. */
function hidden(rows: number, cols: number, seed: number): Float64Array {
  const rnd = seeded(seed);
  const offset = Array.from({ length: cols }, () => 10 * (rnd() - 0.5));
  const x = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) x[r * cols + c] = offset[c] + (rnd() - 0.5);
  return x;
}

/** The TypeScript form on a float64 copy of x. */
function typescriptForm(x: ArrayLike<number>, rows: number, cols: number) {
  const x64 = Float64Array.from(x);
  const n = centerAndNormalizeInPlace(x64, rows, cols);
  return { z: Float64Array.from(n.z), kept: n.kept, columnSquares: n.columnSquares! };
}

function wasmForm(x: Float32Array | Float64Array, rows: number, cols: number) {
  const out = new Float64Array(rows * cols);
  const columnSquares = new Float64Array(cols);
  const kept = centerAndNormalizeWasm(x, rows, cols, out, columnSquares);
  assert.ok(kept !== undefined, 'the kernel loads');
  if (kept === 'nonfinite') return 'nonfinite' as const;
  return { z: out.subarray(0, kept * cols), kept, columnSquares };
}

/** Unit rows of the centred X, straight from the definition (mean = Σx/N, row / ‖row‖). */
function definition(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const z = new Float64Array(rows * cols);
  for (let c = 0; c < cols; c++) {
    let m = 0;
    for (let r = 0; r < rows; r++) m += x[r * cols + c];
    m /= rows;
    for (let r = 0; r < rows; r++) z[r * cols + c] = x[r * cols + c] - m;
  }
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let c = 0; c < cols; c++) sq += z[r * cols + c] ** 2;
    for (let c = 0; c < cols; c++) z[r * cols + c] /= Math.sqrt(sq);
  }
  return z;
}

describe('normalize.wasm: centring and unit rows in WebAssembly', () => {
  it('loads here (the machines CI runs on have WebAssembly SIMD)', () => {
    assert.equal(normalizeWasmAvailable(), true);
  });

  it('gives the same bits as the TypeScript form: float32 and float64 input, every column count mod 4', () => {
    for (const [rows, cols] of [[1, 1], [2, 1], [2, 2], [3, 3], [5, 4], [7, 5], [47, 576], [13, 577], [9, 578], [31, 579], [64, 384]]) {
      for (const seed of [1, 2]) {
        const x64 = hidden(rows, cols, seed * 1000 + cols);
        const x32 = Float32Array.from(x64);
        for (const x of [x32, x64]) {
          const ts = typescriptForm(x, rows, cols);
          const wasm = wasmForm(x, rows, cols);
          assert.notEqual(wasm, 'nonfinite');
          if (wasm === 'nonfinite') continue;
          assert.equal(wasm.kept, ts.kept, `${rows}×${cols} kept`);
          assert.deepEqual(wasm.z, ts.z, `${rows}×${cols} ${x.constructor.name}: Z`);
          assert.deepEqual(wasm.columnSquares, ts.columnSquares, `${rows}×${cols}: column squares`);
        }
      }
    }
  });

  it('matches the definition to round-off', () => {
    const [rows, cols] = [47, 576];
    const x = hidden(rows, cols, 7);
    const w = wasmForm(x, rows, cols);
    assert.notEqual(w, 'nonfinite');
    if (w === 'nonfinite') return;
    const want = definition(x, rows, cols);
    let max = 0;
    for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(w.z[i] - want[i]));
    assert.ok(max < 1e-14, `max |Δz| = ${max}`);
    for (let r = 0; r < rows; r++) {
      let sq = 0;
      for (let c = 0; c < cols; c++) sq += w.z[r * cols + c] ** 2;
      assert.ok(Math.abs(sq - 1) < 1e-14, `row ${r} has squared norm ${sq}`);
    }
  });

  it('drops rows equal to the mean and constant samples the same way', () => {
    // Row 2 is the mean of rows 0, 1 and itself exactly (a, −a, 0 per column).
    const cols = 6;
    const a = [1, -2, 3, 0.5, 4, -1];
    const x = Float64Array.from([...a, ...a.map((v) => -v), ...a.map(() => 0), ...a.map((v) => 2 * v)]);
    for (const input of [x, Float32Array.from(x)]) {
      const ts = typescriptForm(input, 4, cols);
      const wasm = wasmForm(input, 4, cols);
      assert.notEqual(wasm, 'nonfinite');
      if (wasm === 'nonfinite') continue;
      assert.deepEqual({ kept: wasm.kept, z: Array.from(wasm.z), sq: Array.from(wasm.columnSquares) }, { kept: ts.kept, z: Array.from(ts.z), sq: Array.from(ts.columnSquares) });
    }
    const constant = new Float32Array(5 * 7).fill(3.25);
    const w = wasmForm(constant, 5, 7);
    assert.notEqual(w, 'nonfinite');
    if (w !== 'nonfinite') {
      assert.equal(w.kept, 0);
      assert.deepEqual(Array.from(w.columnSquares), new Array(7).fill(0));
    }
  });

  it('reports NaN and ±Infinity anywhere, and centerAndNormalize names the row and column', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 5, 47 * 576 - 1]) {
        const x = Float32Array.from(hidden(47, 576, 3));
        x[at] = bad;
        assert.equal(wasmForm(x, 47, 576), 'nonfinite', `${bad} at ${at}`);
        assert.throws(() => centerAndNormalize(x, 47, 576), new RegExp(`row ${Math.floor(at / 576)}, column ${at % 576} is ${bad}`));
      }
    }
  });

  it('agrees with the TypeScript form on small integer matrices (duplicates, rank deficiency)', () => {
    fc.assert(
      fc.property(
        fc.record({ rows: fc.integer({ min: 1, max: 9 }), cols: fc.integer({ min: 1, max: 9 }) }).chain(({ rows, cols }) =>
          fc.array(fc.integer({ min: -4, max: 4 }), { minLength: rows * cols, maxLength: rows * cols }).map((data) => ({ rows, cols, data })),
        ),
        ({ rows, cols, data }) => {
          const x = Float64Array.from(data);
          const ts = typescriptForm(x, rows, cols);
          const wasm = wasmForm(x, rows, cols);
          assert.notEqual(wasm, 'nonfinite');
          if (wasm === 'nonfinite') return;
          assert.equal(wasm.kept, ts.kept);
          assert.deepEqual(Array.from(wasm.z), Array.from(ts.z));
          assert.deepEqual(Array.from(wasm.columnSquares), Array.from(ts.columnSquares));
        },
      ),
      { numRuns: 200 },
    );
  });
});
