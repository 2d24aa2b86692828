"""Independent oracle for entroscope's evaluation: onnxruntime + numpy, nothing shared with the TS code.

Reads JSON on stdin: {"model": path.onnx, "ids": [[token ids of sample 0], ...]}.
Runs each sample alone (batch 1, no padding), takes the last hidden state, and computes DESIGN §1:
centre, unit rows (dropping rows with norm <= 1e-12 * max), spectrum of the smaller Gram, entropy,
erank, normalised entropy; plus the pooled entropy of S = sum z z^T over all kept rows.
Prints JSON: {"perSample": [{"tokens", "entropy", "erank", "normalizedEntropy"} | {"skipped": true}],
"pooledEntropy": float, "pooledErank": float, "pooledRows": int}.
"""
import json
import sys

import numpy as np
import onnxruntime as ort

from text_feeds import text_feeds


def spectrum_entropy(gram):
    lam = np.linalg.eigvalsh(gram)
    lam = np.clip(lam, 0.0, None)
    p = lam / lam.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def main():
    req = json.load(sys.stdin)
    sess = ort.InferenceSession(req["model"], providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    out_name = "last_hidden_state" if "last_hidden_state" in [o.name for o in sess.get_outputs()] else sess.get_outputs()[0].name
    per_sample = []
    pooled = None
    rows = 0
    for ids in req["ids"]:
        n = len(ids)
        feeds = text_feeds(names, ids)
        x = sess.run([out_name], feeds)[0][0].astype(np.float64)  # N x d
        d = x.shape[1]
        xc = x - x.mean(axis=0, keepdims=True)
        norms = np.linalg.norm(xc, axis=1)
        keep = norms > 1e-12 * norms.max() if norms.max() > 0 else np.zeros(n, dtype=bool)
        z = xc[keep] / norms[keep][:, None]
        k = z.shape[0]
        if k < 2:
            per_sample.append({"tokens": n, "skipped": True})
            continue
        gram = (z @ z.T) / k if k <= d else (z.T @ z) / k
        h = spectrum_entropy(gram)
        per_sample.append({"tokens": n, "skipped": False, "entropy": h, "erank": float(np.exp(h)), "normalizedEntropy": h / np.log(d)})
        pooled = z.T @ z if pooled is None else pooled + z.T @ z
        rows += k
    h_pool = spectrum_entropy(pooled / rows)
    json.dump({"perSample": per_sample, "pooledEntropy": h_pool, "pooledErank": float(np.exp(h_pool)), "pooledRows": rows}, sys.stdout)


if __name__ == "__main__":
    main()
