/*
 * cmdline.h: what went wrong with a command-line option, in words, for
 * the earshot command and earshotd alike.
 */
#ifndef ES_CMDLINE_H
#define ES_CMDLINE_H

#include <getopt.h>
#include <stddef.h>

/* getopt_long() returns '?' alike for an unknown option, an ambiguous
 * abbreviation and a value given to a flag that takes none. Says which
 * for `arg` (argv[optind - 1] after the '?'; borrowed), against longopts
 * (ended by a zeroed entry), into msg (NUL-terminated, cut at cap):
 *   unknown option "--nope=1"
 *   option --wide takes no value
 *   ambiguous option --s (could be --since, --severity, --speaker)
 */
void es_cmdline_bad_option(const struct option *longopts, const char *arg, char *msg,
                           size_t cap);

#endif
