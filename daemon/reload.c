/*
 * reload.c: reloads (SIGHUP or {"type":"reload"}) and the stats answer.
 *
 * A reload reads everything on a worker thread: the config file earshotd
 * was started with (--config), with the command line's flags over it as
 * at startup, checked as startup checks it; the rules it names (or the
 * flags name); its webhooks. The loop thread then applies the result
 * whole, or nothing of it: on any problem the old rules and webhooks
 * stay and the log and the reply say exactly why. Settings that only a
 * restart changes keep their old values, with a warning each. Without
 * --config a reload reloads the rules alone.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "esd.h"
#include "log.h"
#include "strbuf.h"

/* A reload under way: what the worker made of the files, for the loop
 * thread to apply. */
struct esd_reload {
  uv_work_t work;
  struct esd *d;
  int has_cfg;                  /* started with --config: the file is read again */
  struct es_config cfg;         /* the new settings (has_cfg) */
  struct es_diags diags;        /* problems with the file, the settings, the webhooks */
  struct es_rules *rules;       /* the new rules, or NULL */
  struct es_diags rule_diags;
  int rules_rc;
  struct esd_webhooks_config *webhooks; /* the new destinations (has_cfg; NULL: none) */
  size_t problems;
};

struct rebind {
  const struct es_rules *from, *to;
};

static void add_state_bytes(void *ud, struct es_call *call) {
  *(size_t *)ud += es_callstate_bytes(call->state);
}

static void rebind_call(void *ud, struct es_call *call) {
  struct rebind *rb = ud;
  es_callstate_rebind(call->state, rb->from, rb->to);
}

static void reload_free(struct esd_reload *r) {
  if (r->has_cfg)
    es_config_deinit(&r->cfg);
  es_diags_deinit(&r->diags);
  es_rules_free(r->rules);
  es_diags_deinit(&r->rule_diags);
  esd_webhooks_config_free(r->webhooks);
  free(r);
}

/* On the worker thread: reads only what d holds for the whole run (the
 * flags, the running settings), which the loop thread changes only in
 * reload_done(), when no reload is under way. */
static void reload_work(uv_work_t *req) {
  struct esd_reload *r = req->data;
  struct esd *d = r->d;
  const struct es_config *use = d->cfg;
  struct es_rules_opts ropts;

  if (r->has_cfg) {
    struct esd_resolved res;
    char msg[512];
    if (esd_config_apply(&r->cfg, &d->flags, &r->diags) != 0) {
      r->problems++;
      return;
    }
    r->problems += (size_t)esd_config_check(&r->cfg, &res, &r->diags);
    if (esd_webhooks_config_parse(r->cfg.webhooks_json, &r->webhooks, msg, sizeof(msg)) != 0) {
      es_diags_add(&r->diags, NULL, 0, 0, NULL, "%s: %s", r->cfg.config_file, msg);
      r->problems++;
    }
    use = &r->cfg;
  }
  /* The matcher must take lines up to the running max_line_bytes, which
   * only a restart changes, not the library's default. */
  es_rules_opts_init(&ropts);
  ropts.max_line_bytes = d->cfg->max_line_bytes;
  r->rules_rc = es_rules_load((const char *const *)use->rules, use->nrules, &ropts, &r->rules,
                              &r->rule_diags);
  if (r->rules_rc != 0)
    r->problems++;
}

static void reply(struct esd *d, const char *json) {
  struct esd_conn *c = d->reload_requester ? esd_conn_by_id(d, d->reload_requester) : NULL;
  if (c) {
    esd_conn_write(c, json, strlen(json));
    esd_conn_flush(c);
    c->waiting_reload = 0;
    esd_conn_finish_if_done(c);
  }
}

/* Sends o, a {"type":"reload",...} object, as one line, and frees it. */
static void reply_json(struct esd *d, cJSON *o) {
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  size_t n = text ? strlen(text) : 0;
  char *line = text ? malloc(n + 2) : NULL;
  if (line) {
    memcpy(line, text, n);
    memcpy(line + n, "\n", 2);
    reply(d, line);
  } else {
    reply(d, "{\"type\":\"reload\",\"ok\":false,\"message\":\"out of memory\"}\n");
  }
  free(line);
  cJSON_free(text);
  cJSON_Delete(o);
}

static cJSON *reply_new(int ok, const struct esd *d) {
  cJSON *o = cJSON_CreateObject();
  if (o && (!cJSON_AddStringToObject(o, "type", "reload") || !cJSON_AddBoolToObject(o, "ok", ok) ||
            !cJSON_AddStringToObject(o, "rule_set", es_rules_version(d->rules)))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* Nothing changes: logs every problem and says so to the requester,
 * naming the first. */
static void reload_failed(struct esd *d, struct esd_reload *r, const char *why) {
  char first[1024], msg[1400];
  size_t n = r->diags.count + r->rule_diags.count;
  const char *kept = r->has_cfg ? "the old rules and webhooks stay" : "the old rules stay";

  d->reload_failures++;
  for (size_t i = 0; i < r->diags.count; i++)
    esd_error("config", "%s", r->diags.items[i].message);
  for (size_t i = 0; i < r->rule_diags.count; i++) {
    es_diag_text(&r->rule_diags.items[i], first, sizeof(first));
    esd_error("rules", "%s", first);
  }
  if (why)
    snprintf(first, sizeof(first), "%s", why);
  else if (r->diags.count)
    snprintf(first, sizeof(first), "%s", r->diags.items[0].message);
  else if (r->rule_diags.count)
    es_diag_text(&r->rule_diags.items[0], first, sizeof(first));
  else
    snprintf(first, sizeof(first), "the rules did not load: %s", es_strerror(r->rules_rc));
  esd_error("reload", "reload failed (%s%s); keeping rule set %s%s", first,
            n > 1 ? ", and more above" : "", es_rules_version(d->rules),
            r->has_cfg ? " and the webhooks as they were" : "");
  if (n > 1)
    snprintf(msg, sizeof(msg), "%s (and %zu more problems); %s (see the daemon log)", first, n - 1,
             kept);
  else
    snprintf(msg, sizeof(msg), "%s; %s (see the daemon log)", first, kept);
  cJSON *o = reply_new(0, d);
  if (o && (!cJSON_AddNumberToObject(o, "errors", (double)(n ? n : 1)) ||
            !cJSON_AddStringToObject(o, "message", msg))) {
    cJSON_Delete(o);
    o = NULL;
  }
  reply_json(d, o);
}

/* The settings only a restart changes keep their values: one warning
 * each that differs in the file. The rest of the new settings (rules,
 * webhooks) become the running ones. */
static void take_settings(struct esd *d, struct esd_reload *r, cJSON *o) {
  const char *keys[64];
  size_t n = esd_config_restart_only(d->cfg, &r->cfg, keys, sizeof(keys) / sizeof(keys[0]));
  cJSON *list = n ? cJSON_AddArrayToObject(o, "restart_needed") : NULL;
  char **rules = d->cfg->rules, *webhooks = d->cfg->webhooks_json;
  size_t nrules = d->cfg->nrules;

  for (size_t i = 0; i < n; i++) {
    esd_warn("config", "%s changed in %s; takes effect when earshotd restarts", keys[i],
             d->cfg->config_file);
    if (list)
      cJSON_AddItemToArray(list, cJSON_CreateString(keys[i]));
  }
  d->cfg->rules = r->cfg.rules;
  d->cfg->nrules = r->cfg.nrules;
  d->cfg->webhooks_json = r->cfg.webhooks_json;
  r->cfg.rules = rules; /* freed with r */
  r->cfg.nrules = nrules;
  r->cfg.webhooks_json = webhooks;
}

static void reload_done(uv_work_t *req, int status) {
  struct esd_reload *r = req->data;
  struct esd *d = r->d;
  char changes[2048];

  d->reloading = 0;
  if (d->stopping) {
    /* Shutting down: the store is closing; keep what we have. */
    reload_free(r);
    return;
  }
  if (status != 0 || r->problems) {
    reload_failed(d, r, status ? uv_strerror(status) : NULL);
    reload_free(r);
    return;
  }
  struct es_matcher *m = es_matcher_new(r->rules);
  struct es_engine *eng = es_engine_new(r->rules);
  cJSON *o = reply_new(1, d);
  int whrc = 0;
  if (m && eng && o && r->has_cfg && d->webhooks) {
    whrc = esd_webhooks_reconfigure(d->webhooks, r->webhooks, changes, sizeof(changes));
    r->webhooks = NULL; /* taken */
  }
  if (m == NULL || eng == NULL || o == NULL || whrc != 0) {
    es_matcher_free(m);
    es_engine_free(eng);
    cJSON_Delete(o);
    reload_failed(d, r, "out of memory");
    reload_free(r);
    return;
  }
  /* Open calls keep their heat and counts: their state moves to the new
   * rule set by rule id. Nothing else refers to the old rules: alerts
   * copied what they needed when they were made. */
  struct rebind rb = {d->rules, r->rules};
  es_calls_foreach(d->calls, rebind_call, &rb);
  es_matcher_free(d->matcher);
  es_engine_free(d->engine);
  es_rules_free(d->rules);
  d->rules = r->rules;
  d->matcher = m;
  d->engine = eng;
  r->rules = NULL;
  d->reloads++;
  esd_writer_add_rule_set(d->writer, d->rules, esd_wall_now());
  esd_info("rules", "reloaded: %u rules from %zu files, rule set %s", es_rules_count(d->rules),
           es_rules_nfiles(d->rules), es_rules_version(d->rules));
  cJSON_ReplaceItemInObjectCaseSensitive(o, "rule_set",
                                         cJSON_CreateString(es_rules_version(d->rules)));
  cJSON_AddNumberToObject(o, "rules", es_rules_count(d->rules));
  if (r->has_cfg) {
    if (d->webhooks) {
      esd_info("reload", "webhooks: %s", changes);
      cJSON_AddStringToObject(o, "webhooks", changes);
    }
    take_settings(d, r, o);
  }
  reply_json(d, o);
  reload_free(r);
}

void esd_reload(struct esd *d, uint64_t requester) {
  struct esd_reload *r;
  struct esd_conn *c = requester ? esd_conn_by_id(d, requester) : NULL;
  const char *busy = NULL;

  if (d->reloading) {
    esd_info("rules", "reload already in progress");
    busy = "{\"type\":\"reload\",\"ok\":false,\"message\":\"a reload is already in progress\"}\n";
  } else if ((r = calloc(1, sizeof(*r))) == NULL) {
    esd_error("rules", "cannot start the reload: out of memory");
    busy = "{\"type\":\"reload\",\"ok\":false,\"message\":\"out of memory\"}\n";
  }
  if (busy) {
    if (c)
      esd_conn_write(c, busy, strlen(busy));
    return;
  }
  r->d = d;
  r->has_cfg = d->flags.config != NULL;
  if (r->has_cfg)
    es_config_init(&r->cfg);
  es_diags_init(&r->diags);
  es_diags_init(&r->rule_diags);
  r->work.data = r;
  if (r->has_cfg)
    esd_info("rules", "reloading rules and webhooks from %s", d->flags.config);
  else
    esd_info("rules", "reloading rules");
  if (uv_queue_work(d->loop, &r->work, reload_work, reload_done) != 0) {
    esd_error("rules", "cannot start the reload");
    reload_free(r);
    return;
  }
  d->reloading = 1;
  d->reload_requester = requester;
}

/* ---- stats ---------------------------------------------------------- */

/* The rules that ran PCRE2 most often for nothing since the rule set was
 * loaded, as `earshot rules cost` prints them for a transcript: a rule
 * near the top with few matches has a weak prefilter anchor
 * (docs/rules.md, "How matching works"). */
#define ESD_STATS_RULE_COSTS 20

static void rule_costs(struct es_strbuf *b, const struct es_rules *rules,
                       const struct es_matcher *m) {
  uint32_t v[ESD_STATS_RULE_COSTS];
  int64_t k = es_matcher_costliest(m, v, ESD_STATS_RULE_COSTS);

  if (k < 0) {
    b->failed = 1;
    return;
  }
  es_strbuf_str(b, ",\"rule_costs\":[");
  for (int64_t i = 0; i < k; i++) {
    const struct es_match_rule_stats *rs = es_matcher_rule_stats(m, v[i]);
    es_strbuf_printf(b, "%s{\"rule\":\"%s\",\"ran\":%" PRIu64 ",\"matched\":%" PRIu64 "}",
                     i ? "," : "", es_rules_info(rules, v[i])->id, rs->tried, rs->hits);
  }
  es_strbuf_str(b, "]");
}

static void counters(struct es_strbuf *b, const char *key, const struct esd_counter *t) {
  es_strbuf_printf(b, ",\"%s\":{", key);
  for (int i = 0; i < ESD_MAX_COUNTERS && t[i].name[0]; i++)
    es_strbuf_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", t[i].name, t[i].count);
  es_strbuf_printf(b, "}");
}

void esd_send_stats(struct esd *d, struct esd_conn *c) {
  struct es_strbuf b = {0};
  const struct es_match_stats *ms = es_matcher_stats(d->matcher);
  double uptime = (double)(uv_now(d->loop) - d->started_ms) / 1000.0;
  unsigned oldest = (d->rate_pos + 1) % 11;
  double rate = (double)(d->lines - d->rate_lines[oldest]) / 10.0;
  size_t out_bytes = 0, paused = 0;

  for (struct esd_conn *k = d->conns; k; k = k->next) {
    out_bytes += k->h.stream.write_queue_size + k->out_len;
    paused += k->paused != 0;
  }
  es_strbuf_printf(&b, "{\"type\":\"stats\",\"version\":\"%s\",\"uptime_s\":%.1f,\"rule_set\":\"%s\","
                "\"rules\":%u,\"connections\":%u,\"connections_total\":%" PRIu64
                ",\"open_calls\":%zu,\"lines\":%" PRIu64 ",\"lines_per_s\":%.1f,"
                "\"partials\":%" PRIu64 ",\"resent_lines\":%" PRIu64 ",\"resent_alerts\":%" PRIu64
                ",\"alerts\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"acks_sent\":%" PRIu64,
            ES_VERSION, uptime, es_rules_version(d->rules), es_rules_count(d->rules), d->nconns,
            d->connections_total, es_calls_count(d->calls), d->lines, rate < 0 ? 0 : rate,
            d->partials, d->resent_lines, d->resent_alerts, d->alerts, d->errors, d->acks_sent);
  size_t state_bytes = 0;
  es_calls_foreach(d->calls, add_state_bytes, &state_bytes);
  es_strbuf_printf(&b, ",\"alerts_suppressed\":%" PRIu64 ",\"backups\":%" PRIu64
                ",\"call_state_bytes\":%zu",
            d->alerts_suppressed, d->backups, state_bytes);
  counters(&b, "alerts_by_category", d->by_category);
  counters(&b, "errors_by_code", d->by_error);
  es_strbuf_printf(&b, ",\"queues\":{\"store_pending_rows\":%zu,\"store_paused\":%s,"
                "\"output_bytes\":%zu,\"paused_connections\":%zu}",
            esd_writer_pending(d->writer), d->store_paused ? "true" : "false", out_bytes, paused);
  es_strbuf_printf(&b, ",\"store\":{\"commits\":%" PRIu64 ",\"background_commits\":%" PRIu64
                ",\"background_starved\":%" PRIu64 ",\"failures\":%" PRIu64
                ",\"rejected_rows\":%" PRIu64 "}",
            esd_writer_commits(d->writer), esd_writer_background_commits(d->writer),
            esd_writer_background_starved(d->writer), esd_writer_failures(d->writer),
            esd_writer_rejected(d->writer));
  {
    char *wh = esd_webhooks_stats_json(d->webhooks);
    if (wh)
      es_strbuf_printf(&b, "%s", wh);
    free(wh);
  }
  es_strbuf_printf(&b, ",\"matcher\":{\"candidates\":%" PRIu64 ",\"pcre2_runs\":%" PRIu64
                ",\"limit_hits\":%" PRIu64 "}",
            ms->candidates, ms->pcre2_runs, ms->limit_hits);
  es_strbuf_printf(&b, ",\"rule_limit_hits\":{");
  for (uint32_t i = 0, n = 0; i < es_rules_count(d->rules); i++) {
    uint64_t h = es_matcher_limit_hits(d->matcher, i);
    if (h)
      es_strbuf_printf(&b, "%s\"%s\":%" PRIu64, n++ ? "," : "", es_rules_info(d->rules, i)->id, h);
  }
  es_strbuf_str(&b, "}");
  rule_costs(&b, d->rules, d->matcher);
  es_strbuf_printf(&b, ",\"reloads\":%" PRIu64 ",\"reload_failures\":%" PRIu64
                ",\"calls_abandoned\":%" PRIu64 ",\"slow_client_disconnects\":%" PRIu64 "}\n",
            d->reloads, d->reload_failures, d->calls_abandoned, d->disconnects_slow);
  if (b.p && !b.failed)
    esd_conn_write(c, b.p, b.len);
  es_strbuf_free(&b);
}
