"""Writes the hidden states of a Hugging Face checkpoint on a JSONL of texts as entroscope reads
them (README "Hidden states from another engine"): one `sample_{i}.safetensors` per text holding
`hidden_states` = HF hidden_states[index] [N, d] float32. For BENCHMARKS.md ("Hidden states from
another engine"); run with the project's HF environment:

  ~/.cache/entroscope/hf-venv/bin/python bench/hfHiddenStates.py HF_DIR TEXTS.jsonl OUT_DIR [INDEX (default: last)]
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModel, AutoTokenizer

hf, texts_path, out = sys.argv[1:4]
index = int(sys.argv[4]) if len(sys.argv) > 4 else -1
os.makedirs(out, exist_ok=True)
tok = AutoTokenizer.from_pretrained(hf)
model = AutoModel.from_pretrained(hf, dtype=torch.float32).eval()
with open(texts_path) as f:
    texts = [json.loads(line)["text"] for line in f if line.strip()]
for i, text in enumerate(texts):
    ids = tok(text, return_tensors="pt")
    with torch.no_grad():
        hs = model(**ids, output_hidden_states=True).hidden_states
    save_file({"hidden_states": hs[index][0].contiguous()}, os.path.join(out, f"sample_{i}.safetensors"))
print(f"{len(texts)} samples written to {out}")
