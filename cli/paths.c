/* paths.c: where the bundled rules are, and loading them with diagnostics;
 * where earshotd's socket and database are. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "defaults.h"

const char *es_cli_default_rules(void) {
  static char found[4096];
  if (es_default_rules(found, sizeof(found)) != 0)
    return ES_SOURCE_RULES_DIR;
  return found;
}

void es_cli_print_diags(const struct es_diags *d) {
  char text[ES_DIAG_TEXT_MAX];
  for (size_t i = 0; i < d->count; i++) {
    es_diag_text(&d->items[i], text, sizeof(text));
    fprintf(stderr, "%s\n", text);
  }
  if (d->dropped)
    fprintf(stderr, "(%zu more problems not shown)\n", d->dropped);
}

/* The order in which the earshot command looks for earshotd's config
 * file (docs/configuration.md, "How earshot finds earshotd"): the one
 * --config names (`config`), else $EARSHOT_CONFIG's; else none when
 * $EARSHOT_HOME is set (an earshotd of one's own, on the defaults); else
 * the system file, which may be missing. Returns the file, or NULL; *how
 * says which: "--config", "$EARSHOT_CONFIG", NULL for the system file (and
 * for none). */
static const char *config_file(const char *config, char *sys, size_t cap, const char **how) {
  const char *env = getenv("EARSHOT_CONFIG"), *home = getenv("EARSHOT_HOME");

  *how = NULL;
  if (config) {
    *how = "--config";
    return config;
  }
  if (env && *env) {
    *how = "$EARSHOT_CONFIG";
    return env;
  }
  if ((home && *home) || es_default_config(sys, cap) != 0)
    return NULL;
  return sys;
}

/* The config file whose rules a verb runs when it is given none, as
 * es_cli_load_rules() says: config_file()'s, with $EARSHOT_RULES after
 * --config; NULL: none (the bundled rules). */
static const char *rules_config(const char *config, char *sys, size_t cap, const char **how) {
  const char *rules = getenv("EARSHOT_RULES");
  if (!config && rules && *rules) {
    *how = NULL;
    return NULL;
  }
  return config_file(config, sys, cap, how);
}

int es_cli_load_rules(char *const *paths, size_t npaths, const char *config,
                      const struct es_rules_opts *opts, struct es_rules **out) {
  struct es_rules_opts own;
  struct es_config cfg;
  struct es_diags diags;
  const char *def = NULL, *file = NULL, *how;
  char sys[4096];
  int rc;

  es_config_init(&cfg);
  es_diags_init(&diags);
  if (npaths == 0 && (file = rules_config(config, sys, sizeof(sys), &how)) != NULL) {
    rc = es_config_read(&cfg, file, &diags);
    if (rc != 0 && how == NULL && (rc == ES_ENOENT || rc == ES_EIO)) {
      /* No system file: the bundled rules; one that cannot be read (its
       * group only, say) is said, not passed over. */
      if (rc == ES_EIO && diags.count)
        fprintf(stderr, "earshot: %s; using the bundled rules\n", diags.items[0].message);
      es_diags_deinit(&diags);
      es_diags_init(&diags);
    } else if (rc != 0) {
      for (size_t i = 0; i < diags.count; i++)
        fprintf(stderr, "earshot: %s\n", diags.items[i].message);
      fprintf(stderr, "(earshotd's config file, read for the rules it runs: fix it, or give "
                      "the rule files)\n");
      goto done;
    } else if (cfg.nrules > 0) {
      /* The rules earshotd runs, with the line limit it gives them. */
      paths = cfg.rules;
      npaths = cfg.nrules;
      if (opts)
        own = *opts;
      else
        es_rules_opts_init(&own);
      own.max_line_bytes = cfg.max_line_bytes;
      opts = &own;
      fprintf(stderr, "earshot: the rules %s names:", file);
      for (size_t i = 0; i < npaths; i++)
        fprintf(stderr, " %s", paths[i]);
      fputc('\n', stderr);
    }
  }
  if (npaths == 0) {
    def = es_cli_default_rules();
    paths = (char *const *)&def;
    npaths = 1;
  }
  rc = es_rules_load((const char *const *)paths, npaths, opts, out, &diags);
  es_cli_print_diags(&diags);
  if (rc != 0 && diags.count == 0)
    fprintf(stderr, "earshot: cannot load rules: %s\n", es_strerror(rc));
done:
  es_diags_deinit(&diags);
  es_config_deinit(&cfg);
  return rc;
}

const char es_cli_find_help[] =
    "Finding earshotd: --socket PATH (--db PATH) when given; else what earshotd's\n"
    "config file names: --config FILE, else $EARSHOT_CONFIG; else <home>'s when\n"
    "$EARSHOT_HOME is set; else what /etc/earshot/earshotd.json names, when it\n"
    "exists; else <home>/earshotd.sock (<home>/earshot.db). <home> is $EARSHOT_HOME,\n"
    "else /var/lib/earshot for root, else $XDG_STATE_HOME/earshot, else\n"
    "$HOME/.local/state/earshot, else /tmp/earshot-UID. See docs/configuration.md.\n";

static int set_path(struct es_cli_path *out, const char *path) {
  int n = snprintf(out->path, sizeof(out->path), "%s", path);
  return n < 0 || (size_t)n >= sizeof(out->path) ? -1 : 0;
}

/* <home>/earshotd.sock or <home>/earshot.db. */
static int set_default(struct es_cli_path *out, int want_db) {
  return (want_db ? es_default_db : es_default_socket)(out->path, sizeof(out->path));
}

/* The socket or database that `file` names, else the default. Returns 0;
 * -1 when the path is too long; 1 when the file is missing or broken
 * (said on stderr), except that the system file (how == NULL) may be
 * missing or unreadable: then the default. */
static int from_file(struct es_cli_path *out, int want_db, const char *file, const char *how) {
  const char *what = want_db ? "database" : "socket", *named;
  struct es_config cfg;
  struct es_diags diags;
  int rc;

  /* What the file names, and only that: NULL when it names nothing. */
  es_config_init(&cfg);
  es_config_set_str(&cfg.socket_path, NULL);
  es_config_set_str(&cfg.db_path, NULL);
  es_diags_init(&diags);
  rc = es_config_read(&cfg, file, &diags);
  if (rc == 0 && (named = want_db ? cfg.db_path : cfg.socket_path) != NULL) {
    snprintf(out->from, sizeof(out->from), " (named in %s%s%s)", file, how ? ", " : "",
             how ? how : "");
    rc = set_path(out, named);
  } else if (rc == 0) {
    snprintf(out->from, sizeof(out->from), " (the default: %s names no %s)", file, what);
    rc = set_default(out, want_db);
  } else if (how == NULL && (rc == ES_ENOENT || rc == ES_EIO)) {
    if (rc == ES_ENOENT)
      snprintf(out->from, sizeof(out->from), " (the default: no %s)", file);
    else
      snprintf(out->from, sizeof(out->from), " (the default: %s)",
               diags.count ? diags.items[0].message : file);
    rc = set_default(out, want_db);
  } else {
    for (size_t i = 0; i < diags.count; i++)
      fprintf(stderr, "earshot: %s\n", diags.items[i].message);
    fprintf(stderr, "(earshotd's config file, read to find its %s: fix it, or give %s PATH)\n",
            what, want_db ? "--db" : "--socket");
    rc = 1;
  }
  es_diags_deinit(&diags);
  es_config_deinit(&cfg);
  return rc;
}

/* The order is docs/configuration.md's, "How earshot finds earshotd". An
 * explicit $EARSHOT_HOME comes before the system file: whoever set it
 * runs an earshotd of their own there. */
static int find(int want_db, const char *flag, const char *config, struct es_cli_path *out) {
  const char *file, *how;
  char sys[4096];
  int rc;

  out->from[0] = '\0';
  if (flag) {
    rc = set_path(out, flag);
  } else if ((file = config_file(config, sys, sizeof(sys), &how)) != NULL) {
    rc = from_file(out, want_db, file, how);
  } else if (getenv("EARSHOT_HOME") && *getenv("EARSHOT_HOME")) {
    snprintf(out->from, sizeof(out->from), " (the default under $EARSHOT_HOME)");
    rc = set_default(out, want_db);
  } else {
    rc = -1; /* es_default_config(): too long */
  }
  if (rc < 0)
    fprintf(stderr, "earshot: cannot work out the %s path (too long); give %s PATH\n",
            want_db ? "database" : "socket", want_db ? "--db" : "--socket");
  return rc == 0 ? 0 : -1;
}

int es_cli_find_socket(const char *flag, const char *config, struct es_cli_path *out) {
  return find(0, flag, config, out);
}

int es_cli_find_db(const char *flag, const char *config, struct es_cli_path *out) {
  return find(1, flag, config, out);
}
