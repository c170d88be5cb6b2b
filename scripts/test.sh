#!/usr/bin/env bash
# Runs every test: set-up included (build tools, the embedded models, the Python OpenAI SDK),
# then the Rust test suites, then the end-to-end test with the official OpenAI SDK against
# a running `gantry serve` on the real embedded models.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

export GANTRY_TEST_MODELS_DIR="${GANTRY_TEST_MODELS_DIR:-$PWD/.gantry}"
cargo build --bin gantry
./target/debug/gantry models pull --data-dir "$GANTRY_TEST_MODELS_DIR"

cargo test --workspace
./scripts/e2e.sh
