/*
 * redact.h: masking personal data in transcript text (docs/redaction.md).
 *
 * Before a line reaches SQLite or a log, card numbers, card security
 * codes, US social security numbers, e-mail addresses and phone numbers
 * are replaced by a typed mask:
 *
 *   [CARD]  13 to 19 digits that pass the Luhn check, contiguous or in
 *           groups separated by spaces, dashes or ", " (any grouping);
 *   [CVV]   3 or 4 digits within six words after "security code", "CVV",
 *           "CVV2", "CVC", "CVC2", "CSC", "CVN", "card verification", or
 *           right after "code is" (not "zip/area/postal/country code is");
 *   [SSN]   ddd-dd-dddd or ddd dd dddd (area not 000, 666 or 9xx, group
 *           not 00, serial not 0000); after "social" or "SSN", any 9
 *           digits in at most three groups;
 *   [EMAIL] local@domain.tld, also spoken: "john dot smith at gmail dot
 *           com" (a spoken domain must end in a common top-level domain);
 *   [PHONE] 10 or more digits shaped like a phone number: +country ...,
 *           00country ..., (555) 123-4567, 555-123-4567, 555.123.4567,
 *           1-800-555-0199, 5551234567, 020 7946 0958, 07700 900123.
 *
 * Digits may also be spoken as words ("four one one one", "oh", "zero",
 * "double five", "triple oh"), alone or mixed with numerals; the same
 * rules then apply to the digits they stand for. An unbroken spoken run of
 * 10 to 15 digits is a phone number. Everything outside a mask is copied
 * byte for byte (the scanner only looks at ASCII; other bytes pass
 * through). What is not covered is listed in docs/redaction.md.
 *
 * Pure functions: no allocation, no globals, bounded stack use, linear
 * time in the length of the text (each digit sequence is examined within a
 * window of at most 64 numbers).
 */
#ifndef ES_REDACT_H
#define ES_REDACT_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of personal data, combined as a bit mask. */
#define ES_REDACT_CARD  0x01u
#define ES_REDACT_CVV   0x02u
#define ES_REDACT_SSN   0x04u
#define ES_REDACT_EMAIL 0x08u
#define ES_REDACT_PHONE 0x10u
#define ES_REDACT_ALL   0x1Fu

/* Masks applied by one call, per kind. */
struct es_redact_counts {
  uint32_t card;
  uint32_t cvv;
  uint32_t ssn;
  uint32_t email;
  uint32_t phone;
};

/* Output capacity that always suffices for es_redact() on len input bytes,
 * terminating NUL included. Every masked span is at least 3 bytes long and
 * its mask at most 2 bytes longer ("123" -> "[CVV]"), so the output is at
 * most len + 2 * (len / 3) bytes. */
#define ES_REDACT_BOUND(len) ((len) + 2 * ((len) / 3) + 1)

/* Writes text[0..len) with personal data of the given kinds masked to out
 * and returns the length of the masked text (without NUL), like
 * snprintf(): at most cap - 1 bytes are written followed by a NUL (nothing
 * when cap is 0), so a return value >= cap means the output was cut short.
 * With cap >= ES_REDACT_BOUND(len) it never is. `out` is caller storage
 * and must not overlap `text`; out may be NULL when cap is 0 (to measure).
 * `text` need not be NUL-terminated nor valid UTF-8. `counts` (may be
 * NULL) is overwritten with the number of masks of each kind. */
size_t es_redact(const char *text, size_t len, unsigned kinds, char *out,
                 size_t cap, struct es_redact_counts *counts);

/* One span found by es_redact_scan(): text[start..end) is masked with
 * es_redact_mask(kind). */
typedef void (*es_redact_cb)(void *ud, size_t start, size_t end, unsigned kind);

/* Calls cb (when not NULL) for each span to mask, in increasing order, the
 * spans never overlapping; returns how many there were. The same spans as
 * es_redact() masks. */
size_t es_redact_scan(const char *text, size_t len, unsigned kinds,
                      es_redact_cb cb, void *ud);

/* Where to cut text[0..len) to keep at most n bytes of it, safely: the
 * largest k <= n such that text[0..k) ends on a UTF-8 character boundary
 * and inside nothing es_redact_scan() could mask, whatever the kinds: a
 * digit sequence (its numbers, written or spoken, the separators between
 * them and a leading '+', '(' or "plus") or an e-mail address (written or
 * spoken). What is kept holds each number or address whole or not at all,
 * so masking it on its own later cannot leave part of one readable.
 * text[n..len) is read, up to 4 KiB of it, to see whether a number or an
 * address goes on past the cut: pass all that follows. Returns len when
 * n >= len (nothing is cut); may return 0. */
size_t es_redact_cut(const char *text, size_t len, size_t n);

/* The mask for one kind ("[CARD]", "[CVV]", "[SSN]", "[EMAIL]",
 * "[PHONE]"), its name ("card", "cvv", "ssn", "email", "phone"); static
 * strings, "" for anything but a single kind bit. */
const char *es_redact_mask(unsigned kind);
const char *es_redact_kind_name(unsigned kind);

/* Masks a line and, from the same spans, the words text[ms..me) within
 * it: a mask that overlaps the words stands in for all of them, so words
 * that cover part of a card number do not reveal that part. out_text and
 * out_matched (may be NULL: not wanted) need ES_REDACT_BOUND(len) bytes
 * each; both are NUL-terminated, their lengths go to *text_len and
 * *matched_len. Returns the number of masks. */
size_t es_redact_line(const char *text, size_t len, size_t ms, size_t me, unsigned kinds,
                      char *out_text, size_t *text_len, char *out_matched,
                      size_t *matched_len);

/* Masks every string value (and key) of a JSON text in place of its
 * content, widening a mask that would cut an escape sequence, so the
 * result is still valid JSON. out needs ES_REDACT_BOUND(len) bytes; it is
 * NUL-terminated and its length goes to *out_len. Returns the number of
 * masks. */
size_t es_redact_json(const char *json, size_t len, unsigned kinds, char *out, size_t *out_len);

/* es_redact_json(), and numbers too: a number that holds personal data
 * (a phone or card number sent as a JSON number) becomes a string of its
 * masked text, 4155550123 -> "[PHONE]", so the result is still JSON. For
 * JSON whose every value comes from a client (a call's attributes); the
 * numbers of earshot's own JSON (a reason's times and counts) are left to
 * es_redact_json(). out needs ES_REDACT_JSON_VALUES_BOUND(len) bytes. */
size_t es_redact_json_values(const char *json, size_t len, unsigned kinds, char *out,
                             size_t *out_len);

/* es_redact_json_values()'s output capacity: ES_REDACT_BOUND, and the
 * quotes of a masked number (at most two per two bytes of input: a number
 * and what ends it). */
#define ES_REDACT_JSON_VALUES_BOUND(len) (ES_REDACT_BOUND(len) + (len) + 1)

/* Parses a comma-separated list of kind names, "all" or "none" (spaces
 * around names allowed, case-insensitive) into *out. Returns 0, or
 * ES_EINVAL for an unknown name or an empty list. */
int es_redact_parse_kinds(const char *list, unsigned *out);

#endif
