/*
 * test_alert.c: the alert's JSON form. Every record is parsed back with
 * cJSON and checked field by field.
 */
#include "alert.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task.h"

static struct es_rule_info make_rule(void) {
  struct es_rule_info r;
  memset(&r, 0, sizeof(r));
  r.id = "agent.policy-excuse";
  r.description = "Agent hides behind policy.";
  r.category = "banned_phrase";
  r.tip = "Say \"here's what I can do\" instead.";
  r.file = "rules/agent.json";
  r.line = 3;
  r.severity = ES_SEV_MEDIUM;
  r.speaker = ES_SPEAKER_AGENT;
  r.score = 3;
  return r;
}

/* Writes the alert into an exactly sized heap buffer (so that ASan sees
 * any write past cap) and parses it back. */
static cJSON *render(const struct es_alert *a, char **json_out, int64_t *len_out) {
  size_t cap = 1 << 16;
  char *buf = malloc(cap);
  int64_t n;
  cJSON *root;
  const char *end = NULL;

  ASSERT(buf != NULL);
  n = es_alert_json(a, buf, cap);
  ASSERT_GT(n, 0);
  ASSERT_LE(n, cap);
  /* One object, one trailing newline, no NUL inside. */
  ASSERT_EQ(buf[n - 1], '\n');
  ASSERT_EQ(buf[n - 2], '}');
  ASSERT(memchr(buf, '\0', (size_t)n) == NULL);
  ASSERT(memchr(buf, '\n', (size_t)n - 1) == NULL);
  root = cJSON_ParseWithLengthOpts(buf, (size_t)n - 1, &end, 0);
  ASSERT(root != NULL);
  ASSERT_EQ(end - buf, n - 1);
  ASSERT(cJSON_IsObject(root));
  *json_out = buf;
  *len_out = n;
  return root;
}

static const char *get_str(const cJSON *root, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!cJSON_IsString(v)) {
    fprintf(stderr, "field \"%s\" is missing or not a string\n", key);
    abort();
  }
  return v->valuestring;
}

static double get_num(const cJSON *root, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!cJSON_IsNumber(v)) {
    fprintf(stderr, "field \"%s\" is missing or not a number\n", key);
    abort();
  }
  return v->valuedouble;
}

static int count_fields(const cJSON *root) {
  int n = 0;
  for (const cJSON *c = root->child; c; c = c->next)
    n++;
  return n;
}

static void test_fields(void) {
  struct es_rule_info r = make_rule();
  const char *text = "Sorry, that's our policy.";
  struct es_alert a = {
    .call_id = "call-42",
    .rule = &r,
    .speaker = ES_SPEAKER_AGENT,
    .text = text,
    .text_len = strlen(text),
    .match_start = 7,
    .match_end = 24,
    .ts = 12.5,
    .seq = 9,
    .line = 17,
    .has_ts = 1,
    .has_seq = 1,
  };
  char *json;
  int64_t n;
  cJSON *root = render(&a, &json, &n);

  ASSERT_STR_EQ(get_str(root, "type"), "alert");
  ASSERT_STR_EQ(get_str(root, "call_id"), "call-42");
  ASSERT_STR_EQ(get_str(root, "rule"), "agent.policy-excuse");
  ASSERT_STR_EQ(get_str(root, "category"), "banned_phrase");
  ASSERT_STR_EQ(get_str(root, "severity"), "medium");
  ASSERT_STR_EQ(get_str(root, "speaker"), "agent");
  ASSERT(get_num(root, "ts") == 12.5);
  ASSERT(get_num(root, "seq") == 9);
  ASSERT(get_num(root, "line") == 17);
  ASSERT_STR_EQ(get_str(root, "text"), text);
  ASSERT(get_num(root, "match_start") == 7);
  ASSERT(get_num(root, "match_end") == 24);
  ASSERT_STR_EQ(get_str(root, "matched"), "that's our policy");
  ASSERT(get_num(root, "score") == 3);
  ASSERT_STR_EQ(get_str(root, "tip"), "Say \"here's what I can do\" instead.");
  ASSERT_STR_EQ(get_str(root, "description"), "Agent hides behind policy.");
  ASSERT_EQ(count_fields(root), 16);
  /* The record starts with its type, and numbers print short. */
  ASSERT(strncmp(json, "{\"type\":\"alert\",", 16) == 0);
  ASSERT(strstr(json, "\"ts\":12.5,") != NULL);
  ASSERT(strstr(json, "\"score\":3,") != NULL);
  ASSERT(strstr(json, "\"seq\":9,") != NULL);
  cJSON_Delete(root);
  free(json);
}

static void test_optional_fields(void) {
  struct es_rule_info r = make_rule();
  struct es_alert a = {
    .call_id = "c",
    .rule = &r,
    .speaker = ES_SPEAKER_CUSTOMER,
    .text = "x",
    .text_len = 1,
    .match_start = 0,
    .match_end = 1,
  };
  char *json;
  int64_t n;
  cJSON *root = render(&a, &json, &n);

  ASSERT(cJSON_GetObjectItemCaseSensitive(root, "ts") == NULL);
  ASSERT(cJSON_GetObjectItemCaseSensitive(root, "seq") == NULL);
  ASSERT(cJSON_GetObjectItemCaseSensitive(root, "line") == NULL);
  ASSERT_STR_EQ(get_str(root, "speaker"), "customer");
  ASSERT_EQ(count_fields(root), 13);
  cJSON_Delete(root);
  free(json);

  /* No one's words (dead air, a backup raised by heat): speaker null, as
   * the supervisor feed and the store have it. */
  a.speaker = ES_SPEAKER_ANY;
  root = render(&a, &json, &n);
  ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "speaker")));
  ASSERT_EQ(count_fields(root), 13);
  cJSON_Delete(root);
  free(json);
}

static void test_escaping(void) {
  struct es_rule_info r = make_rule();
  /* Quotes, backslashes, every kind of control character, and UTF-8. */
  static const char text[] = "he said \"no\" \\ back\\slash \x01\x1f\t\n\r\b\f caf\xC3\xA9 \xF0\x9F\x98\x80 \x7f end";
  struct es_alert a = {
    .call_id = "id \"quoted\" \\",
    .rule = &r,
    .speaker = ES_SPEAKER_AGENT,
    .text = text,
    .text_len = sizeof(text) - 1,
    .match_start = 0,
    .match_end = sizeof(text) - 1,
  };
  char *json;
  int64_t n;
  cJSON *root;

  r.description = "line\nbreak \"and\" tab\t";
  r.tip = "\\ \x02";
  root = render(&a, &json, &n);
  ASSERT_STR_EQ(get_str(root, "text"), text);
  ASSERT_STR_EQ(get_str(root, "matched"), text);
  ASSERT_STR_EQ(get_str(root, "call_id"), "id \"quoted\" \\");
  ASSERT_STR_EQ(get_str(root, "description"), "line\nbreak \"and\" tab\t");
  ASSERT_STR_EQ(get_str(root, "tip"), "\\ \x02");
  /* The escapes are the short ones where JSON has them, \u00XX otherwise. */
  ASSERT(strstr(json, "\\\"no\\\" \\\\ back\\\\slash \\u0001\\u001f\\t\\n\\r\\b\\f ") != NULL);
  /* UTF-8 is kept as it is, not escaped; DEL needs no escape. */
  ASSERT(strstr(json, "caf\xC3\xA9 \xF0\x9F\x98\x80 \x7f end") != NULL);
  /* No raw control character anywhere in the record but the final newline. */
  for (int64_t i = 0; i < n - 1; i++)
    ASSERT((unsigned char)json[i] >= 0x20);
  cJSON_Delete(root);
  free(json);
}

static void test_span_multibyte(void) {
  struct es_rule_info r = make_rule();
  static const char text[] = "\xE2\x80\x9CThat\xE2\x80\x99s our policy\xE2\x80\x9D";
  struct es_alert a = {
    .call_id = "c", .rule = &r, .speaker = ES_SPEAKER_AGENT, .text = text,
    .text_len = sizeof(text) - 1, .match_start = 3, .match_end = 22,
  };
  char *json;
  int64_t n;
  cJSON *root = render(&a, &json, &n);
  ASSERT_STR_EQ(get_str(root, "matched"), "That\xE2\x80\x99s our policy");
  ASSERT(get_num(root, "match_start") == 3);
  ASSERT(get_num(root, "match_end") == 22);
  cJSON_Delete(root);
  free(json);

  /* A span outside the text is clamped into it, never read out of bounds:
   * "matched" is always text[match_start..match_end). */
  static const uint32_t bad[][2] = {{20, 400}, {500, 2}, {10, 5}, {25, 25}, {0, 26}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    a.match_start = bad[i][0];
    a.match_end = bad[i][1];
    root = render(&a, &json, &n);
    double ms = get_num(root, "match_start"), me = get_num(root, "match_end");
    ASSERT(ms >= 0 && ms <= me && me <= sizeof(text) - 1);
    ASSERT_MEM_EQ(get_str(root, "matched"), strlen(get_str(root, "matched")), text + (size_t)ms,
                  (size_t)(me - ms));
    cJSON_Delete(root);
    free(json);
  }
}

/* Renders with the given ts and score and returns the printed numbers. */
static void numbers(double ts, double score, char *ts_out, char *score_out) {
  struct es_rule_info r = make_rule();
  struct es_alert a = {
    .call_id = "c", .rule = &r, .speaker = ES_SPEAKER_AGENT, .text = "x", .text_len = 1,
    .match_start = 0, .match_end = 1, .ts = ts, .has_ts = 1,
  };
  char *json;
  int64_t n;
  cJSON *root;
  const char *p;
  size_t k;

  r.score = score;
  root = render(&a, &json, &n);
  /* Every number reads back exactly. */
  ASSERT(get_num(root, "ts") == ts);
  ASSERT(get_num(root, "score") == score);
  p = strstr(json, "\"ts\":") + 5;
  k = strcspn(p, ",}");
  memcpy(ts_out, p, k);
  ts_out[k] = '\0';
  p = strstr(json, "\"score\":") + 8;
  k = strcspn(p, ",}");
  memcpy(score_out, p, k);
  score_out[k] = '\0';
  cJSON_Delete(root);
  free(json);
}

static void test_numbers_short(void) {
  char ts[64], score[64];

  numbers(12.5, 12.5, ts, score);
  ASSERT_STR_EQ(ts, "12.5");
  ASSERT_STR_EQ(score, "12.5");
  numbers(0, -3, ts, score);
  ASSERT_STR_EQ(ts, "0");
  ASSERT_STR_EQ(score, "-3");
  numbers(0.1, -2.25, ts, score);
  ASSERT_STR_EQ(ts, "0.1");
  ASSERT_STR_EQ(score, "-2.25");
  numbers(1712345678.123, 1000, ts, score);
  ASSERT_STR_EQ(ts, "1712345678.123");
  ASSERT_STR_EQ(score, "1000");
  /* Only when 15 digits do not read back, 17 are used. */
  numbers(0.1 + 0.2, 1.0 / 3.0, ts, score);
  ASSERT_STR_EQ(ts, "0.30000000000000004");
  ASSERT(strtod(score, NULL) == 1.0 / 3.0);
  ASSERT_LE(strlen(score), 19);
}

static void test_too_big(void) {
  struct es_rule_info r = make_rule();
  const char *text = "Sorry, that's our \"policy\".";
  struct es_alert a = {
    .call_id = "call-42", .rule = &r, .speaker = ES_SPEAKER_AGENT, .text = text,
    .text_len = strlen(text), .match_start = 7, .match_end = 26, .ts = 3.25, .has_ts = 1,
    .line = 4,
  };
  char full[1024];
  int64_t need = es_alert_json(&a, full, sizeof(full));

  ASSERT_GT(need, 0);
  /* Every smaller capacity fails cleanly, writing nothing past cap (the
   * buffer is exactly cap bytes, so ASan would see it). */
  for (size_t cap = 0; cap < (size_t)need; cap++) {
    char *buf = malloc(cap ? cap : 1);
    ASSERT(buf != NULL);
    ASSERT_EQ(es_alert_json(&a, buf, cap), ES_ETOOBIG);
    free(buf);
  }
  {
    char *buf = malloc((size_t)need);
    ASSERT_EQ(es_alert_json(&a, buf, (size_t)need), need);
    ASSERT_MEM_EQ(buf, (size_t)need, full, (size_t)need);
    free(buf);
  }
}

static void test_json_str(void) {
  char buf[16];
  size_t pos = 0;

  ASSERT_EQ(es_json_str(buf, sizeof(buf), &pos, "a\"b", 3), 0);
  ASSERT_MEM_EQ(buf, pos, "\"a\\\"b\"", 6);
  /* Appends at pos. */
  ASSERT_EQ(es_json_str(buf, sizeof(buf), &pos, "", 0), 0);
  ASSERT_MEM_EQ(buf, pos, "\"a\\\"b\"\"\"", 8);
  /* Does not fit: an error, and nothing written past cap. */
  pos = 0;
  ASSERT_EQ(es_json_str(buf, 7, &pos, "\x01\x02", 2), ES_ETOOBIG);
  ASSERT_LE(pos, 7);
  pos = 0;
  ASSERT_EQ(es_json_str(buf, 1, &pos, "", 0), ES_ETOOBIG);
  pos = 0;
  ASSERT_EQ(es_json_str(buf, 14, &pos, "\x01\x02", 2), 0);
  ASSERT_MEM_EQ(buf, pos, "\"\\u0001\\u0002\"", 14);
}

/* The escaping as JSON writes it, byte by byte: what es_json_str's runs
 * must equal. */
static size_t ref_json_str(char *out, const char *s, size_t len) {
  size_t p = 0;
  out[p++] = '"';
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *e = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                  : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
    if (e) {
      memcpy(out + p, e, 2);
      p += 2;
    } else if (c < 0x20) {
      p += (size_t)sprintf(out + p, "\\u%04x", c);
    } else {
      out[p++] = (char)c;
    }
  }
  out[p++] = '"';
  return p;
}

/* Long strings with something to escape anywhere, against the byte-by-byte
 * escaping; every capacity around the exact size either fits or is
 * ES_ETOOBIG without a byte written past it. */
static void test_json_str_runs(void) {
  static const char alphabet[] = "abcXYZ 019.,\"\\\n\t\x01\x1f\x7f\xc3\xa9";
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  char in[200], want[1300], got[1400];
  for (int round = 0; round < 20000; round++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    size_t len = (size_t)(x % sizeof(in));
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      /* mostly plain letters, so that long plain runs occur */
      in[i] = x % 4 ? (char)('a' + x % 26) : alphabet[(x >> 8) % (sizeof(alphabet) - 1)];
    }
    size_t n = ref_json_str(want, in, len);
    for (size_t cap = n > 2 ? n - 2 : 0; cap <= n + 1; cap++) {
      size_t pos = 0;
      memset(got, 0x55, sizeof(got));
      int rc = es_json_str(got, cap, &pos, in, len);
      if (cap >= n) {
        ASSERT_EQ(rc, 0);
        ASSERT_MEM_EQ(got, pos, want, n);
      } else {
        ASSERT_EQ(rc, ES_ETOOBIG);
      }
      for (size_t k = cap; k < sizeof(got); k++)
        ASSERT_EQ(got[k], 0x55);
    }
  }
}

/* alert.h promises a bound on the record for a line of max_line_bytes;
 * the worst case is a line of control characters (6 bytes each, in both
 * "text" and "matched") with the longest call id, tip and description. */
static void test_documented_bound(void) {
  const size_t max_line = 65536;
  const size_t cap = ES_ALERT_JSON_CAP(max_line);
  char *text = malloc(max_line);
  char *tip = malloc(4097), *desc = malloc(4097), call_id[129];
  char *buf = malloc(cap);
  struct es_rule_info r = make_rule();
  struct es_alert a;
  int64_t n;

  ASSERT(text && tip && desc && buf);
  memset(text, 0x01, max_line);
  memset(tip, 0x02, 4096);
  tip[4096] = '\0';
  memset(desc, 0x03, 4096);
  desc[4096] = '\0';
  memset(call_id, 0x04, 128);
  call_id[128] = '\0';
  r.tip = tip;
  r.description = desc;
  r.score = 1.0 / 3.0;
  memset(&a, 0, sizeof(a));
  a.call_id = call_id;
  a.rule = &r;
  a.speaker = ES_SPEAKER_CUSTOMER;
  a.text = text;
  a.text_len = max_line;
  a.match_start = 0;
  a.match_end = (uint32_t)max_line;
  a.ts = 0.1 + 0.2;
  a.has_ts = 1;
  a.seq = INT64_MAX;
  a.has_seq = 1;
  a.line = INT64_MAX;
  n = es_alert_json(&a, buf, cap);
  ASSERT_GT(n, 12 * (int64_t)max_line);
  ASSERT_LE(n, cap);
  free(text);
  free(tip);
  free(desc);
  free(buf);
}

/* Integers are written by hand: every digit, the sign, the extremes. */
static void test_error_json_integers(void) {
  static const int64_t v[] = {0, 7, -1, 10, 1234567890123, INT64_MAX, INT64_MIN};
  char buf[ES_ERROR_JSON_CAP], want[128];
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
    size_t n = es_error_json(buf, v[i], 1, v[i], "c", NULL, "m");
    int w = snprintf(want, sizeof(want), "{\"type\":\"error\",\"line\":%lld,\"seq\":%lld,",
                     (long long)v[i], (long long)v[i]);
    ASSERT(n > (size_t)w);
    ASSERT_MEM_EQ(buf, (size_t)w, want, (size_t)w);
  }
}

/* Error records: valid JSON with every field, also when the message is
 * too long to fit (it is replaced, never cut mid-escape). */
static void test_error_json(void) {
  char buf[ES_ERROR_JSON_CAP], big[4000];
  size_t n = es_error_json(buf, 12, 1, 41, "match_limit", "agent.x", "a \"quoted\"\nmessage");
  ASSERT(n > 0 && n <= sizeof(buf));
  ASSERT_EQ(buf[n - 1], '\n');
  cJSON *o = cJSON_ParseWithLength(buf, n - 1);
  ASSERT(o != NULL);
  ASSERT_STR_EQ(cJSON_GetObjectItem(o, "type")->valuestring, "error");
  ASSERT_EQ(cJSON_GetObjectItem(o, "line")->valuedouble, 12);
  ASSERT_EQ(cJSON_GetObjectItem(o, "seq")->valuedouble, 41);
  ASSERT_STR_EQ(cJSON_GetObjectItem(o, "code")->valuestring, "match_limit");
  ASSERT_STR_EQ(cJSON_GetObjectItem(o, "rule")->valuestring, "agent.x");
  ASSERT_STR_EQ(cJSON_GetObjectItem(o, "message")->valuestring, "a \"quoted\"\nmessage");
  cJSON_Delete(o);

  memset(big, '\x01', sizeof(big) - 1); /* escapes to six bytes each */
  big[sizeof(big) - 1] = '\0';
  n = es_error_json(buf, 3, 0, 0, "invalid_json", NULL, big);
  ASSERT(n <= sizeof(buf));
  o = cJSON_ParseWithLength(buf, n - 1);
  ASSERT(o != NULL);
  ASSERT(cJSON_GetObjectItem(o, "seq") == NULL);
  ASSERT(cJSON_GetObjectItem(o, "rule") == NULL);
  ASSERT_STR_EQ(cJSON_GetObjectItem(o, "message")->valuestring, "(message too long)");
  cJSON_Delete(o);
}

int main(void) {
  RUN(test_error_json);
  RUN(test_error_json_integers);
  RUN(test_fields);
  RUN(test_optional_fields);
  RUN(test_escaping);
  RUN(test_span_multibyte);
  RUN(test_numbers_short);
  RUN(test_too_big);
  RUN(test_json_str);
  RUN(test_json_str_runs);
  RUN(test_documented_bound);
  (void)es_test_failures_;
  fprintf(stderr, "test_alert: all passed\n");
  return 0;
}
