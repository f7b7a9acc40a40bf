/* config.c: see config.h. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "error.h"
#include "store.h"

void esd_config_init(struct esd_config *c) {
  char buf[4096];

  memset(c, 0, sizeof(*c));
  if (es_default_socket(buf, sizeof(buf)) == 0)
    c->socket_path = strdup(buf);
  if (es_default_db(buf, sizeof(buf)) == 0)
    c->db_path = strdup(buf);
  c->socket_mode = 0660;
  c->log_level = ESD_LOG_INFO;
  c->max_line_bytes = 65536;
  c->max_connections = 1024;
  c->max_calls_per_connection = 10000;
  c->max_open_calls = 100000;
  c->max_output_bytes = 8u << 20;
  c->output_stall_timeout = 30;
  c->max_pending_alerts = 100000;
  c->call_idle_timeout = 300;
  c->synchronous = 2;
  c->commit_interval_ms = 10;
  c->background_max_rows = 1024;
  c->cache_mb = ES_STORE_CACHE_KIB / 1024;
  c->alert_id_block = 65536;
  c->redact = 1;
}

void esd_config_deinit(struct esd_config *c) {
  free(c->socket_path);
  free(c->socket_group);
  free(c->db_path);
  for (size_t i = 0; i < c->nrules; i++)
    free(c->rules[i]);
  free(c->rules);
  free(c->listen_tcp);
  free(c->tcp_token);
  free(c->config_file);
  free(c->webhooks_json);
  memset(c, 0, sizeof(*c));
}

static void set_str(char **dst, const char *s) {
  free(*dst);
  *dst = s ? strdup(s) : NULL;
}

static int add_rules(struct esd_config *c, const char *path) {
  char **v = realloc(c->rules, (c->nrules + 1) * sizeof(*v));
  if (v == NULL)
    return -1;
  c->rules = v;
  c->rules[c->nrules] = strdup(path);
  if (c->rules[c->nrules] == NULL)
    return -1;
  c->nrules++;
  return 0;
}

static void clear_rules(struct esd_config *c) {
  for (size_t i = 0; i < c->nrules; i++)
    free(c->rules[i]);
  c->nrules = 0;
}

#define ESD_MAX_RETENTION_DAYS 36500

/* The first name that occurs twice among an object's members, or NULL
 * (cJSON keeps both; a lookup would silently take the first). */
static const char *twice(const cJSON *obj) {
  for (const cJSON *a = obj->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (a->string && b->string && strcmp(a->string, b->string) == 0)
        return a->string;
  return NULL;
}

#define CFG_ERR(...)                                                         \
  do {                                                                       \
    fprintf(stderr, "earshotd: %s: ", file);                                 \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
    goto fail;                                                               \
  } while (0)

static int get_number(const cJSON *v, double min, double max, double *out) {
  if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max)
    return -1;
  *out = v->valuedouble;
  return 0;
}

/* A count: get_number() with no fraction (10.7 connections is a typo, not
 * 10). */
static int get_whole(const cJSON *v, double min, double max, double *out) {
  if (get_number(v, min, max, out) != 0 || *out != (double)(uint64_t)*out)
    return -1;
  return 0;
}

static int parse_mode(const char *s, unsigned *out) {
  char *end;
  errno = 0;
  unsigned long m = strtoul(s, &end, 8);
  if (errno || *end || end == s || m > 0777)
    return -1;
  *out = (unsigned)m;
  return 0;
}

/* Reads the JSON config file into c. Every key is known or an error. */
static int load_file(struct esd_config *c, const char *file) {
  static const char *const top[] = {
    "socket", "socket_group", "socket_mode", "db", "rules", "listen_tcp", "tcp_token",
    "log_level", "foreground", "limits", "store", "redact", "call_idle_timeout",
    "retention_days", "webhooks", NULL};
  static const char *const lim[] = {
    "max_line_bytes", "max_connections", "max_calls_per_connection", "max_open_calls",
    "max_output_bytes", "max_pending_alerts", "output_stall_timeout", NULL};
  static const char *const sto[] = {"synchronous", "commit_interval_ms", "background_max_rows",
                                    "cache_mb", "alert_id_block", NULL};
  FILE *f = fopen(file, "rb");
  char *text = NULL;
  long len;
  cJSON *root = NULL;
  const char *dup;
  const cJSON *v, *sub;
  double d;

  if (f == NULL) {
    fprintf(stderr, "earshotd: cannot open config file %s: %s\n", file, strerror(errno));
    return -1;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > (1 << 20) ||
      fseek(f, 0, SEEK_SET) != 0 || (text = malloc((size_t)len + 1)) == NULL ||
      fread(text, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    free(text);
    fprintf(stderr, "earshotd: cannot read config file %s (over 1 MiB or unreadable)\n", file);
    return -1;
  }
  fclose(f);
  text[len] = '\0';
  /* The whole file: a second object or stray text after the first is an
   * error, not settings silently ignored. */
  root = cJSON_ParseWithOpts(text, NULL, 1);
  if (root == NULL) {
    const char *at = cJSON_GetErrorPtr();
    int line = 1;
    for (const char *p = text; at && p < at; p++)
      line += *p == '\n';
    CFG_ERR("malformed JSON near line %d", line);
  }
  if (!cJSON_IsObject(root))
    CFG_ERR("the config file must hold one JSON object");
  if ((dup = twice(root)) != NULL)
    CFG_ERR("setting \"%s\" is given twice", dup);
  cJSON_ArrayForEach(v, root) {
    int ok = 0;
    for (int i = 0; top[i]; i++)
      ok |= strcmp(v->string, top[i]) == 0;
    if (!ok)
      CFG_ERR("unknown setting \"%s\" (see docs/configuration.md)", v->string);
  }
#define STR(key, dst)                                                        \
  if ((v = cJSON_GetObjectItemCaseSensitive(root, key))) {                   \
    if (!cJSON_IsString(v) || !*v->valuestring)                              \
      CFG_ERR("\"%s\" must be a non-empty string", key);                     \
    set_str(dst, v->valuestring);                                            \
  }
  STR("socket", &c->socket_path);
  STR("socket_group", &c->socket_group);
  STR("db", &c->db_path);
  STR("listen_tcp", &c->listen_tcp);
  STR("tcp_token", &c->tcp_token);
#undef STR
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "socket_mode"))) {
    if (!cJSON_IsString(v) || parse_mode(v->valuestring, &c->socket_mode) != 0)
      CFG_ERR("\"socket_mode\" must be an octal string like \"0660\"");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "rules"))) {
    const cJSON *e;
    clear_rules(c);
    if (cJSON_IsString(v)) {
      if (add_rules(c, v->valuestring) != 0)
        CFG_ERR("out of memory");
    } else if (cJSON_IsArray(v)) {
      cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e) || !*e->valuestring)
          CFG_ERR("\"rules\" must be a path or an array of paths");
        if (add_rules(c, e->valuestring) != 0)
          CFG_ERR("out of memory");
      }
    } else {
      CFG_ERR("\"rules\" must be a path or an array of paths");
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "log_level"))) {
    if (!cJSON_IsString(v) || esd_log_parse_level(v->valuestring, &c->log_level) != 0)
      CFG_ERR("\"log_level\" must be one of error, warn, info, debug");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "foreground"))) {
    if (!cJSON_IsBool(v))
      CFG_ERR("\"foreground\" must be true or false");
    c->foreground = cJSON_IsTrue(v);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "redact"))) {
    if (!cJSON_IsBool(v))
      CFG_ERR("\"redact\" must be true or false");
    c->redact = cJSON_IsTrue(v);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "call_idle_timeout"))) {
    if (get_number(v, 1, 86400 * 7, &d) != 0)
      CFG_ERR("\"call_idle_timeout\" must be seconds from 1 to 604800");
    c->call_idle_timeout = d;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "retention_days"))) {
    if (get_whole(v, 0, ESD_MAX_RETENTION_DAYS, &d) != 0)
      CFG_ERR("\"retention_days\" must be a whole number of days from 0 (keep everything) "
              "to %d", ESD_MAX_RETENTION_DAYS);
    c->retention_days = (unsigned)d;
  }
  /* Kept as text: webhook.c checks every field (main.c reports its
   * errors like these), and this file stays free of libcurl. */
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "webhooks"))) {
    char *json = cJSON_PrintUnformatted(v);
    free(c->webhooks_json);
    c->webhooks_json = json ? strdup(json) : NULL;
    cJSON_free(json);
    if (c->webhooks_json == NULL)
      CFG_ERR("out of memory");
  }
  if ((sub = cJSON_GetObjectItemCaseSensitive(root, "limits"))) {
    if (!cJSON_IsObject(sub))
      CFG_ERR("\"limits\" must be an object");
    if ((dup = twice(sub)) != NULL)
      CFG_ERR("limit \"%s\" is given twice", dup);
    cJSON_ArrayForEach(v, sub) {
      int ok = 0;
      for (int i = 0; lim[i]; i++)
        ok |= strcmp(v->string, lim[i]) == 0;
      if (!ok)
        CFG_ERR("unknown limit \"%s\" (see docs/configuration.md)", v->string);
    }
#define LIM(key, min, max, dst, type)                                        \
  if ((v = cJSON_GetObjectItemCaseSensitive(sub, key))) {                    \
    if (get_whole(v, min, max, &d) != 0)                                     \
      CFG_ERR("limits.%s must be a whole number from %.0f to %.0f", key,     \
              (double)(min), (double)(max));                                 \
    dst = (type)d;                                                           \
  }
    LIM("max_line_bytes", 256, 16 << 20, c->max_line_bytes, size_t);
    LIM("max_connections", 1, 100000, c->max_connections, unsigned);
    LIM("max_calls_per_connection", 1, 10000000, c->max_calls_per_connection, unsigned);
    LIM("max_open_calls", 1, 10000000, c->max_open_calls, unsigned);
    LIM("max_output_bytes", 65536, 1u << 30, c->max_output_bytes, size_t);
    LIM("max_pending_alerts", 100, 10000000, c->max_pending_alerts, size_t);
#undef LIM
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "output_stall_timeout"))) {
      if (get_number(v, 1, 3600, &d) != 0)
        CFG_ERR("limits.output_stall_timeout must be seconds from 1 to 3600");
      c->output_stall_timeout = d;
    }
  }
  if ((sub = cJSON_GetObjectItemCaseSensitive(root, "store"))) {
    if (!cJSON_IsObject(sub))
      CFG_ERR("\"store\" must be an object");
    if ((dup = twice(sub)) != NULL)
      CFG_ERR("store setting \"%s\" is given twice", dup);
    cJSON_ArrayForEach(v, sub) {
      int ok = 0;
      for (int i = 0; sto[i]; i++)
        ok |= strcmp(v->string, sto[i]) == 0;
      if (!ok)
        CFG_ERR("unknown store setting \"%s\" (see docs/configuration.md)", v->string);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "synchronous"))) {
      /* "off" is not offered: a power cut could then corrupt the store. */
      const char *mode = cJSON_IsString(v) ? v->valuestring : "";
      if (strcmp(mode, "normal") != 0 && strcmp(mode, "full") != 0)
        CFG_ERR("store.synchronous must be \"normal\" or \"full\"");
      c->synchronous = strcmp(mode, "full") == 0 ? 2 : 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "commit_interval_ms"))) {
      if (get_whole(v, 0, 1000, &d) != 0)
        CFG_ERR("store.commit_interval_ms must be a whole number from 0 to 1000");
      c->commit_interval_ms = (unsigned)d;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "background_max_rows"))) {
      if (get_whole(v, 0, 100000, &d) != 0)
        CFG_ERR("store.background_max_rows must be a whole number from 0 to 100000");
      c->background_max_rows = (unsigned)d;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "cache_mb"))) {
      if (get_whole(v, 1, 4096, &d) != 0)
        CFG_ERR("store.cache_mb must be a whole number from 1 to 4096");
      c->cache_mb = (unsigned)d;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "alert_id_block"))) {
      if (get_whole(v, 16, 1 << 24, &d) != 0)
        CFG_ERR("store.alert_id_block must be a whole number from 16 to 16777216");
      c->alert_id_block = (unsigned)d;
    }
  }
  cJSON_Delete(root);
  free(text);
  return 0;
fail:
  cJSON_Delete(root);
  free(text);
  return -1;
}

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
        "  --check-config        validate config and rules, then exit\n"
        "\n"
        "<home> is $EARSHOT_HOME, else /var/lib/earshot for root, else ~/.local/state/earshot.\n",
        f);
}

int esd_config_load(struct esd_config *c, int argc, char **argv) {
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
    case 'C': c->check_only = 1; break;
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
    set_str(&c->config_file, o_config);
    if (load_file(c, o_config) != 0)
      goto done;
  }
  if (o_socket)
    set_str(&c->socket_path, o_socket);
  if (o_db)
    set_str(&c->db_path, o_db);
  if (o_tcp)
    set_str(&c->listen_tcp, o_tcp);
  if (o_fg)
    c->foreground = 1;
  if (o_retention) {
    char *end;
    errno = 0;
    unsigned long days = strtoul(o_retention, &end, 10);
    if (errno || *end || end == o_retention || o_retention[0] == '-' ||
        days > ESD_MAX_RETENTION_DAYS) {
      fprintf(stderr, "earshotd: --retention-days must be a whole number from 0 to %d\n",
              ESD_MAX_RETENTION_DAYS);
      goto done;
    }
    c->retention_days = (unsigned)days;
  }
  if (o_level && esd_log_parse_level(o_level, &c->log_level) != 0) {
    fprintf(stderr, "earshotd: --log-level must be error, warn, info or debug\n");
    goto done;
  }
  if (no_rules) {
    clear_rules(c);
    for (size_t i = 0; i < no_rules; i++)
      if (add_rules(c, o_rules[i]) != 0)
        goto done;
  }
  if (c->socket_path == NULL || c->db_path == NULL) {
    fprintf(stderr, "earshotd: cannot work out default paths; give --socket and --db\n");
    goto done;
  }
  if (c->listen_tcp && (c->tcp_token == NULL || strlen(c->tcp_token) < 16)) {
    fprintf(stderr, "earshotd: TCP listening needs \"tcp_token\" (16 characters or more) in "
                    "the config file; clients send it in their hello line\n");
    goto done;
  }
  rc = 0;
done:
  free(o_rules);
  return rc;
}
