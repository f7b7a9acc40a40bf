/*
 * keymap.h: a bounded map from string keys to ids that forgets its oldest
 * key first.
 *
 * earshotd keeps the alert_key and id of its newest alerts in one: those
 * stored before it started (read from the store at startup) and those it
 * raised since, so that the alert of a line a platform sends again is
 * known by the id it has, without a database read on the loop
 * (docs/protocol.md, "Acknowledgements").
 *
 * At most `max` keys, set when it is made: a new key put into a full map
 * first removes the key that was put longest ago (first in, first out).
 * Keys are copied (each at most ES_KEYMAP_KEY_MAX bytes) one after the
 * other into a ring of bytes that doubles when a key does not fit, so it
 * holds at most about twice the bytes of the `max` newest keys. A key is
 * hashed once (es_keymap_key()) for a lookup and the put that may follow;
 * neither allocates, but for the ring's doubling.
 */
#ifndef ES_KEYMAP_H
#define ES_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#define ES_KEYMAP_KEY_MAX 1024
#define ES_KEYMAP_MAX ((size_t)1 << 20) /* most keys a map can be made for */

struct es_keymap;

/* A key and its hash. p is borrowed: it must not change while the struct
 * is used. */
struct es_keymap_key {
  const char *p;
  size_t len;
  uint32_t hash;
};

/* Fills *k for key[0..len). Returns 0, or ES_EINVAL when len is 0 or over
 * ES_KEYMAP_KEY_MAX (then *k is a key no map holds). */
int es_keymap_key(struct es_keymap_key *k, const char *key, size_t len);

/* A map that holds at most `max` keys (1 to ES_KEYMAP_MAX). NULL: out of
 * memory or max out of range. */
struct es_keymap *es_keymap_new(size_t max);
void es_keymap_free(struct es_keymap *m); /* NULL is a no-op */

/* Maps k to id (> 0). A key already there takes the new id and keeps its
 * place in the order; a new key in a full map takes the place of the
 * oldest, which is removed. Returns 0, ES_EINVAL (id <= 0, or a key
 * es_keymap_key() refused), ES_ENOMEM (the ring of bytes could not grow:
 * the key is not put, and the oldest key may be gone). */
int es_keymap_put(struct es_keymap *m, const struct es_keymap_key *k, int64_t id);

/* The id of k, or 0 when it is not in the map. */
int64_t es_keymap_get(const struct es_keymap *m, const struct es_keymap_key *k);

size_t es_keymap_count(const struct es_keymap *m);

#endif
