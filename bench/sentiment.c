/*
 * sentiment.c: bench_sentiment, the cost of sentiment next to the matcher.
 *
 * Reads the data bench_gen_corpus wrote (corpus.txt, corpus.spk,
 * rules-N.json) and times on one thread, in the same run, interleaved:
 *   match             es_match_line() on every line (N rules, default 200);
 *   match+sentiment   es_match_line() then es_sentiment_score() on every
 *                     line: what a consumer of both pays per line;
 *   sentiment         es_sentiment_score() alone (flags 0: as vader-sentiment);
 *   sentiment --asr   es_sentiment_score() with ES_SENTIMENT_ASR.
 * Each figure is the best of --reps passes after a warm-up. Prints lines/s,
 * ns/line and whether match+sentiment reaches --target lines/s (2,000,000).
 *
 * usage: bench_sentiment [--data DIR] [--rules N] [--reps N] [--lines N]
 *                        [--clock wall|cpu] [--target LINES_PER_S]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "earshot.h"
#include "sentiment.h"

#define MAX_TEXT 65536

static int use_cpu_clock;

static double now_s(void) { return use_cpu_clock ? bench_cpu_s() : bench_wall_s(); }

enum mode { M_MATCH, M_BOTH, M_SENT, M_SENT_ASR, M_COUNT };
static const char *const mode_names[M_COUNT] = {"match", "match+sentiment", "sentiment",
                                                "sentiment --asr"};

struct run {
  double seconds;
  uint64_t hits, scored, errors;
  double compound_sum; /* keeps the work observable */
};

static struct run run_pass(enum mode mode, struct es_matcher *m, const struct es_sentiment *model,
                           struct es_sentiment_scratch *scr, const struct bench_corpus *c, size_t nlines)
{
  struct run r = {0};
  struct es_match_result mr;
  struct es_sentiment_result sr;
  unsigned flags = mode == M_SENT_ASR ? ES_SENTIMENT_ASR : 0;
  double t0 = now_s();
  for (size_t i = 0; i < nlines; i++) {
    size_t len;
    const char *p = bench_line(c, i, &len);
    if (mode == M_MATCH || mode == M_BOTH) {
      if (es_match_line(m, c->spk[i], p, len, 0, &mr) != 0)
        r.errors++;
      else
        r.hits += mr.nhits;
    }
    if (mode != M_MATCH) {
      if (es_sentiment_score(model, scr, p, len, flags, &sr) != 0) {
        r.errors++;
      } else {
        r.scored += sr.nscored > 0;
        r.compound_sum += sr.compound;
      }
    }
  }
  r.seconds = now_s() - t0;
  return r;
}

static void usage(void)
{
  fprintf(stderr, "usage: bench_sentiment [--data DIR] [--rules N] [--reps N] [--lines N]\n"
                  "                       [--clock wall|cpu] [--target LINES_PER_S]\n");
}

int main(int argc, char **argv)
{
  const char *dir = "bench-data";
  unsigned nrules = 200;
  int reps = 3;
  size_t max_lines = 0;
  double target = 2e6;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      usage();
      return 2;
    }
    i++;
    if (strcmp(a, "--data") == 0) dir = v;
    else if (strcmp(a, "--rules") == 0) nrules = (unsigned)strtoul(v, NULL, 10);
    else if (strcmp(a, "--reps") == 0) reps = atoi(v);
    else if (strcmp(a, "--lines") == 0) max_lines = strtoull(v, NULL, 10);
    else if (strcmp(a, "--target") == 0) target = strtod(v, NULL);
    else if (strcmp(a, "--clock") == 0 && (strcmp(v, "cpu") == 0 || strcmp(v, "wall") == 0))
      use_cpu_clock = strcmp(v, "cpu") == 0;
    else {
      usage();
      return 2;
    }
  }
  if (reps < 1)
    reps = 1;

  struct bench_corpus c;
  if (bench_corpus_load(&c, "bench_sentiment", dir, max_lines) != 0)
    return 1;

  struct es_rules *rules = bench_rules_load("bench_sentiment", dir, nrules, NULL);
  if (rules == NULL)
    return 1;
  struct es_matcher *m = es_matcher_new(rules);
  struct es_sentiment *model = NULL;
  double tm = now_s();
  int rc = es_sentiment_new(NULL, 0, NULL, NULL, &model);
  tm = now_s() - tm;
  struct es_sentiment_scratch *scr = es_sentiment_scratch_new(MAX_TEXT);
  if (!m || rc != 0 || !scr) {
    fprintf(stderr, "bench_sentiment: cannot build the matcher or the sentiment model\n");
    return 1;
  }

  printf("corpus: %s/corpus.txt, %zu lines, %.1f bytes/line; %u rules; lexicon %zu keys "
         "(model built in %.1f ms)\n", dir, c.nlines,
         (double)c.bytes / (double)(c.nlines ? c.nlines : 1), es_rules_count(rules),
         es_sentiment_keys(model), tm * 1e3);
  printf("single thread, best of %d interleaved passes after a warm-up; clock: %s\n", reps,
         use_cpu_clock ? "thread CPU time" : "wall time");
  bench_print_machine();

  size_t warm = c.nlines < 100000 ? c.nlines : 100000;
  for (int md = 0; md < M_COUNT; md++)
    run_pass((enum mode)md, m, model, scr, &c, warm);
  struct run best[M_COUNT];
  for (int r = 0; r < reps; r++) {
    for (int md = 0; md < M_COUNT; md++) {
      struct run x = run_pass((enum mode)md, m, model, scr, &c, c.nlines);
      if (r == 0 || x.seconds < best[md].seconds)
        best[md] = x;
    }
  }

  printf("\n| pass | lines/s | ns/line | lines with a scored word | errors |\n"
         "|---|---:|---:|---:|---:|\n");
  int failed = 0;
  for (int md = 0; md < M_COUNT; md++) {
    double rate = (double)c.nlines / best[md].seconds;
    char scored[64] = "-";
    if (md != M_MATCH)
      snprintf(scored, sizeof scored, "%.1f%%",
               100.0 * (double)best[md].scored / (double)c.nlines);
    printf("| %s | %.2f M | %.0f | %s | %llu |\n", mode_names[md], rate / 1e6,
           best[md].seconds * 1e9 / (double)c.nlines, scored,
           (unsigned long long)best[md].errors);
    failed |= best[md].errors != 0;
  }
  double both = (double)c.nlines / best[M_BOTH].seconds;
  printf("\nsentiment adds %.0f ns/line to the matcher's %.0f ns/line\n",
         (best[M_BOTH].seconds - best[M_MATCH].seconds) * 1e9 / (double)c.nlines,
         best[M_MATCH].seconds * 1e9 / (double)c.nlines);
  printf("target: match+sentiment >= %.2f M lines/s with %u rules: %s (%.2f M)\n", target / 1e6,
         nrules, both >= target ? "met" : "NOT met", both / 1e6);
  if (best[M_BOTH].compound_sum != best[M_SENT].compound_sum) {
    printf("!!!! sentiment scores differ between passes !!!!\n");
    failed = 1;
  }

  es_sentiment_scratch_free(scr);
  es_sentiment_free(model);
  es_matcher_free(m);
  es_rules_free(rules);
  bench_corpus_free(&c);
  return failed;
}
