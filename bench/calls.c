/*
 * calls.c: memory per open call and the cost of the call logic.
 *
 * Opens N calls (default 100,000) in an es_calls table, as earshotd does,
 * and streams each a short transcript through the matcher and the call
 * engine with the bundled rules, leaving every call open. A share of the
 * calls are calm (no hit: no call state at all), the rest warm (a few
 * hits) or hot (many hits, call rules, a backup). Prints the heap the
 * table and the call states hold (glibc mallinfo2, so allocator overhead
 * is counted), es_callstate_bytes() per kind of call, and lines per second
 * of match + call logic (the call logic: finding the line's call by its
 * call_id, es_calls_find() as earshotd does for every line, and
 * es_engine_line()).
 *
 * usage: bench_calls [--calls N] [--rules PATH]   (bench/calls.sh builds and runs it)
 */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calls.h"
#include "engine.h"
#include "match.h"
#include "rules.h"

struct line {
  enum es_speaker sp;
  const char *text;
};

static const struct line calm[] = {
  {ES_SPEAKER_AGENT, "thank you for calling, how can I help you today"},
  {ES_SPEAKER_CUSTOMER, "hi I'd like to check when my next bill is due"},
  {ES_SPEAKER_AGENT, "sure, can I have the account number please"},
  {ES_SPEAKER_CUSTOMER, "it's 4 4 1 7 0 2 9"},
  {ES_SPEAKER_AGENT, "your next bill is due on the fifth"},
  {ES_SPEAKER_CUSTOMER, "great that's all I needed"},
};

static const struct line warm[] = {
  {ES_SPEAKER_AGENT, "thank you for calling, how can I help you today"},
  {ES_SPEAKER_CUSTOMER, "this is the third time I've called about the same charge"},
  {ES_SPEAKER_AGENT, "I'm so sorry you've had to call again, let me look into that"},
  {ES_SPEAKER_CUSTOMER, "ok thanks"},
  {ES_SPEAKER_AGENT, "here's what I can do, I'll credit it today"},
  {ES_SPEAKER_CUSTOMER, "thank you"},
};

static const struct line hot[] = {
  {ES_SPEAKER_CUSTOMER, "this is ridiculous, the third time I've called"},
  {ES_SPEAKER_AGENT, "well the system shows it was ordered online"},
  {ES_SPEAKER_CUSTOMER, "are you kidding me, this is unacceptable"},
  {ES_SPEAKER_AGENT, "you need to calm down, that's our policy"},
  {ES_SPEAKER_CUSTOMER, "I want to speak to your manager"},
  {ES_SPEAKER_AGENT, "my supervisor will tell you the same thing"},
  {ES_SPEAKER_CUSTOMER, "get me a supervisor, I'm talking to my lawyer"},
  {ES_SPEAKER_AGENT, "there's nothing I can do"},
  {ES_SPEAKER_CUSTOMER, "I'm sick and tired of this, I'm cancelling my account"},
  {ES_SPEAKER_CUSTOMER, "I'll post about this on twitter"},
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  size_t ncalls = 100000;
  const char *rules_path = ES_BUNDLED_RULES;
  struct es_rules *rules = NULL;
  struct es_diags d;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--calls") == 0 && i + 1 < argc)
      ncalls = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc)
      rules_path = argv[++i];
    else {
      fprintf(stderr, "usage: bench_calls [--calls N] [--rules PATH]\n");
      return 2;
    }
  }
  es_diags_init(&d);
  if (es_rules_load(&rules_path, 1, NULL, &rules, &d) != 0) {
    for (size_t i = 0; i < d.count; i++)
      fprintf(stderr, "%s:%d: %s\n", d.items[i].file, d.items[i].line, d.items[i].message);
    return 1;
  }
  es_diags_deinit(&d);

  struct es_matcher *m = es_matcher_new(rules);
  struct es_engine *e = es_engine_new(rules);
  struct mallinfo2 before = mallinfo2();
  struct es_calls *t = es_calls_new(ncalls);
  size_t state_bytes[3] = {0}, count[3] = {0}, backups = 0, lines = 0;
  double t0 = now_s(), match_s = 0;

  if (m == NULL || e == NULL || t == NULL)
    return 1;
  for (size_t i = 0; i < ncalls; i++) {
    char id[32];
    struct es_call *call;
    int created;
    /* 70% calm, 20% warm, 10% hot: most calls never heat up. */
    int kind = i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2;
    const struct line *script = kind == 0 ? calm : kind == 1 ? warm : hot;
    size_t n = kind == 0 ? sizeof(calm) / sizeof(calm[0])
             : kind == 1 ? sizeof(warm) / sizeof(warm[0])
                         : sizeof(hot) / sizeof(hot[0]);
    snprintf(id, sizeof(id), "call-%zu", i);
    if (es_calls_open(t, id, 0, &call, &created) != 0) {
      fprintf(stderr, "bench_calls: cannot open call %zu\n", i);
      return 1;
    }
    for (size_t k = 0; k < n; k++) {
      struct es_match_result res;
      struct es_call_out out;
      if ((call = es_calls_find(t, id)) == NULL)
        return 1;
      double m0 = now_s();
      es_match_line(m, script[k].sp, script[k].text, strlen(script[k].text), 0, &res);
      match_s += now_s() - m0;
      struct es_line ln = {.t = (double)k * 6.0, .end_t = NAN, .speaker = script[k].sp,
                           .text = script[k].text, .len = strlen(script[k].text), .res = &res};
      es_engine_line(e, &call->state, &ln, &out);
      for (size_t f = 0; f < out.n; f++)
        backups += out.fires[f].kind == ES_FIRE_BACKUP;
      lines++;
    }
    state_bytes[kind] += es_callstate_bytes(call->state);
    count[kind]++;
  }
  double total_s = now_s() - t0;
  struct mallinfo2 after = mallinfo2();
  size_t heap = after.uordblks - before.uordblks;

  printf("calls: %zu open (%zu calm, %zu warm, %zu hot), %zu lines, %zu backups\n", ncalls,
         count[0], count[1], count[2], lines, backups);
  printf("heap held by the call table and call states: %.1f MiB, %.0f bytes per call\n",
         (double)heap / (1024.0 * 1024.0), (double)heap / (double)ncalls);
  printf("es_callstate_bytes per call: calm %.0f, warm %.0f, hot %.0f (struct es_call: %zu)\n",
         count[0] ? (double)state_bytes[0] / (double)count[0] : 0,
         count[1] ? (double)state_bytes[1] / (double)count[1] : 0,
         count[2] ? (double)state_bytes[2] / (double)count[2] : 0, sizeof(struct es_call));
  printf("match + call logic: %.0f lines/s (call logic alone: %.0f lines/s)\n",
         (double)lines / total_s, (double)lines / (total_s - match_s));

  es_calls_free(t);
  es_engine_free(e);
  es_matcher_free(m);
  es_rules_free(rules);
  return 0;
}
