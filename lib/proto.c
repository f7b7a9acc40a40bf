/*
 * proto.c: the protocol line decoder. cJSON parses; this file checks every
 * field's presence and type so that the rest of the system sees only
 * well-formed events.
 */
#include "proto.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "norm.h"

struct es_decoder {
  cJSON *root;  /* the last decoded line; owns the event's strings */
  size_t max_line;
};

struct es_decoder *es_decoder_new(size_t max_line) {
  struct es_decoder *d = calloc(1, sizeof(*d));
  if (d)
    d->max_line = max_line;
  return d;
}

void es_decoder_free(struct es_decoder *d) {
  if (d == NULL)
    return;
  cJSON_Delete(d->root);
  free(d);
}

static int __attribute__((format(printf, 3, 4)))
fail(struct es_proto_error *err, const char *code, const char *fmt, ...) {
  va_list ap;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  return ES_EJSON;
}

/* Optional number field: 0 when absent or valid, -1 when mistyped. */
static int opt_number(const cJSON *obj, const char *key, double *out, int *has) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *has = 0;
  if (v == NULL || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return -1;
  *out = v->valuedouble;
  *has = 1;
  return 0;
}

/* cJSON decodes "\u0000" into a NUL that silently cuts the string short;
 * refuse it instead. A backslash counts as an escape only when preceded by
 * an even number of backslashes. */
static int has_escaped_nul(const char *line, size_t len) {
  for (size_t i = 0; i + 6 <= len; i++) {
    if (line[i] != '\\' || line[i + 1] != 'u' || memcmp(line + i + 2, "0000", 4) != 0)
      continue;
    size_t k = i, bs = 0;
    while (k > 0 && line[k - 1] == '\\') {
      k--;
      bs++;
    }
    if (bs % 2 == 0)
      return 1;
  }
  return 0;
}

static int get_call_id(const cJSON *root, struct es_event *ev, struct es_proto_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "call_id");
  if (v == NULL)
    return fail(err, "missing_field", "missing \"call_id\"");
  if (!cJSON_IsString(v))
    return fail(err, "wrong_type", "\"call_id\" must be a string");
  size_t n = strlen(v->valuestring);
  if (n == 0)
    return fail(err, "empty_field", "\"call_id\" must not be empty");
  if (n > ES_CALL_ID_MAX)
    return fail(err, "field_too_long", "\"call_id\" is longer than %d bytes", ES_CALL_ID_MAX);
  ev->call_id = v->valuestring;
  return 0;
}

int es_proto_decode(struct es_decoder *d, const char *line, size_t len, struct es_event *ev,
                    struct es_proto_error *err) {
  const cJSON *v, *type;
  const char *end = NULL;
  int has;

  memset(ev, 0, sizeof(*ev));
  err->code = NULL;
  err->message[0] = '\0';
  cJSON_Delete(d->root);
  d->root = NULL;

  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len > d->max_line)
    return fail(err, "line_too_long", "line is %zu bytes; the limit (max_line_bytes) is %zu",
                len, d->max_line);
  if (memchr(line, '\0', len))
    return fail(err, "nul_byte", "line contains a NUL byte");
  if (!es_utf8_valid(line, len))
    return fail(err, "invalid_utf8", "line is not valid UTF-8");
  {
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
      i++;
    if (i == len)
      return fail(err, "empty_line", "empty line");
  }
  if (has_escaped_nul(line, len))
    return fail(err, "nul_byte", "line contains an escaped NUL (\\u0000)");
  d->root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (d->root == NULL) {
    size_t off = end ? (size_t)(end - line) : 0;
    return fail(err, "invalid_json", "malformed JSON at byte %zu", off);
  }
  /* Anything but white space after the object is an error, not ignored. */
  for (size_t i = (size_t)(end - line); i < len; i++)
    if (line[i] != ' ' && line[i] != '\t')
      return fail(err, "invalid_json", "unexpected data after the JSON value at byte %zu", i);
  if (!cJSON_IsObject(d->root))
    return fail(err, "not_object", "a line must be a JSON object");

  type = cJSON_GetObjectItemCaseSensitive(d->root, "type");
  if (type && !cJSON_IsString(type))
    return fail(err, "wrong_type", "\"type\" must be a string");
  const char *t = type ? type->valuestring : "utterance";

  /* Any line may carry the client's line number; acks refer to it. */
  v = cJSON_GetObjectItemCaseSensitive(d->root, "seq");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 9007199254740992.0)
      return fail(err, "wrong_type", "\"seq\" must be a whole number >= 0");
    ev->seq = (int64_t)v->valuedouble;
    ev->has_seq = 1;
  }

  if (strcmp(t, "utterance") == 0) {
    ev->type = ES_EV_UTTERANCE;
    if (get_call_id(d->root, ev, err) != 0)
      return ES_EJSON;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "speaker");
    if (v == NULL)
      return fail(err, "missing_field", "missing \"speaker\" (agent or customer)");
    if (!cJSON_IsString(v))
      return fail(err, "wrong_type", "\"speaker\" must be a string (agent or customer)");
    if (es_speaker_parse(v->valuestring, &ev->speaker) != 0 || ev->speaker == ES_SPEAKER_ANY)
      return fail(err, "unknown_speaker", "unknown speaker \"%.64s\" (expected agent or customer)",
                  v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(d->root, "text");
    if (v == NULL)
      return fail(err, "missing_field", "missing \"text\"");
    if (!cJSON_IsString(v))
      return fail(err, "wrong_type", "\"text\" must be a string");
    ev->text = v->valuestring;
    ev->text_len = strlen(v->valuestring);
    /* Escapes such as \\ud83d\\ude00 decode to bytes the raw-line check never saw. */
    if (!es_utf8_valid(ev->text, ev->text_len))
      return fail(err, "invalid_utf8", "\"text\" is not valid UTF-8");
    {
      double ts;
      int has_ts;
      if (opt_number(d->root, "ts", &ts, &has_ts) != 0)
        return fail(err, "wrong_type", "\"ts\" must be a number (seconds)");
      ev->ts = ts;
      ev->has_ts = (unsigned)has_ts;
      if (opt_number(d->root, "end_ts", &ts, &has_ts) != 0)
        return fail(err, "wrong_type", "\"end_ts\" must be a number (seconds)");
      ev->end_ts = ts;
      ev->has_end_ts = (unsigned)has_ts;
    }
    v = cJSON_GetObjectItemCaseSensitive(d->root, "final");
    ev->final = 1;
    if (v && !cJSON_IsNull(v)) {
      if (!cJSON_IsBool(v))
        return fail(err, "wrong_type", "\"final\" must be true or false");
      ev->final = cJSON_IsTrue(v) ? 1u : 0u;
    }
    return 0;
  }
  if (strcmp(t, "end") == 0) {
    ev->type = ES_EV_END;
    if (get_call_id(d->root, ev, err) != 0)
      return ES_EJSON;
    if (opt_number(d->root, "ts", &ev->ts, &has) != 0)
      return fail(err, "wrong_type", "\"ts\" must be a number (seconds)");
    ev->has_ts = (unsigned)has;
    return 0;
  }
  if (strcmp(t, "start") == 0) {
    ev->type = ES_EV_START;
    if (get_call_id(d->root, ev, err) != 0)
      return ES_EJSON;
    if (opt_number(d->root, "ts", &ev->ts, &has) != 0)
      return fail(err, "wrong_type", "\"ts\" must be a number (seconds)");
    ev->has_ts = (unsigned)has;
    cJSON_ArrayForEach(v, d->root) {
      if (strcmp(v->string, "type") == 0 || strcmp(v->string, "call_id") == 0 ||
          strcmp(v->string, "ts") == 0 || strcmp(v->string, "seq") == 0)
        continue;
      if (!cJSON_IsString(v))
        return fail(err, "wrong_type", "call metadata \"%.64s\" must be a string", v->string);
      if (strcmp(v->string, "agent_id") == 0)
        ev->agent = v->valuestring;
      else if (strcmp(v->string, "queue") == 0)
        ev->queue = v->valuestring;
      else if (strcmp(v->string, "customer") == 0)
        ev->customer = v->valuestring;
      if (ev->nattrs == ES_ATTR_MAX)
        return fail(err, "too_many_fields", "more than %d metadata fields", ES_ATTR_MAX);
      ev->attr_keys[ev->nattrs] = v->string;
      ev->attr_values[ev->nattrs] = v->valuestring;
      ev->nattrs++;
    }
    return 0;
  }
  if (strcmp(t, "hello") == 0) {
    ev->type = ES_EV_HELLO;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "client");
    if (v && !cJSON_IsString(v))
      return fail(err, "wrong_type", "\"client\" must be a string");
    ev->client = v ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "token");
    if (v && !cJSON_IsString(v))
      return fail(err, "wrong_type", "\"token\" must be a string");
    ev->token = v ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "acks");
    if (v && !cJSON_IsBool(v))
      return fail(err, "wrong_type", "\"acks\" must be true or false");
    ev->acks = v && cJSON_IsTrue(v);
    return 0;
  }
  if (strcmp(t, "stats") == 0) {
    ev->type = ES_EV_STATS;
    return 0;
  }
  if (strcmp(t, "reload") == 0) {
    ev->type = ES_EV_RELOAD;
    return 0;
  }
  return fail(err, "unknown_type",
              "unknown \"type\" \"%.64s\" (expected utterance, start, end, hello, stats or reload)", t);
}
