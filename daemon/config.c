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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "esd.h"

static void usage(FILE *f) {
  fputs("usage: earshotd [--socket PATH] [--db PATH] [--rules PATH]... [--config FILE]\n"
        "                [--listen-tcp HOST:PORT] [--log-level LEVEL] [--foreground]\n"
        "                [--retention-days N] [--check-config]\n"
        "\n"
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

int esd_config_load(struct es_config *c, int *check_only, int argc, char **argv) {
  static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},
    {"db", required_argument, NULL, 'd'},
    {"rules", required_argument, NULL, 'r'},
    {"config", required_argument, NULL, 'c'},
    {"listen-tcp", required_argument, NULL, 't'},
    {"log-level", required_argument, NULL, 'l'},
    {"foreground", no_argument, NULL, 'f'},
    {"check-config", no_argument, NULL, 'C'},
    {"retention-days", required_argument, NULL, 'R'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
  };
  const char *o_socket = NULL, *o_db = NULL, *o_tcp = NULL, *o_level = NULL, *o_config = NULL;
  const char *o_retention = NULL;
  const char **o_rules = calloc((size_t)argc + 1, sizeof(char *));
  size_t no_rules = 0;
  int opt, o_fg = 0, rc = -1;

  *check_only = 0;
  if (o_rules == NULL)
    return -1;
  optind = 1;
  while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (opt) {
    case 's': o_socket = optarg; break;
    case 'd': o_db = optarg; break;
    case 'r': o_rules[no_rules++] = optarg; break;
    case 'c': o_config = optarg; break;
    case 't': o_tcp = optarg; break;
    case 'l': o_level = optarg; break;
    case 'f': o_fg = 1; break;
    case 'C': *check_only = 1; break;
    case 'R': o_retention = optarg; break;
    case 'h': usage(stdout); rc = 1; goto done;
    case 'V': printf("earshotd %s\n", ES_VERSION); rc = 1; goto done;
    default: usage(stderr); goto done;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "earshotd: unexpected argument \"%s\"\n", argv[optind]);
    usage(stderr);
    goto done;
  }
  if (o_config) {
    struct es_diags diags;
    es_diags_init(&diags);
    int bad = es_config_read(c, o_config, &diags) != 0;
    for (size_t i = 0; i < diags.count; i++)
      fprintf(stderr, "earshotd: %s\n", diags.items[i].message);
    es_diags_deinit(&diags);
    if (bad)
      goto done;
  }
  if ((o_socket && es_config_set_str(&c->socket_path, o_socket) != 0) ||
      (o_db && es_config_set_str(&c->db_path, o_db) != 0) ||
      (o_tcp && es_config_set_str(&c->listen_tcp, o_tcp) != 0) ||
      (no_rules && es_config_set_rules(c, o_rules, no_rules) != 0)) {
    fprintf(stderr, "earshotd: out of memory\n");
    goto done;
  }
  if (o_fg)
    c->foreground = 1;
  if (o_retention) {
    char *end;
    errno = 0;
    unsigned long days = strtoul(o_retention, &end, 10);
    if (errno || *end || end == o_retention || o_retention[0] == '-' ||
        days > ES_CONFIG_MAX_RETENTION_DAYS) {
      fprintf(stderr, "earshotd: --retention-days must be a whole number from 0 to %d\n",
              ES_CONFIG_MAX_RETENTION_DAYS);
      goto done;
    }
    c->retention_days = (unsigned)days;
  }
  if (o_level && es_log_level_parse(o_level, &c->log_level) != 0) {
    fprintf(stderr, "earshotd: --log-level must be error, warn, info or debug\n");
    goto done;
  }
  if (c->socket_path == NULL || c->db_path == NULL) {
    fprintf(stderr, "earshotd: cannot work out default paths; give --socket and --db\n");
    goto done;
  }
  rc = 0;
done:
  free(o_rules);
  return rc;
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

int esd_config_check(const struct es_config *c, struct esd_resolved *res) {
  char msg[1024];
  int problems = 0;
#define PROBLEM(...)                                                         \
  do {                                                                       \
    fprintf(stderr, "earshotd: ");                                           \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
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
    struct group *g = getgrnam(c->socket_group);
    if (g == NULL)
      PROBLEM("cannot give %s to group %s: no such group", c->socket_path, c->socket_group);
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
