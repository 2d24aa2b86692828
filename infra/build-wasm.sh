#!/usr/bin/env bash
# Builds src/linalg/wasm/eigen.wasm (the WebAssembly SIMD tridiagonalisation kernel used by
# src/linalg/eigen.ts) from src/linalg/wasm/tridiagonalize.c. The .wasm is committed, so users and
# CI need no C toolchain; rerun this after editing the C source.
# Needs clang and lld with the wasm32 target (Debian: apt-get install -y clang lld).
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG="${CLANG:-clang}"
"$CLANG" --target=wasm32 -msimd128 -O3 -ffp-contract=off -fno-builtin -nostdlib \
  -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--export=__heap_base -Wl,--max-memory=4294967296 -Wl,--strip-all \
  -o src/linalg/wasm/eigen.wasm src/linalg/wasm/tridiagonalize.c
chmod 644 src/linalg/wasm/eigen.wasm
ls -l src/linalg/wasm/eigen.wasm
