/*
 * it_lifecycle.c: earshotd's life and death. SIGTERM under load loses no
 * alert; SIGKILL loses nothing acknowledged and leaves a sound database a
 * restart goes on with; a stale socket is replaced and a live one is not
 * stolen; one database has one daemon, and a killed one leaves no lock;
 * --check-config and bad startup settings fail loudly.
 */
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NSTREAM 4000

/* Line i of a stream: one it.trigger alert each, on one of four calls;
 * ts = i so that call_ts names the line in the database. */
static void stream_line(struct it_str *s, const char *prefix, int i) {
  it_str_addf(s, "{\"call_id\":\"%s-%d\",\"speaker\":\"customer\",\"text\":\"line %d at the "
                 "zebra crossing\",\"ts\":%d,\"seq\":%d}\n",
              prefix, i % 4, i, i, i);
}

static void assert_integrity(const char *path) {
  sqlite3 *db = it_db_open(path);
  char *ok = it_db_text(db, "PRAGMA integrity_check", NULL);
  ASSERT_STR_EQ(ok, "ok");
  free(ok);
  sqlite3_close(db);
}

struct received {
  int alerts[NSTREAM + 1];
  int64_t last_ack, max_alert;
  int nacks;
};

static void take_messages(struct it_conn *c, struct received *r) {
  char *line;
  while ((line = it_take_line(c)) != NULL) {
    cJSON *m = cJSON_Parse(line);
    if (m == NULL)
      IT_FAIL("not JSON: %s", line);
    if (strcmp(it_jtype(m), "alert") == 0) {
      int64_t seq = it_jint(m, "seq");
      ASSERT(seq >= 1 && seq <= NSTREAM);
      ASSERT_STR_EQ(it_jstr(m, "rule"), "it.trigger");
      r->alerts[seq]++;
      if (seq > r->max_alert)
        r->max_alert = seq;
    } else if (strcmp(it_jtype(m), "ack") == 0) {
      ASSERT_GT(it_jint(m, "seq"), r->last_ack);
      r->last_ack = it_jint(m, "seq");
      r->nacks++;
    } else {
      IT_FAIL("unexpected message %s", line);
    }
    cJSON_Delete(m);
    free(line);
  }
}

/* ---- 6. SIGTERM under load ------------------------------------------------- */

static void test_sigterm_under_load(void) {
  struct it_daemon d;
  struct it_str out = {0};
  static size_t line_end[NSTREAM + 1];
  static struct received r;
  size_t sent = 0;
  int signalled = 0, writing = 1;

  memset(&r, 0, sizeof(r));
  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  for (int i = 1; i <= NSTREAM; i++) {
    stream_line(&out, "term", i);
    line_end[i] = out.len;
  }

  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  while (!c->eof) {
    if (writing && sent < out.len) {
      long n = it_send_some(c, out.p + sent, out.len - sent < 4096 ? out.len - sent : 4096);
      if (n < 0)
        writing = 0; /* the daemon closed: it stopped */
      else
        sent += (size_t)n;
    }
    if (!signalled && r.max_alert >= NSTREAM / 4) {
      /* Mid-stream: lines are in flight both ways. */
      ASSERT_EQ(kill(d.pid, SIGTERM), 0);
      signalled = 1;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (writing && sent < out.len ? POLLOUT : 0)};
    ASSERT(it_now_ms() < deadline);
    it_poll(&pfd, 1, (int)(deadline - it_now_ms()));
    it_recv_some(c);
    take_messages(c, &r);
  }
  ASSERT(signalled);
  ASSERT_EQ(it_daemon_wait_exit(&d, -1), 0);
  ASSERT(it_wait_log(&d, 0, "every alert committed", 0) >= 0);

  /* What was processed is a prefix of the stream, every line of it alerted
   * once and acknowledged by the last ack before the close. */
  ASSERT_GT(r.last_ack, 0);
  ASSERT_EQ(r.max_alert, r.last_ack);
  for (int64_t i = 1; i <= NSTREAM; i++)
    ASSERT_EQ(r.alerts[i], i <= r.last_ack);
  ASSERT(line_end[r.last_ack] <= sent);
  int written = 0;
  while (written < NSTREAM && line_end[written + 1] <= sent)
    written++;
  fprintf(stderr, "   SIGTERM after %d alerts; %d lines written, %" PRId64
                  " processed and acked (%d acks); exit 0\n",
          NSTREAM / 4, written, r.last_ack, r.nacks);

  /* Every alert the client received is in the database, and no other. */
  sqlite3 *db = it_db_open(d.db);
  char buf[32];
  snprintf(buf, sizeof(buf), "%" PRId64, r.last_ack);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), r.last_ack);
  ASSERT_EQ(it_db_int(db, "SELECT count(DISTINCT call_ts) FROM alerts WHERE rule_id = "
                          "'it.trigger' AND call_ts BETWEEN 1 AND ?1", buf, NULL), r.last_ack);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE end_reason = 'shutdown'", NULL), 4);
  sqlite3_close(db);
  assert_integrity(d.db);
  ASSERT(!it_file_exists(d.sock));

  it_close(c);
  it_str_free(&out);
  it_daemon_cleanup(&d);
}

/* ---- 7. SIGKILL, then a restart on the same database ----------------------- */

static void test_sigkill_and_restart(void) {
  struct it_daemon d;
  struct it_str out = {0};
  static size_t line_end[NSTREAM + 1];
  static struct received r;
  size_t sent = 0;
  int killed = 0;
  char buf[32];

  memset(&r, 0, sizeof(r));
  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  for (int i = 1; i <= NSTREAM; i++) {
    stream_line(&out, "kill", i);
    line_end[i] = out.len;
  }

  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  while (!c->eof) {
    /* At most 300 lines past the last ack, so that acks keep coming. */
    int64_t upto = r.last_ack + 300 < NSTREAM ? r.last_ack + 300 : NSTREAM;
    if (!killed && sent < line_end[upto]) {
      long n = it_send_some(c, out.p + sent, line_end[upto] - sent < 4096 ? line_end[upto] - sent : 4096);
      ASSERT(n >= 0);
      sent += (size_t)n;
    }
    if (!killed && r.last_ack >= NSTREAM / 4) {
      ASSERT_EQ(kill(d.pid, SIGKILL), 0);
      killed = 1;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (!killed && sent < line_end[upto] ? POLLOUT : 0)};
    ASSERT(it_now_ms() < deadline);
    it_poll(&pfd, 1, (int)(deadline - it_now_ms()));
    it_recv_some(c);
    take_messages(c, &r); /* acks read after the kill were sent before it: they count */
  }
  ASSERT_EQ(it_daemon_wait_exit(&d, -1), 128 + SIGKILL);
  it_close(c);
  fprintf(stderr, "   SIGKILL with %" PRId64 " lines acked, %" PRId64 " alerted\n", r.last_ack,
          r.max_alert);

  /* Every acknowledged alert is there; the file is sound. */
  assert_integrity(d.db);
  sqlite3 *db = it_db_open(d.db);
  snprintf(buf, sizeof(buf), "%" PRId64, r.last_ack);
  ASSERT_EQ(it_db_int(db, "SELECT count(DISTINCT call_ts) FROM alerts WHERE rule_id = "
                          "'it.trigger' AND call_ts BETWEEN 1 AND ?1", buf, NULL), r.last_ack);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_ts BETWEEN 1 AND ?1", buf,
                      NULL), r.last_ack);
  /* Beyond the acks there may be more (committed, ack not yet out): always
   * whole lines in stream order, never a hole. */
  int64_t before = it_db_int(db, "SELECT count(*) FROM alerts", NULL);
  ASSERT_GE(before, r.last_ack);
  ASSERT_EQ(it_db_int(db, "SELECT max(call_ts) FROM alerts", NULL), before);
  sqlite3_close(db);

  /* The restart replaces the socket the killed daemon left behind. */
  ASSERT(it_file_exists(d.sock));
  size_t from = d.log_len;
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  ASSERT(it_wait_log(&d, from, "removing stale socket", 0) >= 0);
  c = it_connect(&d);
  free(it_hello(c, 1));
  for (int i = 1; i <= 10; i++)
    ASSERT_EQ(it_sendf(c, "{\"call_id\":\"after-kill\",\"speaker\":\"agent\",\"text\":\"new "
                          "zebra crossing %d\",\"ts\":%d,\"seq\":%d}", i, 10000 + i, i), 0);
  int alerts = 0;
  for (;;) {
    cJSON *m = it_read_json(c, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "alert") == 0)
      alerts++;
    int done = strcmp(it_jtype(m), "ack") == 0 && it_jint(m, "seq") == 10;
    cJSON_Delete(m);
    if (done)
      break;
  }
  ASSERT_EQ(alerts, 10);
  /* A platform resending an acknowledged line: answered again, stored once. */
  struct it_conn *again = it_connect(&d);
  free(it_hello(again, 1));
  out.len = 0;
  stream_line(&out, "kill", 1);
  ASSERT_EQ(it_send(again, out.p, out.len), 0);
  cJSON *m = it_expect(again, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "call_id"), "kill-1");
  cJSON_Delete(m);
  it_expect_seq(again, "ack", 1);
  it_close(again);
  db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'after-kill'", NULL), 10);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'kill-1' AND call_ts = 1",
                      NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), before + 10);
  sqlite3_close(db);

  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  assert_integrity(d.db);
  it_str_free(&out);
  it_daemon_cleanup(&d);
}

/* ---- 9. a stale socket is replaced; a live one is not taken over ------------- */

static void expect_trigger(struct it_conn *c, const char *call) {
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"agent\",\"text\":\"zebra crossing\"}",
                     call), 0);
  cJSON *m = it_expect(c, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "call_id"), call);
  cJSON_Delete(m);
}

static void test_stale_and_live_socket(void) {
  struct it_daemon d, d2;
  struct sockaddr_un sa;
  struct stat st;

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  /* A socket file nobody listens on, as a crashed daemon leaves it. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  ASSERT(strlen(d.sock) < sizeof(sa.sun_path));
  memcpy(sa.sun_path, d.sock, strlen(d.sock) + 1);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  close(fd);
  ASSERT(lstat(d.sock, &st) == 0 && S_ISSOCK(st.st_mode));

  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  ASSERT(it_wait_log(&d, 0, "removing stale socket", 0) >= 0);
  struct it_conn *c1 = it_connect(&d);
  expect_trigger(c1, "stale-1");

  /* A second daemon on the live socket (its own database) exits 1. */
  it_daemon_init(&d2);
  it_rules(&d2, "base.json");
  snprintf(d2.sock, sizeof(d2.sock), "%s", d.sock);
  ASSERT_EQ(it_daemon_start(&d2, NULL), -1);
  ASSERT_EQ(it_exit_code(d2.status), 1);
  ASSERT_CONTAINS(d2.log, "another earshotd is listening on");
  ASSERT_CONTAINS(d2.log, d.sock);
  it_daemon_cleanup(&d2);

  /* The first keeps working, for the old client and new ones. */
  expect_trigger(c1, "stale-2");
  struct it_conn *c2 = it_connect(&d);
  expect_trigger(c2, "stale-3");

  /* Something else at the socket path is never removed. */
  it_daemon_init(&d2);
  it_rules(&d2, "base.json");
  it_write_file(d2.sock, "not a socket", 12);
  ASSERT_EQ(it_daemon_start(&d2, NULL), -1);
  ASSERT_EQ(it_exit_code(d2.status), 1);
  ASSERT_CONTAINS(d2.log, "is not a socket");
  ASSERT(it_file_contains(d2.sock, "not a socket", 12));
  it_daemon_cleanup(&d2);

  it_close(c1);
  it_close(c2);
  ASSERT_EQ(it_daemon_stop(&d, SIGINT), 0); /* SIGINT stops gracefully too */
  ASSERT(it_wait_log(&d, 0, "SIGINT: stopping", 0) >= 0);
  ASSERT(!it_file_exists(d.sock));

  /* A daemon whose socket file was deleted, and a second one started on
   * the path meanwhile: the first one's exit leaves the second's socket. */
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  ASSERT_EQ(unlink(d.sock), 0);
  it_daemon_init(&d2);
  it_rules(&d2, "base.json");
  snprintf(d2.sock, sizeof(d2.sock), "%s", d.sock);
  ASSERT_EQ(it_daemon_start(&d2, NULL), 0);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT(it_wait_log(&d, 0, "no longer the socket this daemon made", 0) >= 0);
  c1 = it_connect(&d2);
  expect_trigger(c1, "second");
  it_close(c1);
  ASSERT_EQ(it_daemon_stop(&d2, SIGTERM), 0);
  ASSERT(!it_file_exists(d2.sock));
  it_daemon_cleanup(&d2);
  it_daemon_cleanup(&d);
}

/* ---- 10. one earshotd per database ---------------------------------------------- */

/* A second daemon with its own socket and `db`: exit 1, saying that the
 * database is in use by the daemon `holder`, before it touched its socket. */
static void expect_refused(struct it_daemon *second, const char *db, const struct it_daemon *holder) {
  char pid[32];
  size_t from = second->log_len;

  if (db != second->db)
    snprintf(second->db, sizeof(second->db), "%s", db);
  ASSERT_EQ(it_daemon_start(second, NULL), -1);
  ASSERT_EQ(it_exit_code(second->status), 1);
  ASSERT_CONTAINS(second->log + from, "is in use by another earshotd");
  ASSERT_CONTAINS(second->log + from, db);
  snprintf(pid, sizeof(pid), "(pid %d,", (int)holder->pid);
  ASSERT_CONTAINS(second->log + from, pid);
  ASSERT(strstr(second->log + from, "socket") == NULL);
}

/* expect_trigger() with acks on: once it returns, the alert and every one
 * before it are committed. */
static void committed_trigger(struct it_conn *c, const char *call, int seq) {
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"agent\",\"text\":\"zebra crossing\","
                        "\"seq\":%d}", call, seq), 0);
  it_expect_seq(c, "alert", seq);
  it_expect_seq(c, "ack", seq);
}

/* The earshot command on the database: exit 0. */
static void cli_ok(const char *const *argv, const char *needle) {
  char *out;
  int rc = it_run(argv, &out, -1);
  if (rc != 0 || strstr(out, needle) == NULL)
    IT_FAIL("earshot %s: exit %d, expected 0 and \"%s\"; output:\n%s", argv[1], rc, needle, out);
  free(out);
}

static void test_one_daemon_per_database(void) {
  struct it_daemon d, d2;
  char alias[256], lock[PATH_MAX + 32], real[PATH_MAX], *out;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  expect_trigger(c, "first-1");

  /* Its own socket, the same database: refused, also by another path to
   * the file (a link to its directory), and also when detaching (the exit
   * status says so), while --check-config takes no lock. */
  it_daemon_init(&d2);
  it_rules(&d2, "base.json");
  expect_refused(&d2, d.db, &d);
  ASSERT(!it_file_exists(d2.sock));
  snprintf(alias, sizeof(alias), "%s/alias", d2.dir);
  ASSERT_EQ(symlink(d.dir, alias), 0);
  snprintf(alias, sizeof(alias), "%s/alias/alerts.db", d2.dir);
  expect_refused(&d2, alias, &d);
  const char *detached[] = {"--socket", d2.sock, "--db", d.db, "--rules", d2.rules, NULL};
  ASSERT_EQ(it_run_earshotd(detached, &out, -1), 1);
  ASSERT_CONTAINS(out, "is in use by another earshotd");
  free(out);
  const char *checking[] = {"--check-config", "--socket", d2.sock, "--db", d.db, "--rules",
                            d2.rules, NULL};
  ASSERT_EQ(it_run_earshotd(checking, &out, -1), 0);
  ASSERT_CONTAINS(out, "configuration OK");
  free(out);

  /* The first one is unaffected; the analysts' command reads the database
   * and writes a mark meanwhile. */
  expect_trigger(c, "first-2");
  struct it_conn *c2 = it_connect(&d);
  free(it_hello(c2, 1));
  committed_trigger(c2, "first-3", 1);
  const char *alerts[] = {ES_EARSHOT_CLI, "alerts", "--db", d.db, "--format", "csv", NULL};
  cli_ok(alerts, "first-3");
  const char *ack[] = {ES_EARSHOT_CLI, "ack", "1", "--taken", "--by", "qa", "--db", d.db, NULL};
  cli_ok(ack, "alert 1 marked taken by qa");
  committed_trigger(c2, "first-4", 2);
  it_close(c2);

  /* kill -9 leaves the lock file and no lock: the second one starts at
   * once, and its alert ids go on above every one the first may have
   * given out (after a crash, with a gap: docs/protocol.md). */
  ASSERT_EQ(it_daemon_stop(&d, SIGKILL), 128 + SIGKILL);
  it_close(c);
  ASSERT(realpath(d.db, real) != NULL);
  snprintf(lock, sizeof(lock), "%s-earshotd.lock", real);
  ASSERT(it_file_exists(lock));
  snprintf(d2.db, sizeof(d2.db), "%s", d.db);
  ASSERT_EQ(it_daemon_start(&d2, NULL), 0);
  c = it_connect(&d2);
  expect_trigger(c, "second-1");
  it_close(c);

  /* Now the first one is the one refused, by the second's pid; once the
   * second stops, it starts again. */
  expect_refused(&d, d.db, &d2);
  ASSERT_EQ(it_daemon_stop(&d2, SIGTERM), 0);
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), 5);
  ASSERT_EQ(it_db_int(db, "SELECT count(DISTINCT id) FROM alerts", NULL), 5);
  ASSERT_GT(it_db_int(db, "SELECT id FROM alerts WHERE call_id = 'second-1'", NULL), 4);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE alert_id = 1", NULL), 1);
  sqlite3_close(db);
  assert_integrity(d.db);
  it_daemon_cleanup(&d2);
  it_daemon_cleanup(&d);
}

/* ---- 11. --check-config and bad startup settings ------------------------------ */

static char rules_path[512];

static const char *rules_file(const char *name) {
  snprintf(rules_path, sizeof(rules_path), "%s/%s", IT_RULES_DIR, name);
  return rules_path;
}

/* Runs earshotd --check-config with `args`; checks the exit code and that
 * the output holds each of `needles` (NULL-terminated). */
static void check(const char *what, const char *const *args, int code,
                  const char *const *needles) {
  char *out;
  int rc = it_run_earshotd(args, &out, -1);
  if (rc != code)
    IT_FAIL("%s: exit %d, expected %d; output:\n%s", what, rc, code, out);
  for (int i = 0; needles[i]; i++)
    if (strstr(out, needles[i]) == NULL)
      IT_FAIL("%s: output lacks \"%s\":\n%s", what, needles[i], out);
  fprintf(stderr, "   %-34s exit %d\n", what, rc);
  free(out);
}

static void test_check_config(void) {
  struct it_daemon d;
  char cfg[256], rules_cfg[1024], base[512];

  it_daemon_init(&d);
  snprintf(cfg, sizeof(cfg), "%s", d.config);
#define ARGS(...) ((const char *const[]){"--check-config", "--socket", d.sock, "--db", d.db, __VA_ARGS__, NULL})
#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})
  snprintf(base, sizeof(base), "%s", rules_file("base.json"));

  check("good rules", ARGS("--rules", rules_file("base.json")), 0,
        NEEDLES("configuration OK", "3 rules"));
  check("malformed rules", ARGS("--rules", rules_file("broken_json.json")), 1,
        NEEDLES("broken_json.json:5:", "malformed JSON", "cannot load rules"));
  check("rule whose example fails", ARGS("--rules", rules_file("broken_example.json")), 1,
        NEEDLES("broken_example.json:", "it.bad-example", "example should match"));
  check("missing rules file", ARGS("--rules", rules_file("no-such-file.json")), 1,
        NEEDLES("no-such-file.json", "cannot open"));
  check("two files, one broken",
        ARGS("--rules", rules_file("base.json"), "--rules", rules_file("broken_example.json")), 1,
        NEEDLES("it.bad-example"));

  it_config(&d, "{\"bogus_key\": 1}");
  check("unknown config key", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("unknown setting \"bogus_key\"", "config.json"));
  it_config(&d, "{\"limits\": {\"max_lines\": 5}}");
  check("unknown limit", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("unknown limit \"max_lines\""));
  it_config(&d, "{\"store\": {\"fsync\": true}}");
  check("unknown store setting", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("unknown store setting \"fsync\""));
  it_config(&d, "{\"limits\": {\"max_output_bytes\": 1000}}");
  check("limit out of range", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("limits.max_output_bytes must be"));
  it_config(&d, "{\"log_level\": \"loud\"}");
  check("bad log level", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("\"log_level\" must be"));
  it_config(&d, "{\"limits\": {\n  \"max_line_bytes\": 4096,\n}");
  check("malformed config", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("malformed JSON near line"));
  it_config(&d, "{\"retention_days\": 0}\n{\"retention_days\": 90}\n");
  check("a second object after the first", ARGS("--config", cfg, "--rules", rules_file("base.json")),
        1, NEEDLES("malformed JSON near line 2"));
  it_config(&d, "{\"log_level\": \"warn\", \"log_level\": \"info\"}");
  check("a setting given twice", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("setting \"log_level\" is given twice"));
  it_config(&d, "{\"store\": {\"synchronous\": \"off\"}}");
  check("synchronous off", ARGS("--config", cfg, "--rules", rules_file("base.json")), 1,
        NEEDLES("store.synchronous must be \"normal\" or \"full\""));
  check("missing config file",
        ARGS("--config", "/nonexistent/earshotd.json", "--rules", rules_file("base.json")), 1,
        NEEDLES("cannot open config file /nonexistent/earshotd.json"));
  it_config(&d, "{\"limits\": {\"max_line_bytes\": 4096, \"max_output_bytes\": 65536},"
                " \"store\": {\"synchronous\": \"normal\"}, \"log_level\": \"warn\"}");
  check("good config", ARGS("--config", cfg, "--rules", rules_file("base.json")), 0,
        NEEDLES("configuration OK"));
  snprintf(rules_cfg, sizeof(rules_cfg), "{\"rules\": [\"%s\"]}", rules_file("reloaded.json"));
  it_config(&d, rules_cfg);
  check("rules named by the config", ARGS("--config", cfg), 0,
        NEEDLES("configuration OK", "4 rules"));
  check("unknown flag", ARGS("--frobnicate"), 1, NEEDLES("usage: earshotd"));

  /* What startup checks of the settings before it binds anything,
   * --check-config checks too, in the same words: the socket's group, the
   * TCP address and its token, the socket path's length, the directories.
   * Every problem is reported, not only the first. */
  {
    struct group *own = getgrgid(getegid());
    char json[512], plain[256], under[320], longsock[256], nested[320], group_msg[512];
    ASSERT(own != NULL);
    snprintf(json, sizeof(json), "{\"socket_group\": \"%s\", \"listen_tcp\": \"[::1]:0\", "
             "\"tcp_token\": \"0123456789abcdef\"}", own->gr_name);
    it_config(&d, json);
    check("a group, TCP address and token that work", ARGS("--config", cfg, "--rules", base), 0,
          NEEDLES("configuration OK"));
    it_config(&d, "{\"socket_group\": \"no-such-group-es\"}");
    snprintf(group_msg, sizeof(group_msg), "cannot give %s to group no-such-group-es: no such group",
             d.sock);
    check("a group that does not exist", ARGS("--config", cfg, "--rules", base), 1,
          NEEDLES(group_msg));
    it_config(&d, "{\"listen_tcp\": \"127.0.0.1:http\", \"tcp_token\": \"0123456789abcdef\"}");
    check("listen_tcp without a port number", ARGS("--config", cfg, "--rules", base), 1,
          NEEDLES("listen_tcp \"127.0.0.1:http\": expected HOST:PORT"));
    it_config(&d, "{\"tcp_token\": \"0123456789abcdef\"}");
    check("--listen-tcp with a port past 65535",
          ARGS("--config", cfg, "--rules", base, "--listen-tcp", ":65536"), 1,
          NEEDLES("listen_tcp \":65536\": expected HOST:PORT with a port from 0"));
    it_config(&d, "{\"listen_tcp\": \"localhost:7070\", \"tcp_token\": \"0123456789abcdef\"}");
    check("listen_tcp with a host name", ARGS("--config", cfg, "--rules", base), 1,
          NEEDLES("listen_tcp \"localhost:7070\": \"localhost\" is not an IP address"));
    it_config(&d, "{\"socket_group\": \"no-such-group-es\", \"listen_tcp\": \"1.2.3:x\", "
                  "\"tcp_token\": \"short\"}");
    check("every problem at once, and the rules'",
          ARGS("--config", cfg, "--rules", rules_file("broken_example.json")), 1,
          NEEDLES(group_msg, "listen_tcp \"1.2.3:x\": expected HOST:PORT",
                  "TCP listening needs \"tcp_token\" (16 characters or more)", "it.bad-example",
                  "cannot load rules"));

    /* Paths: a directory startup could not make, a socket path too long
     * for a Unix socket; a directory that is missing but can be made is
     * fine, and --check-config makes nothing. */
    snprintf(plain, sizeof(plain), "%s/plain-file", d.dir);
    it_write_file(plain, "x", 1);
    snprintf(under, sizeof(under), "%s/sub/d.sock", plain);
    d.has_config = 0;
#define PATHS(sock, db, ...)                                                  \
  ((const char *const[]){"--check-config", "--socket", sock, "--db", db, __VA_ARGS__, NULL})
    check("a socket below a file", PATHS(under, d.db, "--rules", base), 1,
          NEEDLES("cannot create the directory of ", under, ": Not a directory"));
    check("a database below a file", PATHS(d.sock, under, "--rules", base), 1,
          NEEDLES("cannot create the directory of ", under, ": Not a directory"));
    snprintf(longsock, sizeof(longsock), "%s/%0120d.sock", d.dir, 0);
    check("a socket path too long", PATHS(longsock, d.db, "--rules", base), 1,
          NEEDLES("is longer than 107 bytes; choose a shorter one (--socket, or \"socket\" in the config file)"));
    snprintf(nested, sizeof(nested), "%s/new/deeper/d.sock", d.dir);
    check("directories yet to be made", PATHS(nested, nested, "--rules", base), 0,
          NEEDLES("configuration OK"));
    snprintf(nested, sizeof(nested), "%s/new", d.dir);
    ASSERT(!it_file_exists(nested));
#undef PATHS
    unlink(plain);
  }

  /* Not checking, starting: a bad rules file is exit 1 before anything is
   * created. */
  it_rules(&d, "broken_example.json");
  d.has_config = 0;
  ASSERT_EQ(it_daemon_start(&d, NULL), -1);
  ASSERT_EQ(it_exit_code(d.status), 1);
  ASSERT_CONTAINS(d.log, "it.bad-example");
  ASSERT_CONTAINS(d.log, "cannot load rules");
  ASSERT(!it_file_exists(d.sock));
  ASSERT(!it_file_exists(d.db));
  /* So is a bad config file. */
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_connections\": 0}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), -1);
  ASSERT_EQ(it_exit_code(d.status), 1);
  ASSERT_CONTAINS(d.log, "limits.max_connections must be");
  ASSERT(!it_file_exists(d.sock));
  /* And so is what --check-config checks beyond the syntax: in its words,
   * before the store is made. */
  {
    static const struct {
      const char *json, *says;
    } bad[] = {
      {"{\"socket_group\": \"no-such-group-es\"}", "to group no-such-group-es: no such group"},
      {"{\"listen_tcp\": \"localhost:7070\", \"tcp_token\": \"0123456789abcdef\"}",
       "listen_tcp \"localhost:7070\": \"localhost\" is not an IP address"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      it_config(&d, bad[i].json);
      ASSERT_EQ(it_daemon_start(&d, NULL), -1);
      ASSERT_EQ(it_exit_code(d.status), 1);
      ASSERT_CONTAINS(d.log, bad[i].says);
      ASSERT(!it_file_exists(d.sock));
      ASSERT(!it_file_exists(d.db));
    }
  }
  /* A database path that holds something else: exit 1 with what is wrong
   * with the file, and no generic error code after it to mislead. */
  d.has_config = 0;
  it_write_file(d.db, "not a database\n", 15);
  ASSERT_EQ(it_daemon_start(&d, NULL), -1);
  ASSERT_EQ(it_exit_code(d.status), 1);
  ASSERT_CONTAINS(d.log, "not a usable SQLite database");
  ASSERT(strstr(d.log, "store error") == NULL);
  ASSERT(!it_file_exists(d.sock));

  /* Run by hand without --config where a package installed the system
   * file ($EARSHOT_SYSTEM_CONFIG stands in for /etc/earshot/earshotd.json):
   * earshotd says that it checks, or runs, without that file. */
  it_config(&d, "{\"log_level\": \"warn\"}");
  ASSERT_EQ(setenv("EARSHOT_SYSTEM_CONFIG", cfg, 1), 0);
  {
    char said[512];
    snprintf(said, sizeof(said), "%s exists but is not read: earshotd reads only the file "
             "--config names", cfg);
    check("a system file, no --config", ARGS("--rules", base), 0,
          NEEDLES("configuration OK", said));
  }
  char *out;
  ASSERT_EQ(it_run_earshotd(ARGS("--config", cfg, "--rules", base), &out, -1), 0);
  ASSERT(strstr(out, "exists but is not read") == NULL);
  free(out);
  ASSERT_EQ(unsetenv("EARSHOT_SYSTEM_CONFIG"), 0);
  it_daemon_cleanup(&d);
#undef ARGS
#undef NEEDLES
}

/* Every bad flag of one command line is reported, each on a line of its
 * own that says what to fix, before anything is read or created; then
 * the synopsis, and exit 1. A good command line after them still works. */
static void test_every_bad_flag(void) {
  struct it_daemon d;
  char *out;
  static const char *const says[] = {
    "earshotd: unknown option \"--bogus\"\n",
    "earshotd: --log-level must be error, warn, info or debug, not \"loud\"\n",
    "earshotd: --retention-days must be a whole number from 0 to 36500, not \"-3\"\n",
    "earshotd: option --foreground takes no value\n",
    "earshotd: ambiguous option --r (could be --rules, --retention-days)\n",
    "earshotd: unknown option \"-q\": earshotd's options are long ones",
    "earshotd: option --db needs a value: --db PATH, not an empty string\n",
    "earshotd: option --socket needs a value: --socket PATH\n",
    "earshotd: unexpected argument \"x\": every setting is an option",
  };

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  const char *bad[] = {"--foreground", "--bogus", "--log-level", "loud", "--retention-days", "-3",
                       "--foreground=yes", "--r", "x", "-q", "--db", "", "--rules", d.rules,
                       "--socket", NULL};
  ASSERT_EQ(it_run_earshotd(bad, &out, -1), 1);
  /* In the order given; the one without a value is the last flag. */
  const char *at = out;
  for (size_t i = 0; i < sizeof(says) / sizeof(says[0]); i++) {
    const char *hit = strstr(at, says[i]);
    if (hit == NULL)
      IT_FAIL("output lacks \"%s\" (in order):\n%s", says[i], out);
    at = hit + strlen(says[i]);
  }
  /* One line a problem, and no other. */
  int lines = 0;
  for (const char *p = out; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    lines += strncmp(p, "earshotd: ", 10) == 0;
  ASSERT_EQ(lines, (int)(sizeof(says) / sizeof(says[0])));
  ASSERT_CONTAINS(at, "usage: earshotd [--socket PATH]");
  ASSERT(strstr(out, " ready: ") == NULL);
  free(out);
  /* Nothing was started, nor created. */
  ASSERT(!it_file_exists(d.sock));
  ASSERT(!it_file_exists(d.db));

  /* --check-config says the same, and so does a bad flag beside a good
   * config: the flags first, the file is not read until they are good. */
  it_config(&d, "{\"log_level\": \"loud\"}");
  const char *checking[] = {"--check-config", "--config", d.config, "--retention-days",
                            "forever", "--listen-tcp", NULL};
  ASSERT_EQ(it_run_earshotd(checking, &out, -1), 1);
  ASSERT_CONTAINS(out, "earshotd: --retention-days must be a whole number from 0 to 36500, "
                       "not \"forever\"\n");
  ASSERT_CONTAINS(out, "earshotd: option --listen-tcp needs a value: --listen-tcp HOST:PORT\n");
  ASSERT(strstr(out, "configuration OK") == NULL);
  free(out);

  /* --help with a bad flag is still a bad command line. */
  const char *help[] = {"--help", "--bogus", NULL};
  ASSERT_EQ(it_run_earshotd(help, &out, -1), 1);
  ASSERT_CONTAINS(out, "earshotd: unknown option \"--bogus\"\n");
  free(out);
  const char *help_only[] = {"--help", NULL};
  ASSERT_EQ(it_run_earshotd(help_only, &out, -1), 0);
  ASSERT_CONTAINS(out, "--retention-days N    delete alerts");
  free(out);

  /* The same flags, right, start it. */
  d.has_config = 0;
  const char *good[] = {"--log-level", "debug", "--retention-days", "3", NULL};
  ASSERT_EQ(it_daemon_start(&d, good), 0);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The soft limit of "Max open files" in /proc/PID/limits. */
static long long open_files_soft(pid_t pid) {
  char path[64], line[256];
  long long soft = -1;
  snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
  FILE *f = fopen(path, "r");
  ASSERT(f != NULL);
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "Max open files", 14) == 0)
      soft = atoll(line + 14);
  fclose(f);
  return soft;
}

/* Every client is a descriptor: earshotd raises a low soft limit on open
 * files to what max_connections needs, and says so when the hard limit
 * does not allow it (past it clients would be dropped at connect with
 * nothing said). */
static void test_open_files_limit(void) {
  struct it_daemon d;
  struct rlimit rl, low;

  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 2000) {
    fprintf(stderr, "   skipped: the hard limit on open files here is %llu\n",
            (unsigned long long)rl.rlim_max);
    return;
  }
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_connections\": 1000}}");
  low = rl;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0); /* inherited by the daemon */
  int started = it_daemon_start(&d, NULL);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_EQ(started, 0);
  ASSERT(open_files_soft(d.pid) >= 1000 + 64);
  ASSERT(it_log_count(&d, "open files limit (") == 0);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  /* A hard limit too low: said, by --check-config too (in a child, since
   * a hard limit cannot be raised again). */
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    struct rlimit tight = {100, 100};
    char *out = NULL;
    const char *args[] = {"--check-config", "--socket", d.sock, "--db", d.db,
                          "--config", d.config, "--rules", d.rules, NULL};
    if (setrlimit(RLIMIT_NOFILE, &tight) != 0)
      _exit(2);
    int rc = it_run_earshotd(args, &out, -1);
    _exit(rc == 0 && out && strstr(out, "the open files limit (100, hard limit 100) is below the "
                                        "1064 that limits.max_connections (1000) needs") ? 0 : 1);
  }
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT(WIFEXITED(st));
  ASSERT_EQ(WEXITSTATUS(st), 0);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_sigterm_under_load);
  RUN(test_sigkill_and_restart);
  RUN(test_stale_and_live_socket);
  RUN(test_one_daemon_per_database);
  RUN(test_check_config);
  RUN(test_every_bad_flag);
  RUN(test_open_files_limit);
  return 0;
}
