/*
 * test_numfmt.c: es_fmt_double() prints exactly what snprintf does (the
 * shorter of %.15g and %.17g that reads back), on the values earshot
 * prints (millisecond timestamps, scores, heats) and on arbitrary ones;
 * es_fmt_g15() prints exactly what "%.15g" does; es_fmt_i64() what "%lld" does.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "numfmt.h"
#include "task.h"

static uint64_t prng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t prng64(void) {
  prng_state ^= prng_state >> 12;
  prng_state ^= prng_state << 25;
  prng_state ^= prng_state >> 27;
  return prng_state * 0x2545f4914f6cdd1dULL;
}

static double unit(void) { return (double)(prng64() >> 11) / 9007199254740992.0; }

static void check(double v) {
  char want[64], got[ES_FMT_DOUBLE_MAX];
  int n = snprintf(want, sizeof want, "%.15g", v);
  if (strtod(want, NULL) != v) n = snprintf(want, sizeof want, "%.17g", v);
  size_t len = es_fmt_double(v, got);
  if (len != (size_t)n || strcmp(got, want) != 0)
    ES_FAIL_("%.17g: got \"%s\" (%zu bytes), snprintf gives \"%s\"", v, got, len, want);
  ASSERT(len < ES_FMT_DOUBLE_MAX);
  /* es_fmt_g15: "%.15g" alone, whether or not it reads back */
  n = snprintf(want, sizeof want, "%.15g", v);
  len = es_fmt_g15(v, got);
  if (len != (size_t)n || strcmp(got, want) != 0)
    ES_FAIL_("%.17g: es_fmt_g15 gives \"%s\", snprintf \"%s\"", v, got, want);
}

static void test_edges(void) {
  static const double v[] = {
    0.0, -0.0, 1.0, -1.0, 0.5, 12.5, -12.5, 0.001, -0.001, 0.005, 0.0005, 0.0001, 1e-5,
    0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 100, 1e14, 1e15, 1e15 - 1, 999999999999999.0,
    99999999999999.9, 9999999999999.99, 999999999999.999, 1e16, 1e17, 1e21, 1e300,
    -1e300, 5e-324, 2.2250738585072014e-308, 1795000123.456, 1795000123.4567,
    1795000123.001, 1795000123.999, 1795000123.0005, 123456789012.345, 0.123,
    4503599627370496.0, 9007199254740992.0, -9007199254740993.0, 1.5e-3, 2.675,
    1.005, 1.015, 1.025, 8.675,
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) check(v[i]);
}

static void test_random(void) {
  /* what earshot prints: ms timestamps, heats and scores at 0.001 */
  for (int i = 0; i < 400000; i++) {
    double ts = 1.7e9 + floor(unit() * 2e11) / 1000; /* 2023..2029, ms */
    double heat = round(unit() * 100000) / 1000;     /* 0..100 by 0.001 */
    double neg = -round(unit() * 1e6) / 1000;
    double score = (double)((int)(unit() * 41) - 20) / 2; /* -10..10 by 0.5 */
    check(ts);
    check(heat);
    check(neg);
    check(score);
    check(ts / 1000);
  }
  /* anything: random bits, random decimals of every size */
  for (int i = 0; i < 400000; i++) {
    uint64_t bits = prng64();
    double d;
    memcpy(&d, &bits, sizeof d);
    if (isfinite(d)) check(d);
    check(unit() * pow(10, (int)(unit() * 40) - 20));
    check(round(unit() * 1e6) / pow(10, (int)(unit() * 8)));
  }
}

/* es_fmt_i64 prints what "%lld" does: the extremes, every length, random. */
static void test_i64(void) {
  char want[32], got[ES_FMT_INT_MAX];
  int64_t v[64 + 8] = {0, 1, -1, 9, -9, 10, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1};
  size_t n = 10;
  for (int64_t p = 100; n < sizeof v / sizeof v[0] - 2 && p <= INT64_MAX / 10; p *= 10) {
    v[n++] = p - 1;
    v[n++] = -p;
  }
  for (int r = 0; r < 200000 + (int)n; r++) {
    int64_t x = r < (int)n ? v[r] : (int64_t)prng64() >> (prng64() % 64);
    int w = snprintf(want, sizeof want, "%lld", (long long)x);
    size_t len = es_fmt_i64(x, got);
    if (len != (size_t)w || strcmp(got, want) != 0)
      ES_FAIL_("%lld: es_fmt_i64 gives \"%s\"", (long long)x, got);
  }
}

int main(void) {
  RUN(test_edges);
  RUN(test_random);
  RUN(test_i64);
  return 0;
}
