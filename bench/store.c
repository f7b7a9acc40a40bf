/*
 * store.c: the SQLite writer's cost per row, as earshotd's writer thread
 * pays it.
 *
 * Writes the rows a stream of calls leaves in the store (a call start, a
 * share of alerting lines, a call end with its summary) through the same
 * es_store calls earshotd's writer makes, in transactions of --batch
 * alerts (earshotd commits every commit_interval_ms: at 24,000 alerts/s
 * and the default 10 ms, about 240 alerts a transaction). Prints rows and
 * alerts per CPU-second of the writing thread, and per wall second
 * including the commits' fsyncs.
 *
 * usage: bench_store [--alerts N] [--batch N] [--alerts-per-call N]
 *                    [--reason-every N] [--webhooks N] [--whole-calls]
 *                    [--sync full|normal]
 *                    [--exec SQL]... --db PATH
 *   --reason-every N gives every Nth alert a `reason` JSON like a backup
 *   alert's (about 400 bytes, masked and checked like one); none by default.
 *   --whole-calls writes a call's start and end as one row
 *   (es_store_put_call()) when both fall in one transaction, as earshotd's
 *   writer does.
 *   --webhooks N writes what N webhook destinations add: each alert's
 *   outbox row per destination (its payload the supervisor feed's record,
 *   in the alert's transaction), and their deliveries (es_store_update_outbox
 *   DELIVERED, in the next transaction); none by default.
 *   --exec runs a statement after the schema is in place, for experiments
 *   ("DROP TRIGGER alerts_search_insert": the cost without the full-text
 *   index).
 *   bench/store.sh builds and runs it on a temporary database.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"

/* Lines as a platform sends them (the text is stored masked): the first
 * words vary per alert so that the full-text index sees a realistic
 * vocabulary, not one repeated row. */
static const char *const lines[] = {
  "I want to speak to your manager right now, this is the %s time",
  "this is ridiculous, I have called about the %s charge three times",
  "I'm going to talk to my lawyer about the %s fee on my account",
  "I'm cancelling my account, the %s bill was wrong again",
  "you need to calm down sir, that's our policy for the %s plan",
  "there's nothing I can do about the %s order, it has shipped",
};
static const char *const words[] = {
  "third", "late", "roaming", "duplicate", "annual", "premium", "second",
  "overdue", "cancelled", "upgrade", "refund", "activation", "missing",
};
static const char *const rules[] = {
  "customer.manager_request", "customer.exasperation", "customer.legal_threat",
  "customer.churn_threat", "agent.calm_down", "agent.nothing_i_can_do",
};
static const char *const cats[] = {
  "manager_request", "exasperation", "legal_threat", "churn_threat",
  "banned_phrase", "banned_phrase",
};
static const char *const tips[] = {
  "Acknowledge the request, say what you will do now, and offer the supervisor if it stands.",
  "Name the frustration and own the next step: \"I'm sorry you've had to call again.\"",
  "Stay factual and calm; note the threat and raise it to a supervisor.",
  "Acknowledge, then show what you can do to keep the customer.",
  "Say instead: \"I can hear how frustrating this is.\"",
  "Say what you can do instead: \"Here's what I can do.\"",
};

/* A backup alert's reason, as lib/engine.c writes one. */
static const char reason_json[] =
    "{\"summary\":\"heat 7.5 reached 6: customer \\\"speak to your manager\\\" "
    "(manager_request +2.5 at 12.3s); customer \\\"this is ridiculous\\\" (exasperation +1.5 "
    "at 20.1s)\",\"hits\":[{\"rule\":\"customer.manager_request\",\"category\":"
    "\"manager_request\",\"speaker\":\"customer\",\"words\":\"speak to your manager\","
    "\"t\":12.3,\"score\":2.5,\"weight\":1},{\"rule\":\"customer.exasperation\","
    "\"category\":\"exasperation\",\"speaker\":\"customer\",\"words\":"
    "\"this is ridiculous\",\"t\":20.1,\"score\":1.5,\"weight\":0.8}]}";

/* s as the contents of a JSON string (the bench's texts need only '"' and
 * '\\' escaped), NUL-terminated in out[cap]. */
static const char *json_str(char *out, size_t cap, const char *s) {
  size_t o = 0;
  for (; *s && o + 3 < cap; s++) {
    if (*s == '"' || *s == '\\') out[o++] = '\\';
    out[o++] = *s;
  }
  out[o] = '\0';
  return out;
}

static double now(clockid_t clock) {
  struct timespec t;
  clock_gettime(clock, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die_store(struct es_store *s, const char *what) {
  fprintf(stderr, "bench_store: %s: %s\n", what, es_store_errmsg(s));
  exit(1);
}

static long arg_long(const char *opt, const char *v) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n <= 0) {
    fprintf(stderr, "bench_store: %s wants a positive integer, not \"%s\"\n", opt, v);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  long alerts = 200000, batch = 240, per_call = 1, reason_every = 0, webhooks = 0;
  int whole_calls = 0;
  const char *path = NULL, *sync = "normal";

  /* as earshotd runs SQLite: without its memory statistics (daemon/main.c) */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  const char *exec_sql[8];
  size_t nexec = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--alerts") == 0) {
      alerts = arg_long(argv[i], argv[i + 1]);
      i++;
    } else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0) {
      batch = arg_long(argv[i], argv[i + 1]);
      i++;
    } else if (i + 1 < argc && strcmp(argv[i], "--alerts-per-call") == 0) {
      per_call = arg_long(argv[i], argv[i + 1]);
      i++;
    } else if (i + 1 < argc && strcmp(argv[i], "--reason-every") == 0) {
      reason_every = arg_long(argv[i], argv[i + 1]);
      i++;
    } else if (i + 1 < argc && strcmp(argv[i], "--webhooks") == 0) {
      webhooks = arg_long(argv[i], argv[i + 1]);
      i++;
    } else if (strcmp(argv[i], "--whole-calls") == 0) {
      whole_calls = 1;
    } else if (i + 1 < argc && strcmp(argv[i], "--sync") == 0) {
      sync = argv[++i];
    } else if (i + 1 < argc && strcmp(argv[i], "--exec") == 0 && nexec < 8) {
      exec_sql[nexec++] = argv[++i];
    } else if (i + 1 < argc && strcmp(argv[i], "--db") == 0) {
      path = argv[++i];
    } else {
      fprintf(stderr, "usage: bench_store --db PATH [--alerts N] [--batch N] "
                      "[--alerts-per-call N] [--reason-every N] [--webhooks N] [--whole-calls] "
                      "[--sync full|normal] [--exec SQL]...\n");
      return 2;
    }
  }
  if (path == NULL) {
    fprintf(stderr, "bench_store: --db PATH is required (a file that may be replaced)\n");
    return 2;
  }
  if (strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0) {
    fprintf(stderr, "bench_store: --sync is full or normal, not \"%s\"\n", sync);
    return 2;
  }

  /* A fresh file each run: the database and its WAL and index files. */
  static const char *const suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char file[4096];
    snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
    unlink(file);
  }

  struct es_store_opts opts;
  es_store_opts_init(&opts);
  opts.synchronous = strcmp(sync, "full") == 0 ? ES_STORE_SYNC_FULL : ES_STORE_SYNC_NORMAL;
  struct es_store *s = NULL;
  if (es_store_open(path, &opts, &s, NULL) != 0) {
    fprintf(stderr, "bench_store: cannot open %s\n", path);
    return 1;
  }

  for (size_t i = 0; i < nexec; i++)
    if (es_store_query(s, exec_sql[i], NULL, 0, NULL, NULL) != 0) die_store(s, exec_sql[i]);

  const size_t nlines = sizeof lines / sizeof lines[0];
  const size_t nwords = sizeof words / sizeof words[0];
  double t0 = 1795000000.0; /* a fixed start: the same rows every run */
  double cpu0 = now(CLOCK_THREAD_CPUTIME_ID), wall0 = now(CLOCK_MONOTONIC);
  double commit_cpu = 0, commit_max = 0;
  long rows = 0, in_batch = 0;
  char call_id[64], key[96], text[256], payload[2048];
  /* Outbox rows are numbered from 1 in the order they are written; those
   * below `delivered` have been, those below `queued` can be. */
  int64_t outbox_next = 1, delivered = 1, queued = 1;

  /* With --whole-calls, the start waiting for its end in this transaction. */
  struct es_call_start held;
  int holding = 0;

  if (es_store_begin(s) != 0) die_store(s, "begin");
  for (long a = 0; a < alerts; a++) {
    long call = a / per_call, nth = a % per_call;
    double ts = t0 + (double)a * 0.001;
    snprintf(call_id, sizeof call_id, "bench-%08ld", call);
    if (nth == 0) {
      struct es_call_start cs = {.call_id = call_id,
                                 .attributes = "{\"queue\":\"billing\",\"customer\":\"C-1042\"}",
                                 .agent = "agent-17",
                                 .queue = "billing",
                                 .started = ts};
      if (whole_calls) {
        held = cs;
        holding = 1;
      } else {
        if (es_store_put_call_start(s, &cs) != 0) die_store(s, "call start");
        rows++;
      }
    }
    size_t k = (size_t)a % nlines;
    int n = snprintf(text, sizeof text, lines[k], words[((size_t)a / nlines) % nwords]);
    snprintf(key, sizeof key, "%s:%s:%ld", call_id, rules[k], nth);
    struct es_alert_rec rec = {
      .alert_key = key,
      .call_id = call_id,
      .ts = ts,
      .call_ts = (double)nth * 12.5,
      .rule_id = rules[k],
      .category = cats[k],
      .severity = ES_SEV_MEDIUM,
      .speaker = k < 4 ? ES_SPEAKER_CUSTOMER : ES_SPEAKER_AGENT,
      .text = text,
      .text_len = (size_t)n,
      .match_start = 2,
      .match_end = 20,
      .matched = NULL,
      .tip = tips[k],
      .heat = 3.5 + (double)nth,
      .rule_set = "0123456789abcdef",
      .reason = reason_every > 0 && a % reason_every == 0 ? reason_json : NULL,
      .id = a + 1,
    };
    if (es_store_put_alert(s, &rec) != 0) die_store(s, "alert");
    rows++;
    if (webhooks > 0) {
      char tip[256];
      snprintf(payload, sizeof payload,
               "{\"type\":\"alert\",\"id\":%ld,\"call_id\":\"%s\",\"ts\":%.3f,"
               "\"rule\":\"%s\",\"category\":\"%s\",\"severity\":\"medium\","
               "\"speaker\":\"%s\",\"text\":\"%s\",\"matched\":\"%.18s\",\"tip\":\"%s\","
               "\"heat\":%.1f,\"agent\":\"agent-17\",\"queue\":\"billing\"}",
               a + 1, call_id, ts, rules[k], cats[k], k < 4 ? "customer" : "agent", text,
               text + 2, json_str(tip, sizeof tip, tips[k]), rec.heat);
      for (long d = 0; d < webhooks; d++) {
        char dest[32];
        snprintf(dest, sizeof dest, "hook-%ld", d + 1);
        struct es_outbox_rec row = {.destination = dest, .alert_id = a + 1,
                                    .payload = payload, .created_at = ts};
        if (es_store_put_outbox(s, &row) != 0) die_store(s, "outbox");
        outbox_next++;
        rows++;
      }
    }
    if (nth == per_call - 1 || a == alerts - 1) {
      struct es_call_end ce = {.call_id = call_id,
                               .ended = ts + 300,
                               .reason = ES_END_ENDED,
                               .alert_count = nth + 1,
                               .peak_heat = 3.5 + (double)nth,
                               .final_heat = 1.0,
                               .hits_by_category = "{\"manager_request\":1}",
                               .backup_raised = 0,
                               .deescalated = 1};
      if (holding) {
        if (es_store_put_call(s, &held, &ce) != 0) die_store(s, "call");
        holding = 0;
      } else if (es_store_put_call_end(s, &ce) != 0) {
        die_store(s, "call end");
      }
      rows++;
    }
    if (++in_batch == batch || a == alerts - 1) {
      if (holding) {
        if (es_store_put_call_start(s, &held) != 0) die_store(s, "call start");
        holding = 0;
        rows++;
      }
      double c = now(CLOCK_THREAD_CPUTIME_ID);
      if (es_store_commit(s) != 0) die_store(s, "commit");
      double dc = now(CLOCK_THREAD_CPUTIME_ID) - c;
      commit_cpu += dc;
      if (dc > commit_max) commit_max = dc;
      in_batch = 0;
      queued = outbox_next;
      if (a != alerts - 1 && es_store_begin(s) != 0) die_store(s, "begin");
      /* The deliveries of the batch just committed, as their outcomes
       * come back to the writer. */
      for (; a != alerts - 1 && delivered < queued; delivered++) {
        struct es_outbox_update u = {.id = delivered, .state = ES_OUTBOX_DELIVERED};
        if (es_store_update_outbox(s, &u) != 0) die_store(s, "outbox delivered");
        rows++;
      }
    }
  }
  double cpu = now(CLOCK_THREAD_CPUTIME_ID) - cpu0, wall = now(CLOCK_MONOTONIC) - wall0;

  struct es_store_stats st;
  es_store_get_stats(s, &st);
  es_store_close(s);
  if (st.alerts_written != (uint64_t)alerts) {
    fprintf(stderr, "bench_store: %llu alerts written, expected %ld\n",
            (unsigned long long)st.alerts_written, alerts);
    return 1;
  }
  printf("bench_store: %ld alerts, %ld rows, %ld alerts per transaction, %ld per call, "
         "synchronous %s", alerts, rows, batch, per_call, sync);
  if (reason_every > 0) printf(", a reason every %ld", reason_every);
  if (webhooks > 0) printf(", %ld webhooks", webhooks);
  printf("\n");
  printf("bench_store: CPU %.3f s (commits %.3f s, the longest %.1f ms): %.1f us per alert "
         "with its call rows, %.0f alerts/CPU-s, %.0f rows/CPU-s\n",
         cpu, commit_cpu, commit_max * 1e3, cpu / (double)alerts * 1e6, (double)alerts / cpu,
         (double)rows / cpu);
  printf("bench_store: wall %.3f s: %.0f alerts/s\n", wall, (double)alerts / wall);
  return 0;
}
