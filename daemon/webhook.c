/*
 * webhook.c: alerts delivered to HTTP webhooks (webhook.h, docs/webhooks.md).
 *
 * The path of one delivery:
 *
 *   emit_fire -> esd_webhooks_alert: masked payload, an outbox row queued
 *     to the writer right after its alert (same transaction);
 *   commit -> esd_webhooks_on_commit -> a store read on the thread pool of
 *     the pending rows after the last one loaded ("load");
 *   load_done -> arrive: the rate limit takes a token, or the row is
 *     suppressed (written as such, counted for the next summary);
 *   pump -> start_request: curl easy handle added to the multi handle;
 *     libuv polls curl's sockets and runs curl's timer;
 *   check_done -> finish: 2xx deletes the row; otherwise the attempt is
 *     counted and the row rescheduled (or failed at max_attempts), all
 *     through the writer.
 *
 * The store is the source of truth: what is in memory is a cache of the
 * pending rows, so a restart only has to read them again.
 */
#include "webhook.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "esd.h"
#include "feed.h"
#include "log.h"
#include "norm.h"
#include "strbuf.h"

#ifndef ES_VERSION
#define ES_VERSION "0"
#endif

#define WH_RESPONSE_MAX (1u << 20) /* response body bytes read before giving up */
#define WH_ERROR_BODY 120          /* bytes of a failed response kept in last_error */
#define WH_LOAD_RETRY_MS 5000      /* after a failed store read */

/* ---- configuration ------------------------------------------------------ */

enum wh_format { WH_JSON = 0, WH_TEXT };

struct wh_dest_cfg {
  char name[ESD_WEBHOOK_NAME_MAX + 1];
  char *url;                   /* owned */
  enum wh_format format;
  struct es_feed_filter filter;
  char **headers;              /* owned "Name: value" lines */
  size_t nheaders;
  unsigned timeout_ms;
  unsigned rate_per_minute;    /* 0: no limit */
  unsigned burst;
  unsigned max_attempts;
  unsigned retry_initial_ms;
  unsigned retry_max_ms;
};

struct esd_webhooks_config {
  struct wh_dest_cfg *v;
  size_t n;
};

static void dest_cfg_free(struct wh_dest_cfg *c) {
  free(c->url);
  for (size_t i = 0; i < c->nheaders; i++)
    free(c->headers[i]);
  free(c->headers);
}

static void config_free(struct esd_webhooks_config *c) {
  if (c == NULL)
    return;
  for (size_t i = 0; i < c->n; i++)
    dest_cfg_free(&c->v[i]);
  free(c->v);
  free(c);
}

/* Formats "webhooks[i] ("name"): <what to fix>" into msg; returns -1. */
static int cfg_err(char *msg, size_t cap, size_t idx, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int cfg_err(char *msg, size_t cap, size_t idx, const char *name, const char *fmt, ...) {
  va_list ap;
  int n = name && name[0] ? snprintf(msg, cap, "webhooks[%zu] (\"%s\"): ", idx, name)
                          : snprintf(msg, cap, "webhooks[%zu]: ", idx);
  if (n < 0 || (size_t)n >= cap)
    return -1;
  va_start(ap, fmt);
  vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
  va_end(ap);
  return -1;
}

/* A whole number in [min, max] under `key`, or `def` when absent. */
static int whole(const cJSON *o, const char *key, double min, double max, unsigned def,
                 unsigned *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (v == NULL) {
    *out = def;
    return 0;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
      v->valuedouble != floor(v->valuedouble))
    return -1;
  *out = (unsigned)v->valuedouble;
  return 0;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > ESD_WEBHOOK_NAME_MAX)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '_' || c == '.'))
      return 0;
  }
  return 1;
}

static int valid_url(const char *s) {
  size_t n = strlen(s), skip;
  if (n > ESD_WEBHOOK_URL_MAX)
    return 0;
  if (strncasecmp(s, "http://", 7) == 0)
    skip = 7;
  else if (strncasecmp(s, "https://", 8) == 0)
    skip = 8;
  else
    return 0;
  if (s[skip] == '\0' || s[skip] == '/' || s[skip] == '?' || s[skip] == '#')
    return 0; /* no host */
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
      return 0;
  return 1;
}

/* RFC 9110 token characters. */
static int valid_header_name(const char *s) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  size_t n = strlen(s);
  if (n == 0 || n > 256)
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          strchr(extra, c)))
      return 0;
  }
  return 1;
}

static int valid_header_value(const char *s) {
  if (s[0] == '\0')
    return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
      return 0;
  return 1;
}

static int parse_headers(const cJSON *h, struct wh_dest_cfg *d, size_t idx, char *msg,
                         size_t cap) {
  static const char *const reserved[] = {"Content-Type", "Content-Length", "Host",
                                         "Transfer-Encoding", "Idempotency-Key", "Expect",
                                         "Connection", NULL};
  const cJSON *e;
  if (!cJSON_IsObject(h))
    return cfg_err(msg, cap, idx, d->name, "\"headers\" must be an object of header names and "
                   "string values, e.g. {\"Authorization\": \"Bearer ...\"}");
  if (cJSON_GetArraySize(h) > ESD_WEBHOOK_MAX_HEADERS)
    return cfg_err(msg, cap, idx, d->name, "\"headers\" has more than %d entries",
                   ESD_WEBHOOK_MAX_HEADERS);
  d->headers = calloc((size_t)cJSON_GetArraySize(h) + 1, sizeof(char *));
  if (d->headers == NULL)
    return cfg_err(msg, cap, idx, d->name, "out of memory");
  cJSON_ArrayForEach(e, h) {
    if (!valid_header_name(e->string))
      return cfg_err(msg, cap, idx, d->name, "header name \"%.64s\" is not a valid HTTP field "
                     "name (letters, digits and !#$%%&'*+-.^_`|~)", e->string);
    for (int i = 0; reserved[i]; i++)
      if (strcasecmp(e->string, reserved[i]) == 0)
        return cfg_err(msg, cap, idx, d->name, "header \"%s\" is set by earshotd; remove it "
                       "from \"headers\"", reserved[i]);
    if (!cJSON_IsString(e) || !valid_header_value(e->valuestring))
      return cfg_err(msg, cap, idx, d->name, "header \"%s\" must be a non-empty string without "
                     "line breaks or control characters", e->string);
    size_t len = strlen(e->string) + 2 + strlen(e->valuestring);
    if (len > ESD_WEBHOOK_HEADER_MAX)
      return cfg_err(msg, cap, idx, d->name, "header \"%s\" is longer than %d bytes", e->string,
                     ESD_WEBHOOK_HEADER_MAX);
    char *line = malloc(len + 1);
    if (line == NULL)
      return cfg_err(msg, cap, idx, d->name, "out of memory");
    size_t nlen = strlen(e->string);
    memcpy(line, e->string, nlen);
    memcpy(line + nlen, ": ", 2);
    memcpy(line + nlen + 2, e->valuestring, len - nlen - 2 + 1);
    d->headers[d->nheaders++] = line;
  }
  return 0;
}

/* The filter keys go through the supervisor feed's own parser, so that a
 * webhook and a subscriber read the same names the same way. */
static int parse_filter(const cJSON *o, struct wh_dest_cfg *d, size_t idx, char *msg,
                        size_t cap) {
  static const char *const keys[] = {"min_severity", "categories", "queues", "agents", NULL};
  cJSON *f = cJSON_CreateObject();
  char *text = NULL, why[256];
  int64_t since;
  int has_since, rc = -1;

  if (f == NULL)
    return cfg_err(msg, cap, idx, d->name, "out of memory");
  for (int i = 0; keys[i]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
    if (v && !cJSON_AddItemToObject(f, keys[i], cJSON_Duplicate(v, 1)))
      goto oom;
  }
  if ((text = cJSON_PrintUnformatted(f)) == NULL)
    goto oom;
  if (es_feed_filter_parse(text, strlen(text), &d->filter, &since, &has_since, why,
                           sizeof(why)) != 0)
    cfg_err(msg, cap, idx, d->name, "%s", why);
  else
    rc = 0;
  goto done;
oom:
  cfg_err(msg, cap, idx, d->name, "out of memory");
done:
  cJSON_free(text);
  cJSON_Delete(f);
  return rc;
}

static int parse_dest(const cJSON *o, size_t idx, struct wh_dest_cfg *d, char *msg, size_t cap) {
  static const char *const known[] = {
    "name", "url", "format", "min_severity", "categories", "queues", "agents", "headers",
    "timeout_ms", "rate_per_minute", "burst", "max_attempts", "retry_initial_ms",
    "retry_max_ms", NULL};
  const cJSON *v;

  if (!cJSON_IsObject(o))
    return cfg_err(msg, cap, idx, NULL, "each destination must be an object with at least "
                   "\"name\" and \"url\"");
  v = cJSON_GetObjectItemCaseSensitive(o, "name");
  if (!cJSON_IsString(v) || !valid_name(v->valuestring))
    return cfg_err(msg, cap, idx, NULL, "\"name\" is required: 1 to %d letters, digits, '-', "
                   "'_' or '.'", ESD_WEBHOOK_NAME_MAX);
  snprintf(d->name, sizeof(d->name), "%s", v->valuestring);
  cJSON_ArrayForEach(v, o) {
    int ok = 0;
    for (int i = 0; known[i]; i++)
      ok |= strcmp(v->string, known[i]) == 0;
    if (!ok)
      return cfg_err(msg, cap, idx, d->name, "unknown key \"%.64s\" (see docs/webhooks.md)",
                     v->string);
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "url");
  if (!cJSON_IsString(v) || !valid_url(v->valuestring))
    return cfg_err(msg, cap, idx, d->name, "\"url\" is required: an http:// or https:// URL "
                   "with a host, no spaces, at most %d bytes", ESD_WEBHOOK_URL_MAX);
  if ((d->url = strdup(v->valuestring)) == NULL)
    return cfg_err(msg, cap, idx, d->name, "out of memory");
  d->format = WH_JSON;
  if ((v = cJSON_GetObjectItemCaseSensitive(o, "format")) != NULL) {
    if (cJSON_IsString(v) && strcmp(v->valuestring, "json") == 0)
      d->format = WH_JSON;
    else if (cJSON_IsString(v) && strcmp(v->valuestring, "text") == 0)
      d->format = WH_TEXT;
    else
      return cfg_err(msg, cap, idx, d->name, "\"format\" must be \"json\" (the feed record) or "
                     "\"text\" (a chat message {\"text\": ...})");
  }
  if (parse_filter(o, d, idx, msg, cap) != 0)
    return -1;
  if ((v = cJSON_GetObjectItemCaseSensitive(o, "headers")) != NULL &&
      parse_headers(v, d, idx, msg, cap) != 0)
    return -1;
  if (whole(o, "timeout_ms", 100, 600000, 5000, &d->timeout_ms) != 0)
    return cfg_err(msg, cap, idx, d->name, "\"timeout_ms\" must be a whole number of "
                   "milliseconds from 100 to 600000");
  if (whole(o, "rate_per_minute", 0, 100000, 30, &d->rate_per_minute) != 0)
    return cfg_err(msg, cap, idx, d->name, "\"rate_per_minute\" must be a whole number from 0 "
                   "(no limit) to 100000");
  if (whole(o, "burst", 1, 10000, 10, &d->burst) != 0)
    return cfg_err(msg, cap, idx, d->name, "\"burst\" must be a whole number from 1 to 10000");
  if (whole(o, "max_attempts", 1, 1000, 10, &d->max_attempts) != 0)
    return cfg_err(msg, cap, idx, d->name, "\"max_attempts\" must be a whole number from 1 to "
                   "1000");
  if (whole(o, "retry_initial_ms", 10, 3600000, 1000, &d->retry_initial_ms) != 0)
    return cfg_err(msg, cap, idx, d->name, "\"retry_initial_ms\" must be a whole number of "
                   "milliseconds from 10 to 3600000");
  if (whole(o, "retry_max_ms", d->retry_initial_ms, 86400000, 300000, &d->retry_max_ms) != 0 ||
      d->retry_max_ms < d->retry_initial_ms)
    return cfg_err(msg, cap, idx, d->name, "\"retry_max_ms\" must be a whole number of "
                   "milliseconds from retry_initial_ms (%u) to 86400000", d->retry_initial_ms);
  return 0;
}

/* Parses the "webhooks" array: 0 and *out (NULL for an empty array), or
 * -1 with what to fix in msg. */
static int config_parse(const cJSON *v, struct esd_webhooks_config **out, char *msg,
                        size_t msgcap) {
  struct esd_webhooks_config *c = NULL;
  const cJSON *e;
  int n;

  *out = NULL;
  if (!cJSON_IsArray(v)) {
    snprintf(msg, msgcap, "\"webhooks\" must be an array of destinations, e.g. "
             "[{\"name\": \"slack\", \"url\": \"https://...\"}]");
    return -1;
  }
  n = cJSON_GetArraySize(v);
  if (n == 0)
    return 0;
  if (n > ESD_WEBHOOK_MAX_DESTINATIONS) {
    snprintf(msg, msgcap, "\"webhooks\" lists %d destinations; at most %d", n,
             ESD_WEBHOOK_MAX_DESTINATIONS);
    return -1;
  }
  if ((c = calloc(1, sizeof(*c))) == NULL || (c->v = calloc((size_t)n, sizeof(*c->v))) == NULL) {
    free(c);
    snprintf(msg, msgcap, "out of memory");
    return -1;
  }
  cJSON_ArrayForEach(e, v) {
    struct wh_dest_cfg *d = &c->v[c->n];
    int rc = parse_dest(e, c->n, d, msg, msgcap);
    c->n++; /* freed with the rest, complete or not */
    if (rc != 0)
      goto fail;
    for (size_t i = 0; i + 1 < c->n; i++)
      if (strcmp(c->v[i].name, d->name) == 0) {
        cfg_err(msg, msgcap, c->n - 1, d->name, "the name is already used by webhooks[%zu]; "
                "names must be unique", i);
        goto fail;
      }
  }
  *out = c;
  return 0;
fail:
  config_free(c);
  return -1;
}

/* ---- state ----------------------------------------------------------- */

struct dest;

/* One message to send: an outbox row (row_id > 0) or a summary of
 * suppressed alerts (row_id 0). */
struct delivery {
  struct delivery *next;       /* in its destination's ready or waiting list */
  struct delivery *iprev, *inext; /* in the module's in-flight list */
  struct dest *dest;
  int64_t row_id;
  int64_t alert_id;
  int64_t attempts;            /* made so far */
  uint64_t due_ms;             /* loop time of the next attempt */
  double created_at;
  char *payload;               /* owned: the stored body; NULL for a summary */
  size_t payload_len;
  /* the suppressed alerts it summarises, claimed at its first attempt */
  uint64_t sum_count;
  double sum_since;
  int64_t sum_upto;
  /* while in flight */
  CURL *easy;
  struct curl_slist *hdrs;
  char *body;
  size_t resp_len;
  char resp[WH_ERROR_BODY + 1];
  char errbuf[CURL_ERROR_SIZE];
};

struct dest {
  const struct wh_dest_cfg *cfg;
  struct esd_webhooks *wh;
  double tokens;
  uint64_t refill_ms;
  struct delivery *ready, *ready_tail; /* due, in arrival order */
  struct delivery *waiting;            /* retries not yet due */
  size_t queued;                       /* ready + waiting */
  uint64_t unloaded;                   /* pending rows in the store not read yet */
  unsigned in_flight;
  uint64_t delivered, failed, suppressed, summaries, failed_attempts;
  /* suppressed and not yet summarised by a delivered message */
  uint64_t sum_count;
  double sum_since;
  int64_t sum_upto;
  uint64_t token_since;                /* loop time a token was seen unused while
                                          alerts wait for their summary; 0: not */
  int failing;                         /* logged as failing, not yet recovered */
  /* Added by a reload once the outbox had been read: its rows the reads
   * went past (kept while it was not configured) are read apart, by id
   * up to catchup_upto, with its suppressed rows counted in the first
   * read (esd_webhooks_reconfigure()). */
  int catchup, catchup_first;
  unsigned catchup_gen;                /* which adding it was: a read for an
                                          earlier one is dropped */
  int64_t catchup_after, catchup_upto;
  uint64_t catchup_unloaded;           /* of its rows, known to wait unread */
  uint64_t catchup_rows, catchup_suppressed; /* read back so far, for the log */
};

struct wh_sock {
  uv_poll_t poll;
  struct esd_webhooks *wh;
  curl_socket_t fd;
  struct wh_sock *prev, *next;
};

struct esd_webhooks {
  uv_loop_t *loop;
  struct esd_webhooks_config *cfg; /* owned */
  struct esd_writer *writer;
  const char *db_path;
  struct dest **dests;        /* owned, each owned; in the config's order */
  size_t ndests;
  CURLM *multi;
  uv_timer_t curl_timer;      /* curl's timeout */
  uv_timer_t pump_timer;      /* the next due retry, token or store read */
  int handles_init;
  struct wh_sock *socks;
  struct delivery *inflight;
  size_t loaded;              /* deliveries of outbox rows in memory */
  size_t loaded_bytes;        /* their payloads */
  int64_t loaded_upto;        /* outbox id: rows up to here were read */
  uint64_t rows_first, rows_last; /* writer batches with outbox rows not yet read */
  int loading, load_again, more_rows, startup_loaded;
  uint64_t load_retry_at;     /* loop time to read again after a failure; 0: none */
  int started, stopped;
  unsigned catchup_gen;       /* the last one given */
  uint64_t catchup_gate;      /* writer batch to commit before a catch-up reads: the
                                 outcomes of its rows written before it left */
  int catchup_waiting;        /* that batch was not committed yet */
  uint64_t rng;
  struct es_store *ro;        /* read-only, used only by the load work */
};

static uint64_t now_ms(const struct esd_webhooks *wh) { return uv_now(wh->loop); }

static void format_time(double t, char *buf, size_t cap) {
  time_t secs = (time_t)t;
  struct tm tm;
  if (!isfinite(t) || gmtime_r(&secs, &tm) == NULL ||
      strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, cap, "%.0f", isfinite(t) ? t : 0.0);
}

static uint64_t rand64(struct esd_webhooks *wh) {
  /* xorshift64*: jitter only, nothing secret */
  wh->rng ^= wh->rng >> 12;
  wh->rng ^= wh->rng << 25;
  wh->rng ^= wh->rng >> 27;
  return wh->rng * 0x2545F4914F6CDD1DULL;
}

static struct dest *find_dest(struct esd_webhooks *wh, const char *name) {
  for (size_t i = 0; i < wh->ndests; i++)
    if (strcmp(wh->dests[i]->cfg->name, name) == 0)
      return wh->dests[i];
  return NULL;
}

/* A delivery of an outbox row leaves memory (delivered, failed). */
static void release(struct esd_webhooks *wh, const struct delivery *dv) {
  wh->loaded--;
  wh->loaded_bytes -= dv->payload_len;
}

static void delivery_free(struct delivery *dv) {
  if (dv == NULL)
    return;
  free(dv->payload);
  free(dv->body);
  curl_slist_free_all(dv->hdrs);
  free(dv);
}

/* ---- payloads (on the alert's path: bounded work, no I/O) ---------------- */

/* The supervisor feed's record (lib/feed.h), without its newline. */
static char *json_payload(const struct esd_shown *sh) {
  if (sh->json_len == 0 || sh->json_len - 1 > ESD_WEBHOOK_MAX_PAYLOAD)
    return NULL;
  return strndup(sh->json, sh->json_len - 1);
}

/* The "summary" of a (masked) reason object, malloc'd, or NULL. */
static char *reason_summary(const char *reason) {
  cJSON *r = reason ? cJSON_Parse(reason) : NULL;
  const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "summary");
  char *out = cJSON_IsString(s) ? strdup(s->valuestring) : NULL;
  cJSON_Delete(r);
  return out;
}

/* {"text": "..."} for chat apps (Slack, Mattermost, Teams' incoming
 * webhooks read "text"). */
static char *text_payload(const struct es_call *call, const struct es_alert_rec *rec,
                          const struct esd_shown *shown) {
  const struct es_alert_masked *m = &shown->m;
  struct es_strbuf b = {.max = ESD_WEBHOOK_MAX_PAYLOAD};
  char sev[16], *summary = NULL, *out = NULL;
  const char *name = es_severity_name(rec->severity);
  size_t i;
  cJSON *o = NULL;

  for (i = 0; name && name[i] && i + 1 < sizeof(sev); i++)
    sev[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
  sev[i] = '\0';
  es_strbuf_printf(&b, "[%s] %s on call ", sev, rec->category ? rec->category : rec->rule_id);
  es_strbuf_str(&b, rec->call_id);
  if (call->agent || call->queue) {
    es_strbuf_str(&b, " (");
    if (call->agent) {
      es_strbuf_str(&b, "agent ");
      es_strbuf_str(&b, call->agent);
    }
    if (call->queue) {
      es_strbuf_str(&b, call->agent ? ", queue " : "queue ");
      es_strbuf_str(&b, call->queue);
    }
    es_strbuf_str(&b, ")");
  }
  if (m->matched && m->matched_len) {
    es_strbuf_str(&b, "\nWords: \"");
    es_strbuf_add(&b, m->matched,
                  es_utf8_cut(m->matched, m->matched_len, ESD_WEBHOOK_TEXT_WORDS_MAX));
    es_strbuf_str(&b, m->matched_len > ESD_WEBHOOK_TEXT_WORDS_MAX ? "...\"" : "\"");
  }
  if (rec->tip) {
    es_strbuf_str(&b, "\nTip: ");
    es_strbuf_str(&b, rec->tip);
  }
  if ((summary = reason_summary(m->reason)) != NULL) {
    es_strbuf_str(&b, "\nWhy: ");
    es_strbuf_add(&b, summary, es_utf8_cut(summary, strlen(summary), 2 * ESD_WEBHOOK_TEXT_WORDS_MAX));
  }
  es_strbuf_printf(&b, "\nAlert %" PRId64 ", rule ", rec->id);
  es_strbuf_str(&b, rec->rule_id);
  if (!b.failed && b.p && (o = cJSON_CreateObject()) != NULL &&
      cJSON_AddStringToObject(o, "text", b.p) != NULL)
    out = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  free(summary);
  es_strbuf_free(&b);
  if (out && strlen(out) > ESD_WEBHOOK_MAX_PAYLOAD) {
    cJSON_free(out);
    out = NULL;
  }
  return out;
}

void esd_webhooks_alert(struct esd_webhooks *wh, const struct es_call *call,
                        const struct es_alert_rec *rec, uint64_t batch,
                        const struct esd_shown *shown) {
  int want[ESD_WEBHOOK_MAX_DESTINATIONS], need_json = 0, need_text = 0, any = 0;
  char *json = NULL, *text = NULL;

  if (wh == NULL || wh->writer == NULL || batch == 0)
    return;
  for (size_t i = 0; i < wh->ndests; i++) {
    const struct wh_dest_cfg *c = wh->dests[i]->cfg;
    want[i] = es_feed_filter_match(&c->filter, rec->severity, rec->category, call->queue,
                                   call->agent);
    any |= want[i];
    need_json |= want[i] && c->format == WH_JSON;
    need_text |= want[i] && c->format == WH_TEXT;
  }
  if (!any)
    return;
  if (shown) {
    if (need_json)
      json = json_payload(shown);
    if (need_text)
      text = text_payload(call, rec, shown);
  }
  for (size_t i = 0; i < wh->ndests; i++) {
    const struct wh_dest_cfg *c = wh->dests[i]->cfg;
    const char *payload = c->format == WH_JSON ? json : text;
    if (!want[i])
      continue;
    if (payload == NULL) {
      esd_warn("webhook", "%s: alert %" PRId64 ": no payload (out of memory or over %u bytes); "
               "not sent", c->name, rec->id, ESD_WEBHOOK_MAX_PAYLOAD);
      continue;
    }
    struct es_outbox_rec row = {.destination = c->name, .alert_id = rec->id,
                                .payload = payload, .created_at = rec->ts};
    uint64_t b = esd_writer_add_outbox(wh->writer, &row);
    if (b == 0) {
      esd_warn("webhook", "%s: alert %" PRId64 ": out of memory queueing the delivery; not sent",
               c->name, rec->id);
      continue;
    }
    if (b != batch)
      esd_error("webhook", "%s: alert %" PRId64 ": delivery queued in batch %" PRIu64 ", its "
                "alert in %" PRIu64, c->name, rec->id, b, batch);
    if (wh->rows_first == 0)
      wh->rows_first = b;
    wh->rows_last = b;
  }
  free(json);
  cJSON_free(text);
}

/* ---- rate limit and summaries ------------------------------------------ */

static void refill(struct dest *ds, uint64_t now) {
  const struct wh_dest_cfg *c = ds->cfg;
  if (c->rate_per_minute == 0)
    return;
  if (now > ds->refill_ms) {
    ds->tokens += (double)(now - ds->refill_ms) * c->rate_per_minute / 60000.0;
    if (ds->tokens > c->burst)
      ds->tokens = c->burst;
  }
  ds->refill_ms = now;
}

/* Loop ms until the bucket holds a token. */
static uint64_t until_token(const struct dest *ds) {
  if (ds->cfg->rate_per_minute == 0 || ds->tokens >= 1)
    return 0;
  return (uint64_t)ceil((1 - ds->tokens) * 60000.0 / ds->cfg->rate_per_minute);
}

/* Loop ms until suppressed alerts with no message to carry them get a
 * summary of their own: once a token has stayed unused for one token
 * interval (no alert came to take it and carry the summary), at once
 * without a rate limit. While alerts keep coming they take the tokens,
 * so a flood shows real alerts, each with the count of those skipped
 * before it, rather than summaries alone. */
static uint64_t until_summary(struct dest *ds, uint64_t now) {
  uint64_t wait = until_token(ds), interval;
  if (ds->cfg->rate_per_minute == 0)
    return 0;
  if (wait > 0) {
    ds->token_since = 0;
    return wait;
  }
  if (ds->token_since == 0)
    ds->token_since = now;
  interval = (uint64_t)ceil(60000.0 / ds->cfg->rate_per_minute);
  return now - ds->token_since >= interval ? 0 : ds->token_since + interval - now;
}

static void add_summary(struct dest *ds, uint64_t count, double since, int64_t upto) {
  if (count == 0)
    return;
  if (ds->sum_count == 0 || since < ds->sum_since)
    ds->sum_since = since;
  if (upto > ds->sum_upto)
    ds->sum_upto = upto;
  ds->sum_count += count;
}

/* "12 more alerts suppressed by the rate limit since 2026-...Z" */
static void summary_line(const struct delivery *dv, char *buf, size_t cap) {
  char when[32];
  format_time(dv->sum_since, when, sizeof(when));
  snprintf(buf, cap, "%" PRIu64 " more alert%s suppressed by the rate limit since %s",
           dv->sum_count, dv->sum_count == 1 ? "" : "s", when);
}

/* The request body: the stored payload, plus the summary it carries. */
static char *build_body(const struct delivery *dv) {
  const char *name = dv->dest->cfg->name;
  char line[160];
  cJSON *o = NULL, *s = NULL;
  char *out = NULL;

  if (dv->sum_count == 0)
    return dv->payload ? strdup(dv->payload) : NULL;
  summary_line(dv, line, sizeof(line));
  if (dv->payload == NULL) {
    o = cJSON_CreateObject();
    if (o == NULL)
      return NULL;
    if (dv->dest->cfg->format == WH_TEXT) {
      cJSON_AddStringToObject(o, "text", line);
    } else {
      cJSON_AddStringToObject(o, "type", "feed_suppressed");
      cJSON_AddStringToObject(o, "destination", name);
    }
  } else if ((o = cJSON_Parse(dv->payload)) == NULL) {
    return NULL;
  }
  /* Decided by the payload, not today's format: it may have been stored
   * by a run with another configuration. */
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
  if (dv->payload && cJSON_IsString(t) && !cJSON_IsString(type)) {
    size_t n = strlen(t->valuestring) + strlen(line) + 4;
    char *joined = malloc(n);
    if (joined) {
      snprintf(joined, n, "%s\n(%s)", t->valuestring, line);
      cJSON_ReplaceItemInObjectCaseSensitive(o, "text", cJSON_CreateString(joined));
      free(joined);
    }
  } else if (cJSON_IsString(type)) {
    if ((s = cJSON_CreateObject()) != NULL) {
      cJSON_AddNumberToObject(s, "count", (double)dv->sum_count);
      cJSON_AddNumberToObject(s, "since", round(dv->sum_since * 1000) / 1000);
      cJSON_AddStringToObject(s, "summary", line);
      cJSON_AddItemToObject(o, "suppressed", s);
    }
  }
  out = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return out;
}

/* ---- curl on the libuv loop ---------------------------------------------- */

static void check_done(struct esd_webhooks *wh);
static void pump(struct esd_webhooks *wh);

static void on_sock_closed(uv_handle_t *h) { free(h->data); }

static void sock_close(struct wh_sock *k) {
  struct esd_webhooks *wh = k->wh;
  if (k->prev)
    k->prev->next = k->next;
  else
    wh->socks = k->next;
  if (k->next)
    k->next->prev = k->prev;
  uv_close((uv_handle_t *)&k->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  struct wh_sock *k = p->data;
  struct esd_webhooks *wh = k->wh;
  int flags = 0, running;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  /* k may be closed by the call (CURL_POLL_REMOVE); it is freed later. */
  curl_multi_socket_action(wh->multi, k->fd, flags, &running);
  check_done(wh);
}

static int curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *ud, void *sockp) {
  struct esd_webhooks *wh = ud;
  struct wh_sock *k = sockp;
  int events = 0;
  (void)easy;

  if (what == CURL_POLL_REMOVE) {
    /* curl forgets the socket itself; it has not closed it yet. */
    if (k)
      sock_close(k);
    return 0;
  }
  if (k == NULL) {
    if ((k = calloc(1, sizeof(*k))) == NULL)
      return -1;
    if (uv_poll_init_socket(wh->loop, &k->poll, s) != 0) {
      free(k);
      return -1;
    }
    k->poll.data = k;
    k->wh = wh;
    k->fd = s;
    k->next = wh->socks;
    if (wh->socks)
      wh->socks->prev = k;
    wh->socks = k;
    curl_multi_assign(wh->multi, s, k);
  }
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  uv_poll_start(&k->poll, events, on_poll);
  return 0;
}

static void on_curl_timeout(uv_timer_t *t) {
  struct esd_webhooks *wh = t->data;
  int running;
  curl_multi_socket_action(wh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(wh);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *ud) {
  struct esd_webhooks *wh = ud;
  (void)multi;
  if (wh->stopped)
    return 0;
  /* Never call back into curl from here: the timer runs it from the loop,
   * even for 0 ms. */
  if (timeout_ms < 0)
    uv_timer_stop(&wh->curl_timer);
  else
    uv_timer_start(&wh->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  struct delivery *dv = ud;
  size_t n = size * nmemb;
  if (dv->resp_len + n > WH_RESPONSE_MAX)
    return 0; /* not a webhook answer: give up (a transport error, retried) */
  for (size_t i = 0; i < n && dv->resp_len + i < WH_ERROR_BODY; i++) {
    unsigned char c = (unsigned char)data[i];
    dv->resp[dv->resp_len + i] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
  }
  dv->resp_len += n;
  dv->resp[dv->resp_len < WH_ERROR_BODY ? dv->resp_len : WH_ERROR_BODY] = '\0';
  return n;
}

/* ---- deliveries --------------------------------------------------------- */

static void inflight_add(struct esd_webhooks *wh, struct delivery *dv) {
  dv->iprev = NULL;
  dv->inext = wh->inflight;
  if (wh->inflight)
    wh->inflight->iprev = dv;
  wh->inflight = dv;
  dv->dest->in_flight++;
}

static void inflight_remove(struct esd_webhooks *wh, struct delivery *dv) {
  if (dv->iprev)
    dv->iprev->inext = dv->inext;
  else
    wh->inflight = dv->inext;
  if (dv->inext)
    dv->inext->iprev = dv->iprev;
  dv->iprev = dv->inext = NULL;
  dv->dest->in_flight--;
}

static void request_cleanup(struct esd_webhooks *wh, struct delivery *dv) {
  if (dv->easy) {
    curl_multi_remove_handle(wh->multi, dv->easy);
    curl_easy_cleanup(dv->easy);
    dv->easy = NULL;
  }
  curl_slist_free_all(dv->hdrs);
  dv->hdrs = NULL;
  free(dv->body);
  dv->body = NULL;
}

static void queue_ready(struct dest *ds, struct delivery *dv) {
  dv->next = NULL;
  if (ds->ready_tail)
    ds->ready_tail->next = dv;
  else
    ds->ready = dv;
  ds->ready_tail = dv;
  ds->queued++;
}

static void queue_waiting(struct dest *ds, struct delivery *dv) {
  dv->next = ds->waiting;
  ds->waiting = dv;
  ds->queued++;
}

static void write_update(struct esd_webhooks *wh, const struct es_outbox_update *u) {
  if (esd_writer_update_outbox(wh->writer, u) == 0)
    esd_warn("webhook", "%s: out of memory recording a delivery outcome (row %" PRId64 "); "
             "it is redone after a restart", u->destination ? u->destination : "?", u->id);
}

/* Gives back a summary that a message could not deliver. */
static void unclaim(struct delivery *dv) {
  add_summary(dv->dest, dv->sum_count, dv->sum_since, dv->sum_upto);
  dv->sum_count = 0;
}

/* Starts one request; returns 0, or -1 (out of memory: dv untouched). */
static int start_request(struct esd_webhooks *wh, struct dest *ds, struct delivery *dv) {
  const struct wh_dest_cfg *c = ds->cfg;
  char key[ESD_WEBHOOK_NAME_MAX + 64];
  struct curl_slist *h = NULL, *t;

  /* The first message after suppressed alerts carries their summary. */
  if (dv->attempts == 0 && dv->row_id > 0 && dv->sum_count == 0 && ds->sum_count > 0 &&
      dv->row_id > ds->sum_upto) {
    dv->sum_count = ds->sum_count;
    dv->sum_since = ds->sum_since;
    dv->sum_upto = ds->sum_upto;
    ds->sum_count = 0;
  }
  if (dv->row_id > 0)
    snprintf(key, sizeof(key), "Idempotency-Key: %" PRId64 "-%s", dv->alert_id, c->name);
  else
    snprintf(key, sizeof(key), "Idempotency-Key: summary-%" PRId64 "-%s", dv->sum_upto, c->name);
  dv->body = build_body(dv);
  if (dv->body == NULL)
    goto fail;
  for (size_t i = 0; i < c->nheaders; i++) {
    if ((t = curl_slist_append(h, c->headers[i])) == NULL)
      goto fail;
    h = t;
  }
  if ((t = curl_slist_append(h, "Content-Type: application/json")) == NULL)
    goto fail;
  h = t;
  if ((t = curl_slist_append(h, key)) == NULL)
    goto fail;
  h = t;
  /* No "Expect: 100-continue" round trip for bodies over 1 KiB. */
  if ((t = curl_slist_append(h, "Expect:")) == NULL)
    goto fail;
  h = t;
  dv->hdrs = h;
  h = NULL;
  if ((dv->easy = curl_easy_init()) == NULL)
    goto fail;
  dv->resp_len = 0;
  dv->resp[0] = '\0';
  dv->errbuf[0] = '\0';
  curl_easy_setopt(dv->easy, CURLOPT_URL, c->url);
  curl_easy_setopt(dv->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(dv->easy, CURLOPT_POSTFIELDS, dv->body);
  curl_easy_setopt(dv->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(dv->body));
  curl_easy_setopt(dv->easy, CURLOPT_HTTPHEADER, dv->hdrs);
  curl_easy_setopt(dv->easy, CURLOPT_USERAGENT, "earshotd/" ES_VERSION);
  curl_easy_setopt(dv->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
  curl_easy_setopt(dv->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
  curl_easy_setopt(dv->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(dv->easy, CURLOPT_PRIVATE, dv);
  curl_easy_setopt(dv->easy, CURLOPT_ERRORBUFFER, dv->errbuf);
  curl_easy_setopt(dv->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(dv->easy, CURLOPT_WRITEDATA, dv);
  if (curl_multi_add_handle(wh->multi, dv->easy) != CURLM_OK)
    goto fail;
  inflight_add(wh, dv);
  return 0;
fail:
  curl_slist_free_all(h);
  request_cleanup(wh, dv); /* removing a handle the multi never took is a no-op */
  return -1;
}

/* Milliseconds before attempt `attempts` + 1: min(initial * 2^(attempts-1),
 * max), then a uniformly random point in its upper half (jitter). */
static uint64_t backoff_ms(struct esd_webhooks *wh, const struct wh_dest_cfg *c,
                           int64_t attempts) {
  uint64_t d = c->retry_initial_ms;
  for (int64_t i = 1; i < attempts && d < c->retry_max_ms; i++)
    d *= 2;
  if (d > c->retry_max_ms)
    d = c->retry_max_ms;
  return d - d / 2 + rand64(wh) % (d / 2 + 1);
}

static void delivered(struct esd_webhooks *wh, struct dest *ds, struct delivery *dv) {
  const struct wh_dest_cfg *c = ds->cfg;
  struct es_outbox_update u = {
    .id = dv->row_id, .state = ES_OUTBOX_DELIVERED, .attempts = dv->attempts,
    .destination = c->name, .summarised_upto = dv->sum_count ? dv->sum_upto : 0,
  };
  if (u.id > 0 || u.summarised_upto > 0)
    write_update(wh, &u);
  if (dv->row_id > 0) {
    ds->delivered++;
    release(wh, dv);
    esd_debug("webhook", "%s: alert %" PRId64 " delivered (attempt %" PRId64 ")", c->name,
              dv->alert_id, dv->attempts);
  } else {
    ds->summaries++;
    esd_debug("webhook", "%s: summary of %" PRIu64 " suppressed alerts delivered", c->name,
              dv->sum_count);
  }
  if (ds->failing) {
    ds->failing = 0;
    esd_info("webhook", "%s: delivering again", c->name);
  }
  delivery_free(dv);
}

static void attempt_failed(struct esd_webhooks *wh, struct dest *ds, struct delivery *dv,
                           const char *err, int64_t retry_after_s) {
  const struct wh_dest_cfg *c = ds->cfg;
  ds->failed_attempts++;
  if (!ds->failing) {
    ds->failing = 1;
    esd_warn("webhook", "%s: delivery failing (%s); retrying with backoff", c->name, err);
  }
  if (dv->attempts >= (int64_t)c->max_attempts) {
    if (dv->row_id > 0) {
      struct es_outbox_update u = {.id = dv->row_id, .state = ES_OUTBOX_FAILED,
                                   .attempts = dv->attempts, .last_error = err,
                                   .at = esd_wall_now(), .destination = c->name};
      write_update(wh, &u);
      ds->failed++;
      release(wh, dv);
      esd_warn("webhook", "%s: alert %" PRId64 " failed after %" PRId64 " attempts (%s); kept "
               "in the outbox as failed", c->name, dv->alert_id, dv->attempts, err);
    } else {
      esd_warn("webhook", "%s: summary of %" PRIu64 " suppressed alerts failed after %" PRId64
               " attempts (%s); the next message carries it", c->name, dv->sum_count,
               dv->attempts, err);
    }
    unclaim(dv);
    delivery_free(dv);
    return;
  }
  uint64_t delay = backoff_ms(wh, c, dv->attempts);
  if (retry_after_s > 0 && (uint64_t)retry_after_s * 1000 > delay)
    delay = (uint64_t)retry_after_s * 1000 < c->retry_max_ms ? (uint64_t)retry_after_s * 1000
                                                              : c->retry_max_ms;
  dv->due_ms = now_ms(wh) + delay;
  if (dv->row_id > 0) {
    struct es_outbox_update u = {.id = dv->row_id, .state = ES_OUTBOX_PENDING,
                                 .attempts = dv->attempts,
                                 .next_attempt_at = esd_wall_now() + (double)delay / 1000.0,
                                 .last_error = err, .destination = c->name};
    write_update(wh, &u);
  }
  esd_debug("webhook", "%s: alert %" PRId64 " attempt %" PRId64 " failed: %s; next in %" PRIu64
            " ms", c->name, dv->alert_id, dv->attempts, err, delay);
  queue_waiting(ds, dv);
}

static void check_done(struct esd_webhooks *wh) {
  CURLMsg *msg;
  int left;

  while (!wh->stopped && (msg = curl_multi_info_read(wh->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result; /* msg dies with the handle */
    char *priv = NULL;
    long code = 0;
    curl_off_t retry_after = 0;
    char err[CURL_ERROR_SIZE + WH_ERROR_BODY + 32];

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &retry_after);
    struct delivery *dv = (struct delivery *)(void *)priv;
    struct dest *ds = dv->dest;
    inflight_remove(wh, dv);
    dv->attempts++;
    if (result == CURLE_OK && code >= 200 && code <= 299) {
      request_cleanup(wh, dv);
      delivered(wh, ds, dv);
      continue;
    }
    if (result != CURLE_OK)
      snprintf(err, sizeof(err), "%s", dv->errbuf[0] ? dv->errbuf : curl_easy_strerror(result));
    else
      snprintf(err, sizeof(err), "HTTP %ld%s%s", code, dv->resp[0] ? ": " : "", dv->resp);
    request_cleanup(wh, dv);
    attempt_failed(wh, ds, dv, err, (int64_t)retry_after);
  }
  if (!wh->stopped)
    pump(wh);
}

/* ---- scheduling ------------------------------------------------------------ */

static void request_load(struct esd_webhooks *wh);

static void on_pump_timer(uv_timer_t *t) { pump(t->data); }

/* Starts what is due on every destination and sets the timer for the
 * next thing that will be. */
static void pump(struct esd_webhooks *wh) {
  uint64_t now = now_ms(wh), wake = UINT64_MAX;

  if (wh->stopped)
    return;
  if (wh->load_retry_at && now >= wh->load_retry_at) {
    wh->load_retry_at = 0;
    request_load(wh);
  }
  if (wh->more_rows && !wh->loading &&
      wh->loaded + ESD_WEBHOOK_LOAD_ROWS / 10 <= ESD_WEBHOOK_MAX_LOADED &&
      wh->loaded_bytes + ESD_WEBHOOK_MAX_LOADED_BYTES / 10 <= ESD_WEBHOOK_MAX_LOADED_BYTES)
    request_load(wh);
  if (wh->load_retry_at)
    wake = wh->load_retry_at;
  for (size_t i = 0; i < wh->ndests; i++) {
    struct dest *ds = wh->dests[i];
    refill(ds, now);
    for (struct delivery **p = &ds->waiting; *p;) {
      struct delivery *dv = *p;
      if (dv->due_ms <= now) {
        *p = dv->next;
        ds->queued--;
        queue_ready(ds, dv);
      } else {
        if (dv->due_ms < wake)
          wake = dv->due_ms;
        p = &dv->next;
      }
    }
    while (ds->ready && ds->in_flight < ESD_WEBHOOK_MAX_IN_FLIGHT) {
      struct delivery *dv = ds->ready;
      if (start_request(wh, ds, dv) != 0) {
        esd_warn("webhook", "%s: out of memory starting a request; trying again in 1 s",
                 ds->cfg->name);
        if (now + 1000 < wake)
          wake = now + 1000;
        break;
      }
      ds->ready = dv->next;
      if (ds->ready == NULL)
        ds->ready_tail = NULL;
      ds->queued--;
    }
    /* Suppressed alerts and no alert to carry their count: a summary of
     * its own (until_summary() says when). */
    if (ds->sum_count == 0)
      ds->token_since = 0;
    if (ds->sum_count > 0 && ds->ready == NULL && ds->in_flight < ESD_WEBHOOK_MAX_IN_FLIGHT) {
      uint64_t wait = until_summary(ds, now);
      struct delivery *dv;
      if (wait > 0) {
        if (now + wait < wake)
          wake = now + wait;
      } else if ((dv = calloc(1, sizeof(*dv))) != NULL) {
        dv->dest = ds;
        dv->sum_count = ds->sum_count;
        dv->sum_since = ds->sum_since;
        dv->sum_upto = ds->sum_upto;
        ds->sum_count = 0;
        ds->token_since = 0;
        if (start_request(wh, ds, dv) != 0) {
          unclaim(dv);
          delivery_free(dv);
          if (now + 1000 < wake)
            wake = now + 1000;
        } else if (ds->cfg->rate_per_minute > 0) {
          ds->tokens -= 1;
        }
      }
    }
  }
  if (wake == UINT64_MAX)
    uv_timer_stop(&wh->pump_timer);
  else
    uv_timer_start(&wh->pump_timer, on_pump_timer, wake > now ? wake - now : 0, 0);
}

/* A pending row read from the store joins its destination: an alert's
 * first attempt takes a token, or is suppressed. */
static void arrive(struct esd_webhooks *wh, struct dest *ds, struct delivery *dv) {
  uint64_t now = now_ms(wh);
  if (dv->attempts == 0 && ds->cfg->rate_per_minute > 0) {
    refill(ds, now);
    if (ds->tokens < 1) {
      struct es_outbox_update u = {.id = dv->row_id, .state = ES_OUTBOX_SUPPRESSED,
                                   .at = esd_wall_now(), .destination = ds->cfg->name};
      write_update(wh, &u);
      ds->suppressed++;
      add_summary(ds, 1, dv->created_at, dv->row_id);
      esd_debug("webhook", "%s: alert %" PRId64 " suppressed by the rate limit (%u per minute, "
                "burst %u)", ds->cfg->name, dv->alert_id, ds->cfg->rate_per_minute,
                ds->cfg->burst);
      delivery_free(dv);
      return;
    }
    ds->tokens -= 1;
  }
  wh->loaded++;
  wh->loaded_bytes += dv->payload_len;
  if (dv->due_ms <= now)
    queue_ready(ds, dv);
  else
    queue_waiting(ds, dv);
}

/* ---- reading the outbox (thread pool) --------------------------------------- */

struct load_row {
  int64_t id, alert_id, attempts;
  double next_attempt_at, created_at;
  char *dest, *payload;
};

struct load_count {
  char name[ESD_WEBHOOK_NAME_MAX + 1];
  uint64_t count;
  double since;
  int64_t upto;
};

struct load {
  uv_work_t work;
  struct esd_webhooks *wh;
  int startup;
  /* A catch-up (dest not empty): that destination's rows up to `upto`,
   * and its suppressed rows when `first`; else the rows after `after`. */
  char dest[ESD_WEBHOOK_NAME_MAX + 1];
  int64_t upto;
  unsigned gen;
  int first;
  int64_t after;
  size_t limit;
  size_t byte_budget;         /* stop reading once the payloads reach this */
  size_t bytes;
  struct load_row *rows;
  size_t n;
  int64_t last_id;
  int truncated;
  struct load_count unloaded[ESD_WEBHOOK_MAX_DESTINATIONS + 1];
  size_t nunloaded;
  struct load_count suppressed[ESD_WEBHOOK_MAX_DESTINATIONS + 1];
  size_t nsuppressed;
  char err[256];
};

static void load_free(struct load *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->rows[i].dest);
    free(l->rows[i].payload);
  }
  free(l->rows);
  free(l);
}

static int load_row_cb(void *ud, int ncols, const char *const *names, const char *const *v) {
  struct load *l = ud;
  struct load_row *r = &l->rows[l->n];
  (void)ncols;
  (void)names;
  if (l->n >= l->limit || !v[0] || !v[1] || !v[3])
    return l->n >= l->limit;
  r->id = strtoll(v[0], NULL, 10);
  r->alert_id = v[2] ? strtoll(v[2], NULL, 10) : 0;
  r->attempts = v[4] ? strtoll(v[4], NULL, 10) : 0;
  r->next_attempt_at = v[5] ? strtod(v[5], NULL) : 0;
  r->created_at = v[6] ? strtod(v[6], NULL) : 0;
  r->dest = strdup(v[1]);
  r->payload = strdup(v[3]);
  if (r->dest == NULL || r->payload == NULL) {
    free(r->dest);
    free(r->payload);
    snprintf(l->err, sizeof(l->err), "out of memory");
    return 1;
  }
  if (r->id > l->last_id)
    l->last_id = r->id;
  l->n++;
  l->bytes += strlen(r->payload);
  if (l->bytes >= l->byte_budget) {
    l->truncated = 1;
    return 1;
  }
  return 0;
}

/* Rows of destinations beyond ESD_WEBHOOK_MAX_DESTINATIONS (unknown ones)
 * are left out: only configured names matter. */
static int count_cb(void *ud, int ncols, const char *const *names, const char *const *v,
                    struct load_count *out, size_t *n) {
  (void)ud;
  (void)names;
  if (*n >= ESD_WEBHOOK_MAX_DESTINATIONS + 1 || !v[0])
    return 0;
  struct load_count *c = &out[(*n)++];
  snprintf(c->name, sizeof(c->name), "%s", v[0]);
  c->count = v[1] ? strtoull(v[1], NULL, 10) : 0;
  c->since = ncols > 2 && v[2] ? strtod(v[2], NULL) : 0;
  c->upto = ncols > 3 && v[3] ? strtoll(v[3], NULL, 10) : 0;
  return 0;
}

static int unloaded_cb(void *ud, int ncols, const char *const *names, const char *const *v) {
  struct load *l = ud;
  return count_cb(ud, ncols, names, v, l->unloaded, &l->nunloaded);
}

static int suppressed_cb(void *ud, int ncols, const char *const *names, const char *const *v) {
  struct load *l = ud;
  return count_cb(ud, ncols, names, v, l->suppressed, &l->nsuppressed);
}

static void load_work(uv_work_t *req) {
  struct load *l = req->data;
  struct esd_webhooks *wh = l->wh;
  char after[32], upto[32], sql[400];
  const char *params[3] = {after, l->dest, upto};
  /* A catch-up reads one destination's rows up to where the reads were
   * when it was added; the rows after that are the ordinary reads'. */
  const char *only = l->dest[0] ? " AND destination = ?2 AND id <= ?3" : "";
  size_t nparams = l->dest[0] ? 3 : 1;

  if (wh->ro == NULL) {
    struct es_store_opts o;
    es_store_opts_init(&o);
    o.read_only = 1;
    if (es_store_open(wh->db_path, &o, &wh->ro, NULL) != 0) {
      snprintf(l->err, sizeof(l->err), "cannot open the store read-only");
      return;
    }
  }
  if ((l->rows = calloc(l->limit, sizeof(*l->rows))) == NULL) {
    snprintf(l->err, sizeof(l->err), "out of memory");
    return;
  }
  l->last_id = l->after;
  snprintf(after, sizeof(after), "%" PRId64, l->after);
  snprintf(upto, sizeof(upto), "%" PRId64, l->upto);
  snprintf(sql, sizeof(sql),
           "SELECT id, destination, alert_id, payload, attempts, next_attempt_at, created_at"
           " FROM webhook_outbox WHERE state = 'pending' AND id > ?1%s ORDER BY id LIMIT %zu",
           only, l->limit);
  if (es_store_query(wh->ro, sql, params, nparams, load_row_cb, l) != 0) {
    snprintf(l->err, sizeof(l->err), "%s", es_store_errmsg(wh->ro));
    return;
  }
  if (l->err[0])
    return;
  if (l->n >= l->limit || l->truncated) {
    l->truncated = 1;
    snprintf(after, sizeof(after), "%" PRId64, l->last_id);
    snprintf(sql, sizeof(sql),
             "SELECT destination, count(*) FROM webhook_outbox"
             " WHERE state = 'pending' AND id > ?1%s GROUP BY destination", only);
    if (es_store_query(wh->ro, sql, params, nparams, unloaded_cb, l) != 0) {
      snprintf(l->err, sizeof(l->err), "%s", es_store_errmsg(wh->ro));
      return;
    }
  }
  if (l->startup || l->first) {
    snprintf(sql, sizeof(sql),
             "SELECT destination, count(*), min(created_at), max(id) FROM webhook_outbox"
             " WHERE state = 'suppressed'%s GROUP BY destination", only);
    if (es_store_query(wh->ro, sql, params, l->dest[0] ? 3 : 0, suppressed_cb, l) != 0)
      snprintf(l->err, sizeof(l->err), "%s", es_store_errmsg(wh->ro));
  }
}

/* A catch-up read is done: its destination's rows joined it in
 * load_done(). */
static void catchup_read(struct dest *ds, const struct load *l, uint64_t suppressed) {
  ds->catchup_first = 0;
  ds->catchup_after = l->last_id;
  ds->catchup_rows += l->n;
  ds->catchup_suppressed += suppressed;
  ds->catchup_unloaded = 0;
  for (size_t i = 0; i < l->nunloaded; i++)
    ds->catchup_unloaded += l->unloaded[i].count;
  if (l->truncated)
    return;
  ds->catchup = 0;
  esd_info("webhook", "%s: %" PRIu64 " deliveries pending and %" PRIu64 " suppressed alerts to "
           "summarise from the outbox, kept while it was not configured", ds->cfg->name,
           ds->catchup_rows, ds->catchup_suppressed);
}

static void load_done(uv_work_t *req, int status) {
  struct load *l = req->data;
  struct esd_webhooks *wh = l->wh;
  uint64_t now = now_ms(wh), unknown = 0, sup = 0;
  double wall = esd_wall_now();
  const char *unknown_name = NULL;
  struct dest *cu = NULL;

  wh->loading = 0;
  if (wh->stopped) {
    load_free(l);
    return;
  }
  if (status != 0 || l->err[0]) {
    esd_error("webhook", "cannot read the outbox (%s); trying again in %d s",
              status ? uv_strerror(status) : l->err, WH_LOAD_RETRY_MS / 1000);
    wh->load_retry_at = now + WH_LOAD_RETRY_MS;
    load_free(l);
    pump(wh);
    return;
  }
  if (l->dest[0]) {
    cu = find_dest(wh, l->dest);
    if (cu == NULL || !cu->catchup || cu->catchup_gen != l->gen) {
      /* Removed (and perhaps added again) while it read: its rows stay
       * in the outbox for the catch-up of its next adding. */
      load_free(l);
      goto next;
    }
  }
  if (l->startup || l->first) {
    for (size_t i = 0; i < l->nsuppressed; i++) {
      struct dest *ds = find_dest(wh, l->suppressed[i].name);
      if (ds) {
        add_summary(ds, l->suppressed[i].count, l->suppressed[i].since, l->suppressed[i].upto);
        sup += l->suppressed[i].count;
      }
    }
  }
  if (l->startup) {
    uint64_t pending = l->n;
    for (size_t i = 0; i < l->nunloaded; i++)
      pending += l->unloaded[i].count;
    wh->startup_loaded = 1;
    if (pending || sup)
      esd_info("webhook", "%" PRIu64 " deliveries pending and %" PRIu64 " suppressed alerts to "
               "summarise from earlier runs", pending, sup);
  }
  for (size_t i = 0; i < l->n; i++) {
    struct load_row *r = &l->rows[i];
    struct dest *ds = find_dest(wh, r->dest);
    struct delivery *dv;
    if (ds == NULL) {
      unknown++;
      unknown_name = unknown_name ? unknown_name : r->dest;
      continue;
    }
    if ((dv = calloc(1, sizeof(*dv))) == NULL) {
      /* Read again at the next start; nothing is lost. */
      esd_warn("webhook", "%s: out of memory loading outbox row %" PRId64, ds->cfg->name, r->id);
      continue;
    }
    dv->dest = ds;
    dv->row_id = r->id;
    dv->alert_id = r->alert_id;
    dv->attempts = r->attempts;
    dv->created_at = r->created_at;
    dv->payload = r->payload;
    dv->payload_len = strlen(r->payload);
    r->payload = NULL;
    dv->due_ms = r->next_attempt_at > wall
                     ? now + (uint64_t)((r->next_attempt_at - wall) * 1000.0)
                     : now;
    arrive(wh, ds, dv);
  }
  if (unknown)
    esd_warn("webhook", "%" PRIu64 " pending deliveries in the outbox are for destinations no "
             "longer configured (e.g. \"%s\"); they stay there", unknown, unknown_name);
  if (cu) {
    catchup_read(cu, l, sup);
  } else {
    if (l->last_id > wh->loaded_upto)
      wh->loaded_upto = l->last_id;
    wh->more_rows = l->truncated;
    for (size_t i = 0; i < wh->ndests; i++)
      wh->dests[i]->unloaded = 0;
    for (size_t i = 0; i < l->nunloaded; i++) {
      struct dest *ds = find_dest(wh, l->unloaded[i].name);
      if (ds)
        ds->unloaded = l->unloaded[i].count;
    }
  }
  load_free(l);
next:
  if (wh->load_again) {
    wh->load_again = 0;
    request_load(wh);
  }
  pump(wh);
}

/* A destination whose catch-up may read now, or NULL. */
static struct dest *catchup_due(struct esd_webhooks *wh) {
  if (!wh->startup_loaded || esd_writer_committed(wh->writer) < wh->catchup_gate)
    return NULL;
  for (size_t i = 0; i < wh->ndests; i++)
    if (wh->dests[i]->catchup)
      return wh->dests[i];
  return NULL;
}

static void request_load(struct esd_webhooks *wh) {
  struct load *l;
  struct dest *cu;
  size_t room;

  /* Nothing to read for before a destination is configured (a reload
   * may add one: the first read is then the startup one). */
  if (wh->stopped || (wh->ndests == 0 && !wh->startup_loaded))
    return;
  if (wh->loading) {
    wh->load_again = 1;
    return;
  }
  room = wh->loaded < ESD_WEBHOOK_MAX_LOADED ? ESD_WEBHOOK_MAX_LOADED - wh->loaded : 0;
  if (wh->loaded_bytes >= ESD_WEBHOOK_MAX_LOADED_BYTES)
    room = 0;
  if (room == 0) {
    wh->more_rows = 1; /* read when deliveries make room */
    return;
  }
  if ((l = calloc(1, sizeof(*l))) == NULL) {
    wh->load_retry_at = now_ms(wh) + WH_LOAD_RETRY_MS;
    return;
  }
  l->wh = wh;
  l->work.data = l;
  if ((cu = catchup_due(wh)) != NULL) {
    snprintf(l->dest, sizeof(l->dest), "%s", cu->cfg->name);
    l->after = cu->catchup_after;
    l->upto = cu->catchup_upto;
    l->gen = cu->catchup_gen;
    l->first = cu->catchup_first;
  } else {
    l->startup = !wh->startup_loaded;
    l->after = wh->loaded_upto;
  }
  l->limit = room < ESD_WEBHOOK_LOAD_ROWS ? room : ESD_WEBHOOK_LOAD_ROWS;
  l->byte_budget = ESD_WEBHOOK_MAX_LOADED_BYTES - wh->loaded_bytes;
  if (uv_queue_work(wh->loop, &l->work, load_work, load_done) != 0) {
    free(l);
    wh->load_retry_at = now_ms(wh) + WH_LOAD_RETRY_MS;
    return;
  }
  wh->loading = 1;
  /* After a catch-up, the ordinary read this call may have been for. */
  wh->load_again = cu != NULL;
}

/* ---- lifecycle -------------------------------------------------------------- */

int esd_webhooks_config_parse(const char *json, struct esd_webhooks_config **out, char *msg,
                              size_t msgcap) {
  cJSON *v;
  int rc;

  *out = NULL;
  if (json == NULL)
    return 0;
  if ((v = cJSON_Parse(json)) == NULL) {
    snprintf(msg, msgcap, "\"webhooks\" is not valid JSON");
    return -1;
  }
  rc = config_parse(v, out, msg, msgcap);
  cJSON_Delete(v);
  return rc;
}

void esd_webhooks_config_free(struct esd_webhooks_config *c) { config_free(c); }

/* A destination's state, on its configuration. */
static struct dest *dest_new(struct esd_webhooks *wh, const struct wh_dest_cfg *c) {
  struct dest *ds = calloc(1, sizeof(*ds));
  if (ds) {
    ds->cfg = c;
    ds->wh = wh;
    ds->tokens = c->burst;
    ds->refill_ms = wh->loop ? uv_now(wh->loop) : 0;
  }
  return ds;
}

struct esd_webhooks *esd_webhooks_new(struct esd_webhooks_config *cfg) {
  struct esd_webhooks *wh = calloc(1, sizeof(*wh));
  size_t n = cfg ? cfg->n : 0;

  if (wh == NULL) {
    config_free(cfg);
    return NULL;
  }
  wh->cfg = cfg;
  if ((wh->dests = calloc(n ? n : 1, sizeof(*wh->dests))) == NULL)
    goto fail;
  for (; wh->ndests < n; wh->ndests++)
    if ((wh->dests[wh->ndests] = dest_new(wh, &cfg->v[wh->ndests])) == NULL)
      goto fail;
  return wh;
fail:
  esd_webhooks_free(wh);
  return NULL;
}

/* "console: http://10.0.0.7:9000/... (json; 30 per minute, burst 10; 10
 * attempts)": scheme and host only, as chat apps put the secret in the
 * path. */
static void log_dest(const struct wh_dest_cfg *c) {
  const char *host = strstr(c->url, "://") + 3;
  int shown = (int)(host - c->url) + (int)strcspn(host, "/?#");
  esd_info("webhook", "%s: %.*s/... (%s; %u per minute, burst %u; %u attempts)", c->name, shown,
           c->url, c->format == WH_TEXT ? "text" : "json", c->rate_per_minute, c->burst,
           c->max_attempts);
}

int esd_webhooks_start(struct esd_webhooks *wh, uv_loop_t *loop, struct esd_writer *writer,
                       const char *db_path) {
  if (wh == NULL)
    return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    esd_error("webhook", "cannot initialise libcurl");
    return -1;
  }
  wh->started = 1; /* from here on, esd_webhooks_free() cleans libcurl up */
  if ((wh->multi = curl_multi_init()) == NULL) {
    esd_error("webhook", "out of memory");
    return -1;
  }
  wh->loop = loop;
  wh->writer = writer;
  wh->db_path = db_path;
  wh->rng = uv_hrtime() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
  for (size_t i = 0; i < wh->ndests; i++)
    wh->dests[i]->refill_ms = uv_now(loop);
  curl_multi_setopt(wh->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
  curl_multi_setopt(wh->multi, CURLMOPT_SOCKETDATA, wh);
  curl_multi_setopt(wh->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
  curl_multi_setopt(wh->multi, CURLMOPT_TIMERDATA, wh);
  uv_timer_init(loop, &wh->curl_timer);
  wh->curl_timer.data = wh;
  uv_timer_init(loop, &wh->pump_timer);
  wh->pump_timer.data = wh;
  wh->handles_init = 1;
  for (size_t i = 0; i < wh->ndests; i++)
    log_dest(wh->dests[i]->cfg);
  request_load(wh);
  return 0;
}

void esd_webhooks_on_commit(struct esd_webhooks *wh, uint64_t batch) {
  if (wh == NULL || !wh->started || wh->stopped)
    return;
  if (wh->catchup_waiting && batch >= wh->catchup_gate) {
    wh->catchup_waiting = 0;
    request_load(wh);
  }
  if (wh->rows_first == 0 || batch < wh->rows_first)
    return;
  if (wh->rows_last > batch) {
    wh->rows_first = batch + 1;
  } else {
    wh->rows_first = 0;
    wh->rows_last = 0;
  }
  request_load(wh);
}

static void free_list(struct delivery *dv) {
  while (dv) {
    struct delivery *next = dv->next;
    delivery_free(dv);
    dv = next;
  }
}

static void close_timers(struct esd_webhooks *wh) {
  if (!wh->handles_init)
    return;
  uv_close((uv_handle_t *)&wh->curl_timer, NULL);
  uv_close((uv_handle_t *)&wh->pump_timer, NULL);
  wh->handles_init = 0;
}

/* Abandons every request in flight (its outbox row stays pending);
 * returns how many there were. */
static uint64_t drop_in_flight(struct esd_webhooks *wh) {
  uint64_t n = 0;
  while (wh->inflight) {
    struct delivery *dv = wh->inflight;
    inflight_remove(wh, dv);
    request_cleanup(wh, dv);
    delivery_free(dv);
    n++;
  }
  return n;
}

/* ---- reloads --------------------------------------------------------------- */

static void add_word(char *buf, size_t cap, const char *sep, const char *word) {
  size_t n = strlen(buf);
  if (n + 1 < cap)
    snprintf(buf + n, cap - n, "%s%s", n ? sep : "", word);
}

/* "added a, b" after "N destinations (", or "; added a, b" after another
 * part; nothing when names is empty. */
static void add_part(char *buf, size_t cap, const char *label, const char *names) {
  size_t n = strlen(buf);
  if (names[0] && n > 0 && n + 1 < cap)
    snprintf(buf + n, cap - n, "%s%s %s", buf[n - 1] == '(' ? "" : "; ", label, names);
}

static int names_differ(const char (*a)[ES_FEED_NAME_MAX], size_t na,
                        const char (*b)[ES_FEED_NAME_MAX], size_t nb) {
  if (na != nb)
    return 1;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i], b[i]) != 0)
      return 1;
  return 0;
}

static int headers_differ(const struct wh_dest_cfg *a, const struct wh_dest_cfg *b) {
  if (a->nheaders != b->nheaders)
    return 1;
  for (size_t i = 0; i < a->nheaders; i++)
    if (strcmp(a->headers[i], b->headers[i]) != 0)
      return 1;
  return 0;
}

/* Where requests go and what they carry: a change makes the requests in
 * flight and the retries waiting go again at once. */
static int endpoint_differs(const struct wh_dest_cfg *a, const struct wh_dest_cfg *b) {
  return strcmp(a->url, b->url) != 0 || headers_differ(a, b);
}

/* The keys of a destination whose values differ, as the config file
 * names them ("url, headers"), into buf; empty when none. Never the
 * values: URLs and headers hold secrets. */
static void dest_changes(const struct wh_dest_cfg *a, const struct wh_dest_cfg *b, char *buf,
                         size_t cap) {
  static const struct {
    const char *key;
    size_t off;
  } numbers[] = {
    {"timeout_ms", offsetof(struct wh_dest_cfg, timeout_ms)},
    {"rate_per_minute", offsetof(struct wh_dest_cfg, rate_per_minute)},
    {"burst", offsetof(struct wh_dest_cfg, burst)},
    {"max_attempts", offsetof(struct wh_dest_cfg, max_attempts)},
    {"retry_initial_ms", offsetof(struct wh_dest_cfg, retry_initial_ms)},
    {"retry_max_ms", offsetof(struct wh_dest_cfg, retry_max_ms)},
  };
  const struct es_feed_filter *fa = &a->filter, *fb = &b->filter;

  buf[0] = '\0';
  if (strcmp(a->url, b->url) != 0)
    add_word(buf, cap, ", ", "url");
  if (headers_differ(a, b))
    add_word(buf, cap, ", ", "headers");
  if (a->format != b->format)
    add_word(buf, cap, ", ", "format");
  if (fa->min_severity != fb->min_severity)
    add_word(buf, cap, ", ", "min_severity");
  if (names_differ(fa->categories, fa->ncategories, fb->categories, fb->ncategories))
    add_word(buf, cap, ", ", "categories");
  if (names_differ(fa->queues, fa->nqueues, fb->queues, fb->nqueues))
    add_word(buf, cap, ", ", "queues");
  if (names_differ(fa->agents, fa->nagents, fb->agents, fb->nagents))
    add_word(buf, cap, ", ", "agents");
  for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
    if (*(const unsigned *)((const char *)a + numbers[i].off) !=
        *(const unsigned *)((const char *)b + numbers[i].off))
      add_word(buf, cap, ", ", numbers[i].key);
}

/* Takes a destination's requests out of flight. With `again`, an outbox
 * row goes back to the head of its ready list, its attempt not counted,
 * to be sent again at once with the settings the destination has now,
 * and a summary of its own gives its count back (a new one is made);
 * otherwise they leave memory and their rows stay pending in the outbox.
 * Returns how many there were. */
static unsigned abandon_in_flight(struct esd_webhooks *wh, struct dest *ds, int again) {
  unsigned n = 0;
  for (struct delivery *dv = wh->inflight, *next; dv; dv = next) {
    next = dv->inext;
    if (dv->dest != ds)
      continue;
    inflight_remove(wh, dv);
    request_cleanup(wh, dv);
    n++;
    if (again && dv->row_id > 0) {
      dv->next = ds->ready;
      ds->ready = dv;
      if (ds->ready_tail == NULL)
        ds->ready_tail = dv;
      ds->queued++;
      continue;
    }
    if (again)
      unclaim(dv);
    if (dv->row_id > 0)
      release(wh, dv);
    delivery_free(dv);
  }
  return n;
}

/* A destination a reload removed: what it held in memory goes; its rows
 * stay in the outbox, where a destination of the same name finds them
 * (its catch-up). Logs what stays. */
static void forget_dest(struct esd_webhooks *wh, struct dest *ds) {
  uint64_t rows = ds->unloaded + ds->catchup_unloaded, owed = ds->sum_count;
  struct delivery *lists[2] = {ds->ready, ds->waiting};
  unsigned in_flight;

  for (struct delivery *dv = wh->inflight; dv; dv = dv->inext)
    if (dv->dest == ds) {
      rows += dv->row_id > 0;
      owed += dv->sum_count;
    }
  in_flight = abandon_in_flight(wh, ds, 0);
  for (int i = 0; i < 2; i++)
    for (struct delivery *dv = lists[i], *next; dv; dv = next) {
      next = dv->next;
      rows += dv->row_id > 0;
      owed += dv->sum_count;
      if (dv->row_id > 0)
        release(wh, dv);
      delivery_free(dv);
    }
  ds->ready = ds->ready_tail = ds->waiting = NULL;
  ds->queued = 0;
  if (rows || owed)
    esd_warn("webhook", "%s: removed from the configuration; its %" PRIu64 " pending deliveries "
             "(%u of them in flight, abandoned) and %" PRIu64 " suppressed alerts awaiting a "
             "summary stay in the outbox, and are sent if a destination named \"%s\" is "
             "configured again", ds->cfg->name, rows, in_flight, owed, ds->cfg->name);
}

/* A destination a reload changed: its new settings, and when its URL or
 * headers changed, what was under way for the old ones goes again now. */
static void change_dest(struct esd_webhooks *wh, struct dest *ds, const struct wh_dest_cfg *c) {
  int endpoint = endpoint_differs(ds->cfg, c);
  unsigned again, due = 0;

  ds->cfg = c;
  if (ds->tokens > c->burst)
    ds->tokens = c->burst;
  if (!endpoint)
    return;
  again = abandon_in_flight(wh, ds, 1);
  for (struct delivery *dv = ds->waiting; dv; dv = dv->next, due++)
    dv->due_ms = now_ms(wh);
  if (again || due)
    esd_info("webhook", "%s: new url or headers: %u requests in flight abandoned and %u retries "
             "brought forward, sent again now", c->name, again, due);
}

static int configured(const struct esd_webhooks_config *cfg, const char *name) {
  for (size_t i = 0; cfg && i < cfg->n; i++)
    if (strcmp(cfg->v[i].name, name) == 0)
      return 1;
  return 0;
}

int esd_webhooks_reconfigure(struct esd_webhooks *wh, struct esd_webhooks_config *cfg,
                             char *changes, size_t cap) {
  size_t n = cfg ? cfg->n : 0, nadded = 0;
  struct dest **dests = calloc(n ? n : 1, sizeof(*dests));
  char added[1024] = "", changed[2048] = "", removed[1024] = "", what[256], one[400];

  if (dests == NULL)
    goto oom;
  /* What can fail first, so that a failure changes nothing. */
  for (size_t i = 0; i < n; i++)
    if (find_dest(wh, cfg->v[i].name) == NULL && (dests[i] = dest_new(wh, &cfg->v[i])) == NULL)
      goto oom;
  for (size_t i = 0; i < n; i++) {
    const struct wh_dest_cfg *c = &cfg->v[i];
    struct dest *ds = dests[i];
    if (ds) {
      add_word(added, sizeof(added), ", ", c->name);
      log_dest(c);
      /* The reads went past its rows while it was not configured. */
      if (wh->startup_loaded) {
        ds->catchup = ds->catchup_first = 1;
        ds->catchup_gen = ++wh->catchup_gen;
        ds->catchup_upto = wh->loaded_upto;
        nadded++;
      }
      continue;
    }
    ds = dests[i] = find_dest(wh, c->name);
    dest_changes(ds->cfg, c, what, sizeof(what));
    change_dest(wh, ds, c);
    if (what[0]) {
      snprintf(one, sizeof(one), "%s (%s)", c->name, what);
      add_word(changed, sizeof(changed), ", ", one);
      log_dest(c);
    }
  }
  for (size_t i = 0; i < wh->ndests; i++) {
    struct dest *ds = wh->dests[i];
    if (configured(cfg, ds->cfg->name))
      continue;
    add_word(removed, sizeof(removed), ", ", ds->cfg->name);
    forget_dest(wh, ds);
    free(ds);
  }
  free(wh->dests);
  config_free(wh->cfg);
  wh->cfg = cfg;
  wh->dests = dests;
  wh->ndests = n;
  if (nadded) {
    /* Outcomes of its rows written before it was removed must be in the
     * store before its catch-up reads them. */
    wh->catchup_gate = esd_writer_last_id(wh->writer);
    wh->catchup_waiting = esd_writer_committed(wh->writer) < wh->catchup_gate;
  }
  snprintf(changes, cap, "%zu destination%s (", n, n == 1 ? "" : "s");
  add_part(changes, cap, "added", added);
  add_part(changes, cap, "changed", changed);
  add_part(changes, cap, "removed", removed);
  add_word(changes, cap, "", added[0] || changed[0] || removed[0] ? ")" : "unchanged)");
  /* The first read when these are the first destinations, or a catch-up. */
  request_load(wh);
  pump(wh);
  return 0;
oom:
  for (size_t i = 0; dests && i < n; i++)
    free(dests[i]);
  free(dests);
  config_free(cfg);
  snprintf(changes, cap, "out of memory");
  return -1;
}

void esd_webhooks_stop(struct esd_webhooks *wh) {
  uint64_t pending = 0, in_flight;

  if (wh == NULL || wh->stopped)
    return;
  wh->stopped = 1;
  if (wh->multi == NULL) {
    close_timers(wh); /* never started (or failed to) */
    return;
  }
  in_flight = drop_in_flight(wh);
  /* Closes curl's connections: their sockets leave through
   * CURL_POLL_REMOVE; any left are closed below. */
  curl_multi_cleanup(wh->multi);
  wh->multi = NULL;
  while (wh->socks)
    sock_close(wh->socks);
  for (size_t i = 0; i < wh->ndests; i++) {
    struct dest *ds = wh->dests[i];
    pending += ds->queued + ds->unloaded + ds->catchup_unloaded;
    free_list(ds->ready);
    free_list(ds->waiting);
    ds->ready = ds->ready_tail = ds->waiting = NULL;
    ds->queued = 0;
  }
  close_timers(wh);
  if (wh->ndests || pending || in_flight)
    esd_info("webhook", "stopped: %" PRIu64 " deliveries (%" PRIu64 " of them in flight) stay in "
             "the outbox for the next start", pending + in_flight, in_flight);
}

void esd_webhooks_free(struct esd_webhooks *wh) {
  if (wh == NULL)
    return;
  /* Not stopped: startup failed; the loop closed the handles already. */
  drop_in_flight(wh);
  if (wh->multi)
    curl_multi_cleanup(wh->multi);
  for (struct wh_sock *k = wh->socks, *next; k; k = next) {
    next = k->next;
    free(k);
  }
  for (size_t i = 0; i < wh->ndests; i++) {
    free_list(wh->dests[i]->ready);
    free_list(wh->dests[i]->waiting);
    free(wh->dests[i]);
  }
  es_store_close(wh->ro);
  free(wh->dests);
  config_free(wh->cfg);
  if (wh->started)
    curl_global_cleanup();
  free(wh);
}

char *esd_webhooks_stats_json(const struct esd_webhooks *wh) {
  struct es_strbuf b = {0};
  es_strbuf_str(&b, ",\"webhooks\":{");
  for (size_t i = 0; wh && i < wh->ndests; i++) {
    const struct dest *ds = wh->dests[i];
    es_strbuf_printf(&b, "%s\"%s\":{\"delivered\":%" PRIu64 ",\"pending\":%" PRIu64
                  ",\"failed\":%" PRIu64 ",\"suppressed\":%" PRIu64 ",\"in_flight\":%u,"
                  "\"summaries\":%" PRIu64 ",\"failed_attempts\":%" PRIu64
                  ",\"awaiting_summary\":%" PRIu64 "}",
              i ? "," : "", ds->cfg->name, ds->delivered,
              (uint64_t)ds->queued + ds->unloaded + ds->catchup_unloaded,
              ds->failed, ds->suppressed, ds->in_flight, ds->summaries, ds->failed_attempts,
              ds->sum_count);
  }
  es_strbuf_str(&b, "}");
  if (b.failed) {
    es_strbuf_free(&b);
    return NULL;
  }
  return b.p;
}
