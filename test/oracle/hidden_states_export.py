"""Hidden states as another engine leaves them, and their metrics, for test/integration/hiddenStates.test.ts.

stdin: {"hf": HF checkpoint folder, "texts": [...], "out": folder}
Runs the model with transformers (output_hidden_states=True, one text at a time, no padding) and
writes the states in each layout entroscope reads (README "Hidden states from another engine"):
  st-stacked/sample_{i}.safetensors   hidden_states [L+1, N, d] float32 (HF order)
  st-layers/sample_{i}.safetensors    hidden_states.{j} [N, d] bfloat16, j = every HF index
  st-one.safetensors                  sample_{i} [N, d] float16, the last HF index only
  vllm/req-{i}.safetensors            hidden_states [N, 2, d] float32 + token_ids [N] int64, as vLLM's
                                      ExampleHiddenStatesConnector writes with layer ids [1, L]
                                      (id L: the last block's output before the final norm)
  npy/sample_{i}.npy                  [L+1, N, d] float64
  untrained/sample_{i}.safetensors    hidden_states [L+1, N, d] float32 of the same architecture,
                                      weights as transformers initialises them (torch seed 0)
stdout: per layout, per layer name, per sample the DESIGN §1 metrics (numpy float64 on the values
as stored, read back with safetensors/numpy) and the pooled entropy.
"""
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModel, AutoTokenizer

sys.path.insert(0, os.path.dirname(__file__))
from numpy_metrics import metrics  # noqa: E402


def pooled(xs):
    s, n = None, 0
    for x in xs:
        xc = x - x.mean(axis=0, keepdims=True)
        norms = np.linalg.norm(xc, axis=1)
        keep = norms > 1e-12 * norms.max()
        if keep.sum() < 2:
            continue
        z = xc[keep] / norms[keep][:, None]
        s = z.T @ z if s is None else s + z.T @ z
        n += z.shape[0]
    lam = np.clip(np.linalg.eigvalsh(s / n), 0.0, None)
    p = lam / lam.sum()
    p = p[p > 0]
    h = float(-(p * np.log(p)).sum())
    return {"pooledEntropy": h, "pooledErank": float(np.exp(h)), "pooledRows": n}


def main():
    req = json.load(sys.stdin)
    out = req["out"]
    tok = AutoTokenizer.from_pretrained(req["hf"])
    model = AutoModel.from_pretrained(req["hf"], dtype=torch.float32).eval()
    blocks = model.config.num_hidden_layers
    pre_norm = {}
    model.layers[-1].register_forward_hook(lambda m, i, o: pre_norm.__setitem__("x", (o[0] if isinstance(o, tuple) else o)))
    per_text = []
    for text in req["texts"]:
        ids = tok(text, return_tensors="pt")
        with torch.no_grad():
            o = model(**ids, output_hidden_states=True)
        hs = torch.stack([h[0] for h in o.hidden_states])  # [L+1, N, d]
        per_text.append((ids["input_ids"][0], hs, pre_norm["x"][0].clone()))
    for d in ["st-stacked", "st-layers", "vllm", "npy"]:
        os.makedirs(os.path.join(out, d), exist_ok=True)
    one = {}
    for i, (ids, hs, last_block) in enumerate(per_text):
        save_file({"hidden_states": hs.contiguous()}, os.path.join(out, "st-stacked", f"sample_{i}.safetensors"))
        save_file({f"hidden_states.{j}": hs[j].to(torch.bfloat16).contiguous() for j in range(blocks + 1)}, os.path.join(out, "st-layers", f"sample_{i}.safetensors"))
        one[f"sample_{i}"] = hs[blocks].to(torch.float16).contiguous()
        save_file({"hidden_states": torch.stack([hs[1], last_block], dim=1).contiguous(), "token_ids": ids.to(torch.int64)}, os.path.join(out, "vllm", f"req-{i}.safetensors"))
        np.save(os.path.join(out, "npy", f"sample_{i}.npy"), hs.double().numpy())
    save_file(one, os.path.join(out, "st-one.safetensors"))
    torch.manual_seed(0)
    twin = AutoModel.from_config(model.config).eval()
    os.makedirs(os.path.join(out, "untrained"), exist_ok=True)
    for i, (ids, _, _) in enumerate(per_text):
        with torch.no_grad():
            o = twin(input_ids=ids[None, :], output_hidden_states=True)
        save_file({"hidden_states": torch.stack([h[0] for h in o.hidden_states]).contiguous()}, os.path.join(out, "untrained", f"sample_{i}.safetensors"))

    # The oracle reads back what was written, in float64.
    n = len(per_text)
    names = ["embeddings"] + [f"block.{j}" for j in range(blocks - 1)] + ["final"]
    layouts = {}
    stacked = [load_file(os.path.join(out, "st-stacked", f"sample_{i}.safetensors"))["hidden_states"].double().numpy() for i in range(n)]
    layouts["st-stacked"] = {names[j]: [x[j] for x in stacked] for j in range(blocks + 1)}
    lay = [load_file(os.path.join(out, "st-layers", f"sample_{i}.safetensors")) for i in range(n)]
    layouts["st-layers"] = {names[j]: [t[f"hidden_states.{j}"].double().numpy() for t in lay] for j in range(blocks + 1)}
    onef = load_file(os.path.join(out, "st-one.safetensors"))
    layouts["st-one"] = {"last": [onef[f"sample_{i}"].double().numpy() for i in range(n)]}
    vl = [load_file(os.path.join(out, "vllm", f"req-{i}.safetensors"))["hidden_states"].double().numpy() for i in range(n)]
    layouts["vllm"] = {"block.0": [x[:, 0, :] for x in vl], f"block.{blocks - 1}": [x[:, 1, :] for x in vl]}
    untrained = [load_file(os.path.join(out, "untrained", f"sample_{i}.safetensors"))["hidden_states"].double().numpy() for i in range(n)]
    layouts["untrained"] = {names[j]: [x[j] for x in untrained] for j in range(blocks + 1)}
    npys = [np.load(os.path.join(out, "npy", f"sample_{i}.npy")) for i in range(n)]
    layouts["npy"] = {names[j]: [x[j] for x in npys] for j in range(blocks + 1)}
    result = {"blocks": blocks, "tokens": [int(x[0].shape[0]) for x in per_text], "layouts": {}}
    for name, layers in layouts.items():
        result["layouts"][name] = {layer: {"perSample": [metrics(x) for x in xs], **pooled(xs)} for layer, xs in layers.items()}
    json.dump(result, sys.stdout)


main()
