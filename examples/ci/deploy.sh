#!/usr/bin/env bash
# The deployment step both pipelines run: push a prompt file from git, then promote the
# version it produced to ROUTE in ENVIRONMENT behind the eval gate GATE. Exits 2 when the
# gate refuses (the pipeline stops there; the refusal is in `gantry deploy history`).
#
#   GANTRY=gantry ROUTE=support-bot PROMPT_FILE=prompts/support.toml GATE=evals/support.toml \
#   ENVIRONMENT=staging examples/ci/deploy.sh
set -euo pipefail
gantry=${GANTRY:-gantry}
: "${ROUTE:?name the route}" "${PROMPT_FILE:?name the prompt file}" "${GATE:?name the eval suite}"
environment=${ENVIRONMENT:-staging}
message=${COMMIT_MESSAGE:-$(git log -1 --pretty=%s 2>/dev/null || echo "pushed by CI")}

# "NAME: created version N" or "NAME: unchanged, still version N (...)".
pushed=$("$gantry" prompts push "$PROMPT_FILE" --message "$message")
echo "$pushed"
name=${pushed%%:*}
version=$(echo "$pushed" | grep -oE 'version [0-9]+' | head -n1 | cut -d' ' -f2)
[ -n "$version" ] || { echo "deploy.sh: no version in: $pushed" >&2; exit 1; }

"$gantry" deploy promote "$ROUTE" --env "$environment" --target "prompt:$name@$version" --gate "$GATE"
"$gantry" deploy status "$ROUTE"
