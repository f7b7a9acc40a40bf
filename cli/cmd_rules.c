/* cmd_rules.c: `earshot rules check|test [PATH...]` and `earshot rules
 * cost`; `rules stats` is in cmd_query.c. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lines.h"
#include "proto.h"

static void rules_usage(void) {
  fputs("usage: earshot rules check [--config FILE] [PATH...]\n"
        "       earshot rules test [--config FILE] [PATH...]\n"
        "       earshot rules stats [FILTERS]   hits and false positives per rule, from\n"
        "                                       the alert store (docs/analysts.md)\n"
        "       earshot rules cost [--rules PATH]... [--config FILE] [--top N] [FILE|-]\n"
        "                                       per rule: the lines PCRE2 ran on against\n"
        "                                       the lines it matched, over a transcript\n"
        "                                       (docs/rules.md, \"How matching works\")\n"
        "PATH is a rule file or a directory (every *.json below it, in name order).\n"
        "Default: the rules earshotd runs: those its config file names (--config FILE,\n"
        "else $EARSHOT_RULES, else $EARSHOT_CONFIG's file, else /etc/earshot/earshotd.json),\n"
        "else the bundled rules (docs/rules.md).\n",
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

/* `earshot rules cost`: runs the matcher alone (no call logic) over the
 * utterances of a transcript and prints, per rule, how often the prefilter
 * let it run PCRE2 against how often it matched. A rule that runs on many
 * lines and matches few has a weak prefilter anchor. */
static int rules_cost(int argc, char **argv) {
  static const struct option longopts[] = {
    {"rules", required_argument, NULL, 'r'},
    {"config", required_argument, NULL, 'c'},
    {"top", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  char **rule_paths = calloc((size_t)argc + 1, sizeof(char *));
  const char *config = NULL;
  size_t nrule_paths = 0, top = 20;
  struct es_rules *rules = NULL;
  struct es_matcher *m = NULL;
  uint32_t *rows = NULL;
  struct es_events in = {0};
  struct es_event ev;
  uint64_t utterances = 0, not_matched = 0;
  int c, rc = 1, got;

  if (rule_paths == NULL)
    return 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "r:c:t:h", longopts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'r':
      rule_paths[nrule_paths++] = optarg;
      break;
    case 'c':
      config = optarg;
      break;
    case 't':
      top = (size_t)strtoull(optarg, &end, 10);
      if (*optarg < '0' || *optarg > '9' || *end != '\0') {
        fprintf(stderr, "earshot rules cost: --top takes a number of rules (0: all), not \"%s\"\n",
                optarg);
        free(rule_paths);
        return 2;
      }
      break;
    case 'h':
      rules_usage();
      free(rule_paths);
      return 0;
    default:
      rules_usage();
      free(rule_paths);
      return 2;
    }
  }
  if (argc - optind > 1) {
    rules_usage();
    free(rule_paths);
    return 2;
  }
  if (es_cli_load_rules(rule_paths, nrule_paths, config, NULL, &rules) != 0)
    goto done;
  if (es_events_open(&in, "rules cost", optind < argc ? argv[optind] : NULL,
                     es_rules_options(rules)->max_line_bytes) != 0)
    goto done;
  m = es_matcher_new(rules);
  rows = calloc(es_rules_count(rules) + 1, sizeof(*rows));
  if (m == NULL || rows == NULL) {
    fprintf(stderr, "earshot rules cost: out of memory\n");
    goto done;
  }
  while ((got = es_events_next(&in, &ev)) == 1) {
    struct es_match_result res;
    if (ev.type != ES_EV_UTTERANCE)
      continue;
    utterances++;
    if (es_match_line(m, ev.speaker, ev.text, ev.text_len, ES_MATCH_VALID_UTF8, &res) != 0)
      not_matched++;
  }
  if (got < 0)
    goto done;

  const struct es_match_stats *st = es_matcher_stats(m);
  uint32_t n = es_rules_count(rules);
  uint64_t tried = 0, hits = st->hits;
  for (uint32_t i = 0; i < n; i++)
    tried += es_matcher_rule_stats(m, i)->tried;
  int64_t nrows = es_matcher_costliest(m, rows, top == 0 || top > n ? n : top);
  if (nrows < 0) {
    fprintf(stderr, "earshot rules cost: out of memory\n");
    goto done;
  }
  printf("%" PRIu64 " utterances (%lld lines, %lld errors); %u rules, %u not prefiltered\n",
         utterances, in.lines, in.errors + (long long)not_matched, n, es_rules_unfiltered(rules));
  printf("rules run: %" PRIu64 " (%.3f per utterance), %" PRIu64 " PCRE2 runs, %" PRIu64
         " matched, %" PRIu64 " ran for nothing\n",
         tried, utterances ? (double)tried / (double)utterances : 0.0, st->pcre2_runs, hits,
         tried - hits);
  printf("%-36s %10s %10s %10s %12s\n", "rule", "ran", "matched", "nothing", "ran/1000");
  for (int64_t i = 0; i < nrows; i++) {
    const struct es_match_rule_stats *rs = es_matcher_rule_stats(m, rows[i]);
    printf("%-36s %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %12.2f\n",
           es_rules_info(rules, rows[i])->id, rs->tried, rs->hits, rs->tried - rs->hits,
           utterances ? 1000.0 * (double)rs->tried / (double)utterances : 0.0);
  }
  rc = 0;
done:
  es_events_close(&in);
  free(rows);
  es_matcher_free(m);
  es_rules_free(rules);
  free(rule_paths);
  return rc;
}

int es_cmd_rules(int argc, char **argv) {
  struct es_rules_opts opts;
  struct es_rules *rules = NULL;
  int test, rc;

  if (argc >= 2 && strcmp(argv[1], "stats") == 0)
    return es_cmd_rules_stats(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "cost") == 0)
    return rules_cost(argc - 1, argv + 1);
  if (argc < 2 || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "test") != 0)) {
    rules_usage();
    return 2;
  }
  test = strcmp(argv[1], "test") == 0;
  static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *config = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc - 1, argv + 1, "c:h", longopts, NULL)) != -1) {
    if (c == 'c') {
      config = optarg;
      continue;
    }
    rules_usage();
    return c == 'h' ? 0 : 2;
  }
  es_rules_opts_init(&opts);
  /* `test` reports examples one by one, so it loads without checking them. */
  opts.check_examples = !test;
  rc = es_cli_load_rules(argv + 1 + optind, (size_t)(argc - 1 - optind), config, &opts, &rules);
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
