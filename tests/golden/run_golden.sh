#!/bin/sh
# run_golden.sh EARSHOT CASE_DIR
#
# Runs one golden case: `earshot replay --rules rules.json input.jsonl` in
# CASE_DIR, then
#   - stdout must equal expected.jsonl (the alerts and call summaries, one
#     NDJSON record each);
#   - stderr without its final "replay: N lines, M alerts, K errors" summary
#     must equal expected_errors.jsonl (the error records), or be empty when
#     the case has no such file;
#   - the summary must agree with what was printed: N input lines, M alert
#     records ({"type":"alert"}) on stdout, K error records on stderr;
#   - the exit status must be 0.
# Prints a unified diff on a mismatch and exits 1.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 EARSHOT CASE_DIR" >&2
  exit 2
fi
earshot=$1
case_dir=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/es_golden.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

cd "$case_dir" || exit 2
for f in rules.json input.jsonl expected.jsonl; do
  if [ ! -f "$f" ]; then
    echo "golden case $case_dir has no $f" >&2
    exit 2
  fi
done

"$earshot" replay --rules rules.json input.jsonl >"$tmp/stdout" 2>"$tmp/stderr"
status=$?
failed=0

if [ "$status" -ne 0 ]; then
  echo "earshot replay exited with status $status; stderr:"
  cat "$tmp/stderr"
  failed=1
fi

summary=$(tail -n 1 "$tmp/stderr")
case $summary in
  "replay: "*) sed '$d' "$tmp/stderr" >"$tmp/errors" ;;
  *)
    echo "the last line of stderr is not the replay summary: $summary"
    cp "$tmp/stderr" "$tmp/errors"
    failed=1
    ;;
esac

if ! diff -u expected.jsonl "$tmp/stdout"; then
  echo "FAIL: alerts differ from $case_dir/expected.jsonl (- expected, + got)"
  failed=1
fi
expected_errors=/dev/null
[ -f expected_errors.jsonl ] && expected_errors=expected_errors.jsonl
if ! diff -u "$expected_errors" "$tmp/errors"; then
  echo "FAIL: error records differ from $case_dir/$expected_errors (- expected, + got)"
  failed=1
fi

# Lines are counted as the reader does: a last line without its newline
# still counts.
nlines=$(awk 'END { print NR }' input.jsonl)
nalerts=$(grep -c '^{"type":"alert"' "$tmp/stdout")
nerrors=$(awk 'END { print NR }' "$tmp/errors")
want="replay: $nlines lines, $nalerts alerts, $nerrors errors"
if [ "$failed" -eq 0 ] && [ "$summary" != "$want" ]; then
  echo "FAIL: summary \"$summary\" does not match the output (\"$want\")"
  failed=1
fi

exit "$failed"
