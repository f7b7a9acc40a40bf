/*
 * proto.h: decoding one line of the earshot protocol (docs/protocol.md).
 *
 * Client lines are JSON objects, one per line. The decoder validates a
 * line completely and either fills a struct es_event or says, with a
 * stable code and a message for a person, what was wrong. `earshot replay`
 * and earshotd decode with the same code, so both accept the same input.
 */
#ifndef ES_PROTO_H
#define ES_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "numfmt.h"
#include "rules.h"

/* A "seq" is a whole number below this, 2^53: every one is exact as a
 * JSON number read into a double. */
#define ES_SEQ_LIMIT ES_WHOLE_EXACT

enum es_event_type {
  ES_EV_UTTERANCE = 1, /* {"call_id","speaker","text","ts"?,"end_ts"?,"seq"?,"final"?} */
  ES_EV_START,         /* {"type":"start","call_id",...metadata} */
  ES_EV_END,           /* {"type":"end","call_id"} */
  ES_EV_HELLO,         /* {"type":"hello","client"?,"acks"?,"token"?} */
  ES_EV_STATS,         /* {"type":"stats"}: the daemon answers with its counters */
  ES_EV_RELOAD,        /* {"type":"reload"}: the daemon reloads its rules */
  ES_EV_SUBSCRIBE,     /* {"type":"subscribe",filters...,"since"?}: the supervisor feed
                          (filters: feed.h es_feed_filter_parse() on the same line) */
  ES_EV_MARK,          /* {"type":"mark","alert_id","mark","by"?,"note"?}: feedback */
};

/* Named limits (docs/protocol.md). */
#define ES_CALL_ID_MAX   128  /* bytes in a call_id */
#define ES_ATTR_MAX      32   /* metadata fields kept per call (at most 32: attr_json's bits) */
#define ES_ATTR_DEPTH_MAX 32  /* levels of arrays and objects in one metadata value */

/* A decoded line. Strings are borrowed from the decoder and valid until
 * its next es_proto_decode() call; they are NUL-terminated. */
struct es_event {
  enum es_event_type type;
  const char *call_id;
  enum es_speaker speaker;
  const char *text;
  size_t text_len;
  double ts;           /* seconds; valid when has_ts */
  double end_ts;       /* seconds; valid when has_end_ts */
  int64_t seq;         /* client's line number; valid when has_seq */
  unsigned has_ts : 1, has_end_ts : 1, has_seq : 1;
  unsigned final : 1;  /* utterance: 0 for a partial hypothesis */
  unsigned acks : 1;   /* hello: client wants acknowledgements */
  const char *client;  /* hello: client name, or NULL */
  const char *token;   /* hello: shared token, or NULL */
  /* start: metadata, every field other than type, call_id, ts and seq
   * whose value is not null, in the line's order. A value is a text:
   * a string's, decoded, or (its bit set in attr_json) the JSON text of a
   * number, true or false exactly as sent, or of an array or object as
   * sent without white space. agent/queue/customer are the last agent_id,
   * queue and customer that is a string or a number, NULL when none is. */
  const char *agent;
  const char *queue;
  const char *customer;
  size_t nattrs;
  uint32_t attr_json;  /* bit n: attr_values[n] is JSON text, not a string */
  /* mark */
  int64_t alert_id;
  const char *mark;    /* "taken", "resolved" or "false_positive" */
  const char *by;      /* may be NULL */
  const char *note;    /* may be NULL */
  /* Last, so that decoding does not clear them: only the first nattrs
   * entries are set. */
  const char *attr_keys[ES_ATTR_MAX];
  const char *attr_values[ES_ATTR_MAX];
};

/* Why a line was rejected. `code` is one of the stable strings listed in
 * docs/protocol.md (static storage); `message` says what to fix. */
struct es_proto_error {
  const char *code;
  char message[256];
};

struct es_decoder;

/* `max_line` is the longest line accepted, in bytes. NULL when out of memory. */
struct es_decoder *es_decoder_new(size_t max_line);
void es_decoder_free(struct es_decoder *d); /* NULL is a no-op */

/* The decoder reads utterance, start and end lines with its own allocation-free
 * scanner and everything else with cJSON; both give the same events and
 * errors. Tests turn the fast path off (on = 0) to compare. */
void es_decoder_set_fast(struct es_decoder *d, int on);
/* Lines the fast path decoded so far. */
uint64_t es_decoder_fast_lines(const struct es_decoder *d);

/* Decodes line[0..len) (no trailing newline; a trailing \r is ignored).
 * Returns 0 and fills *ev, or a negative es_err and fills *err; then
 * ev->has_seq and ev->seq still give the line's "seq" when it was a JSON
 * object with a valid one (so that its error record and ack can name it),
 * and nothing else in *ev is meaningful. */
int es_proto_decode(struct es_decoder *d, const char *line, size_t len, struct es_event *ev,
                    struct es_proto_error *err);

#endif
