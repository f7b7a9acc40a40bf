/* strbuf.c: a growable string (strbuf.h). */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; 0, or -1 (failed set). */
static int reserve(struct es_strbuf *b, size_t n) {
  if (b->failed)
    return -1;
  if (b->max && b->len + n > b->max) {
    b->failed = 1;
    return -1;
  }
  if (b->len + n + 1 <= b->cap)
    return 0;
  size_t cap = b->cap ? b->cap * 2 : 256;
  while (cap < b->len + n + 1)
    cap *= 2;
  char *p = realloc(b->p, cap);
  if (p == NULL) {
    b->failed = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void es_strbuf_add(struct es_strbuf *b, const char *s, size_t n) {
  if (reserve(b, n) != 0)
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void es_strbuf_str(struct es_strbuf *b, const char *s) { es_strbuf_add(b, s, strlen(s)); }

void es_strbuf_printf(struct es_strbuf *b, const char *fmt, ...) {
  va_list ap;
  char small[256];
  int n;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = 1;
    return;
  }
  if ((size_t)n < sizeof(small)) {
    es_strbuf_add(b, small, (size_t)n);
    return;
  }
  if (reserve(b, (size_t)n) != 0)
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void es_strbuf_free(struct es_strbuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}
