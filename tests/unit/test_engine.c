/*
 * test_engine.c: the call logic (lib/engine.h) with explicit call times:
 * heat and its decay, the escalation multiplier, backup and its
 * hysteresis, immediate backup, counts and windows, "after",
 * "not_followed_by" by time, by turns and at call end, cooldown and
 * max_per_call, summaries, reload rebinding, memory per call, and the
 * loader's checks of the new fields.
 */
#include <math.h>

#include "engine.h"
#include "error.h"
#include "match.h"
#include "rules.h"
#include "task.h"
#include "../words_cut.h"

#define LINE_RULE(id, cat, spk, score, phrase, extra)                                      \
  "{\"id\": \"" id "\", \"description\": \"d\", \"category\": \"" cat "\", "               \
  "\"severity\": \"low\", \"speaker\": \"" spk "\", \"score\": " #score ", \"tip\": \"t\", " \
  "\"negation\": false, \"phrases\": [\"" phrase "\"], " extra                              \
  "\"examples\": {\"match\": [\"" phrase "\"]}}"

/* Line rules: manager (customer +5), angry (customer +2), policy (agent
 * +3), sorry (agent -3), threat (customer +1, backup at once). */
static const char base_rules[] =
    "{\"settings\": {\"half_life\": 60, \"backup_threshold\": 10, \"rearm_threshold\": 5,"
    " \"escalation_window\": 30, \"escalation_multiplier\": 2},\n"
    " \"rules\": [\n" LINE_RULE("t.manager", "manager_request", "customer", 5, "manager", "") ",\n"
    LINE_RULE("t.angry", "exasperation", "customer", 2, "ridiculous", "") ",\n"
    LINE_RULE("t.policy", "banned_phrase", "agent", 3, "our policy", "") ",\n"
    LINE_RULE("t.sorry", "deescalation", "agent", -3, "so sorry", "") ",\n"
    LINE_RULE("t.threat", "abuse", "customer", 1, "hurt you", "\"backup\": true,") ",\n"
    LINE_RULE("t.noisy", "exasperation", "customer", 0, "whatever",
              "\"cooldown\": 30, \"max_per_call\": 2,") "\n"
    " ]}\n";

struct env {
  struct es_rules *rules;
  struct es_matcher *m;
  struct es_engine *e;
  struct es_callstate *cs;
  struct es_call_out out;
};

static void env_open(struct env *v, const char *text) {
  struct es_rules_source src = {"t.json", text, strlen(text)};
  struct es_diags d;
  es_diags_init(&d);
  memset(v, 0, sizeof(*v));
  int rc = es_rules_load_sources(&src, 1, NULL, &v->rules, &d);
  for (size_t i = 0; i < d.count; i++)
    fprintf(stderr, "  diag: %s\n", d.items[i].message);
  ASSERT_EQ(rc, 0);
  es_diags_deinit(&d);
  v->m = es_matcher_new(v->rules);
  v->e = es_engine_new(v->rules);
  ASSERT(v->m && v->e);
}

static void env_close(struct env *v) {
  es_callstate_free(v->cs);
  es_engine_free(v->e);
  es_matcher_free(v->m);
  es_rules_free(v->rules);
}

/* Feeds one line; returns the number of fires. */
static size_t say(struct env *v, double t, enum es_speaker sp, const char *text) {
  struct es_match_result res;
  ASSERT_EQ(es_match_line(v->m, sp, text, strlen(text), 0, &res), 0);
  struct es_line ln = {.t = t, .end_t = NAN, .speaker = sp, .text = text, .len = strlen(text),
                       .res = &res};
  ASSERT_EQ(es_engine_line(v->e, &v->cs, &ln, &v->out), 0);
  return v->out.n;
}

/* The fire of rule `id` in the last output, or NULL. */
static const struct es_fire *fired(const struct env *v, const char *id) {
  for (size_t i = 0; i < v->out.n; i++)
    if (strcmp(v->out.fires[i].rule->id, id) == 0)
      return &v->out.fires[i];
  return NULL;
}

static int near(double a, double b) { return fabs(a - b) < 1e-6; }

#define C ES_SPEAKER_CUSTOMER
#define A ES_SPEAKER_AGENT

static void test_calm_call_costs_nothing(void) {
  struct env v;
  struct es_call_summary sum;
  env_open(&v, base_rules);
  ASSERT_EQ(say(&v, 1, C, "hello there"), 0);
  ASSERT_EQ(say(&v, 2, A, "how can I help"), 0);
  ASSERT(v.cs == NULL);
  ASSERT_EQ(es_callstate_bytes(v.cs), 0);
  ASSERT_EQ(es_engine_end(v.e, &v.cs, 3, &v.out, &sum), 0);
  ASSERT_EQ(v.out.n, 0);
  ASSERT(near(sum.peak_heat, 0) && near(sum.final_heat, 0));
  ASSERT_EQ(sum.backup_raised, 0);
  ASSERT_EQ(sum.deescalated, 0);
  ASSERT_STR_EQ(sum.hits_by_category, "{}");
  env_close(&v);
}

static void test_heat_decays_by_half_life(void) {
  struct env v;
  const struct es_fire *f;
  env_open(&v, base_rules);
  ASSERT_EQ(say(&v, 0, C, "get me a manager"), 1);
  f = fired(&v, "t.manager");
  ASSERT(f && f->kind == ES_FIRE_LINE && f->suppressed == ES_SENT);
  ASSERT(near(f->heat, 5) && near(f->delta, 5));
  ASSERT(f->on_line && f->match_start == 9 && f->match_end == 16);
  ASSERT(f->reason == NULL);
  /* One half-life later: 2.5 + 2. */
  ASSERT_EQ(say(&v, 60, C, "this is ridiculous"), 1);
  ASSERT(near(fired(&v, "t.angry")->heat, 4.5));
  /* Two more half-lives: 4.5 / 4 = 1.125. */
  ASSERT_EQ(say(&v, 180, A, "let me look"), 0);
  ASSERT(near(es_callstate_heat(v.cs), 1.125));
  /* A time going backwards is taken as the latest: no decay, no growth. */
  ASSERT_EQ(say(&v, 100, A, "one moment"), 0);
  ASSERT(near(es_callstate_heat(v.cs), 1.125));
  /* De-escalation cools, never below zero. */
  ASSERT_EQ(say(&v, 180, A, "I'm so sorry"), 1);
  ASSERT(near(fired(&v, "t.sorry")->heat, 0));
  env_close(&v);
}

static void test_escalation_multiplier(void) {
  struct env v;
  const struct es_fire *f;
  env_open(&v, base_rules);
  /* A banned phrase in a calm call: its score. */
  say(&v, 0, A, "that is our policy");
  ASSERT(near(fired(&v, "t.policy")->delta, 3));
  ASSERT(fired(&v, "t.policy")->reason == NULL);
  /* Within 30 s of a customer escalation: double, and the reason says so. */
  say(&v, 100, C, "this is ridiculous");
  say(&v, 120, A, "that is our policy");
  f = fired(&v, "t.policy");
  ASSERT(f && near(f->delta, 6));
  ASSERT(f->reason && strstr(f->reason, "\"escalation_multiplier\":2"));
  /* Outside the window: plain again. */
  say(&v, 151, A, "that is our policy");
  ASSERT(near(fired(&v, "t.policy")->delta, 3));
  env_close(&v);
}

static void test_backup_once_with_hysteresis(void) {
  struct env v;
  const struct es_fire *b;
  struct es_call_summary sum;
  env_open(&v, base_rules);
  say(&v, 0, C, "get me a manager");
  ASSERT(fired(&v, "call.backup") == NULL);
  say(&v, 0, C, "a manager now");
  b = fired(&v, "call.backup");
  ASSERT(b != NULL);
  ASSERT_EQ(b->kind, ES_FIRE_BACKUP);
  ASSERT_EQ(b->rule->severity, ES_SEV_CRITICAL);
  ASSERT_STR_EQ(b->rule->category, "backup");
  ASSERT(b->heat >= 10);
  /* The reason lists the hits that drove it, with words, speaker, time. */
  ASSERT(strstr(b->reason, "\"trigger\":\"heat\""));
  ASSERT(strstr(b->reason, "\"words\":\"manager\""));
  ASSERT(strstr(b->reason, "\"speaker\":\"customer\""));
  ASSERT(strstr(b->reason, "\"summary\":\"heat 10.0 reached 10.0"));
  /* Still hot: no second backup. */
  say(&v, 2, C, "manager manager");
  ASSERT(fired(&v, "call.backup") == NULL);
  /* Cools below 5 (rearm) and heats again: a second backup is allowed. */
  say(&v, 200, A, "let me check");
  ASSERT(es_callstate_heat(v.cs) < 5);
  say(&v, 201, C, "get me a manager");
  say(&v, 201, C, "a manager now");
  ASSERT(fired(&v, "call.backup") != NULL);
  ASSERT_EQ(es_engine_end(v.e, &v.cs, 210, &v.out, &sum), 0);
  ASSERT_EQ(sum.backup_raised, 1);
  ASSERT_EQ(sum.hits, 5);
  ASSERT_STR_EQ(sum.hits_by_category, "{\"manager_request\":5}");
  env_close(&v);
}

static void test_immediate_backup(void) {
  struct env v;
  const struct es_fire *b;
  env_open(&v, base_rules);
  say(&v, 0, C, "I will hurt you");
  b = fired(&v, "call.backup");
  ASSERT(b != NULL);
  ASSERT(b->heat < 10);
  ASSERT(strstr(b->reason, "\"trigger\":\"rule\",\"rule\":\"t.threat\""));
  env_close(&v);
}

static void test_cooldown_and_max_per_call(void) {
  struct env v;
  struct es_call_summary sum;
  env_open(&v, base_rules);
  say(&v, 0, C, "whatever");
  ASSERT_EQ(fired(&v, "t.noisy")->suppressed, ES_SENT);
  say(&v, 10, C, "whatever");
  ASSERT_EQ(fired(&v, "t.noisy")->suppressed, ES_SUPPRESSED_COOLDOWN);
  say(&v, 40, C, "whatever");
  ASSERT_EQ(fired(&v, "t.noisy")->suppressed, ES_SENT);
  say(&v, 100, C, "whatever");
  ASSERT_EQ(fired(&v, "t.noisy")->suppressed, ES_SUPPRESSED_MAX);
  ASSERT_EQ(es_engine_end(v.e, &v.cs, 100, &v.out, &sum), 0);
  ASSERT_EQ(sum.fires_sent, 2);
  ASSERT_EQ(sum.fires_suppressed, 2);
  env_close(&v);
}

static const char call_rules[] =
    "{\"rules\": [\n" LINE_RULE("t.manager", "manager_request", "customer", 5, "manager", "") ",\n"
    LINE_RULE("t.angry", "exasperation", "customer", 1, "ridiculous", "") ",\n"
    LINE_RULE("t.policy", "banned_phrase", "agent", 1, "our policy", "") ",\n"
    LINE_RULE("t.sorry", "deescalation", "agent", -1, "so sorry", "") ",\n"
    "{\"id\": \"c.streak\", \"description\": \"d\", \"category\": \"exasperation\","
    " \"severity\": \"medium\", \"speaker\": \"customer\", \"score\": 0, \"tip\": \"t\","
    " \"when\": {\"rule\": \"t.angry\"}, \"count\": 3, \"within\": 60,"
    " \"examples\": {\"match\": [[\"customer: ridiculous\", \"customer: ridiculous\","
    " \"customer: ridiculous\"]], \"no_match\": [[\"customer: ridiculous\","
    " \"+100 customer: ridiculous\", \"+100 customer: ridiculous\"]]}},\n"
    "{\"id\": \"c.after\", \"description\": \"d\", \"category\": \"banned_phrase\","
    " \"severity\": \"high\", \"speaker\": \"agent\", \"score\": 0, \"tip\": \"t\","
    " \"when\": {\"category\": \"banned_phrase\", \"speaker\": \"agent\"},"
    " \"after\": {\"category\": [\"manager_request\", \"exasperation\"], \"speaker\": \"customer\","
    " \"within\": 20},"
    " \"examples\": {\"match\": [[\"customer: manager\", \"agent: our policy\"]],"
    " \"no_match\": [[\"agent: our policy\"], [\"customer: manager\", \"+30 agent: our policy\"]]}},\n"
    "{\"id\": \"c.missed\", \"description\": \"d\", \"category\": \"missed_deescalation\","
    " \"severity\": \"medium\", \"speaker\": \"agent\", \"score\": 0, \"tip\": \"t\","
    " \"when\": {\"category\": \"manager_request\", \"speaker\": \"customer\"},"
    " \"not_followed_by\": {\"category\": \"deescalation\", \"speaker\": \"agent\","
    " \"within\": 30, \"turns\": 2},"
    " \"examples\": {\"match\": [[\"customer: manager\", \"agent: ok\", \"agent: hm\"]],"
    " \"no_match\": [[\"customer: manager\", \"agent: so sorry\"]]}}\n"
    "]}\n";

static void test_count_within(void) {
  struct env v;
  const struct es_fire *f;
  env_open(&v, call_rules);
  say(&v, 0, C, "ridiculous");
  say(&v, 10, C, "ridiculous");
  ASSERT(fired(&v, "c.streak") == NULL);
  say(&v, 20, C, "ridiculous");
  f = fired(&v, "c.streak");
  ASSERT(f != NULL && f->kind == ES_FIRE_CALL);
  ASSERT(f->on_line);
  ASSERT(strstr(f->reason, "\"count\":3,\"first\":0,\"within\":60"));
  /* The count starts afresh after firing. */
  say(&v, 25, C, "ridiculous");
  ASSERT(fired(&v, "c.streak") == NULL);
  /* Hits older than the window are forgotten: 25 is out at 90. */
  say(&v, 80, C, "ridiculous");
  say(&v, 90, C, "ridiculous");
  ASSERT(fired(&v, "c.streak") == NULL);
  say(&v, 95, C, "ridiculous");
  ASSERT(fired(&v, "c.streak") != NULL);
  env_close(&v);
}

static void test_after(void) {
  struct env v;
  const struct es_fire *f;
  env_open(&v, call_rules);
  say(&v, 0, A, "that is our policy");
  ASSERT(fired(&v, "c.after") == NULL);
  say(&v, 5, C, "this is ridiculous");
  /* The same line does not count as "after": the hit must be earlier. */
  say(&v, 10, A, "that is our policy");
  f = fired(&v, "c.after");
  ASSERT(f != NULL);
  ASSERT(strstr(f->reason, "\"after\":{\"rule\":\"t.angry\""));
  ASSERT(strstr(f->reason, "\"trigger\":{\"rule\":\"t.policy\""));
  say(&v, 40, A, "that is our policy");
  ASSERT(fired(&v, "c.after") == NULL);
  env_close(&v);
}

static void test_not_followed_by(void) {
  struct env v;
  const struct es_fire *f;
  struct es_call_summary sum;
  env_open(&v, call_rules);
  /* Answered in time: nothing. */
  say(&v, 0, C, "get me a manager");
  ASSERT(fired(&v, "c.missed") == NULL);
  say(&v, 5, A, "I'm so sorry");
  say(&v, 40, A, "ok");
  say(&v, 41, A, "ok");
  ASSERT(fired(&v, "c.missed") == NULL);
  /* By turns: two agent lines without a move. */
  say(&v, 50, C, "a manager");
  say(&v, 51, C, "now");
  say(&v, 52, A, "one moment");
  ASSERT(fired(&v, "c.missed") == NULL);
  say(&v, 53, A, "still looking");
  f = fired(&v, "c.missed");
  ASSERT(f != NULL && !f->on_line);
  ASSERT(strstr(f->reason, "\"missed\":\"turns\""));
  ASSERT(strstr(f->reason, "\"words\":\"manager\""));
  /* By time: the next line after the deadline fires it, even its own move. */
  say(&v, 60, C, "a manager");
  say(&v, 95, A, "so sorry");
  f = fired(&v, "c.missed");
  ASSERT(f != NULL && strstr(f->reason, "\"missed\":\"time\",\"waited\":35"));
  /* At call end. */
  say(&v, 100, C, "a manager");
  ASSERT_EQ(es_engine_end(v.e, &v.cs, NAN, &v.out, &sum), 0);
  f = fired(&v, "c.missed");
  ASSERT(f != NULL && strstr(f->reason, "\"missed\":\"call ended\""));
  ASSERT(strstr(sum.hits_by_category, "\"missed_deescalation\":3"));
  env_close(&v);
}

static void test_deescalated_summary(void) {
  struct env v;
  struct es_call_summary sum;
  env_open(&v, base_rules);
  say(&v, 0, C, "get me a manager");
  say(&v, 5, A, "I'm so sorry");
  ASSERT_EQ(es_engine_end(v.e, &v.cs, 10, &v.out, &sum), 0);
  ASSERT_EQ(sum.deescalated, 1);
  ASSERT(near(sum.peak_heat, 5));
  ASSERT_EQ(sum.backup_raised, 0);
  es_callstate_free(v.cs);
  v.cs = NULL;
  /* Heated and never answered: not de-escalated, however it decayed. */
  say(&v, 0, C, "get me a manager");
  ASSERT_EQ(es_engine_end(v.e, &v.cs, 600, &v.out, &sum), 0);
  ASSERT_EQ(sum.deescalated, 0);
  env_close(&v);
}

static void test_rebind_keeps_state(void) {
  struct env v, w;
  const struct es_fire *f;
  env_open(&v, call_rules);
  env_open(&w, call_rules);
  say(&v, 0, C, "ridiculous");
  say(&v, 1, C, "ridiculous");
  double heat = es_callstate_heat(v.cs);
  es_callstate_rebind(v.cs, v.rules, w.rules);
  /* Continue on the new set: the count window carried over. */
  w.cs = v.cs;
  v.cs = NULL;
  say(&w, 2, C, "ridiculous");
  f = fired(&w, "c.streak");
  ASSERT(f != NULL);
  ASSERT(near(f->heat, heat * exp2(-1.0 / 60) + 1));
  env_close(&v);
  env_close(&w);
}

static void test_bytes_bounded(void) {
  struct env v;
  env_open(&v, base_rules);
  for (int i = 0; i < 1000; i++)
    say(&v, i, C, "manager ridiculous whatever");
  size_t bytes = es_callstate_bytes(v.cs);
  ASSERT_GT(bytes, 0);
  ASSERT_LT(bytes, 8192);
  env_close(&v);
}

/* A rapid-fire signal (its words: the whole line) and a line rule whose
 * match ends inside a phone number, calling for backup. */
static const char pii_rules[] =
    "{\"rules\": [\n"
    "{\"id\": \"s.rapid\", \"description\": \"d\", \"category\": \"talk_pattern\","
    " \"severity\": \"low\", \"speaker\": \"customer\", \"score\": 1, \"tip\": \"t\","
    " \"signal\": {\"type\": \"rapid_fire\", \"turns\": 2, \"within\": 20},"
    " \"examples\": {\"match\": [[\"customer: a\", \"+1 customer: b\"]]}},\n"
    LINE_RULE("t.callme", "manager_request", "customer", 1, "call me at 555", "\"backup\": true,")
    "\n]}\n";

/* The words a call remembers of a hit go into reasons, which are masked on
 * their own later: cut at ES_WORDS_MAX bytes or where the match ends, they
 * must hold no part of a number or an address. */
static void test_words_cut_outside_numbers(void) {
  char want[128];
  for (size_t i = 0; i <= WORDS_CUT_CASES; i++) {
    struct env v;
    const struct es_fire *f;
    /* ... and after them a line with nothing in the way: 40 bytes, as before. */
    const char *line = i < WORDS_CUT_CASES ? words_cut_cases[i].line
                                           : "I have been waiting for an hour and a half on this line";
    const char *words = i < WORDS_CUT_CASES ? words_cut_cases[i].words
                                            : "I have been waiting for an hour and a ha";
    env_open(&v, pii_rules);
    say(&v, 0, C, "hello");
    say(&v, 1, C, line);
    f = fired(&v, "s.rapid");
    ASSERT(f != NULL && f->reason != NULL);
    snprintf(want, sizeof(want), "\"words\":\"%s\"", words);
    if (strstr(f->reason, want) == NULL)
      ES_FAIL_("reason %s has no %s", f->reason, want);
    env_close(&v);
  }

  /* A match that ends inside a number: the backup's reason lists the hit
   * by its words up to the number. */
  struct env v;
  const struct es_fire *f;
  env_open(&v, pii_rules);
  say(&v, 0, C, "please call me at 555 123 4567 today");
  f = fired(&v, "call.backup");
  ASSERT(f != NULL && f->reason != NULL);
  ASSERT(strstr(f->reason, "\"words\":\"call me at\"") != NULL);
  ASSERT(strstr(f->reason, "\\\"call me at\\\"") != NULL); /* the summary */
  ASSERT(strstr(f->reason, "555") == NULL);
  env_close(&v);
}

/* The loader's checks of the call fields, with positions and advice. */
static void expect_error(const char *rule_json, const char *needle) {
  char text[4096];
  struct es_rules_source src = {"e.json", text, 0};
  struct es_rules *rules = NULL;
  struct es_diags d;
  int found = 0;
  snprintf(text, sizeof(text), "[%s, %s]",
           LINE_RULE("t.manager", "manager_request", "customer", 5, "manager", ""), rule_json);
  src.len = strlen(text);
  es_diags_init(&d);
  ASSERT_EQ(es_rules_load_sources(&src, 1, NULL, &rules, &d), ES_ERULES);
  for (size_t i = 0; i < d.count; i++)
    found |= strstr(d.items[i].message, needle) != NULL;
  if (!found) {
    for (size_t i = 0; i < d.count; i++)
      fprintf(stderr, "  diag: %s\n", d.items[i].message);
    ES_FAIL_("no diagnostic says \"%s\"", needle);
  }
  es_diags_deinit(&d);
}

#define CALL_RULE(extra)                                                         \
  "{\"id\": \"c.x\", \"description\": \"d\", \"category\": \"exasperation\", "   \
  "\"severity\": \"low\", \"speaker\": \"customer\", \"score\": 1, \"tip\": \"t\", " extra "}"

static void test_loader_checks(void) {
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.nope\"}, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "names rule \"t.nope\", which is not loaded");
  expect_error(CALL_RULE("\"when\": {\"category\": \"legal_threat\"}, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "which no line or signal rule has");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"phrases\": [\"x\"], \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "a call rule (one with \"when\")");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"examples\": {\"match\": [\"manager\"]}"),
               "examples are calls");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"not_followed_by\": {\"rule\": \"t.manager\"}, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "needs \"within\"");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"within\": 10, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "\"within\" is the window for \"count\"");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"count\": 17, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "\"count\" must be a whole number from 1 to 16");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"count\": 2, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "call example should fire but does not");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"t.manager\"}, \"examples\": {\"match\": [[\"boss: manager\"]]}"),
               "unknown speaker \"boss\"");
  expect_error(CALL_RULE("\"when\": {\"rule\": \"c.x\"}, \"examples\": {\"match\": [[\"customer: manager\"]]}"),
               "a call rule: only line rules");
  expect_error(CALL_RULE("\"category\": \"backup\", \"phrases\": [\"x\"], \"examples\": {\"match\": [\"x\"]}"),
               "field \"category\" appears twice");
}

static void test_settings_checks(void) {
  const char *bad = "{\"settings\": {\"backup_threshold\": 4, \"rearm_threshold\": 5}, \"rules\": [" LINE_RULE(
      "t.m", "manager_request", "customer", 5, "manager", "") "]}";
  struct es_rules_source src = {"s.json", bad, strlen(bad)};
  struct es_rules *rules = NULL;
  struct es_diags d;
  es_diags_init(&d);
  ASSERT_EQ(es_rules_load_sources(&src, 1, NULL, &rules, &d), ES_ERULES);
  ASSERT(d.count >= 1 && strstr(d.items[0].message, "must be below"));
  es_diags_deinit(&d);

  /* Two files with settings: the second is refused, naming the first. */
  const char *s1 = "{\"settings\": {\"half_life\": 30}}";
  const char *s2 = "{\"settings\": {\"half_life\": 90}, \"rules\": [" LINE_RULE(
      "t.m", "manager_request", "customer", 5, "manager", "") "]}";
  struct es_rules_source two[2] = {{"a.json", s1, strlen(s1)}, {"b.json", s2, strlen(s2)}};
  es_diags_init(&d);
  ASSERT_EQ(es_rules_load_sources(two, 2, NULL, &rules, &d), ES_ERULES);
  ASSERT(d.count >= 1 && strstr(d.items[0].message, "a.json gave them first"));
  es_diags_deinit(&d);

  /* One settings-only file and one rule file load. */
  struct es_rules_source ok[2] = {{"a.json", s1, strlen(s1)}, {"b.json", s2 + 0, 0}};
  const char *s3 = "[" LINE_RULE("t.m", "manager_request", "customer", 5, "manager", "") "]";
  ok[1].text = s3;
  ok[1].len = strlen(s3);
  es_diags_init(&d);
  ASSERT_EQ(es_rules_load_sources(ok, 2, NULL, &rules, &d), 0);
  ASSERT(near(es_rules_call_settings(rules)->half_life, 30));
  ASSERT(near(es_rules_call_settings(rules)->backup_threshold, 10));
  ASSERT_STR_EQ(es_rules_backup_info(rules)->id, "call.backup");
  es_rules_free(rules);
  es_diags_deinit(&d);
}

static const char signal_rules[] =
    "{\"settings\": {\"sentiment_mode\": \"asr\"}, \"rules\": [\n"
    "{\"id\": \"s.neg\", \"description\": \"d\", \"category\": \"sentiment\", \"severity\": \"low\","
    " \"speaker\": \"customer\", \"score\": 1, \"tip\": \"t\", \"signal\": {\"type\": \"sentiment\","
    " \"below\": -0.5}, \"examples\": {\"match\": [[\"customer: this is terrible and awful\"]]}},\n"
    "{\"id\": \"s.quiet\", \"description\": \"d\", \"category\": \"dead_air\", \"severity\": \"low\","
    " \"speaker\": \"any\", \"score\": 1, \"tip\": \"t\", \"signal\": {\"type\": \"dead_air\","
    " \"seconds\": 10}, \"examples\": {\"match\": [[\"customer: hi\", \"+20 agent: hi\"]]}}\n"
    "]}\n";

static void test_signals(void) {
  struct env v;
  const struct es_fire *f;
  struct es_call_summary sum;
  env_open(&v, signal_rules);
  /* A calm line still gets call state: timing needs every line. */
  ASSERT_EQ(say(&v, 0, C, "hello there"), 0);
  ASSERT(v.cs != NULL);
  /* The most negative word is the span; the reason has the score. */
  say(&v, 1, C, "this is terrible and awful");
  f = fired(&v, "s.neg");
  ASSERT(f != NULL && f->on_line);
  ASSERT_EQ(f->match_start, 8);
  ASSERT_EQ(f->match_end, 16);
  ASSERT(strstr(f->reason, "\"signal\":\"sentiment\",\"compound\":-0.") != NULL);
  ASSERT(strstr(f->reason, "{\"word\":\"terrible\"") != NULL);
  /* Dead air found while idle, once; the next line does not repeat it. */
  ASSERT_EQ(es_engine_idle(v.e, &v.cs, 5, &v.out), 0);
  ASSERT_EQ(v.out.n, 0);
  ASSERT_EQ(es_engine_idle(v.e, &v.cs, 15, &v.out), 0);
  ASSERT(fired(&v, "s.quiet") != NULL);
  ASSERT(strstr(v.out.fires[0].reason, "\"signal\":\"dead_air\"") != NULL);
  ASSERT_EQ(es_engine_idle(v.e, &v.cs, 17, &v.out), 0);
  ASSERT_EQ(v.out.n, 0);
  say(&v, 20, A, "sorry, I'm back");
  ASSERT(fired(&v, "s.quiet") == NULL);
  /* Idle time does not move the call's clock: a line at 18 is not late. */
  ASSERT_EQ(es_engine_end(v.e, &v.cs, 21, &v.out, &sum), 0);
  ASSERT_EQ(sum.dead_air, 1);
  ASSERT(sum.longest_silence > 16 && sum.longest_silence < 19.5);
  ASSERT(sum.customer_sentiment < 0);
  env_close(&v);
}

int main(void) {
  test_signals();
  test_calm_call_costs_nothing();
  test_heat_decays_by_half_life();
  test_escalation_multiplier();
  test_backup_once_with_hysteresis();
  test_immediate_backup();
  test_cooldown_and_max_per_call();
  test_count_within();
  test_after();
  test_not_followed_by();
  test_deescalated_summary();
  test_rebind_keeps_state();
  test_bytes_bounded();
  test_words_cut_outside_numbers();
  test_loader_checks();
  test_settings_checks();
  puts("test_engine: all passed");
  return 0;
}
