/* alert.c: JSON for alerts, written by hand: it is on the per-hit path. */
#include "alert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "error.h"
#include "jsonrun.h"
#include "numfmt.h"
#include "proto.h"
#include "store.h"

static int put(char *buf, size_t cap, size_t *pos, const char *s, size_t n) {
  if (*pos + n > cap)
    return ES_ETOOBIG;
  memcpy(buf + *pos, s, n);
  *pos += n;
  return 0;
}

static int puts_(char *buf, size_t cap, size_t *pos, const char *s) {
  return put(buf, cap, pos, s, strlen(s));
}

int es_json_str(char *buf, size_t cap, size_t *pos, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t p = *pos;

  if (p + 2 > cap)
    return ES_ETOOBIG;
  buf[p++] = '"';
  for (size_t i = 0; i < len; i++) {
    /* Bytes that need no escape, a run at a time, when the rest of the
     * string fits unescaped (es__json_copy_run's room). */
    if (cap - p >= len - i) {
      i = es__json_copy_run(s, i, len, buf, &p);
      if (i >= len)
        break;
    }
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default:
      if (c < 0x20) {
        u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
        u[4] = hex[c >> 4]; u[5] = hex[c & 15];
        if (p + 6 > cap)
          return ES_ETOOBIG;
        memcpy(buf + p, u, 6);
        p += 6;
        continue;
      }
    }
    if (esc) {
      if (p + 2 > cap)
        return ES_ETOOBIG;
      buf[p++] = esc[0];
      buf[p++] = esc[1];
    } else {
      if (p + 1 > cap)
        return ES_ETOOBIG;
      buf[p++] = (char)c;
    }
  }
  if (p + 1 > cap)
    return ES_ETOOBIG;
  buf[p++] = '"';
  *pos = p;
  return 0;
}

static int field_str(char *buf, size_t cap, size_t *pos, const char *key, const char *s,
                     size_t n) {
  int rc = puts_(buf, cap, pos, key);
  return rc ? rc : es_json_str(buf, cap, pos, s, n);
}

/* The shortest of %.15g and %.17g that reads back as the same double, so
 * that 12.5 prints as 12.5 and not 12.500000000000000 (numfmt.h). */
static int field_num(char *buf, size_t cap, size_t *pos, const char *key, double v) {
  char tmp[ES_FMT_DOUBLE_MAX];
  int rc = puts_(buf, cap, pos, key);
  if (rc)
    return rc;
  size_t n = es_fmt_double(v, tmp);
  return put(buf, cap, pos, tmp, n);
}

static int field_int(char *buf, size_t cap, size_t *pos, const char *key, int64_t v) {
  char tmp[ES_FMT_INT_MAX];
  size_t n = es_fmt_i64(v, tmp); /* not snprintf: four per alert */
  int rc = puts_(buf, cap, pos, key);
  return rc ? rc : put(buf, cap, pos, tmp, n);
}

int64_t es_alert_json(const struct es_alert *a, char *buf, size_t cap) {
  const struct es_rule_info *r = a->rule;
  size_t pos = 0;
  size_t ms = a->match_start <= a->text_len ? a->match_start : a->text_len;
  size_t me = a->match_end <= a->text_len && a->match_end >= ms ? a->match_end : ms;
  const char *speaker;
  int rc = 0;

  rc |= field_str(buf, cap, &pos, "{\"type\":\"alert\",\"call_id\":", a->call_id,
                  strlen(a->call_id));
  rc |= field_str(buf, cap, &pos, ",\"rule\":", r->id, strlen(r->id));
  rc |= field_str(buf, cap, &pos, ",\"category\":", r->category, strlen(r->category));
  rc |= puts_(buf, cap, &pos, ",\"severity\":\"");
  rc |= puts_(buf, cap, &pos, es_severity_name(r->severity));
  rc |= puts_(buf, cap, &pos, "\"");
  /* No speaker (dead air, a backup raised by heat): null, as the store and
   * the supervisor feed have it. */
  speaker = es_store_speaker_name(a->speaker);
  rc |= speaker ? field_str(buf, cap, &pos, ",\"speaker\":", speaker, strlen(speaker))
                : puts_(buf, cap, &pos, ",\"speaker\":null");
  if (a->has_ts)
    rc |= field_num(buf, cap, &pos, ",\"ts\":", a->ts);
  if (a->has_seq)
    rc |= field_int(buf, cap, &pos, ",\"seq\":", a->seq);
  if (a->line > 0)
    rc |= field_int(buf, cap, &pos, ",\"line\":", a->line);
  if (a->text) {
    rc |= field_str(buf, cap, &pos, ",\"text\":", a->text, a->text_len);
    rc |= field_int(buf, cap, &pos, ",\"match_start\":", (int64_t)ms);
    rc |= field_int(buf, cap, &pos, ",\"match_end\":", (int64_t)me);
    rc |= field_str(buf, cap, &pos, ",\"matched\":", a->text + ms, me - ms);
  }
  rc |= field_num(buf, cap, &pos, ",\"score\":", r->score);
  if (a->has_heat)
    rc |= field_num(buf, cap, &pos, ",\"heat\":", round(a->heat * 1000) / 1000);
  if (a->reason) {
    rc |= puts_(buf, cap, &pos, ",\"reason\":");
    rc |= puts_(buf, cap, &pos, a->reason);
  }
  rc |= field_str(buf, cap, &pos, ",\"tip\":", r->tip, strlen(r->tip));
  rc |= field_str(buf, cap, &pos, ",\"description\":", r->description, strlen(r->description));
  rc |= puts_(buf, cap, &pos, "}\n");
  if (rc != 0)
    return ES_ETOOBIG;
  return (int64_t)pos;
}

size_t es_error_json(char *buf, int64_t line, int has_seq, int64_t seq, const char *code,
                     const char *rule, const char *message) {
  const size_t cap = ES_ERROR_JSON_CAP;
  size_t pos = 0;

  /* Code and rule are short, known strings; the room kept back after each
   * leaves space for the message's fallback and the closing bytes. */
  field_int(buf, cap, &pos, "{\"type\":\"error\",\"line\":", line);
  if (has_seq)
    field_int(buf, cap, &pos, ",\"seq\":", seq);
  field_str(buf, cap - 600, &pos, ",\"code\":", code, strlen(code));
  if (rule)
    field_str(buf, cap - 400, &pos, ",\"rule\":", rule, strlen(rule));
  size_t before = pos;
  if (field_str(buf, cap - 2, &pos, ",\"message\":", message, strlen(message)) != 0) {
    pos = before;
    field_str(buf, cap - 2, &pos, ",\"message\":", "(message too long)", 18);
  }
  buf[pos++] = '}';
  buf[pos++] = '\n';
  return pos;
}

void es_alert_from_fire(struct es_alert *a, const char *call_id, const struct es_fire *f,
                        const struct es_event *ev, int64_t line) {
  memset(a, 0, sizeof(*a));
  a->call_id = call_id;
  a->rule = f->rule;
  a->speaker = f->speaker;
  if (ev && f->on_line) {
    a->text = ev->text;
    a->text_len = ev->text_len;
    a->match_start = f->match_start;
    a->match_end = f->match_end;
  }
  if (ev) {
    a->ts = ev->ts;
    a->has_ts = ev->has_ts;
    a->seq = ev->seq;
    a->has_seq = ev->has_seq;
  } else {
    a->ts = f->t;
    a->has_ts = 1;
  }
  a->line = line;
  a->heat = f->heat;
  a->has_heat = 1;
  a->reason = f->reason;
}
