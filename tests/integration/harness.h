/*
 * harness.h: helpers for the earshotd integration tests.
 *
 * A test starts the real earshotd (IT_EARSHOTD, the binary built with the
 * tests; the environment variable IT_EARSHOTD overrides it) in a fresh
 * mkdtemp directory with its own socket, database and rules, talks to it
 * over the Unix socket as a client would, and reads the database back with
 * SQLite directly (read-only). Every wait has a deadline (timeout_ms < 0:
 * IT_WAIT_MS; 0: only what is there already) and waits on an event (a line
 * on a socket, a log line, the process exiting through a pidfd: Linux);
 * nothing sleeps to synchronise. Test programs take test names as
 * arguments to run only those.
 *
 * While any wait is in progress the harness also drains the stderr of
 * every running daemon into its log, so that a chatty daemon never blocks
 * on a full pipe. On an assertion failure the harness prints the tail of
 * each daemon's log, kills the daemons (SIGKILL) and aborts; the temporary
 * directory is kept for inspection. Daemons also die with the test process
 * (PR_SET_PDEATHSIG), so a ctest timeout leaves nothing behind.
 */
#ifndef IT_HARNESS_H
#define IT_HARNESS_H

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* The default deadline of one wait, in ms (IT_TIMEOUT_SCALE multiplies it). */
#define IT_WAIT_MS 30000

/* ---- assertions: on failure, report, kill the daemons, abort ---------- */

void it_fail_(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define IT_FAIL(...) it_fail_(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(expr)                                                         \
  do {                                                                       \
    if (!(expr)) IT_FAIL("%s", #expr);                                       \
  } while (0)
#define ASSERT_INT_(a, op, b)                                                \
  do {                                                                       \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                            \
    if (!(a_ op b_))                                                         \
      IT_FAIL("%s %s %s (%" PRId64 " vs %" PRId64 ")", #a, #op, #b, a_, b_);  \
  } while (0)
#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)
#define ASSERT_STR_EQ(a, b)                                                  \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                     \
      IT_FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",     \
              b_ ? b_ : "(null)");                                           \
  } while (0)
#define ASSERT_CONTAINS(hay, needle)                                         \
  do {                                                                       \
    const char *h_ = (hay), *n_ = (needle);                                  \
    if (h_ == NULL || strstr(h_, n_) == NULL)                                \
      IT_FAIL("%s contains \"%s\" (it is \"%s\")", #hay, n_, h_ ? h_ : "(null)"); \
  } while (0)

#define RUN(fn)                                                              \
  do {                                                                       \
    if (!it_selected(#fn))                                                   \
      break;                                                                 \
    fprintf(stderr, "-- %s\n", #fn);                                         \
    uint64_t t0_ = it_now_ms();                                              \
    fn();                                                                    \
    fprintf(stderr, "   ok (%" PRIu64 " ms)\n", it_now_ms() - t0_);          \
  } while (0)

/* Like RUN, but only when the test is named on the command line: for a
 * reproducer of a known daemon bug that the suite does not run yet. */
#define RUN_NAMED(fn)                                                        \
  do {                                                                       \
    if (it_named(#fn))                                                       \
      RUN(fn);                                                               \
  } while (0)

/* Call first: ignores SIGPIPE, reads IT_TIMEOUT_SCALE. Arguments, when
 * given, name the tests to run (default: all). */
void it_init(int argc, char **argv);
int it_selected(const char *test); /* named, or no names given */
int it_named(const char *test);    /* named */
uint64_t it_now_ms(void);         /* monotonic */
int it_scaled(int ms);            /* ms * IT_TIMEOUT_SCALE */

/* ---- the daemon --------------------------------------------------------- */

struct it_daemon {
  char dir[128];       /* the mkdtemp directory, owned by the test */
  char sock[192];      /* <dir>/d.sock */
  char db[192];        /* <dir>/alerts.db */
  char rules[192];     /* <dir>/rules.json (it_rules() fills it) */
  char config[192];    /* <dir>/config.json (it_config() fills it) */
  int has_config;
  int rules_in_config; /* no --rules: the config file names the rules */
  pid_t pid;           /* 0: not running */
  int pidfd;           /* readable once the process exits */
  int err_fd;          /* read end of its stdout+stderr, -1 at EOF */
  int exited, status;  /* waitpid status once exited */
  char *log;           /* everything it printed, NUL-terminated */
  size_t log_len, log_cap;
};

/* Makes a fresh directory and the paths in it (nothing is started). */
void it_daemon_init(struct it_daemon *d);
/* Kills the daemon if it still runs, removes its directory. */
void it_daemon_cleanup(struct it_daemon *d);

/* Writes tests/integration/rules/<name> to d->rules, atomically (a
 * temporary file renamed over it). */
void it_rules(struct it_daemon *d, const char *name);
/* Writes `json` to d->config (atomically). */
void it_config(struct it_daemon *d, const char *json);

/* Starts earshotd --foreground --socket --db --rules (unless
 * rules_in_config) [--config if it_config() was called] plus `extra`
 * (NULL-terminated, may be NULL).
 * Waits for " ready: " in its log: returns 0, or -1 when the process
 * exited first (d->status holds its status). Fails the test on timeout. */
int it_daemon_start(struct it_daemon *d, const char *const *extra);
/* it_daemon_init(), then it_rules(d, rules), or the bundled rules
 * (ES_BUNDLED_RULES) when rules is NULL, then it_daemon_start(d, NULL),
 * which must succeed. */
void it_start(struct it_daemon *d, const char *rules);

/* Sends `sig` and waits for the exit; returns the exit code, or 128 + the
 * signal that killed it. Fails the test on timeout. */
int it_daemon_stop(struct it_daemon *d, int sig);
/* Waits for the process to exit (by itself); returns as it_daemon_stop. */
int it_daemon_wait_exit(struct it_daemon *d, int timeout_ms);
int it_exit_code(int status);

/* Waits until `needle` appears in the log at or after byte `from`; returns
 * the offset just past it, or -1 on timeout or when the daemon exited
 * without printing it. */
long it_wait_log(struct it_daemon *d, size_t from, const char *needle, int timeout_ms);
/* Number of times `needle` occurs in the log (no waiting). */
int it_log_count(const struct it_daemon *d, const char *needle);

/* Runs earshotd with `args` (NULL-terminated) to completion, capturing
 * stdout and stderr together into *out (malloc'd, caller frees). Returns
 * the exit code. */
int it_run_earshotd(const char *const *args, char **out, int timeout_ms);
/* The same for any program: argv[0] is its path (the `earshot` command,
 * say). Its output is checked for sanitizer reports as a daemon's is. */
int it_run(const char *const *argv, char **out, int timeout_ms);

/* Lets log pipes drain for up to timeout_ms without waiting for anything
 * else; returns early when every daemon has exited. */
void it_pump(int timeout_ms);

/* ---- clients ------------------------------------------------------------ */

struct it_conn {
  int fd;
  int eof;             /* the daemon closed (or reset) the connection */
  char *buf;           /* buf[off..len): bytes read, not yet returned as lines */
  size_t off, len, cap;
  uint64_t lines_read;
};

/* Connects to d->sock; fails the test when it cannot. */
struct it_conn *it_connect(const struct it_daemon *d);
/* Connects without failing; NULL when refused. */
struct it_conn *it_try_connect(const char *path);
void it_close(struct it_conn *c);

/* Writes all of data; returns 0, or -1 when the daemon closed the socket
 * (EPIPE/ECONNRESET). Reads arriving meanwhile are buffered, so two peers
 * that both write never deadlock. Fails the test on timeout. */
int it_send(struct it_conn *c, const void *data, size_t len);
/* printf-style, a newline appended. */
int it_sendf(struct it_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends every line of the JSON-lines file at `path` (the test fails if
 * it cannot be read or a line is not a JSON object) with "seq" set to
 * ++*seq and, when call_id is not NULL, "call_id" replaced by it.
 * Returns how many lines were sent. */
int it_send_jsonl(struct it_conn *c, const char *path, const char *call_id, int *seq);

/* Nonblocking: writes what the socket takes now; returns bytes written
 * (0 when it would block) or -1 when the peer closed. */
long it_send_some(struct it_conn *c, const void *data, size_t len);
/* Nonblocking: reads what is there; returns bytes read, 0 when none, -1
 * at EOF. */
long it_recv_some(struct it_conn *c);

/* The next complete line (malloc'd, no newline), or NULL on EOF or
 * timeout (timeout_ms < 0: the default; 0: only what is buffered or
 * readable now). */
char *it_read_line(struct it_conn *c, int timeout_ms);
/* Takes a complete line already in the buffer, without reading. */
char *it_take_line(struct it_conn *c);
/* The next line parsed as JSON; NULL on EOF/timeout; fails the test on
 * a line that is not a JSON object. */
cJSON *it_read_json(struct it_conn *c, int timeout_ms);
/* Reads messages until one of `type` arrives, passing every other message
 * to `other` (which may be NULL: then any other message fails the test). */
cJSON *it_expect(struct it_conn *c, const char *type, int timeout_ms,
                 void (*other)(void *ud, cJSON *msg), void *ud);

/* it_expect() with the default timeout and no other message allowed, then
 * checks that the message's "seq" is `seq`. */
void it_expect_seq(struct it_conn *c, const char *type, int64_t seq);

/* Asks for the daemon's stats (no other message may come first) and
 * returns the number `key` of them. */
int64_t it_stat(struct it_conn *c, const char *key);

/* The error record of the line with `seq`, with this code, then the ack of
 * that line (a line that got an error is acknowledged too). */
void it_expect_error_acked(struct it_conn *c, const char *code, int64_t seq);

/* Reads until the ack of `seq`, counting alerts and passing lower acks;
 * any other message fails the test. Returns the alerts. */
int it_alerts_until_ack(struct it_conn *c, int64_t seq);

/* Says hello with acks on or off and checks the answer; returns the rule
 * set version the daemon reported (malloc'd). */
char *it_hello(struct it_conn *c, int acks);

/* Accessors that fail the test when the field is missing. */
const char *it_jstr(const cJSON *o, const char *key);
int64_t it_jint(const cJSON *o, const char *key);
const char *it_jtype(const cJSON *o); /* "type", or "" */

/* Waits until every fd in fds is ready for `events` or the deadline passes;
 * pumps the daemons' logs meanwhile. Returns poll()'s result. */
int it_poll(struct pollfd *fds, int nfds, int timeout_ms);

/* ---- the database -------------------------------------------------------- */

/* Opens d->db read-only (fails the test when it cannot). */
sqlite3 *it_db_open(const char *path);
/* One integer from `sql` with text parameters ?1.. (NULL-terminated);
 * fails the test on an SQL error or no row. */
int64_t it_db_int(sqlite3 *db, const char *sql, ...);
/* One text value (malloc'd; NULL for SQL NULL). */
char *it_db_text(sqlite3 *db, const char *sql, ...);

/* ---- the rules in tests/integration/rules ------------------------------- */

/* What base.json and reloaded.json say about each rule. */
struct it_rule {
  const char *id, *category, *severity, *speaker, *tip;
};
/* The rule with this id; fails the test for an unknown id. */
const struct it_rule *it_rule(const char *id);

/* ---- files ---------------------------------------------------------------- */

void it_write_file(const char *path, const void *data, size_t len); /* atomic */
/* 1 when the file holds `needle` anywhere in its raw bytes; 0 when not or
 * when the file does not exist. */
int it_file_contains(const char *path, const void *needle, size_t len);
int it_file_exists(const char *path);

/* A small growable string for building lines. */
struct it_str {
  char *p;
  size_t len, cap;
};
void it_str_add(struct it_str *s, const void *data, size_t len);
void it_str_addf(struct it_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void it_str_free(struct it_str *s);

#endif
