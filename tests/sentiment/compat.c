/*
 * compat.c: sentiment_compat, earshot's sentiment against reference scores
 * from the npm package vader-sentiment (vader_ref.js writes them).
 *
 *   sentiment_compat [--min FRACTION] [--tolerance T] [--show N] [--flags F]
 *                    NAME TEXTS REFS
 *
 * TEXTS has one text per line; REFS the package's "compound neg neu pos"
 * for each line of TEXTS. Every text is scored with flags F (default 0,
 * the package's behaviour). A line agrees when earshot's compound is
 * within T (default 0.01) of the package's. Prints the agreement and the N
 * worst disagreements (default 10); exits 0 when at least FRACTION of the
 * lines agree (default 0.99), 1 when not, 2 on a usage or input error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sentiment.h"

#define MAX_FILE ((size_t)64 << 20)
#define MAX_TEXT 65536
#define MAX_SHOW 100

static char *slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, n = 0;
  if (!f) {
    fprintf(stderr, "sentiment_compat: cannot open %s\n", path);
    return NULL;
  }
  for (;;) {
    if (n + 65536 + 1 > cap) {
      cap = cap ? cap * 2 : 1 << 20;
      if (cap > MAX_FILE + 1)
        goto fail;
      char *nb = realloc(buf, cap);
      if (!nb)
        goto fail;
      buf = nb;
    }
    size_t got = fread(buf + n, 1, 65536, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(f))
    goto fail;
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
fail:
  fprintf(stderr, "sentiment_compat: cannot read %s (or larger than %zu bytes)\n", path, MAX_FILE);
  free(buf);
  fclose(f);
  return NULL;
}

struct miss {
  size_t line;
  double diff, ours, ref;
};

int main(int argc, char **argv)
{
  double min_agree = 0.99, tol = 0.01;
  size_t show = 10;
  unsigned flags = 0;
  int i;
  for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--min") == 0)
      min_agree = strtod(argv[i + 1], NULL);
    else if (strcmp(argv[i], "--tolerance") == 0)
      tol = strtod(argv[i + 1], NULL);
    else if (strcmp(argv[i], "--show") == 0)
      show = strtoul(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--flags") == 0)
      flags = (unsigned)strtoul(argv[i + 1], NULL, 0);
    else
      break;
  }
  if (argc - i != 3) {
    fprintf(stderr, "usage: sentiment_compat [--min F] [--tolerance T] [--show N] [--flags F] "
                    "NAME TEXTS REFS\n");
    return 2;
  }
  if (show > MAX_SHOW)
    show = MAX_SHOW;
  const char *name = argv[i], *texts_path = argv[i + 1], *refs_path = argv[i + 2];
  size_t tlen, rlen;
  char *texts = slurp(texts_path, &tlen);
  char *refs = texts ? slurp(refs_path, &rlen) : NULL;
  struct es_sentiment *model = NULL;
  struct es_sentiment_scratch *scr = es_sentiment_scratch_new(MAX_TEXT);
  struct es_diags diags;
  int rc = 2;
  es_diags_init(&diags);
  if (!texts || !refs || !scr)
    goto done;
  if (es_sentiment_new(NULL, 0, NULL, &diags, &model) != 0) {
    fprintf(stderr, "sentiment_compat: the built-in lexicon does not load\n");
    goto done;
  }

  struct miss worst[MAX_SHOW];
  size_t nworst = 0, nlines = 0, agree = 0, exact = 0, props_agree = 0;
  double max_diff = 0, sum_diff = 0;
  char *tp = texts, *rp = refs;
  while (*tp) {
    char *tnl = strchr(tp, '\n');
    size_t len = tnl ? (size_t)(tnl - tp) : strlen(tp);
    double ref[4];
    char *end;
    nlines++;
    for (int k = 0; k < 4; k++) {
      ref[k] = strtod(rp, &end);
      if (end == rp) {
        fprintf(stderr, "sentiment_compat: %s: no reference for line %zu\n", refs_path, nlines);
        goto done;
      }
      rp = end;
    }
    struct es_sentiment_result r;
    int src = es_sentiment_score(model, scr, tp, len, flags, &r);
    if (src != 0) {
      fprintf(stderr, "sentiment_compat: line %zu: %s\n", nlines, es_strerror(src));
      goto done;
    }
    double diff = fabs(r.compound - ref[0]);
    sum_diff += diff;
    if (diff > max_diff)
      max_diff = diff;
    agree += diff <= tol;
    /* The package rounds compound to 4 decimals. */
    exact += fabs(round(r.compound * 1e4) / 1e4 - ref[0]) < 1e-9;
    props_agree += fabs(r.neg - ref[1]) <= tol && fabs(r.neu - ref[2]) <= tol &&
                   fabs(r.pos - ref[3]) <= tol;
    if (diff > tol && show > 0) {
      /* Keep the `show` worst, sorted by decreasing difference. */
      size_t at = nworst < show ? nworst++ : show;
      if (at == show && diff <= worst[show - 1].diff)
        goto next;
      if (at == show)
        at = show - 1;
      while (at > 0 && worst[at - 1].diff < diff) {
        worst[at] = worst[at - 1];
        at--;
      }
      worst[at] = (struct miss){nlines, diff, r.compound, ref[0]};
    }
  next:
    if (!tnl)
      break;
    tp = tnl + 1;
  }
  double frac = nlines ? (double)agree / (double)nlines : 0;
  printf("%s: %zu lines; compound within %.3g of vader-sentiment on %zu (%.2f%%), equal to 4 "
         "decimals on %zu (%.2f%%); neg/neu/pos all within %.3g on %zu (%.2f%%); "
         "mean |diff| %.2g, max %.4f\n",
         name, nlines, tol, agree, 100.0 * frac, exact,
         nlines ? 100.0 * (double)exact / (double)nlines : 0.0, tol, props_agree,
         nlines ? 100.0 * (double)props_agree / (double)nlines : 0.0,
         nlines ? sum_diff / (double)nlines : 0.0, max_diff);
  for (size_t w = 0; w < nworst; w++) {
    /* Find the text of that line again for the message. */
    const char *p = texts;
    for (size_t l = 1; l < worst[w].line; l++)
      p = strchr(p, '\n') + 1;
    const char *e = strchr(p, '\n');
    int n = e ? (int)(e - p) : (int)strlen(p);
    printf("  line %zu: earshot %.4f, vader-sentiment %.4f (diff %.4f): %.*s\n", worst[w].line,
           worst[w].ours, worst[w].ref, worst[w].diff, n > 200 ? 200 : n, p);
  }
  if (nlines == 0) {
    fprintf(stderr, "sentiment_compat: %s: no lines\n", texts_path);
  } else if (frac + 1e-12 < min_agree) {
    printf("FAIL: %s: agreement %.2f%% is below the required %.2f%%\n", name, 100.0 * frac,
           100.0 * min_agree);
    rc = 1;
  } else {
    rc = 0;
  }
done:
  es_diags_deinit(&diags);
  es_sentiment_free(model);
  es_sentiment_scratch_free(scr);
  free(texts);
  free(refs);
  return rc;
}
