#!/bin/sh
# Rule-quality evaluation: replays the labelled data sets in ../shared/data and the self-written
# call scripts in tests/calls through the bundled rules with `earshot replay`, and prints
# precision, recall and false-positive rate per category, backup alerts per call, and whether the
# targets are met. Not part of ctest (the data is not in the repository; tests/calls has its own
# ctest). See tests/eval/README.md and docs/quality.md.
#
# usage: tests/eval/eval.sh [--examples N] [--strict] [--keep] [--no-sweep]
#   --examples N  show N example lines for each false-positive / false-negative class (default 0)
#   --strict      exit 1 when a target is not met (default: report only, exit 0)
#   --keep        keep the temporary directory with the converted protocol lines
#   --no-sweep    leave out the signal-threshold sweeps (replays of generated rule copies)
# environment:
#   EARSHOT_DATA  data folder (default <repo>/../shared/data); absent -> the data sets are
#                 SKIPPED (the call scripts are still replayed)
#   EARSHOT_BIN   earshot binary (default: <repo>/build/cli/earshot, else <repo>/build-*/cli/earshot)
#   EARSHOT_EVAL_RULES  rules path (default <repo>/rules)
# The data is converted into protocol lines in a temporary directory (mktemp -d), never in the repo;
# so are the generated copies of the rules the signal sweeps replay.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${EARSHOT_DATA:-$repo/../shared/data}
rules=${EARSHOT_EVAL_RULES:-$repo/rules}

if [ -d "$data" ]; then
  data=$(cd "$data" && pwd)
else
  echo "eval: data folder $data is absent (set EARSHOT_DATA): the data sets are SKIPPED," \
       "only the call scripts in tests/calls are measured." >&2
fi

bin=${EARSHOT_BIN:-}
if [ -z "$bin" ]; then
  for b in "$repo/build/cli/earshot" "$repo"/build-*/cli/earshot; do
    if [ -x "$b" ]; then
      bin=$b
      break
    fi
  done
fi
if [ -n "$bin" ] && [ ! -x "$bin" ]; then
  echo "eval: $bin is not an executable earshot binary" >&2
  exit 2
fi
if [ -z "$bin" ]; then
  echo "eval: no earshot binary found (build it: cmake -S . -B build && cmake --build build" \
       "--target earshot_cli, or set EARSHOT_BIN)" >&2
  exit 2
fi
if ! command -v python3 >/dev/null 2>&1; then
  echo "eval: python3 is required" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/earshot-eval.XXXXXX")
keep=0
for a in "$@"; do
  [ "$a" = "--keep" ] && keep=1
done
if [ "$keep" = 0 ]; then
  trap 'rm -rf "$tmp"' EXIT INT TERM
fi

cmdline="tests/eval/eval.sh${*:+ $*}"
rc=0
python3 "$here/eval.py" "$data" "$bin" "$rules" "$tmp" "$cmdline" "$repo" "$@" || rc=$?
exit $rc
