/*
 * table.c: rows out as an aligned table, CSV (RFC 4180), a JSON array or
 * NDJSON (query.h).
 *
 * Stored text comes from call transcripts: in a table every control
 * character (C0, ESC among them, DEL, C1), every bidirectional formatting
 * character (U+202E...) and every invalid UTF-8 byte is shown escaped, so
 * that a line cannot move the cursor, talk to the terminal or reorder what
 * the analyst reads; widths count the escapes. CSV and JSON carry the
 * text exactly, quoted and escaped as their formats say.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

struct es_out {
  FILE *f;
  struct es_out_opts o;
  int ncols;       /* 0 until the first row or announcement */
  char **names;    /* ncols copies */
  int *json_col;   /* JSON output embeds these columns' text */
  size_t rows;
  int failed;
  /* table */
  char **cells;    /* buffered rows, ncols printable cells each */
  size_t nbuf;
  size_t *width;   /* widest cell (display columns) per column */
  int *saw_text, *saw_number;
  int flushed;     /* header and buffer printed: later rows go straight out */
};

int es_out_parse_format(const char *name, enum es_out_format *out) {
  static const char *const names[] = {"table", "csv", "json", "ndjson"};
  for (int i = 0; i < 4; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (enum es_out_format)i;
      return 0;
    }
  return -1;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Decodes one well-formed UTF-8 sequence at p (n bytes available); returns
 * its length, or 0 when the byte at p does not start one. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp) {
  if (p[0] < 0x80) {
    *cp = p[0];
    return 1;
  }
  size_t len;
  uint32_t c, min;
  if ((p[0] & 0xE0) == 0xC0) {
    len = 2, c = p[0] & 0x1F, min = 0x80;
  } else if ((p[0] & 0xF0) == 0xE0) {
    len = 3, c = p[0] & 0x0F, min = 0x800;
  } else if ((p[0] & 0xF8) == 0xF0) {
    len = 4, c = p[0] & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    c = (c << 6) | (p[i] & 0x3F);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

/* Terminal columns a code point takes: 0 for combining marks and zero-width
 * characters, 2 for East Asian wide ones and emoji, else 1. */
static size_t cp_width(uint32_t c) {
  if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) ||
      (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE00 && c <= 0xFE0F))
    return 0;
  if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
      (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
      (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD))
    return 2;
  return 1;
}

/* The invisible characters that change the order in which a terminal
 * shows the text around them (Unicode's bidirectional formatting
 * characters): ALM, LRM and RLM, the embeddings and overrides LRE..RLO
 * (U+202E, RIGHT-TO-LEFT OVERRIDE, shows "evil.exe" for "exe.live"), the
 * isolates LRI..PDI. Printed, one in a cell could move what the next
 * cells show, or make a cell read as what it is not. */
static int is_bidi_control(uint32_t c) {
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

/* ---- table cells ------------------------------------------------------ */

struct cell {
  char *p;
  size_t len, cap;
  size_t width;
};

static int cell_put(struct cell *c, const char *s, size_t n, size_t width) {
  if (c->len + n + 1 > c->cap) {
    size_t cap = (c->len + n + 1) * 2;
    char *p = realloc(c->p, cap);
    if (p == NULL) return -1;
    c->p = p;
    c->cap = cap;
  }
  memcpy(c->p + c->len, s, n);
  c->len += n;
  c->p[c->len] = '\0';
  c->width += width;
  return 0;
}

/* Appends the printable form of v to c, stopping before the cell would be
 * wider than `limit` columns; returns 1 when it stopped early, 0 when all
 * of v went in, -1 when out of memory. */
static int cell_fill(struct cell *c, const char *v, size_t limit) {
  const unsigned char *p = (const unsigned char *)v;
  size_t n = strlen(v);
  while (n > 0) {
    char esc[16];
    const char *piece = esc;
    size_t plen, pw, used;
    uint32_t cp = 0;
    used = utf8_next(p, n, &cp);
    if (used == 0) {
      snprintf(esc, sizeof esc, "\\x%02X", p[0]);
      used = 1;
    } else if (cp == '\n') {
      snprintf(esc, sizeof esc, "\\n");
    } else if (cp == '\r') {
      snprintf(esc, sizeof esc, "\\r");
    } else if (cp == '\t') {
      snprintf(esc, sizeof esc, "\\t");
    } else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || is_bidi_control(cp)) {
      snprintf(esc, sizeof esc, "\\u%04X", (unsigned)cp);
    } else {
      piece = (const char *)p;
    }
    plen = piece == esc ? strlen(esc) : used;
    pw = piece == esc ? plen : cp_width(cp);
    if (c->width + pw > limit) return 1;
    if (cell_put(c, piece, plen, pw) != 0) return -1;
    p += used;
    n -= used;
  }
  return 0;
}

/* A printable copy of v (NULL: empty) for a table cell, at most max_width
 * columns (0: no limit; a longer one ends in "..."); its width goes to
 * *width. NULL when out of memory. */
static char *cell_make(const char *v, size_t max_width, size_t *width) {
  struct cell c = {NULL, 0, 0, 0};
  int rc;
  if (v == NULL) v = "";
  if (cell_put(&c, "", 0, 0) != 0) return NULL;
  rc = cell_fill(&c, v, max_width ? max_width : SIZE_MAX);
  if (rc == 1) {
    c.len = c.width = 0;
    rc = cell_fill(&c, v, max_width > 3 ? max_width - 3 : 0);
    if (rc >= 0) rc = cell_put(&c, "...", 3, 3);
  }
  if (rc < 0) {
    free(c.p);
    return NULL;
  }
  *width = c.width;
  return c.p;
}

/* Spaces are held back until something follows them: no line ends in
 * white space. */
static void put_cell(FILE *f, size_t *pending, const char *c) {
  if (c[0] == '\0') return;
  while (*pending > 0) {
    fputc(' ', f);
    (*pending)--;
  }
  fputs(c, f);
}

static void table_line(struct es_out *o, char *const *cells) {
  size_t pending = 0;
  for (int i = 0; i < o->ncols; i++) {
    size_t w = 0;
    const char *c = cells[i];
    int right = o->saw_number[i] && !o->saw_text[i];
    /* Width again: cheaper than keeping it per cell, and only for output. */
    for (const unsigned char *p = (const unsigned char *)c; *p;) {
      uint32_t cp = 0;
      size_t used = utf8_next(p, strlen((const char *)p), &cp);
      w += cp_width(cp);
      p += used ? used : 1;
    }
    size_t gap = o->width[i] > w ? o->width[i] - w : 0;
    if (i > 0) pending += 2;
    if (right) pending += gap;
    put_cell(o->f, &pending, c);
    if (!right) pending += gap;
  }
  fputc('\n', o->f);
}

static void table_flush(struct es_out *o) {
  if (o->flushed || o->ncols == 0) return;
  o->flushed = 1;
  table_line(o, o->names);
  for (int i = 0; i < o->ncols; i++) {
    if (i > 0) fputs("  ", o->f);
    for (size_t k = 0; k < (o->width[i] ? o->width[i] : 1); k++) fputc('-', o->f);
  }
  fputc('\n', o->f);
  for (size_t r = 0; r < o->nbuf; r++) {
    table_line(o, o->cells + r * (size_t)o->ncols);
    for (int i = 0; i < o->ncols; i++) free(o->cells[r * (size_t)o->ncols + i]);
  }
  free(o->cells);
  o->cells = NULL;
  o->nbuf = 0;
}

static int table_row(struct es_out *o, const char *const *values,
                     const enum es_store_type *types) {
  char **row;
  if (!o->flushed && o->nbuf == ES_OUT_TABLE_ROWS) table_flush(o);
  if (o->flushed) {
    char *tmp[64];
    int ok = 1;
    for (int i = 0; i < o->ncols; i++) {
      size_t w;
      tmp[i] = cell_make(values[i], o->o.max_width, &w);
      ok &= tmp[i] != NULL;
    }
    if (ok) table_line(o, tmp);
    for (int i = 0; i < o->ncols; i++) free(tmp[i]);
    return ok ? 0 : -1;
  }
  if (o->cells == NULL) {
    o->cells = calloc((size_t)ES_OUT_TABLE_ROWS * (size_t)o->ncols, sizeof(char *));
    if (o->cells == NULL) return -1;
  }
  row = o->cells + o->nbuf * (size_t)o->ncols;
  for (int i = 0; i < o->ncols; i++) {
    size_t w;
    if ((row[i] = cell_make(values[i], o->o.max_width, &w)) == NULL) {
      while (i-- > 0) free(row[i]);
      return -1;
    }
    if (w > o->width[i]) o->width[i] = w;
    if (types[i] == ES_STORE_INTEGER || types[i] == ES_STORE_REAL)
      o->saw_number[i] = 1;
    else if (types[i] != ES_STORE_NULL)
      o->saw_text[i] = 1;
  }
  o->nbuf++;
  return 0;
}

/* ---- CSV and JSON ----------------------------------------------------- */

static void csv_field(FILE *f, const char *v) {
  if (v == NULL) return;
  if (strpbrk(v, ",\"\r\n") == NULL) {
    fputs(v, f);
    return;
  }
  fputc('"', f);
  for (const char *p = v; *p; p++) {
    if (*p == '"') fputc('"', f);
    fputc(*p, f);
  }
  fputc('"', f);
}

static void csv_line(struct es_out *o, const char *const *values) {
  for (int i = 0; i < o->ncols; i++) {
    if (i > 0) fputc(',', o->f);
    csv_field(o->f, values[i]);
  }
  fputs("\r\n", o->f);
}

void es_out_json_string(FILE *f, const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  fputc('"', f);
  while (n > 0) {
    uint32_t cp = 0;
    size_t used = utf8_next(p, n, &cp);
    if (used == 0) {
      fputs("\\ufffd", f);
      used = 1;
    } else if (cp == '"') {
      fputs("\\\"", f);
    } else if (cp == '\\') {
      fputs("\\\\", f);
    } else if (cp == '\n') {
      fputs("\\n", f);
    } else if (cp == '\r') {
      fputs("\\r", f);
    } else if (cp == '\t') {
      fputs("\\t", f);
    } else if (cp < 0x20 || cp == 0x7F) {
      fprintf(f, "\\u%04x", (unsigned)cp);
    } else {
      fwrite(p, 1, used, f);
    }
    p += used;
    n -= used;
  }
  fputc('"', f);
}

static void json_value(struct es_out *o, int col, const char *v, enum es_store_type type) {
  if (v == NULL || type == ES_STORE_NULL) {
    fputs("null", o->f);
  } else if (type == ES_STORE_INTEGER) {
    fputs(v, o->f);
  } else if (type == ES_STORE_REAL) {
    /* SQLite prints reals as JSON numbers, except infinities. */
    double d = strtod(v, NULL);
    fputs(isfinite(d) ? v : "null", o->f);
  } else if (o->json_col[col]) {
    cJSON *j = cJSON_Parse(v);
    if (j != NULL)
      fputs(v, o->f);
    else
      es_out_json_string(o->f, v);
    cJSON_Delete(j);
  } else {
    es_out_json_string(o->f, v);
  }
}

static void json_object(struct es_out *o, const char *const *values,
                        const enum es_store_type *types) {
  if (o->o.wrap_key) {
    fputc('{', o->f);
    es_out_json_string(o->f, o->o.wrap_key);
    fputc(':', o->f);
  }
  fputc('{', o->f);
  for (int i = 0; i < o->ncols; i++) {
    if (i > 0) fputc(',', o->f);
    es_out_json_string(o->f, o->names[i]);
    fputc(':', o->f);
    json_value(o, i, values[i], types[i]);
  }
  fputc('}', o->f);
  if (o->o.wrap_key) fputc('}', o->f);
}

/* ---- the writer ------------------------------------------------------- */

struct es_out *es_out_new(FILE *f, const struct es_out_opts *opts) {
  struct es_out *o = calloc(1, sizeof *o);
  if (o == NULL) return NULL;
  o->f = f;
  o->o = *opts;
  return o;
}

/* Takes the columns from the first call; later calls must agree. */
static int set_columns(struct es_out *o, int ncols, const char *const *names) {
  if (o->ncols) return ncols == o->ncols ? 0 : -1;
  if (ncols <= 0 || ncols > 64) return -1;
  o->names = calloc((size_t)ncols, sizeof(char *));
  o->json_col = calloc((size_t)ncols, sizeof(int));
  o->width = calloc((size_t)ncols, sizeof(size_t));
  o->saw_text = calloc((size_t)ncols, sizeof(int));
  o->saw_number = calloc((size_t)ncols, sizeof(int));
  if (!o->names || !o->json_col || !o->width || !o->saw_text || !o->saw_number) return -1;
  o->ncols = ncols; /* from here on es_out_free() frees the names */
  for (int i = 0; i < ncols; i++) {
    size_t w;
    if ((o->names[i] = cell_make(names[i], 0, &w)) == NULL) return -1;
    o->width[i] = w;
    for (const char *const *j = o->o.json_columns; j && *j; j++)
      if (strcmp(*j, names[i]) == 0) o->json_col[i] = 1;
  }
  if (o->o.format == ES_OUT_CSV) csv_line(o, (const char *const *)o->names);
  return 0;
}

int es_out_row(void *out, int ncols, const char *const *names, const char *const *values,
               const enum es_store_type *types) {
  struct es_out *o = out;
  if (o->failed) return -1;
  if (set_columns(o, ncols, names) != 0) {
    o->failed = 1;
    return -1;
  }
  if (values == NULL) return 0;
  switch (o->o.format) {
  case ES_OUT_TABLE:
    if (table_row(o, values, types) != 0) {
      o->failed = 1;
      return -1;
    }
    break;
  case ES_OUT_CSV:
    csv_line(o, values);
    break;
  case ES_OUT_JSON:
    if (o->o.single) {
      if (o->rows == 0) json_object(o, values, types);
      break;
    }
    fputs(o->rows == 0 ? "[\n" : ",\n", o->f);
    json_object(o, values, types);
    break;
  case ES_OUT_NDJSON:
    json_object(o, values, types);
    fputc('\n', o->f);
    break;
  }
  o->rows++;
  return 0;
}

size_t es_out_count(const struct es_out *o) { return o->rows; }

int es_out_finish(struct es_out *o) {
  switch (o->o.format) {
  case ES_OUT_TABLE:
    table_flush(o);
    break;
  case ES_OUT_CSV:
  case ES_OUT_NDJSON:
    break;
  case ES_OUT_JSON:
    if (o->o.single)
      fputs(o->rows == 0 ? "null" : "", o->f);
    else
      fputs(o->rows == 0 ? "[]\n" : "\n]\n", o->f);
    break;
  }
  /* Not flushed here: main() flushes stdout once at the end and reports a
   * write error with the errno of the write that failed. */
  if (ferror(o->f)) return -1;
  return o->failed ? -1 : 0;
}

void es_out_free(struct es_out *o) {
  if (o == NULL) return;
  if (o->cells)
    for (size_t i = 0; i < o->nbuf * (size_t)o->ncols; i++) free(o->cells[i]);
  free(o->cells);
  for (int i = 0; o->names && i < o->ncols; i++) free(o->names[i]);
  free(o->names);
  free(o->json_col);
  free(o->width);
  free(o->saw_text);
  free(o->saw_number);
  free(o);
}
