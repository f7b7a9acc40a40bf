/*
 * jsonrun.h: the plain runs of JSON strings, sixteen bytes at a time,
 * and JSON's number grammar. Internal to libearshot: the decoder
 * (proto.c) reads strings with it and the alert writer (alert.c) escapes
 * them with it; the decoder and the store (store.c) check numbers with it.
 *
 * On x86-64 with SSE2; ES_SCALAR builds the portable code instead
 * (as on other machines), which tests/unit checks too.
 */
#ifndef ES_JSONRUN_H
#define ES_JSONRUN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(ES_SCALAR)
#include <emmintrin.h>
#define ES_JSONRUN_SSE2 1
#else
#define ES_JSONRUN_SSE2 0
#endif

/* Copies the plain run of a JSON string that starts at s[j] to out + *o
 * and returns the offset of the byte that ends it ('"', '\\' or a control
 * byte below 0x20), or len; *o advances by the bytes copied.
 *
 * Whole blocks are stored before they are looked at, so up to 15 bytes
 * past the run are written too: the caller makes sure out has room for
 * len - j bytes from *o (a block is only read, and stored, when it lies
 * within s[j..len), and the run is copied byte for byte).
 *
 * With SSE2, sixteen bytes at a time; then eight (SWAR, as in "Bit
 * Twiddling Hacks": a byte of x is zero when (x - 0x01..) & ~x & 0x80..
 * has its high bit; a byte below n when (x - n..) & ~x & 0x80..); then
 * byte by byte for the tail. The first flagged SWAR byte is exact: a
 * borrow only runs upwards from a byte that is itself flagged, so false
 * positives sit above the first true one (little-endian only: there the
 * first byte in memory is the least significant). */
static inline size_t es__json_copy_run(const char *s, size_t j, size_t len, char *out, size_t *o) {
#if ES_JSONRUN_SSE2
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  const __m128i ctl = _mm_set1_epi8(0x1F);
  while (j + 16 <= len) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + j));
    _mm_storeu_si128((__m128i *)(void *)(out + *o), x);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                               _mm_cmpeq_epi8(_mm_min_epu8(x, ctl), x));
    unsigned m = (unsigned)_mm_movemask_epi8(hit);
    if (m) {
      *o += (size_t)__builtin_ctz(m);
      return j + (size_t)__builtin_ctz(m);
    }
    j += 16;
    *o += 16;
  }
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  while (j + 8 <= len) {
    uint64_t x, q, b;
    memcpy(&x, s + j, 8);
    memcpy(out + *o, &x, 8);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');
    uint64_t hit = (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x)) & highs;
    if (hit) {
      *o += (size_t)(__builtin_ctzll(hit) / 8);
      return j + (size_t)(__builtin_ctzll(hit) / 8);
    }
    j += 8;
    *o += 8;
  }
#endif
  while (j < len && s[j] != '"' && s[j] != '\\' && (unsigned char)s[j] >= 0x20)
    out[(*o)++] = s[j++];
  return j;
}

/* The end of the JSON number that starts at s[i] (RFC 8259:
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, the longest such), or i
 * when none does. */
static inline size_t es__json_number_end(const char *s, size_t i, size_t len) {
  size_t j = i;
  if (j < len && s[j] == '-')
    j++;
  if (j < len && s[j] == '0')
    j++;
  else if (j < len && s[j] >= '1' && s[j] <= '9')
    while (j < len && s[j] >= '0' && s[j] <= '9')
      j++;
  else
    return i;
  if (j + 1 < len && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9')
    for (j++; j < len && s[j] >= '0' && s[j] <= '9'; j++)
      ;
  if (j < len && (s[j] == 'e' || s[j] == 'E')) {
    size_t e = j + 1;
    if (e < len && (s[e] == '+' || s[e] == '-'))
      e++;
    if (e < len && s[e] >= '0' && s[e] <= '9') {
      while (e < len && s[e] >= '0' && s[e] <= '9')
        e++;
      j = e;
    }
  }
  return j;
}

#endif
