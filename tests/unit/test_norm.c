/*
 * test_norm.c: the normalisation of norm.h, span mapping back to the
 * original bytes, and UTF-8 validation.
 */
#include "norm.h"

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "task.h"

/* Normalises a NUL-terminated string and compares with `want`; also checks
 * the documented bound (output never longer than input + 2). */
static void expect_norm_(const char *file, int line, const char *in, size_t len,
                         const char *want) {
  char *out = malloc(len + 2);
  size_t n;

  ASSERT(out != NULL);
  n = es_norm(in, len, out);
  if (n > len + 2 || n != strlen(want) || memcmp(out, want, n) != 0) {
    fprintf(stderr, "%s:%d: es_norm(\"%.*s\") gave \"%.*s\" (%zu bytes), want \"%s\"\n", file,
            line, (int)len, in, (int)(n <= len + 2 ? n : 0), out, n, want);
    abort();
  }
  free(out);
}
#define EXPECT_NORM(in, want) expect_norm_(__FILE__, __LINE__, in, strlen(in), want)

static void test_case_and_ascii(void) {
  EXPECT_NORM("Hello World", " hello world ");
  EXPECT_NORM("THAT IS OUR POLICY", " that is our policy ");
  EXPECT_NORM("abc XYZ 0123456789", " abc xyz 0123456789 ");
  EXPECT_NORM("MiXeD123CaSe", " mixed123case ");
  EXPECT_NORM("x", " x ");
}

static void test_apostrophes_deleted(void) {
  EXPECT_NORM("that's", " thats ");
  EXPECT_NORM("that`s", " thats ");
  EXPECT_NORM("that\xE2\x80\x98s", " thats ");   /* U+2018 */
  EXPECT_NORM("that\xE2\x80\x99s", " thats ");   /* U+2019 */
  EXPECT_NORM("that\xCA\xBCs", " thats ");       /* U+02BC */
  EXPECT_NORM("that\xC2\xB4s", " thats ");       /* U+00B4 */
  EXPECT_NORM("thats", " thats ");
  /* Deleted, not a break: no space appears where an apostrophe was, even
   * at the edges of a word or in a run of them. */
  EXPECT_NORM("'quoted'", " quoted ");
  EXPECT_NORM("\xE2\x80\x98quoted\xE2\x80\x99", " quoted ");
  EXPECT_NORM("dogs' toys", " dogs toys ");
  EXPECT_NORM("rock''n''roll", " rocknroll ");
  EXPECT_NORM("'", " ");
}

static void test_ascii_punctuation_breaks(void) {
  EXPECT_NORM("a,b.c-d", " a b c d ");
  EXPECT_NORM("follow-up", " follow up ");
  EXPECT_NORM("a!b?c;d:e", " a b c d e ");
  EXPECT_NORM("a\"b(c)d[e]f{g}h", " a b c d e f g h ");
  EXPECT_NORM("a/b\\c|d@e#f$g%h^i&j*k+l=m<n>o~p_q", " a b c d e f g h i j k l m n o p q ");
  EXPECT_NORM("tab\there\nnewline\rcr", " tab here newline cr ");
  EXPECT_NORM("ctl\x01\x1f\x7f" "end", " ctl end ");
}

static void test_unicode_breaks(void) {
  EXPECT_NORM("a\xC2\xA0" "b", " a b ");          /* U+00A0 no-break space */
  EXPECT_NORM("\xC2\xA1" "hola!", " hola ");      /* U+00A1 inverted ! */
  EXPECT_NORM("\xC2\xAB" "oui\xC2\xBB", " oui "); /* U+00AB, U+00BB guillemets */
  EXPECT_NORM("\xC2\xBFqu\xC3\xA9?", " qu\xC3\xA9 "); /* U+00BF */
  EXPECT_NORM("a\xE2\x80\x80" "b", " a b ");      /* U+2000 en quad */
  EXPECT_NORM("wait\xE2\x80\x94what", " wait what "); /* U+2014 em dash */
  EXPECT_NORM("\xE2\x80\x9Cquoted\xE2\x80\x9D", " quoted "); /* U+201C, U+201D */
  EXPECT_NORM("so\xE2\x80\xA6" "anyway", " so anyway ");    /* U+2026 ellipsis */
  EXPECT_NORM("a\xE2\x81\xAF" "b", " a b ");      /* U+206F, end of the range */
  EXPECT_NORM("a\xE3\x80\x80" "b", " a b ");      /* U+3000 ideographic space */
  /* Just outside the break ranges: copied as word characters. */
  EXPECT_NORM("a\xE1\xBF\xBF" "b", " a\xE1\xBF\xBF" "b ");  /* U+1FFF */
  EXPECT_NORM("a\xE2\x81\xB0" "b", " a\xE2\x81\xB0" "b ");  /* U+2070 */
  EXPECT_NORM("a\xC2\xA2" "b", " a\xC2\xA2" "b ");          /* U+00A2 cent sign */
}

static void test_runs_and_padding(void) {
  EXPECT_NORM("a  ,,  b", " a b ");
  EXPECT_NORM("  leading", " leading ");
  EXPECT_NORM("trailing...  ", " trailing ");
  EXPECT_NORM("...both!!!", " both ");
  EXPECT_NORM("a \xE2\x80\x94 \xC2\xA0 \xE3\x80\x80 b", " a b ");
  EXPECT_NORM("one, two; three", " one two three ");
}

static void test_empty_line(void) {
  char out[4] = {'x', 'x', 'x', 'x'};
  size_t n = es_norm("", 0, out);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(out[0], ' ');
  /* A line with no word at all is the empty line too. */
  EXPECT_NORM(" ", " ");
  EXPECT_NORM("...", " ");
  EXPECT_NORM("''", " ");
  EXPECT_NORM(" \xE2\x80\x94 ", " ");
}

static void test_non_ascii_copied(void) {
  /* No Unicode case folding: upper-case non-ASCII stays as it is. */
  EXPECT_NORM("Caf\xC3\xA9 \xC3\x9C" "BER", " caf\xC3\xA9 \xC3\x9c" "ber ");
  EXPECT_NORM("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", " \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E ");
  EXPECT_NORM("ok \xF0\x9F\x98\x80!", " ok \xF0\x9F\x98\x80 ");  /* 4-byte */
  EXPECT_NORM("na\xC3\xAFve", " na\xC3\xAFve ");
}

static void test_ascii_lookalikes_folded(void) {
  /* PCRE2 matches U+017F and U+212A caselessly as s and k; the normaliser
   * writes them so, so that the prefilter sees what the regexes match. */
  EXPECT_NORM("\xC5\xBForry", " sorry ");
  EXPECT_NORM("o\xE2\x84\xAA!", " ok ");
  EXPECT_NORM("\xE2\x84\xAA\xC5\xBF", " ks ");
  /* Other look-alikes are not folded. */
  EXPECT_NORM("\xC4\xB0stanbul \xC4\xB1", " \xC4\xB0stanbul \xC4\xB1 ");
}

static void test_length_bound(void) {
  /* Worst cases for growth: a single word char, alternating word/break. */
  static const char *const inputs[] = {"a", "a b", "a.b.c.d", "\xC3\xA9", ".a.", ""};
  for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
    char out[32];
    size_t len = strlen(inputs[i]);
    ASSERT_LE(es_norm(inputs[i], len, out), len + 2);
  }
}

/* Finds normalised `word` in the normalisation of `text`, maps it back and
 * checks that the original span is text[want_start..want_end). */
static void expect_span_(const char *file, int line, const char *text, const char *nword,
                         size_t want_start, size_t want_end) {
  size_t len = strlen(text), s = 99999, e = 99999;
  char *out = malloc(len + 3);
  size_t n;
  const char *hit;

  ASSERT(out != NULL);
  n = es_norm(text, len, out);
  out[n] = '\0';
  hit = strstr(out, nword);
  if (hit == NULL) {
    fprintf(stderr, "%s:%d: \"%s\" not in normalised \"%s\"\n", file, line, nword, out);
    abort();
  }
  es_norm_span(text, len, (size_t)(hit - out), (size_t)(hit - out) + strlen(nword), &s, &e);
  if (s != want_start || e != want_end) {
    fprintf(stderr, "%s:%d: span of \"%s\" in \"%s\" is [%zu,%zu) \"%.*s\", want [%zu,%zu) \"%.*s\"\n",
            file, line, nword, text, s, e, (int)(e >= s && e <= len ? e - s : 0),
            text + (s <= len ? s : 0), want_start, want_end, (int)(want_end - want_start),
            text + want_start);
    abort();
  }
  free(out);
}
#define EXPECT_SPAN(text, nword, s, e) expect_span_(__FILE__, __LINE__, text, nword, s, e)

static void test_span_ascii(void) {
  /*                 0123456789012 */
  EXPECT_SPAN("Hello, World!", "hello", 0, 5);
  EXPECT_SPAN("Hello, World!", "world", 7, 12);
  /* A span across a break covers the original punctuation and spaces. */
  EXPECT_SPAN("Hello, World!", "hello world", 0, 12);
  EXPECT_SPAN("  so -- what", "so what", 2, 12);
  /* Apostrophes inside the span are included; ones outside are not. */
  EXPECT_SPAN("I said that's our policy.", "thats our policy", 7, 24);
  EXPECT_SPAN("'quoted' text", "quoted", 1, 7);
}

static void test_span_multibyte(void) {
  /* Multi-byte characters inside the span. */
  EXPECT_SPAN("le caf\xC3\xA9 au lait", "caf\xC3\xA9 au", 3, 11);
  /* ... at the start and at the end of the span. */
  EXPECT_SPAN("\xC3\xBC" "ber alles", "\xC3\xBC" "ber", 0, 5);
  EXPECT_SPAN("x caf\xC3\xA9", "caf\xC3\xA9", 2, 7);
  EXPECT_SPAN("a \xE6\x97\xA5\xE6\x9C\xAC b", "\xE6\x97\xA5\xE6\x9C\xAC", 2, 8);
  EXPECT_SPAN("hi \xF0\x9F\x98\x80 there", "\xF0\x9F\x98\x80 there", 3, 13);
  /* Multi-byte breaks right before and after the span are not part of it. */
  EXPECT_SPAN("\xC2\xA1" "Hola!", "hola", 2, 6);
  EXPECT_SPAN("\xE2\x80\x9Cquoted\xE2\x80\x9D", "quoted", 3, 9);
  EXPECT_SPAN("wait\xE2\x80\x94what", "what", 7, 11);
  /* ... but inside the span they are. */
  EXPECT_SPAN("wait\xE2\x80\x94what", "wait what", 0, 11);
}

static void test_span_curly_apostrophes(void) {
  /* "That’s our policy": ’ is 3 bytes at offset 4. */
  EXPECT_SPAN("That\xE2\x80\x99s our policy", "thats our policy", 0, 19);
  EXPECT_SPAN("well That\xE2\x80\x99s it", "thats", 5, 13);
  /* A curly apostrophe right after the span is not included... */
  EXPECT_SPAN("the dogs\xE2\x80\x99 toys", "dogs", 4, 8);
  /* ...nor one right before it. */
  EXPECT_SPAN("\xE2\x80\x98" "hello\xE2\x80\x99", "hello", 3, 8);
  /* Several apostrophe kinds inside one span. */
  EXPECT_SPAN("we can\xCA\xBCt, won\xC2\xB4t do it", "cant wont", 3, 17);
}

static void test_span_folded(void) {
  /* A folded character is one normalised byte for two or three input bytes. */
  EXPECT_SPAN("\xC5\xBFtop it", "stop", 0, 5);
  EXPECT_SPAN("\xC5\xBFtop it", "it", 6, 8);
  EXPECT_SPAN("o\xE2\x84\xAA now", "ok now", 0, 8);
  EXPECT_SPAN("yes o\xE2\x84\xAA", "ok", 4, 8);
}

static void test_span_padding(void) {
  const char *t = "...hi!";
  size_t s, e;
  char out[16];
  size_t n = es_norm(t, strlen(t), out);

  ASSERT_MEM_EQ(out, n, " hi ", 4);
  /* The padding spaces map to 0 and len. */
  es_norm_span(t, strlen(t), 0, n, &s, &e);
  ASSERT_EQ(s, 0);
  ASSERT_EQ(e, strlen(t));
  es_norm_span(t, strlen(t), 1, 3, &s, &e);
  ASSERT_EQ(s, 3);
  ASSERT_EQ(e, 5);
}

static void test_utf8_valid(void) {
  struct {
    const char *s;
    size_t len;
    int ok;
  } cases[] = {
    {"", 0, 1},
    {"plain ascii", 11, 1},
    {"\xC2\x80", 2, 1},                 /* U+0080 */
    {"\xDF\xBF", 2, 1},                 /* U+07FF */
    {"\xE0\xA0\x80", 3, 1},             /* U+0800 */
    {"\xED\x9F\xBF", 3, 1},             /* U+D7FF */
    {"\xEE\x80\x80", 3, 1},             /* U+E000 */
    {"\xEF\xBF\xBF", 3, 1},             /* U+FFFF */
    {"\xF0\x90\x80\x80", 4, 1},         /* U+10000 */
    {"\xF0\x9F\x98\x80", 4, 1},         /* U+1F600 */
    {"\xF4\x8F\xBF\xBF", 4, 1},         /* U+10FFFF */
    {"a\xE2\x80\x99" "b\xF0\x9F\x98\x80" "c", 9, 1},
    /* overlongs */
    {"\xC0\x80", 2, 0},
    {"\xC1\xBF", 2, 0},
    {"\xE0\x80\x80", 3, 0},
    {"\xE0\x9F\xBF", 3, 0},
    {"\xF0\x80\x80\x80", 4, 0},
    {"\xF0\x8F\xBF\xBF", 4, 0},
    /* surrogates */
    {"\xED\xA0\x80", 3, 0},
    {"\xED\xBF\xBF", 3, 0},
    {"\xED\xB0\x80", 3, 0},
    /* above U+10FFFF */
    {"\xF4\x90\x80\x80", 4, 0},
    {"\xF5\x80\x80\x80", 4, 0},
    {"\xF7\xBF\xBF\xBF", 4, 0},
    {"\xF8\x88\x80\x80\x80", 5, 0},
    /* truncated sequences, at the end and in the middle */
    {"\xC3", 1, 0},
    {"\xE2\x80", 2, 0},
    {"\xF0\x9F\x98", 3, 0},
    {"a\xE2\x80" "b", 4, 0},
    {"\xF0\x9F\x98" "a", 4, 0},
    {"\xE2\x28\xA1", 3, 0},
    /* stray continuation bytes and impossible bytes */
    {"\x80", 1, 0},
    {"a\xBF", 2, 0},
    {"\xFE", 1, 0},
    {"\xFF", 1, 0},
    /* NUL */
    {"\0", 1, 0},
    {"a\0b", 3, 0},
    {"abc\0", 4, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int got = es_utf8_valid(cases[i].s, cases[i].len);
    if (got != cases[i].ok) {
      fprintf(stderr, "case %zu: es_utf8_valid gave %d, want %d\n", i, got, cases[i].ok);
      ASSERT_EQ(got, cases[i].ok);
    }
  }
  /* Length is honoured: bytes past len are not looked at. */
  ASSERT_EQ(es_utf8_valid("ab\xFF", 2), 1);
  ASSERT_EQ(es_utf8_valid("\xE2\x80\x99", 2), 0);
}

size_t es__norm_walk(const char *text, size_t len, char *out);

/* es_norm has its own fast loop; it must agree with the general walk that
 * es_norm_span uses, byte for byte, on any valid input. */
static void test_fast_loop_matches_walk(void) {
  static const char *const pieces[] = {
    "a", "Z", "9", " ", "  ", ".", ",", "'", "`", "!!", "\t", "\n", "-", "\xc3\xa9", "\xc3\x89",
    "\xe2\x80\x99", "\xe2\x80\x98", "\xca\xbc", "\xc2\xb4", "\xc2\xa0", "\xe2\x80\x94",
    "\xe3\x80\x80", "\xc5\xbf", "\xe2\x84\xaa", "\xf0\x9f\x98\x80", "\xe4\xb8\xad", "\xc2\xbf",
    "that", "S", "ok", "\x01",
    /* words long enough that es_norm's sixteen-byte blocks take them */
    "manager", "SPEAK TO", "0123456789", "Broadband ", "please ", "@[{`", "AZaz09/:",
  };
  uint64_t x = 0x2545F4914F6CDD1DULL;
  char in[256], a[300], b[300];
  for (int round = 0; round < 200000; round++) {
    size_t n = 0;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    int parts = (int)(x % 40);
    for (int k = 0; k < parts; k++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      const char *p = pieces[x % (sizeof(pieces) / sizeof(pieces[0]))];
      size_t l = strlen(p);
      if (n + l >= sizeof(in))
        break;
      memcpy(in + n, p, l);
      n += l;
    }
    size_t la = es_norm(in, n, a), lb = es__norm_walk(in, n, b);
    ASSERT_MEM_EQ(a, la, b, lb);
  }
}

int main(void) {
  RUN(test_fast_loop_matches_walk);
  RUN(test_case_and_ascii);
  RUN(test_apostrophes_deleted);
  RUN(test_ascii_punctuation_breaks);
  RUN(test_unicode_breaks);
  RUN(test_runs_and_padding);
  RUN(test_empty_line);
  RUN(test_non_ascii_copied);
  RUN(test_ascii_lookalikes_folded);
  RUN(test_length_bound);
  RUN(test_span_ascii);
  RUN(test_span_multibyte);
  RUN(test_span_curly_apostrophes);
  RUN(test_span_folded);
  RUN(test_span_padding);
  RUN(test_utf8_valid);
  (void)es_test_failures_;
  fprintf(stderr, "test_norm: all passed\n");
  return 0;
}
