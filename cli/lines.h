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

/* An error record (alert.h es_error_json) on stderr: what `earshot replay`
 * and `earshot sentiment` say about a line they cannot take. */
void es_cli_line_error(long long line, const char *code, const char *message, const char *rule);

/* Protocol lines (docs/protocol.md) from a file or standard input, decoded:
 * the loop of `earshot replay` and `earshot sentiment`. */
struct es_decoder;
struct es_event;
struct es_events {
  struct es_lines rd;
  struct es_decoder *dec;   /* owned */
  FILE *in;                 /* owned unless stdin */
  const char *verb;         /* "replay": for messages */
  long long lines, errors;  /* lines read; error records printed */
};

/* Opens path (NULL or "-": standard input). Returns 0, or 1 with a
 * message printed (cannot open, out of memory). */
int es_events_open(struct es_events *r, const char *verb, const char *path, size_t max_line);
/* Returns 1 with the next decoded event (borrowed until the next call), 0
 * at end of input, -1 on a read error (printed). A line that is too long
 * or does not decode gets an error record on stderr, is counted in
 * `errors` and skipped. */
int es_events_next(struct es_events *r, struct es_event *ev);
void es_events_close(struct es_events *r);

#endif
