/*
 * feed.h: the supervisor feed record and its filter (docs/protocol.md,
 * "The supervisor feed").
 *
 * A subscriber receives every matching alert of every call as one JSON
 * object per line. Live alerts and alerts read back from the store
 * (backfill) are written by the same function, so a console cannot tell
 * them apart: the text is the stored, masked text in both cases.
 */
#ifndef ES_FEED_H
#define ES_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define ES_FEED_FILTER_MAX 32   /* names in one filter list */
#define ES_FEED_NAME_MAX 128    /* bytes of one name in a filter */

/* One alert as the feed shows it; everything borrowed. */
struct es_feed_rec {
  int64_t id;              /* alerts.id */
  const char *call_id;
  const char *agent;       /* may be NULL */
  const char *queue;       /* may be NULL */
  const char *rule_id;
  const char *category;
  enum es_severity severity;
  enum es_speaker speaker; /* ES_SPEAKER_ANY: not known */
  double time;             /* unix seconds when raised */
  double call_ts;          /* seconds into the call; NAN: unknown */
  double heat;             /* NAN: unknown */
  const char *text;        /* masked line, or NULL */
  const char *matched;     /* masked words, or NULL */
  const char *tip;         /* may be NULL */
  const char *reason;      /* JSON object text, or NULL */
};

/* Writes {"type":"feed_alert", ...}\n into buf; returns the length, or
 * ES_ETOOBIG. ES_FEED_JSON_CAP(text_len) always suffices for text and
 * matched of up to text_len bytes and a reason of up to 4 KiB. */
int64_t es_feed_json(const struct es_feed_rec *r, char *buf, size_t cap);
#define ES_FEED_JSON_CAP(text_len) (12 * (size_t)(text_len) + 32768)

/* What a subscriber asked for. Empty lists match everything. */
struct es_feed_filter {
  enum es_severity min_severity;
  char categories[ES_FEED_FILTER_MAX][ES_FEED_NAME_MAX];
  size_t ncategories;
  char queues[ES_FEED_FILTER_MAX][ES_FEED_NAME_MAX];
  size_t nqueues;
  char agents[ES_FEED_FILTER_MAX][ES_FEED_NAME_MAX];
  size_t nagents;
};

/* Parses a subscribe line's filters from its JSON object text:
 * "min_severity" (name), "categories", "queues", "agents" (arrays of
 * strings; "queues" and "agents" also of whole numbers, kept as their
 * decimal text, the agent or queue a start line's number names). Unknown
 * fields other than "type", "since" and "seq" are errors. Returns 0, or
 * ES_EINVAL with what to fix in msg. */
int es_feed_filter_parse(const char *json, size_t len, struct es_feed_filter *f,
                         int64_t *since, int *has_since, char *msg, size_t msgcap);

/* 1 when the alert passes the filter. agent/queue may be NULL (then a
 * filter on them does not match). */
int es_feed_filter_match(const struct es_feed_filter *f, enum es_severity sev,
                         const char *category, const char *queue, const char *agent);

#endif
