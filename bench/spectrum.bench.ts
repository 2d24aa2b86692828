// Benchmark: `entroscope spectrum FILE.npy --json` (the whole CLI process: start-up, load, centre,
// normalise, Gram, eigenvalues, metrics) against the same steps in numpy (bench/spectrum_numpy.py,
// whole Python process and the steps alone), on the same float64 .npy, side by side in one run at
// the same thread counts (ENTROSCOPE_THREADS for entroscope, OPENBLAS_NUM_THREADS = OMP_NUM_THREADS
// for numpy). Also the steps alone in this process (read the file, then sampleMetrics: what the CLI
// runs after start-up), beside numpy's steps alone. The erank of both must agree to 1e-9 (relative).
//
// Usage: node --import tsx bench/spectrum.bench.ts [--shapes 4096x4096,2048x4096] [--threads 1,2]
//                                                 [--backends native,wasm] [--python PATH]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { readNpyArray } from '../src/io/npy.ts';
import { nativeBlasInfo } from '../src/linalg/nativeBlas.ts';
import { sampleMetrics } from '../src/metrics/sampleMetrics.ts';
import { gaussian, mulberry32 } from '../test/helpers/prng.ts';

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string', default: '4096x4096,2048x4096' },
    threads: { type: 'string', default: '1,2' },
    backends: { type: 'string', default: 'native' },
    python: { type: 'string', default: join(homedir(), '.cache', 'entroscope', 'venv', 'bin', 'python') },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin', 'entroscope.js');
const numpyScript = join(root, 'bench', 'spectrum_numpy.py');
const threadCounts = args.threads.split(',').map((s) => Number.parseInt(s, 10));
const backends = args.backends.split(',');

/** A float64 C-order .npy of rows×cols seeded Gaussian entries. */
function npy(rows: number, cols: number, seed: number): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + 8 * rows * cols);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  out.set(new TextEncoder().encode(header), 10);
  const data = new Float64Array(out.buffer, 10 + header.length, rows * cols);
  const rng = mulberry32(seed);
  for (let i = 0; i < data.length; i++) data[i] = gaussian(rng);
  return out;
}

const load = () => loadavg().map((v) => v.toFixed(2)).join(' ');
console.log(`entroscope spectrum vs numpy; ${cpus().length} cores (${cpus()[0]?.model}), Node ${process.version}`);
console.log(`native: ${JSON.stringify(nativeBlasInfo() ?? null)}`);
console.log('| Z | backend | threads | CLI process s | numpy process s | ratio | steps ours s | steps numpy s | ratio | erank rel Δ | load avg before |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
const dir = mkdtempSync(join(tmpdir(), 'entroscope-spectrum-bench-'));
try {
  for (const shape of args.shapes.split(',')) {
    const [rows, cols] = shape.split('x').map((s) => Number.parseInt(s, 10));
    const file = join(dir, `${shape}.npy`);
    writeFileSync(file, npy(rows, cols, rows + cols));
    for (const threads of threadCounts) {
      const t = String(threads);
      const before = load();
      let t0 = performance.now();
      const py = spawnSync(args.python, [numpyScript, file], {
        env: { ...process.env, OPENBLAS_NUM_THREADS: t, OMP_NUM_THREADS: t, MKL_NUM_THREADS: t },
        encoding: 'utf8',
      });
      const pySeconds = (performance.now() - t0) / 1000;
      if (py.status !== 0) throw new Error(`numpy failed: ${py.stderr}`);
      const ref = JSON.parse(py.stdout.trim()) as { seconds: number; erank: number };
      for (const backend of backends) {
        t0 = performance.now();
        const run = spawnSync(process.execPath, [cli, 'spectrum', file, '--json'], {
          env: { ...process.env, ENTROSCOPE_THREADS: t, ENTROSCOPE_LINALG: backend },
          encoding: 'utf8',
          maxBuffer: 1 << 26,
        });
        const seconds = (performance.now() - t0) / 1000;
        if (run.status !== 0) throw new Error(`entroscope spectrum failed: ${run.stderr}`);
        const ours = JSON.parse(run.stdout) as { erank: number };
        const rel = Math.abs(ours.erank - ref.erank) / ref.erank;
        if (!(rel <= 1e-9)) throw new Error(`erank disagrees: ${ours.erank} vs numpy ${ref.erank}`);
        // The steps alone, in this process (backend and thread budget are read per call).
        process.env.ENTROSCOPE_THREADS = t;
        process.env.ENTROSCOPE_LINALG = backend;
        t0 = performance.now();
        const a = readNpyArray(readFileSync(file), file);
        const m = sampleMetrics(a.data, rows, cols, { alphas: [0.5, 2] });
        const steps = (performance.now() - t0) / 1000;
        const relSteps = Math.abs(m.metrics.erank! - ref.erank) / ref.erank;
        if (!(relSteps <= 1e-9)) throw new Error(`erank (in process) disagrees: ${m.metrics.erank} vs numpy ${ref.erank}`);
        console.log(
          `| ${rows}×${cols} | ${backend} | ${threads} | ${seconds.toFixed(2)} | ${pySeconds.toFixed(2)} | ${(seconds / pySeconds).toFixed(2)}× | ` +
            `${steps.toFixed(2)} | ${ref.seconds.toFixed(2)} | ${(steps / ref.seconds).toFixed(2)}× | ${rel.toExponential(1)} | ${before} |`,
        );
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
