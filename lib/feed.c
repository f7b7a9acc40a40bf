/* feed.c: the supervisor feed record and its filter (feed.h). */
#include "feed.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "error.h"
#include "numfmt.h"
#include "store.h"

static int put(char *buf, size_t cap, size_t *pos, const char *s) {
  size_t n = strlen(s);
  if (*pos + n > cap)
    return ES_ETOOBIG;
  memcpy(buf + *pos, s, n);
  *pos += n;
  return 0;
}

static int str_field(char *buf, size_t cap, size_t *pos, const char *key, const char *v) {
  int rc = put(buf, cap, pos, key);
  if (rc)
    return rc;
  if (v == NULL)
    return put(buf, cap, pos, "null");
  return es_json_str(buf, cap, pos, v, strlen(v));
}

/* Rounded to 0.001, then printed by es_fmt_double() (the %.15g text for
 * any value under 10^12, which reads back). */
static int num_field(char *buf, size_t cap, size_t *pos, const char *key, double v) {
  char tmp[ES_FMT_DOUBLE_MAX];
  int rc = put(buf, cap, pos, key);
  if (rc)
    return rc;
  if (!isfinite(v))
    return put(buf, cap, pos, "null");
  es_fmt_double(round(v * 1000) / 1000, tmp);
  return put(buf, cap, pos, tmp);
}

int64_t es_feed_json(const struct es_feed_rec *r, char *buf, size_t cap) {
  size_t pos = 0;
  char tmp[64];
  int rc = 0;

  snprintf(tmp, sizeof(tmp), "{\"type\":\"feed_alert\",\"id\":%lld", (long long)r->id);
  rc |= put(buf, cap, &pos, tmp);
  rc |= str_field(buf, cap, &pos, ",\"call_id\":", r->call_id);
  rc |= str_field(buf, cap, &pos, ",\"agent\":", r->agent);
  rc |= str_field(buf, cap, &pos, ",\"queue\":", r->queue);
  rc |= str_field(buf, cap, &pos, ",\"rule\":", r->rule_id);
  rc |= str_field(buf, cap, &pos, ",\"category\":", r->category);
  rc |= str_field(buf, cap, &pos, ",\"severity\":", es_severity_name(r->severity));
  rc |= str_field(buf, cap, &pos, ",\"speaker\":", es_store_speaker_name(r->speaker));
  rc |= num_field(buf, cap, &pos, ",\"time\":", r->time);
  rc |= num_field(buf, cap, &pos, ",\"ts\":", r->call_ts);
  rc |= num_field(buf, cap, &pos, ",\"heat\":", r->heat);
  rc |= str_field(buf, cap, &pos, ",\"matched\":", r->matched);
  rc |= str_field(buf, cap, &pos, ",\"text\":", r->text);
  rc |= str_field(buf, cap, &pos, ",\"tip\":", r->tip);
  rc |= put(buf, cap, &pos, ",\"reason\":");
  rc |= put(buf, cap, &pos, r->reason && r->reason[0] ? r->reason : "null");
  rc |= put(buf, cap, &pos, "}\n");
  return rc ? ES_ETOOBIG : (int64_t)pos;
}

/* A filter list: names, as strings; for agents and queues (by_number) also
 * whole numbers, which name what a start line's number names: an agent
 * whose start sent "agent_id": 1042 is stored, and filtered, as "1042". */
static int name_list(const cJSON *v, const char *key, int by_number,
                     char (*out)[ES_FEED_NAME_MAX], size_t *n, char *msg, size_t msgcap) {
  const char *what = by_number ? "names (strings, or whole numbers such as 1042)" : "strings";
  const cJSON *e;
  *n = 0;
  if (v == NULL)
    return 0;
  if (!cJSON_IsArray(v)) {
    snprintf(msg, msgcap, "\"%s\" must be an array of %s", key, what);
    return ES_EINVAL;
  }
  cJSON_ArrayForEach(e, v) {
    char number[ES_FMT_INT_MAX];
    const char *name = NULL;
    if (cJSON_IsString(e) && e->valuestring[0] != '\0' &&
        strlen(e->valuestring) < ES_FEED_NAME_MAX) {
      name = e->valuestring;
    } else if (by_number && cJSON_IsNumber(e) && fabs(e->valuedouble) <= ES_WHOLE_EXACT &&
               e->valuedouble == trunc(e->valuedouble)) {
      es_fmt_i64((int64_t)e->valuedouble, number);
      name = number;
    }
    if (name == NULL) {
      snprintf(msg, msgcap, "every entry of \"%s\" must be a non-empty string of at most %d "
               "bytes%s", key, ES_FEED_NAME_MAX - 1,
               by_number ? " or a whole number (an agent_id or queue sent as a number, "
                           "such as 1042; not 10.5)" : "");
      return ES_EINVAL;
    }
    if (*n == ES_FEED_FILTER_MAX) {
      snprintf(msg, msgcap, "\"%s\" lists more than %d names", key, ES_FEED_FILTER_MAX);
      return ES_EINVAL;
    }
    memcpy(out[(*n)++], name, strlen(name) + 1);
  }
  return 0;
}

int es_feed_filter_parse(const char *json, size_t len, struct es_feed_filter *f,
                         int64_t *since, int *has_since, char *msg, size_t msgcap) {
  static const char *const known[] = {"type", "seq", "since", "min_severity", "categories",
                                      "queues", "agents", NULL};
  cJSON *root = cJSON_ParseWithLength(json, len);
  const cJSON *v;
  int rc = ES_EINVAL;

  memset(f, 0, sizeof(*f));
  *since = 0;
  *has_since = 0;
  msg[0] = '\0';
  if (root == NULL || !cJSON_IsObject(root)) {
    snprintf(msg, msgcap, "a subscribe line must be a JSON object");
    goto done;
  }
  for (v = root->child; v; v = v->next) {
    int ok = 0;
    for (int i = 0; known[i]; i++)
      ok |= strcmp(v->string, known[i]) == 0;
    if (!ok) {
      snprintf(msg, msgcap, "unknown field \"%.64s\" in subscribe (expected since, "
                            "min_severity, categories, queues, agents)", v->string);
      goto done;
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "since")) != NULL) {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15 ||
        v->valuedouble != (double)(int64_t)v->valuedouble) {
      snprintf(msg, msgcap, "\"since\" must be an alert id (a whole number >= 0)");
      goto done;
    }
    *since = (int64_t)v->valuedouble;
    *has_since = 1;
  }
  f->min_severity = ES_SEV_INFO;
  if ((v = cJSON_GetObjectItemCaseSensitive(root, "min_severity")) != NULL) {
    if (!cJSON_IsString(v) || es_severity_parse(v->valuestring, &f->min_severity) != 0) {
      snprintf(msg, msgcap, "\"min_severity\" must be info, low, medium, high or critical");
      goto done;
    }
  }
  if (name_list(cJSON_GetObjectItemCaseSensitive(root, "categories"), "categories", 0,
                f->categories, &f->ncategories, msg, msgcap) ||
      name_list(cJSON_GetObjectItemCaseSensitive(root, "queues"), "queues", 1, f->queues,
                &f->nqueues, msg, msgcap) ||
      name_list(cJSON_GetObjectItemCaseSensitive(root, "agents"), "agents", 1, f->agents,
                &f->nagents, msg, msgcap))
    goto done;
  rc = 0;
done:
  cJSON_Delete(root);
  return rc;
}

static int in_list(const char (*list)[ES_FEED_NAME_MAX], size_t n, const char *name) {
  if (n == 0)
    return 1;
  if (name == NULL)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], name) == 0)
      return 1;
  return 0;
}

int es_feed_filter_match(const struct es_feed_filter *f, enum es_severity sev,
                         const char *category, const char *queue, const char *agent) {
  return sev >= f->min_severity && in_list(f->categories, f->ncategories, category) &&
         in_list(f->queues, f->nqueues, queue) && in_list(f->agents, f->nagents, agent);
}
