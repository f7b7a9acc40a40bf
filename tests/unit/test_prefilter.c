/*
 * test_prefilter.c: the multi-literal prefilter against exact cases and a
 * brute-force oracle.
 */
#include "prefilter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task.h"
#include "../prng.h"


/* Scans `text` and returns the ids found as a sorted, checked list. */
struct scan_result {
  uint32_t *ids;
  size_t n;
};

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static struct scan_result scan(const struct es__pf *pf, const char *text, size_t len) {
  uint32_t nids = es__pf_nids(pf);
  size_t words = (nids + 63) / 64;
  uint64_t *seen = calloc(words ? words : 1, sizeof(uint64_t));
  struct scan_result r;
  r.ids = malloc((nids ? nids : 1) * sizeof(uint32_t));
  ASSERT(seen != NULL && r.ids != NULL);
  r.n = es__pf_scan(pf, text, len, seen, r.ids);
  ASSERT_LE(r.n, nids);
  /* Every id reported has its bit set, and no other bit is set. */
  size_t bits = 0;
  for (size_t w = 0; w < words; w++) bits += (size_t)__builtin_popcountll(seen[w]);
  ASSERT_EQ(bits, r.n);
  for (size_t i = 0; i < r.n; i++) {
    ASSERT_LT(r.ids[i], nids);
    ASSERT(seen[r.ids[i] >> 6] & ((uint64_t)1 << (r.ids[i] & 63)));
  }
  qsort(r.ids, r.n, sizeof(uint32_t), cmp_u32);
  for (size_t i = 1; i < r.n; i++) ASSERT_LT(r.ids[i - 1], r.ids[i]);
  free(seen);
  return r;
}

/* Builds a prefilter from NULL-terminated pairs {literal, id}. */
struct lit_id {
  const char *lit;
  uint32_t id;
};

static struct es__pf *build(const struct lit_id *lits, uint32_t nids) {
  struct es__pf_builder *b = es__pf_builder_new();
  struct es__pf *pf = NULL;
  ASSERT(b != NULL);
  for (size_t i = 0; lits[i].lit != NULL; i++)
    ASSERT_EQ(es__pf_add(b, lits[i].lit, strlen(lits[i].lit), lits[i].id), 0);
  ASSERT_EQ(es__pf_build(b, nids, &pf), 0);
  ASSERT(pf != NULL);
  es__pf_builder_free(b);
  return pf;
}

/* Asserts that scanning `text` yields exactly the ids in `expect`
 * (terminated by UINT32_MAX, sorted). */
static void expect_ids(const struct es__pf *pf, const char *text, const uint32_t *expect) {
  struct scan_result r = scan(pf, text, strlen(text));
  size_t n = 0;
  while (expect[n] != UINT32_MAX) n++;
  if (r.n != n) {
    fprintf(stderr, "text \"%s\": got %zu ids, expected %zu\n", text, r.n, n);
    for (size_t i = 0; i < r.n; i++) fprintf(stderr, "  got %u\n", r.ids[i]);
  }
  ASSERT_EQ(r.n, n);
  for (size_t i = 0; i < n; i++) ASSERT_EQ(r.ids[i], expect[i]);
  free(r.ids);
}

#define IDS(...) ((const uint32_t[]){__VA_ARGS__, UINT32_MAX})
#define NONE ((const uint32_t[]){UINT32_MAX})

static void test_errors(void) {
  struct es__pf_builder *b = es__pf_builder_new();
  struct es__pf *pf = (struct es__pf *)&pf; /* must be reset to NULL */
  ASSERT(b != NULL);
  ASSERT_EQ(es__pf_add(b, "x", 0, 0), ES_EINVAL);
  ASSERT_EQ(es__pf_add(b, "abc", 3, 5), 0);
  /* id 5 is not below nids */
  ASSERT_EQ(es__pf_build(b, 5, &pf), ES_EINVAL);
  ASSERT(pf == NULL);
  ASSERT_EQ(es__pf_build(b, 6, &pf), 0);
  ASSERT_EQ(es__pf_nids(pf), 6);
  ASSERT_EQ(es__pf_nstates(pf), 4);
  ASSERT_GT(es__pf_memory(pf), 0);
  /* The builder stays usable after a build. */
  struct es__pf *pf2 = NULL;
  ASSERT_EQ(es__pf_add(b, "abd", 3, 1), 0);
  ASSERT_EQ(es__pf_build(b, 6, &pf2), 0);
  ASSERT_EQ(es__pf_nstates(pf2), 5);
  expect_ids(pf, "xabdabc", IDS(5));
  expect_ids(pf2, "xabdabc", IDS(1, 5));
  es__pf_free(pf2);
  es__pf_free(pf);
  es__pf_builder_free(b);
  es__pf_free(NULL);
  es__pf_builder_free(NULL);
}

static void test_empty(void) {
  struct es__pf *pf = build((const struct lit_id[]){{NULL, 0}}, 10);
  expect_ids(pf, "", NONE);
  expect_ids(pf, "anything at all", NONE);
  ASSERT_EQ(es__pf_nstates(pf), 1);
  es__pf_free(pf);

  /* nids == 0: nothing to report, scratch of zero words. */
  pf = build((const struct lit_id[]){{NULL, 0}}, 0);
  uint32_t ids[1];
  uint64_t seen[1] = {0};
  ASSERT_EQ(es__pf_scan(pf, "abc", 3, seen, ids), 0);
  es__pf_free(pf);
}

static void test_basic(void) {
  struct es__pf *pf = build(
      (const struct lit_id[]){
          {" policy ", 0}, {"sue", 1}, {" manager ", 2}, {"supervisor", 2}, {NULL, 0}},
      3);
  expect_ids(pf, "", NONE);
  expect_ids(pf, " thats our policy ", IDS(0));
  expect_ids(pf, " thats our policyholder ", NONE);
  expect_ids(pf, " ill sue you ", IDS(1));
  expect_ids(pf, " pursue ", IDS(1));
  expect_ids(pf, " get me a manager or a supervisor ", IDS(2));
  expect_ids(pf, " supervisor policy sue ", IDS(0, 1, 2));
  expect_ids(pf, " policy ", IDS(0));         /* the whole text */
  expect_ids(pf, "sue", IDS(1));              /* text start and end */
  expect_ids(pf, "su", NONE);                 /* truncated at the end */
  expect_ids(pf, "ue", NONE);
  expect_ids(pf, "sssssue", IDS(1));          /* restarts */
  expect_ids(pf, "sue sue sue sue", IDS(1));  /* each id once */
  es__pf_free(pf);
}

static void test_overlaps(void) {
  /* overlapping literals, a literal that is a suffix of another, a prefix
   * of another, and one inside another */
  struct es__pf *pf = build(
      (const struct lit_id[]){
          {"he", 0}, {"she", 1}, {"his", 2}, {"hers", 3}, {"e", 4}, {"ushers", 5}, {NULL, 0}},
      6);
  expect_ids(pf, "ushers", IDS(0, 1, 3, 4, 5));
  expect_ids(pf, "usher", IDS(0, 1, 4));
  expect_ids(pf, "hishe", IDS(0, 1, 2, 4));
  expect_ids(pf, "h", NONE);
  expect_ids(pf, "e", IDS(4));
  expect_ids(pf, "xhxixsx", NONE);
  es__pf_free(pf);

  /* suffix chains: "aaaa" contains all of them */
  pf = build(
      (const struct lit_id[]){{"a", 0}, {"aa", 1}, {"aaa", 2}, {"aaaa", 3}, {"ba", 4}, {NULL, 0}},
      5);
  expect_ids(pf, "aaaa", IDS(0, 1, 2, 3));
  expect_ids(pf, "aaa", IDS(0, 1, 2));
  expect_ids(pf, "baaa", IDS(0, 1, 2, 4));
  expect_ids(pf, "bbb", NONE);
  es__pf_free(pf);
}

static void test_shared_ids(void) {
  /* the same literal for several ids, one id with many literals, the same
   * (literal, id) pair twice */
  struct es__pf *pf = build(
      (const struct lit_id[]){{" cancel ", 7},
                              {" cancel ", 3},
                              {" cancel ", 7},
                              {" lawyer ", 1},
                              {" attorney ", 1},
                              {" court ", 1},
                              {" sue ", 1},
                              {"our", 9},
                              {NULL, 0}},
      10);
  expect_ids(pf, " i will cancel ", IDS(3, 7));
  expect_ids(pf, " my lawyer and my attorney will see you in court ", IDS(1, 9));
  expect_ids(pf, " sue ", IDS(1));
  expect_ids(pf, " cancel sue ", IDS(1, 3, 7));
  es__pf_free(pf);

  /* ids that straddle bitmap words */
  struct lit_id many[200];
  char names[199][16];
  for (int i = 0; i < 199; i++) {
    snprintf(names[i], sizeof names[i], "<%d>", i);
    many[i].lit = names[i];
    many[i].id = (uint32_t)(i * 3 % 199);
  }
  many[199].lit = NULL;
  pf = build(many, 199);
  /* literal "<i>" stands for id i*3 % 199: 0, 189, 192, 182, 185, 196 */
  expect_ids(pf, "<63><64><127><128><0><198>", IDS(0, 182, 185, 189, 192, 196));
  es__pf_free(pf);
}

static void test_high_bytes(void) {
  /* bytes >= 0x80, NUL, and bytes that occur in no literal */
  static const char nul_lit[] = {'a', '\0', 'b'};
  struct es__pf_builder *b = es__pf_builder_new();
  struct es__pf *pf = NULL;
  ASSERT(b != NULL);
  ASSERT_EQ(es__pf_add(b, "caf\xc3\xa9", 5, 0), 0);
  ASSERT_EQ(es__pf_add(b, "\xff\xfe", 2, 1), 0);
  ASSERT_EQ(es__pf_add(b, nul_lit, 3, 2), 0);
  ASSERT_EQ(es__pf_add(b, "\x80", 1, 3), 0);
  ASSERT_EQ(es__pf_build(b, 4, &pf), 0);
  es__pf_builder_free(b);
  expect_ids(pf, " un caf\xc3\xa9 ", IDS(0));
  expect_ids(pf, " un cafe ", NONE);
  expect_ids(pf, "\xff\xff\xfe", IDS(1));
  expect_ids(pf, "\xc2\x80", IDS(3));
  struct scan_result r = scan(pf, "xa\0b", 4);
  ASSERT_EQ(r.n, 1);
  ASSERT_EQ(r.ids[0], 2);
  free(r.ids);
  es__pf_free(pf);

  /* every byte value in use: no spare class 0 */
  b = es__pf_builder_new();
  ASSERT(b != NULL);
  for (int c = 0; c < 256; c++) {
    char lit[2] = {(char)c, (char)(255 - c)};
    ASSERT_EQ(es__pf_add(b, lit, 2, (uint32_t)c), 0);
  }
  ASSERT_EQ(es__pf_build(b, 256, &pf), 0);
  es__pf_builder_free(b);
  char text[4] = {(char)0, (char)255, (char)0, (char)200};
  r = scan(pf, text, 4);
  /* pairs: (0,255) -> id 0, (255,0) -> id 255, (0,200) is not a literal */
  ASSERT_EQ(r.n, 2);
  ASSERT_EQ(r.ids[0], 0);
  ASSERT_EQ(r.ids[1], 255);
  free(r.ids);
  es__pf_free(pf);
}

/* Long texts are scanned as two halves that overlap: a literal must be
 * found wherever it lies, in particular across the middle. */
static void test_every_position(void) {
  static const char *const lits[] = {"0123456789abcdefghij", "xy", "q"};
  struct es__pf *pf = build(
      (const struct lit_id[]){{lits[0], 0}, {lits[1], 1}, {lits[2], 2}, {NULL, 0}}, 3);
  char text[130];
  for (uint32_t id = 0; id < 3; id++) {
    size_t llen = strlen(lits[id]);
    for (size_t tlen = llen; tlen <= sizeof text; tlen++) {
      for (size_t pos = 0; pos + llen <= tlen; pos++) {
        memset(text, '.', tlen);
        memcpy(text + pos, lits[id], llen);
        struct scan_result r = scan(pf, text, tlen);
        if (r.n != 1 || r.ids[0] != id)
          fprintf(stderr, "literal %u at %zu in %zu bytes: %zu ids\n", id, pos, tlen, r.n);
        ASSERT_EQ(r.n, 1);
        ASSERT_EQ(r.ids[0], id);
        free(r.ids);
        /* one byte short of the literal: nothing */
        if (llen > 1) {
          text[pos + llen - 1] = '.';
          r = scan(pf, text, tlen);
          ASSERT_EQ(r.n, 0);
          free(r.ids);
        }
      }
    }
  }
  es__pf_free(pf);
}

/* The caller's protocol: clear the bits of the returned ids, scan again. */
static void test_scratch_reuse(void) {
  struct es__pf *pf = build((const struct lit_id[]){{"ab", 0}, {"cd", 70}, {NULL, 0}}, 71);
  uint64_t seen[2] = {0, 0};
  uint32_t ids[71];
  size_t n = es__pf_scan(pf, "abcd", 4, seen, ids);
  ASSERT_EQ(n, 2);
  for (size_t i = 0; i < n; i++) seen[ids[i] >> 6] &= ~((uint64_t)1 << (ids[i] & 63));
  ASSERT_EQ(seen[0], 0);
  ASSERT_EQ(seen[1], 0);
  n = es__pf_scan(pf, "xxcd", 4, seen, ids);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(ids[0], 70);
  es__pf_free(pf);
}

/* The oracle: a naive substring search, obviously right. */
static int oracle_has(const char *text, size_t tlen, const char *lit, size_t llen) {
  for (size_t i = 0; i + llen <= tlen; i++)
    if (memcmp(text + i, lit, llen) == 0) return 1;
  return 0;
}

/* 10,000 random literals over a small alphabet (so that they overlap a
 * lot) against memmem on random texts. */
static void test_random_vs_oracle(void) {
  enum { NLITS = 10000, NIDS = 3000, NTEXTS = 300 };
  static const char alphabet[] = "abc \xe9";
  const size_t asize = sizeof(alphabet) - 1;
  char (*lits)[12] = malloc(NLITS * sizeof(*lits));
  size_t *lens = malloc(NLITS * sizeof(size_t));
  uint32_t *idof = malloc(NLITS * sizeof(uint32_t));
  unsigned char *expected = malloc(NIDS);
  ASSERT(lits != NULL && lens != NULL && idof != NULL && expected != NULL);

  prng_seed(0x5eed1234);
  struct es__pf_builder *b = es__pf_builder_new();
  ASSERT(b != NULL);
  for (size_t i = 0; i < NLITS; i++) {
    /* mostly long literals (rare matches), some short ones (frequent) */
    lens[i] = 1 + prng_below(prng_below(4) == 0 ? 4 : 11);
    for (size_t j = 0; j < lens[i]; j++) lits[i][j] = alphabet[prng_below((uint32_t)asize)];
    idof[i] = prng_below(NIDS);
    ASSERT_EQ(es__pf_add(b, lits[i], lens[i], idof[i]), 0);
  }
  struct es__pf *pf = NULL;
  ASSERT_EQ(es__pf_build(b, NIDS, &pf), 0);
  es__pf_builder_free(b);

  char text[400];
  size_t total_found = 0;
  for (int t = 0; t < NTEXTS; t++) {
    size_t tlen = prng_below(sizeof text);
    for (size_t j = 0; j < tlen; j++) text[j] = alphabet[prng_below((uint32_t)asize)];
    memset(expected, 0, NIDS);
    size_t nexpected = 0;
    for (size_t i = 0; i < NLITS; i++) {
      if (expected[idof[i]]) continue;
      if (oracle_has(text, tlen, lits[i], lens[i])) {
        expected[idof[i]] = 1;
        nexpected++;
      }
    }
    struct scan_result r = scan(pf, text, tlen);
    ASSERT_EQ(r.n, nexpected);
    for (size_t i = 0; i < r.n; i++) ASSERT(expected[r.ids[i]]);
    total_found += r.n;
    free(r.ids);
  }
  /* the texts must actually exercise matches */
  ASSERT_GT(total_found, NTEXTS);
  es__pf_free(pf);
  free(expected);
  free(idof);
  free(lens);
  free(lits);
}

int main(void) {
  (void)es_test_failures_;
  RUN(test_errors);
  RUN(test_empty);
  RUN(test_basic);
  RUN(test_overlaps);
  RUN(test_shared_ids);
  RUN(test_high_bytes);
  RUN(test_every_position);
  RUN(test_scratch_reuse);
  RUN(test_random_vs_oracle);
  return 0;
}
