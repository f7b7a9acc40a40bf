/* timespec.c: the time arguments of the analysts' verbs (query.h). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"

#define DAY 86400.0

int es_time_parse_duration(const char *s, double *out) {
  char *end;
  double n, unit;
  if (s == NULL || !isdigit((unsigned char)s[0])) return -1;
  n = strtod(s, &end);
  if (end == s || end[0] == '\0' || end[1] != '\0' || !isfinite(n)) return -1;
  switch (end[0]) {
  case 's': unit = 1; break;
  case 'm': unit = 60; break;
  case 'h': unit = 3600; break;
  case 'd': unit = DAY; break;
  case 'w': unit = 7 * DAY; break;
  default: return -1;
  }
  *out = n * unit;
  return isfinite(*out) ? 0 : -1;
}

/* Reads exactly `digits` digits at *p into *v. */
static int digits_at(const char **p, int digits, int *v) {
  int n = 0;
  for (int i = 0; i < digits; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    n = n * 10 + ((*p)[i] - '0');
  }
  *p += digits;
  *v = n;
  return 0;
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|(+|-)HH[:]MM], UTC unless an offset
 * says otherwise. */
static int parse_iso(const char *s, double *out) {
  const char *p = s;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  double frac = 0, offset = 0;
  struct tm tm;
  if (digits_at(&p, 4, &y) || *p++ != '-' || digits_at(&p, 2, &mo) || *p++ != '-' ||
      digits_at(&p, 2, &d))
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return -1;
  if (*p == 'T' || *p == 't' || *p == ' ') {
    p++;
    if (digits_at(&p, 2, &h) || *p++ != ':' || digits_at(&p, 2, &mi)) return -1;
    if (*p == ':') {
      p++;
      if (digits_at(&p, 2, &sec)) return -1;
      if (*p == '.' || *p == ',') {
        double scale = 0.1;
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10) frac += (*p - '0') * scale;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return -1;
    if (*p == 'Z' || *p == 'z') {
      p++;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om;
      if (digits_at(&p, 2, &oh)) return -1;
      if (*p == ':') p++;
      if (digits_at(&p, 2, &om) || oh > 23 || om > 59) return -1;
      offset = sign * (oh * 3600.0 + om * 60.0);
    }
  }
  if (*p != '\0') return -1;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  *out = (double)timegm(&tm) + frac - offset;
  return 0;
}

int es_time_parse(const char *s, double now, double *out) {
  double v;
  char *end;
  if (s == NULL || s[0] == '\0') return -1;
  if (strcmp(s, "now") == 0) {
    *out = now;
    return 0;
  }
  if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0) {
    double midnight = floor(now / DAY) * DAY;
    *out = s[0] == 't' ? midnight : midnight - DAY;
    return 0;
  }
  if (es_time_parse_duration(s, &v) == 0) {
    *out = now - v;
    return 0;
  }
  if (strlen(s) >= 10 && s[4] == '-') return parse_iso(s, out);
  if (isdigit((unsigned char)s[0])) {
    v = strtod(s, &end);
    if (*end == '\0' && isfinite(v)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

void es_time_format(double t, char *buf, size_t cap) {
  time_t secs = (time_t)floor(t);
  struct tm tm;
  if (!isfinite(t) || gmtime_r(&secs, &tm) == NULL ||
      strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, cap, "%.3f", t);
}
