/* cmd_rules.c: `earshot rules check|test [PATH...]`; `rules stats` is in
 * cmd_query.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void rules_usage(void) {
  fputs("usage: earshot rules check [PATH...]\n"
        "       earshot rules test [PATH...]\n"
        "       earshot rules stats [FILTERS]   hits and false positives per rule, from\n"
        "                                       the alert store (docs/analysts.md)\n"
        "PATH is a rule file or a directory (every *.json below it, in name order).\n"
        "Default: the bundled rules (" "see `earshot help`).\n",
        stderr);
}

struct test_ctx {
  const struct es_rules *rules;
  size_t passed, failed;
};

static void on_example(void *ud, uint32_t idx, int expect_match, const char *line, int passed) {
  struct test_ctx *t = ud;
  const struct es_rule_info *info = es_rules_info(t->rules, idx);

  if (passed) {
    t->passed++;
    return;
  }
  t->failed++;
  printf("FAIL %s:%d: %s: %s: \"%s\"\n", info->file, info->line, info->id,
         expect_match ? "should match but does not" : "should not match but does", line);
}

int es_cmd_rules(int argc, char **argv) {
  struct es_rules_opts opts;
  struct es_rules *rules = NULL;
  int test, rc;

  if (argc >= 2 && strcmp(argv[1], "stats") == 0)
    return es_cmd_rules_stats(argc - 1, argv + 1);
  if (argc < 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "test") != 0)) {
    rules_usage();
    return 2;
  }
  test = strcmp(argv[1], "test") == 0;
  for (int i = 2; i < argc; i++)
    if (argv[i][0] == '-') {
      rules_usage();
      return 2;
    }
  es_rules_opts_init(&opts);
  /* `test` reports examples one by one, so it loads without checking them. */
  opts.check_examples = !test;
  rc = es_cli_load_rules(argv + 2, (size_t)(argc - 2), &opts, &rules);
  if (rc != 0)
    return 1;
  if (!test) {
    printf("ok: %u rules from %zu files, version %s (%u not prefiltered)\n",
           es_rules_count(rules), es_rules_nfiles(rules), es_rules_version(rules),
           es_rules_unfiltered(rules));
    es_rules_free(rules);
    return 0;
  }
  struct test_ctx ctx = {rules, 0, 0};
  int64_t failed = es_rules_run_examples(rules, on_example, &ctx);
  es_rules_free(rules);
  if (failed < 0) {
    fprintf(stderr, "earshot: %s\n", es_strerror((int)failed));
    return 1;
  }
  printf("examples: %zu passed, %zu failed\n", ctx.passed, ctx.failed);
  return ctx.failed ? 1 : 0;
}
