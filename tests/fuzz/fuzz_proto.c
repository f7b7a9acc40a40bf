/*
 * fuzz_proto.c: the protocol line decoder (proto.h) on arbitrary bytes.
 *
 * The whole input is decoded as one line, then each of its '\n'-separated
 * pieces is decoded in turn with the same decoder (as earshotd and
 * `earshot replay` do). Every call must either succeed with a well-formed
 * event (a start's metadata that is JSON text parses as one JSON value)
 * or fail with a negative es_err, a stable error code and a message;
 * anything else aborts. Each line is also decoded with the fast path off:
 * both paths must agree exactly (return code, error, every field). And a
 * line that decodes, with one of its \\u escapes made half a UTF-16
 * surrogate pair without the other half, must get invalid_utf8 naming that
 * escape's byte, from both paths (cJSON alone calls it malformed JSON).
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_LINE 4096

static const char *const codes[] = {
  "invalid_json", "not_object", "missing_field", "wrong_type", "unknown_speaker",
  "invalid_utf8", "nul_byte", "line_too_long", "empty_line", "unknown_type",
  "empty_field", "field_too_long", "too_many_fields", "too_deep", NULL,
};

static int known_code(const char *code) {
  for (int i = 0; codes[i]; i++)
    if (strcmp(code, codes[i]) == 0)
      return 1;
  return 0;
}

static void check_string(const char *s) {
  if (s == NULL || !es_utf8_valid(s, strlen(s)))
    abort();
}

static void decode_one(struct es_decoder *dec, const char *line, size_t len) {
  struct es_event ev;
  struct es_proto_error err;
  int rc = es_proto_decode(dec, line, len, &ev, &err);

  if (rc != 0) {
    if (rc > 0 || err.code == NULL || !known_code(err.code) || err.message[0] == '\0' ||
        memchr(err.message, '\0', sizeof(err.message)) == NULL)
      abort();
    return;
  }
  if (err.code != NULL)
    abort();
  switch (ev.type) {
  case ES_EV_UTTERANCE:
    check_string(ev.call_id);
    if (ev.call_id[0] == '\0' || strlen(ev.call_id) > ES_CALL_ID_MAX)
      abort();
    if (ev.speaker != ES_SPEAKER_AGENT && ev.speaker != ES_SPEAKER_CUSTOMER)
      abort();
    /* The text is what the matcher gets: valid UTF-8, no NUL inside. */
    check_string(ev.text);
    if (strlen(ev.text) != ev.text_len || ev.text_len > len)
      abort();
    if (ev.has_seq && ev.seq < 0)
      abort();
    break;
  case ES_EV_START:
    check_string(ev.call_id);
    if (ev.nattrs > ES_ATTR_MAX)
      abort();
    for (size_t i = 0; i < ev.nattrs; i++) {
      check_string(ev.attr_keys[i]);
      check_string(ev.attr_values[i]);
      if (ev.attr_json & 1u << i) { /* JSON text, one value */
        cJSON *v = cJSON_ParseWithOpts(ev.attr_values[i], NULL, 1);
        if (v == NULL)
          abort();
        cJSON_Delete(v);
      }
    }
    if (ev.nattrs < 32 && ev.attr_json >> ev.nattrs != 0)
      abort();
    break;
  case ES_EV_END:
    check_string(ev.call_id);
    break;
  case ES_EV_HELLO:
    if (ev.client)
      check_string(ev.client);
    if (ev.token)
      check_string(ev.token);
    break;
  case ES_EV_STATS:
  case ES_EV_RELOAD:
  case ES_EV_SUBSCRIBE:
  case ES_EV_MARK:
    break;
  default:
    abort();
  }
}

static int same_str(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* The allocation-free fast path and the cJSON path must agree. */
static void compare_paths(struct es_decoder *fast, struct es_decoder *slow, const char *line,
                          size_t len) {
  struct es_event a, b;
  struct es_proto_error ea, eb;
  int ra = es_proto_decode(fast, line, len, &a, &ea);
  int rb = es_proto_decode(slow, line, len, &b, &eb);

  if (ra != rb || !same_str(ea.code, eb.code) || strcmp(ea.message, eb.message) != 0)
    abort();
  if (ra != 0)
    return;
  if (a.type != b.type || !same_str(a.call_id, b.call_id) || a.speaker != b.speaker ||
      a.text_len != b.text_len || (a.text_len && memcmp(a.text, b.text, a.text_len) != 0) ||
      a.has_ts != b.has_ts || (a.has_ts && a.ts != b.ts) || a.has_end_ts != b.has_end_ts ||
      (a.has_end_ts && a.end_ts != b.end_ts) || a.has_seq != b.has_seq || a.seq != b.seq ||
      a.final != b.final || a.acks != b.acks || a.nattrs != b.nattrs || a.attr_json != b.attr_json)
    abort();
  if (memcmp(&a.ts, &b.ts, sizeof(a.ts)) != 0 || memcmp(&a.end_ts, &b.end_ts, sizeof(a.ts)) != 0 ||
      !same_str(a.agent, b.agent) || !same_str(a.queue, b.queue) ||
      !same_str(a.customer, b.customer) || !same_str(a.client, b.client) ||
      !same_str(a.token, b.token) || a.alert_id != b.alert_id || !same_str(a.mark, b.mark) ||
      !same_str(a.by, b.by) || !same_str(a.note, b.note))
    abort();
  for (size_t i = 0; i < a.nattrs; i++) /* entries past nattrs are not the event's */
    if (!same_str(a.attr_keys[i], b.attr_keys[i]) || !same_str(a.attr_values[i], b.attr_values[i]))
      abort();
}

static int hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether line[i..] is a \\u escape of half a surrogate pair: 'd' or 'D'
 * and then, for the low half, c-f (8-b for the high half). */
static int surrogate_at(const char *line, size_t len, size_t i, int low) {
  if (i + 6 > len || line[i] != '\\' || line[i + 1] != 'u' || (line[i + 2] | 0x20) != 'd' ||
      !hex_digit(line[i + 4]) || !hex_digit(line[i + 5]))
    return 0;
  char c = (char)(line[i + 3] | 0x20);
  return low ? (c >= 'c' && c <= 'f') : ((c >= '8' && c <= '9') || (c >= 'a' && c <= 'b'));
}

static void expect_lone_surrogate(struct es_decoder *fast, struct es_decoder *slow,
                                  const char *line, size_t len, size_t at) {
  struct es_event ev;
  struct es_proto_error err;
  char where[48];

  compare_paths(fast, slow, line, len);
  if (es_proto_decode(slow, line, len, &ev, &err) == 0 || strcmp(err.code, "invalid_utf8") != 0)
    abort();
  snprintf(where, sizeof(where), "at byte %zu", at);
  if (strstr(err.message, where) == NULL)
    abort();
}

/* Every escape of a line that decoded is in a string (nothing else may
 * hold a backslash), so each "\\uXXXX" that is not the low half of a pair
 * can be swapped, in place, for a lone high half (unless a low half follows
 * it) and for a lone low half. */
static void check_lone_surrogates(struct es_decoder *fast, struct es_decoder *slow,
                                  const char *line, size_t len) {
  static char copy[FUZZ_MAX_LINE + 1];
  struct es_event ev;
  struct es_proto_error err;
  int tried = 0, after_high = 0;

  if (len > FUZZ_MAX_LINE || es_proto_decode(slow, line, len, &ev, &err) != 0)
    return;
  for (size_t i = 0; i + 1 < len && tried < 8; i++) {
    if (line[i] != '\\')
      continue;
    if (line[i + 1] != 'u') {
      i++;
      after_high = 0;
      continue;
    }
    /* The low half of a pair: changed, its high half is the lone one. */
    if (!after_high) {
      memcpy(copy, line, len);
      if (!surrogate_at(line, len, i + 6, 1)) {
        memcpy(copy + i + 2, "d800", 4);
        expect_lone_surrogate(fast, slow, copy, len, i);
      }
      memcpy(copy + i + 2, "DC00", 4);
      expect_lone_surrogate(fast, slow, copy, len, i);
    }
    after_high = surrogate_at(line, len, i, 0);
    tried++;
    i += 5;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct es_decoder *dec, *fast, *slow; /* reachable until exit: not a leak */
  const char *text = (const char *)data;
  size_t start = 0;

  if (dec == NULL && (dec = es_decoder_new(FUZZ_MAX_LINE)) == NULL)
    abort();
  if (fast == NULL && (fast = es_decoder_new(FUZZ_MAX_LINE)) == NULL)
    abort();
  if (slow == NULL) {
    if ((slow = es_decoder_new(FUZZ_MAX_LINE)) == NULL)
      abort();
    es_decoder_set_fast(slow, 0);
  }
  decode_one(dec, text, size);
  compare_paths(fast, slow, text, size);
  for (size_t i = 0; i <= size; i++) {
    if (i == size || text[i] == '\n') {
      decode_one(dec, text + start, i - start);
      compare_paths(fast, slow, text + start, i - start);
      check_lone_surrogates(fast, slow, text + start, i - start);
      start = i + 1;
    }
  }
  return 0;
}
