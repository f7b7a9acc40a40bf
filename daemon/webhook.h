/*
 * webhook.h: delivery of alerts to HTTP webhooks (docs/webhooks.md).
 *
 * Each destination in the config file's "webhooks" array receives the
 * alerts that pass its filter as HTTP POSTs, built from the masked alert
 * (the supervisor feed's record, or a chat message). Delivery is
 * at-least-once and survives restarts: every delivery is a row of the
 * store's webhook_outbox table, inserted by the writer thread in the
 * same transaction as its alert, and every outcome (delivered, retry
 * scheduled, failed, suppressed) is written through the writer too. The
 * loop thread never touches SQLite: pending rows are read on the thread
 * pool, at startup, after each commit that added some, and for a
 * destination a reload adds (esd_webhooks_reconfigure()).
 *
 * Requests go through libcurl's multi interface driven by the libuv loop
 * (a uv_poll_t per socket, one uv_timer_t for curl's timeout): no thread
 * per request, no blocking call on the loop. Each carries the header
 * Idempotency-Key: <alert id>-<destination>. 2xx is delivered; anything
 * else is retried with exponential backoff and jitter up to max_attempts,
 * then the row is marked failed. A token bucket per destination limits
 * the alerts sent as their own messages; those over it are counted and
 * summarised in a later message.
 *
 * Everything here runs on the loop thread except the store reads.
 */
#ifndef ESD_WEBHOOK_H
#define ESD_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "calls.h"
#include "store.h"
#include "writer.h"

#define ESD_WEBHOOK_MAX_DESTINATIONS 32
#define ESD_WEBHOOK_NAME_MAX 64       /* bytes of a destination's name */
#define ESD_WEBHOOK_URL_MAX 2048      /* bytes of a URL */
#define ESD_WEBHOOK_MAX_HEADERS 32    /* extra headers per destination */
#define ESD_WEBHOOK_HEADER_MAX 4096   /* bytes of one "Name: value" */
#define ESD_WEBHOOK_MAX_IN_FLIGHT 4   /* concurrent requests per destination */
#define ESD_WEBHOOK_MAX_LOADED 10000  /* deliveries held in memory, all destinations */
#define ESD_WEBHOOK_MAX_LOADED_BYTES (64u << 20) /* their payloads; the rest wait in the store */
#define ESD_WEBHOOK_LOAD_ROWS 1000    /* outbox rows read per store read */
#define ESD_WEBHOOK_MAX_PAYLOAD (1u << 20) /* request body bytes; larger alerts are not sent */
#define ESD_WEBHOOK_TEXT_WORDS_MAX 1000    /* bytes of quoted words in a text message */

/* ---- configuration -------------------------------------------------------- */

/* The destinations of the config file's "webhooks" (docs/webhooks.md). */
struct esd_webhooks_config;

/* Parses and checks the "webhooks" value, JSON text as config.c keeps it
 * (an array of destination objects; NULL: none). Returns 0 with *out
 * (NULL when no destination is configured), or -1 with what to fix in
 * msg, naming the destination and the key. Touches nothing else: a
 * reload runs it on a worker thread. */
int esd_webhooks_config_parse(const char *json, struct esd_webhooks_config **out, char *msg,
                              size_t msgcap);
void esd_webhooks_config_free(struct esd_webhooks_config *c); /* NULL: no-op */

/* ---- lifecycle ------------------------------------------------------------ */

struct esd_webhooks;

/* Creates the module on `cfg` (taken; NULL: no destination yet, a reload
 * may add some). Payloads are the supervisor feed's masked form (the
 * daemon's "redact" setting applies). NULL when out of memory (cfg is
 * freed). Touches no loop, no network. */
struct esd_webhooks *esd_webhooks_new(struct esd_webhooks_config *cfg);

/* Attaches the module to the loop and the writer (`writer` and `db_path`
 * borrowed; they must outlive it), initialises libcurl (call before any
 * worker thread runs), reads the outbox rows left pending by earlier runs
 * (on the thread pool; with no destination, once a reload adds one) and
 * starts delivering. Returns 0, or -1 (logged). NULL wh: 0. */
int esd_webhooks_start(struct esd_webhooks *wh, uv_loop_t *loop, struct esd_writer *writer,
                       const char *db_path);

struct esd_shown;

/* One alert, just queued to the writer in batch `batch` (server.c's
 * emit_fire): queues an outbox row for every destination whose filter it
 * passes, into the same batch. Delivery starts once that batch commits.
 * `shown` is the masked form and feed record esd_feed_publish() built
 * (NULL when it could not: then nothing is queued, with a warning).
 * Everything borrowed for the call. NULL wh: no-op. */
void esd_webhooks_alert(struct esd_webhooks *wh, const struct es_call *call,
                        const struct es_alert_rec *rec, uint64_t batch,
                        const struct esd_shown *shown);

/* The writer committed every batch up to `batch` (main.c's commit
 * callback). NULL wh: no-op. */
void esd_webhooks_on_commit(struct esd_webhooks *wh, uint64_t batch);

/* Shutdown: requests in flight are abandoned (their rows stay pending
 * and are sent again, with the same Idempotency-Key, after a restart),
 * no new request starts, every handle is closed. Alerts that arrive
 * afterwards still get their outbox rows. Call before the writer closes,
 * and before closing every handle of a loop that failed to start. NULL
 * wh: no-op. */
void esd_webhooks_stop(struct esd_webhooks *wh);

/* A reload (reload.c) on the loop thread: `cfg` (taken; NULL: none)
 * replaces the destinations, matched by name (docs/webhooks.md,
 * "Reloading"):
 *   - added: created; once the outbox has been read, its rows kept there
 *     while it was not configured are read back on the thread pool (after
 *     the writer has committed every outcome queued so far), with its
 *     suppressed alerts;
 *   - changed: new alerts and the rows it holds go out with the new
 *     settings; when its url or headers changed, its requests in flight
 *     are abandoned and sent again at once (their attempt not counted),
 *     and its retries waiting are due at once; in-flight requests keep
 *     their old timeout otherwise;
 *   - removed: its requests in flight are abandoned, what it held in
 *     memory freed; its rows stay pending (or suppressed) in the outbox
 *     (warn log: how many), to be sent if that name comes back.
 * Writes "2 destinations (added console; changed pager (url))" into
 * changes. Returns 0, or -1 when out of memory: nothing changed (cfg is
 * freed). */
int esd_webhooks_reconfigure(struct esd_webhooks *wh, struct esd_webhooks_config *cfg,
                             char *changes, size_t cap);

/* Frees the module once the loop has ended (or never ran). NULL: no-op. */
void esd_webhooks_free(struct esd_webhooks *wh);

/* `,"webhooks":{"<name>":{"delivered":N,"pending":N,"failed":N,
 * "suppressed":N,"in_flight":N,...},...}` for `earshot stats`, malloc'd
 * (the caller frees), or NULL when out of memory. NULL wh: an empty
 * object. */
char *esd_webhooks_stats_json(const struct esd_webhooks *wh);

#endif
