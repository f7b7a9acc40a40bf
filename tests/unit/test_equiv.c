/*
 * test_equiv.c: the prefilter must never change results. A large,
 * deterministic corpus of transcript-like lines is matched with the
 * prefilter (flags 0) and without it (ES_MATCH_NAIVE), against the bundled
 * rules and against a generated rule set; hits (rule, start, end) and
 * limited rules must be identical for every line.
 */
#include "match.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rules.h"
#include "task.h"
#include "../prng.h"

#if defined(__SANITIZE_ADDRESS__)
#define ES_EQUIV_LINES 120000
#define ES_EQUIV_BUNDLED_LINES 40000
#else
#define ES_EQUIV_LINES 200000
#define ES_EQUIV_BUNDLED_LINES 100000
#endif
#define ES_EQUIV_RULES 160

/* ---- a fixed-seed PRNG (xorshift64*) -------------------------------------- */

static int chance(uint32_t percent) { return prng_below(100) < percent; }
#define PICK(arr) ((arr)[prng_below((uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ---- a growable string and string list ------------------------------------ */

struct buf {
  char *p;
  size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->p = realloc(b->p, cap);
    ASSERT(b->p != NULL);
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void __attribute__((format(printf, 2, 3))) buf_fmt(struct buf *b, const char *fmt, ...) {
  char tmp[1024];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  ASSERT(n >= 0 && (size_t)n < sizeof(tmp));
  buf_add(b, tmp, (size_t)n);
}

/* Appends s as the inside of a JSON string literal. */
static void buf_json(struct buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      buf_add(b, "\\", 1);
    buf_add(b, s, 1);
  }
}

struct strv {
  char **v;
  size_t n, cap;
};

static void strv_add(struct strv *sv, const char *s, size_t n) {
  if (sv->n == sv->cap) {
    sv->cap = sv->cap ? sv->cap * 2 : 64;
    sv->v = realloc(sv->v, sv->cap * sizeof(*sv->v));
    ASSERT(sv->v != NULL);
  }
  sv->v[sv->n] = malloc(n + 1);
  ASSERT(sv->v[sv->n] != NULL);
  memcpy(sv->v[sv->n], s, n);
  sv->v[sv->n][n] = '\0';
  sv->n++;
}

static void strv_free(struct strv *sv) {
  for (size_t i = 0; i < sv->n; i++)
    free(sv->v[i]);
  free(sv->v);
  memset(sv, 0, sizeof(*sv));
}

/* ---- vocabulary -------------------------------------------------------------- */

static const char *const common[] = {
    "i", "you", "the", "a", "to", "and", "it", "is", "that", "of", "my", "your", "we", "for",
    "this", "on", "have", "be", "so", "just", "can", "what", "with", "me", "do", "was", "there",
    "okay", "yeah", "well", "um", "uh", "like", "account", "bill", "payment", "card", "order",
    "refund", "charge", "service", "phone", "internet", "month", "week", "today", "again",
    "call", "called", "time", "help", "please", "thank", "thanks", "sorry", "sir", "maam",
    "right", "now", "here", "check", "look", "see", "know", "want", "need", "get", "got",
    "make", "sure", "number", "email", "address", "late", "fee", "credit", "policy", "company",
    "manager", "supervisor", "cancel", "switch", "lawyer", "review", "online", "ridiculous",
    "unacceptable", "calm", "down", "relax", "understand", "frustrating", "problem", "issue",
    "fix", "resolve", "transfer", "department", "team", "system", "fault", "wrong", "told",
    "said", "never", "not", "no", "again", "third", "fourth", "times", "waste", "hour", "hold",
    "through", "boss", "someone", "above", "in", "charge", "sue", "court", "report", "bbb",
    "close", "everything", "competitor", "leave", "post", "tell", "everyone", "idiot",
    "useless", "stupid", "deal", "big", "nothing", "can", "do", "about", "options", "let",
};

static const char *const contractions[][2] = {
    {"that's", "that is"}, {"there's", "there is"}, {"it's", "it is"}, {"can't", "cannot"},
    {"can't", "can not"}, {"don't", "do not"}, {"won't", "will not"}, {"isn't", "is not"},
    {"I'm", "I am"}, {"you're", "you are"}, {"we're", "we are"}, {"I'll", "I will"},
    {"I've", "I have"}, {"I'd", "I would"}, {"didn't", "did not"}, {"doesn't", "does not"},
    {"wasn't", "was not"}, {"let's", "let us"}, {"what's", "what is"}, {"gonna", "going to"},
    {"wanna", "want to"}, {"gotta", "got to"}, {"they're", "they are"}, {"we'll", "we will"},
};

static const char *const negations[] = {
    "not", "never", "no", "don't", "won\xE2\x80\x99t", "didnt", "cannot", "isn't", "without",
    "nobody", "but", "however", "although", "though", "yet", "except", "no need", "hardly",
};

static const char *const punct[] = {
    ",", ".", "!", "?", ";", ":", "--", "...", "\xE2\x80\x94", "\xE2\x80\x9C", "\xE2\x80\x9D",
    "(", ")", "\"", "'", "\xE2\x80\x99", "\xC2\xA0", "-", "/", "&", "!!!", "?!", "\xE2\x80\xA6",
};

static const char *const nonascii[] = {
    "caf\xC3\xA9", "na\xC3\xAFve", "\xC3\xBC" "ber", "se\xC3\xB1or", "CAF\xC3\x89",
    "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\xA1", "r\xC3\xA9sum\xC3\xA9", "\xC3\xA7" "a",
    "stra\xC3\x9F" "e",
};

/* Applies an apostrophe style to s: keep ', use ’ or ʼ, or drop it. */
static void add_with_apostrophes(struct buf *b, const char *s) {
  int style = (int)prng_below(4);
  for (; *s; s++) {
    if (*s != '\'') {
      buf_add(b, s, 1);
      continue;
    }
    if (style == 0)
      buf_add(b, "'", 1);
    else if (style == 1)
      buf_str(b, "\xE2\x80\x99");
    else if (style == 2)
      buf_str(b, "\xCA\xBC");
  }
}

/* Appends s with a random case transform. Sometimes s and k are written
 * as U+017F (long s) and U+212A (Kelvin sign), which PCRE2's caseless
 * matching equates with them. */
static void add_cased(struct buf *b, const char *s) {
  int mode = (int)prng_below(12);
  size_t start = b->len;
  if (mode == 11) {
    for (; *s; s++) {
      if (*s == 's')
        buf_str(b, "\xC5\xBF");
      else if (*s == 'k')
        buf_str(b, "\xE2\x84\xAA");
      else
        buf_add(b, s, 1);
    }
    return;
  }
  add_with_apostrophes(b, s);
  for (size_t i = start; i < b->len; i++) {
    char c = b->p[i];
    if (c >= 'a' && c <= 'z' && (mode == 0 || (mode == 1 && (i == start || b->p[i - 1] == ' '))))
      b->p[i] = (char)(c - 32);
  }
}

struct vocab {
  struct strv words;    /* words from the rules */
  struct strv phrases;  /* phrases from the rules (with * wildcards) */
  struct strv lines;    /* example lines of the rules */
};

/* Adds every [a-z0-9]{2,} run that does not follow a backslash. */
static void vocab_from_regex(struct vocab *v, const char *rx) {
  const char *p = rx;
  while (*p) {
    if (*p == '\\' && p[1]) {
      p += 2;
      continue;
    }
    if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
      const char *s = p;
      while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
        p++;
      if (p - s >= 2)
        strv_add(&v->words, s, (size_t)(p - s));
      continue;
    }
    p++;
  }
}

static void vocab_from_rules(struct vocab *v, const struct es_rules *rules) {
  for (uint32_t i = 0; i < es_rules_count(rules); i++) {
    const struct es_rule_info *info = es_rules_info(rules, i);
    for (size_t k = 0; k < es_rules_regex_count(rules, i); k++)
      vocab_from_regex(v, es_rules_regex(rules, i, k));
    for (size_t k = 0; k < info->nmatch_examples; k++)
      strv_add(&v->lines, info->match_examples[k], strlen(info->match_examples[k]));
    for (size_t k = 0; k < info->nno_match_examples; k++)
      strv_add(&v->lines, info->no_match_examples[k], strlen(info->no_match_examples[k]));
  }
}

/* ---- line generation ---------------------------------------------------------- */

static const char *random_word(const struct vocab *v) {
  if (v->words.n && chance(50))
    return v->words.v[prng_below((uint32_t)v->words.n)];
  return PICK(common);
}

/* Appends a phrase, filling wildcards and sometimes spelling contractions
 * the other way or putting punctuation between words. */
static void add_phrase(struct buf *b, const struct vocab *v, const char *phrase) {
  const char *p = phrase;
  int first = 1;
  while (*p) {
    const char *s;
    size_t n;
    char word[256];
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    s = p;
    while (*p && *p != ' ')
      p++;
    n = (size_t)(p - s);
    if (n >= sizeof(word))
      n = sizeof(word) - 1;
    memcpy(word, s, n);
    word[n] = '\0';
    if (!first)
      buf_str(b, chance(85) ? " " : PICK(punct));
    first = 0;
    if (strcmp(word, "*") == 0) {
      add_cased(b, random_word(v));
      continue;
    }
    for (size_t c = 0; c < sizeof(contractions) / sizeof(contractions[0]); c++) {
      if (strcmp(word, contractions[c][0]) == 0 && chance(40)) {
        add_cased(b, contractions[c][1]);
        goto next;
      }
    }
    add_cased(b, word);
  next:;
  }
}

static void gen_line(struct buf *b, const struct vocab *v) {
  int ntok = (int)prng_below(26);
  b->len = 0;
  buf_add(b, "", 0);
  if (chance(1))
    return; /* the empty line */
  if (v->lines.n && chance(8)) {
    /* A rule's own example, maybe with more around it. */
    add_cased(b, v->lines.v[prng_below((uint32_t)v->lines.n)]);
    ntok = (int)prng_below(6);
  }
  for (int t = 0; t < ntok; t++) {
    uint32_t r = prng_below(100);
    if (b->len > 0 && !chance(5))
      buf_str(b, " ");
    if (r < 34) {
      add_cased(b, PICK(common));
    } else if (r < 48) {
      add_cased(b, random_word(v));
    } else if (r < 58 && v->phrases.n) {
      add_phrase(b, v, v->phrases.v[prng_below((uint32_t)v->phrases.n)]);
    } else if (r < 66) {
      const char *const *c = contractions[prng_below(sizeof(contractions) / sizeof(contractions[0]))];
      add_cased(b, c[prng_below(2)]);
    } else if (r < 74) {
      add_cased(b, PICK(negations));
    } else if (r < 86) {
      buf_str(b, PICK(punct));
    } else if (r < 90) {
      buf_fmt(b, "%u", prng_below(chance(50) ? 10 : 100000));
    } else if (r < 94) {
      buf_str(b, PICK(nonascii));
    } else if (r < 97) {
      /* a gibberish word, or a rule word glued to more letters */
      char w[16];
      int n = 1 + (int)prng_below(9);
      for (int i = 0; i < n; i++)
        w[i] = (char)('a' + prng_below(26));
      w[n] = '\0';
      if (chance(50))
        add_cased(b, random_word(v));
      buf_str(b, w);
    } else {
      /* repeated letters, as ASR renders shouting or hesitation */
      int n = 1 + (int)prng_below(30);
      char c = (char)('a' + prng_below(26));
      for (int i = 0; i < n; i++)
        buf_add(b, &c, 1);
    }
  }
}

/* ---- rule generation ----------------------------------------------------------- */

static const char *const rule_words[] = {
    "policy", "manager", "supervisor", "refund", "cancel", "account", "ridiculous", "lawyer",
    "review", "calm", "down", "relax", "department", "fault", "wrong", "told", "waste", "time",
    "hold", "boss", "charge", "fee", "credit", "switch", "competitor", "unacceptable", "help",
    "understand", "frustrating", "sorry", "apologize", "fix", "resolve", "transfer", "system",
    "email", "number", "third", "again", "sue", "court", "report", "online", "everyone",
    "useless", "idiot", "deal", "nothing", "options", "service", "bill", "payment", "week",
};

static const char *random_rule_word(void) {
  uint32_t r = prng_below(100);
  if (r < 80)
    return PICK(rule_words);
  if (r < 92)
    return PICK(common);
  return PICK(nonascii);
}

/* A phrase of 1-4 words: rule words, common words, contractions,
 * wildcards, odd spellings. Each phrase has at least one rule word, as
 * real ones do, so that not every line is a candidate for every rule. */
static void gen_phrase(struct buf *b) {
  int n = chance(25) ? 1 : 2 + (int)prng_below(3);
  int anchor = (int)prng_below((uint32_t)n);
  for (int i = 0; i < n; i++) {
    uint32_t r = prng_below(100);
    if (i)
      buf_str(b, " ");
    if (i == anchor) {
      buf_str(b, chance(8) ? PICK(nonascii) : PICK(rule_words));
    } else if (r < 15) {
      buf_str(b, "*");
    } else if (r < 35) {
      const char *const *c = contractions[prng_below(sizeof(contractions) / sizeof(contractions[0]))];
      buf_str(b, c[prng_below(2)]);
    } else if (r < 42) {
      buf_str(b, PICK(((const char *const[]){"Calm", "THAT'S", "follow-up", "e-mail",
                                              "that\xE2\x80\x99s", "a.s.a.p", "24/7", "co-op"})));
    } else {
      buf_str(b, random_rule_word());
    }
  }
}

/* A raw PCRE2 pattern over normalised text, from a family of shapes. */
static void gen_pattern(struct buf *b) {
  const char *w1 = PICK(rule_words), *w2 = PICK(rule_words), *w3 = PICK(rule_words);
  const char *c1 = PICK(common), *c2 = PICK(common);
  switch (prng_below(24)) {
  case 0: buf_fmt(b, "\\b(?:%s|%s|%s) %s\\b", w1, w2, c1, w3); break;
  case 1: buf_fmt(b, "\\b%s (?:%s )?%s\\b", w1, c1, w2); break;
  case 2: buf_fmt(b, "\\b%s[a-z]* %s\\b", w1, c1); break;
  case 3: buf_fmt(b, "\\b\\d+ %s\\b", w1); break;
  case 4: buf_fmt(b, "\\b%s [a-z]+ %s\\b", w1, w2); break;
  case 5: buf_fmt(b, "\\b%s %s(?! %s)\\b", c1, w1, w2); break;
  case 6: buf_fmt(b, "(?<=%s )%s\\b", c1, w1); break;
  case 7: buf_fmt(b, "\\b%s(?= %s)", w1, c2); break;
  case 8: buf_fmt(b, "\\b(?:%s ){2,}%s", c1, w1); break;
  case 9: buf_fmt(b, "\\b%c%s\\b", w1[0] - 32, w1 + 1); break; /* upper case: caseless */
  case 10: buf_fmt(b, "\\b%s\\s+%s\\b", w1, w2); break;
  case 11: buf_fmt(b, "%s.%s", c1, w1); break;
  case 12: buf_fmt(b, "^ %s\\b", w1); break;
  case 13: buf_fmt(b, "\\b%s $", w1); break;
  case 14: buf_fmt(b, "\\b(?:%s (?:%s|%s)|%s) %s\\b", c1, w1, w2, c2, w3); break;
  case 15: buf_fmt(b, "\\b(?:a|the|your) %s\\b", w1); break;
  case 16: buf_fmt(b, "\\bref[ua]nds?\\b"); break;
  case 17: buf_fmt(b, "\\Q%s %s\\E", c1, w1); break;
  case 18: buf_fmt(b, "\\b(\\w+) \\1 %s\\b", w1); break;
  case 19: buf_fmt(b, "\\b(?:thats|its|that is|it is) (?:just )?(?:our|the) %s\\b", w1); break;
  case 20: buf_fmt(b, "\\b%s(?:s|ed|ing)?\\b", w1); break;
  case 21: buf_fmt(b, "\\b(?:%s|%s)\\W+%s", w1, w2, c1); break;
  case 22: buf_fmt(b, "caf\xC3\xA9|%s %s", w1, c2); break;
  default: buf_fmt(b, "\\b[%c%c]%s\\b", w1[0], w2[0], w1 + 1); break;
  }
}

static void gen_rules(struct buf *out, struct vocab *v, int nrules) {
  buf_str(out, "[\n");
  for (int i = 0; i < nrules; i++) {
    static const char *const speakers[] = {"agent", "customer", "any"};
    int nphr = chance(75) ? 1 + (int)prng_below(3) : 0;
    int npat = nphr == 0 ? 1 + (int)prng_below(2) : (chance(25) ? 1 : 0);
    struct buf tmp = {0};

    buf_fmt(out,
            "%s{\"id\": \"gen.r%03d\", \"description\": \"d\", \"category\": \"exasperation\", "
            "\"severity\": \"low\", \"speaker\": \"%s\", \"score\": 1, \"tip\": \"t\"",
            i ? ",\n" : "", i, PICK(speakers));
    if (nphr) {
      buf_str(out, ", \"phrases\": [");
      for (int k = 0; k < nphr; k++) {
        tmp.len = 0;
        buf_add(&tmp, "", 0);
        gen_phrase(&tmp);
        strv_add(&v->phrases, tmp.p, tmp.len);
        buf_str(out, k ? ", \"" : "\"");
        buf_json(out, tmp.p);
        buf_str(out, "\"");
      }
      buf_str(out, "]");
    }
    if (npat) {
      buf_str(out, ", \"patterns\": [");
      for (int k = 0; k < npat; k++) {
        tmp.len = 0;
        buf_add(&tmp, "", 0);
        gen_pattern(&tmp);
        buf_str(out, k ? ", \"" : "\"");
        buf_json(out, tmp.p);
        buf_str(out, "\"");
      }
      buf_str(out, "]");
    }
    if (chance(15)) {
      tmp.len = 0;
      buf_add(&tmp, "", 0);
      buf_fmt(&tmp, "\\b%s\\b", PICK(rule_words));
      buf_str(out, ", \"unless\": [\"");
      buf_json(out, tmp.p);
      buf_str(out, "\"]");
    }
    switch (prng_below(5)) {
    case 0: buf_str(out, ", \"negation\": true"); break;
    case 1: buf_str(out, ", \"negation\": false"); break;
    case 2: buf_fmt(out, ", \"negation\": {\"window\": %u}", 1 + prng_below(6)); break;
    case 3: buf_str(out, ", \"negation\": {\"cues\": [\"not\", \"no need\", \"hardly\"]}"); break;
    default: break;
    }
    buf_str(out, ", \"examples\": {\"match\": [\"x\"]}}");
    free(tmp.p);
  }
  buf_str(out, "\n]\n");
}

/* ---- the comparison ------------------------------------------------------------ */

struct tally {
  uint64_t lines, hits, limited, bad_lines;
  uint64_t hit_lines;
};

static void compare_line(struct es_matcher *m, const struct buf *line, enum es_speaker speaker,
                         struct tally *t) {
  struct es_match_result a, b;
  struct es_hit *saved_hits;
  uint32_t *saved_limited;
  size_t nhits, nlimited;
  int rca, rcb;

  rca = es_match_line(m, speaker, line->p, line->len, 0, &a);
  /* The result is borrowed until the next call: copy it. */
  nhits = a.nhits;
  nlimited = a.nlimited;
  saved_hits = malloc((nhits ? nhits : 1) * sizeof(*saved_hits));
  saved_limited = malloc((nlimited ? nlimited : 1) * sizeof(*saved_limited));
  ASSERT(saved_hits && saved_limited);
  if (nhits)
    memcpy(saved_hits, a.hits, nhits * sizeof(*saved_hits));
  if (nlimited)
    memcpy(saved_limited, a.limited, nlimited * sizeof(*saved_limited));
  rcb = es_match_line(m, speaker, line->p, line->len, ES_MATCH_NAIVE, &b);

  int same = rca == rcb && nhits == b.nhits && nlimited == b.nlimited;
  for (size_t i = 0; same && i < nhits; i++)
    same = saved_hits[i].rule == b.hits[i].rule && saved_hits[i].start == b.hits[i].start &&
           saved_hits[i].end == b.hits[i].end;
  for (size_t i = 0; same && i < nlimited; i++)
    same = saved_limited[i] == b.limited[i];
  if (!same) {
    const struct es_rules *rules = es_matcher_rules(m);
    fprintf(stderr, "prefilter changed the result for %s line %llu: \"%s\"\n",
            es_speaker_name(speaker), (unsigned long long)t->lines, line->p);
    fprintf(stderr, "  rc %d vs %d\n  with prefilter:", rca, rcb);
    for (size_t i = 0; i < nhits; i++)
      fprintf(stderr, " %s[%u,%u)", es_rules_info(rules, saved_hits[i].rule)->id,
              saved_hits[i].start, saved_hits[i].end);
    for (size_t i = 0; i < nlimited; i++)
      fprintf(stderr, " limited:%s", es_rules_info(rules, saved_limited[i])->id);
    fprintf(stderr, "\n  naive:         ");
    for (size_t i = 0; i < b.nhits; i++)
      fprintf(stderr, " %s[%u,%u)", es_rules_info(rules, b.hits[i].rule)->id, b.hits[i].start,
              b.hits[i].end);
    for (size_t i = 0; i < b.nlimited; i++)
      fprintf(stderr, " limited:%s", es_rules_info(rules, b.limited[i])->id);
    fprintf(stderr, "\n");
    for (size_t i = 0; i < nhits || i < b.nhits; i++) {
      uint32_t r = i < nhits ? saved_hits[i].rule : b.hits[i].rule;
      for (size_t k = 0; k < es_rules_regex_count(rules, r); k++)
        fprintf(stderr, "  %s regex %zu: %s\n", es_rules_info(rules, r)->id, k,
                es_rules_regex(rules, r, k));
    }
    abort();
  }
  t->lines++;
  t->hits += nhits;
  t->hit_lines += nhits > 0;
  t->limited += nlimited;
  t->bad_lines += rca != 0;
  free(saved_hits);
  free(saved_limited);
}

static void run_corpus(const char *name, const struct es_rules *rules, const struct vocab *v,
                       uint64_t seed, uint64_t nlines) {
  struct es_matcher *m = es_matcher_new(rules);
  struct buf line = {0};
  struct tally t = {0};
  const struct es_match_stats *st;

  ASSERT(m != NULL);
  prng_seed(seed);
  for (uint64_t i = 0; i < nlines; i++) {
    static const enum es_speaker speakers[] = {ES_SPEAKER_ANY, ES_SPEAKER_AGENT,
                                               ES_SPEAKER_CUSTOMER};
    gen_line(&line, v);
    compare_line(m, &line, PICK(speakers), &t);
  }
  st = es_matcher_stats(m);
  fprintf(stderr,
          "%s: %u rules (%u not prefiltered), %llu lines compared, %llu hits on %llu lines, "
          "%llu limited, identical with and without the prefilter (candidates %llu of %llu)\n",
          name, es_rules_count(rules), es_rules_unfiltered(rules), (unsigned long long)t.lines,
          (unsigned long long)t.hits, (unsigned long long)t.hit_lines,
          (unsigned long long)t.limited, (unsigned long long)st->candidates,
          (unsigned long long)(t.lines * es_rules_count(rules) * 2));
  ASSERT_EQ(t.lines, nlines);
  ASSERT_EQ(t.bad_lines, 0);
  /* The corpus must exercise the rules, or the comparison proves little. */
  ASSERT_GT(t.hit_lines, nlines / 50);
  free(line.p);
  es_matcher_free(m);
}

static void test_generated_rules(void) {
  struct vocab v = {0};
  struct buf json = {0};
  struct es_rules_opts opts;
  struct es_diags d;
  struct es_rules *rules = NULL;
  struct es_rules_source src;
  int rc;

  prng_seed(0x5eed1234abcdULL);
  gen_rules(&json, &v, ES_EQUIV_RULES);
  for (size_t i = 0; i < sizeof(rule_words) / sizeof(rule_words[0]); i++)
    strv_add(&v.words, rule_words[i], strlen(rule_words[i]));
  src.name = "generated.json";
  src.text = json.p;
  src.len = json.len;
  es_rules_opts_init(&opts);
  opts.check_examples = 0;
  es_diags_init(&d);
  rc = es_rules_load_sources(&src, 1, &opts, &rules, &d);
  for (size_t i = 0; i < d.count && i < 20; i++)
    fprintf(stderr, "  %s:%d:%d: [%s] %s\n", d.items[i].file, d.items[i].line, d.items[i].column,
            d.items[i].rule_id, d.items[i].message);
  ASSERT_EQ(rc, 0);
  ASSERT_EQ(es_rules_count(rules), ES_EQUIV_RULES);
  es_diags_deinit(&d);
  /* Most generated rules must be screened by the prefilter, or the
   * comparison would not test it. */
  ASSERT_LT(es_rules_unfiltered(rules), ES_EQUIV_RULES / 4);
  run_corpus("generated rules", rules, &v, 0xC0FFEE, ES_EQUIV_LINES);
  es_rules_free(rules);
  free(json.p);
  strv_free(&v.words);
  strv_free(&v.phrases);
  strv_free(&v.lines);
}

static int dir_has_json(const char *path) {
  DIR *dir = opendir(path);
  struct dirent *de;
  int found = 0;
  if (dir == NULL)
    return 0;
  while (!found && (de = readdir(dir)) != NULL) {
    size_t n = strlen(de->d_name);
    found = n > 5 && strcmp(de->d_name + n - 5, ".json") == 0;
  }
  closedir(dir);
  return found;
}

static void test_bundled_rules(void) {
  const char *dir = ES_SOURCE_DIR "/rules";
  const char *paths[1] = {dir};
  struct vocab v = {0};
  struct es_diags d;
  struct es_rules *rules = NULL;
  int rc;

  if (!dir_has_json(dir)) {
    fprintf(stderr, "SKIP: %s holds no .json rule files yet; bundled rules not compared\n", dir);
    return;
  }
  es_diags_init(&d);
  rc = es_rules_load(paths, 1, NULL, &rules, &d);
  for (size_t i = 0; i < d.count && i < 20; i++)
    fprintf(stderr, "  %s:%d:%d: [%s] %s\n", d.items[i].file, d.items[i].line, d.items[i].column,
            d.items[i].rule_id, d.items[i].message);
  ASSERT_EQ(rc, 0);
  es_diags_deinit(&d);
  vocab_from_rules(&v, rules);
  /* Phrases for lines: the rules' example lines are the best fragments. */
  for (size_t i = 0; i < v.lines.n; i++)
    strv_add(&v.phrases, v.lines.v[i], strlen(v.lines.v[i]));
  run_corpus("bundled rules", rules, &v, 0xBADC0DE, ES_EQUIV_BUNDLED_LINES);
  es_rules_free(rules);
  strv_free(&v.words);
  strv_free(&v.phrases);
  strv_free(&v.lines);
}

int main(void) {
  RUN(test_generated_rules);
  RUN(test_bundled_rules);
  (void)es_test_failures_;
  fprintf(stderr, "test_equiv: all passed\n");
  return 0;
}
