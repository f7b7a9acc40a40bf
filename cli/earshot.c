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
        "  rules check [PATH...]     validate rule files (default: the rules earshotd\n"
        "                            runs, else the bundled ones)\n"
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
  fputs("\nRules, when a verb is given none: those earshotd's config file names (--config\n"
        "FILE, else $EARSHOT_RULES, else $EARSHOT_CONFIG's file, else\n"
        "/etc/earshot/earshotd.json), else the bundled rules directory.\n"
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

/* `earshot --socket PATH stats` as `earshot stats --socket PATH`: the
 * options that say where earshotd is (--socket, --db, --config) may come
 * before the verb too. Moves them after it, in place. */
static void verb_first(int argc, char **argv) {
  static const char *const where[] = {"--socket", "--db", "--config"};
  int n = 0; /* argv[1..n] are such options and their values */

  while (1 + n < argc) {
    const char *a = argv[1 + n];
    int known = 0;
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
      size_t l = strlen(where[i]);
      if (strncmp(a, where[i], l) == 0 && a[l] == '=')
        known = 1;
      else if (strcmp(a, where[i]) == 0 && 2 + n < argc)
        known = 2;
      if (known)
        break;
    }
    if (!known)
      break;
    n += known;
  }
  if (n == 0 || 1 + n >= argc)
    return;
  /* Rotate argv[1 .. n] behind the verb at argv[1 + n]. */
  char *verb = argv[1 + n];
  memmove(argv + 2, argv + 1, (size_t)n * sizeof(*argv));
  argv[1] = verb;
}

static int run(int argc, char **argv) {
  verb_first(argc, argv);
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
  fprintf(stderr, "earshot: unknown command \"%s\" (`earshot help` lists them)\n", argv[1]);
  return 2;
}

int main(int argc, char **argv) { return check_output(run(argc, argv)); }
