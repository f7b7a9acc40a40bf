/*
 * calls.h: the table of open calls, keyed by call_id.
 *
 * Pure: times are passed in (seconds on any monotonic scale the caller
 * chooses). Bounded: at most `max_calls` open at once. earshotd and
 * `earshot replay` keep their calls here; per-call state (heat, counts)
 * hangs off struct es_call.
 */
#ifndef ES_CALLS_H
#define ES_CALLS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct es_callstate;

/* Final lines of a call remembered to recognise one that is sent again
 * (a platform resending what was not acknowledged): es_call_seen(). */
#define ES_CALL_RECENT 32

struct es_call {
  char id[ES_CALL_ID_MAX + 1];
  char *agent;          /* owned, or NULL */
  char *queue;          /* owned, or NULL */
  char *attrs_json;     /* owned: JSON object of every start metadata field, or NULL */
  double opened_at;     /* caller's clock when the call was opened */
  double last_seen;     /* caller's clock at the last line */
  uint64_t lines;       /* final utterances (of a reopened call: counted on, es_calls_open()) */
  uint64_t partials;    /* partial hypotheses seen */
  uint64_t alerts;      /* alerts raised */
  double call_t;        /* call time of the latest line (es_call_line_time()) */
  struct es_callstate *state; /* owned: heat, counts, sequences (engine.h); NULL until a hit */
  uint64_t recent[ES_CALL_RECENT]; /* es_line_key() of the latest final lines; 0: none */
  unsigned recent_pos;  /* where the next one goes */
  double recent_top;    /* the highest seq (or ts, for lines without) among them */
  unsigned has_ts : 1;  /* a line with "ts" was seen */
  unsigned started : 1; /* a "start" line was received */
  void *owner;          /* the caller's: e.g. the connection streaming it */
  void *store_row;      /* the caller's: e.g. its start row not yet written */
  uint64_t store_batch; /* the caller's: e.g. the batch holding store_row */
  /* table links, private */
  struct es_call *next_;
  uint64_t hash_;
};

struct es_calls;

struct es_calls *es_calls_new(size_t max_calls);
void es_calls_free(struct es_calls *t); /* frees every call; NULL is a no-op */

/* Finds call `id`, or creates it (opened_at = last_seen = now) and sets
 * *created. A call created again after es_calls_expire() closed it (one
 * of the last ES_CALLS_ABANDONED it closed with lines) counts its lines on
 * from where it stopped: whatever numbers the call's lines (earshotd's
 * alert keys) does not repeat a number of its earlier life. Returns 0,
 * ES_ETOOBIG when the table is full, ES_ENOMEM. */
int es_calls_open(struct es_calls *t, const char *id, double now, struct es_call **out,
                  int *created);
struct es_call *es_calls_find(const struct es_calls *t, const char *id);

/* Sets the metadata of a "start" line (replacing earlier metadata):
 * attrs_json gets each field with a string value as a JSON string, and
 * each whose value is JSON text (start->attr_json) as that JSON value. */
int es_call_set_meta(struct es_call *c, const struct es_event *start);

/* The call time of a final line (engine.h), kept in c->call_t: the
 * line's ts; without one, the call's latest; for a call that never sent a
 * ts, `elapsed` when it is not NAN (earshotd: seconds since the call
 * opened there; `earshot replay`, which has no clock, passes NAN). */
double es_call_line_time(struct es_call *c, const struct es_event *ev, double elapsed);

/* What names a final line whatever connection sends it: its speaker, its
 * seq (else its ts) and its text. 0 when it has neither seq nor ts: such a
 * line cannot be told from a new one that says the same. */
uint64_t es_line_key(const struct es_event *ev);

/* Whether the final line ev, whose es_line_key() is `key` (not 0), is
 * among the call's last ES_CALL_RECENT final lines; if it is not, it is
 * remembered as the latest. A line whose seq (or ts) is above every one
 * seen, as in any stream in order, is new without a search. */
int es_call_seen(struct es_call *c, const struct es_event *ev, uint64_t key);

/* Removes and frees the call. */
void es_calls_remove(struct es_calls *t, struct es_call *c);

/* Calls ended by their client ("end") that es_calls_ended() recognises:
 * at least the last ES_CALLS_ENDED, at most twice as many. */
#define ES_CALLS_ENDED 65536

/* Removes and frees the call like es_calls_remove(), remembering that it
 * ended: a later line naming it is late or sent again, not a new call. */
void es_calls_end(struct es_calls *t, struct es_call *c);
int es_calls_ended(const struct es_calls *t, const char *id);
/* Remembers call `id`, not open here, as ended like es_calls_end() does:
 * earshotd gives it, when it starts, the calls the store holds as ended
 * by their client (at most ES_CALLS_ENDED, the latest), so that a line
 * sent for one of them after a restart is not a new call either. */
void es_calls_ended_add(struct es_calls *t, const char *id);

size_t es_calls_count(const struct es_calls *t);

/* Calls fn for every call (fn must not add or remove calls). */
void es_calls_foreach(struct es_calls *t, void (*fn)(void *ud, struct es_call *c), void *ud);

/* Calls expired by es_calls_expire() whose line count es_calls_open()
 * continues: at least the last ES_CALLS_ABANDONED that had lines, at most
 * twice as many (4 MiB, allocated with the table). */
#define ES_CALLS_ABANDONED 65536

/* Calls fn for, then removes, every call whose last_seen is older than
 * now - idle, remembering its line count (es_calls_open()). Returns how
 * many. */
size_t es_calls_expire(struct es_calls *t, double now, double idle,
                       void (*fn)(void *ud, struct es_call *c), void *ud);

#endif
