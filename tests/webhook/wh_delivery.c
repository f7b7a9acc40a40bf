/*
 * wh_delivery.c: webhook delivery end to end (daemon/webhook.c,
 * docs/webhooks.md). The real earshotd is driven through its socket with
 * lines that raise alerts (tests/integration/rules/base.json) and posts
 * them to a small HTTP/1.1 receiver this program runs on 127.0.0.1
 * (httpd.c): delivered with the right body and headers; filtered on an
 * agent a start line named with a number; delivered later
 * when the receiver was down; delivered once per alert after earshotd
 * itself restarted with deliveries pending; rate limited with a summary;
 * suppressed alerts summarised after a restart; failed after max_attempts
 * and after timeouts; a request in flight at SIGTERM sent again after the
 * restart; bad configurations refused. Reloads of the config file: a
 * destination moved to another receiver (and one added), a broken file
 * that changes nothing, a request in flight and a retry waiting sent again
 * to a new URL at once, a removed destination's pending and suppressed
 * rows kept and sent once it is configured again.
 *
 * Every wait is on an event with a deadline: a request at the receiver,
 * a line in the daemon's log (it runs at debug level, which logs every
 * attempt), an ack, a process exit. Test names as arguments run only those.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "httpd.h"

/* ---- helpers ------------------------------------------------------------- */

static const char *const debug_log[] = {"--log-level", "debug", NULL};

static void start(struct it_daemon *d, struct httpd *h, const char *dests_fmt) {
  char dests[4096], config[4200];
  /* dests_fmt holds %d for the receiver's port, as often as it likes */
  snprintf(dests, sizeof(dests), dests_fmt, httpd_port(h), httpd_port(h), httpd_port(h));
  snprintf(config, sizeof(config), "{\"webhooks\": [%s]}", dests);
  it_config(d, config);
  ASSERT_EQ(it_daemon_start(d, debug_log), 0);
}

static void no_errors(void *ud, cJSON *m) {
  (void)ud;
  if (strcmp(it_jtype(m), "error") == 0)
    IT_FAIL("error from earshotd: %s", it_jstr(m, "message"));
}

/* Sends `n` lines (printf formats with %d for 1..n, used twice: call and
 * text) with seqs and waits until all are acknowledged: their alerts and
 * outbox rows are committed. */
static void send_lines(struct it_daemon *d, const char *start_fmt, const char *line_fmt, int n) {
  struct it_conn *c = it_connect(d);
  int seq = 0;
  free(it_hello(c, 1));
  for (int i = 1; i <= n; i++) {
    char line[1024], tagged[1100];
    if (start_fmt) {
      snprintf(line, sizeof(line), start_fmt, i, i);
      snprintf(tagged, sizeof(tagged), "%.*s,\"seq\":%d}", (int)strlen(line) - 1, line, ++seq);
      ASSERT_EQ(it_sendf(c, "%s", tagged), 0);
    }
    snprintf(line, sizeof(line), line_fmt, i, i);
    snprintf(tagged, sizeof(tagged), "%.*s,\"seq\":%d}", (int)strlen(line) - 1, line, ++seq);
    ASSERT_EQ(it_sendf(c, "%s", tagged), 0);
  }
  for (;;) {
    cJSON *m = it_expect(c, "ack", -1, no_errors, NULL);
    int64_t got = it_jint(m, "seq");
    cJSON_Delete(m);
    if (got == seq)
      break;
  }
  it_close(c);
}

static cJSON *stats(struct it_daemon *d) {
  struct it_conn *c = it_connect(d);
  ASSERT_EQ(it_sendf(c, "{\"type\":\"stats\"}"), 0);
  cJSON *m = it_expect(c, "stats", -1, NULL, NULL);
  it_close(c);
  return m;
}

static int64_t wstat(const cJSON *st, const char *dest, const char *key) {
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(st, "webhooks");
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(w, dest);
  if (o == NULL)
    IT_FAIL("no webhooks.%s in stats", dest);
  return it_jint(o, key);
}

/* Waits for `needle` n times in the log after `from`; returns the offset
 * past the last. */
static size_t wait_log_n(struct it_daemon *d, size_t from, const char *needle, int n) {
  for (int i = 0; i < n; i++) {
    long at = it_wait_log(d, from, needle, -1);
    if (at < 0)
      IT_FAIL("\"%s\" appeared %d times in the log, expected %d", needle, i, n);
    from = (size_t)at;
  }
  return from;
}

static cJSON *body_json(const struct httpd_req *r) {
  cJSON *j = cJSON_Parse(r->body);
  if (j == NULL)
    IT_FAIL("request body is not JSON: %s", r->body);
  return j;
}

static void expect_header(const struct httpd_req *r, const char *name, const char *want) {
  char *v = httpd_header(r, name);
  if (want == NULL) {
    if (v)
      IT_FAIL("unexpected header %s: %s", name, v);
    return;
  }
  ASSERT_STR_EQ(v, want);
  free(v);
}

static void key_of(char *buf, size_t cap, int64_t alert_id, const char *dest) {
  snprintf(buf, cap, "%" PRId64 "-%s", alert_id, dest);
}

/* Stops the daemon (which must exit 0), checks that nothing is owed any
 * more (the outbox is empty) and that the receiver got `requests`
 * requests in all, then frees both. */
static void finish_drained(struct it_daemon *d, struct httpd *h, size_t requests) {
  ASSERT_EQ(it_daemon_stop(d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d->db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox", NULL), 0);
  sqlite3_close(db);
  ASSERT_EQ(httpd_count(h), requests);
  httpd_free(h);
  it_daemon_cleanup(d);
}

/* ---- tests ---------------------------------------------------------------- */

/* Receiver up: each destination gets the alerts its filter passes, with
 * the masked feed record or a chat message, its headers and the
 * idempotency key. */
static void test_delivered(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  char key[128];
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(h);
  start(&d, h,
        "{\"name\": \"sup\", \"url\": \"http://127.0.0.1:%d/sup\","
        " \"headers\": {\"Authorization\": \"Bearer s3cret-token\", \"X-Team\": \"billing\"}},"
        "{\"name\": \"chat\", \"url\": \"http://127.0.0.1:%d/chat\", \"format\": \"text\","
        " \"categories\": [\"manager_request\"], \"queues\": [\"billing\"]}");
  send_lines(&d, "{\"type\":\"start\",\"call_id\":\"c-%d\",\"agent_id\":\"dana\",\"queue\":\"billing\"}",
             "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"we met at the zebra "
             "crossing, my card is 4111 1111 1111 1111 (%d)\"}",
             1);
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  ASSERT_EQ(httpd_wait(h, 3, -1), 3);
  wait_log_n(&d, 0, " delivered (attempt 1)", 3);

  sqlite3 *db = it_db_open(d.db);
  int64_t trigger = it_db_int(db, "SELECT id FROM alerts WHERE rule_id = 'it.trigger'", NULL);
  int64_t manager = it_db_int(db, "SELECT id FROM alerts WHERE rule_id = 'it.manager'", NULL);
  sqlite3_close(db);
  int sup_seen = 0, chat_seen = 0;
  for (size_t i = 0; i < 3; i++) {
    const struct httpd_req *r = httpd_get(h, i);
    ASSERT_STR_EQ(r->method, "POST");
    expect_header(r, "Content-Type", "application/json");
    cJSON *j = body_json(r);
    if (strcmp(r->path, "/sup") == 0) {
      sup_seen++;
      expect_header(r, "Authorization", "Bearer s3cret-token");
      expect_header(r, "X-Team", "billing");
      ASSERT_STR_EQ(it_jstr(j, "type"), "feed_alert");
      int64_t id = it_jint(j, "id");
      ASSERT(id == trigger || id == manager);
      key_of(key, sizeof(key), id, "sup");
      expect_header(r, "Idempotency-Key", key);
      ASSERT_STR_EQ(it_jstr(j, "call_id"), "c-1");
      ASSERT_STR_EQ(it_jstr(j, "agent"), "dana");
      ASSERT_STR_EQ(it_jstr(j, "queue"), "billing");
      ASSERT_STR_EQ(it_jstr(j, "rule"), id == trigger ? "it.trigger" : "it.manager");
      ASSERT_STR_EQ(it_jstr(j, "severity"), id == trigger ? "medium" : "critical");
      if (id == trigger) {
        /* masked like the store and the feed */
        ASSERT_CONTAINS(it_jstr(j, "text"), "my card is [CARD]");
        ASSERT_STR_EQ(it_jstr(j, "matched"), "zebra crossing");
      }
      ASSERT(strstr(r->body, "4111") == NULL);
    } else {
      ASSERT_STR_EQ(r->path, "/chat");
      chat_seen++;
      expect_header(r, "Authorization", NULL);
      key_of(key, sizeof(key), manager, "chat");
      expect_header(r, "Idempotency-Key", key);
      const char *text = it_jstr(j, "text");
      ASSERT_CONTAINS(text, "[CRITICAL] manager_request on call c-1 (agent dana, queue billing)");
      ASSERT_CONTAINS(text, "Words: \"get me your manager\"");
      ASSERT_CONTAINS(text, "Tip: Acknowledge, offer what you can do now");
      ASSERT_CONTAINS(text, "rule it.manager");
    }
    cJSON_Delete(j);
  }
  ASSERT_EQ(sup_seen, 2);
  ASSERT_EQ(chat_seen, 1);

  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "sup", "delivered"), 2);
  ASSERT_EQ(wstat(st, "chat", "delivered"), 1);
  ASSERT_EQ(wstat(st, "sup", "pending"), 0);
  ASSERT_EQ(wstat(st, "sup", "in_flight"), 0);
  ASSERT_EQ(wstat(st, "sup", "failed"), 0);
  ASSERT_EQ(wstat(st, "sup", "suppressed"), 0);
  cJSON_Delete(st);
  finish_drained(&d, h, 3);
}

/* A filter on an agent a start line named with a number: of three calls,
 * agents 1041, 1042 and 1043, only 1042's alert is posted. */
static void test_numeric_agent(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(h);
  start(&d, h, "{\"name\": \"num\", \"url\": \"http://127.0.0.1:%d/num\", \"agents\": [1042]}");
  send_lines(&d, "{\"type\":\"start\",\"call_id\":\"c-%d\",\"agent_id\":104%d}",
             "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 3);
  ASSERT_EQ(httpd_wait(h, 1, -1), 1);
  wait_log_n(&d, 0, " delivered (attempt 1)", 1);
  cJSON *j = body_json(httpd_get(h, 0));
  ASSERT_STR_EQ(it_jstr(j, "call_id"), "c-2");
  ASSERT_STR_EQ(it_jstr(j, "agent"), "1042");
  cJSON_Delete(j);
  /* Nothing else was owed: the other two calls' alerts got no outbox row. */
  finish_drained(&d, h, 1);
}

/* The receiver refuses connections at first; once it listens, the alert
 * arrives, once. */
static void test_receiver_down(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  char key[128];
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  start(&d, h,
        "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\","
        " \"retry_initial_ms\": 50, \"retry_max_ms\": 200, \"max_attempts\": 1000}");
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  size_t at = wait_log_n(&d, 0, "ops: delivery failing (", 1);
  wait_log_n(&d, at, " attempt 2 failed: ", 1);
  ASSERT_EQ(httpd_count(h), 0);
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "delivered"), 0);
  ASSERT_EQ(wstat(st, "ops", "pending") + wstat(st, "ops", "in_flight"), 1);
  ASSERT_GE(wstat(st, "ops", "failed_attempts"), 2);
  cJSON_Delete(st);

  httpd_listen(h);
  ASSERT_EQ(httpd_wait(h, 1, -1), 1);
  at = wait_log_n(&d, at, "ops: alert 1 delivered (attempt ", 1);
  wait_log_n(&d, 0, "ops: delivering again", 1);
  const struct httpd_req *r = httpd_get(h, 0);
  key_of(key, sizeof(key), 1, "ops");
  expect_header(r, "Idempotency-Key", key);
  st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "delivered"), 1);
  ASSERT_EQ(wstat(st, "ops", "pending"), 0);
  ASSERT_EQ(wstat(st, "ops", "in_flight"), 0);
  ASSERT_EQ(wstat(st, "ops", "failed"), 0);
  cJSON_Delete(st);
  finish_drained(&d, h, 1);
}

/* SIGTERM while the receiver is down: the deliveries stay in the outbox;
 * the next earshotd sends each of them once, with the same key. */
static void test_restart_pending(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  const char *dests = "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\","
                      " \"retry_initial_ms\": 50, \"retry_max_ms\": 200, \"max_attempts\": 1000}";
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  start(&d, h, dests);
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 3);
  wait_log_n(&d, 0, " attempt 1 failed: ", 3);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_GE(it_log_count(&d, "webhook: stopped: 3 deliveries"), 1);

  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox WHERE state = 'pending'"
                          " AND destination = 'ops' AND attempts >= 1 AND last_error IS NOT NULL"
                          " AND next_attempt_at >= created_at", NULL), 3);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox AS o JOIN alerts AS a"
                          " ON a.id = o.alert_id", NULL), 3);
  sqlite3_close(db);

  size_t from = d.log_len;
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  wait_log_n(&d, from, "3 deliveries pending and 0 suppressed alerts to summarise from earlier "
             "runs", 1);
  httpd_listen(h);
  ASSERT_EQ(httpd_wait(h, 3, -1), 3);
  wait_log_n(&d, from, " delivered (attempt ", 3);
  int seen[4] = {0};
  for (size_t i = 0; i < 3; i++) {
    char *key = httpd_header(httpd_get(h, i), "Idempotency-Key");
    cJSON *j = body_json(httpd_get(h, i));
    int64_t id = it_jint(j, "id");
    char want[64];
    ASSERT(id >= 1 && id <= 3);
    seen[id]++;
    key_of(want, sizeof(want), id, "ops");
    ASSERT_STR_EQ(key, want);
    free(key);
    cJSON_Delete(j);
  }
  ASSERT_EQ(seen[1] + seen[2] + seen[3], 3);
  ASSERT_EQ(seen[1] * seen[2] * seen[3], 1); /* each once */
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "delivered"), 3);
  ASSERT_EQ(wstat(st, "ops", "pending"), 0);
  ASSERT_EQ(wstat(st, "ops", "in_flight"), 0);
  cJSON_Delete(st);
  finish_drained(&d, h, 3);
}

/* A burst over the limit: burst alerts go out at once, the rest are
 * counted and summarised by a message of their own once the bucket has
 * had a token unused for a token interval. */
static void test_rate_limit(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(h);
  /* 30 per minute: a token every 2 s; the summary comes some 4 s after
   * the burst, which takes a few ms. */
  start(&d, h,
        "{\"name\": \"chat\", \"url\": \"http://127.0.0.1:%d/hook\","
        " \"rate_per_minute\": 30, \"burst\": 3}");
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 10);
  ASSERT_EQ(httpd_wait(h, 4, it_scaled(30000)), 4);
  wait_log_n(&d, 0, "chat: summary of 7 suppressed alerts delivered", 1);
  for (size_t i = 0; i < 3; i++) {
    cJSON *j = body_json(httpd_get(h, i));
    ASSERT_STR_EQ(it_jstr(j, "type"), "feed_alert");
    ASSERT(cJSON_GetObjectItemCaseSensitive(j, "suppressed") == NULL);
    cJSON_Delete(j);
  }
  const struct httpd_req *r = httpd_get(h, 3);
  cJSON *j = body_json(r);
  ASSERT_STR_EQ(it_jstr(j, "type"), "feed_suppressed");
  ASSERT_STR_EQ(it_jstr(j, "destination"), "chat");
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "suppressed");
  ASSERT_EQ(it_jint(s, "count"), 7);
  ASSERT_CONTAINS(it_jstr(s, "summary"), "7 more alerts suppressed by the rate limit since ");
  char *key = httpd_header(r, "Idempotency-Key");
  ASSERT(key != NULL && strncmp(key, "summary-", 8) == 0);
  free(key);
  cJSON_Delete(j);

  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "chat", "delivered"), 3);
  ASSERT_EQ(wstat(st, "chat", "suppressed"), 7);
  ASSERT_EQ(wstat(st, "chat", "summaries"), 1);
  ASSERT_EQ(wstat(st, "chat", "awaiting_summary"), 0);
  ASSERT_EQ(wstat(st, "chat", "pending"), 0);
  ASSERT_EQ(wstat(st, "chat", "in_flight"), 0);
  cJSON_Delete(st);
  finish_drained(&d, h, 4);
}

/* Suppressed alerts are owed a summary across a restart, and the next
 * alert carries it (text format: appended to the message). */
static void test_suppressed_restart(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  /* One token a minute: nothing but the burst goes out during the test. */
  const char *dests = "{\"name\": \"chat\", \"url\": \"http://127.0.0.1:%d/hook\","
                      " \"format\": \"text\", \"rate_per_minute\": 1, \"burst\": 2}";
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(h);
  start(&d, h, dests);
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 4);
  ASSERT_EQ(httpd_wait(h, 2, -1), 2);
  wait_log_n(&d, 0, " delivered (attempt 1)", 2);
  wait_log_n(&d, 0, " suppressed by the rate limit (1 per minute, burst 2)", 2);
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "chat", "suppressed"), 2);
  ASSERT_EQ(wstat(st, "chat", "awaiting_summary"), 2);
  cJSON_Delete(st);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox WHERE state = 'suppressed'"
                          " AND closed_at IS NOT NULL", NULL), 2);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox", NULL), 2);
  sqlite3_close(db);

  size_t from = d.log_len;
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  wait_log_n(&d, from, "0 deliveries pending and 2 suppressed alerts to summarise", 1);
  send_lines(&d, NULL, "{\"call_id\":\"d-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  ASSERT_EQ(httpd_wait(h, 3, -1), 3);
  wait_log_n(&d, from, " delivered (attempt 1)", 1);
  cJSON *j = body_json(httpd_get(h, 2));
  const char *text = it_jstr(j, "text");
  ASSERT_CONTAINS(text, "on call d-1");
  ASSERT_CONTAINS(text, "\n(2 more alerts suppressed by the rate limit since ");
  cJSON_Delete(j);
  st = stats(&d);
  ASSERT_EQ(wstat(st, "chat", "delivered"), 1);
  ASSERT_EQ(wstat(st, "chat", "summaries"), 0);
  ASSERT_EQ(wstat(st, "chat", "awaiting_summary"), 0);
  cJSON_Delete(st);
  finish_drained(&d, h, 3);
}

/* A receiver that keeps failing: max_attempts requests, then the row is
 * failed, kept with the last error, counted. */
static void test_max_attempts(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  char key[64];
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_set_status(h, 500, "database on fire");
  httpd_listen(h);
  start(&d, h,
        "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\","
        " \"max_attempts\": 3, \"retry_initial_ms\": 20, \"retry_max_ms\": 40}");
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  ASSERT_EQ(httpd_wait(h, 3, -1), 3);
  wait_log_n(&d, 0, "ops: alert 1 failed after 3 attempts (HTTP 500: database on fire)", 1);
  key_of(key, sizeof(key), 1, "ops");
  for (size_t i = 0; i < 3; i++)
    expect_header(httpd_get(h, i), "Idempotency-Key", key);
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "failed"), 1);
  ASSERT_EQ(wstat(st, "ops", "failed_attempts"), 3);
  ASSERT_EQ(wstat(st, "ops", "delivered"), 0);
  ASSERT_EQ(wstat(st, "ops", "pending"), 0);
  ASSERT_EQ(wstat(st, "ops", "in_flight"), 0);
  cJSON_Delete(st);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  char *err = it_db_text(db, "SELECT last_error FROM webhook_outbox WHERE state = 'failed'"
                             " AND attempts = 3 AND closed_at IS NOT NULL", NULL);
  ASSERT_STR_EQ(err, "HTTP 500: database on fire");
  free(err);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox", NULL), 1);
  sqlite3_close(db);

  /* A restart does not try a failed delivery again. */
  size_t from = d.log_len;
  httpd_set_status(h, 200, NULL);
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  send_lines(&d, NULL, "{\"call_id\":\"e-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  ASSERT_EQ(httpd_wait(h, 4, -1), 4);
  wait_log_n(&d, from, "ops: alert 2 delivered (attempt 1)", 1);
  cJSON *j = body_json(httpd_get(h, 3));
  ASSERT_EQ(it_jint(j, "id"), 2);
  cJSON_Delete(j);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_EQ(httpd_count(h), 4);
  httpd_free(h);
  it_daemon_cleanup(&d);
}

/* SIGTERM with a request in flight (the receiver never answers): earshotd
 * stops at once, the delivery stays pending, and the next start sends it
 * again with the same key. */
static void test_in_flight_at_shutdown(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  char key[64];
  const char *dests = "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\","
                      " \"timeout_ms\": 600000}";
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_set_status(h, 0, NULL);
  httpd_listen(h);
  start(&d, h, dests);
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  ASSERT_EQ(httpd_wait(h, 1, -1), 1);
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "in_flight"), 1);
  cJSON_Delete(st);
  uint64_t t0 = it_now_ms();
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_LT(it_now_ms() - t0, it_scaled(10000)); /* not the 10 minute timeout */
  ASSERT_GE(it_log_count(&d, "webhook: stopped: 1 deliveries (1 of them in flight)"), 1);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox WHERE state = 'pending'"
                          " AND attempts = 0", NULL), 1);
  sqlite3_close(db);

  size_t from = d.log_len;
  httpd_set_status(h, 204, "");
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  ASSERT_EQ(httpd_wait(h, 2, -1), 2);
  wait_log_n(&d, from, "ops: alert 1 delivered (attempt 1)", 1);
  key_of(key, sizeof(key), 1, "ops");
  expect_header(httpd_get(h, 0), "Idempotency-Key", key);
  expect_header(httpd_get(h, 1), "Idempotency-Key", key);
  ASSERT_STR_EQ(httpd_get(h, 0)->body, httpd_get(h, 1)->body);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox", NULL), 0);
  sqlite3_close(db);
  httpd_free(h);
  it_daemon_cleanup(&d);
}

/* A receiver that accepts and never answers: each attempt ends at
 * timeout_ms (curl's timer on the loop), then the delivery fails. */
static void test_timeout(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_set_status(h, 0, NULL);
  httpd_listen(h);
  start(&d, h,
        "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\", \"timeout_ms\": 200,"
        " \"max_attempts\": 2, \"retry_initial_ms\": 20, \"retry_max_ms\": 20}");
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 1);
  wait_log_n(&d, 0, "ops: alert 1 failed after 2 attempts (Operation timed out after ", 1);
  ASSERT_EQ(httpd_count(h), 2);
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "failed"), 1);
  ASSERT_EQ(wstat(st, "ops", "in_flight"), 0);
  cJSON_Delete(st);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  httpd_free(h);
  it_daemon_cleanup(&d);
}

/* --check-config names the destination and the key to fix. */
static void check_config(struct it_daemon *d, const char *webhooks, int want_code,
                         const char *want) {
  char config[4096];
  char *out = NULL;
  snprintf(config, sizeof(config), "{\"webhooks\": %s}", webhooks);
  it_config(d, config);
  const char *args[] = {"--check-config", "--rules", d->rules, "--config", d->config, NULL};
  int code = it_run_earshotd(args, &out, -1);
  if (code != want_code || strstr(out, want) == NULL)
    IT_FAIL("webhooks %s: exit %d (want %d), output \"%s\" (want \"%s\")", webhooks, code,
            want_code, out, want);
  free(out);
}

static void test_config_errors(void) {
  struct it_daemon d;
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/x\", \"format\": \"text\","
               " \"min_severity\": \"high\", \"categories\": [\"x\"], \"queues\": [\"q\"],"
               " \"agents\": [\"a\"], \"headers\": {\"Authorization\": \"Bearer t\"},"
               " \"timeout_ms\": 5000, \"rate_per_minute\": 30, \"burst\": 10,"
               " \"max_attempts\": 10, \"retry_initial_ms\": 1000, \"retry_max_ms\": 300000}]",
               0, "configuration OK");
  check_config(&d, "{}", 1, "\"webhooks\" must be an array of destinations");
  check_config(&d, "[{\"url\": \"http://h/\"}]", 1, "webhooks[0]: \"name\" is required");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\"}, {\"name\": \"a\", \"url\": "
               "\"http://h/\"}]", 1, "webhooks[1] (\"a\"): the name is already used by webhooks[0]");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"ftp://h/\"}]", 1,
               "webhooks[0] (\"a\"): \"url\" is required: an http:// or https:// URL");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"colour\": 1}]", 1,
               "webhooks[0] (\"a\"): unknown key \"colour\"");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"format\": \"xml\"}]", 1,
               "\"format\" must be \"json\"");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"min_severity\": \"urgent\"}]",
               1, "webhooks[0] (\"a\"): \"min_severity\" must be info, low, medium, high or "
               "critical");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"queues\": \"billing\"}]", 1,
               "\"queues\" must be an array of names (strings, or whole numbers such as 1042)");
  /* An agent_id (or queue) a start line sends as a number: its whole
   * number names it; a fraction or another type does not. */
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"agents\": [1042, \"a-7\"],"
               " \"queues\": [7]}]", 0, "configuration OK");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"agents\": [1042.5]}]", 1,
               "webhooks[0] (\"a\"): every entry of \"agents\" must be a non-empty string of at "
               "most 127 bytes or a whole number (an agent_id or queue sent as a number");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"agents\": [{\"id\": 1}]}]",
               1, "or a whole number");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"headers\": "
               "{\"Idempotency-Key\": \"x\"}}]", 1,
               "header \"Idempotency-Key\" is set by earshotd");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"headers\": "
               "{\"X-A\": \"line\\nbreak\"}}]", 1, "without line breaks");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"timeout_ms\": 5}]", 1,
               "\"timeout_ms\" must be a whole number of milliseconds from 100 to 600000");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"burst\": 0}]", 1,
               "\"burst\" must be a whole number from 1 to 10000");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"max_attempts\": 2.5}]", 1,
               "\"max_attempts\" must be a whole number from 1 to 1000");
  check_config(&d, "[{\"name\": \"a\", \"url\": \"http://h/\", \"retry_initial_ms\": 5000,"
               " \"retry_max_ms\": 1000}]", 1,
               "\"retry_max_ms\" must be a whole number of milliseconds from retry_initial_ms "
               "(5000)");
  it_daemon_cleanup(&d);
}

/* ---- reloads ---------------------------------------------------------------- */

/* Writes the config file {"webhooks": [<dests>]}, dests printf-formatted. */
static void webhooks_config(struct it_daemon *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void webhooks_config(struct it_daemon *d, const char *fmt, ...) {
  char dests[4096], config[4200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dests, sizeof(dests), fmt, ap);
  va_end(ap);
  snprintf(config, sizeof(config), "{\"webhooks\": [%s]}", dests);
  it_config(d, config);
}

/* One alert (it.manager) on call <tag>-1, acknowledged: stored with its
 * outbox rows. */
static void raise_alert(struct it_daemon *d, char tag) {
  char line[256];
  snprintf(line, sizeof(line), "{\"call_id\":\"%c-1\",\"speaker\":\"customer\","
           "\"text\":\"just get me your manager\"}", tag);
  send_lines(d, NULL, line, 1); /* no % left in it to format */
}

/* Returns once every row queued to the store so far is committed: the
 * ack of a line that raises nothing comes after them. */
static void sync_store(struct it_daemon *d) {
  send_lines(d, NULL, "{\"call_id\":\"sync-%d\",\"speaker\":\"agent\",\"text\":\"hello "
             "(%d)\"}", 1);
}

/* {"type":"reload"} on a connection of its own; returns the answer. */
static cJSON *reload(struct it_daemon *d) {
  struct it_conn *c = it_connect(d);
  ASSERT_EQ(it_sendf(c, "{\"type\":\"reload\"}"), 0);
  cJSON *m = it_expect(c, "reload", -1, NULL, NULL);
  it_close(c);
  return m;
}

static void expect_reload_ok(struct it_daemon *d, const char *webhooks) {
  cJSON *m = reload(d);
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "ok")))
    IT_FAIL("reload failed: %s", it_jstr(m, "message"));
  ASSERT_STR_EQ(it_jstr(m, "webhooks"), webhooks);
  ASSERT(cJSON_GetObjectItemCaseSensitive(m, "restart_needed") == NULL);
  cJSON_Delete(m);
}

static void expect_reload_refused(struct it_daemon *d, const char *why) {
  cJSON *m = reload(d);
  ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(m, "ok")));
  ASSERT_CONTAINS(it_jstr(m, "message"), why);
  ASSERT_CONTAINS(it_jstr(m, "message"), "the old rules and webhooks stay");
  cJSON_Delete(m);
}

static size_t count_path(struct httpd *h, const char *path) {
  size_t n = 0;
  for (size_t i = 0; i < httpd_count(h); i++)
    n += strcmp(httpd_get(h, i)->path, path) == 0;
  return n;
}

static int has_dest(const cJSON *st, const char *dest) {
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(st, "webhooks");
  return cJSON_GetObjectItemCaseSensitive(w, dest) != NULL;
}

static int64_t outbox_rows(struct it_daemon *d, const char *dest, const char *state) {
  sqlite3 *db = it_db_open(d->db);
  int64_t n = it_db_int(db, "SELECT count(*) FROM webhook_outbox WHERE destination = ?1"
                            " AND state = ?2", dest, state, NULL);
  sqlite3_close(db);
  return n;
}

/* Stops the daemon (exit 0) with nothing left in the outbox and frees the
 * receivers. */
static void finish_two(struct it_daemon *d, struct httpd *a, struct httpd *b) {
  ASSERT_EQ(it_daemon_stop(d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d->db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM webhook_outbox", NULL), 0);
  sqlite3_close(db);
  httpd_free(a);
  httpd_free(b);
  it_daemon_cleanup(d);
}

/* A reload points "ops" at another receiver with another secret and adds
 * "chat": the next alert goes to the new URL with the new header, none to
 * the old one; the counters of "ops" go on; no secret in the log. */
static void test_reload_changes_destinations(void) {
  struct it_daemon d;
  struct httpd *a = httpd_new(), *b = httpd_new();
  char key[64];
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(a);
  httpd_listen(b);
  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/ops\","
                  " \"headers\": {\"Authorization\": \"Bearer old-s3cret\"}}", httpd_port(a));
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  raise_alert(&d, 'c');
  ASSERT_EQ(httpd_wait(a, 1, -1), 1);
  wait_log_n(&d, 0, "ops: alert 1 delivered (attempt 1)", 1);
  expect_header(httpd_get(a, 0), "Authorization", "Bearer old-s3cret");

  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/ops\","
                  " \"headers\": {\"Authorization\": \"Bearer new-s3cret\"}},"
                  "{\"name\": \"chat\", \"url\": \"http://127.0.0.1:%d/chat\", \"format\": \"text\"}",
                  httpd_port(b), httpd_port(a));
  size_t from = d.log_len;
  expect_reload_ok(&d, "2 destinations (added chat; changed ops (url, headers))");
  wait_log_n(&d, from, "reload: webhooks: 2 destinations (added chat; changed ops (url, headers))",
             1);
  raise_alert(&d, 'd');
  ASSERT_EQ(httpd_wait(b, 1, -1), 1);
  ASSERT_EQ(httpd_wait(a, 2, -1), 2);
  wait_log_n(&d, from, " alert 2 delivered (attempt 1)", 2);
  const struct httpd_req *r = httpd_get(b, 0);
  ASSERT_STR_EQ(r->path, "/ops");
  expect_header(r, "Authorization", "Bearer new-s3cret");
  key_of(key, sizeof(key), 2, "ops");
  expect_header(r, "Idempotency-Key", key);
  r = httpd_get(a, 1);
  ASSERT_STR_EQ(r->path, "/chat");
  key_of(key, sizeof(key), 2, "chat");
  expect_header(r, "Idempotency-Key", key);
  ASSERT_EQ(count_path(a, "/ops"), 1); /* alert 1 only */
  ASSERT(strstr(d.log, "s3cret") == NULL);
  cJSON *st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "delivered"), 2);
  ASSERT_EQ(wstat(st, "chat", "delivered"), 1);
  ASSERT_EQ(it_jint(st, "reloads"), 1);
  cJSON_Delete(st);
  finish_two(&d, a, b);
}

/* Whatever is wrong in the new file (a bad destination, rules that do not
 * load, malformed JSON), nothing changes: the alert after three failed
 * reloads goes where the first file said. */
static void test_reload_broken_keeps_webhooks(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(h);
  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/old\"}", httpd_port(h));
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);

  size_t from = d.log_len;
  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/new\"},"
                  "{\"name\": \"pager\", \"url\": \"ftp://pager.example/\"}", httpd_port(h));
  expect_reload_refused(&d, "webhooks[1] (\"pager\"): \"url\" is required: an http:// or https://");
  wait_log_n(&d, from, "error config: ", 1);
  wait_log_n(&d, from, "config.json: webhooks[1] (\"pager\"): \"url\" is required", 1);
  wait_log_n(&d, from, "reload failed (", 1);

  /* A good webhook change, with rules that do not load (by SIGHUP). */
  from = d.log_len;
  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/new\"}", httpd_port(h));
  it_rules(&d, "broken_json.json");
  ASSERT_EQ(kill(d.pid, SIGHUP), 0);
  wait_log_n(&d, from, "reload failed (", 1);
  wait_log_n(&d, from, "and the webhooks as they were", 1);
  ASSERT(strstr(d.log + from, "malformed JSON") != NULL);

  it_rules(&d, "base.json");
  it_config(&d, "{\"webhooks\": [");
  expect_reload_refused(&d, "config.json: malformed JSON near line 1");

  raise_alert(&d, 'c');
  ASSERT_EQ(httpd_wait(h, 1, -1), 1);
  wait_log_n(&d, 0, "ops: alert 1 delivered (attempt 1)", 1);
  ASSERT_STR_EQ(httpd_get(h, 0)->path, "/old");
  cJSON *st = stats(&d);
  ASSERT_EQ(it_jint(st, "reloads"), 0);
  ASSERT_EQ(it_jint(st, "reload_failures"), 3);
  cJSON_Delete(st);
  finish_drained(&d, h, 1);
}

/* "ops" (with `settings`, printf-formatted with the port) at receiver a,
 * which `a_ready` sets up; alert 1 raised and `first_attempt` waited for.
 * Then a reload points "ops" at receiver b: `moved` in the log, alert 1 at
 * b, `delivered` in the log, the same key at both, and the daemon stopped
 * with nothing left in the outbox. */
static void move_ops(void (*a_ready)(struct httpd *), const char *settings,
                     void (*first_attempt)(struct it_daemon *, struct httpd *),
                     const char *moved, const char *delivered) {
  struct it_daemon d;
  struct httpd *a = httpd_new(), *b = httpd_new();
  char dest[512];
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  a_ready(a);
  httpd_listen(b);
  snprintf(dest, sizeof(dest), "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%%d/hook\", %s}",
           settings);
  webhooks_config(&d, dest, httpd_port(a));
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  raise_alert(&d, 'c');
  first_attempt(&d, a);

  webhooks_config(&d, dest, httpd_port(b));
  size_t from = d.log_len;
  expect_reload_ok(&d, "1 destination (changed ops (url))");
  wait_log_n(&d, from, moved, 1);
  ASSERT_EQ(httpd_wait(b, 1, -1), 1);
  wait_log_n(&d, from, delivered, 1);
  char *kb = httpd_header(httpd_get(b, 0), "Idempotency-Key");
  ASSERT_STR_EQ(kb, "1-ops");
  free(kb);
  for (size_t i = 0; i < httpd_count(a); i++) {
    char *ka = httpd_header(httpd_get(a, i), "Idempotency-Key");
    ASSERT_STR_EQ(ka, "1-ops");
    ASSERT_STR_EQ(httpd_get(a, i)->body, httpd_get(b, 0)->body);
    free(ka);
  }
  finish_two(&d, a, b);
}

static void never_answers(struct httpd *h) {
  httpd_set_status(h, 0, NULL);
  httpd_listen(h);
}

static void stays_down(struct httpd *h) { (void)h; }

static void in_flight(struct it_daemon *d, struct httpd *a) {
  ASSERT_EQ(httpd_wait(a, 1, -1), 1);
  cJSON *st = stats(d);
  ASSERT_EQ(wstat(st, "ops", "in_flight"), 1);
  cJSON_Delete(st);
}

static void failed_once(struct it_daemon *d, struct httpd *a) {
  wait_log_n(d, 0, "ops: alert 1 attempt 1 failed: ", 1);
  ASSERT_EQ(outbox_rows(d, "ops", "pending"), 1);
  ASSERT_EQ(httpd_count(a), 0);
}

/* The receiver never answers; a reload moves the destination: the request
 * in flight is abandoned and sent to the new URL at once, as attempt 1
 * with the same key. */
static void test_reload_in_flight_sent_again(void) {
  move_ops(never_answers, "\"timeout_ms\": 600000", in_flight,
           "ops: new url or headers: 1 requests in flight abandoned and 0 retries brought "
           "forward, sent again now", "ops: alert 1 delivered (attempt 1)");
}

/* The receiver is down and the retry an hour away; a reload moves the
 * destination to a receiver that is up: the pending row goes there now
 * (an hour's wait would outlast the test's deadline). */
static void test_reload_retry_brought_forward(void) {
  move_ops(stays_down, "\"retry_initial_ms\": 3600000, \"retry_max_ms\": 3600000", failed_once,
           "ops: new url or headers: 0 requests in flight abandoned and 1 retries brought "
           "forward, sent again now", "ops: alert 1 delivered (attempt 2)");
}

/* A destination removed while its deliveries are pending: they stay in
 * the outbox (warn log with the count), alerts raised meanwhile are not
 * queued for it, nothing goes to its old URL, and once a reload configures
 * it again (at another URL) the rows kept are sent, each once. */
static void test_reload_removed_pending(void) {
  struct it_daemon d;
  struct httpd *a = httpd_new(), *b = httpd_new();
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(b);
  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\","
                  " \"retry_initial_ms\": 50, \"retry_max_ms\": 200, \"max_attempts\": 1000}",
                  httpd_port(a));
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 2);
  wait_log_n(&d, 0, " attempt 1 failed: ", 2);

  it_config(&d, "{\"webhooks\": []}");
  size_t from = d.log_len;
  expect_reload_ok(&d, "0 destinations (removed ops)");
  wait_log_n(&d, from, "warn  webhook: ops: removed from the configuration; its 2 pending "
             "deliveries (", 1);
  wait_log_n(&d, from, "and 0 suppressed alerts awaiting a summary stay in the outbox, and are "
             "sent if a destination named \"ops\" is configured again", 1);
  cJSON *st = stats(&d);
  ASSERT(!has_dest(st, "ops"));
  cJSON_Delete(st);
  httpd_listen(a); /* its old URL is up: nothing goes there any more */
  raise_alert(&d, 'd');
  ASSERT_EQ(outbox_rows(&d, "ops", "pending"), 2);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), 3);
  sqlite3_close(db);

  webhooks_config(&d, "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\"}", httpd_port(b));
  from = d.log_len;
  expect_reload_ok(&d, "1 destination (added ops)");
  wait_log_n(&d, from, "ops: 2 deliveries pending and 0 suppressed alerts to summarise from the "
             "outbox, kept while it was not configured", 1);
  ASSERT_EQ(httpd_wait(b, 2, -1), 2);
  wait_log_n(&d, from, " delivered (attempt ", 2);
  int seen[3] = {0};
  for (size_t i = 0; i < 2; i++) {
    char *key = httpd_header(httpd_get(b, i), "Idempotency-Key");
    ASSERT(key != NULL);
    if (strcmp(key, "1-ops") == 0)
      seen[1]++;
    else if (strcmp(key, "2-ops") == 0)
      seen[2]++;
    else
      IT_FAIL("unexpected Idempotency-Key %s", key);
    free(key);
  }
  ASSERT_EQ(seen[1], 1);
  ASSERT_EQ(seen[2], 1);
  st = stats(&d);
  ASSERT_EQ(wstat(st, "ops", "delivered"), 2);
  ASSERT_EQ(wstat(st, "ops", "pending"), 0);
  cJSON_Delete(st);
  ASSERT_EQ(httpd_count(a), 0);
  finish_two(&d, a, b);
}

/* Suppressed alerts of a removed destination are owed a summary when it
 * comes back: the first alert after carries their count. */
static void test_reload_removed_suppressed(void) {
  struct it_daemon d;
  struct httpd *h = httpd_new();
  const char *dest = "{\"name\": \"ops\", \"url\": \"http://127.0.0.1:%d/hook\","
                     " \"rate_per_minute\": 1, \"burst\": 1}";
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  httpd_listen(h);
  webhooks_config(&d, dest, httpd_port(h));
  ASSERT_EQ(it_daemon_start(&d, debug_log), 0);
  send_lines(&d, NULL, "{\"call_id\":\"c-%d\",\"speaker\":\"customer\",\"text\":\"just get me "
             "your manager (%d)\"}", 3);
  ASSERT_EQ(httpd_wait(h, 1, -1), 1);
  wait_log_n(&d, 0, " delivered (attempt 1)", 1);
  wait_log_n(&d, 0, " suppressed by the rate limit (1 per minute, burst 1)", 2);

  it_config(&d, "{\"webhooks\": []}");
  size_t from = d.log_len;
  expect_reload_ok(&d, "0 destinations (removed ops)");
  wait_log_n(&d, from, "ops: removed from the configuration; its 0 pending deliveries (0 of them "
             "in flight, abandoned) and 2 suppressed alerts awaiting a summary stay", 1);
  sync_store(&d);
  ASSERT_EQ(outbox_rows(&d, "ops", "suppressed"), 2);

  webhooks_config(&d, dest, httpd_port(h));
  from = d.log_len;
  expect_reload_ok(&d, "1 destination (added ops)");
  wait_log_n(&d, from, "ops: 0 deliveries pending and 2 suppressed alerts to summarise from the "
             "outbox", 1);
  raise_alert(&d, 'd');
  ASSERT_EQ(httpd_wait(h, 2, -1), 2);
  wait_log_n(&d, from, "ops: alert 4 delivered (attempt 1)", 1);
  cJSON *j = body_json(httpd_get(h, 1));
  ASSERT_EQ(it_jint(j, "id"), 4);
  ASSERT_EQ(it_jint(cJSON_GetObjectItemCaseSensitive(j, "suppressed"), "count"), 2);
  cJSON_Delete(j);
  finish_drained(&d, h, 2);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_config_errors);
  RUN(test_delivered);
  RUN(test_numeric_agent);
  RUN(test_receiver_down);
  RUN(test_restart_pending);
  RUN(test_rate_limit);
  RUN(test_suppressed_restart);
  RUN(test_max_attempts);
  RUN(test_in_flight_at_shutdown);
  RUN(test_timeout);
  RUN(test_reload_changes_destinations);
  RUN(test_reload_broken_keeps_webhooks);
  RUN(test_reload_in_flight_sent_again);
  RUN(test_reload_retry_brought_forward);
  RUN(test_reload_removed_pending);
  RUN(test_reload_removed_suppressed);
  return 0;
}
