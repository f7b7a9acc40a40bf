#!/bin/sh
# bench/calls.sh: build (Release, in build-bench/) and run bench_calls:
# heap per open call with 100,000 calls open, and lines/s of the call
# logic. Arguments go to bench_calls (--calls N, --rules PATH).
# Environment: BUILD_DIR (default <repo>/build-bench), CMAKE_ARGS.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DES_BENCH=ON ${CMAKE_ARGS:-}
fi
cmake --build "$build" -j2 --target bench_calls >/dev/null
echo "# bench/calls.sh $*"
"$build/bench/bench_calls" "$@"
