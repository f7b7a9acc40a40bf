/*
 * corpus.h: what bench_match and bench_sentiment share: clocks, reading
 * bench_gen_corpus's files, and the machine line printed with the figures.
 */
#ifndef ES_BENCH_CORPUS_H
#define ES_BENCH_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

double bench_wall_s(void); /* CLOCK_MONOTONIC */
double bench_cpu_s(void);  /* this thread's CPU time */

/* Reads a whole file (at most 4 GiB) into a NUL-terminated malloc()ed
 * buffer; NULL with "PROG: cannot read PATH: why" on stderr. */
char *bench_slurp(const char *prog, const char *path, size_t *len_out);

/* corpus.txt (one line each) with corpus.spk (one 'a' or 'c' per line). */
struct bench_corpus {
  char *text;
  size_t bytes;           /* bytes used, newlines included */
  uint32_t *off;          /* nlines + 1 offsets; line i is text[off[i] .. off[i+1]-1) */
  enum es_speaker *spk;
  size_t nlines;
  size_t file_lines;      /* lines in corpus.txt, used or not */
};

/* Loads at most max_lines lines (0: all) from dir; 0, or -1 (said why). */
int bench_corpus_load(struct bench_corpus *c, const char *prog, const char *dir,
                      size_t max_lines);
void bench_corpus_free(struct bench_corpus *c);

static inline const char *bench_line(const struct bench_corpus *c, size_t i, size_t *len) {
  *len = c->off[i + 1] - c->off[i] - 1;
  return c->text + c->off[i];
}

/* Loads dir/rules-N.json (examples checked, as earshotd does); the time it
 * took goes to *load_s when not NULL. NULL, with why on stderr (at most
 * 20 diagnostics), when it does not load. */
struct es_rules *bench_rules_load(const char *prog, const char *dir, unsigned n, double *load_s);

/* What the figures depend on: CPU model, CPUs, load average at start. */
void bench_print_machine(void);

#endif
