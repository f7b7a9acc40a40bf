/*
 * reload.c: rule reloads (SIGHUP or {"type":"reload"}) and the stats
 * answer. A reload compiles and checks the new rules on a worker thread
 * and swaps them in whole on the loop thread, only if everything loaded;
 * otherwise the old rules stay and the log says exactly why.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "esd.h"
#include "log.h"
#include "strbuf.h"

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

static void reload_work(uv_work_t *req) {
  struct esd *d = req->data;
  struct es_rules_opts ropts;
  /* The same options as at startup: the matcher must take lines up to the
   * configured max_line_bytes, not the library's default. */
  es_rules_opts_init(&ropts);
  ropts.max_line_bytes = d->cfg->max_line_bytes;
  d->reload_rc = es_rules_load((const char *const *)d->cfg->rules, d->cfg->nrules, &ropts,
                               &d->reload_rules, &d->reload_diags);
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

static void reload_done(uv_work_t *req, int status) {
  struct esd *d = req->data;
  char buf[512];

  d->reloading = 0;
  if (d->stopping) {
    /* Shutting down: the store is closing; keep the rules we have. */
    es_rules_free(d->reload_rules);
    d->reload_rules = NULL;
    es_diags_deinit(&d->reload_diags);
    return;
  }
  if (status != 0 || d->reload_rc != 0) {
    d->reload_failures++;
    for (size_t i = 0; i < d->reload_diags.count; i++) {
      const struct es_diag *g = &d->reload_diags.items[i];
      esd_error("rules", "%s:%d:%d: %s%s%s", g->file, g->line, g->column, g->rule_id,
                g->rule_id[0] ? ": " : "", g->message);
    }
    esd_error("rules", "reload failed (%s); keeping rule set %s",
              status ? uv_strerror(status) : es_strerror(d->reload_rc), es_rules_version(d->rules));
    snprintf(buf, sizeof(buf),
             "{\"type\":\"reload\",\"ok\":false,\"rule_set\":\"%s\",\"errors\":%zu,"
             "\"message\":\"the new rules did not load; the old ones stay (see the daemon log)\"}\n",
             es_rules_version(d->rules), d->reload_diags.count);
    reply(d, buf);
    es_diags_deinit(&d->reload_diags);
    return;
  }
  es_diags_deinit(&d->reload_diags);
  struct es_matcher *m = es_matcher_new(d->reload_rules);
  struct es_engine *eng = es_engine_new(d->reload_rules);
  if (m == NULL || eng == NULL) {
    es_matcher_free(m);
    es_engine_free(eng);
    d->reload_failures++;
    esd_error("rules", "reload failed: out of memory; keeping rule set %s", es_rules_version(d->rules));
    es_rules_free(d->reload_rules);
    d->reload_rules = NULL;
    reply(d, "{\"type\":\"reload\",\"ok\":false,\"message\":\"out of memory\"}\n");
    return;
  }
  /* Open calls keep their heat and counts: their state moves to the new
   * rule set by rule id. Nothing else refers to the old rules: alerts
   * copied what they needed when they were made. */
  struct rebind rb = {d->rules, d->reload_rules};
  es_calls_foreach(d->calls, rebind_call, &rb);
  es_matcher_free(d->matcher);
  es_engine_free(d->engine);
  es_rules_free(d->rules);
  d->rules = d->reload_rules;
  d->matcher = m;
  d->engine = eng;
  d->reload_rules = NULL;
  d->reloads++;
  esd_writer_add_rule_set(d->writer, d->rules, esd_wall_now());
  esd_info("rules", "reloaded: %u rules from %zu files, rule set %s", es_rules_count(d->rules),
           es_rules_nfiles(d->rules), es_rules_version(d->rules));
  snprintf(buf, sizeof(buf), "{\"type\":\"reload\",\"ok\":true,\"rule_set\":\"%s\",\"rules\":%u}\n",
           es_rules_version(d->rules), es_rules_count(d->rules));
  reply(d, buf);
}

void esd_reload(struct esd *d, uint64_t requester) {
  if (d->reloading) {
    esd_info("rules", "reload already in progress");
    struct esd_conn *c = requester ? esd_conn_by_id(d, requester) : NULL;
    if (c) {
      static const char msg[] = "{\"type\":\"reload\",\"ok\":false,\"message\":\"a reload is already in progress\"}\n";
      esd_conn_write(c, msg, sizeof(msg) - 1);
    }
    return;
  }
  esd_info("rules", "reloading rules");
  d->reloading = 1;
  d->reload_requester = requester;
  d->reload_rules = NULL;
  es_diags_init(&d->reload_diags);
  d->reload_work.data = d;
  if (uv_queue_work(d->loop, &d->reload_work, reload_work, reload_done) != 0) {
    d->reloading = 0;
    esd_error("rules", "cannot start the reload");
  }
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
