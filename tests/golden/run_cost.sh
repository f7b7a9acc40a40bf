#!/bin/sh
# run_cost.sh EARSHOT DIR
#
# `earshot rules cost --rules DIR/rules.json DIR/input.jsonl` must exit 0,
# print exactly DIR/expected.txt (per rule: lines PCRE2 ran on, lines
# matched), and report the one malformed input line as an error record on
# stderr. The input is built so that a weaker prefilter anchor (" area "
# alone), a speaker filter that let the wrong side through, or a miscount
# changes the figures.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 EARSHOT DIR" >&2
  exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/es_cost.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

"$1" rules cost --rules "$2/rules.json" "$2/input.jsonl" >"$tmp/out" 2>"$tmp/err"
status=$?
failed=0
if [ "$status" -ne 0 ]; then
  echo "earshot rules cost exited with status $status"
  cat "$tmp/err"
  failed=1
fi
if ! diff -u "$2/expected.txt" "$tmp/out"; then
  failed=1
fi
if [ "$(grep -c '"code":"invalid_json"' "$tmp/err")" -ne 1 ]; then
  echo "expected one invalid_json error record on stderr, got:"
  cat "$tmp/err"
  failed=1
fi
# A --top that is not a number is refused with exit 2.
"$1" rules cost --top many --rules "$2/rules.json" "$2/input.jsonl" >/dev/null 2>&1
if [ $? -ne 2 ]; then
  echo "--top many was not refused with exit 2"
  failed=1
fi
exit $failed
