#!/bin/sh
# bench/match.sh: build (Release, in build-bench/) and run the matcher
# benchmark. Options before `--` go to bench_gen_corpus when they are
# --lines/--seed/--trigger-rate, everything else to bench_match, e.g.
#   bench/match.sh                      # 1,000,000 lines, 50/200/1000 rules
#   bench/match.sh --lines 200000 --reps 1
#   bench/match.sh --naive-lines 5000 --rg-word
# Environment: BUILD_DIR (default <repo>/build-bench), CMAKE_ARGS.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}

gen_args=""
match_args=""
while [ $# -gt 0 ]; do
  case $1 in
    --lines|--seed|--trigger-rate)
      [ $# -ge 2 ] || { echo "match.sh: $1 needs a value" >&2; exit 2; }
      gen_args="$gen_args $1 $2"; shift 2 ;;
    *)
      match_args="$match_args $1"; shift ;;
  esac
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DES_BENCH=ON ${CMAKE_ARGS:-}
fi
cmake --build "$build" -j2 --target bench_gen_corpus bench_match

data=$build/bench-data
stamp=$data/.args
# Regenerate only when the generator or its arguments changed.
want="$(cksum < "$src/bench/gen_corpus.c") $gen_args"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # shellcheck disable=SC2086
  "$build/bench/bench_gen_corpus" --out "$data" $gen_args
  printf '%s' "$want" > "$stamp"
fi

# shellcheck disable=SC2086
exec "$build/bench/bench_match" --data "$data" $match_args
