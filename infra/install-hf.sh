#!/usr/bin/env bash
# The Hugging Face Python stack for the model zoo, the PyTorch oracles and `entroscope export`:
# torch, transformers, optimum-onnx (what `optimum-cli export onnx` is), accelerate and gguf (to
# load SmolLM2's GGUF), in its own venv ($ENTROSCOPE_HF_VENV), pinned, installed once (several GB).
# Python is never part of the product's runtime path except `entroscope export`, which runs it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
ensure_venv "$ENTROSCOPE_HF_VENV" "the Hugging Face stack" \
  "torch==$TORCH_VERSION" "transformers==$TRANSFORMERS_VERSION" "optimum-onnx==$OPTIMUM_ONNX_VERSION" "optimum==$OPTIMUM_VERSION" \
  "accelerate==$ACCELERATE_VERSION" "gguf==$GGUF_VERSION" "onnxruntime==$ONNXRUNTIME_VERSION" onnx numpy sentencepiece
