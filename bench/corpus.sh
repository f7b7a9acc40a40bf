# bench/corpus.sh: sourced by match.sh and sentiment.sh (POSIX sh).
#
# bench_corpus_run SCRIPT TARGET [ARGS...]: builds bench_gen_corpus and
# TARGET (Release, in $BUILD_DIR, default <repo>/build-bench), writes the
# corpus and rule sets to $build/bench-data again only when the generator
# or its arguments changed, then runs TARGET on it. --lines, --seed and
# --trigger-rate go to bench_gen_corpus, everything else to TARGET.
# Needs $src (the repository) set by the caller.

bench_corpus_run() {
  script=$1
  target=$2
  shift 2
  build=${BUILD_DIR:-$src/build-bench}
  gen_args=""
  bench_args=""
  while [ $# -gt 0 ]; do
    case $1 in
      --lines|--seed|--trigger-rate)
        [ $# -ge 2 ] || { echo "$script: $1 needs a value" >&2; exit 2; }
        gen_args="$gen_args $1 $2"; shift 2 ;;
      *)
        bench_args="$bench_args $1"; shift ;;
    esac
  done

  if [ ! -f "$build/CMakeCache.txt" ]; then
    # shellcheck disable=SC2086
    cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DES_BENCH=ON ${CMAKE_ARGS:-}
  fi
  cmake --build "$build" -j2 --target bench_gen_corpus "$target"

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
  exec "$build/bench/$target" --data "$data" $bench_args
}
