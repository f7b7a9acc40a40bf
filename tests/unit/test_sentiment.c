/*
 * test_sentiment.c: VADER-style sentiment (lib/sentiment.h).
 *
 * The package's own demo sentences with the scores its tests expect, each
 * rule on its own, the reported words and their spans, the options, the
 * limits, the lexicon loader's errors, and bytes that are not text.
 * tests/sentiment checks agreement with the package on thousands of lines.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sentiment.h"
#include "task.h"

static struct es_sentiment *model;
static struct es_sentiment_scratch *scratch;

#define ASSERT_NEAR(a, b, eps)                                                                  \
  do {                                                                                          \
    double a_ = (a), b_ = (b);                                                                  \
    if (!(fabs(a_ - b_) <= (eps)))                                                              \
      ES_FAIL_("%s ~ %s (%.6f vs %.6f)", #a, #b, a_, b_);                                      \
  } while (0)

static struct es_sentiment_result score_flags(const char *text, unsigned flags)
{
  struct es_sentiment_result r;
  ASSERT_EQ(es_sentiment_score(model, scratch, text, strlen(text), flags, &r), 0);
  return r;
}

static double compound(const char *text) { return score_flags(text, 0).compound; }

/* The package rounds compound to 4 decimals and the proportions to 3. */
static double round_to(double v, double unit) { return round(v / unit) * unit; }

static void test_package_demo(void)
{
  /* vader-sentiment 1.1.3, tests/SentimentIntensityAnalyzer_tests.js. */
  static const struct {
    const char *text;
    double neg, neu, pos, compound;
  } cases[] = {
    {"VADER is smart, handsome, and funny.", 0.0, 0.254, 0.746, 0.8316},
    {"VADER is not smart, handsome, nor funny.", 0.646, 0.354, 0.0, -0.7424},
    {"VADER is smart, handsome, and funny!", 0.0, 0.248, 0.752, 0.8439},
    {"VADER is very smart, handsome, and funny.", 0.0, 0.299, 0.701, 0.8545},
    {"VADER is VERY SMART, handsome, and FUNNY.", 0.0, 0.246, 0.754, 0.9227},
    {"VADER is VERY SMART, handsome, and FUNNY!!!", 0.0, 0.233, 0.767, 0.9342},
    {"VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!", 0.0, 0.294, 0.706, 0.9469},
    {"The book was good.", 0.0, 0.508, 0.492, 0.4404},
    {"The book was kind of good.", 0.0, 0.657, 0.343, 0.3832},
    {"The plot was good, but the characters are uncompelling and the dialog is not great.",
     0.327, 0.579, 0.094, -0.7042},
    {"At least it isn't a horrible book.", 0.0, 0.637, 0.363, 0.431},
    {"Make sure you :) or :D today!", 0.0, 0.294, 0.706, 0.8633},
    {"Today SUX!", 0.779, 0.221, 0.0, -0.5461},
    {"Today only kinda sux! But I'll get by, lol", 0.179, 0.569, 0.251, 0.2228},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct es_sentiment_result r = score_flags(cases[i].text, 0);
    fprintf(stderr, "   %-60.60s %.4f\n", cases[i].text, r.compound);
    ASSERT_NEAR(round_to(r.compound, 1e-4), cases[i].compound, 1e-9);
    ASSERT_NEAR(round_to(r.neg, 1e-3), cases[i].neg, 1e-9);
    ASSERT_NEAR(round_to(r.neu, 1e-3), cases[i].neu, 1e-9);
    ASSERT_NEAR(round_to(r.pos, 1e-3), cases[i].pos, 1e-9);
  }
}

static void test_rules(void)
{
  /* Valence from the lexicon; neutral text. */
  ASSERT(compound("the service was good") > 0.4);
  ASSERT(compound("the service was terrible") < -0.4);
  ASSERT_NEAR(compound("the postcode is on the letter"), 0, 0);

  /* Negation up to three words back, "n't", and the exact-case rule. */
  ASSERT(compound("it is not good") < 0);
  ASSERT(compound("it isn't good") < 0);
  ASSERT(compound("not really very good") < 0);
  ASSERT(compound("it is NOT good") > 0); /* "NOT" is not in the package's list */

  /* Boosters and dampeners. */
  ASSERT(compound("very good") > compound("good"));
  ASSERT(compound("it was kind of good") < compound("it was good"));
  ASSERT(compound("it was sort of good") < compound("it was good"));
  ASSERT(compound("very bad") < compound("bad"));

  /* Capitals, only when some words are not in capitals. */
  ASSERT(compound("this is GOOD") > compound("this is good"));
  ASSERT_NEAR(compound("THIS IS GOOD"), compound("this is good"), 1e-12);

  /* '!' up to four, '?' from two. */
  ASSERT(compound("good!") > compound("good"));
  ASSERT(compound("good !!!!") > compound("good !!!"));
  ASSERT_NEAR(compound("good !!!!!!"), compound("good !!!!"), 1e-12);
  ASSERT(compound("bad??") < compound("bad?"));
  ASSERT_NEAR(compound("good?"), compound("good"), 1e-12);

  /* "but": half before, one and a half after. */
  ASSERT(compound("the food was good but the service was bad") < 0);
  ASSERT(compound("the food was bad but the service was good") > 0);

  /* "least", "never so". */
  ASSERT(compound("least happy") < 0);
  ASSERT(compound("at least happy") > 0);
  ASSERT(compound("it was never so good") > compound("it was so good"));

  /* Idioms, which the package tries only for a word with three words
   * before it. */
  ASSERT_NEAR(compound("and then you say yeah right"), -0.4588, 5e-5);
  ASSERT(compound("oh yeah right") > 0);
  ASSERT_NEAR(compound("this is the shit"), 0.6124, 5e-5);

  /* The empty text and white space alone. */
  struct es_sentiment_result r = score_flags("", 0);
  ASSERT(r.compound == 0 && r.neg == 0 && r.neu == 0 && r.pos == 0 && r.ntokens == 0);
  r = score_flags(" \t\n ", 0);
  ASSERT(r.compound == 0 && r.neu == 0 && r.nwords == 0);
  /* Words but no valence: all neutral. */
  r = score_flags("hello there", 0);
  ASSERT(r.compound == 0 && r.neu == 1 && r.ntokens == 2);
}

static void test_tokens(void)
{
  /* Punctuation the package strips, and what it keeps. */
  ASSERT(compound("great!") > 0);
  ASSERT(compound("?!?!great") > 0);
  ASSERT_NEAR(compound("...great"), 0, 0);   /* "..." is not in PUNC_LIST */
  ASSERT_NEAR(compound("(great)"), 0, 0);    /* both ends: kept whole, not a word */
  ASSERT_NEAR(compound("great!!!!"), 0, 0);  /* "!!!!" is not in PUNC_LIST */
  /* Unicode white space splits, one-character tokens are dropped. */
  ASSERT(compound("good\xc2\xa0" "day") > 0);                  /* U+00A0 */
  ASSERT(compound("not\xe3\x80\x80" "good") < 0);              /* U+3000 */
  struct es_sentiment_result r = score_flags("\xc3\xa9 good", 0); /* "é" alone: dropped */
  ASSERT_EQ(r.ntokens, 1);
  r = score_flags("\xf0\x9f\x98\x80 good", 0); /* an emoji is two code units: kept */
  ASSERT_EQ(r.ntokens, 2);
  /* U+212A KELVIN SIGN lower-cases to "k" in JavaScript. */
  ASSERT_NEAR(compound("\xe2\x84\xaaind of good"), compound("Kind of good"), 1e-12);
  /* Words longer than 16 bytes (a slower path) and than any key. */
  ASSERT(compound("it was uncontrollable") < 0);
  ASSERT(compound("uncontrollable!") < 0);
  ASSERT_NEAR(compound("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa good"),
              compound("good"), 1e-12);
}

static void test_words(void)
{
  const char *text = "I am NOT happy, the agent was terrible!";
  struct es_sentiment_result r = score_flags(text, 0);
  ASSERT_EQ(r.nwords, 2);
  ASSERT_EQ(r.nscored, 2);
  ASSERT_MEM_EQ(text + r.words[0].start, r.words[0].end - r.words[0].start, "happy", 5);
  ASSERT_MEM_EQ(text + r.words[1].start, r.words[1].end - r.words[1].start, "terrible", 8);
  ASSERT_NEAR(r.words[0].lexicon, 2.7, 1e-12);
  ASSERT(r.words[0].valence > 0); /* "NOT" is not a negation for the package */
  ASSERT_NEAR(r.words[1].lexicon, -2.1, 1e-12);
  ASSERT_NEAR(r.words[1].valence, -2.1, 1e-12); /* "!" adds to the sum, not to the word */

  r = score_flags("i am not happy", 0);
  ASSERT_EQ(r.nwords, 1);
  ASSERT_NEAR(r.words[0].valence, 2.7 * -0.74, 1e-12);

  /* More scored words than reported: the strongest, in text order. */
  char line[4096] = "";
  for (int i = 0; i < 20; i++)
    strcat(line, i == 7 ? "horrible " : "good ");
  r = score_flags(line, 0);
  ASSERT_EQ(r.nscored, 20);
  ASSERT_EQ(r.nwords, ES_SENTIMENT_MAX_WORDS);
  int found_horrible = 0;
  for (size_t i = 0; i < r.nwords; i++) {
    if (i > 0)
      ASSERT(r.words[i].start > r.words[i - 1].start);
    found_horrible |= r.words[i].lexicon < 0;
  }
  ASSERT(found_horrible); /* |-2.5| beats every 1.9 */
}

static void test_flags(void)
{
  /* FOLD_CASE: rule words in any case, no emphasis from capitals. */
  ASSERT_NEAR(score_flags("Good food But bad service", 0).compound, -0.1531, 5e-5);
  ASSERT_NEAR(score_flags("Good food But bad service", ES_SENTIMENT_FOLD_CASE).compound, -0.5859,
              5e-5); /* "But" now halves "Good" and raises "bad" */
  ASSERT(score_flags("it is NOT good", ES_SENTIMENT_FOLD_CASE).compound < 0);
  ASSERT_NEAR(score_flags("this is GOOD", ES_SENTIMENT_FOLD_CASE).compound,
              score_flags("this is good", 0).compound, 1e-12);

  /* APOSTROPHES: "don’t" negates like "don't"; spans stay in the caller's bytes. */
  const char *curly = "i don\xe2\x80\x99t like it, it\xe2\x80\x99s bad";
  ASSERT(score_flags("i don't like it", 0).compound < 0);
  ASSERT(score_flags("i don\xe2\x80\x99t like it", 0).compound > 0);
  struct es_sentiment_result r = score_flags(curly, ES_SENTIMENT_APOSTROPHES);
  ASSERT(r.compound < 0);
  ASSERT_EQ(r.nwords, 2);
  ASSERT_MEM_EQ(curly + r.words[0].start, r.words[0].end - r.words[0].start, "like", 4);
  ASSERT_MEM_EQ(curly + r.words[1].start, r.words[1].end - r.words[1].start, "bad", 3);

  /* PHRASES: the lexicon's multi-word entries. */
  ASSERT_NEAR(score_flags("i am fed up", 0).compound, 0, 0);
  const char *fed_up = "i am so Fed Up with this";
  r = score_flags(fed_up, ES_SENTIMENT_PHRASES);
  ASSERT(r.compound < 0);
  ASSERT_EQ(r.nwords, 1);
  ASSERT_MEM_EQ(fed_up + r.words[0].start, r.words[0].end - r.words[0].start, "Fed Up", 6);
  ASSERT_NEAR(r.words[0].lexicon, -1.8, 1e-12);
  ASSERT(score_flags("i can't stand this", ES_SENTIMENT_ASR).compound < 0);

  /* ASR is all three. */
  ASSERT(score_flags("But i don\xe2\x80\x99t like it", ES_SENTIMENT_ASR).compound < 0);
}

static void test_limits(void)
{
  struct es_sentiment_scratch *small = es_sentiment_scratch_new(16);
  struct es_sentiment_result r;
  ASSERT(small != NULL);
  ASSERT_EQ(es_sentiment_score(model, small, "this is too long a text", 23, 0, &r), ES_ETOOBIG);
  ASSERT(r.compound == 0 && r.nwords == 0 && r.ntokens == 0);
  ASSERT_EQ(es_sentiment_score(model, small, "sixteen bytes ok", 16, 0, &r), 0);
  ASSERT(r.compound > 0);
  ASSERT_EQ(es_sentiment_score(model, small, NULL, 0, 0, &r), 0);
  ASSERT_EQ(es_sentiment_score(model, small, NULL, 3, 0, &r), ES_EINVAL);
  ASSERT_EQ(es_sentiment_score(NULL, small, "x", 1, 0, &r), ES_EINVAL);
  es_sentiment_scratch_free(small);
  ASSERT(es_sentiment_scratch_new((size_t)ES_SENTIMENT_TEXT_MAX + 1) == NULL);
  es_sentiment_scratch_free(NULL);
  es_sentiment_free(NULL);

  /* A text as long as the scratch allows, all words. */
  size_t max = 65536;
  char *big = malloc(max);
  ASSERT(big != NULL);
  /* "bad zz zz ... zz ": 1 + 21844 words. */
  memcpy(big, "bad", 3);
  for (size_t i = 3; i < max; i++)
    big[i] = (i % 3 == 0) ? ' ' : 'z';
  ASSERT_EQ(es_sentiment_score(model, scratch, big, max, 0, &r), 0);
  ASSERT(r.compound < 0);
  ASSERT_EQ(r.ntokens, 1 + (max - 3) / 3);
  ASSERT_EQ(r.nwords, 1);
  free(big);
}

static void test_bytes(void)
{
  /* Anything at all: no crash, same answer twice (the sanitizers watch). */
  uint64_t x = 0x9e3779b97f4a7c15ull;
  char buf[512];
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = (size_t)(x % sizeof buf);
    for (size_t i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      /* Mostly text-like bytes, with every byte value now and then. */
      unsigned v = (unsigned)(x >> 40);
      buf[i] = (char)(v % 5 == 0 ? (v >> 8) & 0xff
                                 : (unsigned char)" abcGOOD!?'.,\xe2\x80\x99\xc2\xa0"[(v >> 8) % 18]);
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    struct es_sentiment_result a, b;
    ASSERT_EQ(es_sentiment_score(model, scratch, buf, len, (unsigned)(iter & 7), &a), 0);
    ASSERT_EQ(es_sentiment_score(model, scratch, buf, len, (unsigned)(iter & 7), &b), 0);
    ASSERT(a.compound == b.compound && a.nwords == b.nwords);
    ASSERT(a.compound >= -1 && a.compound <= 1);
    for (size_t i = 0; i < a.nwords; i++)
      ASSERT(a.words[i].start < a.words[i].end && a.words[i].end <= len);
  }
}

static void test_lexicon_loader(void)
{
  struct es_sentiment *m = NULL;
  struct es_diags d;
  es_diags_init(&d);

  ASSERT_EQ(es_sentiment_keys(model), 7489);

  const char *ok = "happy\t2.5\r\nsad\t-2\n\ngreat deal\t1.5\n";
  ASSERT_EQ(es_sentiment_new(ok, strlen(ok), "test", &d, &m), 0);
  ASSERT_EQ(d.count, 0);
  ASSERT_EQ(es_sentiment_keys(m), 3);
  struct es_sentiment_result r;
  ASSERT_EQ(es_sentiment_score(m, scratch, "so happy", 8, 0, &r), 0);
  ASSERT(r.compound > 0);
  ASSERT_EQ(es_sentiment_score(m, scratch, "a great deal", 12, ES_SENTIMENT_PHRASES, &r), 0);
  ASSERT(r.compound > 0);
  ASSERT_EQ(es_sentiment_score(m, scratch, "terrible", 8, 0, &r), 0);
  ASSERT(r.compound == 0); /* not in this lexicon */
  es_sentiment_free(m);

  const char *bad = "fine\t1\nno tab here\nUpper\t1\nnum\tone\nfine\t2\n"
                    "a  b\t1\nthis key is far longer than thirty-two bytes\t1\n";
  m = (struct es_sentiment *)1;
  ASSERT_EQ(es_sentiment_new(bad, strlen(bad), "bad.tsv", &d, &m), ES_EINVAL);
  ASSERT(m == NULL);
  ASSERT_EQ(d.count, 6);
  ASSERT_EQ(d.items[0].line, 2);
  ASSERT_STR_EQ(d.items[0].file, "bad.tsv");
  ASSERT_EQ(d.items[1].line, 3);
  ASSERT_EQ(d.items[2].line, 4);
  ASSERT_EQ(d.items[3].line, 5); /* duplicate */
  ASSERT(strstr(d.items[3].message, "duplicate") != NULL);
  ASSERT_EQ(d.items[4].line, 6);
  ASSERT_EQ(d.items[5].line, 7);
  es_diags_deinit(&d);

  /* An empty lexicon is allowed (nothing scores). */
  ASSERT_EQ(es_sentiment_new("", 0, NULL, NULL, &m), 0);
  ASSERT_EQ(es_sentiment_score(m, scratch, "good", 4, 0, &r), 0);
  ASSERT(r.compound == 0);
  es_sentiment_free(m);
}

/* One model, one scratch per thread: the same scores as on one thread. */
struct worker {
  const char *const *texts;
  size_t ntexts;
  double sum;
  int rc;
};

static void *work(void *arg)
{
  struct worker *w = arg;
  struct es_sentiment_scratch *scr = es_sentiment_scratch_new(1024);
  w->rc = scr ? 0 : -1;
  for (int rep = 0; rep < 2000 && scr; rep++)
    for (size_t i = 0; i < w->ntexts; i++) {
      struct es_sentiment_result r;
      w->rc |= es_sentiment_score(model, scr, w->texts[i], strlen(w->texts[i]), 0, &r);
      w->sum += r.compound;
    }
  es_sentiment_scratch_free(scr);
  return NULL;
}

static void test_threads(void)
{
  static const char *const texts[] = {
    "this is ridiculous, I want a manager NOW!!!",
    "thank you so much, that was really helpful",
    "i'm not happy with the service but the agent was kind",
  };
  struct worker w[4];
  pthread_t th[4];
  double expect = 0;
  for (size_t i = 0; i < 3; i++)
    expect += compound(texts[i]);
  expect *= 2000;
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){texts, 3, 0, 0};
    ASSERT_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    ASSERT_EQ(pthread_join(th[i], NULL), 0);
    ASSERT_EQ(w[i].rc, 0);
    ASSERT_NEAR(w[i].sum, expect, 1e-6);
  }
}

/* Scores as bits: the scores must not change by a bit, whatever path a
 * word takes through the tokeniser. */
#define ASSERT_SAME(a, b)                                                                       \
  do {                                                                                          \
    double a_ = (a), b_ = (b);                                                                  \
    if (memcmp(&a_, &b_, sizeof a_) != 0)                                                       \
      ES_FAIL_("%s == %s (%a vs %a)", #a, #b, a_, b_);                                          \
  } while (0)

static void test_token_shapes(void)
{
  /* The shapes of words the tokeniser takes by different paths (letters
   * and digits; apostrophes inside; one PUNC_LIST mark after; punctuation
   * elsewhere, bytes that are not ASCII, white space other than ' ',
   * words of 16 and 17 bytes; capitals in words that are and are not in
   * the lexicon; "but" in each case; '!' and '?'), with the scores of the
   * implementation before the tokeniser was rewritten for speed, which
   * agreed with vader-sentiment (tests/sentiment). */
  static const struct {
    const char *text;
    double compound, neg, neu, pos;
    unsigned ntokens, nscored;
  } cases[] = {
    {"I don't like it, I can't stand it.",
     -0x1.1a1f00ed2b438p-2, 0x1.2fe3320c3deep-2, 0x1.680e66f9e1091p-1, 0x0p+0, 6, 1},
    {"that's great, isn't it?",
     0x1.3ff204a562003p-1, 0x0p+0, 0x1.b0ad12073615bp-2, 0x1.27a976fc64f53p-1, 4, 1},
    {"the dogs' dinner was awful!",
     -0x1.04c1f5819a0cdp-1, 0x1.ce49dd746a29dp-2, 0x1.18db1145caeb1p-1, 0x0p+0, 5, 1},
    {"it's.",
     0x0p+0, 0x0p+0, 0x1p+0, 0x0p+0, 1, 0},
    {"rock'n'roll is GREAT",
     0x1.6827c4c7387d8p-1, 0x0p+0, 0x1.2bb8d0e7fc1a8p-2, 0x1.6a23978c01f2cp-1, 3, 1},
    {"Good, good. GOOD! good? good; good: good- good\" good'",
     0x1.f4b25ade85a8bp-1, 0x0p+0, 0x0p+0, 0x1p+0, 9, 9},
    {"a. b, ok. no!",
     0x0p+0, 0x1.6p-2, 0x1.4p-2, 0x1.6p-2, 4, 2},
    {"extraordinarily good and abcdefghijklmnop abcdefghijklmnopq wonderful",
     0x1.87a9f79386007p-1, 0x0p+0, 0x1.826a439f656f2p-2, 0x1.3ecade304d487p-1, 6, 2},
    {"I am SO HAPPY but SAD",
     -0x1.52110b1c70e83p-1, 0x1.080fc6e8eefabp-1, 0x1.dd9bb4ccf31c4p-3, 0x1.011297c7a87c8p-2, 5, 2},
    {"BUT the food was good",
     0x1.2f750a2c633e7p-1, 0x0p+0, 0x1.04e447bec6ee1p-1, 0x1.f63770827223ep-2, 5, 1},
    {"But the food was good",
     0x1.c3010499e6d6p-2, 0x0p+0, 0x1.28cfc4a33f129p-1, 0x1.ae6076b981daep-2, 5, 1},
    {"The food was good BUT the service was bad",
     -0x1.2bf8b1dbd3f9p-1, 0x1.630957d3273dbp-2, 0x1.059b184abe994p-1, 0x1.2380ef2eb71fcp-3, 9, 2},
    {"NOT good, not GOOD, Not good",
     -0x1.67fed874c857p-2, 0x1.e72e07586813dp-2, 0x1.10f59cceb5626p-2, 0x1.07dc5bd8e289cp-2, 6, 3},
    {"what?? really!!! no?!? yes!?!?",
     0x1.1e619d5c8bb99p-1, 0x1.09f0212cf2c8dp-2, 0x1.aab2100e9d445p-3, 0x1.105b6b65df4a9p-1, 4, 2},
    {"I'm not happy",
     -0x1.d578edafcbc02p-2, 0x1.331e3857b0818p-1, 0x1.99c38f509efdp-2, 0x0p+0, 3, 1},
    {"I\xe2\x80\x99m not happy",
     -0x1.d578edafcbc02p-2, 0x1.331e3857b0818p-1, 0x1.99c38f509efdp-2, 0x0p+0, 3, 1},
    {"k\xc3\xb6nig is great, \xe2\x82\xac" "15 is bad",
     0x1.3988e1409213p-3, 0x1.34f72c234f72cp-2, 0x1.611a7b9611a7cp-2, 0x1.69ee58469ee58p-2, 6, 2},
    {"good\tbad\ngreat\x0bhorrible\x0c" "fine\rok",
     0x1.d5d7ea914b936p-2, 0x1.8e38e38e38e39p-2, 0x0p+0, 0x1.38e38e38e38e4p-1, 6, 6},
    {"kind of good, sort of bad, just enough",
     -0x1.3988e1409213p-3, 0x1.210842108421p-2, 0x1.ef7bdef7bdef7p-2, 0x1.def7bdef7bdefp-3, 8, 2},
    {"never so good, never this bad, at least not terrible",
     0x1.163d3c33e90cep-2, 0x1.0598c7878e2ap-2, 0x1.8182d5338e23p-2, 0x1.78e46344e3b32p-2, 10, 3},
    {"d: that was d; o: s:", /* "d:" is in the lexicon, "d" is not */
     -0x1.3988e1409212fp-1, 0x1.435e50d79435ep-1, 0x1.674c59d31674dp-3, 0x1.8b3a62ce98b3cp-3, 6, 4},
    {"enthusiastically disadvantageously enthusiastically! disadvantageously. ENTHUSIASTICALLY",
     0x1.888af07cb3db2p-1, 0x1.6038cf5b40442p-2, 0x0p+0, 0x1.4fe398525fddep-1, 5, 5},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct es_sentiment_result r = score_flags(cases[i].text, 0);
    fprintf(stderr, "   case %zu: %a\n", i, r.compound);
    ASSERT_SAME(r.compound, cases[i].compound);
    ASSERT_SAME(r.neg, cases[i].neg);
    ASSERT_SAME(r.neu, cases[i].neu);
    ASSERT_SAME(r.pos, cases[i].pos);
    ASSERT_EQ(r.ntokens, cases[i].ntokens);
    ASSERT_EQ(r.nscored, cases[i].nscored);
  }
}

static void test_word_boundaries(void)
{
  /* The tokeniser works on words of 64 bytes of the text: a text scores
   * the same wherever its words fall across them, and its reported words
   * move with it. Texts of different lengths in a row also check that
   * nothing of an earlier text in the scratch is read as part of this one. */
  static const char *const texts[] = {
    "I don't like it, I can't stand it, but the agent was GREAT!",
    "NOT good? extraordinarily terrible; the dogs' dinner was awful!!",
    "Kind of good but VERY bad, never so happy, at least not horrible",
    "abcdefghijklmnop abcdefghijklmnopq good\xe2\x80\x99s \xc3\xa9 great",
  };
  char buf[512];
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    size_t len = strlen(texts[i]);
    struct es_sentiment_result r0 = score_flags(texts[i], 0);
    struct es_sentiment_word w0[ES_SENTIMENT_MAX_WORDS];
    memcpy(w0, r0.words, r0.nwords * sizeof *w0);
    for (size_t pad = 1; pad <= 140; pad++) {
      memset(buf, ' ', pad);
      memcpy(buf + pad, texts[i], len + 1);
      struct es_sentiment_result r = score_flags(buf, 0);
      ASSERT_SAME(r.compound, r0.compound);
      ASSERT_SAME(r.neg, r0.neg);
      ASSERT_SAME(r.neu, r0.neu);
      ASSERT_SAME(r.pos, r0.pos);
      ASSERT_EQ(r.ntokens, r0.ntokens);
      ASSERT_EQ(r.nwords, r0.nwords);
      for (size_t k = 0; k < r.nwords; k++) {
        ASSERT_EQ(r.words[k].start, w0[k].start + pad);
        ASSERT_EQ(r.words[k].end, w0[k].end + pad);
        ASSERT_SAME(r.words[k].valence, w0[k].valence);
      }
    }
  }
}

int main(void)
{
  ASSERT_EQ(es_sentiment_new(NULL, 0, NULL, NULL, &model), 0);
  scratch = es_sentiment_scratch_new(65536);
  ASSERT(scratch != NULL);
  RUN(test_package_demo);
  RUN(test_rules);
  RUN(test_tokens);
  RUN(test_token_shapes);
  RUN(test_word_boundaries);
  RUN(test_words);
  RUN(test_flags);
  RUN(test_limits);
  RUN(test_bytes);
  RUN(test_lexicon_loader);
  RUN(test_threads);
  es_sentiment_scratch_free(scratch);
  es_sentiment_free(model);
  fprintf(stderr, "test_sentiment: ok\n");
  return 0;
}
