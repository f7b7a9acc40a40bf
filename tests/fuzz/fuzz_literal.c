/*
 * fuzz_literal.c: soundness of required-literal extraction (literal.h),
 * end to end through the prefilter (prefilter.h).
 *
 * Input: a PCRE2 pattern, a NUL byte, then a text. Without a NUL byte the
 * whole input is both the pattern and the text. The text is brought to
 * the form the matcher scans: ASCII lower-cased, and the two non-ASCII
 * characters that PCRE2's caseless matching equates with ASCII letters,
 * U+017F (long s) and U+212A (Kelvin sign), folded to "s" and "k".
 *
 * Whenever PCRE2 (PCRE2_CASELESS | PCRE2_UTF) matches at any offset, the
 * matched substring must contain one of the extracted anchors. A
 * prefilter built from the anchors must report the rule exactly when one
 * of them occurs in the text. Any violation aborts.
 */
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "literal.h"
#include "prefilter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PATTERN 1024
#define MAX_TEXT 512

/* Lower-cases ASCII and folds U+017F and U+212A; returns the new length. */
static size_t fold_text(const uint8_t *in, size_t len, char *out) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = in[i];
    if (c == 0xC5 && i + 1 < len && in[i + 1] == 0xBF) {
      out[n++] = 's';
      i += 1;
    } else if (c == 0xE2 && i + 2 < len && in[i + 1] == 0x84 && in[i + 2] == 0xAA) {
      out[n++] = 'k';
      i += 2;
    } else {
      out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
  }
  return n;
}

static int span_has_anchor(const struct es__litset *s, const char *text, size_t start, size_t end) {
  for (size_t i = 0; i < s->n; i++)
    for (size_t p = start; p + s->lens[i] <= end; p++)
      if (memcmp(text + p, s->lits[i], s->lens[i]) == 0) return 1;
  return 0;
}

static void check_shape(const struct es__litset *s) {
  if (s->n > ES_LITSET_MAX) abort();
  for (size_t i = 0; i < s->n; i++) {
    if (s->lens[i] == 0 || strlen(s->lits[i]) != s->lens[i]) abort();
    for (size_t j = 0; j < s->lens[i]; j++) {
      unsigned char c = (unsigned char)s->lits[i][j];
      if (c >= 0x80 || (c >= 'A' && c <= 'Z')) abort();
    }
  }
}

/* Returns 1 when the prefilter built from the anchors reports the text. */
static int prefilter_reports(const struct es__litset *s, const char *text, size_t len) {
  struct es__pf_builder *b = es__pf_builder_new();
  struct es__pf *pf = NULL;
  uint64_t seen[1] = {0};
  uint32_t ids[1];
  size_t n = 0;
  if (b == NULL) abort();
  for (size_t i = 0; i < s->n; i++)
    if (es__pf_add(b, s->lits[i], s->lens[i], 0) != 0) abort();
  if (es__pf_build(b, 1, &pf) != 0) abort();
  n = es__pf_scan(pf, text, len, seen, ids);
  if (n > 1 || (n == 1 && (ids[0] != 0 || seen[0] != 1))) abort();
  es__pf_free(pf);
  es__pf_builder_free(b);
  return n == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *sep = memchr(data, 0, size);
  size_t plen = sep ? (size_t)(sep - data) : size;
  const uint8_t *raw_text = sep ? sep + 1 : data;
  size_t raw_len = sep ? size - plen - 1 : size;
  char pattern[MAX_PATTERN + 1];
  char text[MAX_TEXT];
  struct es__litset set, also;
  pcre2_code *code = NULL;
  pcre2_match_data *md = NULL;
  pcre2_match_context *mctx = NULL;
  int errcode;
  PCRE2_SIZE erroff;

  if (plen > MAX_PATTERN) return 0;
  if (raw_len > MAX_TEXT) raw_len = MAX_TEXT;
  memcpy(pattern, data, plen);
  pattern[plen] = '\0';
  size_t tlen = fold_text(raw_text, raw_len, text);

  if (es__lit_from_pattern2(pattern, &set, &also) != 0) abort(); /* ENOMEM: not here */
  check_shape(&set);
  check_shape(&also);
  if (also.n > 0 && set.n == 0) abort();
  if (set.n == 0) goto done;

  int reported = prefilter_reports(&set, text, tlen);
  if (reported != span_has_anchor(&set, text, 0, tlen)) {
    fprintf(stderr, "/%s/: the prefilter says %d, a plain search disagrees\n", pattern, reported);
    abort();
  }

  code = pcre2_compile((PCRE2_SPTR)pattern, plen, PCRE2_CASELESS | PCRE2_UTF, &errcode, &erroff,
                       NULL);
  if (code == NULL) goto done;
  md = pcre2_match_data_create_from_pattern(code, NULL);
  mctx = pcre2_match_context_create(NULL);
  if (md == NULL || mctx == NULL) abort();
  pcre2_set_match_limit(mctx, 20000);
  pcre2_set_depth_limit(mctx, 1000);

  int matched = 0;
  for (size_t start = 0; start <= tlen; start++) {
    int rc = pcre2_match(code, (PCRE2_SPTR)text, tlen, start, PCRE2_ANCHORED, md, mctx);
    if (rc == PCRE2_ERROR_BADUTFOFFSET) continue; /* start inside a character */
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) break; /* bad UTF-8, a limit */
    if (rc < 0) continue;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    if (ov[0] > ov[1]) continue; /* \K in a lookaround: not ours to judge */
    matched = 1;
    if (!span_has_anchor(&set, text, ov[0], ov[1])) {
      fprintf(stderr, "/%s/ matched \"%.*s\" without an anchor; anchors:\n", pattern,
              (int)(ov[1] - ov[0]), text + ov[0]);
      for (size_t i = 0; i < set.n; i++) fprintf(stderr, "  \"%s\"\n", set.lits[i]);
      abort();
    }
    if (also.n > 0 && !span_has_anchor(&also, text, ov[0], ov[1])) {
      fprintf(stderr, "/%s/ matched \"%.*s\" without an anchor of its second set:\n",
              pattern, (int)(ov[1] - ov[0]), text + ov[0]);
      for (size_t i = 0; i < also.n; i++) fprintf(stderr, "  \"%s\"\n", also.lits[i]);
      abort();
    }
  }
  if (matched && !reported) {
    fprintf(stderr, "/%s/ matched but the prefilter missed it\n", pattern);
    abort();
  }

done:
  pcre2_match_context_free(mctx);
  pcre2_match_data_free(md);
  pcre2_code_free(code);
  es__litset_free(&set);
  es__litset_free(&also);
  return 0;
}
