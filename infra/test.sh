#!/usr/bin/env bash
# The whole test suite: install what is missing, start the real services (Temporal, MinIO),
# typecheck, lint, run unit + integration + end-to-end tests, stop the services.
# This is `npm test`; CI runs exactly that (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash infra/install.sh
eval "$(bash infra/services.sh start)"
trap 'bash infra/services.sh stop' EXIT
# The compiled CLI (dist/, what bin/entroscope.js runs when it is fresh), rebuilt only if a source
# changed since `npm install` built it: the tests run the command as a user does.
echo "== build" && node infra/build.mjs --if-stale
echo "== typecheck" && npx tsc -p tsconfig.json
echo "== lint" && npx eslint .
echo "== tests"
# --test-force-exit: a native handle (Temporal core or onnxruntime) can outlive a test file's
# last test; every test has finished by then, so the runner ends the file's process.
node --import tsx --test --test-concurrency=1 --test-timeout=900000 --test-force-exit \
  test/unit/*.test.ts test/integration/*.test.ts test/e2e/*.test.ts test/fault/*.test.ts
