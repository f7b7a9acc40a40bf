/*
 * prefilter.h: the multi-literal prefilter (internal to libearshot).
 *
 * An Aho-Corasick automaton compiled to a DFA over a compressed byte
 * alphabet. Every literal is added with the id of the rule it stands for;
 * one pass over a line yields the distinct ids whose literal occurs in it.
 * Only those rules run PCRE2. Built once per rule set ("add, prepare,
 * search", as Suricata's util-mpm.h), then immutable and shareable
 * between threads: es__pf_scan() writes only to caller scratch.
 *
 * Literals are raw bytes compared exactly (the caller lower-cases them and
 * the text; see norm.h). A literal may contain spaces.
 */
#ifndef ES_PREFILTER_H
#define ES_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

struct es__pf_builder;
struct es__pf;

/* Returns a new builder, or NULL when out of memory. */
struct es__pf_builder *es__pf_builder_new(void);
void es__pf_builder_free(struct es__pf_builder *b); /* NULL is a no-op */

/* Adds `lit` (len bytes, len >= 1, copied) standing for `id`. The same
 * literal may be added for several ids, and one id may have many literals.
 * Returns 0, ES_EINVAL (len == 0) or ES_ENOMEM. */
int es__pf_add(struct es__pf_builder *b, const char *lit, size_t len, uint32_t id);

/* Compiles the automaton. `nids` is one more than the largest id that may
 * be added (ids index the caller's bitmap). On success *out owns a new
 * prefilter; the builder is left intact and still must be freed.
 * Returns 0, ES_EINVAL or ES_ENOMEM. An empty builder yields a prefilter
 * that never reports anything. */
int es__pf_build(struct es__pf_builder *b, uint32_t nids, struct es__pf **out);
void es__pf_free(struct es__pf *pf); /* NULL is a no-op */

uint32_t es__pf_nids(const struct es__pf *pf);
size_t es__pf_nstates(const struct es__pf *pf);
size_t es__pf_memory(const struct es__pf *pf); /* bytes held */

/* Scans text[0..len). For each id with a literal occurring anywhere in the
 * text, appends the id once to ids_out (capacity must be >= nids) and sets
 * its bit in `seen` (caller scratch of (nids + 63) / 64 words, all zero on
 * entry). Returns the number of ids written. The caller clears the bits of
 * the ids it got back before the next scan. Order of ids is unspecified. */
size_t es__pf_scan(const struct es__pf *pf, const char *text, size_t len,
                   uint64_t *seen, uint32_t *ids_out);

#endif
