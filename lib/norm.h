/*
 * norm.h: text normalisation shared by phrases, patterns and the prefilter.
 *
 * Rules never see the raw line. The matcher first rewrites it so that the
 * differences speech-to-text output makes (case, apostrophe style,
 * punctuation, spacing) disappear:
 *
 *   - ASCII letters are lower-cased; ASCII letters and digits are kept;
 *   - apostrophes are deleted: ' ` U+2018 U+2019 U+02BC U+00B4
 *     ("that’s", "that's" and "thats" all become "thats");
 *   - every other ASCII byte (punctuation, white space, controls) and the
 *     Unicode spaces and punctuation U+00A0, U+00A1, U+00AB, U+00BB,
 *     U+00BF, U+2000..U+206F (except the apostrophes above), U+3000 are
 *     word breaks;
 *   - any run of word breaks becomes one space;
 *   - U+017F (long s) and U+212A (Kelvin sign) become "s" and "k": PCRE2's
 *     caseless matching equates them with those letters, and the literal
 *     prefilter must see the same text the regexes match;
 *   - every other code point is copied unchanged (no Unicode case folding);
 *   - the result starts and ends with exactly one space, so every word in
 *     it is " word " delimited. The empty line normalises to " ".
 *
 * The output is never longer than the input plus 2 bytes.
 * The input must be valid UTF-8 (see es_utf8_valid()).
 */
#ifndef ES_NORM_H
#define ES_NORM_H

#include <stddef.h>
#include <stdint.h>

/* Returns 1 when text[0..len) is valid UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF) and contains no NUL byte, else 0. */
int es_utf8_valid(const char *text, size_t len);

/* The longest prefix of s[0..len) of at most max bytes that does not cut a
 * UTF-8 sequence: len when len <= max. */
size_t es_utf8_cut(const char *s, size_t len, size_t max);

/* Writes the normalised form of text[0..len) to out (capacity at least
 * len + 2) and returns its length. */
size_t es_norm(const char *text, size_t len, char *out);

/* Maps a span [nstart, nend) of the normalised text back to the original:
 * *start is the offset of the input byte that produced normalised byte
 * nstart, *end the offset just past the input that produced byte nend - 1.
 * Padding spaces map to 0 and len. Runs in O(len). */
void es_norm_span(const char *text, size_t len, size_t nstart, size_t nend,
                  size_t *start, size_t *end);

#endif
