#!/usr/bin/env bash
# Prints Gantry's PII precision/recall/F1 per type beside Presidio's on the labelled set.
# Regenerate the inputs first if needed:
#   python3 scripts/guard_reference/generate_pii_set.py
#   /tmp/presidio/bin/python scripts/guard_reference/presidio_eval.py
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo test -p gantry-core --test core pii_labelled -- --nocapture "$@"
