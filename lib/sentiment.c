/*
 * sentiment.c: VADER-style sentiment (sentiment.h), following the npm
 * package vader-sentiment 1.1.3 (src/vaderSentiment.js) rule for rule.
 * docs/sentiment.md describes the algorithm; the comments here say where
 * earshot's one-pass form differs in shape from the package's, and why
 * the result is the same.
 *
 * On x86-64 the byte classes come from SSE2 and a few loads rely on
 * little-endian order; defining ES_SCALAR builds the portable
 * code instead (as on other machines), which tests/sentiment checks too.
 */
#include "sentiment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Generated from lexicon/vader_lexicon.tsv by lexicon/embed.cmake. */
const char *es__sentiment_lexicon(size_t *len);

/* The package's constants. */
#define B_INCR 0.293      /* booster */
#define B_DECR (-0.293)   /* dampener */
#define C_INCR 0.733      /* a capitalised word in mixed-case text */
#define N_SCALAR (-0.74)  /* negation */
#define NORM_ALPHA 15.0   /* compound = sum / sqrt(sum^2 + alpha) */

#define KEY_CHUNKS (ES_SENTIMENT_KEY_MAX / 8)
/* Room after the copied text: classify() reads 16 bytes at offsets up
 * to n, fast_run() a word's key 16 bytes from its start; copy_text()
 * zeroes the first 16. */
#define TEXT_PAD 64

/* ---- the package's word lists ----------------------------------------- */

/* Words the rules name. A token's id is that of its lower-cased form; the
 * package compares some of them in lower case and some exactly. */
enum word_id {
  W_NONE, W_BUT, W_NEVER, W_SO, W_THIS, W_LEAST, W_AT, W_VERY, W_KIND, W_OF,
  W_THE, W_SHIT, W_BOMB, W_BAD, W_ASS, W_YEAH, W_RIGHT, W_CUT, W_MUSTARD,
  W_KISS, W_DEATH, W_HAND, W_TO, W_MOUTH, W_JUST, W_ENOUGH, W_SORT,
  W_COUNT
};

static const char *const word_names[W_COUNT] = {
  NULL, "but", "never", "so", "this", "least", "at", "very", "kind", "of",
  "the", "shit", "bomb", "bad", "ass", "yeah", "right", "cut", "mustard",
  "kiss", "death", "hand", "to", "mouth", "just", "enough", "sort",
};

/* NEGATE. */
static const char *const negate_words[] = {
  "aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt",
  "ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't",
  "dont", "hadnt", "hasnt", "havent", "isnt", "mightnt", "mustnt", "neither",
  "don't", "hadn't", "hasn't", "haven't", "isn't", "mightn't", "mustn't",
  "neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing",
  "nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent",
  "oughtn't", "shan't", "shouldn't", "uh-uh", "wasn't", "weren't", "without",
  "wont", "wouldnt", "won't", "wouldn't", "rarely", "seldom", "despite",
};

/* BOOSTER_DICT's one-word keys; its two-word keys ("kind of", "sort of",
 * "just enough") are the word pairs in booster_pairs. */
static const char *const booster_up[] = {
  "absolutely", "amazingly", "awfully", "completely", "considerably",
  "decidedly", "deeply", "effing", "enormously", "entirely", "especially",
  "exceptionally", "extremely", "fabulously", "flipping", "flippin",
  "fricking", "frickin", "frigging", "friggin", "fully", "fucking", "greatly",
  "hella", "highly", "hugely", "incredibly", "intensely", "majorly", "more",
  "most", "particularly", "purely", "quite", "really", "remarkably", "so",
  "substantially", "thoroughly", "totally", "tremendously", "uber",
  "unbelievably", "unusually", "utterly", "very",
};
static const char *const booster_down[] = {
  "almost", "barely", "hardly", "kinda", "kindof", "kind-of", "less", "little",
  "marginally", "occasionally", "partly", "scarcely", "slightly", "somewhat",
  "sorta", "sortof", "sort-of",
};
static const uint8_t booster_pairs[][2] = {{W_JUST, W_ENOUGH}, {W_KIND, W_OF}, {W_SORT, W_OF}};

/* SPECIAL_CASE_IDIOMS. */
struct idiom {
  uint8_t n;
  uint8_t w[3];
  double valence;
};
static const struct idiom idioms[] = {
  {2, {W_THE, W_SHIT, 0}, 3},           {2, {W_THE, W_BOMB, 0}, 3},
  {2, {W_BAD, W_ASS, 0}, 1.5},          {2, {W_YEAH, W_RIGHT, 0}, -2},
  {3, {W_CUT, W_THE, W_MUSTARD}, 2},    {3, {W_KISS, W_OF, W_DEATH}, -1.5},
  {3, {W_HAND, W_TO, W_MOUTH}, -2},
};

/* PUNC_LIST's one-character entries, as bits 0..31 for 0x20..0x3F. */
#define PUNC1_BITS                                                                    \
  ((1u << ('!' - 0x20)) | (1u << ('"' - 0x20)) | (1u << ('\'' - 0x20)) |              \
   (1u << (',' - 0x20)) | (1u << ('-' - 0x20)) | (1u << ('.' - 0x20)) |               \
   (1u << (':' - 0x20)) | (1u << (';' - 0x20)) | (1u << ('?' - 0x20)))

/* PUNC_LIST: what the package strips from either end of a word. */
static int punc_listed(const unsigned char *p, size_t n)
{
  switch (n) {
  case 1:
    return strchr(".!?,;:-'\"", p[0]) != NULL;
  case 2:
    return (p[0] == '!' || p[0] == '?') && p[1] == p[0];
  case 3:
    return (p[0] == '!' && p[1] == '!' && p[2] == '!') ||
           (p[0] == '?' && p[1] == '?' && p[2] == '?') ||
           (p[0] == '?' && p[1] == '!' && p[2] == '?') ||
           (p[0] == '!' && p[1] == '?' && p[2] == '!');
  case 4:
    return memcmp(p, "?!?!", 4) == 0 || memcmp(p, "!?!?", 4) == 0;
  default:
    return 0;
  }
}

/* ---- byte classes --------------------------------------------------------- */

enum {
  C_WS = 1,      /* ASCII white space (JavaScript's \s) */
  C_PUNCT = 2,   /* one of the 32 ASCII punctuation marks */
  C_UPPER = 4,   /* A-Z */
  C_LOWER = 8,   /* a-z */
  C_APOS = 16,   /* ' */
  C_DIGIT = 64,  /* 0-9 */
  C_HI = 128,    /* 0x80-0xFF: part of a character that is not ASCII */
};

#define P_ C_PUNCT
#define U_ C_UPPER
#define L_ C_LOWER
static const uint8_t byte_class[256] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, C_WS, C_WS, C_WS, C_WS, C_WS, 0, 0,          /* 0x00 */
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                          /* 0x10 */
  C_WS, P_, P_, P_, P_, P_, P_, P_ | C_APOS, P_, P_, P_, P_, P_, P_, P_, P_, /* 0x20 */
  C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT, C_DIGIT,    /* 0x30 */
  C_DIGIT, C_DIGIT, P_, P_, P_, P_, P_, P_,
  P_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_,          /* 0x40 */
  U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, U_, P_, P_, P_, P_, P_,          /* 0x50 */
  P_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_,          /* 0x60 */
  L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, L_, P_, P_, P_, P_, 0,            /* 0x70 */
#define H_ C_HI
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0x80 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0x90 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0xA0 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0xB0 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0xC0 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0xD0 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0xE0 */
  H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,                   /* 0xF0 */
#undef H_
};
#undef P_
#undef U_
#undef L_

/* Length of the Unicode white space JavaScript's \s matches at p (U+00A0,
 * U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF),
 * else 0. p[1] and p[2] may be the zero padding after the text. */
static inline size_t uspace_len(const unsigned char *p)
{
  switch (p[0]) {
  case 0xC2:
    return p[1] == 0xA0 ? 2 : 0;
  case 0xE1:
    return p[1] == 0x9A && p[2] == 0x80 ? 3 : 0;
  case 0xE2:
    if (p[1] == 0x80)
      return (p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF ? 3
                                                                                             : 0;
    return p[1] == 0x81 && p[2] == 0x9F ? 3 : 0;
  case 0xE3:
    return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
  case 0xEF:
    return p[1] == 0xBB && p[2] == 0xBF ? 3 : 0;
  default:
    return 0;
  }
}

/* The package drops tokens whose JavaScript length (UTF-16 code units) is
 * 0 or 1. One code point of up to three bytes is one unit, four bytes are
 * two; a single byte, whatever it is, counts as one. */
static inline int longer_than_one_unit(const unsigned char *p, size_t n)
{
  if (n <= 1)
    return 0;
  if (n >= 5)
    return 1;
  unsigned units = 0;
  for (size_t i = 0; i < n; i++)
    units += ((p[i] & 0xC0) != 0x80) + (p[i] >= 0xF0);
  return units > 1;
}

/* ---- keys and the hash table ---------------------------------------------- */

static inline uint64_t load8(const unsigned char *p)
{
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Eight bytes with ASCII A-Z lower-cased (the others unchanged). */
static inline uint64_t lower8(uint64_t x)
{
  const uint64_t high = 0x8080808080808080ull;
  uint64_t heptets = x & ~high;
  uint64_t ge_a = heptets + 0x3f3f3f3f3f3f3f3full; /* high bit: byte >= 'A' */
  uint64_t gt_z = heptets + 0x2525252525252525ull; /* high bit: byte > 'Z' */
  uint64_t upper = ge_a & ~gt_z & ~x & high;
  return x | (upper >> 2);
}

/* Masks keeping the first r bytes of a chunk (r <= 8), in memory order,
 * so that the same code works on either byte order. */
static const unsigned char keep_bytes[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static inline uint64_t keep_mask(size_t r)
{
  return load8(keep_bytes + 8 - (r < 8 ? r : 8));
}

/* Lower-cased, zero-padded chunks of p[0..len) (len <= KEY_MAX); reads up
 * to 7 bytes past p + len. */
static inline void key_chunks(const unsigned char *p, size_t len, uint64_t k[KEY_CHUNKS])
{
  for (size_t c = 0; c < KEY_CHUNKS; c++)
    k[c] = len > 8 * c ? lower8(load8(p + 8 * c) & keep_mask(len - 8 * c)) : 0;
}

/* The hash of a key of up to 16 bytes (chunks k0, k1). */
static inline uint64_t key_hash16(uint64_t k0, uint64_t k1, size_t len)
{
  /* Bit j of a product depends on bits 0..j of the factors only: the
   * table takes the tag and the home slot from the high bits. The length
   * is left out: a look-up compares it, and only keys that differ in
   * trailing NUL bytes have the same chunks. */
  (void)len;
  return (k0 ^ ((k1 << 29) | (k1 >> 35))) * 0x9e3779b97f4a7c15ull;
}

/* The same function for any key: chunks 2 and 3 fold into 0 and 1, and
 * add nothing when they are zero. */
static inline uint64_t key_hash(const uint64_t k[KEY_CHUNKS], size_t len)
{
  return key_hash16(k[0] ^ (k[2] * 0xc2b2ae3d27d4eb4full), k[1] ^ (k[3] * 0x165667b19e3779f9ull),
                    len);
}

enum { E_LEXICON = 1, E_BOOSTER = 2, E_NEGATE = 4, E_PHRASE_HEAD = 8 };

/* Token flags. */
enum {
  TF_LEX = 1,         /* in the lexicon (or a matched phrase's head) */
  TF_BOOSTER = 2,     /* in BOOSTER_DICT, lower-cased */
  TF_NEGWORD = 4,     /* in NEGATE, lower-cased */
  TF_HAS_UPPER = 8,   /* has an ASCII capital: not its own lower case */
  TF_UPPER = 16,      /* Python's isupper(): capitals and no small letters */
  TF_APOS = 32,       /* contains ' */
  TF_PHRASE = 64,     /* head of a matched phrase; ent is the phrase index */
  TF_ABSORBED = 128,  /* a later word of a matched phrase */
};


struct entry {
  uint64_t key[KEY_CHUNKS];  /* lower case, zero padded */
  uint64_t hash;             /* key_hash() */
  double valence;            /* E_LEXICON */
  double booster;            /* E_BOOSTER */
  uint8_t len;
  uint8_t kind;              /* E_* */
  uint8_t word;              /* enum word_id */
  uint8_t tok_flags;         /* the TF_* flags kind gives a token (set once built) */
};

/* ent, flags and word of a struct tok as the four bytes they take, so
 * that one store writes them (tok_set_info()). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define TOK_INFO(ent, flags, word) \
  ((uint32_t)(ent) << 16 | (uint32_t)(flags) << 8 | (uint32_t)(word))
#else
#define TOK_INFO(ent, flags, word) \
  ((uint32_t)(ent) | (uint32_t)(flags) << 16 | (uint32_t)(word) << 24)
#endif

/* What a word of up to 16 bytes needs from the entry in a slot, kept in
 * slot order: a look-up reads it straight after the tags, where going
 * through index[] and entries[] would add a load to the chain. A slot
 * that holds no key holds zeros, and so does one whose key is longer
 * than 16 bytes, but for its length, which no such word has. */
struct slot {
  uint64_t key[2];           /* the entry's key[0] and key[1] */
  uint32_t info;             /* TOK_INFO(entry, tok_flags, word) */
  uint8_t len;
};

struct phrase {
  char text[ES_SENTIMENT_KEY_MAX + 1]; /* words separated by single spaces */
  uint8_t nwords;
  double valence;
};

struct es_sentiment {
  /* Linear probing within a window, with Robin Hood placement: a key sits
   * in one of the PROBE slots from its home slot on (one that cannot makes
   * the table double; at the default load of a half the longest
   * displacement is about 7). tags[] holds 8 bits of each key's hash
   * (never 0; 0 is an empty slot), index[] the entry of the slot, and
   * slots[] what a word of up to 16 bytes needs of it (struct slot). A
   * lookup compares the 16 tags of the window with one load, then the key
   * of the first slot with the tag; most words of a line are not in the
   * table, have no slot with the tag, and compare slot 0. The tags of the
   * bundled lexicon take 16 KiB, so they can stay in the first-level
   * cache. entries[0] is all zero and matches nothing. */
  uint8_t *tags;           /* nslots + PROBE: windows never wrap */
  uint16_t *index;         /* nslots + PROBE */
  struct slot *slots;      /* nslots + PROBE, filled once built */
  uint32_t slot_mask;      /* nslots - 1 */
  unsigned home_shift;     /* 56 - log2(nslots): the home slot is the hash's bits below the tag's */
  struct entry *entries;
  uint32_t nentries, cap;  /* entries in use (with entries[0]) and allocated */
  struct phrase *phrases;
  uint32_t nphrases;
  size_t nkeys;
};

#define PROBE 16
#define MAX_SLOTS ((uint32_t)1 << 22)

static inline uint8_t slot_tag(uint64_t h)
{
  uint8_t t = (uint8_t)(h >> 56);
  return t ? t : 1;
}
static inline uint32_t slot_home(const struct es_sentiment *s, uint64_t h)
{
  return (uint32_t)(h >> s->home_shift) & s->slot_mask;
}

static inline __attribute__((always_inline)) uint64_t
key_differs(const struct entry *e, const uint64_t k[KEY_CHUNKS], size_t len)
{
  return (e->key[0] ^ k[0]) | (e->key[1] ^ k[1]) | (e->key[2] ^ k[2]) | (e->key[3] ^ k[3]) |
         (e->len ^ (uint64_t)len);
}

/* A bit per slot of the window whose tag is `tag`. */
static inline unsigned window_matches(const uint8_t *w, uint8_t tag)
{
#if defined(__SSE2__) && !defined(ES_SCALAR)
  __m128i v = _mm_loadu_si128((const __m128i *)(const void *)w);
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)tag)));
#else
  unsigned m = 0;
  for (unsigned i = 0; i < PROBE; i++)
    m |= (unsigned)(w[i] == tag) << i;
  return m;
#endif
}

/* The table's pointers in locals: a loop that stores bytes (which may
 * alias anything) would otherwise reload them from the model every time. */
struct table {
  const uint8_t *tags;
  const struct slot *slots;
  uint32_t slot_mask;
  unsigned home_shift;
};

static inline struct table table_of(const struct es_sentiment *s)
{
  struct table t = {s->tags, s->slots, s->slot_mask, s->home_shift};
  return t;
}

/* The index of the entry whose key has chunks k[] (key_chunks() of a word
 * of len bytes), or 0. For building the model and for the words the slow
 * path looks up; table_find16() is the one for most words. */
static uint32_t table_find(const struct es_sentiment *s, const uint64_t k[KEY_CHUNKS],
                           size_t len)
{
  uint64_t h = key_hash(k, len);
  uint32_t home = slot_home(s, h);
  unsigned m = window_matches(s->tags + home, slot_tag(h));
  for (; m; m &= m - 1) {
    uint32_t j = s->index[home + (unsigned)__builtin_ctz(m)];
    if (key_differs(&s->entries[j], k, len) == 0)
      return j;
  }
  return 0;
}

/* table_find() for a key of up to 16 bytes (chunks k0, k1), from the
 * slots, without a branch on whether the key is in the table (a branch
 * the predictor would often miss). Returns the slot whose key it compared
 * (slot 0, which is hot, when the window has no slot with the tag) and
 * sets *found to all ones when the keys are equal, else to 0: the caller
 * reads the slot while the comparison is under way, and masks it. */
static inline __attribute__((always_inline)) const struct slot *
table_find16(const struct table *s, uint64_t k0, uint64_t k1, size_t len, unsigned *found)
{
  uint64_t h = key_hash16(k0, k1, len);
  uint32_t home = (uint32_t)(h >> s->home_shift) & s->slot_mask;
  unsigned m = window_matches(s->tags + home, slot_tag(h));
  const struct slot *sl =
      &s->slots[(home + (unsigned)__builtin_ctz(m | (1u << PROBE))) & (0u - (m != 0))];
  uint64_t differs = (sl->key[0] ^ k0) | (sl->key[1] ^ k1) | (sl->len ^ (uint64_t)len);
  if (__builtin_expect((differs != 0) & ((m & (m - 1)) != 0), 0)) {
    /* More slots of the window have the tag: check them all. */
    for (unsigned j = 0; j < PROBE; j++) {
      const struct slot *x = &s->slots[home + j];
      if ((m >> j & 1) && ((x->key[0] ^ k0) | (x->key[1] ^ k1) | (x->len ^ (uint64_t)len)) == 0) {
        *found = ~0u;
        return x;
      }
    }
    *found = 0;
    return s->slots;
  }
  *found = 0u - (unsigned)(differs == 0);
  return sl;
}

/* Puts entry idx in its window, Robin Hood style: walking from its home, it
 * takes the place of any key that sits closer to its own home, and that
 * key walks on. -1 when a key would leave its window (the caller then
 * rebuilds a larger table, which places every key again). */
static int table_place(struct es_sentiment *s, uint32_t idx)
{
  uint32_t cur = idx;
  uint64_t h = s->entries[cur].hash;
  uint32_t pos = slot_home(s, h), dist = 0;
  for (; dist < PROBE; pos++, dist++) {
    if (s->tags[pos] == 0) {
      s->tags[pos] = slot_tag(h);
      s->index[pos] = (uint16_t)cur;
      return 0;
    }
    uint32_t other = s->index[pos];
    uint64_t oh = s->entries[other].hash;
    uint32_t odist = pos - slot_home(s, oh);
    if (odist < dist) {
      s->tags[pos] = slot_tag(h);
      s->index[pos] = (uint16_t)cur;
      cur = other;
      h = oh;
      dist = odist;
    }
  }
  return -1;
}

/* Rebuilds the slots with nslots slots (doubling while placing fails). */
static int table_rebuild(struct es_sentiment *s, uint32_t nslots)
{
  for (; nslots <= MAX_SLOTS; nslots *= 2) {
    uint8_t *tags = calloc((size_t)nslots + PROBE, sizeof *tags);
    uint16_t *index = calloc((size_t)nslots + PROBE, sizeof *index);
    if (!tags || !index) {
      free(tags);
      free(index);
      return ES_ENOMEM;
    }
    free(s->tags);
    free(s->index);
    s->tags = tags;
    s->index = index;
    s->slot_mask = nslots - 1;
    s->home_shift = 56 - (unsigned)__builtin_ctz(nslots);
    uint32_t i;
    for (i = 1; i < s->nentries; i++)
      if (table_place(s, i) != 0)
        break;
    if (i == s->nentries)
      return 0;
  }
  return ES_ENOMEM;
}

/* The entry for key (lower case already), added when new. NULL when out
 * of memory. */
static struct entry *table_add(struct es_sentiment *s, const char *key, size_t len)
{
  unsigned char buf[ES_SENTIMENT_KEY_MAX + 8] = {0};
  uint64_t k[KEY_CHUNKS];
  memcpy(buf, key, len);
  key_chunks(buf, len, k);
  uint32_t idx = table_find(s, k, len);
  if (idx)
    return &s->entries[idx];
  if (s->nentries >= s->cap)
    return NULL;
  idx = s->nentries++;
  struct entry *e = &s->entries[idx];
  memset(e, 0, sizeof *e);
  memcpy(e->key, k, sizeof k);
  e->len = (uint8_t)len;
  e->hash = key_hash(k, len);
  if (table_place(s, idx) != 0 && table_rebuild(s, 2 * (s->slot_mask + 1)) != 0)
    return NULL;
  return e;
}

/* ---- building a model ----------------------------------------------------- */

static int add_builtin(struct es_sentiment *s)
{
  for (size_t i = 0; i < sizeof negate_words / sizeof negate_words[0]; i++) {
    struct entry *e = table_add(s, negate_words[i], strlen(negate_words[i]));
    if (!e)
      return ES_ENOMEM;
    e->kind |= E_NEGATE;
  }
  for (size_t i = 0; i < sizeof booster_up / sizeof booster_up[0]; i++) {
    struct entry *e = table_add(s, booster_up[i], strlen(booster_up[i]));
    if (!e)
      return ES_ENOMEM;
    e->kind |= E_BOOSTER;
    e->booster = B_INCR;
  }
  for (size_t i = 0; i < sizeof booster_down / sizeof booster_down[0]; i++) {
    struct entry *e = table_add(s, booster_down[i], strlen(booster_down[i]));
    if (!e)
      return ES_ENOMEM;
    e->kind |= E_BOOSTER;
    e->booster = B_DECR;
  }
  for (int w = 1; w < W_COUNT; w++) {
    struct entry *e = table_add(s, word_names[w], strlen(word_names[w]));
    if (!e)
      return ES_ENOMEM;
    e->word = (uint8_t)w;
  }
  return 0;
}

/* Checks a key; returns NULL or what is wrong with it. */
static const char *key_problem(const char *k, size_t len, unsigned *nwords)
{
  *nwords = 1;
  if (len == 0)
    return "empty key";
  if (len > ES_SENTIMENT_KEY_MAX)
    return "key longer than ES_SENTIMENT_KEY_MAX bytes";
  if (k[0] == ' ' || k[len - 1] == ' ')
    return "key starts or ends with a space";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c < 0x20 || c == 0x7f)
      return "control character in key";
    if (c >= 'A' && c <= 'Z')
      return "key is not lower case (words are looked up lower-cased)";
    if (c == ' ') {
      if (k[i + 1] == ' ')
        return "two spaces in a row in key";
      ++*nwords;
    }
  }
  if (*nwords > ES_SENTIMENT_PHRASE_WORDS)
    return "phrase of more than ES_SENTIMENT_PHRASE_WORDS words";
  return NULL;
}

/* Lines of the lexicon; *phrases counts the ones with a space in the key
 * (an upper bound: bad lines are counted too). */
static size_t count_lines(const char *p, size_t len, size_t *phrases)
{
  size_t n = 0, sp = 0;
  int in_key = 1, has_space = 0;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == '\n') {
      n++;
      sp += has_space;
      in_key = 1;
      has_space = 0;
    } else if (p[i] == '\t') {
      in_key = 0;
    } else if (p[i] == ' ' && in_key) {
      has_space = 1;
    }
  }
  if (len > 0 && p[len - 1] != '\n') {
    n++;
    sp += has_space;
  }
  *phrases = sp;
  return n;
}

static int load_lexicon(struct es_sentiment *s, const char *text, size_t len, const char *name,
                        struct es_diags *diags)
{
  int bad = 0, lineno = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *next = eol ? eol + 1 : end;
    if (!eol)
      eol = end;
    lineno++;
    const char *line = p;
    size_t n = (size_t)(eol - line);
    p = next;
    if (n > 0 && line[n - 1] == '\r')
      n--;
    if (n == 0)
      continue; /* blank lines are allowed */
    const char *tab = memchr(line, '\t', n);
    if (!tab) {
      es_diags_add(diags, name, lineno, 1, NULL, "expected \"key<TAB>valence\"");
      bad++;
      continue;
    }
    size_t klen = (size_t)(tab - line);
    unsigned nwords;
    const char *why = key_problem(line, klen, &nwords);
    if (why) {
      es_diags_add(diags, name, lineno, 1, NULL, "%s", why);
      bad++;
      continue;
    }
    char num[64];
    size_t vlen = n - klen - 1;
    char *vend;
    double v = 0;
    if (vlen > 0 && vlen < sizeof num) {
      memcpy(num, tab + 1, vlen);
      num[vlen] = '\0';
      v = strtod(num, &vend);
    }
    if (vlen == 0 || vlen >= sizeof num || *vend != '\0' || !isfinite(v)) {
      es_diags_add(diags, name, lineno, (int)klen + 2, NULL, "valence is not a number: \"%.*s\"",
                   (int)(vlen < 40 ? vlen : 40), tab + 1);
      bad++;
      continue;
    }
    if (nwords > 1) {
      for (uint32_t i = 0; i < s->nphrases; i++)
        if (strlen(s->phrases[i].text) == klen && memcmp(s->phrases[i].text, line, klen) == 0) {
          es_diags_add(diags, name, lineno, 1, NULL, "duplicate key \"%.*s\"", (int)klen, line);
          bad++;
          goto next_line;
        }
      struct phrase *ph = &s->phrases[s->nphrases++];
      memcpy(ph->text, line, klen);
      ph->text[klen] = '\0';
      ph->nwords = (uint8_t)nwords;
      ph->valence = v;
      struct entry *head = table_add(s, line, (size_t)((const char *)memchr(line, ' ', klen) - line));
      if (!head)
        return ES_ENOMEM;
      head->kind |= E_PHRASE_HEAD;
    } else {
      struct entry *e = table_add(s, line, klen);
      if (!e)
        return ES_ENOMEM;
      if (e->kind & E_LEXICON) {
        es_diags_add(diags, name, lineno, 1, NULL, "duplicate key \"%.*s\"", (int)klen, line);
        bad++;
        continue;
      }
      e->kind |= E_LEXICON;
      e->valence = v;
    }
    s->nkeys++;
  next_line:;
  }
  return bad ? ES_EINVAL : 0;
}

int es_sentiment_new(const char *lexicon, size_t len, const char *name, struct es_diags *diags,
                     struct es_sentiment **out)
{
  struct es_sentiment *s = NULL;
  int rc = ES_ENOMEM;
  if (!out)
    return ES_EINVAL;
  *out = NULL;
  if (!lexicon) {
    lexicon = es__sentiment_lexicon(&len);
    if (!name)
      name = "lexicon/vader_lexicon.tsv (built in)";
  }
  if (!name)
    name = "lexicon";
  if (len > ES_SENTIMENT_LEXICON_MAX) {
    es_diags_add(diags, name, 0, 0, NULL, "lexicon larger than %u bytes", ES_SENTIMENT_LEXICON_MAX);
    return ES_ETOOBIG;
  }
  size_t nphrases;
  size_t nlines = count_lines(lexicon, len, &nphrases);
  size_t builtin = sizeof negate_words / sizeof negate_words[0] +
                   sizeof booster_up / sizeof booster_up[0] +
                   sizeof booster_down / sizeof booster_down[0] + W_COUNT;
  if (nlines + builtin > ES_SENTIMENT_MAX_KEYS) {
    es_diags_add(diags, name, 0, 0, NULL, "lexicon of more than %u keys", ES_SENTIMENT_MAX_KEYS);
    return ES_ETOOBIG;
  }
  s = calloc(1, sizeof *s);
  if (!s)
    goto fail;
  s->cap = (uint32_t)(nlines + builtin + 1);
  s->nentries = 1; /* entries[0]: the empty entry */
  /* Two slots per key (rounded up to a power of two). */
  uint32_t nslots = 64;
  while (nslots < 2 * s->cap)
    nslots *= 2;
  s->slot_mask = nslots - 1;
  s->home_shift = 56 - (unsigned)__builtin_ctz(nslots);
  s->tags = calloc((size_t)nslots + PROBE, sizeof *s->tags);
  s->index = calloc((size_t)nslots + PROBE, sizeof *s->index);
  s->entries = calloc(s->cap, sizeof *s->entries);
  s->phrases = calloc(nphrases ? nphrases : 1, sizeof *s->phrases);
  if (!s->tags || !s->index || !s->entries || !s->phrases)
    goto fail;
  rc = load_lexicon(s, lexicon, len, name, diags);
  if (rc != 0)
    goto fail;
  rc = add_builtin(s);
  if (rc != 0)
    goto fail;
  for (uint32_t i = 1; i < s->nentries; i++) {
    struct entry *e = &s->entries[i];
    e->tok_flags = (uint8_t)(((e->kind & E_LEXICON) ? TF_LEX : 0) |
                             ((e->kind & E_BOOSTER) ? TF_BOOSTER : 0) |
                             ((e->kind & E_NEGATE) ? TF_NEGWORD : 0));
  }
  uint32_t nfill = s->slot_mask + 1 + PROBE;
  s->slots = calloc(nfill, sizeof *s->slots);
  if (!s->slots) {
    rc = ES_ENOMEM;
    goto fail;
  }
  for (uint32_t pos = 0; pos < nfill; pos++) {
    if (!s->tags[pos])
      continue;
    const struct entry *e = &s->entries[s->index[pos]];
    struct slot *sl = &s->slots[pos];
    sl->len = e->len;
    if (e->len <= 16) {
      sl->key[0] = e->key[0];
      sl->key[1] = e->key[1];
      sl->info = TOK_INFO(s->index[pos], e->tok_flags, e->word);
    }
  }
  *out = s;
  return 0;
fail:
  es_sentiment_free(s);
  return rc;
}

void es_sentiment_free(struct es_sentiment *s)
{
  if (!s)
    return;
  free(s->tags);
  free(s->index);
  free(s->slots);
  free(s->entries);
  free(s->phrases);
  free(s);
}

size_t es_sentiment_keys(const struct es_sentiment *s) { return s ? s->nkeys : 0; }

/* ---- scratch ---------------------------------------------------------------- */

struct tok {
  uint32_t start;   /* the word (punctuation stripped) in the copied text */
  uint32_t len;
  uint16_t ent;     /* entry index (0: none), or phrase index (TF_PHRASE) */
  uint8_t flags;    /* TF_* */
  uint8_t word;     /* enum word_id of the lower-cased word */
};

_Static_assert(offsetof(struct tok, flags) == offsetof(struct tok, ent) + 2 &&
                   offsetof(struct tok, word) == offsetof(struct tok, ent) + 3,
               "struct tok: ent, flags and word are four bytes in a row");

static inline void tok_set_info(struct tok *t, uint32_t info)
{
  memcpy(&t->ent, &info, sizeof info);
}

/* The token starts and ends of a word of 64 bytes of the text, and which
 * tokens fast_run() can take (each marked at its end):
 *   clean  the tokens of letters and digits (the word is the token);
 *   ext    the other tokens that start with a letter or a digit and
 *          either are letters, digits and apostrophes ending with a
 *          letter or a digit (the word is the token), or are letters and
 *          digits then one byte that is neither (the word is the token
 *          without it, when PUNC_LIST has it);
 *   trail  the latter. */
struct wmask {
  uint64_t starts, ends, clean, ext, trail;
};

struct es_sentiment_scratch {
  size_t max_bytes;
  size_t max_tokens;
  unsigned char *text;   /* max_bytes + TEXT_PAD: the text as scored */
  uint32_t *map;         /* max_bytes + 1: offset in the caller's text of each byte */
  uint64_t *bits;        /* 2 masks of max_bytes / 64 + 2 words, one bit per byte: */
  uint64_t *upper;       /*   A-Z */
  uint64_t *lower;       /*   a-z */
  struct wmask *wm;      /* max_bytes / 64 + 2: word_masks() of each word */
  int caps;              /* the text has a capital */
  struct tok *toks;      /* max_tokens */
  uint32_t *lex;         /* max_tokens: indexes of the lexicon words among toks */
  struct es_sentiment_word words[ES_SENTIMENT_MAX_WORDS];
};

struct es_sentiment_scratch *es_sentiment_scratch_new(size_t max_bytes)
{
  if (max_bytes > ES_SENTIMENT_TEXT_MAX)
    return NULL;
  struct es_sentiment_scratch *scr = calloc(1, sizeof *scr);
  if (!scr)
    return NULL;
  scr->max_bytes = max_bytes;
  /* A kept token has at least two bytes and a separator after it. */
  scr->max_tokens = max_bytes / 3 + 2;
  size_t nwords = max_bytes / 64 + 2;
  scr->text = calloc(1, max_bytes + TEXT_PAD);
  scr->bits = calloc(2 * nwords, sizeof *scr->bits);
  scr->wm = calloc(nwords, sizeof *scr->wm);
  scr->map = malloc((max_bytes + 1) * sizeof *scr->map);
  scr->toks = malloc(scr->max_tokens * sizeof *scr->toks);
  scr->lex = malloc(scr->max_tokens * sizeof *scr->lex);
  if (!scr->text || !scr->bits || !scr->wm || !scr->map || !scr->toks || !scr->lex) {
    es_sentiment_scratch_free(scr);
    return NULL;
  }
  scr->upper = scr->bits;
  scr->lower = scr->bits + nwords;
  return scr;
}

void es_sentiment_scratch_free(struct es_sentiment_scratch *scr)
{
  if (!scr)
    return;
  free(scr->text);
  free(scr->bits);
  free(scr->wm);
  free(scr->map);
  free(scr->toks);
  free(scr->lex);
  free(scr);
}

/* ---- splitting ---------------------------------------------------------------- */

/* Copies the text into the scratch for classify() to check, padded with
 * zeros. */
static void copy_text(struct es_sentiment_scratch *scr, const unsigned char *t, size_t len)
{
  if (len)
    memcpy(scr->text, t, len);
  memset(scr->text + len, 0, 16); /* what classify() and the key loads read past n */
}

/* Copies the text into the scratch again, rewriting what classify() found
 * (a rare case, then scored from the rewritten copy): U+212A KELVIN SIGN
 * becomes 'K' (JavaScript lower-cases it to "k", the only non-ASCII
 * character whose lower case is ASCII); with ES_SENTIMENT_APOSTROPHES the
 * apostrophe look-alikes become '. Both keep the JavaScript length (one
 * code unit). Fills map[] with the offset in the caller's text of each byte
 * of the copy; returns the copy's length. */
static size_t remap_text(struct es_sentiment_scratch *scr, const unsigned char *t, size_t len,
                         unsigned flags)
{
  unsigned char *out = scr->text;
  int apos = (flags & ES_SENTIMENT_APOSTROPHES) != 0;
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    unsigned char c = t[i];
    size_t take = 0;
    unsigned char repl = 0;
    if (c == 0xE2 && i + 2 < len) {
      if (t[i + 1] == 0x84 && t[i + 2] == 0xAA) {
        take = 3;
        repl = 'K';
      } else if (apos && t[i + 1] == 0x80 && (t[i + 2] == 0x98 || t[i + 2] == 0x99)) {
        take = 3;
        repl = '\'';
      }
    } else if (apos && i + 1 < len && ((c == 0xCA && t[i + 1] == 0xBC) ||
                                       (c == 0xC2 && t[i + 1] == 0xB4))) {
      take = 2;
      repl = '\'';
    }
    scr->map[o] = (uint32_t)i;
    if (take) {
      out[o++] = repl;
      i += take;
    } else {
      out[o++] = c;
      i++;
    }
  }
  scr->map[o] = (uint32_t)len;
  memset(out + o, 0, 16);
  return o;
}

/* Whether the bytes at p start what remap_text() rewrites. p[1] and p[2]
 * may be the zero padding. */
static inline int needs_remap(const unsigned char *p, unsigned flags)
{
  if (p[0] == 0xE2 && p[1] == 0x84 && p[2] == 0xAA)
    return 1;
  if (!(flags & ES_SENTIMENT_APOSTROPHES))
    return 0;
  return (p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x99)) ||
         (p[0] == 0xCA && p[1] == 0xBC) || (p[0] == 0xC2 && p[1] == 0xB4);
}

/* a + b + *carry, setting *carry to the carry out. */
static inline uint64_t add_carry(uint64_t a, uint64_t b, unsigned *carry)
{
  uint64_t x;
  unsigned c = __builtin_add_overflow(a, b, &x);
  c |= __builtin_add_overflow(x, (uint64_t)*carry, &x);
  *carry = c;
  return x;
}

/* What word_masks() carries from one word to the next: bit 63 of the
 * last word's space, alnum and stop masks, and two carries. Before the
 * text counts as white space. */
struct wcarry {
  uint64_t sp, an, stop;
  unsigned c1, c2;
};

/* Fills *m from the word's white space, letters and digits, and
 * apostrophes. Adding the starts of the tokens to a run of bytes of a
 * class carries each start along its run: the carry lands on the first
 * byte after it, and on into the next word. */
static inline void word_masks(struct wmask *m, uint64_t sp, uint64_t an, uint64_t ap,
                              struct wcarry *wc)
{
  uint64_t tok = ~sp, starts = tok & ((sp << 1) | wc->sp), sa = starts & an;
  /* Runs of letters and digits from such a start. */
  uint64_t run = tok & an, land = add_carry(run, sa, &wc->c1) & ~run;
  uint64_t clean = land & sp, stop = land & tok;
  uint64_t trail = ((stop << 1) | wc->stop) & sp;
  /* Runs of letters, digits and apostrophes, ending with one of the
   * former. */
  uint64_t run1 = tok & (an | ap);
  uint64_t clean1 = add_carry(run1, sa, &wc->c2) & ~run1 & sp & ((an << 1) | wc->an);
  m->starts = starts;
  m->ends = sp & ~((sp << 1) | wc->sp);
  m->clean = clean;
  m->ext = (clean1 & ~clean) | trail;
  m->trail = trail;
  wc->sp = sp >> 63;
  wc->an = an >> 63;
  wc->stop = stop >> 63;
}

#if defined(__SSE2__) && !defined(ES_SCALAR)
/* All ones in each byte of v in lo..lo+n-1 (n < 128): adding 0x80 - lo
 * moves that range to the bottom of the signed bytes. */
#define IN_RANGE(v, lo, n)                                                        \
  _mm_cmpgt_epi8(_mm_set1_epi8((char)(-128 + (n))),                               \
                 _mm_add_epi8((v), _mm_set1_epi8((char)(0x80 - (lo)))))
#endif

/* One pass over text[0..n) in the scratch, sixteen bytes at a time: fills
 * the masks upper and lower (bit i for byte i), word_masks() of each word
 * of 64 bytes (bytes from n on count as white space, so that the last
 * token ends), scr->caps, whether the text has a capital, and the counts
 * of '!' and '?' (*nex, *nq). Returns 1, unfinished, when the text has
 * something remap_text() must rewrite first. Reads up to 16 bytes past n,
 * within the zero padding. Per-token work then tests a word's classes
 * with a few operations on these masks instead of a loop over its bytes. */
static int classify(struct es_sentiment_scratch *scr, size_t n, unsigned flags, unsigned *nex,
                    unsigned *nq)
{
  const unsigned char *b = scr->text;
  uint64_t spill = 0; /* bits of a Unicode space that runs into the next word */
  uint64_t caps = 0;
  struct wcarry wc = {1, 0, 0, 0, 0};
  *nex = *nq = 0;
  for (size_t w = 0; w <= n / 64; w++) {
    uint64_t space = spill, alnum = 0, upper = 0, lower = 0, apos = 0, lead = 0, marks = 0;
    size_t base = 64 * w;
    for (size_t at = base; at <= n && at < base + 64; at += 16) {
      uint32_t ws16, lead16, an16, up16, lo16, ap16, mk16;
#if defined(__SSE2__) && !defined(ES_SCALAR)
      __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + at));
      __m128i sp = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), IN_RANGE(v, 0x09, 5));
      /* Bytes 0xC2..0xFF: the lead bytes a Unicode space can start with. */
      __m128i hi = _mm_and_si128(v, _mm_cmpgt_epi8(v, _mm_set1_epi8((char)0xC1)));
      __m128i up = IN_RANGE(v, 'A', 26), lo = IN_RANGE(v, 'a', 26);
      __m128i an = _mm_or_si128(_mm_or_si128(up, lo), IN_RANGE(v, '0', 10));
      __m128i mk = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('!')),
                                _mm_cmpeq_epi8(v, _mm_set1_epi8('?')));
      ws16 = (uint32_t)_mm_movemask_epi8(sp);
      lead16 = (uint32_t)_mm_movemask_epi8(hi);
      up16 = (uint32_t)_mm_movemask_epi8(up);
      lo16 = (uint32_t)_mm_movemask_epi8(lo);
      an16 = (uint32_t)_mm_movemask_epi8(an);
      ap16 = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
      mk16 = (uint32_t)_mm_movemask_epi8(mk);
#else
      ws16 = lead16 = an16 = up16 = lo16 = ap16 = mk16 = 0;
      for (unsigned j = 0; j < 16; j++) {
        unsigned char c = b[at + j];
        unsigned k = byte_class[c];
        ws16 |= (uint32_t)((k & C_WS) != 0) << j;
        lead16 |= (uint32_t)(c >= 0xC2) << j;
        an16 |= (uint32_t)((k & (C_UPPER | C_LOWER | C_DIGIT)) != 0) << j;
        up16 |= (uint32_t)((k & C_UPPER) != 0) << j;
        lo16 |= (uint32_t)((k & C_LOWER) != 0) << j;
        ap16 |= (uint32_t)(c == '\'') << j;
        mk16 |= (uint32_t)(c == '!' || c == '?') << j;
      }
#endif
      unsigned sh = (unsigned)(at - base);
      space |= (uint64_t)ws16 << sh;
      alnum |= (uint64_t)an16 << sh;
      upper |= (uint64_t)up16 << sh;
      lower |= (uint64_t)lo16 << sh;
      apos |= (uint64_t)ap16 << sh;
      marks |= (uint64_t)mk16 << sh;
      lead |= (uint64_t)lead16 << sh;
    }
    /* '!' and '?' (the padding past n has none). The package counts them
     * in the words; every one is in some word. */
    for (; marks; marks &= marks - 1) {
      unsigned char c = b[base + (unsigned)__builtin_ctzll(marks)];
      *nex += c == '!';
      *nq += c == '?';
    }
    spill = 0;
    while (lead) {
      size_t p = (size_t)__builtin_ctzll(lead);
      lead &= lead - 1;
      if (base + p >= n)
        break;
      if (needs_remap(b + base + p, flags))
        return 1;
      size_t len = uspace_len(b + base + p);
      for (size_t k = p; k < p + len; k++) {
        if (k < 64)
          space |= (uint64_t)1 << k;
        else
          spill |= (uint64_t)1 << (k - 64);
      }
    }
    /* Bits from n on are white space, so that the last token ends. */
    if (w == n / 64)
      space |= ~(uint64_t)0 << (n % 64);
    scr->upper[w] = upper;
    scr->lower[w] = lower;
    caps |= upper;
    word_masks(&scr->wm[w], space, alnum, apos, &wc);
  }
  /* The padding past n has no capital. bits_at() may read upper[] and
   * lower[] one word past n / 64 (left from an earlier text): it masks
   * what lies past the token. */
  scr->caps = caps != 0;
  return 0;
}

/* Bits pos..pos+len-1 of a mask (len <= 56), as the low bits. On a
 * little-endian machine, one unaligned load at the byte holding bit pos. */
static inline uint64_t bits_at(const uint64_t *m, size_t pos, size_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    !defined(ES_SCALAR)
  uint64_t x = load8((const unsigned char *)m + pos / 8) >> (pos % 8);
#else
  size_t w = pos / 64, off = pos % 64;
  uint64_t x = (m[w] >> off) | ((m[w + 1] << 1) << (63 - off));
#endif
  return x & (((uint64_t)1 << len) - 1);
}

/* Whether mask m has a bit among pos..pos+len-1. */
static inline unsigned range_any(const uint64_t *m, size_t pos, size_t len)
{
  while (len > 56) {
    if (bits_at(m, pos, 56))
      return 1;
    pos += 56;
    len -= 56;
  }
  return bits_at(m, pos, len) != 0;
}

/* Masks keeping the first n bytes (0 <= n <= 16) of the two 8-byte chunks
 * of a word. A table: computing them took more instructions than the
 * rest of a word's key, in the loop that is most of the time. */
#define M8(n) (~(uint64_t)0 >> (64 - 8 * (n)))
static const uint64_t keep16[17][2] = {
  {0, 0}, {M8(1), 0}, {M8(2), 0}, {M8(3), 0}, {M8(4), 0}, {M8(5), 0}, {M8(6), 0}, {M8(7), 0},
  {M8(8), 0}, {M8(8), M8(1)}, {M8(8), M8(2)}, {M8(8), M8(3)}, {M8(8), M8(4)}, {M8(8), M8(5)},
  {M8(8), M8(6)}, {M8(8), M8(7)}, {M8(8), M8(8)},
};
#undef M8

static inline void keep_masks(size_t n, uint64_t *m0, uint64_t *m1)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  *m0 = keep16[n][0];
  *m1 = keep16[n][1];
#else
  *m0 = keep_mask(n);
  *m1 = keep_mask(n > 8 ? n - 8 : 0);
#endif
}

/* What tokenise() found besides the words. */
struct split {
  size_t ntok;
  size_t nlex;
  size_t nupper;       /* words in capitals (Python's isupper()) */
  size_t but_lower;    /* first "but", exactly; SIZE_MAX when none */
  size_t but_upper;    /* first "BUT" */
  size_t but_any;      /* first in any case */
  unsigned nex, nq;    /* '!' and '?' in the text */
};

/* A word as the slow path works it out. */
struct word {
  size_t start, len;   /* in the copied text */
  unsigned flags;      /* TF_HAS_UPPER, TF_UPPER, TF_APOS */
  uint32_t entry;      /* its entry, or 0 */
};

/* The slow path of tokenise(), byte by byte, for the tokens fast_run()
 * leaves (about one in sixty on the bench corpus): a byte that is not
 * ASCII, punctuation other than apostrophes inside and one PUNC_LIST entry
 * at the end, or a word of more than 16 bytes. Works out which part of
 * b[ts..te) the package keeps as the word, and looks it up. Returns 0 when
 * the package drops the token. */
static __attribute__((noinline)) int slow_word(const struct es_sentiment *s,
                                               const unsigned char *b, size_t ts, size_t te,
                                               struct word *wd)
{
  size_t tl = te - ts;
  size_t npunct = 0, first = SIZE_MAX, last = 0;
  unsigned any = 0;
  for (size_t i = ts; i < te; i++) {
    unsigned k = byte_class[b[i]];
    size_t is_punct = (k & C_PUNCT) != 0;
    any |= k;
    npunct += is_punct;
    /* The first and last bytes that are not punctuation, without a branch. */
    first = first == SIZE_MAX && !is_punct ? i : first;
    last = is_punct ? last : i;
  }
  /* ASCII: a code unit per byte. */
  if (any & C_HI ? !longer_than_one_unit(b + ts, tl) : tl < 2)
    return 0;
  wd->start = ts;
  wd->len = tl;
  /* A PUNC_LIST entry at one end, and no ASCII punctuation in the rest,
   * which has two code units or more: the word is the rest. */
  if (npunct && first != SIZE_MAX) {
    size_t lead = first - ts, trail = te - 1 - last;
    if (npunct == lead + trail && (lead == 0) != (trail == 0)) {
      size_t cl = last + 1 - first;
      if ((any & C_HI ? longer_than_one_unit(b + first, cl) : cl >= 2) &&
          (lead ? punc_listed(b + ts, lead) : punc_listed(b + last + 1, trail))) {
        wd->start = first;
        wd->len = cl;
      }
    }
  }
  unsigned upper = (any & C_UPPER) != 0, lower = (any & C_LOWER) != 0;
  wd->flags = upper * TF_HAS_UPPER + (upper & (lower ^ 1u)) * TF_UPPER +
              ((any & C_APOS) != 0) * TF_APOS;
  wd->entry = 0;
  if (wd->len <= ES_SENTIMENT_KEY_MAX) { /* no key is longer */
    uint64_t k[KEY_CHUNKS];
    key_chunks(b + wd->start, wd->len, k);
    wd->entry = table_find(s, k, wd->len);
  }
  return 1;
}

/* Where fast_run() is in the text. */
struct run {
  const struct es_sentiment_scratch *scr;
  size_t sw, ew;           /* the words of st and ends */
  size_t last;             /* the word that holds bit n */
  uint64_t st, ends;       /* token starts and ends not taken yet in them */
  struct tok *t;           /* the next token */
  uint32_t found;          /* the TOK_INFO() of the words found, or'ed */
  size_t ts, te;           /* when fast_run() returns 1: a token it left */
};

/* Fills *t for the word b[ts..ts+wl) (wl <= 16) of letters, digits and
 * apostrophes, with the case flags `tf`, and looks it up; returns the
 * TOK_INFO() of its slot when the word is in the table, else 0. */
static inline __attribute__((always_inline)) uint32_t
put_word(const struct table *tb, const unsigned char *b, struct tok *t, size_t ts, size_t wl,
         unsigned tf)
{
  /* Among letters, digits and apostrophes, a capital has 0x40 set and
   * 0x20 clear, a small letter both, the others 0x20 set and 0x40 clear:
   * setting 0x20 lower-cases them all. */
  const uint64_t bit5 = 0x2020202020202020ull;
  uint64_t m0, m1;
  keep_masks(wl, &m0, &m1);
  uint64_t k0 = (load8(b + ts) | bit5) & m0, k1 = (load8(b + ts + 8) | bit5) & m1;
  unsigned found;
  const struct slot *sl = table_find16(tb, k0, k1, wl, &found);
  uint32_t info = sl->info & found;
  t->start = (uint32_t)ts;
  t->len = (uint32_t)wl;
  tok_set_info(t, info | TOK_INFO(0, tf, 0));
  return info;
}

/* Takes the tokens from r on while word_masks() marks them clean or ext
 * and their words have at most 16 bytes: looks each up and fills a
 * struct tok (a token of one byte is dropped). Returns 0 at the end of
 * the text, or 1 at a token for slow_word() (r->ts, r->te). It has no
 * call, so that its state stays in registers, and no branch on a word's
 * length or whether it is in the table (it computes what it needs for
 * every word and keeps the result or not), because word lengths vary too
 * much for the branch predictor. */
static __attribute__((noinline)) int fast_run(const struct table *tb, const unsigned char *b,
                                              struct run *r)
{
  const struct es_sentiment_scratch *scr = r->scr;
  struct tok *t = r->t;
  const struct wmask *wm = scr->wm;
  uint64_t st = r->st, ends = r->ends, clean = wm[r->ew].clean;
  size_t sw = r->sw, ew = r->ew, sbase = 64 * sw, ebase = 64 * ew;
  uint32_t acc = r->found;
  int rc = 0;
  for (;;) {
    while (!st) {
      if (sw == r->last)
        goto out;
      st = wm[++sw].starts;
      sbase += 64;
    }
    size_t ts = sbase + (unsigned)__builtin_ctzll(st);
    st &= st - 1;
    while (!ends) {
      ends = wm[++ew].ends;
      clean = wm[ew].clean;
      ebase += 64;
    }
    uint64_t eb = ends & (0 - ends);
    size_t te = ebase + (unsigned)__builtin_ctzll(ends);
    ends ^= eb;
    size_t tl = te - ts;
    if (__builtin_expect((eb & clean) && tl <= 16, 1)) {
      acc |= put_word(tb, b, t, ts, tl, 0);
      t += tl >= 2;
      continue;
    }
    /* Letters, digits and apostrophes, or letters and digits and a
     * PUNC_LIST entry that goes, when the word has two or more. */
    size_t wl = tl;
    unsigned tf = TF_APOS;
    if (!(eb & wm[ew].ext))
      goto slow;
    if (eb & wm[ew].trail) {
      unsigned c = b[te - 1];
      wl = tl - 1;
      if (wl < 2 || !(c - 0x20u < 32 && (PUNC1_BITS >> (c - 0x20u) & 1)))
        goto slow;
      tf = (c == '\'') * TF_APOS;
    }
    if (wl > 16)
      goto slow;
    acc |= put_word(tb, b, t, ts, wl, tf);
    t++;
    continue;
  slow:
    r->ts = ts;
    r->te = te;
    rc = 1;
    break;
  }
out:
  r->t = t;
  r->st = st;
  r->ends = ends;
  r->sw = sw;
  r->ew = ew;
  r->found = acc;
  return rc;
}

/* Splits the copied text into words as the package's SentiText does:
 * split on JavaScript white space; drop tokens of one code unit or none;
 * replace a token that is a PUNC_LIST entry followed or preceded by a word
 * of two or more units without ASCII punctuation by that word. Looks every
 * word up, lower-cased, and lists the lexicon words. Token starts (a
 * non-space after a space) and ends (a space after a non-space) come a
 * word of 64 bytes at a time; before the text counts as white space, and
 * every bit from n on is set, so the last token ends. A count of trailing
 * zeros finds each, instead of a branch per byte, which the ever-changing
 * word lengths would mispredict. Most tokens are short runs of ASCII
 * letters and digits, which fast_run() takes; slow_word() the others. */
static void tokenise(const struct es_sentiment *s, struct es_sentiment_scratch *scr, size_t n,
                     unsigned flags, struct split *sp)
{
  const unsigned char *b = scr->text;
  struct tok *toks = scr->toks;
  sp->but_lower = sp->but_upper = sp->but_any = SIZE_MAX;
  const struct table table = table_of(s);
  struct run r;
  r.scr = scr;
  r.sw = r.ew = 0;
  r.last = n / 64;
  r.st = scr->wm[0].starts;
  r.ends = scr->wm[0].ends;
  r.t = toks;
  r.found = 0;
  while (fast_run(&table, b, &r)) {
    struct word wd;
    if (!slow_word(s, b, r.ts, r.te, &wd))
      continue;
    const struct entry *en = &s->entries[wd.entry];
    struct tok *t = r.t++;
    t->start = (uint32_t)wd.start;
    t->len = (uint32_t)wd.len;
    t->ent = (uint16_t)wd.entry;
    t->word = en->word;
    t->flags = (uint8_t)(wd.flags | en->tok_flags);
    r.found |= TOK_INFO(wd.entry, en->tok_flags, 0);
  }
  /* No lexicon word (nor, with ES_SENTIMENT_PHRASES, a word in the table,
   * which may start a phrase): nothing more to know (half the lines). */
  size_t ntok = (size_t)(r.t - toks), nlex = 0, nupper = 0;
  if (!(r.found & TOK_INFO(0, TF_LEX, 0)) &&
      !((flags & ES_SENTIMENT_PHRASES) && (r.found & TOK_INFO(0xffff, 0, 0)))) {
    sp->ntok = ntok;
    sp->nlex = sp->nupper = 0;
    return;
  }
  /* The capitals of each word (above, only the slow path's words have
   * them), the lexicon words, the words in capitals and the first "but"s,
   * in a pass of their own: in the loop above, a count of lexicon words
   * would chain every word's table look-up to the next word's. */
  uint32_t *lex = scr->lex;
  for (size_t i = 0; i < ntok; i++) {
    unsigned f = toks[i].flags;
    if (scr->caps) {
      /* TF_HAS_UPPER and TF_UPPER from the word's bytes, which are those
       * of the token but punctuation, which has no letter. */
      f &= ~(unsigned)(TF_HAS_UPPER | TF_UPPER);
      if (range_any(scr->upper, toks[i].start, toks[i].len))
        f |= range_any(scr->lower, toks[i].start, toks[i].len) ? TF_HAS_UPPER
                                                               : TF_HAS_UPPER | TF_UPPER;
      toks[i].flags = (uint8_t)f;
    }
    lex[nlex] = (uint32_t)i;
    nlex += f & TF_LEX;
    nupper += (f & TF_UPPER) != 0;
    if (__builtin_expect(toks[i].word == W_BUT, 0)) {
      if (sp->but_any == SIZE_MAX)
        sp->but_any = i;
      if (!(f & TF_HAS_UPPER) && sp->but_lower == SIZE_MAX)
        sp->but_lower = i;
      if (sp->but_upper == SIZE_MAX && memcmp(b + toks[i].start, "BUT", 3) == 0)
        sp->but_upper = i;
    }
  }
  sp->ntok = ntok;
  sp->nlex = nlex;
  sp->nupper = nupper;
}

/* ES_SENTIMENT_PHRASES: a word that starts one of the lexicon's phrases,
 * followed by the phrase's other words (compared lower-cased), becomes one
 * lexicon word with the phrase's valence; the others score nothing.
 * Returns the number of phrases matched (the caller then rebuilds lex[]). */
static size_t match_phrases(const struct es_sentiment *s, const unsigned char *b,
                            struct tok *toks, size_t n)
{
  size_t matched = 0;
  for (size_t i = 0; i < n; i++) {
    if (!toks[i].ent || (toks[i].flags & (TF_PHRASE | TF_ABSORBED)) ||
        !(s->entries[toks[i].ent].kind & E_PHRASE_HEAD))
      continue;
    for (uint32_t p = 0; p < s->nphrases; p++) {
      const struct phrase *ph = &s->phrases[p];
      if (i + ph->nwords > n)
        continue;
      const char *key = ph->text;
      size_t w;
      for (w = 0; w < ph->nwords; w++) {
        const struct tok *t = &toks[i + w];
        size_t j;
        for (j = 0; j < t->len && key[j]; j++) {
          unsigned char c = b[t->start + j];
          if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
          if ((unsigned char)key[j] != c)
            break;
        }
        if (j != t->len || (key[j] != ' ' && key[j] != '\0'))
          break;
        key += j + (key[j] == ' ');
      }
      if (w != ph->nwords || *key != '\0')
        continue;
      toks[i].flags = (uint8_t)((toks[i].flags & (TF_HAS_UPPER | TF_UPPER | TF_APOS)) | TF_LEX |
                                TF_PHRASE);
      toks[i].ent = (uint16_t)p;
      for (w = 1; w < ph->nwords; w++) {
        toks[i + w].flags = (uint8_t)((toks[i + w].flags & (TF_HAS_UPPER | TF_UPPER | TF_APOS)) |
                                      TF_ABSORBED);
        toks[i + w].ent = 0;
        toks[i + w].word = W_NONE;
      }
      matched++;
      break;
    }
  }
  return matched;
}

/* ---- the rules ---------------------------------------------------------------- */

/* What one scoring call needs to look at the words. */
struct ctx {
  const struct es_sentiment *s;
  const unsigned char *b;
  const struct tok *t;
  size_t n;
  int fold;          /* ES_SENTIMENT_FOLD_CASE */
  int cap_diff;      /* some but not all words are in capitals */
  unsigned inexact;  /* flags that make a word differ from its id: TF_HAS_UPPER, or 0 (fold) */
};

static inline double base_valence(const struct ctx *c, size_t i)
{
  const struct tok *t = &c->t[i];
  return (t->flags & TF_PHRASE) ? c->s->phrases[t->ent].valence : c->s->entries[t->ent].valence;
}

/* The word id when the word is its own lower case (the package's exact
 * comparisons with "never", "so", "but", ...), else W_NONE. */
static inline unsigned exact_word(const struct ctx *c, size_t i)
{
  return (c->t[i].flags & c->inexact) ? W_NONE : c->t[i].word;
}

/* negated([word]): the word is in NEGATE, or contains "n't". */
static int negated(const struct ctx *c, size_t i)
{
  const struct tok *t = &c->t[i];
  if ((t->flags & TF_NEGWORD) && (c->fold || !(t->flags & TF_HAS_UPPER)))
    return 1;
  if (!(t->flags & TF_APOS) || t->len < 3)
    return 0;
  const unsigned char *p = c->b + t->start;
  for (size_t j = 0; j + 2 < t->len; j++) {
    if (p[j + 1] != '\'')
      continue;
    if (c->fold ? ((p[j] | 0x20) == 'n' && (p[j + 2] | 0x20) == 't') : (p[j] == 'n' && p[j + 2] == 't'))
      return 1;
  }
  return 0;
}

/* scalar_inc_dec. */
static double scalar_inc_dec(const struct ctx *c, size_t j, double valence)
{
  const struct tok *t = &c->t[j];
  if (!(t->flags & TF_BOOSTER))
    return 0.0;
  double scalar = c->s->entries[t->ent].booster;
  if (valence < 0)
    scalar *= -1;
  if (c->cap_diff && (t->flags & TF_UPPER)) {
    if (valence > 0)
      scalar += C_INCR;
    else
      scalar -= C_INCR;
  }
  return scalar;
}

/* never_check. */
static double never_check(const struct ctx *c, double valence, size_t k, size_t i)
{
  if (k == 0) {
    if (negated(c, i - 1))
      valence *= N_SCALAR;
  } else if (k == 1) {
    unsigned w1 = exact_word(c, i - 1);
    if (exact_word(c, i - 2) == W_NEVER && (w1 == W_SO || w1 == W_THIS))
      valence *= 1.5;
    else if (negated(c, i - 2))
      valence *= N_SCALAR;
  } else {
    unsigned w1 = exact_word(c, i - 1), w2 = exact_word(c, i - 2);
    if ((exact_word(c, i - 3) == W_NEVER && (w2 == W_SO || w2 == W_THIS)) || w1 == W_SO ||
        w1 == W_THIS)
      valence *= 1.25;
    else if (negated(c, i - 3))
      valence *= N_SCALAR;
  }
  return valence;
}

/* Words an idiom or a booster pair starts with. */
#define IDIOM_STARTS                                                                          \
  ((1u << W_THE) | (1u << W_BAD) | (1u << W_YEAH) | (1u << W_CUT) | (1u << W_KISS) |          \
   (1u << W_HAND) | (1u << W_JUST) | (1u << W_KIND) | (1u << W_SORT))

/* The idiom (or NULL) spelled exactly by words from..from+len-1. */
static const struct idiom *idiom_at(const struct ctx *c, size_t from, size_t len)
{
  if (!((1u << exact_word(c, from)) & IDIOM_STARTS))
    return NULL;
  for (size_t d = 0; d < sizeof idioms / sizeof idioms[0]; d++) {
    if (idioms[d].n != len)
      continue;
    size_t w;
    for (w = 0; w < len; w++)
      if (exact_word(c, from + w) != idioms[d].w[w])
        break;
    if (w == len)
      return &idioms[d];
  }
  return NULL;
}

static int booster_pair_at(const struct ctx *c, size_t from)
{
  unsigned a = exact_word(c, from), b = exact_word(c, from + 1);
  for (size_t d = 0; d < sizeof booster_pairs / sizeof booster_pairs[0]; d++)
    if (booster_pairs[d][0] == a && booster_pairs[d][1] == b && a != W_NONE)
      return 1;
  return 0;
}

/* idioms_check (i > 2). */
static double idioms_check(const struct ctx *c, double valence, size_t i)
{
  /* Every sequence it tries starts at word i-3, i-2, i-1 or i. */
  if (!(((1u << c->t[i - 3].word) | (1u << c->t[i - 2].word) | (1u << c->t[i - 1].word) |
         (1u << c->t[i].word)) & IDIOM_STARTS))
    return valence;
  /* onezero, twoonezero, twoone, threetwoone, threetwo: the first found. */
  static const uint8_t seq[5][2] = {{1, 2}, {2, 3}, {2, 2}, {3, 3}, {3, 2}};
  for (size_t q = 0; q < 5; q++) {
    const struct idiom *id = idiom_at(c, i - seq[q][0], seq[q][1]);
    if (id) {
      valence = id->valence;
      break;
    }
  }
  if (c->n - 1 > i) {
    const struct idiom *id = idiom_at(c, i, 2);
    if (id)
      valence = id->valence;
  }
  if (c->n - 1 > i + 1) {
    const struct idiom *id = idiom_at(c, i, 3);
    if (id)
      valence = id->valence;
  }
  if (booster_pair_at(c, i - 3) || booster_pair_at(c, i - 2))
    valence = valence + B_DECR;
  return valence;
}

/* least_check. */
static double least_check(const struct ctx *c, double valence, size_t i)
{
  if (i > 1 && c->t[i - 1].word == W_LEAST && !(c->t[i - 1].flags & TF_LEX)) {
    unsigned w2 = c->t[i - 2].word;
    if (w2 != W_AT && w2 != W_VERY)
      valence *= N_SCALAR;
  } else if (i > 0 && c->t[i - 1].word == W_LEAST && !(c->t[i - 1].flags & TF_LEX)) {
    valence *= N_SCALAR;
  }
  return valence;
}

/* polarity_scores' loop body for word i, a lexicon word: 0 for "kind" in
 * "kind of" and for boosters, else sentiment_valence. */
static double word_valence(const struct ctx *c, size_t i)
{
  const struct tok *t = &c->t[i];
  if ((i < c->n - 1 && t->word == W_KIND && c->t[i + 1].word == W_OF) || (t->flags & TF_BOOSTER))
    return 0.0;
  double valence = base_valence(c, i);
  if ((t->flags & TF_UPPER) && c->cap_diff) {
    if (valence > 0)
      valence += C_INCR;
    else
      valence -= C_INCR;
  }
  for (size_t k = 0; k < 3; k++) {
    if (i > k && !(c->t[i - (k + 1)].flags & TF_LEX)) {
      double sc = scalar_inc_dec(c, i - (k + 1), valence);
      if (k == 1 && sc != 0)
        sc = sc * 0.95;
      else if (k == 2 && sc != 0)
        sc = sc * 0.9;
      valence = valence + sc;
      valence = never_check(c, valence, k, i);
      if (k == 2)
        valence = idioms_check(c, valence, i);
    }
  }
  return least_check(c, valence, i);
}

/* Notes word i (a lexicon word with valence v != 0) among the reported
 * words: all of them in text order, or, past ES_SENTIMENT_MAX_WORDS, the
 * strongest, still in text order. *np counts the reported words. */
static void report_word(struct es_sentiment_scratch *scr, const struct ctx *c, size_t i, double v,
                        int mapped, size_t *np)
{
  struct es_sentiment_word *w = scr->words;
  if (*np == ES_SENTIMENT_MAX_WORDS) {
    /* Full: drop the weakest when this one is stronger. */
    size_t weakest = 0;
    for (size_t q = 1; q < *np; q++)
      if (fabs(w[q].valence) < fabs(w[weakest].valence))
        weakest = q;
    if (!(fabs(v) > fabs(w[weakest].valence)))
      return;
    memmove(w + weakest, w + weakest + 1, (*np - weakest - 1) * sizeof *w);
    --*np;
  }
  const struct tok *t = &c->t[i];
  size_t span = (t->flags & TF_PHRASE) ? c->s->phrases[t->ent].nwords : 1;
  const struct tok *last = &c->t[i + span - 1];
  size_t start = t->start, end = last->start + last->len;
  w += (*np)++;
  w->start = (uint32_t)(mapped ? scr->map[start] : start);
  w->end = (uint32_t)(mapped ? scr->map[end] : end);
  w->valence = v;
  w->lexicon = base_valence(c, i);
}

int es_sentiment_score(const struct es_sentiment *s, struct es_sentiment_scratch *scr,
                       const char *text, size_t len, unsigned flags,
                       struct es_sentiment_result *out)
{
  if (!out)
    return ES_EINVAL;
  memset(out, 0, sizeof *out);
  if (!s || !scr || (!text && len))
    return ES_EINVAL;
  if (len > scr->max_bytes)
    return ES_ETOOBIG;
  out->words = scr->words;

  int mapped = 0;
  size_t n = len;
  struct split sp;
  copy_text(scr, (const unsigned char *)text, len);
  if (classify(scr, n, flags, &sp.nex, &sp.nq)) {
    n = remap_text(scr, (const unsigned char *)text, len, flags);
    mapped = 1;
    classify(scr, n, flags, &sp.nex, &sp.nq);
  }
  tokenise(s, scr, n, flags, &sp);
  out->ntokens = (uint32_t)sp.ntok;
  if (sp.ntok == 0)
    return 0;
  if ((flags & ES_SENTIMENT_PHRASES) && s->nphrases &&
      match_phrases(s, scr->text, scr->toks, sp.ntok)) {
    sp.nlex = 0;
    for (size_t i = 0; i < sp.ntok; i++)
      if (scr->toks[i].flags & TF_LEX)
        scr->lex[sp.nlex++] = (uint32_t)i;
  }

  struct ctx c = {s, scr->text, scr->toks, sp.ntok, (flags & ES_SENTIMENT_FOLD_CASE) != 0, 0, 0};
  c.inexact = c.fold ? 0 : TF_HAS_UPPER;
  c.cap_diff = !c.fold && sp.nupper > 0 && sp.nupper < sp.ntok;

  /* Only lexicon words can have a valence: every other word scores 0 and
   * counts as neutral, so one loop over lex[] does polarity_scores,
   * but_check and the sums of score_valence. Adding the zeros, as the
   * package does, would change no sum. No lexicon word (half the lines):
   * all neutral. */
  if (sp.nlex == 0) {
    out->neu = 1.0;
    return 0;
  }
  size_t but = c.fold ? sp.but_any : sp.but_lower != SIZE_MAX ? sp.but_lower : sp.but_upper;
  double sum = 0, pos_sum = 0, neg_sum = 0;
  size_t nonzero = 0, nwords = 0;
  for (size_t j = 0; j < sp.nlex; j++) {
    size_t i = scr->lex[j];
    double v = word_valence(&c, i);
    /* but_check: halve the words before "but", raise the ones after. */
    if (but != SIZE_MAX) {
      if (i < but)
        v = v * 0.5;
      else if (i > but)
        v = v * 1.5;
    }
    sum += v;
    if (v > 0)
      pos_sum += v + 1;
    else if (v < 0)
      neg_sum += v - 1;
    if (v != 0) {
      nonzero++;
      report_word(scr, &c, i, v, mapped, &nwords);
    }
  }

  /* score_valence. */
  unsigned ep = sp.nex > 4 ? 4 : sp.nex;
  double ep_amp = ep * 0.292;
  double qm_amp = 0;
  if (sp.nq > 1)
    qm_amp = sp.nq <= 3 ? sp.nq * 0.18 : 0.96;
  double amp = ep_amp + qm_amp;
  if (sum > 0)
    sum += amp;
  else if (sum < 0)
    sum -= amp;
  double compound = sum / sqrt(sum * sum + NORM_ALPHA);
  if (compound < -1.0)
    compound = -1.0;
  else if (compound > 1.0)
    compound = 1.0;

  double neu_count = (double)(sp.ntok - nonzero);
  if (pos_sum > fabs(neg_sum))
    pos_sum += amp;
  else if (pos_sum < fabs(neg_sum))
    neg_sum -= amp;
  double total = pos_sum + fabs(neg_sum) + neu_count;
  out->compound = compound;
  out->pos = fabs(pos_sum / total);
  out->neg = fabs(neg_sum / total);
  out->neu = fabs(neu_count / total);
  out->nwords = nwords;
  out->nscored = (uint32_t)nonzero;
  return 0;
}
