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
# shellcheck source=bench/corpus.sh
. "$src/bench/corpus.sh"
bench_corpus_run match.sh bench_match "$@"
