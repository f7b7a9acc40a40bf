/* paths.c: where the bundled rules are, and loading them with diagnostics. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "defaults.h"

const char *es_cli_default_rules(void) {
  static char found[4096];
  if (es_default_rules(found, sizeof(found)) != 0)
    return ES_SOURCE_RULES_DIR;
  return found;
}

void es_cli_print_diags(const struct es_diags *d) {
  for (size_t i = 0; i < d->count; i++) {
    const struct es_diag *g = &d->items[i];
    if (g->file[0])
      fprintf(stderr, "%s:%d:%d: ", g->file, g->line, g->column);
    if (g->rule_id[0])
      fprintf(stderr, "%s: ", g->rule_id);
    fprintf(stderr, "%s\n", g->message);
  }
  if (d->dropped)
    fprintf(stderr, "(%zu more problems not shown)\n", d->dropped);
}

int es_cli_load_rules(char *const *paths, size_t npaths, const struct es_rules_opts *opts,
                      struct es_rules **out) {
  struct es_diags diags;
  const char *def = NULL;
  int rc;

  if (npaths == 0) {
    def = es_cli_default_rules();
    paths = (char *const *)&def;
    npaths = 1;
  }
  es_diags_init(&diags);
  rc = es_rules_load((const char *const *)paths, npaths, opts, out, &diags);
  es_cli_print_diags(&diags);
  if (rc != 0 && diags.count == 0)
    fprintf(stderr, "earshot: cannot load rules: %s\n", es_strerror(rc));
  es_diags_deinit(&diags);
  return rc;
}
