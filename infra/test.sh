#!/usr/bin/env bash
# The whole test suite: install what is missing, start the real services (Temporal, MinIO),
# typecheck, lint, run unit + integration + end-to-end tests, stop the services.
# This is `npm test`; CI runs exactly that (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/install.sh
eval "$(bash infra/services.sh start)"
trap 'bash infra/services.sh stop' EXIT
echo "== typecheck" && npx tsc -p tsconfig.json
echo "== lint" && npx eslint .
echo "== tests"
node --import tsx --test --test-concurrency=1 --test-timeout=900000 \
  test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts
