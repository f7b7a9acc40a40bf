/*
 * test_proto_fast.c: the decoder's allocation-free fast path must decode
 * exactly like the cJSON path: same return code, same error code and
 * message, same event. Lines are generated (valid utterances in many
 * spellings, other types, and mutations of them) with a fixed seed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "task.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static unsigned pick(unsigned n) { return (unsigned)(rnd() % n); }

static const char *const texts[] = {
  "that's our policy",         "I want to speak to your manager", "caf\\u00e9 au lait",
  "quote \\\"inside\\\" here",  "tab\\there and\\nnewline",          "slash \\/ ok",
  "emoji \\ud83d\\ude00",       "nul \\u0000 byte",                  "lone \\ud800 surrogate",
  "bad \\x escape",             "plain ascii",                       "Zoë — “curly” ’",
  "",                           "back\\\\slash",                     "\\u0041\\u00DF\\u4e2d",
};
static const char *const speakers[] = {"agent", "customer", "bob", "", "Agent"};
static const char *const numbers[] = {"12.5", "0", "-1", "1e3", "1.5E-2", "007", "1.", ".5",
                                      "1e400", "-0", "9007199254740993", "3.0", "\"7\"",
                                      "true", "null", "[1]", "{\"a\":1}", "0.1", "123456.789",
                                      "3.14159265358979", "0.30000000000000004",
                                      "1234567890123456", "-0.000001", "42", "1795494818.996"};
static const char *const types[] = {NULL, "\"utterance\"", "\"end\"", "\"start\"", "\"hello\"",
                                    "5", "\"nope\""};

struct buf {
  char p[8192];
  size_t n;
};

static void add(struct buf *b, const char *s) {
  size_t l = strlen(s);
  if (b->n + l < sizeof(b->p)) {
    memcpy(b->p + b->n, s, l);
    b->n += l;
  }
}

static void ws(struct buf *b) {
  static const char *const w[] = {"", "", "", " ", "\t", "  ", "\n", "\r"};
  add(b, w[pick(8)]);
}

/* One line: fields in random order, sometimes duplicated or left out. */
static void gen(struct buf *b) {
  char tmp[256];
  int nfields = 0;
  b->n = 0;
  ws(b);
  add(b, "{");
  /* Mostly a real utterance's core, then random fields around it. */
  if (pick(4) != 0) {
    snprintf(tmp, sizeof(tmp), "\"call_id\":\"c-%u\",\"speaker\":\"%s\",\"text\":\"", pick(50),
             pick(6) ? speakers[pick(2)] : speakers[pick(5)]);
    add(b, tmp);
    add(b, texts[pick(sizeof(texts) / sizeof(texts[0]))]);
    add(b, "\"");
    nfields = 1;
  }
  for (int f = 0; f < 11; f++) {
    unsigned which = pick(11);
    if (pick(5) == 0)
      continue;
    if (nfields++)
      add(b, ",");
    ws(b);
    switch (which) {
    case 0: {
      const char *t = types[pick(7)];
      if (!t) {
        nfields--;
        if (nfields)
          b->n--; /* drop the comma */
        continue;
      }
      add(b, "\"type\":");
      add(b, t);
      break;
    }
    case 1:
      snprintf(tmp, sizeof(tmp), "\"call_id\":%s", pick(8) ? "\"c-17\"" : pick(2) ? "\"\"" : "17");
      add(b, tmp);
      break;
    case 2:
      snprintf(tmp, sizeof(tmp), "\"speaker\":\"%s\"", speakers[pick(5)]);
      add(b, tmp);
      break;
    case 3:
      add(b, pick(2) ? "\"text\":\"" : "\"te\\u0078t\":\"");
      add(b, texts[pick(sizeof(texts) / sizeof(texts[0]))]);
      add(b, "\"");
      break;
    case 4: add(b, "\"ts\":"); add(b, numbers[pick(sizeof(numbers) / sizeof(numbers[0]))]); break;
    case 5: add(b, "\"end_ts\":"); add(b, numbers[pick(sizeof(numbers) / sizeof(numbers[0]))]); break;
    case 6: add(b, "\"seq\":"); add(b, numbers[pick(sizeof(numbers) / sizeof(numbers[0]))]); break;
    case 7: add(b, "\"final\":"); add(b, pick(3) ? (pick(2) ? "true" : "false") : "\"no\""); break;
    case 8: add(b, "\"extra\":"); add(b, pick(2) ? "{\"nested\":[1,2]}" : "\"x\""); break;
    case 9: add(b, "\"agent_id\":\"a-1\""); break;
    default: add(b, "\"acks\":true"); break;
    }
    ws(b);
  }
  add(b, "}");
  ws(b);
  if (pick(4) == 0)
    add(b, pick(2) ? " x" : ",");
}

static void mutate(struct buf *b) {
  unsigned n = 1 + pick(3);
  for (unsigned k = 0; k < n && b->n; k++) {
    size_t at = pick((unsigned)b->n);
    switch (pick(4)) {
    case 0: b->p[at] = "{}[]\",:\\ a0u-.e\x01"[pick(17)]; break;
    case 1: b->n = at; break;
    case 2: memmove(b->p + at, b->p + at + 1, b->n - at - 1); b->n--; break;
    default:
      if (b->n + 1 < sizeof(b->p)) {
        memmove(b->p + at + 1, b->p + at, b->n - at);
        b->p[at] = "\"\\{}"[pick(4)];
        b->n++;
      }
    }
  }
}

static int str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

static size_t utterances;

static void compare(struct es_decoder *fast, struct es_decoder *slow, const char *line, size_t len,
                    size_t *ok_lines) {
  struct es_event ef, es;
  struct es_proto_error rf, rs;
  int cf = es_proto_decode(fast, line, len, &ef, &rf);
  int cs = es_proto_decode(slow, line, len, &es, &rs);

  if (cf != cs || !str_eq(rf.code, rs.code) || strcmp(rf.message, rs.message) != 0) {
    fprintf(stderr, "line: %.*s\nfast: %d %s %s\nslow: %d %s %s\n", (int)len, line, cf,
            rf.code ? rf.code : "-", rf.message, cs, rs.code ? rs.code : "-", rs.message);
    ASSERT(0);
  }
  if (cf != 0)
    return;
  (*ok_lines)++;
  utterances += es.type == ES_EV_UTTERANCE;
  ASSERT_EQ(ef.type, es.type);
  ASSERT(str_eq(ef.call_id, es.call_id));
  ASSERT_EQ(ef.text_len, es.text_len);
  if (ef.text || es.text)
    ASSERT_MEM_EQ(ef.text, ef.text_len, es.text, es.text_len);
  ASSERT_EQ(ef.speaker, es.speaker);
  ASSERT_EQ(ef.has_ts, es.has_ts);
  ASSERT(!ef.has_ts || ef.ts == es.ts);
  ASSERT_EQ(ef.has_end_ts, es.has_end_ts);
  ASSERT(!ef.has_end_ts || ef.end_ts == es.end_ts);
  ASSERT_EQ(ef.has_seq, es.has_seq);
  ASSERT_EQ(ef.seq, es.seq);
  ASSERT_EQ(ef.final, es.final);
  ASSERT_EQ(ef.acks, es.acks);
  ASSERT_EQ(ef.nattrs, es.nattrs);
}

static void test_paths_agree(void) {
  struct es_decoder *fast = es_decoder_new(4096), *slow = es_decoder_new(4096);
  struct buf b;
  size_t ok_lines = 0, total = 0;
#if defined(__SANITIZE_ADDRESS__)
  const int rounds = 60000;
#else
  const int rounds = 300000;
#endif

  ASSERT(fast && slow);
  es_decoder_set_fast(slow, 0);
  for (int i = 0; i < rounds; i++) {
    gen(&b);
    if (i % 3 == 0)
      mutate(&b);
    compare(fast, slow, b.p, b.n, &ok_lines);
    total++;
  }
  fprintf(stderr, "   %zu lines compared, %zu decoded, %zu utterances, %llu by the fast path\n",
          total, ok_lines, utterances, (unsigned long long)es_decoder_fast_lines(fast));
  /* the generator must exercise both outcomes, and the fast path must have
   * taken most of the lines that decode */
  ASSERT_GT(ok_lines, total / 100);
  ASSERT_LT(ok_lines, total);
  ASSERT_GT(es_decoder_fast_lines(fast), utterances / 4);
  ASSERT_EQ(es_decoder_fast_lines(slow), 0);
  es_decoder_free(fast);
  es_decoder_free(slow);
}

/* The common line takes the fast path and decodes every field. */
static void test_fast_fields(void) {
  struct es_decoder *d = es_decoder_new(4096);
  struct es_event ev;
  struct es_proto_error err;
  const char *line = "{\"call_id\":\"c-9\",\"speaker\":\"customer\",\"text\":\"caf\\u00e9 \\\"ok\\\"\","
                     "\"ts\":12.5,\"end_ts\":13.25,\"seq\":41,\"final\":false,\"other\":\"x\"}";
  ASSERT_EQ(es_proto_decode(d, line, strlen(line), &ev, &err), 0);
  ASSERT_EQ(es_decoder_fast_lines(d), 1);
  ASSERT_EQ(ev.type, ES_EV_UTTERANCE);
  ASSERT_STR_EQ(ev.call_id, "c-9");
  ASSERT_STR_EQ(ev.text, "caf\xc3\xa9 \"ok\"");
  ASSERT_EQ(ev.text_len, 10);
  ASSERT_EQ(ev.speaker, ES_SPEAKER_CUSTOMER);
  ASSERT(ev.has_ts && ev.ts == 12.5);
  ASSERT(ev.has_end_ts && ev.end_ts == 13.25);
  ASSERT(ev.has_seq && ev.seq == 41);
  ASSERT_EQ(ev.final, 0);
  /* a nested value is left to cJSON, with the same outcome */
  const char *nested = "{\"call_id\":\"c-9\",\"speaker\":\"agent\",\"text\":\"hi\",\"x\":[1,{}]}";
  ASSERT_EQ(es_proto_decode(d, nested, strlen(nested), &ev, &err), 0);
  ASSERT_EQ(es_decoder_fast_lines(d), 1);
  ASSERT_STR_EQ(ev.text, "hi");
  es_decoder_free(d);
}

int main(void) {
  RUN(test_fast_fields);
  RUN(test_paths_agree);
  return 0;
}
