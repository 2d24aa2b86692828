"""Independent oracle for the untrained twin: what Hugging Face's own initialisation gives.

The untrained reference is `AutoModel*.from_config(config)` (transformers runs the architecture's
`_init_weights`). Each initialiser of the trained ONNX export is matched to the HF parameter it
holds by value (equal, or equal transposed, to the trained checkpoint's tensor), so no name
mapping is taken from entroscope. For each matched tensor the oracle reports the twin's statistics
beside the HF untrained parameter's, and for each group of HF parameters tied together (sharing
storage, e.g. lm_head and the embedding) whether the twin's tensors are still equal.

Reads JSON on stdin: {"hf": checkpoint, "trained": trained model.onnx, "twin": twin model.onnx}
Prints JSON: {"tensors": [{"onnx", "hf", "n", "twin": {mean, std, ones, zeros}, "hfInit": {...}}],
              "ties": [{"hf": [names], "onnx": [names], "equal": bool}]}
"""
import json
import sys

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

POST_NORM = {"bert", "roberta", "distilbert", "electra"}


def stats(a):
    a = a.astype(np.float64).ravel()
    return {"mean": float(a.mean()), "std": float(a.std()), "ones": bool((a == 1).all()), "zeros": bool((a == 0).all()),
            "zeroRows": None}


def load_inits(path):
    m = onnx.load(path)
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def main():
    req = json.load(sys.stdin)
    config = AutoConfig.from_pretrained(req["hf"])
    cls = AutoModel if config.model_type in POST_NORM else AutoModelForCausalLM
    trained = cls.from_pretrained(req["hf"], dtype=torch.float32)
    torch.manual_seed(0)
    untrained = cls.from_config(config)
    hf_trained = {k: v.detach().numpy() for k, v in trained.state_dict().items()}
    hf_untrained = dict(untrained.named_parameters(remove_duplicate=False))

    # Match ONNX initialisers to HF parameters by value: key = shape + bytes (and of the transpose).
    index = {}
    for name, a in hf_trained.items():
        if name not in hf_untrained or a.ndim == 0:
            continue
        a32 = a.astype(np.float32)
        index.setdefault((a32.shape, a32.tobytes()), []).append(name)
        if a32.ndim == 2:
            index.setdefault((a32.T.shape, np.ascontiguousarray(a32.T).tobytes()), []).append(name)
    trained_inits = load_inits(req["trained"])
    twin_inits = load_inits(req["twin"])
    tensors = []
    onnx_of = {}
    for name, a in trained_inits.items():
        if a.dtype.kind != "f" or a.size < 2:
            continue
        a32 = a.astype(np.float32)
        hits = index.get((a32.shape, a32.tobytes()))
        if not hits:
            continue
        hf_name = hits[0]
        for h in hits:
            onnx_of.setdefault(h, []).append(name)
        ref = hf_untrained[hf_name].detach().numpy()
        tensors.append({"onnx": name, "hf": hf_name, "n": int(a.size), "twin": stats(twin_inits[name]), "hfInit": stats(ref)})

    # Tied groups in the untrained HF model: parameters sharing storage.
    groups = {}
    for name, p in hf_untrained.items():
        groups.setdefault(p.data_ptr(), []).append(name)
    ties = []
    for names in groups.values():
        if len(names) < 2:
            continue
        onnx_names = sorted({o for n in names for o in onnx_of.get(n, [])})
        arrays = [twin_inits[o].astype(np.float32) for o in onnx_names]
        flat = [np.sort(a.ravel()) for a in arrays]  # equal up to transpose ⇔ same multiset, checked exactly below
        equal = all(f.shape == flat[0].shape and np.array_equal(f, flat[0]) for f in flat)
        if equal and len(arrays) > 1:
            base = arrays[0]
            equal = all(np.array_equal(a, base) or (a.ndim == 2 and np.array_equal(a.T, base)) for a in arrays[1:])
        ties.append({"hf": names, "onnx": onnx_names, "equal": bool(equal)})
    json.dump({"tensors": tensors, "ties": ties}, sys.stdout)


if __name__ == "__main__":
    main()
