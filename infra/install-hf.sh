#!/usr/bin/env bash
# The Hugging Face Python stack for the model zoo, the PyTorch oracles and `entroscope export`:
# torch, transformers, optimum-onnx (what `optimum-cli export onnx` is), accelerate and gguf (to
# load SmolLM2's GGUF), in its own venv ($ENTROSCOPE_HF_VENV), pinned, installed once (several GB).
# Python is never part of the product's runtime path except `entroscope export`, which runs it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
want="torch==$TORCH_VERSION transformers==$TRANSFORMERS_VERSION optimum-onnx==$OPTIMUM_ONNX_VERSION optimum==$OPTIMUM_VERSION accelerate==$ACCELERATE_VERSION gguf==$GGUF_VERSION onnxruntime==$ONNXRUNTIME_VERSION onnx numpy sentencepiece"
stamp="$ENTROSCOPE_HF_VENV/.entroscope-reqs"
if [[ -x "$ENTROSCOPE_HF_VENV/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  exit 0
fi
echo "infra: installing the Hugging Face stack into $ENTROSCOPE_HF_VENV ($want)" >&2
python3 -m venv "$ENTROSCOPE_HF_VENV"
"$ENTROSCOPE_HF_VENV/bin/pip" install --quiet --disable-pip-version-check $want
echo "$want" > "$stamp"
