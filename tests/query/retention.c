/*
 * retention.c: earshotd's retention (daemon/writer.c): the daily purge runs
 * on the writer's worker thread in bounded steps between batches, deletes
 * old alerts with their marks and search-index entries and old calls, and
 * leaves new rows alone; and the retention_days setting (daemon/config.c)
 * is read and checked like every other. Also the writer's call rows: a
 * call's end written with its start as one row when both are in the open
 * batch, the same row as two writes leave; and its two threads: small
 * batches committed by the one at idle priority, large ones by the other.
 */
#define _GNU_SOURCE /* SCHED_IDLE */
#include <dirent.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <uv.h>

#include "esd.h"
#include "qtest.h"
#include "writer.h"

#define OLD_ROWS 4500 /* more than two purge steps of ESD_WRITER_PRUNE_ROWS */

static char tmpdir[64], db[256];

static int64_t db_int(const char *sql) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  ASSERT_EQ(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK) ES_FAIL_("%s", sqlite3_errmsg(h));
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

struct ctx {
  uint64_t commits;
  int closed;
};

static void on_commit(void *ud, uint64_t id) {
  struct ctx *c = ud;
  (void)id;
  c->commits++;
}

static void on_closed(void *ud) { ((struct ctx *)ud)->closed = 1; }

static struct es_alert_rec new_alert(const char *key, double ts) {
  const struct qt_alert q = {key, "call-new", 0, NAN, "customer.manager_request",
                             "manager_request", ES_SEV_HIGH, ES_SPEAKER_CUSTOMER,
                             "let me talk to a supervisor", "supervisor", NULL, NAN, NULL};
  return qt_alert_rec(&q, ts);
}

/* Runs the loop one turn at a time until `done` says so; fails after
 * 60 s (a turn blocks only until the worker or a timer reports). */
static void run_until(uv_loop_t *loop, int (*done)(void *), void *arg) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (!done(arg)) {
    uv_run(loop, UV_RUN_ONCE);
    clock_gettime(CLOCK_MONOTONIC, &t);
    if (t.tv_sec - t0.tv_sec > 60) ES_FAIL_("the writer did not finish within 60 s");
  }
}

static int purge_done(void *arg) {
  struct esd_writer *w = arg;
  return !esd_writer_pruning(w) && esd_writer_idle(w);
}

static int closed(void *arg) { return ((struct ctx *)arg)->closed; }

/* Opens the store at db and a writer on a new loop, as earshotd does. */
static struct esd_writer *writer_up(uv_loop_t *loop, struct es_store **s, struct ctx *c,
                                    unsigned bg_max_rows) {
  ASSERT_EQ(es_store_open(db, NULL, s, NULL), 0);
  ASSERT_EQ(uv_loop_init(loop), 0);
  struct esd_writer *w = esd_writer_new(loop, *s, 0, bg_max_rows, on_commit, c);
  ASSERT(w != NULL);
  return w;
}

/* Closes the writer as earshotd does at exit, then the loop and the store. */
static void writer_done(uv_loop_t *loop, struct esd_writer *w, struct ctx *c,
                        struct es_store *s) {
  esd_writer_close(w, on_closed, c);
  run_until(loop, closed, c);
  esd_writer_free(w);
  ASSERT_EQ(uv_loop_close(loop), 0);
  es_store_close(s);
}

static int idle(void *arg) { return esd_writer_idle(arg); }

/* One turn hands the open batch over (the writer's check handle), then
 * the loop runs until it is committed. */
static void commit_now(uv_loop_t *loop, struct esd_writer *w) {
  uv_run(loop, UV_RUN_NOWAIT);
  run_until(loop, idle, w);
}

static void call_rows(const char *id, struct es_call_start *cs, struct es_call_end *ce) {
  *cs = (struct es_call_start){id, "{\"customer\":\"C-1\",\"note\":\"card 4111 1111 1111 1111\"}",
                               "agent-7", "billing", 1700000000.25};
  *ce = (struct es_call_end){id,  1700000300.5, ES_END_ENDED, 3, 6.5, 2.25,
                             "{\"manager_request\":2}", 1, 0};
}

/* A call whose start and end meet in the open batch is one row written;
 * one whose start already left is the start's row updated; both leave the
 * same columns. A malformed end costs only itself. */
static void test_call_rows(void) {
  double now = (double)time(NULL);
  struct es_store *s = NULL;
  struct ctx c = {0, 0};
  uv_loop_t loop;
  struct es_call_start cs;
  struct es_call_end ce;
  void *row = NULL;
  uint64_t batch = 0;
  qt_build_store(db, now);
  struct esd_writer *w = writer_up(&loop, &s, &c, 128);

  /* Start, an alert and the end before the loop runs: one batch. */
  call_rows("joined", &cs, &ce);
  ASSERT(esd_writer_add_call_start(w, &cs, &row, &batch) > 0);
  ASSERT(row != NULL);
  struct es_alert_rec r = new_alert("joined-1", now);
  r.call_id = "joined";
  ASSERT(esd_writer_add_alert(w, &r) > 0);
  ASSERT_EQ(esd_writer_add_call_end(w, &ce, &row, &batch), batch);
  ASSERT(row == NULL);
  ASSERT_EQ(esd_writer_joined(w), 1);

  /* A start committed before its end comes: two writes. */
  call_rows("apart", &cs, &ce);
  ASSERT(esd_writer_add_call_start(w, &cs, &row, &batch) > 0);
  commit_now(&loop, w);
  ASSERT(esd_writer_committed(w) >= batch);
  ASSERT(esd_writer_add_call_end(w, &ce, &row, &batch) > batch);
  ASSERT(row == NULL);
  ASSERT_EQ(esd_writer_joined(w), 1);

  /* A joined end the store refuses: the start is still written. */
  call_rows("bad-end", &cs, &ce);
  ce.hits_by_category = "[1, 2]"; /* not an object */
  ASSERT(esd_writer_add_call_start(w, &cs, &row, &batch) > 0);
  ASSERT(esd_writer_add_call_end(w, &ce, &row, &batch) > 0);
  ASSERT_EQ(esd_writer_joined(w), 2);
  commit_now(&loop, w);
  ASSERT_EQ(esd_writer_rejected(w), 1);

  writer_done(&loop, w, &c, s);

  ASSERT_EQ(db_int("SELECT count(*) FROM calls WHERE call_id = 'joined' AND agent = 'agent-7'"
                   " AND queue = 'billing' AND started = 1700000000.25 AND ended = 1700000300.5"
                   " AND end_reason = 'ended' AND alert_count = 3 AND peak_heat = 6.5"
                   " AND final_heat = 2.25 AND hits_by_category = '{\"manager_request\":2}'"
                   " AND backup_raised = 1 AND deescalated = 0"
                   " AND json_extract(attributes, '$.customer') = 'C-1'"
                   " AND instr(attributes, '4111') = 0"), 1); /* masked as before */
  /* Every column but the id the same, whichever way the row was written. */
  ASSERT_EQ(db_int("SELECT count(*) FROM (SELECT attributes, agent, queue, started, ended,"
                   " end_reason, alert_count, peak_heat, final_heat, hits_by_category,"
                   " backup_raised, deescalated FROM calls WHERE call_id IN ('joined', 'apart')"
                   " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)"), 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM calls WHERE call_id = 'apart'"), 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM calls WHERE call_id = 'bad-end' AND agent = 'agent-7'"
                   " AND ended IS NULL"), 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE alert_key = 'joined-1'"), 1);
  qt_remove_db(db);
}

static void test_daily_purge(void) {
  double now = (double)time(NULL);
  struct es_store *s = NULL;
  char key[32];
  qt_build_store(db, now);

  /* Many old alerts (50 days), some marked. */
  ASSERT_EQ(es_store_open(db, NULL, &s, NULL), 0);
  ASSERT_EQ(es_store_begin(s), 0);
  for (int i = 0; i < OLD_ROWS; i++) {
    snprintf(key, sizeof key, "old-%d", i);
    struct es_alert_rec r = new_alert(key, now - 50 * 86400 + i);
    r.call_id = "call-ancient";
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
    if (i % 100 == 0) {
      struct es_mark_rec m = {0, key, ES_MARK_FALSE_POSITIVE, "qa", now, NULL};
      ASSERT_EQ(es_store_mark(s, &m, NULL), 0);
    }
  }
  ASSERT_EQ(es_store_commit(s), 0);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts"), OLD_ROWS + (int)QT_NALERTS);

  /* The daemon's arrangement: the store used only by the writer's worker. */
  uv_loop_t loop;
  struct ctx c = {0, 0};
  ASSERT_EQ(uv_loop_init(&loop), 0);
  struct esd_writer *w = esd_writer_new(&loop, s, 0, 0, on_commit, &c);
  ASSERT(w != NULL);
  esd_writer_start_retention(w, 30);
  /* Rows keep arriving while the purge runs. */
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof key, "new-%d", i);
    struct es_alert_rec r = new_alert(key, now - i);
    ASSERT(esd_writer_add_alert(w, &r) > 0);
  }
  run_until(&loop, purge_done, w);

  ASSERT_EQ(esd_writer_pruned_alerts(w), OLD_ROWS + 1); /* and a9, 40 days old */
  ASSERT_EQ(esd_writer_pruned_calls(w), 1);             /* call-old */
  ASSERT_GE(c.commits, 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE ts < strftime('%s', 'now', '-30 days')"),
            0);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts"), (int)QT_NALERTS - 1 + 20);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE alert_key LIKE 'new-%'"), 20);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks"), 0);
  ASSERT_EQ(db_int("SELECT count(*) FROM calls WHERE call_id = 'call-old'"), 0);
  ASSERT_EQ(db_int("SELECT count(*) FROM calls"), 4);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_search WHERE alert_search MATCH 'supervisor'"),
            20);

  /* A second purge with nothing to delete finishes at once. */
  esd_writer_prune(w, now - 30 * 86400);
  ASSERT_EQ(esd_writer_pruning(w), 1);
  run_until(&loop, purge_done, w);
  ASSERT_EQ(esd_writer_pruned_alerts(w), OLD_ROWS + 1);

  writer_done(&loop, w, &c, s);

  /* The index matches the table after all those deletes. */
  qt_check_search_index(db);
  qt_remove_db(db);
}

/* Retention off (0 days): nothing is ever deleted, the timer never runs. */
static void test_off(void) {
  double now = (double)time(NULL);
  struct es_store *s = NULL;
  struct ctx c = {0, 0};
  uv_loop_t loop;
  qt_build_store(db, now);
  struct esd_writer *w = writer_up(&loop, &s, &c, 128);
  esd_writer_start_retention(w, 0);
  ASSERT_EQ(esd_writer_pruning(w), 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(esd_writer_pruning(w), 0);
  writer_done(&loop, w, &c, s);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts"), (int)QT_NALERTS);
  qt_remove_db(db);
}

/* The scheduling policy of this process's thread named `name`, or -1
 * when there is none. */
static int thread_policy(const char *name) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int policy = -1;
  ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL) {
    char path[300], comm[64] = "";
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
      continue;
    if (fgets(comm, sizeof comm, f))
      comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
    if (strcmp(comm, name) == 0)
      policy = sched_getscheduler(atoi(e->d_name));
  }
  closedir(d);
  return policy;
}

/* Adds n alerts keyed "<prefix>-<i>" to the open batch. */
static void add_alerts(struct esd_writer *w, const char *prefix, int n, double now) {
  char key[32];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "%s-%d", prefix, i);
    struct es_alert_rec r = new_alert(key, now);
    ASSERT(esd_writer_add_alert(w, &r) > 0);
  }
}

/* A batch of at most bg_max_rows rows is committed by "esd-store-bg", at
 * SCHED_IDLE; a larger one by "esd-store", at normal priority; with
 * bg_max_rows 0 there is no background thread. */
static void test_background(void) {
  double now = (double)time(NULL);
  struct es_store *s = NULL;
  struct ctx c = {0, 0};
  uv_loop_t loop;
  qt_build_store(db, now);
  struct esd_writer *w = writer_up(&loop, &s, &c, 4);
  ASSERT_EQ(thread_policy("esd-store-bg"), SCHED_IDLE);
  ASSERT_EQ(thread_policy("esd-store"), SCHED_OTHER);

  add_alerts(w, "bg", 4, now);
  commit_now(&loop, w);
  ASSERT_EQ(esd_writer_commits(w), 1);
  ASSERT_EQ(esd_writer_background_commits(w), 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE alert_key LIKE 'bg-%'"), 4);

  add_alerts(w, "fg", 5, now);
  commit_now(&loop, w);
  ASSERT_EQ(esd_writer_commits(w), 2);
  ASSERT_EQ(esd_writer_background_commits(w), 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE alert_key LIKE 'fg-%'"), 5);
  writer_done(&loop, w, &c, s);
  ASSERT_EQ(thread_policy("esd-store-bg"), -1); /* joined */

  c.closed = 0;
  w = writer_up(&loop, &s, &c, 0);
  ASSERT_EQ(thread_policy("esd-store-bg"), -1);
  add_alerts(w, "off", 1, now);
  commit_now(&loop, w);
  ASSERT_EQ(esd_writer_commits(w), 1);
  ASSERT_EQ(esd_writer_background_commits(w), 0);
  writer_done(&loop, w, &c, s);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE alert_key = 'off-0'"), 1);
  qt_remove_db(db);
}

#define SPIN_CPU_NS 300000000ull /* the hog's own CPU time: six times ESD_WRITER_STARVED_MS */

static void spin(void *arg) {
  struct timespec t;
  atomic_store((atomic_int *)arg, 1);
  do
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  while ((uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec < SPIN_CPU_NS);
}

/* A background commit that another thread keeps off its CPU is counted as
 * starved, and the next batch, however small, goes to the normal thread.
 * The process is held to one CPU, where a normal-priority thread spins
 * through 300 ms of CPU time while the idle-priority thread has a batch
 * of 100 rows to write (a few ms of CPU): it waits about 300 ms for the
 * CPU, far more than ESD_WRITER_STARVED_RATIO times what it runs. */
static void test_starved(void) {
  double now = (double)time(NULL);
  struct es_store *s = NULL;
  struct ctx c = {0, 0};
  uv_loop_t loop;
  uv_thread_t hog;
  cpu_set_t one, all;
  atomic_int spinning = 0;
  int cpu = sched_getcpu();
  ASSERT(cpu >= 0);
  ASSERT_EQ(sched_getaffinity(0, sizeof all, &all), 0);
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0); /* threads made now inherit it */

  qt_build_store(db, now);
  struct esd_writer *w = writer_up(&loop, &s, &c, 100000);
  add_alerts(w, "starved", 100, now);
  ASSERT_EQ(uv_thread_create(&hog, spin, &spinning), 0);
  while (!atomic_load(&spinning))
    sched_yield();
  commit_now(&loop, w);
  ASSERT_EQ(uv_thread_join(&hog), 0);
  ASSERT_EQ(esd_writer_commits(w), 1);
  ASSERT_EQ(esd_writer_background_commits(w), 1);
  ASSERT_EQ(esd_writer_background_starved(w), 1);

  add_alerts(w, "starved-after", 1, now);
  commit_now(&loop, w);
  ASSERT_EQ(esd_writer_commits(w), 2);
  ASSERT_EQ(esd_writer_background_commits(w), 1); /* held in the foreground */
  writer_done(&loop, w, &c, s);
  ASSERT_EQ(sched_setaffinity(0, sizeof all, &all), 0);
  ASSERT_EQ(db_int("SELECT count(*) FROM alerts WHERE alert_key LIKE '%starved-%'"), 101);
  qt_remove_db(db);
}

/* Loads a config file (and the flag) with daemon/config.c; returns what
 * esd_config_load() does, its stderr in err. */
static int load_config(const char *json, const char *flag, struct es_config *cfg, char *err,
                       size_t cap) {
  char path[300], errpath[300];
  snprintf(path, sizeof path, "%s/earshotd.json", tmpdir);
  snprintf(errpath, sizeof errpath, "%s/stderr.txt", tmpdir);
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(json, f);
  fclose(f);
  char *argv[] = {"earshotd", "--config", path, "--db", "/nonexistent/earshot.db",
                  (char *)(flag ? "--retention-days" : NULL), (char *)flag, NULL};
  int argc = flag ? 7 : 5;
  fflush(stderr);
  int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT(saved >= 0 && fd >= 0);
  dup2(fd, 2);
  close(fd);
  struct esd_flags flags;
  es_config_init(cfg);
  int rc = esd_config_load(cfg, &flags, argc, argv);
  esd_flags_free(&flags);
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  size_t len;
  char *text = qt_slurp(errpath, &len);
  snprintf(err, cap, "%s", text ? text : "");
  free(text);
  unlink(errpath);
  unlink(path);
  return rc;
}

static void check_config(const char *json, const char *flag, int want_days, const char *needle) {
  struct es_config cfg;
  char err[1024];
  int rc = load_config(json, flag, &cfg, err, sizeof err);
  if (want_days >= 0) {
    if (rc != 0) ES_FAIL_("%s %s: refused: %s", json, flag ? flag : "", err);
    ASSERT_EQ(cfg.retention_days, want_days);
  } else {
    if (rc != -1) ES_FAIL_("%s %s: accepted", json, flag ? flag : "");
    if (strstr(err, needle) == NULL) ES_FAIL_("%s: no \"%s\" in %s", json, needle, err);
  }
  es_config_deinit(&cfg);
}

static void test_config(void) {
  check_config("{}", NULL, 0, NULL); /* the default: keep everything */
  check_config("{\"retention_days\": 30}", NULL, 30, NULL);
  check_config("{\"retention_days\": 0}", NULL, 0, NULL);
  check_config("{\"retention_days\": 30}", "7", 7, NULL); /* the flag wins */
  check_config("{\"retention_days\": -1}", NULL, -1, "retention_days");
  check_config("{\"retention_days\": 1.5}", NULL, -1, "retention_days");
  check_config("{\"retention_days\": \"30d\"}", NULL, -1, "retention_days");
  check_config("{\"retention_days\": 99999}", NULL, -1, "retention_days");
  check_config("{}", "ninety", -1, "--retention-days");
  check_config("{}", "-3", -1, "--retention-days");

  /* Whole-number settings: defaults, bounds, fractions refused with the
   * setting's name and range. background_max_rows 0 turns it off. */
#define BG offsetof(struct es_config, background_max_rows)
#define CACHE offsetof(struct es_config, cache_mb)
#define CONNS offsetof(struct es_config, max_connections)
  static const char bg_err[] = "store.background_max_rows must be a whole number from 0 to 100000";
  static const char cache_err[] = "store.cache_mb must be a whole number from 1 to 4096";
  static const char conns_err[] = "limits.max_connections must be a whole number from 1 to 100000";
  const struct { const char *json; size_t field; int want; const char *err; } set[] = {
      {"{}", BG, 1024, NULL},
      {"{\"store\": {\"background_max_rows\": 0}}", BG, 0, NULL},
      {"{\"store\": {\"background_max_rows\": 512}}", BG, 512, NULL},
      {"{\"store\": {\"background_max_rows\": -1}}", BG, -1, bg_err},
      {"{\"store\": {\"background_max_rows\": 100001}}", BG, -1, bg_err},
      {"{\"store\": {\"background_max_rows\": \"many\"}}", BG, -1, bg_err},
      {"{}", CACHE, 16, NULL},
      {"{\"store\": {\"cache_mb\": 1}}", CACHE, 1, NULL},
      {"{\"store\": {\"cache_mb\": 256}}", CACHE, 256, NULL},
      {"{\"store\": {\"cache_mb\": 0}}", CACHE, -1, cache_err},
      {"{\"store\": {\"cache_mb\": 4097}}", CACHE, -1, cache_err},
      {"{\"store\": {\"cache_mb\": 1.5}}", CACHE, -1, cache_err},
      {"{\"limits\": {\"max_connections\": 64}}", CONNS, 64, NULL},
      {"{\"limits\": {\"max_connections\": 10.5}}", CONNS, -1, conns_err},
  };
#undef BG
#undef CACHE
#undef CONNS
  for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
    struct es_config cfg;
    char err[1024];
    int rc = load_config(set[i].json, NULL, &cfg, err, sizeof err);
    if (set[i].want >= 0) {
      if (rc != 0) ES_FAIL_("%s: refused: %s", set[i].json, err);
      unsigned got;
      memcpy(&got, (const char *)&cfg + set[i].field, sizeof got);
      ASSERT_EQ(got, (unsigned)set[i].want);
    } else {
      if (rc != -1) ES_FAIL_("%s: accepted", set[i].json);
      if (strstr(err, set[i].err) == NULL)
        ES_FAIL_("%s: no explanation in %s", set[i].json, err);
    }
    es_config_deinit(&cfg);
  }
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/es_retention_XXXXXX");
  ASSERT(mkdtemp(tmpdir) != NULL);
  snprintf(db, sizeof db, "%s/alerts.db", tmpdir);
  RUN(test_daily_purge);
  RUN(test_off);
  RUN(test_call_rows);
  RUN(test_background);
  RUN(test_starved);
  RUN(test_config);
  ASSERT_EQ(rmdir(tmpdir), 0);
  printf("retention: all passed\n");
  return 0;
}
