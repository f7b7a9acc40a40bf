/*
 * match.h: matching lines against a compiled rule set.
 *
 * A matcher is per-thread scratch (PCRE2 match data, JIT stack, buffers)
 * bound to one immutable rule set; the rule set may be shared by many
 * matchers. It reads no clock and keeps no globals.
 */
#ifndef ES_MATCH_H
#define ES_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/* One hit: rule index and the byte span [start, end) of the match in the
 * ORIGINAL line (the matched text is line[start..end)). */
struct es_hit {
  uint32_t rule;
  uint32_t start;
  uint32_t end;
};

/* The outcome of es_match_line(). Borrowed from the matcher: valid until
 * its next call. Hits are in rule order (load order), at most one per
 * rule. `limited` lists rules whose PCRE2 run hit a limit on this line:
 * for those, "no hit" is not known, and the caller must report it. */
struct es_match_result {
  const struct es_hit *hits;
  size_t nhits;
  const uint32_t *limited;
  size_t nlimited;
};

/* Counters since the matcher was made. */
struct es_match_stats {
  uint64_t lines;
  uint64_t candidates;   /* rules the prefilter let through */
  uint64_t pcre2_runs;   /* pcre2_match calls */
  uint64_t hits;
  uint64_t limit_hits;   /* sum over rules; per rule: es_matcher_limit_hits() */
};

/* Counters of one rule since the matcher was made: what it cost (lines
 * whose prefilter let it through and whose speaker it listens to, each one
 * PCRE2 run or more) against what it found. `earshot rules cost` prints
 * them. */
struct es_match_rule_stats {
  uint64_t tried;
  uint64_t hits;
  uint64_t limit_hits;
};

#define ES_MATCH_NAIVE 0x1u       /* bypass the prefilter: run every rule */
#define ES_MATCH_VALID_UTF8 0x2u  /* the caller already checked: valid UTF-8, no NUL
                                     (es_proto_decode guarantees it for text) */

struct es_matcher;

/* Returns a new matcher for `rules` (borrowed: must outlive the matcher),
 * or NULL when out of memory. */
struct es_matcher *es_matcher_new(const struct es_rules *rules);
void es_matcher_free(struct es_matcher *m); /* NULL is a no-op */

/* Matches one line said by `speaker` (ES_SPEAKER_ANY: unknown, every rule
 * applies; otherwise rules for that speaker or for any). Returns 0 and
 * fills *out; ES_EUTF8 when the text is not valid UTF-8 or holds a NUL
 * byte; ES_ETOOBIG when len exceeds the rule set's max_line_bytes. */
int es_match_line(struct es_matcher *m, enum es_speaker speaker,
                  const char *text, size_t len, unsigned flags,
                  struct es_match_result *out);

const struct es_match_stats *es_matcher_stats(const struct es_matcher *m);
uint64_t es_matcher_limit_hits(const struct es_matcher *m, uint32_t rule);
/* Rule `rule`'s counters; NULL when there is no such rule. */
const struct es_match_rule_stats *es_matcher_rule_stats(const struct es_matcher *m,
                                                        uint32_t rule);
/* The rules that ran PCRE2 (tried > 0), most runs without a match first,
 * ties in rule order: at most `cap` rule indexes into out (their counters:
 * es_matcher_rule_stats()). Returns how many, or ES_ENOMEM. `earshot rules
 * cost` and `earshot stats` print them. */
int64_t es_matcher_costliest(const struct es_matcher *m, uint32_t *out, size_t cap);
const struct es_rules *es_matcher_rules(const struct es_matcher *m);

#endif
