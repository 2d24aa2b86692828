"""Independent oracle on the Hugging Face checkpoint itself: PyTorch + transformers + AutoTokenizer.

Nothing comes from entroscope: the token ids are AutoTokenizer's (truncation=True, max_length),
the hidden states and their numbering are `output_hidden_states=True` (index 0 = embeddings,
i = output of block i-1, the last = what HF returns there), each text runs alone (batch 1, no
padding) in float32, and DESIGN §1 is computed in float64 numpy (numpy_metrics.py).

Reads JSON on stdin:  {"hf": checkpoint folder, "texts": [...], "maxTokens": n, "loss": bool}
Prints JSON:
  {"numLayers": L, "postNorm": bool,
   "perSample": [{"ids": [...], "loss": float | null,
                  "layers": {"0": {"skipped", "entropy", ...}, ..., "L": {...}}}]}
"""
import json
import sys

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

from numpy_metrics import metrics, next_token_loss

POST_NORM = {"bert", "roberta", "distilbert", "electra"}


def main():
    req = json.load(sys.stdin)
    torch.manual_seed(0)
    config = AutoConfig.from_pretrained(req["hf"])
    causal = config.model_type not in POST_NORM
    cls = AutoModelForCausalLM if causal else AutoModel
    model = cls.from_pretrained(req["hf"], dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = AutoTokenizer.from_pretrained(req["hf"])
    out = []
    layers_n = config.num_hidden_layers
    for text in req["texts"]:
        ids = tok(text, truncation=True, max_length=req["maxTokens"])["input_ids"]
        sample = {"ids": ids, "loss": None, "layers": {}}
        if len(ids) == 0:
            sample["layers"] = {str(i): {"skipped": True, "droppedRows": 0} for i in range(layers_n + 1)}
            out.append(sample)
            continue
        with torch.no_grad():
            res = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long), output_hidden_states=True)
        for i, h in enumerate(res.hidden_states):
            sample["layers"][str(i)] = metrics(h[0].double().numpy())
        if causal and req.get("loss", True):
            sample["loss"] = next_token_loss(res.logits[0].numpy(), ids)
        out.append(sample)
    json.dump({"numLayers": layers_n, "postNorm": not causal, "perSample": out}, sys.stdout)


if __name__ == "__main__":
    main()
