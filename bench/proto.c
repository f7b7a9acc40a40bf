/*
 * proto.c: bench_proto, the protocol line decoder alone.
 *
 * Reads a stream of protocol lines (bench_load --dump writes one: the
 * load corpus, start, utterance and end lines) and times es_proto_decode()
 * on every line, the allocation-free scanner (fast) and cJSON (slow)
 * interleaved in the same run. Each figure is the best of --reps passes
 * on one thread's CPU clock. Every pass must decode every line: a line
 * the decoder refuses is an error of the corpus, said and counted.
 *
 * usage: bench_proto FILE [--reps N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus.h"
#include "proto.h"

struct line {
  const char *p;
  size_t len;
};

static int usage(void) {
  fprintf(stderr, "usage: bench_proto FILE [--reps N]\n"
                  "  FILE      protocol lines, e.g. from bench_load --lines N --dump FILE\n"
                  "  --reps N  passes per mode, the best counts (default 5)\n");
  return 2;
}

/* One pass over every line; seconds of this thread's CPU, or -1. */
static double pass(struct es_decoder *d, const struct line *v, size_t n, uint64_t *sum) {
  struct es_event ev;
  struct es_proto_error err;
  double t0 = bench_cpu_s();
  for (size_t i = 0; i < n; i++) {
    if (es_proto_decode(d, v[i].p, v[i].len, &ev, &err) != 0) {
      fprintf(stderr, "bench_proto: line %zu refused: %s: %s\n", i + 1, err.code, err.message);
      return -1;
    }
    /* something of the event, so that no decoding is dead code */
    *sum += (uint64_t)ev.type + ev.text_len + (uint64_t)ev.seq;
  }
  return bench_cpu_s() - t0;
}

int main(int argc, char **argv) {
  const char *path = NULL;
  unsigned reps = 5;
  size_t bytes, n = 0, cap = 1024;
  char *text;
  struct line *v;
  uint64_t sum = 0;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = (unsigned)strtoul(argv[++i], NULL, 10);
      if (reps == 0)
        return usage();
    } else if (argv[i][0] != '-' && path == NULL) {
      path = argv[i];
    } else {
      return usage();
    }
  }
  if (path == NULL)
    return usage();
  if ((text = bench_slurp("bench_proto", path, &bytes)) == NULL)
    return 1;
  if ((v = malloc(cap * sizeof(*v))) == NULL) {
    fprintf(stderr, "bench_proto: out of memory\n");
    return 1;
  }
  for (char *p = text, *end = text + bytes; p < end;) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n == cap) {
      struct line *w = realloc(v, 2 * cap * sizeof(*v));
      if (w == NULL) {
        fprintf(stderr, "bench_proto: out of memory\n");
        return 1;
      }
      v = w;
      cap *= 2;
    }
    if (len > 0)
      v[n++] = (struct line){p, len};
    p += len + 1;
  }
  if (n == 0) {
    fprintf(stderr, "bench_proto: %s holds no lines\n", path);
    return 1;
  }

  struct es_decoder *fast = es_decoder_new(65536), *slow = es_decoder_new(65536);
  if (fast == NULL || slow == NULL) {
    fprintf(stderr, "bench_proto: out of memory\n");
    return 1;
  }
  es_decoder_set_fast(slow, 0);
  bench_print_machine();
  double best[2] = {0, 0};
  for (unsigned r = 0; r <= reps; r++) { /* pass 0 warms up */
    for (int m = 0; m < 2; m++) {
      double s = pass(m ? slow : fast, v, n, &sum);
      if (s < 0)
        return 1;
      if (r > 0 && (best[m] == 0 || s < best[m]))
        best[m] = s;
    }
  }
  printf("bench_proto: %zu lines, %.1f MB, %zu of them on the fast path\n", n, bytes / 1e6,
         (size_t)(es_decoder_fast_lines(fast) / (reps + 1)));
  for (int m = 0; m < 2; m++)
    printf("%-5s %10.0f lines/s %7.1f ns/line %7.1f MB/s\n", m ? "cjson" : "fast", n / best[m],
           1e9 * best[m] / n, bytes / best[m] / 1e6);
  fprintf(stderr, "bench_proto: checksum %llu\n", (unsigned long long)sum);
  es_decoder_free(fast);
  es_decoder_free(slow);
  free(v);
  free(text);
  return 0;
}
