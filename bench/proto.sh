#!/bin/sh
# bench/proto.sh: build (Release, in build-bench/) bench_load and
# bench_proto, write bench_load's corpus (--lines, default 200000) to
# build-bench/proto-corpus.jsonl and time the protocol decoder on it: the
# allocation-free fast path and cJSON, same lines, same run.
# Usage: bench/proto.sh [--lines N] [--reps N]
# Environment: BUILD_DIR (default <repo>/build-bench), CMAKE_ARGS.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
lines=200000
reps=5
while [ $# -gt 0 ]; do
  case $1 in
  --lines) lines=$2; shift 2 ;;
  --reps) reps=$2; shift 2 ;;
  *) echo "usage: bench/proto.sh [--lines N] [--reps N]" >&2; exit 2 ;;
  esac
done
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DES_BENCH=ON ${CMAKE_ARGS:-}
else
  cmake "$build" >/dev/null # a build tree from before bench_proto existed
fi
cmake --build "$build" -j2 --target bench_load bench_proto >/dev/null
corpus=$build/proto-corpus.jsonl
"$build/bench/bench_load" --lines "$lines" --dump "$corpus"
echo "# bench/proto.sh --lines $lines --reps $reps"
"$build/bench/bench_proto" "$corpus" --reps "$reps"
