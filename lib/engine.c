/*
 * engine.c: the call logic: heat, backup, counts, sequences and noise
 * control (engine.h, docs/rules.md "Call logic").
 */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "error.h"
#include "numfmt.h"
#include "redact.h"
#include "rules_int.h"

#define ES_NCAT_MAX 24      /* categories counted per call */
#define ES_SIG_RUN 8        /* lines remembered for rapid_fire and sentiment_trend */
#define ES_TURN_JOIN 1.0    /* seconds: a segment this close to the speaker's last continues its turn */
#define ES_REASON_CAP 4096  /* bytes of one reason (enough for ES_REASON_HITS hits) */

/* A hit the call remembers. */
struct rhit {
  uint32_t rule;      /* line rule index; UINT32_MAX: its rule was unloaded */
  uint32_t line;      /* the call's line number (1-based) */
  uint32_t turns;     /* lines of `speaker` up to and including it */
  uint8_t speaker;
  uint8_t wlen;
  double t;
  double delta;       /* heat it added (0 when its rule did not fire) */
  char words[ES_WORDS_MAX];
};

/* What a call keeps about one rule that hit or fired. */
struct rstate {
  uint32_t rule;
  uint32_t fires;       /* times it fired */
  uint32_t sent;        /* alerts sent */
  uint32_t nwin;        /* hits waiting in the count window */
  double last_sent;     /* call time of the last sent alert */
  double *win;          /* owned, info.count entries (count > 1 only) */
  /* a "not_followed_by" deadline */
  int pending;
  double pend_t;
  uint32_t pend_line;
  uint32_t pend_turns;  /* turns of the clause's speaker at the trigger */
  struct rhit pend_hit; /* the trigger, for the reason */
};

struct es_callstate {
  const struct es_rules *rules; /* the set rule indexes refer to */
  double t;                     /* latest call time */
  double heat, peak, t_peak;
  double last_esc_t;            /* last customer escalation hit */
  uint32_t lines;
  uint32_t turns[3];            /* lines by speaker (ANY: all) */
  uint64_t hits, sent, suppressed;
  uint32_t by_cat[ES_NCAT_MAX];
  unsigned armed : 1, backup_raised : 1, deesc_after_peak : 1, has_esc : 1;
  struct rhit *recent;          /* owned, ES_RECENT, allocated at the first hit */
  uint32_t nrecent;             /* hits remembered in all; ring at nrecent % ES_RECENT */
  uint32_t npending;            /* rstates with a "not_followed_by" deadline pending */
  /* timing and sentiment signals */
  double last_end[3];           /* call time the latest line of each speaker ended, when the
                                   client said (end_ts); NAN: not known */
  double prev_end;              /* the latest line of anyone: its end (or start); NAN: none */
  uint32_t dead_air_line;       /* lines when dead air was last reported (not twice per gap) */
  uint32_t run_len[3];          /* lines in a row of each speaker, the other silent */
  double run_t[3][ES_SIG_RUN];  /* their start times, a ring */
  double talk[3];               /* seconds each speaker talked in its current run */
  double ewma[3];               /* rolling sentiment per speaker; NAN: none yet */
  double hist[3][ES_SIG_RUN];   /* ewma after each of the speaker's lines, a ring */
  uint32_t nhist[3];
  uint32_t overtalk[3], dead_airs;
  double longest_silence;
  struct rstate *rs;            /* owned, sorted by rule */
  uint32_t nrs, caprs;
};

struct rbuf {
  char buf[ES_REASON_CAP];
  size_t pos;
  int full;
};

struct es_engine {
  const struct es_rules *rules;
  struct es_fire *fires;        /* owned, cap_fires */
  size_t *reason_at;            /* owned, cap_fires: each fire's reason, offset + 1
                                   in `reasons` (0: none); pointers once done */
  size_t nfires, cap_fires;
  char *reasons;                /* owned: the fires' reasons, back to back */
  size_t reasons_len, reasons_cap;
  uint32_t *seen;               /* owned, rules->n: call rules considered this line */
  uint32_t seen_gen;
  int no_heat;                  /* the fire being made adds no heat */
  const char *sig_reason;       /* members a signal adds to its fire's reason, or NULL */
  int between;                  /* a signal between lines: the last line counts as earlier */
  struct rbuf rb;               /* the reason being written (one at a time) */
  struct es_sentiment_scratch *senti; /* owned, when the rules use sentiment */
  /* The rule set's signal rules sorted once, so a line looks only at those
   * that can apply to it: line signals (all but dead air) by the speaker of
   * the line (ES_SPEAKER_ANY: a line of unknown speaker, which only rules
   * for any speaker take), each list in rule order. */
  uint32_t *sig_for[3];         /* owned as one block, nsig_for[sp] each */
  uint32_t nsig_for[3];
  uint32_t *dead_air;           /* in the same block: the dead air rules, in rule order */
  uint32_t ndead_air;
  double dead_air_min;          /* a silence shorter than this fires none of them */
  int at_end;                   /* es_engine_end() is running */
  char cats[ES_NCAT_MAX * 48 + 8];
  int oom;
};

/* ---- engine and state lifetime --------------------------------------- */

static int speaker_ok(enum es_speaker want, enum es_speaker got) {
  return want == ES_SPEAKER_ANY || want == got;
}

/* Fills the engine's signal lists (e->sig_for[0] holds 4 * nsignal + 1). */
static void index_signals(struct es_engine *e) {
  const struct es_rules *rules = e->rules;
  uint32_t *at = e->sig_for[0];

  for (int sp = 0; sp < 3; sp++) {
    e->sig_for[sp] = at;
    e->nsig_for[sp] = 0;
    for (uint32_t k = 0; k < rules->nsignal; k++) {
      const struct es_rule_info *info = &rules->rules[rules->signal_rules[k]].info;
      if (info->signal != ES_SIG_DEAD_AIR && speaker_ok(info->speaker, (enum es_speaker)sp))
        at[e->nsig_for[sp]++] = rules->signal_rules[k];
    }
    at += e->nsig_for[sp];
  }
  e->dead_air = at;
  e->ndead_air = 0;
  e->dead_air_min = INFINITY;
  for (uint32_t k = 0; k < rules->nsignal; k++) {
    const struct es_rule_info *info = &rules->rules[rules->signal_rules[k]].info;
    if (info->signal != ES_SIG_DEAD_AIR)
      continue;
    e->dead_air[e->ndead_air++] = rules->signal_rules[k];
    /* A rule fires unless gap < seconds: with a NAN threshold, always. */
    if (isnan(info->sig_seconds) || info->sig_seconds < e->dead_air_min)
      e->dead_air_min = isnan(info->sig_seconds) ? -INFINITY : info->sig_seconds;
  }
}

struct es_engine *es_engine_new(const struct es_rules *rules) {
  struct es_engine *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  e->rules = rules;
  e->seen = calloc(rules->n ? rules->n : 1, sizeof(*e->seen));
  e->sig_for[0] = malloc((4 * (size_t)rules->nsignal + 1) * sizeof(uint32_t));
  if (rules->sentiment)
    e->senti = es_sentiment_scratch_new(rules->opts.max_line_bytes);
  if (e->seen == NULL || e->sig_for[0] == NULL || (rules->sentiment && e->senti == NULL)) {
    es_engine_free(e);
    return NULL;
  }
  index_signals(e);
  return e;
}

void es_engine_free(struct es_engine *e) {
  if (e == NULL)
    return;
  free(e->fires);
  free(e->reason_at);
  free(e->reasons);
  free(e->seen);
  free(e->sig_for[0]);
  es_sentiment_scratch_free(e->senti);
  free(e);
}

void es_callstate_free(struct es_callstate *cs) {
  if (cs == NULL)
    return;
  for (uint32_t i = 0; i < cs->nrs; i++)
    free(cs->rs[i].win);
  free(cs->rs);
  free(cs->recent);
  free(cs);
}

size_t es_callstate_bytes(const struct es_callstate *cs) {
  size_t n;
  if (cs == NULL)
    return 0;
  n = sizeof(*cs) + cs->caprs * sizeof(*cs->rs) + (cs->recent ? ES_RECENT * sizeof(*cs->recent) : 0);
  for (uint32_t i = 0; i < cs->nrs; i++)
    if (cs->rs[i].win)
      n += cs->rules->rules[cs->rs[i].rule].info.count * sizeof(double);
  return n;
}

double es_callstate_heat(const struct es_callstate *cs) { return cs ? cs->heat : 0; }

static struct es_callstate *state_new(const struct es_rules *rules, double t) {
  struct es_callstate *cs = calloc(1, sizeof(*cs));
  if (cs == NULL)
    return NULL;
  cs->rules = rules;
  cs->t = t;
  cs->armed = 1;
  cs->prev_end = NAN;
  for (int i = 0; i < 3; i++) {
    cs->last_end[i] = NAN;
    cs->ewma[i] = NAN;
  }
  return cs;
}

/* The rule's record, created when `create` (NULL when out of memory or
 * absent). */
static struct rstate *rstate(struct es_engine *e, struct es_callstate *cs, uint32_t rule,
                             int create) {
  uint32_t lo = 0, hi = cs->nrs;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (cs->rs[mid].rule < rule)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < cs->nrs && cs->rs[lo].rule == rule)
    return &cs->rs[lo];
  if (!create)
    return NULL;
  if (cs->nrs == cs->caprs) {
    uint32_t cap = cs->caprs ? cs->caprs * 2 : 4;
    struct rstate *v = realloc(cs->rs, cap * sizeof(*v));
    if (v == NULL) {
      e->oom = 1;
      return NULL;
    }
    cs->rs = v;
    cs->caprs = cap;
  }
  const struct es_rule_info *info = &e->rules->rules[rule].info;
  double *win = NULL;
  if (info->count > 1) {
    win = calloc(info->count, sizeof(*win));
    if (win == NULL) {
      e->oom = 1;
      return NULL;
    }
  }
  memmove(&cs->rs[lo + 1], &cs->rs[lo], (cs->nrs - lo) * sizeof(*cs->rs));
  memset(&cs->rs[lo], 0, sizeof(*cs->rs));
  cs->rs[lo].rule = rule;
  cs->rs[lo].win = win;
  cs->nrs++;
  return &cs->rs[lo];
}

/* ---- output ------------------------------------------------------------ */

/* The engine's reason buffer, emptied. Reasons are written one at a time
 * and copied out by keep_reason() before the next one starts. */
static struct rbuf *rb_begin(struct es_engine *e) {
  e->rb.pos = 0;
  e->rb.full = 0;
  return &e->rb;
}

static void rb_put(struct rbuf *b, const char *s) {
  size_t n = strlen(s);
  if (b->full || b->pos + n >= sizeof(b->buf)) {
    b->full = 1;
    return;
  }
  memcpy(b->buf + b->pos, s, n);
  b->pos += n;
}

/* "%.15g" of v in buf, returned for use as a "%s" argument. Reasons are
 * full of such numbers and glibc's conversion of a double costs thousands
 * of instructions; es_fmt_g15() writes the same text without it for the
 * common ones (multiples of 0.001: call times, scores, settings, figures
 * rounded by r2()). */
static const char *g15(char buf[ES_FMT_DOUBLE_MAX], double v) {
  es_fmt_g15(v, buf);
  return buf;
}

/* Puts `name` (a literal) and v as "%.15g". */
static void rb_num(struct rbuf *b, const char *name, double v) {
  char num[ES_FMT_DOUBLE_MAX];
  rb_put(b, name);
  rb_put(b, g15(num, v));
}

static void rb_str(struct rbuf *b, const char *s, size_t n) {
  if (b->full || es_json_str(b->buf, sizeof(b->buf) - 1, &b->pos, s, n) != 0)
    b->full = 1;
}

/* Rounds for display: reasons are read by people. */
static double r2(double v) { return round(v * 100) / 100; }

/* {"rule":...,"category":...,"speaker":...,"words":...,"t":...,"score":...} */
static void rb_hit(struct rbuf *b, const struct es_rules *rules, const struct rhit *h,
                   double weight, int with_weight) {
  const struct es_rule_info *info =
      h->rule < rules->n ? &rules->rules[h->rule].info : NULL;
  rb_put(b, "{\"rule\":");
  rb_str(b, info ? info->id : "(unloaded)", strlen(info ? info->id : "(unloaded)"));
  if (info) {
    rb_put(b, ",\"category\":");
    rb_str(b, info->category, strlen(info->category));
  }
  rb_put(b, ",\"speaker\":\"");
  rb_put(b, es_speaker_name((enum es_speaker)h->speaker));
  rb_put(b, "\",\"words\":");
  rb_str(b, h->words, h->wlen);
  rb_num(b, ",\"t\":", r2(h->t));
  rb_num(b, ",\"score\":", r2(h->delta));
  if (with_weight)
    rb_num(b, ",\"weight\":", r2(weight));
  rb_put(b, "}");
}

/* Keeps the reason in the engine's arena; returns its offset + 1, or 0. */
static size_t keep_reason(struct es_engine *e, struct rbuf *b) {
  if (b->full)
    return 0;
  if (e->reasons_len + b->pos + 1 > e->reasons_cap) {
    size_t cap = e->reasons_cap ? e->reasons_cap : 8192;
    while (cap < e->reasons_len + b->pos + 1)
      cap *= 2;
    char *v = realloc(e->reasons, cap);
    if (v == NULL) {
      e->oom = 1;
      return 0;
    }
    e->reasons = v;
    e->reasons_cap = cap;
  }
  memcpy(e->reasons + e->reasons_len, b->buf, b->pos);
  e->reasons[e->reasons_len + b->pos] = '\0';
  e->reasons_len += b->pos + 1;
  return e->reasons_len - b->pos;
}

static struct es_fire *push_fire(struct es_engine *e) {
  if (e->nfires == e->cap_fires) {
    size_t cap = e->cap_fires ? e->cap_fires * 2 : 16;
    struct es_fire *v = realloc(e->fires, cap * sizeof(*v));
    size_t *at = v ? realloc(e->reason_at, cap * sizeof(*at)) : NULL;
    if (v)
      e->fires = v;
    if (at == NULL) {
      e->oom = 1;
      return NULL;
    }
    e->reason_at = at;
    e->cap_fires = cap;
  }
  e->reason_at[e->nfires] = 0;
  struct es_fire *f = &e->fires[e->nfires++];
  memset(f, 0, sizeof(*f));
  return f;
}

/* ---- heat ---------------------------------------------------------------- */

/* Moves the call to time t: heat decays, backup may re-arm. */
static void advance(struct es_callstate *cs, const struct es_call_settings *set, double t) {
  if (!(t > cs->t)) /* also NAN */
    return;
  /* A cold call stays cold: 0 times any decay (half_life > 0) is 0. */
  if (cs->heat != 0)
    cs->heat *= exp2(-(t - cs->t) / set->half_life);
  if (cs->heat < 1e-9)
    cs->heat = 0;
  cs->t = t;
  if (!cs->armed && cs->heat < set->rearm_threshold)
    cs->armed = 1;
}

static struct rhit *remember(struct es_engine *e, struct es_callstate *cs, uint32_t rule,
                             enum es_speaker sp, const char *text, size_t len, uint32_t start,
                             uint32_t end) {
  if (cs->recent == NULL && (cs->recent = calloc(ES_RECENT, sizeof(*cs->recent))) == NULL) {
    e->oom = 1;
    return NULL;
  }
  struct rhit *h = &cs->recent[cs->nrecent++ % ES_RECENT];
  size_t n = 0;
  if (end > start && end <= len) {
    /* The words go into reasons, which are masked later on their own
     * (store, feed, webhooks): a cut, at ES_WORDS_MAX or where the match
     * ends, that left part of a card number or an address would leave it
     * unrecognised, and readable. So the cut keeps such runs whole or
     * drops them (and the spaces before them). */
    size_t want = end - start < ES_WORDS_MAX ? end - start : ES_WORDS_MAX;
    n = es_redact_cut(text + start, len - start, want);
    while (n < want && n > 0 && (text[start + n - 1] == ' ' || text[start + n - 1] == '\t'))
      n--;
  }
  h->rule = rule;
  h->line = cs->lines;
  h->turns = cs->turns[sp];
  h->speaker = (uint8_t)sp;
  h->t = cs->t;
  h->delta = 0;
  h->wlen = (uint8_t)n;
  if (n)
    memcpy(h->words, text + start, n);
  return h;
}

static int in_ref(const struct es__ref *ref, uint32_t rule) {
  size_t lo = 0, hi = ref->nrules;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ref->rules[mid] < rule)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < ref->nrules && ref->rules[lo] == rule;
}

static const char *speaker_word(enum es_speaker sp) {
  return sp == ES_SPEAKER_ANY ? "any" : es_speaker_name(sp);
}

/* The backup alert: heat crossed the line, or `why_rule` (a rule with
 * "backup": true) fired. */
static void raise_backup(struct es_engine *e, struct es_callstate *cs, const struct rhit *trig,
                         uint32_t why_rule) {
  const struct es_call_settings *set = &e->rules->call;
  struct rbuf *b = rb_begin(e);
  const struct rhit *list[ES_RECENT];
  double weight[ES_RECENT];
  size_t n = 0, have = cs->recent == NULL ? 0 : cs->nrecent < ES_RECENT ? cs->nrecent : ES_RECENT;
  struct es_fire *f;
  size_t at;

  /* The hits still carrying heat, heaviest first. */
  for (size_t i = 0; i < have; i++) {
    const struct rhit *h = &cs->recent[i];
    double w = h->delta * exp2(-(cs->t - h->t) / set->half_life);
    if (h->delta <= 0 || w < 0.05 * set->backup_threshold)
      continue;
    size_t k = n++;
    while (k > 0 && weight[k - 1] < w) {
      weight[k] = weight[k - 1];
      list[k] = list[k - 1];
      k--;
    }
    weight[k] = w;
    list[k] = h;
  }
  if (n > ES_REASON_HITS)
    n = ES_REASON_HITS;

  rb_put(b, "{\"trigger\":");
  if (why_rule != UINT32_MAX) {
    const char *id = e->rules->rules[why_rule].info.id;
    rb_put(b, "\"rule\",\"rule\":");
    rb_str(b, id, strlen(id));
  } else {
    rb_put(b, "\"heat\"");
  }
  rb_num(b, ",\"heat\":", r2(cs->heat));
  rb_num(b, ",\"threshold\":", set->backup_threshold);
  rb_num(b, ",\"t\":", r2(cs->t));
  /* One sentence a supervisor reads at a glance. */
  {
    char line[1024];
    size_t p = 0;
    if (why_rule != UINT32_MAX)
      p += (size_t)snprintf(line + p, sizeof(line) - p, "%s fired (calls for backup at once)",
                            e->rules->rules[why_rule].info.id);
    else
      p += (size_t)snprintf(line + p, sizeof(line) - p, "heat %.1f reached %.1f", cs->heat,
                            set->backup_threshold);
    for (size_t i = 0; i < n && p < sizeof(line) - 1; i++) {
      const struct rhit *h = list[i];
      const struct es_rule_info *info =
          h->rule < e->rules->n ? &e->rules->rules[h->rule].info : NULL;
      p += (size_t)snprintf(line + p, sizeof(line) - p, "%s %s \"%.*s\" (%s +%.1f at %.1fs)",
                            i ? ";" : ":", speaker_word((enum es_speaker)h->speaker),
                            (int)h->wlen, h->words, info ? info->category : "?", h->delta, h->t);
    }
    if (p >= sizeof(line))
      p = sizeof(line) - 1;
    rb_put(b, ",\"summary\":");
    rb_str(b, line, p);
  }
  rb_put(b, ",\"hits\":[");
  for (size_t i = 0; i < n; i++) {
    if (i)
      rb_put(b, ",");
    rb_hit(b, e->rules, list[i], weight[i], 1);
  }
  rb_put(b, "]}");

  f = push_fire(e);
  at = keep_reason(e, b);
  if (f == NULL)
    return;
  f->kind = ES_FIRE_BACKUP;
  f->rule = &e->rules->backup;
  f->rule_idx = UINT32_MAX;
  f->speaker = trig ? (enum es_speaker)trig->speaker : ES_SPEAKER_ANY;
  f->t = cs->t;
  f->heat = cs->heat;
  f->suppressed = ES_SENT;
  e->reason_at[f - e->fires] = at;
  cs->armed = 0;
  cs->backup_raised = 1;
  cs->sent++;
}

/* Rule q fires. trig: the hit behind it (remembered); span: words on the
 * current line, or NULL. extra: reason text to add (a JSON object's
 * members without braces), or NULL. */
static void fire(struct es_engine *e, struct es_callstate *cs, uint32_t q, struct rhit *trig,
                 const struct es_hit *span, enum es_fire_kind kind, const char *extra) {
  const struct es_call_settings *set = &e->rules->call;
  const struct es__rule *r = &e->rules->rules[q];
  struct rstate *st = rstate(e, cs, q, 1);
  double delta = r->info.score;
  int weighted = 0;
  struct es_fire *f;

  if (st == NULL)
    return;
  if (e->no_heat)
    delta = 0;
  if (kind == ES_FIRE_LINE && r->info.kind == ES_RULE_LINE && delta > 0 && trig &&
      trig->speaker == ES_SPEAKER_AGENT &&
      cs->has_esc && cs->t - cs->last_esc_t <= set->escalation_window) {
    delta *= set->escalation_multiplier;
    weighted = 1;
  }
  cs->heat += delta;
  if (cs->heat < 0)
    cs->heat = 0;
  if (cs->heat > cs->peak) {
    cs->peak = cs->heat;
    cs->t_peak = cs->t;
    cs->deesc_after_peak = 0;
  } else if (delta < 0 && cs->peak > 0) {
    cs->deesc_after_peak = 1;
  }
  if (trig)
    trig->delta += delta;
  if (r->category_idx >= 0 && r->category_idx < ES_NCAT_MAX && r->info.kind == ES_RULE_CALL)
    cs->by_cat[r->category_idx]++;

  f = push_fire(e);
  if (f == NULL)
    return;
  f->kind = kind;
  f->rule = &r->info;
  f->rule_idx = q;
  f->speaker = trig ? (enum es_speaker)trig->speaker : r->info.speaker;
  if (span) {
    f->on_line = 1;
    f->match_start = span->start;
    f->match_end = span->end;
  }
  f->t = cs->t;
  f->delta = delta;
  f->heat = cs->heat;
  st->fires++;
  if (st->sent && r->info.cooldown > 0 && cs->t - st->last_sent < r->info.cooldown)
    f->suppressed = ES_SUPPRESSED_COOLDOWN;
  else if (r->info.max_per_call && st->sent >= r->info.max_per_call)
    f->suppressed = ES_SUPPRESSED_MAX;
  if (f->suppressed) {
    cs->suppressed++;
  } else {
    st->sent++;
    st->last_sent = cs->t;
    cs->sent++;
  }
  if (kind != ES_FIRE_LINE || weighted || extra || e->sig_reason) {
    struct rbuf *b = rb_begin(e);
    size_t at;
    rb_put(b, "{");
    if (e->sig_reason) {
      rb_put(b, e->sig_reason);
      if (extra)
        rb_put(b, ",");
    }
    if (extra)
      rb_put(b, extra);
    if (trig) {
      rb_put(b, extra || e->sig_reason ? ",\"trigger\":" : "\"trigger\":");
      rb_hit(b, e->rules, trig, 0, 0);
    }
    if (weighted) {
      rb_put(b, extra || trig ? "," : "");
      rb_num(b, "\"escalation_multiplier\":", set->escalation_multiplier);
      rb_num(b, ",\"since_escalation\":", r2(cs->t - cs->last_esc_t));
    }
    rb_put(b, "}");
    at = keep_reason(e, b);
    e->reason_at[f - e->fires] = at;
  }
  if (r->info.backup && cs->armed && !e->at_end)
    raise_backup(e, cs, trig, q);
}

/* The earlier hit an "after" clause asks for, or NULL. */
static const struct rhit *find_after(const struct es_engine *e, const struct es_callstate *cs,
                                     const struct es__ref *ref) {
  size_t have = cs->recent == NULL ? 0 : cs->nrecent < ES_RECENT ? cs->nrecent : ES_RECENT;
  const struct rhit *best = NULL;
  for (size_t i = 0; i < have; i++) {
    const struct rhit *h = &cs->recent[i];
    /* An earlier line; between lines (dead air), the last line is earlier. */
    if (h->rule == UINT32_MAX || h->line > (e->between ? cs->lines : cs->lines - 1) ||
        !in_ref(ref, h->rule) ||
        !speaker_ok(ref->speaker, (enum es_speaker)h->speaker))
      continue;
    if (ref->within > 0 && cs->t - h->t > ref->within)
      continue;
    if (ref->turns > 0) {
      uint32_t since = ref->speaker == ES_SPEAKER_ANY ? cs->lines - h->line
                                                      : cs->turns[ref->speaker] - h->turns;
      if (since > ref->turns)
        continue;
    }
    if (best == NULL || h->line > best->line)
      best = h;
  }
  return best;
}

/* A hit (trig) may make rule q fire: checks "after", "count" and
 * "not_followed_by", then fires. */
static void consider(struct es_engine *e, struct es_callstate *cs, uint32_t q, struct rhit *trig,
                     const struct es_hit *span) {
  const struct es__rule *r = &e->rules->rules[q];
  enum es_fire_kind kind = r->info.kind == ES_RULE_CALL ? ES_FIRE_CALL : ES_FIRE_LINE;
  char extra[512];
  size_t xp = 0;
  struct rstate *st;

  extra[0] = '\0';
  if (r->after.set) {
    const struct rhit *a = find_after(e, cs, &r->after);
    struct rbuf *b;
    if (a == NULL)
      return;
    b = rb_begin(e);
    rb_put(b, "\"after\":");
    rb_hit(b, e->rules, a, 0, 0);
    if (!b->full && b->pos < sizeof(extra)) {
      memcpy(extra, b->buf, b->pos);
      xp = b->pos;
      extra[xp] = '\0';
    }
    kind = ES_FIRE_CALL;
  }
  if (r->info.count > 1) {
    st = rstate(e, cs, q, 1);
    if (st == NULL)
      return;
    if (r->info.within > 0) { /* forget hits older than the window */
      uint32_t k = 0;
      for (uint32_t i = 0; i < st->nwin; i++)
        if (cs->t - st->win[i] <= r->info.within)
          st->win[k++] = st->win[i];
      st->nwin = k;
    }
    st->win[st->nwin++] = cs->t;
    if (st->nwin < r->info.count)
      return;
    char num[ES_FMT_DOUBLE_MAX];
    xp += (size_t)snprintf(extra + xp, sizeof(extra) - xp, "%s\"count\":%u,\"first\":%s",
                           xp ? "," : "", r->info.count, g15(num, r2(st->win[0])));
    if (r->info.within > 0 && xp < sizeof(extra))
      xp += (size_t)snprintf(extra + xp, sizeof(extra) - xp, ",\"within\":%s",
                             g15(num, r->info.within));
    st->nwin = 0;
    kind = ES_FIRE_CALL;
  }
  if (r->nfb.set) {
    st = rstate(e, cs, q, 1);
    if (st == NULL || st->pending)
      return; /* the first unanswered trigger keeps its deadline */
    st->pending = 1;
    cs->npending++;
    st->pend_t = cs->t;
    st->pend_line = cs->lines;
    st->pend_turns = cs->turns[r->nfb.speaker];
    st->pend_hit = *trig;
    return;
  }
  fire(e, cs, q, trig, span, kind, xp ? extra : NULL);
}

/* Fires rule q's pending deadline. */
static void fire_missed(struct es_engine *e, struct es_callstate *cs, uint32_t q,
                        struct rstate *st, const char *why) {
  char extra[256], num[ES_FMT_DOUBLE_MAX];
  struct rhit trig = st->pend_hit;
  st->pending = 0;
  cs->npending--;
  snprintf(extra, sizeof(extra), "\"missed\":\"%s\",\"waited\":%s", why,
           g15(num, r2(cs->t - st->pend_t)));
  fire(e, cs, q, &trig, NULL, ES_FIRE_CALL, extra);
}

/* Deadlines: by time before the line's hits count ("within"), by turns
 * after ("turns": the clause speaker's lines since the trigger). */
static void check_deadlines(struct es_engine *e, struct es_callstate *cs, int by_turns,
                            int at_end) {
  if (cs->npending == 0)
    return; /* the usual case: no trigger waits for an answer */
  for (uint32_t i = 0; i < e->rules->nnfb; i++) {
    uint32_t q = e->rules->nfb_rules[i];
    const struct es__ref *ref = &e->rules->rules[q].nfb;
    struct rstate *st = rstate(e, cs, q, 0);
    if (st == NULL || !st->pending)
      continue;
    if (at_end)
      fire_missed(e, cs, q, st, "call ended");
    else if (!by_turns && ref->within > 0 && cs->t - st->pend_t > ref->within)
      fire_missed(e, cs, q, st, "time");
    else if (by_turns && ref->turns > 0 && cs->turns[ref->speaker] - st->pend_turns >= ref->turns)
      fire_missed(e, cs, q, st, "turns");
  }
}

/* A hit resolves the deadlines that wait for it. */
static void resolve_deadlines(struct es_engine *e, struct es_callstate *cs, uint32_t rule,
                              enum es_speaker sp) {
  if (cs->npending == 0)
    return;
  for (uint32_t i = 0; i < e->rules->nnfb; i++) {
    uint32_t q = e->rules->nfb_rules[i];
    const struct es__ref *ref = &e->rules->rules[q].nfb;
    struct rstate *st;
    if (!in_ref(ref, rule) || !speaker_ok(ref->speaker, sp))
      continue;
    st = rstate(e, cs, q, 0);
    if (st && st->pending && cs->lines > st->pend_line) {
      st->pending = 0;
      cs->npending--;
    }
  }
}

/* Points the fires at their reasons once the arena stops moving. */
static void finish_out(struct es_engine *e, struct es_call_out *out) {
  for (size_t i = 0; i < e->nfires; i++)
    e->fires[i].reason = e->reason_at[i] ? e->reasons + e->reason_at[i] - 1 : NULL;
  out->fires = e->fires;
  out->n = e->nfires;
}

/* A hit of rule `rule` (a line rule's match, or a signal), said by sp:
 * remembered, counted, resolving deadlines, considered for the rule itself
 * and for the call rules that wait for it. span: its words on the current
 * line, or NULL (then words/wlen name it). */
static void hit(struct es_engine *e, struct es_callstate *cs, uint32_t rule, enum es_speaker sp,
                const char *text, size_t len, const struct es_hit *span) {
  const struct es_rules *rules = e->rules;
  const struct es__rule *r = &rules->rules[rule];
  struct rhit *h = remember(e, cs, rule, sp, text, len, span ? span->start : 0,
                            span ? span->end : (uint32_t)len);
  int no_heat = e->no_heat;

  if (h == NULL)
    return;
  cs->hits++;
  if (r->category_idx >= 0 && r->category_idx < ES_NCAT_MAX)
    cs->by_cat[r->category_idx]++;
  if (sp == ES_SPEAKER_CUSTOMER && r->info.score > 0) {
    cs->has_esc = 1;
    cs->last_esc_t = cs->t;
  }
  if (rules->nnfb)
    resolve_deadlines(e, cs, rule, sp);
  consider(e, cs, rule, h, span);
  e->no_heat = 0; /* call rules add their own score */
  e->sig_reason = NULL;
  for (uint32_t k = rules->caller_start[rule]; k < rules->caller_start[rule + 1]; k++) {
    uint32_t q = rules->callers[k];
    if (e->seen[q] == e->seen_gen || !speaker_ok(rules->rules[q].when.speaker, sp))
      continue;
    e->seen[q] = e->seen_gen;
    consider(e, cs, q, h, span);
  }
  e->no_heat = no_heat;
}

/* A signal rule's hit, with what explains it. */
static void signal_hit(struct es_engine *e, struct es_callstate *cs, uint32_t rule,
                       enum es_speaker sp, const char *text, size_t len,
                       const struct es_hit *span, const char *reason) {
  e->sig_reason = reason;
  hit(e, cs, rule, sp, text, len, span);
  e->sig_reason = NULL;
}

/* Dead air up to call time t, before a line (or at idle or end). */
static void check_dead_air(struct es_engine *e, struct es_callstate *cs, double t) {
  const struct es_rules *rules = e->rules;
  double gap;
  char why[160], words[64], n1[ES_FMT_DOUBLE_MAX], n2[ES_FMT_DOUBLE_MAX];

  if (isnan(cs->prev_end))
    return;
  gap = t - cs->prev_end;
  if (gap > cs->longest_silence)
    cs->longest_silence = gap;
  if (cs->dead_air_line == cs->lines + 1 || gap < e->dead_air_min)
    return; /* reported already, or shorter than every rule's threshold */
  for (uint32_t k = 0; k < e->ndead_air; k++) {
    uint32_t q = e->dead_air[k];
    const struct es_rule_info *info = &rules->rules[q].info;
    if (gap < info->sig_seconds)
      continue;
    if (cs->dead_air_line != cs->lines + 1)
      cs->dead_airs++;
    cs->dead_air_line = cs->lines + 1; /* once per gap */
    snprintf(why, sizeof(why), "\"signal\":\"dead_air\",\"silence\":%s,\"threshold\":%s",
             g15(n1, r2(gap)), g15(n2, info->sig_seconds));
    int n = snprintf(words, sizeof(words), "%.0f s of silence", gap);
    e->between = 1;
    signal_hit(e, cs, q, ES_SPEAKER_ANY, words, (size_t)n, NULL, why);
    e->between = 0;
  }
}

/* The spaces in text[0..len) followed by a byte other than a space: the
 * words after the first, as the duration estimate counts them. Eight
 * bytes at a time: a line without end_ts pays this on every line. */
static size_t word_starts(const char *text, size_t len) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL,
                 lows = 0x7f7f7f7f7f7f7f7fULL;
  size_t n = 0, i = 0;

  /* Bytes i..i+7 against i+1..i+8, so i + 9 <= len. */
  for (; i + 9 <= len; i += 8) {
    uint64_t a, b;
    memcpy(&a, text + i, 8);
    memcpy(&b, text + i + 1, 8);
    a ^= ones * ' ';
    b ^= ones * ' ';
    /* 0x80 in each byte that was a space (exact: no carries between bytes) */
    uint64_t sa = ~(((a & lows) + lows) | a | lows);
    uint64_t sb = ~(((b & lows) + lows) | b | lows);
    uint64_t m = (sa & ~sb & highs) >> 7;
    n += (size_t)((m * ones) >> 56);
  }
  for (; i + 1 < len; i++)
    n += text[i] == ' ' && text[i + 1] != ' ';
  return n;
}

/* Timing and sentiment signals of one line (after its time is set). */
static void line_signals(struct es_engine *e, struct es_callstate *cs, const struct es_line *l,
                         enum es_speaker sp) {
  const struct es_rules *rules = e->rules;
  enum es_speaker other = sp == ES_SPEAKER_AGENT ? ES_SPEAKER_CUSTOMER
                        : sp == ES_SPEAKER_CUSTOMER ? ES_SPEAKER_AGENT : ES_SPEAKER_ANY;
  double start = cs->t, dur, over = NAN;
  struct es_sentiment_result sr;
  int scored = 0;
  char why[512], n1[ES_FMT_DOUBLE_MAX], n2[ES_FMT_DOUBLE_MAX], n3[ES_FMT_DOUBLE_MAX];
  struct es_hit whole = {0, 0, (uint32_t)l->len};

  /* How long the line took: its end_ts, else about 2.5 words a second. */
  if (isfinite(l->end_t) && l->end_t >= l->t) {
    dur = l->end_t - l->t;
  } else {
    dur = (double)(word_starts(l->text, l->len) + (l->len > 0)) / 2.5;
  }
  if (other != ES_SPEAKER_ANY && isfinite(cs->last_end[other]))
    over = cs->last_end[other] - start;
  /* Speech-to-text cuts one turn into segments: a segment that starts
   * within ES_TURN_JOIN s of the same speaker's last end (when the client
   * gives end_ts) continues that turn, not a new one. */
  int continued = other != ES_SPEAKER_ANY && cs->run_len[sp] > 0 &&
                  isfinite(cs->last_end[sp]) && start - cs->last_end[sp] < ES_TURN_JOIN;
  if (other != ES_SPEAKER_ANY) {
    cs->run_len[other] = 0;
    cs->talk[other] = 0;
    if (!continued)
      cs->run_t[sp][cs->run_len[sp]++ % ES_SIG_RUN] = start;
    cs->talk[sp] += dur;
  }

  for (uint32_t k = 0; k < e->nsig_for[sp]; k++) {
    uint32_t q = e->sig_for[sp][k];
    const struct es_rule_info *info = &rules->rules[q].info;
    switch (info->signal) {
    case ES_SIG_OVERTALK:
      if (!(over > info->sig_seconds))
        break;
      snprintf(why, sizeof(why), "\"signal\":\"overtalk\",\"over\":%s,\"margin\":%s",
               g15(n1, r2(over)), g15(n2, info->sig_seconds));
      signal_hit(e, cs, q, sp, l->text, l->len, &whole, why);
      break;
    case ES_SIG_RAPID_FIRE: {
      uint32_t n = info->sig_turns > ES_SIG_RUN ? ES_SIG_RUN : info->sig_turns;
      if (other == ES_SPEAKER_ANY || continued || cs->run_len[sp] < n)
        break;
      double first = cs->run_t[sp][(cs->run_len[sp] - n) % ES_SIG_RUN];
      if (start - first > info->sig_seconds)
        break;
      snprintf(why, sizeof(why), "\"signal\":\"rapid_fire\",\"lines\":%u,\"seconds\":%s,"
               "\"within\":%s", n, g15(n1, r2(start - first)), g15(n2, info->sig_seconds));
      cs->run_len[sp] = 0; /* counts afresh */
      signal_hit(e, cs, q, sp, l->text, l->len, &whole, why);
      break;
    }
    case ES_SIG_MONOLOGUE:
      if (other == ES_SPEAKER_ANY || cs->talk[sp] < info->sig_seconds)
        break;
      snprintf(why, sizeof(why), "\"signal\":\"monologue\",\"talked\":%s,\"threshold\":%s",
               g15(n1, r2(cs->talk[sp])), g15(n2, info->sig_seconds));
      cs->talk[sp] = 0;
      signal_hit(e, cs, q, sp, l->text, l->len, &whole, why);
      break;
    case ES_SIG_SENTIMENT:
    case ES_SIG_SENTIMENT_TREND:
      if (!scored) {
        if (e->senti == NULL ||
            es_sentiment_score(rules->sentiment, e->senti, l->text, l->len,
                               rules->call.sentiment_flags, &sr) != 0)
          return;
        scored = 1;
        double a = rules->call.sentiment_alpha;
        cs->ewma[sp] = isnan(cs->ewma[sp]) ? sr.compound : a * sr.compound + (1 - a) * cs->ewma[sp];
        cs->hist[sp][cs->nhist[sp]++ % ES_SIG_RUN] = cs->ewma[sp];
      }
      if (info->signal == ES_SIG_SENTIMENT) {
        if (!(sr.compound < info->sig_below))
          break;
        /* The words that carried it: the most negative one is the span. */
        struct es_hit w = whole;
        size_t p = (size_t)snprintf(why, sizeof(why), "\"signal\":\"sentiment\",\"compound\":%s,"
                                    "\"below\":%s,\"words\":[",
                                    g15(n1, round(sr.compound * 1000) / 1000),
                                    g15(n2, info->sig_below));
        double worst = 0;
        for (size_t i = 0, n = 0; i < sr.nwords && p < sizeof(why) - 64; i++) {
          const struct es_sentiment_word *sw = &sr.words[i];
          if (sw->valence >= 0)
            continue;
          if (sw->valence < worst) {
            worst = sw->valence;
            w.start = sw->start;
            w.end = sw->end;
          }
          if (n++ < 6 && sw->end - sw->start < 32)
            p += (size_t)snprintf(why + p, sizeof(why) - p, "%s{\"word\":\"%.*s\",\"valence\":%s}",
                                  n > 1 ? "," : "", (int)(sw->end - sw->start),
                                  l->text + sw->start, g15(n1, round(sw->valence * 1000) / 1000));
        }
        snprintf(why + p, sizeof(why) - p, "]");
        /* The word is copied raw: drop the words list if it needs escaping. */
        for (char *c = strstr(why, "\"words\":["); c && *c; c++)
          if (*c == '\\' || (unsigned char)*c < 0x20) {
            snprintf(strstr(why, "\"words\":["), 12, "\"words\":[]");
            break;
          }
        signal_hit(e, cs, q, sp, l->text, l->len, &w, why);
      } else {
        uint32_t n = info->sig_turns;
        if (cs->nhist[sp] <= n)
          break;
        double from = cs->hist[sp][(cs->nhist[sp] - 1 - n) % ES_SIG_RUN], to = cs->ewma[sp];
        if (from - to < info->sig_drop || (!isnan(info->sig_below) && !(to < info->sig_below)))
          break;
        snprintf(why, sizeof(why), "\"signal\":\"sentiment_trend\",\"from\":%s,\"to\":%s,"
                 "\"turns\":%u,\"drop\":%s", g15(n1, round(from * 1000) / 1000),
                 g15(n2, round(to * 1000) / 1000), n, g15(n3, info->sig_drop));
        cs->nhist[sp] = 0; /* a new trend needs new lines */
        signal_hit(e, cs, q, sp, l->text, l->len, &whole, why);
      }
      break;
    default:
      break;
    }
  }
  if (other != ES_SPEAKER_ANY && over > 0.5)
    cs->overtalk[sp]++;
  /* Overtalk needs real end times: an estimate would invent it. */
  if (sp != ES_SPEAKER_ANY)
    cs->last_end[sp] = isfinite(l->end_t) && l->end_t >= l->t ? l->end_t : NAN;
  cs->prev_end = isnan(cs->prev_end) || start + dur > cs->prev_end ? start + dur : cs->prev_end;
}

/* Every entry point starts here: no fires yet, a new generation for the
 * call rules considered (once per line or moment). */
static void begin(struct es_engine *e, struct es_call_out *out) {
  e->nfires = 0;
  e->reasons_len = 0;
  e->oom = 0;
  e->no_heat = 0;
  e->sig_reason = NULL;
  out->fires = NULL;
  out->n = 0;
  if (++e->seen_gen == 0) {
    memset(e->seen, 0, e->rules->n * sizeof(*e->seen));
    e->seen_gen = 1;
  }
}

/* A usable call time: finite and within ES_CALL_TIME_MAX, else `keep`. */
static double sane_time(double t, double keep) {
  return isfinite(t) && fabs(t) <= ES_CALL_TIME_MAX ? t : keep;
}

void es_engine_prefetch(const struct es_callstate *cs) {
  if (cs == NULL)
    return;
  for (size_t off = 0; off < sizeof(*cs); off += 64)
    __builtin_prefetch((const char *)cs + off);
}

int es_engine_line(struct es_engine *e, struct es_callstate **csp, const struct es_line *line,
                   struct es_call_out *out) {
  const struct es_rules *rules = e->rules;
  const struct es_call_settings *set = &rules->call;
  const struct es_match_result *res = line->res;
  struct es_callstate *cs = *csp;
  enum es_speaker sp = line->speaker;
  struct es_line clean = *line, *l = &clean;

  clean.t = sane_time(line->t, cs ? cs->t : 0);
  clean.end_t = sane_time(line->end_t, NAN);
  begin(e, out);
  if (cs == NULL) {
    /* A call without hits costs nothing, unless signals need its timing. */
    if (res->nhits == 0 && rules->nsignal == 0)
      return 0;
    cs = state_new(rules, l->t);
    if (cs == NULL)
      return ES_ENOMEM;
    *csp = cs;
  }
  if ((unsigned)sp > ES_SPEAKER_CUSTOMER)
    sp = ES_SPEAKER_ANY;
  advance(cs, set, l->t);
  if (rules->nsignal)
    check_dead_air(e, cs, cs->t);
  cs->lines++;
  cs->turns[ES_SPEAKER_ANY]++;
  if (sp != ES_SPEAKER_ANY)
    cs->turns[sp]++;
  if (rules->nnfb)
    check_deadlines(e, cs, 0, 0);
  if (rules->nsignal)
    line_signals(e, cs, l, sp);

  for (size_t i = 0; i < res->nhits; i++) {
    const struct es__rule *r = &rules->rules[res->hits[i].rule];
    /* One line says one thing per category: several rules of a category
     * on it ("fuck you, you idiot") heat the call as its strongest one. */
    e->no_heat = 0;
    for (size_t k = 0; k < res->nhits && !e->no_heat; k++) {
      const struct es__rule *o = &rules->rules[res->hits[k].rule];
      if (k != i && o->category_idx == r->category_idx &&
          (fabs(o->info.score) > fabs(r->info.score) ||
           (fabs(o->info.score) == fabs(r->info.score) && k < i)))
        e->no_heat = 1;
    }
    hit(e, cs, res->hits[i].rule, sp, l->text, l->len, &res->hits[i]);
  }
  e->no_heat = 0;
  if (rules->nnfb)
    check_deadlines(e, cs, 1, 0);
  if (cs->armed && cs->heat >= set->backup_threshold)
    raise_backup(e, cs, NULL, UINT32_MAX);
  finish_out(e, out);
  return e->oom ? ES_ENOMEM : 0;
}

int es_engine_wants_idle(const struct es_engine *e) { return e->rules->dead_air; }

int es_engine_idle(struct es_engine *e, struct es_callstate **csp, double t,
                   struct es_call_out *out) {
  struct es_callstate *cs = *csp;
  begin(e, out);
  if (cs == NULL || !e->rules->dead_air || !isfinite(sane_time(t, NAN)))
    return 0;
  /* Call time does not move here: t is an estimate, and the next line's
   * own ts must not be taken as earlier than it. */
  if (t > cs->t)
    check_dead_air(e, cs, t);
  if (cs->armed && cs->heat >= e->rules->call.backup_threshold)
    raise_backup(e, cs, NULL, UINT32_MAX);
  finish_out(e, out);
  return e->oom ? ES_ENOMEM : 0;
}

static const char *cats_json(struct es_engine *e, const struct es_callstate *cs) {
  size_t p = 0;
  int first = 1;
  e->cats[p++] = '{';
  for (int i = 0; cs && i < es__category_count() && i < ES_NCAT_MAX; i++) {
    if (cs->by_cat[i] == 0)
      continue;
    p += (size_t)snprintf(e->cats + p, sizeof(e->cats) - p, "%s\"%s\":%u", first ? "" : ",",
                          es__category_name(i), cs->by_cat[i]);
    first = 0;
  }
  e->cats[p++] = '}';
  e->cats[p] = '\0';
  return e->cats;
}

int es_engine_end(struct es_engine *e, struct es_callstate **csp, double t,
                  struct es_call_out *out, struct es_call_summary *sum) {
  const struct es_call_settings *set = &e->rules->call;
  struct es_callstate *cs = *csp;

  begin(e, out);
  memset(sum, 0, sizeof(*sum));
  if (cs) {
    t = sane_time(t, NAN);
    advance(cs, set, t);
    /* Deadlines still open fire, for the record; the call is over, so
     * they no longer change its heat (nor raise backup). */
    e->no_heat = e->at_end = 1;
    if (e->rules->nsignal && isfinite(t))
      check_dead_air(e, cs, cs->t);
    if (e->rules->nnfb)
      check_deadlines(e, cs, 0, 1);
    e->no_heat = e->at_end = 0;
    sum->peak_heat = cs->peak;
    sum->final_heat = cs->heat;
    sum->backup_raised = cs->backup_raised;
    sum->deescalated = cs->peak > 0 && cs->deesc_after_peak && cs->heat <= cs->peak / 2;
    sum->hits = cs->hits;
    sum->fires_sent = cs->sent;
    sum->fires_suppressed = cs->suppressed;
    sum->overtalk_agent = cs->overtalk[ES_SPEAKER_AGENT];
    sum->overtalk_customer = cs->overtalk[ES_SPEAKER_CUSTOMER];
    sum->dead_air = cs->dead_airs;
    sum->longest_silence = cs->longest_silence;
    sum->customer_sentiment = cs->ewma[ES_SPEAKER_CUSTOMER];
  } else {
    sum->customer_sentiment = NAN;
  }
  sum->hits_by_category = cats_json(e, cs);
  finish_out(e, out);
  return e->oom ? ES_ENOMEM : 0;
}

void es_callstate_rebind(struct es_callstate *cs, const struct es_rules *from,
                         const struct es_rules *to) {
  uint32_t k = 0;
  if (cs == NULL || from == to)
    return;
  for (size_t i = 0; cs->recent && i < ES_RECENT; i++) {
    struct rhit *h = &cs->recent[i];
    int64_t n = h->rule < from->n ? es_rules_find(to, from->rules[h->rule].info.id) : -1;
    h->rule = n >= 0 ? (uint32_t)n : UINT32_MAX;
  }
  for (uint32_t i = 0; i < cs->nrs; i++) {
    struct rstate st = cs->rs[i];
    int64_t n = es_rules_find(to, from->rules[st.rule].info.id);
    if (n < 0 || to->rules[n].info.count != from->rules[st.rule].info.count) {
      /* gone, or its window changed size: start it afresh */
      free(st.win);
      if (n < 0)
        continue;
      st.win = NULL;
      st.nwin = 0;
      if (to->rules[n].info.count > 1 &&
          (st.win = calloc(to->rules[n].info.count, sizeof(double))) == NULL)
        continue;
    }
    if (st.pending && !to->rules[n].nfb.set)
      st.pending = 0;
    st.rule = (uint32_t)n;
    cs->rs[k++] = st;
  }
  cs->nrs = k;
  cs->npending = 0;
  for (uint32_t i = 0; i < cs->nrs; i++)
    cs->npending += cs->rs[i].pending != 0;
  /* sort by the new indexes (insertion sort: few entries) */
  for (uint32_t i = 1; i < cs->nrs; i++) {
    struct rstate v = cs->rs[i];
    uint32_t j = i;
    while (j > 0 && cs->rs[j - 1].rule > v.rule) {
      cs->rs[j] = cs->rs[j - 1];
      j--;
    }
    cs->rs[j] = v;
  }
  cs->rules = to;
}

/* ---- call examples -------------------------------------------------------- */

int es__engine_run_example(struct es_matcher *m, struct es_engine *e, uint32_t idx,
                           const char *script, int *fired) {
  struct es_callstate *cs = NULL;
  struct es_call_out out;
  struct es_call_summary sum;
  double t = 0;
  int rc = 0, lineno = 0;
  const char *p = script;
  char why[128];

  *fired = 0;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t n = eol ? (size_t)(eol - p) : strlen(p);
    struct es__example_line el = {.gap = e->rules->call.example_gap, .dur = -1};
    struct es_match_result res;

    if (es__example_line(p, n, &el, why, sizeof(why)) != NULL) {
      rc = ES_EINVAL; /* the loader checked every line: not reached */
      break;
    }
    t += lineno++ == 0 ? 0 : el.gap;
    if ((rc = es_match_line(m, el.speaker, el.text, el.len, 0, &res)) != 0)
      break;
    struct es_line ln = {.t = t, .end_t = el.dur >= 0 ? t + el.dur : NAN,
                         .speaker = el.speaker, .text = el.text, .len = el.len, .res = &res};
    if ((rc = es_engine_line(e, &cs, &ln, &out)) != 0)
      break;
    for (size_t i = 0; i < out.n; i++)
      *fired |= out.fires[i].rule_idx == idx;
    p += n + (eol ? 1 : 0);
  }
  if (rc == 0)
    rc = es_engine_end(e, &cs, t, &out, &sum);
  for (size_t i = 0; rc == 0 && i < out.n; i++)
    *fired |= out.fires[i].rule_idx == idx;
  es_callstate_free(cs);
  return rc;
}
