/* lines.c: see lines.h. */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "proto.h"

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

void es_cli_line_error(long long line, const char *code, const char *message, const char *rule) {
  char buf[ES_ERROR_JSON_CAP];
  size_t n = es_error_json(buf, line, 0, 0, code, rule, message);
  fwrite(buf, 1, n, stderr);
}

int es_events_open(struct es_events *r, const char *verb, const char *path, size_t max_line) {
  memset(r, 0, sizeof(*r));
  r->verb = verb;
  r->in = stdin;
  if (path && strcmp(path, "-") != 0 && (r->in = fopen(path, "r")) == NULL) {
    fprintf(stderr, "earshot %s: cannot open %s: %s\n", verb, path, strerror(errno));
    return 1;
  }
  r->dec = es_decoder_new(max_line);
  if (r->dec == NULL || es_lines_init(&r->rd, r->in, max_line) != 0) {
    fprintf(stderr, "earshot %s: out of memory\n", verb);
    es_events_close(r);
    return 1;
  }
  return 0;
}

int es_events_next(struct es_events *r, struct es_event *ev) {
  for (;;) {
    char *line;
    size_t len;
    int too_long, got = es_lines_next(&r->rd, &line, &len, &too_long);
    struct es_proto_error perr;

    if (got < 0) {
      fprintf(stderr, "earshot %s: read error: %s\n", r->verb, strerror(errno));
      return -1;
    }
    if (got == 0)
      return 0;
    r->lines++;
    if (too_long) {
      char msg[128];
      snprintf(msg, sizeof(msg), "line is longer than the limit (max_line_bytes) of %zu bytes",
               r->rd.max_line);
      es_cli_line_error(r->rd.lineno, "line_too_long", msg, NULL);
      r->errors++;
      continue;
    }
    if (es_proto_decode(r->dec, line, len, ev, &perr) != 0) {
      es_cli_line_error(r->rd.lineno, perr.code, perr.message, NULL);
      r->errors++;
      continue;
    }
    return 1;
  }
}

void es_events_close(struct es_events *r) {
  if (r->rd.buf)
    es_lines_deinit(&r->rd);
  es_decoder_free(r->dec);
  r->dec = NULL;
  if (r->in && r->in != stdin)
    fclose(r->in);
  r->in = NULL;
}
