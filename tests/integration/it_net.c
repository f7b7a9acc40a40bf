/*
 * it_net.c: the listeners and call lifetimes.
 *  - TCP is off by default; when on, a client must open with a hello that
 *    carries the shared token, or it gets auth_required and is closed;
 *  - the Unix socket is created with mode 0660, or socket_mode;
 *  - a call with no line for call_idle_timeout seconds is closed as
 *    abandoned in the calls table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define TOKEN "correct-horse-battery-staple"

static struct it_conn *tcp_connect(int port) {
  struct sockaddr_in sa;
  struct it_conn *c;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  ASSERT(fd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    IT_FAIL("connect 127.0.0.1:%d: %s", port, strerror(errno));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  c = calloc(1, sizeof(*c));
  ASSERT(c != NULL);
  c->fd = fd;
  return c;
}

/* Reads until the daemon closes the connection (with a deadline). */
static void expect_closed(struct it_conn *c) {
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  while (!c->eof) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    ASSERT(it_now_ms() < deadline);
    it_poll(&pfd, 1, (int)(deadline - it_now_ms()));
    it_recv_some(c);
    free(it_take_line(c));
  }
}

static void test_tcp_needs_token(void) {
  struct it_daemon d;
  int port = 0;

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"listen_tcp\": \"127.0.0.1:0\", \"tcp_token\": \"" TOKEN "\"}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  long at = it_wait_log(&d, 0, "listening on TCP 127.0.0.1 port ", -1);
  ASSERT(at >= 0);
  port = atoi(d.log + at); /* it_wait_log returns the offset just past the needle */
  ASSERT_GT(port, 0);

  /* The right token: a normal session. */
  struct it_conn *ok = tcp_connect(port);
  ASSERT_EQ(it_sendf(ok, "{\"type\":\"hello\",\"client\":\"t\",\"acks\":true,\"token\":\"" TOKEN "\"}"), 0);
  cJSON *m = it_expect(ok, "hello", -1, NULL, NULL);
  cJSON_Delete(m);
  ASSERT_EQ(it_sendf(ok, "{\"call_id\":\"tcp-1\",\"speaker\":\"agent\",\"text\":\"the zebra "
                         "crossing\",\"seq\":1}"), 0);
  m = it_expect(ok, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "call_id"), "tcp-1");
  cJSON_Delete(m);
  it_expect_seq(ok, "ack", 1);

  /* No hello, a wrong token, garbage: each gets auth_required (the log
   * says what was wrong with a line that did not decode) and is closed;
   * nothing it sent is processed. */
  const char *bad[] = {
    "{\"call_id\":\"tcp-2\",\"speaker\":\"agent\",\"text\":\"the zebra crossing\"}",
    "{\"type\":\"hello\",\"token\":\"" TOKEN "x\"}",
    "{\"type\":\"hello\",\"token\":\"correct-horse-battery-stapl\"}",
    "not json at all",
  };
  for (int i = 0; i < 4; i++) {
    struct it_conn *c = tcp_connect(port);
    ASSERT_EQ(it_sendf(c, "%s", bad[i]), 0);
    ASSERT_EQ(it_sendf(c, "{\"call_id\":\"tcp-bad\",\"speaker\":\"agent\",\"text\":\"the zebra crossing\"}"), 0);
    m = it_expect(c, "error", -1, NULL, NULL);
    ASSERT_STR_EQ(it_jstr(m, "code"), "auth_required");
    cJSON_Delete(m);
    expect_closed(c);
    it_close(c);
  }

  /* The Unix socket needs no token, and the good TCP client still works. */
  struct it_conn *u = it_connect(&d);
  free(it_hello(u, 1));
  ASSERT_EQ(it_sendf(u, "{\"call_id\":\"unix-1\",\"speaker\":\"agent\",\"text\":\"the zebra "
                        "crossing\",\"seq\":1}"), 0);
  cJSON_Delete(it_expect(u, "alert", -1, NULL, NULL));
  ASSERT_EQ(it_sendf(ok, "{\"call_id\":\"tcp-1\",\"speaker\":\"agent\",\"text\":\"the zebra "
                         "crossing again\",\"seq\":2}"), 0);
  cJSON_Delete(it_expect(ok, "alert", -1, NULL, NULL));

  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'tcp-bad'", NULL), 0);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'tcp-1'", NULL), 2);
  sqlite3_close(db);
  it_close(ok);
  it_close(u);
  it_daemon_cleanup(&d);
}

static void test_tcp_off_by_default_and_token_required(void) {
  char *out = NULL;
  /* listen_tcp without a token is a startup error that says what to do. */
  struct it_daemon d;
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"listen_tcp\": \"127.0.0.1:0\"}");
  const char *args[] = {"--foreground", "--socket", d.sock, "--db", d.db, "--rules", d.rules,
                        "--config", d.config, NULL};
  ASSERT_EQ(it_run_earshotd(args, &out, it_scaled(IT_WAIT_MS)), 1);
  ASSERT_CONTAINS(out, "tcp_token");
  free(out);
  /* By default nothing listens on TCP. */
  it_config(&d, "{}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  ASSERT_EQ(it_log_count(&d, "listening on TCP"), 0);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

static void test_socket_mode(void) {
  struct it_daemon d;
  struct stat st;

  it_start(&d, "base.json");
  ASSERT_EQ(lstat(d.sock, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0660);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT(!it_file_exists(d.sock)); /* removed on a clean stop */

  it_config(&d, "{\"socket_mode\": \"0600\"}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  ASSERT_EQ(lstat(d.sock, &st), 0);
  ASSERT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

static void test_idle_call_abandoned(void) {
  struct it_daemon d;
  const char *extra[] = {"--log-level", "debug", NULL};

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"call_idle_timeout\": 1}");
  ASSERT_EQ(it_daemon_start(&d, extra), 0);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"idle-1\",\"speaker\":\"customer\",\"text\":\"the zebra "
                        "crossing\",\"seq\":1}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"live-1\",\"speaker\":\"customer\",\"text\":\"hello\","
                        "\"seq\":2}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"type\":\"end\",\"call_id\":\"live-1\",\"seq\":3}"), 0);
  cJSON_Delete(it_expect(c, "alert", -1, NULL, NULL));
  cJSON *m = it_expect(c, "ack", -1, NULL, NULL);
  int64_t acked = it_jint(m, "seq");
  cJSON_Delete(m);
  while (acked < 3) {
    m = it_expect(c, "ack", -1, NULL, NULL);
    acked = it_jint(m, "seq");
    cJSON_Delete(m);
  }
  /* The daemon says when it closes the idle call... */
  ASSERT(it_wait_log(&d, 0, "call idle-1 idle for", -1) >= 0);
  /* ...and the clean stop commits the row: it must say abandoned, while
   * the call that ended says ended. */
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  char *why = it_db_text(db, "SELECT end_reason FROM calls WHERE call_id = 'idle-1'", NULL);
  ASSERT_STR_EQ(why, "abandoned");
  free(why);
  why = it_db_text(db, "SELECT end_reason FROM calls WHERE call_id = 'live-1'", NULL);
  ASSERT_STR_EQ(why, "ended");
  free(why);
  ASSERT_EQ(it_db_int(db, "SELECT alert_count FROM calls WHERE call_id = 'idle-1'", NULL), 1);
  sqlite3_close(db);
  it_close(c);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_tcp_needs_token);
  RUN(test_tcp_off_by_default_and_token_required);
  RUN(test_socket_mode);
  RUN(test_idle_call_abandoned);
  return 0;
}
