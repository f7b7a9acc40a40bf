/*
 * test_keymap.c: the bounded key -> id map earshotd reads stored alert
 * keys into.
 */
#include "keymap.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "task.h"

static int64_t get(const struct es_keymap *m, const char *key) {
  return es_keymap_get(m, key, strlen(key));
}

static int put(struct es_keymap *m, const char *key, int64_t id) {
  return es_keymap_put(m, key, strlen(key), id);
}

static void test_put_get(void) {
  struct es_keymap *m = es_keymap_new(4);
  ASSERT(m != NULL);
  ASSERT_EQ(get(m, "c-1/s2/00ff/rule"), 0); /* empty */
  ASSERT_EQ(put(m, "c-1/s2/00ff/rule", 17), 0);
  ASSERT_EQ(put(m, "c-1/s2/00ff/rule.b", 18), 0);
  ASSERT_EQ(get(m, "c-1/s2/00ff/rule"), 17);
  ASSERT_EQ(get(m, "c-1/s2/00ff/rule.b"), 18);
  /* Whole keys only: a prefix, a longer key, another byte are not it. */
  ASSERT_EQ(get(m, "c-1/s2/00ff/rul"), 0);
  ASSERT_EQ(get(m, "c-1/s2/00ff/rule.bb"), 0);
  ASSERT_EQ(get(m, "c-1/s3/00ff/rule"), 0);
  ASSERT_EQ(es_keymap_get(m, "c-1/s2/00ff/rule.b", 16), 17); /* a length, not a C string */
  /* The same key again takes the new id, and is counted once. */
  ASSERT_EQ(put(m, "c-1/s2/00ff/rule", 21), 0);
  ASSERT_EQ(get(m, "c-1/s2/00ff/rule"), 21);
  ASSERT_EQ(es_keymap_count(m), 2);
  es_keymap_free(m);
  es_keymap_free(NULL);
}

static void test_bounds(void) {
  char key[ES_KEYMAP_KEY_MAX + 2];
  struct es_keymap *m = es_keymap_new(3);
  ASSERT(es_keymap_new(0) == NULL);
  ASSERT_EQ(put(m, "a", 0), ES_EINVAL);
  ASSERT_EQ(put(m, "a", -3), ES_EINVAL);
  ASSERT_EQ(es_keymap_put(m, "a", 0, 1), ES_EINVAL);
  memset(key, 'k', sizeof(key));
  ASSERT_EQ(es_keymap_put(m, key, ES_KEYMAP_KEY_MAX + 1, 1), ES_EINVAL);
  ASSERT_EQ(es_keymap_get(m, key, ES_KEYMAP_KEY_MAX + 1), 0);
  ASSERT_EQ(es_keymap_put(m, key, ES_KEYMAP_KEY_MAX, 1), 0);
  ASSERT_EQ(put(m, "b", 2), 0);
  ASSERT_EQ(put(m, "c", 3), 0);
  ASSERT_EQ(put(m, "d", 4), ES_ETOOBIG); /* full */
  ASSERT_EQ(put(m, "c", 5), 0);          /* but a key it holds takes a new id */
  ASSERT_EQ(es_keymap_count(m), 3);
  ASSERT_EQ(es_keymap_get(m, key, ES_KEYMAP_KEY_MAX), 1);
  ASSERT_EQ(get(m, "d"), 0);
  es_keymap_free(m);
}

/* Many keys that differ in one byte, as alert keys do (the seq, the rule):
 * every one found with its own id, none that was not put. */
static void test_many(void) {
  enum { N = 65536 };
  char key[96];
  struct es_keymap *m = es_keymap_new(N);
  ASSERT(m != NULL);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "call-%d/s%d/0123456789abcdef/customer.manager", i % 97, i);
    ASSERT_EQ(put(m, key, 1000 + i), 0);
  }
  ASSERT_EQ(es_keymap_count(m), N);
  for (int i = 0; i < N; i++) {
    snprintf(key, sizeof(key), "call-%d/s%d/0123456789abcdef/customer.manager", i % 97, i);
    ASSERT_EQ(get(m, key), 1000 + i);
    snprintf(key, sizeof(key), "call-%d/s%d/0123456789abcdef/customer.manager", i % 97 + 1, i);
    ASSERT_EQ(get(m, key), 0);
  }
  es_keymap_free(m);
}

int main(void) {
  RUN(test_put_get);
  RUN(test_bounds);
  RUN(test_many);
  return 0;
}
