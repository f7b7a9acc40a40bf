/* config.c: see config.h. */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "defaults.h"
#include "store.h"

#define CONFIG_MAX_BYTES (1 << 20)

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int es_log_level_parse(const char *name, enum es_log_level *out) {
  for (int i = 0; i <= ES_LOG_DEBUG; i++)
    if (strcmp(name, level_names[i]) == 0) {
      *out = (enum es_log_level)i;
      return 0;
    }
  return ES_EINVAL;
}

const char *es_log_level_name(enum es_log_level level) {
  return level >= ES_LOG_ERROR && level <= ES_LOG_DEBUG ? level_names[level] : "?";
}

void es_config_init(struct es_config *c) {
  char buf[4096];

  memset(c, 0, sizeof(*c));
  if (es_default_socket(buf, sizeof(buf)) == 0)
    c->socket_path = strdup(buf);
  if (es_default_db(buf, sizeof(buf)) == 0)
    c->db_path = strdup(buf);
  c->socket_mode = 0660;
  c->log_level = ES_LOG_INFO;
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

static void free_rules(struct es_config *c) {
  for (size_t i = 0; i < c->nrules; i++)
    free(c->rules[i]);
  free(c->rules);
  c->rules = NULL;
  c->nrules = 0;
}

void es_config_deinit(struct es_config *c) {
  free(c->socket_path);
  free(c->socket_group);
  free(c->db_path);
  free_rules(c);
  free(c->listen_tcp);
  free(c->tcp_token);
  free(c->config_file);
  free(c->webhooks_json);
  memset(c, 0, sizeof(*c));
}

int es_config_set_str(char **field, const char *s) {
  char *copy = NULL;
  if (s && (copy = strdup(s)) == NULL)
    return ES_ENOMEM;
  free(*field);
  *field = copy;
  return 0;
}

static int add_rule(struct es_config *c, const char *path) {
  char **v = realloc(c->rules, (c->nrules + 1) * sizeof(*v));
  if (v == NULL)
    return ES_ENOMEM;
  c->rules = v;
  if ((v[c->nrules] = strdup(path)) == NULL)
    return ES_ENOMEM;
  c->nrules++;
  return 0;
}

int es_config_set_rules(struct es_config *c, const char *const *paths, size_t n) {
  free_rules(c);
  for (size_t i = 0; i < n; i++)
    if (add_rule(c, paths[i]) != 0)
      return ES_ENOMEM;
  return 0;
}

/* The first name that occurs twice among an object's members, or NULL
 * (cJSON keeps both; a lookup would silently take the first). */
static const char *twice(const cJSON *obj) {
  for (const cJSON *a = obj->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (a->string && b->string && strcmp(a->string, b->string) == 0)
        return a->string;
  return NULL;
}

/* The first member of obj whose name is not in known (NULL-terminated). */
static const char *unknown_key(const cJSON *obj, const char *const *known) {
  const cJSON *v;
  cJSON_ArrayForEach(v, obj) {
    int ok = 0;
    for (int i = 0; known[i]; i++)
      ok |= strcmp(v->string, known[i]) == 0;
    if (!ok)
      return v->string;
  }
  return NULL;
}

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

/* Reads the whole file into *text (NUL-terminated, from malloc). */
static int slurp(const char *path, char **text, size_t *len, struct es_diags *diags) {
  FILE *f = fopen(path, "rb");
  long n;

  *text = NULL;
  if (f == NULL) {
    int e = errno;
    es_diags_add(diags, path, 0, 0, NULL, "cannot open config file %s: %s", path, strerror(e));
    return e == ENOENT ? ES_ENOENT : ES_EIO;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > CONFIG_MAX_BYTES ||
      fseek(f, 0, SEEK_SET) != 0 || (*text = malloc((size_t)n + 1)) == NULL ||
      fread(*text, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(*text);
    *text = NULL;
    es_diags_add(diags, path, 0, 0, NULL, "cannot read config file %s (over 1 MiB or unreadable)",
                 path);
    return ES_EIO;
  }
  fclose(f);
  (*text)[n] = '\0';
  *len = (size_t)n;
  return 0;
}

/* The one diagnostic of a file that is refused: its message starts with
 * the path, so that it reads whole wherever it is printed. */
static void refuse(struct es_diags *diags, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void refuse(struct es_diags *diags, const char *path, int line, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  es_diags_add(diags, path, line, 0, NULL, "%s: %s", path, msg);
}

/* An object's keys: each given once, each one of `known` (NULL-terminated).
 * `what` names them in the message ("setting", "limit"...). */
static int check_keys(const cJSON *obj, const char *what, const char *const *known,
                      const char *path, struct es_diags *diags) {
  const char *name;
  if ((name = twice(obj)) != NULL) {
    refuse(diags, path, 0, "%s \"%s\" is given twice", what, name);
    return ES_EINVAL;
  }
  if ((name = unknown_key(obj, known)) != NULL) {
    refuse(diags, path, 0, "unknown %s \"%s\" (see docs/configuration.md)", what, name);
    return ES_EINVAL;
  }
  return 0;
}

/* The file cannot be read on (not JSON, out of memory): the diagnostic,
 * then `goto fail` with rc. */
#define BAD(code, ...)                                                       \
  do {                                                                       \
    refuse(diags, path, 0, __VA_ARGS__);                                     \
    rc = (code);                                                             \
    goto fail;                                                               \
  } while (0)

/* A setting that is wrong: its diagnostic; the reading goes on, so that
 * every wrong setting is told at once, and the file is refused at the end. */
#define WRONG(...)                                                           \
  do {                                                                       \
    refuse(diags, path, 0, __VA_ARGS__);                                     \
    wrong = 1;                                                               \
  } while (0)

int es_config_read(struct es_config *c, const char *path, struct es_diags *diags) {
  static const char *const top[] = {
    "socket", "socket_group", "socket_mode", "db", "rules", "listen_tcp", "tcp_token",
    "log_level", "foreground", "limits", "store", "redact", "call_idle_timeout",
    "retention_days", "webhooks", NULL};
  static const char *const lim[] = {
    "max_line_bytes", "max_connections", "max_calls_per_connection", "max_open_calls",
    "max_output_bytes", "max_pending_alerts", "output_stall_timeout", NULL};
  static const char *const sto[] = {"synchronous", "commit_interval_ms", "background_max_rows",
                                    "cache_mb", "alert_id_block", NULL};
  char *text;
  size_t len;
  cJSON *root = NULL;
  const char *end = NULL;
  const cJSON *v, *sub;
  double d;
  int wrong = 0, rc = slurp(path, &text, &len, diags);

  if (rc != 0)
    return rc;
  if (es_config_set_str(&c->config_file, path) != 0)
    BAD(ES_ENOMEM, "out of memory");
  /* The whole file: a second object or stray text after the first is an
   * error, not settings silently ignored. */
  {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
      i++;
    if (i == len) {
      refuse(diags, path, 0, "the file is empty: a config file holds one JSON object ({} for "
             "the defaults)");
      rc = ES_EJSON;
      goto fail;
    }
  }
  root = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
  if (root == NULL) {
    int line = 1;
    for (const char *p = text; end && p < end && p < text + len; p++)
      line += *p == '\n';
    refuse(diags, path, line, "malformed JSON near line %d", line);
    rc = ES_EJSON;
    goto fail;
  }
  if (!cJSON_IsObject(root))
    BAD(ES_EJSON, "the config file must hold one JSON object");
  wrong |= check_keys(root, "setting", top, path, diags) != 0;
#define STR(key, dst)                                                        \
  if ((v = cJSON_GetObjectItemCaseSensitive(root, key))) {                   \
    if (!cJSON_IsString(v) || !*v->valuestring)                              \
      WRONG("\"%s\" must be a non-empty string", key);                       \
    else if (es_config_set_str(dst, v->valuestring) != 0)                    \
      BAD(ES_ENOMEM, "out of memory");                                       \
  }
  STR("socket", &c->socket_path);
  STR("socket_group", &c->socket_group);
  STR("db", &c->db_path);
  STR("listen_tcp", &c->listen_tcp);
  STR("tcp_token", &c->tcp_token);
#undef STR
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "socket_mode"))) {
    if (!cJSON_IsString(v) || parse_mode(v->valuestring, &c->socket_mode) != 0)
      WRONG("\"socket_mode\" must be an octal string like \"0660\"");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "rules"))) {
    const cJSON *e;
    int ok = cJSON_IsString(v) && *v->valuestring;
    if (cJSON_IsArray(v)) {
      ok = 1;
      cJSON_ArrayForEach(e, v) ok &= cJSON_IsString(e) && *e->valuestring;
    }
    if (!ok) {
      WRONG("\"rules\" must be a path or an array of paths");
    } else {
      free_rules(c);
      if (cJSON_IsString(v))
        ok = add_rule(c, v->valuestring) == 0;
      else
        cJSON_ArrayForEach(e, v) ok &= add_rule(c, e->valuestring) == 0;
      if (!ok)
        BAD(ES_ENOMEM, "out of memory");
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "log_level"))) {
    if (!cJSON_IsString(v) || es_log_level_parse(v->valuestring, &c->log_level) != 0)
      WRONG("\"log_level\" must be one of error, warn, info, debug");
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "foreground"))) {
    if (!cJSON_IsBool(v))
      WRONG("\"foreground\" must be true or false");
    else
      c->foreground = cJSON_IsTrue(v);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "redact"))) {
    if (!cJSON_IsBool(v))
      WRONG("\"redact\" must be true or false");
    else
      c->redact = cJSON_IsTrue(v);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "call_idle_timeout"))) {
    if (get_number(v, 1, 86400 * 7, &d) != 0)
      WRONG("\"call_idle_timeout\" must be seconds from 1 to 604800");
    else
      c->call_idle_timeout = d;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "retention_days"))) {
    if (get_whole(v, 0, ES_CONFIG_MAX_RETENTION_DAYS, &d) != 0)
      WRONG("\"retention_days\" must be a whole number of days from 0 (keep everything) to %d",
            ES_CONFIG_MAX_RETENTION_DAYS);
    else
      c->retention_days = (unsigned)d;
  }
  /* Kept as text: earshotd's webhook.c checks every field, and this file
   * stays free of libcurl. */
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "webhooks"))) {
    char *json = cJSON_PrintUnformatted(v);
    int bad = json == NULL || es_config_set_str(&c->webhooks_json, json) != 0;
    cJSON_free(json);
    if (bad)
      BAD(ES_ENOMEM, "out of memory");
  }
  if ((sub = cJSON_GetObjectItemCaseSensitive(root, "limits")) && !cJSON_IsObject(sub)) {
    WRONG("\"limits\" must be an object");
  } else if (sub) {
    wrong |= check_keys(sub, "limit", lim, path, diags) != 0;
/* A whole number of object sub ("limits." or "store." in the message). */
#define WHOLE(prefix, key, min, max, dst, type)                              \
  if ((v = cJSON_GetObjectItemCaseSensitive(sub, key))) {                    \
    if (get_whole(v, min, max, &d) != 0)                                     \
      WRONG(prefix "%s must be a whole number from %.0f to %.0f", key,        \
            (double)(min), (double)(max));                                   \
    else                                                                     \
      dst = (type)d;                                                         \
  }
    WHOLE("limits.", "max_line_bytes", 256, 16 << 20, c->max_line_bytes, size_t);
    WHOLE("limits.", "max_connections", 1, 100000, c->max_connections, unsigned);
    WHOLE("limits.", "max_calls_per_connection", 1, 10000000, c->max_calls_per_connection,
          unsigned);
    WHOLE("limits.", "max_open_calls", 1, 10000000, c->max_open_calls, unsigned);
    WHOLE("limits.", "max_output_bytes", 65536, 1u << 30, c->max_output_bytes, size_t);
    WHOLE("limits.", "max_pending_alerts", 100, 10000000, c->max_pending_alerts, size_t);
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "output_stall_timeout"))) {
      if (get_number(v, 1, 3600, &d) != 0)
        WRONG("limits.output_stall_timeout must be seconds from 1 to 3600");
      else
        c->output_stall_timeout = d;
    }
  }
  if ((sub = cJSON_GetObjectItemCaseSensitive(root, "store")) && !cJSON_IsObject(sub)) {
    WRONG("\"store\" must be an object");
  } else if (sub) {
    wrong |= check_keys(sub, "store setting", sto, path, diags) != 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(sub, "synchronous"))) {
      /* "off" is not offered: a power cut could then corrupt the store. */
      const char *mode = cJSON_IsString(v) ? v->valuestring : "";
      if (strcmp(mode, "normal") != 0 && strcmp(mode, "full") != 0)
        WRONG("store.synchronous must be \"normal\" or \"full\"");
      else
        c->synchronous = strcmp(mode, "full") == 0 ? 2 : 1;
    }
    WHOLE("store.", "commit_interval_ms", 0, 1000, c->commit_interval_ms, unsigned);
    WHOLE("store.", "background_max_rows", 0, 100000, c->background_max_rows, unsigned);
    WHOLE("store.", "cache_mb", 1, 4096, c->cache_mb, unsigned);
    WHOLE("store.", "alert_id_block", 16, 1 << 24, c->alert_id_block, unsigned);
  }
#undef WHOLE
  rc = wrong ? ES_EINVAL : 0;
fail:
  cJSON_Delete(root);
  free(text);
  return rc;
}
