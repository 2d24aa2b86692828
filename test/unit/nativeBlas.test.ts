// The native (OpenBLAS via koffi) and WebAssembly backends of the metric kernels, each against numpy
// (its own bundled BLAS/LAPACK) and against each other; the native Gram's thread split; backend
// selection (ENTROSCOPE_LINALG, ENTROSCOPE_BLAS_LIB). src/linalg/nativeBlas.ts, nativeGram.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { smallerGram, syrkUpper } from '../../src/linalg/gram.ts';
import { symmetricEigenvalues } from '../../src/linalg/eigen.ts';
import { linalgBackend, nativeBlasInfo } from '../../src/linalg/nativeBlas.ts';
import { nativeGramLastThreads, syrkUpperNative, upperGramRowsNative } from '../../src/linalg/nativeGram.ts';
import { acquireHelpers, busyThreads, releaseHelpers } from '../../src/linalg/coreBudget.ts';
import { gaussian, mulberry32 } from '../helpers/prng.ts';

// Three cores' budget, whatever this machine has, so that 3 threads can really run.
process.env.ENTROSCOPE_THREADS = '3';

const PYTHON = join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python');
const ORACLE = fileURLToPath(new URL('../oracle/gram_numpy.py', import.meta.url));

function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const rng = mulberry32(seed);
  return Float64Array.from({ length: rows * cols }, () => gaussian(rng));
}

function withBackend<T>(backend: 'native' | 'wasm', fn: () => T): T {
  const before = process.env.ENTROSCOPE_LINALG;
  process.env.ENTROSCOPE_LINALG = backend;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.ENTROSCOPE_LINALG;
    else process.env.ENTROSCOPE_LINALG = before;
  }
}

const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
};

/** max |got − want| ≤ tol · max |want| over the whole (symmetric) matrix. */
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  assert.equal(got.length, want.length, `${label}: length`);
  const scale = maxAbs(want);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(worst <= tol * scale, `${label}: max error ${worst} > ${tol}·${scale}`);
}

const bitIdentical = (a: Float64Array, b: Float64Array): boolean => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test('the native backend loads OpenBLAS here (auto picks it)', () => {
  // CI installs the library (infra/install-blas.sh); missing, this is a failure, not a skip.
  assert.equal(linalgBackend(), 'native');
  assert.match(nativeBlasInfo()!.config, /OpenBLAS/);
});

test('both backends match numpy for ZᵀZ, ZZᵀ and eigenvalues, and each other within 1e-14·‖A‖', () => {
  assert.ok(existsSync(PYTHON), `no Python oracle at ${PYTHON}: run infra/install-python.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-native-'));
  try {
    // Two and three block columns of the native split (512 wide), the last ragged; both sides.
    for (const [rows, cols, seed] of [[700, 600, 1], [300, 1100, 2]]) {
      const z = randomMatrix(rows, cols, seed);
      const file = join(dir, `z${seed}.f64`);
      writeFileSync(file, new Uint8Array(z.buffer));
      const run = spawnSync(PYTHON, [ORACLE, file, String(rows), String(cols), join(dir, `o${seed}`)], { encoding: 'utf8' });
      assert.equal(run.status, 0, `oracle failed: ${run.stderr}`);
      const read = (suffix: string) => new Float64Array(new Uint8Array(readFileSync(join(dir, `o${seed}.${suffix}.f64`))).buffer);
      const ztz = read('ztz');
      const zzt = read('zzt');
      const eig = read('eig');
      const results = (['native', 'wasm'] as const).map((backend) =>
        withBackend(backend, () => {
          const s = new Float64Array(cols * cols);
          syrkUpper(s, z, rows, cols);
          for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) s[i * cols + j] = s[j * cols + i];
          const rowsGram = new Float64Array(rows * rows);
          assert.equal(backend === 'native', upperGramRowsNative(rowsGram, z, rows, cols));
          const small = smallerGram(z, rows, cols);
          return { backend, s, small, eig: symmetricEigenvalues(s, cols) };
        }),
      );
      for (const r of results) {
        const label = `${r.backend} ${rows}×${cols}`;
        assertClose(r.s, ztz, 1e-14, `${label} ZᵀZ vs numpy`);
        assertClose(r.small.matrix, rows <= cols ? zzt : ztz, 1e-14, `${label} smaller Gram vs numpy`);
        assertClose(r.eig, eig, 1e-13, `${label} eigenvalues vs numpy`);
      }
      assertClose(results[0].s, results[1].s, 1e-14, `native vs wasm ZᵀZ ${rows}×${cols}`);
      assertClose(results[0].small.matrix, results[1].small.matrix, 1e-14, `native vs wasm smaller Gram ${rows}×${cols}`);
      assertClose(results[0].eig, results[1].eig, 1e-14, `native vs wasm eigenvalues ${rows}×${cols}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the native Gram is bit-identical on 1, 2 and 3 threads, from ordinary and shared memory', () => {
  const n = 1100; // three block columns (512 wide), the last ragged
  const zt = randomMatrix(300, n, 21); // S += ZᵀZ, S: n×n
  const zn = randomMatrix(n, 200, 23); // ZZᵀ, n×n
  const sharedCopy = (a: Float64Array) => {
    const c = new Float64Array(new SharedArrayBuffer(a.byteLength));
    c.set(a);
    return c;
  };
  const start = randomMatrix(n, n, 22);
  const runs: Float64Array[] = [];
  const grams: Float64Array[] = [];
  for (const [t, r] of [[zt, zn], [sharedCopy(zt), sharedCopy(zn)]]) {
    for (const threads of [1, 2, 3]) {
      const s = start.slice();
      assert.ok(syrkUpperNative(s, t, 300, n, { threads }));
      assert.equal(nativeGramLastThreads(), threads, 'threads used (ZᵀZ)');
      runs.push(s);
      const g = new Float64Array(n * n).fill(7);
      assert.ok(upperGramRowsNative(g, r, n, 200, { threads }));
      assert.equal(nativeGramLastThreads(), threads, 'threads used (ZZᵀ)');
      grams.push(g);
    }
  }
  for (let t = 1; t < runs.length; t++) {
    assert.ok(bitIdentical(runs[t], runs[0]), `S += ZᵀZ: run ${t} differs from 1 thread`);
    assert.ok(bitIdentical(grams[t], grams[0]), `ZZᵀ: run ${t} differs from 1 thread`);
  }
  // The lower triangles were left as they were.
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.equal(runs[2][i * n + j], start[i * n + j]);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assert.equal(grams[2][i * n + j], 7);
});

test('native Gram helpers only take idle cores of the process budget', () => {
  const z = randomMatrix(300, 1100, 31);
  const s = new Float64Array(1100 * 1100);
  // The two other cores of the budget busy (as inference threads would be): only this thread runs.
  const took = acquireHelpers(2);
  assert.equal(took, 2);
  try {
    assert.ok(syrkUpperNative(s, z, 300, 1100, { threads: 3 }));
    assert.equal(nativeGramLastThreads(), 1);
  } finally {
    releaseHelpers(took);
  }
  assert.ok(syrkUpperNative(s, z, 300, 1100, { threads: 3 }));
  assert.equal(nativeGramLastThreads(), 3);
  assert.equal(busyThreads(), 0, 'every core given back');
});

/** Runs a snippet in a fresh process with this environment; returns its exit status and output. */
function fresh(code: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}
const EIGEN = new URL('../../src/linalg/eigen.ts', import.meta.url).href;
const NATIVE = new URL('../../src/linalg/nativeBlas.ts', import.meta.url).href;
const SNIPPET = `import { symmetricEigenvalues } from '${EIGEN}'; import { linalgBackend } from '${NATIVE}';
  const l = symmetricEigenvalues(Float64Array.of(2, 1, 1, 2), 2); console.log(JSON.stringify({ backend: linalgBackend(), l: [...l] }));`;

test('ENTROSCOPE_LINALG=native without the library fails naming it; auto falls back to wasm', () => {
  const missing = '/nonexistent/libopenblas.so.0';
  const forced = fresh(SNIPPET, { ENTROSCOPE_LINALG: 'native', ENTROSCOPE_BLAS_LIB: missing });
  assert.notEqual(forced.status, 0);
  assert.match(forced.stderr, /ENTROSCOPE_LINALG=native but OpenBLAS \(with LAPACK\) did not load: \/nonexistent\/libopenblas\.so\.0/);
  const fallbacks: Array<Record<string, string>> = [{ ENTROSCOPE_BLAS_LIB: missing }, { ENTROSCOPE_LINALG: 'wasm' }];
  for (const env of fallbacks) {
    const r = fresh(SNIPPET, env);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { backend: string; l: number[] };
    assert.equal(out.backend, 'wasm');
    assertClose(out.l, [1, 3], 1e-15, 'fallback eigenvalues of [[2,1],[1,2]]');
  }
  const bad = fresh(SNIPPET, { ENTROSCOPE_LINALG: 'blas' });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /ENTROSCOPE_LINALG must be auto, native or wasm, got "blas"/);
});

test('entroscope spectrum gives numpy\'s metrics on either backend, threaded (ENTROSCOPE_LINALG=native / wasm)', () => {
  assert.ok(existsSync(PYTHON), `no Python oracle at ${PYTHON}: run infra/install-python.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-native-cli-'));
  try {
    // numpy writes the sample and computes its metrics (test/oracle/numpy_metrics.py, from the spec).
    const file = join(dir, 'x.npy');
    const oracleDir = fileURLToPath(new URL('../oracle/', import.meta.url));
    const py = spawnSync(PYTHON, ['-c', [
      'import json, sys, numpy as np',
      `sys.path.insert(0, ${JSON.stringify(oracleDir)})`,
      'from numpy_metrics import metrics',
      'x = np.random.default_rng(5).standard_normal((600, 1100)) @ np.diag(np.linspace(0.1, 2, 1100))',
      `np.save(${JSON.stringify(file)}, x)`,
      'print(json.dumps(metrics(x)))',
    ].join('\n')], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    const want = JSON.parse(py.stdout) as { entropy: number; erank: number; renyi2: number };
    const cli = fileURLToPath(new URL('../../bin/entroscope.js', import.meta.url));
    for (const backend of ['native', 'wasm']) {
      const run = spawnSync(process.execPath, [cli, 'spectrum', file, '--json'], {
        env: { ...process.env, ENTROSCOPE_LINALG: backend, ENTROSCOPE_THREADS: '2' },
        encoding: 'utf8',
      });
      assert.equal(run.status, 0, run.stderr);
      const got = JSON.parse(run.stdout) as { entropy: number; erank: number; renyi2: number };
      for (const key of ['entropy', 'erank', 'renyi2'] as const) {
        assert.ok(Math.abs(got[key] - want[key]) <= 1e-12 * Math.abs(want[key]), `${backend} ${key}: ${got[key]} vs numpy ${want[key]}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
