/*
 * cmd_sentiment.c: `earshot sentiment` scores every final utterance of a
 * transcript (protocol NDJSON) with the VADER-style sentiment of
 * lib/sentiment.h and prints one NDJSON record per utterance to stdout,
 * one NDJSON error record per bad line to stderr (docs/sentiment.md).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "cli.h"
#include "lines.h"
#include "proto.h"
#include "sentiment.h"

/* The longest protocol line read (as `earshot replay` by default). */
#define SENTIMENT_MAX_LINE 65536
/* A record: call id and words escaped (6 bytes per byte at worst), the
 * numbers and keys well within the rest. */
#define SENTIMENT_JSON_CAP (6 * (ES_CALL_ID_MAX + SENTIMENT_MAX_LINE) + 8192)

static void sentiment_usage(FILE *f) {
  fputs("usage: earshot sentiment [--asr] [--partials] [--lexicon PATH] [FILE|-]\n"
        "Reads protocol lines ({\"call_id\",\"speaker\",\"text\",\"ts\"}, one JSON object\n"
        "per line) from FILE or standard input and prints, for every final utterance,\n"
        "{\"call_id\",\"speaker\",\"line\",\"ts\"?,\"seq\"?,\"compound\",\"neg\",\"neu\",\"pos\",\n"
        "\"words\":[{\"word\",\"start\",\"end\",\"valence\",\"lexicon\"}]}: VADER sentiment as the\n"
        "npm package vader-sentiment scores it, and the words that carried it.\n"
        "  --asr          read speech-to-text output: rule words in any case, no\n"
        "                 emphasis from capitals, ’ as ', multi-word lexicon entries\n"
        "  --partials     score partial hypotheses too (\"final\":false)\n"
        "  --lexicon PATH a lexicon in lexicon/vader_lexicon.tsv's format instead of\n"
        "                 the built-in one\n",
        f);
}

/* Reads a whole lexicon file, at most ES_SENTIMENT_LEXICON_MAX bytes. */
static char *read_lexicon(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0;
  if (f == NULL) {
    fprintf(stderr, "earshot sentiment: cannot open %s: %m\n", path);
    return NULL;
  }
  buf = malloc((size_t)ES_SENTIMENT_LEXICON_MAX + 1);
  if (buf == NULL)
    goto fail;
  n = fread(buf, 1, (size_t)ES_SENTIMENT_LEXICON_MAX + 1, f);
  if (ferror(f)) {
    fprintf(stderr, "earshot sentiment: cannot read %s: %m\n", path);
    goto fail;
  }
  if (n > ES_SENTIMENT_LEXICON_MAX) {
    fprintf(stderr, "earshot sentiment: %s is larger than %u bytes\n", path,
            ES_SENTIMENT_LEXICON_MAX);
    goto fail;
  }
  fclose(f);
  *len = n;
  return buf;
fail:
  free(buf);
  fclose(f);
  return NULL;
}

/* Appends printf output to buf at *pos within cap; 0 or -1 when full. */
static int put(char *buf, size_t cap, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put(char *buf, size_t cap, size_t *pos, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *pos, cap - *pos, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *pos)
    return -1;
  *pos += (size_t)n;
  return 0;
}

/* The record for one scored utterance, with '\n'; its length, or -1 when
 * it does not fit (it always does within SENTIMENT_JSON_CAP). */
static long format_record(char *buf, size_t cap, const struct es_event *ev, long long lineno,
                          const struct es_sentiment_result *r) {
  size_t pos = 0;
  int bad = 0;
  bad |= put(buf, cap, &pos, "{\"call_id\":");
  bad |= es_json_str(buf, cap, &pos, ev->call_id, strlen(ev->call_id)) != 0;
  bad |= put(buf, cap, &pos, ",\"speaker\":\"%s\",\"line\":%lld", es_speaker_name(ev->speaker),
             lineno);
  if (ev->has_ts) {
    /* As alert records print it: the shortest of %.15g and %.17g that
     * reads back as the same double. */
    char ts[40];
    snprintf(ts, sizeof(ts), "%.15g", ev->ts);
    if (strtod(ts, NULL) != ev->ts)
      snprintf(ts, sizeof(ts), "%.17g", ev->ts);
    bad |= put(buf, cap, &pos, ",\"ts\":%s", ts);
  }
  if (ev->has_seq)
    bad |= put(buf, cap, &pos, ",\"seq\":%lld", (long long)ev->seq);
  if (!ev->final)
    bad |= put(buf, cap, &pos, ",\"final\":false");
  /* The package's rounding: compound to 4 decimals, the rest to 3. */
  bad |= put(buf, cap, &pos, ",\"compound\":%.4f,\"neg\":%.3f,\"neu\":%.3f,\"pos\":%.3f,\"words\":[",
             r->compound, r->neg, r->neu, r->pos);
  for (size_t i = 0; i < r->nwords; i++) {
    const struct es_sentiment_word *w = &r->words[i];
    bad |= put(buf, cap, &pos, "%s{\"word\":", i ? "," : "");
    bad |= es_json_str(buf, cap, &pos, ev->text + w->start, w->end - w->start) != 0;
    bad |= put(buf, cap, &pos, ",\"start\":%u,\"end\":%u,\"valence\":%.3f,\"lexicon\":%.4g}",
               w->start, w->end, w->valence, w->lexicon);
  }
  bad |= put(buf, cap, &pos, "]}\n");
  return bad ? -1 : (long)pos;
}

int es_cmd_sentiment(int argc, char **argv) {
  static const struct option longopts[] = {
    {"asr", no_argument, NULL, 'a'},
    {"partials", no_argument, NULL, 'p'},
    {"lexicon", required_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  const char *lexicon_path = NULL;
  unsigned flags = 0;
  int partials = 0, c, rc = 1, got;
  struct es_events in = {0};
  char *lexicon = NULL, *out = NULL;
  size_t lexicon_len = 0;
  struct es_sentiment *model = NULL;
  struct es_sentiment_scratch *scr = NULL;
  struct es_diags diags;
  long long nscored = 0, nerrors = 0;

  es_diags_init(&diags);
  optind = 1;
  while ((c = getopt_long(argc, argv, "apl:h", longopts, NULL)) != -1) {
    switch (c) {
    case 'a':
      flags |= ES_SENTIMENT_ASR;
      break;
    case 'p':
      partials = 1;
      break;
    case 'l':
      lexicon_path = optarg;
      break;
    case 'h':
      sentiment_usage(stdout);
      return 0;
    default:
      sentiment_usage(stderr);
      return 2;
    }
  }
  if (argc - optind > 1) {
    sentiment_usage(stderr);
    return 2;
  }
  if (es_events_open(&in, "sentiment", optind < argc ? argv[optind] : NULL,
                     SENTIMENT_MAX_LINE) != 0)
    goto done;
  if (lexicon_path != NULL && (lexicon = read_lexicon(lexicon_path, &lexicon_len)) == NULL)
    goto done;
  int mrc = es_sentiment_new(lexicon, lexicon_len, lexicon_path, &diags, &model);
  if (mrc != 0) {
    es_cli_print_diags(&diags);
    fprintf(stderr, "earshot sentiment: the lexicon does not load: %s\n", es_strerror(mrc));
    goto done;
  }
  scr = es_sentiment_scratch_new(SENTIMENT_MAX_LINE);
  out = malloc(SENTIMENT_JSON_CAP);
  if (scr == NULL || out == NULL) {
    fprintf(stderr, "earshot sentiment: out of memory\n");
    goto done;
  }

  struct es_event ev;
  while ((got = es_events_next(&in, &ev)) == 1) {
    struct es_sentiment_result res;
    long long lineno = in.rd.lineno;

    if (ev.type != ES_EV_UTTERANCE || (!ev.final && !partials))
      continue;
    /* The decoder has checked the text is UTF-8; it is never longer than
     * the line, so the scratch takes it. */
    if (es_sentiment_score(model, scr, ev.text, ev.text_len, flags, &res) != 0) {
      es_cli_line_error(lineno, "invalid_text", "text could not be scored", NULL);
      nerrors++;
      continue;
    }
    long n = format_record(out, SENTIMENT_JSON_CAP, &ev, lineno, &res);
    if (n < 0) {
      es_cli_line_error(lineno, "record_too_big", "the sentiment record does not fit its buffer",
                        NULL);
      nerrors++;
      continue;
    }
    fwrite(out, 1, (size_t)n, stdout);
    nscored++;
  }
  es_cli_flush_stdout();
  if (got < 0)
    goto done;
  fprintf(stderr, "sentiment: %lld lines, %lld utterances scored, %lld errors\n", in.lines,
          nscored, nerrors + in.errors);
  rc = 0;
done:
  es_events_close(&in);
  free(out);
  es_sentiment_scratch_free(scr);
  es_sentiment_free(model);
  free(lexicon);
  es_diags_deinit(&diags);
  return rc;
}
