/*
 * it_resend.c: what a platform does after a disconnect, through the real
 * socket and the real store, with the bundled rules. A line sent again is
 * not handled twice (its heat is not counted again, no alert is raised or
 * published again), the call's later alerts follow it to the connection it
 * now comes from, a line after a call's "end" does not reopen the call,
 * acks never go back, and a line that does not decode is still answered
 * with its seq and acknowledged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MANAGER "this is the third time I've called, I want to speak to your manager right now"

static void test_resent_line_counts_once(void) {
  struct it_daemon d;
  it_start(&d, NULL);

  struct it_conn *a = it_connect(&d);
  free(it_hello(a, 1));
  ASSERT_EQ(it_sendf(a, "{\"type\":\"start\",\"call_id\":\"rs\",\"agent_id\":\"a-1\","
                        "\"region\":\"north\",\"seq\":1}"), 0);
  ASSERT_EQ(it_sendf(a, "{\"call_id\":\"rs\",\"speaker\":\"customer\",\"text\":\"" MANAGER
                        "\",\"ts\":10,\"seq\":2}"), 0);
  int first = it_alerts_until_ack(a, 2);
  ASSERT_GE(first, 1);
  it_close(a);

  /* The platform reconnects and sends the line again, twice over. */
  for (int i = 0; i < 2; i++) {
    struct it_conn *b = it_connect(&d);
    free(it_hello(b, 1));
    ASSERT_EQ(it_sendf(b, "{\"call_id\":\"rs\",\"speaker\":\"customer\",\"text\":\"" MANAGER
                          "\",\"ts\":10,\"seq\":2}"), 0);
    ASSERT_EQ(it_alerts_until_ack(b, 2), 0);
    ASSERT_EQ(it_stat(b, "resent_lines"), i + 1);
    it_close(b);
  }

  /* The call goes on from a new connection and ends there. */
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"type\":\"end\",\"call_id\":\"rs\",\"ts\":20,\"seq\":3}"), 0);
  int at_end = it_alerts_until_ack(c, 3);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  sqlite3 *db = it_db_open(d.db);
  int64_t stored = it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'rs'", NULL);
  ASSERT_EQ(stored, first + at_end);
  /* The call's own count agrees with the rows, and no backup was raised
   * for one demand said once. */
  ASSERT_EQ(it_db_int(db, "SELECT alert_count FROM calls WHERE call_id = 'rs'", NULL), stored);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'rs' AND "
                          "rule_id IN ('call.backup', 'call.manager-demand-repeated')", NULL), 0);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = 'rs' AND end_reason = "
                          "'ended' AND json_extract(attributes, '$.region') = 'north' AND "
                          "agent = 'a-1'", NULL), 1);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* An ack read while waiting for an alert: the highest seq acknowledged. */
static void note_ack(void *ud, cJSON *msg) {
  ASSERT_STR_EQ(it_jtype(msg), "ack");
  *(int64_t *)ud = it_jint(msg, "seq");
}

/* Alerts raised at a call's end go to the connection that carries it now. */
static void test_call_follows_reconnect(void) {
  struct it_daemon d;
  it_start(&d, NULL);

  struct it_conn *a = it_connect(&d);
  free(it_hello(a, 1));
  ASSERT_EQ(it_sendf(a, "{\"call_id\":\"own\",\"speaker\":\"customer\",\"text\":\"I want to "
                        "speak to a manager\",\"ts\":1,\"seq\":1}"), 0);
  ASSERT_GE(it_alerts_until_ack(a, 1), 1);
  it_close(a);

  struct it_conn *b = it_connect(&d);
  free(it_hello(b, 1));
  ASSERT_EQ(it_sendf(b, "{\"call_id\":\"own\",\"speaker\":\"agent\",\"text\":\"let me check "
                        "the account\",\"ts\":2,\"seq\":2}"), 0);
  ASSERT_EQ(it_sendf(b, "{\"type\":\"end\",\"call_id\":\"own\",\"ts\":4,\"seq\":3}"), 0);
  /* Line 2 stores nothing: when the daemon reads it apart from the end,
   * its ack leaves on its own 5 ms later (ESD_ACK_DELAY_MS), maybe before
   * the end's alert. */
  int64_t top = 0;
  cJSON *m = it_expect(b, "alert", -1, note_ack, &top);
  ASSERT_STR_EQ(it_jstr(m, "rule"), "call.missed-deescalation");
  cJSON_Delete(m);
  while (top < 3) {
    m = it_expect(b, "ack", -1, NULL, NULL);
    top = it_jint(m, "seq");
    cJSON_Delete(m);
  }
  it_close(b);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

static void test_line_after_end(void) {
  struct it_daemon d;
  it_start(&d, NULL);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"done\",\"queue\":\"billing\","
                        "\"seq\":1}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"done\",\"speaker\":\"agent\",\"text\":\"calm down "
                        "sir\",\"ts\":1,\"seq\":2}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"type\":\"end\",\"call_id\":\"done\",\"ts\":3,\"seq\":3}"), 0);
  ASSERT_GE(it_alerts_until_ack(c, 3), 1);

  /* Late or sent again: an error that names it, and its ack. */
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"done\",\"speaker\":\"agent\",\"text\":\"calm down "
                        "sir\",\"ts\":1,\"seq\":4}"), 0);
  it_expect_error_acked(c, "call_ended", 4);
  /* The end sent again is answered as the first one was: no error. */
  ASSERT_EQ(it_sendf(c, "{\"type\":\"end\",\"call_id\":\"done\",\"ts\":3,\"seq\":5}"), 0);
  it_expect_seq(c, "ack", 5);
  ASSERT_EQ(it_stat(c, "open_calls"), 0);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = 'done' AND end_reason = "
                          "'ended' AND queue = 'billing' AND alert_count = (SELECT count(*) "
                          "FROM alerts WHERE call_id = 'done')", NULL), 1);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* A line that does not decode names its seq when it had one, and is
 * acknowledged; an ack never goes back to a lower seq. */
static void test_errors_and_acks_in_order(void) {
  struct it_daemon d;
  it_start(&d, NULL);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"e\",\"speaker\":\"robot\",\"text\":\"hi\",\"seq\":1}"),
            0);
  it_expect_error_acked(c, "unknown_speaker", 1);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"e\",\"text\":\"hi\",\"seq\":2}"), 0);
  it_expect_error_acked(c, "missing_field", 2);
  /* Refused for its bytes before it is parsed (a raw NUL, invalid UTF-8):
   * the seq is read all the same, and acknowledged. */
  static const char nul[] = "{\"call_id\":\"e\",\"speaker\":\"agent\",\"seq\":4,\"text\":\"a\0b\"}\n";
  ASSERT_EQ(it_send(c, nul, sizeof(nul) - 1), 0);
  it_expect_error_acked(c, "nul_byte", 4);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"e\",\"speaker\":\"agent\",\"text\":\"caf\xE9\","
                        "\"seq\":5}"), 0);
  it_expect_error_acked(c, "invalid_utf8", 5);

  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"e\",\"speaker\":\"agent\",\"text\":\"hello\","
                        "\"seq\":6}"), 0);
  it_expect_seq(c, "ack", 6);
  /* A lower seq after it: acknowledged by an ack that does not go back. */
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"e\",\"speaker\":\"agent\",\"text\":\"calm down sir\","
                        "\"seq\":3}"), 0);
  cJSON_Delete(it_expect(c, "alert", -1, NULL, NULL));
  it_expect_seq(c, "ack", 6);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A small max_line_bytes limits lines, not what the daemon stores about
 * them: a backup's reason is longer than 512 bytes. */
static void test_small_line_limit_keeps_backups(void) {
  struct it_daemon d;
  it_daemon_init(&d);
  snprintf(d.rules, sizeof(d.rules), "%s", ES_BUNDLED_RULES);
  it_config(&d, "{\"limits\": {\"max_line_bytes\": 512}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"small\",\"speaker\":\"customer\",\"text\":\"" MANAGER
                        "\",\"ts\":1,\"seq\":1}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"small\",\"speaker\":\"customer\",\"text\":\"I said I "
                        "want your manager, get me your supervisor now, I will sue\",\"ts\":5,"
                        "\"seq\":2}"), 0);
  int alerts = it_alerts_until_ack(c, 2);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  /* Every alert sent before the ack is stored (the shutdown may add the
   * call's end alerts), the backup with its long reason among them. */
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_ts <= 5 AND rule_id <> "
                          "'call.missed-deescalation'", NULL), alerts);
  ASSERT_GE(it_db_int(db, "SELECT length(reason) FROM alerts WHERE rule_id = 'call.backup'",
                      NULL), 513);
  sqlite3_close(db);
  ASSERT_EQ(it_log_count(&d, "refused by the store"), 0);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_resent_line_counts_once);
  RUN(test_call_follows_reconnect);
  RUN(test_line_after_end);
  RUN(test_errors_and_acks_in_order);
  RUN(test_small_line_limit_keeps_backups);
  return 0;
}
