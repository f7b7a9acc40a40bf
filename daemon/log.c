/* log.c: see log.h. The level is the daemon's one piece of global state
 * besides the loop; it is set once at startup. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum es_log_level log_level = ES_LOG_INFO;

double esd_wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void esd_log_set_level(enum es_log_level level) { log_level = level; }
int esd_log_enabled(enum es_log_level level) { return level <= log_level; }

void esd_log(enum es_log_level level, const char *subsystem, const char *fmt, ...) {
  char line[2048];
  struct timespec ts;
  struct tm tm;
  va_list ap;
  int n;

  if (level > log_level)
    return;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               ts.tv_nsec / 1000000, es_log_level_name(level), subsystem);
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof(line))
    n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof(line) - 1)
    n = (int)sizeof(line) - 2;
  /* One write per line so concurrent writers never interleave mid-line. */
  for (int i = 0; i < n; i++)
    if (line[i] == '\n')
      line[i] = ' ';
  line[n++] = '\n';
  fwrite(line, 1, (size_t)n, stderr);
}
