/*
 * cmd_replay.c: `earshot replay` runs the rules and the call logic over a
 * transcript file in the protocol format, exactly as earshotd does, and
 * prints one NDJSON alert per alert earshotd would send, one summary per
 * call (--no-summary leaves them out) to stdout, and one NDJSON error
 * record per bad line to stderr.
 */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "calls.h"
#include "cli.h"
#include "engine.h"
#include "lines.h"
#include "proto.h"

static void replay_usage(void) {
  fputs("usage: earshot replay [--rules PATH]... [--config FILE] [--no-summary] [FILE|-]\n"
        "Reads protocol lines ({\"call_id\",\"speaker\",\"text\",\"ts\"}, one JSON object\n"
        "per line) from FILE or standard input, runs the rules and the call logic\n"
        "(heat, backup, counts, sequences) as earshotd does, and prints each alert,\n"
        "then one {\"type\":\"call_summary\"} per call when it ends (at its \"end\"\n"
        "line, or at the end of the input).\n"
        "Without --rules, the rules earshotd runs: those its config file names\n"
        "(--config FILE, else $EARSHOT_RULES, else $EARSHOT_CONFIG's file, else\n"
        "/etc/earshot/earshotd.json), else the bundled rules (docs/rules.md).\n",
        stderr);
}

struct replay {
  const struct es_rules *rules;
  struct es_engine *engine;
  char *out;
  size_t out_cap;
  int summaries;
  long long nalerts, nerrors, nsuppressed;
};

/* Prints the fires an engine call returned (suppressed ones are counted). */
static void print_fires(struct replay *r, const char *call_id, const struct es_call_out *o,
                        const struct es_event *ev, long long lineno) {
  for (size_t i = 0; i < o->n; i++) {
    struct es_alert a;
    int64_t n;
    if (o->fires[i].suppressed != ES_SENT) {
      r->nsuppressed++;
      continue;
    }
    es_alert_from_fire(&a, call_id, &o->fires[i], ev, lineno);
    n = es_alert_json(&a, r->out, r->out_cap);
    if (n < 0) {
      es_cli_line_error(lineno, "alert_too_big", "the alert record does not fit its buffer",
                  a.rule->id);
      r->nerrors++;
      continue;
    }
    fwrite(r->out, 1, (size_t)n, stdout);
    r->nalerts++;
  }
}

/* Ends a call: deadlines fire, the summary is printed. */
static void end_call(struct replay *r, struct es_call *call, double t, const char *why,
                     long long lineno) {
  struct es_call_out o;
  struct es_call_summary sum;
  if (es_engine_end(r->engine, &call->state, t, &o, &sum) != 0) {
    es_cli_line_error(lineno, "out_of_memory", "the call logic ran out of memory", NULL);
    r->nerrors++;
  }
  print_fires(r, call->id, &o, NULL, lineno);
  if (r->summaries) {
    size_t pos = 0;
    char head[64];
    printf("{\"type\":\"call_summary\",\"call_id\":");
    if (es_json_str(head, sizeof(head), &pos, call->id, strlen(call->id)) == 0)
      fwrite(head, 1, pos, stdout);
    else
      printf("\"\"");
    printf(",\"end_reason\":\"%s\",\"lines\":%llu,\"peak_heat\":%.3f,\"final_heat\":%.3f,"
           "\"backup_raised\":%s,\"deescalated\":%s,\"alerts\":%llu,\"suppressed\":%llu,"
           "\"hits_by_category\":%s,\"overtalk\":{\"agent\":%u,\"customer\":%u},"
           "\"dead_air\":%u,\"longest_silence\":%.1f",
           why, (unsigned long long)call->lines, sum.peak_heat, sum.final_heat,
           sum.backup_raised ? "true" : "false", sum.deescalated ? "true" : "false",
           (unsigned long long)sum.fires_sent, (unsigned long long)sum.fires_suppressed,
           sum.hits_by_category, sum.overtalk_agent, sum.overtalk_customer, sum.dead_air,
           sum.longest_silence);
    if (isfinite(sum.customer_sentiment))
      printf(",\"customer_sentiment\":%.3f", sum.customer_sentiment);
    printf("}\n");
  }
}

static void end_each(void *ud, struct es_call *call) {
  end_call(ud, call, NAN, "input_ended", 0);
}

int es_cmd_replay(int argc, char **argv) {
  static const struct option longopts[] = {
    {"rules", required_argument, NULL, 'r'},
    {"config", required_argument, NULL, 'c'},
    {"no-summary", no_argument, NULL, 'S'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  char **rule_paths = calloc((size_t)argc, sizeof(char *));
  const char *config = NULL;
  size_t nrule_paths = 0;
  struct es_rules *rules = NULL;
  struct es_matcher *m = NULL;
  struct es_calls *calls = NULL;
  struct es_events in = {0};
  struct replay r = {.summaries = 1};
  int c, rc = 1, got;

  if (rule_paths == NULL)
    return 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "r:c:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'r':
      rule_paths[nrule_paths++] = optarg;
      break;
    case 'c':
      config = optarg;
      break;
    case 'S':
      r.summaries = 0;
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
  if (es_cli_load_rules(rule_paths, nrule_paths, config, NULL, &rules) != 0)
    goto done;
  size_t max_line = es_rules_options(rules)->max_line_bytes;
  if (es_events_open(&in, "replay", optind < argc ? argv[optind] : NULL, max_line) != 0)
    goto done;
  r.rules = rules;
  r.out_cap = ES_ALERT_JSON_CAP(max_line);
  r.out = malloc(r.out_cap);
  r.engine = es_engine_new(rules);
  m = es_matcher_new(rules);
  calls = es_calls_new(SIZE_MAX);
  if (m == NULL || r.out == NULL || r.engine == NULL || calls == NULL) {
    fprintf(stderr, "earshot replay: out of memory\n");
    goto done;
  }

  struct es_event ev;
  while ((got = es_events_next(&in, &ev)) == 1) {
    struct es_match_result res;
    long long lineno = in.rd.lineno;

    if (ev.type == ES_EV_END) {
      struct es_call *call = es_calls_find(calls, ev.call_id);
      if (call) {
        end_call(&r, call, ev.has_ts ? ev.ts : NAN, "ended", lineno);
        es_calls_remove(calls, call);
      }
      continue;
    }
    if (ev.type != ES_EV_UTTERANCE)
      continue;
    /* Partial hypotheses are revised later: never alert on them here. */
    if (!ev.final)
      continue;
    struct es_call *call;
    int created;
    if (es_calls_open(calls, ev.call_id, 0, &call, &created) != 0) {
      fprintf(stderr, "earshot replay: out of memory\n");
      goto done;
    }
    if (es_match_line(m, ev.speaker, ev.text, ev.text_len, ES_MATCH_VALID_UTF8, &res) != 0) {
      es_cli_line_error(lineno, "invalid_text", "text could not be matched", NULL);
      r.nerrors++;
      continue;
    }
    call->lines++;
    for (size_t i = 0; i < res.nlimited; i++) {
      const struct es_rule_info *info = es_rules_info(rules, res.limited[i]);
      es_cli_line_error(lineno, "match_limit",
                  "a PCRE2 limit stopped this rule on this line; its result is unknown",
                  info->id);
      r.nerrors++;
    }
    struct es_call_out o;
    struct es_line ln = {
      .t = es_call_line_time(call, &ev, NAN), .end_t = ev.has_end_ts ? ev.end_ts : NAN, .speaker = ev.speaker,
      .text = ev.text, .len = ev.text_len, .res = &res,
    };
    if (es_engine_line(r.engine, &call->state, &ln, &o) != 0) {
      es_cli_line_error(lineno, "out_of_memory", "the call logic ran out of memory", NULL);
      r.nerrors++;
    }
    print_fires(&r, ev.call_id, &o, &ev, lineno);
  }
  es_calls_foreach(calls, end_each, &r);
  es_cli_flush_stdout();
  if (got < 0)
    goto done;
  fprintf(stderr, "replay: %lld lines, %lld alerts, %lld errors\n", in.lines, r.nalerts,
          r.nerrors + in.errors);
  rc = 0;
done:
  es_events_close(&in);
  free(r.out);
  es_calls_free(calls);
  es_engine_free(r.engine);
  es_matcher_free(m);
  es_rules_free(rules);
  free(rule_paths);
  return rc;
}
