#!/usr/bin/env bash
# Prints Gantry's PII precision/recall/F1 per type beside Presidio's, on the generated labelled
# set and on the hand-written held-out set. Regenerate the inputs first if needed:
#   python3 scripts/guard_reference/generate_pii_set.py
#   python3 scripts/guard_reference/heldout_pii.py
#   /tmp/presidio/bin/python scripts/guard_reference/presidio_eval.py
#   /tmp/presidio/bin/python scripts/guard_reference/presidio_eval.py \
#     --data crates/gantry-core/tests/fixtures/pii_heldout.jsonl \
#     --out crates/gantry-core/tests/fixtures/presidio_heldout_scores.json
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test -p gantry-core --test core pii_labelled -- --nocapture --test-threads 1 "$@"
