/*
 * numfmt.c: doubles as JSON numbers (see numfmt.h).
 *
 * The fast path: if v == m / 10^k exactly (as doubles) for an integer m
 * with |m| < 10^15 and k <= 3, the decimal d = m / 10^k has at most 15
 * significant digits, reads back as v (m / 10^k is correctly rounded,
 * and so is strtod), and is what "%.15g" prints for v: d lies on the
 * 15-digit grid at its magnitude, v is within half an ulp of it, far less
 * than half a grid step, and %g prints fixed notation for exponents -4 to
 * 14 with trailing zeros removed. Anything else (negative zero, more
 * digits, very large or small values) takes the printf path.
 */
#include "numfmt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const double pow10_[] = {1.0, 10.0, 100.0, 1000.0};

static size_t fmt_slow(double v, char *out) {
  int n = snprintf(out, ES_FMT_DOUBLE_MAX, "%.15g", v);
  if (strtod(out, NULL) != v)
    n = snprintf(out, ES_FMT_DOUBLE_MAX, "%.17g", v);
  return (size_t)n;
}

/* The fast path: writes v and returns its length, or 0 when v is not
 * m / 10^k as above (the caller takes a printf path). */
static size_t fmt_fast(double v, char *out) {
  if (v == 0 && signbit(v))
    return 0;
  for (int k = 0; k <= 3; k++) {
    double scaled = v * pow10_[k];
    if (!(fabs(scaled) < 1e15))
      return 0;
    int64_t m = (int64_t)llround(scaled);
    if ((double)m / pow10_[k] != v)
      continue;
    /* d = m / 10^k: digits of |m|, a point k digits from the right,
     * trailing fraction zeros dropped. */
    char digits[24];
    size_t nd = 0, len = 0;
    uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    int frac = k;
    while (frac > 0 && u % 10 == 0) {
      u /= 10;
      frac--;
    }
    do {
      digits[nd++] = (char)('0' + u % 10);
      u /= 10;
    } while (u > 0);
    while (nd <= (size_t)frac) /* 0.005: "5" becomes "005" */
      digits[nd++] = '0';
    if (m < 0)
      out[len++] = '-';
    for (size_t i = nd; i > 0; i--) {
      out[len++] = digits[i - 1];
      if (frac > 0 && i - 1 == (size_t)frac)
        out[len++] = '.';
    }
    out[len] = '\0';
    return len;
  }
  return 0;
}

size_t es_fmt_double(double v, char out[ES_FMT_DOUBLE_MAX]) {
  size_t n = fmt_fast(v, out);
  return n ? n : fmt_slow(v, out);
}

size_t es_fmt_i64(int64_t v, char out[ES_FMT_INT_MAX]) {
  char digits[20];
  size_t nd = 0, len = 0;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    digits[nd++] = (char)('0' + u % 10);
    u /= 10;
  } while (u > 0);
  if (v < 0)
    out[len++] = '-';
  while (nd > 0)
    out[len++] = digits[--nd];
  out[len] = '\0';
  return len;
}

size_t es_fmt_g15(double v, char out[ES_FMT_DOUBLE_MAX]) {
  size_t n = fmt_fast(v, out);
  return n ? n : (size_t)snprintf(out, ES_FMT_DOUBLE_MAX, "%.15g", v);
}
