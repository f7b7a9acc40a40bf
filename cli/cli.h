/* cli.h: shared pieces of the `earshot` command. */
#ifndef ES_CLI_H
#define ES_CLI_H

#include <stddef.h>

#include "earshot.h"

/* The bundled rules directory: $EARSHOT_RULES when set; the source tree's
 * rules/ when this binary runs from its build tree; PREFIX/share/earshot/
 * rules next to an installed binary; else the configured install path.
 * Returns a static string. */
const char *es_cli_default_rules(void);

/* Loads rules from paths (or the default when npaths == 0), printing every
 * diagnostic to stderr as "file:line:col: rule-id: message". */
int es_cli_load_rules(char *const *paths, size_t npaths, const struct es_rules_opts *opts,
                      struct es_rules **out);

void es_cli_print_diags(const struct es_diags *d);

int es_cmd_rules(int argc, char **argv);
int es_cmd_replay(int argc, char **argv);
int es_cmd_send(int argc, char **argv);
int es_cmd_stats(int argc, char **argv);
int es_cmd_reload(int argc, char **argv);
int es_cmd_sentiment(int argc, char **argv); /* cmd_sentiment.c, docs/sentiment.md */

/* The analysts' verbs over the alert store (cmd_query.c, docs/analysts.md):
 * alerts, calls, call, agents, search, purge, and ack --db; argv[0] is the
 * verb. es_cli_is_query_verb() claims all but ack, which es_cmd_ack()
 * dispatches (it calls es_cmd_query() for the database form). */
int es_cli_is_query_verb(const char *name);
int es_cmd_query(int argc, char **argv);
int es_cmd_rules_stats(int argc, char **argv); /* `earshot rules stats` */
int es_cmd_tail(int argc, char **argv);
int es_cmd_ack(int argc, char **argv);       /* through earshotd, else the database */

#endif
