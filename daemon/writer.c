/* writer.c: see writer.h. */
#define _GNU_SOURCE /* SCHED_IDLE, pthread_setname_np */
#include "writer.h"

#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define ESD_WRITER_EARLY_ROWS 512 /* start a commit as soon as a batch holds this many */
#define ESD_WRITER_CHUNK (64 * 1024) /* a batch's rows are carved from blocks of this size */

enum op_kind { OP_ALERT, OP_CALL_START, OP_CALL_END, OP_RULE_SET, OP_MARK, OP_OUTBOX,
               OP_OUTBOX_UPDATE, OP_RESERVE_IDS };

/* One row, its strings copied right after it, in its batch's memory. */
struct op {
  struct op *next;
  struct op *joined; /* OP_CALL_START: its call's end, written as one row with it */
  enum op_kind kind;
  union {
    struct {
      struct es_alert_rec rec;
      struct es_alert_masked masked; /* rec.masked points here, or is NULL */
    } alert;
    struct es_call_start start;
    struct es_call_end end;
    struct es_mark_rec mark;
    struct es_outbox_rec outbox;
    struct es_outbox_update outbox_update;
    int64_t ids_ceiling;
    struct {
      const char *version;
      double loaded_at;
      const char **files;
      size_t nfiles;
      uint32_t rule_count;
    } rule_set;
  } u;
  char strings[];
};

/* A block of a batch's rows. Rows are carved from it one after another
 * and freed all at once with their batch: a malloc and a free per row
 * (the free touching memory the loop had last seen a batch ago) were a
 * third of the loop thread's allocator time in bulk runs. */
struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
};

struct batch {
  uint64_t id;
  struct op *head, **tail;
  struct chunk *chunks; /* where its rows live; the newest first */
  size_t nrows;
  int rc;              /* worker's result */
  int64_t ids_ceiling; /* the last alert id ceiling it records, or -1 */
  size_t rejected;     /* rows the store refused as invalid (not retried) */
  int first_reject;    /* the first such error */
  char errmsg[256];    /* worker's error text */
};

/* One of the writer's two threads. Both wait on the writer's mutex for a
 * job; at most one job is handed out at a time. */
struct wthread {
  struct esd_writer *w;
  uv_thread_t tid;
  uv_cond_t cond;
  int started;
  int job;          /* a job is handed to this thread (under w->mu) */
  int schedstat_fd; /* bg: its /proc/thread-self/schedstat (the thread's own), or -1 */
};

struct esd_writer {
  uv_loop_t *loop;
  struct es_store *store;
  esd_commit_cb on_commit;
  void *ud;
  unsigned interval_ms;
  struct batch *open;      /* filling on the loop thread; may be empty */
  struct batch *inflight;  /* owned by the worker while `busy` */
  int busy;
  /* The threads: `fg` at normal priority, `bg` at SCHED_IDLE (when the
   * system allows it), which takes the batches of at most bg_max_rows. */
  struct wthread fg, bg;
  uv_mutex_t mu;
  int quit;                /* under mu: the threads finish their job and exit */
  uint64_t job_cpu_ns;     /* under mu: the job's CPU time... */
  uint64_t job_wait_ns;    /* ...and how long it waited for a CPU */
  uv_async_t async;        /* the threads tell the loop a job is done: after_job() */
  int bg_ok;               /* the background thread runs at idle priority */
  unsigned bg_max_rows;
  int job_background;      /* the job in flight went to `bg` */
  uint64_t fg_until;       /* uv_now() before which every job goes to `fg` */
  uint64_t bg_commits, bg_starved;
  uv_check_t check;        /* starts a commit after each loop turn */
  uv_timer_t retry;        /* backoff after a failed commit, or interval */
  int timer_armed;
  unsigned backoff_ms;
  uint64_t committed;
  int64_t ids_reserved;    /* the alert id ceiling of the last commit that recorded one; -1 */
  uint64_t commits, failures, rejected;
  uint64_t joined;         /* call ends written with their start as one row */
  size_t pending_rows;
  int closing, nclosed;
  void (*done)(void *ud);
  void *done_ud;
  /* retention: the loop thread owns these... */
  uv_timer_t retention;    /* daily purge */
  double retention_s;      /* 0: off */
  int prune_wanted;        /* a purge is requested and not finished */
  double prune_before;     /* its cut-off */
  struct es_prune_counts pruned; /* this purge so far */
  uint64_t pruned_alerts, pruned_calls; /* since start */
  /* ...and the worker these, while `busy` with prune_run set */
  int prune_run;
  double prune_step_before;
  int prune_rc;
  struct es_prune_counts prune_got;
  char prune_err[256];
};

static struct batch *batch_new(uint64_t id) {
  struct batch *b = calloc(1, sizeof(*b));
  if (b) {
    b->id = id;
    b->tail = &b->head;
  }
  return b;
}

static void batch_free(struct batch *b) {
  if (b == NULL)
    return;
  for (struct chunk *c = b->chunks, *next; c; c = next) {
    next = c->next;
    free(c);
  }
  free(b);
}

/* Copies len bytes at s and a NUL into the op's string area at *pos;
 * returns the copy (NULL for NULL). */
static const char *dup_len(struct op *o, size_t *pos, const char *s, size_t len) {
  if (s == NULL)
    return NULL;
  char *p = o->strings + *pos;
  memcpy(p, s, len);
  p[len] = '\0';
  *pos += len + 1;
  return p;
}

/* The same for a NUL-terminated string. */
static const char *dup_into(struct op *o, size_t *pos, const char *s) {
  return dup_len(o, pos, s, s ? strlen(s) : 0);
}

static size_t slen(const char *s) { return s ? strlen(s) + 1 : 0; }

static void maybe_start(struct esd_writer *w);

/* Adds o, made by op_new() just before, to the open batch. */
static uint64_t push(struct esd_writer *w, struct op *o) {
  uint64_t id = w->open->id;
  o->next = NULL;
  *w->open->tail = o;
  w->open->tail = &o->next;
  w->open->nrows++;
  w->pending_rows++;
  if (o->kind != OP_OUTBOX && o->kind != OP_ALERT && w->open->nrows >= ESD_WRITER_EARLY_ROWS)
    maybe_start(w);
  return id;
}

/* A row of the batch it will join, with `strings` bytes after it, or NULL.
 *
 * A busy loop turn can add many rows: a full batch commits at once rather
 * than at the end of the turn, so acks do not wait for the whole turn.
 * An alert's outbox rows follow it into its batch, so a full batch is
 * started only before a row that is not an outbox row (here: the row is
 * carved from the batch that push() will add it to), or after one that
 * can have none following (push()). `join`: the row will join a row of
 * the open batch (a call's end its start) and must not start it. */
static struct op *op_new(struct esd_writer *w, enum op_kind kind, size_t strings, int join) {
  size_t need = (sizeof(struct op) + strings + 15) & ~(size_t)15;
  struct batch *b;
  struct chunk *c;
  struct op *o;

  if (!join && kind != OP_OUTBOX && w->open->nrows >= ESD_WRITER_EARLY_ROWS)
    maybe_start(w);
  b = w->open;
  c = b->chunks;
  if (c == NULL || c->cap - c->used < need) {
    size_t cap = need > ESD_WRITER_CHUNK ? need : ESD_WRITER_CHUNK;
    if ((c = malloc(sizeof(*c) + cap)) == NULL)
      return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = b->chunks;
    b->chunks = c;
  }
  o = (struct op *)(void *)((char *)c->data + c->used);
  c->used += need;
  o->kind = kind;
  o->joined = NULL;
  return o;
}

uint64_t esd_writer_add_alert(struct esd_writer *w, const struct es_alert_rec *r) {
  const struct es_alert_masked *m = r->masked;
  size_t need = slen(r->alert_key) + slen(r->call_id) + slen(r->rule_id) + slen(r->category) +
                (r->text ? r->text_len + 1 : 0) + slen(r->matched) + slen(r->tip) +
                slen(r->rule_set) + slen(r->reason);
  if (m)
    need += (m->text ? m->text_len + 1 : 0) + (m->matched ? m->matched_len + 1 : 0) +
            (m->reason ? m->reason_len + 1 : 0);
  struct op *o = op_new(w, OP_ALERT, need, 0);
  struct es_alert_rec *a;
  size_t pos = 0;

  if (o == NULL)
    return 0;
  a = &o->u.alert.rec;
  *a = *r;
  a->alert_key = dup_into(o, &pos, r->alert_key);
  a->call_id = dup_into(o, &pos, r->call_id);
  a->rule_id = dup_into(o, &pos, r->rule_id);
  a->category = dup_into(o, &pos, r->category);
  a->text = dup_len(o, &pos, r->text, r->text_len);
  a->matched = dup_into(o, &pos, r->matched);
  a->tip = dup_into(o, &pos, r->tip);
  a->rule_set = dup_into(o, &pos, r->rule_set);
  a->reason = dup_into(o, &pos, r->reason);
  if (m) {
    struct es_alert_masked *c = &o->u.alert.masked;
    *c = *m;
    c->text = dup_len(o, &pos, m->text, m->text_len);
    c->matched = dup_len(o, &pos, m->matched, m->matched_len);
    c->reason = dup_len(o, &pos, m->reason, m->reason_len);
    a->masked = c;
  }
  return push(w, o);
}

uint64_t esd_writer_add_call_start(struct esd_writer *w, const struct es_call_start *r,
                                   void **row, uint64_t *row_batch) {
  struct op *o = op_new(w, OP_CALL_START, slen(r->call_id) + slen(r->attributes) +
                                              slen(r->agent) + slen(r->queue), 0);
  size_t pos = 0;
  uint64_t id;

  if (o == NULL)
    return 0;
  o->u.start = *r;
  o->u.start.call_id = dup_into(o, &pos, r->call_id);
  o->u.start.attributes = dup_into(o, &pos, r->attributes);
  o->u.start.agent = dup_into(o, &pos, r->agent);
  o->u.start.queue = dup_into(o, &pos, r->queue);
  id = push(w, o);
  if (row) {
    *row = o;
    *row_batch = id;
  }
  return id;
}

uint64_t esd_writer_add_call_end(struct esd_writer *w, const struct es_call_end *r, void **row,
                                 uint64_t *row_batch) {
  struct op *start = row ? *row : NULL;
  /* The call's start row has not left yet (its batch is still the open
   * one, so it is alive): the end joins it, one row written instead of
   * two. This is what lets the writer catch up when it is behind: its
   * batches then span whole calls. (es_store_put_call() checks that the
   * two name the same call.) */
  int join = start && *row_batch == w->open->id;
  struct op *o = op_new(w, OP_CALL_END, slen(r->call_id) + slen(r->hits_by_category), join);
  size_t pos = 0;

  if (row)
    *row = NULL;
  if (o == NULL)
    return 0;
  o->u.end = *r;
  o->u.end.call_id = dup_into(o, &pos, r->call_id);
  o->u.end.hits_by_category = dup_into(o, &pos, r->hits_by_category);
  if (join) {
    start->joined = o;
    w->joined++;
    w->open->nrows++;
    w->pending_rows++;
    return w->open->id;
  }
  return push(w, o);
}

uint64_t esd_writer_add_mark(struct esd_writer *w, int64_t alert_id, const char *mark,
                             const char *by, const char *note, double at) {
  struct op *o;
  size_t pos = 0;
  enum es_mark m;

  if (es_store_mark_parse(mark, &m) != 0)
    return 0;
  o = op_new(w, OP_MARK, slen(by) + slen(note), 0);
  if (o == NULL)
    return 0;
  o->u.mark = (struct es_mark_rec){.alert_id = alert_id, .mark = m, .at = at};
  o->u.mark.by = dup_into(o, &pos, by);
  o->u.mark.note = dup_into(o, &pos, note);
  return push(w, o);
}

uint64_t esd_writer_add_rule_set(struct esd_writer *w, const struct es_rules *rules,
                                 double loaded_at) {
  size_t nfiles = es_rules_nfiles(rules), need = slen(es_rules_version(rules));
  struct op *o;
  size_t pos;

  for (size_t i = 0; i < nfiles; i++)
    need += slen(es_rules_file(rules, i));
  /* the files array sits at the start of the string area, aligned */
  pos = (nfiles * sizeof(char *) + 15) & ~(size_t)15;
  o = op_new(w, OP_RULE_SET, pos + need, 0);
  if (o == NULL)
    return 0;
  o->u.rule_set.files = (const char **)(void *)o->strings;
  o->u.rule_set.nfiles = nfiles;
  o->u.rule_set.version = dup_into(o, &pos, es_rules_version(rules));
  o->u.rule_set.loaded_at = loaded_at;
  o->u.rule_set.rule_count = es_rules_count(rules);
  for (size_t i = 0; i < nfiles; i++)
    o->u.rule_set.files[i] = dup_into(o, &pos, es_rules_file(rules, i));
  return push(w, o);
}

uint64_t esd_writer_add_outbox(struct esd_writer *w, const struct es_outbox_rec *r) {
  struct op *o = op_new(w, OP_OUTBOX, slen(r->destination) + slen(r->payload), 0);
  size_t pos = 0;

  if (o == NULL)
    return 0;
  o->u.outbox = *r;
  o->u.outbox.destination = dup_into(o, &pos, r->destination);
  o->u.outbox.payload = dup_into(o, &pos, r->payload);
  return push(w, o);
}

uint64_t esd_writer_reserve_ids(struct esd_writer *w, int64_t ceiling) {
  struct op *o = op_new(w, OP_RESERVE_IDS, 0, 0);

  if (o == NULL)
    return 0;
  o->u.ids_ceiling = ceiling;
  return push(w, o);
}

uint64_t esd_writer_update_outbox(struct esd_writer *w, const struct es_outbox_update *u) {
  struct op *o = op_new(w, OP_OUTBOX_UPDATE, slen(u->last_error) + slen(u->destination), 0);
  size_t pos = 0;

  if (o == NULL)
    return 0;
  o->u.outbox_update = *u;
  o->u.outbox_update.last_error = dup_into(o, &pos, u->last_error);
  o->u.outbox_update.destination = dup_into(o, &pos, u->destination);
  return push(w, o);
}

/* ---- the worker side: the only code here that touches SQLite ------- */

static int apply(struct es_store *st, const struct op *o) {
  int rc = 0;
  switch (o->kind) {
  case OP_ALERT:
    rc = es_store_put_alert(st, &o->u.alert.rec);
    return rc == 1 ? 0 : rc; /* 1: a resent alert, already stored */
  case OP_CALL_START:
    return es_store_put_call_start(st, &o->u.start);
  case OP_CALL_END:
    return es_store_put_call_end(st, &o->u.end);
  case OP_MARK:
    return es_store_mark(st, &o->u.mark, NULL);
  case OP_OUTBOX:
    rc = es_store_put_outbox(st, &o->u.outbox);
    return rc == 1 ? 0 : rc; /* 1: its alert was a resend (or refused): nothing owed */
  case OP_OUTBOX_UPDATE:
    return es_store_update_outbox(st, &o->u.outbox_update);
  case OP_RESERVE_IDS:
    return es_store_reserve_alert_ids(st, o->u.ids_ceiling);
  case OP_RULE_SET:
    return es_store_put_rule_set(st, o->u.rule_set.version, o->u.rule_set.loaded_at,
                                 o->u.rule_set.files, o->u.rule_set.nfiles,
                                 o->u.rule_set.rule_count);
  }
  return rc;
}

static int refused(int rc) {
  return rc == ES_EINVAL || rc == ES_ETOOBIG || rc == ES_EJSON || rc == ES_ENOENT;
}

/* A row the store refuses as malformed would fail every retry: count it
 * and go on, so one bad row never holds back the rest. */
static int counted(struct batch *b, int rc) {
  if (!refused(rc))
    return rc;
  if (b->rejected++ == 0)
    b->first_reject = rc;
  return 0;
}

static void write_batch(struct esd_writer *w, struct batch *b) {
  int rc = es_store_begin(w->store);

  b->ids_ceiling = -1;
  for (const struct op *o = b->head; rc == 0 && o; o = o->next) {
    if (o->kind == OP_RESERVE_IDS)
      b->ids_ceiling = o->u.ids_ceiling;
    if (o->joined) {
      rc = es_store_put_call(w->store, &o->u.start, &o->joined->u.end);
      /* One of the two is malformed: each on its own, so the other stays. */
      if (refused(rc) && (rc = counted(b, apply(w->store, o))) == 0)
        rc = counted(b, apply(w->store, o->joined));
    } else {
      rc = counted(b, apply(w->store, o));
    }
  }
  if (rc == 0)
    rc = es_store_commit(w->store);
  else
    es_store_rollback(w->store);
  b->rc = rc;
  if (rc != 0)
    snprintf(b->errmsg, sizeof(b->errmsg), "%s", es_store_errmsg(w->store));
}

/* On a writer thread: the batch first (acks wait for it), then one bounded
 * purge step. */
static void run_job(struct esd_writer *w) {
  if (w->inflight)
    write_batch(w, w->inflight);
  if (w->prune_run) {
    memset(&w->prune_got, 0, sizeof(w->prune_got));
    w->prune_rc = es_store_prune_step(w->store, w->prune_step_before, ESD_WRITER_PRUNE_ROWS,
                                      &w->prune_got);
    if (w->prune_rc < 0)
      snprintf(w->prune_err, sizeof(w->prune_err), "%s", es_store_errmsg(w->store));
  }
}

static void format_time(double t, char *buf, size_t cap) {
  time_t secs = (time_t)t;
  struct tm tm;
  if (gmtime_r(&secs, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, cap, "%.0f", t);
}

/* On the loop thread, after a job that ran a purge step. */
static void after_prune(struct esd_writer *w) {
  char when[32];
  w->prune_run = 0;
  if (w->prune_rc < 0) {
    esd_error("store", "retention: purge failed (%s); next attempt at the next daily run",
              w->prune_err);
    w->prune_wanted = 0;
    return;
  }
  w->pruned.alerts += w->prune_got.alerts;
  w->pruned.calls += w->prune_got.calls;
  w->pruned.marks += w->prune_got.marks;
  w->pruned_alerts += w->prune_got.alerts;
  w->pruned_calls += w->prune_got.calls;
  if (w->prune_rc == 1 || w->prune_step_before != w->prune_before)
    return; /* more to delete, or a new cut-off came meanwhile: the next work item goes on */
  w->prune_wanted = 0;
  format_time(w->prune_before, when, sizeof(when));
  if (w->pruned.alerts + w->pruned.calls + w->pruned.marks == 0) {
    esd_debug("store", "retention: nothing older than %s", when);
    return;
  }
  esd_info("store", "retention: deleted %llu alerts, %llu calls and %llu feedback marks "
                    "older than %s",
           (unsigned long long)w->pruned.alerts, (unsigned long long)w->pruned.calls,
           (unsigned long long)w->pruned.marks, when);
}

static void retry_cb(uv_timer_t *t);

/* This thread's CPU time and its time runnable but waiting for a CPU, in
 * ns: the scheduler's own when /proc has them (schedstat), else CPU time
 * and wall time minus CPU time (which also counts waiting for the disk). */
static void thread_times(const struct wthread *t, uint64_t *cpu, uint64_t *wait) {
  struct timespec ts;
  char buf[96];
  if (t->schedstat_fd >= 0) {
    ssize_t n = pread(t->schedstat_fd, buf, sizeof(buf) - 1, 0);
    unsigned long long run, delay;
    if (n > 0) {
      buf[n] = '\0';
      if (sscanf(buf, "%llu %llu", &run, &delay) == 2) {
        *cpu = run;
        *wait = delay;
        return;
      }
    }
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  *cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  *wait = uv_hrtime() - *cpu;
}

static void thread_main(void *arg) {
  struct wthread *t = arg;
  struct esd_writer *w = t->w;
  int timed = t == &w->bg; /* only background commits are checked for starvation */

  if (timed)
    t->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  uv_mutex_lock(&w->mu);
  for (;;) {
    uint64_t cpu0 = 0, wait0 = 0, cpu1 = 0, wait1 = 0;
    while (!t->job && !w->quit)
      uv_cond_wait(&t->cond, &w->mu);
    if (!t->job)
      break;
    uv_mutex_unlock(&w->mu);
    if (timed)
      thread_times(t, &cpu0, &wait0);
    run_job(w);
    if (timed)
      thread_times(t, &cpu1, &wait1);
    uv_mutex_lock(&w->mu);
    t->job = 0;
    w->job_cpu_ns = cpu1 - cpu0;
    w->job_wait_ns = wait1 > wait0 ? wait1 - wait0 : 0;
    /* Outside the lock: the wakeup lets the loop preempt this thread at
     * once, and the loop's async_cb must not then wait for the lock. */
    uv_mutex_unlock(&w->mu);
    uv_async_send(&w->async);
    uv_mutex_lock(&w->mu);
  }
  uv_mutex_unlock(&w->mu);
  if (t->schedstat_fd >= 0)
    close(t->schedstat_fd);
}

/* On the loop thread, once the job in flight is done (the threads' wakeup:
 * one job at a time, so each one is a job done). */
static void after_job(uv_async_t *a) {
  struct esd_writer *w = a->data;
  struct batch *b = w->inflight;
  uint64_t cpu, wait;

  uv_mutex_lock(&w->mu); /* also orders the thread's writes to the batch before ours */
  cpu = w->job_cpu_ns;
  wait = w->job_wait_ns;
  uv_mutex_unlock(&w->mu);
  w->busy = 0;
  /* Waiting about as long as it ran is the loop preempting it, as meant;
   * waiting far longer is other work keeping it off every CPU. */
  if (w->job_background && wait > ESD_WRITER_STARVED_MS * 1000000ull &&
      wait > ESD_WRITER_STARVED_RATIO * cpu) {
    w->bg_starved++;
    w->fg_until = uv_now(w->loop) + ESD_WRITER_FOREGROUND_HOLD_MS;
    esd_debug("store", "a background commit waited %" PRIu64 " ms for a CPU and ran %" PRIu64
                       " ms; committing at normal priority for %d s",
              wait / 1000000, cpu / 1000000, ESD_WRITER_FOREGROUND_HOLD_MS / 1000);
  }
  if (w->prune_run)
    after_prune(w);
  if (b == NULL) {
    /* A purge step alone. */
    maybe_start(w);
    return;
  }
  if (b->rc != 0) {
    /* Keep the rows: put the batch back in front of the open one by
     * merging, and retry after a backoff. Acks wait; readers stay paused
     * once the pending rows pass the limit. Nothing is dropped. */
    w->failures++;
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 100;
    if (w->backoff_ms > 5000)
      w->backoff_ms = 5000;
    esd_error("store", "commit of %zu rows failed (%s); retrying in %u ms", b->nrows,
              b->errmsg, w->backoff_ms);
    if (w->open->head) {
      *b->tail = w->open->head;
      b->tail = w->open->tail;
      b->nrows += w->open->nrows;
    }
    if (w->open->chunks) {
      struct chunk **t = &b->chunks;
      while (*t)
        t = &(*t)->next;
      *t = w->open->chunks;
    }
    b->id = w->open->id;
    free(w->open);
    w->open = b;
    w->inflight = NULL;
    if (!w->closing) {
      w->timer_armed = 1;
      uv_timer_start(&w->retry, retry_cb, w->backoff_ms, 0);
    }
    return;
  }
  if (b->rejected)
    esd_error("store", "%zu rows refused by the store (%s); the rest of the batch committed",
              b->rejected, es_strerror(b->first_reject));
  w->rejected += b->rejected;
  w->backoff_ms = 0;
  w->commits++;
  w->bg_commits += w->job_background;
  w->committed = b->id;
  if (b->ids_ceiling >= 0)
    w->ids_reserved = b->ids_ceiling;
  w->pending_rows -= b->nrows;
  w->inflight = NULL;
  batch_free(b);
  if (w->on_commit)
    w->on_commit(w->ud, w->committed);
  maybe_start(w);
}

static void retry_cb(uv_timer_t *t) {
  struct esd_writer *w = t->data;
  w->timer_armed = 0;
  maybe_start(w);
}

/* Hands the open batch to a worker when there is one to write, nothing is
 * in flight and no backoff or interval is pending. */
static void maybe_start(struct esd_writer *w) {
  struct batch *next = NULL;
  struct wthread *t;
  int rows, prune;

  if (w->busy || w->timer_armed || w->open == NULL)
    return;
  rows = w->open->head != NULL;
  prune = w->prune_wanted && !w->closing;
  if (!rows && !prune)
    return;
  if (rows) {
    next = batch_new(w->open->id + 1);
    if (next == NULL)
      return; /* try again next turn */
    w->inflight = w->open;
    w->open = next;
  }
  w->prune_run = prune;
  w->prune_step_before = w->prune_before;
  w->busy = 1;
  /* A small batch means the writer keeps up: write it at idle priority, so
   * that it never holds a CPU the loop wants. */
  w->job_background = w->bg_ok && (!rows || w->inflight->nrows <= w->bg_max_rows) &&
                      uv_now(w->loop) >= w->fg_until;
  t = w->job_background ? &w->bg : &w->fg;
  uv_mutex_lock(&w->mu);
  t->job = 1;
  uv_mutex_unlock(&w->mu);
  uv_cond_signal(&t->cond);
  if (w->interval_ms) {
    w->timer_armed = 1;
    uv_timer_start(&w->retry, retry_cb, w->interval_ms, 0);
  }
}

static void check_cb(uv_check_t *c) { maybe_start(c->data); }

static int thread_start(struct esd_writer *w, struct wthread *t, const char *name) {
  t->w = w;
  t->schedstat_fd = -1;
  if (uv_cond_init(&t->cond) != 0)
    return -1;
  if (uv_thread_create(&t->tid, thread_main, t) != 0) {
    uv_cond_destroy(&t->cond);
    return -1;
  }
  t->started = 1;
  pthread_setname_np(t->tid, name); /* here, not in the thread: named once this returns */
  return 0;
}

/* Lets the threads finish the job they hold, and joins them. */
static void threads_stop(struct esd_writer *w) {
  struct wthread *ts[2] = {&w->fg, &w->bg};
  uv_mutex_lock(&w->mu);
  w->quit = 1;
  for (int i = 0; i < 2; i++)
    if (ts[i]->started)
      uv_cond_signal(&ts[i]->cond);
  uv_mutex_unlock(&w->mu);
  for (int i = 0; i < 2; i++) {
    if (!ts[i]->started)
      continue;
    uv_thread_join(&ts[i]->tid);
    uv_cond_destroy(&ts[i]->cond);
    ts[i]->started = 0;
  }
}

struct esd_writer *esd_writer_new(uv_loop_t *loop, struct es_store *store,
                                  unsigned interval_ms, unsigned bg_max_rows, esd_commit_cb cb,
                                  void *ud) {
  struct esd_writer *w = calloc(1, sizeof(*w));
  if (w == NULL)
    return NULL;
  w->loop = loop;
  w->store = store;
  w->on_commit = cb;
  w->ud = ud;
  w->interval_ms = interval_ms;
  w->bg_max_rows = bg_max_rows;
  w->ids_reserved = -1;
  w->open = batch_new(1);
  if (w->open == NULL || uv_mutex_init(&w->mu) != 0) {
    free(w->open);
    free(w);
    return NULL;
  }
  if (thread_start(w, &w->fg, "esd-store") != 0 ||
      (bg_max_rows > 0 && thread_start(w, &w->bg, "esd-store-bg") != 0)) {
    threads_stop(w);
    uv_mutex_destroy(&w->mu);
    free(w->open);
    free(w);
    return NULL;
  }
  if (bg_max_rows > 0) {
#ifdef SCHED_IDLE
    struct sched_param sp = {0};
    int rc = pthread_setschedparam(w->bg.tid, SCHED_IDLE, &sp);
    w->bg_ok = rc == 0;
    if (rc != 0)
      esd_warn("store", "cannot run background commits at idle priority (%s); every commit "
                        "runs at normal priority", strerror(rc));
#else
    esd_warn("store", "no SCHED_IDLE on this system; every commit runs at normal priority");
#endif
  }
  uv_async_init(loop, &w->async, after_job);
  w->async.data = w;
  uv_check_init(loop, &w->check);
  w->check.data = w;
  uv_check_start(&w->check, check_cb);
  uv_timer_init(loop, &w->retry);
  w->retry.data = w;
  uv_timer_init(loop, &w->retention);
  w->retention.data = w;
  return w;
}

void esd_writer_prune(struct esd_writer *w, double before) {
  if (w->closing || !isfinite(before))
    return;
  if (!w->prune_wanted)
    memset(&w->pruned, 0, sizeof(w->pruned));
  w->prune_wanted = 1;
  w->prune_before = before;
  maybe_start(w);
}

static void retention_cb(uv_timer_t *t) {
  struct esd_writer *w = t->data;
  esd_writer_prune(w, esd_wall_now() - w->retention_s);
}

void esd_writer_start_retention(struct esd_writer *w, unsigned days) {
  w->retention_s = days * 86400.0;
  if (days == 0)
    return;
  /* Now, then daily; the timer alone does not keep the loop running. */
  uv_timer_start(&w->retention, retention_cb, 0, 86400u * 1000u);
  uv_unref((uv_handle_t *)&w->retention);
}

uint64_t esd_writer_pruned_alerts(const struct esd_writer *w) { return w->pruned_alerts; }
uint64_t esd_writer_pruned_calls(const struct esd_writer *w) { return w->pruned_calls; }
int esd_writer_pruning(const struct esd_writer *w) { return w->prune_wanted; }

uint64_t esd_writer_committed(const struct esd_writer *w) { return w->committed; }
int64_t esd_writer_ids_reserved(const struct esd_writer *w) { return w->ids_reserved; }
uint64_t esd_writer_last_id(const struct esd_writer *w) {
  if (w->open == NULL)
    return 0;
  return w->open->nrows ? w->open->id : w->open->id - 1;
}
size_t esd_writer_pending(const struct esd_writer *w) { return w->pending_rows; }
uint64_t esd_writer_commits(const struct esd_writer *w) { return w->commits; }
uint64_t esd_writer_failures(const struct esd_writer *w) { return w->failures; }
uint64_t esd_writer_rejected(const struct esd_writer *w) { return w->rejected; }
uint64_t esd_writer_joined(const struct esd_writer *w) { return w->joined; }
uint64_t esd_writer_background_commits(const struct esd_writer *w) { return w->bg_commits; }
uint64_t esd_writer_background_starved(const struct esd_writer *w) { return w->bg_starved; }

int esd_writer_idle(const struct esd_writer *w) {
  return !w->busy && (w->open == NULL || w->open->head == NULL);
}

static void on_handle_closed(uv_handle_t *h) {
  struct esd_writer *w = h->data;
  if (++w->nclosed == 4 && w->done)
    w->done(w->done_ud);
}

void esd_writer_close(struct esd_writer *w, void (*done)(void *ud), void *ud) {
  w->closing = 1;
  w->done = done;
  w->done_ud = ud;
  /* A job still in flight (a shutdown past its deadline) runs to its end;
   * its result is not looked at. */
  threads_stop(w);
  uv_close((uv_handle_t *)&w->async, on_handle_closed);
  uv_close((uv_handle_t *)&w->check, on_handle_closed);
  uv_close((uv_handle_t *)&w->retry, on_handle_closed);
  uv_close((uv_handle_t *)&w->retention, on_handle_closed);
}

void esd_writer_free(struct esd_writer *w) {
  if (w == NULL)
    return;
  threads_stop(w);
  uv_mutex_destroy(&w->mu);
  batch_free(w->open);
  batch_free(w->inflight);
  free(w);
}
