/*
 * it_attrs.c: a start line's metadata of every JSON type, through the real
 * socket into the real database (docs/protocol.md, "Call start and end"):
 * numbers (kept as sent), true and false, arrays and objects are kept and
 * null is left out, with no error record; an agent_id sent as a number
 * fills the agent column, the supervisor feed's agent filter and
 * `earshot alerts --agent`; a number that holds a phone number is masked.
 */
#include <stdlib.h>

#include "harness.h"

static struct it_conn *subscribe(struct it_daemon *d, const char *filters) {
  struct it_conn *s = it_connect(d);
  ASSERT_EQ(it_sendf(s, "{\"type\":\"subscribe\"%s}", filters), 0);
  cJSON_Delete(it_expect(s, "subscribed", -1, NULL, NULL));
  return s;
}

/* Streams a call: `start`'s fields after call_id, a customer line that
 * fires it.trigger and an agent line that fires it.policy, then end; waits
 * for the end's ack (so its rows are committed) and fails on any message
 * but alerts and acks: an error record among them. */
static void stream_call(struct it_conn *c, const char *call_id, const char *start, int64_t *seq) {
  int64_t first = *seq + 1;
  ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"%s\",%s,\"seq\":%" PRId64 "}", call_id,
                     start, ++*seq), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"customer\",\"text\":\"we met at the zebra "
                        "crossing\",\"ts\":1.5,\"seq\":%" PRId64 "}", call_id, ++*seq), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"agent\",\"text\":\"sorry, that's our "
                        "policy\",\"ts\":4,\"seq\":%" PRId64 "}", call_id, ++*seq), 0);
  ASSERT_EQ(it_sendf(c, "{\"type\":\"end\",\"call_id\":\"%s\",\"seq\":%" PRId64 "}", call_id, ++*seq),
            0);
  ASSERT_EQ(it_alerts_until_ack(c, *seq), 2);
  ASSERT_EQ(*seq, first + 3);
}

/* The one text `sql` selects is `want`. */
static void expect_text(sqlite3 *db, const char *sql, const char *want) {
  char *got = it_db_text(db, sql, NULL);
  if (got == NULL || strcmp(got, want) != 0)
    IT_FAIL("%s: \"%s\", expected \"%s\"", sql, got ? got : "(null)", want);
  free(got);
}

static void test_typed_metadata(void) {
  struct it_daemon d;
  int64_t seq = 0;
  it_start(&d, "base.json");

  struct it_conn *feed = subscribe(&d, ",\"agents\":[\"204\"]");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  stream_call(c, "typed-1",
              "\"agent_id\":204,\"queue\":\"billing\",\"priority\":3,\"price\":2.50,"
              "\"drop\":-1e3,\"vip\":true,\"test\":false,\"note\":null,\"tags\":[\"a\"],"
              "\"ctx\":{\"x\": [1, 2.0], \"s\": \"y\"},\"ani\":5558675309",
              &seq);
  /* Another agent's call, then agent 204's again (its number as a string
   * this time: the same text). */
  stream_call(c, "typed-2", "\"agent_id\":205,\"queue\":null", &seq);
  stream_call(c, "typed-3", "\"agent_id\":\"204\"", &seq);
  /* Not one line got an error record (stream_call would have failed on
   * it); the daemon counted none either. */
  ASSERT_EQ(it_stat(c, "errors"), 0);

  /* The feed filtered on agent 204 has the alerts of typed-1 and typed-3
   * (published before and after typed-2's), none of typed-2. */
  for (int n = 0; n < 4;) {
    cJSON *m = it_read_json(feed, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "feed_alert") == 0) {
      const char *call = it_jstr(m, "call_id");
      if (strcmp(call, "typed-1") != 0 && strcmp(call, "typed-3") != 0)
        IT_FAIL("the feed for agent 204 got an alert of %s", call);
      ASSERT_STR_EQ(it_jstr(m, "agent"), "204");
      if (strcmp(call, "typed-1") == 0)
        ASSERT_STR_EQ(it_jstr(m, "queue"), "billing");
      n++;
    } else {
      ASSERT(strcmp(it_jtype(m), "error") != 0);
    }
    cJSON_Delete(m);
  }

  sqlite3 *db = it_db_open(d.db);
  expect_text(db, "SELECT agent || ' ' || queue FROM calls WHERE call_id = 'typed-1'",
              "204 billing");
  /* Every value as sent, white space aside, in the line's order; null left
   * out; the phone number sent as a number masked (as a string). */
  expect_text(db, "SELECT attributes FROM calls WHERE call_id = 'typed-1'",
              "{\"agent_id\":204,\"queue\":\"billing\",\"priority\":3,\"price\":2.50,"
              "\"drop\":-1e3,\"vip\":true,\"test\":false,\"tags\":[\"a\"],"
              "\"ctx\":{\"x\":[1,2.0],\"s\":\"y\"},\"ani\":\"[PHONE]\"}");
  {
    char wal[256];
    snprintf(wal, sizeof(wal), "%s-wal", d.db);
    ASSERT(!it_file_contains(d.db, "5558675309", 10));
    ASSERT(!it_file_contains(wal, "5558675309", 10));
  }
  /* SQLite reads them as their JSON types. */
  expect_text(db, "SELECT json_type(attributes, '$.priority') || ' ' || "
                  "json_type(attributes, '$.price') || ' ' || json_type(attributes, '$.vip') || "
                  "' ' || json_type(attributes, '$.tags') || ' ' || "
                  "json_type(attributes, '$.ctx.x[1]') || ' ' || "
                  "ifnull(json_type(attributes, '$.note'), 'absent') FROM calls "
                  "WHERE call_id = 'typed-1'",
              "integer real true array real absent");
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = 'typed-1' AND "
                          "json_extract(attributes, '$.priority') >= 3 AND end_reason = 'ended'",
                      NULL), 1);
  expect_text(db, "SELECT agent || ' ' || ifnull(queue, 'none') || ' ' || attributes FROM calls "
                  "WHERE call_id = 'typed-2'",
              "205 none {\"agent_id\":205}");
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts JOIN calls USING (call_id) "
                          "WHERE calls.agent = '204'", NULL), 4);
  sqlite3_close(db);

  /* The analysts' command finds agent 204's alerts, and only those. */
  const char *argv[] = {ES_EARSHOT_CLI, "alerts", "--db", d.db, "--agent", "204",
                        "--format", "csv", NULL};
  char *out = NULL;
  ASSERT_EQ(it_run(argv, &out, -1), 0);
  ASSERT_CONTAINS(out, "typed-1");
  ASSERT_CONTAINS(out, "typed-3");
  ASSERT(strstr(out, "typed-2") == NULL);
  free(out);

  /* A number JSON does not allow (cJSON reads it) is an error that names
   * the field; the line is acknowledged like any other with an error. */
  ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"typed-4\",\"priority\":01,"
                        "\"seq\":%" PRId64 "}", ++seq), 0);
  cJSON *m = it_expect(c, "error", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "code"), "invalid_json");
  ASSERT_CONTAINS(it_jstr(m, "message"), "\"priority\"");
  ASSERT_EQ(it_jint(m, "seq"), seq);
  cJSON_Delete(m);
  it_expect_seq(c, "ack", seq);
  ASSERT_EQ(it_stat(c, "errors"), 1);

  it_close(feed);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_typed_metadata);
  return 0;
}
