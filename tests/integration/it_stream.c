/*
 * it_stream.c: earshotd streaming through the real socket into the real
 * database: concurrent connections with interleaved writes, acks that
 * arrive only after the alerts are committed, and card numbers that never
 * reach the database files.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* ---- what each test line should raise ----------------------------------- */

struct variant {
  const char *text;    /* JSON-safe as is */
  const char *trigger; /* the words it.trigger matches, or NULL */
  const char *policy;  /* it.policy (agent only) */
  const char *manager; /* it.manager (customer only) */
};

static const struct variant variants[] = {
  {"hello there, how can I help you today", NULL, NULL, NULL},
  {"\xc3\x87" "a va? We are at the zebra crossing again \xe2\x98\x95", "zebra crossing", NULL, NULL},
  {"sorry, that's our policy", NULL, "that's our policy", NULL},
  {"please just get me your manager", NULL, NULL, "get me your manager"},
  {"that's our policy at the zebra crossing, now get me your manager", "zebra crossing",
   "that's our policy", "get me your manager"},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

enum { R_TRIGGER, R_POLICY, R_MANAGER, NRULES };
static const char *const rule_ids[NRULES] = {"it.trigger", "it.policy", "it.manager"};

static int rule_index(const char *id) {
  for (int r = 0; r < NRULES; r++)
    if (strcmp(rule_ids[r], id) == 0)
      return r;
  IT_FAIL("alert for an unexpected rule \"%s\"", id);
}

/* The words rule r matches in variant v spoken by `agent`, or NULL. */
static const char *expected_words(const struct variant *v, int r, int agent) {
  switch (r) {
  case R_TRIGGER: return v->trigger;
  case R_POLICY: return agent ? v->policy : NULL;
  default: return agent ? NULL : v->manager;
  }
}

/* Checks one alert message against the line that raised it. */
static void check_alert(const cJSON *a, const char *call_id, int64_t seq, double ts,
                        const struct variant *v, int agent, int r) {
  const char *words = expected_words(v, r, agent);
  const struct it_rule *info = it_rule(rule_ids[r]);
  if (words == NULL)
    IT_FAIL("rule %s fired on \"%s\" (%s, seq %" PRId64 ") and should not", rule_ids[r],
            v->text, agent ? "agent" : "customer", seq);
  long start = strstr(v->text, words) - v->text;
  ASSERT_STR_EQ(it_jstr(a, "call_id"), call_id);
  ASSERT_STR_EQ(it_jstr(a, "category"), info->category);
  ASSERT_STR_EQ(it_jstr(a, "severity"), info->severity);
  ASSERT_STR_EQ(it_jstr(a, "speaker"), agent ? "agent" : "customer");
  ASSERT_STR_EQ(it_jstr(a, "text"), v->text);
  ASSERT_STR_EQ(it_jstr(a, "tip"), info->tip);
  ASSERT_STR_EQ(it_jstr(a, "matched"), words);
  ASSERT_EQ(it_jint(a, "match_start"), start);
  ASSERT_EQ(it_jint(a, "match_end"), start + (long)strlen(words));
  ASSERT(fabs(cJSON_GetObjectItemCaseSensitive(a, "ts")->valuedouble - ts) < 1e-9);
}

/* Checks that exactly one row stores this alert, with every field right. */
static void check_row(sqlite3 *db, const char *call_id, double ts, const struct variant *v,
                      int agent, int r, const char *rule_set) {
  static const char sql[] =
      "SELECT category, severity, speaker, text, match_start, match_end, tip, rule_set, "
      "matched, alert_key FROM alerts WHERE call_id = ?1 AND rule_id = ?2 AND call_ts = ?3";
  const char *words = expected_words(v, r, agent);
  const struct it_rule *info = it_rule(rule_ids[r]);
  long start = strstr(v->text, words) - v->text;
  sqlite3_stmt *st;

  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  sqlite3_bind_text(st, 1, call_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, rule_ids[r], -1, SQLITE_STATIC);
  sqlite3_bind_double(st, 3, ts);
  if (sqlite3_step(st) != SQLITE_ROW)
    IT_FAIL("no row for %s %s at %.2f", call_id, rule_ids[r], ts);
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), info->category);
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 1), info->severity);
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 2), agent ? "agent" : "customer");
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 3), v->text); /* nothing to mask */
  ASSERT_EQ(sqlite3_column_int64(st, 4), start);
  ASSERT_EQ(sqlite3_column_int64(st, 5), start + (long)strlen(words));
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 6), info->tip);
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 7), rule_set);
  ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 8), words);
  /* The key names the call and rule, never the text. */
  ASSERT(strncmp((const char *)sqlite3_column_text(st, 9), call_id, strlen(call_id)) == 0);
  ASSERT(strstr((const char *)sqlite3_column_text(st, 9), "zebra") == NULL);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE); /* exactly one */
  sqlite3_finalize(st);
}

/* ---- 1. concurrent connections, interleaved writes ---------------------- */

#define NCONN 8
#define NCALLS 3
#define NLINES 150
#define LAST_SEQ (NCALLS + NLINES + NCALLS)

struct line_info {
  int call;      /* 0..NCALLS-1 */
  int agent;
  int variant;
  double ts;
};

struct client {
  struct it_conn *c;
  struct it_str out;    /* everything this client will send */
  size_t sent;
  int64_t last_ack;
  int acks, hello;
  char *rule_set;
  struct line_info lines[LAST_SEQ + 1]; /* by seq; utterances only */
  int seen[LAST_SEQ + 1][NRULES];
};

static uint32_t rng = 12345;
static uint32_t next_rand(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

static void call_name(char *buf, size_t cap, int k, int call) {
  snprintf(buf, cap, "conc-%d-%d", k, call);
}

static void handle_concurrent(struct client *cl, int k, cJSON *m) {
  const char *type = it_jtype(m);
  char prefix[32];

  snprintf(prefix, sizeof(prefix), "conc-%d-", k);
  if (strcmp(type, "alert") == 0) {
    int64_t seq = it_jint(m, "seq");
    const char *call = it_jstr(m, "call_id");
    if (strncmp(call, prefix, strlen(prefix)) != 0)
      IT_FAIL("connection %d got an alert for call %s, which another connection sent", k, call);
    ASSERT(seq > NCALLS && seq <= NCALLS + NLINES);
    const struct line_info *li = &cl->lines[seq];
    char want[32];
    call_name(want, sizeof(want), k, li->call);
    int r = rule_index(it_jstr(m, "rule"));
    check_alert(m, want, seq, li->ts, &variants[li->variant], li->agent, r);
    cl->seen[seq][r]++;
  } else if (strcmp(type, "ack") == 0) {
    int64_t seq = it_jint(m, "seq");
    ASSERT_GT(seq, cl->last_ack);
    ASSERT_LE(seq, LAST_SEQ);
    cl->last_ack = seq;
    cl->acks++;
  } else if (strcmp(type, "hello") == 0) {
    cl->hello = 1;
    cl->rule_set = strdup(it_jstr(m, "rule_set"));
  } else {
    char *text = cJSON_PrintUnformatted(m);
    IT_FAIL("connection %d: unexpected message %s", k, text);
  }
}

static void test_concurrent_connections(void) {
  struct it_daemon d;
  static struct client cl[NCONN];
  char call[32];
  int expected_total = 0;
  int expected_per_call[NCONN][NCALLS] = {{0}};

  it_start(&d, "base.json");

  /* Build each connection's stream: hello, call starts, utterances, ends. */
  for (int k = 0; k < NCONN; k++) {
    struct client *c = &cl[k];
    int64_t seq = 0;
    memset(c, 0, sizeof(*c));
    c->c = it_connect(&d);
    it_str_addf(&c->out, "{\"type\":\"hello\",\"client\":\"conc-%d\",\"acks\":true}\n", k);
    for (int j = 0; j < NCALLS; j++) {
      call_name(call, sizeof(call), k, j);
      it_str_addf(&c->out, "{\"type\":\"start\",\"call_id\":\"%s\",\"agent_id\":\"agent-%d\","
                           "\"queue\":\"queue-%d\",\"seq\":%" PRId64 "}\n",
                  call, k, j, ++seq);
    }
    for (int i = 0; i < NLINES; i++) {
      struct line_info *li = &c->lines[++seq];
      li->call = i % NCALLS;
      li->agent = (i + k) % 2 == 0;
      li->variant = (int)((unsigned)(i * 7 + k) % NVARIANTS);
      li->ts = 0.5 * (double)i + 0.25;
      call_name(call, sizeof(call), k, li->call);
      it_str_addf(&c->out, "{\"call_id\":\"%s\",\"speaker\":\"%s\",\"text\":\"%s\","
                           "\"ts\":%.2f,\"seq\":%" PRId64 "}\n",
                  call, li->agent ? "agent" : "customer", variants[li->variant].text, li->ts, seq);
      for (int r = 0; r < NRULES; r++)
        if (expected_words(&variants[li->variant], r, li->agent)) {
          expected_total++;
          expected_per_call[k][li->call]++;
        }
    }
    for (int j = 0; j < NCALLS; j++) {
      call_name(call, sizeof(call), k, j);
      it_str_addf(&c->out, "{\"type\":\"end\",\"call_id\":\"%s\",\"seq\":%" PRId64 "}\n", call,
                  ++seq);
    }
    ASSERT_EQ(seq, LAST_SEQ);
  }

  /* Interleave: a few bytes of each connection's stream in turn, so lines
   * arrive split across reads and mixed with the other connections'. */
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  for (;;) {
    int writing = 0, done = 0;
    struct pollfd pfd[NCONN];
    for (int k = 0; k < NCONN; k++) {
      struct client *c = &cl[k];
      if (c->sent < c->out.len) {
        size_t chunk = 1 + next_rand() % 48;
        if (chunk > c->out.len - c->sent)
          chunk = c->out.len - c->sent;
        long n = it_send_some(c->c, c->out.p + c->sent, chunk);
        ASSERT(n >= 0);
        c->sent += (size_t)n;
        writing += n > 0;
      }
      done += c->last_ack == LAST_SEQ;
      pfd[k].fd = c->c->fd;
      pfd[k].events = POLLIN | (c->sent < c->out.len ? POLLOUT : 0);
    }
    if (done == NCONN)
      break;
    ASSERT(it_now_ms() < deadline);
    it_poll(pfd, NCONN, writing ? 0 : (int)(deadline - it_now_ms()));
    for (int k = 0; k < NCONN; k++) {
      if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      it_recv_some(cl[k].c);
      char *line;
      while ((line = it_take_line(cl[k].c)) != NULL) {
        cJSON *m = cJSON_Parse(line);
        if (m == NULL)
          IT_FAIL("not JSON: %s", line);
        handle_concurrent(&cl[k], k, m);
        cJSON_Delete(m);
        free(line);
      }
      ASSERT(!cl[k].c->eof);
    }
  }

  /* Every expected alert arrived, once, on its own connection. */
  int got = 0;
  for (int k = 0; k < NCONN; k++) {
    ASSERT(cl[k].hello);
    ASSERT_GE(cl[k].acks, 1);
    for (int64_t seq = NCALLS + 1; seq <= NCALLS + NLINES; seq++) {
      const struct line_info *li = &cl[k].lines[seq];
      for (int r = 0; r < NRULES; r++) {
        int want = expected_words(&variants[li->variant], r, li->agent) != NULL;
        if (cl[k].seen[seq][r] != want)
          IT_FAIL("connection %d seq %" PRId64 " rule %s: %d alerts, expected %d", k, seq,
                  rule_ids[r], cl[k].seen[seq][r], want);
        got += want;
      }
    }
  }
  ASSERT_EQ(got, expected_total);
  fprintf(stderr, "   %d connections, %d lines, %d alerts\n", NCONN, NCONN * LAST_SEQ, got);

  /* Acked: so every row is in the database already. */
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts", NULL), expected_total);
  for (int k = 0; k < NCONN; k++) {
    for (int64_t seq = NCALLS + 1; seq <= NCALLS + NLINES; seq++) {
      const struct line_info *li = &cl[k].lines[seq];
      call_name(call, sizeof(call), k, li->call);
      for (int r = 0; r < NRULES; r++)
        if (expected_words(&variants[li->variant], r, li->agent))
          check_row(db, call, li->ts, &variants[li->variant], li->agent, r, cl[k].rule_set);
    }
    for (int j = 0; j < NCALLS; j++) {
      char agent[32], queue[32], count[32];
      call_name(call, sizeof(call), k, j);
      snprintf(agent, sizeof(agent), "agent-%d", k);
      snprintf(queue, sizeof(queue), "queue-%d", j);
      snprintf(count, sizeof(count), "%d", expected_per_call[k][j]);
      ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = ?1 AND agent = ?2 "
                              "AND queue = ?3 AND end_reason = 'ended' AND alert_count = ?4",
                          call, agent, queue, count, NULL), 1);
    }
  }
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls", NULL), NCONN * NCALLS);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM rule_sets WHERE version = ?1 AND rule_count = 3",
                      cl[0].rule_set, NULL), 1);
  sqlite3_close(db);

  for (int k = 0; k < NCONN; k++) {
    it_close(cl[k].c);
    it_str_free(&cl[k].out);
    free(cl[k].rule_set);
  }
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* ---- 3. an ack for seq N comes only once every alert up to N is committed */

#define ACK_LINES 2000
#define ACK_WINDOW 150

/* Line i (1-based): what it says and how many alerts it raises. */
static int ack_line(struct it_str *s, int64_t i) {
  static const char *const calls[] = {"ack-a", "ack-b", "ack-c", "ack-d"};
  const char *call = calls[i % 4];
  switch (i % 3) {
  case 0:
    it_str_addf(s, "{\"call_id\":\"%s\",\"speaker\":\"customer\",\"text\":\"the zebra crossing "
                   "again, line %" PRId64 "\",\"ts\":%" PRId64 ",\"seq\":%" PRId64 "}\n",
                call, i, i, i);
    return 1;
  case 1:
    it_str_addf(s, "{\"call_id\":\"%s\",\"speaker\":\"agent\",\"text\":\"nothing to see on "
                   "line %" PRId64 "\",\"ts\":%" PRId64 ",\"seq\":%" PRId64 "}\n",
                call, i, i, i);
    return 0;
  default:
    it_str_addf(s, "{\"call_id\":\"%s\",\"speaker\":\"agent\",\"text\":\"that's our policy at "
                   "the zebra crossing, line %" PRId64 "\",\"ts\":%" PRId64 ",\"seq\":%" PRId64
                   "}\n",
                call, i, i, i);
    return 2;
  }
}

static void test_acks_after_commit(void) {
  struct it_daemon d;
  struct it_str out = {0};
  static int upto[ACK_LINES + 1];  /* alerts expected for lines 1..i */
  static int received[ACK_LINES + 1];
  static size_t line_end[ACK_LINES + 1]; /* byte offset just past line i */
  size_t sent = 0;
  int64_t last_ack = 0, total_received = 0;
  int acks = 0;
  char buf[64];

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));

  for (int64_t i = 1; i <= ACK_LINES; i++) {
    upto[i] = upto[i - 1] + ack_line(&out, i);
    line_end[i] = out.len;
  }

  sqlite3 *db = it_db_open(d.db);
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  while (last_ack < ACK_LINES) {
    /* Write in modest pieces, at most ACK_WINDOW lines past the last ack
     * (as a client bounding its resend buffer would), so that commits and
     * acks interleave with the stream. */
    size_t limit = line_end[last_ack + ACK_WINDOW < ACK_LINES ? last_ack + ACK_WINDOW : ACK_LINES];
    if (sent < limit) {
      size_t chunk = limit - sent < 3000 ? limit - sent : 3000;
      long n = it_send_some(c, out.p + sent, chunk);
      ASSERT(n >= 0);
      sent += (size_t)n;
    }
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN | (sent < limit ? POLLOUT : 0)};
    ASSERT(it_now_ms() < deadline);
    it_poll(&pfd, 1, (int)(deadline - it_now_ms()));
    it_recv_some(c);
    ASSERT(!c->eof);
    char *line;
    while ((line = it_take_line(c)) != NULL) {
      cJSON *m = cJSON_Parse(line);
      ASSERT(m != NULL);
      if (strcmp(it_jtype(m), "alert") == 0) {
        int64_t seq = it_jint(m, "seq");
        ASSERT(seq >= 1 && seq <= ACK_LINES);
        ASSERT_GT(seq, last_ack); /* alerts of a line come before its ack */
        received[seq]++;
        total_received++;
      } else if (strcmp(it_jtype(m), "ack") == 0) {
        int64_t n = it_jint(m, "seq");
        ASSERT_GT(n, last_ack);
        ASSERT_LE(n, ACK_LINES);
        ASSERT(line_end[n] <= sent); /* never an ack for a line not yet sent */
        /* Every alert the daemon sent for lines <= n arrived before the ack... */
        int64_t got = 0;
        for (int64_t s = 1; s <= n; s++)
          got += received[s];
        ASSERT_EQ(got, upto[n]);
        /* ...and is committed: a reader sees it now. */
        snprintf(buf, sizeof(buf), "%" PRId64, n);
        ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id LIKE 'ack-%' "
                                "AND call_ts <= ?1", buf, NULL), upto[n]);
        /* The line n itself, found by its alert_key. */
        char pattern[64];
        static const char *const calls[] = {"ack-a", "ack-b", "ack-c", "ack-d"};
        snprintf(pattern, sizeof(pattern), "%s/s%" PRId64 "/%%", calls[n % 4], n);
        ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE alert_key LIKE ?1", pattern,
                            NULL), upto[n] - upto[n - 1]);
        last_ack = n;
        acks++;
      } else {
        IT_FAIL("unexpected message %s", line);
      }
      cJSON_Delete(m);
      free(line);
    }
  }
  ASSERT_EQ(total_received, upto[ACK_LINES]);
  for (int64_t i = 1; i <= ACK_LINES; i++)
    ASSERT_EQ(received[i], upto[i] - upto[i - 1]);
  ASSERT_GE(acks, ACK_LINES / ACK_WINDOW); /* acks came while the stream went on */
  fprintf(stderr, "   %d lines, %" PRId64 " alerts, %d acks, each checked against the database\n",
          ACK_LINES, total_received, acks);

  /* A connection without acks gets none. */
  struct it_conn *quiet = it_connect(&d);
  free(it_hello(quiet, 0));
  ASSERT_EQ(it_sendf(quiet, "{\"call_id\":\"noack\",\"speaker\":\"agent\",\"text\":\"zebra "
                            "crossing\",\"seq\":1}"), 0);
  ASSERT_EQ(it_sendf(quiet, "{\"call_id\":\"noack\",\"speaker\":\"agent\",\"text\":\"plain\","
                            "\"seq\":2}"), 0);
  ASSERT_EQ(it_sendf(quiet, "{\"type\":\"stats\"}"), 0);
  cJSON *m = it_expect(quiet, "alert", -1, NULL, NULL);
  ASSERT_EQ(it_jint(m, "seq"), 1);
  cJSON_Delete(m);
  m = it_expect(quiet, "stats", -1, NULL, NULL); /* no ack in between */
  /* What each rule cost: it.trigger ("zebra crossing") ran, and matched,
   * on this connection's first line and many before it. */
  const cJSON *costs = cJSON_GetObjectItemCaseSensitive(m, "rule_costs");
  ASSERT(cJSON_IsArray(costs));
  int found = 0;
  const cJSON *rc;
  cJSON_ArrayForEach(rc, costs) {
    ASSERT_GE(it_jint(rc, "ran"), it_jint(rc, "matched"));
    if (strcmp(it_jstr(rc, "rule"), "it.trigger") == 0) {
      found = 1;
      ASSERT_GE(it_jint(rc, "matched"), 1);
    }
  }
  ASSERT(found);
  cJSON_Delete(m);

  sqlite3_close(db);
  it_close(quiet);
  it_close(c);
  it_str_free(&out);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* ---- 8. card numbers never reach the database files ----------------------- */

static void assert_no_card(const char *path) {
  static const char *const cards[] = {"4111 1111 1111 1111", "4111111111111111",
                                      "4111-1111-1111-1111", "1111 1111 1111", NULL};
  for (int i = 0; cards[i]; i++)
    if (it_file_contains(path, cards[i], strlen(cards[i])))
      IT_FAIL("%s holds the card number \"%s\"", path, cards[i]);
}

static void test_card_numbers_masked(void) {
  struct it_daemon d;
  char wal[256], shm[256];

  it_start(&d, "base.json");
  snprintf(wal, sizeof(wal), "%s-wal", d.db);
  snprintf(shm, sizeof(shm), "%s-shm", d.db);

  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"pci-1\",\"agent_id\":\"a1\","
                        "\"note\":\"card 4111 1111 1111 1111\",\"seq\":1}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"pci-1\",\"speaker\":\"customer\",\"text\":\"at the zebra "
                        "crossing my card is 4111 1111 1111 1111, expiry marmalade\",\"seq\":2}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"pci-1\",\"speaker\":\"customer\",\"text\":\"zebra "
                        "crossing: 4111111111111111 is the number\",\"seq\":3}"), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"pci-1\",\"speaker\":\"agent\",\"text\":\"zebra crossing "
                        "4111-1111-1111-1111\",\"seq\":4}"), 0);
  for (int i = 0; i < 3; i++) {
    cJSON *m = it_expect(c, "alert", -1, NULL, NULL);
    ASSERT_STR_EQ(it_jstr(m, "rule"), "it.trigger");
    cJSON_Delete(m);
  }
  /* Acks are cumulative and may come per batch: wait for the one for 4. */
  cJSON *m;
  int64_t acked = 0;
  while (acked < 4) {
    m = it_expect(c, "ack", -1, NULL, NULL);
    ASSERT_GT(it_jint(m, "seq"), acked);
    acked = it_jint(m, "seq");
    cJSON_Delete(m);
  }
  ASSERT_EQ(acked, 4);

  /* Committed: the rows are in the WAL (or the database) now. */
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'pci-1'", NULL), 3);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'pci-1' AND text LIKE "
                          "'%[CARD]%'", NULL), 3);
  char *text = it_db_text(db, "SELECT text FROM alerts WHERE call_id = 'pci-1' AND call_ts IS "
                              "NULL ORDER BY id LIMIT 1", NULL);
  ASSERT_STR_EQ(text, "at the zebra crossing my card is [CARD], expiry marmalade");
  free(text);
  sqlite3_close(db);
  ASSERT(it_file_exists(wal));
  /* A positive control: the unmasked rest of the line is there in clear. */
  ASSERT(it_file_contains(d.db, "expiry marmalade", 16) || it_file_contains(wal, "expiry marmalade", 16));
  assert_no_card(d.db);
  assert_no_card(wal);
  assert_no_card(shm);

  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT(it_file_contains(d.db, "expiry marmalade", 16) || it_file_contains(wal, "expiry marmalade", 16));
  assert_no_card(d.db);
  assert_no_card(wal);
  it_daemon_cleanup(&d);
}

/* ---- a client that closes its sending side still gets its acks ------------- */

static void test_half_close_gets_acks(void) {
  struct it_daemon d;
  struct it_str out = {0};
  int alerts = 0;
  int64_t last_ack = 0;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  it_str_addf(&out, "{\"type\":\"hello\",\"client\":\"half\",\"acks\":true}\n");
  for (int i = 1; i <= 200; i++)
    it_str_addf(&out, "{\"call_id\":\"half\",\"speaker\":\"agent\",\"text\":\"zebra crossing "
                      "%d\",\"seq\":%d}\n", i, i);
  /* The last line has no newline: the end of the stream ends it. */
  it_str_addf(&out, "{\"call_id\":\"half\",\"speaker\":\"agent\",\"text\":\"zebra crossing "
                    "last\",\"seq\":201}");
  ASSERT_EQ(it_send(c, out.p, out.len), 0);
  ASSERT_EQ(shutdown(c->fd, SHUT_WR), 0);
  /* Everything comes back, the last ack included, then the daemon closes. */
  for (;;) {
    cJSON *m = it_read_json(c, -1);
    if (m == NULL)
      break;
    if (strcmp(it_jtype(m), "alert") == 0)
      alerts++;
    else if (strcmp(it_jtype(m), "ack") == 0)
      last_ack = it_jint(m, "seq");
    else
      ASSERT_STR_EQ(it_jtype(m), "hello");
    cJSON_Delete(m);
  }
  ASSERT(c->eof);
  ASSERT_EQ(alerts, 201);
  ASSERT_EQ(last_ack, 201);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'half'", NULL), 201);
  sqlite3_close(db);
  it_close(c);
  it_str_free(&out);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A line that stores nothing (no alert, no call row) is acknowledged
 * without any commit to ride on: its ack leaves on its own, shortly
 * (ESD_ACK_DELAY_MS), or with the connection's next output. */
static void test_quiet_lines_acked(void) {
  struct it_daemon d;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  /* The start row commits, and only then is line 1 acknowledged. */
  ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"quiet\",\"seq\":1}"), 0);
  it_expect_seq(c, "ack", 1);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = 'quiet'", NULL), 1);
  /* Two lines that match nothing: nothing is written, so nothing commits;
   * their ack comes all the same, cumulative. */
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"quiet\",\"speaker\":\"agent\",\"text\":\"hello there\","
                        "\"seq\":2}\n{\"call_id\":\"quiet\",\"speaker\":\"customer\","
                        "\"text\":\"hi\",\"seq\":3}"), 0);
  it_expect_seq(c, "ack", 3);
  /* A line with an alert: the alert first, then its ack after the commit. */
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"quiet\",\"speaker\":\"agent\",\"text\":\"zebra "
                        "crossing\",\"seq\":4}"), 0);
  it_expect_seq(c, "alert", 4);
  it_expect_seq(c, "ack", 4);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'quiet'", NULL), 1);
  sqlite3_close(db);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The rows earshotd holds for the store, written or not: at least the
 * lines' alerts and call starts (the first alert also records the alert
 * id ceiling). */
static int64_t pending_rows(struct it_conn *s) {
  ASSERT_EQ(it_sendf(s, "{\"type\":\"stats\"}"), 0);
  cJSON *m = it_expect(s, "stats", -1, NULL, NULL);
  int64_t v = it_jint(cJSON_GetObjectItemCaseSensitive(m, "queues"), "store_pending_rows");
  cJSON_Delete(m);
  return v;
}

static void wait_pending_rows(struct it_conn *s, int64_t rows) {
  uint64_t deadline = it_now_ms() + (uint64_t)it_scaled(IT_WAIT_MS);
  int64_t got;
  while ((got = pending_rows(s)) < rows)
    if (it_now_ms() >= deadline)
      IT_FAIL("%" PRId64 " rows pending, expected %" PRId64 " or more", got, rows);
}

/* A commit that fails (another process holds the database's write lock
 * past the busy timeout) keeps its rows: they are written again with the
 * rows that arrived while it ran, and every line is acknowledged only once
 * all of them are stored. */
static void test_failed_commit_keeps_rows(void) {
  struct it_daemon d;
  struct it_str first = {0}, second = {0};
  sqlite3 *lock = NULL;
  int alerts1 = 0, alerts2 = 0;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d), *s = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(sqlite3_open_v2(d.db, &lock, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(lock, it_scaled(IT_WAIT_MS));
  ASSERT_EQ(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  for (int64_t i = 1; i <= 30; i++)
    alerts1 += ack_line(&first, i);
  for (int64_t i = 31; i <= 60; i++)
    alerts2 += ack_line(&second, i);
  /* The first lines' rows (their alerts and four call starts) go to a
   * commit that waits for the lock; the rest arrive while it waits. */
  ASSERT_EQ(it_send(c, first.p, first.len), 0);
  wait_pending_rows(s, alerts1 + 4);
  ASSERT_EQ(it_send(c, second.p, second.len), 0);
  wait_pending_rows(s, alerts1 + alerts2 + 4);
  ASSERT(it_wait_log(&d, 0, "rows failed", it_scaled(IT_WAIT_MS)) >= 0);
  ASSERT_EQ(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(lock);
  ASSERT_EQ(it_alerts_until_ack(c, 60), alerts1 + alerts2);
  ASSERT_EQ(pending_rows(s), 0);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id LIKE 'ack-%'", NULL),
            alerts1 + alerts2);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id LIKE 'ack-%'", NULL), 4);
  char *ok = it_db_text(db, "PRAGMA integrity_check", NULL);
  ASSERT_STR_EQ(ok, "ok");
  free(ok);
  sqlite3_close(db);
  it_str_free(&first);
  it_str_free(&second);
  it_close(s);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* The text of an alert's key: "<call>/s<seq>/<FNV-1a 64 of the text, 16
 * hex digits>/<rule>" ("t<ts, 6 decimals>" for a line without seq). It
 * must never change: a line resent after an upgrade would be stored twice. */
static void expect_key(sqlite3 *db, const char *call, const char *at, const char *text,
                       const char *rule) {
  uint64_t h = 0xcbf29ce484222325ULL;
  char want[256];
  for (const char *p = text; *p; p++) {
    h ^= (unsigned char)*p;
    h *= 0x100000001b3ULL;
  }
  snprintf(want, sizeof(want), "%s/%s/%016" PRIx64 "/%s", call, at, h, rule);
  char pattern[160];
  snprintf(pattern, sizeof(pattern), "%s/%s/%%", call, at);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE alert_key LIKE ?1", pattern, NULL), 1);
  char *got = it_db_text(db, "SELECT alert_key FROM alerts WHERE alert_key LIKE ?1", pattern, NULL);
  ASSERT(got != NULL);
  ASSERT_STR_EQ(got, want);
  free(got);
}

static void test_alert_keys(void) {
  struct it_daemon d;

  it_start(&d, "base.json");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"keys\",\"speaker\":\"agent\",\"text\":\"zebra "
                        "crossing\",\"seq\":4}"), 0);
  it_expect_seq(c, "alert", 4);
  it_expect_seq(c, "ack", 4);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"keys-big\",\"speaker\":\"agent\",\"text\":\"a zebra crossing\","
                        "\"seq\":9007199254740991}"), 0);
  it_expect_seq(c, "alert", 9007199254740991);
  it_expect_seq(c, "ack", 9007199254740991);
  it_close(c);
  /* Without acks or seq: the line's ts names it. */
  c = it_connect(&d);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"keys-ts\",\"speaker\":\"agent\",\"text\":\"zebra "
                        "crossing again\",\"ts\":12.5}"), 0);
  cJSON_Delete(it_expect(c, "alert", -1, NULL, NULL));
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  sqlite3 *db = it_db_open(d.db);
  expect_key(db, "keys", "s4", "zebra crossing", "it.trigger");
  expect_key(db, "keys-big", "s9007199254740991", "a zebra crossing", "it.trigger");
  expect_key(db, "keys-ts", "t12.500000", "zebra crossing again", "it.trigger");
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_concurrent_connections);
  RUN(test_acks_after_commit);
  RUN(test_card_numbers_masked);
  RUN(test_half_close_gets_acks);
  RUN(test_quiet_lines_acked);
  RUN(test_alert_keys);
  RUN(test_failed_commit_keeps_rows);
  return 0;
}
