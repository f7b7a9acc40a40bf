/*
 * prng.h: the tests' fixed-seed PRNG (xorshift64*), so that every run
 * tests the same inputs. Header-only; one state per test program.
 */
#ifndef ES_TEST_PRNG_H
#define ES_TEST_PRNG_H

#include <stdint.h>

static uint64_t prng_state = 1;

static inline void prng_seed(uint64_t seed) { prng_state = seed ? seed : 1; }

static inline uint32_t prng_next(void) {
  prng_state ^= prng_state >> 12;
  prng_state ^= prng_state << 25;
  prng_state ^= prng_state >> 27;
  return (uint32_t)((prng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static inline uint32_t prng_below(uint32_t n) { return prng_next() % n; }

#endif
