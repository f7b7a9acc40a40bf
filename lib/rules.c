/*
 * rules.c: loading, validating and compiling rule files.
 *
 * A rule file is JSON with comments (docs/rules.md). Comments are blanked
 * out in a copy that keeps every offset, cJSON parses the copy, and a small
 * scanner walks the same text alongside the cJSON tree to learn where each
 * value and key sits, so that every diagnostic can name file:line:column.
 *
 * Phrases are compiled to one PCRE2 regex per rule over normalised text
 * (norm.h); patterns are compiled as written. Each phrase and pattern
 * contributes literals to the prefilter (prefilter.h); a rule with any
 * phrase or pattern that yields none is "unfiltered" and always runs.
 */
#include "rules.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "literal.h"
#include "match.h"
#include "norm.h"
#include "rules_int.h"
#include "strbuf.h"

/* Named limits on rule files (documented in docs/rules.md). */
#define ES_RULE_FILE_MAX   (8u << 20) /* bytes in one rule file */
#define ES_RULE_ID_MAX     100        /* bytes in a rule id */
#define ES_RULE_TEXT_MAX   4096       /* bytes in a phrase, pattern, tip, example */
#define ES_RULE_PHRASE_WORDS 32       /* words in one phrase */
#define ES_NEG_WINDOW_MAX  16         /* largest negation window */

const char *const es_default_negation_cues[] = {
  "not", "never", "no", "dont", "doesnt", "didnt", "wont", "wouldnt", "isnt",
  "wasnt", "arent", "werent", "cant", "cannot", "couldnt", "shouldnt",
  "havent", "hasnt", "hadnt", "nobody", "neither", "nor", "without", "hardly",
  NULL,
};

/* Words that end a negation's scope (NegEx "termination terms"). */
static const char *const neg_stop_words[] = {
  "but", "however", "although", "though", "yet", "except", "so", "because",
  "and", "then", NULL,
};

static const char *const categories[] = {
  "banned_phrase", "manager_request", "legal_threat", "abuse", "churn_threat",
  "exasperation", "public_shaming", "repeat_contact", "deescalation", "backup",
  "missed_deescalation", "sentiment", "interruption", "dead_air", "talk_pattern",
  NULL,
};

#define ES_WITHIN_MAX 86400.0  /* longest "within", "cooldown" or window, seconds */
#define ES_TURNS_MAX 1000      /* largest "turns" */

const char *es__category_name(int idx) {
  return idx >= 0 && idx < es__category_count() ? categories[idx] : NULL;
}

int es__category_count(void) {
  return (int)(sizeof(categories) / sizeof(categories[0])) - 1;
}

/*
 * Contractions and their long forms, in normalised words (apostrophes
 * already gone). A phrase word or word run equal to any form of a group
 * matches every form of that group. Also the ASR spellings gonna/wanna/
 * gotta. docs/rules.md lists this table.
 */
static const char *const contraction_groups[][4] = {
  {"thats", "that is", NULL}, {"theres", "there is", NULL},
  {"its", "it is", NULL}, {"whats", "what is", NULL},
  {"whos", "who is", NULL}, {"hes", "he is", NULL},
  {"shes", "she is", NULL}, {"heres", "here is", NULL},
  {"wheres", "where is", NULL}, {"hows", "how is", NULL},
  {"cant", "cannot", "can not", NULL}, {"dont", "do not", NULL},
  {"doesnt", "does not", NULL}, {"didnt", "did not", NULL},
  {"wont", "will not", NULL}, {"wouldnt", "would not", NULL},
  {"shouldnt", "should not", NULL}, {"couldnt", "could not", NULL},
  {"isnt", "is not", NULL}, {"arent", "are not", NULL},
  {"wasnt", "was not", NULL}, {"werent", "were not", NULL},
  {"havent", "have not", NULL}, {"hasnt", "has not", NULL},
  {"hadnt", "had not", NULL}, {"im", "i am", NULL},
  {"youre", "you are", NULL}, {"were", "we are", NULL},
  {"theyre", "they are", NULL}, {"ive", "i have", NULL},
  {"youve", "you have", NULL}, {"weve", "we have", NULL},
  {"theyve", "they have", NULL}, {"ill", "i will", NULL},
  {"youll", "you will", NULL}, {"well", "we will", NULL},
  {"theyll", "they will", NULL}, {"itll", "it will", NULL},
  {"id", "i would", "i had", NULL}, {"youd", "you would", NULL},
  {"theyd", "they would", NULL}, {"lets", "let us", NULL},
  {"gonna", "going to", NULL}, {"wanna", "want to", NULL},
  {"gotta", "got to", NULL},
};
#define NGROUPS (sizeof(contraction_groups) / sizeof(contraction_groups[0]))

/* Common words make poor prefilter anchors: they pass most lines. */
static const char *const weak_words[] = {
  "a", "an", "the", "i", "you", "we", "me", "my", "your", "our", "it", "is",
  "to", "of", "and", "or", "in", "on", "for", "this", "that", "be", "do",
  "have", "not", "no", "so", "at", "with", "can", "will", "what", "just",
  NULL,
};

const char *es_severity_name(enum es_severity s) {
  static const char *const names[] = {"info", "low", "medium", "high", "critical"};
  return (unsigned)s < 5 ? names[s] : "unknown";
}

const char *es_speaker_name(enum es_speaker s) {
  static const char *const names[] = {"any", "agent", "customer"};
  return (unsigned)s < 3 ? names[s] : "unknown";
}

int es_severity_parse(const char *name, enum es_severity *out) {
  for (int i = 0; i < 5; i++)
    if (strcmp(name, es_severity_name((enum es_severity)i)) == 0) {
      *out = (enum es_severity)i;
      return 0;
    }
  return ES_EINVAL;
}

int es_speaker_parse_len(const char *name, size_t len, enum es_speaker *out) {
  for (int i = 0; i < 3; i++) {
    const char *s = es_speaker_name((enum es_speaker)i);
    if (strlen(s) == len && memcmp(name, s, len) == 0) {
      *out = (enum es_speaker)i;
      return 0;
    }
  }
  return ES_EINVAL;
}

int es_speaker_parse(const char *name, enum es_speaker *out) {
  return es_speaker_parse_len(name, strlen(name), out);
}

void es_rules_opts_init(struct es_rules_opts *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->negation_window = 4;
  opts->negation_cues = NULL;
  opts->match_limit = 1000000;
  opts->depth_limit = 100000;
  opts->heap_limit_kib = 65536;
  opts->jit_stack_max = 4u << 20;
  opts->max_line_bytes = 65536;
  opts->check_examples = 1;
}

/* ---- small helpers ---------------------------------------------------- */

static void free_strv(char **v) {
  if (v == NULL)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

/* " word " forms of a NULL-terminated list of cue phrases, normalised. */
static char **make_cues(const char *const *cues) {
  size_t n = 0, i;
  char **out;

  while (cues[n])
    n++;
  out = calloc(n + 1, sizeof(*out));
  if (out == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    size_t len = strlen(cues[i]);
    out[i] = malloc(len + 3);
    if (out[i] == NULL) {
      free_strv(out);
      return NULL;
    }
    out[i][es_norm(cues[i], len, out[i])] = '\0';
  }
  return out;
}

/* ---- JSON with comments and positions --------------------------------- */

/* Blanks out // and block comments in a copy of the text, keeping every
 * newline so that offsets and line numbers stay those of the file.
 * Returns the copy (NUL-terminated) or NULL; *bad_off gets the offset of an
 * unterminated comment (or (size_t)-1). */
static char *strip_comments(const char *text, size_t len, size_t *bad_off) {
  char *out = malloc(len + 1);
  size_t i = 0;

  *bad_off = (size_t)-1;
  if (out == NULL)
    return NULL;
  memcpy(out, text, len);
  out[len] = '\0';
  while (i < len) {
    char c = out[i];
    if (c == '"') {
      for (i++; i < len && out[i] != '"'; i++)
        if (out[i] == '\\' && i + 1 < len)
          i++;
      i++;
    } else if (c == '/' && i + 1 < len && out[i + 1] == '/') {
      while (i < len && out[i] != '\n')
        out[i++] = ' ';
    } else if (c == '/' && i + 1 < len && out[i + 1] == '*') {
      size_t start = i;
      out[i++] = ' ';
      out[i++] = ' ';
      while (i < len && !(out[i] == '*' && i + 1 < len && out[i + 1] == '/')) {
        if (out[i] != '\n')
          out[i] = ' ';
        i++;
      }
      if (i >= len) {
        *bad_off = start;
        break;
      }
      out[i++] = ' ';
      out[i++] = ' ';
    } else {
      i++;
    }
  }
  return out;
}

struct loc {
  const cJSON *item;
  size_t value_off;
  size_t key_off;
};

struct locmap {
  struct loc *v;
  size_t n, cap;
  const char *text;
  size_t len;
};

static void skip_ws(const char *s, size_t len, size_t *i) {
  while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
    (*i)++;
}

static void skip_string(const char *s, size_t len, size_t *i) {
  for ((*i)++; *i < len && s[*i] != '"'; (*i)++)
    if (s[*i] == '\\')
      (*i)++;
  (*i)++;
}

/* Walks the text of one value in step with its cJSON item, recording where
 * each item's value (and key) starts. The text is valid JSON (cJSON said
 * so), so the scanner need not validate. Returns -1 on allocation failure. */
static int locate(struct locmap *m, const cJSON *item, size_t *i, size_t key_off) {
  const char *s = m->text;
  size_t len = m->len;

  skip_ws(s, len, i);
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    struct loc *v = realloc(m->v, cap * sizeof(*v));
    if (v == NULL)
      return -1;
    m->v = v;
    m->cap = cap;
  }
  m->v[m->n].item = item;
  m->v[m->n].value_off = *i;
  m->v[m->n].key_off = key_off;
  m->n++;
  if (*i >= len)
    return 0;
  if (s[*i] == '{' || s[*i] == '[') {
    int is_obj = s[*i] == '{';
    const cJSON *child = item->child;
    (*i)++;
    for (; child; child = child->next) {
      size_t koff = (size_t)-1;
      skip_ws(s, len, i);
      if (is_obj) {
        koff = *i;
        skip_string(s, len, i);
        skip_ws(s, len, i);
        (*i)++; /* ':' */
      }
      if (locate(m, child, i, koff) < 0)
        return -1;
      skip_ws(s, len, i);
      if (*i < len && s[*i] == ',')
        (*i)++;
    }
    skip_ws(s, len, i);
    (*i)++; /* closing bracket */
  } else if (s[*i] == '"') {
    skip_string(s, len, i);
  } else {
    while (*i < len && !strchr(",]} \t\r\n", s[*i]))
      (*i)++;
  }
  return 0;
}

static void off_to_linecol(const char *text, size_t len, size_t off, int *line, int *col) {
  int l = 1, c = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (text[i] == '\n') {
      l++;
      c = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      c++;
    }
  }
  *line = l;
  *col = c;
}

/* ---- the loader's state --------------------------------------------- */

struct loader {
  const struct es_rules_opts *opts;
  struct es_diags *diags;
  struct es_rules *rules;
  size_t cap;                /* allocated rules */
  struct es__pf_builder *pfb;
  struct es__set_owner *set_owner; /* of each anchor set so far (moved to rules) */
  uint32_t nsets, sets_cap;
  int errors;
  int oom;
  /* the file being loaded */
  const char *file;
  struct locmap map;
  char rule_id[ES_RULE_ID_MAX + 1];
  char settings_file[256];   /* the file that gave "settings", or "" */
};

/* The map is sorted by item address once built (sort_locs()): a binary
 * search, so that a file of thousands of examples loads in linear time. */
static const struct loc *find_loc(const struct loader *ld, const cJSON *item) {
  size_t lo = 0, hi = ld->map.n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((uintptr_t)ld->map.v[mid].item < (uintptr_t)item)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < ld->map.n && ld->map.v[lo].item == item ? &ld->map.v[lo] : NULL;
}

static int cmp_loc(const void *a, const void *b) {
  uintptr_t x = (uintptr_t)((const struct loc *)a)->item, y = (uintptr_t)((const struct loc *)b)->item;
  return x < y ? -1 : x > y;
}

/* Reports a problem at an item's value (at_key: at its key). */
static void __attribute__((format(printf, 4, 5)))
report(struct loader *ld, const cJSON *item, int at_key, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  int line = 0, col = 0;
  const struct loc *loc = item ? find_loc(ld, item) : NULL;

  if (loc) {
    size_t off = at_key && loc->key_off != (size_t)-1 ? loc->key_off : loc->value_off;
    off_to_linecol(ld->map.text, ld->map.len, off, &line, &col);
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  es_diags_add(ld->diags, ld->file, line, col, ld->rule_id, "%s", msg);
  ld->errors++;
}

static void report_at(struct loader *ld, int line, int col, const char *rule_id,
                      const char *msg) {
  es_diags_add(ld->diags, ld->file, line, col, rule_id, "%s", msg);
  ld->errors++;
}

static void __attribute__((format(printf, 5, 6)))
report_atf(struct loader *ld, int line, int col, const char *rule_id, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  report_at(ld, line, col, rule_id, msg);
}

/* ---- regex compilation ------------------------------------------------ */

static int compile_regex(struct loader *ld, const cJSON *where, const char *src,
                         int kind, struct es__regex *out) {
  int errcode = 0;
  PCRE2_SIZE erroff = 0;
  uint32_t minlen = 0;
  PCRE2_UCHAR buf[256];

  memset(out, 0, sizeof(*out));
  out->kind = kind;
  out->src = strdup(src);
  if (out->src == NULL) {
    ld->oom = 1;
    return ES_ENOMEM;
  }
  out->code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                            PCRE2_CASELESS | PCRE2_UTF, &errcode, &erroff, NULL);
  if (out->code == NULL) {
    pcre2_get_error_message(errcode, buf, sizeof(buf));
    report(ld, where, 0, "pattern does not compile at offset %zu: %s (PCRE2 error %d)",
           (size_t)erroff, (const char *)buf, errcode);
    return ES_ERULES;
  }
  if (pcre2_pattern_info(out->code, PCRE2_INFO_MINLENGTH, &minlen) == 0 && minlen == 0) {
    report(ld, where, 0, "pattern can match the empty string, so it would fire on every line");
    return ES_ERULES;
  }
  /* JIT is an optimisation: where the platform lacks it, the interpreter
   * gives the same results under the same limits. */
  out->jit = pcre2_jit_compile(out->code, PCRE2_JIT_COMPLETE) == 0;
  return 0;
}

static void free_regex(struct es__regex *rx) {
  pcre2_code_free(rx->code);
  free(rx->src);
}

/* ---- phrases ---------------------------------------------------------- */

struct pword {
  char *w;      /* normalised word; NULL for the wildcard */
};

/* Splits a phrase into normalised words. `*` alone is the wildcard.
 * Returns the word count, 0 when empty, -1 on error (reported). */
static int phrase_words(struct loader *ld, const cJSON *where, const char *phrase,
                        char words[][128], int *wild, int max) {
  int n = 0;
  const char *p = phrase;

  while (*p) {
    const char *tok;
    size_t toklen;
    char norm[ES_RULE_TEXT_MAX + 3];
    size_t nlen, j;

    while (*p == ' ' || *p == '\t')
      p++;
    if (!*p)
      break;
    tok = p;
    while (*p && *p != ' ' && *p != '\t')
      p++;
    toklen = (size_t)(p - tok);
    if (toklen == 1 && tok[0] == '*') {
      if (n >= max)
        goto too_many;
      words[n][0] = '\0';
      wild[n++] = 1;
      continue;
    }
    if (toklen > ES_RULE_TEXT_MAX)
      toklen = ES_RULE_TEXT_MAX;
    nlen = es_norm(tok, toklen, norm);
    /* A token may normalise to several words ("follow-up") or none ("--"). */
    for (j = 1; j < nlen;) {
      size_t k = j;
      while (k < nlen && norm[k] != ' ')
        k++;
      if (k > j) {
        if (n >= max)
          goto too_many;
        if (k - j >= 128) {
          report(ld, where, 0, "phrase word longer than 127 bytes");
          return -1;
        }
        memcpy(words[n], norm + j, k - j);
        words[n][k - j] = '\0';
        wild[n++] = 0;
      }
      j = k + 1;
    }
  }
  return n;
too_many:
  report(ld, where, 0, "phrase has more than %d words", ES_RULE_PHRASE_WORDS);
  return -1;
}

/* Finds the contraction group whose form matches the most words at
 * words[i..n); returns its index and sets *used, or -1. */
static int match_group(char words[][128], const int *wild, int i, int n, int *used) {
  int best = -1, best_used = 0;

  for (size_t g = 0; g < NGROUPS; g++) {
    for (int f = 0; contraction_groups[g][f]; f++) {
      const char *form = contraction_groups[g][f];
      int k = i, ok = 1;
      const char *p = form;
      while (*p) {
        const char *sp = strchr(p, ' ');
        size_t wl = sp ? (size_t)(sp - p) : strlen(p);
        if (k >= n || wild[k] || strlen(words[k]) != wl || memcmp(words[k], p, wl) != 0) {
          ok = 0;
          break;
        }
        k++;
        p += wl;
        if (*p == ' ')
          p++;
      }
      if (ok && k - i > best_used) {
        best = (int)g;
        best_used = k - i;
      }
    }
  }
  *used = best_used;
  return best;
}

static int is_weak(const char *w) {
  for (int i = 0; weak_words[i]; i++)
    if (strcmp(w, weak_words[i]) == 0)
      return 1;
  return 0;
}

static int ascii_only(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80)
      return 0;
  return 1;
}


/* Appends the regex for one normalised word, escaping what PCRE2 treats
 * specially (normalised words hold only [a-z0-9] and non-ASCII bytes, but a
 * rule author's phrase is not trusted to). */
static void sb_word(struct es_strbuf *b, const char *w) {
  for (; *w; w++) {
    unsigned char c = (unsigned char)*w;
    if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' '))
      es_strbuf_add(b, "\\", 1);
    es_strbuf_add(b, w, 1);
  }
}

/* One unit of a compiled phrase: a plain word, a contraction group (one
 * or more words in the phrase, several spellings), or the wildcard. */
struct ptoken {
  int kind;      /* 0 word, 1 group, 2 wildcard */
  int word;      /* kind 0: index into words */
  int group;     /* kind 1: index into contraction_groups */
};

#define ES_ANCHOR_MAX 16    /* spellings one phrase anchor may expand to */
#define ES_ANCHOR_ENOUGH 32 /* bytes of anchor beyond which longer is no better */
/* The weakest second anchor set of a pattern worth requiring
 * (es__litset_strength()): a set of common words or fragments such as
 * {"to ", "with "} occurs on most lines, screens out little, and costs the
 * prefilter a report at every occurrence. */
#define ES_ANCHOR_ALSO_STRENGTH 3
_Static_assert(ES_ANCHOR_ALSO_STRENGTH > 0, "an empty set (strength 0) must never gate a regex");

/* The spellings of token t, for anchors: its count, and each in turn. */
static int token_forms(const struct ptoken *t) {
  int n = 0;
  if (t->kind != 1)
    return 1;
  while (contraction_groups[t->group][n])
    n++;
  return n;
}

static const char *token_form(const struct ptoken *t, char words[][128], int f) {
  return t->kind == 1 ? contraction_groups[t->group][f] : words[t->word];
}

/* A new anchor set (prefilter id) gating regex `rx` of rule `idx`;
 * UINT32_MAX when out of memory (ld->oom is then set). */
static uint32_t new_set(struct loader *ld, uint32_t idx, size_t rx) {
  if (ld->nsets == ld->sets_cap) {
    uint32_t cap = ld->sets_cap ? ld->sets_cap * 2 : 64;
    struct es__set_owner *v = realloc(ld->set_owner, cap * sizeof(*v));
    if (v == NULL) {
      ld->oom = 1;
      return UINT32_MAX;
    }
    ld->set_owner = v;
    ld->sets_cap = cap;
  }
  ld->set_owner[ld->nsets].rule = idx;
  ld->set_owner[ld->nsets].rx = (uint32_t)rx;
  return ld->nsets++;
}

/* Adds every literal of `set` to the prefilter as anchor set `sid`. */
static void add_set(struct loader *ld, const struct es__litset *set, uint32_t sid) {
  for (size_t i = 0; i < set->n; i++)
    if (es__pf_add(ld->pfb, set->lits[i], set->lens[i], sid) != 0)
      ld->oom = 1;
}

/* Adds to the prefilter every spelling of tokens [a, b) as " w1 w2 ... ",
 * the surrounding spaces making them whole words. */
static void add_anchor_range(struct loader *ld, const struct ptoken *tok, char words[][128], int a,
                             int b, uint32_t sid) {
  int forms[ES_RULE_PHRASE_WORDS] = {0};
  for (;;) {
    struct es_strbuf lit = {0};
    es_strbuf_str(&lit, " ");
    for (int k = a; k < b; k++) {
      es_strbuf_str(&lit, token_form(&tok[k], words, forms[k]));
      es_strbuf_str(&lit, " ");
    }
    if (lit.failed || es__pf_add(ld->pfb, lit.p, lit.len, sid) != 0)
      ld->oom = 1;
    free(lit.p);
    /* next combination, odometer style */
    int k = b - 1;
    while (k >= a && ++forms[k] == token_forms(&tok[k])) {
      forms[k] = 0;
      k--;
    }
    if (k < a)
      return;
  }
}

/* Compiles one phrase into `rx` (a regex alternative without the padding)
 * and adds its prefilter anchors to anchor set `sid`: the range of consecutive
 * words and contraction groups whose shortest spelling is longest, with
 * every spelling of it (at most ES_ANCHOR_MAX). Common words and
 * contractions count as short, so they are anchors only with their
 * neighbours, or when the phrase has nothing else. Wildcards and non-ASCII
 * words (whose case the normaliser does not fold) never take part. Sets *anchored to 0 when no
 * range qualifies: the rule then runs on every line. */
static int compile_phrase(struct loader *ld, const cJSON *where, const char *phrase,
                          uint32_t sid, struct es_strbuf *rx, int *anchored) {
  char words[ES_RULE_PHRASE_WORDS][128];
  int wild[ES_RULE_PHRASE_WORDS];
  struct ptoken tok[ES_RULE_PHRASE_WORDS];
  int n, i, ntok = 0, nfixed = 0;
  int best_a = -1, best_b = -1;
  size_t best_score = 0;

  n = phrase_words(ld, where, phrase, words, wild, ES_RULE_PHRASE_WORDS);
  if (n < 0)
    return ES_ERULES;
  for (i = 0; i < n; i++)
    nfixed += !wild[i];
  if (nfixed == 0) {
    report(ld, where, 0, "phrase \"%s\" has no words to match", phrase);
    return ES_ERULES;
  }

  for (i = 0; i < n;) {
    int used = 0, g = wild[i] ? -1 : match_group(words, wild, i, n, &used);
    struct ptoken *t = &tok[ntok++];
    t->word = i;
    t->group = g;
    if (wild[i]) {
      t->kind = 2;
      i++;
    } else if (g >= 0) {
      t->kind = 1;
      i += used;
    } else {
      t->kind = 0;
      i++;
    }
  }

  es_strbuf_str(rx, "(?:");
  for (i = 0; i < ntok; i++) {
    if (i > 0)
      es_strbuf_str(rx, " ");
    if (tok[i].kind == 2) {
      es_strbuf_str(rx, "[^ ]+");
    } else if (tok[i].kind == 1) {
      es_strbuf_str(rx, "(?:");
      for (int f = 0; contraction_groups[tok[i].group][f]; f++) {
        if (f)
          es_strbuf_str(rx, "|");
        sb_word(rx, contraction_groups[tok[i].group][f]);
      }
      es_strbuf_str(rx, ")");
    } else {
      sb_word(rx, words[tok[i].word]);
    }
  }
  es_strbuf_str(rx, ")");

  /* Choose the anchor range: score each range by the bytes of its
   * shortest spelling, counting a common word ("the", "my") or a
   * contraction ("that's", "don't") as one byte: alone it passes most lines,
   * but next to the rest of the phrase it still narrows it (" not my area "
   * is far rarer than " area "). Beyond ES_ANCHOR_ENOUGH bytes, fewer tokens
   * win (smaller automaton). */
  int best_len = 0;
  for (int a = 0; a < ntok; a++) {
    int combos = 1;
    size_t score = 0;
    for (int b = a + 1; b <= ntok; b++) {
      const struct ptoken *t = &tok[b - 1];
      size_t shortest = (size_t)-1;
      if (t->kind == 2 || (t->kind == 0 && !ascii_only(words[t->word])))
        break;
      combos *= token_forms(t);
      if (combos > ES_ANCHOR_MAX)
        break;
      for (int f = 0; f < token_forms(t); f++) {
        size_t l = strlen(token_form(t, words, f));
        if (l < shortest)
          shortest = l;
      }
      if (t->kind == 1 || (t->kind == 0 && is_weak(words[t->word])))
        score += 1;
      else
        score += shortest + 1;
      size_t capped = score < ES_ANCHOR_ENOUGH ? score : ES_ANCHOR_ENOUGH;
      if (capped > best_score || (capped == best_score && capped > 0 && b - a < best_len)) {
        best_score = capped;
        best_a = a;
        best_b = b;
        best_len = b - a;
      }
    }
  }
  *anchored = best_a >= 0;
  if (best_a >= 0)
    add_anchor_range(ld, tok, words, best_a, best_b, sid);
  return rx->failed ? ES_ENOMEM : 0;
}

/* ---- field checks ----------------------------------------------------- */

static const char *const rule_fields[] = {
  "id", "description", "category", "severity", "speaker", "score", "tip",
  "phrases", "patterns", "unless", "negation", "examples",
  "count", "within", "cooldown", "max_per_call", "backup",
  "when", "after", "not_followed_by", "signal", NULL,
};

static const char *type_name(const cJSON *item) {
  if (cJSON_IsString(item)) return "a string";
  if (cJSON_IsNumber(item)) return "a number";
  if (cJSON_IsBool(item)) return "a boolean";
  if (cJSON_IsNull(item)) return "null";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsObject(item)) return "an object";
  return "invalid";
}

/* Rejects keys that appear twice in one object, and (when `allowed` is
 * given) keys not in it. */
static void check_keys(struct loader *ld, const cJSON *obj, const char *const *allowed,
                       const char *what) {
  for (const cJSON *a = obj->child; a; a = a->next) {
    if (allowed) {
      int ok = 0;
      for (int i = 0; allowed[i]; i++)
        ok |= strcmp(a->string, allowed[i]) == 0;
      if (!ok) {
        char list[512] = "";
        for (int i = 0; allowed[i]; i++) {
          strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
          strncat(list, allowed[i], sizeof(list) - strlen(list) - 1);
        }
        report(ld, a, 1, "unknown field \"%s\" in %s (expected one of: %s)", a->string,
               what, list);
      }
    }
    for (const cJSON *b = obj->child; b != a; b = b->next)
      if (strcmp(a->string, b->string) == 0) {
        report(ld, a, 1, "field \"%s\" appears twice", a->string);
        break;
      }
  }
}

/* A required or optional string field: returns a copy, NULL when absent
 * or invalid (reported). */
static char *get_string(struct loader *ld, const cJSON *obj, const char *key, int required) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  char *s;

  if (v == NULL) {
    if (required)
      report(ld, obj, 0, "missing required field \"%s\"", key);
    return NULL;
  }
  if (!cJSON_IsString(v)) {
    report(ld, v, 0, "\"%s\" must be a string, not %s", key, type_name(v));
    return NULL;
  }
  if (v->valuestring[0] == '\0') {
    report(ld, v, 0, "\"%s\" must not be empty", key);
    return NULL;
  }
  if (strlen(v->valuestring) > ES_RULE_TEXT_MAX) {
    report(ld, v, 0, "\"%s\" is longer than %d bytes", key, ES_RULE_TEXT_MAX);
    return NULL;
  }
  s = strdup(v->valuestring);
  if (s == NULL)
    ld->oom = 1;
  return s;
}

/* An optional array of non-empty strings; returns it (borrowed) or NULL. */
static const cJSON *get_strings(struct loader *ld, const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key), *e;
  int bad = 0;

  if (v == NULL)
    return NULL;
  if (!cJSON_IsArray(v)) {
    report(ld, v, 0, "\"%s\" must be an array of strings, not %s", key, type_name(v));
    return NULL;
  }
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsString(e)) {
      report(ld, e, 0, "every entry of \"%s\" must be a string, not %s", key, type_name(e));
      bad = 1;
    } else if (e->valuestring[0] == '\0') {
      report(ld, e, 0, "empty string in \"%s\"", key);
      bad = 1;
    } else if (strlen(e->valuestring) > ES_RULE_TEXT_MAX) {
      report(ld, e, 0, "entry of \"%s\" longer than %d bytes", key, ES_RULE_TEXT_MAX);
      bad = 1;
    } else if (!es_utf8_valid(e->valuestring, strlen(e->valuestring))) {
      report(ld, e, 0, "entry of \"%s\" is not valid UTF-8", key);
      bad = 1;
    }
  }
  return bad ? NULL : v;
}

static int valid_id(const char *id) {
  size_t n = strlen(id);
  if (n == 0 || n > ES_RULE_ID_MAX)
    return 0;
  if (!((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9')))
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return 0;
  }
  return 1;
}

static void free_ref(struct es__ref *ref);

static void free_rule(struct es__rule *r) {
  free((char *)r->info.id);
  free((char *)r->info.description);
  free((char *)r->info.category);
  free((char *)r->info.tip);
  free((char *)r->info.file);
  free_strv((char **)r->info.match_examples);
  free_strv((char **)r->info.no_match_examples);
  for (size_t i = 0; i < r->nregexes; i++)
    free_regex(&r->regexes[i]);
  free(r->regexes);
  for (size_t i = 0; i < r->nunless; i++)
    free_regex(&r->unless[i]);
  free(r->unless);
  free_strv(r->neg_cues);
  free(r->match_pos);
  free(r->no_match_pos);
  free_strv((char **)r->info.match_calls);
  free_strv((char **)r->info.no_match_calls);
  free(r->match_call_pos);
  free(r->no_match_call_pos);
  free_ref(&r->when);
  free_ref(&r->after);
  free_ref(&r->nfb);
}

static int parse_negation(struct loader *ld, const cJSON *obj, struct es__rule *r) {
  const cJSON *neg = cJSON_GetObjectItemCaseSensitive(obj, "negation");
  static const char *const neg_fields[] = {"window", "cues", NULL};

  r->info.negation = r->info.speaker == ES_SPEAKER_CUSTOMER;
  r->info.negation_window = ld->opts->negation_window;
  if (neg == NULL)
    return 0;
  if (cJSON_IsBool(neg)) {
    r->info.negation = cJSON_IsTrue(neg);
    return 0;
  }
  if (!cJSON_IsObject(neg)) {
    report(ld, neg, 0, "\"negation\" must be true, false or {\"window\": N, \"cues\": [...]}, not %s",
           type_name(neg));
    return ES_ERULES;
  }
  check_keys(ld, neg, neg_fields, "\"negation\"");
  r->info.negation = 1;
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(neg, "window");
  if (w) {
    if (!cJSON_IsNumber(w) || w->valuedouble < 1 || w->valuedouble > ES_NEG_WINDOW_MAX ||
        w->valuedouble != (double)(int)w->valuedouble) {
      report(ld, w, 0, "negation window must be a whole number from 1 to %d", ES_NEG_WINDOW_MAX);
      return ES_ERULES;
    }
    r->info.negation_window = (unsigned)w->valuedouble;
  }
  const cJSON *cues = get_strings(ld, neg, "cues");
  if (cues) {
    size_t n = (size_t)cJSON_GetArraySize(cues), i = 0;
    const char **tmp = calloc(n + 1, sizeof(*tmp));
    const cJSON *e;
    if (tmp == NULL) {
      ld->oom = 1;
      return ES_ENOMEM;
    }
    cJSON_ArrayForEach(e, cues) tmp[i++] = e->valuestring;
    r->neg_cues = make_cues(tmp);
    free(tmp);
    if (r->neg_cues == NULL) {
      ld->oom = 1;
      return ES_ENOMEM;
    }
  }
  return 0;
}

/* ---- call logic ------------------------------------------------------- */

/* An optional number field in [lo, hi] (whole when `whole`); returns 1
 * and sets *out when present and valid, 0 when absent, -1 when invalid
 * (reported). */
static int get_number(struct loader *ld, const cJSON *obj, const char *key, double lo, double hi,
                      int whole, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (v == NULL)
    return 0;
  if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble || v->valuedouble < lo ||
      v->valuedouble > hi || (whole && v->valuedouble != (double)(int64_t)v->valuedouble)) {
    report(ld, v, 0, "\"%s\" must be a %s from %g to %g, not %s", key,
           whole ? "whole number" : "number", lo, hi,
           cJSON_IsNumber(v) ? "that" : type_name(v));
    return -1;
  }
  *out = v->valuedouble;
  return 1;
}

static void free_ref(struct es__ref *ref) {
  free_strv(ref->names);
  free(ref->rules);
  memset(ref, 0, sizeof(*ref));
}

/* Appends `prefix` + each string of a string-or-array field to names. */
static int ref_names(struct loader *ld, const cJSON *v, const char *key, const char *prefix,
                     char ***names, size_t *n) {
  const cJSON *e;
  size_t count;
  char **grown;

  if (v == NULL)
    return 0;
  if (!cJSON_IsString(v) && !cJSON_IsArray(v)) {
    report(ld, v, 0, "\"%s\" must be a string or an array of strings, not %s", key,
           type_name(v));
    return -1;
  }
  count = cJSON_IsString(v) ? 1 : (size_t)cJSON_GetArraySize(v);
  if (count == 0) {
    report(ld, v, 0, "\"%s\" is empty", key);
    return -1;
  }
  grown = realloc(*names, (*n + count + 1) * sizeof(**names));
  if (grown == NULL) {
    ld->oom = 1;
    return -1;
  }
  *names = grown;
  for (e = cJSON_IsString(v) ? v : v->child; e; e = cJSON_IsString(v) ? NULL : e->next) {
    size_t plen = strlen(prefix), len;
    if (!cJSON_IsString(e) || e->valuestring[0] == '\0') {
      report(ld, e, 0, "every entry of \"%s\" must be a non-empty string", key);
      (*names)[*n] = NULL;
      return -1;
    }
    len = strlen(e->valuestring);
    if (len > ES_RULE_ID_MAX) {
      report(ld, e, 0, "\"%s\" entry is longer than %d bytes", key, ES_RULE_ID_MAX);
      (*names)[*n] = NULL;
      return -1;
    }
    (*names)[*n] = malloc(plen + len + 1);
    if ((*names)[*n] == NULL) {
      ld->oom = 1;
      return -1;
    }
    memcpy((*names)[*n], prefix, plen);
    memcpy((*names)[*n] + plen, e->valuestring, len + 1);
    (*n)++;
  }
  (*names)[*n] = NULL;
  return 0;
}

/* Parses a clause {"rule"|"category", "speaker", "within", "turns"}.
 * `timed`: 0 for "when" (no within/turns), 1 for "after", 2 for
 * "not_followed_by" (within or turns required). */
static void parse_ref(struct loader *ld, const cJSON *obj, const char *key, int timed,
                      struct es__ref *ref) {
  static const char *const when_fields[] = {"rule", "category", "speaker", NULL};
  static const char *const timed_fields[] = {"rule", "category", "speaker", "within", "turns",
                                             NULL};
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
  const struct loc *loc;
  size_t n = 0;
  double d;
  char what[64];

  if (c == NULL)
    return;
  ref->set = 1;
  loc = find_loc(ld, c);
  if (loc)
    off_to_linecol(ld->map.text, ld->map.len, loc->value_off, &ref->pos.line, &ref->pos.column);
  if (!cJSON_IsObject(c)) {
    report(ld, c, 0, "\"%s\" must be an object like {\"category\": \"manager_request\", "
                     "\"speaker\": \"customer\"}, not %s", key, type_name(c));
    return;
  }
  snprintf(what, sizeof(what), "\"%s\"", key);
  check_keys(ld, c, timed ? timed_fields : when_fields, what);
  if (ref_names(ld, cJSON_GetObjectItemCaseSensitive(c, "rule"), "rule", "", &ref->names, &n) ||
      ref_names(ld, cJSON_GetObjectItemCaseSensitive(c, "category"), "category", "category:",
                &ref->names, &n))
    return;
  if (n == 0)
    report(ld, c, 0, "\"%s\" names no rule: give \"rule\" (ids) or \"category\" (names)", key);
  char *spk = get_string(ld, c, "speaker", 0);
  ref->speaker = ES_SPEAKER_ANY;
  if (spk && es_speaker_parse(spk, &ref->speaker) != 0)
    report(ld, cJSON_GetObjectItemCaseSensitive(c, "speaker"), 0,
           "unknown speaker \"%s\" (expected agent, customer or any)", spk);
  free(spk);
  if (timed) {
    if (get_number(ld, c, "within", 0.001, ES_WITHIN_MAX, 0, &d) == 1)
      ref->within = d;
    if (get_number(ld, c, "turns", 1, ES_TURNS_MAX, 1, &d) == 1)
      ref->turns = (uint32_t)d;
    if (timed == 2 && ref->within == 0 && ref->turns == 0 &&
        !cJSON_GetObjectItemCaseSensitive(c, "within") &&
        !cJSON_GetObjectItemCaseSensitive(c, "turns"))
      report(ld, c, 0, "\"not_followed_by\" needs \"within\" (seconds) or \"turns\" (lines), "
                       "or both: the time the other side has to answer");
  }
}

/* "signal": {"type": ..., parameters}. */
static void parse_signal(struct loader *ld, const cJSON *obj, struct es__rule *r) {
  static const struct {
    const char *name;
    enum es_signal sig;
    const char *fields[4];
  } types[] = {
    {"sentiment", ES_SIG_SENTIMENT, {"below", NULL}},
    {"sentiment_trend", ES_SIG_SENTIMENT_TREND, {"turns", "drop", "below", NULL}},
    {"overtalk", ES_SIG_OVERTALK, {"margin", NULL}},
    {"dead_air", ES_SIG_DEAD_AIR, {"seconds", NULL}},
    {"rapid_fire", ES_SIG_RAPID_FIRE, {"turns", "within", NULL}},
    {"monologue", ES_SIG_MONOLOGUE, {"seconds", NULL}},
  };
  const cJSON *sig = cJSON_GetObjectItemCaseSensitive(obj, "signal"), *t;
  const char *allowed[6];
  double d;
  size_t k;

  r->info.sig_below = NAN;
  if (sig == NULL)
    return;
  if (!cJSON_IsObject(sig) || !cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(sig, "type"))) {
    report(ld, sig, 0, "\"signal\" must be an object with a \"type\": sentiment, "
                       "sentiment_trend, overtalk, dead_air, rapid_fire or monologue");
    return;
  }
  for (k = 0; k < sizeof(types) / sizeof(types[0]); k++)
    if (strcmp(types[k].name, t->valuestring) == 0)
      break;
  if (k == sizeof(types) / sizeof(types[0])) {
    report(ld, t, 0, "unknown signal \"%s\" (expected sentiment, sentiment_trend, overtalk, "
                     "dead_air, rapid_fire or monologue)", t->valuestring);
    return;
  }
  allowed[0] = "type";
  for (int i = 0; i < 4; i++)
    allowed[i + 1] = types[k].fields[i];
  allowed[5] = NULL;
  check_keys(ld, sig, allowed, "this \"signal\"");
  r->info.signal = types[k].sig;
  switch (types[k].sig) {
  case ES_SIG_SENTIMENT:
    if (get_number(ld, sig, "below", -1, 1, 0, &d) != 1)
      report(ld, sig, 0, "a sentiment signal needs \"below\": a compound score from -1 to 1");
    else
      r->info.sig_below = d;
    break;
  case ES_SIG_SENTIMENT_TREND:
    if (get_number(ld, sig, "turns", 2, 8, 1, &d) == 1)
      r->info.sig_turns = (uint32_t)d;
    else
      report(ld, sig, 0, "a sentiment_trend signal needs \"turns\": 2 to 8 lines");
    if (get_number(ld, sig, "drop", 0.01, 2, 0, &d) == 1)
      r->info.sig_drop = d;
    else
      report(ld, sig, 0, "a sentiment_trend signal needs \"drop\": how far the rolling "
                         "sentiment falls over those lines (0.01 to 2)");
    if (get_number(ld, sig, "below", -1, 1, 0, &d) == 1)
      r->info.sig_below = d;
    break;
  case ES_SIG_OVERTALK:
    r->info.sig_seconds = 0.5;
    if (get_number(ld, sig, "margin", 0, 60, 0, &d) == 1)
      r->info.sig_seconds = d;
    break;
  case ES_SIG_DEAD_AIR:
  case ES_SIG_MONOLOGUE:
    if (get_number(ld, sig, "seconds", 1, ES_WITHIN_MAX, 0, &d) == 1)
      r->info.sig_seconds = d;
    else
      report(ld, sig, 0, "this signal needs \"seconds\" (1 or more)");
    break;
  case ES_SIG_RAPID_FIRE:
    if (get_number(ld, sig, "turns", 2, 100, 1, &d) == 1)
      r->info.sig_turns = (uint32_t)d;
    else
      report(ld, sig, 0, "a rapid_fire signal needs \"turns\": 2 or more lines");
    if (get_number(ld, sig, "within", 0.1, ES_WITHIN_MAX, 0, &d) == 1)
      r->info.sig_seconds = d;
    else
      report(ld, sig, 0, "a rapid_fire signal needs \"within\": seconds");
    break;
  case ES_SIG_NONE:
    break;
  }
}

/* Fields of the call logic: count, within, cooldown, max_per_call,
 * backup, when, after, not_followed_by. */
static void parse_call_logic(struct loader *ld, const cJSON *obj, struct es__rule *r) {
  double d;
  const cJSON *v;

  r->info.count = 1;
  if (get_number(ld, obj, "count", 1, ES_COUNT_MAX, 1, &d) == 1)
    r->info.count = (uint32_t)d;
  if (get_number(ld, obj, "within", 0.001, ES_WITHIN_MAX, 0, &d) == 1) {
    r->info.within = d;
    if (r->info.count < 2)
      report(ld, cJSON_GetObjectItemCaseSensitive(obj, "within"), 0,
             "\"within\" is the window for \"count\": give \"count\" of 2 or more");
  }
  if (get_number(ld, obj, "cooldown", 0, ES_WITHIN_MAX, 0, &d) == 1)
    r->info.cooldown = d;
  if (get_number(ld, obj, "max_per_call", 1, 1000000, 1, &d) == 1)
    r->info.max_per_call = (uint32_t)d;
  v = cJSON_GetObjectItemCaseSensitive(obj, "backup");
  if (v && !cJSON_IsBool(v))
    report(ld, v, 0, "\"backup\" must be true or false, not %s", type_name(v));
  r->info.backup = cJSON_IsTrue(v);
  parse_ref(ld, obj, "when", 0, &r->when);
  parse_ref(ld, obj, "after", 1, &r->after);
  parse_ref(ld, obj, "not_followed_by", 2, &r->nfb);
  parse_signal(ld, obj, r);
  r->info.kind = r->when.set ? ES_RULE_CALL : r->info.signal ? ES_RULE_SIGNAL : ES_RULE_LINE;
  if (r->when.set && r->info.signal)
    report(ld, cJSON_GetObjectItemCaseSensitive(obj, "signal"), 1,
           "a rule has \"when\" or \"signal\", not both");
  r->info.has_after = r->after.set;
  r->info.has_not_followed_by = r->nfb.set;
}

/* Resolves one clause's names to line rule indexes. */
static void resolve_ref(struct loader *ld, struct es__rule *r, struct es__ref *ref,
                        const char *key) {
  struct es_rules *rules = ld->rules;
  size_t cap = rules->n;

  if (!ref->set || ref->names == NULL)
    return;
  ref->rules = calloc(cap ? cap : 1, sizeof(*ref->rules));
  if (ref->rules == NULL) {
    ld->oom = 1;
    return;
  }
  for (char **nm = ref->names; *nm; nm++) {
    int found = 0;
    if (strncmp(*nm, "category:", 9) == 0) {
      const char *cat = *nm + 9;
      int known = 0;
      for (int i = 0; categories[i]; i++)
        known |= strcmp(categories[i], cat) == 0;
      for (uint32_t i = 0; i < rules->n; i++)
        if (rules->rules[i].info.kind != ES_RULE_CALL && rules->rules[i].info.category &&
            strcmp(rules->rules[i].info.category, cat) == 0) {
          ref->rules[i] = 1;
          found = 1;
        }
      if (!found)
        report_atf(ld, ref->pos.line, ref->pos.column, r->info.id,
                  known ? "\"%s\" names category \"%s\", which no line or signal rule has"
                        : "\"%s\" names unknown category \"%s\"",
                  key, cat);
    } else {
      for (uint32_t i = 0; i < rules->n; i++)
        if (rules->rules[i].info.id && strcmp(rules->rules[i].info.id, *nm) == 0) {
          found = 1;
          if (rules->rules[i].info.kind == ES_RULE_CALL)
            report_atf(ld, ref->pos.line, ref->pos.column, r->info.id,
                      "\"%s\" names \"%s\", a call rule: only line rules (phrases, "
                      "patterns) and signal rules can be referred to",
                      key, *nm);
          else
            ref->rules[i] = 1;
        }
      if (!found)
        report_atf(ld, ref->pos.line, ref->pos.column, r->info.id,
                  "\"%s\" names rule \"%s\", which is not loaded", key, *nm);
    }
  }
  /* The flags become the ascending index list. */
  for (uint32_t i = 0; i < rules->n; i++)
    if (ref->rules[i])
      ref->rules[ref->nrules++] = i;
}

/* After every file: resolves references, builds the index of call rules
 * by the line rules they wait for, and lists rules with deadlines. */
static void link_call_logic(struct loader *ld) {
  struct es_rules *rules = ld->rules;
  uint32_t total = 0;

  for (uint32_t i = 0; i < rules->n; i++) {
    struct es__rule *r = &rules->rules[i];
    const char *saved = ld->file;
    ld->file = r->info.file;
    resolve_ref(ld, r, &r->when, "when");
    resolve_ref(ld, r, &r->after, "after");
    resolve_ref(ld, r, &r->nfb, "not_followed_by");
    ld->file = saved;
    if (ld->oom)
      return;
    total += (uint32_t)r->when.nrules;
  }
  rules->caller_start = calloc((size_t)rules->n + 1, sizeof(uint32_t));
  rules->callers = calloc(total ? total : 1, sizeof(uint32_t));
  rules->nfb_rules = calloc(rules->n ? rules->n : 1, sizeof(uint32_t));
  if (rules->caller_start == NULL || rules->callers == NULL || rules->nfb_rules == NULL) {
    ld->oom = 1;
    return;
  }
  /* Counting sort: callers of each line rule, in call rule order. */
  for (uint32_t i = 0; i < rules->n; i++)
    for (size_t k = 0; k < rules->rules[i].when.nrules; k++)
      rules->caller_start[rules->rules[i].when.rules[k] + 1]++;
  for (uint32_t i = 0; i < rules->n; i++)
    rules->caller_start[i + 1] += rules->caller_start[i];
  {
    uint32_t *fill = calloc((size_t)rules->n + 1, sizeof(uint32_t));
    if (fill == NULL) {
      ld->oom = 1;
      return;
    }
    for (uint32_t i = 0; i < rules->n; i++)
      for (size_t k = 0; k < rules->rules[i].when.nrules; k++) {
        uint32_t target = rules->rules[i].when.rules[k];
        rules->callers[rules->caller_start[target] + fill[target]++] = i;
      }
    free(fill);
  }
  for (uint32_t i = 0; i < rules->n; i++)
    if (rules->rules[i].nfb.set)
      rules->nfb_rules[rules->nnfb++] = i;
  rules->signal_rules = calloc(rules->n ? rules->n : 1, sizeof(uint32_t));
  if (rules->signal_rules == NULL) {
    ld->oom = 1;
    return;
  }
  int sentiment = 0;
  for (uint32_t i = 0; i < rules->n; i++)
    if (rules->rules[i].info.kind == ES_RULE_SIGNAL) {
      rules->signal_rules[rules->nsignal++] = i;
      sentiment |= rules->rules[i].info.signal == ES_SIG_SENTIMENT ||
                   rules->rules[i].info.signal == ES_SIG_SENTIMENT_TREND;
      rules->dead_air |= rules->rules[i].info.signal == ES_SIG_DEAD_AIR;
    }
  if (sentiment) {
    int rc = es_sentiment_new(NULL, 0, "lexicon/vader_lexicon.tsv (built in)", ld->diags,
                              &rules->sentiment);
    if (rc == ES_ENOMEM)
      ld->oom = 1;
    else if (rc != 0)
      ld->errors++;
  }
}

/* "settings": the call-level settings of the whole rule set. */
static void parse_settings(struct loader *ld, const cJSON *set) {
  static const char *const fields[] = {"half_life", "backup_threshold", "rearm_threshold",
                                       "escalation_window", "escalation_multiplier",
                                       "example_gap", "backup_tip", "sentiment_mode",
                                       "sentiment_alpha", NULL};
  struct es_call_settings *cs = &ld->rules->call;
  double d;

  if (!cJSON_IsObject(set)) {
    report(ld, set, 0, "\"settings\" must be an object, not %s", type_name(set));
    return;
  }
  if (ld->settings_file[0]) {
    report(ld, set, 1, "\"settings\" given twice: %s gave them first; keep one", ld->settings_file);
    return;
  }
  snprintf(ld->settings_file, sizeof(ld->settings_file), "%s", ld->file);
  check_keys(ld, set, fields, "\"settings\"");
  if (get_number(ld, set, "half_life", 1, ES_WITHIN_MAX, 0, &d) == 1)
    cs->half_life = d;
  if (get_number(ld, set, "backup_threshold", 0.001, 1e6, 0, &d) == 1)
    cs->backup_threshold = d;
  if (get_number(ld, set, "rearm_threshold", 0, 1e6, 0, &d) == 1)
    cs->rearm_threshold = d;
  if (get_number(ld, set, "escalation_window", 0, ES_WITHIN_MAX, 0, &d) == 1)
    cs->escalation_window = d;
  if (get_number(ld, set, "escalation_multiplier", 0, 100, 0, &d) == 1)
    cs->escalation_multiplier = d;
  if (get_number(ld, set, "example_gap", 0, ES_WITHIN_MAX, 0, &d) == 1)
    cs->example_gap = d;
  if (get_number(ld, set, "sentiment_alpha", 0.01, 1, 0, &d) == 1)
    cs->sentiment_alpha = d;
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(set, "sentiment_mode");
  if (mode) {
    if (cJSON_IsString(mode) && strcmp(mode->valuestring, "vader") == 0)
      cs->sentiment_flags = 0;
    else if (cJSON_IsString(mode) && strcmp(mode->valuestring, "asr") == 0)
      cs->sentiment_flags = ES_SENTIMENT_ASR;
    else
      report(ld, mode, 0, "\"sentiment_mode\" must be \"vader\" (as the reference "
                          "implementation) or \"asr\" (case folded, curly apostrophes, "
                          "multi-word entries; docs/sentiment.md)");
  }
  if (cs->rearm_threshold >= cs->backup_threshold)
    report(ld, set, 0, "\"rearm_threshold\" (%g) must be below \"backup_threshold\" (%g)",
           cs->rearm_threshold, cs->backup_threshold);
  char *tip = get_string(ld, set, "backup_tip", 0);
  if (tip) {
    free((char *)ld->rules->backup.tip);
    ld->rules->backup.tip = tip;
  }
}

/* One number after a prefix character ("+5 ", "~2.5 "): 0, or -1. */
static int example_number(const char **q, const char *end, double *out) {
  char *stop;
  double v = strtod(*q + 1, &stop);
  if (stop == *q + 1 || stop >= end || *stop != ' ' || !(v >= 0) || v > ES_WITHIN_MAX)
    return -1;
  *out = v;
  *q = stop + 1;
  return 0;
}

const char *es__example_line(const char *line, size_t n, struct es__example_line *out,
                             char *buf, size_t cap) {
  const char *q = line, *end = line + n, *colon;
  char who[16];

  if (*q == '+' && example_number(&q, end, &out->gap) != 0)
    return "a call example line may start with \"+SECONDS \" (a number of seconds, then a space)";
  if (q < end && *q == '~' && example_number(&q, end, &out->dur) != 0)
    return "a call example line may give \"~SECONDS \" (how long it took) before the speaker";
  colon = memchr(q, ':', (size_t)(end - q));
  if (colon == NULL || (size_t)(colon - q) >= sizeof(who))
    return "a call example line reads \"customer: text\" or \"agent: text\"";
  memcpy(who, q, (size_t)(colon - q));
  who[colon - q] = '\0';
  if (es_speaker_parse(who, &out->speaker) != 0 || out->speaker == ES_SPEAKER_ANY) {
    snprintf(buf, cap, "unknown speaker \"%s\" in a call example (agent or customer)", who);
    return buf;
  }
  q = colon + 1;
  while (q < end && *q == ' ')
    q++;
  out->text = q;
  out->len = (size_t)(end - q);
  return NULL;
}

/* Examples of one kind: strings are line examples, arrays of strings are
 * call examples (joined by "\n"). */
static void parse_examples(struct loader *ld, const cJSON *arr, const char *key,
                           struct es__rule *r, int want) {
  const cJSON *e;
  size_t nlines = 0, ncalls = 0, count;
  char **lines, **calls;
  struct es__pos *lpos, *cpos;

  if (arr == NULL)
    return;
  if (!cJSON_IsArray(arr)) {
    report(ld, arr, 0, "\"%s\" must be an array, not %s", key, type_name(arr));
    return;
  }
  count = (size_t)cJSON_GetArraySize(arr);
  lines = calloc(count + 1, sizeof(*lines));
  calls = calloc(count + 1, sizeof(*calls));
  lpos = calloc(count + 1, sizeof(*lpos));
  cpos = calloc(count + 1, sizeof(*cpos));
  if (!lines || !calls || !lpos || !cpos) {
    free(lines);
    free(calls);
    free(lpos);
    free(cpos);
    ld->oom = 1;
    return;
  }
  cJSON_ArrayForEach(e, arr) {
    const struct loc *loc = find_loc(ld, e);
    struct es__pos pos = {0, 0};
    if (loc)
      off_to_linecol(ld->map.text, ld->map.len, loc->value_off, &pos.line, &pos.column);
    if (cJSON_IsString(e)) {
      if (e->valuestring[0] == '\0' || strlen(e->valuestring) > ES_RULE_TEXT_MAX ||
          !es_utf8_valid(e->valuestring, strlen(e->valuestring))) {
        report(ld, e, 0, "an example in \"%s\" must be non-empty UTF-8 of at most %d bytes", key,
               ES_RULE_TEXT_MAX);
        continue;
      }
      lpos[nlines] = pos;
      if ((lines[nlines++] = strdup(e->valuestring)) == NULL)
        ld->oom = 1;
    } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) > 0) {
      struct es_strbuf b = {0};
      const cJSON *l;
      int bad = 0;
      cJSON_ArrayForEach(l, e) {
        char why[128];
        const char *err;
        struct es__example_line el;
        if (!cJSON_IsString(l) || strlen(l->valuestring) > ES_RULE_TEXT_MAX ||
            strchr(l->valuestring, '\n') || !es_utf8_valid(l->valuestring, strlen(l->valuestring))) {
          report(ld, l, 0, "a call example line must be a string like \"customer: text\" "
                           "(one line, at most %d bytes)", ES_RULE_TEXT_MAX);
          bad = 1;
          break;
        }
        if ((err = es__example_line(l->valuestring, strlen(l->valuestring), &el, why,
                                    sizeof(why))) != NULL) {
          report(ld, l, 0, "%s", err);
          bad = 1;
          break;
        }
        if (b.len)
          es_strbuf_str(&b, "\n");
        es_strbuf_str(&b, l->valuestring);
      }
      if (b.failed)
        ld->oom = 1;
      if (bad || b.failed) {
        free(b.p);
        continue;
      }
      cpos[ncalls] = pos;
      calls[ncalls++] = b.p;
    } else {
      report(ld, e, 0, "an example in \"%s\" must be a line (string) or a call (array of "
                       "\"speaker: text\" lines), not %s", key, type_name(e));
    }
  }
  if (want) {
    r->info.match_examples = (const char *const *)lines;
    r->info.nmatch_examples = nlines;
    r->match_pos = lpos;
    r->info.match_calls = (const char *const *)calls;
    r->info.nmatch_calls = ncalls;
    r->match_call_pos = cpos;
  } else {
    r->info.no_match_examples = (const char *const *)lines;
    r->info.nno_match_examples = nlines;
    r->no_match_pos = lpos;
    r->info.no_match_calls = (const char *const *)calls;
    r->info.nno_match_calls = ncalls;
    r->no_match_call_pos = cpos;
  }
}

/* Parses and compiles one rule object into ld->rules->rules[idx]. */
static void load_rule(struct loader *ld, const cJSON *obj, uint32_t idx) {
  struct es__rule *r = &ld->rules->rules[idx];
  const cJSON *v, *phrases, *patterns, *unless, *examples, *e;
  const struct loc *loc = find_loc(ld, obj);
  int errors_before = ld->errors;
  static const char *const ex_fields[] = {"match", "no_match", NULL};

  memset(r, 0, sizeof(*r));
  ld->rule_id[0] = '\0';
  if (loc)
    off_to_linecol(ld->map.text, ld->map.len, loc->value_off, &r->info.line, &r->column);
  r->info.file = strdup(ld->file);
  if (r->info.file == NULL) {
    ld->oom = 1;
    return;
  }
  if (!cJSON_IsObject(obj)) {
    report(ld, obj, 0, "a rule must be an object, not %s", type_name(obj));
    return;
  }

  r->info.id = get_string(ld, obj, "id", 1);
  if (r->info.id) {
    snprintf(ld->rule_id, sizeof(ld->rule_id), "%s", r->info.id);
    if (!valid_id(r->info.id))
      report(ld, cJSON_GetObjectItemCaseSensitive(obj, "id"), 0,
             "invalid id \"%s\": use 1-%d characters from a-z 0-9 . _ -, starting with a letter or digit",
             r->info.id, ES_RULE_ID_MAX);
    for (uint32_t i = 0; i < idx; i++)
      if (ld->rules->rules[i].info.id && strcmp(ld->rules->rules[i].info.id, r->info.id) == 0) {
        report(ld, cJSON_GetObjectItemCaseSensitive(obj, "id"), 0,
               "duplicate id (first defined at %s:%d:%d)", ld->rules->rules[i].info.file,
               ld->rules->rules[i].info.line, ld->rules->rules[i].column);
        break;
      }
  }
  check_keys(ld, obj, rule_fields, "a rule");
  r->info.description = get_string(ld, obj, "description", 1);
  r->info.tip = get_string(ld, obj, "tip", 1);
  r->info.category = get_string(ld, obj, "category", 1);
  if (r->info.category) {
    char list[512] = "";
    r->category_idx = -1;
    for (int i = 0; categories[i]; i++) {
      if (strcmp(r->info.category, categories[i]) == 0)
        r->category_idx = i;
      strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
      strncat(list, categories[i], sizeof(list) - strlen(list) - 1);
    }
    if (r->category_idx < 0)
      report(ld, cJSON_GetObjectItemCaseSensitive(obj, "category"), 0,
             "unknown category \"%s\" (expected one of: %s)", r->info.category, list);
    else if (strcmp(categories[r->category_idx], "backup") == 0)
      report(ld, cJSON_GetObjectItemCaseSensitive(obj, "category"), 0,
             "category \"backup\" is raised by the call logic itself; give the rule "
             "\"backup\": true instead");
  }
  char *sev = get_string(ld, obj, "severity", 1);
  if (sev && es_severity_parse(sev, &r->info.severity) != 0)
    report(ld, cJSON_GetObjectItemCaseSensitive(obj, "severity"), 0,
           "unknown severity \"%s\" (expected info, low, medium, high or critical)", sev);
  free(sev);
  char *spk = get_string(ld, obj, "speaker", 1);
  if (spk && es_speaker_parse(spk, &r->info.speaker) != 0)
    report(ld, cJSON_GetObjectItemCaseSensitive(obj, "speaker"), 0,
           "unknown speaker \"%s\" (expected agent, customer or any)", spk);
  free(spk);
  v = cJSON_GetObjectItemCaseSensitive(obj, "score");
  if (v == NULL)
    report(ld, obj, 0, "missing required field \"score\"");
  else if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble ||
           v->valuedouble > 1000 || v->valuedouble < -1000)
    report(ld, v, 0, "\"score\" must be a number from -1000 to 1000, not %s", type_name(v));
  else
    r->info.score = v->valuedouble;
  parse_negation(ld, obj, r);
  parse_call_logic(ld, obj, r);

  /* What to match. */
  phrases = get_strings(ld, obj, "phrases");
  patterns = get_strings(ld, obj, "patterns");
  unless = get_strings(ld, obj, "unless");
  if (r->info.kind != ES_RULE_LINE) {
    static const char *const line_only[] = {"phrases", "patterns", "unless", "negation", NULL};
    for (int i = 0; line_only[i]; i++)
      if (cJSON_GetObjectItemCaseSensitive(obj, line_only[i]))
        report(ld, cJSON_GetObjectItemCaseSensitive(obj, line_only[i]), 1,
               r->info.kind == ES_RULE_CALL
                   ? "a call rule (one with \"when\") fires on other rules' hits and has no "
                     "\"%s\"; make it a line rule or drop \"when\""
                   : "a signal rule fires on its signal and has no \"%s\"; make it a line "
                     "rule or drop \"signal\"",
               line_only[i]);
    phrases = patterns = unless = NULL;
    r->info.negation = 0;
  } else if (cJSON_GetArraySize(phrases) == 0 && cJSON_GetArraySize(patterns) == 0 &&
      !cJSON_GetObjectItemCaseSensitive(obj, "phrases") &&
      !cJSON_GetObjectItemCaseSensitive(obj, "patterns"))
    report(ld, obj, 0, "the rule matches nothing: give \"phrases\" or \"patterns\"");
  else if (cJSON_GetArraySize(phrases) == 0 && cJSON_GetArraySize(patterns) == 0 &&
           (phrases || patterns))
    report(ld, phrases ? phrases : patterns, 0, "the rule matches nothing: \"%s\" is empty",
           phrases ? "phrases" : "patterns");

  size_t nrx = (cJSON_GetArraySize(phrases) > 0) + (size_t)cJSON_GetArraySize(patterns);
  r->regexes = calloc(nrx ? nrx : 1, sizeof(*r->regexes));
  r->unless = calloc((size_t)cJSON_GetArraySize(unless) + 1, sizeof(*r->unless));
  if (r->regexes == NULL || r->unless == NULL) {
    ld->oom = 1;
    return;
  }
  if (cJSON_GetArraySize(phrases) > 0) {
    struct es_strbuf rx = {0};
    int all_anchored = 1, first = 1;
    /* every phrase's anchors: one set, for the regex compiled below */
    uint32_t sid = new_set(ld, idx, r->nregexes);
    es_strbuf_str(&rx, " (?:");
    cJSON_ArrayForEach(e, phrases) {
      int anchored = 0;
      if (!first)
        es_strbuf_str(&rx, "|");
      first = 0;
      if (compile_phrase(ld, e, e->valuestring, sid, &rx, &anchored) == 0)
        all_anchored &= anchored;
    }
    es_strbuf_str(&rx, ") ");
    if (rx.failed) {
      ld->oom = 1;
    } else if (ld->errors == errors_before &&
               compile_regex(ld, phrases, rx.p, ES__RX_PHRASES, &r->regexes[r->nregexes]) == 0) {
      struct es__regex *x = &r->regexes[r->nregexes++];
      if (all_anchored) {
        x->gate[0] = sid;
        x->ngate = 1;
      } else {
        r->unfiltered = 1;
      }
    } else if (r->regexes[r->nregexes].src) {
      free_regex(&r->regexes[r->nregexes]);
    }
    free(rx.p);
  }
  cJSON_ArrayForEach(e, patterns) {
    struct es__litset set = {0}, also = {0};
    if (strchr(e->valuestring, '\'') || strstr(e->valuestring, "\xE2\x80\x99")) {
      report(ld, e, 0, "patterns match normalised text, where apostrophes are removed: "
                       "write thats, not that's (see docs/rules.md)");
      continue;
    }
    if (compile_regex(ld, e, e->valuestring, ES__RX_PATTERN, &r->regexes[r->nregexes]) != 0) {
      free_regex(&r->regexes[r->nregexes]);
      memset(&r->regexes[r->nregexes], 0, sizeof(r->regexes[0]));
      continue;
    }
    struct es__regex *x = &r->regexes[r->nregexes++];
    if (es__lit_from_pattern2(e->valuestring, &set, &also) != 0) {
      ld->oom = 1;
    } else if (set.n == 0) {
      r->unfiltered = 1;
    } else {
      /* Every match holds a literal of `set` and, when there is one, of
       * `also`: the regex runs only on lines that have both. */
      x->gate[x->ngate++] = new_set(ld, idx, r->nregexes - 1);
      add_set(ld, &set, x->gate[0]);
      if (es__litset_strength(&also) >= ES_ANCHOR_ALSO_STRENGTH) {
        x->gate[x->ngate++] = new_set(ld, idx, r->nregexes - 1);
        add_set(ld, &also, x->gate[1]);
      }
    }
    es__litset_free(&set);
    es__litset_free(&also);
  }
  cJSON_ArrayForEach(e, unless) {
    if (strchr(e->valuestring, '\'') || strstr(e->valuestring, "\xE2\x80\x99")) {
      report(ld, e, 0, "unless patterns match normalised text, where apostrophes are "
                       "removed: write thats, not that's (see docs/rules.md)");
      continue;
    }
    if (compile_regex(ld, e, e->valuestring, ES__RX_PATTERN, &r->unless[r->nunless]) != 0) {
      free_regex(&r->unless[r->nunless]);
      memset(&r->unless[r->nunless], 0, sizeof(r->unless[0]));
      continue;
    }
    r->nunless++;
  }

  /* Examples. */
  examples = cJSON_GetObjectItemCaseSensitive(obj, "examples");
  if (examples == NULL) {
    report(ld, obj, 0, "missing required field \"examples\": give {\"match\": [...], "
                       "\"no_match\": [...]} lines the rule must and must not fire on");
  } else if (!cJSON_IsObject(examples)) {
    report(ld, examples, 0, "\"examples\" must be an object, not %s", type_name(examples));
  } else {
    int before = ld->errors;
    check_keys(ld, examples, ex_fields, "\"examples\"");
    parse_examples(ld, cJSON_GetObjectItemCaseSensitive(examples, "match"), "match", r, 1);
    parse_examples(ld, cJSON_GetObjectItemCaseSensitive(examples, "no_match"), "no_match", r, 0);
    if (ld->errors == before) {
      if (r->info.kind != ES_RULE_LINE && (r->info.nmatch_examples || r->info.nno_match_examples))
        report(ld, examples, 0, "a call or signal rule's examples are calls (arrays of "
                                "\"speaker: text\" lines), not single lines");
      else if (r->info.kind != ES_RULE_LINE && r->info.nmatch_calls == 0)
        report(ld, examples, 0, "\"examples\" needs at least one \"match\" call (an array of "
                                "\"speaker: text\" lines)");
      else if (r->info.kind == ES_RULE_LINE && r->info.nmatch_examples == 0)
        report(ld, examples, 0, "\"examples\" needs at least one \"match\" line");
    }
  }
}

/* Loads one file's text into the loader. */
static void load_source(struct loader *ld, const struct es_rules_source *src) {
  size_t bad_off, need;
  char *text = NULL;
  cJSON *root = NULL;
  const char *end = NULL;
  const cJSON *obj, *list;
  size_t i = 0;
  int line, col;

  ld->file = src->name;
  ld->rule_id[0] = '\0';
  ld->map.n = 0;
  if (src->len > ES_RULE_FILE_MAX) {
    report_at(ld, 0, 0, NULL, "rule file is larger than 8 MiB");
    return;
  }
  if (!es_utf8_valid(src->text, src->len)) {
    report_at(ld, 0, 0, NULL, "rule file is not valid UTF-8 (or holds a NUL byte)");
    return;
  }
  text = strip_comments(src->text, src->len, &bad_off);
  if (text == NULL) {
    ld->oom = 1;
    return;
  }
  ld->map.text = text;
  ld->map.len = src->len;
  if (bad_off != (size_t)-1) {
    off_to_linecol(text, src->len, bad_off, &line, &col);
    report_at(ld, line, col, NULL, "unterminated /* comment");
    goto done;
  }
  root = cJSON_ParseWithLengthOpts(text, src->len, &end, 0);
  if (root == NULL) {
    size_t off = end ? (size_t)(end - text) : 0;
    off_to_linecol(text, src->len, off, &line, &col);
    report_at(ld, line, col, NULL, "malformed JSON here (check for a missing comma, quote or bracket)");
    goto done;
  }
  /* cJSON stops after the first value: text after it is an error too. */
  i = (size_t)(end - text);
  skip_ws(text, src->len, &i);
  if (i < src->len) {
    off_to_linecol(text, src->len, i, &line, &col);
    report_at(ld, line, col, NULL, "malformed JSON here (text after the end of the rule array)");
    goto done;
  }
  i = 0;
  skip_ws(text, src->len, &i);
  if (locate(&ld->map, root, &i, (size_t)-1) < 0) {
    ld->oom = 1;
    goto done;
  }
  qsort(ld->map.v, ld->map.n, sizeof(*ld->map.v), cmp_loc);
  list = root;
  if (cJSON_IsObject(root) && (cJSON_GetObjectItemCaseSensitive(root, "settings") ||
                               cJSON_GetObjectItemCaseSensitive(root, "rules"))) {
    /* {"settings": {...}, "rules": [...]} */
    static const char *const top_fields[] = {"settings", "rules", NULL};
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(root, "settings");
    check_keys(ld, root, top_fields, "a rule file");
    if (set)
      parse_settings(ld, set);
    list = cJSON_GetObjectItemCaseSensitive(root, "rules");
    if (list == NULL)
      goto done; /* a settings-only file */
  }
  if (!cJSON_IsArray(list)) {
    report(ld, list, 0, "a rule file holds a JSON array of rules (or {\"settings\": {...}, "
                        "\"rules\": [...]}), not %s", type_name(list));
    goto done;
  }
  if (cJSON_GetArraySize(list) == 0) {
    report(ld, list, 0, "the file holds no rules");
    goto done;
  }
  need = ld->rules->n + (size_t)cJSON_GetArraySize(list);
  if (need > ld->cap) {
    size_t cap = ld->cap ? ld->cap : 64;
    while (cap < need)
      cap *= 2;
    struct es__rule *v = realloc(ld->rules->rules, cap * sizeof(*v));
    if (v == NULL) {
      ld->oom = 1;
      goto done;
    }
    ld->rules->rules = v;
    ld->cap = cap;
  }
  cJSON_ArrayForEach(obj, list) {
    load_rule(ld, obj, ld->rules->n);
    ld->rules->n++;
    if (ld->oom)
      break;
  }
done:
  cJSON_Delete(root);
  free(text);
  ld->map.text = NULL;
}

/* FNV-1a, 64-bit: a content digest for the rule set version. */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct example_ctx {
  struct loader *ld;
};

static void on_example(void *ud, uint32_t idx, int expect_match, const char *line, int passed) {
  struct example_ctx *ctx = ud;
  const struct es__rule *r;
  const struct es__pos *pos = NULL;
  char msg[ES_RULE_TEXT_MAX + 128];

  int is_call = 0;

  if (passed)
    return;
  r = &ctx->ld->rules->rules[idx];
  /* Find the example's position by identity of the line pointer. */
  if (expect_match) {
    for (size_t i = 0; i < r->info.nmatch_examples; i++)
      if (r->info.match_examples[i] == line)
        pos = &r->match_pos[i];
    for (size_t i = 0; i < r->info.nmatch_calls; i++)
      if (r->info.match_calls[i] == line) {
        pos = &r->match_call_pos[i];
        is_call = 1;
      }
  } else {
    for (size_t i = 0; i < r->info.nno_match_examples; i++)
      if (r->info.no_match_examples[i] == line)
        pos = &r->no_match_pos[i];
    for (size_t i = 0; i < r->info.nno_match_calls; i++)
      if (r->info.no_match_calls[i] == line) {
        pos = &r->no_match_call_pos[i];
        is_call = 1;
      }
  }
  if (is_call)
    snprintf(msg, sizeof(msg), "call example %s (lines joined by |): \"%s\"",
             expect_match ? "should fire but does not" : "should not fire but does", line);
  else
    snprintf(msg, sizeof(msg), "example %s: \"%s\"",
             expect_match ? "should match but does not" : "should not match but does", line);
  for (char *p = msg; *p; p++)
    if (*p == '\n')
      *p = '|';
  ctx->ld->file = r->info.file;
  report_at(ctx->ld, pos ? pos->line : r->info.line, pos ? pos->column : r->column, r->info.id,
            msg);
}

int es_rules_load_sources(const struct es_rules_source *src, size_t nsrc,
                          const struct es_rules_opts *opts, struct es_rules **out,
                          struct es_diags *diags) {
  struct loader ld;
  struct es_rules *rules = NULL;
  struct es_rules_opts defaults;
  uint64_t h = 0xcbf29ce484222325ULL;
  int rc = 0;

  *out = NULL;
  if (opts == NULL) {
    es_rules_opts_init(&defaults);
    opts = &defaults;
  }
  memset(&ld, 0, sizeof(ld));
  ld.opts = opts;
  ld.diags = diags;
  rules = calloc(1, sizeof(*rules));
  ld.pfb = es__pf_builder_new();
  if (rules == NULL || ld.pfb == NULL)
    goto oom;
  ld.rules = rules;
  rules->opts = *opts;
  rules->call = (struct es_call_settings){
    .half_life = 60, .backup_threshold = 10, .rearm_threshold = 5,
    .escalation_window = 60, .escalation_multiplier = 2, .example_gap = 5,
    .sentiment_flags = 0, .sentiment_alpha = 0.3,
  };
  rules->backup.id = strdup("call.backup");
  rules->backup.description = strdup("The call crossed the backup line: heat reached the "
                                     "backup threshold, or a rule that calls for backup at "
                                     "once fired.");
  rules->backup.category = strdup("backup");
  rules->backup.tip = strdup("Join the call now: listen in, then coach the agent or take over. "
                             "The reason lists what drove it.");
  rules->backup.file = strdup("(built in)");
  rules->backup.severity = ES_SEV_CRITICAL;
  rules->backup.speaker = ES_SPEAKER_ANY;
  rules->backup.kind = ES_RULE_CALL;
  rules->backup.count = 1;
  if (!rules->backup.id || !rules->backup.description || !rules->backup.category ||
      !rules->backup.tip || !rules->backup.file)
    goto oom;
  if (opts->negation_window < 1 || opts->negation_window > ES_NEG_WINDOW_MAX) {
    es_diags_add(diags, NULL, 0, 0, NULL, "negation window must be from 1 to %d",
                 ES_NEG_WINDOW_MAX);
    rc = ES_EINVAL;
    goto fail;
  }
  rules->default_cues = make_cues(opts->negation_cues ? opts->negation_cues
                                                      : es_default_negation_cues);
  rules->files = calloc(nsrc ? nsrc : 1, sizeof(*rules->files));
  if (rules->default_cues == NULL || rules->files == NULL)
    goto oom;
  rules->opts.negation_cues = (const char *const *)rules->default_cues;

  for (size_t i = 0; i < nsrc; i++) {
    const char *base = strrchr(src[i].name, '/');
    base = base ? base + 1 : src[i].name;
    rules->files[i] = strdup(src[i].name);
    if (rules->files[i] == NULL)
      goto oom;
    rules->nfiles++;
    h = fnv1a(h, base, strlen(base) + 1);
    h = fnv1a(h, src[i].text, src[i].len);
    load_source(&ld, &src[i]);
    if (ld.oom)
      goto oom;
  }
  snprintf(rules->version, sizeof(rules->version), "%016llx", (unsigned long long)h);
  if (nsrc == 0 || (rules->n == 0 && ld.errors == 0)) {
    es_diags_add(diags, NULL, 0, 0, NULL, "no rules to load");
    rc = ES_ERULES;
    goto fail;
  }
  if (ld.errors == 0)
    link_call_logic(&ld);
  if (ld.oom)
    goto oom;
  if (ld.errors) {
    rc = ES_ERULES;
    goto fail;
  }

  rc = es__pf_build(ld.pfb, ld.nsets, &rules->pf);
  if (rc != 0)
    goto fail;
  rules->nsets = ld.nsets;
  rules->set_owner = ld.set_owner;
  ld.set_owner = NULL;
  rules->unfiltered = calloc(rules->n, sizeof(*rules->unfiltered));
  if (rules->unfiltered == NULL)
    goto oom;
  for (uint32_t i = 0; i < rules->n; i++)
    if (rules->rules[i].unfiltered)
      rules->unfiltered[rules->nunfiltered++] = i;

  if (opts->check_examples) {
    struct example_ctx ctx = {&ld};
    int64_t failed = es_rules_run_examples(rules, on_example, &ctx);
    if (failed < 0) {
      rc = (int)failed;
      goto fail;
    }
    if (failed > 0) {
      rc = ES_ERULES;
      goto fail;
    }
  }
  es__pf_builder_free(ld.pfb);
  free(ld.map.v);
  free(ld.set_owner);
  *out = rules;
  return 0;

oom:
  rc = ES_ENOMEM;
  es_diags_add(diags, NULL, 0, 0, NULL, "out of memory while loading rules");
fail:
  es__pf_builder_free(ld.pfb);
  free(ld.map.v);
  free(ld.set_owner);
  es_rules_free(rules);
  return rc;
}

/* ---- files and directories ------------------------------------------- */

struct pathlist {
  char **v;
  size_t n, cap;
};

static int pl_add(struct pathlist *pl, const char *path) {
  if (pl->n == pl->cap) {
    size_t cap = pl->cap ? pl->cap * 2 : 16;
    char **v = realloc(pl->v, cap * sizeof(*v));
    if (v == NULL)
      return ES_ENOMEM;
    pl->v = v;
    pl->cap = cap;
  }
  pl->v[pl->n] = strdup(path);
  if (pl->v[pl->n] == NULL)
    return ES_ENOMEM;
  pl->n++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends every *.json file below `dir`, sorted by path. */
static int collect_dir(const char *dir, struct pathlist *pl, struct es_diags *diags, int depth) {
  DIR *d;
  struct dirent *de;
  struct pathlist here = {0};
  int rc = 0;

  if (depth > 16) {
    es_diags_add(diags, dir, 0, 0, NULL, "directories nested too deep");
    return ES_EIO;
  }
  d = opendir(dir);
  if (d == NULL) {
    es_diags_add(diags, dir, 0, 0, NULL, "cannot open directory: %s", strerror(errno));
    return ES_EIO;
  }
  while ((de = readdir(d)) != NULL) {
    char path[4096];
    struct stat st;
    size_t nl = strlen(de->d_name);
    if (de->d_name[0] == '.')
      continue;
    if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
      continue;
    if (stat(path, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode) || (nl > 5 && strcmp(de->d_name + nl - 5, ".json") == 0))
      if ((rc = pl_add(&here, path)) != 0)
        break;
  }
  closedir(d);
  if (rc == 0 && here.n)
    qsort(here.v, here.n, sizeof(*here.v), cmp_str);
  for (size_t i = 0; rc == 0 && i < here.n; i++) {
    struct stat st;
    if (stat(here.v[i], &st) == 0 && S_ISDIR(st.st_mode))
      rc = collect_dir(here.v[i], pl, diags, depth + 1);
    else
      rc = pl_add(pl, here.v[i]);
  }
  for (size_t i = 0; i < here.n; i++)
    free(here.v[i]);
  free(here.v);
  return rc;
}

static int read_file(const char *path, char **text, size_t *len, struct es_diags *diags) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;

  if (f == NULL) {
    es_diags_add(diags, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    return ES_EIO;
  }
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      if (cap > ES_RULE_FILE_MAX + 1)
        cap = ES_RULE_FILE_MAX + 1;
      char *p = realloc(buf, cap);
      if (p == NULL) {
        free(buf);
        fclose(f);
        return ES_ENOMEM;
      }
      buf = p;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0 || n > ES_RULE_FILE_MAX)
      break;
  }
  if (ferror(f)) {
    es_diags_add(diags, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
    free(buf);
    fclose(f);
    return ES_EIO;
  }
  fclose(f);
  *text = buf;
  *len = n;
  return 0;
}

int es_rules_load(const char *const *paths, size_t npaths, const struct es_rules_opts *opts,
                  struct es_rules **out, struct es_diags *diags) {
  struct pathlist pl = {0};
  struct es_rules_source *src = NULL;
  size_t nsrc = 0;
  int rc = 0;

  *out = NULL;
  for (size_t i = 0; i < npaths; i++) {
    struct stat st;
    if (stat(paths[i], &st) != 0) {
      es_diags_add(diags, paths[i], 0, 0, NULL, "cannot open: %s", strerror(errno));
      rc = ES_EIO;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      size_t before = pl.n;
      int r = collect_dir(paths[i], &pl, diags, 0);
      if (r != 0)
        rc = r;
      else if (pl.n == before) {
        es_diags_add(diags, paths[i], 0, 0, NULL, "no *.json rule files in this directory");
        rc = ES_EIO;
      }
    } else if (pl_add(&pl, paths[i]) != 0) {
      rc = ES_ENOMEM;
    }
  }
  if (rc != 0)
    goto done;
  src = calloc(pl.n ? pl.n : 1, sizeof(*src));
  if (src == NULL) {
    rc = ES_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < pl.n; i++) {
    char *text;
    size_t len;
    int r = read_file(pl.v[i], &text, &len, diags);
    if (r != 0) {
      rc = r;
      continue;
    }
    src[nsrc].name = pl.v[i];
    src[nsrc].text = text;
    src[nsrc].len = len;
    nsrc++;
  }
  if (rc == 0)
    rc = es_rules_load_sources(src, nsrc, opts, out, diags);
done:
  for (size_t i = 0; i < nsrc; i++)
    free((char *)src[i].text);
  free(src);
  for (size_t i = 0; i < pl.n; i++)
    free(pl.v[i]);
  free(pl.v);
  return rc;
}

/* ---- accessors -------------------------------------------------------- */

void es_rules_free(struct es_rules *rules) {
  if (rules == NULL)
    return;
  for (uint32_t i = 0; i < rules->n; i++)
    free_rule(&rules->rules[i]);
  free(rules->rules);
  es__pf_free(rules->pf);
  free(rules->set_owner);
  free(rules->unfiltered);
  free_strv(rules->default_cues);
  free((char *)rules->backup.id);
  free((char *)rules->backup.description);
  free((char *)rules->backup.category);
  free((char *)rules->backup.tip);
  free((char *)rules->backup.file);
  free(rules->caller_start);
  free(rules->callers);
  free(rules->nfb_rules);
  free(rules->signal_rules);
  es_sentiment_free(rules->sentiment);
  for (size_t i = 0; i < rules->nfiles; i++)
    free(rules->files[i]);
  free(rules->files);
  free(rules);
}

uint32_t es_rules_count(const struct es_rules *rules) { return rules->n; }

const struct es_rule_info *es_rules_info(const struct es_rules *rules, uint32_t idx) {
  return idx < rules->n ? &rules->rules[idx].info : NULL;
}

int64_t es_rules_find(const struct es_rules *rules, const char *id) {
  for (uint32_t i = 0; i < rules->n; i++)
    if (strcmp(rules->rules[i].info.id, id) == 0)
      return i;
  return -1;
}

const char *es_rules_version(const struct es_rules *rules) { return rules->version; }

const struct es_call_settings *es_rules_call_settings(const struct es_rules *rules) {
  return &rules->call;
}

const struct es_rule_info *es_rules_backup_info(const struct es_rules *rules) {
  return &rules->backup;
}
size_t es_rules_nfiles(const struct es_rules *rules) { return rules->nfiles; }

const char *es_rules_file(const struct es_rules *rules, size_t idx) {
  return idx < rules->nfiles ? rules->files[idx] : NULL;
}

const struct es_rules_opts *es_rules_options(const struct es_rules *rules) {
  return &rules->opts;
}

uint32_t es_rules_unfiltered(const struct es_rules *rules) { return rules->nunfiltered; }

size_t es_rules_prefilter_states(const struct es_rules *rules) {
  return rules->pf ? es__pf_nstates(rules->pf) : 0;
}

size_t es_rules_regex_count(const struct es_rules *rules, uint32_t idx) {
  return idx < rules->n ? rules->rules[idx].nregexes : 0;
}

const char *es_rules_regex(const struct es_rules *rules, uint32_t idx, size_t k) {
  if (idx >= rules->n || k >= rules->rules[idx].nregexes)
    return NULL;
  return rules->rules[idx].regexes[k].src;
}

int64_t es_rules_run_examples(const struct es_rules *rules, es_example_cb cb, void *ud) {
  struct es_matcher *m = es_matcher_new(rules);
  struct es_engine *e = NULL; /* made at the first call example */
  int64_t failed = 0;

  if (m == NULL)
    return ES_ENOMEM;
  for (uint32_t i = 0; i < rules->n; i++) {
    const struct es_rule_info *info = &rules->rules[i].info;
    for (int want = 1; want >= 0; want--) {
      const char *const *lines = want ? info->match_examples : info->no_match_examples;
      size_t n = want ? info->nmatch_examples : info->nno_match_examples;
      for (size_t k = 0; k < n; k++) {
        struct es_match_result res;
        int got = 0;
        int rc = es_match_line(m, info->speaker, lines[k], strlen(lines[k]), 0, &res);
        if (rc == 0)
          for (size_t h = 0; h < res.nhits; h++)
            got |= res.hits[h].rule == i;
        int passed = rc == 0 && got == want;
        if (!passed)
          failed++;
        if (cb)
          cb(ud, i, want, lines[k], passed);
      }
      /* Call examples run the whole call logic (engine.c). */
      const char *const *calls = want ? info->match_calls : info->no_match_calls;
      n = want ? info->nmatch_calls : info->nno_match_calls;
      for (size_t k = 0; k < n; k++) {
        int fired = 0, rc;
        if (e == NULL && (e = es_engine_new(rules)) == NULL)
          rc = ES_ENOMEM;
        else
          rc = es__engine_run_example(m, e, i, calls[k], &fired);
        if (rc == ES_ENOMEM) {
          es_engine_free(e);
          es_matcher_free(m);
          return rc;
        }
        int passed = rc == 0 && fired == want;
        if (!passed)
          failed++;
        if (cb)
          cb(ud, i, want, calls[k], passed);
      }
    }
  }
  es_engine_free(e);
  es_matcher_free(m);
  return failed;
}

int es__neg_is_stop(const char *word, size_t len) {
  for (int i = 0; neg_stop_words[i]; i++)
    if (strlen(neg_stop_words[i]) == len && memcmp(neg_stop_words[i], word, len) == 0)
      return 1;
  return 0;
}
