/*
 * match.c: the per-line path. Normalise, prefilter, run PCRE2 only for the
 * rules the prefilter lets through, apply negation and `unless`, and map
 * each hit back to the original bytes.
 */
#include "match.h"

#include <stdlib.h>
#include <string.h>

#include "norm.h"
#include "rules_int.h"

struct es_matcher {
  const struct es_rules *rules;  /* borrowed */
  pcre2_match_data *md;
  pcre2_match_context *mctx;
  pcre2_jit_stack *jstack;
  char *nbuf;                    /* normalised line, max_line_bytes + 3 */
  uint64_t *seen;                /* candidate rules, (n + 63) / 64 words */
  uint64_t *sets;                /* anchor sets found, (nsets + 63) / 64 words */
  uint32_t *cand;                /* prefilter output: anchor sets, nsets */
  struct es_hit *hits;           /* n */
  uint32_t *limited;             /* n */
  struct es_match_rule_stats *per_rule; /* n */
  struct es_match_stats stats;
};

struct es_matcher *es_matcher_new(const struct es_rules *rules) {
  struct es_matcher *m = calloc(1, sizeof(*m));
  size_t n = rules->n ? rules->n : 1, nsets = rules->nsets ? rules->nsets : 1;
  const struct es_rules_opts *o = &rules->opts;

  if (m == NULL)
    return NULL;
  m->rules = rules;
  m->md = pcre2_match_data_create(1, NULL);
  m->mctx = pcre2_match_context_create(NULL);
  m->jstack = pcre2_jit_stack_create(32 * 1024, o->jit_stack_max, NULL);
  m->nbuf = malloc(o->max_line_bytes + 3);
  m->seen = calloc((n + 63) / 64, sizeof(*m->seen));
  m->sets = calloc((nsets + 63) / 64, sizeof(*m->sets));
  m->cand = calloc(nsets, sizeof(*m->cand));
  m->hits = calloc(n, sizeof(*m->hits));
  m->limited = calloc(n, sizeof(*m->limited));
  m->per_rule = calloc(n, sizeof(*m->per_rule));
  if (!m->md || !m->mctx || !m->jstack || !m->nbuf || !m->seen || !m->sets || !m->cand || !m->hits ||
      !m->limited || !m->per_rule) {
    es_matcher_free(m);
    return NULL;
  }
  pcre2_set_match_limit(m->mctx, o->match_limit);
  pcre2_set_depth_limit(m->mctx, o->depth_limit);
  pcre2_set_heap_limit(m->mctx, o->heap_limit_kib);
  pcre2_jit_stack_assign(m->mctx, NULL, m->jstack);
  return m;
}

void es_matcher_free(struct es_matcher *m) {
  if (m == NULL)
    return;
  pcre2_match_data_free(m->md);
  pcre2_match_context_free(m->mctx);
  pcre2_jit_stack_free(m->jstack);
  free(m->nbuf);
  free(m->seen);
  free(m->sets);
  free(m->cand);
  free(m->hits);
  free(m->limited);
  free(m->per_rule);
  free(m);
}

const struct es_match_stats *es_matcher_stats(const struct es_matcher *m) { return &m->stats; }

uint64_t es_matcher_limit_hits(const struct es_matcher *m, uint32_t rule) {
  return rule < m->rules->n ? m->per_rule[rule].limit_hits : 0;
}

const struct es_match_rule_stats *es_matcher_rule_stats(const struct es_matcher *m,
                                                        uint32_t rule) {
  return rule < m->rules->n ? &m->per_rule[rule] : NULL;
}

/* A rule to rank: its runs without a match, and its index for ties. */
struct waste {
  uint64_t runs;
  uint32_t rule;
};

static int waste_cmp(const void *a, const void *b) {
  const struct waste *x = a, *y = b;
  if (x->runs != y->runs)
    return x->runs < y->runs ? 1 : -1;
  return x->rule < y->rule ? -1 : x->rule > y->rule;
}

int64_t es_matcher_costliest(const struct es_matcher *m, uint32_t *out, size_t cap) {
  uint32_t n = m->rules->n;
  size_t k = 0;
  struct waste *v = malloc((n ? n : 1) * sizeof(*v));

  if (v == NULL)
    return ES_ENOMEM;
  for (uint32_t i = 0; i < n; i++)
    if (m->per_rule[i].tried)
      v[k++] = (struct waste){m->per_rule[i].tried - m->per_rule[i].hits, i};
  qsort(v, k, sizeof(*v), waste_cmp);
  if (k > cap)
    k = cap;
  for (size_t i = 0; i < k; i++)
    out[i] = v[i].rule;
  free(v);
  return (int64_t)k;
}

const struct es_rules *es_matcher_rules(const struct es_matcher *m) { return m->rules; }

/* Runs one regex from `off`. Returns 1 on a match (span in *s, *e),
 * 0 on no match, -1 when a limit or other matching error stopped it. */
static int run(struct es_matcher *m, const struct es__regex *rx, const char *nb, size_t nlen,
               size_t off, size_t *s, size_t *e) {
  int rc;

  m->stats.pcre2_runs++;
  if (rx->jit)
    rc = pcre2_jit_match(rx->code, (PCRE2_SPTR)nb, nlen, off, 0, m->md, m->mctx);
  else
    rc = pcre2_match(rx->code, (PCRE2_SPTR)nb, nlen, off, PCRE2_NO_UTF_CHECK, m->md, m->mctx);
  if (rc == PCRE2_ERROR_NOMATCH)
    return 0;
  if (rc < 0)
    return -1;
  PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
  *s = ov[0];
  *e = ov[1];
  return 1;
}

/* 1 when the original text between two normalised words (the break that
 * became the space at nb[p]) holds clause punctuation, which ends a
 * negation's scope: "No, I want to cancel". */
static int clause_break(const char *text, size_t len, size_t p) {
  size_t s, e;
  es_norm_span(text, len, p, p + 1, &s, &e);
  for (size_t i = s; i < e && i < len; i++)
    if (strchr(".,;:!?", text[i]))
      return 1;
  return 0;
}

/* NegEx-style: is the hit starting at normalised offset hs preceded, within
 * the rule's window of words and the same clause, by a negation cue? */
static int negated(const struct es_rules *rules, const struct es__rule *r, const char *text,
                   size_t len, const char *nb, size_t hs) {
  char *const *cues = r->neg_cues ? r->neg_cues : rules->default_cues;
  size_t p = hs - 1; /* the space before the hit */

  for (unsigned w = 0; w < r->info.negation_window && p > 0; w++) {
    size_t ws;
    if (clause_break(text, len, p))
      return 0;
    for (char *const *c = cues; *c; c++) {
      size_t cl = strlen(*c);
      if (cl <= p + 1 && memcmp(nb + p + 1 - cl, *c, cl) == 0)
        return 1;
    }
    ws = p - 1;
    while (ws > 0 && nb[ws] != ' ')
      ws--;
    if (es__neg_is_stop(nb + ws + 1, p - ws - 1))
      return 0;
    p = ws;
  }
  return 0;
}

static int set_found(const uint64_t *sets, uint32_t id) {
  return (sets[id / 64] >> (id % 64)) & 1;
}

/* 1 when the line holds a literal of every anchor set of rx's gate. */
static int gate_open(const struct es__regex *rx, const uint64_t *sets) {
  for (unsigned g = 0; g < rx->ngate; g++)
    if (!set_found(sets, rx->gate[g]))
      return 0;
  return 1;
}

/* Matches rule `idx` against the normalised line, running only the
 * regexes whose gate is open (every regex when sets is NULL); fills *hit
 * or records a limit. Returns 1 on a hit. */
static int match_rule(struct es_matcher *m, uint32_t idx, const char *text, size_t len,
                      const char *nb, size_t nlen, const uint64_t *sets, struct es_hit *hit,
                      int *limited) {
  const struct es__rule *r = &m->rules->rules[idx];

  for (size_t k = 0; k < r->nregexes; k++) {
    const struct es__regex *rx = &r->regexes[k];
    size_t off = 0, s, e;

    if (sets && !gate_open(rx, sets))
      continue;
    while (off < nlen) {
      int rc = run(m, rx, nb, nlen, off, &s, &e);
      size_t hs = s, he = e;
      if (rc < 0) {
        *limited = 1;
        break;
      }
      if (rc == 0)
        break;
      if (rx->kind == ES__RX_PHRASES) {
        hs = s + 1; /* the regex consumed the pad space on each side */
        he = e - 1;
      }
      if (r->info.negation && hs > 0 && negated(m->rules, r, text, len, nb, hs)) {
        /* Look for a later, un-negated occurrence. Phrase matches end in
         * the space the next word needs, so restart on it. */
        off = rx->kind == ES__RX_PHRASES ? e - 1 : (e > s ? e : e + 1);
        continue;
      }
      for (size_t u = 0; u < r->nunless; u++) {
        size_t us, ue;
        int urc = run(m, &r->unless[u], nb, nlen, 0, &us, &ue);
        if (urc < 0)
          *limited = 1;
        if (urc != 0)
          return 0;
      }
      size_t os, oe;
      es_norm_span(text, len, hs, he, &os, &oe);
      hit->rule = idx;
      hit->start = (uint32_t)os;
      hit->end = (uint32_t)oe;
      return 1;
    }
    if (*limited)
      return 0;
  }
  return 0;
}

int es_match_line(struct es_matcher *m, enum es_speaker speaker, const char *text, size_t len,
                  unsigned flags, struct es_match_result *out) {
  const struct es_rules *rules = m->rules;
  size_t nlen, ncand = 0, nsets = 0, nhits = 0, nlimited = 0;
  uint64_t *seen = m->seen;
  const uint64_t *sets = NULL;

  memset(out, 0, sizeof(*out));
  if (len > rules->opts.max_line_bytes)
    return ES_ETOOBIG;
  if (!(flags & ES_MATCH_VALID_UTF8) && !es_utf8_valid(text, len))
    return ES_EUTF8;
  m->stats.lines++;
  nlen = es_norm(text, len, m->nbuf);

  if (flags & ES_MATCH_NAIVE) {
    for (uint32_t i = 0; i < rules->n; i++)
      seen[i / 64] |= 1ULL << (i % 64);
    ncand = rules->n;
  } else {
    nsets = es__pf_scan(rules->pf, m->nbuf, nlen, m->sets, m->cand);
    if (nsets == 0 && rules->nunfiltered == 0)
      goto done;
    sets = m->sets;
    /* A rule is a candidate when one of its regexes has its gate open:
     * each set found names the one regex it gates. */
    for (size_t i = 0; i < nsets; i++) {
      const struct es__set_owner *o = &rules->set_owner[m->cand[i]];
      uint32_t id = o->rule;
      if (!(seen[id / 64] & (1ULL << (id % 64))) &&
          gate_open(&rules->rules[id].regexes[o->rx], sets)) {
        seen[id / 64] |= 1ULL << (id % 64);
        ncand++;
      }
    }
    for (uint32_t i = 0; i < rules->nunfiltered; i++) {
      uint32_t id = rules->unfiltered[i];
      ncand += !(seen[id / 64] & (1ULL << (id % 64)));
      seen[id / 64] |= 1ULL << (id % 64);
    }
  }
  m->stats.candidates += ncand;

  /* Walk the bitmap rather than sort the candidates: rule order comes for
   * free and every bit is cleared for the next line. */
  for (size_t w = 0, nw = (rules->n + 63) / 64; w < nw; w++) {
    while (seen[w]) {
      uint32_t idx = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(seen[w]));
      const struct es__rule *r = &rules->rules[idx];
      int limited = 0;
      seen[w] &= seen[w] - 1;
      if (speaker != ES_SPEAKER_ANY && r->info.speaker != ES_SPEAKER_ANY &&
          r->info.speaker != speaker)
        continue;
      m->per_rule[idx].tried++;
      if (match_rule(m, idx, text, len, m->nbuf, nlen, sets, &m->hits[nhits], &limited)) {
        nhits++;
        m->per_rule[idx].hits++;
      }
      if (limited) {
        m->limited[nlimited++] = idx;
        m->per_rule[idx].limit_hits++;
        m->stats.limit_hits++;
      }
    }
  }
  for (size_t i = 0; i < nsets; i++)
    m->sets[m->cand[i] / 64] &= ~(1ULL << (m->cand[i] % 64));
done:
  m->stats.hits += nhits;
  out->hits = m->hits;
  out->nhits = nhits;
  out->limited = m->limited;
  out->nlimited = nlimited;
  return 0;
}
