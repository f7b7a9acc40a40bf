/*
 * it_feed.c: the supervisor feed through the real socket and database:
 * a subscriber sees every call's alerts live with ids, filtered; the
 * escalating sample call brings exactly one backup with its reason; a
 * subscriber that comes back with "since" after a daemon restart gets the
 * stored alerts after that id and then the live ones, with no gap and no
 * duplicate; a mark is stored with who and when and pushed to the other
 * subscribers; `earshot tail` and `earshot ack` do the same from the
 * command line.
 */
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "../words_cut.h"

/* Streams a sample call (tests/golden/calls/NAME.jsonl) with seqs on a new
 * connection, waiting for the last ack. Returns how many alerts came back;
 * the last backup alert among them in *backup (NULL: not wanted; set to
 * NULL when there was none). */
static int stream_call_backup(struct it_daemon *d, const char *name, const char *rename_to,
                              cJSON **backup) {
  char path[512];
  int seq = 0, alerts = 0;
  snprintf(path, sizeof(path), "%s/%s.jsonl", ES_GOLDEN_CALLS, name);
  struct it_conn *c = it_connect(d);
  free(it_hello(c, 1));
  if (rename_to)
    ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"%s\",\"agent_id\":\"dana\","
                          "\"queue\":\"billing\",\"seq\":%d}", rename_to, ++seq), 0);
  it_send_jsonl(c, path, rename_to, &seq);
  for (;;) {
    cJSON *m = it_read_json(c, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "alert") == 0) {
      alerts++;
      if (backup && strcmp(it_jstr(m, "category"), "backup") == 0) {
        cJSON_Delete(*backup);
        *backup = m;
        continue;
      }
    } else if (strcmp(it_jtype(m), "ack") == 0 && it_jint(m, "seq") == seq) {
      cJSON_Delete(m);
      break;
    } else if (strcmp(it_jtype(m), "error") == 0)
      IT_FAIL("error streaming %s: %s", name, it_jstr(m, "message"));
    cJSON_Delete(m);
  }
  it_close(c);
  return alerts;
}

static int stream_call(struct it_daemon *d, const char *name, const char *rename_to) {
  return stream_call_backup(d, name, rename_to, NULL);
}

/* Reads feed records until `n` feed_alerts arrived; returns them (ids in
 * order are checked). */
static cJSON *read_feed(struct it_conn *c, int n, int64_t *last_id) {
  cJSON *all = cJSON_CreateArray();
  while (n > 0) {
    cJSON *m = it_read_json(c, -1);
    ASSERT(m != NULL);
    if (strcmp(it_jtype(m), "feed_alert") == 0) {
      int64_t id = it_jint(m, "id");
      if (id <= *last_id)
        IT_FAIL("feed ids go back or repeat: %" PRId64 " after %" PRId64, id, *last_id);
      *last_id = id;
      cJSON_AddItemToArray(all, m);
      n--;
      continue;
    }
    if (strcmp(it_jtype(m), "error") == 0)
      IT_FAIL("feed error: %s", it_jstr(m, "message"));
    cJSON_Delete(m);
  }
  return all;
}

static struct it_conn *subscribe(struct it_daemon *d, const char *filters) {
  struct it_conn *s = it_connect(d);
  ASSERT_EQ(it_sendf(s, "{\"type\":\"subscribe\"%s}", filters), 0);
  cJSON *m = it_expect(s, "subscribed", -1, NULL, NULL);
  cJSON_Delete(m);
  return s;
}

static void test_live_feed_and_backup(void) {
  struct it_daemon d;
  int64_t last = 0;
  it_start(&d, NULL);

  struct it_conn *all = subscribe(&d, "");
  struct it_conn *critical = subscribe(&d, ",\"min_severity\":\"critical\"");
  struct it_conn *other_queue = subscribe(&d, ",\"queues\":[\"sales\"]");
  cJSON *sent = NULL;
  int n = stream_call_backup(&d, "escalating", "feed-1", &sent);
  ASSERT_GT(n, 5);
  ASSERT(sent != NULL);

  /* Everything, live, in id order, with agent and queue from the start line. */
  cJSON *got = read_feed(all, n, &last);
  int backups = 0;
  cJSON *a;
  cJSON_ArrayForEach(a, got) {
    ASSERT_STR_EQ(it_jstr(a, "call_id"), "feed-1");
    ASSERT_STR_EQ(it_jstr(a, "agent"), "dana");
    ASSERT_STR_EQ(it_jstr(a, "queue"), "billing");
    if (strcmp(it_jstr(a, "category"), "backup") == 0) {
      backups++;
      const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "reason");
      ASSERT_CONTAINS(it_jstr(r, "summary"), "reached");
      ASSERT_STR_EQ(it_jstr(r, "trigger"), "heat");
      /* Raised by the heat, not by anyone's words: no speaker, on the
       * feed as on the connection that sent the call (and in the store,
       * checked below). */
      ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "speaker")));
      ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(sent, "speaker")));
    }
  }
  ASSERT_EQ(backups, 1);
  cJSON_Delete(got);
  cJSON_Delete(sent);

  /* Only critical ones: the backup and the repeated manager demand. */
  int64_t lc = 0;
  got = read_feed(critical, 2, &lc);
  cJSON_ArrayForEach(a, got) ASSERT_STR_EQ(it_jstr(a, "severity"), "critical");
  cJSON_Delete(got);
  /* Nothing for another queue: the next thing it sees is a mark. */

  /* A mark from one supervisor reaches the others, and is stored. */
  struct it_conn *sup = it_connect(&d);
  free(it_hello(sup, 1));
  ASSERT_EQ(it_sendf(sup, "{\"type\":\"mark\",\"alert_id\":%" PRId64 ",\"mark\":\"taken\","
                          "\"by\":\"sam\",\"seq\":1}", last), 0);
  cJSON *m = it_expect(sup, "feed_mark", -1, NULL, NULL);
  cJSON_Delete(m);
  m = it_expect(sup, "ack", -1, NULL, NULL); /* committed */
  cJSON_Delete(m);
  m = it_expect(other_queue, "feed_mark", -1, NULL, NULL);
  ASSERT_EQ(it_jint(m, "alert_id"), last);
  ASSERT_STR_EQ(it_jstr(m, "mark"), "taken");
  ASSERT_STR_EQ(it_jstr(m, "by"), "sam");
  cJSON_Delete(m);
  /* An unknown alert is refused, saying so. */
  ASSERT_EQ(it_sendf(sup, "{\"type\":\"mark\",\"alert_id\":999999,\"mark\":\"resolved\",\"seq\":2}"),
            0);
  m = it_expect(sup, "error", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "code"), "unknown_alert");
  cJSON_Delete(m);
  m = it_expect(sup, "ack", -1, NULL, NULL); /* answered lines are acknowledged too */
  ASSERT_EQ(it_jint(m, "seq"), 2);
  cJSON_Delete(m);
  /* A bad filter is refused, saying what to fix. */
  ASSERT_EQ(it_sendf(sup, "{\"type\":\"subscribe\",\"min_severity\":\"urgent\"}"), 0);
  m = it_expect(sup, "error", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "code"), "bad_subscribe");
  ASSERT_CONTAINS(it_jstr(m, "message"), "info, low, medium, high or critical");
  cJSON_Delete(m);

  it_close(all);
  it_close(critical);
  it_close(other_queue);
  it_close(sup);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  char id[32];
  snprintf(id, sizeof(id), "%" PRId64, last);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE alert_id = ?1 AND "
                          "mark = 'taken' AND marked_by = 'sam' AND marked_at > 0", id, NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT max(id) FROM alerts", NULL), last);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = 'feed-1' AND "
                          "category = 'backup' AND speaker IS NULL", NULL), 1);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* Sends on c a start for call_id with `agent` (JSON text: a string or a
 * number) and one line raising it.trigger, and waits for their acks. */
static void call_with_agent(struct it_conn *c, const char *call_id, const char *agent, int *seq) {
  ASSERT_EQ(it_sendf(c, "{\"type\":\"start\",\"call_id\":\"%s\",\"agent_id\":%s,\"seq\":%d}",
                     call_id, agent, ++*seq), 0);
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s\",\"speaker\":\"customer\",\"text\":\"we met at the "
                        "zebra crossing\",\"seq\":%d}", call_id, ++*seq), 0);
  ASSERT_EQ(it_alerts_until_ack(c, *seq), 1);
}

/* The feed's next alert, which must be of call_id; returns its id. */
static int64_t next_alert_of(struct it_conn *s, const char *call_id) {
  cJSON *m = it_expect(s, "feed_alert", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "call_id"), call_id);
  int64_t id = it_jint(m, "id");
  cJSON_Delete(m);
  return id;
}

/* A start line's agent_id may be a number; a subscriber names that agent
 * with the same whole number (or its text), live and from the store. A
 * fraction or another type is refused, saying what is accepted. */
static void test_numeric_agent_filter(void) {
  struct it_daemon d;
  int seq = 0;
  it_start(&d, "base.json");

  struct it_conn *num = subscribe(&d, ",\"agents\":[1042]");
  struct it_conn *text = subscribe(&d, ",\"agents\":[\"1042\"]");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  /* Alerts are published in id order: what the subscriber gets first
   * after those it must not get is what tells that it did not get them. */
  call_with_agent(c, "n-dana", "\"dana\"", &seq);
  call_with_agent(c, "n-other", "10420", &seq);
  call_with_agent(c, "n-float", "1042.0", &seq); /* its agent is "1042.0" */
  call_with_agent(c, "n-1042", "1042", &seq);
  int64_t first = next_alert_of(num, "n-1042");
  ASSERT_EQ(next_alert_of(text, "n-1042"), first);

  /* From the store (and the ring): since 0 replays the matching ones,
   * then the live ones follow. */
  struct it_conn *back = it_connect(&d);
  ASSERT_EQ(it_sendf(back, "{\"type\":\"subscribe\",\"agents\":[1042],\"since\":0}"), 0);
  cJSON_Delete(it_expect(back, "subscribed", -1, NULL, NULL));
  ASSERT_EQ(next_alert_of(back, "n-1042"), first);
  call_with_agent(c, "n-dana-2", "\"dana\"", &seq);
  call_with_agent(c, "n-1042-2", "1042", &seq);
  int64_t second = next_alert_of(back, "n-1042-2");
  ASSERT_GT(second, first);
  ASSERT_EQ(next_alert_of(num, "n-1042-2"), second);

  /* Queues take whole numbers too. */
  it_close(subscribe(&d, ",\"queues\":[7,\"billing\"],\"agents\":[-3,\"a\"]"));

  /* What is refused, and what the message says. */
  static const struct {
    const char *filters, *says;
  } bad[] = {
    {"\"agents\":[1042.5]", "every entry of \"agents\" must be a non-empty string of at most 127 "
                            "bytes or a whole number"},
    {"\"agents\":[true]", "or a whole number (an agent_id or queue sent as a number"},
    {"\"agents\":[null]", "or a whole number"},
    {"\"agents\":[1e300]", "or a whole number"},
    {"\"agents\":1042", "\"agents\" must be an array of names (strings, or whole numbers such "
                        "as 1042)"},
    {"\"categories\":[5]", "every entry of \"categories\" must be a non-empty string of at most "
                           "127 bytes"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ASSERT_EQ(it_sendf(c, "{\"type\":\"subscribe\",%s,\"seq\":%d}", bad[i].filters, ++seq), 0);
    cJSON *m = it_expect(c, "error", -1, NULL, NULL);
    ASSERT_STR_EQ(it_jstr(m, "code"), "bad_subscribe");
    ASSERT_CONTAINS(it_jstr(m, "message"), bad[i].says);
    cJSON_Delete(m);
    it_expect_seq(c, "ack", seq);
  }

  it_close(num);
  it_close(text);
  it_close(back);
  it_close(c);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

static void test_since_across_restart(void) {
  struct it_daemon d;
  int64_t last = 0;
  it_start(&d, NULL);

  /* A console sees the first call, then the daemon restarts. */
  struct it_conn *s = subscribe(&d, "");
  int n1 = stream_call(&d, "escalating", "r-1");
  cJSON *first = read_feed(s, n1, &last);
  int64_t seen = last;
  cJSON_Delete(first);
  it_close(s);
  /* More alerts while the console is away. */
  int n2 = stream_call(&d, "deescalated", "r-2");
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);

  /* It comes back with since: the stored ones, then the live ones. */
  s = it_connect(&d);
  ASSERT_EQ(it_sendf(s, "{\"type\":\"subscribe\",\"since\":%" PRId64 "}", seen), 0);
  int n3 = stream_call(&d, "escalating", "r-3");
  cJSON *rest = read_feed(s, n2 + n3, &last);
  int i = 0;
  cJSON *a;
  cJSON_ArrayForEach(a, rest) {
    ASSERT_STR_EQ(it_jstr(a, "call_id"), i < n2 ? "r-2" : "r-3");
    ASSERT_EQ(it_jint(a, "id"), seen + 1 + i); /* no gap */
    i++;
  }
  cJSON_Delete(rest);
  it_close(s);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* Runs the earshot command with args, output to a file, $USER set to user
 * (NULL: unset); returns its exit code (waits). */
static int run_cli_as(const char *out, const char *const *args, const char *user) {
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    FILE *f = freopen(out, "w", stdout);
    (void)f;
    if (user)
      setenv("USER", user, 1);
    else
      unsetenv("USER");
    execv(ES_EARSHOT_CLI, (char *const *)args);
    _exit(127);
  }
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  return it_exit_code(st);
}

static int run_cli(const char *out, const char *const *args) {
  return run_cli_as(out, args, getenv("USER"));
}

static void read_text(const char *path, char *text, size_t cap) {
  FILE *f = fopen(path, "r");
  ASSERT(f != NULL);
  size_t len = fread(text, 1, cap - 1, f);
  fclose(f);
  text[len] = '\0';
}

static void test_tail_and_ack_commands(void) {
  struct it_daemon d;
  char out[256], text[65536], want[128];
  it_start(&d, NULL);
  int n = stream_call(&d, "escalating", "t-1");

  /* tail --since 0 shows every stored alert, the backup with its reason. */
  snprintf(out, sizeof(out), "%s/tail.txt", d.dir);
  char count[16];
  snprintf(count, sizeof(count), "%d", n);
  const char *tail[] = {ES_EARSHOT_CLI, "tail", "--socket", d.sock, "--since", "0", "--count",
                        count, NULL};
  ASSERT_EQ(run_cli(out, tail), 0);
  FILE *f = fopen(out, "r");
  size_t len = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[len] = '\0';
  ASSERT_CONTAINS(text, "BACKUP critical");
  ASSERT_CONTAINS(text, "why: heat");
  ASSERT_CONTAINS(text, "agent=dana queue=billing");
  ASSERT_CONTAINS(text, "tip: ");

  /* --json, filtered by category: raw records. */
  const char *tailj[] = {ES_EARSHOT_CLI, "tail", "--socket", d.sock, "--since", "0", "--json",
                         "--category", "backup", "--count", "1", NULL};
  ASSERT_EQ(run_cli(out, tailj), 0);
  f = fopen(out, "r");
  len = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[len] = '\0';
  cJSON *rec = cJSON_Parse(text);
  ASSERT(rec != NULL);
  ASSERT_STR_EQ(it_jstr(rec, "category"), "backup");
  int64_t backup_id = it_jint(rec, "id");
  cJSON_Delete(rec);

  /* ack through the daemon: a subscriber sees it, the store has it. */
  struct it_conn *s = subscribe(&d, "");
  char id[32];
  snprintf(id, sizeof(id), "%" PRId64, backup_id);
  const char *ack[] = {ES_EARSHOT_CLI, "ack", id, "--taken", "--by", "lee", "--socket", d.sock,
                       NULL};
  ASSERT_EQ(run_cli(out, ack), 0);
  cJSON *m = it_expect(s, "feed_mark", -1, NULL, NULL);
  ASSERT_EQ(it_jint(m, "alert_id"), backup_id);
  ASSERT_STR_EQ(it_jstr(m, "by"), "lee");
  cJSON_Delete(m);
  read_text(out, text, sizeof(text));
  snprintf(want, sizeof(want), "alert %s marked taken by lee\n", id);
  ASSERT_STR_EQ(text, want);

  /* Without --by: $USER, else the login name; printed as --db prints it. */
  const char *ack_default[] = {ES_EARSHOT_CLI, "ack", id, "--resolved", "--socket", d.sock, NULL};
  ASSERT_EQ(run_cli_as(out, ack_default, "ivy"), 0);
  m = it_expect(s, "feed_mark", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "by"), "ivy");
  cJSON_Delete(m);
  read_text(out, text, sizeof(text));
  snprintf(want, sizeof(want), "alert %s marked resolved by ivy\n", id);
  ASSERT_STR_EQ(text, want);
  struct passwd *pw = getpwuid(geteuid());
  ASSERT(pw != NULL);
  ASSERT_EQ(run_cli_as(out, ack_default, NULL), 0);
  m = it_expect(s, "feed_mark", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "by"), pw->pw_name);
  cJSON_Delete(m);

  /* Two marks at once is a usage error: nothing reaches the daemon. */
  const char *ack_both[] = {ES_EARSHOT_CLI, "ack", id, "--taken", "--resolved", "--socket",
                            d.sock, NULL};
  ASSERT_EQ(run_cli(out, ack_both), 2);
  read_text(out, text, sizeof(text));
  ASSERT_STR_EQ(text, "");
  it_close(s);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE alert_id = ?1 AND marked_by = 'lee'",
                      id, NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE alert_id = ?1 AND marked_by = 'ivy'"
                          " AND mark = 'resolved'", id, NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE alert_id = ?1 AND marked_by = ?2",
                      id, pw->pw_name, NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE marked_by IS NULL", NULL), 0);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks", NULL), 3);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* Dead air is found on earshotd's timer, without a next line: the alert
 * comes by itself, once, on the call's connection and to the feed. */
static void test_dead_air_on_timer(void) {
  struct it_daemon d;
  it_start(&d, "signals.json");
  struct it_conn *s = subscribe(&d, "");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"quiet-1\",\"speaker\":\"customer\",\"text\":\"hello?\","
                        "\"ts\":1.0,\"end_ts\":1.5,\"seq\":1}"), 0);
  cJSON *m = it_expect(c, "ack", -1, NULL, NULL);
  cJSON_Delete(m);
  m = it_expect(c, "alert", it_scaled(10000), NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "rule"), "it.dead-air");
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reason");
  ASSERT_STR_EQ(it_jstr(r, "signal"), "dead_air");
  cJSON_Delete(m);
  m = it_expect(s, "feed_alert", it_scaled(10000), NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "call_id"), "quiet-1");
  cJSON_Delete(m);
  /* The next line does not report the same silence again. */
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"quiet-1\",\"speaker\":\"agent\",\"text\":\"sorry, here\","
                        "\"ts\":9.0,\"end_ts\":9.5,\"seq\":2}"), 0);
  it_expect_seq(c, "ack", 2);
  it_close(c);
  it_close(s);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* A remembered hit keeps ES_WORDS_MAX (40) bytes of its words, and a
 * signal's words are its whole line: the cut must not leave part of a
 * card, phone, SSN or address that the masking downstream no longer
 * recognises. Each line of words_cut.h has the personal data across byte
 * 40; it is sent as the fourth customer line in a row, which fires
 * signal.customer-rapid-fire, whose reason carries the line as its
 * trigger's words. The feed (masked by
 * earshotd) and the database (masked by the store) must both show the
 * words up to the number or address, and nothing of it. */
static void test_trigger_words_cut_safely(void) {
  const size_t n = WORDS_CUT_CASES;
  struct it_daemon d;
  int64_t last = 0;
  it_start(&d, NULL);
  struct it_conn *s = subscribe(&d, "");
  struct it_conn *c = it_connect(&d);
  free(it_hello(c, 1));
  int seq = 0;
  for (size_t i = 0; i < n; i++) {
    static const char *const before[] = {"hello", "are you there", "hello?"};
    ASSERT_GT(strlen(words_cut_cases[i].line), 40);
    for (int k = 0; k < 3; k++)
      ASSERT_EQ(it_sendf(c, "{\"call_id\":\"cut-%zu\",\"speaker\":\"customer\",\"text\":\"%s\","
                            "\"ts\":%d,\"seq\":%d}", i, before[k], k + 1, ++seq), 0);
    ASSERT_EQ(it_sendf(c, "{\"call_id\":\"cut-%zu\",\"speaker\":\"customer\",\"text\":\"%s\","
                          "\"ts\":4,\"seq\":%d}", i, words_cut_cases[i].line, ++seq), 0);
    for (;;) { /* the alerts come back to the client unmasked: it sent the text */
      cJSON *m = it_read_json(c, -1);
      ASSERT(m != NULL);
      int done = strcmp(it_jtype(m), "ack") == 0 && it_jint(m, "seq") == seq;
      cJSON_Delete(m);
      if (done)
        break;
    }
    /* The feed: the rapid-fire alert of this call, its reason masked. */
    for (;;) {
      cJSON *got = read_feed(s, 1, &last);
      cJSON *a = cJSON_GetArrayItem(got, 0);
      if (strcmp(it_jstr(a, "rule"), "signal.customer-rapid-fire") != 0) {
        cJSON_Delete(got);
        continue;
      }
      char call[32];
      snprintf(call, sizeof(call), "cut-%zu", i);
      ASSERT_STR_EQ(it_jstr(a, "call_id"), call);
      const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "reason");
      const cJSON *trig = cJSON_GetObjectItemCaseSensitive(r, "trigger");
      ASSERT_STR_EQ(it_jstr(trig, "words"), words_cut_cases[i].words);
      cJSON_Delete(got);
      break;
    }
  }
  it_close(c);
  it_close(s);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  sqlite3 *db = it_db_open(d.db);
  for (size_t i = 0; i < n; i++) {
    char call[32];
    snprintf(call, sizeof(call), "cut-%zu", i);
    char *words = it_db_text(db, "SELECT json_extract(reason, '$.trigger.words') FROM alerts "
                                 "WHERE call_id = ?1 AND rule_id = 'signal.customer-rapid-fire'",
                             call, NULL);
    ASSERT_STR_EQ(words, words_cut_cases[i].words);
    free(words);
    /* The line itself is masked whole, as before. */
    char *text = it_db_text(db, "SELECT text FROM alerts WHERE call_id = ?1 AND "
                                "rule_id = 'signal.customer-rapid-fire'", call, NULL);
    ASSERT(strchr(text, '[') != NULL);
    for (const char *p = text; *p; p++)
      ASSERT(!(*p >= '0' && *p <= '9'));
    free(text);
  }
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* Reads one line from fd within the test's deadline (poll, no sleeps). */
static int read_line_fd(int fd, char *buf, size_t cap) {
  size_t n = 0;
  uint64_t until = it_now_ms() + (uint64_t)it_scaled(20000);
  while (n + 1 < cap) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int left = (int)(until - it_now_ms());
    if (left <= 0 || poll(&p, 1, left) <= 0)
      return -1;
    char ch;
    if (read(fd, &ch, 1) != 1)
      return -1;
    if (ch == '\n')
      break;
    buf[n++] = ch;
  }
  buf[n] = '\0';
  return (int)n;
}

/* `earshot tail` keeps going across a daemon restart and resumes after the
 * last alert it showed: every alert once, in order. */
static void test_tail_reconnects(void) {
  struct it_daemon d;
  int fds[2];
  char line[65536];
  it_start(&d, NULL);
  /* How many alerts each call raises (a first daemon run tells). */
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(ES_EARSHOT_CLI, ES_EARSHOT_CLI, "tail", "--socket", d.sock, "--json", "--count", "1000",
          (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  /* tail subscribes before the call: wait until the daemon has a subscriber. */
  struct it_conn *probe = it_connect(&d);
  uint64_t give_up = it_now_ms() + (uint64_t)it_scaled(10000);
  for (;;) {
    if (it_now_ms() > give_up)
      IT_FAIL("earshot tail did not connect");
    ASSERT_EQ(it_sendf(probe, "{\"type\":\"stats\"}"), 0);
    cJSON *st = it_expect(probe, "stats", -1, NULL, NULL);
    int conns = (int)it_jint(st, "connections");
    cJSON_Delete(st);
    if (conns >= 2)
      break;
    it_pump(50);
  }
  it_close(probe);
  int n1 = stream_call(&d, "escalating", "tr-1");
  int64_t last = 0, seen = 0;
  for (int i = 0; i < n1; i++) {
    ASSERT(read_line_fd(fds[0], line, sizeof(line)) > 0);
    cJSON *a = cJSON_Parse(line);
    ASSERT(a != NULL);
    ASSERT(it_jint(a, "id") > last);
    last = it_jint(a, "id");
    cJSON_Delete(a);
    seen++;
  }
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);
  int n2 = stream_call(&d, "deescalated", "tr-2");
  for (int i = 0; i < n2; i++) {
    ASSERT(read_line_fd(fds[0], line, sizeof(line)) > 0);
    cJSON *a = cJSON_Parse(line);
    ASSERT(a != NULL);
    ASSERT_EQ(it_jint(a, "id"), last + 1); /* nothing lost, nothing twice */
    ASSERT_STR_EQ(it_jstr(a, "call_id"), "tr-2");
    last = it_jint(a, "id");
    cJSON_Delete(a);
    seen++;
  }
  ASSERT_EQ(seen, n1 + n2);
  kill(pid, SIGTERM);
  int st;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  close(fds[0]);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

/* Streams `n` agent lines that each raise it.policy (200 calls, taking
 * turns) on a new connection, and waits until the last is acknowledged:
 * every alert committed. */
static void stream_policy_lines(struct it_daemon *d, const char *tag, int n) {
  struct it_conn *c = it_connect(d);
  free(it_hello(c, 1));
  for (int i = 1; i <= n; i++)
    ASSERT_EQ(it_sendf(c, "{\"call_id\":\"%s-%d\",\"speaker\":\"agent\",\"text\":"
                          "\"sorry, that's our policy\",\"ts\":%d,\"seq\":%d}",
                       tag, i % 200, i, i), 0);
  it_alerts_until_ack(c, n);
  it_close(c);
}

/* Reads `n` feed_alerts and checks that their ids are exactly the store's
 * ids after `after`, in order: nothing missed, nothing twice. */
static void expect_feed_is_store(struct it_conn *s, sqlite3 *db, int64_t after, int n) {
  int64_t last = after;
  cJSON *got = read_feed(s, n, &last);
  cJSON *a;
  int64_t want = after;
  char p[32];
  cJSON_ArrayForEach(a, got) {
    snprintf(p, sizeof(p), "%" PRId64, want);
    want = it_db_int(db, "SELECT min(id) FROM alerts WHERE id > ?1", p, NULL);
    ASSERT_EQ(it_jint(a, "id"), want);
  }
  cJSON_Delete(got);
  snprintf(p, sizeof(p), "%" PRId64, want);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE id > ?1", p, NULL), 0);
}

/* A console that reads slowly, or comes back for a backlog far larger than
 * max_output_bytes, is sent at most that much at a time: it gets every
 * alert, in order, and is never disconnected for it (docs/protocol.md,
 * "The supervisor feed"). The backlog is read from the ring and, past
 * the ring's 4,096 records, from the store, in rounds. */
static void test_backlog_larger_than_output_limit(void) {
  struct it_daemon d;
  enum { N = 6000 }; /* about 3.5 MB of feed records, against 64 KiB */

  it_daemon_init(&d);
  it_rules(&d, "base.json");
  it_config(&d, "{\"limits\": {\"max_output_bytes\": 65536}}");
  ASSERT_EQ(it_daemon_start(&d, NULL), 0);

  /* A live subscriber that reads nothing while the alerts are raised. */
  struct it_conn *slow = subscribe(&d, "");
  stream_policy_lines(&d, "slow", N);
  sqlite3 *db = it_db_open(d.db);
  int64_t total = it_db_int(db, "SELECT count(*) FROM alerts", NULL);
  ASSERT(total >= N);
  expect_feed_is_store(slow, db, 0, (int)total);

  /* One that comes back for everything: the store's rows, then the ring's. */
  struct it_conn *back = it_connect(&d);
  ASSERT_EQ(it_sendf(back, "{\"type\":\"subscribe\",\"since\":0}"), 0);
  cJSON_Delete(it_expect(back, "subscribed", -1, NULL, NULL));
  expect_feed_is_store(back, db, 0, (int)total);

  /* Both are still connected, and live. */
  stream_policy_lines(&d, "after", 1);
  int64_t last = total;
  cJSON_Delete(read_feed(slow, 1, &last));
  last = total;
  cJSON_Delete(read_feed(back, 1, &last));
  struct it_conn *c = it_connect(&d);
  ASSERT_EQ(it_stat(c, "slow_client_disconnects"), 0);
  it_close(c);
  sqlite3_close(db);
  it_close(slow);
  it_close(back);
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_tail_reconnects);
  RUN(test_dead_air_on_timer);
  RUN(test_live_feed_and_backup);
  RUN(test_numeric_agent_filter);
  RUN(test_since_across_restart);
  RUN(test_tail_and_ack_commands);
  RUN(test_trigger_words_cut_safely);
  RUN(test_backlog_larger_than_output_limit);
  return 0;
}
