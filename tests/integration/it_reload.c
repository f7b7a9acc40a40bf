/*
 * it_reload.c: rule reloads. A reload under load swaps the rules with no
 * line lost or doubled; a broken rules file (by {"type":"reload"} or by
 * SIGHUP) keeps the old rules; a reload keeps the configured line limit;
 * SIGTERM while a reload is still reading its files stops cleanly. With
 * --config a reload reads the file again: the rules it names (unless
 * --rules names them), settings only a restart changes kept with a warning
 * each, a broken file changing nothing. Webhook reloads are in
 * tests/webhook.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/socket.h>

#include "harness.h"

/* ---- 4. a reload under load ----------------------------------------------- */

#define RL_LINES 3000
#define RL_RELOAD_AT 1000 /* lines done before the reload is asked for */
#define RL_HOLD_AT 2500   /* no line past this one until the reload reply came */
#define RL_WINDOW 200     /* lines in flight */

static void test_reload_under_load(void) {
  struct it_daemon d;
  struct it_str out = {0};
  static size_t line_end[RL_LINES + 1]; /* [0] = 0 */
  static int trig[RL_LINES + 1], rel[RL_LINES + 1];
  size_t sent = 0;
  int64_t last_ack = 0, last_alert = 0, done_at_request = -1, sent_at_reply = -1;
  char *new_set = NULL;

  it_start(&d, "base.json");
  struct it_conn *a = it_connect(&d), *b = it_connect(&d);
  char *old_set = it_hello(a, 1);
  free(it_hello(b, 0));

  for (int i = 1; i <= RL_LINES; i++) {
    it_str_addf(&out, "{\"call_id\":\"rl-%d\",\"speaker\":\"customer\",\"text\":\"stuck at the "
                      "zebra crossing, line %d\",\"seq\":%d}\n",
                i % 5, i, i);
    line_end[i] = out.len;
  }

  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  while (last_ack < RL_LINES || new_set == NULL) {
    if (done_at_request < 0 && last_alert >= RL_RELOAD_AT) {
      /* Rewrite the rules file atomically, then ask for the reload on the
       * other connection while this one keeps streaming. */
      it_rules(&d, "reloaded.json");
      ASSERT_EQ(it_sendf(b, "{\"type\":\"reload\"}"), 0);
      done_at_request = last_alert;
    }
    /* Stream at the daemon's pace (at most RL_WINDOW lines past the last
     * line whose alert came back), so that the swap lands mid-stream. */
    int64_t upto = (last_alert > last_ack ? last_alert : last_ack) + RL_WINDOW;
    if (new_set == NULL && upto > RL_HOLD_AT)
      upto = RL_HOLD_AT;
    if (upto > RL_LINES)
      upto = RL_LINES;
    size_t limit = line_end[upto];
    if (sent < limit) {
      long n = it_send_some(a, out.p + sent, limit - sent < 4096 ? limit - sent : 4096);
      ASSERT(n >= 0);
      sent += (size_t)n;
    }
    struct pollfd pfd[2] = {{.fd = a->fd, .events = POLLIN | (sent < limit ? POLLOUT : 0)},
                            {.fd = b->fd, .events = POLLIN}};
    ASSERT(it_now_ms() < deadline);
    it_poll(pfd, 2, (int)(deadline - it_now_ms()));
    char *line;
    it_recv_some(a);
    while ((line = it_take_line(a)) != NULL) {
      cJSON *m = cJSON_Parse(line);
      ASSERT(m != NULL);
      if (strcmp(it_jtype(m), "alert") == 0) {
        int64_t seq = it_jint(m, "seq");
        ASSERT(seq >= 1 && seq <= RL_LINES);
        if (seq > last_alert)
          last_alert = seq;
        if (strcmp(it_jstr(m, "rule"), "it.trigger") == 0)
          trig[seq]++;
        else if (strcmp(it_jstr(m, "rule"), "it.reloaded") == 0)
          rel[seq]++;
        else
          IT_FAIL("unexpected alert %s", line);
      } else if (strcmp(it_jtype(m), "ack") == 0) {
        ASSERT_GT(it_jint(m, "seq"), last_ack);
        last_ack = it_jint(m, "seq");
      } else {
        IT_FAIL("unexpected message %s", line);
      }
      cJSON_Delete(m);
      free(line);
    }
    ASSERT(!a->eof);
    it_recv_some(b);
    while ((line = it_take_line(b)) != NULL) {
      cJSON *m = cJSON_Parse(line);
      ASSERT(m != NULL);
      if (strcmp(it_jtype(m), "reload") != 0)
        IT_FAIL("unexpected message %s", line);
      ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok")));
      ASSERT_EQ(it_jint(m, "rules"), 4);
      new_set = strdup(it_jstr(m, "rule_set"));
      ASSERT(strcmp(new_set, old_set) != 0);
      /* Lines written from now on reach the daemon after the swap. */
      sent_at_reply = 0;
      while (sent_at_reply < RL_LINES && line_end[sent_at_reply + 1] <= sent)
        sent_at_reply++;
      cJSON_Delete(m);
      free(line);
    }
  }

  /* None lost, none doubled; the new rule fires from the swap on, never
   * on the lines already done when the reload was asked for, always after the
   * reply, and once it fired it fires on every later line. */
  int first_new = 0, nrel = 0;
  for (int i = 1; i <= RL_LINES; i++) {
    if (trig[i] != 1)
      IT_FAIL("line %d raised it.trigger %d times", i, trig[i]);
    ASSERT(rel[i] == 0 || rel[i] == 1);
    if (rel[i] && !first_new)
      first_new = i;
    if (first_new)
      ASSERT_EQ(rel[i], 1);
    nrel += rel[i];
  }
  ASSERT_GT(first_new, done_at_request);
  ASSERT_LE(first_new, sent_at_reply + 1);
  ASSERT_LT(sent_at_reply, RL_LINES); /* some lines did follow the reply */
  fprintf(stderr, "   reload asked after %" PRId64 " lines; rule swapped at line %d; "
                  "%" PRId64 " lines sent when the reply came\n",
          done_at_request, first_new, sent_at_reply);

  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.trigger'", NULL),
            RL_LINES);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.reloaded' AND "
                          "rule_set = ?1", new_set, NULL), nrel);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.trigger' AND "
                          "rule_set = ?1", new_set, NULL), nrel);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.trigger' AND "
                          "rule_set = ?1", old_set, NULL), RL_LINES - nrel);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), RL_LINES + nrel);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM rule_sets WHERE version = ?1 AND rule_count = 4",
                      new_set, NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM rule_sets WHERE version = ?1 AND rule_count = 3",
                      old_set, NULL), 1);
  sqlite3_close(db);

  ASSERT_EQ(it_sendf(b, "{\"type\":\"stats\"}"), 0);
  cJSON *st = it_expect(b, "stats", -1, NULL, NULL);
  ASSERT_EQ(it_jint(st, "reloads"), 1);
  ASSERT_EQ(it_jint(st, "reload_failures"), 0);
  ASSERT_STR_EQ(it_jstr(st, "rule_set"), new_set);
  cJSON_Delete(st);

  it_close(a);
  it_close(b);
  free(old_set);
  free(new_set);
  it_str_free(&out);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* ---- 5. a broken rules file keeps the old rules --------------------------- */

/* Sends a trigger line and checks that exactly the rules in `want`
 * (NULL-terminated) fire on it; a stats round trip marks the end. */
static void expect_rules(struct it_conn *c, int64_t seq, const char *const *want) {
  int n = 0, seen = 0;
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"broken\",\"speaker\":\"agent\",\"text\":\"the zebra "
                        "crossing\",\"seq\":%" PRId64 "}", seq), 0);
  ASSERT_EQ(it_sendf(c, "{\"type\":\"stats\"}"), 0);
  for (;;) {
    cJSON *m = it_read_json(c, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "stats") == 0) {
      cJSON_Delete(m);
      break;
    }
    ASSERT_STR_EQ(it_jtype(m), "alert");
    ASSERT_EQ(it_jint(m, "seq"), seq);
    int known = 0;
    for (int i = 0; want[i]; i++)
      if (strcmp(want[i], it_jstr(m, "rule")) == 0) {
        known = 1;
        seen |= 1 << i;
      }
    if (!known)
      IT_FAIL("rule %s fired", it_jstr(m, "rule"));
    n++;
    cJSON_Delete(m);
  }
  for (int i = 0; want[i]; i++)
    if (!(seen & (1 << i)))
      IT_FAIL("rule %s did not fire on seq %" PRId64, want[i], seq);
  for (int i = 0; want[i]; i++)
    n--;
  ASSERT_EQ(n, 0);
}

static cJSON *stats(struct it_conn *c) {
  ASSERT_EQ(it_sendf(c, "{\"type\":\"stats\"}"), 0);
  return it_expect(c, "stats", -1, NULL, NULL);
}

static void test_broken_reload_keeps_rules(void) {
  static const char *const old_rules[] = {"it.trigger", NULL};
  static const char *const new_rules[] = {"it.trigger", "it.reloaded", NULL};
  struct it_daemon d;
  cJSON *m;
  long at;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  char *old_set = it_hello(c, 0);
  expect_rules(c, 1, old_rules);

  /* By request: malformed JSON. */
  it_rules(&d, "broken_json.json");
  size_t from = d.log_len;
  ASSERT_EQ(it_sendf(c, "{\"type\":\"reload\"}"), 0);
  m = it_expect(c, "reload", -1, NULL, NULL);
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  ASSERT_STR_EQ(it_jstr(m, "rule_set"), old_set);
  ASSERT_GE(it_jint(m, "errors"), 1);
  /* Without --config only the rules are reloaded. */
  ASSERT_CONTAINS(it_jstr(m, "message"), "; the old rules stay (see the daemon log)");
  cJSON_Delete(m);
  /* The log says which file and what is wrong with it. */
  ASSERT(it_wait_log(&d, from, "reload failed", -1) >= 0);
  ASSERT(it_wait_log(&d, from, "rules.json:", -1) >= 0);
  ASSERT(it_wait_log(&d, from, "malformed JSON", -1) >= 0);
  expect_rules(c, 2, old_rules);

  /* A client that asks and closes its sending side at once (as `echo
   * '{"type":"reload"}' | socat - UNIX-CONNECT:...` does) gets the answer
   * before the close. */
  struct it_conn *once = it_connect(&d);
  ASSERT_EQ(it_sendf(once, "{\"type\":\"reload\"}"), 0);
  ASSERT_EQ(shutdown(once->fd, SHUT_WR), 0);
  m = it_expect(once, "reload", -1, NULL, NULL);
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  cJSON_Delete(m);
  ASSERT(it_read_line(once, -1) == NULL);
  ASSERT(once->eof);
  it_close(once);

  /* By SIGHUP: valid JSON whose example fails. */
  it_rules(&d, "broken_example.json");
  from = d.log_len;
  ASSERT_EQ(kill(d.pid, SIGHUP), 0);
  ASSERT((at = it_wait_log(&d, from, "reload failed", -1)) >= 0);
  ASSERT(strstr(d.log + from, "it.bad-example") != NULL);
  expect_rules(c, 3, old_rules);

  m = stats(c);
  ASSERT_EQ(it_jint(m, "reloads"), 0);
  ASSERT_EQ(it_jint(m, "reload_failures"), 3);
  ASSERT_EQ(it_jint(m, "rules"), 3);
  ASSERT_STR_EQ(it_jstr(m, "rule_set"), old_set);
  cJSON_Delete(m);

  /* And a good file by SIGHUP swaps. */
  it_rules(&d, "reloaded.json");
  from = d.log_len;
  ASSERT_EQ(kill(d.pid, SIGHUP), 0);
  ASSERT(it_wait_log(&d, from, "reloaded: 4 rules", -1) >= 0);
  expect_rules(c, 4, new_rules);
  m = stats(c);
  ASSERT_EQ(it_jint(m, "reloads"), 1);
  ASSERT_EQ(it_jint(m, "reload_failures"), 3);
  ASSERT(strcmp(it_jstr(m, "rule_set"), old_set) != 0);
  cJSON_Delete(m);

  it_close(c);
  free(old_set);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.trigger'", NULL), 4);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE rule_id = 'it.reloaded'", NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM rule_sets", NULL), 2);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* ---- a reload keeps the configured line limit ------------------------------ */

static void long_trigger(struct it_conn *c, size_t size, int64_t seq) {
  struct it_str s = {0};
  it_str_addf(&s, "{\"call_id\":\"long\",\"speaker\":\"agent\",\"seq\":%" PRId64
                  ",\"text\":\"zebra crossing", seq);
  while (s.len < size - 2)
    it_str_add(&s, " blah", 5);
  it_str_add(&s, "\"}\n", 3);
  ASSERT_EQ(it_send(c, s.p, s.len), 0);
  it_str_free(&s);
}

static void test_reload_keeps_line_limit(void) {
  struct it_daemon d;
  cJSON *m;

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_line_bytes\": 262144}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 0));

  /* 200 KB: under max_line_bytes, over the rule loader's 64 KiB default. */
  long_trigger(c, 200000, 1);
  m = it_expect(c, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "rule"), "it.trigger");
  cJSON_Delete(m);

  it_rules(&d, "reloaded.json");
  ASSERT_EQ(it_sendf(c, "{\"type\":\"reload\"}"), 0);
  m = it_expect(c, "reload", -1, NULL, NULL);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  cJSON_Delete(m);

  long_trigger(c, 200000, 2);
  for (int i = 0; i < 2; i++) {
    m = it_read_json(c, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "alert") != 0)
      IT_FAIL("after the reload a 200 KB line got %s %s", it_jtype(m),
              cJSON_PrintUnformatted(m));
    ASSERT_EQ(it_jint(m, "seq"), 2);
    cJSON_Delete(m);
  }
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* ---- a reload reads the config file again ------------------------------ */

static cJSON *reload_on(struct it_conn *c) {
  ASSERT_EQ(it_sendf(c, "{\"type\":\"reload\"}"), 0);
  return it_expect(c, "reload", -1, NULL, NULL);
}

/* A reload that fails says why in its answer, and keeps the rule set. */
static void expect_refused(struct it_conn *c, const char *set, const char *why) {
  cJSON *m = reload_on(c);
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  ASSERT_STR_EQ(it_jstr(m, "rule_set"), set);
  ASSERT_CONTAINS(it_jstr(m, "message"), why);
  ASSERT_CONTAINS(it_jstr(m, "message"), "the old rules and webhooks stay");
  cJSON_Delete(m);
}

static void test_reload_config_file(void) {
  static const char *const old_rules[] = {"it.trigger", NULL};
  static const char *const new_rules[] = {"it.trigger", "it.reloaded", NULL};
  struct it_daemon d;
  char json[1024], base[192], other[192], warning[400];

  /* The rules are the file's: no --rules. */
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  snprintf(base, sizeof(base), "%s", d.rules);
  snprintf(other, sizeof(other), "%s/other.json", d.dir);
  snprintf(d.rules, sizeof(d.rules), "%s", other);
  it_rules(&d, "reloaded.json");
  snprintf(d.rules, sizeof(d.rules), "%s", base);
  d.rules_in_config = 1;
  snprintf(json, sizeof(json), "{\"rules\": \"%s\", \"limits\": {\"max_line_bytes\": 65536}}",
           base);
  it_config(&d, json);
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  struct it_conn *c = it_connect(&d);
  char *old_set = it_hello(c, 0);
  expect_rules(c, 1, old_rules);

  /* The file names other rules and changes settings: the rules change;
   * limits and store settings wait for a restart (one warning each); the
   * socket and db the flags give are the flags'. */
  snprintf(json, sizeof(json), "{\"rules\": [\"%s\"], \"limits\": {\"max_line_bytes\": 4096},"
           " \"store\": {\"cache_mb\": 32}, \"socket\": \"%s/elsewhere.sock\", \"db\": "
           "\"%s/elsewhere.db\"}", other, d.dir, d.dir);
  it_config(&d, json);
  size_t from = d.log_len;
  cJSON *m = reload_on(c);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  ASSERT_EQ(it_jint(m, "rules"), 4);
  ASSERT_STR_EQ(it_jstr(m, "webhooks"), "0 destinations (unchanged)");
  const cJSON *later = cJSON_GetObjectItemCaseSensitive(m, "restart_needed");
  ASSERT_EQ(cJSON_GetArraySize(later), 2);
  ASSERT_STR_EQ(cJSON_GetArrayItem(later, 0)->valuestring, "limits.max_line_bytes");
  ASSERT_STR_EQ(cJSON_GetArrayItem(later, 1)->valuestring, "store.cache_mb");
  char *new_set = strdup(it_jstr(m, "rule_set"));
  ASSERT(strcmp(new_set, old_set) != 0);
  cJSON_Delete(m);
  snprintf(warning, sizeof(warning), "warn  config: limits.max_line_bytes changed in %s; takes "
           "effect when earshotd restarts", d.config);
  ASSERT(it_wait_log(&d, from, warning, -1) >= 0);
  ASSERT(strstr(d.log + from, "store.cache_mb changed in ") != NULL);
  ASSERT(strstr(d.log + from, "socket changed") == NULL);
  ASSERT(strstr(d.log + from, "db changed") == NULL);
  expect_rules(c, 2, new_rules);
  /* max_line_bytes is still 65536: a 10,000-byte line is matched. */
  long_trigger(c, 10000, 3);
  for (int i = 0; i < 2; i++) {
    m = it_read_json(c, -1);
    ASSERT(m != NULL);
    ASSERT_STR_EQ(it_jtype(m), "alert");
    cJSON_Delete(m);
  }

  /* Broken files change nothing, and the answer says why. */
  it_config(&d, "{\"rules\": ");
  expect_refused(c, new_set, "config.json: malformed JSON near line 1");
  snprintf(json, sizeof(json), "{\"rules\": \"%s\", \"socket_group\": \"no-such-group-es\"}",
           base);
  it_config(&d, json);
  expect_refused(c, new_set, "to group no-such-group-es: no such group");
  snprintf(json, sizeof(json), "{\"rules\": \"%s\", \"redcat\": true}", base);
  it_config(&d, json);
  expect_refused(c, new_set, "unknown setting \"redcat\"");
  it_config(&d, "{\"rules\": \"/nonexistent/rules.json\"}");
  expect_refused(c, new_set, "/nonexistent/rules.json");
  expect_rules(c, 4, new_rules);

  /* Back to the first file: its rules, and nothing waits for a restart. */
  snprintf(json, sizeof(json), "{\"rules\": \"%s\", \"limits\": {\"max_line_bytes\": 65536}}",
           base);
  it_config(&d, json);
  m = reload_on(c);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  ASSERT(cJSON_GetObjectItemCaseSensitive(m, "restart_needed") == NULL);
  cJSON_Delete(m);
  expect_rules(c, 5, old_rules);
  m = stats(c);
  ASSERT_EQ(it_jint(m, "reloads"), 2);
  ASSERT_EQ(it_jint(m, "reload_failures"), 4);
  cJSON_Delete(m);
  it_close(c);
  free(old_set);
  free(new_set);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* --rules on the command line wins over the file's rules, at a reload as
 * at startup. */
static void test_reload_rules_flag_wins(void) {
  struct it_daemon d;
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"rules\": \"/nonexistent/rules.json\"}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 0));
  it_rules(&d, "reloaded.json");
  cJSON *m = reload_on(c);
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  ASSERT_EQ(it_jint(m, "rules"), 4);
  cJSON_Delete(m);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* ---- SIGTERM while a reload is still reading the rules -------------------- */

/* The rules path becomes a FIFO that the test holds open, so the reload's
 * worker blocks reading it until the test says what it holds: SIGTERM can
 * be sent while the reload is certainly in flight. */
static void test_sigterm_during_reload(void) {
  struct it_daemon d;
  char fifo[256];
  int fd, ifd;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"t\",\"speaker\":\"agent\",\"text\":\"zebra crossing\","
                        "\"seq\":1}"), 0);
  cJSON_Delete(it_expect(c, "alert", -1, NULL, NULL));
  cJSON_Delete(it_expect(c, "ack", -1, NULL, NULL));

  snprintf(fifo, sizeof(fifo), "%s/fifo", d.dir);
  ASSERT_EQ(mkfifo(fifo, 0600), 0);
  ASSERT_EQ(rename(fifo, d.rules), 0);
  /* O_RDWR never blocks on Linux and keeps a writer, so the daemon's
   * fopen() returns at once and its fread() waits for our data. */
  fd = open(d.rules, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT(fd >= 0);
  ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT(ifd >= 0);
  ASSERT(inotify_add_watch(ifd, d.rules, IN_OPEN) >= 0);

  size_t from = d.log_len;
  ASSERT_EQ(kill(d.pid, SIGHUP), 0);
  struct pollfd pfd = {.fd = ifd, .events = POLLIN};
  if (it_poll(&pfd, 1, -1) == 0)
    IT_FAIL("the reload never opened the rules file");
  ASSERT(it_wait_log(&d, from, "reloading rules", -1) >= 0);

  ASSERT_EQ(kill(d.pid, SIGTERM), 0);
  /* The shutdown does not wait for the reload: it commits and closes... */
  ASSERT(it_wait_log(&d, from, "SIGTERM: stopping", -1) >= 0);
  ASSERT(it_wait_log(&d, from, "every alert committed", -1) >= 0);
  /* ...and the client got its last ack and the end of the stream. */
  ASSERT(it_read_line(c, -1) == NULL && c->eof);
  static const char broken[] = "[ {\"id\": ";
  ASSERT_EQ(write(fd, broken, sizeof(broken) - 1), (ssize_t)(sizeof(broken) - 1));
  close(fd); /* the last writer: the reload reads EOF and fails */
  close(ifd);

  /* Once the reload's worker is done the process exits 0, promptly (not
   * after the 30 s shutdown deadline), the reload's result discarded. */
  uint64_t t0 = it_now_ms();
  ASSERT_EQ(it_daemon_wait_exit(&d, it_scaled(10000)), 0);
  ASSERT(strstr(d.log + from, "reloaded:") == NULL);
  ASSERT(strstr(d.log + from, "stopped") != NULL);
  fprintf(stderr, "   exited %" PRIu64 " ms after the reload was released\n", it_now_ms() - t0);
  it_close(c);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_reload_under_load);
  RUN(test_broken_reload_keeps_rules);
  RUN(test_reload_keeps_line_limit);
  RUN(test_sigterm_during_reload);
  RUN(test_reload_config_file);
  RUN(test_reload_rules_flag_wins);
  return 0;
}
