/*
 * sentiment.h: rule-based sentiment of one utterance, after VADER (Hutto &
 * Gilbert, 2014), scored the way the npm package vader-sentiment 1.1.3
 * scores it (docs/sentiment.md; tests/sentiment checks the agreement).
 *
 * A text gets a compound score in [-1, 1] (negative to positive) and the
 * proportions neg, neu and pos of its words, plus the words that carried
 * the score. The rules are the package's: a valence lexicon; boosters and
 * dampeners up to three words back ("very", "kind of"); negation up to
 * three words back ("not", "isn't", "never"), "never so/this", "least";
 * capitalised words in mixed-case text; "!" and "?" emphasis; "but"
 * halving what comes before it and raising what follows; and the
 * package's idioms ("yeah right", "kiss of death").
 *
 * Two objects, following the rules/matcher split:
 *   struct es_sentiment          the model (lexicon and word tables), built
 *                                once, then immutable: any number of threads
 *                                may score with one model at the same time;
 *   struct es_sentiment_scratch  per-thread buffers, sized once for the
 *                                longest text; scoring allocates nothing.
 *
 * Nothing here reads a clock, logs or keeps global state.
 */
#ifndef ES_SENTIMENT_H
#define ES_SENTIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Named limits. */
#define ES_SENTIMENT_MAX_WORDS    16        /* words reported per result */
#define ES_SENTIMENT_KEY_MAX      32        /* bytes in a lexicon key */
#define ES_SENTIMENT_PHRASE_WORDS 4         /* words in a lexicon phrase */
#define ES_SENTIMENT_MAX_KEYS     60000     /* entries in a lexicon */
#define ES_SENTIMENT_LEXICON_MAX  (16u << 20) /* bytes in a lexicon file */
#define ES_SENTIMENT_TEXT_MAX     (16u << 20) /* largest max_bytes of a scratch */

/* Flags for es_sentiment_score(). 0 scores exactly as vader-sentiment
 * does; each flag is a deliberate departure for speech-to-text output
 * (docs/sentiment.md), off unless asked for. */
enum es_sentiment_flag {
  /* Compare the rule words ("but", "never", "so", "this", negations,
   * idioms) without regard to case, so that "But" and "NOT" count; and
   * give capitals no emphasis (ASR capitalises sentence starts, names and
   * acronyms, not shouting). */
  ES_SENTIMENT_FOLD_CASE = 1u << 0,
  /* Read U+2019, U+2018, U+02BC and U+00B4 as the ASCII apostrophe, so
   * that "don’t" negates like "don't". */
  ES_SENTIMENT_APOSTROPHES = 1u << 1,
  /* Match the lexicon's multi-word entries ("fed up", "screwed up",
   * "can't stand"), which the package can never match. */
  ES_SENTIMENT_PHRASES = 1u << 2,
  /* All of the above. */
  ES_SENTIMENT_ASR = (1u << 0) | (1u << 1) | (1u << 2),
};

/* A word that carried the score. */
struct es_sentiment_word {
  uint32_t start;   /* byte span of the word in the scored text, without */
  uint32_t end;     /* the punctuation the package strips ("great!" -> "great") */
  double valence;   /* its contribution to the sum, after every rule */
  double lexicon;   /* its valence in the lexicon, before the rules */
};

/* The score of one text. */
struct es_sentiment_result {
  double compound;  /* normalised sum of valences, in [-1, 1] */
  double neg;       /* proportions, summing to 1 (all 0 when no word was */
  double neu;       /* scored), not rounded: the package rounds neg, neu */
  double pos;       /* and pos to 3 decimals and compound to 4 */
  uint32_t ntokens; /* words the text was split into */
  uint32_t nscored; /* words with a nonzero valence; may exceed nwords */
  /* The words with a nonzero valence in text order; when there are more
   * than ES_SENTIMENT_MAX_WORDS, the ES_SENTIMENT_MAX_WORDS with the
   * largest |valence|. Borrowed from the scratch: valid until its next
   * es_sentiment_score() or es_sentiment_scratch_free(). */
  const struct es_sentiment_word *words;
  size_t nwords;
};

struct es_sentiment;
struct es_sentiment_scratch;

/* Builds a model from a lexicon in earshot's format (lexicon/README.md):
 * one "key<TAB>valence" per line, keys in lower case, at most
 * ES_SENTIMENT_KEY_MAX bytes, unique; a key with single spaces is a
 * phrase of up to ES_SENTIMENT_PHRASE_WORDS words. lexicon == NULL uses
 * the lexicon built into the library (lexicon/vader_lexicon.tsv).
 * `lexicon` is borrowed for the call only. `name` (may be NULL) names the
 * lexicon in diagnostics. Returns 0 and *out (free with
 * es_sentiment_free()), ES_EINVAL with a diagnostic per bad line in
 * `diags` (may be NULL), ES_ETOOBIG past ES_SENTIMENT_LEXICON_MAX bytes or
 * ES_SENTIMENT_MAX_KEYS keys, or ES_ENOMEM. */
int es_sentiment_new(const char *lexicon, size_t len, const char *name, struct es_diags *diags,
                     struct es_sentiment **out);
void es_sentiment_free(struct es_sentiment *s); /* NULL is a no-op */

/* Keys the model's lexicon holds (phrases included). */
size_t es_sentiment_keys(const struct es_sentiment *s);

/* Buffers for texts of up to max_bytes bytes (at most
 * ES_SENTIMENT_TEXT_MAX): about 12 bytes per byte of max_bytes (800 KiB
 * for 64 KiB), allocated here once. One per thread. NULL when out of
 * memory or max_bytes is too large. */
struct es_sentiment_scratch *es_sentiment_scratch_new(size_t max_bytes);
void es_sentiment_scratch_free(struct es_sentiment_scratch *scr); /* NULL is a no-op */

/* Scores text[0..len), UTF-8, with `flags` (enum es_sentiment_flag).
 * The text is not validated: invalid UTF-8, NUL bytes and controls never
 * fail, and score deterministically (byte by byte). Returns 0 and fills
 * *out; ES_ETOOBIG when len exceeds the scratch's max_bytes (then *out is
 * all zero: no text is scored in part); ES_EINVAL for NULL arguments. */
int es_sentiment_score(const struct es_sentiment *s, struct es_sentiment_scratch *scr,
                       const char *text, size_t len, unsigned flags,
                       struct es_sentiment_result *out);

#endif
