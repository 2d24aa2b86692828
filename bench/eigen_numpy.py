"""Benchmark companion of bench/eigen.bench.ts: LAPACK eigenvalues via numpy.linalg.eigvalsh.

Usage: eigen_numpy.py MATRIX.f64 N REPS OUT.f64
  MATRIX.f64: N*N little-endian float64, row-major, full symmetric.
Writes the ascending eigenvalues (float64) of the best run to OUT.f64 and prints one JSON line:
{"seconds": best wall time of REPS, "numpy": version, "blas": BLAS config, "threadpool": ...}.
Run it single-threaded (OMP/OPENBLAS/MKL_NUM_THREADS=1) for a like-for-like comparison.
"""
import json
import sys
import time

import numpy as np


def blas_name() -> str:
    """The BLAS numpy was built against, from its build config (numpy >= 1.26)."""
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f'{blas.get("name")} {blas.get("version")}'
    except Exception:  # older numpy: no dict mode
        return "unknown"


def main() -> None:
    path, n, reps, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    a = np.fromfile(path, dtype="<f8").reshape(n, n)
    np.linalg.eigvalsh(a[:8, :8])  # load LAPACK before timing
    best = float("inf")
    w = None
    for _ in range(reps):
        t0 = time.perf_counter()
        w = np.linalg.eigvalsh(a)
        best = min(best, time.perf_counter() - t0)
    w.astype("<f8").tofile(out)
    try:
        from threadpoolctl import threadpool_info

        pools = [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")} for p in threadpool_info()]
    except ImportError:
        pools = None
    print(json.dumps({"seconds": best, "numpy": np.__version__, "blas": blas_name(), "threadpool": pools}))


if __name__ == "__main__":
    main()
