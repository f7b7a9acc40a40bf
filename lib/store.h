/*
 * store.h: the SQLite alert store (docs/schema.md).
 *
 * One SQLite file in WAL mode holds calls, alerts and the rule sets that
 * raised them. The schema is the numbered migrations in schema/ (NNN_name.sql),
 * compiled into the library and applied in order at open, each in its own
 * transaction, tracked by PRAGMA user_version; PRAGMA application_id marks
 * the file as earshot's.
 *
 * earshotd writes (one read-write store, batching one transaction per loop
 * turn or timer with es_store_begin()/es_store_commit()); analysts and the
 * CLI read (read-only stores, any number, concurrently with the writer:
 * WAL readers never block it).
 *
 * Personal data: es_store_put_alert() masks the line, the matched words
 * and the string values of `reason` with es_redact() before anything is
 * bound to a statement, and es_store_put_call_start() masks the string
 * and number values of `attributes` (es_redact_json_values()), unless the
 * store was opened with redact_kinds 0.
 * Identifiers (call_id, alert_key, agent, queue, rule ids) are stored as
 * given: callers must not build them from transcript text.
 *
 * lib/ reads no clock: every time is an argument, REAL seconds since the
 * Unix epoch. A store is used by one thread at a time. It does not log:
 * failures return a negative es_err and leave a message in
 * es_store_errmsg().
 */
#ifndef ES_STORE_H
#define ES_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "rules.h"

enum es_store_sync {
  ES_STORE_SYNC_NORMAL = 0, /* WAL + NORMAL: a power cut may lose the last
                               commits, never corrupts (the default) */
  ES_STORE_SYNC_FULL = 1,   /* fsync at every commit */
};

struct es_store_opts {
  enum es_store_sync synchronous;
  unsigned busy_timeout_ms; /* wait this long for a lock; default 5000 */
  int read_only;            /* 1: no writes, no migration (PRAGMA query_only);
                               the schema must be exactly the current one.
                               Reading a WAL file needs its -shm file to exist
                               or the directory to be writable. */
  unsigned redact_kinds;    /* es_redact() kinds masked before storing;
                               default ES_REDACT_ALL, 0 turns masking off */
  unsigned create_mode;     /* permissions of a new database file (and so of
                               its -wal and -shm files); default 0640 */
  size_t max_text_bytes;    /* longest line, matched words, JSON value
                               accepted; default 65536 (ES_ETOOBIG beyond) */
  unsigned cache_kib;       /* page cache of a read-write store, KiB; default
                               ES_STORE_CACHE_KIB. Read-only stores keep
                               SQLite's own default (2 MiB). */
};
/* (create_mode, max_text_bytes and cache_kib 0 also mean the default.) */

/* The writer's page cache by default. With SQLite's 2 MiB the index and
 * full-text pages a batch changes no longer fit once the database holds a
 * few hundred thousand alerts: each is read back with pread() and the
 * writer's CPU per alert grows with the database (docs/performance.md). */
#define ES_STORE_CACHE_KIB (16u * 1024)

/* Fills *opts with the defaults above. */
void es_store_opts_init(struct es_store_opts *opts);

/* Where a call ended (calls.end_reason). */
enum es_end_reason {
  ES_END_ENDED = 0,  /* the client said the call ended */
  ES_END_ABANDONED,  /* the call went quiet or its connection closed */
  ES_END_SHUTDOWN,   /* the daemon stopped while the call was open */
};

/* One alert to store; everything borrowed for the duration of the call.
 * Required: alert_key, call_id, rule_id (non-empty). */
struct es_alert_masked;

struct es_alert_rec {
  const char *alert_key; /* unique and stable per alert: a resent alert with
                            the same key is not stored twice. Must not
                            contain transcript text (it is not masked). */
  const char *call_id;
  double ts;             /* unix seconds when the line was received */
  double call_ts;        /* seconds into the call; NAN: NULL */
  const char *rule_id;
  const char *category;  /* may be NULL */
  enum es_severity severity;
  enum es_speaker speaker; /* ES_SPEAKER_ANY: unknown (NULL) */
  const char *text;      /* the ORIGINAL line, text_len bytes, or NULL for a
                            call-level alert; masked before it is stored */
  size_t text_len;
  uint32_t match_start;  /* byte span of the hit in the original line, */
  uint32_t match_end;    /* match_start <= match_end <= text_len */
  const char *matched;   /* the matched words, NUL-terminated, masked before
                            storing; NULL: text[match_start..match_end),
                            masked in the context of the whole line */
  const char *tip;       /* may be NULL */
  double heat;           /* the call's heat after this alert; NAN: NULL */
  const char *rule_set;  /* rule set version; may be NULL */
  const char *reason;    /* JSON explaining a call-level alert, or NULL; its
                            string values are masked */
  int64_t id;            /* alerts.id to give it (> 0; the daemon numbers its
                            alerts so that clients can name them), or 0 for
                            the next free id */
  const struct es_alert_masked *masked; /* NULL, or the forms to store */
};

/* An alert's strings already masked by the caller, as es_store_put_alert()
 * would mask them: text and matched by es_redact_line() (matched, when
 * the alert gives its words apart, by es_redact()), reason by
 * es_redact_json(), as es_store_mask_alert() does. earshotd masks every
 * alert for its feed and hands the result on, so that the writer does not
 * mask it again. The store takes
 * them only when `kinds` is its own redact_kinds and each is present
 * where the original is; otherwise it masks the originals itself. */
struct es_alert_masked {
  unsigned kinds;        /* ES_REDACT_* they were masked with */
  const char *text;      /* NULL when the alert has no text */
  size_t text_len;
  const char *matched;   /* NULL when it has neither text nor matched */
  size_t matched_len;
  const char *reason;    /* NULL when it has no reason */
  size_t reason_len;
  uint64_t masks;        /* masks made in all, for the store's count */
};

/* Masks rec's text, matched words and reason with `kinds` the way
 * es_store_put_alert() does, into out, which needs
 * es_store_mask_alert_size(rec) bytes; *m points into out. */
size_t es_store_mask_alert_size(const struct es_alert_rec *rec);
void es_store_mask_alert(const struct es_alert_rec *rec, unsigned kinds, char *out,
                         struct es_alert_masked *m);

/* A call's start; borrowed. */
struct es_call_start {
  const char *call_id;    /* required */
  const char *attributes; /* JSON object text (NUL-terminated), or NULL
                             for {}; its string and number values are
                             masked */
  const char *agent;      /* may be NULL */
  const char *queue;      /* may be NULL */
  double started;         /* unix seconds */
};

/* A call's end and summary; borrowed. */
struct es_call_end {
  const char *call_id;          /* required */
  double ended;                 /* unix seconds */
  enum es_end_reason reason;
  int64_t alert_count;          /* alerts raised during the call; < 0: NULL */
  double peak_heat;             /* NAN: NULL */
  double final_heat;            /* NAN: NULL */
  const char *hits_by_category; /* JSON object {"category": hits}, or NULL */
  int backup_raised;            /* 1, 0, or < 0 for unknown (NULL) */
  int deescalated;              /* 1, 0, or < 0 for unknown (NULL) */
};

/* Counters since the store was opened. */
struct es_store_stats {
  uint64_t migrations_applied; /* by es_store_open() */
  uint64_t alerts_written;     /* committed */
  uint64_t alerts_pending;     /* inserted in the open transaction */
  uint64_t alerts_duplicate;   /* ignored: alert_key already stored */
  uint64_t alerts_lost;        /* inserted, then rolled back */
  uint64_t calls_started;
  uint64_t calls_ended;
  uint64_t rule_sets;
  uint64_t commits;
  uint64_t rollbacks;
  uint64_t masks;              /* personal data masked, all kinds */
  uint64_t errors;             /* calls that returned an error */
};

struct es_store;

/* Opens (read-write: creating if need be) the database at `path` and
 * returns the store in *out (free with es_store_close()). `opts` may be
 * NULL for the defaults. Read-write: sets WAL mode and the synchronous
 * level, then applies every migration newer than the file's user_version,
 * each in one transaction. Read-only: applies nothing and fails when the
 * file's version is not exactly es_store_schema_latest().
 * Returns 0, or (with a diagnostic naming the file in `diags`, which may
 * be NULL): ES_ENOENT (read-only and no such file), ES_EIO (cannot be
 * opened or created; read-write and cannot be written), ES_ESTORE (not an
 * earshot database, schema too old for a read-only open or newer than
 * this build, a migration failed: the diagnostic names it), ES_EINVAL,
 * ES_ENOMEM. A writer that holds the lock longer than busy_timeout_ms
 * makes a migration fail with ES_ESTORE. */
int es_store_open(const char *path, const struct es_store_opts *opts,
                  struct es_store **out, struct es_diags *diags);

/* Rolls back an open transaction, finalises statements and closes.
 * NULL is a no-op. */
void es_store_close(struct es_store *s);

/* The schema version this build writes (the number of migrations), and
 * the version of the open database (PRAGMA user_version). */
int es_store_schema_latest(void);
int es_store_schema_version(const struct es_store *s);

/* Starts a transaction (BEGIN IMMEDIATE: takes the write lock now, waiting
 * up to busy_timeout_ms). Puts outside a transaction commit one by one.
 * Returns 0, ES_EINVAL (read-only, or a transaction is already open),
 * ES_ESTORE. */
int es_store_begin(struct es_store *s);

/* Commits the open transaction. On failure the transaction is rolled back
 * (its alerts are counted in alerts_lost) and ES_ESTORE is returned; the
 * store stays usable. ES_EINVAL when no transaction is open. */
int es_store_commit(struct es_store *s);

/* Rolls back the open transaction (no-op when none). Returns 0 or
 * ES_ESTORE. */
int es_store_rollback(struct es_store *s);

/* 1 while a transaction is open. */
int es_store_in_transaction(const struct es_store *s);

/* Stores one alert unless one with the same alert_key exists. Returns 0
 * when inserted, 1 when the key already existed (nothing written; an
 * alert in the same transaction counts), or ES_EINVAL (missing field, bad
 * span or enum, rec->id < 0 or already taken by an alert with another
 * key, read-only store), ES_ETOOBIG (text, matched or reason
 * longer than max_text_bytes), ES_EJSON (reason is not JSON), ES_ENOMEM,
 * ES_ESTORE. */
int es_store_put_alert(struct es_store *s, const struct es_alert_rec *rec);

/* Records a call's start. A call already stored keeps the earliest
 * `started`, takes the new attributes (and agent/queue unless NULL), and
 * is open again (ended and end_reason cleared): a call resumed after a
 * daemon restart. Returns 0, ES_EINVAL, ES_EJSON (attributes not a JSON
 * object), ES_ETOOBIG, ES_ENOMEM, ES_ESTORE. */
int es_store_put_call_start(struct es_store *s, const struct es_call_start *rec);

/* Records a call's end and summary, creating the row when the start was
 * never stored. Returns 0, ES_EINVAL, ES_EJSON (hits_by_category not a
 * JSON object), ES_ETOOBIG, ES_ESTORE. */
int es_store_put_call_end(struct es_store *s, const struct es_call_end *rec);

/* Records a call's start and its end in one statement: the same row as
 * es_store_put_call_start() then es_store_put_call_end(), written once
 * (earshotd uses it when both fall in one transaction). The two must name
 * the same call. Returns what those two return. */
int es_store_put_call(struct es_store *s, const struct es_call_start *start,
                      const struct es_call_end *end);

/* Records a rule set (es_rules_version(), the files it was loaded from,
 * its rule count) loaded at `loaded_at`. Storing a known version again
 * only updates last_loaded_at. Returns 0, ES_EINVAL, ES_ENOMEM,
 * ES_ESTORE. */
int es_store_put_rule_set(struct es_store *s, const char *version, double loaded_at,
                          const char *const *files, size_t nfiles, uint32_t rule_count);

/* Deletes alerts with ts < before (with their feedback marks and
 * full-text index entries) and calls that ended (or, never ended, started)
 * before `before`: the retention policy, all at once in one transaction
 * (or the caller's). Counts go to *alerts and *calls when not NULL.
 * Returns 0, ES_EINVAL (read-only), ES_ESTORE. es_store_prune_step() does
 * the same in bounded steps. */
int es_store_prune(struct es_store *s, double before, uint64_t *alerts, uint64_t *calls);

/* What es_store_prune_step() deleted. */
struct es_prune_counts {
  uint64_t alerts; /* alerts (their search-index entries go with them) */
  uint64_t calls;
  uint64_t marks;  /* feedback marks of the deleted alerts */
};

/* One bounded step of the retention policy: deletes up to max_rows alerts
 * with ts < before (oldest first), with their feedback marks and full-text
 * index entries, then, with what is left of max_rows, calls that ended
 * (or, never ended, started) before `before`. max_rows 0: no bound. Runs in
 * one transaction of its own, or in the caller's when one is open. Adds
 * what it deleted to *counts (may be NULL). Returns 0 when nothing older
 * is left, 1 when rows may remain (call again: a writer interleaves its
 * other transactions between steps, so a large purge never holds the write
 * lock for long), ES_EINVAL (read-only, before not finite), ES_ESTORE (the
 * step was rolled back; nothing of it is counted). */
int es_store_prune_step(struct es_store *s, double before, uint64_t max_rows,
                        struct es_prune_counts *counts);

/* Feedback on a stored alert (alert_marks.mark). */
enum es_mark {
  ES_MARK_TAKEN = 0,      /* someone is handling it */
  ES_MARK_RESOLVED,       /* handled */
  ES_MARK_FALSE_POSITIVE, /* the rule should not have fired */
};

/* One feedback mark; borrowed for the duration of the call. */
struct es_mark_rec {
  int64_t alert_id;      /* alerts.id; 0: find the alert by alert_key */
  const char *alert_key; /* alerts.alert_key, used when alert_id is 0 */
  enum es_mark mark;
  const char *by;        /* who marked it (an identifier, stored as given);
                            may be NULL */
  double at;             /* unix seconds */
  const char *note;      /* free text, NUL-terminated, at most max_text_bytes;
                            masked like alert text; may be NULL */
};

/* Stores a feedback mark on an existing alert (a new row in alert_marks:
 * the latest mark is the alert's state, earlier ones stay as history).
 * Works inside or outside a transaction, like the other puts. The alert's
 * id goes to *alert_id when not NULL. Returns 0, ES_ENOENT (no such
 * alert), ES_EINVAL (no alert named, bad mark, `at` not finite, read-only
 * store), ES_ETOOBIG (note too long), ES_ENOMEM, ES_ESTORE. A writer that
 * batches marks treats ES_ENOENT like ES_EINVAL: retrying cannot help
 * (unless the alert is still in a batch not yet written). */
int es_store_mark(struct es_store *s, const struct es_mark_rec *rec, int64_t *alert_id);

/* Copies the WAL into the database (PRAGMA wal_checkpoint): PASSIVE, or
 * TRUNCATE (waits for readers, then empties the -wal file) when truncate
 * is 1. Returns 0, ES_EINVAL (read-only or in a transaction), ES_ESTORE. */
int es_store_checkpoint(struct es_store *s, int truncate);

/* A row of es_store_query(): ncols values as text (NULL for SQL NULL),
 * borrowed until the callback returns. Return 0 to go on, anything else
 * to stop. */
typedef int (*es_store_row_cb)(void *ud, int ncols, const char *const *names,
                               const char *const *values);

/* Runs one SQL statement with `params` bound as text to ?1..?nparams (SQL
 * compares them as numbers where a column is numeric), calling cb (may
 * be NULL) for each row. For tools: a read-only store refuses writes.
 * Returns 0 (also when cb stopped early), ES_EINVAL (no SQL, more than one
 * statement, more than 32 columns), ES_ESTORE (SQL error; see errmsg). */
int es_store_query(struct es_store *s, const char *sql, const char *const *params,
                   size_t nparams, es_store_row_cb cb, void *ud);

/* The storage class of a value in an es_store_query_typed() row. */
enum es_store_type {
  ES_STORE_NULL = 0,
  ES_STORE_INTEGER,
  ES_STORE_REAL,
  ES_STORE_TEXT,
  ES_STORE_BLOB,
};

/* Like es_store_row_cb, with each value's storage class in types[]. */
typedef int (*es_store_typed_row_cb)(void *ud, int ncols, const char *const *names,
                                     const char *const *values,
                                     const enum es_store_type *types);

/* es_store_query() with typed rows (for output that keeps numbers as
 * numbers, e.g. JSON). Same arguments, limits and returns. A statement
 * that yields no row calls cb once with values and types NULL, so that the
 * caller still learns the column names (its return value is ignored). */
int es_store_query_typed(struct es_store *s, const char *sql, const char *const *params,
                         size_t nparams, es_store_typed_row_cb cb, void *ud);

void es_store_get_stats(const struct es_store *s, struct es_store_stats *out);

/* The last failure's message ("" when none); borrowed until the next call
 * on the store. */
const char *es_store_errmsg(const struct es_store *s);

/* Names stored in alerts.severity, alerts.speaker and calls.end_reason
 * ("critical", "customer", "shutdown"...); NULL for ES_SPEAKER_ANY and
 * out-of-range values. */
const char *es_store_severity_name(enum es_severity sev);
const char *es_store_speaker_name(enum es_speaker sp);
const char *es_store_end_reason_name(enum es_end_reason r);
/* "taken", "resolved", "false_positive"; NULL out of range. */
const char *es_store_mark_name(enum es_mark m);
/* The reverse (exact names only): 0 and *out, or ES_EINVAL. */
int es_store_mark_parse(const char *name, enum es_mark *out);

/* ---- what a restarted earshotd reads back (schema/007_restart.sql) ---- */

/* earshotd numbers its alerts itself (es_alert_rec.id) and publishes an
 * id before the alert is stored, so a crash can lose alerts whose ids
 * were seen. It gives out only ids up to a ceiling recorded in the store
 * first (daemon_state 'alert_ids_reserved'), raised ahead of need, so
 * that after any crash it starts above every id it may have published.
 *
 * es_store_last_alert_id(): *last = the highest id that may have been
 * given out, the recorded ceiling or the largest stored id, whichever is
 * higher (0 for an empty store). es_store_reserve_alert_ids(): records
 * `ceiling` (>= 0), inside the open transaction or in one of its own; the
 * caller must not set it below an id it gave out. Both return 0,
 * ES_EINVAL, ES_ESTORE. */
int es_store_last_alert_id(struct es_store *s, int64_t *last);
int es_store_reserve_alert_ids(struct es_store *s, int64_t ceiling);

/* Calls cb with the alert_key (len bytes, borrowed for the call) and id
 * of each of the newest `max` stored alerts, oldest of them first (in the
 * order they were raised), until cb returns nonzero. Reads at most `max` rows whatever the store's size.
 * Returns 0, ES_EINVAL, ES_ESTORE. */
int es_store_recent_alerts(struct es_store *s, size_t max,
                           int (*cb)(void *ud, const char *key, size_t len, int64_t id),
                           void *ud);

/* Calls cb with the call_id (borrowed for the call) of each of the `max`
 * calls that ended last by their client's "end" (end_reason 'ended'), the
 * latest first, until cb returns nonzero. Reads at most `max` rows, through
 * the index calls_ended_by_client. Returns 0, ES_EINVAL, ES_ESTORE. */
int es_store_recently_ended_calls(struct es_store *s, size_t max,
                                  int (*cb)(void *ud, const char *call_id), void *ud);

/* ---- the webhook outbox (schema/004_outbox.sql, docs/webhooks.md) ---- */

/* What became of one delivery (webhook_outbox.state). */
enum es_outbox_state {
  ES_OUTBOX_PENDING = 0, /* waiting for its next attempt */
  ES_OUTBOX_SUPPRESSED,  /* over the rate limit: waits for a delivered summary */
  ES_OUTBOX_FAILED,      /* max_attempts used up: kept with last_error */
  ES_OUTBOX_DELIVERED,   /* the receiver answered 2xx: the row is deleted */
};

/* One pending delivery of one alert to one destination; borrowed. */
struct es_outbox_rec {
  const char *destination; /* required: the destination's name */
  int64_t alert_id;        /* > 0: alerts.id */
  const char *payload;     /* required: the request body, JSON text, as
                              given (the caller masks it; it is not masked
                              here) */
  double created_at;       /* unix seconds; also the first next_attempt_at */
};

/* Stores a pending delivery, unless the alert it names is not stored (a
 * resent alert that the store kept under its first id, or one it refused)
 * or the destination already has a row for that alert: then nothing is
 * written. A writer puts it in the same transaction as the alert, after
 * it. Returns 0 when stored, 1 when not, or ES_EINVAL (missing field,
 * alert_id <= 0, read-only store), ES_EJSON (payload is not JSON),
 * ES_ESTORE. */
int es_store_put_outbox(struct es_store *s, const struct es_outbox_rec *rec);

/* An outcome for a webhook_outbox row; borrowed. */
struct es_outbox_update {
  int64_t id;               /* webhook_outbox.id; 0: no row (a message that
                               only summarises suppressed ones) */
  enum es_outbox_state state; /* DELIVERED deletes the row; PENDING schedules
                               the next attempt; SUPPRESSED and FAILED close it */
  int64_t attempts;         /* attempts made so far (>= 0) */
  double next_attempt_at;   /* PENDING: unix seconds of the next attempt */
  const char *last_error;   /* the last failure, or NULL */
  double at;                /* SUPPRESSED and FAILED: when (closed_at) */
  const char *destination;  /* required with summarised_upto */
  int64_t summarised_upto;  /* > 0: a message summarising this destination's
                               suppressed rows with id <= summarised_upto was
                               delivered: those rows are deleted */
};

/* Applies one outcome (a row that is gone already is not an error).
 * Returns 0, ES_EINVAL (bad state, negative attempts, a time that is not
 * a number, summarised_upto without destination, read-only store),
 * ES_ESTORE. */
int es_store_update_outbox(struct es_store *s, const struct es_outbox_update *u);

#endif
