/* corpus.c: see corpus.h. */
#include "corpus.h"

#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILE_BYTES ((size_t)4 << 30)

double bench_wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double bench_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *bench_slurp(const char *prog, const char *path, size_t *len_out) {
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
  fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, errno ? strerror(errno) : "error");
  free(buf);
  if (f)
    fclose(f);
  return NULL;
}

void bench_print_machine(void) {
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

int bench_corpus_load(struct bench_corpus *c, const char *prog, const char *dir,
                      size_t max_lines) {
  char path[4096];
  size_t spk_len = 0;
  char *spk = NULL;
  memset(c, 0, sizeof *c);
  snprintf(path, sizeof path, "%s/corpus.txt", dir);
  c->text = bench_slurp(prog, path, &c->bytes);
  if (!c->text)
    goto fail;
  if (c->bytes >= UINT32_MAX) {
    fprintf(stderr, "%s: corpus too large\n", prog);
    goto fail;
  }
  snprintf(path, sizeof path, "%s/corpus.spk", dir);
  spk = bench_slurp(prog, path, &spk_len);
  if (!spk)
    goto fail;

  size_t n = 0;
  for (size_t i = 0; i < c->bytes; i++)
    n += c->text[i] == '\n';
  c->file_lines = n;
  if (max_lines && n > max_lines)
    n = max_lines;
  if (spk_len < n) {
    fprintf(stderr, "%s: corpus.spk has %zu entries for %zu lines\n", prog, spk_len, n);
    goto fail;
  }
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
  c->bytes = c->off[line]; /* bytes used, newlines included */
  free(spk);
  return 0;
fail:
  fprintf(stderr, "%s: cannot load the corpus in %s (run the bench's .sh script)\n", prog, dir);
  free(spk);
  free(c->text);
  free(c->off);
  free(c->spk);
  memset(c, 0, sizeof *c);
  return -1;
}

void bench_corpus_free(struct bench_corpus *c) {
  free(c->text);
  free(c->off);
  free(c->spk);
  memset(c, 0, sizeof *c);
}

struct es_rules *bench_rules_load(const char *prog, const char *dir, unsigned n, double *load_s) {
  char path[4096];
  size_t rlen;
  struct es_rules *rules = NULL;
  struct es_diags diags;
  snprintf(path, sizeof path, "%s/rules-%u.json", dir, n);
  char *rtext = bench_slurp(prog, path, &rlen);
  if (!rtext)
    return NULL;
  struct es_rules_source src = {path, rtext, rlen};
  es_diags_init(&diags);
  double t0 = bench_wall_s();
  int rc = es_rules_load_sources(&src, 1, NULL, &rules, &diags);
  if (load_s)
    *load_s = bench_wall_s() - t0;
  if (rc != 0) {
    fprintf(stderr, "%s: %s: %s\n", prog, path, es_strerror(rc));
    for (size_t i = 0; i < diags.count && i < 20; i++)
      fprintf(stderr, "  %s:%d: %s: %s\n", diags.items[i].file, diags.items[i].line,
              diags.items[i].rule_id, diags.items[i].message);
    if (diags.count > 20)
      fprintf(stderr, "  ... %zu more\n", diags.count - 20);
  }
  es_diags_deinit(&diags);
  free(rtext);
  return rules;
}
