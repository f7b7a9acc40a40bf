/* keymap.c: open addressing at most half full, keys back to back in one
 * buffer. */
#include "keymap.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash.h"

struct slot {
  uint64_t hash;  /* 0: free */
  int64_t id;
  uint32_t off;   /* the key in keys[] */
  uint32_t len;
};

struct es_keymap {
  struct slot *slots;
  size_t mask;     /* slots - 1, a power of two minus one */
  size_t count, max;
  char *keys;
  size_t keys_len, keys_cap;
};

/* Every alert's key is hashed (hash.h). Never 0: 0 marks a free slot. */
static uint64_t hash_key(const char *p, size_t n) {
  uint64_t h = es__hash_bytes(0x9e3779b97f4a7c15ULL, p, n);
  h ^= h >> 31;
  return h ? h : 1;
}

struct es_keymap *es_keymap_new(size_t max) {
  struct es_keymap *m;
  size_t n = 16;
  if (max == 0 || max > (SIZE_MAX / sizeof(struct slot)) / 4)
    return NULL;
  while (n < 2 * max)
    n *= 2;
  if ((m = calloc(1, sizeof(*m))) == NULL)
    return NULL;
  /* calloc: a map filled with few keys touches few of its pages. */
  if ((m->slots = calloc(n, sizeof(*m->slots))) == NULL) {
    free(m);
    return NULL;
  }
  m->mask = n - 1;
  m->max = max;
  return m;
}

void es_keymap_free(struct es_keymap *m) {
  if (m == NULL)
    return;
  free(m->slots);
  free(m->keys);
  free(m);
}

/* The slot holding key, or the free slot where it would go. */
static struct slot *find(const struct es_keymap *m, const char *key, size_t len, uint64_t h) {
  for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
    struct slot *s = &m->slots[i];
    if (s->hash == 0 ||
        (s->hash == h && s->len == len && memcmp(m->keys + s->off, key, len) == 0))
      return s;
  }
}

int es_keymap_put(struct es_keymap *m, const char *key, size_t len, int64_t id) {
  uint64_t h;
  struct slot *s;
  if (id <= 0 || len == 0 || len > ES_KEYMAP_KEY_MAX)
    return ES_EINVAL;
  h = hash_key(key, len);
  s = find(m, key, len, h);
  if (s->hash != 0) {
    s->id = id;
    return 0;
  }
  if (m->count == m->max || m->keys_len + len > UINT32_MAX)
    return ES_ETOOBIG;
  if (m->keys_len + len > m->keys_cap) {
    size_t cap = m->keys_cap ? m->keys_cap : 4096;
    while (cap < m->keys_len + len)
      cap *= 2;
    char *p = realloc(m->keys, cap);
    if (p == NULL)
      return ES_ENOMEM;
    m->keys = p;
    m->keys_cap = cap;
  }
  memcpy(m->keys + m->keys_len, key, len);
  s->hash = h;
  s->id = id;
  s->off = (uint32_t)m->keys_len;
  s->len = (uint32_t)len;
  m->keys_len += len;
  m->count++;
  return 0;
}

int64_t es_keymap_get(const struct es_keymap *m, const char *key, size_t len) {
  if (m->count == 0 || len == 0 || len > ES_KEYMAP_KEY_MAX)
    return 0;
  return find(m, key, len, hash_key(key, len))->id;
}

size_t es_keymap_count(const struct es_keymap *m) { return m->count; }
