/*
 * match.c: bench_match, the matcher throughput benchmark.
 *
 * Reads the data bench_gen_corpus wrote (corpus.txt, corpus.spk,
 * rules-N.json, pats-N.txt) and, for every rule-set size, times on one
 * thread, in the same run:
 *   earshot    es_match_line() over the whole corpus (best of --reps);
 *   naive      the same call with ES_MATCH_NAIVE (every rule's PCRE2 on
 *              every line), on a prefix of --naive-lines lines, checked
 *              hit for hit against earshot on that prefix;
 *   hyperscan  every regex of the rule set (es_rules_regex) in one
 *              block-mode database, scanning each line's normalised text
 *              (es_norm is timed as part of it), when built with hs.h;
 *   rg         `rg -c -i -F -f pats-N.txt corpus.txt` as a child process,
 *              whole-file throughput, when rg is on PATH.
 * and prints a Markdown table. See bench/README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "corpus.h"
#include "earshot.h"

#ifdef ES_HAVE_HYPERSCAN
#include <hs.h>
#endif

extern char **environ;

#define MAX_SIZES 16

/* Which clock the figures use: wall time (CLOCK_MONOTONIC, the default) or,
 * with --clock cpu, this thread's CPU time, which leaves out the time the
 * scheduler gave to other processes on a busy machine. */
static int use_cpu_clock;

static double bench_now(void) { return use_cpu_clock ? bench_cpu_s() : bench_wall_s(); }

/* ---- earshot ------------------------------------------------------- */

struct run_result {
  double seconds;   /* by the chosen clock */
  double wall;      /* CLOCK_MONOTONIC */
  double cpu;       /* CLOCK_THREAD_CPUTIME_ID */
  uint64_t hit_lines;
  uint64_t hits;
  uint64_t limited;
  uint64_t errors;
};

static struct run_result run_earshot(struct es_matcher *m, const struct bench_corpus *c, size_t nlines,
                                     unsigned flags, int use_speaker)
{
  struct run_result r = {0};
  struct es_match_result res;
  double w0 = bench_wall_s(), c0 = bench_cpu_s();
  for (size_t i = 0; i < nlines; i++) {
    size_t len;
    const char *p = bench_line(c, i, &len);
    int rc = es_match_line(m, use_speaker ? c->spk[i] : ES_SPEAKER_ANY, p, len, flags, &res);
    if (rc != 0) {
      if (r.errors++ == 0)
        fprintf(stderr, "bench_match: line %zu: %s\n", i + 1, es_strerror(rc));
      continue;
    }
    r.hit_lines += res.nhits > 0;
    r.hits += res.nhits;
    r.limited += res.nlimited;
  }
  r.wall = bench_wall_s() - w0;
  r.cpu = bench_cpu_s() - c0;
  r.seconds = use_cpu_clock ? r.cpu : r.wall;
  return r;
}

/* Per-line hits of a prefix, to compare two modes hit for hit. */
struct hit_log {
  uint32_t *start;  /* nlines + 1 indexes into hits */
  struct es_hit *hits;
  size_t nhits, cap;
};

static int log_hits(struct es_matcher *m, const struct bench_corpus *c, size_t nlines, unsigned flags,
                    struct hit_log *log)
{
  struct es_match_result res;
  memset(log, 0, sizeof *log);
  log->start = malloc((nlines + 1) * sizeof *log->start);
  if (!log->start)
    return -1;
  for (size_t i = 0; i < nlines; i++) {
    size_t len;
    const char *p = bench_line(c, i, &len);
    log->start[i] = (uint32_t)log->nhits;
    if (es_match_line(m, c->spk[i], p, len, flags, &res) != 0 || res.nhits == 0)
      continue;
    if (log->nhits + res.nhits > log->cap) {
      size_t cap = (log->cap ? log->cap * 2 : 4096) + res.nhits;
      struct es_hit *h = realloc(log->hits, cap * sizeof *h);
      if (!h)
        return -1;
      log->hits = h;
      log->cap = cap;
    }
    memcpy(log->hits + log->nhits, res.hits, res.nhits * sizeof *res.hits);
    log->nhits += res.nhits;
  }
  log->start[nlines] = (uint32_t)log->nhits;
  return 0;
}

static void hit_log_free(struct hit_log *log)
{
  free(log->start);
  free(log->hits);
}

/* Times the naive mode over the prefix and compares every line's hits with
 * `ref` (earshot's). Returns the run; *mismatches counts differing lines. */
static struct run_result run_naive(struct es_matcher *m, const struct bench_corpus *c, size_t nlines,
                                   const struct hit_log *ref, const struct es_rules *rules,
                                   uint64_t *mismatches)
{
  struct run_result r = {0};
  struct es_match_result res;
  *mismatches = 0;
  double w0 = bench_wall_s(), c0 = bench_cpu_s();
  for (size_t i = 0; i < nlines; i++) {
    size_t len;
    const char *p = bench_line(c, i, &len);
    int rc = es_match_line(m, c->spk[i], p, len, ES_MATCH_NAIVE, &res);
    if (rc != 0) {
      r.errors++;
      continue;
    }
    r.hit_lines += res.nhits > 0;
    r.hits += res.nhits;
    r.limited += res.nlimited;
    size_t nref = ref->start[i + 1] - ref->start[i];
    const struct es_hit *h = nref ? ref->hits + ref->start[i] : NULL;
    if (nref != res.nhits || (nref && memcmp(h, res.hits, nref * sizeof *h) != 0)) {
      if ((*mismatches)++ < 5) {
        fprintf(stderr, "MISMATCH line %zu (%s): \"%s\"\n  earshot:", i + 1,
                es_speaker_name(c->spk[i]), p);
        for (size_t k = 0; k < nref; k++)
          fprintf(stderr, " %s[%u,%u)", es_rules_info(rules, h[k].rule)->id, h[k].start, h[k].end);
        fprintf(stderr, "\n  naive:  ");
        for (size_t k = 0; k < res.nhits; k++)
          fprintf(stderr, " %s[%u,%u)", es_rules_info(rules, res.hits[k].rule)->id,
                  res.hits[k].start, res.hits[k].end);
        fprintf(stderr, "\n");
      }
    }
  }
  r.wall = bench_wall_s() - w0;
  r.cpu = bench_cpu_s() - c0;
  r.seconds = use_cpu_clock ? r.cpu : r.wall;
  return r;
}

/* ---- hyperscan ----------------------------------------------------- */

#ifdef ES_HAVE_HYPERSCAN
struct hs_ctx {
  uint64_t matches;
  unsigned last_line_matched;
};

static int hs_on_match(unsigned int id, unsigned long long from, unsigned long long to,
                       unsigned int flags, void *ctx)
{
  struct hs_ctx *hc = ctx;
  hc->matches++;
  hc->last_line_matched = 1;
  return 0; /* keep scanning: earshot reports every rule that hits */
}

/* Compiles the rule set's regexes into *db. Returns 0 or -1; counts the
 * expressions Hyperscan rejected. */
static int hs_build(const struct es_rules *rules, hs_database_t **db, size_t *nexpr,
                    size_t *nrejected, double *compile_s)
{
  uint32_t nrules = es_rules_count(rules);
  size_t total = 0;
  for (uint32_t i = 0; i < nrules; i++)
    total += es_rules_regex_count(rules, i);
  const char **exprs = malloc((total + 1) * sizeof *exprs);
  unsigned *flags = malloc((total + 1) * sizeof *flags);
  unsigned *ids = malloc((total + 1) * sizeof *ids);
  int rc = -1;
  *nexpr = 0;
  *nrejected = 0;
  *db = NULL;
  if (!exprs || !flags || !ids)
    goto done;
  double t0 = bench_wall_s();
  size_t n = 0;
  for (uint32_t i = 0; i < nrules; i++) {
    for (size_t k = 0; k < es_rules_regex_count(rules, i); k++) {
      const char *re = es_rules_regex(rules, i, k);
      unsigned f = HS_FLAG_CASELESS | HS_FLAG_UTF8 | HS_FLAG_SINGLEMATCH;
      hs_expr_info_t *info = NULL;
      hs_compile_error_t *err = NULL;
      if (hs_expression_info(re, f, &info, &err) != HS_SUCCESS) {
        if ((*nrejected)++ < 3)
          fprintf(stderr, "hyperscan rejects %s regex %zu: %s\n  %s\n",
                  es_rules_info(rules, i)->id, k, err ? err->message : "?", re);
        hs_free_compile_error(err);
        continue;
      }
      free(info);
      exprs[n] = re;
      flags[n] = f;
      ids[n] = i;
      n++;
    }
  }
  /* Drop, one at a time, whatever the full compile still rejects. */
  for (;;) {
    hs_compile_error_t *err = NULL;
    if (n == 0)
      break;
    if (hs_compile_multi(exprs, flags, ids, (unsigned)n, HS_MODE_BLOCK, NULL, db, &err) ==
        HS_SUCCESS)
      break;
    int bad = err ? err->expression : -1;
    if (bad < 0 || (size_t)bad >= n) {
      fprintf(stderr, "hyperscan: compile failed: %s\n", err ? err->message : "?");
      hs_free_compile_error(err);
      goto done;
    }
    if ((*nrejected)++ < 3)
      fprintf(stderr, "hyperscan rejects %s: %s\n  %s\n", es_rules_info(rules, ids[bad])->id,
              err->message, exprs[bad]);
    hs_free_compile_error(err);
    memmove(exprs + bad, exprs + bad + 1, (n - (size_t)bad - 1) * sizeof *exprs);
    memmove(flags + bad, flags + bad + 1, (n - (size_t)bad - 1) * sizeof *flags);
    memmove(ids + bad, ids + bad + 1, (n - (size_t)bad - 1) * sizeof *ids);
    n--;
  }
  *compile_s = bench_wall_s() - t0;
  *nexpr = n;
  rc = *db ? 0 : -1;
done:
  free(exprs);
  free(flags);
  free(ids);
  return rc;
}

static struct run_result run_hs(hs_database_t *db, hs_scratch_t *scratch, const struct bench_corpus *c,
                                size_t nlines, char *nbuf)
{
  struct run_result r = {0};
  struct hs_ctx ctx = {0};
  double w0 = bench_wall_s(), c0 = bench_cpu_s();
  for (size_t i = 0; i < nlines; i++) {
    size_t len;
    const char *p = bench_line(c, i, &len);
    size_t nlen = es_norm(p, len, nbuf);
    ctx.last_line_matched = 0;
    if (hs_scan(db, nbuf, (unsigned)nlen, 0, scratch, hs_on_match, &ctx) != HS_SUCCESS)
      r.errors++;
    r.hit_lines += ctx.last_line_matched;
  }
  r.wall = bench_wall_s() - w0;
  r.cpu = bench_cpu_s() - c0;
  r.seconds = use_cpu_clock ? r.cpu : r.wall;
  r.hits = ctx.matches;
  return r;
}
#endif

/* ---- rg ------------------------------------------------------------ */

static int find_in_path(const char *prog, char *out, size_t cap)
{
  const char *path = getenv("PATH");
  if (strchr(prog, '/')) {
    snprintf(out, cap, "%s", prog);
    return access(out, X_OK) == 0 ? 0 : -1;
  }
  if (!path)
    path = "/usr/bin:/bin";
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t n = colon ? (size_t)(colon - path) : strlen(path);
    snprintf(out, cap, "%.*s/%s", (int)n, n ? path : ".", prog);
    if (access(out, X_OK) == 0)
      return 0;
    path += n + (colon != NULL);
  }
  return -1;
}

/* Runs rg once; returns the seconds taken and the line count it printed. */
static int run_rg(const char *rg, const char *pats, const char *corpus, int word,
                  double *seconds, uint64_t *count)
{
  int fds[2];
  if (pipe(fds) != 0)
    return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  char *argv[16];
  int a = 0;
  argv[a++] = (char *)rg;
  argv[a++] = (char *)"--no-config";
  argv[a++] = (char *)"-j1";
  argv[a++] = (char *)"-c";
  argv[a++] = (char *)"-i";
  argv[a++] = (char *)"-F";
  if (word)
    argv[a++] = (char *)"-w";
  argv[a++] = (char *)"-f";
  argv[a++] = (char *)pats;
  argv[a++] = (char *)corpus;
  argv[a] = NULL;
  pid_t pid;
  double t0 = bench_wall_s();
  int rc = posix_spawn(&pid, rg, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  char buf[256];
  size_t got = 0;
  ssize_t n;
  while ((n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0 && got < sizeof buf - 1)
    got += (size_t)n;
  buf[got] = '\0';
  close(fds[0]);
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
    ;
  *seconds = bench_wall_s() - t0;
  if (use_cpu_clock)
    *seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
  *count = strtoull(buf, NULL, 10);
  /* rg exits 1 when nothing matched; anything else is a failure. */
  return WIFEXITED(status) && WEXITSTATUS(status) <= 1 ? 0 : -1;
}

/* ---- main ---------------------------------------------------------- */

struct row {
  unsigned rules;
  double earshot, earshot_any, naive, hs, rg;  /* lines/s; 0 when not measured */
  int hs_state;                                /* 1 measured, 0 not installed, -1 failed */
  int rg_state;
  uint64_t mismatches;
};

static void usage(void)
{
  fprintf(stderr,
          "usage: bench_match [--data DIR] [--sizes 50,200,1000] [--lines N] [--naive-lines N]\n"
          "                   [--reps N] [--clock wall|cpu] [--rg PATH] [--rg-word] [--no-rg]\n"
          "                   [--no-hyperscan]\n");
}

static void fmt_rate(char *out, size_t cap, double v)
{
  if (v <= 0)
    snprintf(out, cap, "-");
  else if (v >= 1e6)
    snprintf(out, cap, "%.2f M", v / 1e6);
  else if (v >= 1e3)
    snprintf(out, cap, "%.1f k", v / 1e3);
  else
    snprintf(out, cap, "%.0f", v);
}

int main(int argc, char **argv)
{
  const char *dir = "bench-data";
  const char *sizes = "50,200,1000";
  const char *rg_prog = "rg";
  size_t max_lines = 0, naive_lines = 20000;
  int reps = 3, use_rg = 1, use_hs = 1, rg_word = 0;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--no-rg") == 0) { use_rg = 0; continue; }
    if (strcmp(a, "--no-hyperscan") == 0) { use_hs = 0; continue; }
    if (strcmp(a, "--rg-word") == 0) { rg_word = 1; continue; }
    if (!v) { usage(); return 2; }
    i++; /* the option's value */
    if (strcmp(a, "--data") == 0) dir = v;
    else if (strcmp(a, "--sizes") == 0) sizes = v;
    else if (strcmp(a, "--lines") == 0) max_lines = strtoull(v, NULL, 10);
    else if (strcmp(a, "--naive-lines") == 0) naive_lines = strtoull(v, NULL, 10);
    else if (strcmp(a, "--reps") == 0) reps = atoi(v);
    else if (strcmp(a, "--rg") == 0) rg_prog = v;
    else if (strcmp(a, "--clock") == 0 && (strcmp(v, "cpu") == 0 || strcmp(v, "wall") == 0))
      use_cpu_clock = strcmp(v, "cpu") == 0;
    else { usage(); return 2; }
  }
  if (reps < 1)
    reps = 1;

  struct bench_corpus c;
  if (bench_corpus_load(&c, "bench_match", dir, max_lines) != 0)
    return 1;
  if (naive_lines > c.nlines)
    naive_lines = c.nlines;
  printf("corpus: %s/corpus.txt, %zu lines, %.1f MB, %.1f bytes/line\n", dir, c.nlines,
         (double)c.bytes / 1e6, (double)c.bytes / (double)(c.nlines ? c.nlines : 1));
  printf("single thread; earshot and hyperscan: best of %d passes after a warm-up; naive: one "
         "pass over the first %zu or more lines (about 1 s)\n", reps, naive_lines);
  bench_print_machine();
  printf("clock: %s\n", use_cpu_clock ? "thread CPU time (CLOCK_THREAD_CPUTIME_ID; rg: child "
         "user+sys time)" : "wall time (CLOCK_MONOTONIC)");

  char rg_path[4096] = "";
  int have_rg = use_rg && find_in_path(rg_prog, rg_path, sizeof rg_path) == 0;
  /* rg reads the file; when --lines cuts the corpus it still reads it whole. */
  char corpus_path[4096];
  snprintf(corpus_path, sizeof corpus_path, "%s/corpus.txt", dir);
  size_t corpus_file_lines = c.file_lines;
  if (have_rg && c.nlines < c.file_lines)
    printf("note: --lines applies to earshot, naive and hyperscan; rg reads the whole file\n");

  struct row rows[MAX_SIZES];
  size_t nrows = 0;
  int failed = 0;
  char *nbuf = malloc(65536 + 2);
  if (!nbuf)
    return 1;

  for (const char *p = sizes; *p && nrows < MAX_SIZES;) {
    char *end;
    unsigned long nr = strtoul(p, &end, 10);
    if (end == p) {
      usage();
      return 2;
    }
    p = *end == ',' ? end + 1 : end;

    struct row *row = &rows[nrows++];
    memset(row, 0, sizeof *row);
    row->rules = (unsigned)nr;
    printf("\n== %lu rules ==\n", nr);

    double load_s = 0;
    struct es_rules *rules = bench_rules_load("bench_match", dir, (unsigned)nr, &load_s);
    if (rules == NULL)
      return 1;
    size_t nregex = 0;
    for (uint32_t i = 0; i < es_rules_count(rules); i++)
      nregex += es_rules_regex_count(rules, i);
    printf("rules: %u loaded and examples checked in %.0f ms; %zu regexes; prefilter %zu states; "
           "%u rules unfiltered\n", es_rules_count(rules), load_s * 1e3, nregex,
           es_rules_prefilter_states(rules), es_rules_unfiltered(rules));

    struct es_matcher *m = es_matcher_new(rules);
    if (!m) {
      fprintf(stderr, "bench_match: out of memory\n");
      return 1;
    }

    /* (a) earshot: warm up, then best of reps. */
    size_t warm = c.nlines < 100000 ? c.nlines : 100000;
    run_earshot(m, &c, warm, 0, 1);
    struct es_match_stats s0 = *es_matcher_stats(m);
    struct run_result best = {0};
    for (int r = 0; r < reps; r++) {
      struct run_result rr = run_earshot(m, &c, c.nlines, 0, 1);
      if (r == 0 || rr.seconds < best.seconds)
        best = rr;
    }
    struct es_match_stats s1 = *es_matcher_stats(m);
    double lines_run = (double)(s1.lines - s0.lines);
    row->earshot = (double)c.nlines / best.seconds;
    printf("earshot:   %12.0f lines/s  %7.1f MB/s  (%.3f s wall, %.3f s CPU per pass; %" PRIu64
           " lines hit, %.2f%%; %" PRIu64 " hits; %" PRIu64 " limited; %" PRIu64 " errors)\n",
           row->earshot, (double)c.bytes / best.seconds / 1e6, best.wall, best.cpu,
           best.hit_lines,
           100.0 * (double)best.hit_lines / (double)c.nlines, best.hits, best.limited,
           best.errors);
    printf("prefilter: %.4f candidate rules/line (%.4f%% of rule-line pairs), "
           "%.4f pcre2 runs/line, %.4f hits/line\n",
           (double)(s1.candidates - s0.candidates) / lines_run,
           100.0 * (double)(s1.candidates - s0.candidates) / lines_run / (double)nr,
           (double)(s1.pcre2_runs - s0.pcre2_runs) / lines_run,
           (double)(s1.hits - s0.hits) / lines_run);
    if (best.errors)
      failed = 1;

    /* Where a line's time goes, as far as the public API shows it: UTF-8
     * check and normalisation, both part of every es_match_line(). */
    {
      double tv = bench_now();
      size_t ok = 0;
      for (size_t i = 0; i < c.nlines; i++) {
        size_t len;
        const char *lp = bench_line(&c, i, &len);
        ok += (size_t)es_utf8_valid(lp, len);
      }
      tv = bench_now() - tv;
      double tn = bench_now();
      size_t sum = 0;
      for (size_t i = 0; i < c.nlines; i++) {
        size_t len;
        const char *lp = bench_line(&c, i, &len);
        sum += es_norm(lp, len, nbuf);
      }
      tn = bench_now() - tn;
      double per = 1e9 / (double)c.nlines;
      printf("per line:  %.0f ns total = %.0f ns UTF-8 check + %.0f ns es_norm + %.0f ns the rest "
             "(prefilter, PCRE2, negation, spans)%s\n", best.seconds * per, tv * per, tn * per,
             (best.seconds - tv - tn) * per, ok == c.nlines && sum ? "" : " [?]");
    }

    /* Same, every line as speaker "unknown" (all rules apply), as Hyperscan sees it. */
    struct run_result any = {0};
    for (int r = 0; r < reps; r++) {
      struct run_result rr = run_earshot(m, &c, c.nlines, 0, 0);
      if (r == 0 || rr.seconds < any.seconds)
        any = rr;
    }
    row->earshot_any = (double)c.nlines / any.seconds;
    printf("earshot, speaker ignored: %12.0f lines/s  (%" PRIu64 " lines hit)\n",
           row->earshot_any, any.hit_lines);

    /* (b) naive, on a prefix, compared with earshot hit for hit. The
     * prefix is at least --naive-lines lines, more when the naive scan is
     * fast enough to fill about a second. */
    size_t nprefix = naive_lines;
    {
      size_t probe = c.nlines < 1000 ? c.nlines : 1000;
      struct run_result pr = run_earshot(m, &c, probe, ES_MATCH_NAIVE, 1);
      double rate = pr.seconds > 0 ? (double)probe / pr.seconds : 0;
      if (rate > (double)nprefix)
        nprefix = (size_t)rate;
      if (nprefix > c.nlines)
        nprefix = c.nlines;
    }
    struct hit_log ref;
    if (log_hits(m, &c, nprefix, 0, &ref) != 0) {
      fprintf(stderr, "bench_match: out of memory\n");
      return 1;
    }
    uint64_t mism;
    struct run_result nv = run_naive(m, &c, nprefix, &ref, rules, &mism);
    row->naive = (double)nprefix / nv.seconds;
    row->mismatches = mism;
    uint64_t ref_lines = 0;
    for (size_t i = 0; i < nprefix; i++)
      ref_lines += ref.start[i + 1] > ref.start[i];
    printf("naive:     %12.0f lines/s  (first %zu lines only, every rule's PCRE2 on every line; "
           "%.2f s)\n", row->naive, nprefix, nv.seconds);
    printf("check:     on the first %zu lines earshot hit %" PRIu64 " lines / %zu hits, naive %"
           PRIu64 " lines / %" PRIu64 " hits: %s\n", nprefix, ref_lines, ref.nhits,
           nv.hit_lines, nv.hits, mism ? "MISMATCH" : "equal");
    if (mism) {
      printf("!!!!!!!! MISMATCH: %" PRIu64 " lines differ between earshot and naive !!!!!!!!\n",
             mism);
      failed = 1;
    }
    hit_log_free(&ref);

    /* (c) hyperscan. */
#ifdef ES_HAVE_HYPERSCAN
    if (use_hs) {
      hs_database_t *db = NULL;
      hs_scratch_t *scratch = NULL;
      size_t nexpr, nrej;
      double cs = 0;
      if (hs_build(rules, &db, &nexpr, &nrej, &cs) == 0 &&
          hs_alloc_scratch(db, &scratch) == HS_SUCCESS) {
        run_hs(db, scratch, &c, warm, nbuf);
        struct run_result hb = {0};
        for (int r = 0; r < reps; r++) {
          struct run_result rr = run_hs(db, scratch, &c, c.nlines, nbuf);
          if (r == 0 || rr.seconds < hb.seconds)
            hb = rr;
        }
        row->hs = (double)c.nlines / hb.seconds;
        row->hs_state = 1;
        printf("hyperscan: %12.0f lines/s  (es_norm + hs_scan; %zu of %zu regexes compiled in "
               "%.0f ms, %zu rejected; %" PRIu64 " lines matched, %" PRIu64 " matches; "
               "no speaker, negation or unless)\n",
               row->hs, nexpr, nregex, cs * 1e3, nrej, hb.hit_lines, hb.hits);
      } else {
        row->hs_state = -1;
        printf("hyperscan: failed to build the database\n");
      }
      hs_free_scratch(scratch);
      hs_free_database(db);
    } else {
      printf("hyperscan: skipped (--no-hyperscan)\n");
    }
#else
    (void)use_hs;
    printf("hyperscan: not installed\n");
#endif

    /* (d) rg. */
    if (have_rg) {
      char pats[4096];
      snprintf(pats, sizeof pats, "%s/pats-%lu.txt", dir, nr);
      double best_rg = 0, secs;
      uint64_t cnt = 0;
      int ok = 1;
      /* The file is in the page cache already (we read it); repeat only
       * while a run is short, rg at 1,000 phrases takes many seconds. */
      for (int r = 0; r < reps && ok; r++) {
        if (run_rg(rg_path, pats, corpus_path, rg_word, &secs, &cnt) != 0)
          ok = 0;
        else if (r == 0 || secs < best_rg)
          best_rg = secs;
        if (secs > 2.0)
          break;
      }
      if (ok) {
        row->rg = (double)corpus_file_lines / best_rg;
        row->rg_state = 1;
        printf("rg:        %12.0f lines/s  (`%s --no-config -j1 -c -i -F%s -f %s %s`, whole "
               "process, %.3f s; %" PRIu64 " lines matched)\n", row->rg, rg_path,
               rg_word ? " -w" : "", pats, corpus_path, best_rg, cnt);
      } else {
        row->rg_state = -1;
        printf("rg: failed to run %s\n", rg_path);
      }
    } else {
      printf("rg: %s\n", use_rg ? "not installed" : "skipped (--no-rg)");
    }

    es_matcher_free(m);
    es_rules_free(rules);
  }

  printf("\nlines/s by %s, one thread:\n", use_cpu_clock ? "thread CPU time" : "wall time");
  printf("\n| rules | earshot lines/s | naive lines/s | x naive | hyperscan lines/s | "
         "earshot/hyperscan | rg lines/s |\n|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t i = 0; i < nrows; i++) {
    const struct row *r = &rows[i];
    char e[32], n[32], h[32], g[32], x[32], q[32];
    fmt_rate(e, sizeof e, r->earshot);
    fmt_rate(n, sizeof n, r->naive);
    snprintf(x, sizeof x, "%.0fx", r->earshot / r->naive);
    if (r->hs_state == 1) {
      fmt_rate(h, sizeof h, r->hs);
      snprintf(q, sizeof q, "%.2f", r->earshot / r->hs);
    } else {
      snprintf(h, sizeof h, "%s", r->hs_state ? "failed" : "n/a");
      snprintf(q, sizeof q, "-");
    }
    if (r->rg_state == 1)
      fmt_rate(g, sizeof g, r->rg);
    else
      snprintf(g, sizeof g, "%s", r->rg_state ? "failed" : "n/a");
    printf("| %u | %s | %s | %s | %s | %s | %s |\n", r->rules, e, n, x, h, q, g);
  }

  /* The goals of the issue, at the largest rule set. */
  const struct row *big = NULL;
  for (size_t i = 0; i < nrows; i++)
    if (rows[i].rules == 1000)
      big = &rows[i];
  if (big) {
    printf("\ngoals at 1000 rules: >= 2.5 M lines/s: %s (%.2f M); >= 300x naive: %s (%.0fx); "
           ">= hyperscan: %s\n",
           big->earshot >= 2.5e6 ? "yes" : "NO", big->earshot / 1e6,
           big->earshot >= 300 * big->naive ? "yes" : "NO", big->earshot / big->naive,
           big->hs_state != 1 ? "n/a" : big->earshot >= big->hs ? "yes" : "NO");
  }
  free(nbuf);
  bench_corpus_free(&c);
  return failed ? 1 : 0;
}
