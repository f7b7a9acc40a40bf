/*
 * server.c: listeners, connections and the per-line path of earshotd.
 *
 * The read callback handles bytes only: it splits lines (each bounded by
 * max_line_bytes) and hands each to handle_line(), which decodes it with
 * lib/proto, runs lib/match and queues alerts to the client and rows to the
 * writer. Output produced while handling one read is written once at the
 * end of it. Backpressure is explicit: a client whose unread output passes
 * half of max_output_bytes stops being read until it drains, and is
 * disconnected past max_output_bytes; when the store falls more than
 * max_pending_alerts rows behind, every producer stops being read until it
 * catches up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "alert.h"
#include "esd.h"
#include "log.h"
#include "numfmt.h"

void esd_count(struct esd_counter *table, const char *name) {
  for (int i = 0; i < ESD_MAX_COUNTERS; i++) {
    if (table[i].name[0] == '\0') {
      snprintf(table[i].name, sizeof(table[i].name), "%s", name);
      table[i].count = 1;
      return;
    }
    if (strcmp(table[i].name, name) == 0) {
      table[i].count++;
      return;
    }
  }
}

/* ---- output ----------------------------------------------------------- */

struct wreq {
  uv_write_t req;
  struct esd_conn *conn;
  size_t len;
  char data[];
};

static void conn_close(struct esd_conn *c, const char *why);
static void conn_finish(struct esd_conn *c);
static void process_pending(struct esd_conn *c);
static void ack_release(struct esd_conn *c, uint64_t committed);
static void conn_update_reading(struct esd_conn *c);

static size_t queued(const struct esd_conn *c) {
  return c->h.stream.write_queue_size + c->out_len;
}

size_t esd_conn_queued(const struct esd_conn *c) { return queued(c); }

void esd_conn_write(struct esd_conn *c, const char *data, size_t len) {
  size_t max = c->d->cfg->max_output_bytes;

  if (c->closing)
    return;
  if (queued(c) + len > max) {
    c->d->disconnects_slow++;
    esd_warn("server", "conn %" PRIu64 " (%s): disconnected: %zu bytes of output unread and %zu "
             "more to send, over max_output_bytes (%zu); the client must read its alerts",
             c->id, c->client, queued(c), len, max);
    conn_close(c, NULL);
    return;
  }
  if (c->out_len + len > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + len)
      cap *= 2;
    char *p = realloc(c->out, cap);
    if (p == NULL) {
      esd_error("server", "conn %" PRIu64 ": out of memory for output; closing", c->id);
      conn_close(c, NULL);
      return;
    }
    c->out = p;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
}

static void on_write(uv_write_t *req, int status) {
  struct wreq *w = (struct wreq *)req;
  struct esd_conn *c = w->conn;

  free(w);
  if (status < 0 && status != UV_ECANCELED && !c->closing) {
    esd_debug("server", "conn %" PRIu64 ": write failed: %s", c->id, uv_strerror(status));
    conn_close(c, NULL);
    return;
  }
  if (!c->closing && (c->paused & ESD_PAUSE_OUTPUT) &&
      queued(c) <= c->d->cfg->max_output_bytes / 4) {
    c->paused &= ~(unsigned)ESD_PAUSE_OUTPUT;
    /* First the lines held back when output backed up, then new reads. */
    process_pending(c);
    if (!c->closing) {
      ack_release(c, esd_writer_committed(c->d->writer));
      esd_conn_flush(c);
      conn_update_reading(c);
    }
  }
  if (!c->closing && c->feed_waiting && queued(c) <= c->d->cfg->max_output_bytes / 4)
    esd_feed_drained(c);
}

void esd_conn_flush(struct esd_conn *c) {
  size_t off = 0;

  if (c->closing || c->out_len == 0)
    return;
  /* Try the socket first: most alerts leave without a copy. */
  if (c->h.stream.write_queue_size == 0) {
    uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
    int n = uv_try_write(&c->h.stream, &b, 1);
    if (n > 0)
      off = (size_t)n;
    else if (n < 0 && n != UV_EAGAIN) {
      conn_close(c, NULL);
      return;
    }
  }
  if (off < c->out_len) {
    size_t rest = c->out_len - off;
    struct wreq *w = malloc(sizeof(*w) + rest);
    if (w == NULL) {
      conn_close(c, NULL);
      return;
    }
    w->conn = c;
    w->len = rest;
    memcpy(w->data, c->out + off, rest);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, &c->h.stream, &b, 1, on_write) != 0) {
      free(w);
      conn_close(c, NULL);
      return;
    }
  }
  c->out_len = 0;
  if (queued(c) > c->d->cfg->max_output_bytes / 2 && !(c->paused & ESD_PAUSE_OUTPUT)) {
    c->paused |= ESD_PAUSE_OUTPUT;
    c->out_paused_ms = uv_now(c->d->loop);
    conn_update_reading(c);
    esd_debug("server", "conn %" PRIu64 ": paused: %zu bytes unread by the client", c->id,
              queued(c));
  }
}

static void send_error(struct esd_conn *c, int has_seq, int64_t seq, const char *code,
                       const char *rule, const char *message) {
  char buf[ES_ERROR_JSON_CAP];
  size_t pos;

  c->errors++;
  c->d->errors++;
  esd_count(c->d->by_error, code);
  pos = es_error_json(buf, (int64_t)c->lineno, has_seq, seq, code, rule, message);
  esd_conn_write(c, buf, pos);
}

void esd_send_error(struct esd_conn *c, const struct es_event *ev, const char *code,
                    const char *message) {
  send_error(c, ev && ev->has_seq, ev ? ev->seq : 0, code, NULL, message);
}

/* ---- acks ------------------------------------------------------------- */

/* Records that once `batch` commits, every line up to `seq` is safe.
 * Entries for the same batch merge: acks are cumulative. A seq below one
 * already queued (a line sent again, or out of order) is acknowledged by
 * an ack of the higher one, once its own batch commits too: acks never go
 * back. */
static void ack_push(struct esd_conn *c, int64_t seq, uint64_t batch) {
  if (seq < c->ack_top)
    seq = c->ack_top;
  c->ack_top = seq;
  if (c->nacks > 0) {
    struct esd_ack *last = &c->ackq[c->nacks - 1];
    if (batch <= last->batch) {
      last->seq = seq;
      return;
    }
    if (c->nacks == ESD_ACKQ) {
      /* Out of slots: wait for the later batch (acks come later, never early). */
      last->seq = seq;
      last->batch = batch;
      return;
    }
  }
  c->ackq[c->nacks].seq = seq;
  c->ackq[c->nacks].batch = batch;
  c->nacks++;
}

/* Sends one ack for the latest entry whose batch has committed. */
static void ack_release(struct esd_conn *c, uint64_t committed) {
  size_t n = 0;
  int64_t seq = 0;
  char buf[64];

  while (n < c->nacks && c->ackq[n].batch <= committed)
    seq = c->ackq[n++].seq;
  if (n == 0)
    return;
  memmove(c->ackq, c->ackq + n, (c->nacks - n) * sizeof(c->ackq[0]));
  c->nacks -= n;
  int len = snprintf(buf, sizeof(buf), "{\"type\":\"ack\",\"seq\":%" PRId64 "}\n", seq);
  esd_conn_write(c, buf, (size_t)len);
  c->d->acks_sent++;
}

/* Sends, on every connection, the acks of lines whose batches are
 * committed up to `committed`; a client that closed its sending side gets
 * its last ack, then the close. */
static void release_all_acks(struct esd *d, uint64_t committed) {
  for (struct esd_conn *c = d->conns, *next; c; c = next) {
    next = c->next;
    if (c->nacks && !c->closing) {
      ack_release(c, committed);
      esd_conn_flush(c);
      esd_conn_finish_if_done(c);
    }
  }
}

/* Sends every ack that is due: the lines of no pending batch. */
static void on_ack_timer(uv_timer_t *t) {
  struct esd *d = t->data;
  release_all_acks(d, esd_writer_committed(d->writer));
}

/* After a read: an ack that is due leaves with the read's output (alerts,
 * errors), or, when there is none, within ESD_ACK_DELAY_MS: a stream of
 * quiet lines is not answered line by line (a write, and a wakeup of the
 * client, for each). Acks that wait for a commit go out at the commit. */
static void ack_after_read(struct esd_conn *c) {
  struct esd *d = c->d;
  if (c->nacks == 0)
    return;
  if (c->out_len > 0) {
    ack_release(c, esd_writer_committed(d->writer));
  } else if (!uv_is_active((uv_handle_t *)&d->ack_timer) &&
             c->ackq[0].batch <= esd_writer_committed(d->writer)) {
    uv_timer_start(&d->ack_timer, on_ack_timer, ESD_ACK_DELAY_MS, 0);
  }
}

static void update_store_pause(struct esd *d);

void esd_on_commit(void *ud, uint64_t batch) {
  struct esd *d = ud;
  esd_feed_on_commit(d, batch);
  release_all_acks(d, batch);
  update_store_pause(d);
}

/* ---- reading ---------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct esd_conn *c = h->data;
  (void)suggested;
  /* One buffer serves every connection: libuv calls on_read before the
   * next on_alloc, and on_read consumes the bytes or copies a partial line. */
  *buf = uv_buf_init(c->d->rbuf, ESD_READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Runs once per loop turn while some connection waits for its next share. */
static void on_resume(uv_idle_t *h) {
  struct esd *d = h->data;
  for (struct esd_conn *c = d->conns; c; c = c->next) {
    if (c->paused & ESD_PAUSE_TURN) {
      c->paused &= ~(unsigned)ESD_PAUSE_TURN;
      conn_update_reading(c);
    }
  }
  uv_idle_stop(h);
  d->resume_on = 0;
}

static void conn_update_reading(struct esd_conn *c) {
  int want = !c->closing && !c->eof && c->paused == 0 && !c->d->stopping;
  if (want && !c->reading) {
    if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
      c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop(&c->h.stream);
    c->reading = 0;
  }
}

static void update_store_pause(struct esd *d) {
  size_t pending = esd_writer_pending(d->writer);
  size_t limit = d->cfg->max_pending_alerts;
  int pause;

  if (!d->store_paused && pending > limit)
    pause = 1;
  else if (d->store_paused && pending <= limit / 2)
    pause = 0;
  else
    return;
  d->store_paused = (unsigned)pause;
  if (pause)
    esd_warn("store", "%zu rows waiting for the store (max_pending_alerts %zu): pausing readers",
             pending, limit);
  else
    esd_info("store", "store caught up: resuming readers");
  for (struct esd_conn *c = d->conns; c; c = c->next) {
    if (pause)
      c->paused |= ESD_PAUSE_STORE;
    else
      c->paused &= ~(unsigned)ESD_PAUSE_STORE;
    conn_update_reading(c);
  }
}

/* A key that names one alert whatever connection resends its line: the
 * call, the client's seq (or ts), a digest of the text, and the rule. No
 * transcript text goes into it. */
static int alert_key(char *buf, size_t cap, const struct es_event *ev, const char *rule_id,
                     uint64_t call_line) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < ev->text_len; i++) {
    h ^= (unsigned char)ev->text[i];
    h *= 0x100000001b3ULL;
  }
  if (ev->has_seq) {
    /* snprintf's "%s/s%" PRId64 "/%016" PRIx64 "/%s", without printf
     * (it was a third of an alert's cost outside the store); the key's
     * text must not change, or a line resent across an upgrade would be
     * stored twice. */
    static const char hex[] = "0123456789abcdef";
    char num[ES_FMT_INT_MAX];
    size_t nc = strlen(ev->call_id), nn = es_fmt_i64(ev->seq, num), nr = strlen(rule_id);
    size_t need = nc + 2 + nn + 1 + 16 + 1 + nr + 1;
    if (need <= cap) {
      char *p = buf;
      memcpy(p, ev->call_id, nc);
      p += nc;
      *p++ = '/';
      *p++ = 's';
      memcpy(p, num, nn);
      p += nn;
      *p++ = '/';
      for (int k = 15; k >= 0; k--)
        *p++ = hex[(h >> (4 * k)) & 0xF];
      *p++ = '/';
      memcpy(p, rule_id, nr + 1);
      return (int)(need - 1);
    }
    return snprintf(buf, cap, "%s/s%" PRId64 "/%016" PRIx64 "/%s", ev->call_id, ev->seq, h,
                    rule_id);
  }
  if (ev->has_ts)
    return snprintf(buf, cap, "%s/t%.6f/%016" PRIx64 "/%s", ev->call_id, ev->ts, h, rule_id);
  return snprintf(buf, cap, "%s/n%" PRIu64 "/%016" PRIx64 "/%s", ev->call_id, call_line, h,
                  rule_id);
}

static void send_hello(struct esd_conn *c) {
  char buf[256];
  int n = snprintf(buf, sizeof(buf),
                   "{\"type\":\"hello\",\"server\":\"earshotd\",\"version\":\"%s\","
                   "\"rule_set\":\"%s\",\"acks\":%s}\n",
                   ES_VERSION, es_rules_version(c->d->rules), c->acks ? "true" : "false");
  esd_conn_write(c, buf, (size_t)n);
}

static void release_call(struct es_call *call) {
  struct esd_conn *owner = call->owner;
  if (owner && owner->ncalls)
    owner->ncalls--;
}

/* The connection that sends a call's lines gets its alerts, also those
 * raised between lines and at its end: after a reconnect, that is the new
 * connection. */
static void adopt_call(struct esd_conn *c, struct es_call *call) {
  if (call->owner != c) {
    release_call(call);
    call->owner = c;
    c->ncalls++;
  }
}

static struct es_call *open_call(struct esd_conn *c, const struct es_event *ev, int *created) {
  struct esd *d = c->d;
  struct es_call *call = es_calls_find(d->calls, ev->call_id);
  int rc;

  *created = 0;
  if (call) {
    adopt_call(c, call);
    return call;
  }
  if (es_calls_ended(d->calls, ev->call_id)) {
    send_error(c, ev->has_seq, ev->seq, "call_ended", NULL,
               "this call was ended by an \"end\" line; a line sent after it is not used");
    return NULL;
  }
  if (c->ncalls >= d->cfg->max_calls_per_connection) {
    char msg[160];
    snprintf(msg, sizeof(msg), "this connection has %u open calls, the limit "
             "(max_calls_per_connection); end calls with {\"type\":\"end\"}", c->ncalls);
    send_error(c, ev->has_seq, ev->seq, "too_many_calls", NULL, msg);
    return NULL;
  }
  rc = es_calls_open(d->calls, ev->call_id, (double)uv_now(d->loop) / 1000.0, &call, created);
  if (rc != 0) {
    send_error(c, ev->has_seq, ev->seq, "too_many_calls", NULL,
               rc == ES_ETOOBIG ? "the daemon has reached max_open_calls"
                                : "cannot open the call (out of memory)");
    return NULL;
  }
  call->owner = c;
  c->ncalls++;
  return call;
}

/* ---- what a restart reads back ---------------------------------------- */

struct resume {
  struct esd *d;
  size_t ended;
  int rc;
};

static int resume_key(void *ud, const char *key, size_t len, int64_t id) {
  struct resume *r = ud;
  struct es_keymap_key k;
  /* A key the map refuses as too long is none of this daemon's. */
  if (es_keymap_key(&k, key, len) == 0)
    r->rc = es_keymap_put(r->d->alert_keys, &k, id) == ES_ENOMEM ? ES_ENOMEM : 0;
  return r->rc;
}

static int resume_ended(void *ud, const char *call_id) {
  struct resume *r = ud;
  es_calls_ended_add(r->d->calls, call_id);
  r->ended++;
  return 0;
}

int esd_resume(struct esd *d) {
  struct resume r = {.d = d};
  uint64_t t0 = uv_hrtime();

  /* A line sent again after a restart: its alerts may be stored already
   * (their commit made it, their ack did not), and its call may have
   * ended. The newest alerts and the calls ended last are the ones a
   * platform's resend can name; both reads are bounded, whatever the
   * store's size, and never made on the loop. The alerts are read oldest
   * first, as the map forgets them: those raised from now on follow. */
  if ((d->alert_keys = es_keymap_new(ESD_RECENT_ALERTS)) == NULL) {
    esd_error("main", "out of memory at startup");
    return -1;
  }
  if (es_store_recent_alerts(d->store, ESD_RECENT_ALERTS, resume_key, &r) != 0 ||
      es_store_recently_ended_calls(d->store, ES_CALLS_ENDED, resume_ended, &r) != 0) {
    esd_error("store", "cannot read the newest alerts and ended calls: %s",
              es_store_errmsg(d->store));
    return -1;
  }
  if (r.rc != 0) {
    esd_error("main", "out of memory at startup");
    return -1;
  }
  esd_info("store", "read back %zu alert keys and %zu calls ended by their client in %.1f ms",
           es_keymap_count(d->alert_keys), r.ended, (double)(uv_hrtime() - t0) / 1e6);
  return 0;
}

/* Numbers one alert (key: its alert_key), queues it for the store,
 * publishes it on the feed, hands it to the webhooks and remembers its
 * key. Returns the writer batch, or 0 (reported to c) when it could not be
 * queued. */
static uint64_t store_fire(struct esd *d, struct esd_conn *c, const struct es_call *call,
                          const struct es_event *ev, const struct es_fire *f,
                          const struct es_alert *a, const struct es_keymap_key *key) {
  struct es_alert_rec rec = {
    .alert_key = key->p, .call_id = call->id, .ts = esd_wall_now(),
    .call_ts = a->has_ts ? a->ts : NAN, .rule_id = f->rule->id, .category = f->rule->category,
    .severity = f->rule->severity, .speaker = f->speaker, .text = a->text,
    .text_len = a->text_len, .match_start = a->match_start, .match_end = a->match_end,
    .tip = f->rule->tip, .heat = f->heat, .rule_set = es_rules_version(d->rules),
    .reason = f->reason, .id = esd_feed_next_id(d),
  };
  uint64_t b;

  rec.masked = esd_feed_mask(d, &rec);
  b = esd_writer_add_alert(d->writer, &rec);
  if (b == 0) {
    if (c && ev)
      send_error(c, ev->has_seq, ev->seq, "store_failed", f->rule->id,
                 "the alert could not be queued for the store (out of memory)");
    return 0;
  }
  esd_webhooks_alert(d->webhooks, call, &rec, b,
                     rec.masked ? esd_feed_publish(d, call, &rec, b) : NULL);
  /* Queued: the store will hold it under this id (a commit that fails is
   * retried). Out of memory here, a resend of its line would be published
   * under a new id, which the store would not hold. */
  if (key->len && es_keymap_put(d->alert_keys, key, rec.id) != 0)
    esd_warn("feed", "call %s: %s: out of memory remembering alert %" PRId64 "'s key",
             call->id, f->rule->id, rec.id);
  return b;
}

/* Sends (when c is not NULL) and stores one engine fire of `call`. ev:
 * the line being handled, or NULL at call end. Returns the writer batch,
 * or 0 when it was suppressed or could not be queued. */
static uint64_t emit_fire(struct esd *d, struct esd_conn *c, struct es_call *call,
                          const struct es_event *ev, const struct es_fire *f, const char *when) {
  char json[8192], *big = NULL, key[ES_CALL_ID_MAX + 160];
  struct es_alert a;
  struct es_keymap_key k;
  int64_t n, known;
  int key_len;
  uint64_t b;

  if (f->suppressed != ES_SENT) {
    d->alerts_suppressed++;
    return 0;
  }
  es_alert_from_fire(&a, call->id, f, ev, c ? (int64_t)c->lineno : 0);
  if (c && !c->closing) {
    n = es_alert_json(&a, json, sizeof(json));
    if (n == ES_ETOOBIG) {
      size_t cap = ES_ALERT_JSON_CAP(ev ? ev->text_len : 0);
      big = malloc(cap);
      n = big ? es_alert_json(&a, big, cap) : ES_ENOMEM;
    }
    if (n > 0)
      esd_conn_write(c, big ? big : json, (size_t)n);
    free(big);
  }
  /* call->lines goes on counting when an abandoned call is opened again
   * (es_calls_open()): in a run, keys made with it never name an alert of
   * the call's earlier life, which would take this one for its resend. */
  if (ev)
    key_len = alert_key(key, sizeof(key), ev, f->rule->id, call->lines);
  else /* between lines or at call end: once per rule, line count and moment */
    key_len = snprintf(key, sizeof(key), "%s/%s%" PRIu64 "/%s", call->id, when, call->lines,
                       f->rule->id);
  /* The store keeps what snprintf wrote (a key cut at the buffer's end).
   * A key the map refuses (none of these) is neither found nor kept. */
  if (key_len >= (int)sizeof(key))
    key_len = (int)sizeof(key) - 1;
  es_keymap_key(&k, key, key_len > 0 ? (size_t)key_len : 0);
  known = es_keymap_get(d->alert_keys, &k);
  if (known > 0) {
    /* Raised already, under this id, and stored or queued for the store:
     * its line is sent again (its ack was lost with the connection or the
     * daemon) after its call forgot it. The client gets it as it did then;
     * the feed and the webhooks had it when it was raised: nothing is
     * stored, queued or published again, and its line's ack waits only
     * for what is queued before it. */
    d->resent_alerts++;
    esd_debug("feed", "call %s: %s already raised as alert %" PRId64
              "; not stored or published again", call->id, f->rule->id, known);
    b = esd_writer_last_id(d->writer);
  } else if ((b = store_fire(d, c, call, ev, f, &a, &k)) == 0) {
    return 0;
  }
  call->alerts++;
  d->alerts++;
  if (c)
    c->alerts++;
  if (f->kind == ES_FIRE_BACKUP)
    d->backups++;
  esd_count(d->by_category, f->rule->category);
  return b;
}

/* Ends a call's logic (pending deadlines fire, sent to the call's
 * connection if it is still there) and writes its end and summary. */
/* t: the call time the client gave the end (its ts), or NAN. */
static uint64_t write_call_end(struct esd *d, struct es_call *call, enum es_end_reason why,
                               double t) {
  struct es_call_out out;
  struct es_call_summary sum;
  uint64_t batch = 0;

  if (es_engine_end(d->engine, &call->state, t, &out, &sum) != 0)
    esd_warn("calls", "call %s: out of memory ending its call logic", call->id);
  for (size_t i = 0; i < out.n; i++) {
    uint64_t b = emit_fire(d, call->owner, call, NULL, &out.fires[i], "end");
    if (b)
      batch = b;
  }
  struct es_call_end end = {
    .call_id = call->id,
    .ended = esd_wall_now(),
    .reason = why,
    .alert_count = (int64_t)call->alerts,
    .peak_heat = sum.peak_heat,
    .final_heat = sum.final_heat,
    .hits_by_category = sum.hits_by_category,
    .backup_raised = sum.backup_raised,
    .deescalated = sum.deescalated,
  };
  uint64_t b = esd_writer_add_call_end(d->writer, &end, &call->store_row, &call->store_batch);
  return b ? b : batch;
}

static void handle_utterance(struct esd_conn *c, struct es_event *ev, uint64_t *batch) {
  struct esd *d = c->d;
  struct es_match_result res;
  int created, rc;
  struct es_call *call = open_call(c, ev, &created);

  if (call == NULL)
    return;
  call->last_seen = (double)uv_now(d->loop) / 1000.0;
  if (created)
    *batch = esd_writer_add_call_start(d->writer, &(struct es_call_start){
        .call_id = call->id, .started = esd_wall_now()}, &call->store_row, &call->store_batch);
  if (!ev->final) {
    /* Partial hypotheses are revised by a later final line: they are
     * never matched, stored or alerted on. */
    call->partials++;
    d->partials++;
    return;
  }
  uint64_t key = es_line_key(ev);
  if (key != 0 && es_call_seen(call, ev, key)) {
    /* Sent again (a resend of what was not acknowledged, or the same line
     * on two connections): its alerts were raised, queued and published
     * the first time. Handled again, it would count twice in the call's
     * heat. Its ack waits for whatever is queued now. */
    d->resent_lines++;
    *batch = esd_writer_last_id(d->writer);
    return;
  }
  call->lines++;
  /* The call's state is loaded while the line is matched. */
  es_engine_prefetch(call->state);
  rc = es_match_line(d->matcher, ev->speaker, ev->text, ev->text_len, ES_MATCH_VALID_UTF8, &res);
  if (rc != 0) {
    send_error(c, ev->has_seq, ev->seq, rc == ES_ETOOBIG ? "line_too_long" : "invalid_utf8",
               NULL, es_strerror(rc));
    return;
  }
  for (size_t i = 0; i < res.nlimited; i++)
    send_error(c, ev->has_seq, ev->seq, "match_limit", es_rules_info(d->rules, res.limited[i])->id,
               "a PCRE2 limit stopped this rule on this line; its result is unknown");
  struct es_call_out out;
  struct es_line ln = {
    .t = es_call_line_time(call, ev, call->last_seen - call->opened_at), .end_t = ev->has_end_ts ? ev->end_ts : NAN, .speaker = ev->speaker,
    .text = ev->text, .len = ev->text_len, .res = &res,
  };
  if (es_engine_line(d->engine, &call->state, &ln, &out) != 0)
    send_error(c, ev->has_seq, ev->seq, "internal", NULL,
               "out of memory in the call logic: this line's call-level alerts may be missing");
  for (size_t i = 0; i < out.n; i++) {
    uint64_t b = emit_fire(d, c, call, ev, &out.fires[i], NULL);
    if (b)
      *batch = b;
  }
}

/* A TCP client without its token: the error, a log line saying why, the
 * close. */
static void refuse_tcp(struct esd_conn *c, const char *why) {
  send_error(c, 0, 0, "auth_required", NULL,
             "TCP clients must open with {\"type\":\"hello\",\"token\":\"...\"}");
  esd_warn("server", "conn %" PRIu64 ": TCP client %s; closing", c->id, why);
  conn_finish(c);
}

/* Compares the whole token whatever the first difference: no timing hint. */
static int token_ok(const char *given, const char *want) {
  size_t n = strlen(want);
  unsigned diff;
  if (given == NULL || strlen(given) != n)
    return 0;
  diff = 0;
  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)given[i] ^ (unsigned char)want[i];
  return diff == 0;
}

static void handle_line(struct esd_conn *c, const char *line, size_t len) {
  struct esd *d = c->d;
  struct es_event ev;
  struct es_proto_error perr;
  uint64_t batch = 0;

  c->lineno++;
  c->lines++;
  d->lines++;
  if (es_proto_decode(d->dec, line, len, &ev, &perr) != 0) {
    if (c->is_tcp && !c->authed) {
      char why[320];
      snprintf(why, sizeof(why), "sent no hello with a token (%s: %s)", perr.code, perr.message);
      refuse_tcp(c, why);
      return;
    }
    send_error(c, ev.has_seq, ev.seq, perr.code, NULL, perr.message);
    goto ack; /* acknowledged like any line that got an error record */
  }
  if (c->is_tcp && !c->authed) {
    if (ev.type != ES_EV_HELLO || !token_ok(ev.token, d->cfg->tcp_token)) {
      refuse_tcp(c, "failed to authenticate");
      return;
    }
    c->authed = 1;
  }
  switch (ev.type) {
  case ES_EV_HELLO:
    c->acks = ev.acks;
    if (ev.client)
      snprintf(c->client, sizeof(c->client), "%s", ev.client);
    send_hello(c);
    break;
  case ES_EV_STATS:
    esd_send_stats(d, c);
    break;
  case ES_EV_RELOAD:
    esd_reload(d, c->id);
    c->waiting_reload = d->reloading && d->reload_requester == c->id;
    break;
  case ES_EV_START: {
    int created;
    struct es_call *call = open_call(c, &ev, &created);
    if (call == NULL)
      break;
    call->last_seen = (double)uv_now(d->loop) / 1000.0;
    if (es_call_set_meta(call, &ev) != 0) {
      send_error(c, ev.has_seq, ev.seq, "internal", NULL, "out of memory");
      break;
    }
    batch = esd_writer_add_call_start(d->writer, &(struct es_call_start){
        .call_id = call->id, .attributes = call->attrs_json, .agent = call->agent,
        .queue = call->queue, .started = esd_wall_now()}, &call->store_row,
        &call->store_batch);
    break;
  }
  case ES_EV_END: {
    struct es_call *call = es_calls_find(d->calls, ev.call_id);
    if (call == NULL) {
      /* An "end" sent again is answered as the first one was. */
      if (es_calls_ended(d->calls, ev.call_id))
        batch = esd_writer_last_id(d->writer);
      else
        send_error(c, ev.has_seq, ev.seq, "unknown_call", NULL, "no open call with this call_id");
      break;
    }
    adopt_call(c, call);
    batch = write_call_end(d, call, ES_END_ENDED, ev.has_ts ? ev.ts : NAN);
    release_call(call);
    es_calls_end(d->calls, call);
    break;
  }
  case ES_EV_UTTERANCE:
    handle_utterance(c, &ev, &batch);
    break;
  case ES_EV_SUBSCRIBE:
    esd_feed_subscribe(c, &ev, line, len);
    break;
  case ES_EV_MARK:
    esd_feed_mark(c, &ev, &batch);
    break;
  }
  /* Every line with a seq is acknowledged, also one that got an error
   * record: resending it would not change the answer. */
ack:
  if (c->acks && ev.has_seq)
    ack_push(c, ev.seq, batch);
}

static void split_lines(struct esd_conn *c, const char *p, size_t n) {
  size_t max = c->d->cfg->max_line_bytes;
  const char *end = p + n;

  while (p < end && !c->closing) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t seg = (size_t)((nl ? nl : end) - p);
    /* A line's \r\n ending is not part of it (the decoder drops the \r). */
    size_t body = seg - (nl && seg > 0 && p[seg - 1] == '\r');

    if (c->discarding) {
      c->discarding += seg;
    } else if (c->line_len + body > max) {
      c->discarding = c->line_len + seg;
      c->line_len = 0;
    } else if (nl && c->line_len == 0) {
      handle_line(c, p, seg); /* whole line inside this read: no copy */
    } else {
      if (c->line_len + seg > c->line_cap) {
        size_t cap = c->line_cap ? c->line_cap : 1024;
        while (cap < c->line_len + seg)
          cap *= 2;
        if (cap > max + 1) /* room for a \r after the longest line */
          cap = max + 1;
        char *nbuf = realloc(c->line, cap);
        if (nbuf == NULL) {
          esd_error("server", "conn %" PRIu64 ": out of memory for a partial line; closing", c->id);
          conn_close(c, NULL);
          return;
        }
        c->line = nbuf;
        c->line_cap = cap;
      }
      memcpy(c->line + c->line_len, p, seg);
      c->line_len += seg;
      if (nl) {
        handle_line(c, c->line, c->line_len);
        c->line_len = 0;
      }
    }
    if (!nl)
      break;
    /* Output backed up: write what we can; if the client still lags, keep
     * the rest of this read for when it catches up, so that reading alerts
     * slowly never costs a client its connection. */
    if (queued(c) > c->d->cfg->max_output_bytes / 2 && !c->d->stopping && !c->discarding) {
      esd_conn_flush(c);
      if ((c->paused & ESD_PAUSE_OUTPUT) && !c->closing && nl + 1 < end) {
        size_t rest = (size_t)(end - (nl + 1));
        char *keep = malloc(rest);
        if (keep == NULL) {
          conn_close(c, "out of memory holding back input");
          return;
        }
        memcpy(keep, nl + 1, rest);
        free(c->pending);
        c->pending = keep;
        c->pending_len = rest;
        return;
      }
    }
    if (c->discarding) {
      char msg[128];
      c->lineno++;
      c->lines++;
      c->d->lines++;
      snprintf(msg, sizeof(msg), "line of %zu bytes is over the limit (max_line_bytes %zu)",
               c->discarding, max);
      send_error(c, 0, 0, "line_too_long", NULL, msg);
      c->discarding = 0;
    }
    p = nl + 1;
  }
}

static void process_pending(struct esd_conn *c) {
  char *buf = c->pending;
  size_t len = c->pending_len;
  if (buf == NULL)
    return;
  c->pending = NULL;
  c->pending_len = 0;
  split_lines(c, buf, len);
  free(buf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct esd_conn *c = s->data;

  if (nread > 0) {
    split_lines(c, buf->base, (size_t)nread);
  } else if (nread < 0) {
    if (nread != UV_EOF)
      esd_debug("server", "conn %" PRIu64 ": read error: %s", c->id, uv_strerror((int)nread));
    c->eof = 1;
    if (c->line_len > 0 || c->discarding) {
      /* A last line without its newline is still a line. */
      if (c->discarding)
        split_lines(c, "\n", 1);
      else {
        handle_line(c, c->line, c->line_len);
        c->line_len = 0;
      }
    }
    conn_update_reading(c);
    ack_release(c, esd_writer_committed(c->d->writer));
    esd_conn_flush(c);
    /* A client that closed only its sending side may still wait for its
     * acks or a reload's answer: keep the connection until they are sent
     * (esd_on_commit, reload.c). */
    esd_conn_finish_if_done(c);
    return;
  }
  if (!c->closing) {
    /* Acks join the output buffer, and the output leaves now: this read is
     * the connection's last this turn (a short one ends libuv's reading of
     * the stream; a full one pauses it below), so this is the one write of
     * the turn (a write wakes the client), and an alert does not wait for
     * the other connections' lines. May close c: the rest checks. */
    ack_after_read(c);
    esd_conn_flush(c);
    /* libuv would keep reading a busy connection for up to 32 chunks in one
     * turn; past its share, one chunk, let the others, the writer and the
     * acks have the loop, and pick it up again next turn. */
    if ((size_t)nread == ESD_READ_CHUNK && !c->closing) {
      c->paused |= ESD_PAUSE_TURN;
      conn_update_reading(c);
      if (!c->d->resume_on) {
        uv_idle_start(&c->d->resume, on_resume);
        c->d->resume_on = 1;
      }
    }
  }
  update_store_pause(c->d);
}

/* ---- connection lifecycle --------------------------------------------- */

static void on_conn_closed(uv_handle_t *h) {
  struct esd_conn *c = h->data;
  free(c->pending);
  free(c->line);
  free(c->out);
  free(c);
}

static void disown(void *ud, struct es_call *call) {
  if (call->owner == ud)
    call->owner = NULL;
}

static void conn_close(struct esd_conn *c, const char *why) {
  struct esd *d = c->d;
  if (c->closing)
    return;
  if (why)
    esd_info("server", "conn %" PRIu64 ": %s", c->id, why);
  c->closing = 1;
  esd_feed_conn_closed(c);
  if (c->reading)
    uv_read_stop(&c->h.stream);
  c->reading = 0;
  if (c->prev)
    c->prev->next = c->next;
  else
    d->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  d->nconns--;
  /* Its calls stay open (the platform may reconnect and go on) until they
   * end or go idle; they just have no owner now. */
  if (c->ncalls)
    es_calls_foreach(d->calls, disown, c);
  esd_debug("server", "conn %" PRIu64 " closed: %" PRIu64 " lines, %" PRIu64 " alerts, %" PRIu64
            " errors", c->id, c->lines, c->alerts, c->errors);
  uv_close(&c->h.handle, on_conn_closed);
  if (d->close_timer_on && d->conns == NULL) {
    uv_close((uv_handle_t *)&d->close_timer, NULL);
    d->close_timer_on = 0;
  }
}

static void on_shutdown_done(uv_shutdown_t *req, int status) {
  struct esd_conn *c = req->data;
  (void)status;
  free(req);
  conn_close(c, NULL);
}

/* Closes after every queued byte is written (uv_close would cancel them). */
static void conn_finish(struct esd_conn *c) {
  uv_shutdown_t *req;

  if (c->closing)
    return;
  esd_conn_flush(c);
  if (c->closing)
    return;
  if (c->reading)
    uv_read_stop(&c->h.stream);
  c->reading = 0;
  c->eof = 1;
  req = malloc(sizeof(*req));
  if (req == NULL) {
    conn_close(c, NULL);
    return;
  }
  req->data = c;
  if (uv_shutdown(req, &c->h.stream, on_shutdown_done) != 0) {
    free(req);
    conn_close(c, NULL);
  }
}

void esd_conn_finish_if_done(struct esd_conn *c) {
  if (c->eof && !c->closing && c->nacks == 0 && !c->waiting_reload)
    conn_finish(c);
}

static void on_connection(uv_stream_t *server, int status) {
  struct esd *d = server->data;
  struct esd_conn *c;
  int is_tcp = server == (uv_stream_t *)&d->tcp_listener;

  if (status < 0) {
    esd_warn("server", "accept failed: %s", uv_strerror(status));
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->d = d;
  c->is_tcp = (unsigned)is_tcp;
  if (is_tcp)
    uv_tcp_init(d->loop, &c->h.tcp);
  else
    uv_pipe_init(d->loop, &c->h.pipe, 0);
  c->h.handle.data = c;
  if (uv_accept(server, &c->h.stream) != 0) {
    uv_close(&c->h.handle, on_conn_closed);
    return;
  }
  c->id = ++d->next_conn_id;
  c->opened_ms = uv_now(d->loop);
  snprintf(c->client, sizeof(c->client), "%s", is_tcp ? "tcp" : "unix");
  c->next = d->conns;
  if (d->conns)
    d->conns->prev = c;
  d->conns = c;
  d->nconns++;
  d->connections_total++;
  if (d->nconns > d->cfg->max_connections) {
    esd_warn("server", "refusing connection: max_connections (%u) reached", d->cfg->max_connections);
    send_error(c, 0, 0, "too_many_connections", NULL, "the daemon has max_connections clients");
    conn_finish(c);
    return;
  }
  if (d->store_paused)
    c->paused |= ESD_PAUSE_STORE;
  esd_debug("server", "conn %" PRIu64 " accepted (%s)", c->id, c->client);
  conn_update_reading(c);
}

struct esd_conn *esd_conn_by_id(struct esd *d, uint64_t id) {
  for (struct esd_conn *c = d->conns; c; c = c->next)
    if (c->id == id)
      return c;
  return NULL;
}

/* ---- listening -------------------------------------------------------- */

/* Whether something listens on the socket file at `path`: 1 yes, 0 no
 * (stale: nobody accepts there), -1 cannot tell (errno), when it must not
 * be removed. Nonblocking: a listener whose backlog is full says EAGAIN,
 * and is live. */
static int socket_is_live(const char *path) {
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc, err;
  if (fd < 0)
    return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  err = errno;
  close(fd);
  if (rc == 0 || err == EAGAIN || err == EINPROGRESS)
    return 1;
  if (err == ECONNREFUSED)
    return 0;
  errno = err;
  return -1;
}

static int listen_unix(struct esd *d) {
  const char *path = d->cfg->socket_path;
  struct stat st;
  int rc;

  if (esd_mkdir_parent(path) != 0) {
    esd_error("server", "cannot create the directory of %s: %s", path, strerror(errno));
    return -1;
  }
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      esd_error("server", "%s exists and is not a socket; not touching it", path);
      return -1;
    }
    int live = socket_is_live(path);
    if (live == 1) {
      esd_error("server", "another earshotd is listening on %s; stop it or use --socket", path);
      return -1;
    }
    if (live < 0) {
      esd_error("server", "cannot tell whether another earshotd listens on %s (%s); it is left "
                "in place: remove it if it is stale, or use --socket", path, strerror(errno));
      return -1;
    }
    esd_info("server", "removing stale socket %s (nobody listening)", path);
    unlink(path);
  }
  uv_pipe_init(d->loop, &d->unix_listener, 0);
  d->unix_listener.data = d;
  d->unix_on = 1;
  rc = uv_pipe_bind(&d->unix_listener, path);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&d->unix_listener, 511, on_connection);
  if (rc != 0) {
    esd_error("server", "cannot listen on %s: %s", path, uv_strerror(rc));
    return -1;
  }
  if (d->cfg->socket_group && chown(path, (uid_t)-1, d->res.socket_gid) != 0) {
    esd_error("server", "cannot give %s to group %s: %s", path, d->cfg->socket_group,
              strerror(errno));
    return -1;
  }
  if (chmod(path, d->cfg->socket_mode) != 0) {
    esd_error("server", "cannot chmod %s: %s", path, strerror(errno));
    return -1;
  }
  /* Which file is ours: at exit, only it is removed (not one another
   * daemon made after ours was deleted). */
  if (stat(path, &d->sock_st) != 0)
    memset(&d->sock_st, 0, sizeof(d->sock_st));
  esd_info("server", "listening on %s (mode %04o)", path, d->cfg->socket_mode);
  return 0;
}

static int listen_tcp(struct esd *d) {
  const char *host = d->res.tcp_host;
  long port = d->res.tcp_port;
  int rc;

  uv_tcp_init(d->loop, &d->tcp_listener);
  d->tcp_listener.data = d;
  d->tcp_on = 1;
  rc = uv_tcp_bind(&d->tcp_listener, (const struct sockaddr *)&d->res.tcp_addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&d->tcp_listener, 511, on_connection);
  if (rc != 0) {
    esd_error("server", "cannot listen on TCP %s:%ld: %s", host, port, uv_strerror(rc));
    return -1;
  }
  {
    /* With port 0 the kernel chose: log the real one. */
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    if (uv_tcp_getsockname(&d->tcp_listener, (struct sockaddr *)&bound, &blen) == 0)
      port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                               : ((struct sockaddr_in *)&bound)->sin_port);
  }
  esd_info("server", "listening on TCP %s port %ld (token required)", host, port);
  return 0;
}

/* After the turn's callbacks: what they queued outside a connection's own
 * read (acks of a commit, alerts of expired calls, feed records, replies)
 * leaves in one write per connection. Flushing may close only the
 * connection flushed. */
static void on_turn_end(uv_check_t *h) {
  struct esd *d = h->data;
  for (struct esd_conn *c = d->conns, *next; c; c = next) {
    next = c->next;
    esd_conn_flush(c);
  }
}

int esd_listen(struct esd *d) {
  uv_idle_init(d->loop, &d->resume);
  d->resume.data = d;
  uv_check_init(d->loop, &d->turn_end);
  d->turn_end.data = d;
  uv_check_start(&d->turn_end, on_turn_end);
  uv_unref((uv_handle_t *)&d->turn_end);
  uv_timer_init(d->loop, &d->ack_timer);
  d->ack_timer.data = d;
  d->turn_handles = 1;
  if (listen_unix(d) != 0)
    return -1;
  if (d->cfg->listen_tcp && listen_tcp(d) != 0)
    return -1;
  return 0;
}

void esd_stop_listening(struct esd *d) {
  if (d->unix_on) {
    struct stat st;
    /* libuv removes the file at a bound pipe's path when it closes it:
     * not when that file is no longer ours (ours was deleted, another
     * daemon made a new one). An inode number is reused once its file is
     * gone: the change time tells a new file from ours (the chmod in
     * listen_unix() was its last change). */
    const struct stat *own = &d->sock_st;
    if (!(lstat(d->cfg->socket_path, &st) == 0 && st.st_dev == own->st_dev &&
          st.st_ino == own->st_ino && st.st_ctim.tv_sec == own->st_ctim.tv_sec &&
          st.st_ctim.tv_nsec == own->st_ctim.tv_nsec)) {
      esd_warn("server", "%s is no longer the socket this daemon made; left in place",
               d->cfg->socket_path);
      free((void *)d->unix_listener.pipe_fname); /* what uv_close would unlink, then free */
      d->unix_listener.pipe_fname = NULL;
    }
    uv_close((uv_handle_t *)&d->unix_listener, NULL);
    d->unix_on = 0;
  }
  if (d->tcp_on) {
    uv_close((uv_handle_t *)&d->tcp_listener, NULL);
    d->tcp_on = 0;
  }
}

/* ---- timers and shutdown ---------------------------------------------- */

static void on_expired(void *ud, struct es_call *call) {
  struct esd *d = ud;
  d->calls_abandoned++;
  esd_debug("calls", "call %s idle for %.0f s: closed as abandoned", call->id,
            d->cfg->call_idle_timeout);
  write_call_end(d, call, ES_END_ABANDONED, NAN);
  release_call(call);
}

/* Dead air: a call nobody has spoken in is checked once a tick, on call
 * time estimated from its last line and the time since it arrived. */
static void on_idle_check(void *ud, struct es_call *call) {
  struct esd *d = ud;
  struct es_call_out out;
  double now = (double)uv_now(d->loop) / 1000.0;
  if (call->state == NULL || now - call->last_seen < 1)
    return;
  if (es_engine_idle(d->engine, &call->state, call->call_t + (now - call->last_seen), &out) != 0)
    return;
  for (size_t i = 0; i < out.n; i++)
    emit_fire(d, call->owner, call, NULL, &out.fires[i], "idle");
  if (out.n && call->owner)
    esd_conn_flush(call->owner);
}

void esd_tick(uv_timer_t *t) {
  struct esd *d = t->data;
  double now = (double)uv_now(d->loop) / 1000.0;

  if (es_engine_wants_idle(d->engine))
    es_calls_foreach(d->calls, on_idle_check, d);
  es_calls_expire(d->calls, now, d->cfg->call_idle_timeout, on_expired, d);
  for (struct esd_conn *c = d->conns, *next; c; c = next) {
    next = c->next;
    if (c->is_tcp && !c->authed && !c->closing &&
        uv_now(d->loop) - c->opened_ms >= ESD_AUTH_TIMEOUT_MS) {
      char why[64];
      snprintf(why, sizeof(why), "sent no hello with a token in %d s", ESD_AUTH_TIMEOUT_MS / 1000);
      refuse_tcp(c, why);
      continue;
    }
    if ((c->paused & ESD_PAUSE_OUTPUT) && !c->closing &&
        (double)(uv_now(d->loop) - c->out_paused_ms) >= d->cfg->output_stall_timeout * 1000.0) {
      d->disconnects_slow++;
      esd_warn("server", "conn %" PRIu64 " (%s): disconnected: %zu bytes of output left unread for "
               "%.0f s (output_stall_timeout), over half of max_output_bytes (%zu)",
               c->id, c->client, queued(c), d->cfg->output_stall_timeout,
               d->cfg->max_output_bytes);
      conn_close(c, NULL);
    }
  }
  d->rate_pos = (d->rate_pos + 1) % 11;
  d->rate_lines[d->rate_pos] = d->lines;
}

struct end_all {
  struct esd *d;
  enum es_end_reason why;
};

static void on_end_all(void *ud, struct es_call *call) {
  struct end_all *e = ud;
  write_call_end(e->d, call, e->why, NAN);
}

void esd_end_all_calls(struct esd *d, enum es_end_reason why) {
  struct end_all e = {d, why};
  es_calls_expire(d->calls, INFINITY, 0, on_end_all, &e);
}

/* Pulls what the kernel already holds for a connection, without waiting,
 * so that lines a client sent before the signal are not lost. */
static void drain_socket(struct esd_conn *c) {
  uv_os_fd_t fd;
  if (uv_fileno(&c->h.handle, &fd) != 0)
    return;
  for (int rounds = 0; rounds < 1024 && !c->closing; rounds++) {
    ssize_t n = recv(fd, c->d->rbuf, ESD_READ_CHUNK, MSG_DONTWAIT);
    if (n <= 0)
      break;
    split_lines(c, c->d->rbuf, (size_t)n);
  }
  if (!c->closing && c->line_len > 0)
    esd_warn("server", "conn %" PRIu64 ": %zu bytes of an unfinished line dropped at shutdown "
             "(no newline)", c->id, c->line_len);
}

void esd_drain_and_close_all(struct esd *d) {
  for (struct esd_conn *c = d->conns, *next; c; c = next) {
    next = c->next;
    if (c->reading)
      uv_read_stop(&c->h.stream);
    c->reading = 0;
    process_pending(c);
    drain_socket(c);
    if (!c->closing)
      esd_conn_flush(c);
  }
}

static void on_close_deadline(uv_timer_t *t) {
  struct esd *d = t->data;
  for (struct esd_conn *c = d->conns, *next; c; c = next) {
    next = c->next;
    esd_warn("server", "conn %" PRIu64 " (%s): closed at shutdown with %zu bytes of output it "
             "did not read in %d s", c->id, c->client, queued(c), ESD_CLOSE_DEADLINE_MS / 1000);
    conn_close(c, NULL);
  }
}

/* After the last commit: deliver what is queued (acks included), then close. */
void esd_finish_all(struct esd *d) {
  if (d->turn_handles) {
    uv_close((uv_handle_t *)&d->resume, NULL);
    uv_close((uv_handle_t *)&d->turn_end, NULL);
    uv_close((uv_handle_t *)&d->ack_timer, NULL);
    d->turn_handles = 0;
  }
  for (struct esd_conn *c = d->conns, *next; c; c = next) {
    next = c->next;
    ack_release(c, esd_writer_committed(d->writer));
    conn_finish(c);
  }
  /* A client that does not read what is left for it must not hold the
   * daemon's exit (and a service manager's stop) for ever. */
  if (d->conns && !d->close_timer_on) {
    uv_timer_init(d->loop, &d->close_timer);
    d->close_timer.data = d;
    uv_timer_start(&d->close_timer, on_close_deadline, ESD_CLOSE_DEADLINE_MS, 0);
    d->close_timer_on = 1;
  }
}
