/*
 * alert.h: the alert record and its JSON form, shared by `earshot replay`
 * and earshotd so that both print alerts in exactly the same shape
 * (docs/protocol.md).
 */
#ifndef ES_ALERT_H
#define ES_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/* Everything borrowed. */
struct es_alert {
  const char *call_id;
  const struct es_rule_info *rule;
  enum es_speaker speaker;
  const char *text;      /* the line as it should be shown (masked where stored) */
  size_t text_len;
  uint32_t match_start;  /* byte span of the hit in `text` */
  uint32_t match_end;
  double ts;             /* seconds, as the client sent it; valid when has_ts */
  int64_t seq;           /* client's line number; valid when has_seq */
  int64_t line;          /* input line number (replay); valid when > 0 */
  unsigned has_ts : 1, has_seq : 1, has_heat : 1;
  double heat;           /* the call's heat after this alert; valid when has_heat */
  const char *reason;    /* JSON object explaining a call-level alert, or NULL */
};

struct es_fire;
struct es_event;

/* Fills *a for an engine fire (engine.h) of call `call_id`. ev: the line
 * being handled (its text, ts and seq are used), or NULL for a fire at
 * call end (then ts is the fire's call time). line: input line number, or
 * 0. */
void es_alert_from_fire(struct es_alert *a, const char *call_id, const struct es_fire *f,
                        const struct es_event *ev, int64_t line);

/* Appends a JSON string literal (quotes included) for s[0..len) to buf at
 * *pos, never past cap. Returns 0, or ES_ETOOBIG when it does not fit
 * (then *pos is unspecified but within cap). */
int es_json_str(char *buf, size_t cap, size_t *pos, const char *s, size_t len);

/* Writes the alert as one JSON object followed by '\n' into buf. A NULL
 * text (a call-level alert with no words of its own) leaves out text,
 * match_start, match_end and matched; reason is copied as is. Returns the
 * length, or ES_ETOOBIG when cap is too small. */
int64_t es_alert_json(const struct es_alert *a, char *buf, size_t cap);

/* A capacity that always fits the alert for a text of up to max_line
 * bytes: a control character escapes to 6 bytes, in both "text" and
 * "matched" (12 per text byte); the rest (tip and description of up to
 * 4096 bytes each, call id of up to 128 bytes, also 6 per byte, and the
 * numbers and keys) stays under 64 KiB. */
#define ES_ALERT_JSON_CAP(max_line) (12 * (size_t)(max_line) + 65536)
/* (A reason is at most ES_REASON_CAP, 4 KiB: within the 64 KiB.) */

/* An error record, the same for `earshot replay` and earshotd:
 *   {"type":"error","line":N[,"seq":S],"code":"...",["rule":"...",]"message":"..."}\n
 * `line` is the input line number, `seq` is written when has_seq, `rule`
 * when not NULL. A message that does not fit is replaced by a short one.
 * Writes at most ES_ERROR_JSON_CAP bytes to buf; returns the length. */
#define ES_ERROR_JSON_CAP 1024
size_t es_error_json(char *buf, int64_t line, int has_seq, int64_t seq, const char *code,
                     const char *rule, const char *message);

#endif
