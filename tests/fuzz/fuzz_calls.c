/*
 * fuzz_calls.c: the call logic (engine.h) driven by arbitrary protocol
 * lines, as `earshot replay` runs it: decode, match, engine, with idle
 * checks and call ends mixed in. The rule set has a line rule, call rules
 * with count, after and not_followed_by, backup, and every kind of signal
 * rule. Invariants: heat finite and never negative, spans inside the line,
 * every reason valid JSON, summaries consistent; anything else aborts.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calls.h"
#include "engine.h"
#include "match.h"
#include "proto.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define R(id, cat, spk, score, body)                                                        \
  "{\"id\": \"" id "\", \"description\": \"d\", \"category\": \"" cat "\", \"severity\": "  \
  "\"medium\", \"speaker\": \"" spk "\", \"score\": " #score ", \"tip\": \"t\", " body "}"

static const char rules_text[] =
    "{\"settings\": {\"half_life\": 30, \"backup_threshold\": 6, \"rearm_threshold\": 2,"
    " \"sentiment_mode\": \"asr\"}, \"rules\": [\n"
    R("f.manager", "manager_request", "customer", 4, "\"phrases\": [\"manager\"], "
      "\"examples\": {\"match\": [\"manager\"]}") ",\n"
    R("f.policy", "banned_phrase", "agent", 3, "\"phrases\": [\"policy\"], \"cooldown\": 5, "
      "\"examples\": {\"match\": [\"policy\"]}") ",\n"
    R("f.sorry", "deescalation", "agent", -3, "\"phrases\": [\"sorry\"], "
      "\"examples\": {\"match\": [\"sorry\"]}") ",\n"
    R("f.twice", "manager_request", "customer", 1, "\"when\": {\"rule\": \"f.manager\"}, "
      "\"count\": 2, \"within\": 60, \"backup\": true, \"examples\": {\"match\": "
      "[[\"customer: manager\", \"customer: manager\"]]}") ",\n"
    R("f.after", "banned_phrase", "agent", 1, "\"when\": {\"category\": \"banned_phrase\"}, "
      "\"after\": {\"category\": \"manager_request\", \"within\": 30, \"turns\": 3}, "
      "\"max_per_call\": 2, \"examples\": {\"match\": [[\"customer: manager\", \"agent: policy\"]]}") ",\n"
    R("f.missed", "missed_deescalation", "agent", 2, "\"when\": {\"rule\": \"f.manager\"}, "
      "\"not_followed_by\": {\"category\": \"deescalation\", \"within\": 20, \"turns\": 2}, "
      "\"examples\": {\"match\": [[\"customer: manager\", \"agent: ok\", \"agent: ok\"]]}") ",\n"
    R("f.neg", "sentiment", "customer", 1, "\"signal\": {\"type\": \"sentiment\", \"below\": -0.3}, "
      "\"examples\": {\"match\": [[\"customer: this is terrible and awful\"]]}") ",\n"
    R("f.trend", "sentiment", "customer", 1, "\"signal\": {\"type\": \"sentiment_trend\", \"turns\": 2, "
      "\"drop\": 0.3}, \"examples\": {\"match\": [[\"customer: great\", \"customer: ok\", "
      "\"customer: terrible awful\"]]}") ",\n"
    R("f.over", "interruption", "customer", 1, "\"signal\": {\"type\": \"overtalk\"}, "
      "\"examples\": {\"match\": [[\"~5 agent: a\", \"+1 customer: b\"]]}") ",\n"
    R("f.quiet", "dead_air", "any", 1, "\"signal\": {\"type\": \"dead_air\", \"seconds\": 10}, "
      "\"examples\": {\"match\": [[\"customer: a\", \"+20 agent: b\"]]}") ",\n"
    R("f.rapid", "exasperation", "customer", 1, "\"signal\": {\"type\": \"rapid_fire\", \"turns\": 3, "
      "\"within\": 10}, \"examples\": {\"match\": [[\"customer: a\", \"+1 customer: b\", \"+1 customer: c\"]]}") ",\n"
    R("f.mono", "exasperation", "agent", 1, "\"signal\": {\"type\": \"monologue\", \"seconds\": 8}, "
      "\"examples\": {\"match\": [[\"~5 agent: a\", \"+5 ~5 agent: b\"]]}") "\n"
    "]}\n";

static struct es_rules *rules;
static struct es_matcher *matcher;
static struct es_engine *engine;
static struct es_decoder *dec;

static void check_out(const struct es_call_out *o, size_t line_len, int has_line) {
  for (size_t i = 0; i < o->n; i++) {
    const struct es_fire *f = &o->fires[i];
    if (!isfinite(f->heat) || f->heat < 0 || f->rule == NULL)
      abort();
    if (f->on_line && (!has_line || f->match_start > f->match_end || f->match_end > line_len))
      abort();
    if (f->reason) {
      cJSON *j = cJSON_Parse(f->reason);
      if (j == NULL || !cJSON_IsObject(j))
        abort();
      cJSON_Delete(j);
    }
  }
}

static void end_call(void *ud, struct es_call *c) {
  struct es_call_out o;
  struct es_call_summary sum;
  (void)ud;
  if (es_engine_end(engine, &c->state, NAN, &o, &sum) != 0)
    abort();
  check_out(&o, 0, 0);
  if (!(sum.peak_heat >= sum.final_heat - 1e-9) || sum.final_heat < 0)
    abort();
  cJSON *j = cJSON_Parse(sum.hits_by_category);
  if (j == NULL)
    abort();
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (rules == NULL) {
    struct es_rules_source src = {"fuzz.json", rules_text, sizeof(rules_text) - 1};
    if (es_rules_load_sources(&src, 1, NULL, &rules, NULL) != 0)
      abort();
    matcher = es_matcher_new(rules);
    engine = es_engine_new(rules);
    dec = es_decoder_new(4096);
    if (!matcher || !engine || !dec)
      abort();
  }
  struct es_calls *calls = es_calls_new(64);
  const char *p = (const char *)data, *end = p + size;
  double clock = 0;

  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    struct es_event ev;
    struct es_proto_error err;
    if (len > 0 && len <= 4096 && es_proto_decode(dec, p, len, &ev, &err) == 0) {
      struct es_call *c = NULL;
      int created;
      if (ev.type == ES_EV_START) {
        /* The call's metadata as the store gets it: a JSON object of every
         * field, agent and queue among them. */
        if (es_calls_open(calls, ev.call_id, 0, &c, &created) == 0) {
          if (es_call_set_meta(c, &ev) != 0)
            abort();
          cJSON *attrs = cJSON_Parse(c->attrs_json);
          if (!cJSON_IsObject(attrs) || (size_t)cJSON_GetArraySize(attrs) != ev.nattrs ||
              (ev.agent != NULL) != (c->agent != NULL) || (ev.queue != NULL) != (c->queue != NULL))
            abort();
          cJSON_Delete(attrs);
        }
      } else if (ev.type == ES_EV_END) {
        if ((c = es_calls_find(calls, ev.call_id)) != NULL) {
          end_call(NULL, c);
          es_calls_remove(calls, c);
        }
      } else if (ev.type == ES_EV_UTTERANCE && ev.final &&
                 es_calls_open(calls, ev.call_id, 0, &c, &created) == 0) {
        struct es_match_result res;
        struct es_call_out o;
        if (es_match_line(matcher, ev.speaker, ev.text, ev.text_len, ES_MATCH_VALID_UTF8, &res) == 0) {
          struct es_line ln = {es_call_line_time(c, &ev, NAN), ev.has_end_ts ? ev.end_ts : NAN, ev.speaker, ev.text,
                               ev.text_len, &res};
          if (es_engine_line(engine, &c->state, &ln, &o) != 0)
            abort();
          check_out(&o, ev.text_len, 1);
          /* now and then, time passes with nobody speaking */
          clock += 1;
          if (((unsigned char)p[0] & 3) == 0) {
            if (es_engine_idle(engine, &c->state, c->call_t + clock, &o) != 0)
              abort();
            check_out(&o, 0, 0);
          }
        }
      }
    }
    p += len + (nl != NULL);
  }
  es_calls_foreach(calls, end_call, NULL);
  es_calls_free(calls);
  return 0;
}
