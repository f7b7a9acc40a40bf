/*
 * fuzz_sentiment.c: VADER scoring (sentiment.h) on arbitrary bytes, with
 * every flag combination chosen by the first input byte. The result must
 * be well formed: compound in [-1, 1], neg + neu + pos either 0 or 1,
 * every reported word inside the text with a nonzero valence.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sentiment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct es_sentiment *model;
static struct es_sentiment_scratch *scratch;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct es_sentiment_result r;
  unsigned flags;

  if (model == NULL) {
    if (es_sentiment_new(NULL, 0, "built in", NULL, &model) != 0)
      abort();
    scratch = es_sentiment_scratch_new(8192);
    if (scratch == NULL)
      abort();
  }
  if (size == 0)
    return 0;
  flags = data[0] & ES_SENTIMENT_ASR;
  int rc = es_sentiment_score(model, scratch, (const char *)data + 1, size - 1, flags, &r);
  if (rc != 0) {
    if (size - 1 <= 8192)
      abort(); /* only an over-long text may be refused */
    return 0;
  }
  if (!(r.compound >= -1 && r.compound <= 1))
    abort();
  double sum = r.neg + r.neu + r.pos;
  if (!(fabs(sum) < 1e-9 || fabs(sum - 1) < 1e-6) || r.neg < 0 || r.neu < 0 || r.pos < 0)
    abort();
  if (r.nwords > ES_SENTIMENT_MAX_WORDS)
    abort();
  for (size_t i = 0; i < r.nwords; i++)
    if (r.words[i].start > r.words[i].end || r.words[i].end > size - 1 || r.words[i].valence == 0)
      abort();
  return 0;
}
