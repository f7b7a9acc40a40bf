#!/bin/sh
# check_calls.sh EARSHOT RULES [CALLS_DIR]
#
# Replays every call script CALLS_DIR/*.jsonl (default: this script's
# directory) with `EARSHOT replay --rules RULES` and checks it against its
# entry in CALLS_DIR/expected.json:
#   "backup"             number of backup alerts (category "backup") the call
#                        must raise, exactly;
#   "deescalated"        true or false: the call summary's "deescalated" must
#                        equal it; null: not checked;
#   "silent_categories"  categories no alert of the call may have;
#   "fires"              categories at least one alert of the call must have.
# Also: the replay exits 0, reports 0 error records, and prints exactly one
# call summary. Every script needs an entry and every entry a script.
#
# expected.json is JSON with one entry per line, as written:
#   "name.jsonl": {"kind": "...", "backup": N, "deescalated": true|false|null,
#                  "silent_categories": [...], "fires": [...]},
# (this script reads it with sed, so keep that layout; `python3 -m json.tool`
# checks it is JSON). POSIX sh, sed, grep: no python or jq needed.
#
# Prints one line per call and a closing "calls: N passed, M failed".
# Exit status: 0 all passed, 1 a mismatch, 2 a setup error.
set -u

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 EARSHOT RULES [CALLS_DIR]" >&2
  exit 2
fi
earshot=$1
rules=$2
dir=${3:-$(dirname "$0")}
expected=$dir/expected.json

if [ ! -x "$earshot" ]; then
  echo "check_calls: $earshot is not an executable earshot binary" >&2
  exit 2
fi
if [ ! -f "$expected" ]; then
  echo "check_calls: $expected is missing" >&2
  exit 2
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/es_calls.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

# One field of an entry line: a number, true/false/null, or a list's inside.
field() { # LINE NAME
  printf '%s\n' "$1" | sed -n -E "s/.*\"$2\": *(\\[[^]]*\\]|[0-9]+|true|false|null).*/\\1/p"
}
list() { # "[\"a\", \"b\"]" -> "a b"
  printf '%s\n' "$1" | tr -d '[]",' | tr -s ' '
}

grep -E '^ *"[^"]+\.jsonl": *\{' "$expected" >"$tmp/entries"
nentries=$(wc -l <"$tmp/entries")
if [ "$nentries" -eq 0 ]; then
  echo "check_calls: no entries in $expected" >&2
  exit 2
fi

passed=0
failed=0
seen=" "
while IFS= read -r entry; do
  name=$(printf '%s\n' "$entry" | sed -E 's/^ *"([^"]+)".*/\1/')
  seen="$seen$name "
  backup=$(field "$entry" backup)
  deesc=$(field "$entry" deescalated)
  silent=$(list "$(field "$entry" silent_categories)")
  fires=$(list "$(field "$entry" fires)")
  problems=""
  if [ -z "$backup" ] || [ -z "$deesc" ]; then
    echo "check_calls: $expected: entry for $name lacks \"backup\" or \"deescalated\"" >&2
    exit 2
  fi
  if [ ! -f "$dir/$name" ]; then
    problems="no such script"
  else
    "$earshot" replay --rules "$rules" "$dir/$name" >"$tmp/out" 2>"$tmp/err"
    status=$?
    [ "$status" -eq 0 ] || problems="$problems; replay exited $status"
    if grep -q '^{' "$tmp/err"; then
      problems="$problems; error records: $(grep '^{' "$tmp/err" | head -1)"
    fi
    # "RULE CATEGORY" of each alert: the top-level fields, which come first
    # in every alert record (a backup alert's reason names other categories).
    sed -n -E 's/^\{"type":"alert","call_id":"([^"\\]|\\.)*","rule":"([^"]*)","category":"([^"]*)".*/\2 \3/p' \
      "$tmp/out" >"$tmp/alerts"
    nrecords=$(grep -c '"type":"alert"' "$tmp/out")
    [ "$nrecords" -eq "$(wc -l <"$tmp/alerts")" ] ||
      problems="$problems; could not read every alert record"
    grep '"type":"call_summary"' "$tmp/out" >"$tmp/summary"
    nsum=$(wc -l <"$tmp/summary")
    [ "$nsum" -eq 1 ] || problems="$problems; $nsum call summaries (expected 1)"
    nbackup=$(grep -c ' backup$' "$tmp/alerts")
    [ "$nbackup" -eq "$backup" ] || problems="$problems; $nbackup backup alerts (expected $backup)"
    got=$(sed -n -E 's/.*"deescalated":(true|false).*/\1/p' "$tmp/summary" | head -1)
    if [ "$deesc" != null ] && [ "$got" != "$deesc" ]; then
      problems="$problems; deescalated $got (expected $deesc)"
    fi
    for c in $silent; do
      n=$(grep -c " $c\$" "$tmp/alerts")
      if [ "$n" -ne 0 ]; then
        rule=$(grep " $c\$" "$tmp/alerts" | head -1 | cut -d' ' -f1)
        problems="$problems; $n $c alert(s), e.g. $rule (expected none)"
      fi
    done
    for c in $fires; do
      grep -q " $c\$" "$tmp/alerts" || problems="$problems; no $c alert (expected one)"
    done
    peak=$(sed -n -E 's/.*"peak_heat":([0-9.]+).*/\1/p' "$tmp/summary" | head -1)
    nalerts=$(wc -l <"$tmp/alerts")
  fi
  if [ -z "$problems" ]; then
    passed=$((passed + 1))
    printf 'ok    %-40s backup %s, deescalated %s, peak heat %s, %s alerts\n' \
      "$name" "$nbackup" "$got" "$peak" "$nalerts"
  else
    failed=$((failed + 1))
    printf 'FAIL  %-40s %s\n' "$name" "${problems#; }"
  fi
done <"$tmp/entries"

for f in "$dir"/*.jsonl; do
  [ -f "$f" ] || continue
  b=$(basename "$f")
  case "$seen" in
    *" $b "*) ;;
    *)
      failed=$((failed + 1))
      printf 'FAIL  %-40s no entry in expected.json\n' "$b"
      ;;
  esac
done

echo "calls: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
