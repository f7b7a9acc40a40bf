/*
 * strbuf.h: a growable NUL-terminated string, for text built piece by
 * piece off the hot path (compiled regexes, stats, webhook messages).
 *
 * Caller storage, zero-initialised ({0}), with an optional ceiling `max`
 * on its length (0: none). The first append that runs out of memory or
 * would pass the ceiling sets `failed`; every later append is then a
 * no-op, so a caller checks once at the end. `p` is NULL until the first
 * append, NUL-terminated after.
 */
#ifndef ES_STRBUF_H
#define ES_STRBUF_H

#include <stddef.h>

struct es_strbuf {
  char *p;      /* owned */
  size_t len, cap;
  size_t max;   /* ceiling on len; 0: none */
  int failed;   /* out of memory, or the ceiling was reached */
};

void es_strbuf_add(struct es_strbuf *b, const char *s, size_t n);
void es_strbuf_str(struct es_strbuf *b, const char *s);
void es_strbuf_printf(struct es_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void es_strbuf_free(struct es_strbuf *b); /* frees p and zeroes the buffer */

#endif
