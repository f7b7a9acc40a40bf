/*
 * store.c: the SQLite alert store (store.h, docs/schema.md).
 */
#include "store.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonrun.h"
#include "redact.h"

/* Generated from the migrations in schema/ by schema/embed.cmake. */
const char *es__schema_migration(size_t idx, const char **name);

#define STORE_APP_ID 0x45534854 /* "ESHT" */
#define QUERY_MAX_COLS 32
#define JOURNAL_SIZE_LIMIT (64 * 1024 * 1024) /* bytes the -wal keeps after a checkpoint */
/* What the -wal may hold before a commit checkpoints it (SQLite's default
 * is 1,000 pages, 4 MB at 4 KiB). A busy writer changes the same index
 * and full-text pages commit after commit: with ten times the room each
 * is copied into the database once where it was copied several times,
 * 1-7% faster end to end at 16 bulk connections in seven alternating
 * pairs (docs/performance.md). JOURNAL_SIZE_LIMIT still bounds what the
 * -wal keeps after a checkpoint. */
#define WAL_CHECKPOINT_BYTES (40 * 1024 * 1024)
/* The page size of a new store; one that exists keeps its own (SQLite
 * fixes it when the first table is written). New rows, index entries and
 * full-text segments go at the ends of their trees, so with 16 KiB pages
 * rather than 4 a commit writes fewer, larger -wal frames (two write()s
 * each) and the writer spends 12-15% less CPU per alert
 * (docs/performance.md, "a writer's cache that fits, and bigger pages"). */
#define STORE_PAGE_SIZE 16384

enum stmt_id { ST_ALERT, ST_SEARCH, ST_CALL_START, ST_CALL_END_UPDATE, ST_CALL_END, ST_CALL_WHOLE,
               ST_RULE_SET, ST_BEGIN, ST_COMMIT,
               ST_ROLLBACK, ST_MARK_BY_ID, ST_MARK_BY_KEY, ST_PRUNE_MARKS, ST_PRUNE_ALERTS,
               ST_PRUNE_CALLS, ST_OUTBOX_ALERT_STORED, ST_OUTBOX_PUT,
               ST_OUTBOX_DELIVERED, ST_OUTBOX_UPDATE, ST_OUTBOX_SUMMARISED, ST_IDS_UPDATE,
               ST_IDS_INSERT, ST_COUNT };

static const char *const stmt_sql[ST_COUNT] = {
    [ST_ALERT] =
        "INSERT INTO alerts (alert_key, call_id, ts, call_ts, rule_id, category, severity,"
        " speaker, text, match_start, match_end, matched, tip, heat, rule_set, reason, id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
        " ON CONFLICT DO NOTHING",
    /* The alert's full-text index entry, written by es_store_put_alert()
     * rather than by a trigger: an INSERT that fires a trigger runs in a
     * statement transaction, and FTS5 writes its pending terms to disk as a
     * new segment at every such savepoint, which made indexing several
     * times dearer than the row (schema/005_writer_cost.sql). */
    [ST_SEARCH] =
        "INSERT INTO alert_search (rowid, text, matched, tip, rule_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* A start with no attributes (a call resumed after a restart, or
     * after it was closed as abandoned) keeps the ones stored. */
    [ST_CALL_START] =
        "INSERT INTO calls (call_id, attributes, agent, queue, started)"
        " VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (call_id) DO UPDATE SET"
        " attributes = iif(excluded.attributes = '{}', calls.attributes, excluded.attributes),"
        " agent = coalesce(excluded.agent, calls.agent),"
        " queue = coalesce(excluded.queue, calls.queue),"
        " started = min(coalesce(calls.started, excluded.started), excluded.started),"
        " ended = NULL, end_reason = NULL",
    /* A call's end updates the row its start left: an UPSERT would first
     * try the INSERT (a record, its CHECK constraints, json_valid() of the
     * default attributes and of hits_by_category, the primary key probe)
     * and only then update, checking hits_by_category again. ST_CALL_END
     * inserts, with the same parameters, when the UPDATE found no row. */
    [ST_CALL_END_UPDATE] =
        "UPDATE calls SET ended = ?2, end_reason = ?3, alert_count = ?4, peak_heat = ?5,"
        " final_heat = ?6, hits_by_category = ?7, backup_raised = ?8, deescalated = ?9"
        " WHERE call_id = ?1",
    [ST_CALL_END] =
        "INSERT INTO calls (call_id, ended, end_reason, alert_count, peak_heat, final_heat,"
        " hits_by_category, backup_raised, deescalated)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    /* A call's start and end in one statement: what ST_CALL_START then
     * ST_CALL_END_UPDATE leave, written once. ?1..?9 as ST_CALL_END, the
     * start's at ?10..?13. */
    [ST_CALL_WHOLE] =
        "INSERT INTO calls (call_id, attributes, agent, queue, started, ended, end_reason,"
        " alert_count, peak_heat, final_heat, hits_by_category, backup_raised, deescalated)"
        " VALUES (?1, ?10, ?11, ?12, ?13, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
        " ON CONFLICT (call_id) DO UPDATE SET"
        " attributes = iif(excluded.attributes = '{}', calls.attributes, excluded.attributes),"
        " agent = coalesce(excluded.agent, calls.agent),"
        " queue = coalesce(excluded.queue, calls.queue),"
        " started = min(coalesce(calls.started, excluded.started), excluded.started),"
        " ended = excluded.ended, end_reason = excluded.end_reason,"
        " alert_count = excluded.alert_count, peak_heat = excluded.peak_heat,"
        " final_heat = excluded.final_heat, hits_by_category = excluded.hits_by_category,"
        " backup_raised = excluded.backup_raised, deescalated = excluded.deescalated",
    [ST_RULE_SET] =
        "INSERT INTO rule_sets (version, loaded_at, last_loaded_at, files, rule_count)"
        " VALUES (?1, ?2, ?2, ?3, ?4)"
        " ON CONFLICT (version) DO UPDATE SET"
        " last_loaded_at = max(rule_sets.last_loaded_at, excluded.last_loaded_at)",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    /* The alert must exist: no row is inserted otherwise (ES_ENOENT). */
    [ST_MARK_BY_ID] =
        "INSERT INTO alert_marks (alert_id, mark, marked_by, marked_at, note)"
        " SELECT id, ?2, ?3, ?4, ?5 FROM alerts WHERE id = ?1 RETURNING alert_id",
    [ST_MARK_BY_KEY] =
        "INSERT INTO alert_marks (alert_id, mark, marked_by, marked_at, note)"
        " SELECT id, ?2, ?3, ?4, ?5 FROM alerts WHERE alert_key = ?1 RETURNING alert_id",
    /* Retention, oldest first through alerts_by_ts; ?2 -1 means no bound.
     * The marks go first, while their alerts are still there to select
     * them by (a trigger would also remove them, uncounted); the search
     * index entries go with the alerts, by trigger. */
    [ST_PRUNE_MARKS] =
        "DELETE FROM alert_marks WHERE alert_id IN"
        " (SELECT id FROM alerts WHERE ts < ?1 ORDER BY ts, id LIMIT ?2)",
    [ST_PRUNE_ALERTS] =
        "DELETE FROM alerts WHERE id IN"
        " (SELECT id FROM alerts WHERE ts < ?1 ORDER BY ts, id LIMIT ?2)",
    [ST_PRUNE_CALLS] =
        "DELETE FROM calls WHERE rowid IN"
        " (SELECT rowid FROM calls WHERE coalesce(ended, started) < ?1 LIMIT ?2)",
    /* A delivery is stored only for a stored alert: a lookup, then a
     * one-row INSERT. Not INSERT ... SELECT WHERE EXISTS: that runs in a
     * statement journal, and opening one inside a transaction makes FTS5
     * write the pending index entries of the transaction's alerts out as a
     * segment of their own (schema/005_writer_cost.sql), once per outbox
     * row. */
    [ST_OUTBOX_ALERT_STORED] = "SELECT 1 FROM alerts WHERE id = ?1",
    [ST_OUTBOX_PUT] =
        "INSERT INTO webhook_outbox (destination, alert_id, payload, next_attempt_at,"
        " created_at) VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT DO NOTHING",
    [ST_OUTBOX_DELIVERED] = "DELETE FROM webhook_outbox WHERE id = ?1",
    [ST_OUTBOX_UPDATE] =
        "UPDATE webhook_outbox SET state = ?2, attempts = ?3,"
        " next_attempt_at = coalesce(?4, next_attempt_at), last_error = ?5,"
        " closed_at = ?6 WHERE id = ?1",
    [ST_OUTBOX_SUMMARISED] =
        "DELETE FROM webhook_outbox WHERE destination = ?1 AND state = 'suppressed'"
        " AND id <= ?2",
    /* The reserved id ceiling: an UPDATE of the row the migration made
     * (not an UPSERT, which opens a statement journal: in a writer's
     * transaction that makes FTS5 write a segment of its own), and the
     * INSERT only if someone deleted that row. */
    [ST_IDS_UPDATE] =
        "UPDATE daemon_state SET value = ?1 WHERE name = 'alert_ids_reserved'",
    [ST_IDS_INSERT] =
        "INSERT INTO daemon_state (name, value) VALUES ('alert_ids_reserved', ?1)",
};

/* A scratch buffer that grows on demand; its ceiling is checked by the
 * callers (max_text_bytes) before they reserve. */
struct buf {
  char *p;
  size_t len, cap;
};

struct es_store {
  sqlite3 *db;
  struct es_store_opts opts;
  sqlite3_stmt *stmt[ST_COUNT];
  int in_tx;
  int version;
  struct es_store_stats stats;
  struct buf text, json;
  char errmsg[512];
};

/* ---- helpers -------------------------------------------------------- */

static int buf_reserve(struct buf *b, size_t need) {
  if (need <= b->cap) return 0;
  char *p = realloc(b->p, need);
  if (p == NULL) return ES_ENOMEM;
  b->p = p;
  b->cap = need;
  return 0;
}

static void buf_free(struct buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

static int fail(struct es_store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct es_store *s, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
  va_end(ap);
  s->stats.errors++;
  return err;
}

static int fail_db(struct es_store *s, const char *what) {
  return fail(s, ES_ESTORE, "%s: %s (SQLite error %d)", what, sqlite3_errmsg(s->db),
              sqlite3_extended_errcode(s->db));
}

static int empty(const char *str) { return str == NULL || str[0] == '\0'; }

static void bind_text(sqlite3_stmt *st, int idx, const char *p, size_t len) {
  if (p == NULL)
    sqlite3_bind_null(st, idx);
  else
    sqlite3_bind_text64(st, idx, p, len, SQLITE_STATIC, SQLITE_UTF8);
}

static void bind_str(sqlite3_stmt *st, int idx, const char *p) {
  bind_text(st, idx, p, p ? strlen(p) : 0);
}

static void bind_real(sqlite3_stmt *st, int idx, double v) {
  if (isfinite(v))
    sqlite3_bind_double(st, idx, v);
  else
    sqlite3_bind_null(st, idx);
}

static int get_stmt(struct es_store *s, enum stmt_id id, sqlite3_stmt **out) {
  if (s->stmt[id] == NULL &&
      sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id],
                         NULL) != SQLITE_OK)
    return fail_db(s, "prepare");
  *out = s->stmt[id];
  return 0;
}

/* Runs a prepared statement that returns no rows, then resets it and
 * clears its bindings (no pointer to caller memory stays bound). Returns
 * 0, or ES_ESTORE with the message "what: SQLite's message". */
static int run(struct es_store *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : fail_db(s, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int writable(struct es_store *s, const char *what) {
  if (s->opts.read_only) return fail(s, ES_EINVAL, "%s: the store is read-only", what);
  return 0;
}

/* Length of a NUL-terminated string, or max + 1 when longer than max. */
static size_t bounded_len(const char *str, size_t max) {
  const char *end = memchr(str, '\0', max + 1);
  return end ? (size_t)(end - str) : max + 1;
}

/* ---- JSON checks ----------------------------------------------------- */

/* A JSON text handed to the store (a reason, attributes, a call's hits,
 * an outbox payload) is checked, not parsed: RFC 8259 syntax, at most
 * JSON_DEPTH_MAX levels deep, nothing built (the writer checks one for
 * every call and call-level alert; a cJSON tree each was 9% of its CPU). */
#define JSON_DEPTH_MAX 512

struct jcheck {
  const char *p, *end;
  int depth;
};

static void j_ws(struct jcheck *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

static int j_string(struct jcheck *j) {
  j->p++; /* the opening quote */
  while (j->p < j->end) {
    unsigned char c = (unsigned char)*j->p++;
    if (c == '"')
      return 1;
    if (c < 0x20)
      return 0;
    if (c != '\\')
      continue;
    if (j->p >= j->end)
      return 0;
    c = (unsigned char)*j->p++;
    if (c == 'u') {
      for (int k = 0; k < 4; k++, j->p++)
        if (j->p >= j->end || !isxdigit((unsigned char)*j->p))
          return 0;
    } else if (c == '\0' || strchr("\"\\/bfnrt", c) == NULL) {
      return 0;
    }
  }
  return 0;
}

static int j_number(struct jcheck *j) {
  size_t end = es__json_number_end(j->p, 0, (size_t)(j->end - j->p));
  j->p += end;
  return end > 0;
}

static int j_word(struct jcheck *j, const char *w, size_t n) {
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
    return 0;
  j->p += n;
  return 1;
}

static int j_value(struct jcheck *j) {
  j_ws(j);
  if (j->p >= j->end)
    return 0;
  switch (*j->p) {
  case '"': return j_string(j);
  case 't': return j_word(j, "true", 4);
  case 'f': return j_word(j, "false", 5);
  case 'n': return j_word(j, "null", 4);
  case '{':
  case '[': {
    char close = *j->p == '{' ? '}' : ']';
    if (++j->depth > JSON_DEPTH_MAX)
      return 0;
    j->p++;
    j_ws(j);
    if (j->p < j->end && *j->p == close) {
      j->p++;
      j->depth--;
      return 1;
    }
    for (;;) {
      if (close == '}') { /* a member's name and its colon */
        j_ws(j);
        if (j->p >= j->end || *j->p != '"' || !j_string(j))
          return 0;
        j_ws(j);
        if (j->p >= j->end || *j->p != ':')
          return 0;
        j->p++;
      }
      if (!j_value(j))
        return 0;
      j_ws(j);
      if (j->p >= j->end)
        return 0;
      if (*j->p == ',') {
        j->p++;
        continue;
      }
      if (*j->p != close)
        return 0;
      j->p++;
      j->depth--;
      return 1;
    }
  }
  default: return (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) && j_number(j);
  }
}

/* 1 when json[0..len) is one JSON value (an object when `object`) with
 * nothing but white space around it. */
static int check_json(const char *json, size_t len, int object) {
  struct jcheck j = {json, json + len, 0};
  j_ws(&j);
  if (object && (j.p >= j.end || *j.p != '{'))
    return 0;
  if (!j_value(&j))
    return 0;
  j_ws(&j);
  return j.p == j.end;
}

/* ---- masking -------------------------------------------------------- */

/* Writes a call's attributes json[0..len) to s->json with every string
 * and number value masked and NUL-terminates it. */
static int mask_attrs(struct es_store *s, const char *json, size_t len) {
  struct buf *out = &s->json;
  if (buf_reserve(out, ES_REDACT_JSON_VALUES_BOUND(len)) != 0)
    return fail(s, ES_ENOMEM, "out of memory");
  s->stats.masks += es_redact_json_values(json, len, s->opts.redact_kinds, out->p, &out->len);
  return 0;
}

/* ---- names ---------------------------------------------------------- */

const char *es_store_severity_name(enum es_severity sev) {
  switch (sev) {
  case ES_SEV_INFO: return "info";
  case ES_SEV_LOW: return "low";
  case ES_SEV_MEDIUM: return "medium";
  case ES_SEV_HIGH: return "high";
  case ES_SEV_CRITICAL: return "critical";
  default: return NULL;
  }
}

const char *es_store_speaker_name(enum es_speaker sp) {
  switch (sp) {
  case ES_SPEAKER_AGENT: return "agent";
  case ES_SPEAKER_CUSTOMER: return "customer";
  default: return NULL;
  }
}

const char *es_store_mark_name(enum es_mark m) {
  switch (m) {
  case ES_MARK_TAKEN: return "taken";
  case ES_MARK_RESOLVED: return "resolved";
  case ES_MARK_FALSE_POSITIVE: return "false_positive";
  default: return NULL;
  }
}

int es_store_mark_parse(const char *name, enum es_mark *out) {
  for (int m = ES_MARK_TAKEN; m <= ES_MARK_FALSE_POSITIVE; m++)
    if (name && strcmp(name, es_store_mark_name((enum es_mark)m)) == 0) {
      *out = (enum es_mark)m;
      return 0;
    }
  return ES_EINVAL;
}

const char *es_store_end_reason_name(enum es_end_reason r) {
  switch (r) {
  case ES_END_ENDED: return "ended";
  case ES_END_ABANDONED: return "abandoned";
  case ES_END_SHUTDOWN: return "shutdown";
  default: return NULL;
  }
}

/* ---- open, migrate, close -------------------------------------------- */

void es_store_opts_init(struct es_store_opts *opts) {
  memset(opts, 0, sizeof *opts);
  opts->synchronous = ES_STORE_SYNC_NORMAL;
  opts->busy_timeout_ms = 5000;
  opts->read_only = 0;
  opts->redact_kinds = ES_REDACT_ALL;
  opts->create_mode = 0640;
  opts->max_text_bytes = 65536;
  opts->cache_kib = ES_STORE_CACHE_KIB;
}

int es_store_schema_latest(void) {
  const char *name;
  int n = 0;
  while (es__schema_migration((size_t)n, &name) != NULL) n++;
  return n;
}

int es_store_schema_version(const struct es_store *s) { return s ? s->version : 0; }

/* Runs a statement that yields one integer (a PRAGMA or a count). */
static int query_int(struct es_store *s, const char *sql, int64_t *out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(st, 0);
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) rc = fail_db(s, sql);
  sqlite3_finalize(st);
  return rc;
}

/* Runs a statement that yields one text value into out[0..cap). */
static int query_text(struct es_store *s, const char *sql, char *out, size_t cap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  out[0] = '\0';
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const unsigned char *v = sqlite3_column_text(st, 0);
      snprintf(out, cap, "%s", v ? (const char *)v : "");
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) rc = fail_db(s, sql);
  sqlite3_finalize(st);
  return rc;
}

static int exec(struct es_store *s, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fail(s, ES_ESTORE, "%s (SQLite error %d)", msg ? msg : sqlite3_errmsg(s->db),
         sqlite3_extended_errcode(s->db));
    sqlite3_free(msg);
    return ES_ESTORE;
  }
  return 0;
}

/* Applies migrations version + 1 .. latest, each in one transaction. The
 * version is read again under the write lock, so two processes opening a
 * new file at once do not both apply a migration. */
static int migrate(struct es_store *s, int64_t version, int latest, struct es_diags *diags,
                   const char *path) {
  for (int64_t v = version + 1; v <= latest; v++) {
    const char *name, *sql = es__schema_migration((size_t)(v - 1), &name);
    char pragma[64];
    int64_t now;
    int rc;
    if ((rc = exec(s, "BEGIN IMMEDIATE")) != 0) goto fail;
    if ((rc = query_int(s, "PRAGMA user_version", &now)) != 0) goto rollback;
    if (now >= v) {
      if ((rc = exec(s, "COMMIT")) != 0) goto rollback;
      continue;
    }
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", (int)v);
    if ((rc = exec(s, sql)) != 0 || (rc = exec(s, pragma)) != 0 ||
        (rc = exec(s, "COMMIT")) != 0)
      goto rollback;
    s->stats.migrations_applied++;
    continue;
  rollback:
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  fail:
    es_diags_add(diags, path, 0, 0, NULL, "migration %s failed: %s", name, s->errmsg);
    return rc;
  }
  return 0;
}

/* Creates a missing database file with the requested permissions; SQLite
 * gives its -wal and -shm files the same ones. */
static int precreate(const char *path, unsigned mode) {
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)mode);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  return errno == EEXIST ? 0 : -errno;
}

int es_store_open(const char *path, const struct es_store_opts *opts, struct es_store **out,
                  struct es_diags *diags) {
  struct es_store *s = NULL;
  int rc, flags, latest = es_store_schema_latest();
  int64_t app_id = 0, version = 0, objects = 0, setting = 0;
  char mode[16];

  if (out == NULL) return ES_EINVAL;
  *out = NULL;
  if (empty(path)) {
    es_diags_add(diags, NULL, 0, 0, NULL, "no database path given");
    return ES_EINVAL;
  }
  if ((s = calloc(1, sizeof *s)) == NULL) return ES_ENOMEM;
  if (opts)
    s->opts = *opts;
  else
    es_store_opts_init(&s->opts);
  /* Zeroes (options not from es_store_opts_init()) mean the defaults. */
  if (s->opts.max_text_bytes == 0) s->opts.max_text_bytes = 65536;
  if (s->opts.create_mode == 0) s->opts.create_mode = 0640;
  if (s->opts.cache_kib == 0) s->opts.cache_kib = ES_STORE_CACHE_KIB;
  s->opts.redact_kinds &= ES_REDACT_ALL;

  if (s->opts.read_only) {
    struct stat sb;
    if (strcmp(path, ":memory:") != 0 && stat(path, &sb) != 0) {
      rc = errno == ENOENT ? ES_ENOENT : ES_EIO;
      es_diags_add(diags, path, 0, 0, NULL, "cannot open the alert store: %s", strerror(errno));
      goto fail;
    }
    flags = SQLITE_OPEN_READONLY;
  } else {
    if (strcmp(path, ":memory:") != 0 && (rc = precreate(path, s->opts.create_mode)) != 0) {
      es_diags_add(diags, path, 0, 0, NULL, "cannot create the alert store: %s", strerror(-rc));
      rc = ES_EIO;
      goto fail;
    }
    flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    es_diags_add(diags, path, 0, 0, NULL, "cannot open the alert store: %s",
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    rc = rc == SQLITE_NOMEM ? ES_ENOMEM : ES_EIO;
    goto fail;
  }
  sqlite3_extended_result_codes(s->db, 1);
  /* SQLite quietly opens a write-protected file read-only. */
  if (!s->opts.read_only && sqlite3_db_readonly(s->db, "main") == 1) {
    es_diags_add(diags, path, 0, 0, NULL, "cannot write the alert store: permission denied");
    rc = ES_EIO;
    goto fail;
  }
  sqlite3_busy_timeout(s->db, (int)(s->opts.busy_timeout_ms > 0x7fffffff
                                        ? 0x7fffffff
                                        : s->opts.busy_timeout_ms));

  /* Is this an earshot store (or an empty file that will become one)? */
  if ((rc = query_int(s, "PRAGMA application_id", &app_id)) != 0 ||
      (rc = query_int(s, "PRAGMA user_version", &version)) != 0 ||
      (rc = query_int(s, "SELECT count(*) FROM sqlite_schema", &objects)) != 0) {
    if (sqlite3_extended_errcode(s->db) == SQLITE_READONLY_DIRECTORY)
      es_diags_add(diags, path, 0, 0, NULL,
                   "its directory is not writable: SQLite must create %s-wal and %s-shm next "
                   "to it (the database itself is not at fault)", path, path);
    else
      es_diags_add(diags, path, 0, 0, NULL, "not a usable SQLite database: %s", s->errmsg);
    goto fail;
  }
  if (app_id != STORE_APP_ID && (app_id != 0 || version != 0 || objects != 0)) {
    es_diags_add(diags, path, 0, 0, NULL,
                 "not an earshot alert store (application_id %lld, user_version %lld)",
                 (long long)app_id, (long long)version);
    rc = ES_ESTORE;
    goto fail;
  }
  if (version > latest) {
    es_diags_add(diags, path, 0, 0, NULL,
                 "schema version %lld is newer than this build of earshot supports (%d): "
                 "upgrade earshot",
                 (long long)version, latest);
    rc = ES_ESTORE;
    goto fail;
  }

  if (s->opts.read_only) {
    if (version < latest) {
      es_diags_add(diags, path, 0, 0, NULL,
                   "schema version %lld is older than this build of earshot reads (%d): "
                   "open it once read-write (start earshotd) to migrate it",
                   (long long)version, latest);
      rc = ES_ESTORE;
      goto fail;
    }
    if ((rc = exec(s, "PRAGMA query_only = 1")) != 0) goto fail_sql;
  } else {
    char pragma[64];
    int64_t page_size = 0;
    if (objects == 0) {
      snprintf(pragma, sizeof pragma, "PRAGMA page_size = %d", STORE_PAGE_SIZE);
      if ((rc = exec(s, pragma)) != 0) goto fail_sql;
    }
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous = %s",
             s->opts.synchronous == ES_STORE_SYNC_FULL ? "FULL" : "NORMAL");
    if ((rc = query_text(s, "PRAGMA journal_mode = WAL", mode, sizeof mode)) != 0 ||
        (rc = exec(s, pragma)) != 0)
      goto fail_sql;
    if (strcmp(mode, "wal") != 0 && strcmp(path, ":memory:") != 0) {
      es_diags_add(diags, path, 0, 0, NULL,
                   "cannot use write-ahead logging (journal mode is %s)", mode);
      rc = ES_ESTORE;
      goto fail;
    }
    /* Statement journals (every UPSERT writes one) in memory rather than
     * in temporary files: a quarter of the writer's cost per alert
     * (bench/store.sh). A writer's statements change a few rows each, so
     * they stay small. */
    if ((rc = exec(s, "PRAGMA temp_store = MEMORY")) != 0) goto fail_sql;
    /* Negative: a size in KiB rather than a page count. SQLite allocates
     * the cache as pages are used, so a small database stays small. */
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%u", s->opts.cache_kib);
    if ((rc = exec(s, pragma)) != 0) goto fail_sql;
    if ((rc = query_int(s, "PRAGMA page_size", &page_size)) != 0) goto fail_sql;
    /* Settings that answer with their new value (a row to read). */
    const struct { const char *name; int value; } wal[] = {
      {"journal_size_limit", JOURNAL_SIZE_LIMIT},
      {"wal_autocheckpoint", (int)(WAL_CHECKPOINT_BYTES / page_size)},
    };
    for (size_t i = 0; i < sizeof wal / sizeof wal[0]; i++) {
      snprintf(pragma, sizeof pragma, "PRAGMA %s = %d", wal[i].name, wal[i].value);
      if ((rc = query_int(s, pragma, &setting)) != 0) goto fail_sql;
    }
    if ((rc = migrate(s, version, latest, diags, path)) != 0) goto fail;
  }
  s->version = latest;
  s->errmsg[0] = '\0';
  *out = s;
  return 0;

fail_sql: /* a statement failed; s->errmsg says why */
  es_diags_add(diags, path, 0, 0, NULL, "%s", s->errmsg);
fail:
  es_store_close(s);
  return rc;
}

void es_store_close(struct es_store *s) {
  if (s == NULL) return;
  if (s->db && !sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(s->stmt[i]);
  sqlite3_close(s->db);
  buf_free(&s->text);
  buf_free(&s->json);
  free(s);
}

/* ---- transactions --------------------------------------------------- */

int es_store_in_transaction(const struct es_store *s) {
  return s != NULL && s->in_tx && !sqlite3_get_autocommit(s->db);
}

int es_store_begin(struct es_store *s) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL) return ES_EINVAL;
  if ((rc = writable(s, "begin")) != 0) return rc;
  if (s->in_tx || !sqlite3_get_autocommit(s->db))
    return fail(s, ES_EINVAL, "begin: a transaction is already open");
  if ((rc = get_stmt(s, ST_BEGIN, &st)) != 0 || (rc = run(s, st, "begin")) != 0) return rc;
  s->in_tx = 1;
  s->stats.alerts_pending = 0;
  return 0;
}

static void lose_pending(struct es_store *s) {
  s->stats.alerts_lost += s->stats.alerts_pending;
  s->stats.alerts_pending = 0;
  s->stats.rollbacks++;
  s->in_tx = 0;
}

int es_store_commit(struct es_store *s) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL) return ES_EINVAL;
  if (!s->in_tx) return fail(s, ES_EINVAL, "commit: no transaction is open");
  if (sqlite3_get_autocommit(s->db)) {
    /* An error (SQLITE_FULL, SQLITE_IOERR...) already rolled it back. */
    lose_pending(s);
    return fail(s, ES_ESTORE, "commit: the transaction was rolled back by an earlier error");
  }
  if ((rc = get_stmt(s, ST_COMMIT, &st)) != 0 || (rc = run(s, st, "commit")) != 0) {
    if (!sqlite3_get_autocommit(s->db)) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    lose_pending(s);
    return rc;
  }
  s->stats.alerts_written += s->stats.alerts_pending;
  s->stats.alerts_pending = 0;
  s->stats.commits++;
  s->in_tx = 0;
  return 0;
}

int es_store_rollback(struct es_store *s) {
  sqlite3_stmt *st = NULL;
  int rc = 0;
  if (s == NULL) return ES_EINVAL;
  if (!s->in_tx) return 0;
  if (!sqlite3_get_autocommit(s->db) && (rc = get_stmt(s, ST_ROLLBACK, &st)) == 0)
    rc = run(s, st, "rollback");
  lose_pending(s);
  return rc;
}

/* ---- writes ---------------------------------------------------------- */

/* *known = 1 when an alert with this key is stored. */
static int alert_key_known(struct es_store *s, const char *key, int64_t *known) {
  sqlite3_stmt *st = NULL;
  int rc = 0, step;
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM alerts WHERE alert_key = ?1", -1, &st, NULL) !=
      SQLITE_OK)
    return fail_db(s, "put_alert");
  bind_str(st, 1, key);
  step = sqlite3_step(st);
  if (step == SQLITE_ROW)
    *known = 1;
  else if (step != SQLITE_DONE)
    rc = fail_db(s, "put_alert");
  sqlite3_finalize(st);
  return rc;
}

/* Where es_store_mask_alert() writes in `out`: the masked text at 0, the
 * words at *matched_at (room for the line's when the alert gives none
 * apart: es_redact_line() writes them there), the reason at *reason_at;
 * returns the bytes in all. */
static size_t mask_layout(const struct es_alert_rec *rec, size_t *matched_at, size_t *reason_at) {
  size_t tb = rec->text ? ES_REDACT_BOUND(rec->text_len) : 0;
  *matched_at = tb;
  *reason_at = tb + (rec->matched ? ES_REDACT_BOUND(strlen(rec->matched)) : tb);
  return *reason_at + (rec->reason ? ES_REDACT_BOUND(strlen(rec->reason)) : 0);
}

size_t es_store_mask_alert_size(const struct es_alert_rec *rec) {
  size_t matched_at, reason_at;
  return mask_layout(rec, &matched_at, &reason_at);
}

void es_store_mask_alert(const struct es_alert_rec *rec, unsigned kinds, char *out,
                         struct es_alert_masked *m) {
  size_t matched_at, reason_at;
  mask_layout(rec, &matched_at, &reason_at);
  char *matched = out + matched_at, *reason = out + reason_at;

  memset(m, 0, sizeof(*m));
  m->kinds = kinds;
  if (rec->text) {
    /* The line and, from the same scan, its matched words: a mask that
     * overlaps the match stands in for all of it (redact.h). */
    m->masks += es_redact_line(rec->text, rec->text_len, rec->match_start, rec->match_end, kinds,
                               out, &m->text_len, rec->matched ? NULL : matched,
                               &m->matched_len);
    m->text = out;
    m->matched = matched;
  }
  if (rec->matched) { /* words given apart from the line: masked on their own */
    struct es_redact_counts c;
    size_t mn = strlen(rec->matched);
    m->matched_len = es_redact(rec->matched, mn, kinds, matched, ES_REDACT_BOUND(mn), &c);
    m->matched = matched;
    m->masks += (uint64_t)c.card + c.cvv + c.ssn + c.email + c.phone;
  }
  if (rec->reason) {
    m->masks += es_redact_json(rec->reason, strlen(rec->reason), kinds, reason, &m->reason_len);
    m->reason = reason;
  }
}

/* es_store_put_alert() inside a transaction: the row, then its full-text
 * index entry. */
static int put_alert(struct es_store *s, const struct es_alert_rec *rec) {
  const size_t max = s->opts.max_text_bytes;
  const char *severity, *speaker = NULL;
  const char *text = NULL, *matched = NULL, *reason = NULL;
  size_t text_len = 0, matched_len = 0, reason_len = 0;
  sqlite3_stmt *st = NULL;
  int rc;

  if (empty(rec->alert_key) || empty(rec->call_id) || empty(rec->rule_id))
    return fail(s, ES_EINVAL, "put_alert: alert_key, call_id and rule_id are required");
  if (rec->id < 0) return fail(s, ES_EINVAL, "put_alert: negative id");
  if (!isfinite(rec->ts)) return fail(s, ES_EINVAL, "put_alert: ts is not a number");
  if ((severity = es_store_severity_name(rec->severity)) == NULL)
    return fail(s, ES_EINVAL, "put_alert: bad severity %d", (int)rec->severity);
  if (rec->speaker != ES_SPEAKER_ANY && (speaker = es_store_speaker_name(rec->speaker)) == NULL)
    return fail(s, ES_EINVAL, "put_alert: bad speaker %d", (int)rec->speaker);
  if (rec->text) {
    if (rec->text_len > max)
      return fail(s, ES_ETOOBIG, "put_alert: line of %zu bytes exceeds %zu", rec->text_len, max);
    if (rec->match_start > rec->match_end || rec->match_end > rec->text_len)
      return fail(s, ES_EINVAL, "put_alert: match span %u..%u outside the %zu-byte line",
                  rec->match_start, rec->match_end, rec->text_len);
    text = rec->text;
    text_len = rec->text_len;
  }
  if (rec->matched) {
    matched = rec->matched;
    if ((matched_len = bounded_len(matched, max)) > max)
      return fail(s, ES_ETOOBIG, "put_alert: matched words exceed %zu bytes", max);
  } else if (text) {
    matched = text + rec->match_start;
    matched_len = rec->match_end - rec->match_start;
  }
  if (rec->reason) {
    reason = rec->reason;
    if ((reason_len = bounded_len(reason, max)) > max)
      return fail(s, ES_ETOOBIG, "put_alert: reason exceeds %zu bytes", max);
    if (!check_json(reason, reason_len, 0))
      return fail(s, ES_EJSON, "put_alert: reason is not valid JSON");
  }

  if (s->opts.redact_kinds != 0) {
    /* Nothing unmasked reaches a statement: the caller's masked forms when
     * they were made as here, else the store's own. */
    const struct es_alert_masked *m = rec->masked;
    struct es_alert_masked own;
    if (!m || m->kinds != s->opts.redact_kinds || !m->text != !text || !m->matched != !matched ||
        !m->reason != !reason) {
      if (buf_reserve(&s->text, es_store_mask_alert_size(rec)) != 0)
        return fail(s, ES_ENOMEM, "put_alert: out of memory");
      es_store_mask_alert(rec, s->opts.redact_kinds, s->text.p, &own);
      m = &own;
    }
    text = m->text;
    text_len = m->text_len;
    matched = m->matched;
    matched_len = m->matched_len;
    reason = m->reason;
    reason_len = m->reason_len;
    s->stats.masks += m->masks;
  }

  if ((rc = get_stmt(s, ST_ALERT, &st)) != 0) return rc;
  bind_str(st, 1, rec->alert_key);
  bind_str(st, 2, rec->call_id);
  sqlite3_bind_double(st, 3, rec->ts);
  bind_real(st, 4, rec->call_ts);
  bind_str(st, 5, rec->rule_id);
  bind_str(st, 6, rec->category);
  bind_str(st, 7, severity);
  bind_str(st, 8, speaker);
  bind_text(st, 9, text, text_len);
  if (rec->text) {
    sqlite3_bind_int64(st, 10, rec->match_start);
    sqlite3_bind_int64(st, 11, rec->match_end);
  } else {
    sqlite3_bind_null(st, 10);
    sqlite3_bind_null(st, 11);
  }
  bind_text(st, 12, matched, matched_len);
  bind_str(st, 13, rec->tip);
  bind_real(st, 14, rec->heat);
  bind_str(st, 15, rec->rule_set);
  bind_text(st, 16, reason, reason_len);
  if (rec->id > 0)
    sqlite3_bind_int64(st, 17, rec->id);
  else
    sqlite3_bind_null(st, 17); /* the next free id */
  if ((rc = run(s, st, "put_alert")) != 0) return rc;
  if (sqlite3_changes(s->db) == 0) {
    /* A resent alert, or (never from one daemon) an id given twice: the
     * latter is refused as invalid, so that a writer does not retry it. */
    int64_t known = 0;
    if (rec->id > 0 && (rc = alert_key_known(s, rec->alert_key, &known)) != 0) return rc;
    if (rec->id > 0 && !known)
      return fail(s, ES_EINVAL, "put_alert: id %lld is taken by another alert",
                  (long long)rec->id);
    s->stats.alerts_duplicate++;
    return 1;
  }
  /* Same transaction as the row: a failure here is ES_ESTORE, on which
   * the caller rolls back the whole transaction (store.h). */
  {
    int64_t id = rec->id > 0 ? rec->id : (int64_t)sqlite3_last_insert_rowid(s->db);
    if ((rc = get_stmt(s, ST_SEARCH, &st)) != 0) return rc;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, text, text_len);
    bind_text(st, 3, matched, matched_len);
    bind_str(st, 4, rec->tip);
    bind_str(st, 5, rec->rule_id);
    if ((rc = run(s, st, "put_alert: full-text index")) != 0) return rc;
  }
  s->stats.alerts_pending++;
  return 0;
}

int es_store_put_alert(struct es_store *s, const struct es_alert_rec *rec) {
  int rc;
  if (s == NULL || rec == NULL) return ES_EINVAL;
  if ((rc = writable(s, "put_alert")) != 0) return rc;
  if (es_store_in_transaction(s)) return put_alert(s, rec);
  /* Outside a transaction: one of its own, so that the row and its index
   * entry are written together or not at all. */
  if ((rc = es_store_begin(s)) != 0) return rc;
  rc = put_alert(s, rec);
  if (rc == 0 || rc == 1) {
    int crc = es_store_commit(s);
    return crc != 0 ? crc : rc;
  }
  es_store_rollback(s);
  return rc;
}

/* Checks a call start and masks its attributes: *attrs (NUL-terminated
 * only when not masked) and *attrs_len are what to bind. */
static int call_start_args(struct es_store *s, const struct es_call_start *rec, const char *what,
                           const char **attrs, size_t *attrs_len) {
  int rc;
  *attrs = "{}";
  *attrs_len = 2;
  if (empty(rec->call_id)) return fail(s, ES_EINVAL, "%s: call_id is required", what);
  if (!isfinite(rec->started)) return fail(s, ES_EINVAL, "%s: started is not a number", what);
  if (rec->attributes) {
    *attrs = rec->attributes;
    if ((*attrs_len = bounded_len(*attrs, s->opts.max_text_bytes)) > s->opts.max_text_bytes)
      return fail(s, ES_ETOOBIG, "%s: attributes exceed %zu bytes", what, s->opts.max_text_bytes);
    if (!check_json(*attrs, *attrs_len, 1))
      return fail(s, ES_EJSON, "%s: attributes are not a JSON object", what);
    if (s->opts.redact_kinds != 0) {
      if ((rc = mask_attrs(s, *attrs, *attrs_len)) != 0) return rc;
      *attrs = s->json.p;
      *attrs_len = s->json.len;
    }
  }
  return 0;
}

/* Checks a call end; *reason is its end_reason's name. */
static int call_end_args(struct es_store *s, const struct es_call_end *rec, const char *what,
                         const char **reason) {
  if (empty(rec->call_id)) return fail(s, ES_EINVAL, "%s: call_id is required", what);
  if (!isfinite(rec->ended)) return fail(s, ES_EINVAL, "%s: ended is not a number", what);
  if ((*reason = es_store_end_reason_name(rec->reason)) == NULL)
    return fail(s, ES_EINVAL, "%s: bad end reason %d", what, (int)rec->reason);
  if (rec->hits_by_category) {
    size_t len = bounded_len(rec->hits_by_category, s->opts.max_text_bytes);
    if (len > s->opts.max_text_bytes)
      return fail(s, ES_ETOOBIG, "%s: hits_by_category exceeds %zu bytes", what,
                  s->opts.max_text_bytes);
    if (!check_json(rec->hits_by_category, len, 1))
      return fail(s, ES_EJSON, "%s: hits_by_category is not a JSON object", what);
  }
  return 0;
}

/* Binds a call start's fields from parameter `first` on (call_id aside). */
static void bind_call_start(sqlite3_stmt *st, int first, const struct es_call_start *rec,
                            const char *attrs, size_t attrs_len) {
  bind_text(st, first, attrs, attrs_len);
  bind_str(st, first + 1, rec->agent);
  bind_str(st, first + 2, rec->queue);
  sqlite3_bind_double(st, first + 3, rec->started);
}

int es_store_put_call_start(struct es_store *s, const struct es_call_start *rec) {
  const char *attrs = NULL;
  size_t attrs_len = 0;
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL || rec == NULL) return ES_EINVAL;
  if ((rc = writable(s, "put_call_start")) != 0) return rc;
  if ((rc = call_start_args(s, rec, "put_call_start", &attrs, &attrs_len)) != 0) return rc;
  if ((rc = get_stmt(s, ST_CALL_START, &st)) != 0) return rc;
  bind_str(st, 1, rec->call_id);
  bind_call_start(st, 2, rec, attrs, attrs_len);
  if ((rc = run(s, st, "put_call_start")) != 0) return rc;
  s->stats.calls_started++;
  return 0;
}

/* Binds ?1..?9 of ST_CALL_END_UPDATE, ST_CALL_END and ST_CALL_WHOLE. */
static void bind_call_end(sqlite3_stmt *st, const struct es_call_end *rec, const char *reason) {
  bind_str(st, 1, rec->call_id);
  sqlite3_bind_double(st, 2, rec->ended);
  bind_str(st, 3, reason);
  if (rec->alert_count >= 0)
    sqlite3_bind_int64(st, 4, rec->alert_count);
  else
    sqlite3_bind_null(st, 4);
  bind_real(st, 5, rec->peak_heat);
  bind_real(st, 6, rec->final_heat);
  bind_str(st, 7, rec->hits_by_category);
  if (rec->backup_raised >= 0)
    sqlite3_bind_int(st, 8, rec->backup_raised != 0);
  else
    sqlite3_bind_null(st, 8);
  if (rec->deescalated >= 0)
    sqlite3_bind_int(st, 9, rec->deescalated != 0);
  else
    sqlite3_bind_null(st, 9);
}

int es_store_put_call_end(struct es_store *s, const struct es_call_end *rec) {
  const char *reason = NULL;
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL || rec == NULL) return ES_EINVAL;
  if ((rc = writable(s, "put_call_end")) != 0) return rc;
  if ((rc = call_end_args(s, rec, "put_call_end", &reason)) != 0) return rc;
  if ((rc = get_stmt(s, ST_CALL_END_UPDATE, &st)) != 0) return rc;
  bind_call_end(st, rec, reason);
  if ((rc = run(s, st, "put_call_end")) != 0) return rc;
  if (sqlite3_changes(s->db) == 0) {
    /* The start was never stored: the row is created here. */
    if ((rc = get_stmt(s, ST_CALL_END, &st)) != 0) return rc;
    bind_call_end(st, rec, reason);
    if ((rc = run(s, st, "put_call_end")) != 0) return rc;
  }
  s->stats.calls_ended++;
  return 0;
}

int es_store_put_call(struct es_store *s, const struct es_call_start *start,
                      const struct es_call_end *end) {
  const char *attrs = NULL, *reason = NULL;
  size_t attrs_len = 0;
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL || start == NULL || end == NULL) return ES_EINVAL;
  if ((rc = writable(s, "put_call")) != 0) return rc;
  if ((rc = call_end_args(s, end, "put_call", &reason)) != 0) return rc;
  if (empty(start->call_id) || strcmp(start->call_id, end->call_id) != 0)
    return fail(s, ES_EINVAL, "put_call: the start and the end name different calls");
  /* Last: masking the attributes uses the scratch buffer bound below. */
  if ((rc = call_start_args(s, start, "put_call", &attrs, &attrs_len)) != 0) return rc;
  if ((rc = get_stmt(s, ST_CALL_WHOLE, &st)) != 0) return rc;
  bind_call_end(st, end, reason);
  bind_call_start(st, 10, start, attrs, attrs_len);
  if ((rc = run(s, st, "put_call")) != 0) return rc;
  s->stats.calls_started++;
  s->stats.calls_ended++;
  return 0;
}

int es_store_put_rule_set(struct es_store *s, const char *version, double loaded_at,
                          const char *const *files, size_t nfiles, uint32_t rule_count) {
  cJSON *arr = NULL;
  char *json = NULL;
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL) return ES_EINVAL;
  if ((rc = writable(s, "put_rule_set")) != 0) return rc;
  if (empty(version) || !isfinite(loaded_at) || (nfiles > 0 && files == NULL))
    return fail(s, ES_EINVAL, "put_rule_set: version, loaded_at and files are required");
  if ((arr = cJSON_CreateArray()) == NULL) goto nomem;
  for (size_t i = 0; i < nfiles; i++) {
    cJSON *str = cJSON_CreateString(files[i] ? files[i] : "");
    if (str == NULL) goto nomem;
    cJSON_AddItemToArray(arr, str);
  }
  if ((json = cJSON_PrintUnformatted(arr)) == NULL) goto nomem;
  if ((rc = get_stmt(s, ST_RULE_SET, &st)) != 0) goto done;
  bind_str(st, 1, version);
  sqlite3_bind_double(st, 2, loaded_at);
  bind_str(st, 3, json);
  sqlite3_bind_int64(st, 4, rule_count);
  if ((rc = run(s, st, "put_rule_set")) != 0) goto done;
  s->stats.rule_sets++;
  rc = 0;
  goto done;
nomem:
  rc = fail(s, ES_ENOMEM, "put_rule_set: out of memory");
done:
  cJSON_free(json);
  cJSON_Delete(arr);
  return rc;
}

/* ---- maintenance and queries ------------------------------------------ */

/* Runs one bounded retention DELETE; its row count goes to *count. */
static int prune_delete(struct es_store *s, enum stmt_id id, double before, int64_t limit,
                        uint64_t *count) {
  sqlite3_stmt *st = NULL;
  int rc;
  if ((rc = get_stmt(s, id, &st)) != 0) return rc;
  sqlite3_bind_double(st, 1, before);
  sqlite3_bind_int64(st, 2, limit);
  if ((rc = run(s, st, "prune")) != 0) return rc;
  *count = (uint64_t)sqlite3_changes64(s->db);
  return 0;
}

int es_store_prune_step(struct es_store *s, double before, uint64_t max_rows,
                        struct es_prune_counts *counts) {
  struct es_prune_counts got = {0, 0, 0};
  int64_t limit = max_rows == 0 || max_rows > INT64_MAX ? -1 : (int64_t)max_rows;
  int own_tx, rc;
  if (s == NULL) return ES_EINVAL;
  if ((rc = writable(s, "prune")) != 0) return rc;
  if (!isfinite(before)) return fail(s, ES_EINVAL, "prune: the cut-off is not a number");
  /* Marks, alerts and calls go together or not at all. */
  own_tx = sqlite3_get_autocommit(s->db);
  if (own_tx && (rc = exec(s, "BEGIN IMMEDIATE")) != 0) return rc;
  if ((rc = prune_delete(s, ST_PRUNE_MARKS, before, limit, &got.marks)) != 0 ||
      (rc = prune_delete(s, ST_PRUNE_ALERTS, before, limit, &got.alerts)) != 0)
    goto fail;
  if (limit < 0 || got.alerts < (uint64_t)limit) {
    int64_t left = limit < 0 ? -1 : limit - (int64_t)got.alerts;
    if ((rc = prune_delete(s, ST_PRUNE_CALLS, before, left, &got.calls)) != 0) goto fail;
  }
  if (own_tx && (rc = exec(s, "COMMIT")) != 0) goto fail;
  if (counts) {
    counts->alerts += got.alerts;
    counts->calls += got.calls;
    counts->marks += got.marks;
  }
  return limit >= 0 && got.alerts + got.calls >= (uint64_t)limit ? 1 : 0;
fail:
  if (own_tx && !sqlite3_get_autocommit(s->db))
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int es_store_prune(struct es_store *s, double before, uint64_t *alerts, uint64_t *calls) {
  struct es_prune_counts c = {0, 0, 0};
  int rc;
  if (alerts) *alerts = 0;
  if (calls) *calls = 0;
  if (s == NULL || !isfinite(before)) return ES_EINVAL;
  if ((rc = es_store_prune_step(s, before, 0, &c)) != 0) return rc;
  if (alerts) *alerts = c.alerts;
  if (calls) *calls = c.calls;
  return 0;
}

int es_store_mark(struct es_store *s, const struct es_mark_rec *rec, int64_t *alert_id) {
  const char *mark, *note = NULL;
  size_t note_len = 0;
  sqlite3_stmt *st = NULL;
  int rc, step;
  if (alert_id) *alert_id = 0;
  if (s == NULL || rec == NULL) return ES_EINVAL;
  if ((rc = writable(s, "mark")) != 0) return rc;
  if (rec->alert_id <= 0 && empty(rec->alert_key))
    return fail(s, ES_EINVAL, "mark: an alert id or alert key is required");
  if ((mark = es_store_mark_name(rec->mark)) == NULL)
    return fail(s, ES_EINVAL, "mark: bad mark %d", (int)rec->mark);
  if (!isfinite(rec->at)) return fail(s, ES_EINVAL, "mark: the time is not a number");
  if (rec->note) {
    note = rec->note;
    if ((note_len = bounded_len(note, s->opts.max_text_bytes)) > s->opts.max_text_bytes)
      return fail(s, ES_ETOOBIG, "mark: note exceeds %zu bytes", s->opts.max_text_bytes);
    if (s->opts.redact_kinds != 0) {
      /* Analysts quote the call in their notes: mask it like the line. */
      struct es_redact_counts c;
      if (buf_reserve(&s->text, ES_REDACT_BOUND(note_len)) != 0)
        return fail(s, ES_ENOMEM, "mark: out of memory");
      note_len = es_redact(note, note_len, s->opts.redact_kinds, s->text.p, s->text.cap, &c);
      s->stats.masks += (uint64_t)c.card + c.cvv + c.ssn + c.email + c.phone;
      note = s->text.p;
    }
  }
  if (rec->alert_id > 0) {
    if ((rc = get_stmt(s, ST_MARK_BY_ID, &st)) != 0) return rc;
    sqlite3_bind_int64(st, 1, rec->alert_id);
  } else {
    if ((rc = get_stmt(s, ST_MARK_BY_KEY, &st)) != 0) return rc;
    bind_str(st, 1, rec->alert_key);
  }
  bind_str(st, 2, mark);
  bind_str(st, 3, rec->by);
  sqlite3_bind_double(st, 4, rec->at);
  bind_text(st, 5, note, note_len);
  /* RETURNING: a row when the mark was inserted, none when no such alert. */
  step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    if (alert_id) *alert_id = sqlite3_column_int64(st, 0);
    step = sqlite3_step(st);
    rc = step == SQLITE_DONE ? 0 : fail_db(s, "mark");
  } else if (step == SQLITE_DONE) {
    if (rec->alert_id > 0)
      rc = fail(s, ES_ENOENT, "mark: no alert with id %lld", (long long)rec->alert_id);
    else
      rc = fail(s, ES_ENOENT, "mark: no alert with key %s", rec->alert_key);
  } else {
    rc = fail_db(s, "mark");
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

int es_store_checkpoint(struct es_store *s, int truncate) {
  int rc;
  if (s == NULL) return ES_EINVAL;
  if ((rc = writable(s, "checkpoint")) != 0) return rc;
  if (es_store_in_transaction(s))
    return fail(s, ES_EINVAL, "checkpoint: a transaction is open");
  if (sqlite3_wal_checkpoint_v2(s->db, NULL,
                                truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
                                NULL, NULL) != SQLITE_OK)
    return fail_db(s, "checkpoint");
  return 0;
}

/* True when only white space, semicolons and comments follow. */
static int only_trailer(const char *p) {
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ';') p++;
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') p++;
    } else if (p[0] == '/' && p[1] == '*') {
      const char *end = strstr(p + 2, "*/");
      if (end == NULL) return 0;
      p = end + 2;
    } else {
      return *p == '\0';
    }
  }
}

static int query_rows(struct es_store *s, const char *sql, const char *const *params,
                      size_t nparams, es_store_row_cb cb, es_store_typed_row_cb typed_cb,
                      void *ud) {
  sqlite3_stmt *st = NULL;
  const char *tail = NULL, *names[QUERY_MAX_COLS], *values[QUERY_MAX_COLS];
  enum es_store_type types[QUERY_MAX_COLS];
  int rc = 0, ncols, rows = 0;
  if (s == NULL || empty(sql) || (nparams > 0 && params == NULL)) return ES_EINVAL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, &tail) != SQLITE_OK) return fail_db(s, "query");
  if (st == NULL || (tail && !only_trailer(tail))) {
    rc = fail(s, ES_EINVAL, "query: exactly one SQL statement is expected");
    goto done;
  }
  if ((ncols = sqlite3_column_count(st)) > QUERY_MAX_COLS) {
    rc = fail(s, ES_EINVAL, "query: more than %d columns", QUERY_MAX_COLS);
    goto done;
  }
  if (nparams > (size_t)sqlite3_bind_parameter_count(st)) {
    rc = fail(s, ES_EINVAL, "query: %zu parameters for %d placeholders", nparams,
              sqlite3_bind_parameter_count(st));
    goto done;
  }
  for (size_t i = 0; i < nparams; i++) bind_str(st, (int)i + 1, params[i]);
  for (;;) {
    int step = sqlite3_step(st);
    /* Names are read after the step: a step may re-prepare the statement
     * (for the bound values, e.g. a GLOB pattern), which frees them. */
    for (int c = 0; c < ncols; c++) names[c] = sqlite3_column_name(st, c);
    if (step == SQLITE_DONE) break;
    if (step != SQLITE_ROW) {
      rc = fail_db(s, "query");
      break;
    }
    for (int c = 0; c < ncols; c++) {
      switch (sqlite3_column_type(st, c)) {
      case SQLITE_INTEGER: types[c] = ES_STORE_INTEGER; break;
      case SQLITE_FLOAT: types[c] = ES_STORE_REAL; break;
      case SQLITE_BLOB: types[c] = ES_STORE_BLOB; break;
      case SQLITE_NULL: types[c] = ES_STORE_NULL; break;
      default: types[c] = ES_STORE_TEXT; break;
      }
      values[c] = types[c] == ES_STORE_NULL ? NULL : (const char *)sqlite3_column_text(st, c);
    }
    rows++;
    if (typed_cb ? typed_cb(ud, ncols, names, values, types) != 0
                 : cb && cb(ud, ncols, names, values) != 0)
      break;
  }
  if (rc == 0 && rows == 0 && typed_cb) typed_cb(ud, ncols, names, NULL, NULL);
done:
  sqlite3_finalize(st);
  return rc;
}

int es_store_query(struct es_store *s, const char *sql, const char *const *params,
                   size_t nparams, es_store_row_cb cb, void *ud) {
  return query_rows(s, sql, params, nparams, cb, NULL, ud);
}

int es_store_query_typed(struct es_store *s, const char *sql, const char *const *params,
                         size_t nparams, es_store_typed_row_cb cb, void *ud) {
  return query_rows(s, sql, params, nparams, NULL, cb, ud);
}

void es_store_get_stats(const struct es_store *s, struct es_store_stats *out) {
  if (s)
    *out = s->stats;
  else
    memset(out, 0, sizeof *out);
}

const char *es_store_errmsg(const struct es_store *s) { return s ? s->errmsg : ""; }

/* ---- what a restarted earshotd reads back ------------------------------ */

int es_store_last_alert_id(struct es_store *s, int64_t *last) {
  if (s == NULL || last == NULL) return ES_EINVAL;
  *last = 0;
  return query_int(s,
                   "SELECT max(coalesce((SELECT max(id) FROM alerts), 0),"
                   " coalesce((SELECT value FROM daemon_state"
                   " WHERE name = 'alert_ids_reserved'), 0))",
                   last);
}

int es_store_reserve_alert_ids(struct es_store *s, int64_t ceiling) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (s == NULL) return ES_EINVAL;
  if ((rc = writable(s, "reserve_alert_ids")) != 0) return rc;
  if (ceiling < 0) return fail(s, ES_EINVAL, "reserve_alert_ids: negative ceiling");
  if ((rc = get_stmt(s, ST_IDS_UPDATE, &st)) != 0) return rc;
  sqlite3_bind_int64(st, 1, ceiling);
  if ((rc = run(s, st, "reserve_alert_ids")) != 0 || sqlite3_changes(s->db) > 0) return rc;
  if ((rc = get_stmt(s, ST_IDS_INSERT, &st)) != 0) return rc;
  sqlite3_bind_int64(st, 1, ceiling);
  return run(s, st, "reserve_alert_ids");
}

/* Runs `sql`, whose ?1 is a row limit, calling row(st) for each row until
 * it returns nonzero. */
static int each_row(struct es_store *s, const char *sql, size_t max, const char *what,
                    int (*row)(sqlite3_stmt *st, void *arg), void *arg) {
  sqlite3_stmt *st = NULL;
  int rc = 0, step;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return fail_db(s, what);
  sqlite3_bind_int64(st, 1, max > INT64_MAX ? INT64_MAX : (int64_t)max);
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if (row(st, arg) != 0) break;
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = fail_db(s, what);
  sqlite3_finalize(st);
  return rc;
}

struct key_cb {
  int (*cb)(void *ud, const char *key, size_t len, int64_t id);
  int (*call_cb)(void *ud, const char *call_id);
  void *ud;
};

static int alert_key_row(sqlite3_stmt *st, void *arg) {
  const struct key_cb *k = arg;
  const char *key = (const char *)sqlite3_column_text(st, 0);
  if (key == NULL) return 0;
  return k->cb(k->ud, key, (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_int64(st, 1));
}

int es_store_recent_alerts(struct es_store *s, size_t max,
                           int (*cb)(void *ud, const char *key, size_t len, int64_t id),
                           void *ud) {
  struct key_cb k = {.cb = cb, .ud = ud};
  if (s == NULL || cb == NULL) return ES_EINVAL;
  if (max == 0) return 0;
  /* `max` rows back along the rowid, however many are stored, then
   * forwards from there: the same pages twice, no sort. */
  return each_row(s, "SELECT alert_key, id FROM alerts WHERE id >= coalesce((SELECT id FROM "
                  "alerts ORDER BY id DESC LIMIT 1 OFFSET ?1 - 1), 0) ORDER BY id", max,
                  "recent_alerts", alert_key_row, &k);
}

static int call_id_row(sqlite3_stmt *st, void *arg) {
  const struct key_cb *k = arg;
  const char *id = (const char *)sqlite3_column_text(st, 0);
  return id ? k->call_cb(k->ud, id) : 0;
}

int es_store_recently_ended_calls(struct es_store *s, size_t max,
                                  int (*cb)(void *ud, const char *call_id), void *ud) {
  struct key_cb k = {.call_cb = cb, .ud = ud};
  if (s == NULL || cb == NULL) return ES_EINVAL;
  /* The WHERE is the partial index's own: `max` index entries, however
   * many calls are stored. */
  return each_row(s,
                  "SELECT call_id FROM calls WHERE end_reason = 'ended'"
                  " ORDER BY ended DESC LIMIT ?1",
                  max, "recently_ended_calls", call_id_row, &k);
}

/* ---- the webhook outbox ------------------------------------------------ */

/* Runs one outbox statement; `bind` binds its parameters. Returns 0 with
 * the number of changed rows in *changes, or ES_ESTORE. */
static int outbox_exec(struct es_store *s, enum stmt_id id, const char *what,
                       void (*bind)(sqlite3_stmt *st, const void *arg), const void *arg,
                       int64_t *changes) {
  sqlite3_stmt *st = NULL;
  int rc;
  if ((rc = get_stmt(s, id, &st)) != 0) return rc;
  bind(st, arg);
  if ((rc = run(s, st, what)) == 0 && changes) *changes = sqlite3_changes64(s->db);
  return rc;
}

/* *stored = 1 when alerts has a row with this id. */
static int outbox_alert_stored(struct es_store *s, int64_t alert_id, int *stored) {
  sqlite3_stmt *st = NULL;
  int step;
  if ((step = get_stmt(s, ST_OUTBOX_ALERT_STORED, &st)) != 0) return step;
  sqlite3_bind_int64(st, 1, alert_id);
  step = sqlite3_step(st);
  *stored = step == SQLITE_ROW;
  step = step == SQLITE_ROW || step == SQLITE_DONE ? 0 : fail_db(s, "put_outbox");
  sqlite3_reset(st);
  return step;
}

static void bind_outbox_rec(sqlite3_stmt *st, const void *arg) {
  const struct es_outbox_rec *r = arg;
  bind_str(st, 1, r->destination);
  sqlite3_bind_int64(st, 2, r->alert_id);
  bind_str(st, 3, r->payload);
  sqlite3_bind_double(st, 4, r->created_at);
}

int es_store_put_outbox(struct es_store *s, const struct es_outbox_rec *rec) {
  int64_t changes = 0;
  int stored = 0;
  int rc;
  if (s == NULL || rec == NULL) return ES_EINVAL;
  if ((rc = writable(s, "put_outbox")) != 0) return rc;
  if (empty(rec->destination) || empty(rec->payload) || rec->alert_id <= 0)
    return fail(s, ES_EINVAL, "put_outbox: destination, alert_id and payload are required");
  if (!isfinite(rec->created_at))
    return fail(s, ES_EINVAL, "put_outbox: created_at is not a number");
  /* Checked here rather than by a CHECK constraint: a writer retries a
   * failed commit, and a row that can never be stored must not hold the
   * others back (ES_EJSON is not retried). */
  if (!check_json(rec->payload, strlen(rec->payload), 0))
    return fail(s, ES_EJSON, "put_outbox: payload is not valid JSON");
  if ((rc = outbox_alert_stored(s, rec->alert_id, &stored)) != 0) return rc;
  if (!stored) return 1;
  if ((rc = outbox_exec(s, ST_OUTBOX_PUT, "put_outbox", bind_outbox_rec, rec, &changes)) != 0)
    return rc;
  return changes > 0 ? 0 : 1;
}

static void bind_outbox_update(sqlite3_stmt *st, const void *arg) {
  const struct es_outbox_update *u = arg;
  static const char *const names[] = {"pending", "suppressed", "failed"};
  sqlite3_bind_int64(st, 1, u->id);
  bind_str(st, 2, names[u->state]);
  sqlite3_bind_int64(st, 3, u->attempts);
  bind_real(st, 4, u->state == ES_OUTBOX_PENDING ? u->next_attempt_at : NAN);
  bind_str(st, 5, u->last_error);
  bind_real(st, 6, u->state == ES_OUTBOX_PENDING ? NAN : u->at);
}

static void bind_outbox_id(sqlite3_stmt *st, const void *arg) {
  sqlite3_bind_int64(st, 1, ((const struct es_outbox_update *)arg)->id);
}

static void bind_outbox_summarised(sqlite3_stmt *st, const void *arg) {
  const struct es_outbox_update *u = arg;
  bind_str(st, 1, u->destination);
  sqlite3_bind_int64(st, 2, u->summarised_upto);
}

int es_store_update_outbox(struct es_store *s, const struct es_outbox_update *u) {
  int rc;
  if (s == NULL || u == NULL) return ES_EINVAL;
  if ((rc = writable(s, "update_outbox")) != 0) return rc;
  if ((int)u->state < ES_OUTBOX_PENDING || u->state > ES_OUTBOX_DELIVERED || u->id < 0 ||
      u->attempts < 0)
    return fail(s, ES_EINVAL, "update_outbox: bad state %d, id or attempts", (int)u->state);
  if ((u->state == ES_OUTBOX_PENDING && !isfinite(u->next_attempt_at)) ||
      ((u->state == ES_OUTBOX_SUPPRESSED || u->state == ES_OUTBOX_FAILED) && !isfinite(u->at)))
    return fail(s, ES_EINVAL, "update_outbox: a time is not a number");
  if (u->summarised_upto > 0 && empty(u->destination))
    return fail(s, ES_EINVAL, "update_outbox: summarised_upto needs the destination");
  if (u->id > 0) {
    if (u->state == ES_OUTBOX_DELIVERED)
      rc = outbox_exec(s, ST_OUTBOX_DELIVERED, "update_outbox", bind_outbox_id, u, NULL);
    else
      rc = outbox_exec(s, ST_OUTBOX_UPDATE, "update_outbox", bind_outbox_update, u, NULL);
    if (rc != 0) return rc;
  }
  if (u->summarised_upto > 0)
    rc = outbox_exec(s, ST_OUTBOX_SUMMARISED, "update_outbox", bind_outbox_summarised, u, NULL);
  return rc;
}
