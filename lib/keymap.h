/*
 * keymap.h: a bounded map from string keys to ids.
 *
 * earshotd fills one at startup with the alert_key and id of the newest
 * stored alerts, so that the alert of a line a platform sends again after
 * a restart is known as stored, without a database read on the loop
 * (docs/protocol.md, "Acknowledgements"). Filled once, then only read:
 * a lookup hashes the key and compares it whole; nothing is allocated.
 *
 * At most `max` keys, set when it is made: a put past that is
 * ES_ETOOBIG. Keys are copied (each at most ES_KEYMAP_KEY_MAX bytes).
 */
#ifndef ES_KEYMAP_H
#define ES_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

#define ES_KEYMAP_KEY_MAX 1024

struct es_keymap;

/* A map that holds at most `max` keys (max >= 1). NULL: out of memory or
 * max 0. */
struct es_keymap *es_keymap_new(size_t max);
void es_keymap_free(struct es_keymap *m); /* NULL is a no-op */

/* Maps key[0..len) to id (> 0), replacing the id of a key already there.
 * Returns 0, ES_EINVAL (id <= 0, len 0 or over ES_KEYMAP_KEY_MAX),
 * ES_ETOOBIG (the map holds `max` keys), ES_ENOMEM. */
int es_keymap_put(struct es_keymap *m, const char *key, size_t len, int64_t id);

/* The id of key[0..len), or 0 when it is not in the map. */
int64_t es_keymap_get(const struct es_keymap *m, const char *key, size_t len);

size_t es_keymap_count(const struct es_keymap *m);

#endif
