/*
 * test_rules.c: loading, validating and compiling rule files. Every error
 * kind must name the file, line, column and rule id of the problem.
 */
#include "rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "match.h"
#include "task.h"

/* The fields every valid rule needs, on two lines; each test rule is
 * "  {" RULE_HEAD(id) ...extra fields... "}". */
#define RULE_HEAD(id)                                                              \
  "\"id\": \"" id "\", \"description\": \"d\", \"category\": \"exasperation\",\n"  \
  "   \"severity\": \"low\", \"speaker\": \"customer\", \"score\": 2, \"tip\": \"t\",\n"

#define GOOD_BODY                                                                  \
  "   \"phrases\": [\"ridiculous\"],\n"                                            \
  "   \"examples\": {\"match\": [\"this is ridiculous\"], \"no_match\": [\"fine\"]}\n"

static int load_n(const struct es_rules_source *src, size_t n, const struct es_rules_opts *opts,
                  struct es_rules **out, struct es_diags *d) {
  es_diags_clear(d);
  return es_rules_load_sources(src, n, opts, out, d);
}

static int load1(const char *name, const char *text, struct es_rules **out, struct es_diags *d) {
  struct es_rules_source src = {name, text, strlen(text)};
  return load_n(&src, 1, NULL, out, d);
}

/* 1-based line and column of the first occurrence of `marker` in text. */
static void pos_of(const char *text, const char *marker, int *line, int *col) {
  const char *hit = strstr(text, marker);
  int l = 1, c = 1;
  if (hit == NULL) {
    fprintf(stderr, "marker \"%s\" not in test source\n", marker);
    abort();
  }
  for (const char *p = text; p < hit; p++) {
    if (*p == '\n') {
      l++;
      c = 1;
    } else if (((unsigned char)*p & 0xC0) != 0x80) {
      c++;
    }
  }
  *line = l;
  *col = c;
}

static void dump_diags(const struct es_diags *d) {
  for (size_t i = 0; i < d->count; i++)
    fprintf(stderr, "  diag %zu: %s:%d:%d: [%s] %s\n", i, d->items[i].file, d->items[i].line,
            d->items[i].column, d->items[i].rule_id, d->items[i].message);
}

/* Asserts that some diagnostic says `needle` at file:line:col for rule_id. */
static void expect_diag_(const char *srcfile, int srcline, const struct es_diags *d,
                         const char *file, int line, int col, const char *rule_id,
                         const char *needle) {
  for (size_t i = 0; i < d->count; i++) {
    const struct es_diag *g = &d->items[i];
    if (strstr(g->message, needle) == NULL)
      continue;
    if (strcmp(g->file, file) != 0 || g->line != line || g->column != col ||
        strcmp(g->rule_id, rule_id) != 0) {
      fprintf(stderr, "%s:%d: diagnostic \"%s\" is at %s:%d:%d [%s], want %s:%d:%d [%s]\n",
              srcfile, srcline, needle, g->file, g->line, g->column, g->rule_id, file, line,
              col, rule_id);
      dump_diags(d);
      abort();
    }
    return;
  }
  fprintf(stderr, "%s:%d: no diagnostic says \"%s\"\n", srcfile, srcline, needle);
  dump_diags(d);
  abort();
}
#define EXPECT_DIAG(d, file, line, col, rule, needle) \
  expect_diag_(__FILE__, __LINE__, d, file, line, col, rule, needle)

/* Expects the single source `text` to fail with ES_ERULES and a diagnostic
 * saying `needle` at the first occurrence of `marker`. */
static void expect_error_at_(const char *srcfile, int srcline, const char *text,
                             const char *marker, const char *rule_id, const char *needle) {
  struct es_diags d;
  struct es_rules *rules = (struct es_rules *)1;
  int line, col, rc;

  es_diags_init(&d);
  rc = load1("t.json", text, &rules, &d);
  if (rc != ES_ERULES || rules != NULL) {
    fprintf(stderr, "%s:%d: load returned %d (%s), want ES_ERULES\n", srcfile, srcline, rc,
            es_strerror(rc));
    dump_diags(&d);
    abort();
  }
  pos_of(text, marker, &line, &col);
  expect_diag_(srcfile, srcline, &d, "t.json", line, col, rule_id, needle);
  es_diags_deinit(&d);
}
#define EXPECT_ERROR_AT(text, marker, rule, needle) \
  expect_error_at_(__FILE__, __LINE__, text, marker, rule, needle)

/* ---- a valid file ----------------------------------------------------- */

static void test_valid_and_info(void) {
  static const char text[] =
      "[\n"
      "  {" RULE_HEAD("t.one") GOOD_BODY "  },\n"
      "  {\"id\": \"agent.two\", \"description\": \"Desc two\", \"category\": \"banned_phrase\",\n"
      "   \"severity\": \"critical\", \"speaker\": \"agent\", \"score\": -3.5, \"tip\": \"Tip two\",\n"
      "   \"patterns\": [\"\\\\bcalm down\\\\b\"],\n"
      "   \"negation\": {\"window\": 2, \"cues\": [\"hardly\"]},\n"
      "   \"examples\": {\"match\": [\"Calm down!\"]}\n"
      "  }\n"
      "]\n";
  struct es_diags d;
  struct es_rules *rules = NULL;
  const struct es_rule_info *a, *b;

  es_diags_init(&d);
  ASSERT_EQ(load1("dir/one.json", text, &rules, &d), 0);
  ASSERT_EQ(d.count, 0);
  ASSERT_EQ(es_rules_count(rules), 2);
  ASSERT_EQ(es_rules_find(rules, "t.one"), 0);
  ASSERT_EQ(es_rules_find(rules, "agent.two"), 1);
  ASSERT_EQ(es_rules_find(rules, "nope"), -1);
  ASSERT_EQ(es_rules_nfiles(rules), 1);
  ASSERT_STR_EQ(es_rules_file(rules, 0), "dir/one.json");
  ASSERT(es_rules_file(rules, 1) == NULL);
  ASSERT(es_rules_info(rules, 2) == NULL);

  a = es_rules_info(rules, 0);
  ASSERT_STR_EQ(a->id, "t.one");
  ASSERT_STR_EQ(a->description, "d");
  ASSERT_STR_EQ(a->category, "exasperation");
  ASSERT_STR_EQ(a->tip, "t");
  ASSERT_STR_EQ(a->file, "dir/one.json");
  ASSERT_EQ(a->line, 2);
  ASSERT_EQ(a->severity, ES_SEV_LOW);
  ASSERT_EQ(a->speaker, ES_SPEAKER_CUSTOMER);
  ASSERT(a->score == 2.0);
  ASSERT_EQ(a->negation, 1); /* default on for customer rules */
  ASSERT_EQ(a->negation_window, 4);
  ASSERT_EQ(a->nmatch_examples, 1);
  ASSERT_STR_EQ(a->match_examples[0], "this is ridiculous");
  ASSERT_EQ(a->nno_match_examples, 1);
  ASSERT_STR_EQ(a->no_match_examples[0], "fine");
  ASSERT_EQ(es_rules_regex_count(rules, 0), 1);

  b = es_rules_info(rules, 1);
  ASSERT_STR_EQ(b->id, "agent.two");
  ASSERT_EQ(b->line, 7);
  ASSERT_EQ(b->severity, ES_SEV_CRITICAL);
  ASSERT_EQ(b->speaker, ES_SPEAKER_AGENT);
  ASSERT(b->score == -3.5);
  ASSERT_EQ(b->negation, 1);
  ASSERT_EQ(b->negation_window, 2);
  ASSERT_EQ(b->nno_match_examples, 0);
  ASSERT_EQ(es_rules_regex_count(rules, 1), 1);
  ASSERT_STR_EQ(es_rules_regex(rules, 1, 0), "\\bcalm down\\b");
  ASSERT(es_rules_regex(rules, 1, 1) == NULL);

  ASSERT_EQ(es_rules_run_examples(rules, NULL, NULL), 0);
  es_rules_free(rules);
  es_rules_free(NULL);
  es_diags_deinit(&d);
}

static void test_negation_defaults(void) {
  static const char text[] =
      "[\n"
      "  {\"id\": \"a.agent\", \"description\": \"d\", \"category\": \"banned_phrase\",\n"
      "   \"severity\": \"low\", \"speaker\": \"agent\", \"score\": 1, \"tip\": \"t\",\n"
      "   \"phrases\": [\"calm down\"], \"examples\": {\"match\": [\"calm down\"]}},\n"
      "  {\"id\": \"a.any\", \"description\": \"d\", \"category\": \"exasperation\",\n"
      "   \"severity\": \"low\", \"speaker\": \"any\", \"score\": 1, \"tip\": \"t\",\n"
      "   \"phrases\": [\"help\"], \"examples\": {\"match\": [\"help\"]}},\n"
      "  {\"id\": \"a.cust-off\", \"description\": \"d\", \"category\": \"churn_threat\",\n"
      "   \"severity\": \"low\", \"speaker\": \"customer\", \"score\": 1, \"tip\": \"t\",\n"
      "   \"negation\": false, \"phrases\": [\"cancel\"], \"examples\": {\"match\": [\"not cancel\"]}},\n"
      "  {\"id\": \"a.agent-on\", \"description\": \"d\", \"category\": \"banned_phrase\",\n"
      "   \"severity\": \"low\", \"speaker\": \"agent\", \"score\": 1, \"tip\": \"t\",\n"
      "   \"negation\": true, \"phrases\": [\"relax\"], \"examples\": {\"match\": [\"relax\"],\n"
      "   \"no_match\": [\"dont relax\"]}}\n"
      "]\n";
  struct es_diags d;
  struct es_rules *rules = NULL;

  es_diags_init(&d);
  ASSERT_EQ(load1("n.json", text, &rules, &d), 0);
  ASSERT_EQ(es_rules_info(rules, 0)->negation, 0);
  ASSERT_EQ(es_rules_info(rules, 1)->negation, 0);
  ASSERT_EQ(es_rules_info(rules, 1)->speaker, ES_SPEAKER_ANY);
  ASSERT_EQ(es_rules_info(rules, 2)->negation, 0);
  ASSERT_EQ(es_rules_info(rules, 3)->negation, 1);
  es_rules_free(rules);
  es_diags_deinit(&d);
}

static void test_source_not_nul_terminated(void) {
  /* Only text[0..len) is read: the bytes after it would be an error. */
  static const char text[] = "[{" RULE_HEAD("s.one") GOOD_BODY "}] trailing garbage {";
  struct es_rules_source src = {"s.json", text, strlen(text) - strlen(" trailing garbage {")};
  struct es_diags d;
  struct es_rules *rules = NULL;

  es_diags_init(&d);
  ASSERT_EQ(load_n(&src, 1, NULL, &rules, &d), 0);
  ASSERT_EQ(es_rules_count(rules), 1);
  es_rules_free(rules);
  es_diags_deinit(&d);
}

/* ---- comments --------------------------------------------------------- */

static void test_comments(void) {
  static const char text[] =
      "// a line comment before the array\n"
      "/* a block comment\n"
      "   over \"several\" lines, with a quote and [brackets] */\n"
      "[ // after the bracket\n"
      "  {\n"
      "    \"id\": \"c.one\", /* inline */ \"description\": \"see http://x.example/a//b\",\n"
      "    \"category\": \"exasperation\", \"severity\": \"low\", // trailing \"quote\n"
      "    \"speaker\": \"customer\", \"score\": 2,\n"
      "    \"tip\": \"say \\\"hi\\\" /* not a comment */ // nor this\",\n"
      "    \"phrases\": [\"ridiculous\" /* , \"commented out\" */],\n"
      "    \"examples\": {\"match\": [\"so ridiculous\"]}\n"
      "  }\n"
      "] /* trailing */ // end\n";
  struct es_diags d;
  struct es_rules *rules = NULL;
  const struct es_rule_info *info;

  es_diags_init(&d);
  ASSERT_EQ(load1("c.json", text, &rules, &d), 0);
  ASSERT_EQ(es_rules_count(rules), 1);
  info = es_rules_info(rules, 0);
  /* Inside strings, comment markers are text. */
  ASSERT_STR_EQ(info->description, "see http://x.example/a//b");
  ASSERT_STR_EQ(info->tip, "say \"hi\" /* not a comment */ // nor this");
  ASSERT_EQ(info->line, 5);
  es_rules_free(rules);
  es_diags_deinit(&d);

  /* Comments keep positions: an error after a multi-line comment is still
   * reported at its true line and column. */
  EXPECT_ERROR_AT("/* one\n two\n three */ [\n"
                  "  {" RULE_HEAD("c.two") "   \"bogus\": 1,\n" GOOD_BODY "  }\n]\n",
                  "\"bogus\"", "c.two", "unknown field \"bogus\"");
}

static void test_unterminated_comment(void) {
  static const char text[] = "[\n  {" RULE_HEAD("u.one") GOOD_BODY "  } /* never closed\n]\n";
  EXPECT_ERROR_AT(text, "/* never", "", "unterminated /* comment");
}

static void test_malformed_json(void) {
  /* A missing comma between two fields: the error points at the place
   * where the parser stopped, on the line of the second field. */
  static const char missing_comma[] =
      "[\n  {\"id\": \"m.one\", \"description\": \"d\"\n   \"category\": \"exasperation\"}\n]\n";
  EXPECT_ERROR_AT(missing_comma, "\"category\"", "", "malformed JSON");

  static const char bad_value[] = "[\n  {\"id\": \"m.two\",\n   \"score\": nope}\n]\n";
  EXPECT_ERROR_AT(bad_value, "nope", "", "malformed JSON");

  static const char trailing[] = "[\n  {" RULE_HEAD("m.three") GOOD_BODY "  }\n] extra\n";
  EXPECT_ERROR_AT(trailing, "extra", "", "malformed JSON");

  static const char not_array[] = "\n  {" RULE_HEAD("m.four") GOOD_BODY "}\n";
  EXPECT_ERROR_AT(not_array, "{", "", "JSON array of rules");

  static const char empty_array[] = "  [ ]\n";
  EXPECT_ERROR_AT(empty_array, "[", "", "holds no rules");

  static const char not_object[] = "[\n  \"a string\"\n]\n";
  EXPECT_ERROR_AT(not_object, "\"a string\"", "", "must be an object");
}

/* ---- field errors ----------------------------------------------------- */

static void test_unknown_field(void) {
  static const char text[] =
      "[\n  {" RULE_HEAD("f.unknown") "   \"phrase\": [\"typo\"],\n" GOOD_BODY "  }\n]\n";
  EXPECT_ERROR_AT(text, "\"phrase\":", "f.unknown", "unknown field \"phrase\"");

  static const char in_examples[] =
      "[\n  {" RULE_HEAD("f.unknown-ex") "   \"phrases\": [\"ridiculous\"],\n"
      "   \"examples\": {\"match\": [\"ridiculous\"], \"nomatch\": [\"x\"]}\n  }\n]\n";
  EXPECT_ERROR_AT(in_examples, "\"nomatch\"", "f.unknown-ex", "unknown field \"nomatch\"");

  static const char in_negation[] =
      "[\n  {" RULE_HEAD("f.unknown-neg") "   \"negation\": {\"windw\": 3},\n" GOOD_BODY
      "  }\n]\n";
  EXPECT_ERROR_AT(in_negation, "\"windw\"", "f.unknown-neg", "unknown field \"windw\"");
}

static void test_duplicate_key(void) {
  static const char text[] =
      "[\n  {" RULE_HEAD("f.dupkey") "   \"score\": 3,\n" GOOD_BODY "  }\n]\n";
  /* The second "score" is on line 4. */
  struct es_diags d;
  struct es_rules *rules = NULL;
  es_diags_init(&d);
  ASSERT_EQ(load1("t.json", text, &rules, &d), ES_ERULES);
  EXPECT_DIAG(&d, "t.json", 4, 4, "f.dupkey", "\"score\" appears twice");
  es_diags_deinit(&d);
}

static void test_duplicate_id(void) {
  static const char a[] = "[\n  {" RULE_HEAD("dup.id") GOOD_BODY "  }\n]\n";
  static const char b[] =
      "// second file\n[\n  {" RULE_HEAD("other.id") GOOD_BODY "  },\n"
      "  {" RULE_HEAD("dup.id") GOOD_BODY "  }\n]\n";
  struct es_rules_source src[2] = {{"rules/a.json", a, sizeof(a) - 1},
                                   {"rules/b.json", b, sizeof(b) - 1}};
  struct es_diags d;
  struct es_rules *rules = NULL;
  int line, col;

  es_diags_init(&d);
  ASSERT_EQ(load_n(src, 2, NULL, &rules, &d), ES_ERULES);
  ASSERT(rules == NULL);
  /* Reported at the second definition's id value, naming the first. */
  pos_of(b, "\"dup.id\"", &line, &col);
  EXPECT_DIAG(&d, "rules/b.json", line, col, "dup.id", "duplicate id");
  EXPECT_DIAG(&d, "rules/b.json", line, col, "dup.id", "first defined at rules/a.json:2:3");
  ASSERT_EQ(d.count, 1);

  /* Within one file too. */
  static const char c[] = "[\n  {" RULE_HEAD("same") GOOD_BODY "  },\n  {" RULE_HEAD("same")
                          GOOD_BODY "  }\n]\n";
  ASSERT_EQ(load1("c.json", c, &rules, &d), ES_ERULES);
  EXPECT_DIAG(&d, "c.json", 7, 10, "same", "first defined at c.json:2:3");
  es_diags_deinit(&d);
}

static void test_wrong_types(void) {
  EXPECT_ERROR_AT("[\n  {\"id\": 7, \"description\": \"d\"}\n]\n", "7", "",
                  "\"id\" must be a string");
  EXPECT_ERROR_AT("[\n  {\"id\": \"Bad Id\", \"description\": \"d\"}\n]\n", "\"Bad Id\"", "Bad Id",
                  "invalid id");
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"w.desc\", \"description\": 5, \"category\": \"exasperation\",\n"
      "   \"severity\": \"low\", \"speaker\": \"customer\", \"score\": 2, \"tip\": \"t\",\n" GOOD_BODY
      "  }\n]\n",
      "5,", "w.desc", "\"description\" must be a string, not a number");
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"w.score\", \"description\": \"d\", \"category\": \"exasperation\",\n"
      "   \"severity\": \"low\", \"speaker\": \"customer\", \"score\": \"high\", \"tip\": \"t\",\n"
      GOOD_BODY "  }\n]\n",
      "\"high\"", "w.score", "\"score\" must be a number");
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"w.tip\", \"description\": \"d\", \"category\": \"exasperation\",\n"
      "   \"severity\": \"low\", \"speaker\": \"customer\", \"score\": 1, \"tip\": \"\",\n" GOOD_BODY
      "  }\n]\n",
      "\"\",", "w.tip", "\"tip\" must not be empty");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.phrases") "   \"phrases\": \"ridiculous\",\n"
                  "   \"examples\": {\"match\": [\"ridiculous\"]}\n  }\n]\n",
                  "\"ridiculous\",", "w.phrases", "\"phrases\" must be an array of strings");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.entry") "   \"phrases\": [\"ok\", 3],\n"
                  "   \"examples\": {\"match\": [\"ok\"]}\n  }\n]\n",
                  "3]", "w.entry", "every entry of \"phrases\" must be a string, not a number");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.examples") "   \"phrases\": [\"ok\"],\n"
                  "   \"examples\": [\"ok\"]\n  }\n]\n",
                  "[\"ok\"]\n", "w.examples", "\"examples\" must be an object, not an array");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.neg") "   \"negation\": \"yes\",\n" GOOD_BODY "  }\n]\n",
                  "\"yes\"", "w.neg", "\"negation\" must be true, false or");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.window") "   \"negation\": {\"window\": 0},\n" GOOD_BODY
                  "  }\n]\n",
                  "0}", "w.window", "negation window must be a whole number");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.window2") "   \"negation\": {\"window\": 2.5},\n" GOOD_BODY
                  "  }\n]\n",
                  "2.5", "w.window2", "negation window must be a whole number");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("w.unless") "   \"unless\": [true],\n" GOOD_BODY "  }\n]\n",
                  "true", "w.unless", "every entry of \"unless\" must be a string, not a boolean");
}

static void test_missing_fields(void) {
  static const char *const fields[] = {"description", "category", "severity", "speaker",
                                       "score", "tip"};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    /* Build a rule without fields[i]. */
    char text[2048], msg[128];
    int n = snprintf(text, sizeof(text), "[\n  {\"id\": \"m.%s\"", fields[i]);
    static const char *const values[] = {"\"d\"", "\"exasperation\"", "\"low\"",
                                         "\"customer\"", "2", "\"t\""};
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
      if (k != i)
        n += snprintf(text + n, sizeof(text) - (size_t)n, ", \"%s\": %s", fields[k], values[k]);
    snprintf(text + n, sizeof(text) - (size_t)n, ",\n" GOOD_BODY "  }\n]\n");
    char id[64];
    snprintf(id, sizeof(id), "m.%s", fields[i]);
    snprintf(msg, sizeof(msg), "missing required field \"%s\"", fields[i]);
    /* Reported at the rule's opening brace: line 2, column 3. */
    expect_error_at_(__FILE__, __LINE__, text, "{", id, msg);
  }
  EXPECT_ERROR_AT("[\n  {\"description\": \"d\"}\n]\n", "{", "", "missing required field \"id\"");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("m.examples") "   \"phrases\": [\"ridiculous\"]\n  }\n]\n",
                  "{", "m.examples", "missing required field \"examples\"");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("m.nothing")
                  "   \"examples\": {\"match\": [\"x\"]}\n  }\n]\n",
                  "{", "m.nothing", "the rule matches nothing");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("m.nomatch") "   \"phrases\": [\"ridiculous\"],\n"
                  "   \"examples\": {\"no_match\": [\"fine\"]}\n  }\n]\n",
                  "{\"no_match\"", "m.nomatch", "needs at least one \"match\" line");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("m.nomatch2") "   \"phrases\": [\"ridiculous\"],\n"
                  "   \"examples\": {\"match\": [], \"no_match\": [\"fine\"]}\n  }\n]\n",
                  "{\"match\"", "m.nomatch2", "needs at least one \"match\" line");
}

static void test_empty_phrases_patterns(void) {
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("e.phrases") "   \"phrases\": [],\n"
                  "   \"examples\": {\"match\": [\"x\"]}\n  }\n]\n",
                  "[],", "e.phrases", "\"phrases\" is empty");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("e.patterns") "   \"patterns\": [],\n"
                  "   \"examples\": {\"match\": [\"x\"]}\n  }\n]\n",
                  "[],", "e.patterns", "\"patterns\" is empty");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("e.string") "   \"phrases\": [\"ok\", \"\"],\n"
                  "   \"examples\": {\"match\": [\"ok\"]}\n  }\n]\n",
                  "\"\"]", "e.string", "empty string in \"phrases\"");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("e.pattern-string") "   \"patterns\": [\"\"],\n"
                  "   \"examples\": {\"match\": [\"ok\"]}\n  }\n]\n",
                  "\"\"]", "e.pattern-string", "empty string in \"patterns\"");
  /* A phrase made only of punctuation, or only of wildcards, has no words. */
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("e.punct") "   \"phrases\": [\"ok\", \"-- !\"],\n"
                  "   \"examples\": {\"match\": [\"ok\"]}\n  }\n]\n",
                  "\"-- !\"", "e.punct", "has no words to match");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("e.wild") "   \"phrases\": [\"* *\"],\n"
                  "   \"examples\": {\"match\": [\"ok\"]}\n  }\n]\n",
                  "\"* *\"", "e.wild", "has no words to match");
}

static void test_bad_enums(void) {
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"b.cat\", \"description\": \"d\", \"category\": \"rudeness\",\n"
      "   \"severity\": \"low\", \"speaker\": \"customer\", \"score\": 2, \"tip\": \"t\",\n" GOOD_BODY
      "  }\n]\n",
      "\"rudeness\"", "b.cat", "unknown category \"rudeness\"");
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"b.sev\", \"description\": \"d\", \"category\": \"exasperation\",\n"
      "   \"severity\": \"severe\", \"speaker\": \"customer\", \"score\": 2, \"tip\": \"t\",\n"
      GOOD_BODY "  }\n]\n",
      "\"severe\"", "b.sev", "unknown severity \"severe\"");
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"b.spk\", \"description\": \"d\", \"category\": \"exasperation\",\n"
      "   \"severity\": \"low\", \"speaker\": \"caller\", \"score\": 2, \"tip\": \"t\",\n" GOOD_BODY
      "  }\n]\n",
      "\"caller\"", "b.spk", "unknown speaker \"caller\"");
  /* Names are exact: upper case is not accepted. */
  EXPECT_ERROR_AT(
      "[\n  {\"id\": \"b.sev2\", \"description\": \"d\", \"category\": \"exasperation\",\n"
      "   \"severity\": \"HIGH\", \"speaker\": \"customer\", \"score\": 2, \"tip\": \"t\",\n"
      GOOD_BODY "  }\n]\n",
      "\"HIGH\"", "b.sev2", "unknown severity \"HIGH\"");
}

static void test_pattern_errors(void) {
  struct es_diags d;
  struct es_rules *rules = NULL;
  static const char bad[] = "[\n  {" RULE_HEAD("p.compile")
                            "   \"patterns\": [\"\\\\bok\\\\b\", \"(abc\"],\n"
                            "   \"examples\": {\"match\": [\"ok\"]}\n  }\n]\n";
  /* PCRE2 reports a missing ) at the end of "(abc", offset 4. */
  EXPECT_ERROR_AT(bad, "\"(abc\"", "p.compile", "does not compile at offset 4");
  es_diags_init(&d);
  ASSERT_EQ(load1("t.json", bad, &rules, &d), ES_ERULES);
  ASSERT(strstr(d.items[0].message, "missing closing parenthesis") != NULL);
  es_diags_deinit(&d);

  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("p.offset") "   \"patterns\": [\"ab[c\"],\n"
                  "   \"examples\": {\"match\": [\"ab\"]}\n  }\n]\n",
                  "\"ab[c\"", "p.offset", "does not compile at offset 4");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("p.empty") "   \"patterns\": [\"(?:sorry)*\"],\n"
                  "   \"examples\": {\"match\": [\"sorry\"]}\n  }\n]\n",
                  "\"(?:sorry)*\"", "p.empty", "can match the empty string");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("p.unless-empty") "   \"unless\": [\"x?\"],\n" GOOD_BODY
                  "  }\n]\n",
                  "\"x?\"", "p.unless-empty", "can match the empty string");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("p.apos") "   \"patterns\": [\"\\\\bthat's\\\\b\"],\n"
                  "   \"examples\": {\"match\": [\"that's it\"]}\n  }\n]\n",
                  "\"\\\\bthat's", "p.apos", "apostrophes are removed");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("p.curly") "   \"patterns\": [\"that\xE2\x80\x99s\"],\n"
                  "   \"examples\": {\"match\": [\"that's it\"]}\n  }\n]\n",
                  "\"that\xE2\x80\x99s\"", "p.curly", "apostrophes are removed");
  EXPECT_ERROR_AT("[\n  {" RULE_HEAD("p.unless-apos") "   \"unless\": [\"isn't\"],\n" GOOD_BODY
                  "  }\n]\n",
                  "\"isn't\"", "p.unless-apos", "apostrophes are removed");
}

static void test_failing_examples(void) {
  static const char text[] =
      "[\n"
      "  {" RULE_HEAD("x.ok") GOOD_BODY "  },\n"
      "  {" RULE_HEAD("x.bad") "   \"phrases\": [\"ridiculous\"],\n"
      "   \"examples\": {\n"
      "     \"match\": [\"this is ridiculous\",\n"
      "               \"this is absurd\"],\n"
      "     \"no_match\": [\"fine\", \"ridiculous indeed\"]}\n"
      "  }\n"
      "]\n";
  struct es_diags d;
  struct es_rules *rules = NULL;
  int line, col;

  es_diags_init(&d);
  ASSERT_EQ(load1("ex.json", text, &rules, &d), ES_ERULES);
  ASSERT(rules == NULL);
  ASSERT_EQ(d.count, 2);
  pos_of(text, "\"this is absurd\"", &line, &col);
  ASSERT_EQ(line, 12);
  EXPECT_DIAG(&d, "ex.json", line, col, "x.bad", "should match but does not: \"this is absurd\"");
  pos_of(text, "\"ridiculous indeed\"", &line, &col);
  EXPECT_DIAG(&d, "ex.json", line, col, "x.bad",
              "should not match but does: \"ridiculous indeed\"");

  /* With check_examples off the same set loads, and running the examples
   * counts the two failures. */
  struct es_rules_opts opts;
  struct es_rules_source src = {"ex.json", text, sizeof(text) - 1};
  es_rules_opts_init(&opts);
  opts.check_examples = 0;
  ASSERT_EQ(load_n(&src, 1, &opts, &rules, &d), 0);
  ASSERT_EQ(es_rules_run_examples(rules, NULL, NULL), 2);
  es_rules_free(rules);
  es_diags_deinit(&d);
}

static void test_failing_examples_second_file(void) {
  /* An example failing in the second file is reported in that file. */
  static const char a[] = "[\n  {" RULE_HEAD("f2.a") GOOD_BODY "  }\n]\n";
  static const char b[] = "[\n  {" RULE_HEAD("f2.b") "   \"phrases\": [\"absurd\"],\n"
                          "   \"examples\": {\"match\": [\"so absurd\"], \"no_match\": [\"absurd\"]}\n"
                          "  }\n]\n";
  struct es_rules_source src[2] = {{"a.json", a, sizeof(a) - 1}, {"b.json", b, sizeof(b) - 1}};
  struct es_diags d;
  struct es_rules *rules = NULL;
  int line, col;

  es_diags_init(&d);
  ASSERT_EQ(load_n(src, 2, NULL, &rules, &d), ES_ERULES);
  pos_of(b, "\"absurd\"]}", &line, &col);
  EXPECT_DIAG(&d, "b.json", line, col, "f2.b", "should not match but does");
  es_diags_deinit(&d);
}

static void test_many_errors_reported(void) {
  /* Every problem gets its own diagnostic, not just the first. */
  static const char text[] =
      "[\n"
      "  {" RULE_HEAD("z.one") "   \"bogus\": 1,\n" GOOD_BODY "  },\n"
      "  {\"id\": \"z.two\", \"description\": \"d\", \"category\": \"nope\",\n"
      "   \"severity\": \"low\", \"speaker\": \"robot\", \"score\": 2, \"tip\": \"t\",\n" GOOD_BODY
      "  }\n"
      "]\n";
  struct es_diags d;
  struct es_rules *rules = NULL;

  es_diags_init(&d);
  ASSERT_EQ(load1("many.json", text, &rules, &d), ES_ERULES);
  ASSERT_EQ(d.count, 3);
  EXPECT_DIAG(&d, "many.json", 4, 4, "z.one", "unknown field \"bogus\"");
  EXPECT_DIAG(&d, "many.json", 8, 51, "z.two", "unknown category \"nope\"");
  EXPECT_DIAG(&d, "many.json", 9, 34, "z.two", "unknown speaker \"robot\"");
  es_diags_deinit(&d);
}

static void test_invalid_input_bytes(void) {
  struct es_diags d;
  struct es_rules *rules = NULL;
  struct es_rules_source src = {"bin.json", "[\xFF]", 3};

  es_diags_init(&d);
  ASSERT_EQ(load_n(&src, 1, NULL, &rules, &d), ES_ERULES);
  EXPECT_DIAG(&d, "bin.json", 0, 0, "", "not valid UTF-8");
  ASSERT_EQ(load_n(NULL, 0, NULL, &rules, &d), ES_ERULES);
  EXPECT_DIAG(&d, "", 0, 0, "", "no rules to load");
  es_diags_deinit(&d);
}

/* ---- version ------------------------------------------------------------ */

static const char *load_version(const char *name, const char *text, char *buf) {
  struct es_diags d;
  struct es_rules *rules = NULL;
  es_diags_init(&d);
  ASSERT_EQ(load1(name, text, &rules, &d), 0);
  snprintf(buf, 64, "%s", es_rules_version(rules));
  es_rules_free(rules);
  es_diags_deinit(&d);
  return buf;
}

static void test_version(void) {
  static const char a[] = "[\n  {" RULE_HEAD("v.one") GOOD_BODY "  }\n]\n";
  static const char b[] = "[\n  {" RULE_HEAD("v.one") GOOD_BODY "  }\n]\n\n";
  char v1[64], v2[64], v3[64], v4[64];

  load_version("a.json", a, v1);
  load_version("a.json", a, v2);
  load_version("a.json", b, v3);
  load_version("other.json", a, v4);
  ASSERT_EQ(strlen(v1), 16);
  for (const char *p = v1; *p; p++)
    ASSERT(strchr("0123456789abcdef", *p) != NULL);
  ASSERT_STR_EQ(v1, v2);
  ASSERT(strcmp(v1, v3) != 0); /* one more byte */
  ASSERT(strcmp(v1, v4) != 0); /* another file name */
}

/* ---- directories -------------------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text) {
  char path[512];
  FILE *f;
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  ASSERT_EQ(fwrite(text, 1, strlen(text), f), strlen(text));
  ASSERT_EQ(fclose(f), 0);
}

static void rm_file(const char *dir, const char *name) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  ASSERT_EQ(remove(path), 0);
}

static void test_directory(void) {
  char dir[] = "/tmp/es_test_rules_XXXXXX";
  char sub[600], path[700];
  const char *paths[1];
  struct es_diags d;
  struct es_rules *rules = NULL;
  static const char ra[] = "[{" RULE_HEAD("d.a") GOOD_BODY "}]";
  static const char rb[] = "[{" RULE_HEAD("d.b") GOOD_BODY "}]";
  static const char rc[] = "[{" RULE_HEAD("d.c") GOOD_BODY "}]";
  static const char rz[] = "[{" RULE_HEAD("d.z") GOOD_BODY "}]";

  ASSERT(mkdtemp(dir) != NULL);
  es_diags_init(&d);
  paths[0] = dir;

  /* Empty directory: an error, not an empty rule set. */
  ASSERT_EQ(es_rules_load(paths, 1, NULL, &rules, &d), ES_EIO);
  ASSERT(rules == NULL);
  EXPECT_DIAG(&d, dir, 0, 0, "", "no *.json rule files");

  /* Only non-JSON files: still empty. */
  write_file(dir, "notes.txt", "not json at all {");
  es_diags_clear(&d);
  ASSERT_EQ(es_rules_load(paths, 1, NULL, &rules, &d), ES_EIO);
  EXPECT_DIAG(&d, dir, 0, 0, "", "no *.json rule files");

  /* Files written out of order; a nested directory; files that are not
   * *.json (a backup, a hidden file) are skipped. */
  write_file(dir, "z.json", rz);
  write_file(dir, "b.json", rb);
  write_file(dir, "a.json", ra);
  write_file(dir, "a.json.bak", "garbage");
  write_file(dir, ".hidden.json", "garbage");
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  ASSERT_EQ(mkdir(sub, 0700), 0);
  write_file(sub, "c.json", rc);

  es_diags_clear(&d);
  ASSERT_EQ(es_rules_load(paths, 1, NULL, &rules, &d), 0);
  ASSERT_EQ(d.count, 0);
  ASSERT_EQ(es_rules_count(rules), 4);
  ASSERT_EQ(es_rules_nfiles(rules), 4);
  /* Name order: a.json, b.json, sub/ (sorted as "sub"), z.json. */
  snprintf(path, sizeof(path), "%s/a.json", dir);
  ASSERT_STR_EQ(es_rules_file(rules, 0), path);
  snprintf(path, sizeof(path), "%s/b.json", dir);
  ASSERT_STR_EQ(es_rules_file(rules, 1), path);
  snprintf(path, sizeof(path), "%s/sub/c.json", dir);
  ASSERT_STR_EQ(es_rules_file(rules, 2), path);
  ASSERT_STR_EQ(es_rules_info(rules, 2)->file, path);
  snprintf(path, sizeof(path), "%s/z.json", dir);
  ASSERT_STR_EQ(es_rules_file(rules, 3), path);
  ASSERT_STR_EQ(es_rules_info(rules, 0)->id, "d.a");
  ASSERT_STR_EQ(es_rules_info(rules, 1)->id, "d.b");
  ASSERT_STR_EQ(es_rules_info(rules, 2)->id, "d.c");
  ASSERT_STR_EQ(es_rules_info(rules, 3)->id, "d.z");
  es_rules_free(rules);

  /* A file path works as well as a directory, and an error in a file from
   * a directory names that file. */
  write_file(sub, "d.json", "[\n  {\"id\": \"d.d\"}\n]\n");
  es_diags_clear(&d);
  ASSERT_EQ(es_rules_load(paths, 1, NULL, &rules, &d), ES_ERULES);
  snprintf(path, sizeof(path), "%s/sub/d.json", dir);
  EXPECT_DIAG(&d, path, 2, 3, "d.d", "missing required field \"description\"");
  rm_file(sub, "d.json");

  snprintf(path, sizeof(path), "%s/b.json", dir);
  paths[0] = path;
  es_diags_clear(&d);
  ASSERT_EQ(es_rules_load(paths, 1, NULL, &rules, &d), 0);
  ASSERT_EQ(es_rules_count(rules), 1);
  ASSERT_STR_EQ(es_rules_info(rules, 0)->id, "d.b");
  es_rules_free(rules);

  /* A missing path. */
  snprintf(path, sizeof(path), "%s/missing.json", dir);
  es_diags_clear(&d);
  ASSERT_EQ(es_rules_load(paths, 1, NULL, &rules, &d), ES_EIO);
  EXPECT_DIAG(&d, path, 0, 0, "", "cannot open");

  rm_file(sub, "c.json");
  ASSERT_EQ(rmdir(sub), 0);
  rm_file(dir, "z.json");
  rm_file(dir, "b.json");
  rm_file(dir, "a.json");
  rm_file(dir, "a.json.bak");
  rm_file(dir, ".hidden.json");
  rm_file(dir, "notes.txt");
  ASSERT_EQ(rmdir(dir), 0);
  es_diags_deinit(&d);
}

static void test_options(void) {
  struct es_rules_opts opts;
  struct es_diags d;
  struct es_rules *rules = NULL;
  static const char text[] = "[{" RULE_HEAD("o.one") GOOD_BODY "}]";
  struct es_rules_source src = {"o.json", text, sizeof(text) - 1};

  es_rules_opts_init(&opts);
  ASSERT_EQ(opts.negation_window, 4);
  ASSERT_EQ(opts.match_limit, 1000000);
  ASSERT_EQ(opts.max_line_bytes, 65536);
  ASSERT_EQ(opts.check_examples, 1);
  es_diags_init(&d);
  opts.negation_window = 0;
  ASSERT_EQ(load_n(&src, 1, &opts, &rules, &d), ES_EINVAL);
  EXPECT_DIAG(&d, "", 0, 0, "", "negation window");
  opts.negation_window = 6;
  opts.max_line_bytes = 1000;
  ASSERT_EQ(load_n(&src, 1, &opts, &rules, &d), 0);
  ASSERT_EQ(es_rules_options(rules)->max_line_bytes, 1000);
  ASSERT_EQ(es_rules_info(rules, 0)->negation_window, 6);
  es_rules_free(rules);
  es_diags_deinit(&d);
}

static void test_names(void) {
  enum es_severity sev;
  enum es_speaker spk;
  ASSERT_EQ(es_severity_parse("medium", &sev), 0);
  ASSERT_EQ(sev, ES_SEV_MEDIUM);
  ASSERT_EQ(es_severity_parse("extreme", &sev), ES_EINVAL);
  ASSERT_STR_EQ(es_severity_name(ES_SEV_CRITICAL), "critical");
  ASSERT_STR_EQ(es_severity_name((enum es_severity)99), "unknown");
  ASSERT_EQ(es_speaker_parse("agent", &spk), 0);
  ASSERT_EQ(spk, ES_SPEAKER_AGENT);
  ASSERT_EQ(es_speaker_parse("any", &spk), 0);
  ASSERT_EQ(spk, ES_SPEAKER_ANY);
  ASSERT_EQ(es_speaker_parse("Agent", &spk), ES_EINVAL);
  ASSERT_STR_EQ(es_speaker_name(ES_SPEAKER_CUSTOMER), "customer");
}

int main(void) {
  RUN(test_valid_and_info);
  RUN(test_negation_defaults);
  RUN(test_source_not_nul_terminated);
  RUN(test_comments);
  RUN(test_unterminated_comment);
  RUN(test_malformed_json);
  RUN(test_unknown_field);
  RUN(test_duplicate_key);
  RUN(test_duplicate_id);
  RUN(test_wrong_types);
  RUN(test_missing_fields);
  RUN(test_empty_phrases_patterns);
  RUN(test_bad_enums);
  RUN(test_pattern_errors);
  RUN(test_failing_examples);
  RUN(test_failing_examples_second_file);
  RUN(test_many_errors_reported);
  RUN(test_invalid_input_bytes);
  RUN(test_version);
  RUN(test_directory);
  RUN(test_options);
  RUN(test_names);
  (void)es_test_failures_;
  fprintf(stderr, "test_rules: all passed\n");
  return 0;
}
