/* cli.h: shared pieces of the `earshot` command. */
#ifndef ES_CLI_H
#define ES_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "earshot.h"

/* The bundled rules directory: $EARSHOT_RULES when set; the source tree's
 * rules/ when this binary runs from its build tree; PREFIX/share/earshot/
 * rules next to an installed binary; else the configured install path.
 * Returns a static string. */
const char *es_cli_default_rules(void);

/* One of earshotd's paths as the earshot command found it. */
struct es_cli_path {
  char path[4096];
  char from[4608]; /* where it was found, to print after the path: " (named in
                      FILE)", " (the default: no FILE)"...; "" when a flag gave it */
};

/* earshotd's socket, or its database, as docs/configuration.md says ("How
 * earshot finds earshotd"): the verb's flag (`flag`, may be NULL); else
 * what the config file named by --config (`config`, may be NULL) or
 * $EARSHOT_CONFIG names; else <home>'s when $EARSHOT_HOME is set; else
 * what the system config file (es_default_config()) names, when there is
 * one that can be read; else <home>'s (es_default_socket(), _db()). A
 * file is read only when no flag gives the path, and one that names no
 * path means <home>'s. Returns 0, or -1 after saying on stderr what is
 * wrong (a config file given but missing, or broken: the file and the
 * problem; exit 1). */
int es_cli_find_socket(const char *flag, const char *config, struct es_cli_path *out);
int es_cli_find_db(const char *flag, const char *config, struct es_cli_path *out);
/* What the verbs' --help say of it. */
extern const char es_cli_find_help[];

/* Loads rules from paths, printing every diagnostic to stderr as
 * "file:line:col: rule-id: message". Given no paths (npaths == 0), the
 * rules earshotd runs (docs/rules.md, "Which rules the earshot command
 * runs"): those the config file named by `config` (--config, may be NULL)
 * names; else $EARSHOT_RULES; else those $EARSHOT_CONFIG's file names;
 * else, unless $EARSHOT_HOME is set, those the system config file names
 * when there is one; else (or when the file names none) the bundled rules.
 * Rules read from a config file get its max_line_bytes, and a line on
 * stderr names the file and them. A config file that cannot be used is an
 * error naming it (the system file may be missing or unreadable). */
int es_cli_load_rules(char *const *paths, size_t npaths, const char *config,
                      const struct es_rules_opts *opts, struct es_rules **out);

void es_cli_print_diags(const struct es_diags *d);

/* fflush(stdout), for a command that must show its output before what it
 * says on stderr, or at once. A write error is not reported here: main()
 * reports it once, at the end, with the errno of the first failed flush. */
void es_cli_flush_stdout(void);

int es_cmd_rules(int argc, char **argv);
int es_cmd_replay(int argc, char **argv);
int es_cmd_send(int argc, char **argv);
int es_cmd_stats(int argc, char **argv);
int es_cmd_reload(int argc, char **argv);
int es_cmd_sentiment(int argc, char **argv); /* cmd_sentiment.c, docs/sentiment.md */

/* The analysts' verbs over the alert store (cmd_query.c, docs/analysts.md):
 * alerts, calls, call, agents, search, purge and ack; argv[0] is the verb.
 * ack reads its arguments there and marks through earshotd
 * (es_cli_ack_socket()) unless --db is given or earshotd cannot be
 * reached, then in the database directly. */
int es_cli_is_query_verb(const char *name);
int es_cmd_query(int argc, char **argv);
int es_cmd_rules_stats(int argc, char **argv); /* `earshot rules stats` */
int es_cmd_tail(int argc, char **argv);

/* The most alert ids one `earshot ack` takes, through earshotd or not. */
#define ES_CLI_ACK_MAX_IDS 40

/* One `earshot ack`, its arguments checked (all borrowed). */
struct es_cli_ack {
  const int64_t *ids; /* distinct, each >= 1 */
  size_t nids;        /* 1..ES_CLI_ACK_MAX_IDS */
  const char *mark;   /* "taken", "resolved" or "false_positive" */
  const char *by;     /* who marks; NULL: nobody named */
  const char *note;   /* may be NULL */
  const struct es_cli_path *socket; /* earshotd's (es_cli_find_socket()) */
};

/* Sends the marks to earshotd (cmd_tail.c) and prints "alert N marked MARK
 * by NAME" for each one it confirms. Returns 0 when every mark was
 * committed, 1 when earshotd refused one or did not confirm them (said on
 * stderr), -1 with errno set when earshotd cannot be reached (nothing was
 * sent or printed). */
int es_cli_ack_socket(const struct es_cli_ack *req);

#endif
