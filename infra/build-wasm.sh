#!/usr/bin/env bash
# Builds the WebAssembly SIMD kernels from their C sources:
#   src/linalg/wasm/eigen.wasm, eigen-fma.wasm (tridiagonalisation, used by src/linalg/eigen.ts)
#     from tridiagonalize.c;
#   src/linalg/wasm/gram.wasm, gram-fma.wasm   (rank-k update S += AᵀA, used by src/linalg/gram.ts)
#     from gram.c, on an imported shared memory so that worker threads can split one update;
#   src/linalg/wasm/normalize.wasm             (centre and unit rows of one sample, used by
#     src/metrics/normalize.ts) from normalize.c, plain SIMD only (no multiply-add to fuse).
# The first two kernels are built twice: plain SIMD (separate multiply and add), and with -DFMA
# -mrelaxed-simd (f64x2.relaxed_madd, a fused multiply-add where the CPU has one), which the
# loaders use when the runtime validates relaxed SIMD.
# The .wasm files are committed, so users and CI need no C toolchain; rerun this after editing C.
# Needs clang and lld ≥ 16 with the wasm32 target (Debian 12: apt-get install -y clang-19 lld-19;
# CLANG=clang-19 is then picked up by itself).
# Usage: infra/build-wasm.sh [all|eigen|gram|normalize]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${CLANG:-}" ]; then
  CLANG=clang
  for v in 22 19 18 17 16; do if command -v "clang-$v" >/dev/null; then CLANG="clang-$v"; break; fi; done
fi
build() { # build OUT.wasm SOURCE.c [extra flags…]
  local out=$1 src=$2
  shift 2
  "$CLANG" --target=wasm32 -msimd128 -O3 -ffp-contract=off -fno-builtin -nostdlib -fuse-ld=lld \
    -Wall -Wextra -Werror "$@" \
    -Wl,--no-entry -Wl,--export=__heap_base -Wl,--max-memory=4294967296 -Wl,--strip-all \
    -o "src/linalg/wasm/$out" "src/linalg/wasm/$src"
  chmod 644 "src/linalg/wasm/$out"
  ls -l "src/linalg/wasm/$out"
}
FMA=(-DFMA -mrelaxed-simd)
SHARED=(-matomics -mbulk-memory -Wl,--import-memory -Wl,--shared-memory)
if [ "${1:-all}" = all ] || [ "$1" = eigen ]; then
  build eigen.wasm tridiagonalize.c
  build eigen-fma.wasm tridiagonalize.c "${FMA[@]}"
fi
if [ "${1:-all}" = all ] || [ "$1" = gram ]; then
  build gram.wasm gram.c "${SHARED[@]}"
  build gram-fma.wasm gram.c "${SHARED[@]}" "${FMA[@]}"
fi
if [ "${1:-all}" = all ] || [ "$1" = normalize ]; then
  build normalize.wasm normalize.c
fi
