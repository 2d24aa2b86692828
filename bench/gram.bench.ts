// Benchmark: the Gram Z Zᵀ of one N×d sample and its eigenvalues (src/linalg: gram.wasm or
// gram-fma.wasm split over threads, then the eigen-solve) against numpy (BLAS dsyrk + LAPACK
// eigvalsh) on the same matrix in the same run, at the same thread counts (OPENBLAS_NUM_THREADS).
//
// Usage: node --import tsx bench/gram.bench.ts [--rows 2048] [--cols 4096] [--threads 1,2]
//                                             [--reps 1] [--python PATH]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { symmetricEigenvalues } from '../src/linalg/eigen.ts';
import { upperGramRowsWasm, wasmGramBuild, wasmGramLastThreads } from '../src/linalg/gramWasm.ts';
import { wasmTridiagonalizeBuild } from '../src/linalg/tridiagonalizeWasm.ts';
import { gaussian, mulberry32 } from '../test/helpers/prng.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '2048' },
    cols: { type: 'string', default: '4096' },
    threads: { type: 'string', default: '1,2' },
    reps: { type: 'string', default: '1' },
    python: { type: 'string', default: join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python') },
  },
});
const rows = Number.parseInt(args.rows, 10);
const cols = Number.parseInt(args.cols, 10);
const reps = Number.parseInt(args.reps, 10);
const threadCounts = args.threads.split(',').map((s) => Number.parseInt(s, 10));
const numpyScript = fileURLToPath(new URL('./gram_numpy.py', import.meta.url));

const rng = mulberry32(7);
const z = Float64Array.from({ length: rows * cols }, () => gaussian(rng));
const dir = mkdtempSync(join(tmpdir(), 'entroscope-gram-bench-'));
const file = join(dir, 'z.f64');
writeFileSync(file, new Uint8Array(z.buffer));

console.log(`Gram Z Zᵀ + eigenvalues, Z: ${rows}×${cols} float64; ${cpus().length} cores (${cpus()[0]?.model}), Node ${process.version}`);
console.log(`kernels: gram ${wasmGramBuild()}, eigen ${wasmTridiagonalizeBuild()}; best of ${reps}`);
console.log('| threads | gram ours s | gram numpy s | ratio | eig ours s | eig LAPACK s | ratio | total ratio |');
console.log('|---|---|---|---|---|---|---|---|');
try {
  for (const threads of threadCounts) {
    let gram = Infinity;
    let eig = Infinity;
    let used = 0;
    let trace = 0;
    for (let r = 0; r < reps; r++) {
      const g = new Float64Array(rows * rows);
      let t0 = performance.now();
      upperGramRowsWasm(g, z, rows, cols, { threads });
      gram = Math.min(gram, (performance.now() - t0) / 1000);
      used = wasmGramLastThreads();
      trace = 0;
      for (let i = 0; i < rows; i++) trace += g[i * rows + i];
      t0 = performance.now();
      symmetricEigenvalues(g, rows);
      eig = Math.min(eig, (performance.now() - t0) / 1000);
    }
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
    const py = spawnSync(args.python, [numpyScript, file, String(rows), String(cols), String(reps)], { env, encoding: 'utf8' });
    if (py.status !== 0) throw new Error(`numpy failed: ${py.stderr}`);
    const np = JSON.parse(py.stdout.trim()) as { gram: number; eig: number; trace: number; blas: string };
    if (Math.abs(np.trace - trace) > 1e-10 * Math.abs(np.trace)) throw new Error(`traces differ: ${trace} vs ${np.trace}`);
    const f = (x: number): string => x.toFixed(2);
    console.log(
      `| ${threads}${used !== threads ? ` (got ${used})` : ''} | ${f(gram)} | ${f(np.gram)} | ${f(gram / np.gram)}× | ${f(eig)} | ${f(np.eig)} | ${f(eig / np.eig)}× | ${f((gram + eig) / (np.gram + np.eig))}× |`,
    );
    if (threads === threadCounts[threadCounts.length - 1]) console.log(`numpy BLAS: ${np.blas}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
