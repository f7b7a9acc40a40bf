#!/usr/bin/env bash
# Installs what is missing, builds earshot, checks the bundled rules and
# replays a sample call through them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
build/cli/earshot rules check
build/cli/earshot replay tests/golden/calls/escalating.jsonl
