/* keymap.c: the keys in the order they were put, in a ring of entries
 * (their bytes in a ring of bytes, in the same order), found through an
 * open-addressing index at most half full. Removing the oldest key moves
 * the slots after it back instead of leaving a tombstone, so that lookups
 * cost the same however many keys have come and gone. */
#include "keymap.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash.h"

struct slot {
  uint32_t hash;  /* the key's; its home slot is hash & mask */
  uint32_t entry; /* 1 + its place in entries[]; 0: free */
};

struct entry {
  int64_t id;
  uint32_t off;   /* the key in bytes[] */
  uint32_t len;
  uint32_t hash;
};

struct es_keymap {
  struct slot *slots;
  size_t mask;            /* slots - 1, a power of two minus one */
  struct entry *entries;  /* a ring of max: count of them from oldest on */
  size_t max, oldest, count;
  char *bytes;            /* the keys, in the same order as entries[] */
  size_t bytes_cap, bytes_end; /* where the newest key ends */
};

int es_keymap_key(struct es_keymap_key *k, const char *key, size_t len) {
  uint64_t h;
  k->p = key;
  k->len = 0;
  k->hash = 0;
  if (len == 0 || len > ES_KEYMAP_KEY_MAX)
    return ES_EINVAL;
  h = es__hash_bytes(0x9e3779b97f4a7c15ULL, key, len);
  k->len = len;
  k->hash = (uint32_t)(h ^ (h >> 32));
  return 0;
}

struct es_keymap *es_keymap_new(size_t max) {
  struct es_keymap *m;
  size_t n = 16;
  if (max == 0 || max > ES_KEYMAP_MAX)
    return NULL;
  while (n < 2 * max)
    n *= 2;
  if ((m = calloc(1, sizeof(*m))) == NULL)
    return NULL;
  /* calloc: a map that holds few keys touches few of its pages. */
  if ((m->slots = calloc(n, sizeof(*m->slots))) == NULL ||
      (m->entries = calloc(max, sizeof(*m->entries))) == NULL)
    goto fail;
  m->mask = n - 1;
  m->max = max;
  return m;
fail:
  es_keymap_free(m);
  return NULL;
}

void es_keymap_free(struct es_keymap *m) {
  if (m == NULL)
    return;
  free(m->slots);
  free(m->entries);
  free(m->bytes);
  free(m);
}

static size_t next_entry(const struct es_keymap *m, size_t at) {
  return at + 1 == m->max ? 0 : at + 1;
}

/* The slot holding k, or the free slot where it would go. */
static size_t find(const struct es_keymap *m, const struct es_keymap_key *k) {
  for (size_t i = k->hash & m->mask;; i = (i + 1) & m->mask) {
    const struct slot *s = &m->slots[i];
    const struct entry *e;
    if (s->entry == 0)
      return i;
    e = &m->entries[s->entry - 1];
    if (s->hash == k->hash && e->len == k->len && memcmp(m->bytes + e->off, k->p, k->len) == 0)
      return i;
  }
}

static void remove_oldest(struct es_keymap *m) {
  const struct entry *e = &m->entries[m->oldest];
  size_t hole = e->hash & m->mask, j;

  while (m->slots[hole].entry != m->oldest + 1)
    hole = (hole + 1) & m->mask;
  /* Each later slot of the run moves into the hole unless its home lies
   * after the hole (then a lookup starting there would not pass the hole),
   * and leaves a hole of its own. */
  for (j = hole;;) {
    j = (j + 1) & m->mask;
    if (m->slots[j].entry == 0)
      break;
    size_t home = m->slots[j].hash & m->mask;
    if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole].entry = 0;
  m->oldest = next_entry(m, m->oldest);
  m->count--;
}

/* Copies the keys, oldest first, to the start of a buffer at least twice
 * as big with room for len more bytes. */
static int grow(struct es_keymap *m, size_t len) {
  size_t live = 0, cap = m->bytes_cap ? 2 * m->bytes_cap : 4096, at = 0;
  char *p;
  for (size_t i = 0, k = m->oldest; i < m->count; i++, k = next_entry(m, k))
    live += m->entries[k].len;
  while (cap < live + len)
    cap *= 2;
  if (cap > UINT32_MAX || (p = malloc(cap)) == NULL)
    return ES_ENOMEM;
  for (size_t i = 0, k = m->oldest; i < m->count; i++, k = next_entry(m, k)) {
    struct entry *e = &m->entries[k];
    memcpy(p + at, m->bytes + e->off, e->len);
    e->off = (uint32_t)at;
    at += e->len;
  }
  free(m->bytes);
  m->bytes = p;
  m->bytes_cap = cap;
  m->bytes_end = at;
  return 0;
}

/* Where a key of len bytes goes: after the newest, or at the start of the
 * buffer when it does not fit before its end. The keys held are
 * [oldest's off, bytes_end), or once they wrap [oldest's off, the end of
 * the last key before the wrap) and [0, bytes_end): bytes_end never
 * reaches the oldest's off while keys are held, so that the two cases can
 * be told apart. */
static int place(struct es_keymap *m, size_t len, size_t *off) {
  for (int grown = 0;; grown = 1) {
    size_t end = m->count ? m->bytes_end : 0;
    size_t tail = m->count ? m->entries[m->oldest].off : 0;
    if (end >= tail && end + len <= m->bytes_cap) {
      *off = end;
      return 0;
    }
    if ((end >= tail && len < tail) || (end < tail && end + len < tail)) {
      *off = end >= tail ? 0 : end;
      return 0;
    }
    if (grown || grow(m, len) != 0)
      return ES_ENOMEM;
  }
}

int es_keymap_put(struct es_keymap *m, const struct es_keymap_key *k, int64_t id) {
  size_t i, off, at;
  struct entry *e;

  if (id <= 0 || k->len == 0 || k->len > ES_KEYMAP_KEY_MAX)
    return ES_EINVAL;
  i = find(m, k);
  if (m->slots[i].entry != 0) {
    m->entries[m->slots[i].entry - 1].id = id;
    return 0;
  }
  if (m->count == m->max) {
    remove_oldest(m);
    i = find(m, k); /* the slots may have moved back */
  }
  if (place(m, k->len, &off) != 0)
    return ES_ENOMEM;
  at = m->oldest + m->count;
  if (at >= m->max)
    at -= m->max;
  e = &m->entries[at];
  e->id = id;
  e->off = (uint32_t)off;
  e->len = (uint32_t)k->len;
  e->hash = k->hash;
  memcpy(m->bytes + off, k->p, k->len);
  m->bytes_end = off + k->len;
  m->slots[i].hash = k->hash;
  m->slots[i].entry = (uint32_t)at + 1;
  m->count++;
  return 0;
}

int64_t es_keymap_get(const struct es_keymap *m, const struct es_keymap_key *k) {
  size_t i;
  if (m->count == 0 || k->len == 0 || k->len > ES_KEYMAP_KEY_MAX)
    return 0;
  i = find(m, k);
  return m->slots[i].entry ? m->entries[m->slots[i].entry - 1].id : 0;
}

size_t es_keymap_count(const struct es_keymap *m) { return m->count; }
