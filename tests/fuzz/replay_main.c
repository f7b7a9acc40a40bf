/*
 * replay_main.c: runs a libFuzzer target without libFuzzer.
 *
 * Linked with any fuzz_<name>.c (which defines LLVMFuzzerTestOneInput and
 * may define LLVMFuzzerInitialize), it feeds every regular file named on
 * the command line, or found directly inside a directory named on the
 * command line, to the target, one call per file, in name order. That is
 * how the corpora in tests/fuzz/corpus/<name>/ run as ordinary ctest cases
 * in every build, sanitizers or not. A crash or an abort() in the target
 * fails the test; so does an argument that holds no input at all, so that
 * a misspelt corpus path cannot pass silently.
 */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Ceiling on one input: corpus files are small; a huge one is a mistake. */
#define REPLAY_MAX_INPUT (16u << 20)

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *data = NULL;
  long size;
  int rc = -1;
  if (f == NULL) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
      (unsigned long)size > REPLAY_MAX_INPUT) {
    fprintf(stderr, "replay: cannot read %s (or larger than %u bytes)\n", path, REPLAY_MAX_INPUT);
    goto fail;
  }
  /* An exact-size heap copy, so that ASan sees reads past the end. */
  data = malloc(size ? (size_t)size : 1);
  if (data == NULL || fread(data, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    goto fail;
  }
  fprintf(stderr, "replay: %s (%ld bytes)\n", path, size);
  LLVMFuzzerTestOneInput(data, (size_t)size);
  rc = 0;
fail:
  free(data);
  fclose(f);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in `dir`; returns how many, or -1. */
static long run_dir(const char *dir) {
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  long ran = -1;
  struct dirent *e;
  if (d == NULL) {
    fprintf(stderr, "replay: cannot open directory %s\n", dir);
    return -1;
  }
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      char **grown = realloc(names, cap * sizeof(char *));
      if (grown == NULL) goto fail;
      names = grown;
    }
    size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
    if ((names[n] = malloc(len)) == NULL) goto fail;
    snprintf(names[n], len, "%s/%s", dir, e->d_name);
    n++;
  }
  if (n) qsort(names, n, sizeof(char *), cmp_names);
  ran = 0;
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (run_file(names[i]) != 0) {
      ran = -1;
      goto fail;
    }
    ran++;
  }
fail:
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  closedir(d);
  return ran;
}

int main(int argc, char **argv) {
  long total = 0;
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    struct stat st;
    long ran;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 1;
    }
    ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : (run_file(argv[i]) == 0 ? 1 : -1);
    if (ran <= 0) {
      fprintf(stderr, "replay: %s: %s\n", argv[i], ran == 0 ? "no inputs" : "failed");
      return 1;
    }
    total += ran;
  }
  fprintf(stderr, "replay: %ld inputs, no failure\n", total);
  return 0;
}
