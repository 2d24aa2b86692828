"""Independent oracle for per-layer metrics and loss: the `onnx` package + onnxruntime + numpy.

Nothing is shared with the TS code: the intermediate tensors are exposed as graph outputs with
onnx's own helpers, every sample runs alone (batch 1, no padding), and DESIGN §1 steps 1-4 are
computed in float64 numpy.

Reads JSON on stdin:
  {"model": path.onnx, "layers": {layer name: tensor name}, "ids": [[token ids], ...], "loss": bool,
   "optimization": "all" | "basic" | "disabled" (onnxruntime graph optimisation, default all)}
Prints JSON:
  {"perSample": [{"tokens": n, "loss": float | null,
                  "layers": {name: {"skipped": bool, "entropy", "erank", "normalizedEntropy",
                                    "renyi2", "nuclearNorm", "droppedRows"}}}]}
Loss (when asked and the model has `logits`): mean over t < n-1 of -log softmax(logits[t])[ids[t+1]].
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort


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


def main():
    req = json.load(sys.stdin)
    model = onnx.load(req["model"])
    outputs = {o.name for o in model.graph.output}
    for tensor in dict.fromkeys(req["layers"].values()):
        if tensor not in outputs:
            model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, None))
            outputs.add(tensor)
    want_loss = bool(req.get("loss")) and "logits" in outputs
    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[req.get("optimization", "all")]
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    fetch = list(dict.fromkeys(req["layers"].values())) + (["logits"] if want_loss else [])
    per_sample = []
    for ids in req["ids"]:
        n = len(ids)
        arr = np.asarray([ids], dtype=np.int64)
        feeds = {}
        if "input_ids" in names:
            feeds["input_ids"] = arr
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones_like(arr)
        if "token_type_ids" in names:
            feeds["token_type_ids"] = np.zeros_like(arr)
        if "position_ids" in names:
            feeds["position_ids"] = np.arange(n, dtype=np.int64)[None, :]
        got = dict(zip(fetch, sess.run(fetch, feeds)))
        layers = {name: metrics(got[t][0].astype(np.float64)) for name, t in req["layers"].items()}
        loss = next_token_loss(got["logits"][0], ids) if want_loss else None
        per_sample.append({"tokens": n, "loss": loss, "layers": layers})
    json.dump({"perSample": per_sample}, sys.stdout)


if __name__ == "__main__":
    main()
