#!/usr/bin/env bash
# Sets up and starts the gateway on the embedded default (SQLite + in-process models).
# The first start fetches the models into the data directory. Extra arguments go to
# `gantry serve`, e.g. ./scripts/serve.sh --listen 127.0.0.1:9000
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --bin gantry
exec ./target/release/gantry serve --data-dir "${GANTRY_DATA_DIR:-.gantry}" "$@"
