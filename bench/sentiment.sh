#!/bin/sh
# bench/sentiment.sh: build (Release, in build-bench/) and run the sentiment
# benchmark: lines/s of the matcher alone (200 rules) and of match +
# sentiment per line, in the same run, on bench_gen_corpus's corpus (the
# same data bench/match.sh uses). Options before are passed on:
# --lines/--seed/--trigger-rate to bench_gen_corpus, the rest to
# bench_sentiment, e.g.
#   bench/sentiment.sh                       # 1,000,000 lines, 200 rules
#   bench/sentiment.sh --clock cpu           # thread CPU time (busy machine)
#   bench/sentiment.sh --rules 1000 --reps 5
# Environment: BUILD_DIR (default <repo>/build-bench), CMAKE_ARGS.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-bench}

gen_args=""
bench_args=""
while [ $# -gt 0 ]; do
  case $1 in
    --lines|--seed|--trigger-rate)
      [ $# -ge 2 ] || { echo "sentiment.sh: $1 needs a value" >&2; exit 2; }
      gen_args="$gen_args $1 $2"; shift 2 ;;
    *)
      bench_args="$bench_args $1"; shift ;;
  esac
done

if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DES_BENCH=ON ${CMAKE_ARGS:-}
fi
cmake --build "$build" -j2 --target bench_gen_corpus bench_sentiment

data=$build/bench-data
stamp=$data/.args
# Regenerate only when the generator or its arguments changed (as match.sh).
want="$(cksum < "$src/bench/gen_corpus.c") $gen_args"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # shellcheck disable=SC2086
  "$build/bench/bench_gen_corpus" --out "$data" $gen_args
  printf '%s' "$want" > "$stamp"
fi

# shellcheck disable=SC2086
exec "$build/bench/bench_sentiment" --data "$data" $bench_args
