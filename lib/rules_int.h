/*
 * rules_int.h: the compiled rule set, shared by rules.c and match.c only.
 */
#ifndef ES_RULES_INT_H
#define ES_RULES_INT_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include "prefilter.h"
#include "sentiment.h"
#include "rules.h"

enum es__regex_kind {
  ES__RX_PHRASES = 0, /* generated from phrases: consumes one pad space each side */
  ES__RX_PATTERN,     /* an author's pattern, as written */
};

struct es__regex {
  pcre2_code *code;  /* owned */
  char *src;         /* owned: the PCRE2 source */
  int kind;          /* enum es__regex_kind */
  int jit;           /* 1 when JIT-compiled */
  /* Prefilter gate: the regex runs on a line only when a literal of every
   * anchor set gate[0..ngate) occurs in it; ngate 0: on every line (no
   * anchor set could be found). An anchor set is a prefilter id. */
  uint32_t gate[2];
  unsigned ngate;
};

/* Where an example sits in its file, for diagnostics. */
struct es__pos {
  int line;
  int column;
};

/* A reference to hits of line rules, by rule id or category ("when",
 * "after", "not_followed_by"). Names are kept for reasons and resolved to
 * indexes once every file is loaded. */
struct es__ref {
  char **names;          /* owned, NULL-terminated: "id" or "category:name" */
  uint32_t *rules;       /* owned, resolved line rule indexes, ascending */
  size_t nrules;
  enum es_speaker speaker;
  double within;         /* seconds; 0: no limit */
  uint32_t turns;        /* lines of `speaker` (any: all lines); 0: no limit */
  struct es__pos pos;    /* where the clause is, for diagnostics */
  int set;               /* 1 when the rule has this clause */
};

struct es__rule {
  struct es_rule_info info;   /* strings inside are owned by the rule */
  struct es__regex *regexes;  /* owned, nregexes */
  size_t nregexes;
  struct es__regex *unless;   /* owned, nunless */
  size_t nunless;
  char **neg_cues;            /* owned, " cue " forms, NULL-terminated; NULL: set default */
  struct es__pos *match_pos;  /* owned, one per match example */
  struct es__pos *no_match_pos;
  int column;                 /* column of the rule's opening brace */
  int unfiltered;             /* 1: a regex of this rule has no gate */
  int category_idx;           /* index in the category list */
  struct es__ref when, after, nfb;  /* nfb: "not_followed_by" */
  struct es__pos *match_call_pos;   /* one per call example */
  struct es__pos *no_match_call_pos;
};

/* The regex an anchor set belongs to (each set gates exactly one). */
struct es__set_owner {
  uint32_t rule;              /* index in rules[] */
  uint32_t rx;                /* index in that rule's regexes[] */
};

struct es_rules {
  struct es__rule *rules;     /* owned, n */
  uint32_t n;
  struct es__pf *pf;          /* owned; its ids are anchor sets */
  uint32_t nsets;             /* anchor sets */
  struct es__set_owner *set_owner; /* owned, nsets: the regex each set gates */
  uint32_t *unfiltered;       /* owned: indexes of rules always run, ascending */
  uint32_t nunfiltered;
  char **default_cues;        /* owned, " cue " forms, NULL-terminated */
  char **files;               /* owned, nfiles */
  size_t nfiles;
  struct es_rules_opts opts;  /* negation_cues points into default_cues */
  struct es_call_settings call;
  struct es_rule_info backup; /* strings owned */
  /* For each line rule, the call rules whose "when" names it: callers_of
   * rule r are callers[caller_start[r] .. caller_start[r + 1]). */
  uint32_t *caller_start;     /* owned, n + 1 */
  uint32_t *callers;          /* owned */
  uint32_t *nfb_rules;        /* owned: rules with not_followed_by, ascending */
  uint32_t nnfb;
  uint32_t *signal_rules;     /* owned: signal rules, ascending */
  uint32_t nsignal;
  int dead_air;               /* 1 when a signal rule watches for dead air */
  struct es_sentiment *sentiment; /* owned: the bundled lexicon, when a rule uses sentiment */
  char version[17];
};

/* 1 when the normalised word ends a negation's scope ("but", "and"...). */
int es__neg_is_stop(const char *word, size_t len);

/* The category list; es__category_count() entries. */
const char *es__category_name(int idx);
int es__category_count(void);

/* One call example line, "[+GAP ][~DURATION ]agent|customer: text"
 * (docs/rules.md): fills what it gives (gap and dur untouched when absent)
 * and returns NULL, or what is wrong (static text, or written to buf). */
struct es__example_line {
  double gap, dur;       /* seconds; the caller's defaults when absent */
  enum es_speaker speaker;
  const char *text;      /* after "speaker: ", up to the end of the line */
  size_t len;
};
const char *es__example_line(const char *line, size_t n, struct es__example_line *out,
                             char *buf, size_t cap);

struct es_matcher;
struct es_engine;
/* engine.c: runs one call example script (lines joined by "\n", already
 * checked by es__example_line()) through matcher m and engine e of the
 * rule set, and tells whether rule `idx` fired. Returns 0 or a negative
 * es_err. */
int es__engine_run_example(struct es_matcher *m, struct es_engine *e, uint32_t idx,
                           const char *script, int *fired);

#endif
