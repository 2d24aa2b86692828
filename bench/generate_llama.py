"""A generated Llama-style model for the wide-model benchmark (issue #12: hidden size >= 2048).

Seeded random initialisation by transformers (`LlamaForCausalLM(config)` after
`torch.manual_seed(seed)`, i.e. HF's own `_init_weights`), SmolLM2-135M's tokenizer (the zoo's),
saved as a Hugging Face folder and exported by `optimum-cli export onnx --task
text-generation-with-past` as a user would. Few layers so a run is feasible on 2 shared cores: the
benchmark is about the per-sentence d x d cost at d = 2048, which does not depend on depth.

Writes OUT/hf (safetensors + tokenizer) and OUT/onnx (model.onnx + tokenizer); skips what exists.
Usage: ~/.cache/entroscope/hf-venv/bin/python bench/generate_llama.py
         [--out ~/.cache/entroscope/bench/llama-2048] [--hidden 2048] [--layers 2] [--seed 0]
         [--tokenizer ~/.cache/entroscope/zoo/smollm2/hf]
"""
import argparse
import os
import shutil
import subprocess
import sys

import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM


def main():
    home = os.path.expanduser("~/.cache/entroscope")
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.path.join(home, "bench", "llama-2048"))
    p.add_argument("--hidden", type=int, default=2048)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokenizer", default=os.path.join(home, "zoo", "smollm2", "hf"))
    args = p.parse_args()
    hf = os.path.join(args.out, "hf")
    onnx = os.path.join(args.out, "onnx")
    if not os.path.exists(os.path.join(hf, "model.safetensors")):
        tok = AutoTokenizer.from_pretrained(args.tokenizer)
        heads = args.hidden // 64
        config = LlamaConfig(
            vocab_size=len(tok),
            hidden_size=args.hidden,
            intermediate_size=int(args.hidden * 8 / 3 / 256 + 0.999) * 256,
            num_hidden_layers=args.layers,
            num_attention_heads=heads,
            num_key_value_heads=heads // 4,
            head_dim=64,
            max_position_embeddings=2048,
            rms_norm_eps=1e-5,
            tie_word_embeddings=True,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
        torch.manual_seed(args.seed)
        model = LlamaForCausalLM(config).eval()
        n = sum(t.numel() for t in model.parameters())
        print(f"LlamaForCausalLM: hidden {args.hidden}, {args.layers} layers, {n / 1e6:.1f}M parameters", file=sys.stderr)
        model.save_pretrained(hf, safe_serialization=True)
        tok.save_pretrained(hf)
    if not os.path.exists(os.path.join(onnx, "model.onnx")):
        cli = os.path.join(os.path.dirname(sys.executable), "optimum-cli")
        subprocess.run([cli, "export", "onnx", "--model", hf, "--task", "text-generation-with-past", onnx], check=True)
        # optimum copies the tokenizer files beside the graph; make sure tokenizer.json is there.
        if not os.path.exists(os.path.join(onnx, "tokenizer.json")):
            shutil.copy(os.path.join(hf, "tokenizer.json"), onnx)
    print(onnx)


if __name__ == "__main__":
    main()
