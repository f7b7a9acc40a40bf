/*
 * hash.h: a fast 64-bit hash of a byte string, eight bytes at a time.
 * Internal to libearshot: a call's line keys (calls.c) and the keys of
 * earshotd's map of stored alerts (keymap.c). For tables, not for
 * adversaries nor for anything stored.
 */
#ifndef ES_HASH_H
#define ES_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Mixes p[0..n) and n into h and returns it. */
static inline uint64_t es__hash_bytes(uint64_t h, const char *p, size_t n) {
  h ^= n;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
  }
  if (n > 0) {
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    h ^= h >> 32;
  }
  return h;
}

#endif
