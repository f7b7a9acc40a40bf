/*
 * rules_int.h: the compiled rule set, shared by rules.c and match.c only.
 */
#ifndef ES_RULES_INT_H
#define ES_RULES_INT_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
/* 1 when the normalised word ends a negation's scope ("but", "and"...). */
int es__neg_is_stop(const char *word, size_t len);

#endif
#include <pcre2.h>

#include "prefilter.h"
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
};

/* Where an example sits in its file, for diagnostics. */
struct es__pos {
  int line;
  int column;
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
  int unfiltered;             /* 1: the prefilter cannot screen this rule */
};

struct es_rules {
  struct es__rule *rules;     /* owned, n */
  uint32_t n;
  struct es__pf *pf;          /* owned */
  uint32_t *unfiltered;       /* owned: indexes of rules always run, ascending */
  uint32_t nunfiltered;
  char **default_cues;        /* owned, " cue " forms, NULL-terminated */
  char **files;               /* owned, nfiles */
  size_t nfiles;
  struct es_rules_opts opts;  /* negation_cues points into default_cues */
  char version[17];
};

/* 1 when the normalised word ends a negation's scope ("but", "and"...). */
int es__neg_is_stop(const char *word, size_t len);

#endif
