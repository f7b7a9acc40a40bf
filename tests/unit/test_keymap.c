/*
 * test_keymap.c: the bounded key -> id map in which earshotd keeps the keys
 * of its newest alerts: found whole, the oldest forgotten first.
 */
#include "keymap.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "task.h"

static int64_t get_n(const struct es_keymap *m, const char *key, size_t len) {
  struct es_keymap_key k;
  es_keymap_key(&k, key, len);
  return es_keymap_get(m, &k);
}

static int put_n(struct es_keymap *m, const char *key, size_t len, int64_t id) {
  struct es_keymap_key k;
  es_keymap_key(&k, key, len);
  return es_keymap_put(m, &k, id);
}

static int64_t get(const struct es_keymap *m, const char *key) {
  return get_n(m, key, strlen(key));
}

static int put(struct es_keymap *m, const char *key, int64_t id) {
  return put_n(m, key, strlen(key), id);
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
  ASSERT_EQ(get_n(m, "c-1/s2/00ff/rule.b", 16), 17); /* a length, not a C string */
  /* The same key again takes the new id, and is counted once. */
  ASSERT_EQ(put(m, "c-1/s2/00ff/rule", 21), 0);
  ASSERT_EQ(get(m, "c-1/s2/00ff/rule"), 21);
  ASSERT_EQ(es_keymap_count(m), 2);
  es_keymap_free(m);
  es_keymap_free(NULL);
}

static void test_bounds(void) {
  char key[ES_KEYMAP_KEY_MAX + 2];
  struct es_keymap_key k;
  struct es_keymap *m = es_keymap_new(3);
  ASSERT(es_keymap_new(0) == NULL);
  ASSERT(es_keymap_new(ES_KEYMAP_MAX + 1) == NULL);
  ASSERT_EQ(put(m, "a", 0), ES_EINVAL);
  ASSERT_EQ(put(m, "a", -3), ES_EINVAL);
  ASSERT_EQ(es_keymap_key(&k, "a", 0), ES_EINVAL);
  ASSERT_EQ(es_keymap_put(m, &k, 1), ES_EINVAL);
  memset(key, 'k', sizeof(key));
  ASSERT_EQ(es_keymap_key(&k, key, ES_KEYMAP_KEY_MAX + 1), ES_EINVAL);
  ASSERT_EQ(es_keymap_put(m, &k, 1), ES_EINVAL);
  ASSERT_EQ(es_keymap_get(m, &k), 0);
  ASSERT_EQ(es_keymap_key(&k, key, ES_KEYMAP_KEY_MAX), 0);
  ASSERT_EQ(es_keymap_put(m, &k, 1), 0);
  ASSERT_EQ(es_keymap_get(m, &k), 1);
  ASSERT_EQ(put(m, "b", 2), 0);
  ASSERT_EQ(put(m, "c", 3), 0);
  ASSERT_EQ(es_keymap_count(m), 3);
  /* Full: a new key takes the oldest's place. */
  ASSERT_EQ(put(m, "d", 4), 0);
  ASSERT_EQ(es_keymap_count(m), 3);
  ASSERT_EQ(es_keymap_get(m, &k), 0);
  ASSERT_EQ(get(m, "d"), 4);
  es_keymap_free(m);
}

/* First in, first out; a key put again keeps its place, a key forgotten
 * and put again is the newest. */
static void test_eviction_order(void) {
  struct es_keymap *m = es_keymap_new(3);
  ASSERT_EQ(put(m, "a", 1), 0);
  ASSERT_EQ(put(m, "b", 2), 0);
  ASSERT_EQ(put(m, "c", 3), 0);
  ASSERT_EQ(put(m, "d", 4), 0); /* a goes */
  ASSERT_EQ(get(m, "a"), 0);
  ASSERT_EQ(get(m, "b"), 2);
  ASSERT_EQ(get(m, "c"), 3);
  ASSERT_EQ(get(m, "d"), 4);
  ASSERT_EQ(put(m, "b", 22), 0); /* there: a new id, the same place */
  ASSERT_EQ(es_keymap_count(m), 3);
  ASSERT_EQ(get(m, "b"), 22);
  ASSERT_EQ(put(m, "a", 11), 0); /* back, as the newest: b goes all the same */
  ASSERT_EQ(get(m, "b"), 0);
  ASSERT_EQ(get(m, "a"), 11);
  ASSERT_EQ(put(m, "e", 5), 0); /* then c */
  ASSERT_EQ(get(m, "c"), 0);
  ASSERT_EQ(put(m, "f", 6), 0); /* then d */
  ASSERT_EQ(get(m, "d"), 0);
  ASSERT_EQ(get(m, "a"), 11);
  ASSERT_EQ(get(m, "e"), 5);
  ASSERT_EQ(get(m, "f"), 6);
  ASSERT_EQ(put(m, "g", 7), 0); /* and a, the oldest now */
  ASSERT_EQ(get(m, "a"), 0);
  ASSERT_EQ(es_keymap_count(m), 3);
  es_keymap_free(m);
}

/* Many keys that differ in one byte, as alert keys do (the seq, the rule):
 * every one of the newest N found with its own id, none that was not put,
 * none of the N before them. */
static void test_many(void) {
  enum { N = 65536 };
  char key[96];
  struct es_keymap *m = es_keymap_new(N);
  ASSERT(m != NULL);
  for (int i = 0; i < 3 * N; i++) {
    snprintf(key, sizeof(key), "call-%d/s%d/0123456789abcdef/customer.manager", i % 97, i);
    ASSERT_EQ(put(m, key, 1000 + i), 0);
  }
  ASSERT_EQ(es_keymap_count(m), N);
  for (int i = N; i < 3 * N; i++) {
    snprintf(key, sizeof(key), "call-%d/s%d/0123456789abcdef/customer.manager", i % 97, i);
    ASSERT_EQ(get(m, key), i < 2 * N ? 0 : 1000 + i);
    snprintf(key, sizeof(key), "call-%d/s%d/0123456789abcdef/customer.manager", i % 97 + 1, i);
    ASSERT_EQ(get(m, key), 0);
  }
  es_keymap_free(m);
}

/* Against a model (the last `max` distinct keys put, in order): keys of
 * every length from a small set, so that many are put again, both while
 * held and after they were forgotten; a small index, so that many share
 * their home slots, and keys of up to ES_KEYMAP_KEY_MAX bytes, so that
 * the ring of bytes wraps and grows. */
enum { MODEL_MAX = 7, MODEL_KEYS = 40 };

struct model {
  int held[MODEL_MAX]; /* key numbers, oldest first */
  int n;
  int64_t id[MODEL_KEYS];
};

/* Key k: two digits, then letters; keys 2j and 2j + 1 of one length. */
static size_t model_key(char *buf, int k) {
  size_t len = 2 + (size_t)(k / 2) * 131 % (ES_KEYMAP_KEY_MAX - 1);
  buf[0] = (char)('0' + k / 10);
  buf[1] = (char)('0' + k % 10);
  for (size_t i = 2; i < len; i++)
    buf[i] = (char)('a' + (k / 2 + (int)i) % 26);
  return len;
}

static int model_find(const struct model *md, int key) {
  for (int i = 0; i < md->n; i++)
    if (md->held[i] == key)
      return i;
  return -1;
}

static void model_put(struct model *md, int key, int64_t id) {
  if (model_find(md, key) < 0) {
    if (md->n == MODEL_MAX) {
      memmove(md->held, md->held + 1, sizeof(md->held[0]) * (MODEL_MAX - 1));
      md->n--;
    }
    md->held[md->n++] = key;
  }
  md->id[key] = id;
}

static void test_against_model(void) {
  static char buf[MODEL_KEYS][ES_KEYMAP_KEY_MAX];
  size_t len[MODEL_KEYS];
  struct model md = {{0}, 0, {0}};
  struct es_keymap *m = es_keymap_new(MODEL_MAX);
  uint64_t rng = 0x2545f4914f6cdd1dULL;
  for (int k = 0; k < MODEL_KEYS; k++)
    len[k] = model_key(buf[k], k);
  for (int64_t step = 1; step <= 200000; step++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    int key = (int)(rng % MODEL_KEYS);
    ASSERT_EQ(put_n(m, buf[key], len[key], step), 0);
    model_put(&md, key, step);
    ASSERT_EQ(es_keymap_count(m), md.n);
    if (step % 97 == 0 || step < 500) {
      for (int k = 0; k < MODEL_KEYS; k++)
        ASSERT_EQ(get_n(m, buf[k], len[k]), model_find(&md, k) >= 0 ? md.id[k] : 0);
    }
  }
  es_keymap_free(m);
}

int main(void) {
  RUN(test_put_get);
  RUN(test_bounds);
  RUN(test_eviction_order);
  RUN(test_many);
  RUN(test_against_model);
  return 0;
}
