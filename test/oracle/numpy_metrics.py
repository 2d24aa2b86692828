"""DESIGN §1 steps 1-4 and the next-token loss in float64 numpy, shared by the oracles.

Written from the spec, independent of entroscope's TypeScript.
"""
import numpy as np


def metrics(x):
    n, d = x.shape
    xc = x - x.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(xc, axis=1)
    top = norms.max() if n > 0 else 0.0
    keep = norms > 1e-12 * top if top > 0 else np.zeros(n, dtype=bool)
    z = xc[keep] / norms[keep][:, None]
    k = z.shape[0]
    if k < 2:
        return {"skipped": True, "droppedRows": int(n - k)}
    gram = (z @ z.T) / k if k <= d else (z.T @ z) / k
    lam = np.clip(np.linalg.eigvalsh(gram), 0.0, None)
    p = lam / lam.sum()
    pp = p[p > 0]
    h = float(-(pp * np.log(pp)).sum())
    col = np.sort(np.linalg.norm(z, axis=0))[::-1]
    return {
        "skipped": False,
        "droppedRows": int(n - k),
        "entropy": h,
        "erank": float(np.exp(h)),
        "normalizedEntropy": h / np.log(d),
        "renyi2": float(-np.log((p * p).sum())),
        "nuclearNorm": float(col[: min(k, d)].sum() / k),
    }


def next_token_loss(logits, ids):
    if len(ids) < 2:
        return None
    lg = logits[:-1].astype(np.float64)
    m = lg.max(axis=1, keepdims=True)
    logz = (m[:, 0] + np.log(np.exp(lg - m).sum(axis=1)))
    target = lg[np.arange(len(ids) - 1), np.asarray(ids[1:])]
    return float((logz - target).mean())
