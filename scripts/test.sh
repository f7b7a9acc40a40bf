#!/usr/bin/env bash
# Installs what is missing, builds earshot twice (plain, then with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test under
# ctest in both builds. Warnings are errors. Exit status: 0 when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
  local dir=$1; shift
  echo "== build $dir ($*)"
  cmake -S . -B "$dir" -DES_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600)
}

# The plain build also compiles the benchmarks (not run: they are not tests),
# so that they keep building.
run_suite build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DES_BENCH=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DES_SANITIZE=ON -DES_BENCH=OFF
echo "== all tests passed in both builds"
