/*
 * config.h: earshotd's configuration file (docs/configuration.md), one JSON
 * object of settings. earshotd reads it and applies its flags over it
 * (daemon/config.c); the earshot command reads the same file, with the
 * same code, to find the daemon's socket and database.
 *
 * Reading a file checks every setting it holds (unknown keys, a key given
 * twice, wrong types, out-of-range values are errors that name the key),
 * except "webhooks", which is kept as text for earshotd to check
 * (daemon/webhook.c, docs/webhooks.md).
 */
#ifndef ES_CONFIG_H
#define ES_CONFIG_H

#include <stddef.h>

#include "error.h"

/* How much earshotd logs, least first ("log_level"). */
enum es_log_level { ES_LOG_ERROR = 0, ES_LOG_WARN, ES_LOG_INFO, ES_LOG_DEBUG };

/* "error", "warn", "info" or "debug": 0 and *out, or ES_EINVAL. */
int es_log_level_parse(const char *name, enum es_log_level *out);
/* The name of a level (a static string). */
const char *es_log_level_name(enum es_log_level level);

struct es_config {
  char *socket_path;            /* owned; NULL when no default could be worked out */
  char *socket_group;           /* owned, or NULL: the daemon's group */
  unsigned socket_mode;         /* default 0660 */
  char *db_path;                /* owned; NULL when no default could be worked out */
  char **rules;                 /* owned, nrules paths; none: the bundled rules */
  size_t nrules;
  char *listen_tcp;             /* owned "HOST:PORT" or NULL (off) */
  char *tcp_token;              /* owned; required when listen_tcp is set */
  enum es_log_level log_level;
  int foreground;
  /* limits */
  size_t max_line_bytes;        /* 65536 */
  unsigned max_connections;     /* 1024 */
  unsigned max_calls_per_connection; /* 10000 */
  unsigned max_open_calls;      /* 100000 */
  size_t max_output_bytes;      /* 8 MiB queued to one client */
  double output_stall_timeout;  /* seconds a client may leave output unread; 30 */
  size_t max_pending_alerts;    /* 100000 waiting for the store */
  double call_idle_timeout;     /* seconds; 300 */
  /* store */
  int synchronous;              /* 1 normal, 2 full (default) */
  unsigned commit_interval_ms;  /* 10: at most one transaction per 10 ms; 0: every loop turn */
  unsigned background_max_rows; /* batches up to this many rows at idle priority; 0: none */
  unsigned cache_mb;            /* the writer's SQLite page cache, MiB */
  unsigned alert_id_block;      /* alert ids reserved in the store at a time; 65536 */
  int redact;                   /* 1 (default) */
  unsigned retention_days;      /* delete rows older than this, daily; 0 (default): keep */
  char *webhooks_json;          /* owned: the "webhooks" value as JSON text, or NULL */
  char *config_file;            /* owned: the file read last, or NULL */
};

/* The longest retention_days (and earshotd's --retention-days). */
#define ES_CONFIG_MAX_RETENTION_DAYS 36500

/* The defaults: socket and database under es_default_home(), the bundled
 * rules, the limits of docs/configuration.md. */
void es_config_init(struct es_config *c);
void es_config_deinit(struct es_config *c);

/* Reads the config file at `path` into c: the settings it holds replace
 * c's, the others stay. Returns 0; ES_ENOENT when there is no such file;
 * ES_EIO when it cannot be opened or read (over 1 MiB, a directory, no
 * permission); ES_EJSON when it is not one JSON object; ES_EINVAL for a
 * setting that is unknown, given twice or wrong; ES_ENOMEM. On failure
 * a diagnostic says what is wrong, one per wrong setting (every one, not
 * only the first), in a message that names the file ("PATH: unknown
 * setting \"x\" ...", "cannot open config file PATH: ..."), its `file`
 * the path, its `line` that of malformed JSON (else 0).
 * c may then hold some of the file's settings: deinit it. */
int es_config_read(struct es_config *c, const char *path, struct es_diags *diags);

/* Replaces c's rules with copies of paths[0..n). 0, or ES_ENOMEM (c then holds
 * some of them). */
int es_config_set_rules(struct es_config *c, const char *const *paths, size_t n);

/* Replaces the string *field (one of c's owned strings) with a copy of s
 * (NULL: none). 0 or ES_ENOMEM. */
int es_config_set_str(char **field, const char *s);

#endif
