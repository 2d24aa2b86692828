"""The paper's reference code path, as waltonfuture/Diff-eRank's utils/diff_erank_dataset.py runs it.

Wei et al. 2024, "Diff-eRank: A Novel Rank-Based Metric for Evaluating Large Language Models",
public code https://github.com/waltonfuture/Diff-eRank (utils/diff_erank_dataset.py): a Hugging Face
model on PyTorch, one sentence at a time (batch 1), `tokenizer(text, return_tensors="pt",
truncation=True, max_length=2048)`, the hidden states R (N×d) of the sentence, then

    normalize(R):  R - mean(R, dim=0), then each row divided by its L2 norm
    cal_cov(R):    Z = F.normalize(R, dim=1); A = ZᵀZ / N            (d×d)
    cal_entropy:   σ = torch.svd(A / trace(A))[1]; H = -Σ σ log σ   (float32, nansum)

The functions below are the paper's, verbatim but for the names. The paper's script measures
`model(ids)[0]` (the last hidden state of AutoModel); `--layers all` applies the same per-sentence
computation to every entry of `output_hidden_states` (what entroscope's `--layers all` measures),
`--layers last` to the last one only. Runs on the CPU (the paper's `.cuda()` dropped), torch's
default intra-op threads unless `--threads`.

Prints one JSON document on stdout: texts, tokens, seconds (load, loop), per-layer mean entropy and
every sample's entropy per layer (for a comparison of values, not only of time).

Usage: hf-venv/bin/python bench/paper_reference.py --model HF_DIR --data FILE.jsonl
                          [--layers last|all] [--limit N] [--threads T] [--text-field text]
"""
import argparse
import json
import math
import time

import torch
from transformers import AutoModel, AutoTokenizer


# R input N*d  (the paper's normalize)
def normalize(R):
    with torch.no_grad():
        mean = R.mean(dim=0)
        R = R - mean
        norms = torch.norm(R, p=2, dim=1, keepdim=True)
        R = R / norms
    return R


# the paper's cal_cov
def cal_cov(R):
    with torch.no_grad():
        Z = torch.nn.functional.normalize(R, dim=1)
        A = torch.matmul(Z.T, Z) / Z.shape[0]
    return A


# the paper's cal_entropy
def cal_entropy(A):
    with torch.no_grad():
        eig_val = torch.svd(A / torch.trace(A))[1]
        entropy = -(eig_val * torch.log(eig_val)).nansum().item()
    return entropy


def compute(R):
    return cal_entropy(cal_cov(normalize(R)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, help="Hugging Face checkpoint folder")
    p.add_argument("--data", required=True, help="JSON Lines file, one text per line")
    p.add_argument("--text-field", default="text")
    p.add_argument("--layers", choices=["last", "all"], default="last")
    p.add_argument("--limit", type=int)
    p.add_argument("--threads", type=int)
    p.add_argument("--max-length", type=int, default=2048, help="the paper's truncation")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    with open(args.data, encoding="utf-8") as f:
        texts = [json.loads(line)[args.text_field] for line in f if line.strip()]
    if args.limit is not None:
        texts = texts[: args.limit]
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model, dtype=torch.float32)
    model.eval()
    # The paper tokenises every text first, then loops over the ids.
    input_ids = [tokenizer(t, return_tensors="pt", truncation=True, max_length=args.max_length).input_ids for t in texts]
    t1 = time.perf_counter()

    per_layer = None
    tokens = 0
    with torch.no_grad():
        for ids in input_ids:
            tokens += ids.shape[1]
            if args.layers == "last":
                hs = [model(ids)[0][0, :, :]]
            else:
                hs = [h[0, :, :] for h in model(ids, output_hidden_states=True).hidden_states]
            if per_layer is None:
                per_layer = [[] for _ in hs]
            for l, R in enumerate(hs):
                per_layer[l].append(compute(R))
    t2 = time.perf_counter()

    def mean_finite(xs):
        v = [x for x in xs if math.isfinite(x)]
        return sum(v) / len(v) if v else None

    json.dump(
        {
            "model": args.model,
            "texts": len(texts),
            "tokens": tokens,
            "layers": args.layers,
            "torchThreads": torch.get_num_threads(),
            "loadSeconds": t1 - t0,
            "loopSeconds": t2 - t1,
            "meanEntropy": [mean_finite(xs) for xs in per_layer or []],
            "entropy": [[x if math.isfinite(x) else None for x in xs] for xs in per_layer or []],
        },
        fp=__import__("sys").stdout,
    )


if __name__ == "__main__":
    main()
