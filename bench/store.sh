#!/bin/sh
# bench/store.sh: build (Release, in build-bench/) and run bench_store: the
# SQLite writer's CPU cost per alert (with its call's start and end rows),
# through the same es_store calls earshotd's writer thread makes, on a
# temporary database. Arguments go to bench_store (--alerts N, --batch N,
# --alerts-per-call N, --reason-every N, --webhooks N, --sync full|normal,
# --exec SQL).
# Environment: BUILD_DIR (default <repo>/build-bench), CMAKE_ARGS, TMPDIR.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build" -j2 --target bench_store >/dev/null
tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-store.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "# bench/store.sh $*"
"$build/bench/bench_store" --db "$tmp/store.db" "$@"
