// The Gram kernels' relaxed-SIMD (FMA) build and their split over helper threads
// (src/linalg/gramWasm.ts, gramThreads.ts, coreBudget.ts, relaxedSimd.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { syrkUpperTs, upperGramRowsTs } from '../../src/linalg/gram.ts';
import { syrkUpperWasm, upperGramRowsWasm, wasmGramBuild, wasmGramLastThreads } from '../../src/linalg/gramWasm.ts';
import { columnSplit } from '../../src/linalg/gramThreads.ts';
import { acquireHelpers, busyThreads, holdCore, releaseHelpers } from '../../src/linalg/coreBudget.ts';
import { wasmTridiagonalizeBuild } from '../../src/linalg/tridiagonalizeWasm.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

// Three cores' budget, whatever this machine has, so that 3 threads can really run.
process.env.ENTROSCOPE_THREADS = '3';

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  return Float64Array.from({ length: rows * cols }, () => gaussian(rng));
}

/** max |got − want| over the upper triangle ≤ tol · max |want| there; lower triangle equal to `lower`. */
function assertUpperClose(got: Float64Array, want: Float64Array, lower: Float64Array, n: number, tol: number, label: string): void {
  let scale = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) scale = Math.max(scale, Math.abs(want[i * n + j]));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const k = i * n + j;
      if (j >= i) assert.ok(Math.abs(got[k] - want[k]) <= tol * scale, `${label} (${i},${j}): ${got[k]} vs ${want[k]}`);
      else assert.equal(got[k], lower[k], `${label}: lower (${i},${j}) was touched`);
    }
  }
}

/** Runs the build probe in a fresh process with these node flags and environment. */
function probeBuilds(flags: string[], env: Record<string, string> = {}): { gram: string; eigen: string; rel: number } {
  const probe = new URL('../helpers/gramBuildProbe.ts', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', probe], { env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { gram: string; eigen: string; rel: number };
}

test('the FMA builds run where the runtime validates relaxed SIMD, and match within 1e-14·‖S‖', () => {
  // Node 20 (V8 11.3) validates it only when started with the flag; Node ≥ 22 always does.
  const out = probeBuilds(['--experimental-wasm-relaxed-simd']);
  assert.equal(out.gram, 'fma');
  assert.equal(out.eigen, 'fma');
  assert.ok(out.rel <= 1e-14, `relative error ${out.rel}`);
});

test('without relaxed SIMD in the runtime the plain builds load (no V8 flag is switched at run time)', () => {
  // (func (param v128 v128 v128) (result v128) … f64x2.relaxed_madd), validated by this process.
  const probe = new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
    0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x87, 0x02, 0x0b,
  ]);
  const want = WebAssembly.validate(probe) ? 'fma' : 'plain';
  assert.equal(wasmGramBuild(), want);
  assert.equal(wasmTridiagonalizeBuild(), want);
  assert.equal(WebAssembly.validate(probe), want === 'fma', 'validation unchanged after the kernels loaded');
});

test('the Gram kernels in use (FMA or plain) match the TypeScript kernels within 1e-14·‖S‖', () => {
  for (const [rows, cols] of [[37, 301], [301, 37], [130, 130], [5, 1000], [520, 61]]) {
    const z = randomMatrix(rows, cols, rows * 7 + cols);
    const startS = randomMatrix(cols, cols, cols);
    const ts = startS.slice();
    syrkUpperTs(ts, z, rows, cols);
    const wasm = startS.slice();
    assert.ok(syrkUpperWasm(wasm, z, rows, cols));
    assertUpperClose(wasm, ts, startS, cols, 1e-14, `ZᵀZ ${rows}×${cols}`);
    if (rows <= cols) {
      const startG = randomMatrix(rows, rows, rows);
      const tsG = startG.slice();
      upperGramRowsTs(tsG, z, rows, cols);
      const wasmG = startG.slice();
      assert.ok(upperGramRowsWasm(wasmG, z, rows, cols));
      assertUpperClose(wasmG, tsG, startG, rows, 1e-14, `ZZᵀ ${rows}×${cols}`);
    }
  }
});

test('ENTROSCOPE_WASM_FMA=0 selects the plain SIMD builds, which also match within 1e-14·‖S‖', () => {
  const out = probeBuilds(['--experimental-wasm-relaxed-simd'], { ENTROSCOPE_WASM_FMA: '0' });
  assert.equal(out.gram, 'plain');
  assert.equal(out.eigen, 'plain');
  assert.ok(out.rel <= 1e-14, `relative error ${out.rel}`);
});

test('S is bit-identical on 1, 2 and 3 threads (ZᵀZ accumulated and ZZᵀ)', () => {
  const rows = 700;
  const cols = 203; // 51 column tiles, the last one ragged
  const z = randomMatrix(rows, cols, 11);
  const start = randomMatrix(cols, cols, 12);
  const results = [1, 2, 3].map((threads) => {
    const s = start.slice();
    assert.ok(syrkUpperWasm(s, z, rows, cols, { threads }));
    assert.equal(wasmGramLastThreads(), threads, 'threads used');
    return s;
  });
  for (const t of [1, 2]) assert.ok(results[t].every((v, i) => Object.is(v, results[0][i])), `ZᵀZ: ${t + 1} threads differ from 1`);
  const ts = start.slice();
  syrkUpperTs(ts, z, rows, cols);
  assertUpperClose(results[2], ts, start, cols, 1e-14, 'ZᵀZ 3 threads');

  const zr = randomMatrix(150, 900, 13);
  const grams = [1, 2, 3].map((threads) => {
    const g = new Float64Array(150 * 150);
    assert.ok(upperGramRowsWasm(g, zr, 150, 900, { threads }));
    assert.equal(wasmGramLastThreads(), threads, 'threads used');
    return g;
  });
  for (const t of [1, 2]) assert.ok(grams[t].every((v, i) => Object.is(v, grams[0][i])), `ZZᵀ: ${t + 1} threads differ from 1`);
});

test('helper threads only take idle cores of the process budget', () => {
  const z = randomMatrix(64, 400, 21);
  const g = new Float64Array(64 * 64);
  assert.equal(busyThreads(), 0);
  // Two other threads busy (say, two inference threads of the pool): of 3 cores none is idle
  // besides the caller's own.
  const taken = acquireHelpers(2);
  assert.equal(taken, 2);
  try {
    upperGramRowsWasm(g, z, 64, 400, { threads: 3 });
    assert.equal(wasmGramLastThreads(), 1);
  } finally {
    releaseHelpers(taken);
  }
  // One busy: the caller gets one helper.
  releaseHelpers(acquireHelpers(0));
  const one = acquireHelpers(1);
  try {
    upperGramRowsWasm(g, z, 64, 400, { threads: 3 });
    assert.equal(wasmGramLastThreads(), 2);
  } finally {
    releaseHelpers(one);
  }
  // A kernel called inside a held core counts once, not twice.
  holdCore(() => {
    upperGramRowsWasm(g, z, 64, 400, { threads: 3 });
    assert.equal(wasmGramLastThreads(), 3);
  });
  assert.equal(busyThreads(), 0, 'every core given back');
});

test('columnSplit cuts the upper triangle into parts of nearly equal tile count', () => {
  for (const [tiles, parts] of [[51, 3], [1024, 2], [7, 5], [3, 3], [100, 16]]) {
    const b = columnSplit(tiles, parts);
    assert.equal(b.length, parts + 1);
    assert.equal(b[0], 0);
    assert.equal(b[parts], tiles);
    const total = (tiles * (tiles + 1)) / 2;
    for (let p = 0; p < parts; p++) {
      assert.ok(b[p + 1] >= b[p], 'bounds ascend');
      const count = (b[p + 1] * (b[p + 1] + 1)) / 2 - (b[p] * (b[p] + 1)) / 2;
      assert.ok(Math.abs(count - total / parts) <= tiles, `${tiles}/${parts} part ${p}: ${count} of ${total}`);
    }
  }
});
