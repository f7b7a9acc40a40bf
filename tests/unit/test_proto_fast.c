/*
 * test_proto_fast.c: the decoder's allocation-free fast path must decode
 * exactly like the cJSON path: same return code, same error code and
 * message, same event. Lines are generated (valid utterances, start and
 * end lines in many spellings, other types, and mutations of them) with a
 * fixed seed; a table of start and end lines pins the cases that matter.
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
  /* escapes and multi-byte text past the first 16- and 8-byte blocks */
  "a longer line of plain words, \\\"quoted\\\" past sixteen bytes, caf\\u00e9 and \\\\ too",
  "0123456789abcdef0123456789abcdefZo\u00eb \\t tab \\u00e9",
  "0123456789abcdef0123\x01" " a raw control byte past a block",
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

/* Metadata fields for start lines: names that are special to the decoder,
 * spelled plainly and with escapes, and values of every type. */
static const char *const meta_keys[] = {
  "agent_id", "queue", "customer", "lang", "region", "agent", "ag\\u0065nt_id", "q\\\"k",
  "caf\\u00e9", "", "speaker", "text", "final", "end_ts", "\\u0074s", "s\\u0065q",
  "call_\\u0069d", "typ\\u0065", "qu\\u0065ue", "customer ", "k\\ud83d\\ude00",
};
static const char *const meta_values[] = {
  "\"a-17\"", "\"billing\"", "\"\"", "\"caf\\u00e9\"", "\"q\\\"v\\\\\"", "\"tab\\t\\/\"",
  "\"\\ud83d\\ude00\"", "\"Zoë\"", "\"cust-263784\"", "\"\\u0041\\u00DF\\u4e2d\"",
  "1", "-2.5", "true", "false", "null", "[1]", "{\"a\":\"b\"}", "\"nul \\u0000\"", "2.50",
  "-1e3", "01", "1.", "[ 1 , { \"a\" : [ ] } ]", "[\"x\\ty\\u00e9\"]", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
};
static const char *const meta_types[] = {"\"start\"", "\"end\"", "\"st\\u0061rt\"", "\"\\u0065nd\"",
                                         "\"START\"", "5", "null", "\"utterance\""};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void meta_sep(struct buf *b, int *first) {
  if (!*first)
    add(b, ",");
  *first = 0;
  ws(b);
}

static void meta_field(struct buf *b) {
  char tmp[64];
  switch (pick(12)) {
  case 0: add(b, "\"ts\":"); add(b, numbers[pick(COUNT(numbers))]); break;
  case 1: add(b, "\"seq\":"); add(b, numbers[pick(COUNT(numbers))]); break;
  case 2: add(b, "\"type\":"); add(b, meta_types[pick(COUNT(meta_types))]); break;
  case 3: add(b, pick(2) ? "\"call_id\":\"c-other\"" : "\"call_id\":7"); break;
  case 4:
  case 5:
    /* many distinct plain names, to reach ES_ATTR_MAX */
    snprintf(tmp, sizeof(tmp), "\"k%u\":", pick(1000));
    add(b, tmp);
    add(b, pick(8) ? meta_values[pick(10)] : meta_values[pick(COUNT(meta_values))]);
    break;
  default:
    add(b, "\"");
    add(b, meta_keys[pick(COUNT(meta_keys))]);
    add(b, "\":");
    /* mostly strings, which the fast path takes itself */
    add(b, pick(8) ? meta_values[pick(10)] : meta_values[pick(COUNT(meta_values))]);
  }
  ws(b);
}

/* A start or end line: type, call_id and metadata in random order, with
 * escapes, duplicate names, wrong types and, now and then, about
 * ES_ATTR_MAX metadata fields. */
static void gen_meta(struct buf *b) {
  unsigned nfields = pick(4) ? pick(8) : ES_ATTR_MAX - 4 + pick(10);
  unsigned type_at = pick(nfields + 1), call_at = pick(nfields + 1);
  int first = 1;
  char tmp[256];

  b->n = 0;
  ws(b);
  add(b, "{");
  for (unsigned f = 0; f <= nfields; f++) {
    if (f == type_at && pick(32)) {
      meta_sep(b, &first);
      add(b, "\"type\"");
      ws(b);
      add(b, ":");
      ws(b);
      add(b, pick(8) ? meta_types[pick(2)] : meta_types[pick(COUNT(meta_types))]);
      ws(b);
    }
    if (f == call_at && pick(32)) {
      meta_sep(b, &first);
      if (pick(16))
        snprintf(tmp, sizeof(tmp), "\"call_id\":\"load-%07u\"", pick(100000));
      else
        snprintf(tmp, sizeof(tmp), "\"call_id\":\"%s\"", pick(2) ? "" : "caf\\u00e9 \\\"q\\\"");
      add(b, tmp);
      ws(b);
    }
    if (f < nfields) {
      meta_sep(b, &first);
      meta_field(b);
    }
  }
  add(b, "}");
  ws(b);
  if (pick(16) == 0)
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

/* Doubles compared bit for bit: 0.0 and -0.0 differ. */
static int double_eq(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

/* What compare() saw, by outcome. */
struct tally {
  size_t lines, ok, utterances, starts, ends;
  size_t fast_starts, fast_ends; /* decoded by the fast path */
};

/* Decodes the line with both decoders and asserts the same outcome and the
 * same event, every field of it. Returns 1 when the fast decoder took its
 * fast path. */
static int compare(struct es_decoder *fast, struct es_decoder *slow, const char *line, size_t len,
                   struct tally *t) {
  struct es_event ef, es;
  struct es_proto_error rf, rs;
  uint64_t before = es_decoder_fast_lines(fast);
  int cf = es_proto_decode(fast, line, len, &ef, &rf);
  int cs = es_proto_decode(slow, line, len, &es, &rs);
  int took_fast = es_decoder_fast_lines(fast) != before;

  if (cf != cs || !str_eq(rf.code, rs.code) || strcmp(rf.message, rs.message) != 0) {
    fprintf(stderr, "line: %.*s\nfast: %d %s %s\nslow: %d %s %s\n", (int)len, line, cf,
            rf.code ? rf.code : "-", rf.message, cs, rs.code ? rs.code : "-", rs.message);
    ASSERT(0);
  }
  t->lines++;
  ASSERT(cf == 0 || !took_fast);
  if (cf != 0)
    return took_fast;
  t->ok++;
  t->utterances += es.type == ES_EV_UTTERANCE;
  t->starts += es.type == ES_EV_START;
  t->ends += es.type == ES_EV_END;
  t->fast_starts += es.type == ES_EV_START && took_fast;
  t->fast_ends += es.type == ES_EV_END && took_fast;
  ASSERT_EQ(ef.type, es.type);
  ASSERT(str_eq(ef.call_id, es.call_id));
  ASSERT_EQ(ef.text_len, es.text_len);
  if (ef.text || es.text)
    ASSERT_MEM_EQ(ef.text, ef.text_len, es.text, es.text_len);
  ASSERT_EQ(ef.speaker, es.speaker);
  ASSERT_EQ(ef.has_ts, es.has_ts);
  ASSERT(double_eq(ef.ts, es.ts));
  ASSERT_EQ(ef.has_end_ts, es.has_end_ts);
  ASSERT(double_eq(ef.end_ts, es.end_ts));
  ASSERT_EQ(ef.has_seq, es.has_seq);
  ASSERT_EQ(ef.seq, es.seq);
  ASSERT_EQ(ef.final, es.final);
  ASSERT_EQ(ef.acks, es.acks);
  ASSERT(str_eq(ef.client, es.client));
  ASSERT(str_eq(ef.token, es.token));
  ASSERT(str_eq(ef.agent, es.agent));
  ASSERT(str_eq(ef.queue, es.queue));
  ASSERT(str_eq(ef.customer, es.customer));
  ASSERT_EQ(ef.nattrs, es.nattrs);
  ASSERT_EQ(ef.attr_json, es.attr_json);
  for (size_t i = 0; i < ef.nattrs; i++) { /* entries past nattrs are not the event's */
    ASSERT(str_eq(ef.attr_keys[i], es.attr_keys[i]));
    ASSERT(str_eq(ef.attr_values[i], es.attr_values[i]));
  }
  ASSERT_EQ(ef.alert_id, es.alert_id);
  ASSERT(str_eq(ef.mark, es.mark));
  ASSERT(str_eq(ef.by, es.by));
  ASSERT(str_eq(ef.note, es.note));
  return took_fast;
}

static void test_paths_agree(void) {
  struct es_decoder *fast = es_decoder_new(4096), *slow = es_decoder_new(4096);
  struct buf b;
  struct tally t = {0};
#if defined(__SANITIZE_ADDRESS__)
  const int rounds = 60000;
#else
  const int rounds = 300000;
#endif

  ASSERT(fast && slow);
  es_decoder_set_fast(slow, 0);
  for (int i = 0; i < rounds; i++) {
    if (i % 2)
      gen(&b);
    else
      gen_meta(&b);
    if (i % 3 == 0)
      mutate(&b);
    compare(fast, slow, b.p, b.n, &t);
  }
  fprintf(stderr,
          "   %zu lines compared, %zu decoded, %zu utterances, %zu starts (%zu fast), "
          "%zu ends (%zu fast), %llu by the fast path\n",
          t.lines, t.ok, t.utterances, t.starts, t.fast_starts, t.ends, t.fast_ends,
          (unsigned long long)es_decoder_fast_lines(fast));
  /* the generator must exercise both outcomes, and the fast path must have
   * taken most of the lines that decode */
  ASSERT_GT(t.ok, t.lines / 100);
  ASSERT_LT(t.ok, t.lines);
  ASSERT_GT(es_decoder_fast_lines(fast), t.utterances / 4);
  ASSERT_GT(t.starts, t.lines / 100);
  ASSERT_GT(t.ends, t.lines / 100);
  ASSERT_GT(t.fast_starts, t.starts / 2);
  ASSERT_GT(t.fast_ends, t.ends / 2);
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

/* Start and end lines of the load corpus's shape take the fast path and
 * give the cJSON path's event: metadata kept in order, agent_id, queue and
 * customer named, the strings valid until the next decode. */
static void test_fast_start_end(void) {
  struct es_decoder *d = es_decoder_new(4096);
  struct es_event ev;
  struct es_proto_error err;
  const char *start = "{\"type\":\"start\",\"call_id\":\"load-0000014\",\"agent_id\":\"agent-111\","
                      "\"queue\":\"billing\",\"customer\":\"cust-263784\",\"l\\u00e9\\\"x\":"
                      "\"caf\\u00e9\",\"ts\":100.5,\"seq\":1,\"agent_id\":\"agent-112\"}";
  const char *end = "{\"type\":\"end\",\"call_id\":\"load-0000014\",\"seq\":9,\"x\":[1]}";
  const char *end_flat = "{\"type\":\"end\",\"call_id\":\"load-0000014\",\"seq\":9,\"ts\":250.25,"
                         "\"agent_id\":\"a\",\"final\":true,\"n\":null}";

  ASSERT(d);
  ASSERT_EQ(es_proto_decode(d, start, strlen(start), &ev, &err), 0);
  ASSERT_EQ(es_decoder_fast_lines(d), 1);
  ASSERT_EQ(ev.type, ES_EV_START);
  ASSERT_STR_EQ(ev.call_id, "load-0000014");
  ASSERT(ev.has_ts && ev.ts == 100.5);
  ASSERT(ev.has_seq && ev.seq == 1);
  ASSERT_STR_EQ(ev.agent, "agent-112"); /* the last agent_id, as the cJSON loop leaves it */
  ASSERT_STR_EQ(ev.queue, "billing");
  ASSERT_STR_EQ(ev.customer, "cust-263784");
  ASSERT_EQ(ev.nattrs, 5);
  ASSERT_STR_EQ(ev.attr_keys[0], "agent_id");
  ASSERT_STR_EQ(ev.attr_values[0], "agent-111");
  ASSERT_STR_EQ(ev.attr_keys[3], "l\xc3\xa9\"x");
  ASSERT_STR_EQ(ev.attr_values[3], "caf\xc3\xa9");
  ASSERT_STR_EQ(ev.attr_keys[4], "agent_id");
  ASSERT_STR_EQ(ev.attr_values[4], "agent-112");
  ASSERT_EQ(ev.final, 0);
  /* a nested value, ignored on an end line, is left to cJSON */
  ASSERT_EQ(es_proto_decode(d, end, strlen(end), &ev, &err), 0);
  ASSERT_EQ(es_decoder_fast_lines(d), 1);
  ASSERT_EQ(ev.type, ES_EV_END);
  ASSERT_EQ(es_proto_decode(d, end_flat, strlen(end_flat), &ev, &err), 0);
  ASSERT_EQ(es_decoder_fast_lines(d), 2);
  ASSERT_EQ(ev.type, ES_EV_END);
  ASSERT_STR_EQ(ev.call_id, "load-0000014");
  ASSERT(ev.has_ts && ev.ts == 250.25);
  ASSERT(ev.has_seq && ev.seq == 9);
  ASSERT(ev.agent == NULL);
  ASSERT_EQ(ev.nattrs, 0);
  es_decoder_free(d);
}

/* Lines that pin what the start and end branches do. `code` is the error
 * both paths give (NULL: the line decodes); `fast` says whether the fast
 * path takes it. */
struct meta_case {
  const char *line;
  const char *code;
  int fast;
};

static const struct meta_case meta_cases[] = {
  {"{\"type\":\"start\",\"call_id\":\"c1\"}", NULL, 1},
  {"{\"call_id\":\"c1\",\"type\":\"start\"}", NULL, 1},
  {" {\n\"type\" :\t\"start\" ,\r\"call_id\" : \"c1\" ,\"queue\":\"q\" }\t \r", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"agent\":\"a\",\"lang\":\"en\"}", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"queue\":\"q1\",\"queue\":\"q2\",\"queue\":\"q3\"}",
   NULL, 1},
  /* type, call_id, ts and seq are never metadata, whatever a repeat holds */
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"ts\":1,\"seq\":2,\"type\":\"end\",\"call_id\":\"c2\","
   "\"ts\":\"x\",\"seq\":true}", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"ts\":1,\"ts\":[1]}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"ts\":\"x\",\"ts\":1}", "wrong_type", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"seq\":null,\"ts\":null}", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"seq\":1e3,\"ts\":-0}", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"seq\":-1}", "wrong_type", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"seq\":1.5}", "wrong_type", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"ts\":1e400}", "wrong_type", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"ts\":true}", "wrong_type", 0},
  /* names and values are compared decoded */
  {"{\"t\\u0079pe\":\"st\\u0061rt\",\"call\\u005fid\":\"c1\",\"\\u0074s\":5,\"agent\\u005fid\":"
   "\"a\\/b\"}", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"q\\\"k\":\"v\\\\\\\"w\",\"\":\"\",\"\\u00e9\\u4e2d\":"
   "\"\\b\\f\\n\\r\\t\"}", NULL, 1},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"k\":\"\\ud83d\\ude00\"}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"\\ud83d\\ude00\":\"v\"}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"k\":\"\\ud83d\"}", "invalid_utf8", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"k\":\"\\ude00\\ud83d\"}", "invalid_utf8", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"k\":\"\\u00zz\"}", "invalid_json", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"k\\u0000\":\"v\"}", "nul_byte", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"k\":\"\\x\"}", "invalid_json", 0},
  /* metadata that is not a string is the cJSON path's to keep */
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"agent_id\":7}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"agent_id\":null}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"final\":true}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"end_ts\":3}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"x\":{\"a\":\"b\"}}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"x\":[]}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"x\":01}", "invalid_json", 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
   "too_deep", 0},
  /* call_id */
  {"{\"type\":\"start\"}", "missing_field", 0},
  {"{\"type\":\"end\",\"call_id\":\"\"}", "empty_field", 0},
  {"{\"type\":\"end\",\"call_id\":5}", "wrong_type", 0},
  {"{\"type\":\"end\",\"call_id\":null}", "wrong_type", 0},
  /* the type */
  {"{\"type\":\"START\",\"call_id\":\"c1\"}", "unknown_type", 0},
  {"{\"type\":\"star\",\"call_id\":\"c1\"}", "unknown_type", 0},
  {"{\"type\":\"ends\",\"call_id\":\"c1\"}", "unknown_type", 0},
  {"{\"type\":null,\"call_id\":\"c1\"}", "wrong_type", 0},
  {"{\"type\":\"end\",\"type\":\"start\",\"call_id\":\"c1\",\"k\":1}", NULL, 1},
  /* an end line ignores everything else */
  {"{\"type\":\"end\",\"call_id\":\"c1\"}", NULL, 1},
  {"{\"type\":\"end\",\"call_id\":\"c1\",\"ts\":9.5,\"seq\":3,\"final\":false,\"k\":1,"
   "\"queue\":\"q\",\"end_ts\":\"x\",\"speaker\":null}", NULL, 1},
  {"{\"type\":\"end\",\"call_id\":\"c1\",\"ts\":\"9.5\"}", "wrong_type", 0},
  {"{\"type\":\"end\",\"call_id\":\"c1\",\"x\":{}}", NULL, 0},
  /* not JSON, or not only JSON */
  {"{\"type\":\"end\",\"call_id\":\"c1\"} x", "invalid_json", 0},
  {"{\"type\":\"end\",\"call_id\":\"c1\",}", "invalid_json", 0},
  {"{\"type\":\"end\",\"call_id\":\"c1\"", "invalid_json", 0},
  {"{\"type\":\"end\",\"call_id\":\"c1\"}\n", "invalid_json", 0},
  /* cJSON reads numbers JSON does not allow; the fast path leaves them to it */
  {"{\"type\":\"end\",\"call_id\":\"c1\",\"n\":01}", NULL, 0},
  {"{\"type\":\"start\",\"call_id\":\"c1\",\"seq\":01}", NULL, 0},
};

/* A start line with `n` metadata fields (and type, call_id, ts and seq
 * repeated between them, which do not count). */
static size_t many_attrs(char *line, size_t cap, int n) {
  size_t len = (size_t)snprintf(line, cap, "{\"type\":\"start\",\"call_id\":\"c1\"");
  for (int i = 0; i < n && len < cap; i++)
    len += (size_t)snprintf(line + len, cap - len, ",\"k%d\":\"v%d\"%s", i, i,
                            i % 8 == 0 ? ",\"seq\":2,\"ts\":1,\"type\":\"x\",\"call_id\":\"c\"" : "");
  if (len < cap)
    len += (size_t)snprintf(line + len, cap - len, "}");
  ASSERT_LT(len, cap);
  return len;
}

static void test_start_end_cases(void) {
  struct es_decoder *fast = es_decoder_new(4096), *slow = es_decoder_new(4096);
  struct tally t = {0};
  char line[2048];
  size_t len;

  ASSERT(fast && slow);
  es_decoder_set_fast(slow, 0);
  for (size_t i = 0; i < COUNT(meta_cases); i++) {
    const struct meta_case *c = &meta_cases[i];
    struct es_event ev;
    struct es_proto_error err;
    int rc = es_proto_decode(slow, c->line, strlen(c->line), &ev, &err);
    if ((rc == 0) != (c->code == NULL) || (c->code && strcmp(c->code, err.code) != 0) ||
        compare(fast, slow, c->line, strlen(c->line), &t) != c->fast)
      ES_FAIL_("case %zu: %s: got %s, fast path %s", i, c->line, rc ? err.code : "decoded",
               c->fast ? "expected" : "not expected");
  }
  /* ES_ATTR_MAX metadata fields are kept; one more is an error */
  len = many_attrs(line, sizeof(line), ES_ATTR_MAX);
  ASSERT_EQ(compare(fast, slow, line, len, &t), 1);
  {
    struct es_event ev;
    struct es_proto_error err;
    ASSERT_EQ(es_proto_decode(fast, line, len, &ev, &err), 0);
    ASSERT_EQ(ev.nattrs, ES_ATTR_MAX);
    ASSERT_STR_EQ(ev.attr_keys[ES_ATTR_MAX - 1], "k31");
    ASSERT_STR_EQ(ev.attr_values[ES_ATTR_MAX - 1], "v31");
    len = many_attrs(line, sizeof(line), ES_ATTR_MAX + 1);
    ASSERT_EQ(compare(fast, slow, line, len, &t), 0);
    ASSERT(es_proto_decode(fast, line, len, &ev, &err) < 0);
    ASSERT_STR_EQ(err.code, "too_many_fields");
  }
  /* the longest call_id, and one byte more */
  memset(line, 0, sizeof(line));
  len = (size_t)snprintf(line, sizeof(line), "{\"type\":\"end\",\"call_id\":\"%0*d\"}",
                         ES_CALL_ID_MAX, 0);
  ASSERT_EQ(compare(fast, slow, line, len, &t), 1);
  len = (size_t)snprintf(line, sizeof(line), "{\"type\":\"end\",\"call_id\":\"%0*d\"}",
                         ES_CALL_ID_MAX + 1, 0);
  ASSERT_EQ(compare(fast, slow, line, len, &t), 0);
  es_decoder_free(fast);
  es_decoder_free(slow);
}

int main(void) {
  RUN(test_fast_fields);
  RUN(test_fast_start_end);
  RUN(test_start_end_cases);
  RUN(test_paths_agree);
  return 0;
}
