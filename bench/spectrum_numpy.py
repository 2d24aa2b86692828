"""Benchmark companion of bench/spectrum.bench.ts: what `entroscope spectrum FILE.npy` computes for
one sample, in numpy: load, centre, normalise rows (dropping rows of norm ≤ 1e-12·max), the smaller
Gram (BLAS dsyrk), its eigenvalues (LAPACK eigvalsh), entropy and erank of the clipped spectrum.

Usage: spectrum_numpy.py FILE.npy
Prints one JSON line: {"seconds": time of the steps above after `import numpy`, "erank": …,
"entropy": …, "blas": …}. Thread count: OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""
import json
import sys
import time

import numpy as np

t0 = time.perf_counter()
x = np.load(sys.argv[1])
x = x - x.mean(axis=0)
norms = np.linalg.norm(x, axis=1)
keep = norms > 1e-12 * norms.max()
z = x[keep] / norms[keep, None]
n, d = z.shape
g = z @ z.T if n <= d else z.T @ z
g /= n
w = np.linalg.eigvalsh(g)
w[w <= len(w) * np.finfo(float).eps * w.max()] = 0
p = w / w.sum()
p = p[p > 0]
entropy = float(-(p * np.log(p)).sum())
seconds = time.perf_counter() - t0
try:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    blas = f'{blas.get("name")} {blas.get("version")}'
except Exception:
    blas = "unknown"
print(json.dumps({"seconds": seconds, "erank": float(np.exp(entropy)), "entropy": entropy, "blas": blas, "numpy": np.__version__}))
