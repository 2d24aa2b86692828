"""Independent oracle for `entroscope spectrum FILE.npy`: numpy writes the matrix itself (a seeded
standard normal, float64, np.save) and computes DESIGN §1 steps 1-4 on it (numpy_metrics.py).

Reads JSON on stdin:  {"out": path.npy, "rows": n, "cols": d, "seed": s}
Prints JSON: numpy_metrics.metrics of that matrix.
"""
import json
import sys

import numpy as np

from numpy_metrics import metrics


def main():
    req = json.load(sys.stdin)
    x = np.random.default_rng(req["seed"]).standard_normal((req["rows"], req["cols"]))
    np.save(req["out"], x)
    json.dump(metrics(x), sys.stdout)


if __name__ == "__main__":
    main()
