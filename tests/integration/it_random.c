/*
 * it_random.c: earshotd with the bundled rules under a long stream of
 * generated lines, good and bad mixed as a careless platform would send
 * them: start lines with any number of metadata fields (none, the limit,
 * past it), utterances with trigger phrases, card numbers, e-mail
 * addresses, escapes and non-ASCII text, partial hypotheses, ends of calls
 * open or not, odd and missing times, wrong types, truncated JSON, invalid
 * UTF-8, NUL escapes, blank lines, lines over the limit, stats requests and
 * rule reloads, over three connections at once. The same seed every run.
 *
 * What must hold: every error record names a code and a message; the
 * connections stay open; the last line of each connection is acknowledged
 * (so every line before it was handled); the daemon still answers stats;
 * SIGTERM stops it with exit 0; the database passes integrity_check and
 * holds every alert a connection received; no card number (in a line or in
 * call metadata, sent as a string or as a number) reaches the database files. Under AddressSanitizer (CI's second build) any memory
 * error in the daemon fails the test through the exit status.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../prng.h"
#include "harness.h"

#define CONNS 3
#define LINES_PER_CONN 6000
#define CALLS_PER_CONN 40

static const char *pick(const char *const *v, size_t n) { return v[prng_below((uint32_t)n)]; }
#define PICK(v) pick(v, sizeof(v) / sizeof(v[0]))

/* Pieces of text, as JSON string contents (already escaped). */
static const char *const words[] = {
  "I want to speak to a manager", "calm down", "that's our policy", "I'm going to sue you",
  "cancel my account", "this is ridiculous", "you idiot", "I'm so sorry about that",
  "let me see what I can do", "there's nothing I can do", "my card is 4111 1111 1111 1111",
  "email me at john.doe@example.com", "call me on 555-123-4567", "security code 737",
  "my social is 123-45-6789", "caf\\u00e9 na\\u00efve", "\xf0\x9f\x98\xa1 angry",
  "quote \\\"this\\\" and a \\\\ backslash", "tab\\there\\nnew line", "OK", "hmm", "",
  "I'VE CALLED FIVE TIMES", "is this the third time?!", "I will go to the press",
  "fine", "whatever", "this is the last straw", "switching to verizon", "ok thanks bye",
};

static const char *const attr_keys[] = {"agent_id", "queue", "customer", "note", "lang",
                                        "region", "k\\u00e9y", "x"};
/* JSON values of every type: metadata keeps them all (null as absent). */
static const char *const attr_values[] = {
  "\"a-1\"", "\"billing\"", "\"cust-9\"", "\"\"", "\"say \\\"hi\\\"\"", "\"\\u00e9t\\u00e9\"",
  "\"4111 1111 1111 1111\"", "\"v\"", "204", "2.50", "-1e3", "true", "false", "null",
  "[\"a\", {\"b\": [1, 2.0]}]", "{}", "4111111111111111", "[4111111111111111]"};

/* Malformed lines: each must get an error record (or, for a blank line,
 * be ignored), never take the connection down. */
static const char *const bad[] = {
  "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"trunc",
  "not json at all",
  "[1,2,3]",
  "{\"call_id\":5,\"speaker\":\"agent\",\"text\":\"hi\"}",
  "{\"call_id\":\"x\",\"speaker\":\"nobody\",\"text\":\"hi\"}",
  "{\"call_id\":\"x\",\"speaker\":\"agent\"}",
  "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"a\\u0000b\"}",
  "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"\xc3\x28 bad utf8\"}",
  "{\"type\":\"bogus\",\"call_id\":\"x\"}",
  "{\"type\":\"start\",\"call_id\":\"x\",\"queue\":07}",
  "{\"type\":\"end\"}",
  "{\"call_id\":\"x\",\"speaker\":\"agent\",\"text\":\"hi\",\"ts\":\"soon\"}",
  "{\"call_id\":\"\",\"speaker\":\"agent\",\"text\":\"hi\"}",
  "",
};

static void add_ts(struct it_str *s, double *t) {
  switch (prng_below(20)) {
  case 0: break;                                  /* no ts */
  case 1: it_str_addf(s, ",\"ts\":-5"); break;    /* before the call began */
  case 2: it_str_addf(s, ",\"ts\":1e300"); break; /* absurd */
  default:
    *t += (double)prng_below(4000) / 1000.0;
    it_str_addf(s, ",\"ts\":%.3f", *t);
    if (prng_below(3) == 0)
      it_str_addf(s, ",\"end_ts\":%.3f", *t + (double)prng_below(3000) / 1000.0);
  }
}

/* One generated line (no newline) into s; *seq is the next seq. A call
 * that ended is not spoken of again: its id gets a new generation, so
 * that every alert key stays unique and the store keeps every alert. */
static void gen_line(struct it_str *s, int conn, int64_t *seq, double *times, int *gens) {
  int slot = (int)prng_below(CALLS_PER_CONN);
  int call = slot * 1000 + gens[slot];
  uint32_t k = prng_below(100);

  if (k < 6) { /* a start line, with 0 .. ES_ATTR_MAX + 2 fields */
    it_str_addf(s, "{\"type\":\"start\",\"call_id\":\"r-%d-%d\"", conn, call);
    uint32_t n = prng_below(4) == 0 ? prng_below(36) : prng_below(4);
    for (uint32_t i = 0; i < n; i++)
      it_str_addf(s, ",\"%s%u\":%s", PICK(attr_keys), i, PICK(attr_values));
    it_str_addf(s, ",\"seq\":%" PRId64 "}", (*seq)++);
  } else if (k < 10) {
    it_str_addf(s, "{\"type\":\"end\",\"call_id\":\"r-%d-%d\",\"seq\":%" PRId64 "}", conn, call,
                (*seq)++);
    gens[slot]++;
    times[slot] = 0;
  } else if (k < 14) {
    it_str_addf(s, "%s", PICK(bad));
  } else if (k < 15) {
    it_str_addf(s, "{\"type\":\"stats\"}");
  } else if (k == 15 && prng_below(10) == 0) {
    /* over the 64 KiB limit */
    it_str_addf(s, "{\"call_id\":\"r-%d-%d\",\"speaker\":\"agent\",\"text\":\"", conn, call);
    for (int i = 0; i < 70000 / 8; i++)
      it_str_add(s, "calm dn ", 8);
    it_str_addf(s, "\",\"seq\":%" PRId64 "}", (*seq)++);
  } else {
    static const char *const speakers[] = {"agent", "customer", "customer"};
    it_str_addf(s, "{\"call_id\":\"r-%d-%d\",\"speaker\":\"%s\",\"text\":\"", conn, call,
                PICK(speakers));
    for (uint32_t i = 0, n = 1 + prng_below(4); i < n; i++)
      it_str_addf(s, "%s%s", i ? " " : "", PICK(words));
    it_str_addf(s, "\"");
    add_ts(s, &times[slot]);
    if (prng_below(12) == 0)
      it_str_addf(s, ",\"final\":false");
    it_str_addf(s, ",\"seq\":%" PRId64 "}", (*seq)++);
  }
}

struct tally {
  int64_t alerts, errors, last_ack;
  int stats, reloads;
};

static void tally(struct tally *t, cJSON *m) {
  const char *type = it_jtype(m);
  if (strcmp(type, "alert") == 0) {
    t->alerts++;
  } else if (strcmp(type, "error") == 0) {
    t->errors++;
    ASSERT(strlen(it_jstr(m, "code")) > 0);
    ASSERT(strlen(it_jstr(m, "message")) > 0);
  } else if (strcmp(type, "ack") == 0) {
    int64_t seq = it_jint(m, "seq");
    ASSERT_GT(seq, t->last_ack);
    t->last_ack = seq;
  } else if (strcmp(type, "stats") == 0) {
    t->stats++;
  } else if (strcmp(type, "reload") == 0) {
    /* The same rules again: a swap, or "one is already running". */
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(m, "ok");
    ASSERT(cJSON_IsBool(ok));
    t->reloads += cJSON_IsTrue(ok);
  } else if (strcmp(type, "hello") != 0) {
    char *text = cJSON_PrintUnformatted(m);
    IT_FAIL("unexpected message: %.200s", text ? text : "?");
  }
}

/* it_expect()'s hook for what arrives before the message waited for: a
 * reload's answer, alerts of a call's silence, a late ack. */
static void tally_other(void *ud, cJSON *m) { tally(ud, m); }

static void take(struct it_conn *c, struct tally *t) {
  char *line;
  while ((line = it_take_line(c)) != NULL) {
    cJSON *m = cJSON_Parse(line);
    if (m == NULL)
      IT_FAIL("earshotd sent a line that is not JSON: %.200s", line);
    tally(t, m);
    cJSON_Delete(m);
    free(line);
  }
}

static void test_random_stream(void) {
  struct it_daemon d;
  struct it_conn *c[CONNS];
  struct it_str out[CONNS];
  struct tally t[CONNS];
  int64_t seq[CONNS], last_seq[CONNS];
  double times[CONNS][CALLS_PER_CONN];
  int gens[CONNS][CALLS_PER_CONN];
  size_t sent[CONNS];
  int64_t errors = 0, alerts = 0;

  it_start(&d, NULL);
  memset(out, 0, sizeof(out));
  memset(t, 0, sizeof(t));
  memset(times, 0, sizeof(times));
  memset(gens, 0, sizeof(gens));
  for (int i = 0; i < CONNS; i++) {
    c[i] = it_connect(&d);
    it_str_addf(&out[i], "{\"type\":\"hello\",\"client\":\"random-%d\",\"acks\":true}\n", i);
    seq[i] = 1;
    for (int n = 0; n < LINES_PER_CONN; n++) {
      gen_line(&out[i], i, &seq[i], times[i], gens[i]);
      it_str_add(&out[i], "\n", 1);
      /* Now and then a rule reload, calls in progress on every connection. */
      if (i == 0 && n % 2000 == 1000)
        it_str_addf(&out[i], "{\"type\":\"reload\"}\n");
    }
    /* A last plain line: its ack says every line before it was handled. */
    last_seq[i] = seq[i];
    it_str_addf(&out[i], "{\"call_id\":\"r-%d-last\",\"speaker\":\"agent\",\"text\":\"the end\","
                         "\"seq\":%" PRId64 "}\n", i, last_seq[i]);
    sent[i] = 0;
  }

  /* Write all three streams at once, reading whatever comes back. */
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(120000);
  for (;;) {
    int done = 1;
    for (int i = 0; i < CONNS; i++) {
      if (sent[i] < out[i].len) {
        long n = it_send_some(c[i], out[i].p + sent[i], out[i].len - sent[i]);
        ASSERT(n >= 0); /* the daemon never closes on us */
        sent[i] += (size_t)n;
      }
      if (it_recv_some(c[i]) < 0)
        IT_FAIL("earshotd closed connection %d", i);
      take(c[i], &t[i]);
      done &= sent[i] == out[i].len && t[i].last_ack == last_seq[i];
    }
    if (done)
      break;
    ASSERT(it_now_ms() < deadline);
    struct pollfd pfd[CONNS];
    for (int i = 0; i < CONNS; i++)
      pfd[i] = (struct pollfd){.fd = c[i]->fd,
                               .events = POLLIN | (sent[i] < out[i].len ? POLLOUT : 0)};
    it_poll(pfd, CONNS, 100);
  }
  for (int i = 0; i < CONNS; i++) {
    errors += t[i].errors;
    alerts += t[i].alerts;
    ASSERT_GT(t[i].stats, 0);
  }
  fprintf(stderr, "   %d lines over %d connections: %" PRId64 " alerts, %" PRId64
                  " error records, %d reloads, all acknowledged\n",
          CONNS * (LINES_PER_CONN + 1), CONNS, alerts, errors, t[0].reloads);
  ASSERT_GT(alerts, 1000);
  ASSERT_GT(errors, 100);
  ASSERT_GE(t[0].reloads, 1);

  /* Still answering. */
  ASSERT_EQ(it_sendf(c[0], "{\"type\":\"stats\"}"), 0);
  cJSON *m = it_expect(c[0], "stats", -1, tally_other, &t[0]);
  ASSERT_GE(it_jint(m, "alerts"), alerts);
  cJSON_Delete(m);

  for (int i = 0; i < CONNS; i++) {
    it_close(c[i]);
    it_str_free(&out[i]);
  }
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check "
                          "= 'ok'", NULL), 1);
  ASSERT_GE(it_db_int(db, "SELECT count(*) FROM alerts", NULL), alerts);
  sqlite3_close(db);
  char wal[256];
  snprintf(wal, sizeof(wal), "%s-wal", d.db);
  static const char card[] = "4111 1111 1111 1111", card_number[] = "4111111111111111";
  ASSERT(!it_file_contains(d.db, card, strlen(card)));
  ASSERT(!it_file_contains(wal, card, strlen(card)));
  ASSERT(!it_file_contains(d.db, card_number, strlen(card_number)));
  ASSERT(!it_file_contains(wal, card_number, strlen(card_number)));
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  prng_seed(0x9e3779b97f4a7c15ULL);
  RUN(test_random_stream);
  return 0;
}
