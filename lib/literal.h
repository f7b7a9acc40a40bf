/*
 * literal.h: required-literal extraction from PCRE2 patterns (internal).
 *
 * For the prefilter, a pattern is summarised by an "anchor set": a set of
 * literals such that any string the pattern matches contains at least one
 * of them as a substring. Extraction is conservative: anything it does not
 * understand yields an empty set, meaning "cannot prefilter; always run
 * this pattern". It must never yield a set that a real match can avoid.
 *
 * Patterns are compiled PCRE2_CASELESS | PCRE2_UTF and matched against
 * normalised text (lower-case ASCII, see norm.h), so extracted literals are
 * lower-cased. Literals containing bytes >= 0x80 are not extracted (case
 * folding of non-ASCII text is not done by the normaliser).
 */
#ifndef ES_LITERAL_H
#define ES_LITERAL_H

#include <stddef.h>

#define ES_LITSET_MAX 64 /* more alternatives than this: give up (no anchors) */

struct es__litset {
  char **lits;   /* owned: n NUL-terminated literals, each from malloc() */
  size_t *lens;  /* owned */
  size_t n;
};

/* Extracts an anchor set from `pattern` (NUL-terminated PCRE2 source).
 * On return 0, out->n > 0 is a valid anchor set and out->n == 0 means none
 * could be found. Returns ES_ENOMEM on allocation failure. The caller
 * frees with es__litset_free() in every case. */
int es__lit_from_pattern(const char *pattern, struct es__litset *out);

/* The same, and a second anchor set into *also (may be NULL): when
 * also->n > 0, every match contains a literal of *out AND a literal of
 * *also, and no literal of one contains or is contained in a literal of
 * the other. Only a pattern of one top-level branch has one. */
int es__lit_from_pattern2(const char *pattern, struct es__litset *out, struct es__litset *also);

/* How much the weakest literal of s narrows the lines it occurs in: the
 * bytes of its runs of letters and digits, a run of one or two counting
 * one and a common word ("the", "to", "my") nothing. 0 for an empty set.
 * The extraction prefers stronger sets; a caller may decline a weak
 * second set (it screens out little, and costs the prefilter a report at
 * every occurrence). */
size_t es__litset_strength(const struct es__litset *s);
void es__litset_free(struct es__litset *s);

#endif
