#!/usr/bin/env bash
# Starts `gantry serve` on a free loopback port with the pulled embedded models and a fresh
# store, runs the OpenAI-SDK end-to-end test against it, then stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
models="${GANTRY_TEST_MODELS_DIR:-$PWD/.gantry}/models"
[ -d "$models" ] || { echo "e2e: no models in $models; run ./target/debug/gantry models pull first" >&2; exit 1; }

work=$(mktemp -d)
ln -s "$(cd "$models" && pwd)" "$work/models"
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/debug/gantry serve --listen "127.0.0.1:$port" --data-dir "$work" >"$work/serve.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.2
done

GANTRY_TEST_MODELS_DIR="${GANTRY_TEST_MODELS_DIR:-$PWD/.gantry}" GANTRY_BASE_URL="http://127.0.0.1:$port" .venv/bin/python -m pytest -q tests/e2e || { tail -50 "$work/serve.log"; exit 1; }
