/*
 * rules.h: loading and compiling rule files (rules/NAME.json, docs/rules.md).
 *
 * A rule set is loaded from files or directories, validated, compiled to
 * PCRE2 (JIT) plus one multi-literal prefilter, and every rule's examples
 * are checked. The result is immutable and may be shared between threads;
 * matching needs a per-thread struct es_matcher (match.h). A reload builds
 * a new set and swaps it in whole.
 */
#ifndef ES_RULES_H
#define ES_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum es_severity {
  ES_SEV_INFO = 0,
  ES_SEV_LOW,
  ES_SEV_MEDIUM,
  ES_SEV_HIGH,
  ES_SEV_CRITICAL,
};

enum es_speaker {
  ES_SPEAKER_ANY = 0,  /* rule: any speaker; line: speaker unknown */
  ES_SPEAKER_AGENT,
  ES_SPEAKER_CUSTOMER,
};

const char *es_severity_name(enum es_severity s);
const char *es_speaker_name(enum es_speaker s);
/* Parse a name; return 0 and set *out, or ES_EINVAL. */
int es_severity_parse(const char *name, enum es_severity *out);
int es_speaker_parse(const char *name, enum es_speaker *out);
/* The same for name[0..len), which need not be NUL-terminated (the
 * protocol decoder's speaker field). */
int es_speaker_parse_len(const char *name, size_t len, enum es_speaker *out);

/* A line rule matches words of one line (phrases, patterns); a call rule
 * fires on hits of line rules ("when") and never looks at text itself. */
enum es_rule_kind {
  ES_RULE_LINE = 0,
  ES_RULE_CALL,
  ES_RULE_SIGNAL,  /* fires on a signal beyond phrases: sentiment, timing */
};

/* Signals a rule can fire on ("signal": {"type": ...}; docs/rules.md). */
enum es_signal {
  ES_SIG_NONE = 0,
  ES_SIG_SENTIMENT,       /* a line's compound sentiment below `below` */
  ES_SIG_SENTIMENT_TREND, /* the call's rolling sentiment fell by `drop` over `turns` lines */
  ES_SIG_OVERTALK,        /* a line starts over the other speaker's by more than `margin` s */
  ES_SIG_DEAD_AIR,        /* nobody spoke for `seconds` */
  ES_SIG_RAPID_FIRE,      /* `turns` lines in a row within `within` s, the other side silent */
  ES_SIG_MONOLOGUE,       /* one side talked `seconds` without the other saying a word */
};

#define ES_COUNT_MAX 16  /* largest "count" a rule may ask for */

/* What a rule set tells about one of its rules. Borrowed: valid as long
 * as the rule set lives. */
struct es_rule_info {
  const char *id;
  const char *description;
  const char *category;
  const char *tip;
  const char *file;       /* the file it was loaded from */
  int line;               /* 1-based line of the rule's opening brace */
  enum es_severity severity;
  enum es_speaker speaker;
  double score;
  int negation;           /* 1 when negation cues cancel hits */
  unsigned negation_window;
  const char *const *match_examples;     /* nmatch_examples lines */
  size_t nmatch_examples;
  const char *const *no_match_examples;  /* nno_match_examples lines */
  size_t nno_match_examples;
  /* Call logic (docs/rules.md, "Call logic"); engine.h runs it. */
  enum es_rule_kind kind;
  uint32_t count;         /* hits needed to fire; 1: every hit */
  double within;          /* seconds of call time the count must fall in; 0: whole call */
  double cooldown;        /* seconds of call time between sent alerts; 0: none */
  uint32_t max_per_call;  /* alerts sent per call; 0: no limit */
  int backup;             /* 1: firing raises a backup alert at once */
  int has_after;          /* fires only after a hit of other rules */
  int has_not_followed_by;/* fires when other rules do not follow in time */
  /* Signal rules (kind ES_RULE_SIGNAL). */
  enum es_signal signal;
  double sig_below;       /* sentiment: compound below this; trend: and the rolling
                             sentiment below this (NAN: any) */
  double sig_drop;        /* trend: fall of the rolling sentiment */
  double sig_seconds;     /* dead_air, monologue: seconds; overtalk: margin;
                             rapid_fire: the window */
  uint32_t sig_turns;     /* trend, rapid_fire: lines */
  /* Call examples: whole short calls, one "[+SECONDS ]speaker: text" line
   * each, joined by "\n"; the rule must (must not) fire on them. */
  const char *const *match_calls;
  size_t nmatch_calls;
  const char *const *no_match_calls;
  size_t nno_match_calls;
};

/* Call-level settings of a rule set (a rule file's "settings" object;
 * docs/rules.md). */
struct es_call_settings {
  double half_life;             /* seconds of call time heat takes to halve; 60 */
  double backup_threshold;      /* heat at which backup is raised; 10 */
  double rearm_threshold;       /* heat below which backup re-arms; 5 */
  double escalation_window;     /* seconds after a customer escalation hit in
                                   which agent hits weigh more; 60 */
  double escalation_multiplier; /* that weight; 2 */
  double example_gap;           /* seconds between call example lines; 5 */
  unsigned sentiment_flags;     /* es_sentiment_score() flags: "sentiment_mode"
                                   "vader" (0, the default) or "asr" */
  double sentiment_alpha;       /* weight of a new line in the rolling sentiment; 0.3 */
};

/* Limits and defaults applied to every rule of a set. */
struct es_rules_opts {
  unsigned negation_window;          /* words before a hit searched; default 4 */
  const char *const *negation_cues;  /* NULL-terminated; NULL: built-in list */
  uint32_t match_limit;              /* pcre2_set_match_limit; default 1000000 */
  uint32_t depth_limit;              /* pcre2_set_depth_limit; default 100000 */
  uint32_t heap_limit_kib;           /* pcre2_set_heap_limit; default 65536 */
  size_t jit_stack_max;              /* bytes; default 4 MiB */
  size_t max_line_bytes;             /* longest line a matcher takes; default 65536 */
  int check_examples;                /* 1 (default): a failing example is a load error */
};

void es_rules_opts_init(struct es_rules_opts *opts);

/* The built-in negation cues, NULL-terminated, in normalised form. */
extern const char *const es_default_negation_cues[];

/* One rule file held in memory, for es_rules_load_sources(). */
struct es_rules_source {
  const char *name;  /* shown in diagnostics */
  const char *text;  /* JSON with comments; need not be NUL-terminated */
  size_t len;
};

struct es_rules;

/* Loads every path (a file, or a directory: every *.json below it, in name
 * order) and compiles the set. `opts` may be NULL for the defaults.
 * Returns 0 and *out, or a negative es_err with one diagnostic per problem
 * in `diags` (may be NULL): ES_EIO when a path cannot be read, ES_ERULES
 * when a rule is invalid or its examples fail, ES_ENOMEM. */
int es_rules_load(const char *const *paths, size_t npaths,
                  const struct es_rules_opts *opts, struct es_rules **out,
                  struct es_diags *diags);

/* The same, from rule files already in memory. */
int es_rules_load_sources(const struct es_rules_source *src, size_t nsrc,
                          const struct es_rules_opts *opts,
                          struct es_rules **out, struct es_diags *diags);

void es_rules_free(struct es_rules *rules); /* NULL is a no-op */

uint32_t es_rules_count(const struct es_rules *rules);
const struct es_rule_info *es_rules_info(const struct es_rules *rules, uint32_t idx);
/* Index of the rule with this id, or -1. */
int64_t es_rules_find(const struct es_rules *rules, const char *id);
/* A hex digest of every loaded file's name and bytes: the rule set version. */
const char *es_rules_version(const struct es_rules *rules);
/* The call settings (defaults when no file gives any). */
const struct es_call_settings *es_rules_call_settings(const struct es_rules *rules);
/* The built-in backup "rule": id "call.backup", category "backup",
 * severity critical, the tip from the settings (backup_tip). */
const struct es_rule_info *es_rules_backup_info(const struct es_rules *rules);

/* The files loaded, in load order. */
size_t es_rules_nfiles(const struct es_rules *rules);
const char *es_rules_file(const struct es_rules *rules, size_t idx);
const struct es_rules_opts *es_rules_options(const struct es_rules *rules);
/* Rules that the prefilter cannot screen (always run), and prefilter size. */
uint32_t es_rules_unfiltered(const struct es_rules *rules);
size_t es_rules_prefilter_states(const struct es_rules *rules);

/* The PCRE2 sources a rule compiles to, for tools and benchmarks: the
 * rule's phrases compiled into one regex over normalised text (words
 * delimited by the padding spaces, which the regex consumes), then each of
 * its patterns as written. Borrowed. */
size_t es_rules_regex_count(const struct es_rules *rules, uint32_t idx);
const char *es_rules_regex(const struct es_rules *rules, uint32_t idx, size_t k);

/* Runs every rule's examples through a matcher. For each example calls
 * cb (when not NULL) with the outcome; returns the number that failed, or a
 * negative es_err. */
typedef void (*es_example_cb)(void *ud, uint32_t rule, int expect_match,
                              const char *line, int passed);
int64_t es_rules_run_examples(const struct es_rules *rules, es_example_cb cb, void *ud);

#endif
