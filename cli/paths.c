/* paths.c: where the bundled rules are, and loading them with diagnostics. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *es_cli_default_rules(void) {
  static char found[PATH_MAX];
  char exe[PATH_MAX], build[PATH_MAX];
  const char *env = getenv("EARSHOT_RULES");
  ssize_t n;

  if (env && *env)
    return env;
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    if (realpath(ES_BUILD_DIR, build) && strncmp(exe, build, strlen(build)) == 0 &&
        exe[strlen(build)] == '/' && is_dir(ES_SOURCE_RULES_DIR))
      return ES_SOURCE_RULES_DIR;
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      int n2 = snprintf(found, sizeof(found), "%s/../share/earshot/rules", exe);
      if (n2 > 0 && (size_t)n2 < sizeof(found) && is_dir(found))
        return found;
    }
  }
  if (is_dir(ES_INSTALL_RULES_DIR))
    return ES_INSTALL_RULES_DIR;
  return ES_SOURCE_RULES_DIR;
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
