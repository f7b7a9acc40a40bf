/*
 * test_match.c: matching lines against compiled rules: phrase matching
 * through ASR spelling, spans, speakers, negation, unless, patterns,
 * ordering, input errors and PCRE2 limits.
 */
#include "match.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rules.h"
#include "task.h"

/* One rule object; `fields` are extra JSON members with a trailing comma. */
#define R(id, speaker, fields)                                                       \
  "{\"id\": \"" id "\", \"description\": \"d\", \"category\": \"exasperation\", "         \
  "\"severity\": \"low\", \"speaker\": \"" speaker "\", \"score\": 1, \"tip\": \"t\", " \
  fields " \"examples\": {\"match\": [\"x\"]}}"

/* Loads "[" body "]" with examples unchecked (the tests check behaviour
 * themselves). `opts` may be NULL. */
static struct es_rules *load_opts(const char *body, struct es_rules_opts *opts) {
  struct es_rules_opts defaults;
  struct es_diags d;
  struct es_rules *rules = NULL;
  size_t len = strlen(body);
  char *text = malloc(len + 3);
  struct es_rules_source src;
  int rc;

  ASSERT(text != NULL);
  text[0] = '[';
  memcpy(text + 1, body, len);
  text[len + 1] = ']';
  text[len + 2] = '\0';
  src.name = "test.json";
  src.text = text;
  src.len = len + 2;
  if (opts == NULL) {
    es_rules_opts_init(&defaults);
    opts = &defaults;
  }
  opts->check_examples = 0;
  es_diags_init(&d);
  rc = es_rules_load_sources(&src, 1, opts, &rules, &d);
  if (rc != 0) {
    for (size_t i = 0; i < d.count; i++)
      fprintf(stderr, "  %s:%d:%d: [%s] %s\n", d.items[i].file, d.items[i].line,
              d.items[i].column, d.items[i].rule_id, d.items[i].message);
  }
  ASSERT_EQ(rc, 0);
  es_diags_deinit(&d);
  free(text);
  return rules;
}

static struct es_rules *load(const char *body) { return load_opts(body, NULL); }

/* Formats a result as "id[matched text] id[matched text]", checking that
 * every span lies within the line and that hits come in rule order. */
static void format_hits(const struct es_rules *rules, const struct es_match_result *res,
                        const char *text, size_t len, char *out, size_t cap) {
  size_t pos = 0;
  out[0] = '\0';
  for (size_t i = 0; i < res->nhits; i++) {
    const struct es_hit *h = &res->hits[i];
    ASSERT_LE(h->start, h->end);
    ASSERT_LE(h->end, len);
    ASSERT_LT(h->rule, es_rules_count(rules));
    if (i > 0)
      ASSERT_LT(res->hits[i - 1].rule, h->rule);
    pos += (size_t)snprintf(out + pos, cap - pos, "%s%s[%.*s]", i ? " " : "",
                            es_rules_info(rules, h->rule)->id, (int)(h->end - h->start),
                            text + h->start);
    ASSERT_LT(pos, cap);
  }
}

/* Matches `text` said by `speaker` with and without the prefilter; both
 * must give `want` and no limited rule. */
static void expect_hits_(const char *file, int line, struct es_matcher *m,
                         enum es_speaker speaker, const char *text, const char *want) {
  char got[2][2048];
  unsigned flags[2] = {0, ES_MATCH_NAIVE};
  size_t len = strlen(text);

  for (int k = 0; k < 2; k++) {
    struct es_match_result res;
    int rc = es_match_line(m, speaker, text, len, flags[k], &res);
    if (rc != 0) {
      fprintf(stderr, "%s:%d: es_match_line(\"%s\") returned %d\n", file, line, text, rc);
      abort();
    }
    if (res.nlimited != 0) {
      fprintf(stderr, "%s:%d: \"%s\": %zu rules hit a limit\n", file, line, text, res.nlimited);
      abort();
    }
    format_hits(es_matcher_rules(m), &res, text, len, got[k], sizeof(got[k]));
    if (strcmp(got[k], want) != 0) {
      fprintf(stderr, "%s:%d: %s line \"%s\"%s\n  got:  \"%s\"\n  want: \"%s\"\n", file, line,
              es_speaker_name(speaker), text, k ? " (naive)" : "", got[k], want);
      abort();
    }
  }
}
#define EXPECT_HITS(m, speaker, text, want) expect_hits_(__FILE__, __LINE__, m, speaker, text, want)
#define AGENT ES_SPEAKER_AGENT
#define CUSTOMER ES_SPEAKER_CUSTOMER
#define ANYONE ES_SPEAKER_ANY

/* ---- phrases ---------------------------------------------------------- */

static void test_phrase_spelling(void) {
  struct es_rules *rules = load(R("policy", "agent", "\"phrases\": [\"that's our policy\"],"));
  struct es_matcher *m = es_matcher_new(rules);
  ASSERT(m != NULL);

  EXPECT_HITS(m, AGENT, "That's our policy.", "policy[That's our policy]");
  EXPECT_HITS(m, AGENT, "THAT'S OUR POLICY", "policy[THAT'S OUR POLICY]");
  EXPECT_HITS(m, AGENT, "well thats our policy", "policy[thats our policy]");
  EXPECT_HITS(m, AGENT, "that\xE2\x80\x99s our policy", "policy[that\xE2\x80\x99s our policy]");
  EXPECT_HITS(m, AGENT, "that\xCA\xBCs our policy", "policy[that\xCA\xBCs our policy]");
  EXPECT_HITS(m, AGENT, "that`s our policy", "policy[that`s our policy]");
  /* The long form of the contraction. */
  EXPECT_HITS(m, AGENT, "that is our policy", "policy[that is our policy]");
  EXPECT_HITS(m, AGENT, "That IS our policy", "policy[That IS our policy]");
  /* Punctuation and space runs between words are one break. */
  EXPECT_HITS(m, AGENT, "Sorry -- that... is, our   policy!!", "policy[that... is, our   policy]");
  EXPECT_HITS(m, AGENT, "that's\xE2\x80\x94our\xC2\xA0policy", "policy[that's\xE2\x80\x94our\xC2\xA0policy]");
  /* Near misses. */
  EXPECT_HITS(m, AGENT, "that isn't our policy", "");
  EXPECT_HITS(m, AGENT, "what's our policy", "");
  EXPECT_HITS(m, AGENT, "that is our policies", "");
  EXPECT_HITS(m, AGENT, "that is not our policy", "");
  EXPECT_HITS(m, AGENT, "", "");
  es_matcher_free(m);
  es_rules_free(rules);

  /* Written in the long form, the phrase matches the contraction. */
  rules = load(R("policy", "agent", "\"phrases\": [\"that is our policy\"],"));
  m = es_matcher_new(rules);
  EXPECT_HITS(m, AGENT, "That's our policy.", "policy[That's our policy]");
  EXPECT_HITS(m, AGENT, "That\xE2\x80\x99s our policy.", "policy[That\xE2\x80\x99s our policy]");
  EXPECT_HITS(m, AGENT, "thats our policy", "policy[thats our policy]");
  EXPECT_HITS(m, AGENT, "that is our policy", "policy[that is our policy]");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_contractions(void) {
  struct es_rules *rules = load(
      R("cant", "agent", "\"phrases\": [\"I can't help you\"],") ","
      R("cannot", "agent", "\"phrases\": [\"we cannot refund\"],") ","
      R("im", "agent", "\"phrases\": [\"I'm done\"],") ","
      R("iam", "agent", "\"phrases\": [\"I am busy\"],") ","
      R("gonna", "agent", "\"phrases\": [\"gonna hang up\"],") ","
      R("goingto", "agent", "\"phrases\": [\"going to transfer\"],") ","
      R("dont", "agent", "\"phrases\": [\"don't know\"],") ","
      R("youre", "agent", "\"phrases\": [\"you're wrong\"],") ","
      R("wont", "agent", "\"phrases\": [\"will not happen\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  /* can't = cannot = can not, both ways. */
  EXPECT_HITS(m, AGENT, "I can't help you", "cant[I can't help you]");
  EXPECT_HITS(m, AGENT, "I can\xE2\x80\x99t help you", "cant[I can\xE2\x80\x99t help you]");
  EXPECT_HITS(m, AGENT, "i cant help you", "cant[i cant help you]");
  EXPECT_HITS(m, AGENT, "I cannot help you", "cant[I cannot help you]");
  EXPECT_HITS(m, AGENT, "I can not help you", "cant[I can not help you]");
  EXPECT_HITS(m, AGENT, "I can help you", "");
  EXPECT_HITS(m, AGENT, "we can't refund", "cannot[we can't refund]");
  EXPECT_HITS(m, AGENT, "we can not refund", "cannot[we can not refund]");
  EXPECT_HITS(m, AGENT, "we cant refund", "cannot[we cant refund]");
  /* I'm = I am, both ways. */
  EXPECT_HITS(m, AGENT, "I am done", "im[I am done]");
  EXPECT_HITS(m, AGENT, "im done", "im[im done]");
  EXPECT_HITS(m, AGENT, "I\xE2\x80\x99m done", "im[I\xE2\x80\x99m done]");
  EXPECT_HITS(m, AGENT, "I'm busy", "iam[I'm busy]");
  EXPECT_HITS(m, AGENT, "Im busy", "iam[Im busy]");
  /* gonna = going to, both ways. */
  EXPECT_HITS(m, AGENT, "I'm going to hang up", "gonna[going to hang up]");
  EXPECT_HITS(m, AGENT, "im gonna hang up", "gonna[gonna hang up]");
  EXPECT_HITS(m, AGENT, "I'm gonna transfer you", "goingto[gonna transfer]");
  /* Other pairs. */
  EXPECT_HITS(m, AGENT, "I do not know", "dont[do not know]");
  EXPECT_HITS(m, AGENT, "I dont know", "dont[dont know]");
  EXPECT_HITS(m, AGENT, "You are wrong.", "youre[You are wrong]");
  EXPECT_HITS(m, AGENT, "youre WRONG", "youre[youre WRONG]");
  EXPECT_HITS(m, AGENT, "that won't happen", "wont[won't happen]");
  EXPECT_HITS(m, AGENT, "that wont happen", "wont[wont happen]");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_word_boundaries(void) {
  struct es_rules *rules = load(R("ridic", "any", "\"phrases\": [\"ridiculous\"],") ","
                                R("hold", "any", "\"phrases\": [\"on hold\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  EXPECT_HITS(m, ANYONE, "this is ridiculous", "ridic[ridiculous]");
  EXPECT_HITS(m, ANYONE, "Ridiculous!", "ridic[Ridiculous]");
  EXPECT_HITS(m, ANYONE, "(ridiculous)", "ridic[ridiculous]");
  EXPECT_HITS(m, ANYONE, "that was ridiculously slow", "");
  EXPECT_HITS(m, ANYONE, "unridiculous", "");
  EXPECT_HITS(m, ANYONE, "ridiculous-ly", "ridic[ridiculous]");
  EXPECT_HITS(m, ANYONE, "I was on hold", "hold[on hold]");
  EXPECT_HITS(m, ANYONE, "they won holdings", "");
  EXPECT_HITS(m, ANYONE, "upon holding", "");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_wildcard(void) {
  struct es_rules *rules = load(R("wild", "customer", "\"phrases\": [\"put me through to your *\"],") ","
                                R("mid", "customer", "\"phrases\": [\"speak to * manager\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  EXPECT_HITS(m, CUSTOMER, "Put me through to your supervisor now!",
              "wild[Put me through to your supervisor]");
  EXPECT_HITS(m, CUSTOMER, "put me through to your boss", "wild[put me through to your boss]");
  /* The wildcard needs exactly one word. */
  EXPECT_HITS(m, CUSTOMER, "put me through to your", "");
  EXPECT_HITS(m, CUSTOMER, "put me through to your...", "");
  EXPECT_HITS(m, CUSTOMER, "speak to the manager", "mid[speak to the manager]");
  EXPECT_HITS(m, CUSTOMER, "speak to your manager", "mid[speak to your manager]");
  EXPECT_HITS(m, CUSTOMER, "speak to manager", "");
  EXPECT_HITS(m, CUSTOMER, "speak to the general manager", "");
  /* Any word, including non-ASCII ones. */
  EXPECT_HITS(m, CUSTOMER, "speak to \xC3\xBC" "ber manager", "mid[speak to \xC3\xBC" "ber manager]");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_spans_multibyte(void) {
  struct es_rules *rules = load(R("policy", "agent", "\"phrases\": [\"that's our policy\"],") ","
                                R("cafe", "any", "\"phrases\": [\"caf\xC3\xA9 cr\xC3\xA8me\"],"));
  struct es_matcher *m = es_matcher_new(rules);
  struct es_match_result res;
  const char *line = "\xC2\xA1" "Se\xC3\xB1or! \xE2\x80\x9CThat\xE2\x80\x99s our policy\xE2\x80\x9D \xF0\x9F\x98\x80";

  EXPECT_HITS(m, AGENT, line, "policy[That\xE2\x80\x99s our policy]");
  ASSERT_EQ(es_match_line(m, AGENT, line, strlen(line), 0, &res), 0);
  ASSERT_EQ(res.nhits, 1);
  /* ¡(2) Señor(6) !(1) space(1) “(3) = 13 bytes before "That". */
  ASSERT_EQ(res.hits[0].start, 13);
  ASSERT_EQ(res.hits[0].end, 13 + 19); /* "That’s our policy" is 19 bytes */
  EXPECT_HITS(m, AGENT, "un caf\xC3\xA9 cr\xC3\xA8me s'il vous pla\xC3\xAEt",
              "cafe[caf\xC3\xA9 cr\xC3\xA8me]");
  /* The normaliser does not fold non-ASCII case, but PCRE2 matches
   * caseless in UTF mode, so É still matches é. */
  EXPECT_HITS(m, AGENT, "CAF\xC3\x89 CR\xC3\x88ME", "cafe[CAF\xC3\x89 CR\xC3\x88ME]");
  EXPECT_HITS(m, AGENT, "CAF\xC3\xA9 CR\xC3\xA8ME", "cafe[CAF\xC3\xA9 CR\xC3\xA8ME]");
  es_matcher_free(m);
  es_rules_free(rules);

  /* U+017F and U+212A, which PCRE2 equates with s and k, match with the
   * prefilter as without it (EXPECT_HITS runs both). */
  rules = load(R("sorry", "any", "\"phrases\": [\"so sorry\"],") ","
               R("kind", "any", "\"patterns\": [\"\\\\bkind words\\\\b\"],"));
  m = es_matcher_new(rules);
  EXPECT_HITS(m, AGENT, "\xC5\xBFo \xC5\xBForry!", "sorry[\xC5\xBFo \xC5\xBForry]");
  EXPECT_HITS(m, AGENT, "very \xE2\x84\xAAind word\xC5\xBF", "kind[\xE2\x84\xAAind word\xC5\xBF]");
  es_matcher_free(m);
  es_rules_free(rules);
}

/* ---- speakers ----------------------------------------------------------- */

static void test_speakers(void) {
  struct es_rules *rules = load(R("a", "agent", "\"phrases\": [\"calm down\"],") ","
                                R("c", "customer", "\"phrases\": [\"calm down\"],") ","
                                R("x", "any", "\"phrases\": [\"calm down\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  EXPECT_HITS(m, AGENT, "calm down", "a[calm down] x[calm down]");
  EXPECT_HITS(m, CUSTOMER, "calm down", "c[calm down] x[calm down]");
  /* An unknown speaker: every rule applies. */
  EXPECT_HITS(m, ANYONE, "calm down", "a[calm down] c[calm down] x[calm down]");
  es_matcher_free(m);
  es_rules_free(rules);
}

/* ---- negation ------------------------------------------------------------ */

static void test_negation(void) {
  struct es_rules *rules = load(R("cancel", "customer", "\"phrases\": [\"cancel my account\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  EXPECT_HITS(m, CUSTOMER, "I will cancel my account", "cancel[cancel my account]");
  /* Cues within the window of 4 words before the hit. */
  EXPECT_HITS(m, CUSTOMER, "I'm not going to cancel my account", "");
  EXPECT_HITS(m, CUSTOMER, "I never said cancel my account", "");
  EXPECT_HITS(m, CUSTOMER, "I won\xE2\x80\x99t cancel my account", "");
  EXPECT_HITS(m, CUSTOMER, "I wont cancel my account", "");
  EXPECT_HITS(m, CUSTOMER, "I DON'T want to cancel my account", "");
  EXPECT_HITS(m, CUSTOMER, "no cancel my account", "");
  EXPECT_HITS(m, CUSTOMER, "not one two three cancel my account", ""); /* 4th word back */
  EXPECT_HITS(m, CUSTOMER, "not one two three four cancel my account",
              "cancel[cancel my account]"); /* 5th word back */
  /* Cues are whole words. */
  EXPECT_HITS(m, CUSTOMER, "knot cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "nothing cancel my account", "cancel[cancel my account]");
  /* Clause punctuation ends the scope. */
  EXPECT_HITS(m, CUSTOMER, "No, cancel my account.", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "I'm not happy. Cancel my account!", "cancel[Cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "not now; cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "never again! cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "why not? cancel my account", "cancel[cancel my account]");
  /* "but" and friends end the scope. */
  EXPECT_HITS(m, CUSTOMER, "I didn't want to but cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "not ideal however cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "not sure although cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "never mind though cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "not yet cancel my account", "cancel[cancel my account]");
  EXPECT_HITS(m, CUSTOMER, "not except cancel my account", "cancel[cancel my account]");
  /* A later, un-negated occurrence still hits, and the span is its own. */
  EXPECT_HITS(m, CUSTOMER, "dont cancel my account i said cancel my account",
              "cancel[cancel my account]");
  {
    const char *line = "dont cancel my account i said cancel my account";
    struct es_match_result res;
    ASSERT_EQ(es_match_line(m, CUSTOMER, line, strlen(line), 0, &res), 0);
    ASSERT_EQ(res.nhits, 1);
    ASSERT_EQ(res.hits[0].start, 30);
    ASSERT_EQ(res.hits[0].end, strlen(line));
  }
  es_matcher_free(m);
  es_rules_free(rules);

  /* Agent rules have negation off by default. */
  rules = load(R("calm", "agent", "\"phrases\": [\"calm down\"],"));
  m = es_matcher_new(rules);
  EXPECT_HITS(m, AGENT, "I would never say calm down", "calm[calm down]");
  EXPECT_HITS(m, AGENT, "dont calm down", "calm[calm down]");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_negation_custom(void) {
  struct es_rules *rules = load(
      R("cues", "customer", "\"phrases\": [\"sue you\"], \"negation\": {\"cues\": [\"hardly\", \"no need\"]},") ","
      R("win1", "customer", "\"phrases\": [\"lawyer\"], \"negation\": {\"window\": 1},") ","
      R("off", "customer", "\"phrases\": [\"refund\"], \"negation\": false,") ","
      R("on", "agent", "\"phrases\": [\"relax\"], \"negation\": true,"));
  struct es_matcher *m = es_matcher_new(rules);

  /* A custom cue list replaces the default one. */
  EXPECT_HITS(m, CUSTOMER, "I could hardly sue you", "");
  EXPECT_HITS(m, CUSTOMER, "I will not sue you", "cues[sue you]");
  /* A multi-word cue. */
  EXPECT_HITS(m, CUSTOMER, "theres no need to sue you", "");
  EXPECT_HITS(m, CUSTOMER, "theres no reason to sue you", "cues[sue you]");
  /* Window 1: only the word right before. */
  EXPECT_HITS(m, CUSTOMER, "not my lawyer", "win1[lawyer]");
  EXPECT_HITS(m, CUSTOMER, "no lawyer", "");
  EXPECT_HITS(m, CUSTOMER, "I don't want a refund", "off[refund]");
  EXPECT_HITS(m, AGENT, "dont relax", "");
  EXPECT_HITS(m, AGENT, "just relax", "on[relax]");
  es_matcher_free(m);
  es_rules_free(rules);

  /* A rule set's default cue list and window come from the options. */
  static const char *const cues[] = {"nah", NULL};
  struct es_rules_opts opts;
  es_rules_opts_init(&opts);
  opts.negation_cues = cues;
  opts.negation_window = 2;
  rules = load_opts(R("cancel", "customer", "\"phrases\": [\"cancel\"],"), &opts);
  m = es_matcher_new(rules);
  EXPECT_HITS(m, CUSTOMER, "nah cancel", "");
  EXPECT_HITS(m, CUSTOMER, "nah just cancel", "");
  EXPECT_HITS(m, CUSTOMER, "nah i just cancel", "cancel[cancel]");
  EXPECT_HITS(m, CUSTOMER, "not cancel", "cancel[cancel]");
  es_matcher_free(m);
  es_rules_free(rules);
}

/* ---- unless and patterns ------------------------------------------------ */

static void test_unless(void) {
  struct es_rules *rules = load(R(
      "calm", "agent",
      "\"phrases\": [\"calm down\"], \"unless\": [\"\\\\bthings (?:will |should )?calm down\\\\b\", \"\\\\btraffic\\\\b\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  EXPECT_HITS(m, AGENT, "Sir, calm down.", "calm[calm down]");
  EXPECT_HITS(m, AGENT, "things will calm down soon", "");
  EXPECT_HITS(m, AGENT, "Things should calm down", "");
  /* An unless anywhere on the line cancels. */
  EXPECT_HITS(m, AGENT, "calm down, the traffic is bad", "");
  EXPECT_HITS(m, AGENT, "calm down, the trafficking is bad", "calm[calm down]");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_patterns(void) {
  struct es_rules *rules = load(
      R("pol", "agent", "\"patterns\": [\"\\\\bthats (?:our|the) policy\\\\b\"],") ","
      R("mgr", "customer", "\"patterns\": [\"\\\\b(?:speak|talk) (?:to|with) (?:a|your) (?:manager|supervisor)\\\\b\"],") ","
      R("both", "any", "\"phrases\": [\"refund\"], \"patterns\": [\"\\\\bmoney back\\\\b\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  /* Patterns see normalised text: no apostrophes, lower case, breaks as
   * single spaces. */
  EXPECT_HITS(m, AGENT, "That\xE2\x80\x99s THE policy!", "pol[That\xE2\x80\x99s THE policy]");
  EXPECT_HITS(m, AGENT, "that's our policy", "pol[that's our policy]");
  EXPECT_HITS(m, AGENT, "that is our policy", "");
  EXPECT_HITS(m, CUSTOMER, "Let me TALK-WITH your...supervisor!",
              "mgr[TALK-WITH your...supervisor]");
  EXPECT_HITS(m, CUSTOMER, "speak to a managerial", "");
  /* Phrases and patterns of one rule: at most one hit. */
  EXPECT_HITS(m, CUSTOMER, "I want my money back, a refund", "both[refund]");
  EXPECT_HITS(m, CUSTOMER, "money back please", "both[money back]");
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_order_and_one_hit(void) {
  struct es_rules *rules = load(R("zeta", "any", "\"phrases\": [\"sorry\"],") ","
                                R("alpha", "any", "\"phrases\": [\"apologize\", \"sorry\"],") ","
                                R("mid", "any", "\"patterns\": [\"\\\\bsorry\\\\b\"],") ","
                                R("none", "any", "\"phrases\": [\"thank you\"],"));
  struct es_matcher *m = es_matcher_new(rules);

  /* Load order, not id order; one hit per rule, at the first occurrence. */
  EXPECT_HITS(m, ANYONE, "sorry, so sorry, I apologize",
              "zeta[sorry] alpha[sorry] mid[sorry]");
  EXPECT_HITS(m, ANYONE, "I apologize. Sorry.", "zeta[Sorry] alpha[apologize] mid[Sorry]");
  es_matcher_free(m);
  es_rules_free(rules);
}

/* ---- input errors and limits ---------------------------------------------- */

static void test_input_errors(void) {
  struct es_rules_opts opts;
  struct es_rules *rules;
  struct es_matcher *m;
  struct es_match_result res;
  char line[201];

  es_rules_opts_init(&opts);
  opts.max_line_bytes = 200;
  rules = load_opts(R("x", "any", "\"phrases\": [\"refund\"],"), &opts);
  m = es_matcher_new(rules);
  ASSERT_EQ(es_match_line(m, ANYONE, "bad \xFF byte", 10, 0, &res), ES_EUTF8);
  ASSERT_EQ(res.nhits, 0);
  ASSERT_EQ(es_match_line(m, ANYONE, "refund\0refund", 13, 0, &res), ES_EUTF8);
  ASSERT_EQ(es_match_line(m, ANYONE, "refund \xED\xA0\x80", 10, 0, &res), ES_EUTF8);
  ASSERT_EQ(es_match_line(m, ANYONE, "refund \xE2\x80", 9, ES_MATCH_NAIVE, &res), ES_EUTF8);
  memset(line, 'a', sizeof(line));
  memcpy(line, "refund ", 7);
  ASSERT_EQ(es_match_line(m, ANYONE, line, 201, 0, &res), ES_ETOOBIG);
  ASSERT_EQ(res.nhits, 0);
  ASSERT_EQ(es_match_line(m, ANYONE, line, 200, 0, &res), 0);
  ASSERT_EQ(res.nhits, 1);
  ASSERT_EQ(res.hits[0].start, 0);
  ASSERT_EQ(res.hits[0].end, 6);
  /* Rejected lines are not counted. */
  ASSERT_EQ(es_matcher_stats(m)->lines, 1);
  ASSERT_EQ(es_matcher_stats(m)->hits, 1);
  es_matcher_free(m);
  es_matcher_free(NULL);
  es_rules_free(rules);
}

static void test_catastrophic_pattern_limited(void) {
  struct es_rules_opts opts;
  struct es_rules *rules;
  struct es_matcher *m;
  struct es_match_result res;
  char line[128];

  es_rules_opts_init(&opts);
  opts.match_limit = 10000;
  rules = load_opts(R("ok", "any", "\"phrases\": [\"aaa\"],") ","
                    R("evil", "any", "\"patterns\": [\"(a+)+b\"],") ","
                    R("evil-unless", "any", "\"phrases\": [\"zzz\"], \"unless\": [\"(a+)+b\"],") ","
                    R("after", "any", "\"phrases\": [\"ab\"],"),
                    &opts);
  m = es_matcher_new(rules);
  /* 40 a's, then an "ab" that the backtracking from the first a cannot
   * reach: 2^40 paths. */
  memset(line, 'a', 40);
  memcpy(line + 40, "! aaa zzz ab", 13);

  for (int round = 1; round <= 2; round++) {
    unsigned flags = round == 1 ? 0 : ES_MATCH_NAIVE;
    ASSERT_EQ(es_match_line(m, ANYONE, line, strlen(line), flags, &res), 0);
    /* Not a silent miss: the rules are reported as limited... */
    ASSERT_EQ(res.nlimited, 2);
    ASSERT_EQ(res.limited[0], es_rules_find(rules, "evil"));
    ASSERT_EQ(res.limited[1], es_rules_find(rules, "evil-unless"));
    /* ...and the others still hit. */
    ASSERT_EQ(res.nhits, 2);
    ASSERT_EQ(res.hits[0].rule, es_rules_find(rules, "ok"));
    ASSERT_EQ(res.hits[1].rule, es_rules_find(rules, "after"));
    ASSERT_EQ(es_matcher_limit_hits(m, 1), (uint64_t)round);
    ASSERT_EQ(es_matcher_limit_hits(m, 2), (uint64_t)round);
    ASSERT_EQ(es_matcher_limit_hits(m, 0), 0);
    ASSERT_EQ(es_matcher_stats(m)->limit_hits, (uint64_t)(2 * round));
  }
  ASSERT_EQ(es_matcher_limit_hits(m, 99), 0);
  /* A short line the same pattern can decide is not limited. */
  ASSERT_EQ(es_match_line(m, ANYONE, "aab", 3, 0, &res), 0);
  ASSERT_EQ(res.nlimited, 0);
  ASSERT_EQ(res.nhits, 1);
  ASSERT_EQ(res.hits[0].rule, es_rules_find(rules, "evil"));
  es_matcher_free(m);
  es_rules_free(rules);
}

/* Rules in the style of the bundled ones: phrases with contractions and
 * wildcards, patterns with optional groups and alternations, unless. */
static const char bundled_style[] =
    R("s.manager", "customer",
      "\"phrases\": [\"let me speak to your manager\", \"put me through to your *\", \"someone above you\"],"
      "\"patterns\": [\"\\\\b(?:speak|talk|chat) (?:to|with) (?:a |an |the |your )?(?:(?:senior|actual|real) )?(?:manager|supervisor|boss)\\\\b\","
      "\"\\\\b(?:want|demand|need) (?:to (?:see|have|get) )?(?:a |an |the |your )(?:senior )?(?:manager|supervisor)(?! (?:approval|signature))\\\\b\"],"
      "\"negation\": {\"window\": 3, \"cues\": [\"not\", \"never\", \"no need\"]},"
      "\"unless\": [\"\\\\b(?:my|our) (?:manager|boss)s? (?:told|said|asked)\\\\b\"],") ","
    R("s.policy", "agent",
      "\"phrases\": [\"that's our policy\", \"it's company policy\", \"there's nothing I can do\"],"
      "\"patterns\": [\"\\\\b(?:thats|its|that is|it is) (?:just |simply )?(?:our|the|company) (?:policy|rules?)\\\\b\"],") ","
    R("s.exasp", "customer",
      "\"phrases\": [\"ridiculous\", \"unacceptable\", \"fed up\", \"waste of my time\", \"this is the * time\"],"
      "\"patterns\": [\"\\\\b(?:(?:third|fourth|fifth|\\\\d+(?:st|nd|rd|th)?) time|(?:three|four|five|\\\\d+) times) (?:i|ive|that i|weve)? ?(?:have |had )?(?:called|rung|phoned)\\\\b\"],") ","
    R("s.legal", "customer",
      "\"patterns\": [\"\\\\b(?:sue|suing|lawyer|attorney|small claims|court)\\\\b\", \"\\\\b(?:report|complain)(?:ing)? (?:you |this )?to (?:the )?(?:bbb|ftc|fcc|ombudsman|regulator)\\\\b\"],") ","
    R("s.abuse", "customer",
      "\"patterns\": [\"\\\\byou (?:are|re)? ?(?:an? )?(?:(?:stupid|useless|incompetent|pathetic) )+(?:idiot|moron|clown|person)?\\\\b\"],"
      "\"negation\": {\"cues\": [\"not\", \"isnt\", \"arent\"]},") ","
    R("s.any", "any", "\"phrases\": [\"thank you\", \"I'm sorry\", \"gonna\"],");

static void test_long_line_no_limits(void) {
  struct es_rules *rules = load(bundled_style);
  struct es_matcher *m = es_matcher_new(rules);
  static const char *const fill[] = {
      "a", "aaaa ", "no ", "not not ", "you ", "you are stupid ", "the third time I have called ",
      "speak to your ", "that is our ", "ridiculous ", "\xE2\x80\x99", "I can't, I won't. ",
      "0123456789", "it is just the rules and ", "lawyer court sue ",
  };
  const size_t len = 65536;
  char *line = malloc(len);
  struct es_match_result res;

  ASSERT(line != NULL);
  for (size_t f = 0; f < sizeof(fill) / sizeof(fill[0]); f++) {
    size_t fl = strlen(fill[f]), n = 0;
    while (n + fl <= len) {
      memcpy(line + n, fill[f], fl);
      n += fl;
    }
    memset(line + n, ' ', len - n);
    for (int k = 0; k < 2; k++) {
      ASSERT_EQ(es_match_line(m, ANYONE, line, len, k ? ES_MATCH_NAIVE : 0, &res), 0);
      if (res.nlimited != 0)
        fprintf(stderr, "fill \"%s\": rule %s limited\n", fill[f],
                es_rules_info(rules, res.limited[0])->id);
      ASSERT_EQ(res.nlimited, 0);
    }
  }
  ASSERT_EQ(es_matcher_stats(m)->limit_hits, 0);
  free(line);
  es_matcher_free(m);
  es_rules_free(rules);
}

/* The bundled rule files, when the directory holds any, must also take a
 * 64 KiB line of each kind without hitting a PCRE2 limit. */
static int dir_has_json(const char *path) {
  DIR *d = opendir(path);
  struct dirent *de;
  int found = 0;
  if (d == NULL)
    return 0;
  while (!found && (de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    found = n > 5 && strcmp(de->d_name + n - 5, ".json") == 0;
  }
  closedir(d);
  return found;
}

static void test_bundled_long_line(void) {
  const char *dir = ES_SOURCE_DIR "/rules";
  const char *paths[1] = {dir};
  struct es_diags d;
  struct es_rules *rules = NULL;
  struct es_matcher *m;
  struct es_match_result res;
  static const char *const fill[] = {
      "a", "no ", "you ", "the ", "I am not ", "calm ", "speak to your ",
      "that is our policy but ", "I will cancel my account and ", "\xE2\x80\x99 ", "!!! ",
  };
  const size_t len = 65536;
  char *line;
  int rc;

  if (!dir_has_json(dir)) {
    fprintf(stderr, "SKIP: %s holds no .json rule files yet\n", dir);
    return;
  }
  es_diags_init(&d);
  rc = es_rules_load(paths, 1, NULL, &rules, &d);
  for (size_t i = 0; i < d.count; i++)
    fprintf(stderr, "  %s:%d:%d: [%s] %s\n", d.items[i].file, d.items[i].line, d.items[i].column,
            d.items[i].rule_id, d.items[i].message);
  ASSERT_EQ(rc, 0);
  es_diags_deinit(&d);
  m = es_matcher_new(rules);
  line = malloc(len);
  ASSERT(m != NULL && line != NULL);
  for (size_t f = 0; f < sizeof(fill) / sizeof(fill[0]); f++) {
    size_t fl = strlen(fill[f]), n = 0;
    while (n + fl <= len) {
      memcpy(line + n, fill[f], fl);
      n += fl;
    }
    memset(line + n, ' ', len - n);
    for (int speaker = ES_SPEAKER_ANY; speaker <= ES_SPEAKER_CUSTOMER; speaker++) {
      ASSERT_EQ(es_match_line(m, (enum es_speaker)speaker, line, len, 0, &res), 0);
      if (res.nlimited != 0)
        fprintf(stderr, "fill \"%s\": bundled rule %s limited\n", fill[f],
                es_rules_info(rules, res.limited[0])->id);
      ASSERT_EQ(res.nlimited, 0);
    }
  }
  fprintf(stderr, "bundled rules: %u rules, 64 KiB lines of %zu kinds, no limit hit\n",
          es_rules_count(rules), sizeof(fill) / sizeof(fill[0]));
  free(line);
  es_matcher_free(m);
  es_rules_free(rules);
}

static void test_stats(void) {
  struct es_rules *rules = load(R("a", "any", "\"phrases\": [\"refund\"],") ","
                                R("b", "any", "\"phrases\": [\"cancel\"],"));
  struct es_matcher *m = es_matcher_new(rules);
  struct es_match_result res;
  const struct es_match_stats *st = es_matcher_stats(m);

  ASSERT(es_matcher_rules(m) == rules);
  ASSERT_EQ(es_match_line(m, ANYONE, "hello there", 11, 0, &res), 0);
  ASSERT_EQ(es_match_line(m, ANYONE, "refund please", 13, 0, &res), 0);
  ASSERT_EQ(st->lines, 2);
  ASSERT_EQ(st->hits, 1);
  /* The prefilter let only rule a through, on the second line. */
  ASSERT_EQ(st->candidates, 1);
  ASSERT_EQ(st->pcre2_runs, 1);
  ASSERT_EQ(es_match_line(m, ANYONE, "hello there", 11, ES_MATCH_NAIVE, &res), 0);
  ASSERT_EQ(st->candidates, 3);
  ASSERT_EQ(st->pcre2_runs, 3);
  es_matcher_free(m);
  es_rules_free(rules);
}

/* A phrase's prefilter anchor keeps its common words and contractions
 * with the rest of the phrase: "not my area" is anchored on " not my area ",
 * not on " area ", and "that's on you" on all of it, not on " thats ". */
static void test_anchor_keeps_common_words(void) {
  static const char *const pass[] = {
    "the work in your area is done", "my area code changed", "thats great news",
    "that is fine by me", "is it on you or me",
  };
  struct es_rules *rules = load(R("area", "any", "\"phrases\": [\"not my area\"],") ","
                                R("onyou", "any", "\"phrases\": [\"that's on you\"],"));
  struct es_matcher *m = es_matcher_new(rules);
  struct es_match_result res;
  const struct es_match_stats *st = es_matcher_stats(m);

  for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
    ASSERT_EQ(es_match_line(m, ANYONE, pass[i], strlen(pass[i]), 0, &res), 0);
    ASSERT_EQ(res.nhits, 0);
  }
  /* None of them was even tried. */
  ASSERT_EQ(st->candidates, 0);
  ASSERT_EQ(st->pcre2_runs, 0);
  ASSERT_EQ(es_match_line(m, ANYONE, "sorry thats not my area", 23, 0, &res), 0);
  ASSERT_EQ(res.nhits, 1);
  ASSERT_EQ(res.hits[0].rule, es_rules_find(rules, "area"));
  ASSERT_EQ(es_match_line(m, ANYONE, "well that is on you", 19, 0, &res), 0);
  ASSERT_EQ(res.nhits, 1);
  ASSERT_EQ(res.hits[0].rule, es_rules_find(rules, "onyou"));
  ASSERT_EQ(st->candidates, 2);
  es_matcher_free(m);
  es_rules_free(rules);
}

/* Per-rule counters and the ranking `earshot rules cost` prints. */
static void test_costliest(void) {
  struct es_rules *rules = load(R("a", "any", "\"phrases\": [\"refund\"],") ","
                                R("b", "any", "\"patterns\": [\"\\\\bpress\\\\b\"],"));
  struct es_matcher *m = es_matcher_new(rules);
  struct es_match_result res;
  uint32_t v[4];
  static const char *const lines[] = {"im impressed", "so impressed", "unimpressed",
                                      "refund please", "the press", "nothing here"};

  ASSERT_EQ(es_matcher_costliest(m, v, 4), 0);
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    ASSERT_EQ(es_match_line(m, ANYONE, lines[i], strlen(lines[i]), 0, &res), 0);
  uint32_t a = es_rules_find(rules, "a"), b = es_rules_find(rules, "b");
  ASSERT_EQ(es_matcher_rule_stats(m, b)->tried, 4);
  ASSERT_EQ(es_matcher_rule_stats(m, b)->hits, 1);
  ASSERT_EQ(es_matcher_rule_stats(m, a)->tried, 1);
  ASSERT_EQ(es_matcher_rule_stats(m, a)->hits, 1);
  ASSERT(es_matcher_rule_stats(m, 99) == NULL);
  /* b ran three times for nothing, a never: b first. */
  ASSERT_EQ(es_matcher_costliest(m, v, 4), 2);
  ASSERT_EQ(v[0], b);
  ASSERT_EQ(es_matcher_rule_stats(m, v[0])->tried, 4);
  ASSERT_EQ(es_matcher_rule_stats(m, v[0])->hits, 1);
  ASSERT_EQ(v[1], a);
  ASSERT_EQ(es_matcher_costliest(m, v, 1), 1);
  ASSERT_EQ(v[0], b);
  es_matcher_free(m);
  es_rules_free(rules);
}

int main(void) {
  RUN(test_phrase_spelling);
  RUN(test_contractions);
  RUN(test_word_boundaries);
  RUN(test_wildcard);
  RUN(test_spans_multibyte);
  RUN(test_speakers);
  RUN(test_negation);
  RUN(test_negation_custom);
  RUN(test_unless);
  RUN(test_patterns);
  RUN(test_order_and_one_hit);
  RUN(test_input_errors);
  RUN(test_catastrophic_pattern_limited);
  RUN(test_long_line_no_limits);
  RUN(test_bundled_long_line);
  RUN(test_stats);
  RUN(test_anchor_keeps_common_words);
  RUN(test_costliest);
  (void)es_test_failures_;
  fprintf(stderr, "test_match: all passed\n");
  return 0;
}
