/*
 * cmd_replay.c: `earshot replay` runs the rules over a transcript file in
 * the protocol format and prints one NDJSON alert per hit to stdout, and
 * one NDJSON error record per bad line to stderr.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "cli.h"
#include "lines.h"
#include "proto.h"

static void replay_usage(void) {
  fputs("usage: earshot replay [--rules PATH]... [FILE|-]\n"
        "Reads protocol lines ({\"call_id\",\"speaker\",\"text\",\"ts\"}, one JSON object\n"
        "per line) from FILE or standard input and prints one alert per hit.\n",
        stderr);
}

static void print_error(long long line, const char *code, const char *message, const char *rule) {
  char buf[ES_ERROR_JSON_CAP];
  size_t n = es_error_json(buf, line, 0, 0, code, rule, message);
  fwrite(buf, 1, n, stderr);
}

int es_cmd_replay(int argc, char **argv) {
  static const struct option longopts[] = {
    {"rules", required_argument, NULL, 'r'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  char **rule_paths = calloc((size_t)argc, sizeof(char *));
  size_t nrule_paths = 0;
  struct es_rules *rules = NULL;
  struct es_matcher *m = NULL;
  struct es_decoder *dec = NULL;
  struct es_lines rd;
  FILE *in = stdin;
  char *out = NULL;
  size_t out_cap;
  long long nlines = 0, nalerts = 0, nerrors = 0;
  int c, rc = 1, rd_ok = 0;

  if (rule_paths == NULL)
    return 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'r':
      rule_paths[nrule_paths++] = optarg;
      break;
    case 'h':
      replay_usage();
      free(rule_paths);
      return 0;
    default:
      replay_usage();
      free(rule_paths);
      return 2;
    }
  }
  if (argc - optind > 1) {
    replay_usage();
    free(rule_paths);
    return 2;
  }
  if (optind < argc && strcmp(argv[optind], "-") != 0) {
    in = fopen(argv[optind], "r");
    if (in == NULL) {
      fprintf(stderr, "earshot replay: cannot open %s: %m\n", argv[optind]);
      free(rule_paths);
      return 1;
    }
  }
  if (es_cli_load_rules(rule_paths, nrule_paths, NULL, &rules) != 0)
    goto done;
  size_t max_line = es_rules_options(rules)->max_line_bytes;
  out_cap = ES_ALERT_JSON_CAP(max_line);
  m = es_matcher_new(rules);
  dec = es_decoder_new(max_line);
  out = malloc(out_cap);
  if (m == NULL || dec == NULL || out == NULL || es_lines_init(&rd, in, max_line) != 0) {
    fprintf(stderr, "earshot replay: out of memory\n");
    goto done;
  }
  rd_ok = 1;

  for (;;) {
    char *line;
    size_t len;
    int too_long, r;
    struct es_event ev;
    struct es_proto_error perr;
    struct es_match_result res;

    r = es_lines_next(&rd, &line, &len, &too_long);
    if (r < 0) {
      fprintf(stderr, "earshot replay: read error: %m\n");
      goto done;
    }
    if (r == 0)
      break;
    nlines++;
    if (too_long) {
      char msg[128];
      snprintf(msg, sizeof(msg), "line is longer than the limit (max_line_bytes) of %zu bytes",
               max_line);
      print_error(rd.lineno, "line_too_long", msg, NULL);
      nerrors++;
      continue;
    }
    if (es_proto_decode(dec, line, len, &ev, &perr) != 0) {
      print_error(rd.lineno, perr.code, perr.message, NULL);
      nerrors++;
      continue;
    }
    if (ev.type != ES_EV_UTTERANCE)
      continue;
    /* Partial hypotheses are revised later: never alert on them here. */
    if (!ev.final)
      continue;
    if (es_match_line(m, ev.speaker, ev.text, ev.text_len, ES_MATCH_VALID_UTF8, &res) != 0) {
      print_error(rd.lineno, "invalid_text", "text could not be matched", NULL);
      nerrors++;
      continue;
    }
    for (size_t i = 0; i < res.nlimited; i++) {
      const struct es_rule_info *info = es_rules_info(rules, res.limited[i]);
      print_error(rd.lineno, "match_limit",
                  "a PCRE2 limit stopped this rule on this line; its result is unknown",
                  info->id);
      nerrors++;
    }
    for (size_t i = 0; i < res.nhits; i++) {
      struct es_alert a = {
        .call_id = ev.call_id,
        .rule = es_rules_info(rules, res.hits[i].rule),
        .speaker = ev.speaker,
        .text = ev.text,
        .text_len = ev.text_len,
        .match_start = res.hits[i].start,
        .match_end = res.hits[i].end,
        .ts = ev.ts,
        .seq = ev.seq,
        .line = rd.lineno,
        .has_ts = ev.has_ts,
        .has_seq = ev.has_seq,
      };
      int64_t n = es_alert_json(&a, out, out_cap);
      if (n < 0) {
        print_error(rd.lineno, "alert_too_big", "the alert record does not fit its buffer",
                    a.rule->id);
        nerrors++;
        continue;
      }
      fwrite(out, 1, (size_t)n, stdout);
      nalerts++;
    }
  }
  fflush(stdout);
  fprintf(stderr, "replay: %lld lines, %lld alerts, %lld errors\n", nlines, nalerts, nerrors);
  rc = 0;
done:
  if (rd_ok)
    es_lines_deinit(&rd);
  free(out);
  es_decoder_free(dec);
  es_matcher_free(m);
  es_rules_free(rules);
  if (in != stdin)
    fclose(in);
  free(rule_paths);
  return rc;
}
