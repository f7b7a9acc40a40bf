/*
 * fuzz_rules.c: the rule loader (rules.h) on arbitrary bytes, loaded as
 * one rule file with check_examples on.
 *
 * Loading must never crash or leak: it either succeeds with a rule set or
 * fails with a negative es_err and at least one diagnostic. A rule set that
 * loads is then used: every rule's examples, and a few fixed lines, are
 * matched with and without the prefilter, which must agree (see
 * same_or_abort()).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "match.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rule files are small; larger inputs only slow the fuzzer down. */
#define FUZZ_MAX_FILE (64u << 10)

/* What one mode said about each rule: 0 nothing, 1 hit, 2 limited. */
struct outcome {
  unsigned char *what;
  struct es_hit *hit;
};

static void record(const struct es_match_result *res, uint32_t n, struct outcome *o) {
  memset(o->what, 0, n);
  for (size_t i = 0; i < res->nhits; i++) {
    const struct es_hit *h = &res->hits[i];
    if (h->rule >= n || o->what[h->rule] != 0 || (i > 0 && res->hits[i - 1].rule >= h->rule))
      abort(); /* out of range, twice, or out of rule order */
    o->what[h->rule] = 1;
    o->hit[h->rule] = *h;
  }
  for (size_t i = 0; i < res->nlimited; i++) {
    uint32_t r = res->limited[i];
    if (r >= n || o->what[r] != 0)
      abort(); /* a limited rule cannot also hit */
    o->what[r] = 2;
  }
}

/* The prefilter may skip a rule only when that rule cannot match: so the
 * two modes agree on every rule, except that a rule the naive run reports
 * as limited may simply not hit with the prefilter. */
static void same_or_abort(struct es_matcher *m, enum es_speaker speaker, const char *line,
                          struct outcome *pf, struct outcome *naive) {
  uint32_t n = es_rules_count(es_matcher_rules(m));
  struct es_match_result res;
  size_t len = strlen(line);
  int rca, rcb;

  rca = es_match_line(m, speaker, line, len, 0, &res);
  record(&res, n, pf);
  rcb = es_match_line(m, speaker, line, len, ES_MATCH_NAIVE, &res);
  record(&res, n, naive);
  if (rca != rcb)
    abort();
  for (uint32_t r = 0; r < n; r++) {
    if (naive->what[r] == 2) {
      if (pf->what[r] == 1)
        abort();
      continue;
    }
    if (pf->what[r] != naive->what[r])
      abort();
    if (pf->what[r] == 1) {
      const struct es_hit *a = &pf->hit[r], *b = &naive->hit[r];
      if (a->start != b->start || a->end != b->end || a->start > a->end || a->end > len)
        abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const lines[] = {
    "", "that's our policy", "I'm NOT going to cancel, but I will sue you!",
    "put me through to your supervisor \xE2\x80\x94 now", "caf\xC3\xA9 \xC5\xBForry o\xE2\x84\xAA",
  };
  struct es_rules_opts opts;
  struct es_rules_source src;
  struct es_diags diags;
  struct es_rules *rules = NULL;
  struct es_matcher *m;
  int rc;

  if (size > FUZZ_MAX_FILE)
    return 0;
  es_rules_opts_init(&opts);
  opts.check_examples = 1;
  /* Keep catastrophic patterns cheap: a limit hit is an outcome too. */
  opts.match_limit = 20000;
  opts.depth_limit = 2000;
  src.name = "fuzz.json";
  src.text = (const char *)data;
  src.len = size;
  es_diags_init(&diags);
  rc = es_rules_load_sources(&src, 1, &opts, &rules, &diags);
  if (rc != 0) {
    if (rc > 0 || rules != NULL || (diags.count == 0 && diags.dropped == 0))
      abort();
    es_diags_deinit(&diags);
    return 0;
  }
  if (rules == NULL || es_rules_count(rules) == 0)
    abort();
  m = es_matcher_new(rules);
  struct outcome pf, naive;
  uint32_t n = es_rules_count(rules);
  pf.what = malloc(n);
  pf.hit = malloc(n * sizeof(*pf.hit));
  naive.what = malloc(n);
  naive.hit = malloc(n * sizeof(*naive.hit));
  if (m == NULL || !pf.what || !pf.hit || !naive.what || !naive.hit)
    abort();
  for (uint32_t i = 0; i < es_rules_count(rules); i++) {
    const struct es_rule_info *info = es_rules_info(rules, i);
    for (size_t k = 0; k < info->nmatch_examples; k++)
      same_or_abort(m, info->speaker, info->match_examples[k], &pf, &naive);
    for (size_t k = 0; k < info->nno_match_examples; k++)
      same_or_abort(m, info->speaker, info->no_match_examples[k], &pf, &naive);
  }
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
    for (int s = ES_SPEAKER_ANY; s <= ES_SPEAKER_CUSTOMER; s++)
      same_or_abort(m, (enum es_speaker)s, lines[i], &pf, &naive);
  free(pf.what);
  free(pf.hit);
  free(naive.what);
  free(naive.hit);
  es_matcher_free(m);
  es_rules_free(rules);
  es_diags_deinit(&diags);
  return 0;
}
