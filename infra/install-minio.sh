#!/usr/bin/env bash
# Builds MinIO from source with `go install` (its README's route), pinned in env.sh. Idempotent.
set -euo pipefail
source "$(dirname "$0")/env.sh"
stamp="$ENTROSCOPE_BIN/.minio-version"
if [[ -x "$ENTROSCOPE_BIN/minio" && "$(cat "$stamp" 2>/dev/null)" == "$MINIO_MODULE" ]]; then
  exit 0
fi
echo "infra: building MinIO ($MINIO_MODULE) with go install; this takes a few minutes the first time" >&2
GOBIN="$ENTROSCOPE_BIN" GOFLAGS=-mod=mod go install "$MINIO_MODULE"
echo "$MINIO_MODULE" > "$stamp"
