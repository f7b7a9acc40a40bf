/*
 * earshot.c: the `earshot` command for rule authors, supervisors and
 * analysts. Each verb lives in its own cmd_*.c file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fputs("usage: earshot COMMAND [ARGS]\n"
        "\n"
        "Rule authors:\n"
        "  rules check [PATH...]     validate rule files (default: the bundled rules)\n"
        "  rules test [PATH...]      run every rule's examples and show what failed\n"
        "  rules cost [--rules PATH]... [FILE|-]\n"
        "                            per rule: lines PCRE2 ran on against lines matched\n"
        "  replay [--rules PATH]... [FILE|-]\n"
        "                            run rules and call logic over a transcript\n"
        "                            (protocol NDJSON) as earshotd does, print alerts\n"
        "                            and call summaries as NDJSON\n"
        "  sentiment [--asr] [FILE|-] VADER sentiment of every utterance, with the words\n"
        "                            that carried it, as NDJSON (docs/sentiment.md)\n"
        "\n"
        "Talking to earshotd (--socket PATH, or --config FILE: earshotd's config file):\n"
        "  send [FILE|-]             stream a transcript to earshotd, print its alerts,\n"
        "                            wait until every line is acknowledged\n"
        "  stats                     the daemon's counters\n"
        "  reload                    reload the daemon's rules and webhooks (like SIGHUP)\n"
        "\n"
        "Supervisors (--socket PATH or --config FILE):\n"
        "  tail [--severity MIN] [--category C] [--queue Q] [--agent A] [--json]\n"
        "                            every alert as it is raised, backups with their\n"
        "                            reason; reconnects and resumes by itself\n"
        "  ack ID... --taken|--resolved|--false-positive [--by NAME] [--note TEXT]\n"
        "                            mark alerts; other consoles see it at once\n"
        "                            (--db PATH: write to the database directly)\n"
        "\n"
        "QA analysts, reading the alert store (--db PATH or --config FILE;\n"
        "--format table|csv|json|ndjson; filters: `earshot alerts --help`):\n"
        "  alerts                    alerts, newest first, with their feedback marks\n"
        "  calls                     calls with their summaries\n"
        "  call ID                   one call's timeline: lines that hit, heat, summary\n"
        "  agents                    per agent: calls, alerts by category, backups,\n"
        "                            de-escalation rate\n"
        "  rules stats               per rule: hits, false-positive marks and rate\n"
        "  search WORDS...           full-text search over stored alert text\n"
        "  purge --older-than AGE    delete old alerts, calls and marks (retention)\n"
        "\n"
        "  help                      this text\n"
        "  version                   print the version\n"
        "\n",
        f);
  fputs(es_cli_find_help, f);
  fputs("\nRules are looked up in $EARSHOT_RULES, else the bundled rules directory.\n"
        "See docs/rules.md, docs/protocol.md and docs/analysts.md.\n",
        f);
}

/* errno of the first flush of stdout that failed; 0: none yet. */
static int stdout_errno;

void es_cli_flush_stdout(void) {
  errno = 0;
  if (fflush(stdout) != 0 && stdout_errno == 0) stdout_errno = errno ? errno : EIO;
}

/* Every command's output is checked here, once: a full disk or a closed
 * stdout is an error (exit 1) even when the command did all it meant to. */
static int check_output(int rc) {
  es_cli_flush_stdout();
  if (!ferror(stdout)) return rc;
  fprintf(stderr, "earshot: writing output: %s\n", strerror(stdout_errno ? stdout_errno : EIO));
  return rc == 0 ? 1 : rc;
}

static int run(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "rules") == 0)
    return es_cmd_rules(argc - 1, argv + 1);
  if (strcmp(argv[1], "replay") == 0)
    return es_cmd_replay(argc - 1, argv + 1);
  if (strcmp(argv[1], "send") == 0)
    return es_cmd_send(argc - 1, argv + 1);
  if (strcmp(argv[1], "stats") == 0)
    return es_cmd_stats(argc - 1, argv + 1);
  if (strcmp(argv[1], "reload") == 0)
    return es_cmd_reload(argc - 1, argv + 1);
  if (strcmp(argv[1], "sentiment") == 0)
    return es_cmd_sentiment(argc - 1, argv + 1);
  if (strcmp(argv[1], "tail") == 0)
    return es_cmd_tail(argc - 1, argv + 1);
  if (es_cli_is_query_verb(argv[1]))
    return es_cmd_query(argc - 1, argv + 1);
  if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
    printf("earshot %s\n", ES_VERSION);
    return 0;
  }
  fprintf(stderr, "earshot: unknown command \"%s\"\n\n", argv[1]);
  usage(stderr);
  return 2;
}

int main(int argc, char **argv) { return check_output(run(argc, argv)); }
