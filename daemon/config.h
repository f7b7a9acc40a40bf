/*
 * config.h: earshotd's configuration: defaults, the JSON config file and
 * command-line flags (flags override the file). docs/configuration.md
 * lists every setting.
 */
#ifndef ESD_CONFIG_H
#define ESD_CONFIG_H

#include <stddef.h>

#include "log.h"

struct esd_config {
  char *socket_path;            /* owned */
  char *socket_group;           /* owned, or NULL: the daemon's group */
  unsigned socket_mode;         /* default 0660 */
  char *db_path;                /* owned */
  char **rules;                 /* owned, nrules paths; none: the bundled rules */
  size_t nrules;
  char *listen_tcp;             /* owned "HOST:PORT" or NULL (off) */
  char *tcp_token;              /* owned; required when listen_tcp is set */
  enum esd_log_level log_level;
  int foreground;
  int check_only;               /* --check-config */
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
  char *webhooks_json;          /* owned: the "webhooks" value as JSON text, or NULL;
                                   checked and used by webhook.c (docs/webhooks.md) */
  char *config_file;            /* owned, or NULL */
};

void esd_config_init(struct esd_config *c);
void esd_config_deinit(struct esd_config *c);

/* Parses argv (flags) and the config file they name. On error prints a
 * message saying what to fix and returns -1; returns 1 when the process
 * should exit 0 at once (--help, --version), else 0. */
int esd_config_load(struct esd_config *c, int argc, char **argv);

#endif
