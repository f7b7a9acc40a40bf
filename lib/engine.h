/*
 * engine.h: the call logic (docs/rules.md, "Call logic").
 *
 * A phrase is a weak signal; a call is a story. The engine takes each
 * final line's hits (es_match_line()) in call order and keeps, per call:
 *
 *   - heat: every rule that fires adds its score; heat decays by half every
 *     half_life seconds of call time and never goes below 0; an agent line
 *     rule with a positive score that fires within escalation_window
 *     seconds after a customer escalation hit weighs escalation_multiplier
 *     times its score;
 *   - backup: when heat reaches backup_threshold, or a rule with
 *     "backup": true fires, one alert of category "backup" (severity
 *     critical) whose reason lists the hits that drove it; it re-arms only
 *     once heat falls below rearm_threshold;
 *   - counts ("count" hits "within" seconds), sequences ("when", "after",
 *     "not_followed_by") and noise control ("cooldown", "max_per_call":
 *     a suppressed alert is counted and returned flagged, never sent);
 *   - a summary at call end.
 *
 * Times are call time in seconds (the client's "ts"), passed in: the
 * engine reads no clock. A time earlier than the call's latest is taken as
 * the latest (clients' clocks jitter). earshotd and `earshot replay` run
 * this same code, so a call replays to the same alerts.
 *
 * A struct es_engine is per-thread scratch bound to one rule set; a
 * struct es_callstate is one call's state, allocated at the call's first
 * hit (a call without hits costs nothing) and bounded (es_callstate_bytes):
 * the last ES_RECENT hits, plus a small record per rule that hit.
 */
#ifndef ES_ENGINE_H
#define ES_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "match.h"
#include "rules.h"
#include "sentiment.h"

#define ES_RECENT 16        /* hits a call remembers (for "after" and reasons) */
#define ES_WORDS_MAX 40     /* bytes of matched words kept per remembered hit, cut
                               where es_redact_cut() says (no number or address split) */
#define ES_REASON_HITS 6    /* hits listed in a backup reason */
#define ES_CALL_TIME_MAX 1e9 /* seconds: a call time beyond +-this (or not finite) is taken
                                as the call's latest, like a time that goes back */

enum es_fire_kind {
  ES_FIRE_LINE = 0,  /* a line rule fired on words of the current line */
  ES_FIRE_CALL,      /* a call rule fired, or a deadline ("not_followed_by") passed */
  ES_FIRE_BACKUP,    /* the call crossed the backup line */
};

enum es_suppress {
  ES_SENT = 0,
  ES_SUPPRESSED_COOLDOWN,  /* within "cooldown" of the rule's last sent alert */
  ES_SUPPRESSED_MAX,       /* the rule already sent "max_per_call" alerts */
};

/* One rule firing. Borrowed from the engine until its next call. */
struct es_fire {
  enum es_fire_kind kind;
  const struct es_rule_info *rule;  /* es_rules_backup_info() for backup */
  uint32_t rule_idx;                /* rule index; UINT32_MAX for backup */
  enum es_speaker speaker;          /* who said the words that fired it */
  int on_line;                      /* 1: the words are in the current line */
  uint32_t match_start, match_end;  /* their byte span there, when on_line */
  double t;                         /* call time it fired at */
  double delta;                     /* heat it added */
  double heat;                      /* the call's heat after it */
  enum es_suppress suppressed;      /* ES_SENT: send and store it */
  const char *reason;               /* JSON object explaining a call-level
                                       fire, or NULL for a plain line hit */
};

struct es_call_out {
  const struct es_fire *fires;      /* in the order they happened */
  size_t n;
};

struct es_call_summary {
  double peak_heat;
  double final_heat;
  int backup_raised;        /* 1 when a backup alert was raised */
  int deescalated;          /* 1: the call heated (peak > 0), a de-escalation
                               move (negative score) came after the peak, and
                               it ended at or below half its peak */
  uint64_t hits;            /* line rule hits */
  uint64_t fires_sent;      /* alerts sent (backup included) */
  uint64_t fires_suppressed;/* alerts suppressed by cooldown or max_per_call */
  const char *hits_by_category; /* JSON object {"category": hits}; borrowed
                                   from the engine until its next call */
  uint32_t overtalk_agent;     /* lines that started over the other speaker's by */
  uint32_t overtalk_customer;  /* more than 0.5 s (needs ts and end_ts) */
  uint32_t dead_air;           /* silences reported by dead_air rules */
  double longest_silence;      /* seconds, between lines */
  double customer_sentiment;   /* rolling (when sentiment rules ran); NAN: none */
};

/* One final line, as the engine takes it. Everything borrowed. */
struct es_line {
  double t;                          /* call time it started (the client's ts) */
  double end_t;                      /* call time it ended (end_ts); NAN: unknown,
                                        then estimated at 2.5 words a second */
  enum es_speaker speaker;
  const char *text;
  size_t len;
  const struct es_match_result *res; /* es_match_line() of this line */
};

struct es_engine;
struct es_callstate;

/* A new engine for `rules` (borrowed; must outlive it), or NULL. */
struct es_engine *es_engine_new(const struct es_rules *rules);
void es_engine_free(struct es_engine *e); /* NULL is a no-op */

/* Starts loading a call's state into the cache, so that a caller with other
 * work to do first (matching the line) finds it there at es_engine_line().
 * A hint: no effect on results. NULL is a no-op. */
void es_engine_prefetch(const struct es_callstate *cs);

/* Feeds one final line, with its match result for this engine's rule
 * set; signals (sentiment, timing) are computed here when the rules use
 * them. *cs is the call's state: NULL for a call with no hits yet (it is
 * allocated at the first hit, or at the first line when the rules have
 * signal rules). Fills *out. Returns 0, or ES_ENOMEM. */
int es_engine_line(struct es_engine *e, struct es_callstate **cs, const struct es_line *line,
                   struct es_call_out *out);

/* Nobody has spoken until call time t: dead air rules may fire (once per
 * silence; the next line does not report the same silence again).
 * earshotd calls it from a timer; `earshot replay` has no clock and
 * reports dead air at the next line or at call end instead. */
int es_engine_idle(struct es_engine *e, struct es_callstate **cs, double t,
                   struct es_call_out *out);

/* 1 when es_engine_idle() can fire at all (the rules watch for dead air):
 * callers skip their idle pass otherwise. */
int es_engine_wants_idle(const struct es_engine *e);

/* Ends the call at call time `t` (NAN: its last line's time): every
 * pending "not_followed_by" deadline fires, and *sum gets the summary.
 * Does not free *cs. Returns 0 or ES_ENOMEM. */
int es_engine_end(struct es_engine *e, struct es_callstate **cs, double t,
                  struct es_call_out *out, struct es_call_summary *sum);

/* Moves a call's state from rule set `from` to `to` after a reload:
 * rules are matched by id; state of rules that are gone is dropped. */
void es_callstate_rebind(struct es_callstate *cs, const struct es_rules *from,
                         const struct es_rules *to);

void es_callstate_free(struct es_callstate *cs); /* NULL is a no-op */

/* Bytes the call's state holds (0 for NULL). */
size_t es_callstate_bytes(const struct es_callstate *cs);

/* The heat at the call's last line (0 for NULL). */
double es_callstate_heat(const struct es_callstate *cs);

#endif
