#!/bin/sh
# Rule-quality evaluation: replays the labelled data sets in ../shared/data through the bundled
# rules with `earshot replay` and prints precision, recall and false-positive rate per category.
# Not part of ctest. See tests/eval/README.md and docs/quality.md.
#
# usage: tests/eval/eval.sh [--examples N] [--strict] [--keep]
#   --examples N  show N example lines for each false-positive / false-negative class (default 0)
#   --strict      exit 1 when a target is not met (default: report only, exit 0)
#   --keep        keep the temporary directory with the converted protocol lines
# environment:
#   EARSHOT_DATA  data folder (default <repo>/../shared/data); absent -> "SKIPPED", exit 0
#   EARSHOT_BIN   earshot binary (default: <repo>/build/cli/earshot, else <repo>/build-*/cli/earshot)
#   EARSHOT_EVAL_RULES  rules path (default <repo>/rules)
# The data is converted into protocol lines in a temporary directory (mktemp -d), never in the repo.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${EARSHOT_DATA:-$repo/../shared/data}
rules=${EARSHOT_EVAL_RULES:-$repo/rules}

if [ ! -d "$data" ]; then
  echo "eval: SKIPPED: data folder $data is absent (set EARSHOT_DATA to point elsewhere)."
  echo "eval: nothing was measured."
  exit 0
fi
data=$(cd "$data" && pwd)

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
python3 - "$data" "$bin" "$rules" "$tmp" "$cmdline" "$@" <<'PY' || rc=$?
import collections, csv, html, json, os, subprocess, sys, time

data, binary, rules, tmp, cmdline = sys.argv[1:6]
args = sys.argv[6:]
examples = 0
strict = False
i = 0
while i < len(args):
    a = args[i]
    if a == "--examples" and i + 1 < len(args):
        examples = int(args[i + 1])
        i += 1
    elif a == "--strict":
        strict = True
    elif a == "--keep":
        pass
    else:
        sys.stderr.write("eval: unknown argument %r\n" % a)
        sys.exit(2)
    i += 1

CUSTOMER_CATS = ["manager_request", "legal_threat", "abuse", "churn_threat", "public_shaming",
                 "repeat_contact", "exasperation"]
t_start = time.time()
replays = []          # commands run, printed at the end


def out(s=""):
    print(s)


def frag(text, start=None, end=None, width=36):
    """A short fragment of a line: around the match if given, else its beginning."""
    t = " ".join(text.split())
    if start is None:
        return t if len(t) <= 2 * width + 10 else t[: 2 * width + 10] + "..."
    b = text.encode("utf-8")
    pre = " ".join(b[:start].decode("utf-8", "replace").split())
    mid = " ".join(b[start:end].decode("utf-8", "replace").split())
    post = " ".join(b[end:].decode("utf-8", "replace").split())
    if len(pre) > width:
        pre = "..." + pre[-width:]
    if len(post) > width:
        post = post[:width] + "..."
    return (pre + " [" + mid + "] " + post).strip()


def replay(name, lines):
    """Write protocol lines to tmp/name.jsonl, replay them, return {line_no: [alert,...]}."""
    path = os.path.join(tmp, name + ".jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for ln in lines:
            f.write(json.dumps(ln, ensure_ascii=False) + "\n")
    cmd = [binary, "replay", "--rules", rules, path]
    replays.append(" ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        sys.stderr.write("eval: %s failed (exit %d)\n" % (" ".join(cmd), p.returncode))
        sys.exit(2)
    hits = collections.defaultdict(list)
    errors = []
    for raw in p.stdout.decode("utf-8").splitlines():
        rec = json.loads(raw)
        if rec.get("type") == "alert":
            hits[rec["line"]].append(rec)
        else:
            errors.append(rec)
    if errors:
        out("WARNING: %d error records in %s (first: %s)" % (len(errors), name, errors[0]))
    return hits, len(lines), len(errors)


def ratio(n, d):
    return None if d == 0 else n / d


def fmt(x, pct=False):
    if x is None:
        return "n/a"
    return "%.2f%%" % (100 * x) if pct else "%.3f" % x


def cats_of(alerts):
    return {a["category"] for a in alerts}


def table(rows):
    """rows: list of dicts with set, category, pos, neg, tp, fp."""
    out("| data | category | positives | negatives | TP | FN | FP | precision | recall | FP rate |")
    out("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        tp, fp, pos, neg = r["tp"], r["fp"], r["pos"], r["neg"]
        out("| %s | %s | %d | %d | %d | %d | %d | %s | %s | %s |" % (
            r["set"], r["category"], pos, neg, tp, pos - tp, fp,
            fmt(ratio(tp, tp + fp)), fmt(ratio(tp, pos)), fmt(ratio(fp, neg), pct=True)))


def score(setname, catname, items, hits, is_pos, fires):
    """items: list of (line_no, record); is_pos(record) -> bool; fires(alerts) -> bool."""
    pos = neg = tp = fp = 0
    fn_lines, fp_lines = [], []
    for ln, rec in items:
        f = fires(hits.get(ln, []))
        if is_pos(rec):
            pos += 1
            if f:
                tp += 1
            else:
                fn_lines.append((ln, rec))
        else:
            neg += 1
            if f:
                fp += 1
                fp_lines.append((ln, rec))
    return {"set": setname, "category": catname, "pos": pos, "neg": neg, "tp": tp, "fp": fp,
            "fn_lines": fn_lines, "fp_lines": fp_lines}


def by_rule(lines, hits, want):
    """Count lines per rule among `lines`, for alerts where want(alert)."""
    c = collections.Counter()
    ex = collections.defaultdict(list)
    for ln, rec in lines:
        seen = set()
        for a in hits.get(ln, []):
            if want(a) and a["rule"] not in seen:
                seen.add(a["rule"])
                c[a["rule"]] += 1
                e = frag(a["text"], a["match_start"], a["match_end"])
                if len(ex[a["rule"]]) < examples and e not in ex[a["rule"]]:
                    ex[a["rule"]].append(e)
    return c, ex


def print_rules(title, lines, hits, want, top=10):
    c, ex = by_rule(lines, hits, want)
    if not c:
        out("%s: none" % title)
        return
    out("%s (lines per rule):" % title)
    for rule, n in c.most_common(top):
        out("  %5d  %s" % (n, rule))
        for e in ex[rule]:
            out("           - %s" % e)


def print_misses(title, lines, n):
    if n <= 0 or not lines:
        return
    shown = []
    for _, rec in lines:
        e = frag(rec["text"])
        if e not in shown:
            shown.append(e)
        if len(shown) == n:
            break
    out("%s (first %d of %d, duplicates left out):" % (title, len(shown), len(lines)))
    for e in shown:
        out("           - %s" % e)


def load_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


targets = []   # (name, value string, met bool)
sizes = []

out("# earshot rule-quality evaluation")
out()
out("command: %s" % cmdline)
out("date:    %s" % time.strftime("%Y-%m-%d"))
out("data:    %s" % data)
out("binary:  %s" % binary)
out("rules:   %s" % rules)
out()

# ---------------------------------------------------------------- bitext
bt_path = os.path.join(data, "bitext", "bitext_cs.jsonl")
if os.path.exists(bt_path):
    recs = load_jsonl(bt_path)
    cust = [r for r in recs if r["speaker"] == "customer"]
    agent = [r for r in recs if r["speaker"] == "agent"]
    lines = [{"call_id": r["dialog_id"], "speaker": "customer", "text": r["text"], "ts": 0,
              "seq": i} for i, r in enumerate(cust)]
    hits, n, nerr = replay("bitext_customer", lines)
    items = list(zip(range(1, n + 1), cust))
    sizes.append(("Bitext customer requests", n))
    rows = [
        score("Bitext", "manager_request", items, hits,
              lambda r: r["label"] == "contact_human_agent",
              lambda al: "manager_request" in cats_of(al)),
        score("Bitext", "churn_threat", items, hits,
              lambda r: r["label"] == "delete_account",
              lambda al: "churn_threat" in cats_of(al)),
        score("Bitext", "abuse", items, hits, lambda r: bool(r.get("offensive")),
              lambda al: "abuse" in cats_of(al)),
        score("Bitext", "exasperation", items, hits, lambda r: bool(r.get("offensive")),
              lambda al: "exasperation" in cats_of(al)),
    ]
    out("## Bitext customer requests (%d lines, speaker customer)" % n)
    out()
    out("Positives: contact_human_agent -> manager_request; delete_account -> churn_threat (weak proxy);")
    out("offensive-tagged (W) -> abuse, and -> exasperation (customer.swearing). Negatives: every other line.")
    out()
    table(rows)
    out()
    mr = rows[0]
    p = ratio(mr["tp"], mr["tp"] + mr["fp"])
    r_ = ratio(mr["tp"], mr["pos"])
    targets.append(("Bitext manager_request precision >= 0.95", fmt(p), p is not None and p >= 0.95))
    targets.append(("Bitext manager_request recall >= 0.85", fmt(r_), r_ is not None and r_ >= 0.85))
    for row in rows:
        print_rules("%s false positives" % row["category"], row["fp_lines"], hits,
                    lambda a, c=row["category"]: a["category"] == c)
        print_misses("%s false negatives" % row["category"], row["fn_lines"], examples)
    out()
    # complaints: which categories fire
    comp = [(ln, r) for ln, r in items if r["label"] == "complaint"]
    other = [(ln, r) for ln, r in items if r["label"] not in ("complaint",)]
    out("Complaint intent (%d lines): lines firing each customer category (other intents: %d lines)"
        % (len(comp), len(other)))
    out()
    out("| category | complaint lines | share | other-intent lines | share |")
    out("|---|---:|---:|---:|---:|")
    for c in CUSTOMER_CATS + ["any"]:
        f = (lambda al: bool(al)) if c == "any" else (lambda al, c=c: c in cats_of(al))
        a = sum(1 for ln, _ in comp if f(hits.get(ln, [])))
        b = sum(1 for ln, _ in other if f(hits.get(ln, [])))
        out("| %s | %d | %s | %d | %s |" % (c, a, fmt(ratio(a, len(comp)), True), b,
                                            fmt(ratio(b, len(other)), True)))
    out()
    print_rules("complaint lines that fire", comp, hits, lambda a: True)
    print_misses("complaint lines that fire nothing",
                 [x for x in comp if not hits.get(x[0])], examples)
    out()
    # alerts on other intents, by intent
    byint = collections.Counter()
    for ln, r in items:
        for c in cats_of(hits.get(ln, [])):
            byint[(r["label"], c)] += 1
    out("Lines firing, by intent and category (top 12):")
    for (lab, c), k in byint.most_common(12):
        out("  %5d  %-26s %s" % (k, lab, c))
    out()

    # agent replies
    alines = [{"call_id": r["dialog_id"], "speaker": "agent", "text": r["text"], "ts": 0,
               "seq": i} for i, r in enumerate(agent)]
    ahits, an, _ = replay("bitext_agent", alines)
    aitems = list(zip(range(1, an + 1), agent))
    sizes.append(("Bitext agent replies (LLM-written)", an))
    bp = sum(1 for ln, _ in aitems if "banned_phrase" in cats_of(ahits.get(ln, [])))
    de = sum(1 for ln, _ in aitems if "deescalation" in cats_of(ahits.get(ln, [])))
    out("## Bitext agent replies (%d LLM-written lines, speaker agent)" % an)
    out()
    out("| category | lines firing | share |")
    out("|---|---:|---:|")
    out("| banned_phrase (presumed false positives) | %d | %s |" % (bp, fmt(ratio(bp, an), True)))
    out("| deescalation (expected) | %d | %s |" % (de, fmt(ratio(de, an), True)))
    out()
    print_rules("banned_phrase hits on agent replies", aitems, ahits,
                lambda a: a["category"] == "banned_phrase")
    out()
else:
    out("## Bitext: SKIPPED (%s absent)" % bt_path)
    out()

# ---------------------------------------------------------------- dailydialog
dd_path = os.path.join(data, "dailydialog", "dailydialog.jsonl")
if os.path.exists(dd_path):
    recs = [r for r in load_jsonl(dd_path) if r["label"] in ("anger", "no emotion")]
    lines = [{"call_id": r["dialog_id"], "speaker": "customer", "text": r["text"], "ts": 0,
              "seq": i} for i, r in enumerate(recs)]
    hits, n, _ = replay("dailydialog", lines)
    items = list(zip(range(1, n + 1), recs))
    npos = sum(1 for r in recs if r["label"] == "anger")
    sizes.append(("DailyDialog anger + no-emotion utterances", n))
    is_pos = lambda r: r["label"] == "anger"
    rows = [score("DailyDialog", c, items, hits, is_pos, lambda al, c=c: c in cats_of(al))
            for c in CUSTOMER_CATS]
    anyrow = score("DailyDialog", "any customer category", items, hits, is_pos, lambda al: bool(al))
    nonex = score("DailyDialog", "any except exasperation", items, hits, is_pos,
                  lambda al: bool(cats_of(al) - {"exasperation"}))
    rows += [anyrow, nonex]
    out("## DailyDialog (%d anger vs %d no-emotion utterances, all as speaker customer)"
        % (npos, n - npos))
    out()
    table(rows)
    out()
    fpr = ratio(anyrow["fp"], anyrow["neg"])
    targets.append(("DailyDialog neutral FP rate <= 1% (any customer category)",
                    "%s (%d of %d)" % (fmt(fpr, True), anyrow["fp"], anyrow["neg"]),
                    fpr is not None and fpr <= 0.01))
    print_rules("neutral lines that fire (false positives)", anyrow["fp_lines"], hits,
                lambda a: True, top=15)
    print_rules("anger lines that fire (true positives)",
                [x for x in items if is_pos(x[1]) and hits.get(x[0])], hits, lambda a: True)
    print_misses("anger lines that fire nothing (false negatives)", anyrow["fn_lines"], examples)
    out()
else:
    out("## DailyDialog: SKIPPED (%s absent)" % dd_path)
    out()

# ---------------------------------------------------------------- davidson
dv_path = os.path.join(data, "davidson", "davidson_labeled_data.csv")
if os.path.exists(dv_path):
    with open(dv_path, encoding="utf-8", newline="") as f:
        rd = csv.DictReader(f)
        recs = [{"text": html.unescape(r["tweet"]), "cls": r["class"], "id": r[""]} for r in rd]
    lines = [{"call_id": "davidson-" + r["id"], "speaker": "customer", "text": r["text"],
              "ts": 0, "seq": i} for i, r in enumerate(recs)]
    hits, n, _ = replay("davidson", lines)
    items = list(zip(range(1, n + 1), recs))
    sizes.append(("Davidson tweets", n))
    cnt = collections.Counter(r["cls"] for r in recs)
    abuse = lambda al: "abuse" in cats_of(al)
    prof = lambda al: bool(cats_of(al) & {"abuse", "exasperation"})
    hate_or_off = lambda r: r["cls"] in ("0", "1")
    rows = [
        score("Davidson", "abuse (hate+offensive vs neither)", items, hits, hate_or_off, abuse),
        score("Davidson", "abuse (hate vs neither)", [x for x in items if x[1]["cls"] != "1"],
              hits, lambda r: r["cls"] == "0", abuse),
        score("Davidson", "abuse (offensive vs neither)", [x for x in items if x[1]["cls"] != "0"],
              hits, lambda r: r["cls"] == "1", abuse),
        score("Davidson", "abuse or exasperation (hate+offensive vs neither)", items, hits,
              hate_or_off, prof),
    ]
    out("## Davidson tweets (%d: hate %d, offensive %d, neither %d; speaker customer; HTML entities decoded)"
        % (n, cnt["0"], cnt["1"], cnt["2"]))
    out()
    table(rows)
    out()
    print_rules("abuse hits on \"neither\" tweets (false positives)", rows[0]["fp_lines"], hits,
                lambda a: a["category"] == "abuse")
    print_rules("abuse hits on hate/offensive tweets (true positives)",
                [x for x in items if hate_or_off(x[1]) and abuse(hits.get(x[0], []))], hits,
                lambda a: a["category"] == "abuse")
    print_misses("hate tweets without an abuse alert (false negatives)", rows[1]["fn_lines"],
                 examples)
    out()
else:
    out("## Davidson: SKIPPED (%s absent)" % dv_path)
    out()

# ---------------------------------------------------------------- harper valley
hv_path = os.path.join(data, "harper_valley", "hvb_sample.jsonl")
if os.path.exists(hv_path):
    recs = load_jsonl(hv_path)
    lines, meta = [], []
    for variant, field in (("human", "text"), ("asr", "asr_text")):
        calls = []
        for r in recs:
            if r["dialog_id"] not in calls:
                calls.append(r["dialog_id"])
        for cid in calls:
            seg = sorted((r for r in recs if r["dialog_id"] == cid), key=lambda r: r["start_ms"])
            for r in seg:
                lines.append({"call_id": "%s-%s" % (cid, variant), "speaker": r["speaker"],
                              "text": r[field] or "", "ts": r["start_ms"] / 1000.0,
                              "end_ts": r["end_ms"] / 1000.0, "seq": r["turn"]})
                meta.append((cid, variant, r))
            lines.append({"type": "end", "call_id": "%s-%s" % (cid, variant)})
            meta.append(None)
    # empty ASR segments would be protocol errors only if text were missing; keep them
    hits, n, _ = replay("harper_valley", lines)
    nseg = sum(1 for m in meta if m)
    sizes.append(("Harper Valley segments (3 calls x human+ASR)", nseg))
    allal = [a for ln in sorted(hits) for a in hits[ln]]
    esc = [a for a in allal if a["category"] in CUSTOMER_CATS]
    out("## Harper Valley (3 calm calls, %d segments human + %d ASR, timed, real speaker roles)"
        % (nseg // 2, nseg // 2))
    out()
    out("alerts: %d in all; customer escalation alerts: %d (expected 0)" % (len(allal), len(esc)))
    if allal:
        out()
        out("| call | text | speaker | ts | rule | matched |")
        out("|---|---|---|---:|---|---|")
        for a in allal:
            out("| %s | %s | %s | %s | %s | %s |" % (a["call_id"].rsplit("-", 1)[0],
                a["call_id"].rsplit("-", 1)[1], a["speaker"], a.get("ts", ""), a["rule"],
                a["matched"]))
    out()
else:
    out("## Harper Valley: SKIPPED (%s absent)" % hv_path)
    out()

# ---------------------------------------------------------------- summary
out("## Targets")
out()
out("| target | measured | status |")
out("|---|---|---|")
for name, val, ok in targets:
    out("| %s | %s | %s |" % (name, val, "met" if ok else "NOT MET"))
out("| backup alerts (call-level) | - | not measured yet |")
out("| negated-threat scripts | - | not measured yet |")
out()
out("## Data sizes")
out()
for name, k in sizes:
    out("- %s: %d" % (name, k))
out()
out("Replays run (temporary files, %s):" % ("kept (--keep)" if "--keep" in args
                                             else "deleted afterwards; --keep keeps them"))
for c in replays:
    out("  %s" % c)
out()
out("elapsed: %.1f s" % (time.time() - t_start))
if strict and not all(ok for _, _, ok in targets):
    sys.exit(1)
PY
exit $rc
