/*
 * it_errors.c: every kind of bad line gets an error record with the right
 * code and line number, and the next good line on the same connection
 * still gets its alert. Runs with limits.max_line_bytes = 1024.
 */
#include <stdlib.h>

#include "harness.h"

#define MAX_LINE 1024

static struct it_daemon d;
static struct it_conn *c;
static uint64_t lineno; /* lines this connection has sent */
static int64_t good_seq;

struct code_count {
  const char *code;
  int count;
};
static struct code_count counts[32];

static void count_code(const char *code) {
  for (int i = 0; i < 32; i++) {
    if (counts[i].code == NULL) {
      counts[i].code = code;
      counts[i].count = 1;
      return;
    }
    if (strcmp(counts[i].code, code) == 0) {
      counts[i].count++;
      return;
    }
  }
}

/* Sends `bad` (raw bytes, newline included by the caller) followed by a
 * good trigger line; expects the error `code` for the bad line (its
 * message holding `says`, unless NULL), then the good line's alert.
 * `lines` is how many lines `bad` holds. */
static void bad_then_good(const char *what, const void *bad, size_t len, int lines,
                          const char *code, const char *says) {
  cJSON *m;
  struct it_str good = {0};

  ASSERT_EQ(it_send(c, bad, len), 0);
  lineno += (uint64_t)lines;
  uint64_t bad_line = lineno;
  it_str_addf(&good, "{\"call_id\":\"err-call\",\"speaker\":\"customer\",\"text\":\"after %s, "
                     "the zebra crossing\",\"seq\":%" PRId64 "}\n",
              what, ++good_seq);
  ASSERT_EQ(it_send(c, good.p, good.len), 0);
  lineno++;
  it_str_free(&good);

  m = it_expect(c, "error", -1, NULL, NULL);
  if (strcmp(it_jstr(m, "code"), code) != 0)
    IT_FAIL("%s: error code %s, expected %s (message: %s)", what, it_jstr(m, "code"), code,
            it_jstr(m, "message"));
  ASSERT_EQ(it_jint(m, "line"), bad_line);
  ASSERT(strlen(it_jstr(m, "message")) > 0);
  if (says)
    ASSERT_CONTAINS(it_jstr(m, "message"), says);
  count_code(code);
  cJSON_Delete(m);

  m = it_expect(c, "alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "rule"), "it.trigger");
  ASSERT_STR_EQ(it_jstr(m, "call_id"), "err-call");
  ASSERT_EQ(it_jint(m, "seq"), good_seq);
  ASSERT_EQ(it_jint(m, "line"), lineno);
  cJSON_Delete(m);
  fprintf(stderr, "   %-28s -> %s\n", what, code);
}

static void bad_saying(const char *what, const char *line, const char *code, const char *says) {
  struct it_str s = {0};
  it_str_add(&s, line, strlen(line));
  it_str_add(&s, "\n", 1);
  bad_then_good(what, s.p, s.len, 1, code, says);
  it_str_free(&s);
}

static void bad(const char *what, const char *line, const char *code) {
  bad_saying(what, line, code, NULL);
}

/* A valid utterance of exactly `size` bytes (newline not counted). */
static void sized_line(struct it_str *s, size_t size, int64_t seq) {
  size_t start = s->len;
  it_str_addf(s, "{\"call_id\":\"err-call\",\"speaker\":\"agent\",\"seq\":%" PRId64
                 ",\"text\":\"zebra crossing ", seq);
  size_t used = s->len - start + 2; /* and the closing "} */
  ASSERT(size > used);
  for (size_t i = used; i < size; i++)
    it_str_add(s, "x", 1);
  it_str_add(s, "\"}", 2);
  ASSERT_EQ(s->len - start, size);
}

static void test_bad_lines(void) {
  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_line_bytes\": 1024}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  c = it_connect(&d);
  free(it_hello(c, 0));
  lineno = 1;

  bad("malformed JSON", "{\"call_id\":\"x\",\"speaker\":\"agent\",", "invalid_json");
  bad("trailing garbage", "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"hi\"} extra",
      "invalid_json");
  bad("an array", "[1,2,3]", "not_object");
  bad("a string", "\"zebra crossing\"", "not_object");
  bad("no text", "{\"call_id\":\"x\",\"speaker\":\"agent\"}", "missing_field");
  bad("no call_id", "{\"speaker\":\"agent\",\"text\":\"zebra crossing\"}", "missing_field");
  bad("no speaker", "{\"call_id\":\"x\",\"text\":\"zebra crossing\"}", "missing_field");
  bad("text is a number", "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":5}", "wrong_type");
  bad("seq is negative", "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"a\",\"seq\":-1}",
      "wrong_type");
  bad("ts is a string", "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"a\",\"ts\":\"now\"}",
      "wrong_type");
  bad("call_id is a number", "{\"call_id\":7,\"speaker\":\"agent\",\"text\":\"a\"}",
      "wrong_type");
  bad("unknown speaker", "{\"call_id\":\"x\",\"speaker\":\"robot\",\"text\":\"zebra crossing\"}",
      "unknown_speaker");
  bad("bad UTF-8 in text",
      "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"zebra \xff\xfe crossing\"}",
      "invalid_utf8");
  bad("overlong UTF-8", "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"\xc0\xaf\"}",
      "invalid_utf8");
  {
    static const char raw[] = "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"zebra\0crossing\"}\n";
    bad_then_good("raw NUL byte", raw, sizeof(raw) - 1, 1, "nul_byte", NULL);
  }
  bad("escaped NUL", "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"zebra\\u0000crossing\"}",
      "nul_byte");
  /* JSON whose text is not Unicode: half a UTF-16 surrogate pair. */
  bad_saying("lone high surrogate",
             "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"zebra\\ud800crossing\"}",
             "invalid_utf8", "unpaired UTF-16 surrogate \"\\ud800\" at byte 46 in \"text\"");
  bad_saying("lone low surrogate",
             "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"zebra \\uDC00 crossing\"}",
             "invalid_utf8", "\"\\uDC00\" at byte 47");
  bad_saying("reversed surrogate pair",
             "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"\\ude00\\ud83d zebra crossing\"}",
             "invalid_utf8", "\"\\ude00\" at byte 41");
  /* A \\u without four hex digits, which cJSON would read as a NUL that cuts the text short. */
  bad_saying("a short u escape",
             "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"zebra crossing\\u00zz\"}",
             "invalid_json", "at byte 55 in \"text\"");
  bad("unknown type", "{\"type\":\"bogus\",\"call_id\":\"x\"}", "unknown_type");
  bad("empty call_id", "{\"call_id\":\"\",\"speaker\":\"agent\",\"text\":\"zebra crossing\"}",
      "empty_field");

  /* max_line_bytes: a line of exactly 1024 bytes is fine, 1025 is not. */
  {
    struct it_str s = {0};
    sized_line(&s, MAX_LINE, 9000);
    it_str_add(&s, "\n", 1);
    ASSERT_EQ(it_send(c, s.p, s.len), 0);
    lineno++;
    cJSON *m = it_expect(c, "alert", -1, NULL, NULL);
    ASSERT_EQ(it_jint(m, "seq"), 9000);
    ASSERT_EQ(it_jint(m, "line"), lineno);
    cJSON_Delete(m);
    it_str_free(&s);
    /* Its \r\n ending is not counted. */
    sized_line(&s, MAX_LINE, 9002);
    it_str_add(&s, "\r\n", 2);
    ASSERT_EQ(it_send(c, s.p, s.len), 0);
    lineno++;
    m = it_expect(c, "alert", -1, NULL, NULL);
    ASSERT_EQ(it_jint(m, "seq"), 9002);
    cJSON_Delete(m);
    it_str_free(&s);

    sized_line(&s, MAX_LINE + 1, 9001);
    it_str_add(&s, "\n", 1);
    bad_then_good("1025-byte line", s.p, s.len, 1, "line_too_long", NULL);
    it_str_free(&s);
  }
  /* A line of several MiB, written in one go: skipped, not buffered. */
  {
    size_t big = 6u << 20;
    char *p = malloc(big + 1);
    ASSERT(p != NULL);
    static const char head[] = "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"";
    memcpy(p, head, sizeof(head) - 1);
    memset(p + sizeof(head) - 1, 'z', big - (sizeof(head) - 1) - 2);
    memcpy(p + big - 2, "\"}", 2);
    p[big] = '\n';
    bad_then_good("6 MiB line", p, big + 1, 1, "line_too_long", NULL);
    free(p);
  }
  /* Two bad lines in one write, then the good one. */
  {
    static const char two[] = "[]\n{\"type\":\"end\"}\n";
    ASSERT_EQ(it_send(c, two, sizeof(two) - 1), 0);
    lineno++;
    cJSON *m = it_expect(c, "error", -1, NULL, NULL);
    ASSERT_STR_EQ(it_jstr(m, "code"), "not_object");
    ASSERT_EQ(it_jint(m, "line"), lineno);
    cJSON_Delete(m);
    count_code("not_object");
    bad_then_good("end without call_id", "", 0, 1, "missing_field", NULL);
  }

  /* The daemon counted each code. */
  ASSERT_EQ(it_sendf(c, "{\"type\":\"stats\"}"), 0);
  cJSON *st = it_expect(c, "stats", -1, NULL, NULL);
  const cJSON *by = cJSON_GetObjectItemCaseSensitive(st, "errors_by_code");
  ASSERT(cJSON_IsObject(by));
  int total = 0;
  for (int i = 0; i < 32 && counts[i].code; i++) {
    ASSERT_EQ(it_jint(by, counts[i].code), counts[i].count);
    total += counts[i].count;
  }
  ASSERT_EQ(it_jint(st, "errors"), total);
  cJSON_Delete(st);

  /* The good lines (and the two sized ones that fit) are all in the
   * database, the bad ones raised nothing. */
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), good_seq + 2);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id <> 'err-call'", NULL), 0);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_bad_lines);
  return 0;
}
