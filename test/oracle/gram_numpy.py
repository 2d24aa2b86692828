"""Oracle for test/unit/nativeBlas.test.ts: the Gram matrices and eigenvalues of Z by numpy alone.

usage: gram_numpy.py Z.f64 ROWS COLS OUT_PREFIX
Z.f64 holds ROWS×COLS float64 (row-major, little-endian). Writes OUT_PREFIX.ztz.f64 (ZᵀZ, COLS×COLS),
OUT_PREFIX.zzt.f64 (ZZᵀ, ROWS×ROWS) and OUT_PREFIX.eig.f64 (eigenvalues of ZᵀZ, ascending, by
numpy.linalg.eigvalsh). numpy's products are formed by its own bundled BLAS, not by entroscope.
"""
import sys

import numpy as np

path, rows, cols, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
z = np.fromfile(path, dtype="<f8").reshape(rows, cols)
ztz = z.T @ z
zzt = z @ z.T
ztz.astype("<f8").tofile(out + ".ztz.f64")
zzt.astype("<f8").tofile(out + ".zzt.f64")
np.linalg.eigvalsh(ztz).astype("<f8").tofile(out + ".eig.f64")
