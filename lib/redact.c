/*
 * redact.c: the personal-data scanner behind es_redact().
 *
 * One left-to-right pass splits the text into words. A word of ASCII
 * digits, a digit word ("four", "oh") or "double/triple <digit>" is an
 * atom; atoms separated only by short gaps of spaces, dashes, dots,
 * commas or parentheses form a chain. When a chain ends (a plain word, a
 * long or odd gap, an e-mail address, the end of the text) it is
 * classified as a whole: first every Luhn-valid 13..19 digit stretch
 * (cards win over everything else, and overlapping candidates are masked
 * together so that a stray number next to a card cannot leave part of it
 * in the clear), then, in what remains, security codes and social
 * security numbers announced by a keyword, SSN-shaped groups, and
 * phone-shaped groups. E-mail addresses are found by a separate forward
 * search that the word loop consults, so masks come out in order.
 */
#include "redact.h"

#include <string.h>

#include "error.h"

#define CHAIN_MAX 64       /* atoms per chain; a longer run is split */
#define WORD_MAX 12        /* longest keyword or digit word, in bytes */
#define BUDGET_KEYWORD 7   /* a keyword reaches the number up to 6 words on */
#define BUDGET_CODE_IS 3   /* "code is" reaches up to 2 words on */
#define GAP_MAX 3          /* separator characters allowed between atoms */
#define EMAIL_LOCAL_MAX 64
#define EMAIL_LABELS_MAX 10
#define EMAIL_WORDS_MAX 12 /* words in a spoken local part */

/* Character classes. The separators may join atoms into a chain. */
enum cls {
  C_SPACE = 1, /* ' ', '\t', U+00A0, U+2000..U+200A, U+202F, U+205F, U+3000 */
  C_DASH = 2,  /* '-', U+2010..U+2015, U+2212 */
  C_DOT = 4,
  C_COMMA = 8,
  C_PAREN = 16, /* '(' or ')' */
  C_WORD = 32,  /* ASCII letter or digit, or part of another code point */
  C_OTHER = 64, /* everything else: breaks words and chains */
};

struct atom {
  size_t start, end; /* the bytes of the atom */
  size_t lead;       /* where a phone number starting here begins ('+', '(') */
  size_t nd;         /* digits it stands for */
  unsigned gap;      /* classes in the gap before it (0: first of chain) */
  unsigned char spoken;
  unsigned char glued; /* digits written against letters: "ID5551234567" */
  unsigned char plus;  /* after '+' or the word "plus" */
  unsigned char d[3]; /* the digits of a spoken atom */
};

struct group {
  size_t first, last; /* atoms */
  size_t nd;
  int small; /* made of spoken or one-digit atoms only */
  int glued; /* holds a glued atom: may only be part of a card number */
};

enum prev_word {
  PW_NONE,
  PW_SECURITY,
  PW_CARD,
  PW_CODE,          /* "code": "code is" announces a code */
  PW_CODE_EXCLUDED, /* "zip code", "area code"... */
  PW_CODE_QUALIFIER /* "zip", "area"... */
};

struct scan {
  const char *t;
  size_t len;
  unsigned kinds;
  es_redact_cb cb;
  void *ud;
  size_t nspans;
  int chains_only; /* report each chain's extent (kind 0), classify nothing */

  /* the next e-mail address at or after the word loop (valid: em_known) */
  int em_known;
  size_t em_s, em_e; /* em_s == SIZE_MAX: none until the end */

  struct atom chain[CHAIN_MAX];
  size_t n;
  int chain_cvv, chain_ssn; /* a keyword was in reach when the chain began */
  int cvv_budget, ssn_budget;
  enum prev_word prev;
  size_t plus_start; /* start of a "plus" word just before, or SIZE_MAX */
};

/* ---- characters ---------------------------------------------------- */

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static int is_alnum(unsigned char c) { return is_digit(c) || is_alpha(c); }
static unsigned char lower(unsigned char c) { return is_alpha(c) ? (unsigned char)(c | 0x20) : c; }

/* Class of the character at t[i] and its length in bytes. Only the few
 * multi-byte spaces, dashes and apostrophes are decoded; any other byte
 * >= 0x80 is part of a word, so non-ASCII text passes through untouched. */
static enum cls cls_at(const char *t, size_t len, size_t i, size_t *n) {
  const unsigned char *u = (const unsigned char *)t;
  unsigned char c = u[i];
  *n = 1;
  if (c < 0x80) {
    if (is_alnum(c)) return C_WORD;
    switch (c) {
    case ' ': case '\t': return C_SPACE;
    case '-': return C_DASH;
    case '.': return C_DOT;
    case ',': return C_COMMA;
    case '(': case ')': return C_PAREN;
    default: return C_OTHER;
    }
  }
  if (c == 0xC2 && i + 1 < len && u[i + 1] == 0xA0) {
    *n = 2;
    return C_SPACE;
  }
  if ((c == 0xE2 || c == 0xE3) && i + 2 < len) {
    unsigned cp = ((unsigned)(c & 0x0F) << 12) | ((unsigned)(u[i + 1] & 0x3F) << 6) |
                  (unsigned)(u[i + 2] & 0x3F);
    if ((u[i + 1] & 0xC0) == 0x80 && (u[i + 2] & 0xC0) == 0x80) {
      *n = 3;
      if ((cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return C_SPACE;
      if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212) return C_DASH;
      if (cp == 0x2018 || cp == 0x2019) return C_OTHER; /* apostrophes end words */
      *n = 1;
    }
  }
  return C_WORD;
}

static size_t word_end(const char *t, size_t len, size_t i) {
  size_t n;
  while (i < len && cls_at(t, len, i, &n) == C_WORD) i += n;
  return i;
}

/* Compares t[s..e) with a lower-case ASCII word, ignoring case. */
static int word_is(const char *t, size_t s, size_t e, const char *w) {
  size_t wl = strlen(w);
  if (e - s != wl) return 0;
  for (size_t k = 0; k < wl; k++)
    if (lower((unsigned char)t[s + k]) != (unsigned char)w[k]) return 0;
  return 1;
}

static int word_in(const char *t, size_t s, size_t e, const char *const *list) {
  for (; *list; list++)
    if (word_is(t, s, e, *list)) return 1;
  return 0;
}

/* The words the scanner knows. Looked up once per word. */
enum word_id {
  W_NONE,
  W_DIGIT,        /* zero..nine, oh, o, niner */
  W_DOUBLE,       /* "double five" */
  W_TRIPLE,
  W_CVV,          /* cvv, cvv2, cvc, cvc2, csc, cvn */
  W_SECURITY,
  W_CARD,
  W_VERIFICATION,
  W_CODE,
  W_QUALIFIER,    /* zip, area... as in "zip code is" */
  W_IS,
  W_S,            /* "code's" */
  W_SSN,          /* social, ssn */
  W_PLUS,
};

struct known_word {
  char text[WORD_MAX + 1];
  unsigned char len;
  unsigned char id;
  signed char digit;
};

/* Sorted by length; known_by_len[n] .. known_by_len[n + 1] are the words
 * of n letters. */
static const struct known_word known_words[] = {
    {"o", 1, W_DIGIT, 0},          {"s", 1, W_S, -1},
    {"oh", 2, W_DIGIT, 0},         {"is", 2, W_IS, -1},
    {"one", 3, W_DIGIT, 1},        {"two", 3, W_DIGIT, 2},        {"six", 3, W_DIGIT, 6},
    {"cvv", 3, W_CVV, -1},         {"cvc", 3, W_CVV, -1},         {"csc", 3, W_CVV, -1},
    {"cvn", 3, W_CVV, -1},         {"zip", 3, W_QUALIFIER, -1},   {"ssn", 3, W_SSN, -1},
    {"zero", 4, W_DIGIT, 0},       {"four", 4, W_DIGIT, 4},       {"five", 4, W_DIGIT, 5},
    {"nine", 4, W_DIGIT, 9},       {"cvv2", 4, W_CVV, -1},        {"cvc2", 4, W_CVV, -1},
    {"card", 4, W_CARD, -1},       {"code", 4, W_CODE, -1},       {"post", 4, W_QUALIFIER, -1},
    {"area", 4, W_QUALIFIER, -1},  {"dial", 4, W_QUALIFIER, -1},  {"plus", 4, W_PLUS, -1},
    {"three", 5, W_DIGIT, 3},      {"seven", 5, W_DIGIT, 7},      {"eight", 5, W_DIGIT, 8},
    {"niner", 5, W_DIGIT, 9},      {"promo", 5, W_QUALIFIER, -1}, {"error", 5, W_QUALIFIER, -1},
    {"double", 6, W_DOUBLE, -1},   {"triple", 6, W_TRIPLE, -1},   {"postal", 6, W_QUALIFIER, -1},
    {"coupon", 6, W_QUALIFIER, -1}, {"status", 6, W_QUALIFIER, -1}, {"social", 6, W_SSN, -1},
    {"country", 7, W_QUALIFIER, -1},
    {"security", 8, W_SECURITY, -1}, {"discount", 8, W_QUALIFIER, -1},
    {"verification", 12, W_VERIFICATION, -1},
};
static const unsigned char known_by_len[WORD_MAX + 2] = {0,  0,  2,  4,  13, 25, 31,
                                                         37, 38, 40, 40, 40, 40, 41};
_Static_assert(sizeof known_words / sizeof known_words[0] == 41,
               "a word was added or removed: update known_by_len");

/* Identifies the ASCII word t[s..e) (case-insensitive); *digit gets the
 * value of a digit word. */
static enum word_id lookup_word(const char *t, size_t s, size_t e, int *digit) {
  char lw[WORD_MAX];
  size_t len = e - s;
  *digit = -1;
  if (len == 0 || len > WORD_MAX) return W_NONE;
  for (size_t k = 0; k < len; k++) {
    unsigned char c = (unsigned char)t[s + k];
    if (!is_alnum(c)) return W_NONE;
    lw[k] = (char)lower(c);
  }
  for (size_t k = known_by_len[len]; k < known_by_len[len + 1]; k++) {
    const struct known_word *w = &known_words[k];
    if (w->text[0] == lw[0] && memcmp(w->text, lw, len) == 0) {
      *digit = w->digit;
      return (enum word_id)w->id;
    }
  }
  return W_NONE;
}

/* ---- output -------------------------------------------------------- */

static void emit(struct scan *sc, size_t start, size_t end, unsigned kind) {
  sc->nspans++;
  if (sc->cb) sc->cb(sc->ud, start, end, kind);
}

/* ---- numbers ------------------------------------------------------- */

static int atom_digit(const struct scan *sc, const struct atom *a, size_t k) {
  return a->spoken ? a->d[k] : sc->t[a->start + k] - '0';
}

static int atom_small(const struct atom *a) { return a->spoken || a->nd == 1; }

/* Gaps a card number may be written with: spaces, dashes, ", " or ". ";
 * never a lone dot (a decimal) nor parentheses. */
static int card_gap(unsigned gap) {
  return gap != 0 && !(gap & C_PAREN) && gap != C_DOT;
}

static int ssn_gap(unsigned gap) {
  return gap != 0 && (gap & ~(unsigned)(C_SPACE | C_DASH | C_COMMA)) == 0;
}

/* The k-th digit of a group (k < nd). */
static int group_digit(const struct scan *sc, const struct group *g, size_t k) {
  for (size_t a = g->first; a <= g->last; a++) {
    if (k < sc->chain[a].nd) return atom_digit(sc, &sc->chain[a], k);
    k -= sc->chain[a].nd;
  }
  return -1;
}

static int ssn_valid(const struct scan *sc, const struct group *g) {
  int area = group_digit(sc, &g[0], 0) * 100 + group_digit(sc, &g[0], 1) * 10 +
             group_digit(sc, &g[0], 2);
  int grp = group_digit(sc, &g[1], 0) * 10 + group_digit(sc, &g[1], 1);
  int serial = 0;
  for (int k = 0; k < 4; k++) serial = serial * 10 + group_digit(sc, &g[2], (size_t)k);
  return area != 0 && area != 666 && area < 900 && grp != 0 && serial != 0;
}

/* Spans [from, to] of groups in a stretch of `m` groups holding at most
 * `max` digits and at least `min`: the longest, or 0. */
static int longest_run(const struct group *g, size_t m, size_t k, size_t min, size_t max,
                       size_t max_groups, size_t *last) {
  size_t total = 0;
  int found = 0;
  for (size_t x = k; x < m && x - k < max_groups; x++) {
    total += g[x].nd;
    if (total > max) break;
    if (total >= min) {
      *last = x;
      found = 1;
    }
  }
  return found;
}

/* North American shape starting at group p: [10], [3,3,4], [3,7], [6,4]. */
static int nanp_at(const struct group *g, size_t m, size_t p, size_t *last) {
  if (p >= m) return 0;
  if (g[p].nd == 10) {
    *last = p;
    return 1;
  }
  if (g[p].nd == 3 && p + 2 < m && g[p + 1].nd == 3 && g[p + 2].nd == 4) {
    *last = p + 2;
    return 1;
  }
  if ((g[p].nd == 3 && p + 1 < m && g[p + 1].nd == 7) ||
      (g[p].nd == 6 && p + 1 < m && g[p + 1].nd == 4)) {
    *last = p + 1;
    return 1;
  }
  return 0;
}

static int phone_at(const struct scan *sc, const struct group *g, size_t m, size_t k,
                    size_t *last) {
  int d0 = group_digit(sc, &g[k], 0);
  int d1 = g[k].nd >= 2 ? group_digit(sc, &g[k], 1) : -1;
  /* +country ...: anything of 10 to 15 digits. */
  if (sc->chain[g[k].first].plus && longest_run(g, m, k, 10, 15, CHAIN_MAX, last)) return 1;
  /* 00country ...: the international prefix, then as above. */
  if (d0 == 0 && d1 == 0 && longest_run(g, m, k, 12, 17, CHAIN_MAX, last)) return 1;
  /* NANP, with or without the trunk prefix 1. */
  if (g[k].nd == 11 && d0 == 1) {
    *last = k;
    return 1;
  }
  if (g[k].nd == 1 && d0 == 1 && nanp_at(g, m, k + 1, last)) return 1;
  if (nanp_at(g, m, k, last)) return 1;
  /* National numbers with a trunk 0: 10 or 11 digits in up to 5 groups of
   * two or more ("020 7946 0958", "07700 900123", "01 23 45 67 89"). */
  if (d0 == 0 && d1 != 0) {
    size_t x, total = 0;
    int found = 0;
    for (x = k; x < m && x - k < 5 && g[x].nd >= 2; x++) {
      total += g[x].nd;
      if (total > 11) break;
      if (total >= 10) {
        *last = x;
        found = 1;
      }
    }
    if (found) return 1;
  }
  /* An unbroken spoken run of 10 to 15 digits. */
  if (g[k].small && g[k].nd >= 10 && g[k].nd <= 15) {
    *last = k;
    return 1;
  }
  return 0;
}

static int any_glued(const struct group *g, size_t from, size_t to) {
  for (size_t x = from; x <= to; x++)
    if (g[x].glued) return 1;
  return 0;
}

static void emit_groups(struct scan *sc, const struct group *g, size_t from, size_t to,
                        unsigned kind, int lead) {
  const struct atom *a = &sc->chain[g[from].first];
  emit(sc, lead ? a->lead : a->start, sc->chain[g[to].last].end, kind);
}

/* Security codes, SSNs and phone numbers among atoms [a, b) of the chain,
 * which hold no card number. */
static void classify_segment(struct scan *sc, size_t a, size_t b) {
  struct group g[CHAIN_MAX];
  size_t m = 0;
  for (size_t x = a; x < b; x++) {
    const struct atom *at = &sc->chain[x];
    if (m > 0 && x > a && g[m - 1].small && atom_small(at) && at->gap == C_SPACE) {
      g[m - 1].last = x;
      g[m - 1].nd += at->nd;
      g[m - 1].glued |= at->glued;
    } else {
      g[m].first = g[m].last = x;
      g[m].nd = at->nd;
      g[m].small = atom_small(at);
      g[m].glued = at->glued;
      m++;
    }
  }
  size_t k = 0, last = 0;
  while (k < m) {
    if (g[k].glued) {
      k++;
      continue;
    }
    if (k == 0 && a == 0) {
      if ((sc->kinds & ES_REDACT_CVV) && sc->chain_cvv && g[0].nd >= 3 && g[0].nd <= 4) {
        emit_groups(sc, g, 0, 0, ES_REDACT_CVV, 0);
        sc->cvv_budget = 0;
        k = 1;
        continue;
      }
      if ((sc->kinds & ES_REDACT_SSN) && sc->chain_ssn) {
        size_t total = 0, x;
        for (x = 0; x < m && x < 3 && total < 9; x++) {
          if (x > 0 && (!ssn_gap(sc->chain[g[x].first].gap) || g[x].glued)) break;
          total += g[x].nd;
        }
        if (total == 9) {
          emit_groups(sc, g, 0, x - 1, ES_REDACT_SSN, 0);
          sc->ssn_budget = 0;
          k = x;
          continue;
        }
      }
    }
    if ((sc->kinds & ES_REDACT_SSN) && k + 2 < m && g[k].nd == 3 && g[k + 1].nd == 2 &&
        g[k + 2].nd == 4 && !g[k + 1].glued && !g[k + 2].glued &&
        ssn_gap(sc->chain[g[k + 1].first].gap) &&
        ssn_gap(sc->chain[g[k + 2].first].gap) && ssn_valid(sc, &g[k])) {
      emit_groups(sc, g, k, k + 2, ES_REDACT_SSN, 0);
      k += 3;
      continue;
    }
    if ((sc->kinds & ES_REDACT_PHONE) && phone_at(sc, g, m, k, &last) && !any_glued(g, k, last)) {
      emit_groups(sc, g, k, last, ES_REDACT_PHONE, 1);
      k = last + 1;
      continue;
    }
    k++;
  }
}

/* Classifies the atoms collected so far and empties the chain. */
static void flush_chain(struct scan *sc) {
  size_t n = sc->n;
  if (n == 0) return;
  if (sc->chains_only) {
    emit(sc, sc->chain[0].lead, sc->chain[n - 1].end, 0);
    sc->n = 0;
    return;
  }
  size_t cs[CHAIN_MAX], ce[CHAIN_MAX], ncards = 0;
  if (sc->kinds & ES_REDACT_CARD) {
    /* Every Luhn-valid stretch of 13..19 digits is a candidate; where
     * candidates overlap, their union is masked. */
    for (size_t i = 0; i < n; i++) {
      size_t sum = 0, best = SIZE_MAX;
      if (sc->chain[i].plus) continue; /* +country: a phone number */
      /* Luhn sums kept for both parities as digits are added, so that
       * each candidate end costs O(1): luhn_even is the checksum when the
       * last digit has an even index (counting from the stretch's start),
       * luhn_odd when it is odd. */
      unsigned luhn_even = 0, luhn_odd = 0;
      for (size_t j = i; j < n; j++) {
        const struct atom *at = &sc->chain[j];
        if ((j > i && !card_gap(at->gap)) || sum + at->nd > 19) break;
        for (size_t k = 0; k < at->nd; k++, sum++) {
          unsigned d = (unsigned)atom_digit(sc, at, k), dbl = d * 2 > 9 ? d * 2 - 9 : d * 2;
          luhn_even += sum % 2 == 0 ? d : dbl;
          luhn_odd += sum % 2 == 0 ? dbl : d;
        }
        if (sum >= 13 && ((sum - 1) % 2 == 0 ? luhn_even : luhn_odd) % 10 == 0) best = j;
      }
      if (best == SIZE_MAX) continue;
      if (ncards > 0 && i <= ce[ncards - 1]) {
        if (best > ce[ncards - 1]) ce[ncards - 1] = best;
      } else {
        cs[ncards] = i;
        ce[ncards] = best;
        ncards++;
      }
    }
  }
  size_t a = 0;
  for (size_t c = 0; c < ncards; c++) {
    if (cs[c] > a) classify_segment(sc, a, cs[c]);
    emit(sc, sc->chain[cs[c]].start, sc->chain[ce[c]].end, ES_REDACT_CARD);
    a = ce[c] + 1;
  }
  if (a < n) classify_segment(sc, a, n);
  sc->n = 0;
}

/* Adds an atom, first ending the chain when the gap before it is not a
 * short run of separators. */
static void add_atom(struct scan *sc, struct atom *at) {
  const char *t = sc->t;
  if (sc->n > 0) {
    size_t i = sc->chain[sc->n - 1].end, chars = 0, n;
    unsigned gap = 0;
    while (i < at->start && chars <= GAP_MAX) {
      enum cls c = cls_at(t, sc->len, i, &n);
      if (!(c & (C_SPACE | C_DASH | C_DOT | C_COMMA | C_PAREN))) {
        chars = GAP_MAX + 1;
        break;
      }
      gap |= (unsigned)c;
      chars++;
      i += n;
    }
    if (chars == 0 || chars > GAP_MAX || gap == C_COMMA || sc->n == CHAIN_MAX)
      flush_chain(sc);
    else
      at->gap = gap;
  }
  if (sc->n == 0) {
    at->gap = 0;
    sc->chain_cvv = sc->cvv_budget > 0;
    sc->chain_ssn = sc->ssn_budget > 0;
  }
  /* Where a phone number starting here would begin: "+1", "(555)", "+(". */
  at->lead = at->start;
  if (at->lead > 0 && t[at->lead - 1] == '(') at->lead--;
  if (at->lead > 0 && t[at->lead - 1] == '+') {
    at->lead--;
    at->plus = 1;
  } else if (sc->plus_start != SIZE_MAX) {
    at->lead = sc->plus_start;
    at->plus = 1;
  }
  sc->plus_start = SIZE_MAX;
  sc->prev = PW_NONE;
  sc->chain[sc->n++] = *at;
}

static void add_digits(struct scan *sc, size_t s, size_t e, int glued) {
  struct atom at;
  memset(&at, 0, sizeof at);
  at.start = s;
  at.end = e;
  at.nd = e - s;
  at.glued = (unsigned char)glued;
  add_atom(sc, &at);
}

static void add_spoken(struct scan *sc, size_t s, size_t e, int digit, size_t count) {
  struct atom at;
  memset(&at, 0, sizeof at);
  at.start = s;
  at.end = e;
  at.nd = count;
  at.spoken = 1;
  for (size_t k = 0; k < count; k++) at.d[k] = (unsigned char)digit;
  add_atom(sc, &at);
}

/* ---- words --------------------------------------------------------- */

static void plain_word(struct scan *sc, size_t s, enum word_id id) {
  enum prev_word prev = sc->prev;
  flush_chain(sc);
  sc->plus_start = SIZE_MAX;
  if (sc->cvv_budget > 0) sc->cvv_budget--;
  if (sc->ssn_budget > 0) sc->ssn_budget--;
  sc->prev = PW_NONE;
  switch (id) {
  case W_CVV: sc->cvv_budget = BUDGET_KEYWORD; break;
  case W_SECURITY: sc->prev = PW_SECURITY; break;
  case W_CARD: sc->prev = PW_CARD; break;
  case W_VERIFICATION:
    if (prev == PW_CARD) sc->cvv_budget = BUDGET_KEYWORD;
    break;
  case W_CODE:
    if (prev == PW_SECURITY) sc->cvv_budget = BUDGET_KEYWORD;
    sc->prev = prev == PW_CODE_QUALIFIER ? PW_CODE_EXCLUDED : PW_CODE;
    break;
  case W_QUALIFIER: sc->prev = PW_CODE_QUALIFIER; break;
  case W_S: /* "code's", not a lone "s" */
    if (s == 0 || sc->t[s - 1] == ' ') break;
    /* fall through */
  case W_IS:
    if (prev == PW_CODE && sc->cvv_budget < BUDGET_CODE_IS) sc->cvv_budget = BUDGET_CODE_IS;
    break;
  case W_SSN: sc->ssn_budget = BUDGET_KEYWORD; break;
  case W_PLUS: sc->plus_start = s; break;
  default: break;
  }
}

/* Handles the word t[s..e), which ends before `limit` (the next e-mail
 * address); returns where scanning goes on (past a "double five"). */
static size_t do_word(struct scan *sc, size_t s, size_t e, size_t limit) {
  const char *t = sc->t;
  size_t k, digits = 0;
  for (k = s; k < e; k++) digits += is_digit((unsigned char)t[k]);
  if (digits == e - s) {
    add_digits(sc, s, e, 0);
    return e;
  }
  int d;
  enum word_id id = lookup_word(t, s, e, &d);
  if (id == W_DIGIT) {
    add_spoken(sc, s, e, d, 1);
    return e;
  }
  if (id == W_DOUBLE || id == W_TRIPLE) {
    size_t count = id == W_DOUBLE ? 2 : 3, j = e, n;
    while (j < limit && j - e < GAP_MAX && cls_at(t, sc->len, j, &n) == C_SPACE) j += n;
    if (j > e && j < limit) {
      size_t we = word_end(t, limit, j);
      int dd;
      if (lookup_word(t, j, we, &dd) != W_DIGIT) dd = -1;
      if (dd < 0 && we == j + 1 && is_digit((unsigned char)t[j])) dd = t[j] - '0';
      if (dd >= 0) {
        add_spoken(sc, s, we, dd, count);
        return we;
      }
    }
  }
  if (digits == 0 || id != W_NONE) {
    plain_word(sc, s, id);
    return e;
  }
  /* Letters and digits together: a number glued to a word ("card4111...",
   * "ID5551234567"), whose digits still count. */
  k = s;
  while (k < e) {
    size_t r = k;
    int dig = is_digit((unsigned char)t[k]);
    while (r < e && is_digit((unsigned char)t[r]) == dig) r++;
    if (dig) {
      add_digits(sc, k, r, 1);
    } else {
      int unused;
      plain_word(sc, k, lookup_word(t, k, r, &unused));
    }
    k = r;
  }
  return e;
}

/* ---- e-mail addresses ---------------------------------------------- */

static int is_local_char(unsigned char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '\'';
}

static int tld_word(const char *t, size_t s, size_t e) {
  static const char *const tlds[] = {
      "com", "net", "org", "edu", "gov", "mil", "int", "io", "co", "uk", "us", "ca",
      "au",  "nz",  "ie",  "de",  "fr",  "es",  "it",  "nl", "be", "ch", "at", "se",
      "no",  "dk",  "fi",  "pl",  "in",  "jp",  "cn",  "br", "mx", "info", "biz", "me",
      "ai",  "app", "dev", "tv",  NULL};
  return word_in(t, s, e, tlds);
}

/* Skips ASCII spaces forward from i (at most 3); returns the new index. */
static size_t skip_spaces(const char *t, size_t len, size_t i) {
  size_t k = 0;
  while (i < len && k < 3 && (t[i] == ' ' || t[i] == '\t')) i++, k++;
  return i;
}

/* Parses a domain at t[p..): labels separated by '.' or " dot ". Sets
 * *end past the last acceptable label: at least two labels, the last of
 * 2..24 letters, and one of tld_word() when it was spoken. */
static int parse_domain(const char *t, size_t len, size_t p, size_t *end) {
  size_t ls[EMAIL_LABELS_MAX], le[EMAIL_LABELS_MAX];
  int spoken[EMAIL_LABELS_MAX];
  size_t nl = 0;
  int sep_spoken = 0;
  while (nl < EMAIL_LABELS_MAX) {
    size_t s = p;
    while (p < len && (is_alnum((unsigned char)t[p]) || t[p] == '-') && p - s < 63) p++;
    if (p == s) break;
    ls[nl] = s;
    le[nl] = p;
    spoken[nl] = sep_spoken;
    nl++;
    if (p + 1 < len && t[p] == '.' && is_alnum((unsigned char)t[p + 1])) {
      p++;
      sep_spoken = 0;
      continue;
    }
    size_t q = skip_spaces(t, len, p);
    if (q > p && q + 3 < len && word_is(t, q, q + 3, "dot") &&
        (t[q + 3] == ' ' || t[q + 3] == '\t')) {
      size_t r = skip_spaces(t, len, q + 3);
      if (r < len && is_alnum((unsigned char)t[r])) {
        p = r;
        sep_spoken = 1;
        continue;
      }
    }
    break;
  }
  while (nl >= 2) {
    size_t s = ls[nl - 1], e = le[nl - 1], k;
    int ok = e - s >= 2 && e - s <= 24;
    for (k = s; ok && k < e; k++) ok = is_alpha((unsigned char)t[k]);
    if (ok && spoken[nl - 1]) ok = tld_word(t, s, e);
    /* a word glued on after the last label ("gmail.comthanks") is not ok */
    if (ok && e < len && cls_at(t, len, e, &k) == C_WORD) ok = 0;
    if (ok) {
      *end = e;
      return 1;
    }
    nl--;
  }
  return 0;
}

/* Start of the local part written before t[p] ('@'), or SIZE_MAX. */
static size_t local_before(const char *t, size_t from, size_t p) {
  size_t q = p;
  while (q > from && p - q < EMAIL_LOCAL_MAX && is_local_char((unsigned char)t[q - 1])) q--;
  while (q < p && (t[q] == '.' || t[q] == '-' || t[q] == '\'')) q++;
  for (size_t k = q; k < p; k++)
    if (is_alnum((unsigned char)t[k])) return q;
  return SIZE_MAX;
}

/* The word (run of local-part characters with a letter or digit) ending
 * at t[e] and preceded by white space or `from`, or SIZE_MAX. */
static size_t word_back(const char *t, size_t from, size_t e) {
  size_t s = e;
  int alnum = 0;
  while (s > from && e - s < EMAIL_LOCAL_MAX && is_local_char((unsigned char)t[s - 1]) &&
         t[s - 1] != '\'') {
    s--;
    alnum |= is_alnum((unsigned char)t[s]);
  }
  if (!alnum || (s > from && t[s - 1] != ' ' && t[s - 1] != '\t')) return SIZE_MAX;
  return s;
}

/* Skips up to 3 spaces backwards from e (not below from). */
static size_t back_spaces(const char *t, size_t from, size_t e) {
  size_t k = 0;
  while (e > from && k < 3 && (t[e - 1] == ' ' || t[e - 1] == '\t')) e--, k++;
  return e;
}

/* Extends a local part that starts at t[s] (its first word cur_len bytes
 * long) backwards over spoken joins ("john dot smith", "john underscore
 * smith") and, when `spelled`, over letters spelled one by one ("j o h
 * n"); returns the new start. */
static size_t spoken_joins_before(const char *t, size_t from, size_t s, size_t cur_len,
                                  int spelled) {
  static const char *const joins[] = {"dot", "underscore", "dash", "hyphen", "period", NULL};
  for (int words = 0; words < EMAIL_WORDS_MAX; words++) {
    size_t e2 = back_spaces(t, from, s), s2;
    if (e2 == s) break;
    s2 = word_back(t, from, e2);
    if (s2 == SIZE_MAX) break;
    if (word_in(t, s2, e2, joins)) {
      size_t e3 = back_spaces(t, from, s2), s3;
      if (e3 == s2) break;
      s3 = word_back(t, from, e3);
      if (s3 == SIZE_MAX) break;
      s = s3;
      cur_len = e3 - s3;
      continue;
    }
    if (spelled && cur_len == 1 && e2 - s2 == 1) { /* spelled out letter by letter */
      s = s2;
      continue;
    }
    break;
  }
  return s;
}

/* Start of a spoken local part before the word "at" at t[p]: "john", "john
 * dot smith", "john underscore smith", "j o h n"; SIZE_MAX when none. */
static size_t spoken_local_before(const char *t, size_t from, size_t p) {
  size_t e = back_spaces(t, from, p), s;
  if (e == p) return SIZE_MAX;
  s = word_back(t, from, e);
  if (s == SIZE_MAX) return SIZE_MAX;
  return spoken_joins_before(t, from, s, e - s, 1);
}

/* 1 when a written address starts at t[p]: local-part characters up to an
 * '@', then a domain. */
static int written_at(const char *t, size_t len, size_t p) {
  size_t q = p, e;
  while (q < len && is_local_char((unsigned char)t[q])) q++;
  return q > p && q < len && t[q] == '@' && parse_domain(t, len, q + 1, &e);
}

/* 1 when t[p..) is a spoken "at" and a domain. */
static int spoken_at(const char *t, size_t len, size_t p) {
  size_t q = skip_spaces(t, len, p), e;
  if (q == p || q + 2 >= len || !word_is(t, q, q + 2, "at") || (t[q + 2] != ' ' && t[q + 2] != '\t'))
    return 0;
  return parse_domain(t, len, skip_spaces(t, len, q + 2), &e);
}

/* Finds the first e-mail address that starts at or after `from`.
 *
 * Where a spoken and a written form overlap, the one that takes the whole
 * address wins. After a spoken "at", a written address ("write me at
 * john.smith@example.com") or a spoken one ("me at john.smith at gmail dot
 * com") is no domain but the address itself: the "at" before it is left
 * alone, and the address is found at its own '@' or "at". A written local
 * part may be spoken in front ("john dot smith@example.com"). */
static int find_email(const char *t, size_t len, size_t from, size_t *es, size_t *ee) {
  for (size_t i = from; i < len; i++) {
    unsigned char c = (unsigned char)t[i];
    if (c == '@') {
      size_t s = local_before(t, from, i), e;
      if (s != SIZE_MAX && parse_domain(t, len, i + 1, &e)) {
        *es = spoken_joins_before(t, from, s, i - s, 0);
        *ee = e;
        return 1;
      }
    } else if ((c == 'a' || c == 'A') && i + 2 < len && (t[i + 1] | 0x20) == 't' &&
               (t[i + 2] == ' ' || t[i + 2] == '\t') && i > from &&
               (t[i - 1] == ' ' || t[i - 1] == '\t')) {
      size_t s = spoken_local_before(t, from, i), e;
      size_t d = skip_spaces(t, len, i + 2);
      if (s != SIZE_MAX && parse_domain(t, len, d, &e) && !written_at(t, len, d) &&
          !spoken_at(t, len, e)) {
        *es = s;
        *ee = e;
        return 1;
      }
    }
  }
  return 0;
}

/* ---- the pass ------------------------------------------------------ */

#define NUMERIC (ES_REDACT_CARD | ES_REDACT_CVV | ES_REDACT_SSN | ES_REDACT_PHONE)

static void scan_init(struct scan *sc, const char *text, size_t len, unsigned kinds,
                      es_redact_cb cb, void *ud) {
  sc->t = text;
  sc->len = len;
  sc->kinds = kinds & ES_REDACT_ALL;
  sc->cb = cb;
  sc->ud = ud;
  sc->nspans = 0;
  sc->chains_only = 0;
  sc->em_known = 0;
  sc->em_s = sc->em_e = SIZE_MAX;
  sc->n = 0;
  sc->chain_cvv = sc->chain_ssn = 0;
  sc->cvv_budget = sc->ssn_budget = 0;
  sc->prev = PW_NONE;
  sc->plus_start = SIZE_MAX;
}

static void scan_run(struct scan *sc) {
  const char *text = sc->t;
  size_t i = 0, n, len = sc->len;

  while (i < len) {
    size_t limit = len;
    if (sc->kinds & ES_REDACT_EMAIL) {
      if (!sc->em_known) {
        if (!find_email(text, len, i, &sc->em_s, &sc->em_e)) sc->em_s = sc->em_e = SIZE_MAX;
        sc->em_known = 1;
      }
      if (sc->em_s <= i) {
        flush_chain(sc);
        emit(sc, sc->em_s, sc->em_e, ES_REDACT_EMAIL);
        i = sc->em_e;
        sc->em_known = 0;
        sc->prev = PW_NONE;
        sc->plus_start = SIZE_MAX;
        continue;
      }
      if (sc->em_s < len) limit = sc->em_s;
    }
    if (!(sc->kinds & NUMERIC)) {
      i = limit;
      continue;
    }
    enum cls c = cls_at(text, len, i, &n);
    if (c == C_WORD) {
      size_t e = word_end(text, limit, i);
      i = do_word(sc, i, e, limit);
    } else {
      if (c == C_OTHER && text[i] != '+' && text[i] != '\'') sc->plus_start = SIZE_MAX;
      i += n;
    }
  }
  flush_chain(sc);
}

size_t es_redact_scan(const char *text, size_t len, unsigned kinds, es_redact_cb cb,
                      void *ud) {
  struct scan sc;
  if (text == NULL) return 0;
  scan_init(&sc, text, len, kinds, cb, ud);
  scan_run(&sc);
  return sc.nspans;
}

/* ---- cutting ------------------------------------------------------- */

/* Bytes after a cut read to see whether a number or an address goes on
 * past it: more than the longest address the scanner takes (a spoken local
 * part of 12 words and joins, a domain of 10 labels of 63 bytes). */
#define CUT_AHEAD 4096

/* The runs a cut must not enter, merged as they come in order of start:
 * digit chains from a pass without e-mail addresses (the longest chains
 * any kinds can make), and e-mail addresses from their own search. */
struct cut {
  const char *t;
  size_t len;
  size_t at;          /* the cut asked for */
  size_t em_s, em_e;  /* the next e-mail address; em_s == SIZE_MAX: none */
  size_t run_s, run_e;/* overlapping runs merged so far */
  size_t safe;        /* the answer */
};

static void cut_take(struct cut *c, size_t s, size_t e) {
  if (s < c->run_e) { /* overlaps: the same run goes on */
    if (e > c->run_e) c->run_e = e;
    return;
  }
  if (c->run_s < c->at && c->at < c->run_e) c->safe = c->run_s;
  c->run_s = s;
  c->run_e = e;
}

/* Takes the e-mail addresses that start at or before s. */
static void cut_emails_upto(struct cut *c, size_t s) {
  while (c->em_s <= s) {
    size_t from = c->em_e;
    cut_take(c, c->em_s, c->em_e);
    if (!find_email(c->t, c->len, from, &c->em_s, &c->em_e)) c->em_s = c->em_e = SIZE_MAX;
  }
}

static void cut_chain(void *ud, size_t start, size_t end, unsigned kind) {
  struct cut *c = ud;
  (void)kind;
  cut_emails_upto(c, start);
  cut_take(c, start, end);
}

size_t es_redact_cut(const char *text, size_t len, size_t n) {
  struct cut c;
  struct scan sc;
  if (text == NULL || n >= len) return len;
  while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
  if (n == 0) return 0;
  c.t = text;
  c.len = len - n > CUT_AHEAD ? n + CUT_AHEAD : len;
  c.at = c.safe = n;
  c.run_s = c.run_e = 0;
  if (!find_email(text, c.len, 0, &c.em_s, &c.em_e)) c.em_s = c.em_e = SIZE_MAX;
  scan_init(&sc, text, c.len, NUMERIC, cut_chain, &c);
  sc.chains_only = 1;
  scan_run(&sc);
  cut_emails_upto(&c, SIZE_MAX - 1);
  cut_take(&c, SIZE_MAX, SIZE_MAX);
  return c.safe;
}

struct writer {
  const char *t;
  char *out;
  size_t cap;
  size_t n;   /* bytes of output so far, written or not */
  size_t pos; /* input copied up to here */
  struct es_redact_counts counts;
};

static void put(struct writer *w, const char *p, size_t len) {
  if (w->n < w->cap) {
    size_t room = w->cap - 1 - w->n;
    if (room > len) room = len;
    if (room > 0) memcpy(w->out + w->n, p, room);
  }
  w->n += len;
}

static void write_span(void *ud, size_t start, size_t end, unsigned kind) {
  struct writer *w = ud;
  const char *mask = es_redact_mask(kind);
  put(w, w->t + w->pos, start - w->pos);
  put(w, mask, strlen(mask));
  w->pos = end;
  switch (kind) {
  case ES_REDACT_CARD: w->counts.card++; break;
  case ES_REDACT_CVV: w->counts.cvv++; break;
  case ES_REDACT_SSN: w->counts.ssn++; break;
  case ES_REDACT_EMAIL: w->counts.email++; break;
  default: w->counts.phone++; break;
  }
}

size_t es_redact(const char *text, size_t len, unsigned kinds, char *out, size_t cap,
                 struct es_redact_counts *counts) {
  struct writer w;
  memset(&w, 0, sizeof w);
  if (out == NULL) cap = 0;
  w.t = text;
  w.out = out;
  w.cap = cap;
  if (text != NULL) {
    es_redact_scan(text, len, kinds, write_span, &w);
    put(&w, text + w.pos, len - w.pos);
  }
  if (cap > 0) out[w.n < cap ? w.n : cap - 1] = '\0';
  if (counts) *counts = w.counts;
  return w.n;
}

const char *es_redact_mask(unsigned kind) {
  switch (kind) {
  case ES_REDACT_CARD: return "[CARD]";
  case ES_REDACT_CVV: return "[CVV]";
  case ES_REDACT_SSN: return "[SSN]";
  case ES_REDACT_EMAIL: return "[EMAIL]";
  case ES_REDACT_PHONE: return "[PHONE]";
  default: return "";
  }
}

const char *es_redact_kind_name(unsigned kind) {
  switch (kind) {
  case ES_REDACT_CARD: return "card";
  case ES_REDACT_CVV: return "cvv";
  case ES_REDACT_SSN: return "ssn";
  case ES_REDACT_EMAIL: return "email";
  case ES_REDACT_PHONE: return "phone";
  default: return "";
  }
}

int es_redact_parse_kinds(const char *list, unsigned *out) {
  unsigned kinds = 0;
  int names = 0;
  if (list == NULL || out == NULL) return ES_EINVAL;
  const char *p = list;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    const char *s = p;
    while (*p && *p != ',' && *p != ' ' && *p != '\t') p++;
    size_t e = (size_t)(p - list), b = (size_t)(s - list);
    while (*p == ' ' || *p == '\t') p++;
    if (e == b) return ES_EINVAL;
    if (word_is(list, b, e, "all")) {
      kinds |= ES_REDACT_ALL;
    } else if (word_is(list, b, e, "none")) {
      /* nothing */
    } else {
      unsigned k;
      for (k = 1; k <= ES_REDACT_PHONE; k <<= 1)
        if (word_is(list, b, e, es_redact_kind_name(k))) break;
      if (k > ES_REDACT_PHONE) return ES_EINVAL;
      kinds |= k;
    }
    names++;
    if (*p == '\0') break;
    if (*p != ',') return ES_EINVAL;
    p++;
  }
  if (names == 0) return ES_EINVAL;
  *out = kinds;
  return 0;
}

/* ---- a line with its matched words, and JSON ---------------------------- */

struct out {
  char *p;
  size_t len;
};

static void out_put(struct out *o, const char *p, size_t n) {
  memcpy(o->p + o->len, p, n);
  o->len += n;
}

struct line_mask {
  const char *t;
  size_t pos;          /* input copied up to here */
  size_t ms, me;       /* the words, in the input */
  struct out text, matched;
  int want_matched;
  size_t masks;
};

static void line_copy(struct line_mask *lm, size_t to) {
  out_put(&lm->text, lm->t + lm->pos, to - lm->pos);
  if (lm->want_matched) {
    size_t a = lm->pos > lm->ms ? lm->pos : lm->ms;
    size_t b = to < lm->me ? to : lm->me;
    if (a < b)
      out_put(&lm->matched, lm->t + a, b - a);
  }
  lm->pos = to;
}

static void line_span(void *ud, size_t start, size_t end, unsigned kind) {
  struct line_mask *lm = ud;
  const char *mask = es_redact_mask(kind);
  line_copy(lm, start);
  out_put(&lm->text, mask, strlen(mask));
  if (lm->want_matched && start < lm->me && end > lm->ms)
    out_put(&lm->matched, mask, strlen(mask));
  lm->pos = end;
  lm->masks++;
}

size_t es_redact_line(const char *text, size_t len, size_t ms, size_t me, unsigned kinds,
                      char *out_text, size_t *text_len, char *out_matched,
                      size_t *matched_len) {
  struct line_mask lm = {text, 0, ms, me, {out_text, 0}, {out_matched, 0},
                         out_matched != NULL, 0};
  if (me > len)
    me = lm.me = len;
  if (ms > me)
    lm.ms = me;
  es_redact_scan(text, len, kinds, line_span, &lm);
  line_copy(&lm, len);
  out_text[lm.text.len] = '\0';
  *text_len = lm.text.len;
  if (out_matched) {
    out_matched[lm.matched.len] = '\0';
    *matched_len = lm.matched.len;
  }
  return lm.masks;
}

struct json_mask {
  const char *t; /* one string's content, between the quotes */
  size_t len;
  size_t pos;    /* copied up to here; always on an escape boundary */
  struct out *out;
  size_t masks;
};

static size_t escape_len(const char *t, size_t len, size_t k) {
  size_t n = k + 1 < len && t[k + 1] == 'u' ? 6 : 2;
  return k + n <= len ? n : len - k;
}

static void json_span(void *ud, size_t start, size_t end, unsigned kind) {
  struct json_mask *jm = ud;
  const char *mask = es_redact_mask(kind);
  size_t k = jm->pos;
  if (start < jm->pos)
    start = jm->pos;
  while (k < start) {
    if (jm->t[k] == '\\') {
      size_t n = escape_len(jm->t, jm->len, k);
      if (k + n > start) {
        start = k;
        break;
      }
      k += n;
    } else {
      k++;
    }
  }
  if (end <= jm->pos)
    return; /* swallowed by the previous, widened span */
  k = start;
  while (k < end)
    k += jm->t[k] == '\\' ? escape_len(jm->t, jm->len, k) : 1;
  end = k;
  out_put(jm->out, jm->t + jm->pos, start - jm->pos);
  out_put(jm->out, mask, strlen(mask));
  jm->pos = end;
  jm->masks++;
}

/* A string of ASCII letters and underscores alone holds nothing to mask:
 * every mask needs a digit, an '@', or separators between words. Field
 * names and most of a reason's values ("manager_request", "customer")
 * are such words; leaving them out of the scan halves its work on a
 * call-level alert's reason. */
static int letters_only(const char *t, size_t len) {
  for (size_t k = 0; k < len; k++) {
    unsigned char c = (unsigned char)t[k];
    if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && c != '_')
      return 0;
  }
  return 1;
}

/* Copies json[from..to), text outside strings, masking each number in it
 * that holds personal data as a string of its masked text ("[PHONE]"):
 * masks in a number would not be JSON. Returns the number of masks. */
static size_t json_numbers(const char *json, size_t from, size_t to, unsigned kinds,
                           struct out *o) {
  size_t masks = 0, i = from;
  while (i < to) {
    size_t k = i;
    /* A digit outside strings is in a number; a number starts with one or '-'. */
    while (k < to && !(json[k] >= '0' && json[k] <= '9'))
      k++;
    if (k > i && json[k - 1] == '-')
      k--;
    out_put(o, json + i, k - i);
    if (k == to)
      break;
    i = k;
    while (k < to && ((json[k] >= '0' && json[k] <= '9') || json[k] == '-' || json[k] == '+' ||
                      json[k] == '.' || json[k] == 'e' || json[k] == 'E'))
      k++;
    struct json_mask jm = {json + i, k - i, 0, o, 0};
    if (es_redact_scan(jm.t, jm.len, kinds, NULL, NULL) > 0) {
      out_put(o, "\"", 1);
      es_redact_scan(jm.t, jm.len, kinds, json_span, &jm);
      out_put(o, jm.t + jm.pos, jm.len - jm.pos);
      out_put(o, "\"", 1);
      masks += jm.masks;
    } else {
      out_put(o, jm.t, jm.len);
    }
    i = k;
  }
  return masks;
}

static size_t redact_json(const char *json, size_t len, unsigned kinds, int numbers, char *out,
                          size_t *out_len) {
  struct out o = {out, 0};
  size_t i = 0, masks = 0;
  while (i < len) {
    const char *q = memchr(json + i, '"', len - i);
    size_t k = q ? (size_t)(q - json) : len;
    /* up to the next string */
    if (numbers)
      masks += json_numbers(json, i, k, kinds, &o);
    else
      out_put(&o, json + i, k - i);
    if (k == len)
      break;
    i = k;
    k = i + 1;
    while (k < len && json[k] != '"')
      k += json[k] == '\\' ? 2 : 1;
    if (k > len)
      k = len;
    struct json_mask jm = {json + i + 1, k - i - 1, 0, &o, 0};
    out_put(&o, "\"", 1);
    if (!letters_only(jm.t, jm.len))
      es_redact_scan(jm.t, jm.len, kinds, json_span, &jm);
    out_put(&o, jm.t + jm.pos, jm.len - jm.pos);
    masks += jm.masks;
    if (k < len)
      out_put(&o, "\"", 1);
    i = k + 1;
  }
  out[o.len] = '\0';
  *out_len = o.len;
  return masks;
}

size_t es_redact_json(const char *json, size_t len, unsigned kinds, char *out, size_t *out_len) {
  return redact_json(json, len, kinds, 0, out, out_len);
}

size_t es_redact_json_values(const char *json, size_t len, unsigned kinds, char *out,
                             size_t *out_len) {
  return redact_json(json, len, kinds, 1, out, out_len);
}
