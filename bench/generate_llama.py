"""A generated Llama-style model for the wide-model benchmark (issue #12: hidden size >= 2048).

Seeded random initialisation by transformers (`LlamaForCausalLM(config)` after
`torch.manual_seed(seed)`, i.e. HF's own `_init_weights`), SmolLM2-135M's tokenizer (the zoo's),
saved as a Hugging Face folder and exported by `optimum-cli export onnx --task
text-generation-with-past` as a user would. By default few layers so a run is feasible on 2 shared
cores: the d = 2048 pair is about the per-sentence d x d cost, which does not depend on depth.

The >= 1B-parameter model of issue #12 (TinyLlama-1.1B's shape: hidden 2048, 22 layers,
intermediate 5632, 32 heads / 4 KV heads; SmolLM2's 49,152-token vocabulary, tied embeddings:
1.07B parameters, 4.3 GB in float32, so optimum writes model.onnx + model.onnx_data):
  python bench/generate_llama.py --out ~/.cache/entroscope/bench/llama-1b --layers 22 --kv-heads 4 --no-post-process
`--no-post-process` skips optimum's post-processing (it reloads the whole graph to deduplicate the
tied weights), which keeps the export's peak memory near the model's size twice over.

Writes OUT/hf (safetensors + tokenizer) and OUT/onnx (model.onnx [+ model.onnx_data] + tokenizer);
skips what exists.
Usage: ~/.cache/entroscope/hf-venv/bin/python bench/generate_llama.py
         [--out ~/.cache/entroscope/bench/llama-2048] [--hidden 2048] [--layers 2] [--seed 0]
         [--intermediate 5632] [--kv-heads hidden/64/4] [--no-post-process]
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
    p.add_argument("--intermediate", type=int, default=None, help="MLP width (default: 8/3 hidden, rounded up to 256)")
    p.add_argument("--kv-heads", type=int, default=None, help="key/value heads (default: heads / 4)")
    p.add_argument("--no-post-process", action="store_true", help="pass --no-post-process to optimum-cli")
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
            intermediate_size=args.intermediate or int(args.hidden * 8 / 3 / 256 + 0.999) * 256,
            num_hidden_layers=args.layers,
            num_attention_heads=heads,
            num_key_value_heads=args.kv_heads or heads // 4,
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
        del model  # the export below loads its own copy from the saved folder
    if not os.path.exists(os.path.join(onnx, "model.onnx")):
        cli = os.path.join(os.path.dirname(sys.executable), "optimum-cli")
        extra = ["--no-post-process"] if args.no_post_process else []
        subprocess.run([cli, "export", "onnx", "--model", hf, "--task", "text-generation-with-past", *extra, onnx], check=True)
        # optimum copies the tokenizer files beside the graph; make sure tokenizer.json is there.
        if not os.path.exists(os.path.join(onnx, "tokenizer.json")):
            shutil.copy(os.path.join(hf, "tokenizer.json"), onnx)
    print(onnx)


if __name__ == "__main__":
    main()
