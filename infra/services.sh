#!/usr/bin/env bash
# Starts / stops the real services the tests use, on loopback only:
#   Temporal dev server (official CLI, SQLite under the state folder) and MinIO (S3 API).
# `start` prints `export …` lines for the environment the tests read; `stop` ends both.
# Usage: eval "$(infra/services.sh start)"; …; infra/services.sh stop
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
state="${ENTROSCOPE_SERVICES_STATE:-$here/../.entroscope/services}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
temporal_port="${ENTROSCOPE_TEST_TEMPORAL_PORT:-17233}"
minio_port="${ENTROSCOPE_TEST_MINIO_PORT:-19000}"
minio_user="entroscope"
minio_password="entroscope-test-secret"

wait_for() { # name, seconds, command...
  local name="$1" seconds="$2"; shift 2
  for ((i = 0; i < seconds * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "infra: $name did not come up within ${seconds}s; logs in $state" >&2
  return 1
}

start() {
  if ! kill -0 "$(cat "$state/temporal.pid" 2>/dev/null)" 2>/dev/null; then
    rm -f "$state/temporal.db"*   # tests start from an empty history
    "$ENTROSCOPE_VENV/bin/temporal" server start-dev --ip 127.0.0.1 --port "$temporal_port" \
      --ui-port "$((temporal_port + 1000))" --headless --log-level warn \
      --db-filename "$state/temporal.db" >"$state/temporal.log" 2>&1 &
    echo $! >"$state/temporal.pid"
  fi
  if ! kill -0 "$(cat "$state/minio.pid" 2>/dev/null)" 2>/dev/null; then
    rm -rf "$state/minio-data"
    MINIO_ROOT_USER="$minio_user" MINIO_ROOT_PASSWORD="$minio_password" MINIO_BROWSER=off \
      "$ENTROSCOPE_BIN/minio" server "$state/minio-data" --address "127.0.0.1:$minio_port" --quiet \
      >"$state/minio.log" 2>&1 &
    echo $! >"$state/minio.pid"
  fi
  wait_for "Temporal on 127.0.0.1:$temporal_port" 60 \
    "$ENTROSCOPE_VENV/bin/temporal" operator cluster health --address "127.0.0.1:$temporal_port"
  wait_for "MinIO on 127.0.0.1:$minio_port" 60 curl -sf "http://127.0.0.1:$minio_port/minio/health/live"
  cat <<ENV
export TEMPORAL_ADDRESS=127.0.0.1:$temporal_port
export AWS_ENDPOINT_URL=http://127.0.0.1:$minio_port
export AWS_ACCESS_KEY_ID=$minio_user
export AWS_SECRET_ACCESS_KEY=$minio_password
export AWS_REGION=us-east-1
export ENTROSCOPE_TEST_BUCKET=entroscope-test
export ENTROSCOPE_SERVICES_STATE=$state
ENV
}

stop() {
  for name in temporal minio; do
    local pid
    pid="$(cat "$state/$name.pid" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$name.pid"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
