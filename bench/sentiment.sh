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
# shellcheck source=bench/corpus.sh
. "$src/bench/corpus.sh"
bench_corpus_run sentiment.sh bench_sentiment "$@"
