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

#include "earshot.h"
#include "sentiment.h"

#define MAX_FILE_BYTES ((size_t)4 << 30)
#define MAX_TEXT 65536

static int use_cpu_clock;

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(use_cpu_clock ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *slurp(const char *path, size_t *len_out)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  if (!f)
    goto fail;
  if (fseek(f, 0, SEEK_END) != 0)
    goto fail;
  long sz = ftell(f);
  if (sz < 0 || (size_t)sz > MAX_FILE_BYTES || fseek(f, 0, SEEK_SET) != 0)
    goto fail;
  buf = malloc((size_t)sz + 1);
  if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz)
    goto fail;
  buf[sz] = '\0';
  fclose(f);
  *len_out = (size_t)sz;
  return buf;
fail:
  fprintf(stderr, "bench_sentiment: cannot read %s: %s\n", path,
          errno ? strerror(errno) : "error");
  free(buf);
  if (f)
    fclose(f);
  return NULL;
}

struct corpus {
  char *text;
  size_t bytes;
  uint32_t *off;  /* nlines + 1 offsets */
  enum es_speaker *spk;
  size_t nlines;
};

static int corpus_load(struct corpus *c, const char *dir, size_t max_lines)
{
  char path[4096];
  size_t spk_len = 0;
  char *spk = NULL;
  memset(c, 0, sizeof *c);
  snprintf(path, sizeof path, "%s/corpus.txt", dir);
  c->text = slurp(path, &c->bytes);
  if (!c->text || c->bytes >= UINT32_MAX)
    goto fail;
  snprintf(path, sizeof path, "%s/corpus.spk", dir);
  spk = slurp(path, &spk_len);
  if (!spk)
    goto fail;
  size_t n = 0;
  for (size_t i = 0; i < c->bytes; i++)
    n += c->text[i] == '\n';
  if (max_lines && n > max_lines)
    n = max_lines;
  if (spk_len < n)
    goto fail;
  c->off = malloc((n + 1) * sizeof *c->off);
  c->spk = malloc((n + 1) * sizeof *c->spk);
  if (!c->off || !c->spk)
    goto fail;
  size_t line = 0;
  c->off[0] = 0;
  for (size_t i = 0; i < c->bytes && line < n; i++) {
    if (c->text[i] == '\n') {
      c->text[i] = '\0';
      c->spk[line] = spk[line] == 'a' ? ES_SPEAKER_AGENT : ES_SPEAKER_CUSTOMER;
      c->off[++line] = (uint32_t)(i + 1);
    }
  }
  c->nlines = line;
  c->bytes = c->off[line];
  free(spk);
  return 0;
fail:
  fprintf(stderr, "bench_sentiment: cannot load the corpus in %s (run bench/sentiment.sh)\n", dir);
  free(spk);
  free(c->text);
  free(c->off);
  free(c->spk);
  memset(c, 0, sizeof *c);
  return -1;
}

static inline const char *line_ptr(const struct corpus *c, size_t i, size_t *len)
{
  *len = c->off[i + 1] - c->off[i] - 1;
  return c->text + c->off[i];
}

/* What the figures depend on: CPU, and whether something else was running. */
static void print_machine(void)
{
  char line[512], model[256] = "?";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "model name", 10) == 0) {
        const char *colon = strchr(line, ':');
        snprintf(model, sizeof model, "%.200s", colon ? colon + 2 : line);
        model[strcspn(model, "\n")] = '\0';
        break;
      }
    fclose(f);
  }
  double load = -1;
  f = fopen("/proc/loadavg", "r");
  if (f) {
    if (fscanf(f, "%lf", &load) != 1)
      load = -1;
    fclose(f);
  }
  printf("machine: %s, %ld CPUs online, load average %.2f at start%s\n", model,
         sysconf(_SC_NPROCESSORS_ONLN), load,
         load > 0.5 ? " (other work is running: figures will be low and noisy)" : "");
}

enum mode { M_MATCH, M_BOTH, M_SENT, M_SENT_ASR, M_COUNT };
static const char *const mode_names[M_COUNT] = {"match", "match+sentiment", "sentiment",
                                                "sentiment --asr"};

struct run {
  double seconds;
  uint64_t hits, scored, errors;
  double compound_sum; /* keeps the work observable */
};

static struct run run_pass(enum mode mode, struct es_matcher *m, const struct es_sentiment *model,
                           struct es_sentiment_scratch *scr, const struct corpus *c, size_t nlines)
{
  struct run r = {0};
  struct es_match_result mr;
  struct es_sentiment_result sr;
  unsigned flags = mode == M_SENT_ASR ? ES_SENTIMENT_ASR : 0;
  double t0 = now_s();
  for (size_t i = 0; i < nlines; i++) {
    size_t len;
    const char *p = line_ptr(c, i, &len);
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

  struct corpus c;
  if (corpus_load(&c, dir, max_lines) != 0)
    return 1;

  char path[4096];
  snprintf(path, sizeof path, "%s/rules-%u.json", dir, nrules);
  size_t rlen;
  char *rtext = slurp(path, &rlen);
  if (!rtext)
    return 1;
  struct es_rules_source src = {path, rtext, rlen};
  struct es_rules_opts opts;
  es_rules_opts_init(&opts);
  struct es_diags diags;
  es_diags_init(&diags);
  struct es_rules *rules = NULL;
  int rc = es_rules_load_sources(&src, 1, &opts, &rules, &diags);
  es_diags_deinit(&diags);
  if (rc != 0) {
    fprintf(stderr, "bench_sentiment: %s: %s\n", path, es_strerror(rc));
    return 1;
  }
  struct es_matcher *m = es_matcher_new(rules);
  struct es_sentiment *model = NULL;
  double tm = now_s();
  rc = es_sentiment_new(NULL, 0, NULL, NULL, &model);
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
  print_machine();

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
  free(rtext);
  free(c.text);
  free(c.off);
  free(c.spk);
  return failed;
}
