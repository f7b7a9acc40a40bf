/*
 * esd.h: earshotd's state, shared by main.c (lifecycle), config.c (flags
 * and startup checks), server.c (listeners, connections, line handling)
 * and reload.c.
 */
#ifndef ESD_H
#define ESD_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <uv.h>

#include "calls.h"
#include "config.h" /* lib/config.h: the settings */
#include "earshot.h"
#include "engine.h"
#include "feed.h"
#include "keymap.h"
#include "proto.h"
#include "store.h"
#include "webhook.h"
#include "writer.h"

/* Bytes read per read callback (one shared buffer), and a connection's
 * share of a loop turn: one read. A turn over 16 busy connections then
 * lasts about 10 ms, not 40, so a finished store batch is noticed (and the
 * next one handed over) that much sooner: the writer idled a seventh of a
 * bulk run waiting for the loop to come round (docs/performance.md). */
#define ESD_READ_CHUNK 65536
#define ESD_CLOSE_DEADLINE_MS 5000 /* at shutdown, a client has this long to read its last output */
#define ESD_AUTH_TIMEOUT_MS 10000 /* a TCP client must send its hello with the token in this time */
#define ESD_ACKQ 8             /* distinct pending-ack batches per connection */
#define ESD_ACK_DELAY_MS 5     /* an ack due but not yet sent waits at most this long for
                                  the connection's next output (docs/protocol.md) */
#define ESD_MAX_COUNTERS 64    /* distinct categories / error codes counted */
#define ESD_FEED_RING 4096     /* recent feed records kept for reconnecting subscribers
                                  (grows while the store is behind) */
#define ESD_FEED_BACKFILL_MAX 100000 /* stored alerts read per backfill round */
#define ESD_RECENT_ALERTS 65536 /* newest alerts whose keys the daemon keeps (stored before
                                   it started, or raised since), to know a resent line's
                                   alert by the id it has (esd_resume(), emit_fire()) */

enum esd_pause {
  ESD_PAUSE_OUTPUT = 1, /* the client is not reading its alerts */
  ESD_PAUSE_STORE = 2,  /* the store is behind */
  ESD_PAUSE_TURN = 4,   /* read its share this loop turn; resumes next turn */
};

struct esd_ack {
  int64_t seq;     /* last client seq covered */
  uint64_t batch;  /* writer batch that must commit first (0: none) */
};

struct esd_conn {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  struct esd *d;
  struct esd_conn *prev, *next;
  uint64_t id;
  unsigned is_tcp : 1, authed : 1, acks : 1, reading : 1, closing : 1, eof : 1;
  unsigned waiting_reload : 1; /* asked for a reload whose answer is not sent yet */
  unsigned paused;           /* enum esd_pause bits */
  char client[64];
  char *line;                /* partial line carried between reads (grows to max_line_bytes) */
  size_t line_len, line_cap;
  size_t discarding;         /* > 0: bytes of an over-long line being skipped */
  uint64_t lineno;
  char *pending;             /* lines read but not yet handled: output was backed up */
  size_t pending_len;
  uint64_t out_paused_ms;    /* loop time when output pausing began */
  uint64_t opened_ms;        /* loop time when it was accepted */
  char *out;                 /* output waiting for the end of this read */
  size_t out_len, out_cap;
  struct esd_ack ackq[ESD_ACKQ];
  size_t nacks;
  int64_t ack_top;           /* highest seq queued for an ack: acks never go back */
  unsigned ncalls;           /* open calls this connection created */
  /* the supervisor feed (feed.c) */
  struct es_feed_filter *feed_filter; /* owned; non-NULL once subscribed */
  int64_t feed_last;         /* the last alert id it has been brought up to */
  /* feed_waiting: behind, its output over a quarter of max_output_bytes;
   * it catches up (esd_feed_drained) once that drains, not live meanwhile */
  unsigned feed_subscribed : 1, feed_backfilling : 1, feed_waiting : 1;
  uint64_t lines, alerts, errors;
};

/* An alert as supervisors see it, in the feed and in webhooks: its line,
 * words and reason masked (docs/redaction.md), and its feed record (with
 * its newline). Built once per alert by esd_feed_mask() and
 * esd_feed_publish(); borrowed from the daemon's scratch until the next
 * alert. */
struct esd_shown {
  struct es_alert_masked m;             /* text, words and reason; also the store's */
  const char *json;                     /* {"type":"feed_alert",...}\n */
  size_t json_len;
};
struct esd_counter {
  char name[48];
  uint64_t count;
};

/* What startup works out from the settings before it binds anything
 * (esd_config_check()). */
struct esd_resolved {
  gid_t socket_gid;                 /* socket_group's, when it is set */
  struct sockaddr_storage tcp_addr; /* listen_tcp's, when it is set */
  char tcp_host[64];                /* its host as given ([] taken off), for logs */
  int tcp_port;                     /* 0: any free port */
};

/* What the command line gave, kept for reloads: a reload reads the config
 * file again and applies these over it, as startup did. The strings are
 * argv's (borrowed: they live as long as the process). */
struct esd_flags {
  const char *socket, *db, *listen_tcp, *config; /* NULL: not given */
  const char **rules;        /* owned array (of borrowed strings), nrules */
  size_t nrules;
  int foreground, check_only;
  int has_level, has_retention;
  enum es_log_level level;
  unsigned retention_days;
};

struct esd {
  uv_loop_t *loop;
  struct es_config *cfg;
  struct esd_flags flags;    /* the command line, applied again over the file at each reload */
  struct esd_resolved res;
  struct es_rules *rules;
  struct es_matcher *matcher;
  struct es_engine *engine;  /* call logic scratch (engine.h), bound to rules */
  struct es_decoder *dec;
  struct es_calls *calls;
  struct es_store *store;
  struct esd_writer *writer;
  struct esd_webhooks *webhooks; /* webhook.h; NULL: none configured and no config file
                                    to add some by a reload */
  uv_pipe_t unix_listener;
  struct stat sock_st;       /* the socket file it made (removed at exit only if still there) */
  uv_tcp_t tcp_listener;
  unsigned unix_on : 1, tcp_on : 1, stopping : 1, reloading : 1, store_paused : 1;
  uv_signal_t sigterm, sigint, sighup;
  uv_timer_t tick;           /* once a second: idle calls, rates */
  uv_idle_t resume;          /* resumes connections that read their share */
  uv_check_t turn_end;       /* writes output queued outside a connection's read */
  uv_timer_t ack_timer;      /* sends acks that found no output to ride with */
  uv_timer_t close_timer;    /* at shutdown: closes clients that do not read their last output */
  unsigned resume_on : 1, turn_handles : 1, close_timer_on : 1;
  char rbuf[ESD_READ_CHUNK]; /* every read lands here: the loop is single-threaded */
  struct esd_conn *conns;
  unsigned nconns;
  uint64_t next_conn_id;
  /* reload (reload.c): `reloading` while one is under way */
  uint64_t reload_requester; /* connection id, 0: a signal */
  /* counters */
  double started_wall;
  uint64_t started_ms;
  uint64_t lines, partials, resent_lines, resent_alerts, alerts, errors, acks_sent;
  uint64_t connections_total;
  uint64_t disconnects_slow, reloads, reload_failures, calls_abandoned;
  uint64_t alerts_suppressed, backups;
  /* the supervisor feed (feed.c) */
  int64_t last_alert_id;     /* ids are given here: alerts.id */
  int64_t ids_reserving;     /* the id ceiling last queued to the store */
  int64_t ids_reserved;      /* the one it has committed: ids up to it may be published */
  unsigned ids_released : 1; /* shutdown: the ceiling is lowered to last_alert_id */
  struct es_keymap *alert_keys; /* alert_key -> id of the newest alerts, stored before this
                                   start or raised since (ESD_RECENT_ALERTS, esd_resume()) */
  struct esd_feed_item *feed;/* ring of recent records, feed_cap */
  size_t feed_cap, feed_head, feed_n;
  uint64_t feed_committed;   /* last writer batch committed */
  unsigned subscribers, feed_backfills;
  uint64_t feed_sent, feed_backfilled, marks;
  struct esd_shown shown;    /* the alert being published (esd_feed_publish) */
  char *feed_scratch;        /* masked text/words/reason of the alert being published */
  size_t feed_scratch_cap;
  char *feed_json;           /* the record being built */
  size_t feed_json_cap;
  uint64_t rate_lines[11];   /* lines at each of the last 11 ticks */
  unsigned rate_pos;
  struct esd_counter by_category[ESD_MAX_COUNTERS];
  struct esd_counter by_error[ESD_MAX_COUNTERS];
  int exit_code;
};

/* config.c */
/* Reads the flags into f and the config file they name into c (flags
 * override the file; esd_config_apply()). On error prints what to fix (a
 * line for every bad flag, or else for every problem of the file) and
 * returns -1; returns 1 when the process should exit 0 at once (--help,
 * --version), else 0. Free f with esd_flags_free() in every case. */
int esd_config_load(struct es_config *c, struct esd_flags *f, int argc, char **argv);
void esd_flags_free(struct esd_flags *f);
/* The settings startup works with: the config file f names (when one
 * does) read over c, which holds the defaults (es_config_init()), the
 * flags over that, and the bundled rules when neither names any. 0, or -1
 * with what is wrong in diags. Reads files only: a reload runs it on a
 * worker thread. */
int esd_config_apply(struct es_config *c, const struct esd_flags *f, struct es_diags *diags);
/* Checks what startup needs of the settings beyond their syntax, as
 * startup does, without binding, creating or opening anything: the socket
 * path's length, the directories of the socket and the database (each
 * there or makeable), socket_group (its id into res), listen_tcp (its
 * address into res) and its token. Adds each problem to diags and returns
 * how many there were. Startup, --check-config and a reload run it
 * (thread-safe: a reload runs it on a worker thread). */
int esd_config_check(const struct es_config *c, struct esd_resolved *res,
                     struct es_diags *diags);
/* The settings that only a restart changes (every one but "rules" and
 * "webhooks"): the names of those that differ between `running` and `next`,
 * as the config file spells them ("socket", "limits.max_line_bytes"),
 * into keys[0..cap) (static strings); returns how many. */
size_t esd_config_restart_only(const struct es_config *running, const struct es_config *next,
                               const char **keys, size_t cap);
/* Creates the directories above path (mode 0750 for the last): 0 or -1 (errno). */
int esd_mkdir_parent(const char *path);

/* server.c */
/* Reads what a restart must know from the store, before the writer uses
 * it: the keys of the newest alerts (alert_keys) and the calls ended
 * last by their client (d->calls). 0 or -1 (logged). */
int esd_resume(struct esd *d);
/* The settings have passed esd_config_check() (d->res holds what it found). */
int esd_listen(struct esd *d);                  /* 0 or -1 (logged) */
void esd_stop_listening(struct esd *d);
void esd_on_commit(void *ud, uint64_t batch);   /* writer callback */
void esd_tick(uv_timer_t *t);
void esd_drain_and_close_all(struct esd *d);     /* shutdown: drain sockets, flush, close */
void esd_end_all_calls(struct esd *d, enum es_end_reason why);
void esd_finish_all(struct esd *d);               /* shutdown: acks out, then close */

/* feed.c */
struct esd_feed_item;
/* Reads the last id that may have been given out and reserves the ids
 * after it (before the writer uses the store); 0 or -1 (logged). */
int esd_feed_init(struct esd *d);
void esd_feed_free(struct esd *d);
/* The next alert id; asks the writer to reserve more ahead of need. */
int64_t esd_feed_next_id(struct esd *d);
/* Shutdown, after the last alert: lowers the reserved ceiling to the last
 * id given out, so that the next start goes on without a gap. */
void esd_feed_release_ids(struct esd *d);
/* Masks the alert's text, words and reason once for the feed, webhooks and
 * the store (rec->masked). NULL when out of memory (logged): the alert is
 * then stored, masked by the store, but neither in the feed nor webhooks. */
const struct es_alert_masked *esd_feed_mask(struct esd *d, const struct es_alert_rec *rec);
/* After esd_feed_mask() of the same alert: builds its feed record, keeps
 * it in the ring and sends it to the subscribers whose filters it passes.
 * Returns the shown form, or NULL when out of memory. */
const struct esd_shown *esd_feed_publish(struct esd *d, const struct es_call *call,
                                         const struct es_alert_rec *rec, uint64_t batch);
void esd_feed_on_commit(struct esd *d, uint64_t batch);
void esd_feed_subscribe(struct esd_conn *c, const struct es_event *ev, const char *line,
                        size_t len);
void esd_feed_conn_closed(struct esd_conn *c);
/* A subscriber that fell behind (feed_waiting) has drained its output to a
 * quarter of max_output_bytes: it catches up from the ring or the store. */
void esd_feed_drained(struct esd_conn *c);
void esd_feed_mark(struct esd_conn *c, const struct es_event *ev, uint64_t *batch);

/* reload.c */
void esd_reload(struct esd *d, uint64_t requester);
void esd_send_stats(struct esd *d, struct esd_conn *c);

/* shared helpers in server.c */
void esd_conn_write(struct esd_conn *c, const char *data, size_t len);
void esd_conn_flush(struct esd_conn *c);
/* Bytes of output queued to the client: written and not yet taken by the
 * socket, or waiting for the end of this read. */
size_t esd_conn_queued(const struct esd_conn *c);
/* Closes a connection whose client closed its sending side once nothing
 * is owed to it any more (acks, a reload's answer). */
void esd_conn_finish_if_done(struct esd_conn *c);
struct esd_conn *esd_conn_by_id(struct esd *d, uint64_t id);
void esd_count(struct esd_counter *table, const char *name);
/* An error record about the line `ev` (its seq echoed). */
void esd_send_error(struct esd_conn *c, const struct es_event *ev, const char *code,
                    const char *message);

#endif
