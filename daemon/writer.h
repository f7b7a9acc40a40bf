/*
 * writer.h: batched, off-loop writes to the SQLite store.
 *
 * The loop thread appends rows to the open batch. Whenever no commit is in
 * flight and the open batch holds rows, the batch is handed to one of the
 * writer's two threads, which writes it in one transaction (group commit:
 * one transaction per loop turn at most, never one per alert). The loop
 * learns of each commit through `on_commit`, which is where acks are
 * released. A failed commit is retried (the batch is kept, with backoff)
 * and logged; rows are never dropped. The same threads also run the
 * retention purge (esd_writer_start_retention()).
 *
 * The two threads take turns, never both at once: "esd-store-bg" runs at
 * idle priority (SCHED_IDLE) and takes the batches of at most
 * `bg_max_rows` rows, which mean the writer keeps up; on a machine with a
 * CPU to spare it commits them without ever delaying the loop, which
 * preempts it at once. "esd-store" runs at normal priority and takes the
 * larger batches, which mean the writer is behind and must not be starved.
 * When a background commit waits for a CPU over ESD_WRITER_STARVED_MS and
 * over ESD_WRITER_STARVED_RATIO times its own CPU time (other work keeps
 * every CPU busy; the loop's preemptions cost it about as long as it
 * runs), every commit goes to "esd-store" for the next
 * ESD_WRITER_FOREGROUND_HOLD_MS. bg_max_rows 0: every commit at normal
 * priority.
 */
#ifndef ESD_WRITER_H
#define ESD_WRITER_H

#include <stdint.h>
#include <uv.h>

#include "alert.h"
#include "calls.h"
#include "store.h"

struct esd_writer;

/* Called on the loop thread after batch `id` (and all before it) committed. */
typedef void (*esd_commit_cb)(void *ud, uint64_t id);

/* `store` is borrowed and used only from the writer's threads, one at a
 * time. NULL: out of memory or no thread could be started. */
struct esd_writer *esd_writer_new(uv_loop_t *loop, struct es_store *store,
                                  unsigned interval_ms, unsigned bg_max_rows, esd_commit_cb cb,
                                  void *ud);
/* Frees the writer; the caller must have waited for esd_writer_idle(). */
void esd_writer_free(struct esd_writer *w);

/* Each add copies the row (every pointer in it is borrowed for the call
 * only) and returns the id of the batch it went into (>= 1), or 0 when out
 * of memory (the caller reports the line as failed). */
uint64_t esd_writer_add_alert(struct esd_writer *w, const struct es_alert_rec *row);
/* A call's start and end. The start sets *start_row and *start_batch (when
 * start_row is not NULL); given them back, the end joins the start when it
 * has not been handed to the worker yet, and the two are written as one
 * row (es_store_put_call()). The end clears *start_row. */
uint64_t esd_writer_add_call_start(struct esd_writer *w, const struct es_call_start *row,
                                   void **start_row, uint64_t *start_batch);
uint64_t esd_writer_add_call_end(struct esd_writer *w, const struct es_call_end *row,
                                 void **start_row, uint64_t *start_batch);
/* A feedback mark ("taken", "resolved", "false_positive") on alert
 * alert_id; an unknown alert is counted as a rejected row. 0: out of
 * memory or an unknown mark name. */
uint64_t esd_writer_add_mark(struct esd_writer *w, int64_t alert_id, const char *mark,
                             const char *by, const char *note, double at);
uint64_t esd_writer_add_rule_set(struct esd_writer *w, const struct es_rules *rules,
                                 double loaded_at);
/* A webhook delivery of the alert added just before it (webhook.c). It
 * always goes into that alert's batch, never the next one, so that the
 * alert and its pending deliveries commit together or not at all. */
uint64_t esd_writer_add_outbox(struct esd_writer *w, const struct es_outbox_rec *row);
/* The outcome of a webhook delivery (delivered, retry, failed, suppressed). */
uint64_t esd_writer_update_outbox(struct esd_writer *w, const struct es_outbox_update *u);
/* Records the alert id ceiling (es_store_reserve_alert_ids()) in the
 * batch's transaction, after the rows queued before it. */
uint64_t esd_writer_reserve_ids(struct esd_writer *w, int64_t ceiling);

uint64_t esd_writer_committed(const struct esd_writer *w); /* last committed batch id */
/* The ceiling the last committed esd_writer_reserve_ids() recorded, known
 * when on_commit runs; -1 before any. */
int64_t esd_writer_ids_reserved(const struct esd_writer *w);
/* The batch holding the latest row queued, 0 when none was: a line that
 * queues nothing itself but must be acknowledged after the rows before it
 * (a line sent again) waits for this one. */
uint64_t esd_writer_last_id(const struct esd_writer *w);
size_t esd_writer_pending(const struct esd_writer *w);     /* rows not yet committed */
uint64_t esd_writer_commits(const struct esd_writer *w);
uint64_t esd_writer_failures(const struct esd_writer *w);
uint64_t esd_writer_rejected(const struct esd_writer *w);
uint64_t esd_writer_joined(const struct esd_writer *w);    /* call ends joined to their start */
uint64_t esd_writer_background_commits(const struct esd_writer *w); /* at idle priority */
uint64_t esd_writer_background_starved(const struct esd_writer *w); /* of them, starved */
int esd_writer_idle(const struct esd_writer *w);           /* nothing open, nothing in flight */

/* Retention: deletes alerts (with their feedback marks and search-index
 * entries) older than `days` days, and calls that ended before then,
 * once at the next loop turn and then every 24 hours. 0 turns it off.
 * The deletes run on the writer's threads in steps of at most
 * ESD_WRITER_PRUNE_ROWS rows, each its own short transaction, between the
 * batches: the loop is never blocked and acks wait at most one step.
 * Call once, after esd_writer_new(). */
void esd_writer_start_retention(struct esd_writer *w, unsigned days);

/* Asks for one purge of the rows older than `before` (unix seconds), as
 * the daily retention does; a purge under way takes the new cut-off. */
void esd_writer_prune(struct esd_writer *w, double before);

#define ESD_WRITER_PRUNE_ROWS 1000
#define ESD_WRITER_STARVED_MS 50            /* a background commit waited this long... */
#define ESD_WRITER_STARVED_RATIO 4          /* ...and this many times its CPU time: */
#define ESD_WRITER_FOREGROUND_HOLD_MS 10000 /* every commit at normal priority this long */

uint64_t esd_writer_pruned_alerts(const struct esd_writer *w); /* since start */
uint64_t esd_writer_pruned_calls(const struct esd_writer *w);
int esd_writer_pruning(const struct esd_writer *w); /* a purge is wanted or running */

/* Stops the writer's handles (after it is idle), then on close calls `done`. */
void esd_writer_close(struct esd_writer *w, void (*done)(void *ud), void *ud);

#endif
