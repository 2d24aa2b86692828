"""Benchmark companion of bench/gram.bench.ts: the Gram Z Zᵀ (numpy matmul, BLAS dsyrk) and its
eigenvalues (numpy.linalg.eigvalsh, LAPACK) of one N×d float64 matrix.

Usage: gram_numpy.py MATRIX.f64 N D REPS
  MATRIX.f64: N*D little-endian float64, row-major.
Prints one JSON line: {"gram": best seconds of REPS for Z @ Z.T, "eig": best seconds of eigvalsh,
"trace": trace of the Gram, "blas": ...}. Thread count: set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS.
"""
import json
import sys
import time

import numpy as np


def main() -> None:
    path, n, d, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    z = np.fromfile(path, dtype="<f8").reshape(n, d)
    np.linalg.eigvalsh((z[:8] @ z[:8].T))  # load BLAS/LAPACK before timing
    gram, eig = float("inf"), float("inf")
    g = None
    for _ in range(reps):
        t0 = time.perf_counter()
        g = z @ z.T
        gram = min(gram, time.perf_counter() - t0)
        t0 = time.perf_counter()
        w = np.linalg.eigvalsh(g)
        eig = min(eig, time.perf_counter() - t0)
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        blas = f'{blas.get("name")} {blas.get("version")}'
    except Exception:
        blas = "unknown"
    print(json.dumps({"gram": gram, "eig": eig, "trace": float(np.trace(g)), "lmax": float(w[-1]), "blas": blas, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
