/* error.c: error names and the diagnostics list. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *es_strerror(int err) {
  switch (err) {
  case ES_OK: return "success";
  case ES_ENOMEM: return "out of memory";
  case ES_EINVAL: return "invalid argument";
  case ES_EIO: return "input/output error";
  case ES_ERULES: return "invalid rules";
  case ES_EUTF8: return "invalid UTF-8";
  case ES_ETOOBIG: return "input exceeds a limit";
  case ES_ELIMIT: return "regex match limit hit";
  case ES_ESTORE: return "store error";
  case ES_EJSON: return "malformed JSON";
  case ES_ENOENT: return "not found";
  case ES_EFIELD: return "missing or mistyped field";
  }
  return "unknown error";
}

void es_diags_init(struct es_diags *d) { memset(d, 0, sizeof(*d)); }

void es_diags_deinit(struct es_diags *d) {
  free(d->items);
  memset(d, 0, sizeof(*d));
}

void es_diag_text(const struct es_diag *g, char *buf, size_t cap) {
  size_t n = 0;
  if (g->file[0])
    n = (size_t)snprintf(buf, cap, "%s:%d:%d: ", g->file, g->line, g->column);
  if (n < cap && g->rule_id[0])
    n += (size_t)snprintf(buf + n, cap - n, "%s: ", g->rule_id);
  if (n < cap)
    snprintf(buf + n, cap - n, "%s", g->message);
}

void es_diags_clear(struct es_diags *d) {
  d->count = 0;
  d->dropped = 0;
}

void es_diags_add(struct es_diags *d, const char *file, int line, int column,
                  const char *rule_id, const char *fmt, ...) {
  struct es_diag *item;
  va_list ap;

  if (d == NULL)
    return;
  if (d->count == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 16;
    struct es_diag *items;
    if (d->count >= ES_DIAGS_MAX ||
        (items = realloc(d->items, cap * sizeof(*items))) == NULL) {
      d->dropped++;
      return;
    }
    d->items = items;
    d->cap = cap;
  }
  item = &d->items[d->count++];
  snprintf(item->file, sizeof(item->file), "%s", file ? file : "");
  snprintf(item->rule_id, sizeof(item->rule_id), "%s", rule_id ? rule_id : "");
  item->line = line;
  item->column = column;
  va_start(ap, fmt);
  vsnprintf(item->message, sizeof(item->message), fmt, ap);
  va_end(ap);
}
