/* lines.c: see lines.h. */
#include "lines.h"

#include <stdlib.h>
#include <string.h>

int es_lines_init(struct es_lines *r, FILE *f, size_t max_line) {
  memset(r, 0, sizeof(*r));
  r->f = f;
  r->max_line = max_line;
  r->cap = max_line + 2;
  r->buf = malloc(r->cap);
  return r->buf ? 0 : -1;
}

void es_lines_deinit(struct es_lines *r) {
  free(r->buf);
  r->buf = NULL;
}

int es_lines_next(struct es_lines *r, char **line, size_t *len, int *too_long) {
  size_t n = 0;
  int c;

  *too_long = 0;
  while ((c = getc_unlocked(r->f)) != EOF) {
    if (c == '\n')
      break;
    if (n < r->max_line + 1)
      r->buf[n] = (char)c;
    n++;
  }
  if (c == EOF && n == 0)
    return ferror(r->f) ? -1 : 0;
  r->lineno++;
  if (n > r->max_line) {
    *too_long = 1;
    n = r->max_line + 1;
  }
  r->buf[n < r->cap ? n : r->cap - 1] = '\0';
  *line = r->buf;
  *len = *too_long ? n : n;
  return 1;
}
