#!/usr/bin/env bash
# The main job on embedded defaults: installs what is missing (Temporal CLI, the real MiniLM model),
# starts a local Temporal dev server (SQLite under .entroscope/) and an in-process worker, evaluates
# all-MiniLM-L6-v2 on 200 Brown-corpus sentences, and prints the results table.
# Extra arguments go to `entroscope run` (e.g. --json, --shard-size 32).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/install.sh --demo
exec node bin/entroscope.js run "$@"
