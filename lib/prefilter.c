/*
 * prefilter.c: Aho-Corasick compiled to a full DFA (see prefilter.h).
 *
 * Layout of the compiled automaton, chosen for the scan loop:
 *
 *   - Bytes are mapped to classes through a 256-entry table. Every byte
 *     value that occurs in some literal has its own class; all the others
 *     share class 0, whose transitions always lead to the root (no literal
 *     contains such a byte, so no partial match can survive it).
 *   - trans[] holds one row per state: for every class, the next state
 *     already multiplied by the row width, so the loop is one add and one
 *     load per byte: state = trans[state + class[byte]]. A row has two
 *     more entries than there are classes: the index of the state's output
 *     list (output states only) and the state's depth, on the cache line
 *     just read.
 *   - States are numbered so that every state with output (its own
 *     literals or those reached through failure links) comes after all the
 *     states without output. A single comparison against first_output
 *     decides whether a byte completed some literal.
 *   - Output lists are flattened at build time: each output state stores
 *     the deduplicated union of the ids along its failure chain, so the
 *     scan never follows failure links.
 *   - The scan is bound by the latency of one load per byte, and in the
 *     daemon most of those loads miss the first-level cache (a rule set's
 *     automaton is megabytes, and English walks through much of it), so
 *     a text is cut in parts walked at the same time: two halves from 16
 *     bytes, four quarters from 48, independent chains of loads in flight
 *     together. A walk starts from the root at its part's start, so it
 *     misses literals that began in the part before; the walk before
 *     therefore goes on past its part for as long as its state is deeper
 *     than the bytes it has read there (its partial match began in its own
 *     part). Once it is not, both walks are in the same state and the next
 *     one has the rest. That is rarely more than a word. A literal may be
 *     seen by two walks; `seen` reports it once. (Four walks against two:
 *     the scan's share of the loop thread's time in a 16-connection bulk
 *     run, `perf record`, 15.3-16.0% to 13.0-13.5%.)
 */
#include "prefilter.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Ceilings. Literal bytes bound the number of trie states; the flattened
 * output lists are bounded separately because pathological sets of nested
 * literals ("a", "aa", "aaa", ...) make them quadratic. */
#define PF_MAX_LITERAL_BYTES ((size_t)1 << 24)
#define PF_MAX_OUTPUT_ENTRIES ((size_t)1 << 26)

struct pf_literal {
  size_t offset; /* into builder->bytes */
  size_t len;
  uint32_t id;
};

struct es__pf_builder {
  unsigned char *bytes; /* owned: all literals, concatenated */
  size_t nbytes;
  size_t bytes_cap;
  struct pf_literal *lits; /* owned */
  size_t nlits;
  size_t lits_cap;
};

struct es__pf {
  uint32_t byte_class[256];
  uint32_t nclasses;
  uint32_t stride;        /* row width: nclasses + 2 */
  uint32_t nstates;
  uint32_t nids;
  uint32_t noutput;       /* states with output, numbered last */
  uint32_t first_output;  /* first output state, multiplied by stride */
  uint32_t *trans;        /* owned: nstates * stride, premultiplied */
  uint32_t *output_start; /* owned: noutput + 1 */
  uint32_t *output_ids;   /* owned: output_start[last] entries */
};

struct es__pf_builder *es__pf_builder_new(void) {
  return calloc(1, sizeof(struct es__pf_builder));
}

void es__pf_builder_free(struct es__pf_builder *b) {
  if (b == NULL) return;
  free(b->bytes);
  free(b->lits);
  free(b);
}

int es__pf_add(struct es__pf_builder *b, const char *lit, size_t len, uint32_t id) {
  if (b == NULL || lit == NULL || len == 0) return ES_EINVAL;
  if (len > PF_MAX_LITERAL_BYTES - b->nbytes) return ES_ENOMEM;
  if (b->nbytes + len > b->bytes_cap) {
    size_t cap = b->bytes_cap ? b->bytes_cap : 256;
    while (cap < b->nbytes + len) cap *= 2;
    unsigned char *bytes = realloc(b->bytes, cap);
    if (bytes == NULL) return ES_ENOMEM;
    b->bytes = bytes;
    b->bytes_cap = cap;
  }
  if (b->nlits == b->lits_cap) {
    size_t cap = b->lits_cap ? b->lits_cap * 2 : 32;
    struct pf_literal *lits = realloc(b->lits, cap * sizeof(*lits));
    if (lits == NULL) return ES_ENOMEM;
    b->lits = lits;
    b->lits_cap = cap;
  }
  memcpy(b->bytes + b->nbytes, lit, len);
  b->lits[b->nlits].offset = b->nbytes;
  b->lits[b->nlits].len = len;
  b->lits[b->nlits].id = id;
  b->nlits++;
  b->nbytes += len;
  return 0;
}

/* A (state, id) pair: literal `id` ends in trie state `state`. */
struct pf_terminal {
  uint32_t state;
  uint32_t id;
};

static int terminal_cmp(const void *a, const void *b) {
  const struct pf_terminal *x = a, *y = b;
  if (x->state != y->state) return x->state < y->state ? -1 : 1;
  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return 0;
}

int es__pf_build(struct es__pf_builder *b, uint32_t nids, struct es__pf **out) {
  struct es__pf *pf = NULL;
  uint32_t *trie = NULL;     /* trie, then DFA, in original numbering */
  uint32_t *fail = NULL;
  uint32_t *depth = NULL;    /* length of the trie path to each state */
  uint32_t *queue = NULL;    /* states in breadth-first order */
  uint32_t *own_start = NULL;
  struct pf_terminal *terms = NULL;
  uint32_t *flat_start = NULL, *flat_len = NULL, *flat_ids = NULL;
  uint32_t *stamp = NULL;
  uint32_t *renum = NULL;
  int rc = ES_ENOMEM;

  if (b == NULL || out == NULL) return ES_EINVAL;
  *out = NULL;
  for (size_t i = 0; i < b->nlits; i++)
    if (b->lits[i].id >= nids) return ES_EINVAL;

  pf = calloc(1, sizeof(*pf));
  if (pf == NULL) goto fail;
  pf->nids = nids;

  /* The alphabet. */
  unsigned char used[256] = {0};
  for (size_t i = 0; i < b->nbytes; i++) used[b->bytes[i]] = 1;
  uint32_t nused = 0;
  for (int c = 0; c < 256; c++) nused += used[c];
  /* With all 256 values in use there is nothing left for class 0. */
  uint32_t next_class = nused == 256 ? 0 : 1;
  for (int c = 0; c < 256; c++) pf->byte_class[c] = used[c] ? next_class++ : 0;
  uint32_t nc = next_class; /* 1 without literals: one class, one state */
  pf->nclasses = nc;
  pf->stride = nc + 2;

  /* The trie. Child 0 means "none": the root is nobody's child. */
  size_t max_states = b->nbytes + 1;
  if ((uint64_t)max_states * pf->stride > UINT32_MAX) goto fail;
  trie = calloc(max_states * nc, sizeof(uint32_t));
  terms = malloc((b->nlits ? b->nlits : 1) * sizeof(*terms));
  if (trie == NULL || terms == NULL) goto fail;
  uint32_t nstates = 1;
  for (size_t i = 0; i < b->nlits; i++) {
    const unsigned char *lit = b->bytes + b->lits[i].offset;
    uint32_t s = 0;
    for (size_t j = 0; j < b->lits[i].len; j++) {
      uint32_t *edge = &trie[(size_t)s * nc + pf->byte_class[lit[j]]];
      if (*edge == 0) *edge = nstates++;
      s = *edge;
    }
    terms[i].state = s;
    terms[i].id = b->lits[i].id;
  }
  pf->nstates = nstates;

  /* Own outputs per state, deduplicated (same literal, same id twice). */
  qsort(terms, b->nlits, sizeof(*terms), terminal_cmp);
  own_start = calloc((size_t)nstates + 1, sizeof(uint32_t));
  if (own_start == NULL) goto fail;
  size_t nterms = 0;
  for (size_t i = 0; i < b->nlits; i++) {
    if (nterms > 0 && terminal_cmp(&terms[nterms - 1], &terms[i]) == 0) continue;
    terms[nterms++] = terms[i];
  }
  for (size_t i = 0; i < nterms; i++) own_start[terms[i].state + 1]++;
  for (uint32_t s = 0; s < nstates; s++) own_start[s + 1] += own_start[s];

  /* Breadth-first: failure links, and the missing edges of the DFA. When
   * state s is dequeued its row still holds only trie edges, and the rows
   * of all shallower states are complete. */
  fail = calloc(nstates, sizeof(uint32_t));
  depth = calloc(nstates, sizeof(uint32_t));
  queue = malloc((size_t)nstates * sizeof(uint32_t));
  if (fail == NULL || depth == NULL || queue == NULL) goto fail;
  size_t head = 0, tail = 0;
  queue[tail++] = 0;
  while (head < tail) {
    uint32_t s = queue[head++];
    uint32_t *row = &trie[(size_t)s * nc];
    const uint32_t *fail_row = &trie[(size_t)fail[s] * nc];
    for (uint32_t c = 0; c < nc; c++) {
      if (row[c] != 0) {
        fail[row[c]] = s == 0 ? 0 : fail_row[c];
        depth[row[c]] = depth[s] + 1;
        queue[tail++] = row[c];
      } else {
        row[c] = s == 0 ? 0 : fail_row[c];
      }
    }
  }

  /* Flattened outputs: own ids, then those of the failure state (already
   * flattened, being shallower), skipping ids seen for this state. */
  flat_start = malloc((size_t)nstates * sizeof(uint32_t));
  flat_len = calloc(nstates, sizeof(uint32_t));
  stamp = malloc((nids ? nids : 1) * sizeof(uint32_t));
  if (flat_start == NULL || flat_len == NULL || stamp == NULL) goto fail;
  for (uint32_t i = 0; i < nids; i++) stamp[i] = UINT32_MAX;
  size_t flat_n = 0, flat_cap = 0;
  for (size_t qi = 0; qi < nstates; qi++) {
    uint32_t s = queue[qi];
    uint32_t f = fail[s];
    size_t need = (own_start[s + 1] - own_start[s]) + (s == 0 ? 0 : flat_len[f]);
    flat_start[s] = (uint32_t)flat_n;
    if (need == 0) continue;
    if (flat_n + need > PF_MAX_OUTPUT_ENTRIES) goto fail;
    if (flat_n + need > flat_cap) {
      size_t cap = flat_cap ? flat_cap : 1024;
      while (cap < flat_n + need) cap *= 2;
      uint32_t *ids = realloc(flat_ids, cap * sizeof(uint32_t));
      if (ids == NULL) goto fail;
      flat_ids = ids;
      flat_cap = cap;
    }
    uint32_t n = 0;
    for (uint32_t i = own_start[s]; i < own_start[s + 1]; i++) {
      stamp[terms[i].id] = s;
      flat_ids[flat_n + n++] = terms[i].id;
    }
    if (s != 0) {
      for (uint32_t i = 0; i < flat_len[f]; i++) {
        uint32_t id = flat_ids[flat_start[f] + i];
        if (stamp[id] == s) continue;
        stamp[id] = s;
        flat_ids[flat_n + n++] = id;
      }
    }
    flat_len[s] = n;
    flat_n += n;
  }

  /* Renumber: states without output first, in breadth-first order (the
   * shallow, hot rows stay together), then the output states. */
  renum = malloc((size_t)nstates * sizeof(uint32_t));
  if (renum == NULL) goto fail;
  uint32_t nplain = 0;
  for (size_t qi = 0; qi < nstates; qi++)
    if (flat_len[queue[qi]] == 0) renum[queue[qi]] = nplain++;
  uint32_t next = nplain;
  for (size_t qi = 0; qi < nstates; qi++)
    if (flat_len[queue[qi]] != 0) renum[queue[qi]] = next++;
  pf->noutput = nstates - nplain;
  pf->first_output = nplain * pf->stride;

  pf->trans = malloc((size_t)nstates * pf->stride * sizeof(uint32_t));
  pf->output_start = malloc(((size_t)pf->noutput + 1) * sizeof(uint32_t));
  pf->output_ids = malloc((flat_n ? flat_n : 1) * sizeof(uint32_t));
  if (pf->trans == NULL || pf->output_start == NULL || pf->output_ids == NULL) goto fail;
  for (uint32_t s = 0; s < nstates; s++) {
    const uint32_t *from = &trie[(size_t)s * nc];
    uint32_t *to = &pf->trans[(size_t)renum[s] * pf->stride];
    for (uint32_t c = 0; c < nc; c++) to[c] = renum[from[c]] * pf->stride;
    to[nc] = renum[s] >= nplain ? renum[s] - nplain : 0;
    to[nc + 1] = depth[s];
  }
  /* Output lists in the new numbering, contiguous. The queue is no longer
   * needed: it becomes the inverse of renum over the output states. */
  uint32_t *output_state = queue;
  for (uint32_t s = 0; s < nstates; s++)
    if (renum[s] >= nplain) output_state[renum[s] - nplain] = s;
  size_t pos = 0;
  for (uint32_t k = 0; k < pf->noutput; k++) {
    uint32_t s = output_state[k];
    pf->output_start[k] = (uint32_t)pos;
    memcpy(pf->output_ids + pos, flat_ids + flat_start[s], flat_len[s] * sizeof(uint32_t));
    pos += flat_len[s];
  }
  pf->output_start[pf->noutput] = (uint32_t)pos;

  *out = pf;
  pf = NULL;
  rc = 0;

fail:
  free(renum);
  free(stamp);
  free(flat_ids);
  free(flat_len);
  free(flat_start);
  free(own_start);
  free(queue);
  free(depth);
  free(fail);
  free(terms);
  free(trie);
  es__pf_free(pf);
  return rc;
}

void es__pf_free(struct es__pf *pf) {
  if (pf == NULL) return;
  free(pf->trans);
  free(pf->output_start);
  free(pf->output_ids);
  free(pf);
}

uint32_t es__pf_nids(const struct es__pf *pf) { return pf->nids; }

size_t es__pf_nstates(const struct es__pf *pf) { return pf->nstates; }

size_t es__pf_memory(const struct es__pf *pf) {
  return sizeof(*pf) + (size_t)pf->nstates * pf->stride * sizeof(uint32_t) +
         ((size_t)pf->noutput + 1) * sizeof(uint32_t) +
         (size_t)pf->output_start[pf->noutput] * sizeof(uint32_t);
}

/* The rare path, kept out of line so the loop stays small. */
__attribute__((noinline)) static size_t pf_report(const struct es__pf *pf, uint32_t state, uint64_t *seen,
                        uint32_t *ids_out, size_t n) {
  uint32_t k = pf->trans[state + pf->nclasses];
  const uint32_t *id = pf->output_ids + pf->output_start[k];
  const uint32_t *end = pf->output_ids + pf->output_start[k + 1];
  for (; id < end; id++) {
    uint64_t bit = (uint64_t)1 << (*id & 63);
    if (seen[*id >> 6] & bit) continue;
    seen[*id >> 6] |= bit;
    ids_out[n++] = *id;
  }
  return n;
}

size_t es__pf_scan(const struct es__pf *pf, const char *text, size_t len,
                   uint64_t *seen, uint32_t *ids_out) {
  const uint32_t *restrict trans = pf->trans;
  const uint32_t *restrict byte_class = pf->byte_class;
  const unsigned char *p = (const unsigned char *)text;
  const uint32_t first_output = pf->first_output;
  const uint32_t depth_column = pf->nclasses + 1;
  uint32_t state = 0, state2 = 0;
  size_t n = 0;
  size_t i = 0;

#define PF_STEP(st, byte)                                  \
  do {                                                     \
    st = trans[st + byte_class[byte]];                     \
    if (__builtin_expect(st >= first_output, 0))           \
      n = pf_report(pf, st, seen, ids_out, n);             \
  } while (0)

/* Walk st on from `from` for as long as its partial match began before
 * `from` (its depth exceeds the bytes read since): the next walk, which
 * started from the root at `from`, has everything else. */
#define PF_GO_ON(st, from)                                                     \
  do {                                                                         \
    for (size_t j_ = (from); j_ < len && trans[st + depth_column] > j_ - (from); j_++) \
      PF_STEP(st, p[j_]);                                                      \
  } while (0)

  if (len < 16) {
    for (; i < len; i++) PF_STEP(state, p[i]);
    return n;
  }
  if (len < 48) {
    /* first walk: [0, half) then on; second walk: [half, len) */
    size_t half = len / 2;
    const unsigned char *q = p + half;
    for (; i < half; i++) {
      PF_STEP(state, p[i]);
      PF_STEP(state2, q[i]);
    }
    if (len & 1) PF_STEP(state2, q[half]);
    PF_GO_ON(state, half);
    return n;
  }
  /* Four walks, one per quarter, four loads in flight: the rows a line
   * visits are mostly not in the first-level cache, and one walk waits
   * for each of its loads. Each walk but the last then goes on past its
   * quarter while its match began inside it. */
  size_t quarter = len / 4;
  const unsigned char *q1 = p + quarter, *q2 = q1 + quarter, *q3 = q2 + quarter;
  uint32_t state3 = 0, state4 = 0;
  for (; i < quarter; i++) {
    PF_STEP(state, p[i]);
    PF_STEP(state2, q1[i]);
    PF_STEP(state3, q2[i]);
    PF_STEP(state4, q3[i]);
  }
  for (size_t j = 4 * quarter; j < len; j++) PF_STEP(state4, p[j]);
  PF_GO_ON(state, quarter);
  PF_GO_ON(state2, 2 * quarter);
  PF_GO_ON(state3, 3 * quarter);
  return n;
#undef PF_GO_ON
#undef PF_STEP
}
