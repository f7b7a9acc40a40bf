/*
 * error.h: error codes and human-readable diagnostics for libearshot.
 *
 * Functions return int: 0 on success, a negative enum es_err on failure
 * (libuv's convention). Codes are never renumbered. Detail meant for a
 * person goes into an optional struct es_diags supplied by the caller.
 */
#ifndef ES_ERROR_H
#define ES_ERROR_H

#include <stddef.h>

enum es_err {
  ES_OK       =  0,
  ES_ENOMEM   = -1,  /* allocation failed */
  ES_EINVAL   = -2,  /* invalid argument */
  ES_EIO      = -3,  /* file could not be read or written */
  ES_ERULES   = -4,  /* rule files are invalid; details in the diagnostics */
  ES_EUTF8    = -5,  /* input is not valid UTF-8 */
  ES_ETOOBIG  = -6,  /* input exceeds a named limit */
  ES_ELIMIT   = -7,  /* a PCRE2 match/heap/depth/JIT stack limit was hit */
  ES_ESTORE   = -8,  /* the SQLite store failed */
  ES_EJSON    = -9,  /* malformed JSON */
  ES_ENOENT   = -10, /* no such file, rule or record */
  ES_EFIELD   = -11, /* a required field is missing or has the wrong type */
};

/* Returns a static, never NULL, description of an es_err code. */
const char *es_strerror(int err);

/* One diagnostic: where (file, 1-based line and column; 0 when unknown),
 * which rule (empty when none), and what is wrong. */
struct es_diag {
  char file[256];
  int line;
  int column;
  char rule_id[128];
  char message[512];
};

/* A bounded list of diagnostics, filled by loaders. Caller storage:
 * es_diags_init() then es_diags_deinit(). Past ES_DIAGS_MAX entries the
 * rest are counted in `dropped` instead of stored. */
#define ES_DIAGS_MAX 1000
struct es_diags {
  struct es_diag *items; /* owned, from malloc() */
  size_t count;
  size_t cap;
  size_t dropped;
};

/* Longest text es_diag_text() makes, with its NUL. */
#define ES_DIAG_TEXT_MAX (sizeof(((struct es_diag *)0)->file) + \
                          sizeof(((struct es_diag *)0)->rule_id) + \
                          sizeof(((struct es_diag *)0)->message) + 32)

/* A diagnostic as one line for a person: "file:line:column: rule-id:
 * message", without the parts it has not (no file, no rule). */
void es_diag_text(const struct es_diag *g, char *buf, size_t cap);

void es_diags_init(struct es_diags *d);
void es_diags_deinit(struct es_diags *d);
void es_diags_clear(struct es_diags *d);

/* Appends a diagnostic. `file` and `rule_id` may be NULL. Never fails:
 * when memory runs out the diagnostic is counted in `dropped`. */
void es_diags_add(struct es_diags *d, const char *file, int line, int column,
                  const char *rule_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
