"""Rule-quality evaluation, run by tests/eval/eval.sh (see tests/eval/README.md).

argv: DATA BINARY RULES TMP CMDLINE REPO [--examples N] [--strict] [--keep] [--no-sweep]

Line-level sets (Bitext, DailyDialog utterances, Davidson) give every line its own call id, so the
call logic (heat, counts, cooldowns) never changes which lines fire: a line "fires" a category when
one of its line-rule alerts (no "reason", rule id not "call.*") has that category. Whole-call sets
(Harper Valley, DailyDialog dialogues, tests/calls) are replayed as calls and read for backup
alerts and call summaries. The last section measures the signal rules: sentiment thresholds from
`earshot sentiment` scores, the bundled signal rules from the replays, and other thresholds from
replays of generated copies of the rules in TMP. Standard library only.
"""
import collections
import csv
import html
import json
import os
import re
import subprocess
import sys
import time

data, binary, rules, tmp, cmdline, repo = sys.argv[1:7]
args = sys.argv[7:]
examples = 0
strict = False
sweep = True
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
    elif a == "--no-sweep":
        sweep = False
    else:
        sys.stderr.write("eval: unknown argument %r\n" % a)
        sys.exit(2)
    i += 1

CUSTOMER_CATS = ["manager_request", "legal_threat", "abuse", "churn_threat", "public_shaming",
                 "repeat_contact", "exasperation"]
# A Bitext complaint counts as caught when the line fires any customer escalation category.
COMPLAINT_CATS = set(CUSTOMER_CATS)
t_start = time.time()
replays = []          # commands run, printed at the end
sweep_cmds = []       # replays of generated rule variants (the signals section), summarised
BT = DD = HV = CALLS = None   # what the signals section reuses from the sections before it
targets = []          # (name, measured string, met bool)
sizes = []


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


def is_line_alert(a):
    return "reason" not in a and not a["rule"].startswith("call.")


class Replay:
    def __init__(self):
        self.line_hits = collections.defaultdict(list)   # input line -> line-rule alerts
        self.alerts = []                                 # every alert, in order
        self.summaries = {}                              # call id -> call_summary record
        self.errors = 0


def show_cmd(cmd):
    return " ".join(os.path.relpath(c, repo) if c.startswith(repo + os.sep) else c for c in cmd)


def replay_file(path, summaries=True, rules_path=None, log=None, fatal=True):
    """Replays path with the rules (rules_path, default the evaluated rules); the command is
    recorded in log (default replays). A failed replay exits 2, or with fatal=False returns
    the first line of its error output (a str) instead of a Replay."""
    cmd = ([binary, "replay", "--rules", rules_path or rules] + ([] if summaries else
                                                                  ["--no-summary"]) + [path])
    (replays if log is None else log).append(show_cmd(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        if not fatal:
            return (p.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"])[0]
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        sys.stderr.write("eval: %s failed (exit %d)\n" % (" ".join(cmd), p.returncode))
        sys.exit(2)
    r = Replay()
    for raw in p.stdout.decode("utf-8").splitlines():
        rec = json.loads(raw)
        t = rec.get("type")
        if t == "alert":
            r.alerts.append(rec)
            if is_line_alert(rec) and rec.get("line"):
                r.line_hits[rec["line"]].append(rec)
        elif t == "call_summary":
            r.summaries[rec["call_id"]] = rec
    for raw in p.stderr.decode("utf-8", "replace").splitlines():
        if raw.startswith("{"):
            r.errors += 1
    if r.errors:
        out("WARNING: %d error records replaying %s" % (r.errors, path))
    return r


def replay(name, lines, summaries=True):
    """Writes protocol lines to tmp/name.jsonl and replays them."""
    path = os.path.join(tmp, name + ".jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for ln in lines:
            f.write(json.dumps(ln, ensure_ascii=False) + "\n")
    return replay_file(path, summaries)


def per_line(name, texts, speaker):
    """Replays each text as its own one-line call; returns (Replay, [(line_no, index)])."""
    lines = [{"call_id": "%s-%d" % (name, k), "speaker": speaker, "text": t, "ts": 0}
             for k, t in enumerate(texts)]
    return replay(name, lines, summaries=False)


def ratio(n, d):
    return None if d == 0 else n / d


def fmt(x, pct=False):
    if x is None:
        return "n/a"
    return "%.2f%%" % (100 * x) if pct else "%.3f" % x


def cats_of(alerts):
    return {a["category"] for a in alerts}


def fires_cat(c):
    return lambda al: c in cats_of(al)


def fires_any(cs):
    cs = set(cs)
    return lambda al: bool(cats_of(al) & cs)


def table(rows):
    out("| data | category | positives | negatives | TP | FN | FP | precision | recall | FP rate |")
    out("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        tp, fp, pos, neg = r["tp"], r["fp"], r["pos"], r["neg"]
        out("| %s | %s | %d | %d | %d | %d | %d | %s | %s | %s |" % (
            r["set"], r["category"], pos, neg, tp, pos - tp, fp,
            fmt(ratio(tp, tp + fp) if pos else None), fmt(ratio(tp, pos)),
            fmt(ratio(fp, neg), pct=True)))


def score(setname, catname, items, hits, is_pos, fires, is_neg=None):
    """items: [(line_no, record)]; is_pos/is_neg(record) -> bool (is_neg default: not is_pos);
    fires(alerts) -> bool. Lines neither positive nor negative are left out."""
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
        elif is_neg is None or is_neg(rec):
            neg += 1
            if f:
                fp += 1
                fp_lines.append((ln, rec))
    return {"set": setname, "category": catname, "pos": pos, "neg": neg, "tp": tp, "fp": fp,
            "fn_lines": fn_lines, "fp_lines": fp_lines}


def by_rule(lines, hits, want):
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


def print_rules(title, lines, hits, want, top=12):
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


def script_verdict(e, alerts, summaries, errors):
    """One call script's replay against its tests/calls/expected.json entry e: (ok, backup
    alerts, categories fired, deescalated, silent categories that fired, expected ones missing)."""
    nb = sum(1 for a in alerts if a["category"] == "backup")
    cats = cats_of(alerts)
    loud = sorted(set(e.get("silent_categories", [])) & cats)
    missing = sorted(set(e.get("fires", [])) - cats)
    de = summaries[0]["deescalated"] if len(summaries) == 1 else None
    ok = (len(summaries) == 1 and nb == e["backup"] and not loud and not missing and
          (e.get("deescalated") is None or de == e["deescalated"]) and errors == 0)
    return ok, nb, cats, de, loud, missing


def rule_count():
    p = subprocess.run([binary, "rules", "check", rules], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    return p.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]


out("# earshot rule-quality evaluation")
out()
out("command: %s" % cmdline)
out("date:    %s" % time.strftime("%Y-%m-%d"))
out("data:    %s" % (data if os.path.isdir(data) else data + " (absent: data sets SKIPPED)"))
out("binary:  %s" % binary)
out("rules:   %s (%s)" % (rules, rule_count()[0]))
out()

# ---------------------------------------------------------------- bitext
bt_path = os.path.join(data, "bitext", "bitext_cs.jsonl")
if os.path.exists(bt_path):
    recs = load_jsonl(bt_path)
    cust = [r for r in recs if r["speaker"] == "customer"]
    agent = [r for r in recs if r["speaker"] == "agent"]
    rp = per_line("bitext_customer", [r["text"] for r in cust], "customer")
    hits = rp.line_hits
    items = list(zip(range(1, len(cust) + 1), cust))
    BT = {"file": os.path.join(tmp, "bitext_customer.jsonl"), "items": items, "hits": hits,
          "alerts": rp.alerts}
    sizes.append(("Bitext customer requests", len(cust)))
    labelled = ("contact_human_agent", "delete_account", "complaint")
    plain = lambda r: r["label"] not in labelled and not r.get("offensive")
    rows = [
        score("Bitext", "manager_request", items, hits,
              lambda r: r["label"] == "contact_human_agent", fires_cat("manager_request")),
        score("Bitext", "churn_threat (delete_account)", items, hits,
              lambda r: r["label"] == "delete_account", fires_cat("churn_threat")),
        score("Bitext", "complaint (any customer category)", items, hits,
              lambda r: r["label"] == "complaint", fires_any(COMPLAINT_CATS), plain),
        score("Bitext", "abuse (offensive-tagged)", items, hits,
              lambda r: bool(r.get("offensive")), fires_cat("abuse")),
        score("Bitext", "abuse or customer.swearing (offensive-tagged)", items, hits,
              lambda r: bool(r.get("offensive")),
              lambda al: "abuse" in cats_of(al) or any(a["rule"] == "customer.swearing"
                                                      for a in al)),
        score("Bitext", "any customer category on the 24 plain intents", items, hits,
              lambda r: False, fires_any(CUSTOMER_CATS), plain),
    ]
    out("## Bitext customer requests (%d lines, speaker customer, one call per line)" % len(cust))
    out()
    out("Positives: contact_human_agent -> manager_request; delete_account -> churn_threat (weak")
    out("proxy); complaint -> any customer escalation category; offensive-tagged (W) -> abuse.")
    out("Negatives: every other line, except for complaint, whose negatives are the plain lines")
    out("(the 24 other intents, offensive-tagged lines left out), the last row's population.")
    out()
    table(rows)
    out()
    mr = rows[0]
    p = ratio(mr["tp"], mr["tp"] + mr["fp"])
    r_ = ratio(mr["tp"], mr["pos"])
    targets.append(("Bitext manager_request precision >= 0.95", fmt(p), p is not None and p >= 0.95))
    targets.append(("Bitext manager_request recall >= 0.85", fmt(r_), r_ is not None and r_ >= 0.85))
    for row, cat in zip(rows, ["manager_request", "churn_threat", None, "abuse", None, None]):
        want = (lambda a, c=cat: a["category"] == c) if cat else (lambda a: a["category"] in
                                                                   CUSTOMER_CATS)
        print_rules("%s: false positives" % row["category"], row["fp_lines"], hits, want)
        print_misses("%s: false negatives" % row["category"], row["fn_lines"], examples)
    comp = [x for x in items if x[1]["label"] == "complaint"]
    print_rules("complaint lines that fire (true positives)", comp, hits,
                lambda a: a["category"] in CUSTOMER_CATS)
    out()
    byint = collections.Counter()
    for ln, r in items:
        for c in cats_of(hits.get(ln, [])):
            byint[(r["label"], c)] += 1
    out("Lines firing, by intent and category (top 15):")
    for (lab, c), k in byint.most_common(15):
        out("  %5d  %-26s %s" % (k, lab, c))
    out()

    arp = per_line("bitext_agent", [r["text"] for r in agent], "agent")
    ahits = arp.line_hits
    aitems = list(zip(range(1, len(agent) + 1), agent))
    sizes.append(("Bitext agent replies (LLM-written)", len(agent)))
    bp = [x for x in aitems if "banned_phrase" in cats_of(ahits.get(x[0], []))]
    bpm = [x for x in aitems if any(a["category"] == "banned_phrase" and
                                    a["severity"] not in ("info", "low")
                                    for a in ahits.get(x[0], []))]
    de = sum(1 for ln, _ in aitems if "deescalation" in cats_of(ahits.get(ln, [])))
    out("## Bitext agent replies (%d LLM-written lines, speaker agent, one call per line)"
        % len(agent))
    out()
    out("| category | lines firing | FP rate / share |")
    out("|---|---:|---:|")
    out("| banned_phrase, any severity (presumed false positives) | %d | %s |"
        % (len(bp), fmt(ratio(len(bp), len(agent)), True)))
    out("| banned_phrase, medium or higher | %d | %s |"
        % (len(bpm), fmt(ratio(len(bpm), len(agent)), True)))
    out("| deescalation (expected) | %d | %s |" % (de, fmt(ratio(de, len(agent)), True)))
    out()
    print_rules("banned_phrase hits on agent replies", bp, ahits,
                lambda a: a["category"] == "banned_phrase")
    out()
else:
    out("## Bitext: SKIPPED (%s absent)" % bt_path)
    out()

# ---------------------------------------------------------------- dailydialog
dd_path = os.path.join(data, "dailydialog", "dailydialog.jsonl")
if os.path.exists(dd_path):
    allrecs = load_jsonl(dd_path)
    recs = [r for r in allrecs if r["label"] in ("anger", "no emotion")]
    rp = per_line("dailydialog", [r["text"] for r in recs], "customer")
    hits = rp.line_hits
    items = list(zip(range(1, len(recs) + 1), recs))
    DD = {"file": os.path.join(tmp, "dailydialog.jsonl"), "items": items, "hits": hits,
          "alerts": rp.alerts}
    npos = sum(1 for r in recs if r["label"] == "anger")
    sizes.append(("DailyDialog anger + no-emotion utterances", len(recs)))
    is_pos = lambda r: r["label"] == "anger"
    rows = [score("DailyDialog", c, items, hits, is_pos, fires_cat(c)) for c in CUSTOMER_CATS]
    anyrow = score("DailyDialog", "any customer category", items, hits, is_pos,
                   fires_any(CUSTOMER_CATS))
    nonex = score("DailyDialog", "any except exasperation", items, hits, is_pos,
                  fires_any(set(CUSTOMER_CATS) - {"exasperation"}))
    rows += [anyrow, nonex]
    out("## DailyDialog utterances (%d anger vs %d no-emotion, speaker customer, one call per line)"
        % (npos, len(recs) - npos))
    out()
    table(rows)
    out()
    fpr = ratio(anyrow["fp"], anyrow["neg"])
    targets.append(("DailyDialog neutral FP rate <= 1% (any customer category)",
                    "%s (%d of %d)" % (fmt(fpr, True), anyrow["fp"], anyrow["neg"]),
                    fpr is not None and fpr <= 0.01))
    print_rules("neutral lines that fire (false positives)", anyrow["fp_lines"], hits,
                lambda a: a["category"] in CUSTOMER_CATS, top=30)
    print_rules("anger lines that fire (true positives)",
                [x for x in items if is_pos(x[1]) and hits.get(x[0])], hits,
                lambda a: a["category"] in CUSTOMER_CATS, top=30)
    print_misses("anger lines that fire nothing (false negatives)", anyrow["fn_lines"], examples)
    out()

    # the neutral lines said by an agent: banned phrases
    neutral = [r for r in recs if r["label"] == "no emotion"]
    arp = per_line("dailydialog_agent", [r["text"] for r in neutral], "agent")
    aitems = list(zip(range(1, len(neutral) + 1), neutral))
    bp = [x for x in aitems if "banned_phrase" in cats_of(arp.line_hits.get(x[0], []))]
    bpm = [x for x in aitems if any(a["category"] == "banned_phrase" and
                                    a["severity"] not in ("info", "low")
                                    for a in arp.line_hits.get(x[0], []))]
    out("### The same %d neutral utterances as agent lines" % len(neutral))
    out()
    out("banned_phrase: %d lines (%s); medium or higher severity: %d (%s)"
        % (len(bp), fmt(ratio(len(bp), len(neutral)), True), len(bpm),
           fmt(ratio(len(bpm), len(neutral)), True)))
    print_rules("banned_phrase hits on neutral agent lines", bp, arp.line_hits,
                lambda a: a["category"] == "banned_phrase", top=15)
    out()

    # whole dialogues as calls: backups
    dialogs = collections.OrderedDict()
    for r in allrecs:
        dialogs.setdefault(r["dialog_id"], []).append(r)
    lines = []
    for did, turns in dialogs.items():
        turns.sort(key=lambda r: r["turn"])
        for cust_sp in ("A", "B"):
            cid = "%s/%s" % (did, cust_sp)
            for r in turns:
                lines.append({"call_id": cid, "speaker": "customer" if r["speaker"] == cust_sp
                              else "agent", "text": r["text"], "ts": 5.0 * r["turn"]})
            lines.append({"type": "end", "call_id": cid})
    crp = replay("dailydialog_calls", lines)
    kinds = collections.OrderedDict([("calm (every utterance 'no emotion')", []),
                                     ("with an anger utterance by the customer side", []),
                                     ("other (happiness, surprise, ...; no customer anger)", [])])
    for did, turns in dialogs.items():
        for cust_sp in ("A", "B"):
            cid = "%s/%s" % (did, cust_sp)
            labels = {r["label"] for r in turns}
            cust_labels = {r["label"] for r in turns if r["speaker"] == cust_sp}
            if labels == {"no emotion"}:
                k = "calm (every utterance 'no emotion')"
            elif "anger" in cust_labels:
                k = "with an anger utterance by the customer side"
            else:
                k = "other (happiness, surprise, ...; no customer anger)"
            kinds[k].append(cid)
    sizes.append(("DailyDialog dialogues replayed as calls (x2: each side as the customer)",
                  sum(len(v) for v in kinds.values())))
    backup_by_call = collections.Counter(a["call_id"] for a in crp.alerts
                                         if a["category"] == "backup")
    out("### DailyDialog dialogues as whole calls (%d dialogues x 2: each side once the customer;"
        " ts = 5 s per turn)" % len(dialogs))
    out()
    out("| calls | count | with a backup alert | share | backup alerts |")
    out("|---|---:|---:|---:|---:|")
    for k, cids in kinds.items():
        nb = sum(1 for c in cids if backup_by_call[c])
        na = sum(backup_by_call[c] for c in cids)
        out("| %s | %d | %d | %s | %d |" % (k, len(cids), nb, fmt(ratio(nb, len(cids)), True), na))
    out()
    calm_ids = set(kinds["calm (every utterance 'no emotion')"])
    calm_b = sum(1 for c in calm_ids if backup_by_call[c])
    # what drove backups on calm dialogues
    drivers = collections.Counter()
    for a in crp.alerts:
        if a["category"] == "backup" and a["call_id"] in calm_ids:
            trig = a.get("reason", {}).get("trigger", "?")
            drivers["trigger " + trig] += 1
            for h in a.get("reason", {}).get("hits", []):
                drivers[h["rule"]] += 1
    if drivers:
        out("calm dialogues with a backup: what the backup reasons name (top 12):")
        for k, n in drivers.most_common(12):
            out("  %5d  %s" % (n, k))
        shown = 0
        for a in crp.alerts:
            if shown >= examples:
                break
            if a["category"] == "backup" and a["call_id"] in calm_ids:
                out("           - %s: %s" % (a["call_id"], a["reason"].get("summary", "")[:200]))
                shown += 1
        out()
    DD["calls_file"] = os.path.join(tmp, "dailydialog_calls.jsonl")
    DD["calls_alerts"] = crp.alerts
    DD["kinds"] = kinds
    targets.append(("DailyDialog calm dialogues as calls: backup rate (info, no target)",
                    "%s (%d of %d)" % (fmt(ratio(calm_b, len(calm_ids)), True), calm_b,
                                       len(calm_ids)), True))
else:
    out("## DailyDialog: SKIPPED (%s absent)" % dd_path)
    out()

# ---------------------------------------------------------------- davidson
dv_path = os.path.join(data, "davidson", "davidson_labeled_data.csv")
if os.path.exists(dv_path):
    with open(dv_path, encoding="utf-8", newline="") as f:
        rd = csv.DictReader(f)
        recs = [{"text": html.unescape(r["tweet"]), "cls": r["class"], "id": r[""]} for r in rd]
    rp = per_line("davidson", [r["text"] for r in recs], "customer")
    hits = rp.line_hits
    items = list(zip(range(1, len(recs) + 1), recs))
    sizes.append(("Davidson tweets", len(recs)))
    cnt = collections.Counter(r["cls"] for r in recs)
    abuse = fires_cat("abuse")
    hate_or_off = lambda r: r["cls"] in ("0", "1")
    rows = [
        score("Davidson", "abuse (hate+offensive vs neither)", items, hits, hate_or_off, abuse),
        score("Davidson", "abuse (hate vs neither)", [x for x in items if x[1]["cls"] != "1"],
              hits, lambda r: r["cls"] == "0", abuse),
        score("Davidson", "abuse (offensive vs neither)", [x for x in items if x[1]["cls"] != "0"],
              hits, lambda r: r["cls"] == "1", abuse),
        score("Davidson", "abuse or exasperation (hate+offensive vs neither)", items, hits,
              hate_or_off, fires_any({"abuse", "exasperation"})),
    ]
    out("## Davidson tweets (%d: hate %d, offensive %d, neither %d; speaker customer; HTML entities"
        " decoded; one call per tweet)" % (len(recs), cnt["0"], cnt["1"], cnt["2"]))
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
    lines = []
    calls = []
    for r in recs:
        if r["dialog_id"] not in calls:
            calls.append(r["dialog_id"])
    nseg = 0
    for variant, field in (("human", "text"), ("asr", "asr_text")):
        for cid in calls:
            seg = sorted((r for r in recs if r["dialog_id"] == cid), key=lambda r: r["start_ms"])
            for r in seg:
                ln = {"call_id": "%s-%s" % (cid, variant), "speaker": r["speaker"],
                      "text": r[field] or "", "ts": r["start_ms"] / 1000.0, "seq": r["turn"]}
                if r.get("end_ms") is not None:
                    ln["end_ts"] = r["end_ms"] / 1000.0   # overtalk and monologue need it
                lines.append(ln)
                nseg += 1
            lines.append({"type": "end", "call_id": "%s-%s" % (cid, variant)})
    rp = replay("harper_valley", lines)
    sizes.append(("Harper Valley segments (3 calls x human+ASR)", nseg))
    allal = rp.alerts
    backups = [a for a in allal if a["category"] == "backup"]
    esc = [a for a in allal if a["category"] in CUSTOMER_CATS]
    HV = {"file": os.path.join(tmp, "harper_valley.jsonl"), "alerts": allal}
    out("## Harper Valley (3 calm calls, %d segments human + %d ASR, timed (ts and end_ts), real"
        " speaker roles, replayed as 6 whole calls)" % (nseg // 2, nseg // 2))
    out()
    out("| call | text | lines | alerts | backup alerts | customer escalation alerts | peak heat |"
        " deescalated | overtalk lines (agent/customer) | longest silence (s) | customer"
        " sentiment at the end |")
    out("|---|---|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for cid, s in sorted(rp.summaries.items()):
        nb = sum(1 for a in backups if a["call_id"] == cid)
        ne = sum(1 for a in esc if a["call_id"] == cid)
        base, variant = cid.rsplit("-", 1)
        ot = s.get("overtalk")
        out("| %s | %s | %d | %d | %d | %d | %.1f | %s | %s | %s | %s |" % (
            base, variant, s["lines"], s["alerts"], nb, ne, s["peak_heat"],
            str(s["deescalated"]).lower(),
            "%s/%s" % (ot.get("agent", 0), ot.get("customer", 0)) if isinstance(ot, dict) else "-",
            s.get("longest_silence", "-"), s.get("customer_sentiment", "-")))
    out()
    if allal:
        out("| call | text | speaker | ts | rule | matched |")
        out("|---|---|---|---:|---|---|")
        for a in allal:
            out("| %s | %s | %s | %s | %s | %s |" % (
                a["call_id"].rsplit("-", 1)[0], a["call_id"].rsplit("-", 1)[1], a["speaker"],
                a.get("ts", ""), a["rule"], a.get("matched", "")))
        out()
        out("| rule | alerts, human text | alerts, ASR text |")
        out("|---|---:|---:|")
        byr = collections.Counter((a["rule"], a["call_id"].rsplit("-", 1)[1]) for a in allal)
        for rule in sorted({a["rule"] for a in allal}):
            out("| %s | %d | %d |" % (rule, byr[(rule, "human")], byr[(rule, "asr")]))
        out()
    targets.append(("Harper Valley calm calls: 0 backup alerts", "%d backup, %d alerts in all"
                    % (len(backups), len(allal)), len(backups) == 0))
else:
    out("## Harper Valley: SKIPPED (%s absent)" % hv_path)
    out()

# ---------------------------------------------------------------- tests/calls
calls_dir = os.path.join(repo, "tests", "calls")
exp_path = os.path.join(calls_dir, "expected.json")
if os.path.exists(exp_path):
    with open(exp_path, encoding="utf-8") as f:
        expected = json.load(f)
    out("## Call scripts (tests/calls: %d self-written calls, replayed whole)" % len(expected))
    out()
    out("| script | kind | backup expected | backup alerts | deescalated expected | deescalated |"
        " peak heat | customer alerts | silent categories that fired | status |")
    out("|---|---|---:|---:|---|---|---:|---:|---|---|")
    nok = 0
    script_alerts = []    # (kind, alert) for the signals section
    calm_backups = 0
    neg_noisy = []
    kinds = collections.Counter()
    for name in sorted(expected):
        e = expected[name]
        rp = replay_file(os.path.join(calls_dir, name))
        s = list(rp.summaries.values())
        ok, nb, cats, de, loud, missing = script_verdict(e, rp.alerts, s, rp.errors)
        nok += ok
        kind = e.get("kind", "?")
        kinds[kind] += 1
        script_alerts += [(kind, a) for a in rp.alerts]
        if kind == "calm":
            calm_backups += nb
        if kind == "negated" and (cats & (set(CUSTOMER_CATS) | {"backup"})):
            neg_noisy.append(name)
        ncust = sum(1 for a in rp.alerts if a["category"] in CUSTOMER_CATS)
        exd = e.get("deescalated")
        out("| %s | %s | %d | %d | %s | %s | %.1f | %d | %s | %s |" % (
            name, kind, e["backup"], nb, "any" if exd is None else str(exd).lower(),
            str(de).lower(), s[0]["peak_heat"] if s else 0, ncust,
            ", ".join(loud + ["missing " + m for m in missing]) or "-", "ok" if ok else "MISMATCH"))
    out()
    out("kinds: %s" % ", ".join("%s %d" % kv for kv in sorted(kinds.items())))
    out()
    targets.append(("call scripts: every expected outcome (tests/calls/expected.json)",
                    "%d of %d" % (nok, len(expected)), nok == len(expected)))
    targets.append(("calm call scripts: 0 backup alerts", "%d" % calm_backups, calm_backups == 0))
    targets.append(("negated-threat scripts: no escalation alert, no backup",
                    "%d of %d silent" % (kinds["negated"] - len(neg_noisy), kinds["negated"]),
                    not neg_noisy))
    sizes.append(("call scripts in tests/calls", len(expected)))
    # every script in one file, call id = script name, for the signal sweeps below
    cl = []
    for name in sorted(expected):
        with open(os.path.join(calls_dir, name), encoding="utf-8") as f:
            for raw in f:
                if raw.strip():
                    rec = json.loads(raw)
                    rec["call_id"] = name
                    cl.append(rec)
    path = os.path.join(tmp, "call_scripts.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for rec in cl:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    CALLS = {"file": path, "expected": expected, "alerts": script_alerts}
else:
    out("## Call scripts: SKIPPED (%s absent)" % exp_path)
    out()

# ---------------------------------------------------------------- sentiment and timing signals
# What the signal rules (docs/rules.md, "Signals") add to the phrase rules. Sentiment scores come
# from `earshot sentiment` (--asr: the "asr" mode of the settings), so every threshold is measured
# from one scoring pass; the bundled signal rule as shipped is read from the replays above, and
# whole-call effects of other thresholds from replays of generated copies of the rules.
THRESHOLDS = [-0.3, -0.4, -0.5, -0.6, -0.7, -0.75, -0.8]
LIFT = 1.5        # the target: phrases + sentiment recall >= 1.5 x phrases alone ...
MAX_FPR = 0.02    # ... with at most 2% of the neutral lines flagged
MODES = (("vader", False), ("asr", True))
VERY_NEG = r'("type"\s*:\s*"sentiment"\s*,\s*"below"\s*:\s*)-?[0-9.]+'
TREND = (r'("type"\s*:\s*"sentiment_trend"\s*,\s*"turns"\s*:\s*)[0-9]+(\s*,\s*"drop"\s*:\s*)'
         r'[0-9.]+(\s*,\s*"below"\s*:\s*)-?[0-9.]+')
MODE_SETTING = r'("sentiment_mode"\s*:\s*)"[a-z]+"'
ALPHA_SETTING = r'("sentiment_alpha"\s*:\s*)[0-9.]+'


def signal_of(a):
    """The signal type of a signal alert (its reason names it), else None."""
    r = a.get("reason")
    return r.get("signal") if isinstance(r, dict) else None


def sentiment_scores(path, asr):
    """line number -> VADER compound of every utterance in path, from `earshot sentiment`."""
    cmd = [binary, "sentiment"] + (["--asr"] if asr else []) + [path]
    replays.append(show_cmd(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode("utf-8", "replace"))
        sys.stderr.write("eval: %s failed (exit %d)\n" % (" ".join(cmd), p.returncode))
        sys.exit(2)
    return {rec["line"]: rec["compound"] for rec in
            (json.loads(raw) for raw in p.stdout.decode("utf-8").splitlines())}


def rules_text():
    files = ([os.path.join(rules, f) for f in sorted(os.listdir(rules)) if f.endswith(".json")]
             if os.path.isdir(rules) else [rules])
    return [(f, open(f, encoding="utf-8").read()) for f in files]


def rule_variant(name, subs):
    """A copy of the rules in tmp/rules-NAME with the regular-expression substitutions subs
    [(pattern, replacement)] applied; None when one of them matches nothing."""
    d = os.path.join(tmp, "rules-" + name)
    os.makedirs(d, exist_ok=True)
    n = [0] * len(subs)
    for f, text in rules_text():
        for k, (pat, rp_) in enumerate(subs):
            text, c = re.subn(pat, rp_, text)
            n[k] += c
        with open(os.path.join(d, os.path.basename(f)), "w", encoding="utf-8") as g:
            g.write(text)
    return d if all(n) else None


def whole_calls(rdir, want):
    """Replays the whole-call sets with the rules in rdir; want(alert) selects the alerts under
    study. Returns the measures the sweep tables print (None where a set is absent)."""
    m = {}
    if DD is not None and "calls_file" in DD:
        rp = replay_file(DD["calls_file"], True, rdir, sweep_cmds, fatal=False)
        if isinstance(rp, str):
            return {"error": rp}
        sig = {a["call_id"] for a in rp.alerts if want(a)}
        bak = {a["call_id"] for a in rp.alerts if a["category"] == "backup"}
        for k, (label, cids) in zip(("calm", "anger", "other"), DD["kinds"].items()):
            m["dd_" + k] = (sum(1 for c in cids if c in sig), len(cids))
            m["dd_%s_backup" % k] = sum(1 for c in cids if c in bak)
    if HV is not None:
        rp = replay_file(HV["file"], True, rdir, sweep_cmds, fatal=False)
        if isinstance(rp, str):
            return {"error": rp}
        m["hv_sig"] = sum(1 for a in rp.alerts if want(a))
        m["hv_backup"] = sum(1 for a in rp.alerts if a["category"] == "backup")
    if CALLS is not None:
        rp = replay_file(CALLS["file"], True, rdir, sweep_cmds, fatal=False)
        if isinstance(rp, str):
            return {"error": rp}
        al = collections.defaultdict(list)
        for a in rp.alerts:
            al[a["call_id"]].append(a)
        ok = calm_b = esc_b = nesc = 0
        for name, e in CALLS["expected"].items():
            s = [rp.summaries[name]] if name in rp.summaries else []
            v = script_verdict(e, al[name], s, rp.errors)
            ok += v[0]
            if e.get("kind") == "calm":
                calm_b += v[1]
            if e.get("kind") == "escalating":
                nesc += 1
                esc_b += v[1] > 0
        m["scripts"] = (ok, len(CALLS["expected"]))
        m["calm_backup"] = calm_b
        m["esc_backup"] = (esc_b, nesc)
        m["scripts_sig"] = sum(1 for a in rp.alerts if want(a))
    return m


def refused(m):
    """The note for a variant the rule loader refused (its examples no longer pass)."""
    e = m["error"]
    e = e.split(": ", 1)[1] if ": " in e else e
    return "refused: " + (e if len(e) <= 110 else e[:110] + "...")


def pair(m, k):
    return "%d (%s)" % (m[k][0], fmt(ratio(m[k][0], m[k][1]), True)) if k in m else "n/a"


def get(m, k, f="%d"):
    if k not in m:
        return "n/a"
    v = m[k]
    return ("%d of %d" % v) if isinstance(v, tuple) else f % v


def flags_row(items, is_pos, is_neg, flag):
    """(TP, positives, FP, negatives) of flag(line_no) over items."""
    tp = pos = fp = neg = 0
    for ln, rec in items:
        f = flag(ln)
        if is_pos(rec):
            pos += 1
            tp += f
        elif is_neg(rec):
            neg += 1
            fp += f
    return tp, pos, fp, neg


def prf(tp, pos, fp, neg):
    return "%d | %s | %d | %s | %s" % (tp, fmt(ratio(tp, pos)), fp, fmt(ratio(fp, neg), True),
                                       fmt(ratio(tp, tp + fp)))


def prf_lift(tp, pos, fp, neg, base_tp):
    """prf() with the recall as a multiple of base_tp's after the recall."""
    return "%d | %s | %s | %d | %s | %s" % (
        tp, fmt(ratio(tp, pos)), "%.2f" % (tp / base_tp) if base_tp else "n/a", fp,
        fmt(ratio(fp, neg), True), fmt(ratio(tp, tp + fp)))


def meets(tp, fp, neg, base_tp):
    return tp >= LIFT * base_tp and fp <= MAX_FPR * neg


def sentiment_signals():
    bundled = {}          # what the rules as evaluated say: mode, very-negative threshold, trend
    for _, text in rules_text():
        mm = re.search(r'"sentiment_mode"\s*:\s*"([a-z]+)"', text)
        if mm:
            bundled["mode"] = mm.group(1)
        mm = re.search(r'"sentiment_alpha"\s*:\s*([0-9.]+)', text)
        if mm:
            bundled["alpha"] = float(mm.group(1))
        mm = re.search(r'"type"\s*:\s*"sentiment"\s*,\s*"below"\s*:\s*(-?[0-9.]+)', text)
        if mm:
            bundled["below"] = float(mm.group(1))
        mm = re.search(r'"type"\s*:\s*"sentiment_trend"\s*,\s*"turns"\s*:\s*([0-9]+)\s*,\s*'
                       r'"drop"\s*:\s*([0-9.]+)\s*,\s*"below"\s*:\s*(-?[0-9.]+)', text)
        if mm:
            bundled["trend"] = (int(mm.group(1)), float(mm.group(2)), float(mm.group(3)))
    bmode = bundled.get("mode", "vader")
    out("## Sentiment and timing signals")
    out()
    out("Rules as evaluated: sentiment_mode %s, sentiment_alpha %s; sentiment signal below %s;"
        " sentiment_trend turns/drop/below %s." % (
            bmode, bundled.get("alpha", "default"), bundled.get("below", "(none)"),
            "/".join(str(x) for x in bundled["trend"]) if "trend" in bundled else "(none)"))
    out("A line is flagged by \"phrases\" when a line rule of a customer category fires on it, by")
    out("\"sentiment\" when its VADER compound (`earshot sentiment`, `--asr` for the asr mode) is"
        " below")
    out("the threshold, by \"phrases or sentiment\" when either. Target (issue \"Beyond phrases\"):"
        " phrases")
    out("or sentiment reaches %.1f x the anger recall of phrases alone on DailyDialog with at most"
        " %d%%" % (LIFT, round(100 * MAX_FPR)))
    out("of the neutral lines flagged.")
    out()

    # ---- DailyDialog lines
    if DD is not None:
        items, hits = DD["items"], DD["hits"]
        is_pos = lambda r: r["label"] == "anger"
        is_neg = lambda r: r["label"] == "no emotion"
        phr = lambda ln: fires_any(CUSTOMER_CATS)(hits.get(ln, []))
        base = flags_row(items, is_pos, is_neg, phr)
        scores = {name: sentiment_scores(DD["file"], asr) for name, asr in MODES}
        shipped_lines = {a["line"] for a in DD["alerts"] if signal_of(a) == "sentiment"}
        out("### DailyDialog: %d anger vs %d neutral lines (one call per line)"
            % (base[1], base[3]))
        out()
        out("| mode | compound below | sentiment: TP | recall | FP | FP rate | precision |"
            " phrases or sentiment: TP | recall | x phrases | FP | FP rate | precision | target |")
        out("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        out("| phrases alone | - | | | | | | %s | |" % prf_lift(*(base + (base[0],))))
        ths = sorted(set(THRESHOLDS) | ({bundled["below"]} if "below" in bundled else set()),
                     reverse=True)
        for name, _ in MODES:
            sc = scores[name]
            for t in ths:
                so = flags_row(items, is_pos, is_neg, lambda ln: sc.get(ln, 0) < t)
                co = flags_row(items, is_pos, is_neg, lambda ln: phr(ln) or sc.get(ln, 0) < t)
                out("| %s | %s | %s | %s | %s |" % (
                    name, t, prf(*so), prf_lift(*(co + (base[0],))),
                    "met" if meets(co[0], co[2], co[3], base[0]) else "-"))
        shipped = flags_row(items, is_pos, is_neg,
                            lambda ln: phr(ln) or ln in shipped_lines)
        out("| bundled rules as shipped (replay: phrases or the sentiment signal) | %s (%s) | | |"
            " | | | %s | %s |" % (
                bundled.get("below", "-"), bmode, prf_lift(*(shipped + (base[0],))),
                "met" if meets(shipped[0], shipped[2], shipped[3], base[0]) else "NOT MET"))
        out()
        # the replay's signal and `earshot sentiment` must agree (same scorer, same mode)
        def differ(sc, got, t):
            """Lines flagged by one side only, and how many of them print as the threshold
            itself (the command rounds compound to 4 decimals; the signal compares it unrounded)."""
            d = {ln for ln, c in sc.items() if c < t} ^ got
            return len(d), sum(1 for ln in d if abs(sc.get(ln, 0) - t) < 0.00006)

        if "below" in bundled and bmode in scores:
            mine = {ln for ln, c in scores[bmode].items() if c < bundled["below"]}
            out("Check: the replay's sentiment signal flags %d lines, `earshot sentiment%s` below"
                " %s %d; they differ on %d (%d of them print as the threshold: rounding)." % (
                    (len(shipped_lines), " --asr" if bmode == "asr" else "", bundled["below"],
                     len(mine)) + differ(scores[bmode], shipped_lines, bundled["below"])))
            other = [n for n, _ in MODES if n != bmode][0]
            d = rule_variant("mode-" + other, [(MODE_SETTING, r'\g<1>"%s"' % other)])
            if d:
                rp = replay_file(DD["file"], False, d, sweep_cmds, fatal=False)
            if d and isinstance(rp, str):
                out("Check: the rules with \"sentiment_mode\": \"%s\" were refused: %s"
                    % (other, rp))
            elif d:
                got = {a["line"] for a in rp.alerts if signal_of(a) == "sentiment"}
                mine = {ln for ln, c in scores[other].items() if c < bundled["below"]}
                out("Check: with \"sentiment_mode\": \"%s\" the replay flags %d lines, `earshot"
                    " sentiment%s` %d; they differ on %d (%d of them print as the threshold:"
                    " rounding)." % ((other, len(got), " --asr" if other == "asr" else "",
                                      len(mine)) + differ(scores[other], got, bundled["below"])))
            out()
        targets.append(("DailyDialog anger recall, phrases + bundled sentiment signal >= %.1f x"
                        " phrases alone" % LIFT,
                        "%s (%d of %d) vs %s (%d): x%.2f" % (
                            fmt(ratio(shipped[0], shipped[1])), shipped[0], shipped[1],
                            fmt(ratio(base[0], base[1])), base[0],
                            shipped[0] / base[0] if base[0] else 0),
                        shipped[0] >= LIFT * base[0]))
        targets.append(("DailyDialog neutral lines flagged, phrases + bundled sentiment signal"
                        " <= %d%%" % round(100 * MAX_FPR),
                        "%s (%d of %d)" % (fmt(ratio(shipped[2], shipped[3]), True), shipped[2],
                                           shipped[3]), shipped[2] <= MAX_FPR * shipped[3]))

        # every threshold in steps of 0.01: where the target is met
        out("Thresholds in steps of 0.01 from -0.30 to -0.90, phrases or sentiment (target: TP >="
            " %.1f, FP <= %d):" % (LIFT * base[0], int(MAX_FPR * base[3])))
        out()
        out("| mode | thresholds meeting the target | highest recall among them | fewest false"
            " positives among them |")
        out("|---|---|---|---|")
        fine = [-k / 100.0 for k in range(30, 91)]
        for name, _ in MODES:
            sc = scores[name]
            ok = []
            for t in fine:
                co = flags_row(items, is_pos, is_neg, lambda ln: phr(ln) or sc.get(ln, 0) < t)
                if meets(co[0], co[2], co[3], base[0]):
                    ok.append((t, co))
            if not ok:
                out("| %s | none | | |" % name)
                continue
            best = max(ok, key=lambda x: (x[1][0], -x[1][2]))
            least = min(ok, key=lambda x: (x[1][2], -x[1][0]))
            out("| %s | %s to %s | %s: recall %s, FP %s | %s: recall %s, FP %s |" % (
                name, ok[0][0], ok[-1][0], best[0], fmt(ratio(best[1][0], best[1][1])),
                fmt(ratio(best[1][2], best[1][3]), True), least[0],
                fmt(ratio(least[1][0], least[1][1])), fmt(ratio(least[1][2], least[1][3]), True)))
        out()
        # what the shipped sentiment signal flags on neutral lines, by the words that carried it
        if shipped_lines:
            words = collections.Counter()
            twords = collections.Counter()
            for a in DD["alerts"]:
                if signal_of(a) == "sentiment":
                    key = " ".join(sorted({w["word"].lower() for w in a["reason"].get("words", [])
                                           if w.get("valence", 0) < 0})) or "?"
                    rec = items[a["line"] - 1][1]
                    (twords if is_pos(rec) else words)[key] += 1
            out("Negative words of the lines the bundled sentiment signal flags (top 15): neutral"
                " lines: %s." % ", ".join("%s %d" % kv for kv in words.most_common(15)))
            out("Anger lines: %s." % ", ".join("%s %d" % kv for kv in twords.most_common(15)))
            out()
    else:
        out("### DailyDialog: SKIPPED (data absent)")
        out()

    # ---- Bitext complaints
    if BT is not None:
        items, hits = BT["items"], BT["hits"]
        labelled = ("contact_human_agent", "delete_account", "complaint")
        is_pos = lambda r: r["label"] == "complaint"
        plain = lambda r: r["label"] not in labelled and not r.get("offensive")
        other = lambda r: r["label"] != "complaint"
        phr = lambda ln: fires_any(CUSTOMER_CATS)(hits.get(ln, []))
        shipped_lines = {a["line"] for a in BT["alerts"] if signal_of(a) == "sentiment"}
        base = flags_row(items, is_pos, plain, phr)
        out("### Bitext: %d complaint requests vs %d plain requests (24 intents; one call per line)"
            % (base[1], base[3]))
        out()
        out("| mode | compound below | sentiment: TP | recall | FP | FP rate | precision |"
            " FP on every non-complaint line | phrases or sentiment: TP | recall | FP | FP rate |"
            " precision |")
        out("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        out("| phrases alone | - | | | | | | | %s |" % prf(*base))
        scores = {name: sentiment_scores(BT["file"], asr) for name, asr in MODES}
        ths = sorted(set([-0.05] + THRESHOLDS) | ({bundled["below"]} if "below" in bundled
                                                   else set()), reverse=True)
        for name, _ in MODES:
            sc = scores[name]
            for t in ths:
                so = flags_row(items, is_pos, plain, lambda ln: sc.get(ln, 0) < t)
                ao = flags_row(items, lambda r: False, other, lambda ln: sc.get(ln, 0) < t)
                co = flags_row(items, is_pos, plain, lambda ln: phr(ln) or sc.get(ln, 0) < t)
                out("| %s | %s | %s | %d of %d | %s |" % (name, t, prf(*so), ao[2], ao[3],
                                                         prf(*co)))
        sh = flags_row(items, is_pos, plain, lambda ln: phr(ln) or ln in shipped_lines)
        sha = flags_row(items, lambda r: False, other, lambda ln: ln in shipped_lines)
        out("| bundled rules as shipped (replay) | %s (%s) | | | | | | %d of %d (signal) | %s |" % (
            bundled.get("below", "-"), bmode, sha[2], sha[3], prf(*sh)))
        out()
    else:
        out("### Bitext: SKIPPED (data absent)")
        out()

    # ---- every signal rule as shipped, on the line-level sets and in whole calls
    out("### Signal alerts with the rules as evaluated")
    out()
    out("| signal rule | DailyDialog anger lines | DailyDialog neutral lines | Bitext lines |"
        " DailyDialog calm calls | DailyDialog calls with customer anger | other DailyDialog"
        " calls | Harper Valley (6 calls) | call scripts: calm / negated / de-escalated /"
        " escalating |")
    out("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    per = collections.defaultdict(lambda: collections.defaultdict(set))
    if DD is not None:
        for a in DD["alerts"]:
            if signal_of(a):
                lab = DD["items"][a["line"] - 1][1]["label"]
                per[a["rule"]]["dd_" + ("anger" if lab == "anger" else "neutral")].add(a["line"])
        if "calls_alerts" in DD:
            kind_of = {}
            for k, (label, cids) in zip(("calm", "anger", "other"), DD["kinds"].items()):
                for c in cids:
                    kind_of[c] = k
            for a in DD["calls_alerts"]:
                if signal_of(a):
                    per[a["rule"]]["ddc_" + kind_of.get(a["call_id"], "other")].add(a["call_id"])
    if BT is not None:
        for a in BT["alerts"]:
            if signal_of(a):
                per[a["rule"]]["bt"].add(a["line"])
    if HV is not None:
        for a in HV["alerts"]:
            if signal_of(a):
                per[a["rule"]]["hv"].add((a["call_id"], a.get("line"), a.get("ts")))
    if CALLS is not None:
        for kind, a in CALLS["alerts"]:
            if signal_of(a):
                per[a["rule"]]["calls_" + kind].add(a["call_id"])
    nk = {}
    if DD is not None and "kinds" in DD:
        for k, (label, cids) in zip(("calm", "anger", "other"), DD["kinds"].items()):
            nk[k] = len(cids)
    for rule in sorted(per):
        d = per[rule]
        cell = lambda k, n=None: ("%d (%s)" % (len(d[k]), fmt(ratio(len(d[k]), n), True))
                                  if n else "%d" % len(d[k]))
        out("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            rule, cell("dd_anger"), cell("dd_neutral"), cell("bt"),
            cell("ddc_calm", nk.get("calm")), cell("ddc_anger", nk.get("anger")),
            cell("ddc_other", nk.get("other")), cell("hv"),
            " / ".join(cell("calls_" + k) for k in ("calm", "negated", "deescalated",
                                                    "escalating"))))
    if not per:
        out("| (no signal alert) | | | | | | | | |")
    out()
    out("Line-level sets are one call per line, so only per-line signals can fire there (sentiment,"
        " and monologue on a long line); the whole-call columns count calls with at least one"
        " alert (call scripts: scripts with one).")
    out()
    if HV is not None:
        hv_scores = {}
        for name, asr in MODES:
            sc = sentiment_scores(HV["file"], asr)
            hv_scores[name] = min(sc.values()) if sc else None
        out("Harper Valley: the lowest compound of any line is %s (vader) and %s (asr), so no"
            " sentiment threshold below that can fire on these calm calls." % (
                hv_scores["vader"], hv_scores["asr"]))
        out()

    if not sweep:
        out("(threshold sweeps left out: --no-sweep)")
        out()
        return
    # ---- sweeps over generated copies of the rules, whole calls
    out("### Sentiment signal threshold on whole calls (generated copies of the rules,"
        " `below` changed)")
    out()
    out("| below | DailyDialog calm calls with the signal | with customer anger | calm calls with a"
        " backup | anger calls with a backup | other calls with a backup | Harper Valley: signal"
        " alerts | backups | call scripts as expected | calm scripts: backups | escalating scripts"
        " with a backup |")
    out("|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
    ths = sorted(set(THRESHOLDS) | ({bundled["below"]} if "below" in bundled else set()),
                 reverse=True)
    for t in ths:
        d = rule_variant("below%s" % t, [(VERY_NEG, r"\g<1>%s" % t)])
        if d is None:
            out("| %s | no `sentiment` signal rule in the rules: sweep skipped | | | | | | | | | |"
                % t)
            break
        m = whole_calls(d, lambda a: signal_of(a) == "sentiment")
        if "error" in m:
            out("| %s | %s | | | | | | | | | |" % (t, refused(m)))
            continue
        out("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            t, " (bundled)" if t == bundled.get("below") else "", pair(m, "dd_calm"),
            pair(m, "dd_anger"), get(m, "dd_calm_backup"), get(m, "dd_anger_backup"),
            get(m, "dd_other_backup"), get(m, "hv_sig"), get(m, "hv_backup"), get(m, "scripts"),
            get(m, "calm_backup"),
            get(m, "esc_backup")))
    out()
    if "trend" in bundled:
        out("### Sentiment trend on whole calls (generated copies of the rules)")
        out()
        out("| turns | drop | below | alpha | DailyDialog calm calls firing | with customer anger |"
            " other | anger share / calm share | calm calls with a backup | Harper Valley: trend"
            " alerts | call scripts: trend alerts | as expected |")
        out("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        alpha = bundled.get("alpha", 0.5)
        grid = [bundled["trend"] + (alpha,)]
        grid += [(3, 0.5, be, alpha) for be in (-0.2, -0.3, -0.4)]
        grid += [(3, 0.4, be, alpha) for be in (-0.3, -0.4, -0.5)]
        grid += [(3, 0.3, -0.4, alpha), (3, 0.7, -0.3, alpha), (2, 0.4, -0.4, alpha),
                 (2, 0.5, -0.2, alpha)]
        grid += [bundled["trend"] + (a_,) for a_ in (0.3, 0.7) if a_ != alpha]
        seen = set()
        for g in grid:
            if g in seen:
                continue
            seen.add(g)
            subs = [(TREND, r"\g<1>%d\g<2>%s\g<3>%s" % g[:3])]
            if g[3] != alpha:
                subs.append((ALPHA_SETTING, r"\g<1>%s" % g[3]))
            d = rule_variant("trend%d_%s_%s_%s" % g, subs)
            if d is None:
                out("| %d | %s | %s | %s | (the setting is absent: skipped) | | | | | | | |" % g)
                continue
            m = whole_calls(d, lambda a: signal_of(a) == "sentiment_trend")
            if "error" in m:
                out("| %d | %s | %s | %s | %s | | | | | | | |" % (g + (refused(m),)))
                continue
            sh = "n/a"
            if "dd_calm" in m and m["dd_calm"][0]:
                sh = "%.1f" % ((m["dd_anger"][0] / m["dd_anger"][1]) /
                               (m["dd_calm"][0] / m["dd_calm"][1]))
            out("| %d | %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                g[0], g[1], g[2], g[3], " (bundled)" if g == grid[0] else "",
                pair(m, "dd_calm"), pair(m, "dd_anger"), pair(m, "dd_other"), sh,
                get(m, "dd_calm_backup"), get(m, "hv_sig"), get(m, "scripts_sig"),
                get(m, "scripts")))
        out()


if BT is not None or DD is not None or HV is not None or CALLS is not None:
    sentiment_signals()

# ---------------------------------------------------------------- summary
out("## Targets")
out()
out("| target | measured | status |")
out("|---|---|---|")
for name, val, ok in targets:
    out("| %s | %s | %s |" % (name, val, "met" if ok else "NOT MET"))
out()
out("## Data sizes")
out()
for name, k in sizes:
    out("- %s: %d" % (name, k))
out()
out("Commands run (temporary files in %s, %s):" % (
    tmp, "kept (--keep)" if "--keep" in args else "deleted afterwards; --keep keeps them"))
script_cmds = [c for c in replays if " tests/calls/" in c.replace(os.sep, "/")]
for c in replays:
    if c not in script_cmds:
        out("  %s" % c)
if script_cmds:
    out("  ... and %d replays of the call scripts (%s ...)" % (len(script_cmds), script_cmds[0]))
if sweep_cmds:
    out("  ... and %d replays with generated copies of the rules (%s/rules-*), e.g. %s"
        % (len(sweep_cmds), tmp, sweep_cmds[0]))
out()
out("elapsed: %.1f s" % (time.time() - t_start))
if strict and not all(ok for _, _, ok in targets):
    sys.exit(1)
