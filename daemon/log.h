/*
 * log.h: earshotd's log. One line per event on stderr:
 *   2026-11-24T04:30:00.123Z info  server: listening on /var/lib/earshot/earshotd.sock
 * Nothing per line at info level; per-line detail is debug.
 */
#ifndef ESD_LOG_H
#define ESD_LOG_H

#include "config.h" /* lib/config.h: enum es_log_level, the "log_level" setting */

void esd_log_set_level(enum es_log_level level);
int esd_log_enabled(enum es_log_level level);

/* The wall clock, seconds since the Unix epoch: the times earshotd stores
 * and logs. */
double esd_wall_now(void);

void esd_log(enum es_log_level level, const char *subsystem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define esd_error(sub, ...) esd_log(ES_LOG_ERROR, sub, __VA_ARGS__)
#define esd_warn(sub, ...) esd_log(ES_LOG_WARN, sub, __VA_ARGS__)
#define esd_info(sub, ...) esd_log(ES_LOG_INFO, sub, __VA_ARGS__)
#define esd_debug(sub, ...)                                                  \
  do {                                                                       \
    if (esd_log_enabled(ES_LOG_DEBUG))                                       \
      esd_log(ES_LOG_DEBUG, sub, __VA_ARGS__);                               \
  } while (0)

#endif
