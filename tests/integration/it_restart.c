/*
 * it_restart.c: a platform's resend of a line its call no longer remembers,
 * through the real socket and the real store: across a daemon crash
 * (kill -9), or in the same run after the call was closed as abandoned or
 * 32 lines later. A line whose alert was stored but not acknowledged is
 * sent again: the platform gets its alert again, and the supervisor feed no
 * alert id the store does not hold. An id the feed published is never
 * given to another alert, however the crash fell: ids are published only
 * up to a ceiling the store has committed. A call that ended before the
 * crash stays ended. A call closed as abandoned and opened again by a new
 * line keeps the alerts of its second life: they are not resends.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define ZEBRA "we met at the zebra crossing"

static const char *const debug_log[] = {"--log-level", "debug", NULL};

static void start(struct it_daemon *d, const char *config, const char *const *extra) {
  it_daemon_init(d);
  it_rules(d, "base.json");
  if (config)
    it_config(d, config);
  ASSERT_EQ(it_daemon_start(d, extra), 0);
}

static void crash(struct it_daemon *d) {
  ASSERT_EQ(it_daemon_stop(d, SIGKILL), 128 + SIGKILL);
}

static struct it_conn *platform(const struct it_daemon *d) {
  struct it_conn *c = it_connect(d);
  free(it_hello(c, 1));
  return c;
}

/* Subscribes; returns the connection, the daemon's last_id in *last. */
static struct it_conn *subscribe(const struct it_daemon *d, int64_t *last) {
  struct it_conn *s = it_connect(d);
  ASSERT_EQ(it_sendf(s, "{\"type\":\"subscribe\"}"), 0);
  cJSON *m = it_expect(s, "subscribed", -1, NULL, NULL);
  if (last)
    *last = it_jint(m, "last_id");
  cJSON_Delete(m);
  return s;
}

/* Starts the daemon again on its store, subscribes a supervisor (the
 * last_id it is told is returned) and connects a platform. */
static int64_t restart(struct it_daemon *d, struct it_conn **s, struct it_conn **p) {
  int64_t last = 0;
  ASSERT_EQ(it_daemon_start(d, NULL), 0);
  *s = subscribe(d, &last);
  *p = platform(d);
  return last;
}

/* Closes the clients, stops the daemon cleanly, removes its directory. */
static void finish(struct it_daemon *d, struct it_conn *s, struct it_conn *p) {
  it_close(p);
  it_close(s);
  ASSERT_EQ(it_daemon_stop(d, SIGTERM), 0);
  it_daemon_cleanup(d);
}

static void send_zebra(struct it_conn *c, const char *call, int64_t seq, const char *words) {
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"customer\",\"text\":\"%s\","
                        "\"ts\":%" PRId64 ",\"seq\":%" PRId64 "}", call, words, seq, seq), 0);
}

/* Reads the alert of one zebra line (seq), then, when `ack`, its ack. */
static void expect_alert(struct it_conn *c, int64_t seq, int ack) {
  cJSON *m = it_expect(c, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "rule"), "it.trigger");
  ASSERT_EQ(it_jint(m, "seq"), seq);
  cJSON_Delete(m);
  if (ack)
    it_expect_seq(c, "ack", seq);
}

/* The next feed_alert's id, its "ts" (the line's seq) in *seq. */
static int64_t next_feed_id(struct it_conn *s, int64_t *seq) {
  cJSON *m = it_expect(s, "feed_alert", -1, NULL, NULL);
  int64_t id = it_jint(m, "id");
  if (seq)
    *seq = it_jint(m, "ts");
  cJSON_Delete(m);
  return id;
}

/* Everything the feed sent before the answer to a stats request sent now,
 * which the daemon writes after whatever it published already: the ids,
 * in order, into ids[]; returns how many. */
static int feed_until_stats(struct it_conn *s, int64_t *ids, int max) {
  int n = 0;
  ASSERT_EQ(it_sendf(s, "{\"type\":\"stats\"}"), 0);
  for (;;) {
    cJSON *m = it_read_json(s, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "stats") == 0) {
      cJSON_Delete(m);
      return n;
    }
    ASSERT_STR_EQ(it_jtype(m), "feed_alert");
    ASSERT_LT(n, max);
    ids[n++] = it_jint(m, "id");
    cJSON_Delete(m);
  }
}

static int64_t db_int(const char *path, const char *sql, const char *param) {
  sqlite3 *db = it_db_open(path);
  int64_t v = it_db_int(db, sql, param, NULL);
  sqlite3_close(db);
  return v;
}

static int64_t stored_ceiling(const char *path) {
  return db_int(path, "SELECT value FROM daemon_state WHERE name = 'alert_ids_reserved'", NULL);
}

static int stored_id(const char *path, int64_t id) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, id);
  return (int)db_int(path, "SELECT count(*) FROM alerts WHERE id = ?1", buf);
}

/* Takes the store's write lock, as a long commit would: the daemon's
 * writer waits, and nothing it queues is committed until it is released. */
static sqlite3 *lock_store(const char *path) {
  sqlite3 *db = NULL;
  ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, it_scaled(IT_WAIT_MS));
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  return db;
}

static void unlock_store(sqlite3 *db) {
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
}

/* 1. A line committed but not acknowledged before the crash is sent again:
 * the platform gets its alert again; the store keeps the one row, and the
 * feed publishes no new id for it (it published the stored one then). */
static void test_resent_alert_keeps_its_id(void) {
  struct it_daemon d;
  int64_t first, last = 0, seq = 0;
  start(&d, NULL, NULL);

  struct it_conn *s = subscribe(&d, NULL);
  struct it_conn *p = platform(&d);
  send_zebra(p, "ph", 1, ZEBRA);
  expect_alert(p, 1, 1);
  first = next_feed_id(s, NULL);
  /* The ack is lost with the daemon: the platform will send line 1 again. */
  crash(&d);
  it_close(p);
  it_close(s);
  ASSERT_EQ(stored_id(d.db, first), 1);

  last = restart(&d, &s, &p);
  ASSERT_GE(last, first);
  send_zebra(p, "ph", 1, ZEBRA);
  expect_alert(p, 1, 1);
  send_zebra(p, "ph", 2, "the zebra crossing again");
  expect_alert(p, 2, 1);
  /* The feed's next alert is line 2's: nothing for line 1, which it had. */
  int64_t id = next_feed_id(s, &seq);
  ASSERT_EQ(seq, 2);
  ASSERT_GT(id, last);
  ASSERT_EQ(stored_id(d.db, id), 1);
  ASSERT_EQ(it_stat(p, "resent_alerts"), 1);
  ASSERT_EQ(db_int(d.db, "SELECT count(*) FROM alerts WHERE call_id = ?1", "ph"), 2);
  ASSERT_EQ(db_int(d.db, "SELECT min(id) FROM alerts WHERE call_id = ?1", "ph"), first);
  finish(&d, s, p);
}

/* 2. Alerts published but never committed (the crash lost them): their
 * ids are not given to other alerts after the restart, the alerts of the
 * lines sent again included. */
static void test_lost_ids_not_reused(void) {
  struct it_daemon d;
  int64_t lost[2];
  start(&d, NULL, NULL);

  struct it_conn *s = subscribe(&d, NULL);
  struct it_conn *p = platform(&d);
  send_zebra(p, "lost", 1, ZEBRA);
  expect_alert(p, 1, 1);
  int64_t kept = next_feed_id(s, NULL);
  sqlite3 *lock = lock_store(d.db);
  send_zebra(p, "lost", 2, ZEBRA " two");
  send_zebra(p, "lost", 3, ZEBRA " three");
  expect_alert(p, 2, 0);
  expect_alert(p, 3, 0);
  lost[0] = next_feed_id(s, NULL);
  lost[1] = next_feed_id(s, NULL);
  ASSERT_EQ(lost[0], kept + 1);
  ASSERT_EQ(lost[1], kept + 2);
  crash(&d);
  unlock_store(lock);
  it_close(p);
  it_close(s);
  ASSERT_EQ(stored_id(d.db, lost[0]) + stored_id(d.db, lost[1]), 0);

  restart(&d, &s, &p);
  send_zebra(p, "lost", 2, ZEBRA " two");
  send_zebra(p, "lost", 3, ZEBRA " three");
  send_zebra(p, "new", 4, ZEBRA " four");
  ASSERT_EQ(it_alerts_until_ack(p, 4), 3);
  for (int i = 0; i < 3; i++) {
    int64_t id = next_feed_id(s, NULL);
    ASSERT_GT(id, lost[1]);
    ASSERT_EQ(stored_id(d.db, id), 1);
  }
  ASSERT_EQ(stored_id(d.db, lost[0]) + stored_id(d.db, lost[1]), 0);
  finish(&d, s, p);
}

/* 3. The ids given out overtake the ceiling the store has committed (its
 * writer held up): the feed publishes ids up to that ceiling only; the
 * rest follow, in order, once the store commits the next. After a crash
 * the next id is above every one published. */
static void test_feed_waits_for_reserved_ids(void) {
  struct it_daemon d;
  int64_t ids[64], last = 0;
  int n;
  start(&d, "{\"store\": {\"alert_id_block\": 16}}", NULL);

  struct it_conn *s = subscribe(&d, &last);
  ASSERT_EQ(last, 0);
  struct it_conn *p = platform(&d);
  for (int64_t seq = 1; seq <= 4; seq++) {
    send_zebra(p, "held", seq, ZEBRA);
    expect_alert(p, seq, 1);
  }
  n = feed_until_stats(s, ids, 64);
  ASSERT_EQ(n, 4);
  ASSERT_EQ(ids[3], 4);

  /* The writer is held up; the platform's alerts leave at once. */
  sqlite3 *lock = lock_store(d.db);
  int64_t ceiling = stored_ceiling(d.db);
  ASSERT_EQ(ceiling, 16); /* the first block, reserved when the daemon started */
  for (int64_t seq = 5; seq <= 24; seq++) {
    send_zebra(p, "held", seq, ZEBRA);
    expect_alert(p, seq, 0);
  }
  n = feed_until_stats(s, ids, 64);
  ASSERT_EQ(n, (int)(ceiling - 4));
  for (int i = 0; i < n; i++)
    ASSERT_EQ(ids[i], 5 + i);
  /* What is not published is not known: a new subscriber starts at the
   * ceiling, a mark above it is refused. */
  int64_t shown = 0;
  struct it_conn *s2 = subscribe(&d, &shown);
  ASSERT_EQ(shown, ceiling);
  ASSERT_EQ(it_sendf(s2, "{\"type\":\"mark\",\"alert_id\":%" PRId64 ",\"mark\":\"taken\"}",
                     ceiling + 1), 0);
  cJSON *m = it_expect(s2, "error", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "code"), "unknown_alert");
  cJSON_Delete(m);
  it_close(s2);

  /* The store catches up: the rest, in order, then the acks. */
  unlock_store(lock);
  for (int64_t id = ceiling + 1; id <= 24; id++)
    ASSERT_EQ(next_feed_id(s, NULL), id);
  ASSERT_EQ(it_alerts_until_ack(p, 24), 0);
  ASSERT_GE(stored_ceiling(d.db), 24);

  /* Held up again, then a crash: the feed stopped at the committed
   * ceiling, and the next start goes on above it. */
  lock = lock_store(d.db);
  ceiling = stored_ceiling(d.db);
  for (int64_t seq = 25; seq <= 25 + 24; seq++) {
    send_zebra(p, "held", seq, ZEBRA);
    expect_alert(p, seq, 0);
  }
  n = feed_until_stats(s, ids, 64);
  ASSERT_GT(n, 0);
  ASSERT_EQ(ids[n - 1], ceiling);
  crash(&d);
  unlock_store(lock);
  it_close(p);
  it_close(s);
  ASSERT_EQ(stored_ceiling(d.db), ceiling);

  ASSERT_EQ(restart(&d, &s, &p), ceiling);
  send_zebra(p, "after", 1, ZEBRA);
  expect_alert(p, 1, 1);
  ASSERT_EQ(next_feed_id(s, NULL), ceiling + 1);
  finish(&d, s, p);
}

/* 4. A clean stop gives back the ids it reserved and did not use: the
 * next start goes on without a gap. */
static void test_clean_stop_leaves_no_gap(void) {
  struct it_daemon d;
  int64_t ids[64];
  start(&d, "{\"store\": {\"alert_id_block\": 16}}", NULL);
  struct it_conn *s = subscribe(&d, NULL);
  struct it_conn *p = platform(&d);
  for (int64_t seq = 1; seq <= 30; seq++)
    send_zebra(p, "gapless", seq, ZEBRA);
  ASSERT_EQ(it_alerts_until_ack(p, 30), 30);
  ASSERT_EQ(feed_until_stats(s, ids, 64), 30);
  ASSERT_EQ(ids[29], 30);
  ASSERT_GT(stored_ceiling(d.db), 30); /* raised ahead, twice */
  it_close(p);
  it_close(s);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_EQ(stored_ceiling(d.db), 30);

  ASSERT_EQ(restart(&d, &s, &p), 30);
  send_zebra(p, "gapless-2", 1, ZEBRA);
  expect_alert(p, 1, 1);
  ASSERT_EQ(next_feed_id(s, NULL), 31);
  finish(&d, s, p);
}

/* 5. A call ended before the crash stays ended: a line for it that comes
 * later (late, or sent again) gets call_ended and its ack, an "end" sent
 * again is answered as the first one was, and its row keeps its end. A call
 * the crash left open goes on. */
static void test_ended_call_stays_ended(void) {
  struct it_daemon d;
  start(&d, NULL, NULL);
  struct it_conn *p = platform(&d);
  ASSERT_EQ(it_sendf(p, "{\"type\":\"start\",\"call_id\":\"gone\",\"queue\":\"billing\","
                        "\"seq\":1}"), 0);
  send_zebra(p, "gone", 2, ZEBRA);
  ASSERT_EQ(it_sendf(p, "{\"type\":\"end\",\"call_id\":\"gone\",\"ts\":3,\"seq\":3}"), 0);
  send_zebra(p, "open", 4, ZEBRA);
  ASSERT_EQ(it_alerts_until_ack(p, 4), 2);
  crash(&d);
  it_close(p);
  sqlite3 *db = it_db_open(d.db);
  char *ended = it_db_text(db, "SELECT ended || '/' || end_reason || '/' || alert_count FROM "
                               "calls WHERE call_id = 'gone'", NULL);
  sqlite3_close(db);
  ASSERT(ended != NULL);

  for (int round = 0; round < 2; round++) {
    /* After a crash, then after a clean stop. */
    ASSERT_EQ(it_daemon_start(&d, NULL), 0);
    p = platform(&d);
    send_zebra(p, "gone", 2, ZEBRA);
    it_expect_error_acked(p, "call_ended", 2);
    ASSERT_EQ(it_sendf(p, "{\"type\":\"end\",\"call_id\":\"gone\",\"ts\":3,\"seq\":3}"), 0);
    it_expect_seq(p, "ack", 3);
    send_zebra(p, "open", 5 + round, ZEBRA " again");
    expect_alert(p, 5 + round, 1);
    ASSERT_EQ(it_stat(p, "open_calls"), 1);
    it_close(p);
    ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
    db = it_db_open(d.db);
    char *now = it_db_text(db, "SELECT ended || '/' || end_reason || '/' || alert_count FROM "
                                "calls WHERE call_id = 'gone'", NULL);
    ASSERT_STR_EQ(now, ended);
    free(now);
    ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'gone'", NULL), 1);
    ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = 'open' AND "
                            "end_reason = 'shutdown'", NULL), 1);
    sqlite3_close(db);
  }
  free(ended);
  it_daemon_cleanup(&d);
}

/* Starts the daemon (logging at debug level) with a supervisor and a
 * platform, which sends line 1 of `call`; returns its alert's id. */
static int64_t start_with_alert(struct it_daemon *d, const char *config, const char *call,
                                struct it_conn **s, struct it_conn **p) {
  start(d, config, debug_log);
  *s = subscribe(d, NULL);
  *p = platform(d);
  send_zebra(*p, call, 1, ZEBRA);
  expect_alert(*p, 1, 1);
  return next_feed_id(*s, NULL);
}

/* The platform sends line `seq` of `call` again (its first alert: id
 * `first`) after the call has forgotten it, then a new line `next`: it gets
 * the alert again; the feed has nothing for it, and goes on with the new
 * line's; the store keeps the one row, under the first id; the log names
 * that id; stats count it in resent_alerts. */
static void expect_resend_known(struct it_daemon *d, struct it_conn *s, struct it_conn *p,
                                const char *call, int64_t seq, int64_t first, int64_t next) {
  char pattern[96], needle[96];
  int64_t feed_seq = 0;
  send_zebra(p, call, seq, ZEBRA);
  expect_alert(p, seq, 0);
  it_expect_seq(p, "ack", next - 1); /* acks never go back */
  send_zebra(p, call, next, ZEBRA " once more");
  expect_alert(p, next, 1);
  int64_t id = next_feed_id(s, &feed_seq);
  ASSERT_GT(id, first);
  ASSERT_EQ(feed_seq, next);
  ASSERT_EQ(stored_id(d->db, id), 1);
  ASSERT_EQ(it_stat(p, "resent_alerts"), 1);
  snprintf(pattern, sizeof(pattern), "%s/s%" PRId64 "/%%", call, seq);
  ASSERT_EQ(db_int(d->db, "SELECT count(*) FROM alerts WHERE alert_key LIKE ?1", pattern), 1);
  ASSERT_EQ(db_int(d->db, "SELECT id FROM alerts WHERE alert_key LIKE ?1", pattern), first);
  ASSERT_EQ(db_int(d->db, "SELECT count(*) FROM alerts WHERE call_id = ?1", call), 2);
  snprintf(needle, sizeof(needle), "already raised as alert %" PRId64 ";", first);
  ASSERT(it_wait_log(d, 0, needle, 0) >= 0);
}

/* 6. In the same run, a line resent after its call was closed as abandoned
 * (the call's memory of its lines went with it): the alert keeps its id. */
static void test_resend_after_abandoned_keeps_id(void) {
  struct it_daemon d;
  struct it_conn *s, *p;
  int64_t first = start_with_alert(&d, "{\"call_idle_timeout\": 1}", "idle", &s, &p);
  ASSERT(it_wait_log(&d, 0, "call idle idle for", -1) >= 0);
  ASSERT_EQ(it_stat(p, "open_calls"), 0);
  expect_resend_known(&d, s, p, "idle", 1, first, 2);
  finish(&d, s, p);
}

/* 7. In the same run, a line resent after 32 later lines of its call (past
 * ES_CALL_RECENT, so handled again): the alert keeps its id. */
static void test_resend_past_recent_keeps_id(void) {
  struct it_daemon d;
  struct it_conn *s, *p;
  int64_t first = start_with_alert(&d, NULL, "long", &s, &p);
  for (int64_t seq = 2; seq <= 34; seq++)
    ASSERT_EQ(it_sendf(p, "{\"call_id\":\"long\",\"speaker\":\"agent\",\"text\":\"line %" PRId64
                          "\",\"ts\":%" PRId64 ",\"seq\":%" PRId64 "}", seq, seq, seq), 0);
  ASSERT_EQ(it_alerts_until_ack(p, 34), 0);
  ASSERT_EQ(it_stat(p, "resent_lines"), 0);
  expect_resend_known(&d, s, p, "long", 1, first, 35);
  ASSERT_EQ(it_stat(p, "resent_lines"), 0); /* handled again, not recognised as a line */
  finish(&d, s, p);
}

/* The next alert on c (acks off: nothing else comes) is of `rule`. */
static void expect_rule(struct it_conn *c, const char *rule) {
  cJSON *m = it_expect(c, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "rule"), rule);
  cJSON_Delete(m);
}

/* One life of call "again" until it is closed as abandoned: a line with a
 * seq (its own text), a line without seq or ts (the same text each time),
 * dead air, then the deadline its end fires. */
#define ABANDONED "call again idle for 4 s: closed as abandoned"

static void abandoned_life(struct it_daemon *d, struct it_conn *p, int life) {
  ASSERT_EQ(it_sendf(p, "{\"call_id\":\"again\",\"speaker\":\"customer\",\"text\":\"" ZEBRA
                        " %d\",\"ts\":1,\"seq\":%d}", life, life), 0);
  expect_rule(p, "it.trigger");
  ASSERT_EQ(it_sendf(p, "{\"call_id\":\"again\",\"speaker\":\"customer\",\"text\":\"the zebra "
                        "crossing again\"}"), 0);
  expect_rule(p, "it.trigger");
  expect_rule(p, "it.dead-air"); /* raised by the timer, between lines */
  expect_rule(p, "it.unanswered"); /* raised when the call is closed */
  ASSERT(it_wait_log(d, 0, ABANDONED, -1) >= 0);
  ASSERT_EQ(it_log_count(d, ABANDONED), life);
}

/* 8. A call closed as abandoned, then opened again by a line for it: the
 * alerts of its second life whose keys count its lines (a line without seq
 * or ts, dead air, the deadline its end fires) are not taken for resends
 * of its first life's, which have the same line count: each is stored and
 * published. The first life's keys are those of any call. */
static void test_reopened_call_keeps_its_alerts(void) {
  struct it_daemon d;
  int64_t ids[16];
  it_daemon_init(&d);
  it_rules(&d, "reopen.json");
  it_config(&d, "{\"call_idle_timeout\": 4}");
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  struct it_conn *s = subscribe(&d, NULL);
  struct it_conn *p = it_connect(&d);
  free(it_hello(p, 0));

  abandoned_life(&d, p, 1);
  abandoned_life(&d, p, 2);
  ASSERT_EQ(feed_until_stats(s, ids, 16), 8);
  struct it_conn *q = it_connect(&d);
  ASSERT_EQ(it_stat(q, "resent_alerts"), 0);
  ASSERT_EQ(it_stat(q, "calls_abandoned"), 2);
  it_close(q);
  ASSERT_EQ(it_log_count(&d, "already raised as alert"), 0);
  it_close(p);
  it_close(s);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0); /* a clean stop commits what was queued */

  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'again'", NULL), 8);
  ASSERT_EQ(it_db_int(db, "SELECT count(DISTINCT alert_key) FROM alerts", NULL), 8);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.trigger'", NULL), 4);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.dead-air'", NULL), 2);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.unanswered'", NULL), 2);
  /* The first life's keys, as a call never reopened has them. */
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE alert_key IN ("
                          "'again/idle2/it.dead-air', 'again/end2/it.unanswered')", NULL), 2);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE alert_key LIKE 'again/n2/%/it.trigger'",
                      NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = 'again' AND "
                          "end_reason = 'abandoned'", NULL), 1);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_resent_alert_keeps_its_id);
  RUN(test_lost_ids_not_reused);
  RUN(test_feed_waits_for_reserved_ids);
  RUN(test_clean_stop_leaves_no_gap);
  RUN(test_ended_call_stays_ended);
  RUN(test_resend_after_abandoned_keeps_id);
  RUN(test_resend_past_recent_keeps_id);
  RUN(test_reopened_call_keeps_its_alerts);
  return 0;
}
