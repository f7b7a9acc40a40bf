/*
 * qtest.h: shared pieces of the query tests: run a program and capture
 * what it prints, and build a realistic alert store through lib/store.h.
 */
#ifndef ES_QTEST_H
#define ES_QTEST_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "task.h"

#define QT_TIMEOUT_MS 60000 /* a command that takes longer has hung */

struct qt_run {
  int status;  /* exit status, or 128 + signal */
  char *out;   /* stdout, NUL-terminated, from malloc() */
  size_t out_len;
  char *err;   /* stderr */
  size_t err_len;
};

__attribute__((unused)) static void qt_run_free(struct qt_run *r) {
  free(r->out);
  free(r->err);
  memset(r, 0, sizeof *r);
}

static void qt_append(char **buf, size_t *len, const char *p, size_t n) {
  char *b = realloc(*buf, *len + n + 1);
  ASSERT(b != NULL);
  memcpy(b + *len, p, n);
  *len += n;
  b[*len] = '\0';
  *buf = b;
}

/* Runs argv (argv[0] a path) with `env` ("NAME=value" strings, NULL-ended;
 * may be NULL) added to the environment and `input` (may be NULL) on its
 * stdin; waits for it, killing it after QT_TIMEOUT_MS. */
__attribute__((unused)) static void qt_run(char *const argv[], const char *const *env,
                                          const char *input, struct qt_run *r) {
  int in[2], out[2], err[2];
  memset(r, 0, sizeof *r);
  qt_append(&r->out, &r->out_len, "", 0);
  qt_append(&r->err, &r->err_len, "", 0);
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(err), 0);
  fflush(NULL);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(err[0]), close(err[1]);
    for (const char *const *e = env; e && *e; e++) putenv((char *)*e);
    execv(argv[0], argv);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (input) {
    /* Small inputs only (docs queries): they fit in the pipe. */
    size_t n = strlen(input);
    ASSERT_LT(n, 60000);
    ASSERT_EQ(write(in[1], input, n), (ssize_t)n);
  }
  close(in[1]);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int open_fds = 2;
  struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  while (open_fds > 0) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed > QT_TIMEOUT_MS) {
      kill(pid, SIGKILL);
      ES_FAIL_("%s did not finish within %d ms", argv[0], QT_TIMEOUT_MS);
    }
    int n = poll(p, 2, (int)(QT_TIMEOUT_MS - elapsed));
    if (n < 0 && errno == EINTR) continue;
    ASSERT(n >= 0);
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[65536];
      ssize_t got = read(p[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (i == 0)
          qt_append(&r->out, &r->out_len, buf, (size_t)got);
        else
          qt_append(&r->err, &r->err_len, buf, (size_t)got);
      } else if (got == 0 || errno != EINTR) {
        close(p[i].fd);
        p[i].fd = -1;
        open_fds--;
      }
    }
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- a realistic store ------------------------------------------------- */

/* The store the tests query, relative to `now`:
 *   call-a  alice      billing     2 h ago, ended; escalated, backup, recovered
 *   call-b  "bob, jr." support...  3 days ago, ended
 *   call-c  carol      billing     20 days ago, ended
 *   call-d  alice      billing     30 min ago, still open
 *   call-old dave      billing     40 days ago, ended
 * and nine alerts (ids 1..9 in this order) whose text has commas, quotes,
 * newlines, unicode and a card number (stored masked). */
struct qt_alert {
  const char *key, *call;
  double age;      /* seconds before now */
  double call_ts;  /* NAN: none */
  const char *rule, *category;
  enum es_severity sev;
  enum es_speaker speaker;
  const char *text, *matched_word; /* matched: first occurrence in text */
  const char *tip;
  double heat;
  const char *reason;
};

#define QT_LINE_A1 "I want your manager, \"right now\"\nor I call my lawyer"
#define QT_LINE_A2 "Calm down, sir \xe2\x80\x94 \xe5\x86\xb7\xe9\x9d\x99\xe3\x81\xab"
#define QT_LINE_A5 "calm down please, caf\xc3\xa9 au lait"
#define QT_AGENT_B "bob, jr."
#define QT_QUEUE_B "support \"tier 2\""
#define QT_REASON_A4 \
  "{\"rules\":[\"customer.manager_request\",\"customer.legal_threat\"],\"heat\":7.5," \
  "\"why\":\"manager + lawyer, \\\"fast\\\"\"}"

static const struct qt_alert qt_alerts[] = {
  {"a1", "call-a", 7200 - 60, 60, "customer.manager_request", "manager_request", ES_SEV_HIGH,
   ES_SPEAKER_CUSTOMER, QT_LINE_A1, "your manager", "Acknowledge, then offer what you can do.",
   3.0, NULL},
  {"a2", "call-a", 7200 - 120, 120, "agent.calm_down", "banned_phrase", ES_SEV_MEDIUM,
   ES_SPEAKER_AGENT, QT_LINE_A2, "Calm down", "Say \"I can hear how frustrating this is\"",
   4.5, NULL},
  {"a3", "call-a", 7200 - 130, 130, "agent.policy", "banned_phrase", ES_SEV_LOW,
   ES_SPEAKER_AGENT, "That's our policy, ma'am", "our policy", NULL, 5.0, NULL},
  {"a4", "call-a", 7200 - 140, NAN, "call.needs_backup", "backup", ES_SEV_CRITICAL,
   ES_SPEAKER_ANY, NULL, NULL, NULL, 7.5, QT_REASON_A4},
  {"a5", "call-b", 3 * 86400 - 100, 100, "agent.calm_down", "banned_phrase", ES_SEV_MEDIUM,
   ES_SPEAKER_AGENT, QT_LINE_A5, "calm down", NULL, 2.0, NULL},
  {"a6", "call-b", 3 * 86400 - 200, 200, "customer.exasperation", "exasperation", ES_SEV_LOW,
   ES_SPEAKER_CUSTOMER, "this is ridiculous", "ridiculous", NULL, 1.0, NULL},
  {"a7", "call-c", 20 * 86400 - 50, 50, "customer.abuse", "abuse", ES_SEV_HIGH,
   ES_SPEAKER_CUSTOMER, "you idiot", "idiot", NULL, 2.5, NULL},
  {"a8", "call-d", 1200, 300, "customer.churn_threat", "churn_threat", ES_SEV_MEDIUM,
   ES_SPEAKER_CUSTOMER, "cancel it, my card is 4111 1111 1111 1111", "cancel", NULL, 1.5,
   NULL},
  {"a9", "call-old", 40 * 86400 - 30, 30, "customer.manager_request", "manager_request",
   ES_SEV_MEDIUM, ES_SPEAKER_CUSTOMER, "get me a supervisor", "supervisor", NULL, 1.0, NULL},
};
#define QT_NALERTS (sizeof qt_alerts / sizeof qt_alerts[0])

/* The store record of q, `now` being the time q->age counts back from.
 * A line's match span is the first occurrence of q->matched_word; an
 * alert without a line gets fixed matched words. */
static struct es_alert_rec qt_alert_rec(const struct qt_alert *q, double now) {
  struct es_alert_rec r;
  memset(&r, 0, sizeof r);
  r.alert_key = q->key;
  r.call_id = q->call;
  r.ts = now - q->age;
  r.call_ts = q->call_ts;
  r.rule_id = q->rule;
  r.category = q->category;
  r.severity = q->sev;
  r.speaker = q->speaker;
  r.text = q->text;
  r.text_len = q->text ? strlen(q->text) : 0;
  if (q->text) {
    const char *m = strstr(q->text, q->matched_word);
    ASSERT(m != NULL);
    r.match_start = (uint32_t)(m - q->text);
    r.match_end = r.match_start + (uint32_t)strlen(q->matched_word);
  } else {
    r.matched = "manager + lawyer";
  }
  r.tip = q->tip;
  r.heat = q->heat;
  r.reason = q->reason;
  return r;
}

static void qt_build_store(const char *path, double now) {
  struct es_store *s = NULL;
  ASSERT_EQ(es_store_open(path, NULL, &s, NULL), 0);
  ASSERT_EQ(es_store_begin(s), 0);
  const struct {
    const char *id, *agent, *queue, *attrs;
    double age, length; /* length < 0: still open */
    double peak, final;
    const char *hits;
    int backup, deesc;
  } calls[] = {
    {"call-a", "alice", "billing", "{\"customer\":\"Zo\xc3\xab, \\\"VIP\\\"\"}", 7200, 1800, 7.5,
     1.0, "{\"manager_request\":1,\"banned_phrase\":2,\"backup\":1}", 1, 1},
    {"call-b", QT_AGENT_B, QT_QUEUE_B, NULL, 3 * 86400, 600, 2.0, 2.0,
     "{\"banned_phrase\":1,\"exasperation\":1}", 0, 0},
    {"call-c", "carol", "billing", NULL, 20 * 86400, 300, 2.5, 0.5, "{\"abuse\":1}", 0, 1},
    {"call-d", "alice", "billing", NULL, 1800, -1, NAN, NAN, NULL, -1, -1},
    {"call-old", "dave", "billing", NULL, 40 * 86400, 100, 1.0, 1.0, "{\"manager_request\":1}",
     0, 0},
  };
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    struct es_call_start cs = {calls[i].id, calls[i].attrs, calls[i].agent, calls[i].queue,
                               now - calls[i].age};
    ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  }
  for (size_t i = 0; i < QT_NALERTS; i++) {
    struct es_alert_rec r = qt_alert_rec(&qt_alerts[i], now);
    r.rule_set = "v-test";
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
  }
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    if (calls[i].length < 0) continue;
    struct es_call_end ce = {calls[i].id,  now - calls[i].age + calls[i].length, ES_END_ENDED,
                             2,            calls[i].peak,  calls[i].final,
                             calls[i].hits, calls[i].backup, calls[i].deesc};
    ASSERT_EQ(es_store_put_call_end(s, &ce), 0);
  }
  ASSERT_EQ(es_store_commit(s), 0);
  /* Checkpointed and closed: the file alone holds everything. */
  ASSERT_EQ(es_store_checkpoint(s, 1), 0);
  es_store_close(s);
}

/* Reads a whole file into a malloc()ed buffer; NULL when missing. */
static char *qt_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  *len = 0;
  if (f == NULL) return NULL;
  char *buf = NULL;
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) qt_append(&buf, len, chunk, n);
  fclose(f);
  if (buf == NULL) qt_append(&buf, len, "", 0);
  return buf;
}

/* Asserts that the full-text index agrees with the alerts table (FTS5's
 * integrity-check fails the statement otherwise). */
__attribute__((unused)) static void qt_check_search_index(const char *path) {
  sqlite3 *h = NULL;
  ASSERT_EQ(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "INSERT INTO alert_search (alert_search) VALUES ('integrity-check')",
                         NULL, NULL, NULL),
            SQLITE_OK);
  sqlite3_close(h);
}

static void qt_remove_db(const char *path) {
  char p[600];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

#endif
