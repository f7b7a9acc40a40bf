/*
 * test_calls.c: the open-call table and a call's start metadata.
 */
#include "calls.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "proto.h"
#include "task.h"

/* A start line's metadata as the decoder leaves it in an event. */
static void start_event(struct es_event *ev, const char *const *kv, size_t nattrs) {
  memset(ev, 0, sizeof(*ev));
  ev->type = ES_EV_START;
  ev->call_id = "c-1";
  for (size_t i = 0; i < nattrs; i++) {
    ev->attr_keys[i] = kv[2 * i];
    ev->attr_values[i] = kv[2 * i + 1];
    if (strcmp(kv[2 * i], "agent_id") == 0)
      ev->agent = kv[2 * i + 1];
    if (strcmp(kv[2 * i], "queue") == 0)
      ev->queue = kv[2 * i + 1];
  }
  ev->nattrs = nattrs;
}

/* A start line with no metadata at all: "{}" (this once wrote its NUL one
 * byte past the buffer; AddressSanitizer caught it). */
static void test_meta_empty(void) {
  struct es_calls *t = es_calls_new(10);
  struct es_call *c;
  struct es_event ev;
  int created;

  ASSERT(t != NULL);
  ASSERT_EQ(es_calls_open(t, "c-1", 1.0, &c, &created), 0);
  ASSERT_EQ(created, 1);
  ASSERT_EQ(c->started, 0);
  start_event(&ev, NULL, 0);
  ASSERT_EQ(es_call_set_meta(c, &ev), 0);
  ASSERT_STR_EQ(c->attrs_json, "{}");
  ASSERT(c->agent == NULL);
  ASSERT(c->queue == NULL);
  ASSERT_EQ(c->started, 1);
  es_calls_free(t);
}

/* Every field kept, in order, escaped; agent and queue copied; a second
 * start replaces the first. Values that are JSON text (numbers, true,
 * false, arrays and objects as the decoder keeps them) go in as JSON
 * values, not strings. */
static void test_meta_fields(void) {
  static const char *const kv[] = {"agent_id", "a-7",   "queue",  "billing",
                                   "note",     "say \"hi\"\n", "empty", ""};
  static const char *const kv2[] = {"queue", "sales"};
  static const char *const kv3[] = {"agent_id", "204", "priority", "3", "price", "2.50",
                                    "vip", "true", "tags", "[\"a\",{\"b\":null}]", "lang", "1"};
  struct es_calls *t = es_calls_new(10);
  struct es_call *c;
  struct es_event ev;
  int created;

  ASSERT_EQ(es_calls_open(t, "c-1", 1.0, &c, &created), 0);
  start_event(&ev, kv, 4);
  ASSERT_EQ(es_call_set_meta(c, &ev), 0);
  ASSERT_STR_EQ(c->attrs_json, "{\"agent_id\":\"a-7\",\"queue\":\"billing\","
                               "\"note\":\"say \\\"hi\\\"\\n\",\"empty\":\"\"}");
  ASSERT_STR_EQ(c->agent, "a-7");
  ASSERT_STR_EQ(c->queue, "billing");
  start_event(&ev, kv2, 1);
  ASSERT_EQ(es_call_set_meta(c, &ev), 0);
  ASSERT_STR_EQ(c->attrs_json, "{\"queue\":\"sales\"}");
  ASSERT(c->agent == NULL);
  ASSERT_STR_EQ(c->queue, "sales");
  start_event(&ev, kv3, 6);
  ev.attr_json = 0x1F; /* all but "lang", the string "1" */
  ASSERT_EQ(es_call_set_meta(c, &ev), 0);
  ASSERT_STR_EQ(c->attrs_json, "{\"agent_id\":204,\"priority\":3,\"price\":2.50,\"vip\":true,"
                               "\"tags\":[\"a\",{\"b\":null}],\"lang\":\"1\"}");
  ASSERT_STR_EQ(c->agent, "204");
  ASSERT(c->queue == NULL);
  es_calls_free(t);
}

/* Find, open, remove, the limit on open calls, and ids too long. */
static void test_table(void) {
  struct es_calls *t = es_calls_new(100);
  struct es_call *c, *again;
  char id[ES_CALL_ID_MAX + 2];
  int created;

  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "call-%d", i);
    ASSERT_EQ(es_calls_open(t, id, (double)i, &c, &created), 0);
    ASSERT_EQ(created, 1);
    ASSERT_STR_EQ(c->id, id);
  }
  ASSERT_EQ(es_calls_count(t), 100);
  ASSERT_EQ(es_calls_open(t, "one-more", 0, &c, &created), ES_ETOOBIG);
  ASSERT_EQ(es_calls_open(t, "call-42", 0, &again, &created), 0);
  ASSERT_EQ(created, 0);
  ASSERT(again == es_calls_find(t, "call-42"));
  es_calls_remove(t, again);
  ASSERT(es_calls_find(t, "call-42") == NULL);
  ASSERT_EQ(es_calls_count(t), 99);
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "call-%d", i);
    ASSERT_EQ(es_calls_find(t, id) != NULL, i != 42);
  }
  memset(id, 'x', ES_CALL_ID_MAX + 1);
  id[ES_CALL_ID_MAX + 1] = '\0';
  ASSERT_EQ(es_calls_open(t, id, 0, &c, &created), ES_EINVAL);
  ASSERT_EQ(es_calls_open(t, "", 0, &c, &created), ES_EINVAL);
  es_calls_free(t);
  es_calls_free(NULL);
}

static void utterance(struct es_event *ev, int64_t seq, int has_seq, double ts, const char *text) {
  memset(ev, 0, sizeof(*ev));
  ev->type = ES_EV_UTTERANCE;
  ev->call_id = "c-1";
  ev->speaker = ES_SPEAKER_CUSTOMER;
  ev->text = text;
  ev->text_len = strlen(text);
  ev->seq = seq;
  ev->has_seq = (unsigned)has_seq;
  ev->ts = ts;
  ev->has_ts = 1;
}

/* A line sent again is recognised among the call's last ES_CALL_RECENT;
 * one that differs in speaker, seq or text is not. */
static void test_seen(void) {
  struct es_calls *t = es_calls_new(10);
  struct es_call *c;
  struct es_event ev;
  int created;
  char text[64];

  ASSERT_EQ(es_calls_open(t, "c-1", 1.0, &c, &created), 0);
  utterance(&ev, 7, 1, 3.5, "I want your manager");
  uint64_t k = es_line_key(&ev);
  ASSERT(k != 0);
  ASSERT_EQ(es_call_seen(c, &ev, k), 0);
  ASSERT_EQ(es_call_seen(c, &ev, k), 1);
  /* Each field counts: seq, text (same length too), speaker; ts only
   * without a seq. */
  utterance(&ev, 8, 1, 3.5, "I want your manager");
  ASSERT(es_line_key(&ev) != k);
  utterance(&ev, 7, 1, 3.5, "I want your managex");
  ASSERT(es_line_key(&ev) != k);
  utterance(&ev, 7, 1, 9.0, "I want your manager");
  ASSERT_EQ(es_line_key(&ev), k);
  ev.speaker = ES_SPEAKER_AGENT;
  ASSERT(es_line_key(&ev) != k);
  utterance(&ev, 0, 0, 3.5, "I want your manager");
  uint64_t kt = es_line_key(&ev);
  ASSERT(kt != 0 && kt != k);
  ev.ts = 3.25;
  ASSERT(es_line_key(&ev) != kt);
  ev.has_ts = 0;
  ASSERT_EQ(es_line_key(&ev), 0);

  /* The window: the last ES_CALL_RECENT lines, the first forgotten after. */
  for (int i = 0; i < ES_CALL_RECENT; i++) {
    snprintf(text, sizeof(text), "line %d", i);
    utterance(&ev, 100 + i, 1, 0, text);
    ASSERT_EQ(es_call_seen(c, &ev, es_line_key(&ev)), 0);
  }
  ASSERT_EQ(es_call_seen(c, &ev, k), 0); /* pushed out, remembered again */
  utterance(&ev, 100 + ES_CALL_RECENT - 1, 1, 0, "line 31");
  ASSERT_EQ(es_call_seen(c, &ev, es_line_key(&ev)), 1);
  es_calls_free(t);
}

/* Calls closed by es_calls_end() are recognised, at least the last
 * ES_CALLS_ENDED of them; others are not. */
static void test_ended(void) {
  struct es_calls *t = es_calls_new(10);
  struct es_call *c;
  int created;
  char id[32];

  ASSERT_EQ(es_calls_open(t, "gone", 1.0, &c, &created), 0);
  es_calls_end(t, c);
  ASSERT_EQ(es_calls_count(t), 0);
  ASSERT(es_calls_find(t, "gone") == NULL);
  ASSERT_EQ(es_calls_ended(t, "gone"), 1);
  ASSERT_EQ(es_calls_ended(t, "other"), 0);
  ASSERT_EQ(es_calls_open(t, "removed", 1.0, &c, &created), 0);
  es_calls_remove(t, c);
  ASSERT_EQ(es_calls_ended(t, "removed"), 0);

  for (int i = 0; i < 3 * ES_CALLS_ENDED; i++) {
    snprintf(id, sizeof(id), "c-%d", i);
    ASSERT_EQ(es_calls_open(t, id, 1.0, &c, &created), 0);
    es_calls_end(t, c);
    if (i >= ES_CALLS_ENDED) {
      snprintf(id, sizeof(id), "c-%d", i - ES_CALLS_ENDED + 1);
      ASSERT_EQ(es_calls_ended(t, id), 1);
    }
  }
  ASSERT_EQ(es_calls_ended(t, "gone"), 0); /* forgotten, memory bounded */
  ASSERT_EQ(es_calls_ended(t, "c-0"), 0);
  es_calls_free(t);
}

/* Calls remembered as ended without being open (a restart reads them from
 * the store): the same as ended here, within the same bound. */
static void test_ended_added(void) {
  struct es_calls *t = es_calls_new(10);
  struct es_call *c;
  int created;
  char id[32];

  for (int i = 0; i < ES_CALLS_ENDED; i++) {
    snprintf(id, sizeof(id), "stored-%d", i);
    es_calls_ended_add(t, id);
  }
  es_calls_ended_add(t, "stored-0"); /* once is enough */
  ASSERT_EQ(es_calls_count(t), 0);
  ASSERT_EQ(es_calls_ended(t, "stored-0"), 1);
  snprintf(id, sizeof(id), "stored-%d", ES_CALLS_ENDED - 1);
  ASSERT_EQ(es_calls_ended(t, id), 1);
  snprintf(id, sizeof(id), "stored-%d", ES_CALLS_ENDED);
  ASSERT_EQ(es_calls_ended(t, id), 0);
  /* Remembered for the next ES_CALLS_ENDED ends here, then forgotten. */
  for (int i = 0; i < 2 * ES_CALLS_ENDED; i++) {
    snprintf(id, sizeof(id), "c-%d", i);
    ASSERT_EQ(es_calls_open(t, id, 1.0, &c, &created), 0);
    es_calls_end(t, c);
    if (i == ES_CALLS_ENDED - 1)
      ASSERT_EQ(es_calls_ended(t, "stored-17"), 1);
  }
  ASSERT_EQ(es_calls_ended(t, "stored-17"), 0);
  es_calls_free(t);
}

/* Opens `id` (a new call, `lines` final lines) and expires it. */
static void expire_with(struct es_calls *t, const char *id, uint64_t lines) {
  struct es_call *c;
  int created;
  ASSERT_EQ(es_calls_open(t, id, 1.0, &c, &created), 0);
  ASSERT_EQ(created, 1);
  c->lines = lines;
  ASSERT_EQ(es_calls_expire(t, 2.0, 1.0, NULL, NULL), 1);
}

/* The line count of a call opened again after es_calls_expire() closed it. */
static uint64_t reopened_lines(struct es_calls *t, const char *id) {
  struct es_call *c;
  int created;
  ASSERT_EQ(es_calls_open(t, id, 1.0, &c, &created), 0);
  ASSERT_EQ(created, 1);
  uint64_t lines = c->lines;
  es_calls_remove(t, c);
  return lines;
}

/* A call closed by es_calls_expire() and opened again counts its lines on
 * from where it stopped, the latest life's count winning; the last
 * ES_CALLS_ABANDONED are remembered, then they are forgotten. Other calls,
 * those without lines and those removed or ended, count from 0. */
static void test_abandoned_counts_on(void) {
  struct es_calls *t = es_calls_new(10);
  struct es_call *c;
  int created;
  char id[32];

  ASSERT_EQ(reopened_lines(t, "a"), 0);
  expire_with(t, "a", 5);
  ASSERT_EQ(reopened_lines(t, "a"), 5);
  ASSERT_EQ(reopened_lines(t, "b"), 0);
  expire_with(t, "quiet", 0);
  ASSERT_EQ(reopened_lines(t, "quiet"), 0);
  ASSERT_EQ(es_calls_open(t, "ended", 1.0, &c, &created), 0);
  c->lines = 3;
  es_calls_end(t, c);
  ASSERT_EQ(reopened_lines(t, "ended"), 0);

  /* "a" goes to the older generation; its next life, longer, is kept in
   * the newer one and wins. */
  for (int i = 0; i < ES_CALLS_ABANDONED; i++) {
    snprintf(id, sizeof(id), "c-%d", i);
    expire_with(t, id, 1);
  }
  ASSERT_EQ(reopened_lines(t, "a"), 5);
  expire_with(t, "a", 9);
  ASSERT_EQ(reopened_lines(t, "a"), 9);

  for (int i = 0; i < 2 * ES_CALLS_ABANDONED; i++) {
    snprintf(id, sizeof(id), "d-%d", i);
    expire_with(t, id, (uint64_t)i + 1);
    if (i >= ES_CALLS_ABANDONED) {
      int back = i - ES_CALLS_ABANDONED + 1;
      snprintf(id, sizeof(id), "d-%d", back);
      ASSERT_EQ(reopened_lines(t, id), (uint64_t)back + 1);
    }
  }
  ASSERT_EQ(reopened_lines(t, "a"), 0); /* forgotten, memory bounded */
  ASSERT_EQ(reopened_lines(t, "d-0"), 0);
  es_calls_free(t);
}

int main(void) {
  (void)es_test_failures_;
  RUN(test_meta_empty);
  RUN(test_meta_fields);
  RUN(test_table);
  RUN(test_seen);
  RUN(test_ended);
  RUN(test_ended_added);
  RUN(test_abandoned_counts_on);
  fprintf(stderr, "test_calls: all passed\n");
  return 0;
}
