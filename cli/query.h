/*
 * query.h: pieces shared by the analysts' verbs (cmd_query.c): output in
 * table, CSV or JSON form (table.c) and time arguments (timespec.c).
 * docs/analysts.md describes what users see.
 */
#ifndef ES_CLI_QUERY_H
#define ES_CLI_QUERY_H

#include <stddef.h>
#include <stdio.h>

#include "store.h"

/* ---- output (table.c) ----------------------------------------------- */

enum es_out_format {
  ES_OUT_TABLE = 0, /* aligned columns for people; cells made printable */
  ES_OUT_CSV,       /* RFC 4180: header line, CRLF line ends, quoted fields */
  ES_OUT_JSON,      /* one JSON array of objects */
  ES_OUT_NDJSON,    /* one JSON object per line */
};

/* "table", "csv", "json", "ndjson" into *out; -1 for anything else. */
int es_out_parse_format(const char *name, enum es_out_format *out);

struct es_out_opts {
  enum es_out_format format;
  size_t max_width;        /* table: longest cell shown, in columns (longer
                              ones end in "..."); 0: no limit */
  const char *const *json_columns; /* NULL-terminated names of columns that
                              hold JSON text: JSON output embeds them as
                              values rather than strings; may be NULL */
  const char *wrap_key;    /* JSON/NDJSON: each row is {"wrap_key": row} */
  int single;              /* JSON: print the first row as one object (null
                              when none) instead of an array */
};

struct es_out;

/* A writer of rows to `f` (borrowed). NULL when out of memory. */
struct es_out *es_out_new(FILE *f, const struct es_out_opts *opts);

/* Adds one row; `values` NULL (with names) only announces the columns of
 * a result without rows. Strings are copied where the format must wait
 * (a table measures its columns first, up to ES_OUT_TABLE_ROWS rows, then
 * prints the rest with the widths it has). Returns 0 or -1 (out of
 * memory, or the columns changed). Fits es_store_typed_row_cb. */
int es_out_row(void *out, int ncols, const char *const *names, const char *const *values,
               const enum es_store_type *types);

/* Rows added so far. */
size_t es_out_count(const struct es_out *o);

/* Prints whatever waits and closes the JSON array, without flushing the
 * stream. Returns 0, or -1 when writing has failed so far (ferror) or a
 * row could not be added. */
int es_out_finish(struct es_out *o);
void es_out_free(struct es_out *o);

#define ES_OUT_TABLE_ROWS 10000

/* Writes s as a JSON string literal (quotes included) to f; invalid UTF-8
 * becomes U+FFFD. */
void es_out_json_string(FILE *f, const char *s);

/* ---- time arguments (timespec.c) ------------------------------------ */

/* A length of time: a number with a unit s, m (minutes), h, d or w, e.g.
 * "90m", "24h", "7d", "1.5h". Seconds into *out; -1 when malformed. */
int es_time_parse_duration(const char *s, double *out);

/* A point in time, unix seconds into *out; -1 when malformed:
 *   2026-11-24                 midnight UTC that day
 *   2026-11-24T10:00[:00[.5]]  UTC, or with Z or an offset (+02:00, -0500);
 *                              a space may stand for the T
 *   1795000000[.25]            unix seconds
 *   90m, 24h, 7d ...           that long before `now`
 *   now, today, yesterday      (midnights UTC) */
int es_time_parse(const char *s, double now, double *out);

/* Formats unix seconds as 2026-11-24T10:00:00Z. */
void es_time_format(double t, char *buf, size_t cap);

#endif
