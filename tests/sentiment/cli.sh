#!/bin/sh
# cli.sh: `earshot sentiment` on a small transcript (ctest sentiment/cli).
#   cli.sh EARSHOT SRC_DIR WORK_DIR
# Checks the records with python3 (exits 77, skipped, without it).
set -u
earshot=$1
here=$2/tests/sentiment
work=$3
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed"; exit 77; }
mkdir -p "$work" || exit 1

"$earshot" sentiment "$here/cli_input.ndjson" >"$work/out.ndjson" 2>"$work/err.ndjson" || {
  echo "earshot sentiment failed"; cat "$work/err.ndjson"; exit 1; }
"$earshot" sentiment --asr - <"$here/cli_input.ndjson" >"$work/asr.ndjson" 2>/dev/null || {
  echo "earshot sentiment --asr failed"; exit 1; }
"$earshot" sentiment --partials "$here/cli_input.ndjson" >"$work/partials.ndjson" 2>/dev/null || {
  echo "earshot sentiment --partials failed"; exit 1; }
printf 'good\t3\nawful\t-3\n' >"$work/lexicon.tsv"
"$earshot" sentiment --lexicon "$work/lexicon.tsv" "$here/cli_input.ndjson" >"$work/lex.ndjson" 2>/dev/null || {
  echo "earshot sentiment --lexicon failed"; exit 1; }
printf 'Good\t3\n' >"$work/bad.tsv"
if "$earshot" sentiment --lexicon "$work/bad.tsv" "$here/cli_input.ndjson" >/dev/null 2>"$work/bad.err"; then
  echo "a lexicon with an upper-case key was accepted"; exit 1
fi
grep -q "bad.tsv:1:" "$work/bad.err" || { echo "no diagnostic for the bad lexicon:"; cat "$work/bad.err"; exit 1; }

exec python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
def load(name):
    with open(f"{work}/{name}", encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.startswith("{")]
out, err = load("out.ndjson"), load("err.ndjson")
asr, partials, lex = load("asr.ndjson"), load("partials.ndjson"), load("lex.ndjson")
fails = []
def check(cond, what):
    if not cond:
        fails.append(what)

# Final utterances only, in order; start/end/hello lines skipped.
check([r["line"] for r in out] == [2, 3, 4, 6, 8], f"scored lines {[r['line'] for r in out]}")
for r in out:
    check(set(r) >= {"call_id", "speaker", "line", "compound", "neg", "neu", "pos", "words"},
          f"fields of line {r['line']}: {sorted(r)}")
    check(abs(r["neg"] + r["neu"] + r["pos"] - 1) < 0.002 or not r["words"] and r["neu"] in (0, 1),
          f"proportions of line {r['line']}")
by = {r["line"]: r for r in out}
# Line 2: the agent's greeting, positive, words "Thank" and "help".
check(by[2]["speaker"] == "agent" and by[2]["compound"] > 0.5, f"line 2: {by[2]}")
check([w["word"] for w in by[2]["words"]] == ["Thank", "help"], f"line 2 words: {by[2]['words']}")
# Line 3: shouting, negated "happy", "!!!": negative, with ts and seq.
r = by[3]
check(r["speaker"] == "customer" and r["compound"] < -0.7, f"line 3: {r}")
check(r["ts"] == 3.2 and r["seq"] == 2, f"line 3 ts/seq: {r}")
words = {w["word"]: w for w in r["words"]}
check(set(words) == {"RIDICULOUS", "happy"}, f"line 3 words: {r['words']}")
check(words["happy"]["lexicon"] == 2.7 and words["happy"]["valence"] < 0, f"line 3 happy: {words}")
check(words["RIDICULOUS"]["valence"] < words["RIDICULOUS"]["lexicon"], "capitals raise RIDICULOUS")
text3 = "This is RIDICULOUS, I am not happy at all!!!"
for w in r["words"]:
    check(text3.encode()[w["start"]:w["end"]].decode() == w["word"], f"span of {w}")
# Line 4: the package's own demo sentence.
check(by[4]["compound"] == -0.7424 and by[4]["neg"] == 0.646, f"line 4: {by[4]}")
# Line 6: "don’t" with a curly apostrophe: the package does not negate
# "like", --asr does; "but" raises "good" either way.
like = [w for w in by[6]["words"] if w["word"] == "like"]
check(like and like[0]["valence"] > 0, f"line 6: {by[6]}")
a6 = {r["line"]: r for r in asr}[6]
like = [w for w in a6["words"] if w["word"] == "like"]
check(like and like[0]["valence"] < 0 and a6["compound"] < by[6]["compound"],
      f"line 6 with --asr: {a6}")
# Line 8: non-ASCII text; spans are byte offsets into the UTF-8 text.
r = by[8]
t8 = "José said: the café was wonderful \U0001F600".encode()
check([w["word"] for w in r["words"]] == ["wonderful"], f"line 8 words: {r['words']}")
check(t8[r["words"][0]["start"]:r["words"][0]["end"]] == b"wonderful", f"line 8 span: {r}")
# The malformed line is an error record on stderr (the closing summary
# line there is for people, not JSON).
check([e["line"] for e in err if e.get("type") == "error"] == [7], f"errors: {err}")
check(err[0]["code"] == "invalid_json", f"error code: {err[0]}")
# --partials adds line 5, marked final:false.
pl = {r["line"]: r for r in partials}
check(5 in pl and pl[5].get("final") is False, f"partials: {sorted(pl)}")
# --lexicon: only "good" and "awful" score.
lw = [w["word"] for r in lex for w in r["words"]]
check(set(lw) <= {"good", "awful", "Good", "AWFUL", "Awful"} and lw, f"custom lexicon words: {lw}")

if fails:
    print("FAIL:\n  " + "\n  ".join(fails))
    sys.exit(1)
print(f"earshot sentiment: {len(out)} records checked, --asr, --partials, --lexicon ok")
PY
