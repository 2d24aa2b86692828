// Benchmark: symmetricEigenvalues (src/linalg/eigen.ts) against LAPACK (numpy.linalg.eigvalsh,
// single-threaded, on the same matrix in the same run), and against ml-matrix and mathjs at small
// sizes. DESIGN §4 target: within 3× of LAPACK for n = 256…4096. Prints which tridiagonalisation
// kernel ran (WebAssembly SIMD, or the TypeScript fallback if the .wasm could not load).
//
// Usage: node --import tsx bench/eigen.bench.ts [--sizes 256,512,1024,2048] [--reps 3]
//                                              [--js-max 512] [--threads 1] [--python PATH]
// --threads: LAPACK's thread count (OPENBLAS_NUM_THREADS) and ENTROSCOPE_THREADS. entroscope's
// eigen-solve is dsyevd on one thread (native) or the wasm kernels (one thread); the `thr` column
// says how many threads it used (more only with the opt-in threaded reduction of
// src/linalg/nativeTridiagonal.ts). Each row prints the load average (1/5/15 min) before it.
// Matrices: A = ZᵀZ with Z: (n/2 + 16)×n Gaussian (seeded), i.e. a PSD Gram of rank n/2 + 16, the
// product's use case. Times are the best of --reps runs (1 run above n = 1024).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { eigs } from 'mathjs';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

import { symmetricEigenvalues } from '../src/linalg/eigen.ts';
import { symmetrizeFromUpper, syrkUpper } from '../src/linalg/gram.ts';
import { linalgBackend, nativeBlasInfo } from '../src/linalg/nativeBlas.ts';
import { DRIVER_MIN_N, eigenLastThreads } from '../src/linalg/nativeTridiagonal.ts';
import { wasmTridiagonalizeAvailable, wasmTridiagonalizeBuild } from '../src/linalg/tridiagonalizeWasm.ts';
import { gaussian, mulberry32 } from '../test/helpers/prng.ts';

interface NumpyResult {
  seconds: number;
  numpy: string;
  blas: string;
  threadpool: unknown;
}

interface Row {
  n: number;
  oursMs: number;
  lapackMs: number;
  maxDelta: number;
  norm: number;
  threadsUsed: number;
  load: string;
  mlMatrixMs?: number;
  mathjsMs?: number;
}

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024,2048' },
    reps: { type: 'string', default: '3' },
    'js-max': { type: 'string', default: '512' },
    threads: { type: 'string', default: '1' },
    python: { type: 'string', default: join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python') },
  },
});
const sizes = args.sizes.split(',').map((s) => Number.parseInt(s, 10));
const reps = Number.parseInt(args.reps, 10);
const jsMax = Number.parseInt(args['js-max'], 10);
const python = args.python;
const threads = String(Number.parseInt(args.threads, 10));
process.env.ENTROSCOPE_THREADS = threads;
const numpyScript = fileURLToPath(new URL('./eigen_numpy.py', import.meta.url));

/** A = ZᵀZ, Z: (n/2+16)×n seeded Gaussian; full symmetric n×n. */
function gramMatrix(n: number, seed: number): Float64Array {
  const rows = Math.floor(n / 2) + 16;
  const rng = mulberry32(seed);
  const z = Float64Array.from({ length: rows * n }, () => gaussian(rng));
  const a = new Float64Array(n * n);
  syrkUpper(a, z, rows, n);
  symmetrizeFromUpper(a, n);
  return a;
}

function bestMs(runs: number, f: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/** LAPACK via Python, single-threaded; OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for this
 * command only (the environment doc notes that older OpenBLAS builds are slowed by them). */
function lapack(a: Float64Array, n: number, runs: number, dir: string): { result: NumpyResult; lambda: Float64Array } {
  const input = join(dir, `a${n}.f64`);
  const output = join(dir, `w${n}.f64`);
  writeFileSync(input, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(python, [numpyScript, input, String(n), String(runs), output], { encoding: 'utf8', env });
  if (run.status !== 0) throw new Error(`numpy failed: ${run.stderr}`);
  const bytes = readFileSync(output);
  const lambda = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { result: JSON.parse(run.stdout) as NumpyResult, lambda };
}

function toRows(a: Float64Array, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * n, (i + 1) * n)));
}

function main(): void {
  if (!existsSync(python)) throw new Error(`no Python with numpy at ${python} (use --python)`);
  const dir = mkdtempSync(join(tmpdir(), 'entroscope-eigen-bench-'));
  const rows: Row[] = [];
  let info: NumpyResult | undefined;
  try {
    for (const n of sizes) {
      const a = gramMatrix(n, 1000 + n);
      const runs = n > 1024 ? 1 : reps;
      let ours: Float64Array = new Float64Array(0);
      // Warm up the JIT (and V8's tier-up of the wasm kernels) on the matrix's leading block, at
      // the size of the path n takes (the native driver's helper threads start on its first call).
      const m = Math.min(n, n >= DRIVER_MIN_N ? DRIVER_MIN_N : 256);
      const lead = new Float64Array(m * m);
      for (let i = 0; i < m; i++) lead.set(a.subarray(i * n, i * n + m), i * m);
      for (let r = 0; r < 3; r++) symmetricEigenvalues(lead, m);
      const load = loadavg().map((x) => x.toFixed(2)).join(' ');
      const oursMs = bestMs(runs, () => { ours = symmetricEigenvalues(a, n); });
      const threadsUsed = linalgBackend() === 'native' ? eigenLastThreads() : 1;
      const { result, lambda } = lapack(a, n, runs, dir);
      info = result;
      let maxDelta = 0;
      let norm = 0;
      for (let i = 0; i < n; i++) {
        maxDelta = Math.max(maxDelta, Math.abs(ours[i] - lambda[i]));
        norm = Math.max(norm, Math.abs(lambda[i]));
      }
      const row: Row = { n, oursMs, lapackMs: result.seconds * 1000, maxDelta, norm, threadsUsed, load };
      if (n <= jsMax) {
        const m = new Matrix(toRows(a, n));
        row.mlMatrixMs = bestMs(1, () => { void new EigenvalueDecomposition(m, { assumeSymmetric: true }).realEigenvalues; });
        if (n <= 256) {
          const rowsArray = toRows(a, n);
          row.mathjsMs = bestMs(1, () => { void eigs(rowsArray, { eigenvectors: false }); });
        }
      }
      rows.push(row);
      process.stderr.write(`n=${n} done\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const fmt = (ms: number | undefined): string => (ms === undefined ? '—' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
  const cpu = cpus();
  console.log(`node ${process.version}, ${cpu.length} cores (${cpu[0]?.model ?? 'unknown CPU'}); numpy ${info?.numpy ?? '?'}, BLAS ${info?.blas ?? '?'}, ${threads} thread(s)`);
  console.log(`backend: ${linalgBackend()}${linalgBackend() === 'native' ? ` (${JSON.stringify(nativeBlasInfo())}: LAPACK dsyevd, 1 thread)` : ''}`);
  if (linalgBackend() === 'wasm') console.log(`tridiagonalisation: ${wasmTridiagonalizeAvailable() ? `WebAssembly SIMD (src/linalg/wasm/${wasmTridiagonalizeBuild() === 'fma' ? 'eigen-fma.wasm, relaxed-SIMD FMA' : 'eigen.wasm'})` : 'TypeScript fallback (wasm unavailable)'}`);
  if (info?.threadpool) console.log(`threadpoolctl: ${JSON.stringify(info.threadpool)}`);
  console.log('| n | ours (ms) | thr | LAPACK eigvalsh (ms) | ours / LAPACK | max abs(Δλ) / ‖A‖₂ | ml-matrix (ms) | mathjs eigs (ms) | load avg before |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(
      `| ${r.n} | ${fmt(r.oursMs)} | ${r.threadsUsed} | ${fmt(r.lapackMs)} | ${(r.oursMs / r.lapackMs).toFixed(2)}× | ` +
        `${(r.maxDelta / r.norm).toExponential(1)} | ${fmt(r.mlMatrixMs)} | ${fmt(r.mathjsMs)} | ${r.load} |`,
    );
  }
}

main();
