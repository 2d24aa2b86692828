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
Decoders with past_key_values inputs run with an empty past (and use_cache_branch false).
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

from numpy_metrics import metrics, next_token_loss
from text_feeds import text_feeds


def empty_cache_feeds(sess):
    """KV-cache decoders (optimum exports): every past_key_values.* input empty (batch 1, heads,
    past 0, head_dim; heads and head_dim from the input's or the present output's fixed dims) and
    use_cache_branch false. With no past the attention_mask is the current tokens' own."""
    outputs = {o.name: o.shape for o in sess.get_outputs()}
    feeds = {}
    for i in sess.get_inputs():
        if i.name.startswith("past_key_values."):
            present = outputs.get(i.name.replace("past_key_values.", "present."), [None] * 4)
            dims = [i.shape[k] if isinstance(i.shape[k], int) else present[k] for k in (1, 3)]
            dtype = np.float16 if i.type == "tensor(float16)" else np.float32
            feeds[i.name] = np.zeros((1, dims[0], 0, dims[1]), dtype=dtype)
        elif i.name == "use_cache_branch":
            feeds[i.name] = np.array([False])
    return feeds


def main():
    req = json.load(sys.stdin)
    model = onnx.load(req["model"])
    outputs = {o.name for o in model.graph.output}
    # A hidden state is batch x sequence x hidden, batch and sequence being input_ids' own dims.
    # Saying so matters for int8 graphs: with the dims tied to the input, onnxruntime chooses the same
    # fusions as for entroscope's rewrite (which declares them so too); with an untyped output it
    # fuses differently and a rounding flip before a requantisation moves near-degenerate samples.
    ids_input = next((i for i in model.graph.input if i.name == "input_ids"), model.graph.input[0])
    seq_dims = [d.dim_param or d.dim_value or None for d in ids_input.type.tensor_type.shape.dim]
    for tensor in dict.fromkeys(req["layers"].values()):
        if tensor not in outputs:
            shape = seq_dims + [None] if len(seq_dims) == 2 else None
            model.graph.output.append(onnx.helper.make_tensor_value_info(tensor, onnx.TensorProto.FLOAT, shape))
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
    empty_past = empty_cache_feeds(sess)
    fetch = list(dict.fromkeys(req["layers"].values())) + (["logits"] if want_loss else [])
    per_sample = []
    for ids in req["ids"]:
        feeds = text_feeds(names, ids)
        feeds.update(empty_past)
        got = dict(zip(fetch, sess.run(fetch, feeds)))
        layers = {name: metrics(got[t][0].astype(np.float64)) for name, t in req["layers"].items()}
        loss = next_token_loss(got["logits"][0], ids) if want_loss else None
        per_sample.append({"tokens": len(ids), "loss": loss, "layers": layers})
    json.dump({"perSample": per_sample}, sys.stdout)


if __name__ == "__main__":
    main()
