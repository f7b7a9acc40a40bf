/*
 * it_slow.c: a client that sends trigger lines and never reads its alerts
 * is disconnected once its unread output has stayed over half of
 * limits.max_output_bytes for limits.output_stall_timeout seconds
 * (65536 here, the smallest allowed), with a warning in the log; the other
 * clients keep working. Clients that vanish mid-stream, with lines and
 * acks in flight, take nothing down either.
 */
#include <stdlib.h>

#include "harness.h"

#define SLOW_LINES 20000

static void expect_trigger(struct it_conn *c, const char *call, int64_t seq) {
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"customer\",\"text\":\"the zebra "
                        "crossing\",\"seq\":%" PRId64 "}", call, seq), 0);
  cJSON *m = it_expect(c, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "call_id"), call);
  cJSON_Delete(m);
  it_expect_seq(c, "ack", seq);
}

static void test_slow_client_disconnected(void) {
  struct it_daemon d;
  struct it_str out = {0};
  size_t sent = 0;

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_output_bytes\": 65536, \"output_stall_timeout\": 1}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);

  struct it_conn *other = it_connect(&d);
  free(it_hello(other, 1));
  expect_trigger(other, "other", 1);

  /* The slow client writes, and writes, and never reads. */
  struct it_conn *slow = it_connect(&d);
  it_str_addf(&out, "{\"type\":\"hello\",\"client\":\"slow\"}\n");
  for (int i = 1; i <= SLOW_LINES; i++)
    it_str_addf(&out, "{\"call_id\":\"slow-%d\",\"speaker\":\"agent\",\"text\":\"that's our "
                      "policy at the zebra crossing\",\"seq\":%d}\n", i % 8, i);
  size_t from = d.log_len;
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  int closed = 0;
  while (!closed) {
    if (sent < out.len) {
      long n = it_send_some(slow, out.p + sent, out.len - sent);
      if (n < 0)
        break; /* EPIPE: the daemon hung up on us */
      sent += (size_t)n;
    }
    /* Only writability and hang-up: never POLLIN, never a read. */
    struct pollfd pfd = {.fd = slow->fd, .events = sent < out.len ? POLLOUT : 0};
    ASSERT(it_now_ms() < deadline);
    it_poll(&pfd, 1, (int)(deadline - it_now_ms()));
    closed = (pfd.revents & (POLLHUP | POLLERR)) != 0;
  }
  long at = it_wait_log(&d, from, "max_output_bytes (65536)", -1);
  ASSERT(at >= 0);
  const char *bol = d.log + at;
  while (bol > d.log && bol[-1] != '\n')
    bol--;
  ASSERT(strncmp(bol + 24, " warn ", 6) == 0); /* 2026-11-24T04:30:00.123Z warn  server: */
  fprintf(stderr, "   disconnected after %zu of %zu bytes written\n", sent, out.len);
  ASSERT_LT(sent, out.len); /* it did not get to write everything */

  /* The other client never noticed; new ones are welcome. */
  expect_trigger(other, "other", 2);
  struct it_conn *fresh = it_connect(&d);
  free(it_hello(fresh, 1));
  expect_trigger(fresh, "fresh", 1);
  ASSERT_EQ(it_sendf(other, "{\"type\":\"stats\"}"), 0);
  cJSON *st = it_expect(other, "stats", -1, NULL, NULL);
  ASSERT_EQ(it_jint(st, "slow_client_disconnects"), 1);
  ASSERT_EQ(it_jint(st, "connections"), 2);
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(st, "queues");
  ASSERT_LE(it_jint(q, "output_bytes"), 65536);
  cJSON_Delete(st);

  it_close(slow);
  it_close(other);
  it_close(fresh);
  it_str_free(&out);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

static void test_vanishing_clients(void) {
  struct it_daemon d;
  struct it_str out = {0};

  it_start(&d, "base.json");
  struct it_conn *other = it_connect(&d);
  free(it_hello(other, 1));

  it_str_addf(&out, "{\"type\":\"hello\",\"client\":\"gone\",\"acks\":true}\n");
  for (int i = 1; i <= 2000; i++)
    it_str_addf(&out, "{\"call_id\":\"gone-%d\",\"speaker\":\"agent\",\"text\":\"zebra "
                      "crossing\",\"seq\":%d}\n", i % 4, i);
  for (int round = 0; round < 8; round++) {
    struct it_conn *c = it_connect(&d);
    /* Write a part (half a line at the end, on odd rounds), read a little
     * or nothing, and go. */
    size_t part = out.len / 8 * (size_t)(round + 1) - (round % 2 ? 40 : 0);
    size_t sent = 0;
    while (sent < part) {
      long n = it_send_some(c, out.p + sent, part - sent);
      ASSERT(n >= 0);
      sent += (size_t)n;
      if (n == 0) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLOUT | POLLIN};
        it_poll(&pfd, 1, -1);
        if (round % 2 && (pfd.revents & POLLIN))
          it_recv_some(c);
      }
    }
    if (round % 4 == 0)
      cJSON_Delete(it_expect(c, "hello", -1, NULL, NULL));
    it_close(c);
    /* The daemon is still there for the others. */
    expect_trigger(other, "other", round + 1);
  }
  ASSERT_EQ(it_sendf(other, "{\"type\":\"stats\"}"), 0);
  cJSON *st = it_expect(other, "stats", -1, NULL, NULL);
  ASSERT_EQ(it_jint(st, "connections"), 1);
  cJSON_Delete(st);
  it_close(other);
  it_str_free(&out);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  /* What was processed was committed whole, calls closed by the shutdown. */
  sqlite3 *db = it_db_open(d.db);
  ASSERT_GT(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id LIKE 'gone-%'", NULL), 0);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE ended IS NULL", NULL), 0);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* The limit is on output the client leaves unread: one that reads as it
 * goes should never be cut off, even bursting lines that each raise two
 * alerts (the daemon holds back the rest of a read while output is
 * backed up, instead of producing it all at once). */
static void test_reading_client_kept(void) {
  struct it_daemon d;
  struct it_str out = {0};
  size_t sent = 0;
  int alerts = 0;
  int64_t last_ack = 0;

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_output_bytes\": 65536}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  for (int i = 1; i <= 3000; i++)
    it_str_addf(&out, "{\"call_id\":\"burst-%d\",\"speaker\":\"agent\",\"text\":\"that's our "
                      "policy at the zebra crossing\",\"seq\":%d}\n", i % 8, i);
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  while (last_ack < 3000) {
    if (sent < out.len) {
      long n = it_send_some(c, out.p + sent, out.len - sent);
      if (n < 0)
        IT_FAIL("the daemon hung up on a client that reads (%d alerts read)", alerts);
      sent += (size_t)n;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (sent < out.len ? POLLOUT : 0)};
    ASSERT(it_now_ms() < deadline);
    it_poll(&pfd, 1, (int)(deadline - it_now_ms()));
    it_recv_some(c);
    if (c->eof)
      IT_FAIL("the daemon hung up on a client that reads (%d alerts read)", alerts);
    char *line;
    while ((line = it_take_line(c)) != NULL) {
      cJSON *m = cJSON_Parse(line);
      ASSERT(m != NULL);
      if (strcmp(it_jtype(m), "alert") == 0)
        alerts++;
      else if (strcmp(it_jtype(m), "ack") == 0)
        last_ack = it_jint(m, "seq");
      else
        IT_FAIL("unexpected message %s", line);
      cJSON_Delete(m);
      free(line);
    }
  }
  ASSERT_EQ(alerts, 6000);
  ASSERT_EQ(it_log_count(&d, "max_output_bytes"), 0);
  it_close(c);
  it_str_free(&out);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A client that stops reading must not hold a stopping daemon: its last
 * output is given ESD_CLOSE_DEADLINE_MS, then the connection is closed
 * with a log line, and the daemon exits 0 (it hung until the client went
 * away). */
static void test_shutdown_with_unread_output(void) {
  struct it_daemon d;
  struct it_str out = {0};
  enum { LINES = 2000 };

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"output_stall_timeout\": 3600}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  struct it_conn *mute = it_connect(&d);
  for (int i = 1; i <= LINES; i++)
    it_str_addf(&out, "{\"call_id\":\"mute-%d\",\"speaker\":\"agent\",\"text\":\"that's our "
                      "policy at the zebra crossing\",\"seq\":%d}\n", i % 8, i);
  ASSERT_EQ(it_send(mute, out.p, out.len), 0);
  /* Until the daemon has handled every line (its output to `mute` is
   * then queued, unread), asked over another connection. */
  struct it_conn *probe = it_connect(&d);
  for (int64_t lines = 0; lines < LINES;) {
    ASSERT_EQ(it_sendf(probe, "{\"type\":\"stats\"}"), 0);
    cJSON *st = it_expect(probe, "stats", -1, NULL, NULL);
    lines = it_jint(st, "lines") - 1; /* the probe's own stats line */
    cJSON_Delete(st);
  }
  it_close(probe);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_EQ(it_log_count(&d, "did not read in 5 s"), 1);
  it_close(mute);
  it_str_free(&out);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_slow_client_disconnected);
  RUN(test_vanishing_clients);
  RUN(test_reading_client_kept);
  RUN(test_shutdown_with_unread_output);
  return 0;
}
