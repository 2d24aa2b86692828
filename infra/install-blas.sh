#!/usr/bin/env bash
# OpenBLAS (BLAS + LAPACK) for the native metric kernels (src/linalg/nativeBlas.ts loads
# libopenblas.so.0 through koffi), from Debian's `libopenblas0-pthread` package. entroscope runs
# without it (WebAssembly kernels), but test/unit/nativeBlas.test.ts requires it.
# Idempotent: does nothing when the loader already finds libopenblas.so.0.
set -euo pipefail
if /sbin/ldconfig -p 2>/dev/null | grep -q 'libopenblas\.so\.0'; then exit 0; fi
if [[ "$(id -u)" -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas0-pthread >/dev/null
/sbin/ldconfig -p | grep 'libopenblas\.so\.0' >&2
