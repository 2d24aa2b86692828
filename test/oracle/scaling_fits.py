"""Oracle for the scaling-law choice (src/fit/scalingLaw.ts), written from the rule, not the code.

Reads {"cases": [{"x": [...], "y": [...], "low": L, "high": H}]} on stdin (null bounds: unbounded)
and prints, per case, for each candidate form:
  logLinear       y = a + b ln x         numpy.polyfit(ln x, y, 1)
  powerLaw        y = a x^(-b)           numpy.polyfit(ln x, ln y, 1)   (y > 0)
  powerLawOffset  y = a x^(-b) + c       (>= 5 sizes, |b| <= 3) a dense scan of b with (a, c) by
                                         numpy.linalg.lstsq at each b, refined by golden section
with params, R^2 (in y), the leave-one-out RMSE (each point predicted from a fit to the others), the
extremes of the curve over [min x / 1.25, max x * 1.25] (400 log-spaced points), and the checks the
rule makes that need no resampling: curve inside [L, H], inside the data's bounds widened by their
span, R^2 >= 0.5. "chosen": the lowest LOO RMSE among forms that pass them (ties: fewer parameters).
"""
import json
import math
import sys

import numpy as np

B_MAX = 3.0
MARGIN = 1.25


def fit_log_linear(x, y):
    b, a = np.polyfit(np.log(x), y, 1)
    return {"a": float(a), "b": float(b)}


def fit_power_law(x, y):
    if np.any(y <= 0):
        return None
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return {"a": float(math.exp(intercept)), "b": float(-slope)}


def offset_sse(u, y, b):
    g = u ** (-b)
    m = np.stack([g, np.ones_like(g)], axis=1)
    coef, *_ = np.linalg.lstsq(m, y, rcond=None)
    r = y - m @ coef
    return float(r @ r), coef


def fit_power_law_offset(x, y):
    if len(set(x.tolist())) < 4 or np.all(y == y[0]):
        return None
    x0 = math.exp(np.mean(np.log(x)))
    u = x / x0
    grid = np.linspace(-B_MAX, B_MAX, 6001)
    grid = grid[np.abs(grid) > 1e-9]
    sses = [offset_sse(u, y, b)[0] for b in grid]
    i = int(np.argmin(sses))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        m1, m2 = hi - phi * (hi - lo), lo + phi * (hi - lo)
        if offset_sse(u, y, m1)[0] < offset_sse(u, y, m2)[0]:
            hi = m2
        else:
            lo = m1
    b = (lo + hi) / 2
    sse, (big_a, c) = offset_sse(u, y, b)
    return {"a": float(big_a * x0 ** b), "b": float(b), "c": float(c), "sse": sse}


FORMS = {
    "logLinear": (fit_log_linear, lambda p, x: p["a"] + p["b"] * np.log(x), 3),
    "powerLaw": (fit_power_law, lambda p, x: p["a"] * x ** (-p["b"]), 3),
    "powerLawOffset": (fit_power_law_offset, lambda p, x: p["a"] * x ** (-p["b"]) + p["c"], 5),
}


def r_squared(y, f):
    sst = float(np.sum((y - y.mean()) ** 2))
    sse = float(np.sum((y - f) ** 2))
    if sst == 0:
        return 1.0 if sse == 0 else 0.0
    return 1 - sse / sst


def one(case):
    x = np.array(case["x"], dtype=float)
    y = np.array(case["y"], dtype=float)
    low = -math.inf if case["low"] is None else case["low"]
    high = math.inf if case["high"] is None else case["high"]
    grid = np.exp(np.linspace(math.log(x.min() / MARGIN), math.log(x.max() * MARGIN), 400))
    span = float(y.max() - y.min())
    out = {}
    for name, (fit, value, min_sizes) in FORMS.items():
        if len(set(x.tolist())) < min_sizes:
            continue
        p = fit(x, y)
        if p is None:
            out[name] = None
            continue
        f = value(p, x)
        loo = []
        for i in range(len(x)):
            keep = np.arange(len(x)) != i
            q = fit(x[keep], y[keep])
            loo.append(math.nan if q is None else float(y[i] - value(q, x[i])))
        curve = value(p, grid)
        r2 = r_squared(y, f)
        checks = {
            "inRange": bool(np.all(curve >= low - 1e-9) and np.all(curve <= high + 1e-9)),
            "nearData": bool(np.all(curve >= y.min() - span - 1e-9) and np.all(curve <= y.max() + span + 1e-9)),
            "r2ok": r2 >= 0.5,
        }
        out[name] = {
            "params": {k: v for k, v in p.items() if k in "abc"},
            "sse": float(np.sum((y - f) ** 2)),
            "r2": r2,
            "looRmse": math.sqrt(float(np.mean(np.square(loo)))),
            "curveMin": float(curve.min()),
            "curveMax": float(curve.max()),
            "checks": checks,
            "passes": all(checks.values()),
        }
    passing = [(v["looRmse"], k) for k, v in out.items() if v and v["passes"]]
    order = list(FORMS)
    chosen = min(passing, key=lambda t: (t[0] * (1 + 1e-9), order.index(t[1])))[1] if passing else None
    return {"forms": out, "chosen": chosen}


def main():
    cases = json.load(sys.stdin)["cases"]
    json.dump({"results": [one(c) for c in cases], "numpy": np.__version__}, sys.stdout)


if __name__ == "__main__":
    main()
