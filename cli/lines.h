/* lines.h: a bounded line reader for the CLI (no line may grow memory
 * past the limit given at init). */
#ifndef ES_CLI_LINES_H
#define ES_CLI_LINES_H

#include <stdio.h>

struct es_lines {
  FILE *f;           /* borrowed */
  char *buf;         /* owned */
  size_t cap;        /* max line + 1 */
  size_t max_line;
  long long lineno;  /* 1-based number of the line last returned */
};

int es_lines_init(struct es_lines *r, FILE *f, size_t max_line);
void es_lines_deinit(struct es_lines *r);

/* Returns 1 with the next line (without its newline, NUL-terminated) in
 * line and len, 0 at end of input, -1 on a read error. A line longer than
 * max_line is skipped to its end and returned with *too_long set and
 * *len = the bytes seen. */
int es_lines_next(struct es_lines *r, char **line, size_t *len, int *too_long);

#endif
