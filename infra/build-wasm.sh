#!/usr/bin/env bash
# Builds the WebAssembly SIMD kernels from their C sources:
#   src/linalg/wasm/eigen.wasm  (tridiagonalisation, used by src/linalg/eigen.ts) from tridiagonalize.c;
#   src/linalg/wasm/gram.wasm   (rank-k update S += AᵀA, used by src/linalg/gram.ts) from gram.c.
# The .wasm files are committed, so users and CI need no C toolchain; rerun this after editing C.
# Needs clang and lld with the wasm32 target (Debian: apt-get install -y clang lld).
# Usage: infra/build-wasm.sh [all|eigen|gram]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG="${CLANG:-clang}"
build() { # build OUT.wasm SOURCE.c
  "$CLANG" --target=wasm32 -msimd128 -O3 -ffp-contract=off -fno-builtin -nostdlib \
    -Wall -Wextra -Werror \
    -Wl,--no-entry -Wl,--export=__heap_base -Wl,--max-memory=4294967296 -Wl,--strip-all \
    -o "src/linalg/wasm/$1" "src/linalg/wasm/$2"
  chmod 644 "src/linalg/wasm/$1"
  ls -l "src/linalg/wasm/$1"
}
if [ "${1:-all}" = all ] || [ "$1" = eigen ]; then build eigen.wasm tridiagonalize.c; fi
if [ "${1:-all}" = all ] || [ "$1" = gram ]; then build gram.wasm gram.c; fi
