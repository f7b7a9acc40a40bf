/*
 * test_proto.c: the protocol line decoder: every error code, defaults,
 * and each event type's fields.
 */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "error.h"
#include "task.h"

#define MAX_LINE 1024

static struct es_decoder *dec;

static int decode_len(const char *line, size_t len, struct es_event *ev,
                      struct es_proto_error *err) {
  return es_proto_decode(dec, line, len, ev, err);
}

/* Expects `line` (len bytes) to be rejected with `code`. */
static void expect_error_(const char *file, int srcline, const char *line, size_t len,
                          const char *code) {
  struct es_event ev;
  struct es_proto_error err;
  int rc = decode_len(line, len, &ev, &err);

  if (rc >= 0 || err.code == NULL || strcmp(err.code, code) != 0 || err.message[0] == '\0') {
    fprintf(stderr, "%s:%d: decoding \"%.*s\": rc %d, code %s (%s), want %s\n", file, srcline,
            (int)len, line, rc, err.code ? err.code : "(null)", err.message, code);
    abort();
  }
}
#define EXPECT_ERROR(line, code) expect_error_(__FILE__, __LINE__, line, strlen(line), code)
#define EXPECT_ERROR_LEN(line, len, code) expect_error_(__FILE__, __LINE__, line, len, code)

static void decode_ok_(const char *file, int srcline, const char *line, size_t len,
                       struct es_event *ev) {
  struct es_proto_error err;
  int rc = decode_len(line, len, ev, &err);
  if (rc != 0) {
    fprintf(stderr, "%s:%d: decoding \"%.*s\" failed: %d %s: %s\n", file, srcline, (int)len,
            line, rc, err.code ? err.code : "(null)", err.message);
    abort();
  }
}
#define DECODE_OK(line, ev) decode_ok_(__FILE__, __LINE__, line, strlen(line), ev)
#define DECODE_OK_LEN(line, len, ev) decode_ok_(__FILE__, __LINE__, line, len, ev)

/* ---- error codes --------------------------------------------------------- */

static void test_invalid_json(void) {
  EXPECT_ERROR("{\"call_id\": ", "invalid_json");
  EXPECT_ERROR("{'call_id': 'x'}", "invalid_json");
  EXPECT_ERROR("not json", "invalid_json");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\",}", "invalid_json");
  /* cJSON reads a \u without four hex digits as a NUL that cuts the text short. */
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"cut\\uZZZZhere\"}",
               "invalid_json");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"cut\\u12\"}", "invalid_json");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"cut\\u00e\"}", "invalid_json");
  /* Trailing garbage after the object. */
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\"} x", "invalid_json");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\"}{}", "invalid_json");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\"},", "invalid_json");
}

/* An utterance whose extra field "x" is `arrays` arrays, one inside the
 * next: the object and they are arrays + 1 levels. */
static size_t nested_line(char *line, int arrays) {
  size_t n = (size_t)sprintf(line, "{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"hi\",\"x\":");
  for (int i = 0; i < arrays; i++)
    line[n++] = '[';
  for (int i = 0; i < arrays; i++)
    line[n++] = ']';
  line[n++] = '}';
  return n;
}

/* Past the JSON parser's nesting limit the line is refused as too deep,
 * not as malformed; at the limit, it parses. */
static void test_nesting_limit(void) {
  static char line[2 * CJSON_NESTING_LIMIT + 128];
  struct es_decoder *small = dec;
  struct es_event ev;
  size_t n;

  dec = es_decoder_new(sizeof(line));
  ASSERT(dec != NULL);
  n = nested_line(line, CJSON_NESTING_LIMIT);
  EXPECT_ERROR_LEN(line, n, "too_deep");
  n = nested_line(line, CJSON_NESTING_LIMIT - 1);
  DECODE_OK_LEN(line, n, &ev);
  ASSERT_EQ(ev.type, ES_EV_UTTERANCE);
  /* Brackets inside a string do not count: this line is only malformed. */
  EXPECT_ERROR("{\"call_id\":\"c1\",\"text\":\"[[[[[[[[\\\"[[[\",", "invalid_json");
  es_decoder_free(dec);
  dec = small;
}

static void test_not_object(void) {
  EXPECT_ERROR("[1, 2]", "not_object");
  EXPECT_ERROR("\"a string\"", "not_object");
  EXPECT_ERROR("42", "not_object");
  EXPECT_ERROR("null", "not_object");
  EXPECT_ERROR("true", "not_object");
}

static void test_missing_field(void) {
  EXPECT_ERROR("{\"speaker\": \"agent\", \"text\": \"hi\"}", "missing_field");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"text\": \"hi\"}", "missing_field");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\"}", "missing_field");
  EXPECT_ERROR("{}", "missing_field");
  EXPECT_ERROR("{\"type\": \"start\"}", "missing_field");
  EXPECT_ERROR("{\"type\": \"end\"}", "missing_field");
  EXPECT_ERROR("{\"type\": \"utterance\", \"speaker\": \"agent\", \"text\": \"hi\"}", "missing_field");
}

static void test_wrong_type(void) {
  EXPECT_ERROR("{\"call_id\": 5, \"speaker\": \"agent\", \"text\": \"hi\"}", "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": 1, \"text\": \"hi\"}", "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": [\"hi\"]}", "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": null}", "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"ts\": \"12\"}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"ts\": 1e999}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"end_ts\": true}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"seq\": -1}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"seq\": 1.5}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"seq\": \"3\"}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"final\": \"yes\"}",
               "wrong_type");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\", \"final\": 1}",
               "wrong_type");
  EXPECT_ERROR("{\"type\": 3, \"call_id\": \"c1\"}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"start\", \"call_id\": \"c1\", \"ts\": \"now\"}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"end\", \"call_id\": \"c1\", \"ts\": [1]}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"end\", \"call_id\": [\"c1\"]}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"hello\", \"client\": 1}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"hello\", \"token\": 2}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"hello\", \"acks\": \"yes\"}", "wrong_type");
}

static void test_unknown_speaker(void) {
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"robot\", \"text\": \"hi\"}", "unknown_speaker");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"any\", \"text\": \"hi\"}", "unknown_speaker");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"Agent\", \"text\": \"hi\"}", "unknown_speaker");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"\", \"text\": \"hi\"}", "unknown_speaker");
}

static void test_invalid_utf8(void) {
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"caf\xE9\"}", "invalid_utf8");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"\xC0\xAF\"}", "invalid_utf8");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"\xED\xA0\x80\"}",
               "invalid_utf8");
  EXPECT_ERROR("{\"call_\xFF\": \"c1\"}", "invalid_utf8");
  EXPECT_ERROR("\xEF\xBB", "invalid_utf8");
}

/* Expects `line` to be rejected with `code` by both the fast path and the
 * cJSON path, with the same message, which holds each of `needles`. */
static void expect_message_(const char *file, int srcline, const char *line, const char *code,
                            const char *const *needles) {
  struct es_decoder *slow = es_decoder_new(MAX_LINE);
  struct es_event ev;
  struct es_proto_error err, slow_err;
  int rc, slow_rc;

  ASSERT(slow != NULL);
  es_decoder_set_fast(slow, 0);
  expect_error_(file, srcline, line, strlen(line), code);
  rc = decode_len(line, strlen(line), &ev, &err);
  slow_rc = es_proto_decode(slow, line, strlen(line), &ev, &slow_err);
  ASSERT_EQ(rc, slow_rc);
  ASSERT_STR_EQ(err.code, slow_err.code);
  ASSERT_STR_EQ(err.message, slow_err.message);
  for (int i = 0; needles[i]; i++)
    if (strstr(err.message, needles[i]) == NULL) {
      fprintf(stderr, "%s:%d: decoding \"%s\": message \"%s\" lacks \"%s\"\n", file, srcline,
              line, err.message, needles[i]);
      abort();
    }
  es_decoder_free(slow);
}
#define EXPECT_MESSAGE(line, code, ...)                                                     \
  expect_message_(__FILE__, __LINE__, line, code, (const char *const[]){__VA_ARGS__, NULL})

/* A \u escape of half a UTF-16 surrogate pair, without its other half, is
 * no character: the line is JSON whose text is not Unicode. */
static void test_lone_surrogate(void) {
  struct es_event ev;

  /* "a\ud800b": the escape starts at byte 43 (counted from 0, as every "at byte"). */
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"a\\ud800b\"}", "invalid_utf8",
                 "unpaired UTF-16 surrogate \"\\ud800\" at byte 43 in \"text\"", "high surrogate");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"a\\uDC00b\"}", "invalid_utf8",
                 "unpaired UTF-16 surrogate \"\\uDC00\" at byte 43 in \"text\"", "low surrogate");
  /* at the end of the string, of the line, before another escape, reversed */
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\udbff\"}", "invalid_utf8",
                 "\"\\udbff\" at byte 42");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ud800", "invalid_utf8",
                 "at byte 42");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ud800\\u0041\"}",
                 "invalid_utf8", "\"\\ud800\" at byte 42");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ud800\\ud800\\udc00\"}",
                 "invalid_utf8", "\"\\ud800\" at byte 42");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ude00\\ud83d\"}",
                 "invalid_utf8", "\"\\ude00\" at byte 42");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ud83d\\ude00\\ude00\"}",
                 "invalid_utf8", "\"\\ude00\" at byte 54");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ud800\\uZZZZ\"}",
                 "invalid_utf8", "\"\\ud800\" at byte 42");
  /* in any string: the call, a start line's attribute, a field name, a hello */
  EXPECT_MESSAGE("{\"call_id\":\"c\\ud800\",\"speaker\":\"agent\",\"text\":\"x\"}", "invalid_utf8",
                 "at byte 13 in \"call_id\"");
  EXPECT_MESSAGE("{\"type\":\"start\",\"call_id\":\"c1\",\"queue\" : \"q\\udfff\"}", "invalid_utf8",
                 "at byte 43 in \"queue\"");
  EXPECT_MESSAGE("{\"type\":\"start\",\"call_id\":\"c1\",\"k\\ud800\":\"v\"}", "invalid_utf8",
                 "at byte 33:");
  EXPECT_MESSAGE("{\"type\":\"hello\",\"client\":\"\\udc00\"}", "invalid_utf8", "in \"client\"");
  EXPECT_MESSAGE("{\"type\":\"start\",\"call_id\":\"c1\",\"x\":[\"\\ud800\"]}", "invalid_utf8",
                 "at byte 37:");
  /* not an escape: an escaped backslash and the letters, or outside a string */
  DECODE_OK("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"a\\\\ud800\"}", &ev);
  ASSERT_STR_EQ(ev.text, "a\\ud800");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"a\\\\\\ud800\"}",
                 "invalid_utf8", "at byte 45");
  EXPECT_MESSAGE("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"a\"} \\ud800", "invalid_json",
                 "unexpected data");
  /* a pair is a character */
  DECODE_OK("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"\\ud83d\\ude00 \\uDBFF\\uDFFF\"}", &ev);
  ASSERT_STR_EQ(ev.text, "\xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF");
  /* the decoder goes on */
  DECODE_OK("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"b\"}", &ev);
  ASSERT_STR_EQ(ev.text, "b");
}

static void test_nul_byte(void) {
  static const char raw[] = "{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"a\0b\"}";
  EXPECT_ERROR_LEN(raw, sizeof(raw) - 1, "nul_byte");
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"cut\\u0000here\"}", "nul_byte");
  EXPECT_ERROR("{\"call_id\": \"c\\u0000\", \"speaker\": \"agent\", \"text\": \"x\"}", "nul_byte");
  /* Three backslashes: an escaped backslash, then an escaped NUL. */
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"a\\\\\\u0000\"}", "nul_byte");

  /* Two backslashes: an escaped backslash and the text "u0000". */
  struct es_event ev;
  DECODE_OK("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"a\\\\u0000\"}", &ev);
  ASSERT_STR_EQ(ev.text, "a\\u0000");
  ASSERT_EQ(ev.text_len, 7);
}

/* Expects `line` (len bytes) to be refused with `code`, and the error to
 * carry seq `want` (-1: no seq). */
static void expect_seq_(const char *file, int srcline, const char *line, size_t len,
                        const char *code, int64_t want) {
  struct es_event ev;
  struct es_proto_error err;
  expect_error_(file, srcline, line, len, code);
  decode_len(line, len, &ev, &err);
  if (want < 0 ? ev.has_seq != 0 : !ev.has_seq || ev.seq != want) {
    fprintf(stderr, "%s:%d: decoding \"%.*s\": has_seq %u seq %lld, want %lld\n", file, srcline,
            (int)len, line, ev.has_seq, (long long)ev.seq, (long long)want);
    abort();
  }
}
#define EXPECT_SEQ(line, code, want) expect_seq_(__FILE__, __LINE__, line, strlen(line), code, want)

/* A line refused for its bytes before it is parsed still has its seq read,
 * so that its error carries it and it is acknowledged; never a seq that
 * is not the line's own. */
static void test_seq_of_refused_lines(void) {
  static const char raw[] = "{\"seq\": 17, \"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"a\0b\"}";
  expect_seq_(__FILE__, __LINE__, raw, sizeof(raw) - 1, "nul_byte", 17);
  EXPECT_SEQ("{\"call_id\":\"c1\",\"speaker\":\"agent\",\"text\":\"caf\xE9\",\"seq\":42}", "invalid_utf8",
             42);
  EXPECT_SEQ("{\"call_id\":\"c1\",\"text\":\"a\\ud800b\",\"seq\" : 9007199254740991 }",
             "invalid_utf8", 9007199254740991);
  /* 2^53 and above: a double may have rounded another number to it. */
  EXPECT_SEQ("{\"call_id\":\"c1\",\"text\":\"a\\ud800b\",\"seq\":9007199254740992}",
             "invalid_utf8", -1);
  EXPECT_SEQ("{\"call_id\":\"c1\",\"text\":\"cut\\u0000\",\"seq\":0}", "nul_byte", 0);
  EXPECT_SEQ("{\"call_id\":\"c1\",\"text\":\"\\uZZZZ\",\"seq\":5}", "invalid_json", 5);
  /* The first "seq" of the top object, as cJSON takes it. */
  EXPECT_SEQ("{\"seq\":3,\"text\":\"caf\xE9\",\"seq\":4}", "invalid_utf8", 3);
  /* Not a seq: nested, inside a string, escaped, or a value cJSON would
   * refuse or round. */
  EXPECT_SEQ("{\"x\":{\"seq\":3},\"text\":\"caf\xE9\"}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9 \\\"seq\\\":3\"}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"s\\u0065q\":3}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":3.5}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":-3}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":03}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":1e3}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":9007199254740993}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":12345678901234567890}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":\"3\"}", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\",\"seq\":3", "invalid_utf8", -1);
  EXPECT_SEQ("[{\"seq\":3,\"text\":\"caf\xE9\"}]", "invalid_utf8", -1);
  EXPECT_SEQ("[\"seq\":3,\"text\":\"caf\xE9\"]", "invalid_utf8", -1);
  EXPECT_SEQ("{\"text\":\"caf\xE9\"} {\"seq\":3}", "invalid_utf8", -1);
  /* A line cJSON refuses keeps no seq, whatever digits it holds. */
  EXPECT_SEQ("{\"seq\":3,\"text\":\"x\",}", "invalid_json", -1);
}

static void test_line_too_long(void) {
  char line[MAX_LINE + 8];
  const char *head = "{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"";
  size_t hl = strlen(head);
  struct es_event ev;
  struct es_proto_error err;

  /* Exactly MAX_LINE bytes is accepted... */
  memcpy(line, head, hl);
  memset(line + hl, 'x', MAX_LINE - hl - 2);
  memcpy(line + MAX_LINE - 2, "\"}", 2);
  ASSERT_EQ(decode_len(line, MAX_LINE, &ev, &err), 0);
  ASSERT_EQ(ev.text_len, MAX_LINE - hl - 2);
  /* ...also with a trailing \r, which is not counted... */
  line[MAX_LINE] = '\r';
  ASSERT_EQ(decode_len(line, MAX_LINE + 1, &ev, &err), 0);
  /* ...one more byte is not. */
  memmove(line + hl + 1, line + hl, MAX_LINE - hl);
  EXPECT_ERROR_LEN(line, MAX_LINE + 1, "line_too_long");
}

static void test_empty_line(void) {
  EXPECT_ERROR_LEN("", 0, "empty_line");
  EXPECT_ERROR("   ", "empty_line");
  EXPECT_ERROR("\t \t", "empty_line");
  EXPECT_ERROR("\r", "empty_line");
  EXPECT_ERROR(" \r", "empty_line");
}

static void test_unknown_type(void) {
  EXPECT_ERROR("{\"type\": \"bogus\", \"call_id\": \"c1\"}", "unknown_type");
  EXPECT_ERROR("{\"type\": \"Utterance\", \"call_id\": \"c1\"}", "unknown_type");
  EXPECT_ERROR("{\"type\": \"\", \"call_id\": \"c1\"}", "unknown_type");
}

static void test_empty_and_long_fields(void) {
  char line[512];
  char id[ES_CALL_ID_MAX + 2];
  struct es_event ev;

  EXPECT_ERROR("{\"call_id\": \"\", \"speaker\": \"agent\", \"text\": \"hi\"}", "empty_field");
  EXPECT_ERROR("{\"type\": \"end\", \"call_id\": \"\"}", "empty_field");
  memset(id, 'k', sizeof(id) - 1);
  id[ES_CALL_ID_MAX] = '\0';
  snprintf(line, sizeof(line), "{\"call_id\": \"%s\", \"speaker\": \"agent\", \"text\": \"hi\"}", id);
  DECODE_OK(line, &ev);
  ASSERT_EQ(strlen(ev.call_id), ES_CALL_ID_MAX);
  id[ES_CALL_ID_MAX] = 'k';
  id[ES_CALL_ID_MAX + 1] = '\0';
  snprintf(line, sizeof(line), "{\"call_id\": \"%s\", \"speaker\": \"agent\", \"text\": \"hi\"}", id);
  EXPECT_ERROR(line, "field_too_long");
  snprintf(line, sizeof(line), "{\"type\": \"start\", \"call_id\": \"%s\"}", id);
  EXPECT_ERROR(line, "field_too_long");
}

static void test_too_many_fields(void) {
  char line[2048];
  size_t n;
  struct es_event ev;

  n = (size_t)snprintf(line, sizeof(line), "{\"type\": \"start\", \"call_id\": \"c1\"");
  for (int i = 0; i < ES_ATTR_MAX; i++)
    n += (size_t)snprintf(line + n, sizeof(line) - n, ", \"k%d\": \"v%d\"", i, i);
  snprintf(line + n, sizeof(line) - n, "}");
  DECODE_OK(line, &ev);
  ASSERT_EQ(ev.nattrs, ES_ATTR_MAX);
  ASSERT_STR_EQ(ev.attr_keys[ES_ATTR_MAX - 1], "k31");
  ASSERT_STR_EQ(ev.attr_values[ES_ATTR_MAX - 1], "v31");
  snprintf(line + n, sizeof(line) - n, ", \"one\": \"more\"}");
  EXPECT_ERROR(line, "too_many_fields");
  /* Values of every kind count; a null is no field. */
  n = (size_t)snprintf(line, sizeof(line), "{\"type\": \"start\", \"call_id\": \"c1\"");
  for (int i = 0; i < ES_ATTR_MAX; i++)
    n += (size_t)snprintf(line + n, sizeof(line) - n, ", \"k%d\": %s, \"n%d\": null", i,
                          i % 4 == 0 ? "7" : i % 4 == 1 ? "[1]" : i % 4 == 2 ? "{}" : "false", i);
  snprintf(line + n, sizeof(line) - n, "}");
  DECODE_OK(line, &ev);
  ASSERT_EQ(ev.nattrs, ES_ATTR_MAX);
  ASSERT_EQ(ev.attr_json, 0xFFFFFFFFu);
  ASSERT_STR_EQ(ev.attr_keys[ES_ATTR_MAX - 1], "k31");
  ASSERT_STR_EQ(ev.attr_values[ES_ATTR_MAX - 1], "false");
  snprintf(line + n, sizeof(line) - n, ", \"one\": 1}");
  EXPECT_ERROR(line, "too_many_fields");
  snprintf(line + n, sizeof(line) - n, ", \"one\": [\"more\"]}");
  EXPECT_ERROR(line, "too_many_fields");
}

/* ---- good lines ------------------------------------------------------------ */

static void test_utterance_defaults(void) {
  struct es_event ev;

  DECODE_OK("{\"call_id\": \"c1\", \"speaker\": \"customer\", \"text\": \"I want a refund\"}", &ev);
  ASSERT_EQ(ev.type, ES_EV_UTTERANCE);
  ASSERT_STR_EQ(ev.call_id, "c1");
  ASSERT_EQ(ev.speaker, ES_SPEAKER_CUSTOMER);
  ASSERT_STR_EQ(ev.text, "I want a refund");
  ASSERT_EQ(ev.text_len, 15);
  ASSERT_EQ(ev.final, 1);
  ASSERT_EQ(ev.has_ts, 0);
  ASSERT_EQ(ev.has_end_ts, 0);
  ASSERT_EQ(ev.has_seq, 0);

  DECODE_OK("{\"type\": \"utterance\", \"call_id\": \"c2\", \"speaker\": \"agent\", \"text\": \"\","
            " \"ts\": 12.5, \"end_ts\": 14, \"seq\": 7, \"final\": false}",
            &ev);
  ASSERT_EQ(ev.type, ES_EV_UTTERANCE);
  ASSERT_EQ(ev.speaker, ES_SPEAKER_AGENT);
  ASSERT_STR_EQ(ev.text, "");
  ASSERT_EQ(ev.text_len, 0);
  ASSERT_EQ(ev.has_ts, 1);
  ASSERT(ev.ts == 12.5);
  ASSERT_EQ(ev.has_end_ts, 1);
  ASSERT(ev.end_ts == 14.0);
  ASSERT_EQ(ev.has_seq, 1);
  ASSERT_EQ(ev.seq, 7);
  ASSERT_EQ(ev.final, 0);

  /* null means absent. */
  DECODE_OK("{\"call_id\": \"c3\", \"speaker\": \"agent\", \"text\": \"x\", \"ts\": null,"
            " \"seq\": null, \"final\": null}",
            &ev);
  ASSERT_EQ(ev.has_ts, 0);
  ASSERT_EQ(ev.has_seq, 0);
  ASSERT_EQ(ev.final, 1);
  DECODE_OK("{\"call_id\": \"c3\", \"speaker\": \"agent\", \"text\": \"x\", \"final\": true,"
            " \"seq\": 9007199254740991}",
            &ev);
  ASSERT_EQ(ev.final, 1);
  ASSERT_EQ(ev.seq, 9007199254740991LL);
  /* 2^53 + 1 reads as 2^53: refused, never acknowledged as another seq. */
  EXPECT_SEQ("{\"call_id\":\"c3\",\"speaker\":\"agent\",\"text\":\"x\",\"seq\":9007199254740993}",
             "wrong_type", -1);
  EXPECT_SEQ("{\"call_id\":\"c3\",\"speaker\":\"agent\",\"text\":\"x\",\"seq\":9007199254740992}",
             "wrong_type", -1);
  /* A line that parses carries its seq in every later error. */
  EXPECT_SEQ("{\"type\":5,\"call_id\":\"c3\",\"seq\":2}", "wrong_type", 2);
  EXPECT_SEQ("{\"type\":[\"start\"],\"call_id\":\"c3\",\"seq\":4}", "wrong_type", 4);
}

static void test_utterance_text_escapes(void) {
  struct es_event ev;

  DECODE_OK("{\"call_id\": \"c1\", \"speaker\": \"agent\","
            " \"text\": \"say \\\"caf\\u00e9\\\" \\ud83d\\ude00 \\\\ \\n that\xE2\x80\x99s\"}",
            &ev);
  ASSERT_STR_EQ(ev.text, "say \"caf\xC3\xA9\" \xF0\x9F\x98\x80 \\ \n that\xE2\x80\x99s");
  ASSERT_EQ(ev.text_len, strlen(ev.text));
}

static void test_trailing_cr(void) {
  struct es_event ev;
  DECODE_OK("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\"}\r", &ev);
  ASSERT_STR_EQ(ev.text, "hi");
  DECODE_OK("  {\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\"} \t\r", &ev);
  ASSERT_STR_EQ(ev.call_id, "c1");
  /* Only one, and only at the end. */
  EXPECT_ERROR("{\"call_id\": \"c1\", \"speaker\": \"agent\", \"text\": \"hi\"}\r\r", "invalid_json");
}

static void test_start(void) {
  struct es_event ev;

  DECODE_OK("{\"type\": \"start\", \"call_id\": \"c9\", \"ts\": 100, \"agent_id\": \"a-17\","
            " \"queue\": \"billing\", \"customer\": \"cust-4\", \"lang\": \"en\"}",
            &ev);
  ASSERT_EQ(ev.type, ES_EV_START);
  ASSERT_STR_EQ(ev.call_id, "c9");
  ASSERT_EQ(ev.has_ts, 1);
  ASSERT(ev.ts == 100.0);
  ASSERT_STR_EQ(ev.agent, "a-17");
  ASSERT_STR_EQ(ev.queue, "billing");
  ASSERT_STR_EQ(ev.customer, "cust-4");
  /* Every string field other than type and call_id, in order. */
  ASSERT_EQ(ev.nattrs, 4);
  ASSERT_STR_EQ(ev.attr_keys[0], "agent_id");
  ASSERT_STR_EQ(ev.attr_values[0], "a-17");
  ASSERT_STR_EQ(ev.attr_keys[1], "queue");
  ASSERT_STR_EQ(ev.attr_keys[2], "customer");
  ASSERT_STR_EQ(ev.attr_keys[3], "lang");
  ASSERT_STR_EQ(ev.attr_values[3], "en");

  DECODE_OK("{\"type\": \"start\", \"call_id\": \"c10\"}", &ev);
  ASSERT_EQ(ev.type, ES_EV_START);
  ASSERT(ev.agent == NULL && ev.queue == NULL && ev.customer == NULL);
  ASSERT_EQ(ev.nattrs, 0);
  ASSERT_EQ(ev.has_ts, 0);
}

/* Metadata values of every JSON type (docs/protocol.md): a string as
 * decoded; a number, true and false as their JSON text exactly as sent; an
 * array or object as its JSON text without white space; null as absent. */
static void test_start_values(void) {
  struct es_event ev;

  DECODE_OK("{\"type\": \"start\", \"call_id\": \"c1\", \"agent_id\": 204, \"queue\": \"q\\u00e9\","
            " \"priority\": 3, \"price\": 2.50, \"drop\": -1e3, \"n\": 1E+2, \"zero\": -0.0,"
            " \"huge\": 123456789012345678901234567890, \"vip\": true, \"test\": false,"
            " \"note\": null, \"tags\": [ \"a\" , 1.10, null, { \"x\" : [ ] } ,true],"
            " \"ctx\": {\"x\": 1, \"s\": \"a b\\\"c\\n\\u00e9\\/\"}, \"customer\": null, \"e\": [], \"o\": {}}",
            &ev);
  ASSERT_EQ(ev.type, ES_EV_START);
  ASSERT_STR_EQ(ev.agent, "204");
  ASSERT_STR_EQ(ev.queue, "q\xc3\xa9");
  ASSERT(ev.customer == NULL);
  {
    static const char *const want[][2] = {
        {"agent_id", "204"}, {"queue", "q\xc3\xa9"}, {"priority", "3"}, {"price", "2.50"},
        {"drop", "-1e3"}, {"n", "1E+2"}, {"zero", "-0.0"},
        {"huge", "123456789012345678901234567890"}, {"vip", "true"}, {"test", "false"},
        {"tags", "[\"a\",1.10,null,{\"x\":[]},true]"},
        {"ctx", "{\"x\":1,\"s\":\"a b\\\"c\\n\\u00e9\\/\"}"}, {"e", "[]"}, {"o", "{}"}};
    ASSERT_EQ(ev.nattrs, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < ev.nattrs; i++) {
      ASSERT_STR_EQ(ev.attr_keys[i], want[i][0]);
      ASSERT_STR_EQ(ev.attr_values[i], want[i][1]);
      /* JSON text but for the one string */
      ASSERT_EQ(!!(ev.attr_json & 1u << i), i != 1);
    }
  }

  /* agent_id, queue and customer: the last that is a string or a number;
   * a null leaves the one before, other values are attributes only. */
  DECODE_OK("{\"type\":\"start\",\"call_id\":\"c2\",\"agent_id\":\"a-1\",\"agent_id\":null,"
            "\"queue\":7,\"queue\":{\"id\":8},\"customer\":-12.5,\"customer\":true}",
            &ev);
  ASSERT_STR_EQ(ev.agent, "a-1");
  ASSERT_STR_EQ(ev.queue, "7");
  ASSERT_STR_EQ(ev.customer, "-12.5");
  ASSERT_EQ(ev.nattrs, 5);
  ASSERT_EQ(ev.attr_json, 0x1Eu);
  ASSERT_STR_EQ(ev.attr_values[2], "{\"id\":8}");
  ASSERT_STR_EQ(ev.attr_values[4], "true");

  /* Nothing but nulls: no metadata. White space of every kind cJSON
   * skips, and a byte order mark before the object. */
  DECODE_OK("{\"type\":\"start\",\"call_id\":\"c3\",\"agent_id\":null,\"x\":null}", &ev);
  ASSERT_EQ(ev.nattrs, 0);
  ASSERT(ev.agent == NULL);
  DECODE_OK("\xef\xbb\xbf {\r\n\"type\"\t:\"start\" ,\"call_id\":\"c4\",\"seq\" : 01 ,"
            "\n\"a\"\v:\f[ 1 ,\n 2 ]\x01,\"b\" :-5 }",
            &ev);
  ASSERT_EQ(ev.seq, 1);
  ASSERT_EQ(ev.nattrs, 2);
  ASSERT_STR_EQ(ev.attr_values[0], "[1,2]");
  ASSERT_STR_EQ(ev.attr_values[1], "-5");

  /* A control character cJSON lets through raw in a string is escaped,
   * so the text stays JSON. */
  DECODE_OK("{\"type\":\"start\",\"call_id\":\"c5\",\"a\":[\"x\ty\x1fz\"]}", &ev);
  ASSERT_STR_EQ(ev.attr_values[0], "[\"x\\u0009y\\u001fz\"]");

  /* A number JSON does not allow, though cJSON reads it, is refused in
   * metadata (its text would not be JSON); seq and ts take it as before. */
  EXPECT_ERROR("{\"type\":\"start\",\"call_id\":\"c6\",\"priority\":01}", "invalid_json");
  EXPECT_ERROR("{\"type\":\"start\",\"call_id\":\"c6\",\"priority\":1.}", "invalid_json");
  EXPECT_ERROR("{\"type\":\"start\",\"call_id\":\"c6\",\"priority\":-.5}", "invalid_json");
  EXPECT_ERROR("{\"type\":\"start\",\"call_id\":\"c6\",\"x\":{\"a\":[1,2,00]}}", "invalid_json");
  DECODE_OK("{\"type\":\"start\",\"call_id\":\"c6\",\"ts\":01.,\"seq\":02}", &ev);
  ASSERT_EQ(ev.nattrs, 0);

  /* At most ES_ATTR_DEPTH_MAX levels of arrays and objects in a value. */
  {
    char line[256];
    int n = snprintf(line, sizeof(line), "{\"type\":\"start\",\"call_id\":\"c7\",\"deep\":%.*s1%.*s}",
                     ES_ATTR_DEPTH_MAX, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", ES_ATTR_DEPTH_MAX,
                     "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    ASSERT_LT(n, (int)sizeof(line));
    DECODE_OK(line, &ev);
    ASSERT_EQ(strlen(ev.attr_values[0]), 2 * ES_ATTR_DEPTH_MAX + 1);
    snprintf(line, sizeof(line), "{\"type\":\"start\",\"call_id\":\"c7\",\"deep\":%.*s1%.*s}",
             ES_ATTR_DEPTH_MAX + 1, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", ES_ATTR_DEPTH_MAX + 1,
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    EXPECT_ERROR(line, "too_deep");
  }
}

static void test_end(void) {
  struct es_event ev;
  DECODE_OK("{\"type\": \"end\", \"call_id\": \"c9\", \"ts\": 250.25}", &ev);
  ASSERT_EQ(ev.type, ES_EV_END);
  ASSERT_STR_EQ(ev.call_id, "c9");
  ASSERT_EQ(ev.has_ts, 1);
  ASSERT(ev.ts == 250.25);
  DECODE_OK("{\"type\": \"end\", \"call_id\": \"c9\"}", &ev);
  ASSERT_EQ(ev.has_ts, 0);
}

static void test_hello(void) {
  struct es_event ev;
  DECODE_OK("{\"type\": \"hello\", \"client\": \"dialer/2.1\", \"acks\": true, \"token\": \"s3cret\"}",
            &ev);
  ASSERT_EQ(ev.type, ES_EV_HELLO);
  ASSERT_STR_EQ(ev.client, "dialer/2.1");
  ASSERT_STR_EQ(ev.token, "s3cret");
  ASSERT_EQ(ev.acks, 1);
  DECODE_OK("{\"type\": \"hello\"}", &ev);
  ASSERT_EQ(ev.type, ES_EV_HELLO);
  ASSERT(ev.client == NULL);
  ASSERT(ev.token == NULL);
  ASSERT_EQ(ev.acks, 0);
  DECODE_OK("{\"type\": \"hello\", \"acks\": false}", &ev);
  ASSERT_EQ(ev.acks, 0);
}

static void test_stats_reload_and_seq(void) {
  struct es_event ev;
  DECODE_OK("{\"type\": \"stats\"}", &ev);
  ASSERT_EQ(ev.type, ES_EV_STATS);
  ASSERT_EQ(ev.has_seq, 0);
  DECODE_OK("{\"type\": \"reload\", \"seq\": 12}", &ev);
  ASSERT_EQ(ev.type, ES_EV_RELOAD);
  ASSERT_EQ(ev.has_seq, 1);
  ASSERT_EQ(ev.seq, 12);
  /* Every line may carry seq; on start it is not call metadata. */
  DECODE_OK("{\"type\": \"start\", \"call_id\": \"c1\", \"seq\": 3, \"queue\": \"q\"}", &ev);
  ASSERT_EQ(ev.has_seq, 1);
  ASSERT_EQ(ev.seq, 3);
  ASSERT_EQ(ev.nattrs, 1);
  ASSERT_STR_EQ(ev.attr_keys[0], "queue");
  DECODE_OK("{\"type\": \"end\", \"call_id\": \"c1\", \"seq\": 4}", &ev);
  ASSERT_EQ(ev.seq, 4);
  DECODE_OK("{\"type\": \"hello\", \"seq\": 0}", &ev);
  ASSERT_EQ(ev.has_seq, 1);
  ASSERT_EQ(ev.seq, 0);
  EXPECT_ERROR("{\"type\": \"stats\", \"seq\": -2}", "wrong_type");
  EXPECT_ERROR("{\"type\": \"end\", \"call_id\": \"c1\", \"seq\": \"4\"}", "wrong_type");
}

static void test_recovers_after_error(void) {
  struct es_event ev;
  EXPECT_ERROR("{\"call_id\": ", "invalid_json");
  DECODE_OK("{\"call_id\": \"ok\", \"speaker\": \"customer\", \"text\": \"fine\"}", &ev);
  ASSERT_STR_EQ(ev.call_id, "ok");
  EXPECT_ERROR("{\"call_id\": \"ok\", \"speaker\": \"robot\", \"text\": \"x\"}", "unknown_speaker");
  DECODE_OK("{\"type\": \"end\", \"call_id\": \"ok\"}", &ev);
  ASSERT_EQ(ev.type, ES_EV_END);
}

int main(void) {
  dec = es_decoder_new(MAX_LINE);
  ASSERT(dec != NULL);
  RUN(test_invalid_json);
  RUN(test_nesting_limit);
  RUN(test_not_object);
  RUN(test_missing_field);
  RUN(test_wrong_type);
  RUN(test_unknown_speaker);
  RUN(test_invalid_utf8);
  RUN(test_nul_byte);
  RUN(test_lone_surrogate);
  RUN(test_line_too_long);
  RUN(test_empty_line);
  RUN(test_unknown_type);
  RUN(test_empty_and_long_fields);
  RUN(test_too_many_fields);
  RUN(test_utterance_defaults);
  RUN(test_utterance_text_escapes);
  RUN(test_trailing_cr);
  RUN(test_start);
  RUN(test_start_values);
  RUN(test_end);
  RUN(test_hello);
  RUN(test_stats_reload_and_seq);
  RUN(test_recovers_after_error);
  RUN(test_seq_of_refused_lines);
  es_decoder_free(dec);
  es_decoder_free(NULL);
  (void)es_test_failures_;
  fprintf(stderr, "test_proto: all passed\n");
  return 0;
}
