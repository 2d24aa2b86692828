"""Oracle for tests and benchmarks: LAPACK eigenvalues via numpy.linalg.eigvalsh.

Usage: eigvalsh.py MATRIX.f64 N [REPS]
  MATRIX.f64: N*N little-endian float64, row-major, symmetric.
Prints one JSON object on stdout: {"eigenvalues": [...ascending...], "seconds": best of REPS,
"numpy": version, "threadpool": threadpoolctl info or null}.
eigvalsh reads the lower triangle (UPLO='L'), so the file must hold the full symmetric matrix.
"""
import json
import sys
import time

import numpy as np


def main() -> None:
    path, n = sys.argv[1], int(sys.argv[2])
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    a = np.fromfile(path, dtype="<f8").reshape(n, n)
    best = float("inf")
    w = None
    for _ in range(reps):
        t0 = time.perf_counter()
        w = np.linalg.eigvalsh(a)
        best = min(best, time.perf_counter() - t0)
    try:
        from threadpoolctl import threadpool_info  # optional: shows the BLAS and its thread count

        pools = threadpool_info()
    except ImportError:
        pools = None
    json.dump({"eigenvalues": w.tolist(), "seconds": best, "numpy": np.__version__, "threadpool": pools}, sys.stdout)


if __name__ == "__main__":
    main()
