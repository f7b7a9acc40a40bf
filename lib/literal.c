/*
 * literal.c: required-literal extraction from PCRE2 patterns (see
 * literal.h).
 *
 * A small recursive-descent reader of the PCRE2 syntax that rule authors
 * actually use. Every sub-expression is summarised by an anchor set (a
 * set of literals, one of which every match of it contains) or by "none".
 *
 *   - A sequence keeps one factor: the longest run of mandatory literal
 *     characters, or the anchor set of a mandatory group, whichever has the
 *     longest shortest literal. Runs end at anything that is not a plain
 *     character: a class, `.`, an escape such as \d or \b, an anchor, a
 *     group, a quantifier that may repeat.
 *   - An alternation is the union of its branches' sets, and none as soon
 *     as one branch has none or the union grows past ES_LITSET_MAX.
 *   - A sequence also keeps its second-best factor, when it shares no
 *     literal (nor a part of one) with the best: every match contains a
 *     literal of each, so the prefilter may require both. It survives a
 *     group with one branch and the whole pattern when that has one
 *     branch; an alternation of several branches keeps only the union.
 *   - An atom quantified by ?, * or {0,...} is dropped; one quantified by
 *     + or {n,...} with n >= 1 counts once and ends the run.
 *   - Lookarounds are read (to find their end) and then ignored.
 *
 * Anything else, or anything whose reading might depend on the PCRE2
 * version (`{` that is not a plain quantifier, for one), abandons the
 * whole pattern: a wrong set makes the product miss alerts silently,
 * while no set only costs speed.
 *
 * The reader assumes the pattern is compiled with PCRE2_CASELESS |
 * PCRE2_UTF and no other option that changes syntax (PCRE2_EXTENDED,
 * PCRE2_ALLOW_EMPTY_CLASS, PCRE2_ALT_BSUX, PCRE2_LITERAL).
 */
#include "literal.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* PCRE2's own default limit on nested parentheses. */
#define LIT_MAX_DEPTH 250

struct reader {
  const unsigned char *p; /* borrowed: the next byte of the pattern */
  int depth;
  int give_up; /* a construct we do not understand was seen */
  int nomem;
};

/* What a quantifier does to the atom before it. */
enum quant {
  QUANT_NONE,      /* no quantifier: exactly once */
  QUANT_OPTIONAL,  /* may occur zero times */
  QUANT_MANDATORY, /* occurs at least once, maybe more */
};

void es__litset_free(struct es__litset *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < s->n; i++) free(s->lits[i]);
  free(s->lits);
  free(s->lens);
  s->lits = NULL;
  s->lens = NULL;
  s->n = 0;
}

static void set_init(struct es__litset *s) {
  s->lits = NULL;
  s->lens = NULL;
  s->n = 0;
}

/* Appends a copy of lit[0..len). The arrays are sized for ES_LITSET_MAX
 * twice over (a union of two full sets before it is pruned). */
static int set_push(struct es__litset *s, const char *lit, size_t len) {
  if (s->lits == NULL) {
    s->lits = malloc(2 * ES_LITSET_MAX * sizeof(char *));
    s->lens = malloc(2 * ES_LITSET_MAX * sizeof(size_t));
    if (s->lits == NULL || s->lens == NULL) return ES_ENOMEM;
  }
  if (s->n >= 2 * ES_LITSET_MAX) return ES_EINVAL; /* never: callers prune */
  char *copy = malloc(len + 1);
  if (copy == NULL) return ES_ENOMEM;
  memcpy(copy, lit, len);
  copy[len] = '\0';
  s->lits[s->n] = copy;
  s->lens[s->n] = len;
  s->n++;
  return 0;
}

static int contains(const char *hay, size_t hlen, const char *needle, size_t nlen) {
  if (nlen > hlen) return 0;
  for (size_t i = 0; i + nlen <= hlen; i++)
    if (memcmp(hay + i, needle, nlen) == 0) return 1;
  return 0;
}

/* Drops duplicates and every literal that contains another one: a string
 * that contains "abc" contains "b", so {"abc", "b"} says no more than
 * {"b"}. */
static void set_prune(struct es__litset *s) {
  size_t kept = 0;
  for (size_t i = 0; i < s->n; i++) {
    int redundant = 0;
    for (size_t j = 0; j < s->n && !redundant; j++) {
      if (j == i || s->lits[j] == NULL) continue;
      if (s->lens[j] == s->lens[i] ? (j < i && memcmp(s->lits[j], s->lits[i], s->lens[i]) == 0)
                                   : contains(s->lits[i], s->lens[i], s->lits[j], s->lens[j]))
        redundant = 1;
    }
    if (redundant) {
      free(s->lits[i]);
      s->lits[i] = NULL;
    }
  }
  for (size_t i = 0; i < s->n; i++) {
    if (s->lits[i] == NULL) continue;
    s->lits[kept] = s->lits[i];
    s->lens[kept] = s->lens[i];
    kept++;
  }
  s->n = kept;
}

static size_t set_min_len(const struct es__litset *s) {
  size_t min = (size_t)-1;
  for (size_t i = 0; i < s->n; i++)
    if (s->lens[i] < min) min = s->lens[i];
  return min;
}

/* Moves src's literals into dst (src ends empty). If the result has more
 * than ES_LITSET_MAX literals, dst becomes none and *overflow is set. */
static int set_union(struct es__litset *dst, struct es__litset *src, int *overflow) {
  for (size_t i = 0; i < src->n; i++) {
    int rc = set_push(dst, src->lits[i], src->lens[i]);
    if (rc != 0) return rc;
  }
  es__litset_free(src);
  set_prune(dst);
  if (dst->n > ES_LITSET_MAX) {
    es__litset_free(dst);
    *overflow = 1;
  }
  return 0;
}

/* Keeps the better of *best and *cand (set_better()) in *best and frees
 * the other. */
/* Words so common in speech that a literal made of them passes most
 * lines (compare rules.c's weak_words, for phrases). */
static const char *const common_words[] = {
  "a", "about", "all", "am", "an", "and", "are", "as", "at", "be", "but", "can", "cant",
  "do", "dont", "for", "get", "go", "going", "got", "have", "he", "i", "if", "ill", "im",
  "in", "is", "it", "its", "just", "me", "my", "no", "not", "of", "on", "one", "or",
  "our", "out", "she", "so", "that", "the", "them", "there", "they", "this", "to", "up",
  "was", "we", "were", "what", "will", "with", "you", "your",
  NULL,
};

static int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* How much a literal narrows the lines it occurs in: its bytes in runs of
 * letters and digits, counting a run of one or two (a fragment such as
 * "th" or "tv", which may hide inside many words) as one and a common
 * word as nothing. */
static size_t lit_strength(const char *lit, size_t len) {
  size_t total = 0, i = 0;
  while (i < len) {
    size_t start;
    while (i < len && !is_word_byte((unsigned char)lit[i])) i++;
    start = i;
    while (i < len && is_word_byte((unsigned char)lit[i])) i++;
    size_t run = i - start;
    if (run == 0) continue;
    if (run < 3) {
      total += 1;
      continue;
    }
    int common = 0;
    for (const char *const *w = common_words; *w && !common; w++)
      common = strlen(*w) == run && memcmp(*w, lit + start, run) == 0;
    if (!common) total += run;
  }
  return total;
}

size_t es__litset_strength(const struct es__litset *s) {
  size_t min = (size_t)-1;
  for (size_t i = 0; i < s->n; i++) {
    size_t st = lit_strength(s->lits[i], s->lens[i]);
    if (st < min) min = st;
  }
  return s->n ? min : 0;
}

/* 1 when cand is the better anchor set: its weakest literal is stronger,
 * then its shortest literal longer, then it has fewer literals (fewer
 * false candidates for the prefilter, a smaller automaton). */
static int set_better(const struct es__litset *cand, const struct es__litset *best) {
  size_t cs = es__litset_strength(cand), bs = es__litset_strength(best);
  if (cs != bs) return cs > bs;
  size_t cm = set_min_len(cand), bm = set_min_len(best);
  return cm > bm || (cm == bm && cand->n < best->n);
}

static void keep_better(struct es__litset *best, struct es__litset *cand) {
  if (cand->n == 0) {
    es__litset_free(cand);
    return;
  }
  if (best->n == 0 || set_better(cand, best)) {
    es__litset_free(best);
    *best = *cand;
    set_init(cand);
  } else {
    es__litset_free(cand);
  }
}

/* The best factor of a sequence and, independent of it, the second best
 * (b.n == 0: none). */
struct factors {
  struct es__litset a, b;
};

static void factors_init(struct factors *f) {
  set_init(&f->a);
  set_init(&f->b);
}

static void factors_free(struct factors *f) {
  es__litset_free(&f->a);
  es__litset_free(&f->b);
}

/* 1 when some literal of x contains some literal of y or the reverse:
 * requiring both would then say little more than requiring one. */
static int sets_overlap(const struct es__litset *x, const struct es__litset *y) {
  for (size_t i = 0; i < x->n; i++)
    for (size_t j = 0; j < y->n; j++)
      if (contains(x->lits[i], x->lens[i], y->lits[j], y->lens[j]) ||
          contains(y->lits[j], y->lens[j], x->lits[i], x->lens[i]))
        return 1;
  return 0;
}

/* Offers cand to f: it becomes the best, the second best, or is freed
 * (cand ends empty either way). */
static void keep_top2(struct factors *f, struct es__litset *cand) {
  struct es__litset old;
  if (cand->n == 0) {
    es__litset_free(cand);
    return;
  }
  if (f->a.n == 0 || set_better(cand, &f->a)) {
    old = f->a;
    f->a = *cand;
    set_init(cand);
    if (sets_overlap(&f->b, &f->a)) es__litset_free(&f->b);
    cand = &old; /* the former best competes for second place */
  }
  if (sets_overlap(cand, &f->a))
    es__litset_free(cand);
  else
    keep_better(&f->b, cand);
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_alnum(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Printable ASCII that is neither a letter nor a digit: escaped, it always
 * stands for itself. */
static int is_punct_or_space(unsigned char c) {
  return c >= 0x20 && c < 0x7f && !is_alnum(c);
}

static int is_quant_start(unsigned char c) {
  return c == '?' || c == '*' || c == '+' || c == '{';
}

/* Reads an optional quantifier at r->p. Only the forms whose meaning has
 * not changed between PCRE2 versions are accepted: ?, *, +, {n}, {n,},
 * {n,m}, then an optional lazy `?` or possessive `+`. Any other `{`, or a
 * second quantifier, abandons the pattern. */
static enum quant read_quant(struct reader *r) {
  enum quant q;
  unsigned char c = *r->p;
  if (c == '?' || c == '*') {
    q = QUANT_OPTIONAL;
    r->p++;
  } else if (c == '+') {
    q = QUANT_MANDATORY;
    r->p++;
  } else if (c == '{') {
    const unsigned char *s = r->p + 1;
    unsigned long min = 0;
    int ndigits = 0;
    while (is_digit(*s)) {
      if (ndigits++ < 9) min = min * 10 + (unsigned long)(*s - '0');
      s++;
    }
    if (ndigits == 0) goto give_up;
    if (*s == ',') {
      s++;
      while (is_digit(*s)) s++;
    }
    if (*s != '}') goto give_up;
    r->p = s + 1;
    q = min == 0 ? QUANT_OPTIONAL : QUANT_MANDATORY;
  } else {
    return QUANT_NONE;
  }
  if (*r->p == '?' || *r->p == '+') r->p++;
  if (is_quant_start(*r->p)) goto give_up;
  return q;
give_up:
  r->give_up = 1;
  return QUANT_NONE;
}

/* Skips a character class; r->p is just past the `[`. */
static void skip_class(struct reader *r) {
  const unsigned char *p = r->p;
  if (*p == '^') p++;
  if (*p == ']') p++; /* a leading ] is a literal member */
  for (;;) {
    unsigned char c = *p;
    if (c == '\0' || c >= 0x80) goto give_up;
    if (c == ']') break;
    if (c == '\\') {
      unsigned char e = p[1];
      /* \c would swallow the next byte, \Q..\E quotes: both can hide a ]. */
      if (!(is_punct_or_space(e) || (e != '\0' && strchr("dDwWsSnrtfa", e) != NULL)))
        goto give_up;
      p += 2;
      continue;
    }
    if (c == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
      /* A POSIX class such as [:alpha:] or [:^digit:]; nothing irregular. */
      unsigned char kind = p[1];
      const unsigned char *s = p + 2;
      if (kind == ':' && *s == '^') s++;
      const unsigned char *name = s;
      while (*s >= 'a' && *s <= 'z') s++;
      if (s == name || s[0] != kind || s[1] != ']') goto give_up;
      p = s + 2;
      continue;
    }
    p++;
  }
  r->p = p + 1;
  return;
give_up:
  r->give_up = 1;
}

static int read_alternation(struct reader *r, struct factors *out, struct es__litset *exact,
                            int *is_exact);

/*
 * Chains. Besides its best factor, a sequence keeps the "chain": the exact
 * set of strings that the text matched since the last point where it
 * stopped knowing (a class, a quantifier, an assertion, an inexact group).
 * Literal characters extend every string of the chain; a group whose
 * language is a finite set of strings (an "exact" group, such as
 * (?:speak|talk)) multiplies it, up to ES_LITSET_MAX strings. So
 * "(?:speak|talk) to (?:a|the) manager" yields the four whole phrases
 * rather than " manager" alone. When the chain is cut, its strings become
 * a candidate factor: whatever the sequence matched contains one of them
 * (unless one is empty, and then it is no candidate).
 */
static int chain_reset(struct es__litset *chain) {
  es__litset_free(chain);
  return set_push(chain, "", 0);
}

static int chain_flush(struct reader *r, struct es__litset *chain, struct factors *best) {
  struct es__litset cand;
  int rc = 0, has_empty = 0;
  (void)r;
  set_init(&cand);
  for (size_t i = 0; i < chain->n; i++)
    has_empty |= chain->lens[i] == 0;
  if (!has_empty) {
    for (size_t i = 0; i < chain->n && rc == 0; i++)
      rc = set_push(&cand, chain->lits[i], chain->lens[i]);
    if (rc == 0) {
      set_prune(&cand);
      keep_top2(best, &cand);
    }
  }
  es__litset_free(&cand);
  if (rc == 0)
    rc = chain_reset(chain);
  return rc;
}

/* chain := chain x tail. Returns 1 (and leaves chain alone) when the
 * product would exceed ES_LITSET_MAX strings. */
static int chain_product(struct es__litset *chain, const struct es__litset *tail, int *rc) {
  struct es__litset out;
  *rc = 0;
  if (chain->n * tail->n > ES_LITSET_MAX)
    return 1;
  set_init(&out);
  for (size_t i = 0; i < chain->n && *rc == 0; i++)
    for (size_t j = 0; j < tail->n && *rc == 0; j++) {
      size_t len = chain->lens[i] + tail->lens[j];
      char *tmp = malloc(len + 1);
      if (tmp == NULL) {
        *rc = ES_ENOMEM;
        break;
      }
      memcpy(tmp, chain->lits[i], chain->lens[i]);
      memcpy(tmp + chain->lens[i], tail->lits[j], tail->lens[j]);
      *rc = set_push(&out, tmp, len);
      free(tmp);
    }
  if (*rc != 0) {
    es__litset_free(&out);
    return 0;
  }
  es__litset_free(chain);
  *chain = out;
  return 0;
}

static int chain_char(struct es__litset *chain, char c) {
  struct es__litset one;
  int rc;
  set_init(&one);
  if ((rc = set_push(&one, &c, 1)) == 0)
    chain_product(chain, &one, &rc); /* x1 never overflows */
  es__litset_free(&one);
  return rc;
}

/* Reads a group; r->p is just past the `(`. Updates the sequence's best
 * factor, its chain and whether it is still exact. */
static void read_group(struct reader *r, struct factors *best, struct es__litset *chain,
                       int *seq_exact) {
  int lookaround = 0, inner_exact = 0, rc = 0;
  const unsigned char *p = r->p;
  struct factors inner;
  struct es__litset exact;
  factors_init(&inner);
  set_init(&exact);

  if (*p == '*') goto give_up; /* (*VERB) and friends */
  if (*p == '?') {
    p++;
    if (*p == ':') {
      p++;
    } else if (*p == '=' || *p == '!') {
      lookaround = 1;
      p++;
    } else if (*p == '<' && (p[1] == '=' || p[1] == '!')) {
      lookaround = 1;
      p += 2;
    } else if (*p == '<' || *p == '\'' || (*p == 'P' && p[1] == '<')) {
      /* a named capture: (?<name>, (?'name' or (?P<name> */
      if (*p == 'P') p++;
      unsigned char close = *p == '<' ? '>' : '\'';
      p++;
      const unsigned char *name = p;
      while (is_alnum(*p) || *p == '_') p++;
      if (p == name || is_digit(*name) || *p != close) goto give_up;
      p++;
    } else {
      goto give_up; /* options, comments, conditionals, recursion, ... */
    }
  }
  r->p = p;
  if (++r->depth > LIT_MAX_DEPTH) goto give_up;
  if (read_alternation(r, &inner, &exact, &inner_exact) != 0) goto done;
  r->depth--;
  if (r->give_up) goto done;
  if (*r->p != ')') goto give_up;
  r->p++;
  enum quant q = read_quant(r);
  if (r->give_up) goto done;
  if (lookaround || q == QUANT_OPTIONAL || !inner_exact) {
    /* The chain stops here; an inexact group still offers its factor. */
    *seq_exact = 0;
    if ((rc = chain_flush(r, chain, best)) != 0) goto nomem;
    if (!lookaround && q != QUANT_OPTIONAL) {
      keep_top2(best, &inner.a);
      keep_top2(best, &inner.b);
    }
    goto done;
  }
  if (chain_product(chain, &exact, &rc)) {
    /* Too many strings: cut the chain and start again from the group. */
    *seq_exact = 0;
    if ((rc = chain_flush(r, chain, best)) != 0) goto nomem;
    es__litset_free(chain);
    *chain = exact;
    set_init(&exact);
  } else if (rc != 0) {
    goto nomem;
  }
  if (q == QUANT_MANDATORY) {
    /* One occurrence is certain; what follows it is not. */
    *seq_exact = 0;
    if ((rc = chain_flush(r, chain, best)) != 0) goto nomem;
  }
done:
  factors_free(&inner);
  es__litset_free(&exact);
  return;
nomem:
  r->nomem = 1;
  goto done;
give_up:
  r->give_up = 1;
  factors_free(&inner);
  es__litset_free(&exact);
}

/* Reads a sequence up to `|`, `)` or the end into *out (its two best
 * factors, or none) and, when everything in it was exact, its exact set
 * into *exact with *is_exact = 1. */
static int read_sequence(struct reader *r, struct factors *out, struct es__litset *exact,
                         int *is_exact) {
  struct factors best;
  struct es__litset chain;
  int rc = 0, seq_exact = 1;
  factors_init(&best);
  set_init(&chain);
  *is_exact = 0;
  set_init(exact);
  if ((rc = chain_reset(&chain)) != 0) goto fail;

#define CUT()                                                                \
  do {                                                                       \
    seq_exact = 0;                                                           \
    if ((rc = chain_flush(r, &chain, &best)) != 0) goto fail;                \
  } while (0)

  for (;;) {
    unsigned char c = *r->p;
    if (c == '\0' || c == '|' || c == ')') break;
    if (c >= 0x80) {
      r->give_up = 1;
      break;
    }
    if (c == '(') {
      r->p++;
      read_group(r, &best, &chain, &seq_exact);
      if (r->nomem) {
        rc = ES_ENOMEM;
        goto fail;
      }
      if (r->give_up) break;
      continue;
    }
    if (c == '[' || c == '.') {
      /* exactly one character we do not pin down */
      CUT();
      r->p++;
      if (c == '[') skip_class(r);
      if (r->give_up) break;
      read_quant(r);
      if (r->give_up) break;
      continue;
    }
    if (c == '^' || c == '$') {
      CUT();
      r->p++;
      if (is_quant_start(*r->p)) r->give_up = 1;
      if (r->give_up) break;
      continue;
    }
    if (is_quant_start(c)) {
      /* a quantifier with nothing to repeat, or a `{` that may be literal */
      r->give_up = 1;
      break;
    }
    if (c == '\\') {
      unsigned char e = r->p[1];
      if (e != '\0' && strchr("dDwWsS", e) != NULL) {
        CUT();
        r->p += 2;
        read_quant(r);
        if (r->give_up) break;
        continue;
      }
      if (e != '\0' && strchr("bBAzZG", e) != NULL) {
        CUT();
        r->p += 2;
        if (is_quant_start(*r->p)) r->give_up = 1;
        if (r->give_up) break;
        continue;
      }
      if (!is_punct_or_space(e)) {
        r->give_up = 1; /* \Q, \x, \p, \g, \k, \K, digits, ... */
        break;
      }
      c = e;
      r->p += 2;
    } else {
      r->p++;
    }
    /* c is a literal character; a quantifier applies to it alone. */
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
    enum quant q = read_quant(r);
    if (r->give_up) break;
    if (q == QUANT_OPTIONAL) {
      CUT();
      continue;
    }
    if ((rc = chain_char(&chain, (char)c)) != 0) goto fail;
    if (q == QUANT_MANDATORY) CUT();
  }
#undef CUT
  if (!r->give_up) {
    if (seq_exact) {
      /* The whole sequence is one of the chain's strings. */
      for (size_t i = 0; i < chain.n && rc == 0; i++)
        rc = set_push(exact, chain.lits[i], chain.lens[i]);
      if (rc != 0) goto fail;
      *is_exact = 1;
    }
    if ((rc = chain_flush(r, &chain, &best)) != 0) goto fail;
  }
  es__litset_free(&chain);
  *out = best;
  return 0;
fail:
  factors_free(&best);
  es__litset_free(&chain);
  es__litset_free(exact);
  *is_exact = 0;
  r->nomem = 1;
  return rc;
}

/* Reads branches separated by `|` up to `)` or the end into *out: the
 * union of the branches' best sets, or none, and with one branch only,
 * its second factor too; and, when every branch is exact, the union of
 * their exact sets (at most ES_LITSET_MAX) into *exact. */
static int read_alternation(struct reader *r, struct factors *out, struct es__litset *exact,
                            int *is_exact) {
  struct factors branch;
  struct es__litset all, second, bexact;
  int every_branch_has_one = 1, all_exact = 1, bex = 0, nbranches = 0;
  int rc = 0;
  set_init(&all);
  set_init(&second);
  factors_init(&branch);
  set_init(&bexact);
  set_init(exact);
  for (;;) {
    if ((rc = read_sequence(r, &branch, &bexact, &bex)) != 0) goto fail;
    if (r->give_up) {
      factors_free(&branch);
      es__litset_free(&bexact);
      break;
    }
    if (nbranches++ == 0) {
      second = branch.b;
      set_init(&branch.b);
    } else {
      es__litset_free(&second); /* a union of conjunctions is no conjunction */
    }
    if (branch.a.n == 0) every_branch_has_one = 0;
    if (every_branch_has_one) {
      int overflow = 0;
      if ((rc = set_union(&all, &branch.a, &overflow)) != 0) goto fail;
      if (overflow) every_branch_has_one = 0;
    }
    factors_free(&branch);
    if (!bex || exact->n + bexact.n > ES_LITSET_MAX) {
      all_exact = 0;
    } else if (all_exact) {
      for (size_t i = 0; i < bexact.n && rc == 0; i++) {
        int dup = 0;
        for (size_t j = 0; j < exact->n && !dup; j++)
          dup = exact->lens[j] == bexact.lens[i] &&
                memcmp(exact->lits[j], bexact.lits[i], bexact.lens[i]) == 0;
        if (!dup) rc = set_push(exact, bexact.lits[i], bexact.lens[i]);
      }
      if (rc != 0) goto fail;
    }
    es__litset_free(&bexact);
    if (*r->p != '|') break;
    r->p++;
  }
  if (r->give_up || !every_branch_has_one) {
    es__litset_free(&all);
    es__litset_free(&second);
  }
  if (r->give_up || !all_exact) es__litset_free(exact);
  *is_exact = !r->give_up && all_exact;
  out->a = all;
  out->b = second;
  return 0;
fail:
  factors_free(&branch);
  es__litset_free(&bexact);
  es__litset_free(&all);
  es__litset_free(&second);
  es__litset_free(exact);
  *is_exact = 0;
  r->nomem = 1;
  return rc;
}

int es__lit_from_pattern2(const char *pattern, struct es__litset *out, struct es__litset *also) {
  struct reader r;
  struct factors f;
  struct es__litset exact;
  int is_exact = 0;
  set_init(out);
  if (also) set_init(also);
  factors_init(&f);
  set_init(&exact);
  if (pattern == NULL) return 0;
  r.p = (const unsigned char *)pattern;
  r.depth = 0;
  r.give_up = 0;
  r.nomem = 0;
  int rc = read_alternation(&r, &f, &exact, &is_exact);
  es__litset_free(&exact);
  if (rc != 0) return rc;
  /* A stray `)` at top level is a compile error: say nothing. */
  if (r.give_up || *r.p != '\0') factors_free(&f);
  *out = f.a;
  if (also)
    *also = f.b;
  else
    es__litset_free(&f.b);
  return 0;
}

int es__lit_from_pattern(const char *pattern, struct es__litset *out) {
  return es__lit_from_pattern2(pattern, out, NULL);
}
