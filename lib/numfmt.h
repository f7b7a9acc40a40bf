/*
 * numfmt.h: doubles as JSON numbers, without printf on the common path.
 *
 * Every alert earshotd sends carries a few doubles (ts, score, heat);
 * snprintf("%.15g") and the strtod() that checks it were a tenth of the
 * cost of an alert. es_fmt_double() gives exactly the text
 *
 *     the shorter of "%.15g" and "%.17g" that reads back as v
 *
 * (the first when it reads back, else the second), and finds it without
 * printf when v is a multiple of 0.001 with at most 15 significant
 * digits: timestamps in milliseconds, scores, heats rounded to 0.001.
 * tests/unit/test_numfmt.c checks it against snprintf on millions of
 * values.
 */
#ifndef ES_NUMFMT_H
#define ES_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

/* 2^53: every whole number below it is exact as a double, and no other
 * JSON number reads as one of them (2^53 + 1 reads as 2^53). */
#define ES_WHOLE_EXACT 9007199254740992.0

#define ES_FMT_DOUBLE_MAX 32 /* bytes es_fmt_double() may write, NUL included */

/* Writes v into out (NUL-terminated) and returns its length. v must be
 * finite (JSON has no NaN or infinity: the caller writes null). */
size_t es_fmt_double(double v, char out[ES_FMT_DOUBLE_MAX]);

/* Writes exactly what snprintf(out, ES_FMT_DOUBLE_MAX, "%.15g", v) writes
 * (the engine's reasons), with the same fast path, and returns its length.
 * Any double fits ("-1.23456789012345e-308" is 22 bytes). */
size_t es_fmt_g15(double v, char out[ES_FMT_DOUBLE_MAX]);

#define ES_FMT_INT_MAX 21 /* "-9223372036854775808" and its NUL */

/* Writes what snprintf(out, ES_FMT_INT_MAX, "%lld", v) writes (record
 * fields: seq, line, offsets) and returns its length. */
size_t es_fmt_i64(int64_t v, char out[ES_FMT_INT_MAX]);

#endif
