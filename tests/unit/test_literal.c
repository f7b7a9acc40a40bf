/*
 * test_literal.c: anchor-set extraction, against a table of patterns and
 * against PCRE2 itself on random patterns and texts.
 */
#include "literal.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "task.h"
#include "../prng.h"


static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Formats a set as "{a|b|c}" (sorted) or "none", for comparison. */
static void format_set(const struct es__litset *s, char *buf, size_t cap) {
  if (s->n == 0) {
    snprintf(buf, cap, "none");
    return;
  }
  char **sorted = malloc(s->n * sizeof(char *));
  ASSERT(sorted != NULL);
  memcpy(sorted, s->lits, s->n * sizeof(char *));
  qsort(sorted, s->n, sizeof(char *), cmp_str);
  size_t len = 0;
  buf[len++] = '{';
  for (size_t i = 0; i < s->n; i++) {
    int w = snprintf(buf + len, cap - len, "%s%s", i ? "|" : "", sorted[i]);
    ASSERT(w >= 0 && (size_t)w < cap - len);
    len += (size_t)w;
  }
  ASSERT(len + 2 <= cap);
  buf[len++] = '}';
  buf[len] = '\0';
  free(sorted);
}

/* Checks the invariants every set must hold. */
static void check_set_shape(const struct es__litset *s) {
  ASSERT_LE(s->n, ES_LITSET_MAX);
  for (size_t i = 0; i < s->n; i++) {
    ASSERT(s->lits[i] != NULL);
    ASSERT_EQ(strlen(s->lits[i]), s->lens[i]);
    ASSERT_GT(s->lens[i], 0);
    for (size_t j = 0; j < s->lens[i]; j++) {
      unsigned char c = (unsigned char)s->lits[i][j];
      ASSERT_LT(c, 0x80);
      ASSERT(!(c >= 'A' && c <= 'Z'));
    }
  }
}

static void expect(const char *pattern, const char *expected) {
  struct es__litset s;
  char got[4096];
  ASSERT_EQ(es__lit_from_pattern(pattern, &s), 0);
  check_set_shape(&s);
  format_set(&s, got, sizeof got);
  if (strcmp(got, expected) != 0)
    fprintf(stderr, "pattern /%s/: got %s, expected %s\n", pattern, got, expected);
  ASSERT_STR_EQ(got, expected);
  es__litset_free(&s);
}

static void test_table(void) {
  /* plain literals, case, escaped punctuation */
  expect("sue", "{sue}");
  expect("SuE", "{sue}");
  expect("calm down", "{calm down}");
  expect("\\.\\-\\ x\\?", "{.- x?}");
  expect("a]b}c#d", "{a]b}c#d}");
  expect("", "none");

  /* word boundaries, anchors, one-character atoms break runs */
  expect("\\bsue\\b", "{sue}");
  expect("^sue$", "{sue}");
  expect("calm\\s+down", "{calm}");
  expect("calm\\s*downs", "{downs}");
  expect("a.bc", "{bc}");
  expect("[sue]ing", "{ing}");
  expect("[^a]bc", "{bc}");
  expect("[]x]yz", "{yz}");
  expect("[^]x]yz", "{yz}");
  expect("[[:alpha:]]abc", "{abc}");
  expect("[[:^digit:]x]abc", "{abc}");
  expect("[\\]]abc", "{abc}");
  expect("[a[]abc", "{abc}");
  expect("[|)(]abc", "{abc}");
  expect("\\d\\w\\W\\D\\S\\s", "none");
  expect("\\Asue\\z", "{sue}");

  /* quantifiers */
  expect("colou?r", "{colo}");
  expect("ab+cd", "{ab}");
  expect("ab+?cde", "{cde}");
  expect("ab++cde", "{cde}");
  expect("abc*", "{ab}");
  expect("abc{0}d", "{ab}");
  expect("abc{0,2}d", "{ab}");
  expect("abc{2}d", "{abc}");
  expect("abc{1,}d", "{abc}");
  expect("abc{1,5}?d", "{abc}");
  expect("a?", "none");
  expect("a*b*", "none");
  expect("(ab)+", "{ab}");
  expect("(ab)*", "none");
  expect("(ab)?c", "{c}");
  expect("(ab){0}c", "{c}");
  expect("(abc){2}x", "{abc}");
  expect("(abc){0,3}x", "{x}");
  expect("[ab]+cd", "{cd}");
  expect("don'?t", "{don}");

  /* alternation and groups */
  expect("lawyer|attorney", "{attorney|lawyer}");
  expect("(?:lawyer|attorney)", "{attorney|lawyer}");
  expect("lawyer|", "none");
  expect("|lawyer", "none");
  expect("lawyer|a*", "none");
  expect("(lawyer|)", "none");
  expect("(lawyer|)x", "{x}");
  expect("speak (to|with) (your|a) (manager|supervisor)",
         "{speak to a manager|speak to a supervisor|speak to your manager|speak to your supervisor|"
         "speak with a manager|speak with a supervisor|speak with your manager|speak with your supervisor}");
  expect("thats (our|the) policy", "{thats our policy|thats the policy}");
  expect("(?<a>lawyer)|(?P<b>court)|(?'c'judge)", "{court|judge|lawyer}");
  expect("abc|abcd|xabcx", "{abc}");
  expect("((a|b)c|d(e|f))", "{ac|bc|de|df}");
  expect("(((((deep)))))", "{deep}");
  expect("x(?:)y", "{xy}");

  /* lookarounds contribute nothing */
  expect("(?=sue)x", "{x}");
  expect("(?!sue)abc", "{abc}");
  expect("(?<=no )sue", "{sue}");
  expect("(?<!not )sue", "{sue}");
  expect("(?=abcdef)", "none");
  expect("(?=a)?bc", "{bc}");
  expect("(?=(?i)a)bc", "none"); /* still read, and not understood */

  /* things we do not understand: no anchors at all */
  expect("(?i)sue", "none");
  expect("sue(?i)", "none");
  expect("(?#comment)sue", "none");
  expect("(*UTF)sue", "none");
  expect("(?>sue)", "none");
  expect("(?|a|b)", "none");
  expect("(?(1)a|b)sue", "none");
  expect("(a)\\1sue", "none");
  expect("(?<n>a)\\k<n>sue", "none");
  expect("(?P=n)sue", "none");
  expect("(?R)sue", "none");
  expect("\\Qsue\\E", "none");
  expect("sue\\E", "none");
  expect("\\x41sue", "none");
  expect("\\p{L}sue", "none");
  expect("\\gsue", "none");
  expect("\\Nsue", "none");
  expect("\\Rsue", "none");
  expect("\\Xsue", "none");
  expect("\\hsue", "none");
  expect("\\vsue", "none");
  expect("\\casue", "none");
  expect("\\esue", "none");
  expect("\\o{101}sue", "none");
  expect("\\101sue", "none");
  expect("\\0sue", "none");
  expect("sue\\K", "none");
  expect("\\tsue", "none");
  expect("caf\xc3\xa9", "none");
  expect("sue|caf\xc3\xa9", "none");
  expect("[\xc3\xa9]sue", "none");
  expect("[\\c]]sue", "none");
  expect("[\\Q]\\E]sue", "none");
  expect("[[:alpha]sue", "none");
  expect("[abc", "none");
  expect("sue\\", "none");

  /* quantifier forms whose meaning changed across PCRE2 versions, and
   * compile errors */
  expect("a{,3}bcd", "none");
  expect("a{2, 3}bcd", "none");
  expect("a{ 2 }bcd", "none");
  expect("x{bcd", "none");
  expect("{2}bcd", "none");
  expect("*bcd", "none");
  expect("bcd**", "none");
  expect("bcd+++", "none");
  expect("a{2}{3}bcd", "none");
  expect("^*bcd", "none");
  expect("\\b+bcd", "none");
  expect("sue)", "none");
  expect("(sue", "none");
  expect(")", "none");
}

static void test_limits(void) {
  /* ES_LITSET_MAX alternatives are fine, one more is too many */
  char pattern[2048];
  size_t len = 0;
  for (int i = 0; i < ES_LITSET_MAX; i++)
    len += (size_t)snprintf(pattern + len, sizeof pattern - len, "%sw%02d", i ? "|" : "", i);
  struct es__litset s;
  ASSERT_EQ(es__lit_from_pattern(pattern, &s), 0);
  ASSERT_EQ(s.n, ES_LITSET_MAX);
  es__litset_free(&s);
  ASSERT_EQ(s.n, 0);
  snprintf(pattern + len, sizeof pattern - len, "|w99");
  ASSERT_EQ(es__lit_from_pattern(pattern, &s), 0);
  ASSERT_EQ(s.n, 0);
  es__litset_free(&s);

  /* a group with too many alternatives is skipped, not fatal */
  char with_run[2100];
  snprintf(with_run, sizeof with_run, "(%s)x", pattern);
  expect(with_run, "{x}");

  /* nesting deeper than PCRE2 allows */
  char deep[1200];
  len = 0;
  for (int i = 0; i < 300; i++) deep[len++] = '(';
  deep[len++] = 'a';
  for (int i = 0; i < 300; i++) deep[len++] = ')';
  deep[len] = '\0';
  expect(deep, "none");

  /* a long run */
  static char longpat[100001];
  memset(longpat, 'q', 100000);
  longpat[100000] = '\0';
  ASSERT_EQ(es__lit_from_pattern(longpat, &s), 0);
  ASSERT_EQ(s.n, 1);
  ASSERT_EQ(s.lens[0], 100000);
  es__litset_free(&s);

  /* NULL, and freeing twice */
  ASSERT_EQ(es__lit_from_pattern(NULL, &s), 0);
  ASSERT_EQ(s.n, 0);
  es__litset_free(&s);
  es__litset_free(&s);
  es__litset_free(NULL);
}

/* ---- property test: random patterns against PCRE2 ---- */

struct gen {
  char buf[512];
  size_t len;
  int names; /* named groups so far: names must be unique */
  int ok;    /* the pattern fitted in buf */
};

static void emit(struct gen *g, const char *s) {
  size_t n = strlen(s);
  if (g->len + n + 1 > sizeof g->buf) {
    g->ok = 0;
    return;
  }
  memcpy(g->buf + g->len, s, n);
  g->len += n;
  g->buf[g->len] = '\0';
}

static void gen_alternation(struct gen *g, int depth);

static void gen_quant(struct gen *g) {
  static const char *const quants[] = {"?", "*", "+", "{0}", "{1}", "{2}", "{0,2}", "{1,}", "{2,3}", "{0,}"};
  if (prng_below(3) != 0) return;
  emit(g, quants[prng_below(sizeof quants / sizeof quants[0])]);
  uint32_t suffix = prng_below(6);
  if (suffix == 0) emit(g, "?");
  if (suffix == 1) emit(g, "+");
}

static void gen_item(struct gen *g, int depth) {
  static const char *const chars[] = {"a", "b", "c", " ", "A", "B", "\\ ", "ab", "ba"};
  static const char *const single[] = {".", "[ab]", "[^a]", "[ c]", "[]a]", "[[:alpha:]]",
                                       "\\s", "\\w", "\\d", "\\S", "[^]b]"};
  static const char *const zero[] = {"\\b", "\\B", "^", "$"};
  static const char *const opens[] = {"(", "(?:", "(?<n%d>", "(?P<n%d>", "(?'n%d'"};
  static const char *const looks[] = {"(?=", "(?!", "(?<=", "(?<!"};
  uint32_t kind = prng_below(depth < 3 ? 10 : 7);
  if (kind < 4) {
    emit(g, chars[prng_below(sizeof chars / sizeof chars[0])]);
    gen_quant(g);
  } else if (kind < 5) {
    emit(g, single[prng_below(sizeof single / sizeof single[0])]);
    gen_quant(g);
  } else if (kind < 7) {
    emit(g, zero[prng_below(sizeof zero / sizeof zero[0])]);
  } else if (kind < 9) {
    char open[16];
    snprintf(open, sizeof open, opens[prng_below(sizeof opens / sizeof opens[0])], g->names++);
    emit(g, open);
    gen_alternation(g, depth + 1);
    emit(g, ")");
    gen_quant(g);
  } else {
    emit(g, looks[prng_below(sizeof looks / sizeof looks[0])]);
    gen_alternation(g, depth + 1);
    emit(g, ")");
    if (prng_below(4) == 0) emit(g, "?");
  }
}

static void gen_sequence(struct gen *g, int depth) {
  uint32_t n = prng_below(6);
  for (uint32_t i = 0; i < n; i++) gen_item(g, depth);
}

static void gen_alternation(struct gen *g, int depth) {
  gen_sequence(g, depth);
  while (prng_below(4) == 0) {
    emit(g, "|");
    gen_sequence(g, depth);
  }
}

static int span_has_anchor(const struct es__litset *s, const char *text, size_t start, size_t end) {
  for (size_t i = 0; i < s->n; i++) {
    for (size_t p = start; p + s->lens[i] <= end; p++)
      if (memcmp(text + p, s->lits[i], s->lens[i]) == 0) return 1;
  }
  return 0;
}

static void fail_span(const char *pattern, const struct es__litset *s, const char *text,
                      size_t start, size_t end) {
  char set[4096];
  format_set(s, set, sizeof set);
  ES_FAIL_("/%s/ matched \"%.*s\" in \"%s\" without any anchor of %s", pattern,
           (int)(end - start), text + start, text, set);
}

static void test_random_patterns(void) {
  enum { NPATTERNS = 16000, NTEXTS = 24, DFA_WORKSPACE = 1000 };
  static const char alphabet[] = "ab c";
  size_t compiled = 0, with_anchors = 0, with_second = 0, matches_checked = 0;
  pcre2_match_data *md = pcre2_match_data_create(32, NULL);
  pcre2_match_data *dfa_md = pcre2_match_data_create(64, NULL);
  int workspace[DFA_WORKSPACE];
  /* Random nests of quantifiers backtrack catastrophically; a match that
   * hits the limit is simply not checked. */
  pcre2_match_context *mctx = pcre2_match_context_create(NULL);
  ASSERT(md != NULL && dfa_md != NULL && mctx != NULL);
  pcre2_set_match_limit(mctx, 20000);
  pcre2_set_depth_limit(mctx, 2000);
  prng_seed(0xea25407);

  for (int i = 0; i < NPATTERNS; i++) {
    struct gen g;
    g.len = 0;
    g.buf[0] = '\0';
    g.names = 0;
    g.ok = 1;
    gen_alternation(&g, 0);
    if (!g.ok) continue;

    struct es__litset s, also;
    ASSERT_EQ(es__lit_from_pattern2(g.buf, &s, &also), 0);
    check_set_shape(&s);
    check_set_shape(&also);
    if (also.n > 0) {
      ASSERT_GT(s.n, 0);
      /* independent: no literal of one contains one of the other */
      for (size_t a = 0; a < s.n; a++)
        ASSERT(!span_has_anchor(&also, s.lits[a], 0, s.lens[a]));
      for (size_t b = 0; b < also.n; b++)
        ASSERT(!span_has_anchor(&s, also.lits[b], 0, also.lens[b]));
    }
    /* the one-set form gives the same first set */
    {
      struct es__litset one;
      char x[4096], y[4096];
      ASSERT_EQ(es__lit_from_pattern(g.buf, &one), 0);
      format_set(&one, x, sizeof x);
      format_set(&s, y, sizeof y);
      ASSERT_STR_EQ(x, y);
      es__litset_free(&one);
    }

    int errcode;
    PCRE2_SIZE erroff;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)g.buf, PCRE2_ZERO_TERMINATED,
                                     PCRE2_CASELESS | PCRE2_UTF, &errcode, &erroff, NULL);
    if (code == NULL) { /* e.g. a lookbehind of variable length */
      es__litset_free(&s);
      es__litset_free(&also);
      continue;
    }
    compiled++;
    if (s.n > 0) with_anchors++;
    if (also.n > 0) with_second++;

    for (int t = 0; t < NTEXTS && s.n > 0; t++) {
      char text[40];
      size_t tlen = prng_below(sizeof text);
      for (size_t j = 0; j < tlen; j++) text[j] = alphabet[prng_below(sizeof alphabet - 1)];
      text[tlen] = '\0';
      /* Every start offset: the match PCRE2 prefers there, and every
       * match the DFA matcher finds anchored there (all lengths). */
      for (size_t start = 0; start <= tlen; start++) {
        int rc = pcre2_match(code, (PCRE2_SPTR)text, tlen, start, PCRE2_ANCHORED, md, mctx);
        if (rc > 0) {
          PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
          matches_checked++;
          if (!span_has_anchor(&s, text, ov[0], ov[1])) fail_span(g.buf, &s, text, ov[0], ov[1]);
          if (also.n > 0 && !span_has_anchor(&also, text, ov[0], ov[1]))
            fail_span(g.buf, &also, text, ov[0], ov[1]);
        }
        rc = pcre2_dfa_match(code, (PCRE2_SPTR)text, tlen, start, PCRE2_ANCHORED, dfa_md, mctx,
                             workspace, DFA_WORKSPACE);
        if (rc == 0) rc = (int)pcre2_get_ovector_count(dfa_md); /* it holds the longest */
        for (int m = 0; m < rc; m++) {
          PCRE2_SIZE *ov = pcre2_get_ovector_pointer(dfa_md);
          matches_checked++;
          if (!span_has_anchor(&s, text, ov[2 * m], ov[2 * m + 1]))
            fail_span(g.buf, &s, text, ov[2 * m], ov[2 * m + 1]);
          if (also.n > 0 && !span_has_anchor(&also, text, ov[2 * m], ov[2 * m + 1]))
            fail_span(g.buf, &also, text, ov[2 * m], ov[2 * m + 1]);
        }
      }
    }
    pcre2_code_free(code);
    es__litset_free(&s);
    es__litset_free(&also);
  }
  pcre2_match_context_free(mctx);
  pcre2_match_data_free(dfa_md);
  pcre2_match_data_free(md);
  fprintf(stderr, "   %zu patterns compiled, %zu with anchors, %zu with two sets, %zu matches checked\n",
          compiled, with_anchors, with_second, matches_checked);
  /* the test must not be vacuous */
  ASSERT_GT(compiled, NPATTERNS / 2);
  ASSERT_GT(with_anchors, compiled / 5);
  ASSERT_GT(with_second, compiled / 50);
  ASSERT_GT(matches_checked, 10000);
}

int main(void) {
  (void)es_test_failures_;
  RUN(test_table);
  RUN(test_limits);
  RUN(test_random_patterns);
  return 0;
}
