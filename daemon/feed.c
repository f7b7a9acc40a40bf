/*
 * feed.c: the supervisor feed (docs/protocol.md, "The supervisor feed").
 *
 * Every alert gets an id here (alerts.id in the store) and its feed
 * record goes into a ring of recent alerts and to every subscriber whose
 * filter it passes. A subscriber that gives "since" first receives the
 * alerts after that id: from the ring when it still holds them, else from
 * the store (read on the thread pool with a read-only connection, never
 * on the loop), then the ring, then live ones; ids only grow, so there is
 * no gap and no duplicate across the switch. The ring drops its oldest
 * record only once the store has committed it, so a record that left the
 * ring is always in the store.
 *
 * An id is published at once, before its alert is committed, so a crash
 * can lose the alert of an id supervisors saw. Ids are therefore given
 * out only up to a ceiling the store has committed (daemon_state,
 * schema/007_restart.sql), raised a block (store.alert_id_block) at a
 * time, half a block ahead, in the writer's transactions; a restart
 * starts above it. Should the ids given out overtake the committed
 * ceiling (the writer far behind), the records above it wait in the ring
 * and are published, in order, when it commits: an id is never published
 * before the store holds a ceiling at or above it.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "esd.h"
#include "feed.h"
#include "log.h"
#include "redact.h"

struct esd_feed_item {
  int64_t id;
  uint64_t batch;           /* writer batch that stores it */
  enum es_severity sev;
  char *block;              /* owned: json, then category, queue, agent (NUL-terminated) */
  size_t len;               /* of the json */
  const char *category, *queue, *agent; /* into block; queue/agent may be NULL */
};

/* ---- startup ------------------------------------------------------------ */

int esd_feed_init(struct esd *d) {
  int64_t last = 0, ceiling;
  if (es_store_last_alert_id(d->store, &last) != 0) {
    esd_error("feed", "cannot read the last alert id: %s", es_store_errmsg(d->store));
    return -1;
  }
  /* The first block is reserved now, on this thread: alerts raised before
   * the writer's first commit are published at once too. */
  ceiling = last + d->cfg->alert_id_block;
  if (es_store_reserve_alert_ids(d->store, ceiling) != 0) {
    esd_error("feed", "cannot reserve alert ids: %s", es_store_errmsg(d->store));
    return -1;
  }
  d->last_alert_id = last;
  d->ids_reserving = d->ids_reserved = ceiling;
  d->feed_cap = ESD_FEED_RING;
  d->feed = calloc(d->feed_cap, sizeof(*d->feed));
  if (d->feed == NULL) {
    esd_error("feed", "out of memory");
    return -1;
  }
  return 0;
}

void esd_feed_free(struct esd *d) {
  for (size_t i = 0; i < d->feed_n; i++)
    free(d->feed[(d->feed_head + i) % d->feed_cap].block);
  free(d->feed);
  d->feed = NULL;
  d->feed_n = 0;
  free(d->feed_scratch);
  d->feed_scratch = NULL;
  free(d->feed_json);
  d->feed_json = NULL;
}

static struct esd_feed_item *item_at(struct esd *d, size_t i) {
  return &d->feed[(d->feed_head + i) % d->feed_cap];
}

/* The last id published: every id up to it left for the subscribers. */
static int64_t shown_id(const struct esd *d) {
  return d->last_alert_id < d->ids_reserved ? d->last_alert_id : d->ids_reserved;
}

/* ---- publishing ---------------------------------------------------------- */

static void send_item(struct esd_conn *c, const struct esd_feed_item *it) {
  if (c->feed_filter &&
      es_feed_filter_match(c->feed_filter, it->sev, it->category, it->queue, it->agent)) {
    esd_conn_write(c, it->block, it->len);
    esd_conn_flush(c);
    c->d->feed_sent++;
  }
  c->feed_last = it->id;
}

/* A subscriber whose output passes half of max_output_bytes gets no more
 * until it drains to a quarter (as a producer is no longer read): then it
 * catches up from where it stopped, from the ring or the store. So a
 * console that reads slowly, or asks for a large backlog, is never sent
 * more than the limit, and misses nothing; one that stops reading is
 * disconnected after output_stall_timeout, like any client. */
static int behind(struct esd_conn *c) {
  if (esd_conn_queued(c) <= c->d->cfg->max_output_bytes / 2)
    return 0;
  /* Into the socket's write queue, whose completion (on_write) calls
   * esd_feed_drained(); what the socket takes at once was never behind. */
  esd_conn_flush(c);
  return !c->closing && esd_conn_queued(c) > c->d->cfg->max_output_bytes / 2;
}

/* Sends a record to every subscriber that is up to date. */
static void send_live(struct esd *d, const struct esd_feed_item *it) {
  for (struct esd_conn *c = d->conns; c; c = c->next) {
    if (!c->feed_filter || c->feed_backfilling || c->feed_waiting || c->closing)
      continue;
    if (behind(c))
      c->feed_waiting = 1; /* from it->id on, when it has drained */
    else
      send_item(c, it);
  }
}

/* Makes room for one more record: drops the oldest committed (and
 * published) ones, or grows the ring while the store is behind. */
static int ring_room(struct esd *d) {
  while (d->feed_n == d->feed_cap && item_at(d, 0)->batch <= d->feed_committed &&
         item_at(d, 0)->id <= d->ids_reserved) {
    free(item_at(d, 0)->block);
    d->feed_head = (d->feed_head + 1) % d->feed_cap;
    d->feed_n--;
  }
  if (d->feed_n < d->feed_cap)
    return 0;
  size_t cap = d->feed_cap * 2;
  struct esd_feed_item *v = calloc(cap, sizeof(*v));
  if (v == NULL)
    return -1;
  for (size_t i = 0; i < d->feed_n; i++)
    v[i] = *item_at(d, i);
  free(d->feed);
  d->feed = v;
  d->feed_cap = cap;
  d->feed_head = 0;
  return 0;
}

/* Queues the next block's ceiling; when that cannot be queued (out of
 * memory), the next id tries again. */
static void reserve_ids(struct esd *d) {
  int64_t from = d->ids_reserving > d->last_alert_id ? d->ids_reserving : d->last_alert_id;
  int64_t ceiling = from + d->cfg->alert_id_block;
  if (esd_writer_reserve_ids(d->writer, ceiling) != 0)
    d->ids_reserving = ceiling;
}

int64_t esd_feed_next_id(struct esd *d) {
  int64_t id = ++d->last_alert_id;
  if (id > d->ids_reserving - (int64_t)(d->cfg->alert_id_block / 2) && !d->ids_released)
    reserve_ids(d);
  return id;
}

void esd_feed_release_ids(struct esd *d) {
  if (d->ids_released)
    return;
  d->ids_released = 1;
  /* Nothing above the lowered ceiling is published from now on; nothing
   * is to be: every call has ended. If it cannot be queued, the ceiling
   * stays where it is and the next start leaves a gap. */
  if (d->ids_reserving > d->last_alert_id &&
      esd_writer_reserve_ids(d->writer, d->last_alert_id) != 0) {
    d->ids_reserving = d->last_alert_id;
    if (d->ids_reserved > d->ids_reserving)
      d->ids_reserved = d->ids_reserving;
  }
}

const struct es_alert_masked *esd_feed_mask(struct esd *d, const struct es_alert_rec *rec) {
  struct esd_shown *sh = &d->shown;
  /* One scratch buffer that only grows: no allocation per alert once it
   * is big enough. */
  size_t need = es_store_mask_alert_size(rec);

  memset(sh, 0, sizeof(*sh));
  if (need > d->feed_scratch_cap) {
    char *p = realloc(d->feed_scratch, need);
    if (p == NULL) {
      esd_warn("feed", "alert %" PRId64 ": out of memory; not in the feed nor webhooks (it is "
               "stored)", rec->id);
      return NULL;
    }
    d->feed_scratch = p;
    d->feed_scratch_cap = need;
  }
  es_store_mask_alert(rec, d->cfg->redact ? ES_REDACT_ALL : 0, d->feed_scratch, &sh->m);
  return &sh->m;
}

const struct esd_shown *esd_feed_publish(struct esd *d, const struct es_call *call,
                                         const struct es_alert_rec *rec, uint64_t batch) {
  struct esd_shown *sh = &d->shown;
  struct esd_feed_item it = {.id = rec->id, .batch = batch, .sev = rec->severity};

  struct es_feed_rec fr = {
    .id = rec->id, .call_id = rec->call_id, .agent = call->agent, .queue = call->queue,
    .rule_id = rec->rule_id, .category = rec->category, .severity = rec->severity,
    .speaker = rec->speaker, .time = rec->ts, .call_ts = rec->call_ts, .heat = rec->heat,
    .text = sh->m.text, .matched = sh->m.matched, .tip = rec->tip, .reason = sh->m.reason,
  };
  /* Written in a scratch buffer, kept in the ring at its exact size: the
   * ring holds thousands of them. */
  size_t cap = ES_FEED_JSON_CAP(sh->m.text_len > sh->m.matched_len ? sh->m.text_len
                                                                   : sh->m.matched_len) +
               12 * sh->m.reason_len;
  if (cap > d->feed_json_cap) {
    char *q = realloc(d->feed_json, cap);
    if (q == NULL)
      goto oom;
    d->feed_json = q;
    d->feed_json_cap = cap;
  }
  int64_t n = es_feed_json(&fr, d->feed_json, cap);
  if (n < 0) {
    esd_warn("feed", "alert %" PRId64 ": feed record too big; not in the feed", rec->id);
    return NULL;
  }
  sh->json = d->feed_json;
  sh->json_len = (size_t)n;

  size_t extra = strlen(rec->category ? rec->category : "") + 1 +
                 (call->queue ? strlen(call->queue) + 1 : 0) +
                 (call->agent ? strlen(call->agent) + 1 : 0);
  it.len = sh->json_len;
  it.block = malloc(it.len + extra);
  if (it.block == NULL)
    goto oom;
  memcpy(it.block, sh->json, it.len);
  char *p = it.block + it.len;
  it.category = p;
  p = stpcpy(p, rec->category ? rec->category : "") + 1;
  if (call->queue) {
    it.queue = p;
    p = stpcpy(p, call->queue) + 1;
  }
  if (call->agent) {
    it.agent = p;
    stpcpy(p, call->agent);
  }
  if (ring_room(d) != 0) {
    free(it.block);
    goto oom;
  }
  d->feed[(d->feed_head + d->feed_n++) % d->feed_cap] = it;
  if (it.id <= d->ids_reserved)
    send_live(d, &it);
  return sh;
oom:
  esd_warn("feed", "alert %" PRId64 ": out of memory; not in the feed nor webhooks (it is "
           "stored)", rec->id);
  return NULL;
}

void esd_feed_on_commit(struct esd *d, uint64_t batch) {
  int64_t ceiling = esd_writer_ids_reserved(d->writer), shown = shown_id(d);
  if (batch > d->feed_committed)
    d->feed_committed = batch;
  /* A ceiling queued before a lower one (the shutdown's) is not the
   * store's for long: only what the last one queued also covers counts. */
  if (ceiling > d->ids_reserving)
    ceiling = d->ids_reserving;
  if (ceiling <= d->ids_reserved)
    return;
  d->ids_reserved = ceiling;
  if (shown_id(d) == shown)
    return;
  /* Records that waited for this ceiling, in order. */
  size_t i = d->feed_n;
  while (i > 0 && item_at(d, i - 1)->id > shown)
    i--;
  for (; i < d->feed_n && item_at(d, i)->id <= d->ids_reserved; i++)
    send_live(d, item_at(d, i));
}

/* ---- subscribing --------------------------------------------------------- */

struct backfill {
  uv_work_t work;
  struct esd *d;
  uint64_t conn_id;
  char *db_path;
  unsigned kinds;
  struct es_feed_filter filter;
  int64_t after, before;   /* ids in (after, before) */
  char *out;               /* the records, back to back */
  size_t out_len, out_cap;
  int64_t last_id;         /* the last id read (sent or filtered out) */
  size_t rows;
  size_t budget;           /* bytes of records per round */
  int truncated;           /* stopped at ESD_FEED_BACKFILL_MAX rows or the budget */
  char err[256];
};

static int bf_row(void *ud, int ncols, const char *const *names, const char *const *v) {
  struct backfill *b = ud;
  enum es_severity sev = ES_SEV_INFO;
  enum es_speaker sp = ES_SPEAKER_ANY;
  int64_t id = strtoll(v[0], NULL, 10);

  b->last_id = id;
  b->rows++;
  es_severity_parse(v[6] ? v[6] : "info", &sev);
  if (v[7])
    es_speaker_parse(v[7], &sp);
  if (!es_feed_filter_match(&b->filter, sev, v[5], v[3], v[2])) {
    b->truncated = b->rows >= ESD_FEED_BACKFILL_MAX;
    return b->truncated;
  }
  struct es_feed_rec fr = {
    .id = id, .call_id = v[1], .agent = v[2], .queue = v[3], .rule_id = v[4],
    .category = v[5], .severity = sev, .speaker = sp,
    .time = v[8] ? strtod(v[8], NULL) : NAN, .call_ts = v[9] ? strtod(v[9], NULL) : NAN,
    .heat = v[10] ? strtod(v[10], NULL) : NAN, .matched = v[11], .text = v[12], .tip = v[13],
    .reason = v[14],
  };
  size_t need = ES_FEED_JSON_CAP((v[12] ? strlen(v[12]) : 0) + (v[11] ? strlen(v[11]) : 0)) +
                12 * (v[14] ? strlen(v[14]) : 0);
  if (b->out_len + need > b->out_cap) {
    size_t cap = b->out_cap ? b->out_cap : 65536;
    while (cap < b->out_len + need)
      cap *= 2;
    char *p = realloc(b->out, cap);
    if (p == NULL) {
      snprintf(b->err, sizeof(b->err), "out of memory reading stored alerts");
      return 1;
    }
    b->out = p;
    b->out_cap = cap;
  }
  int64_t n = es_feed_json(&fr, b->out + b->out_len, b->out_cap - b->out_len);
  if (n > 0)
    b->out_len += (size_t)n;
  if (b->rows >= ESD_FEED_BACKFILL_MAX || b->out_len >= b->budget) {
    b->truncated = 1;
    return 1;
  }
  return 0;
}

static void bf_work(uv_work_t *w) {
  struct backfill *b = w->data;
  struct es_store *s = NULL;
  struct es_store_opts o;
  char after[32], before[32];
  const char *params[2] = {after, before};

  es_store_opts_init(&o);
  o.read_only = 1;
  if (es_store_open(b->db_path, &o, &s, NULL) != 0) {
    snprintf(b->err, sizeof(b->err), "cannot open the store read-only");
    return;
  }
  snprintf(after, sizeof(after), "%" PRId64, b->after);
  snprintf(before, sizeof(before), "%" PRId64, b->before);
  if (es_store_query(s,
                     "SELECT a.id, a.call_id, c.agent, c.queue, a.rule_id, a.category,"
                     " a.severity, a.speaker, a.ts, a.call_ts, a.heat, a.matched, a.text, a.tip,"
                     " a.reason FROM alerts AS a LEFT JOIN calls AS c ON c.call_id = a.call_id"
                     " WHERE a.id > ?1 AND a.id < ?2 ORDER BY a.id",
                     params, 2, bf_row, b) != 0 && b->err[0] == '\0')
    snprintf(b->err, sizeof(b->err), "reading stored alerts: %s", es_store_errmsg(s));
  es_store_close(s);
}

static void catch_up(struct esd_conn *c);

static void bf_done(uv_work_t *w, int status) {
  struct backfill *b = w->data;
  struct esd *d = b->d;
  struct esd_conn *c = esd_conn_by_id(d, b->conn_id);

  d->feed_backfills--;
  if (c && !c->closing && c->feed_filter) {
    /* A round is at most a quarter of max_output_bytes, started with at
     * most a quarter queued: it fits. */
    if (status != 0 || b->err[0]) {
      char msg[512];
      esd_warn("feed", "conn %" PRIu64 ": backfill failed: %s", c->id,
               b->err[0] ? b->err : "cancelled");
      snprintf(msg, sizeof(msg),
               "{\"type\":\"error\",\"code\":\"backfill_failed\",\"message\":\"could not read "
               "stored alerts after id %" PRId64 "; live alerts follow\"}\n", b->after);
      esd_conn_write(c, msg, strlen(msg));
      c->feed_last = b->before - 1;
    } else {
      if (b->out_len)
        esd_conn_write(c, b->out, b->out_len);
      d->feed_backfilled += b->rows;
      /* Up to the boundary, whatever the store held (ids with no row were
       * duplicates the store ignored). A truncated read goes on from its
       * last row. */
      c->feed_last = b->truncated ? b->last_id : b->before - 1;
    }
    c->feed_backfilling = 0;
    catch_up(c);
  }
  free(b->db_path);
  free(b->out);
  free(b);
}

/* Sends a subscriber what it has not seen: from the ring if the ring
 * reaches back far enough, else from the store first, a round at a time;
 * waits (feed_waiting) whenever its output is over a quarter of
 * max_output_bytes, and goes on when that drains (esd_feed_drained). */
static void catch_up(struct esd_conn *c) {
  struct esd *d = c->d;
  int64_t shown = shown_id(d);
  int64_t oldest = d->feed_n && item_at(d, 0)->id <= shown ? item_at(d, 0)->id : shown + 1;
  size_t budget = d->cfg->max_output_bytes / 4;

  /* Flushed first, so that what is queued is in the socket's write queue,
   * whose completion (on_write) calls esd_feed_drained(). */
  esd_conn_flush(c);
  if (c->closing || c->feed_filter == NULL)
    return;
  if (c->feed_last >= shown) {
    c->feed_waiting = 0;
    return;
  }
  if (esd_conn_queued(c) > budget) {
    c->feed_waiting = 1;
    return;
  }
  c->feed_waiting = 0;
  if (c->feed_last + 1 < oldest) {
    struct backfill *b = calloc(1, sizeof(*b));
    if (b == NULL || (b->db_path = strdup(d->cfg->db_path)) == NULL) {
      free(b);
      esd_warn("feed", "conn %" PRIu64 ": out of memory starting a backfill", c->id);
      c->feed_last = oldest - 1;
    } else {
      b->work.data = b;
      b->d = d;
      b->conn_id = c->id;
      b->filter = *c->feed_filter;
      b->after = c->feed_last;
      b->before = oldest;
      b->budget = budget;
      c->feed_backfilling = 1;
      d->feed_backfills++;
      uv_queue_work(d->loop, &b->work, bf_work, bf_done);
      return;
    }
  }
  for (size_t i = 0; i < d->feed_n; i++) {
    struct esd_feed_item *it = item_at(d, i);
    if (it->id > shown)
      break;
    if (it->id <= c->feed_last)
      continue;
    if (behind(c)) {
      c->feed_waiting = 1; /* from it->id on, when it has drained */
      return;
    }
    send_item(c, it);
    if (c->closing)
      return;
  }
  c->feed_last = shown;
}

void esd_feed_drained(struct esd_conn *c) {
  if (c->feed_waiting && !c->feed_backfilling)
    catch_up(c);
}

void esd_feed_subscribe(struct esd_conn *c, const struct es_event *ev, const char *line,
                        size_t len) {
  struct esd *d = c->d;
  struct es_feed_filter f;
  int64_t since;
  int has_since;
  char msg[256], buf[384];

  if (es_feed_filter_parse(line, len, &f, &since, &has_since, msg, sizeof(msg)) != 0) {
    esd_send_error(c, ev, "bad_subscribe", msg);
    return;
  }
  if (c->feed_filter == NULL && (c->feed_filter = malloc(sizeof(*c->feed_filter))) == NULL) {
    esd_send_error(c, ev, "internal", "out of memory");
    return;
  }
  if (!c->feed_subscribed)
    d->subscribers++;
  c->feed_subscribed = 1;
  *c->feed_filter = f;
  snprintf(buf, sizeof(buf), "{\"type\":\"subscribed\",\"last_id\":%" PRId64 "}\n",
           shown_id(d));
  esd_conn_write(c, buf, strlen(buf));
  if (c->feed_backfilling || c->feed_waiting)
    return; /* catching up: it goes on with the new filters */
  c->feed_last = has_since && since < shown_id(d) ? since : shown_id(d);
  catch_up(c);
}

void esd_feed_conn_closed(struct esd_conn *c) {
  if (c->feed_subscribed)
    c->d->subscribers--;
  c->feed_subscribed = 0;
  free(c->feed_filter);
  c->feed_filter = NULL;
}

/* ---- feedback -------------------------------------------------------------- */

void esd_feed_mark(struct esd_conn *c, const struct es_event *ev, uint64_t *batch) {
  struct esd *d = c->d;
  char buf[1024];
  size_t pos = 0;
  double at = esd_wall_now();

  if (ev->alert_id > shown_id(d)) {
    snprintf(buf, sizeof(buf), "no alert with id %" PRId64 " (the last is %" PRId64 ")",
             ev->alert_id, shown_id(d));
    esd_send_error(c, ev, "unknown_alert", buf);
    return;
  }
  uint64_t b = esd_writer_add_mark(d->writer, ev->alert_id, ev->mark, ev->by, ev->note, at);
  if (b == 0) {
    esd_send_error(c, ev, "store_failed", "the mark could not be queued for the store");
    return;
  }
  *batch = b;
  d->marks++;
  /* Every subscriber learns of it at once: two supervisors do not join
   * the same call. */
  pos = (size_t)snprintf(buf, sizeof(buf),
                         "{\"type\":\"feed_mark\",\"alert_id\":%" PRId64 ",\"mark\":\"%s\",\"at\":%.3f,"
                         "\"by\":", ev->alert_id, ev->mark, at);
  if (ev->by == NULL || es_json_str(buf, sizeof(buf) - 3, &pos, ev->by, strlen(ev->by)) != 0)
    pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "null");
  pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "}\n");
  for (struct esd_conn *k = d->conns; k; k = k->next)
    if (k->feed_subscribed && !k->closing && k != c) {
      esd_conn_write(k, buf, pos);
      esd_conn_flush(k);
    }
  /* The sender gets the same record as its confirmation. */
  esd_conn_write(c, buf, pos);
}
