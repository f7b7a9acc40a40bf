/*
 * config.c: earshotd's settings: the config file (lib/config.c, which the
 * earshot command reads too) with the flags over it, and what startup
 * checks of them before it binds, creates or opens anything
 * (esd_config_check(): --check-config runs the same checks, so it reports
 * what startup would, in the same words).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmdline.h"
#include "defaults.h"
#include "esd.h"

static const char synopsis[] =
    "usage: earshotd [--socket PATH] [--db PATH] [--rules PATH]... [--config FILE]\n"
    "                [--listen-tcp HOST:PORT] [--log-level LEVEL] [--foreground]\n"
    "                [--retention-days N] [--check-config]\n";

static void usage(FILE *f) {
  fputs(synopsis, f);
  fputs("\n"
        "  --socket PATH         Unix socket to listen on (default <home>/earshotd.sock)\n"
        "  --db PATH             SQLite alert store (default <home>/earshot.db)\n"
        "  --rules PATH          rule file or directory; repeatable (default: bundled rules)\n"
        "  --config FILE         JSON config file (docs/configuration.md); flags override it\n"
        "  --listen-tcp H:P      also listen on TCP (loopback when H is empty); needs tcp_token\n"
        "  --log-level LEVEL     error, warn, info (default) or debug\n"
        "  --foreground          stay in the foreground (default: detach once ready)\n"
        "  --retention-days N    delete alerts and calls older than N days, daily\n"
        "                        (default 0: keep everything)\n"
        "  --check-config        check the settings and the rules as startup does (the\n"
        "                        socket's group, the TCP address and token, the directories),\n"
        "                        report every problem, exit 0 or 1; binds and creates nothing\n"
        "\n"
        "<home> is $EARSHOT_HOME, else /var/lib/earshot for root, else ~/.local/state/earshot.\n",
        f);
}

/* getopt_long()'s values for the flags: above any character, so that a
 * '?' with optopt 1..255 is an unknown short option (earshotd has none). */
enum flag {
  F_SOCKET = 256, F_DB, F_RULES, F_CONFIG, F_LISTEN_TCP, F_LOG_LEVEL, F_FOREGROUND,
  F_CHECK_CONFIG, F_RETENTION_DAYS, F_HELP, F_VERSION
};

static const struct option longopts[] = {
  {"socket", required_argument, NULL, F_SOCKET},
  {"db", required_argument, NULL, F_DB},
  {"rules", required_argument, NULL, F_RULES},
  {"config", required_argument, NULL, F_CONFIG},
  {"listen-tcp", required_argument, NULL, F_LISTEN_TCP},
  {"log-level", required_argument, NULL, F_LOG_LEVEL},
  {"foreground", no_argument, NULL, F_FOREGROUND},
  {"check-config", no_argument, NULL, F_CHECK_CONFIG},
  {"retention-days", required_argument, NULL, F_RETENTION_DAYS},
  {"help", no_argument, NULL, F_HELP},
  {"version", no_argument, NULL, F_VERSION},
  {NULL, 0, NULL, 0},
};

/* What a flag's value is, as --help names it. */
static const char *flag_value(int val) {
  switch (val) {
  case F_CONFIG: return "FILE";
  case F_LISTEN_TCP: return "HOST:PORT";
  case F_LOG_LEVEL: return "LEVEL (error, warn, info or debug)";
  case F_RETENTION_DAYS: return "N (days)";
  default: return "PATH";
  }
}

static const char *flag_name(int val) {
  for (const struct option *o = longopts; o->name; o++)
    if (o->val == val)
      return o->name;
  return "?";
}

static int bad_flag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Says what is wrong with the flags, one line a problem; returns 1 (one
 * more problem). */
static int bad_flag(const char *fmt, ...) {
  va_list ap;
  fputs("earshotd: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

/* Reads every flag before it says anything, so that one run tells every
 * problem with them (as es_config_read() does for the file's settings);
 * the file is read only when the flags are good. */
int esd_config_load(struct es_config *c, struct esd_flags *f, int argc, char **argv) {
  struct es_diags diags;
  int opt, bad, problems = 0, help = 0, version = 0;

  memset(f, 0, sizeof(*f));
  if ((f->rules = calloc((size_t)argc + 1, sizeof(char *))) == NULL)
    return -1;
  optind = 1;
  opterr = 0; /* the messages are ours, and say what to fix */
  while ((opt = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    if (opt == '?') {
      char msg[640];
      if (optopt > 0 && optopt < 256) {
        problems += bad_flag("unknown option \"-%c\": earshotd's options are long ones "
                             "(--socket PATH, ...)", optopt);
      } else {
        es_cmdline_bad_option(longopts, argv[optind - 1], msg, sizeof(msg));
        problems += bad_flag("%s", msg);
      }
      continue;
    }
    if (opt == ':') {
      problems += bad_flag("option --%s needs a value: --%s %s", flag_name(optopt),
                           flag_name(optopt), flag_value(optopt));
      continue;
    }
    if (optarg && optarg[0] == '\0') {
      problems += bad_flag("option --%s needs a value: --%s %s, not an empty string",
                           flag_name(opt), flag_name(opt), flag_value(opt));
      continue;
    }
    switch (opt) {
    case F_SOCKET: f->socket = optarg; break;
    case F_DB: f->db = optarg; break;
    case F_RULES: f->rules[f->nrules++] = optarg; break;
    case F_CONFIG: f->config = optarg; break;
    case F_LISTEN_TCP: f->listen_tcp = optarg; break;
    case F_LOG_LEVEL:
      if (es_log_level_parse(optarg, &f->level) != 0)
        problems += bad_flag("--log-level must be error, warn, info or debug, not \"%s\"",
                             optarg);
      else
        f->has_level = 1;
      break;
    case F_FOREGROUND: f->foreground = 1; break;
    case F_CHECK_CONFIG: f->check_only = 1; break;
    case F_RETENTION_DAYS: {
      char *end;
      errno = 0;
      unsigned long days = strtoul(optarg, &end, 10);
      if (errno || *end || optarg[0] == '-' || days > ES_CONFIG_MAX_RETENTION_DAYS)
        problems += bad_flag("--retention-days must be a whole number from 0 to %d, not \"%s\"",
                             ES_CONFIG_MAX_RETENTION_DAYS, optarg);
      else
        f->has_retention = 1, f->retention_days = (unsigned)days;
      break;
    }
    case F_HELP: help = 1; break;
    case F_VERSION: version = 1; break;
    }
  }
  for (int i = optind; i < argc; i++)
    problems += bad_flag("unexpected argument \"%s\": every setting is an option (--socket "
                         "PATH, ...) or in the config file", argv[i]);
  if (problems) {
    fputs(synopsis, stderr);
    fputs("(earshotd --help says what each option does)\n", stderr);
    return -1;
  }
  if (help) {
    usage(stdout);
    return 1;
  }
  if (version) {
    printf("earshotd %s\n", ES_VERSION);
    return 1;
  }
  es_diags_init(&diags);
  bad = esd_config_apply(c, f, &diags) != 0;
  for (size_t i = 0; i < diags.count; i++)
    fprintf(stderr, "earshotd: %s\n", diags.items[i].message);
  es_diags_deinit(&diags);
  return bad ? -1 : 0;
}

void esd_flags_free(struct esd_flags *f) {
  free(f->rules);
  memset(f, 0, sizeof(*f));
}

int esd_config_apply(struct es_config *c, const struct esd_flags *f, struct es_diags *diags) {
  if (f->config && es_config_read(c, f->config, diags) != 0)
    return -1;
  if ((f->socket && es_config_set_str(&c->socket_path, f->socket) != 0) ||
      (f->db && es_config_set_str(&c->db_path, f->db) != 0) ||
      (f->listen_tcp && es_config_set_str(&c->listen_tcp, f->listen_tcp) != 0) ||
      (f->nrules && es_config_set_rules(c, f->rules, f->nrules) != 0)) {
    es_diags_add(diags, NULL, 0, 0, NULL, "out of memory");
    return -1;
  }
  if (f->foreground)
    c->foreground = 1;
  if (f->has_retention)
    c->retention_days = f->retention_days;
  if (f->has_level)
    c->log_level = f->level;
  if (c->socket_path == NULL || c->db_path == NULL) {
    es_diags_add(diags, NULL, 0, 0, NULL, "cannot work out default paths; give --socket and --db");
    return -1;
  }
  if (c->nrules == 0) {
    char def[4096];
    const char *paths[1] = {def};
    if (es_default_rules(def, sizeof(def)) != 0 || es_config_set_rules(c, paths, 1) != 0) {
      es_diags_add(diags, NULL, 0, 0, NULL, "cannot work out the bundled rules path; give --rules");
      return -1;
    }
  }
  return 0;
}

/* The settings a running earshotd keeps until it restarts, as the config
 * file names them: all but "rules" and "webhooks". */
enum setting_kind { SK_STR, SK_UNSIGNED, SK_SIZE, SK_DOUBLE, SK_INT, SK_LEVEL };

static const struct {
  const char *key;
  size_t off;
  enum setting_kind kind;
} restart_only[] = {
#define S(key, field, kind) {key, offsetof(struct es_config, field), kind}
  S("socket", socket_path, SK_STR),
  S("socket_group", socket_group, SK_STR),
  S("socket_mode", socket_mode, SK_UNSIGNED),
  S("db", db_path, SK_STR),
  S("listen_tcp", listen_tcp, SK_STR),
  S("tcp_token", tcp_token, SK_STR),
  S("log_level", log_level, SK_LEVEL),
  S("foreground", foreground, SK_INT),
  S("redact", redact, SK_INT),
  S("call_idle_timeout", call_idle_timeout, SK_DOUBLE),
  S("retention_days", retention_days, SK_UNSIGNED),
  S("limits.max_line_bytes", max_line_bytes, SK_SIZE),
  S("limits.max_connections", max_connections, SK_UNSIGNED),
  S("limits.max_calls_per_connection", max_calls_per_connection, SK_UNSIGNED),
  S("limits.max_open_calls", max_open_calls, SK_UNSIGNED),
  S("limits.max_output_bytes", max_output_bytes, SK_SIZE),
  S("limits.output_stall_timeout", output_stall_timeout, SK_DOUBLE),
  S("limits.max_pending_alerts", max_pending_alerts, SK_SIZE),
  S("store.synchronous", synchronous, SK_INT),
  S("store.commit_interval_ms", commit_interval_ms, SK_UNSIGNED),
  S("store.background_max_rows", background_max_rows, SK_UNSIGNED),
  S("store.cache_mb", cache_mb, SK_UNSIGNED),
  S("store.alert_id_block", alert_id_block, SK_UNSIGNED),
#undef S
};

static int setting_differs(const void *a, const void *b, enum setting_kind kind) {
  switch (kind) {
  case SK_STR: {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    return (x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0);
  }
  case SK_UNSIGNED: return *(const unsigned *)a != *(const unsigned *)b;
  case SK_SIZE: return *(const size_t *)a != *(const size_t *)b;
  case SK_DOUBLE: return *(const double *)a != *(const double *)b;
  case SK_INT: return *(const int *)a != *(const int *)b;
  case SK_LEVEL: return *(const enum es_log_level *)a != *(const enum es_log_level *)b;
  }
  return 0;
}

size_t esd_config_restart_only(const struct es_config *running, const struct es_config *next,
                               const char **keys, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++)
    if (setting_differs((const char *)running + restart_only[i].off,
                        (const char *)next + restart_only[i].off, restart_only[i].kind) &&
        n < cap)
      keys[n++] = restart_only[i].key;
  return n;
}

/* ---- what startup checks before it acts -------------------------------- */

/* mkdir -p of the directory that holds `path` (the last one 0750, those
 * above it 0755), or with dry_run only whether it could be done: each
 * directory there is one, and the first one missing could be made (its
 * parent is one we may write in). 0, or -1 with errno (ENOTDIR: something
 * on the way is not a directory). */
static int make_parent(const char *path, int dry_run) {
  char dir[4096], parent[4096] = ".";
  struct stat st;
  int n = snprintf(dir, sizeof(dir), "%s", path);
  char *slash;

  if (n < 0 || (size_t)n >= sizeof(dir)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  slash = strrchr(dir, '/');
  if (slash == NULL || slash == dir)
    return 0;
  *slash = '\0';
  if (dir[0] == '/')
    snprintf(parent, sizeof(parent), "/");
  for (char *p = dir + 1;; p++) {
    if (*p != '/' && *p != '\0')
      continue;
    char at = *p;
    *p = '\0';
    if (stat(dir, &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
      }
    } else if (errno != ENOENT) {
      return -1;
    } else if (dry_run) {
      /* What mkdir needs; the ones below it would be new, ours. */
      return faccessat(AT_FDCWD, parent, W_OK | X_OK, AT_EACCESS);
    } else if (mkdir(dir, at ? 0755 : 0750) != 0 && errno != EEXIST) {
      return -1;
    }
    if (at == '\0')
      return 0;
    snprintf(parent, sizeof(parent), "%s", dir);
    *p = at;
  }
}

int esd_mkdir_parent(const char *path) { return make_parent(path, 0); }

/* listen_tcp: HOST:PORT, [IPv6]:PORT, or PORT alone; HOST empty or
 * omitted is 127.0.0.1, port 0 any free one. Fills res; 0, or -1 with
 * why in msg. */
static int tcp_address(const char *spec, struct esd_resolved *res, char *msg, size_t cap) {
  const char *colon = strrchr(spec, ':'), *host = spec, *digits = colon ? colon + 1 : spec;
  size_t hlen = colon ? (size_t)(colon - spec) : 0;
  char *end, *zone;
  long port;

  if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
    host++;
    hlen -= 2;
  }
  port = strtol(digits, &end, 10);
  if (*end || end == digits || port < 0 || port > 65535) {
    snprintf(msg, cap, "listen_tcp \"%s\": expected HOST:PORT with a port from 0 (any free "
             "port, logged) to 65535", spec);
    return -1;
  }
  if (hlen == 0) {
    host = "127.0.0.1";
    hlen = strlen(host);
  }
  if (hlen >= sizeof(res->tcp_host)) {
    snprintf(msg, cap, "listen_tcp \"%s\": \"%.*s\" is not an IP address", spec, (int)hlen, host);
    return -1;
  }
  memcpy(res->tcp_host, host, hlen);
  res->tcp_host[hlen] = '\0';
  res->tcp_port = (int)port;
  memset(&res->tcp_addr, 0, sizeof(res->tcp_addr));
  struct sockaddr_in *v4 = (struct sockaddr_in *)&res->tcp_addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&res->tcp_addr;
  if (inet_pton(AF_INET, res->tcp_host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    return 0;
  }
  /* fe80::1%eth0: the interface of a link-local address, as libuv takes it. */
  char addr[sizeof(res->tcp_host)];
  snprintf(addr, sizeof(addr), "%s", res->tcp_host);
  if ((zone = strchr(addr, '%')) != NULL)
    *zone++ = '\0';
  if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    v6->sin6_scope_id = zone ? if_nametoindex(zone) : 0;
    return 0;
  }
  snprintf(msg, cap, "listen_tcp \"%s\": \"%s\" is not an IP address", spec, res->tcp_host);
  return -1;
}

int esd_config_check(const struct es_config *c, struct esd_resolved *res,
                     struct es_diags *diags) {
  char msg[1024];
  int problems = 0;
#define PROBLEM(...)                                                         \
  do {                                                                       \
    es_diags_add(diags, NULL, 0, 0, NULL, __VA_ARGS__);                      \
    problems++;                                                              \
  } while (0)

  memset(res, 0, sizeof(*res));
  if (strlen(c->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
    PROBLEM("socket path %s is longer than %zu bytes; choose a shorter one (--socket, or "
            "\"socket\" in the config file)",
            c->socket_path, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
  if (make_parent(c->socket_path, 1) != 0)
    PROBLEM("cannot create the directory of %s: %s", c->socket_path, strerror(errno));
  if (make_parent(c->db_path, 1) != 0)
    PROBLEM("cannot create the directory of %s: %s", c->db_path, strerror(errno));
  if (c->socket_group) {
    /* The reentrant form: a reload runs this on a worker thread. */
    struct group grp, *g = NULL;
    char buf[16384];
    int e = getgrnam_r(c->socket_group, &grp, buf, sizeof(buf), &g);
    if (g == NULL)
      PROBLEM("cannot give %s to group %s: %s", c->socket_path, c->socket_group,
              e ? strerror(e) : "no such group");
    else
      res->socket_gid = g->gr_gid;
  }
  if (c->listen_tcp) {
    if (tcp_address(c->listen_tcp, res, msg, sizeof(msg)) != 0)
      PROBLEM("%s", msg);
    if (c->tcp_token == NULL || strlen(c->tcp_token) < 16)
      PROBLEM("TCP listening needs \"tcp_token\" (16 characters or more) in the config file; "
              "clients send it in their hello line");
  }
#undef PROBLEM
  return problems;
}
