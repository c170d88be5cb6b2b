#!/usr/bin/env bash
# Installs what building and testing Gantry needs on a fresh Debian machine: the C/C++
# toolchain pieces llama.cpp's build uses (cmake, libclang for bindgen) and a Python venv
# with the official OpenAI SDK, pytest and a numpy reference of the embedding model for the
# end-to-end test, and Chromium for the web UI's browser test. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
# bindgen needs libclang itself (libclang.so / libclang-N.so); libclang-cpp alone does not do.
ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/llvm-*/lib/libclang-[0-9]*.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need_apt+=(build-essential)
# The web UI's tests drive a real headless browser.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -s crates/gantry-core/lexicons/given_names.txt ]; then
  echo "setup: fetching the given-name lexicon of the PII scanner"
  python3 scripts/fetch-given-names.py
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with the openai SDK, the OpenTelemetry SDK and pytest"
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import openai, pytest, numpy, tokenizers, safetensors, opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter" >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q --disable-pip-version-check "openai>=1.40,<3" "pytest>=8" numpy tokenizers safetensors \
    "opentelemetry-sdk>=1.30" "opentelemetry-exporter-otlp-proto-http>=1.30"
fi
