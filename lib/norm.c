/*
 * norm.c: UTF-8 validation and the normalisation described in norm.h.
 *
 * The normaliser is on the per-line hot path, so it is a byte-class table
 * and a tight loop; the span mapping is only needed for lines that hit and
 * simply re-runs the same walk.
 */
#include "norm.h"

#include <string.h>
/* ES_SCALAR builds the portable code, as on machines without SSE2
 * (tests/unit checks it too). */
#if defined(__SSE2__) && !defined(ES_SCALAR)
#include <emmintrin.h>
#define ES_NORM_SSE2 1
#else
#define ES_NORM_SSE2 0
#endif

int es_utf8_valid(const char *text, size_t len) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;

  while (i < len) {
    unsigned char c = s[i];
    /* Most lines are ASCII: check sixteen bytes at a time (SSE2), then
     * eight, for a high bit or a NUL byte (the classic "has zero byte"
     * test). */
#if ES_NORM_SSE2
    while (i + 16 <= len) {
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
      if (_mm_movemask_epi8(_mm_or_si128(x, _mm_cmpeq_epi8(x, _mm_setzero_si128()))))
        break;
      i += 16;
    }
#endif
    while (i + 8 <= len) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ULL) || ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
        break;
      i += 8;
    }
    if (i >= len)
      break;
    c = s[i];
    if (c < 0x80) {
      if (c == 0)
        return 0;
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      if (i + 1 >= len || (s[i + 1] & 0xC0) != 0x80)
        return 0;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (i + 2 >= len || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80)
        return 0;
      if (c == 0xE0 && s[i + 1] < 0xA0)
        return 0; /* overlong */
      if (c == 0xED && s[i + 1] > 0x9F)
        return 0; /* surrogate */
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (i + 3 >= len || (s[i + 1] & 0xC0) != 0x80 || (s[i + 2] & 0xC0) != 0x80 ||
          (s[i + 3] & 0xC0) != 0x80)
        return 0;
      if (c == 0xF0 && s[i + 1] < 0x90)
        return 0; /* overlong */
      if (c == 0xF4 && s[i + 1] > 0x8F)
        return 0; /* above U+10FFFF */
      i += 4;
    } else {
      return 0;
    }
  }
  return 1;
}

/* What one input byte does. */
enum {
  K_KEEP = 0,  /* letter or digit: copy (lower-cased) */
  K_BREAK,     /* word break */
  K_DROP,      /* apostrophe: delete */
  K_MB,        /* start of a multi-byte sequence: decide by code point */
  K_FOLD_S,    /* U+017F: written as "s" */
  K_FOLD_K,    /* U+212A: written as "k" */
};

static const unsigned char byte_kind[256] = {
#define B K_BREAK
  /* 0x00 */ B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
  /* 0x10 */ B, B, B, B, B, B, B, B, B, B, B, B, B, B, B, B,
  /* 0x20 */ B, B, B, B, B, B, B, K_DROP, B, B, B, B, B, B, B, B,
  /* 0x30 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, B, B,
  /* 0x40 */ B, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 0x50 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, B,
  /* 0x60 */ K_DROP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 0x70 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, B, B, B, B, B,
#undef B
  /* 0x80..0xFF: continuation bytes never start a character here; lead
   * bytes are decided by code point. */
#define M16 K_MB, K_MB, K_MB, K_MB, K_MB, K_MB, K_MB, K_MB, \
            K_MB, K_MB, K_MB, K_MB, K_MB, K_MB, K_MB, K_MB
  M16, M16, M16, M16, M16, M16, M16, M16,
#undef M16
};

static const unsigned char lower_ascii[128] = {
  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
  ' ', '!', '"', '#', '$', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/',
  '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?',
  '@', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '[', '\\', ']', '^', '_',
  '`', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', '{', '|', '}', '~', 127,
};

/* Decodes the multi-byte character at s[i] (valid UTF-8 assumed, but stays
 * in bounds regardless) and says what it does; *n gets its byte length. */
static int mb_kind(const unsigned char *s, size_t i, size_t len, size_t *n) {
  unsigned char c = s[i];
  unsigned cp;

  if (c >= 0xF0 && i + 3 < len) {
    *n = 4;
    return K_KEEP;
  }
  if (c >= 0xE0 && i + 2 < len) {
    *n = 3;
    cp = ((unsigned)(c & 0x0F) << 12) | ((unsigned)(s[i + 1] & 0x3F) << 6) |
         (unsigned)(s[i + 2] & 0x3F);
    if (cp == 0x2018 || cp == 0x2019)
      return K_DROP;
    if (cp == 0x212A)
      return K_FOLD_K;
    if ((cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000)
      return K_BREAK;
    return K_KEEP;
  }
  if (c >= 0xC0 && i + 1 < len) {
    *n = 2;
    cp = ((unsigned)(c & 0x1F) << 6) | (unsigned)(s[i + 1] & 0x3F);
    if (cp == 0x02BC || cp == 0x00B4)
      return K_DROP;
    if (cp == 0x017F)
      return K_FOLD_S;
    if (cp == 0x00A0 || cp == 0x00A1 || cp == 0x00AB || cp == 0x00BB || cp == 0x00BF)
      return K_BREAK;
    return K_KEEP;
  }
  *n = 1; /* stray byte: cannot happen on validated input */
  return K_BREAK;
}

/* The one walk behind es_norm() and es_norm_span(). When `out` is NULL
 * nothing is written; instead the walk stops once normalised position
 * `want` has been produced and reports the input range behind it. */
struct walk_stop {
  size_t want;     /* normalised offset to locate */
  size_t in_start; /* OUT: first input byte behind it */
  size_t in_end;   /* OUT: one past the last input byte behind it */
  int found;
};

static size_t walk(const char *text, size_t len, char *out, struct walk_stop *stop) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0, o = 1, w;
  int pending_break = 0;
  size_t break_start = 0, break_end = 0;

  if (out)
    out[0] = ' ';
  while (i < len) {
    unsigned char c = s[i];
    size_t n = 1;
    int kind = byte_kind[c];

    if (kind == K_MB)
      kind = mb_kind(s, i, len, &n);
    if (kind == K_BREAK) {
      if (!pending_break)
        break_start = i;
      pending_break = 1;
      break_end = i + n;
      i += n;
      continue;
    }
    if (kind == K_DROP) {
      i += n;
      continue;
    }
    if (pending_break) {
      /* Breaks before the first word fold into the leading pad. */
      if (o > 1) {
        if (stop && stop->want == o) {
          stop->in_start = break_start;
          stop->in_end = break_end;
          stop->found = 1;
          return o;
        }
        if (out)
          out[o] = ' ';
        o++;
      }
      pending_break = 0;
    }
    /* Folded characters take one output byte for their n input bytes. */
    w = kind == K_FOLD_S || kind == K_FOLD_K ? 1 : n;
    if (stop && stop->want >= o && stop->want < o + w) {
      stop->in_start = i;
      stop->in_end = i + n;
      stop->found = 1;
      return o;
    }
    if (out) {
      if (kind == K_FOLD_S || kind == K_FOLD_K)
        out[o] = kind == K_FOLD_S ? 's' : 'k';
      else if (n == 1)
        out[o] = (char)lower_ascii[c];
      else
        memcpy(out + o, s + i, n);
    }
    o += w;
    i += n;
  }
  /* A line without a word is the empty line: one pad space, not two. */
  if (o == 1)
    return 1;
  if (out)
    out[o] = ' ';
  return o + 1;
}

/* Output byte for each input byte: the lower-cased letter or digit, or
 * one of the markers: 0 a word break, 1 an apostrophe (dropped), 2 the
 * lead or continuation byte of a multi-byte character. Agrees with
 * byte_kind and lower_ascii above (test_norm checks es_norm against the
 * general walk). */
enum { M_BREAK = 0, M_DROP = 1, M_MB = 2 };
static const unsigned char norm_map[256] = {
  /* 0x00 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 0x10 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 0x20 */ 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
  /* 0x30 */ '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 0, 0, 0, 0, 0, 0,
  /* 0x40 */ 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  /* 0x50 */ 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
  /* 0x60 */ 1, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o',
  /* 0x70 */ 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 0, 0, 0, 0, 0,
  /* 0x80 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0x90 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0xA0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0xB0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0xC0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0xD0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0xE0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
  /* 0xF0 */ 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};


/* es_norm() is on every line's path: the same walk as above, specialised
 * for writing, with one table lookup per ASCII byte. es__norm_walk() keeps
 * the general walk reachable so tests can check the two agree. */
#if ES_NORM_SSE2
/* Sixteen bytes at s[i] as one block, when that is exact: every byte
 * ASCII, none dropped (an apostrophe), no two breaks side by side, and
 * after the last letter or digit of the block only breaks (they are left
 * for the byte loop, which knows whether a word follows). Letters are
 * lower-cased, digits kept and each break written as one space: what the
 * byte loop writes when the output already ends in a word (the caller
 * checks). Stores sixteen bytes at out + o (capacity len + 2, and o <= i
 * + 1) and returns the input bytes taken, or 0 with *skip the bytes the
 * byte loop should take before the next try. */
static size_t norm_block(const unsigned char *s, char *out, size_t *skip) {
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
  __m128i y = _mm_or_si128(x, _mm_set1_epi8(0x20));
  __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
  __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(y, _mm_set1_epi8('a' - 1)),
                                 _mm_cmplt_epi8(y, _mm_set1_epi8('z' + 1)));
  __m128i keep = _mm_or_si128(digit, letter);
  __m128i drop = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\'')),
                              _mm_cmpeq_epi8(x, _mm_set1_epi8('`')));
  unsigned k = (unsigned)_mm_movemask_epi8(keep);
  unsigned bad = (unsigned)(_mm_movemask_epi8(x) | _mm_movemask_epi8(drop));
  unsigned brk = ~k & 0xFFFFu;
  if (k == 0) {
    *skip = 16;
    return 0;
  }
  unsigned n = 32u - (unsigned)__builtin_clz(k); /* just past the last word byte */
  unsigned span = (1u << n) - 1;
  bad = (bad | (brk & (brk << 1))) & span;
  if (bad) {
    *skip = (size_t)__builtin_ctz(bad) + 1;
    return 0;
  }
  __m128i w = _mm_or_si128(_mm_and_si128(keep, y), _mm_andnot_si128(keep, _mm_set1_epi8(' ')));
  _mm_storeu_si128((__m128i *)(void *)out, w);
  return n;
}
#endif

size_t es_norm(const char *text, size_t len, char *out) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0, o = 1;
  int brk = 0;
#if ES_NORM_SSE2
  size_t next_block = 0; /* no block tried below this offset */
#endif

  out[0] = ' ';
  while (i < len) {
#if ES_NORM_SSE2
    if (!brk && o > 1 && i >= next_block && i + 16 <= len) {
      size_t skip = 0, n = norm_block(s + i, out + o, &skip);
      if (n) {
        i += n;
        o += n;
        continue;
      }
      next_block = i + skip;
    }
#endif
    unsigned char m = norm_map[s[i]];
    if (m > M_MB) {
      if (brk) {
        if (o > 1)
          out[o++] = ' ';
        brk = 0;
      }
      out[o++] = (char)m;
      i++;
      continue;
    }
    if (m == M_BREAK) {
      brk = 1;
      i++;
      continue;
    }
    if (m == M_DROP) {
      i++;
      continue;
    }
    size_t n;
    int kind = mb_kind(s, i, len, &n);
    if (kind == K_BREAK) {
      brk = 1;
    } else if (kind != K_DROP) {
      if (brk) {
        if (o > 1)
          out[o++] = ' ';
        brk = 0;
      }
      if (kind == K_FOLD_S || kind == K_FOLD_K) {
        out[o++] = kind == K_FOLD_S ? 's' : 'k';
      } else {
        memcpy(out + o, s + i, n);
        o += n;
      }
    }
    i += n;
  }
  if (o == 1)
    return 1;
  out[o++] = ' ';
  return o;
}

size_t es__norm_walk(const char *text, size_t len, char *out);
size_t es__norm_walk(const char *text, size_t len, char *out) {
  return walk(text, len, out, NULL);
}

void es_norm_span(const char *text, size_t len, size_t nstart, size_t nend,
                  size_t *start, size_t *end) {
  struct walk_stop st;

  *start = 0;
  *end = len;
  if (nstart > 0) {
    memset(&st, 0, sizeof(st));
    st.want = nstart;
    walk(text, len, NULL, &st);
    *start = st.found ? st.in_start : len;
  }
  if (nend > 0) {
    memset(&st, 0, sizeof(st));
    st.want = nend - 1;
    if (st.want == 0) {
      *end = 0;
    } else {
      walk(text, len, NULL, &st);
      *end = st.found ? st.in_end : len;
    }
  }
  if (*end < *start)
    *end = *start;
}

size_t es_utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max)
    return len;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
    max--;
  return max;
}
