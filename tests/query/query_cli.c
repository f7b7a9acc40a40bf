/*
 * query_cli.c: the analysts' verbs of the real `earshot` binary
 * (docs/analysts.md) against a store built through lib/store.h: every
 * verb and format, the filters, relative and absolute times, feedback
 * marks and false-positive rates, search, purge, and that queries never
 * change the file nor wait for a writer.
 */
#include <cjson/cJSON.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdarg.h>

#include "qtest.h"

static char tmpdir[64], db[256];
static double now;

/* Runs `earshot ARGS...` (NULL-terminated) with --db appended unless
 * the first argument is NULL-db marker "-"; env may be NULL. */
static void earshot_env(struct qt_run *r, const char *const *env, const char *first, ...) {
  char *argv[64];
  int n = 0;
  va_list ap;
  argv[n++] = (char *)ES_EARSHOT_CLI;
  va_start(ap, first);
  for (const char *a = first; a; a = va_arg(ap, const char *)) {
    ASSERT_LT(n, 60);
    argv[n++] = (char *)a;
  }
  va_end(ap);
  argv[n] = NULL;
  qt_run(argv, env, NULL, r);
}

#define EARSHOT(r, ...) earshot_env(r, NULL, __VA_ARGS__, NULL)

static void expect_ok(const struct qt_run *r) {
  if (r->status != 0) ES_FAIL_("exit %d, stderr: %s", r->status, r->err);
}

/* ---- CSV (RFC 4180) ------------------------------------------------------- */

#define CSV_MAX_RECORDS 64
#define CSV_MAX_FIELDS 32

struct csv {
  int nrec;
  int nfield[CSV_MAX_RECORDS];
  char *f[CSV_MAX_RECORDS][CSV_MAX_FIELDS];
};

/* Parses strictly: every record ends in CRLF; quotes only around whole
 * fields, doubled inside; CR and LF only inside quotes. */
static void csv_parse(const char *p, struct csv *c) {
  memset(c, 0, sizeof *c);
  while (*p) {
    ASSERT_LT(c->nrec, CSV_MAX_RECORDS);
    int r = c->nrec++;
    for (;;) {
      char *field = NULL;
      size_t len = 0;
      qt_append(&field, &len, "", 0);
      if (*p == '"') {
        p++;
        for (;;) {
          if (*p == '\0') ES_FAIL_("CSV: unterminated quoted field");
          if (*p == '"' && p[1] == '"') {
            qt_append(&field, &len, "\"", 1);
            p += 2;
          } else if (*p == '"') {
            p++;
            break;
          } else {
            qt_append(&field, &len, p++, 1);
          }
        }
      } else {
        while (*p && *p != ',' && *p != '\r') {
          if (*p == '"' || *p == '\n') ES_FAIL_("CSV: quote or LF in an unquoted field");
          qt_append(&field, &len, p++, 1);
        }
      }
      ASSERT_LT(c->nfield[r], CSV_MAX_FIELDS);
      c->f[r][c->nfield[r]++] = field;
      if (*p == ',') {
        p++;
        continue;
      }
      if (p[0] != '\r' || p[1] != '\n') ES_FAIL_("CSV: record does not end in CRLF");
      p += 2;
      break;
    }
  }
}

static void csv_free(struct csv *c) {
  for (int r = 0; r < c->nrec; r++)
    for (int i = 0; i < c->nfield[r]; i++) free(c->f[r][i]);
}

static int csv_col(const struct csv *c, const char *name) {
  for (int i = 0; i < c->nfield[0]; i++)
    if (strcmp(c->f[0][i], name) == 0) return i;
  ES_FAIL_("CSV: no column %s", name);
  return -1;
}

/* The record whose column `key` equals value; -1 when none. */
static int csv_find(const struct csv *c, const char *key, const char *value) {
  int k = csv_col(c, key);
  for (int r = 1; r < c->nrec; r++)
    if (strcmp(c->f[r][k], value) == 0) return r;
  return -1;
}

/* ---- JSON ------------------------------------------------------------------- */

static cJSON *json_parse(const struct qt_run *r) {
  cJSON *j = cJSON_Parse(r->out);
  if (j == NULL) ES_FAIL_("not JSON: %s", r->out);
  return j;
}

static const cJSON *field(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (v == NULL) ES_FAIL_("no field %s", name);
  return v;
}

static const char *str_field(const cJSON *o, const char *name) {
  const cJSON *v = field(o, name);
  if (!cJSON_IsString(v)) ES_FAIL_("field %s is not a string", name);
  return v->valuestring;
}

static double num_field(const cJSON *o, const char *name) {
  const cJSON *v = field(o, name);
  if (!cJSON_IsNumber(v)) ES_FAIL_("field %s is not a number", name);
  return v->valuedouble;
}

/* Rows an alerts-like command prints in JSON. */
static int json_rows(const char *first, ...) {
  char *argv[64];
  int n = 0;
  va_list ap;
  struct qt_run r;
  argv[n++] = (char *)ES_EARSHOT_CLI;
  va_start(ap, first);
  for (const char *a = first; a; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
  va_end(ap);
  argv[n++] = "--format";
  argv[n++] = "json";
  argv[n++] = "--db";
  argv[n++] = db;
  argv[n] = NULL;
  qt_run(argv, NULL, NULL, &r);
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  ASSERT(cJSON_IsArray(j));
  int count = cJSON_GetArraySize(j);
  cJSON_Delete(j);
  qt_run_free(&r);
  return count;
}

#define ROWS(...) json_rows(__VA_ARGS__, NULL)

static void iso(double t, char *buf, size_t cap) {
  time_t secs = (time_t)t;
  struct tm tm;
  gmtime_r(&secs, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_alerts_formats(void) {
  struct qt_run r;
  struct csv c;

  /* table (the default): aligned, one line per alert, text escaped */
  EARSHOT(&r, "alerts", "--db", db);
  expect_ok(&r);
  int lines = 0;
  for (const char *p = r.out; *p; p++) lines += *p == '\n';
  ASSERT_EQ(lines, 2 + (int)QT_NALERTS);
  ASSERT(strncmp(r.out, "id  time", 8) == 0);
  ASSERT(strstr(r.out, "I want your manager, \"right now\"\\nor I call my lawyer") != NULL);
  ASSERT(strstr(r.out, "[CARD]") != NULL);
  ASSERT(strstr(r.out, "4111") == NULL);
  /* newest first: call-d's alert (20 minutes ago) is the first row */
  const char *row1 = strchr(strchr(r.out, '\n') + 1, '\n') + 1;
  ASSERT(strstr(row1, "call-d") < strchr(row1, '\n'));
  /* every line of a column starts at the same place */
  const char *hdr_rule = strstr(r.out, "rule_id");
  const char *line2 = strchr(row1, '\n') + 1;
  ASSERT(strncmp(line2 + (hdr_rule - r.out), "customer.manager_request", 24) == 0 ||
         strncmp(line2 + (hdr_rule - r.out), "call.needs_backup", 17) == 0);
  qt_run_free(&r);

  /* CSV: RFC 4180, text exactly as stored */
  EARSHOT(&r, "alerts", "--db", db, "--format", "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 1 + (int)QT_NALERTS);
  ASSERT_STR_EQ(c.f[0][0], "id");
  int a1 = csv_find(&c, "id", "1");
  ASSERT_GT(a1, 0);
  ASSERT_STR_EQ(c.f[a1][csv_col(&c, "text")], QT_LINE_A1);
  ASSERT_STR_EQ(c.f[a1][csv_col(&c, "matched")], "your manager");
  ASSERT_STR_EQ(c.f[a1][csv_col(&c, "agent")], "alice");
  ASSERT_STR_EQ(c.f[a1][csv_col(&c, "heat")], "3.0");
  int a5 = csv_find(&c, "id", "5");
  ASSERT_STR_EQ(c.f[a5][csv_col(&c, "agent")], QT_AGENT_B);
  ASSERT_STR_EQ(c.f[a5][csv_col(&c, "queue")], QT_QUEUE_B);
  ASSERT_STR_EQ(c.f[a5][csv_col(&c, "text")], QT_LINE_A5);
  ASSERT_STR_EQ(c.f[csv_find(&c, "id", "2")][csv_col(&c, "text")], QT_LINE_A2);
  ASSERT_STR_EQ(c.f[csv_find(&c, "id", "4")][csv_col(&c, "text")], ""); /* NULL */
  ASSERT_STR_EQ(c.f[csv_find(&c, "id", "8")][csv_col(&c, "text")],
                "cancel it, my card is [CARD]");
  csv_free(&c);
  qt_run_free(&r);

  /* JSON: one array; numbers as numbers, NULL as null, strings escaped */
  EARSHOT(&r, "alerts", "--db", db, "--format", "json");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  ASSERT_EQ(cJSON_GetArraySize(j), (int)QT_NALERTS);
  const cJSON *o;
  int seen = 0;
  cJSON_ArrayForEach(o, j) {
    if (num_field(o, "id") == 1) {
      ASSERT_STR_EQ(str_field(o, "text"), QT_LINE_A1);
      ASSERT(num_field(o, "heat") == 3.0);
      ASSERT(cJSON_IsNull(field(o, "mark")));
      seen++;
    }
    if (num_field(o, "id") == 4) {
      ASSERT(cJSON_IsNull(field(o, "text")));
      ASSERT(cJSON_IsNull(field(o, "speaker")));
      seen++;
    }
  }
  ASSERT_EQ(seen, 2);
  cJSON_Delete(j);
  qt_run_free(&r);

  /* NDJSON: one object per line */
  EARSHOT(&r, "alerts", "--db", db, "--format", "ndjson");
  expect_ok(&r);
  int n = 0;
  for (char *line = r.out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
    *nl = '\0';
    cJSON *obj = cJSON_Parse(line);
    ASSERT(cJSON_IsObject(obj));
    if (num_field(obj, "id") == 2) ASSERT_STR_EQ(str_field(obj, "text"), QT_LINE_A2);
    cJSON_Delete(obj);
    n++;
  }
  ASSERT_EQ(n, (int)QT_NALERTS);
  qt_run_free(&r);

  /* an empty result still names its columns */
  EARSHOT(&r, "alerts", "--db", db, "--format", "csv", "--call", "no-such-call");
  expect_ok(&r);
  ASSERT(strncmp(r.out, "id,time,call_id,", 16) == 0);
  ASSERT(strchr(r.out, '\n') == r.out + strlen(r.out) - 1);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--format", "json", "--call", "no-such-call");
  expect_ok(&r);
  ASSERT_STR_EQ(r.out, "[]\n");
  qt_run_free(&r);
}

static void test_alert_filters(void) {
  char t[64], u[64];
  ASSERT_EQ(ROWS("alerts"), 9);
  /* relative times */
  ASSERT_EQ(ROWS("alerts", "--since", "90m"), 1);
  ASSERT_EQ(ROWS("alerts", "--since", "24h"), 5);
  ASSERT_EQ(ROWS("alerts", "--since", "7d"), 7);
  ASSERT_EQ(ROWS("alerts", "--since", "7d", "--until", "1d"), 2);
  ASSERT_EQ(ROWS("alerts", "--since", "1w"), 7);
  /* absolute times: ISO-8601, a bare date, unix seconds */
  iso(now - 4 * 86400, t, sizeof t);
  ASSERT_EQ(ROWS("alerts", "--since", t), 7);
  ASSERT_EQ(ROWS("alerts", "--until", "1970-01-02"), 0);
  ASSERT_EQ(ROWS("alerts", "--since", "2000-01-01", "--until", "2100-12-31"), 9);
  snprintf(u, sizeof u, "%.0f", now - 25 * 3600);
  ASSERT_EQ(ROWS("alerts", "--since", u), 5);
  /* the other filters */
  ASSERT_EQ(ROWS("alerts", "--agent", "alice"), 5);
  ASSERT_EQ(ROWS("alerts", "--agent", QT_AGENT_B), 2);
  ASSERT_EQ(ROWS("alerts", "--queue", "billing"), 7);
  ASSERT_EQ(ROWS("alerts", "--queue", QT_QUEUE_B), 2);
  ASSERT_EQ(ROWS("alerts", "--rule", "agent.calm_down"), 2);
  ASSERT_EQ(ROWS("alerts", "--rule", "agent.*"), 3);
  ASSERT_EQ(ROWS("alerts", "--category", "banned_phrase"), 3);
  ASSERT_EQ(ROWS("alerts", "--severity", "high"), 3); /* high and critical */
  ASSERT_EQ(ROWS("alerts", "--severity", "critical"), 1);
  ASSERT_EQ(ROWS("alerts", "--severity", "info"), 9);
  ASSERT_EQ(ROWS("alerts", "--call", "call-b"), 2);
  ASSERT_EQ(ROWS("alerts", "--speaker", "agent"), 3);
  ASSERT_EQ(ROWS("alerts", "--agent", "alice", "--category", "banned_phrase", "--since", "24h"),
            2);
  ASSERT_EQ(ROWS("alerts", "--limit", "2"), 2);
  ASSERT_EQ(ROWS("alerts", "--limit", "0"), 9);

  struct qt_run r;
  EARSHOT(&r, "alerts", "--db", db, "--limit", "3", "--format", "csv");
  expect_ok(&r);
  ASSERT(strstr(r.err, "--limit") != NULL); /* says there are more */
  qt_run_free(&r);
}

static void test_usage_errors(void) {
  struct qt_run r;
  EARSHOT(&r, "alerts", "--db", db, "--severity", "hgh");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "\"hgh\"") != NULL);
  ASSERT(strstr(r.err, "info low medium high critical") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--format", "xml");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "table csv json ndjson") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--since", "last tuesday");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "last tuesday") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--since", "2026-02-30");
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--since", "1d", "--until", "2d");
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--bogus");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "--bogus") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "--mark", "maybe");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "taken resolved false_positive none") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "calls", "--db", db, "--speaker", "agent");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "does not apply") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", db, "stray");
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--help");
  ASSERT_EQ(r.status, 0);
  ASSERT(strstr(r.out, "--severity") != NULL);
  qt_run_free(&r);
  /* an unknown category is not an error, but it is pointed out */
  EARSHOT(&r, "alerts", "--db", db, "--category", "banned_phrases");
  ASSERT_EQ(r.status, 0);
  ASSERT(strstr(r.err, "banned_phrases") != NULL);
  ASSERT(strstr(r.err, "banned_phrase,") != NULL); /* the list of those present */
  qt_run_free(&r);
}

static void test_missing_db(void) {
  struct qt_run r;
  char missing[300], home[300];
  snprintf(missing, sizeof missing, "%s/nope/alerts.db", tmpdir);
  EARSHOT(&r, "alerts", "--db", missing);
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, missing) != NULL);
  ASSERT(strstr(r.err, "--db") != NULL);
  ASSERT(strstr(r.err, "EARSHOT_HOME") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "purge", "--db", missing, "--older-than", "30d");
  ASSERT_EQ(r.status, 1);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "1", "--taken", "--db", missing);
  ASSERT_EQ(r.status, 1);
  qt_run_free(&r);
  struct stat sb;
  ASSERT(stat(missing, &sb) != 0); /* nothing created */

  /* The default database: <EARSHOT_HOME>/earshot.db, as earshotd's. */
  snprintf(home, sizeof home, "EARSHOT_HOME=%s", tmpdir);
  const char *env[] = {home, NULL};
  earshot_env(&r, env, "calls", "--format", "csv", NULL);
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "/earshot.db") != NULL);
  qt_run_free(&r);
  char link_path[300];
  snprintf(link_path, sizeof link_path, "%s/earshot.db", tmpdir);
  ASSERT_EQ(symlink(db, link_path), 0);
  earshot_env(&r, env, "calls", "--format", "csv", NULL);
  expect_ok(&r);
  ASSERT(strstr(r.out, "call-a") != NULL);
  qt_run_free(&r);
  unlink(link_path);
}

static void test_calls(void) {
  struct qt_run r;
  struct csv c;
  ASSERT_EQ(ROWS("calls"), 5);
  ASSERT_EQ(ROWS("calls", "--agent", "alice"), 2);
  ASSERT_EQ(ROWS("calls", "--since", "7d"), 3);
  ASSERT_EQ(ROWS("calls", "--category", "backup"), 1);
  ASSERT_EQ(ROWS("calls", "--rule", "agent.*", "--since", "30d"), 2);
  ASSERT_EQ(ROWS("calls", "--severity", "high", "--queue", "billing"), 2);

  EARSHOT(&r, "calls", "--db", db, "--format", "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 6);
  int a = csv_find(&c, "call_id", "call-a");
  ASSERT_STR_EQ(c.f[a][csv_col(&c, "peak_heat")], "7.5");
  ASSERT_STR_EQ(c.f[a][csv_col(&c, "backup_raised")], "1");
  ASSERT_STR_EQ(c.f[a][csv_col(&c, "alerts")], "4");
  ASSERT_STR_EQ(c.f[a][csv_col(&c, "duration_s")], "1800.0");
  ASSERT_STR_EQ(c.f[a][csv_col(&c, "hits_by_category")],
                "{\"manager_request\":1,\"banned_phrase\":2,\"backup\":1}");
  int b = csv_find(&c, "call_id", "call-b");
  ASSERT_STR_EQ(c.f[b][csv_col(&c, "queue")], QT_QUEUE_B);
  int d = csv_find(&c, "call_id", "call-d");
  ASSERT_STR_EQ(c.f[d][csv_col(&c, "ended")], "");
  /* newest first */
  ASSERT_STR_EQ(c.f[1][0], "call-d");
  csv_free(&c);
  qt_run_free(&r);

  EARSHOT(&r, "calls", "--db", db, "--format", "json", "--call", "call-a");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  const cJSON *o = cJSON_GetArrayItem(j, 0);
  /* JSON columns are embedded as JSON */
  ASSERT(num_field(field(o, "hits_by_category"), "banned_phrase") == 2);
  cJSON_Delete(j);
  qt_run_free(&r);
}

static void test_call_timeline(void) {
  struct qt_run r;
  struct csv c;

  EARSHOT(&r, "call", "call-a", "--db", db);
  expect_ok(&r);
  ASSERT(strstr(r.out, "peak_heat") != NULL);
  ASSERT(strstr(r.out, "7.5") != NULL);
  ASSERT(strstr(r.out, "hits_by_category") != NULL);
  ASSERT(strstr(r.out, "end_reason") != NULL);
  ASSERT(strstr(r.out, "heat_graph") != NULL);
  /* the backup alert has the highest heat: the full bar */
  ASSERT(strstr(r.out, "####################") != NULL);
  /* the lines in order */
  const char *l1 = strstr(r.out, "I want your manager");
  const char *l2 = strstr(r.out, "Calm down, sir");
  const char *l3 = strstr(r.out, "That's our policy");
  ASSERT(l1 && l2 && l3 && l1 < l2 && l2 < l3);
  qt_run_free(&r);

  EARSHOT(&r, "call", "call-a", "--db", db, "--format", "json");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  const cJSON *call = field(j, "call"), *alerts = field(j, "alerts");
  ASSERT_STR_EQ(str_field(call, "agent"), "alice");
  ASSERT(num_field(call, "peak_heat") == 7.5);
  ASSERT(num_field(call, "final_heat") == 1.0);
  ASSERT(num_field(call, "backup_raised") == 1);
  ASSERT(num_field(call, "deescalated") == 1);
  ASSERT_STR_EQ(str_field(call, "end_reason"), "ended");
  ASSERT(num_field(field(call, "hits_by_category"), "banned_phrase") == 2);
  ASSERT_STR_EQ(str_field(field(call, "attributes"), "customer"), "Zo\xc3\xab, \"VIP\"");
  ASSERT_EQ(cJSON_GetArraySize(alerts), 4);
  ASSERT_STR_EQ(str_field(cJSON_GetArrayItem(alerts, 0), "text"), QT_LINE_A1);
  ASSERT(num_field(cJSON_GetArrayItem(alerts, 1), "heat") == 4.5);
  const cJSON *backup = cJSON_GetArrayItem(alerts, 3);
  ASSERT_STR_EQ(str_field(backup, "category"), "backup");
  ASSERT_STR_EQ(str_field(field(backup, "reason"), "why"), "manager + lawyer, \"fast\"");
  cJSON_Delete(j);
  qt_run_free(&r);

  EARSHOT(&r, "call", "call-a", "--db", db, "--format", "ndjson");
  expect_ok(&r);
  int n = 0;
  for (char *line = r.out, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1, n++) {
    *nl = '\0';
    cJSON *obj = cJSON_Parse(line);
    ASSERT(cJSON_IsObject(obj));
    ASSERT(cJSON_GetObjectItemCaseSensitive(obj, n == 0 ? "call" : "alert") != NULL);
    cJSON_Delete(obj);
  }
  ASSERT_EQ(n, 5);
  qt_run_free(&r);

  EARSHOT(&r, "call", "call-a", "--db", db, "--format", "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 5);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "text")], QT_LINE_A1);
  ASSERT_STR_EQ(c.f[4][csv_col(&c, "reason")], QT_REASON_A4);
  csv_free(&c);
  qt_run_free(&r);

  EARSHOT(&r, "call", "no-such-call", "--db", db);
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "no-such-call") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "call", "--db", db);
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
}

static void test_agents(void) {
  struct qt_run r;
  struct csv c;
  /* "Which agent had the most banned phrases this week?" */
  EARSHOT(&r, "agents", "--db", db, "--since", "7d", "--category", "banned_phrase", "--format",
          "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 3); /* alice and bob; carol's and dave's calls are older */
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "agent")], "alice");
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "alerts")], "2");
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "banned_phrase")], "2");
  ASSERT_STR_EQ(c.f[2][csv_col(&c, "agent")], QT_AGENT_B);
  ASSERT_STR_EQ(c.f[2][csv_col(&c, "alerts")], "1");
  csv_free(&c);
  qt_run_free(&r);

  EARSHOT(&r, "agents", "--db", db, "--format", "json", "--since", "30d");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  ASSERT_EQ(cJSON_GetArraySize(j), 3);
  const cJSON *o;
  int seen = 0;
  cJSON_ArrayForEach(o, j) {
    const char *agent = str_field(o, "agent");
    if (strcmp(agent, "alice") == 0) {
      ASSERT(num_field(o, "calls") == 2);
      ASSERT(num_field(o, "alerts") == 5);
      ASSERT(num_field(o, "serious") == 2);
      ASSERT(num_field(o, "backups") == 1);
      ASSERT(num_field(o, "escalated") == 1);
      ASSERT(num_field(o, "deescalation_rate") == 1.0);
      ASSERT(num_field(o, "banned_phrase") == 2);
      ASSERT(num_field(o, "churn_threat") == 1);
      seen++;
    } else if (strcmp(agent, QT_AGENT_B) == 0) {
      ASSERT(num_field(o, "deescalation_rate") == 0.0);
      ASSERT(num_field(o, "backups") == 0);
      seen++;
    } else if (strcmp(agent, "carol") == 0) {
      ASSERT(num_field(o, "abuse") == 1);
      ASSERT(num_field(o, "banned_phrase") == 0);
      seen++;
    }
  }
  ASSERT_EQ(seen, 3);
  /* sorted by alerts, most first */
  ASSERT_STR_EQ(str_field(cJSON_GetArrayItem(j, 0), "agent"), "alice");
  cJSON_Delete(j);
  qt_run_free(&r);

  EARSHOT(&r, "agents", "--db", db);
  expect_ok(&r);
  ASSERT(strstr(r.out, "deescalation_rate") != NULL);
  ASSERT(strstr(r.out, "dave") != NULL);
  qt_run_free(&r);
}

static void test_search(void) {
  struct qt_run r;
  ASSERT_EQ(ROWS("search", "lawyer"), 2); /* a1's text, a4's matched words */
  ASSERT_EQ(ROWS("search", "cafe"), 1);   /* diacritics fold */
  ASSERT_EQ(ROWS("search", "CAFÉ"), 1);
  ASSERT_EQ(ROWS("search", "ridicul*"), 1);
  ASSERT_EQ(ROWS("search", "calm", "down"), 2);
  ASSERT_EQ(ROWS("search", "calm down", "--agent", "alice"), 1);
  ASSERT_EQ(ROWS("search", "calm", "--since", "24h"), 1);
  ASSERT_EQ(ROWS("search", "4111"), 0);  /* masked before storing */
  ASSERT_EQ(ROWS("search", "card"), 1);
  ASSERT_EQ(ROWS("search", "OR"), 1);    /* a word (a1 says "or"), not an operator */
  ASSERT_EQ(ROWS("search", "NOT"), 0);
  ASSERT_EQ(ROWS("search", "\"right now\""), 1);
  ASSERT_EQ(ROWS("search", "--fts", "lawyer OR idiot"), 3);
  ASSERT_EQ(ROWS("search", "--rank", "manager"), 3); /* a1, a4 and a9 (its rule id) */

  EARSHOT(&r, "search", "lawyer", "--db", db, "--format", "json");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  ASSERT_EQ(cJSON_GetArraySize(j), 2);
  const cJSON *o = cJSON_GetArrayItem(j, 1); /* newest first: a4, then a1 */
  ASSERT(num_field(o, "id") == 1);
  ASSERT(strstr(str_field(o, "snippet"), "**lawyer**") != NULL);
  ASSERT(strstr(str_field(o, "snippet"), "\n") != NULL); /* the line's newline, escaped */
  cJSON_Delete(j);
  qt_run_free(&r);

  EARSHOT(&r, "search", "--fts", "lawyer AND (", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "FTS5") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "search", "--db", db);
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
}

static int64_t db_int(const char *sql) {
  sqlite3 *h = NULL;
  sqlite3_stmt *st = NULL;
  ASSERT_EQ(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static void test_ack_and_rule_stats(void) {
  struct qt_run r;
  struct csv c;

  EARSHOT(&r, "rules", "stats", "--db", db, "--format", "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  int k = csv_find(&c, "rule_id", "agent.calm_down");
  ASSERT_STR_EQ(c.f[k][csv_col(&c, "hits")], "2");
  ASSERT_STR_EQ(c.f[k][csv_col(&c, "reviewed")], "0");
  ASSERT_STR_EQ(c.f[k][csv_col(&c, "fp_rate")], "");
  /* most hits first */
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "hits")], "2");
  csv_free(&c);
  qt_run_free(&r);

  EARSHOT(&r, "ack", "2", "--false-positive", "--by", "qa.lead", "--note",
          "not abusive, \"calm down\" was quoted; card 4111 1111 1111 1111", "--db", db);
  expect_ok(&r);
  ASSERT(strstr(r.out, "alert 2 marked false_positive by qa.lead") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "5", "--taken", "--db", db);
  expect_ok(&r);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "5", "--resolved", "--by", "alice", "--db", db);
  expect_ok(&r);
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks"), 3);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE note LIKE '%[CARD]%'"), 1);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE note LIKE '%4111%'"), 0);

  /* unknown ids: nothing stored, even for the good ones */
  EARSHOT(&r, "ack", "3", "9999", "--taken", "--db", db);
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "9999") != NULL);
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks"), 3);
  EARSHOT(&r, "ack", "3", "--db", db);
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "three", "--taken", "--db", db);
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);

  /* the latest mark counts: 2 reviewed, 1 false positive */
  EARSHOT(&r, "rules", "stats", "--db", db, "--format", "json");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  const cJSON *o;
  int seen = 0;
  cJSON_ArrayForEach(o, j) {
    if (strcmp(str_field(o, "rule_id"), "agent.calm_down") != 0) continue;
    ASSERT(num_field(o, "hits") == 2);
    ASSERT(num_field(o, "reviewed") == 2);
    ASSERT(num_field(o, "false_positives") == 1);
    ASSERT(num_field(o, "fp_rate") == 0.5);
    seen++;
  }
  ASSERT_EQ(seen, 1);
  cJSON_Delete(j);
  qt_run_free(&r);
  ASSERT_EQ(ROWS("rules", "stats", "--agent", "alice"), 5);
  ASSERT_EQ(ROWS("rules", "stats", "--since", "24h", "--category", "banned_phrase"), 2);

  ASSERT_EQ(ROWS("alerts", "--mark", "false_positive"), 1);
  ASSERT_EQ(ROWS("alerts", "--mark", "resolved"), 1);
  ASSERT_EQ(ROWS("alerts", "--mark", "taken"), 0);
  ASSERT_EQ(ROWS("alerts", "--mark", "none"), 7);
}

/* Queries change nothing in the file, and neither wait for nor block a
 * writer that holds a write transaction open. */
static void test_read_only(void) {
  char wal[300];
  size_t before_len, after_len;
  struct stat sb1, sb2;
  snprintf(wal, sizeof wal, "%s-wal", db);
  ASSERT_EQ(stat(db, &sb1), 0);
  char *before = qt_slurp(db, &before_len);
  const char *verbs[][4] = {{"alerts", NULL}, {"calls", NULL}, {"call", "call-a"},
                            {"agents", NULL}, {"search", "manager"}, {"rules", "stats"}};
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    struct qt_run r;
    char *argv[12] = {(char *)ES_EARSHOT_CLI, (char *)verbs[i][0]};
    int n = 2;
    if (verbs[i][1]) argv[n++] = (char *)verbs[i][1];
    argv[n++] = "--db";
    argv[n++] = db;
    argv[n++] = "--format";
    argv[n++] = "csv";
    argv[n] = NULL;
    qt_run(argv, NULL, NULL, &r);
    expect_ok(&r);
    qt_run_free(&r);
  }
  ASSERT_EQ(stat(db, &sb2), 0);
  char *after = qt_slurp(db, &after_len);
  ASSERT_EQ(before_len, after_len);
  ASSERT(memcmp(before, after, before_len) == 0);
  ASSERT_EQ(sb1.st_mtim.tv_sec, sb2.st_mtim.tv_sec);
  ASSERT_EQ(sb1.st_mtim.tv_nsec, sb2.st_mtim.tv_nsec);
  free(before);
  free(after);

  /* A writer mid-transaction: queries run at once and see the committed
   * rows only. */
  struct es_store *w = NULL;
  ASSERT_EQ(es_store_open(db, NULL, &w, NULL), 0);
  ASSERT_EQ(es_store_begin(w), 0);
  struct es_alert_rec rec;
  memset(&rec, 0, sizeof rec);
  rec.alert_key = "uncommitted";
  rec.call_id = "call-d";
  rec.ts = now - 60;
  rec.call_ts = NAN;
  rec.rule_id = "customer.manager_request";
  rec.severity = ES_SEV_HIGH;
  rec.heat = NAN;
  ASSERT_EQ(es_store_put_alert(w, &rec), 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ASSERT_EQ(ROWS("alerts", "--call", "call-d"), 1);
  ASSERT_EQ(ROWS("search", "manager", "--call", "call-d"), 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  /* well under the 5 s busy timeout: nobody waited for a lock */
  ASSERT_LT((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 4000);
  ASSERT_EQ(es_store_commit(w), 0);
  ASSERT_EQ(ROWS("alerts", "--call", "call-d"), 2);
  /* and the writer commits again after the readers are gone */
  ASSERT_EQ(es_store_begin(w), 0);
  struct es_mark_rec m = {0, "uncommitted", ES_MARK_TAKEN, "t", now, NULL};
  ASSERT_EQ(es_store_mark(w, &m, NULL), 0);
  ASSERT_EQ(es_store_commit(w), 0);
  es_store_close(w);
}

static void test_purge(void) {
  struct qt_run r;
  struct stat sb1, sb2;
  ASSERT_EQ(es_store_schema_latest() >= 3, 1);
  /* a mark on the old alert goes with it */
  EARSHOT(&r, "ack", "9", "--taken", "--db", db);
  expect_ok(&r);
  qt_run_free(&r);

  ASSERT_EQ(stat(db, &sb1), 0);
  EARSHOT(&r, "purge", "--older-than", "30d", "--dry-run", "--db", db);
  expect_ok(&r);
  ASSERT(strstr(r.out, "would delete 1 alerts, 1 calls and 1 feedback marks") != NULL);
  qt_run_free(&r);
  ASSERT_EQ(stat(db, &sb2), 0);
  ASSERT_EQ(sb1.st_mtim.tv_nsec, sb2.st_mtim.tv_nsec);
  ASSERT_EQ(ROWS("alerts"), 10);

  EARSHOT(&r, "purge", "--older-than", "30d", "--db", db, "--format", "json");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  ASSERT(num_field(j, "alerts") == 1);
  ASSERT(num_field(j, "calls") == 1);
  ASSERT(num_field(j, "marks") == 1);
  ASSERT(num_field(j, "dry_run") == 0);
  cJSON_Delete(j);
  qt_run_free(&r);
  ASSERT_EQ(ROWS("alerts"), 9);
  ASSERT_EQ(ROWS("calls"), 4);
  ASSERT_EQ(ROWS("search", "supervisor"), 0);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE alert_id = 9"), 0);

  EARSHOT(&r, "purge", "--older-than", "30d", "--db", db);
  expect_ok(&r);
  ASSERT(strstr(r.out, "deleted 0 alerts, 0 calls and 0 feedback marks") != NULL);
  qt_run_free(&r);

  /* an absolute cut-off: everything before 10 days ago (call-c's alert) */
  char t[64];
  iso(now - 10 * 86400, t, sizeof t);
  EARSHOT(&r, "purge", "--older-than", t, "--db", db, "--format", "csv");
  expect_ok(&r);
  ASSERT(strstr(r.out, "before,alerts,calls,marks,dry_run\r\n") == r.out);
  ASSERT(strstr(r.out, ",1,1,0,0\r\n") != NULL);
  qt_run_free(&r);

  EARSHOT(&r, "purge", "--db", db);
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);
  EARSHOT(&r, "purge", "--older-than", "-5d", "--db", db);
  ASSERT_EQ(r.status, 2);
  qt_run_free(&r);

  /* the search index is still consistent with the table */
  qt_check_search_index(db);
}

/* `earshot ack --db`: one mark flag, distinct ids, at most
 * ES_CLI_ACK_MAX_IDS of them, a name that is never empty and defaults to
 * $USER, else the login name. Each refusal says why and stores nothing. */
static void test_ack_arguments(void) {
  struct qt_run r;
  char marks_by[128];
  int64_t before = db_int("SELECT count(*) FROM alert_marks");

  EARSHOT(&r, "ack", "3", "--taken", "--resolved", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT_STR_EQ(r.out, "");
  ASSERT(strstr(r.err, "earshot: --taken and --resolved conflict: give one of --taken,"
                       " --resolved, --false-positive\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "3", "--false-positive", "--taken", "--false-positive", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "--false-positive and --taken conflict") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "3", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: give one of --taken, --resolved, --false-positive\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "3", "--taken", "--by", "", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: --by needs a name\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "ack", "3", "--taken", "--db", db, "--socket", "/nonexistent.sock");
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "give --socket or --db, not both") != NULL);
  qt_run_free(&r);
  /* 41 distinct ids: too many; the same id 41 times: one */
  char *argv[64] = {(char *)ES_EARSHOT_CLI, "ack"}, ids[41][8];
  int n = 2;
  for (int i = 0; i < 41; i++) {
    snprintf(ids[i], sizeof ids[i], "%d", i + 1);
    argv[n++] = ids[i];
  }
  argv[n++] = "--taken";
  argv[n++] = "--db";
  argv[n++] = db;
  argv[n] = NULL;
  qt_run(argv, NULL, NULL, &r);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: at most 40 ids at once\n") == r.err);
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks"), before);
  for (int i = 0; i < 41; i++) argv[2 + i] = "3";
  qt_run(argv, NULL, NULL, &r);
  expect_ok(&r);
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks"), before + 1);
  EARSHOT(&r, "ack", "6", "3", "6", "--resolved", "--by", "qa.dup", "--db", db);
  expect_ok(&r);
  ASSERT_STR_EQ(r.out, "alert 6 marked resolved by qa.dup\nalert 3 marked resolved by qa.dup\n");
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE marked_by = 'qa.dup'"), 2);

  /* who marks: $USER, else the login name */
  const char *user_env[] = {"USER=qa.env", NULL};
  earshot_env(&r, user_env, "ack", "6", "--taken", "--db", db, NULL);
  expect_ok(&r);
  ASSERT_STR_EQ(r.out, "alert 6 marked taken by qa.env\n");
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE marked_by = 'qa.env'"), 1);
  const char *no_user[] = {"USER", NULL}; /* putenv without "=" unsets */
  struct passwd *pw = getpwuid(geteuid());
  ASSERT(pw != NULL);
  earshot_env(&r, no_user, "ack", "6", "--false-positive", "--db", db, NULL);
  expect_ok(&r);
  snprintf(marks_by, sizeof marks_by, "alert 6 marked false_positive by %s\n", pw->pw_name);
  ASSERT_STR_EQ(r.out, marks_by);
  qt_run_free(&r);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE marked_by IS NULL"), 0);
  ASSERT_EQ(db_int("SELECT count(*) FROM alert_marks WHERE marked_by = ''"), 0);
}

/* A malformed --fts query is a usage error with the hint, whatever FTS5
 * says is wrong with it. */
static void test_fts_syntax(void) {
  const char *bad[] = {"\"unterminated", "foo:bar", "*", "lawyer AND (", "NEAR(lawyer", NULL};
  for (const char *const *q = bad; *q; q++) {
    struct qt_run r;
    EARSHOT(&r, "search", "--fts", *q, "--db", db);
    if (r.status != 2) ES_FAIL_("search --fts '%s': exit %d: %s", *q, r.status, r.err);
    ASSERT_STR_EQ(r.out, "");
    ASSERT(strncmp(r.err, "earshot: search: ", 17) == 0);
    ASSERT(strstr(r.err, "is not valid FTS5 syntax; without --fts the words are searched as"
                         " they are)\n") != NULL);
    ASSERT(strstr(r.err, "SQLite error") == NULL);
    qt_run_free(&r);
  }
  /* the same words without --fts are text */
  ASSERT_EQ(ROWS("search", "foo:bar"), 0);
  ASSERT_EQ(ROWS("search", "\"unterminated"), 0);
  ASSERT_EQ(ROWS("search", "--fts", "text:lawyer"), 1);
}

/* A call with neither a call row nor alerts: one line on stderr, nothing
 * on stdout, in every format; alerts without a call row still make one. */
static void test_call_missing(void) {
  const char *formats[] = {"table", "csv", "json", "ndjson", NULL};
  char want[400];
  snprintf(want, sizeof want, "earshot: no call \"nope\" in %s\n", db);
  for (const char *const *f = formats; *f; f++) {
    struct qt_run r;
    EARSHOT(&r, "call", "nope", "--db", db, "--format", *f);
    ASSERT_EQ(r.status, 1);
    ASSERT_STR_EQ(r.out, "");
    ASSERT_STR_EQ(r.err, want);
    qt_run_free(&r);
  }
  struct es_store *s = NULL;
  ASSERT_EQ(es_store_open(db, NULL, &s, NULL), 0);
  struct qt_alert q = qt_alerts[0];
  q.key = "orphan-1";
  q.call = "call-orphan";
  q.age = 60;
  struct es_alert_rec rec = qt_alert_rec(&q, now);
  ASSERT_EQ(es_store_put_alert(s, &rec), 0);
  es_store_close(s);
  struct qt_run r;
  EARSHOT(&r, "call", "call-orphan", "--db", db);
  expect_ok(&r);
  ASSERT(strstr(r.out, "call call-orphan: no call record") == r.out);
  ASSERT(strstr(r.out, "I want your manager") != NULL);
  qt_run_free(&r);
  EARSHOT(&r, "call", "call-orphan", "--db", db, "--format", "json");
  expect_ok(&r);
  cJSON *j = json_parse(&r);
  ASSERT(cJSON_IsNull(field(j, "call")));
  ASSERT_EQ(cJSON_GetArraySize(field(j, "alerts")), 1);
  cJSON_Delete(j);
  qt_run_free(&r);
}

/* Output that cannot be written is an error of every command, reported
 * once, with its reason. */
static void test_write_errors(void) {
  struct stat sb;
  if (stat("/dev/full", &sb) != 0) {
    printf("   (no /dev/full: skipped)\n");
    return;
  }
  const char *commands[] = {
    "purge --older-than 1d --dry-run --db DB",
    "purge --older-than 1d --dry-run --format json --db DB",
    "alerts --db DB",
    "alerts --limit 0 --format csv --db DB",
    "calls --db DB",
    "call call-a --db DB",
    "call call-a --format json --db DB",
    "agents --db DB",
    "rules stats --db DB",
    "search manager --db DB",
    "ack 6 --taken --by w --db DB",
    "alerts --help",
    "version",
    NULL,
  };
  for (const char *const *c = commands; *c; c++) {
    char cmd[1200], line[600];
    const char *at = strstr(*c, "DB");
    snprintf(line, sizeof line, "%.*s%s%s", at ? (int)(at - *c) : (int)strlen(*c), *c,
             at ? db : "", at ? at + 2 : "");
    snprintf(cmd, sizeof cmd, "'%s' %s > /dev/full", ES_EARSHOT_CLI, line);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct qt_run r;
    qt_run(argv, NULL, NULL, &r);
    if (r.status != 1 || strcmp(r.err, "earshot: writing output: No space left on device\n") != 0)
      ES_FAIL_("earshot %s > /dev/full: exit %d: %s", line, r.status, r.err);
    qt_run_free(&r);
  }
}

/* The note about --limit names the order the rows are in. */
static void test_limit_notes(void) {
  const struct {
    const char *args[5], *note;
  } cases[] = {
    {{"alerts", NULL}, "earshot: showing the newest 1 alerts; --limit N for more (0: all)\n"},
    {{"calls", NULL}, "earshot: showing the newest 1 calls; --limit N for more (0: all)\n"},
    {{"agents", NULL},
     "earshot: showing the first 1 agents (most alerts first); --limit N for more (0: all)\n"},
    {{"rules", "stats", NULL},
     "earshot: showing the first 1 rules (most hits first); --limit N for more (0: all)\n"},
    {{"search", "--rank", "manager", NULL},
     "earshot: showing the best 1 hits; --limit N for more (0: all)\n"},
    {{"search", "manager", NULL},
     "earshot: showing the newest 1 hits; --limit N for more (0: all)\n"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *argv[16] = {(char *)ES_EARSHOT_CLI};
    int n = 1;
    for (int k = 0; cases[i].args[k]; k++) argv[n++] = (char *)cases[i].args[k];
    argv[n++] = "--limit";
    argv[n++] = "1";
    argv[n++] = "--db";
    argv[n++] = db;
    argv[n] = NULL;
    struct qt_run r;
    qt_run(argv, NULL, NULL, &r);
    expect_ok(&r);
    ASSERT_STR_EQ(r.err, cases[i].note);
    qt_run_free(&r);
  }
}

/* Every verb's --help names what it takes, as docs/analysts.md does, and
 * how it finds earshotd (docs/configuration.md). */
static void test_help(void) {
  const struct {
    const char *verb[3];
    const char *has[6];
    const char *lacks;
  } cases[] = {
    {{"alerts"}, {"--mark MARK", "taken, resolved", "false_positive", "none (not", "--speaker",
                  "--wide"}, NULL},
    {{"search"}, {"--rank  best match first", "--fts   WORDS are an FTS5 query", "--format",
                  "--since", "--db PATH"}, NULL},
    {{"call"}, {"--format table|csv|json|ndjson", "--wide", "--db PATH", "csv the alerts only"},
     "FILTERS"},
    {{"purge"}, {"(or, never ended, started)", "--dry-run", "--format table|csv|json|ndjson",
                 "--db PATH"}, "--wide"},
    {{"ack"}, {"--by NAME      who marks (default: $USER, else your login name)",
               "at most 40 ids", "--socket PATH", "--db PATH", "--note TEXT", "--config FILE"},
     "--format"},
    {{"calls"}, {"counts only those", "/tmp/earshot-UID", "--config FILE", "$EARSHOT_CONFIG",
                 "/etc/earshot/earshotd.json"}, NULL},
    {{"rules", "stats"}, {"most hits first", "--format"}, NULL},
    /* The verbs that talk to earshotd find it as the database verbs do. */
    {{"stats"}, {"--socket PATH", "--config FILE", "$EARSHOT_CONFIG", "/etc/earshot/earshotd.json"},
     NULL},
    {{"reload"}, {"--config FILE", "exit 1", "$EARSHOT_HOME"}, NULL},
    {{"send"}, {"--config FILE", "acknowledged", "$EARSHOT_CONFIG"}, NULL},
    {{"tail"}, {"--config FILE", "--no-reconnect", "/etc/earshot/earshotd.json"}, NULL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *argv[8] = {(char *)ES_EARSHOT_CLI};
    int n = 1;
    for (int k = 0; k < 3 && cases[i].verb[k]; k++) argv[n++] = (char *)cases[i].verb[k];
    argv[n++] = "--help";
    argv[n] = NULL;
    struct qt_run r;
    qt_run(argv, NULL, NULL, &r);
    expect_ok(&r);
    for (int k = 0; k < 6 && cases[i].has[k]; k++)
      if (strstr(r.out, cases[i].has[k]) == NULL)
        ES_FAIL_("%s --help lacks \"%s\":\n%s", cases[i].verb[0], cases[i].has[k], r.out);
    if (cases[i].lacks && strstr(r.out, cases[i].lacks) != NULL)
      ES_FAIL_("%s --help has \"%s\":\n%s", cases[i].verb[0], cases[i].lacks, r.out);
    qt_run_free(&r);
  }
}

/* getopt's one "unknown option" split into what is wrong; a directory
 * named as the database. */
static void test_option_errors(void) {
  struct qt_run r;
  EARSHOT(&r, "alerts", "--s", "7d", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: ambiguous option --s (could be --since, --severity, --speaker,"
                       " --socket)\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--wide=1", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: option --wide takes no value\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "purge", "--older-than", "1d", "--dry-run=yes", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: option --dry-run takes no value\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--sev", "high", "--db", db); /* unique: still fine */
  expect_ok(&r);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--nope=1", "--db", db);
  ASSERT_EQ(r.status, 2);
  ASSERT(strstr(r.err, "earshot: unknown option \"--nope=1\"\n") == r.err);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", tmpdir);
  ASSERT_EQ(r.status, 1);
  ASSERT(strstr(r.err, "is a directory, not an alert database") != NULL);
  ASSERT(strstr(r.err, "I/O") == NULL);
  qt_run_free(&r);
}

/* calls with --rule/--category/--severity: the same rows, and `alerts`
 * counts the alerts that match. */
static void test_calls_count_matching(void) {
  struct qt_run r;
  struct csv c;
  EARSHOT(&r, "calls", "--db", db, "--format", "csv", "--category", "backup");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 2);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "call_id")], "call-a");
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "alerts")], "1");
  csv_free(&c);
  qt_run_free(&r);
  EARSHOT(&r, "calls", "--db", db, "--format", "csv", "--rule", "agent.*", "--severity",
          "medium");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 3); /* call-a (one medium agent.* alert of two) and call-b */
  ASSERT_STR_EQ(c.f[csv_find(&c, "call_id", "call-a")][csv_col(&c, "alerts")], "1");
  ASSERT_STR_EQ(c.f[csv_find(&c, "call_id", "call-b")][csv_col(&c, "alerts")], "1");
  csv_free(&c);
  qt_run_free(&r);
  EARSHOT(&r, "calls", "--db", db, "--format", "csv", "--call", "call-a");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "alerts")], "4"); /* no such filter: all of them */
  csv_free(&c);
  qt_run_free(&r);
}

/* A 0-byte file is not a store: no verb reads it, purge does not make it
 * one. */
static void test_empty_file(void) {
  char empty[300], want[400];
  struct stat sb;
  snprintf(empty, sizeof empty, "%s/empty.db", tmpdir);
  int fd = open(empty, O_CREAT | O_WRONLY | O_TRUNC, 0640);
  ASSERT(fd >= 0);
  close(fd);
  snprintf(want, sizeof want, "earshot: %s: empty file, not an earshot store\n", empty);
  const char *verbs[][4] = {{"purge", "--older-than", "1d"},
                            {"purge", "--older-than", "1d", "--dry-run"},
                            {"alerts"},
                            {"ack", "1", "--taken"}};
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    char *argv[10] = {(char *)ES_EARSHOT_CLI};
    int n = 1;
    for (int k = 0; k < 4 && verbs[i][k]; k++) argv[n++] = (char *)verbs[i][k];
    argv[n++] = "--db";
    argv[n++] = empty;
    argv[n] = NULL;
    struct qt_run r;
    qt_run(argv, NULL, NULL, &r);
    ASSERT_EQ(r.status, 1);
    ASSERT_STR_EQ(r.out, "");
    ASSERT_STR_EQ(r.err, want);
    qt_run_free(&r);
    ASSERT_EQ(stat(empty, &sb), 0);
    ASSERT_EQ(sb.st_size, 0);
  }
  qt_remove_db(empty);
}

/* Text from outside (call ids, agent and queue names, transcript lines)
 * that could reorder or forge what a terminal shows: the bidirectional
 * formatting characters, ESC and the other C0 and C1 controls. A table
 * shows each escaped, and its columns line up counting the escapes; CSV
 * and JSON carry the bytes exactly. */
#define RLO "\xe2\x80\xae" /* U+202E RIGHT-TO-LEFT OVERRIDE */
#define LRM "\xe2\x80\x8e" /* U+200E */
#define LRI "\xe2\x81\xa6" /* U+2066 */
#define PDI "\xe2\x81\xa9" /* U+2069 */
#define ALM "\xd8\x9c"     /* U+061C ARABIC LETTER MARK */
#define CSI_C1 "\xc2\x9b"  /* U+009B, the C1 form of ESC [ */
#define BIDI_CALL "c" LRM "1"
#define BIDI_AGENT "ali" RLO "ecna"
#define BIDI_QUEUE "q" LRI "x" PDI
#define BIDI_TEXT "refund \x1b[31mNOW\x1b[0m " CSI_C1 "2J " ALM "file " RLO "exe.live"

static void test_terminal_escapes(void) {
  char path[300];
  struct es_store *s = NULL;
  struct qt_run r;
  snprintf(path, sizeof path, "%s/bidi.db", tmpdir);
  ASSERT_EQ(es_store_open(path, NULL, &s, NULL), 0);
  ASSERT_EQ(es_store_begin(s), 0);
  struct es_call_start cs = {BIDI_CALL, NULL, BIDI_AGENT, BIDI_QUEUE, now - 60};
  ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  static const struct qt_alert bidi = {"bidi-1", BIDI_CALL, 30, 30, "customer.refund",
                                       "churn_threat", ES_SEV_HIGH, ES_SPEAKER_CUSTOMER,
                                       BIDI_TEXT, "refund", NULL, 2.0, NULL};
  struct es_alert_rec a = qt_alert_rec(&bidi, now);
  ASSERT_EQ(es_store_put_alert(s, &a), 0);
  ASSERT_EQ(es_store_commit(s), 0);
  es_store_close(s);

  static const char *const raw[] = {RLO, LRM, LRI, PDI, ALM, CSI_C1, "\x1b"};
  static const char *const shown[] = {
    "c\\u200E1", "ali\\u202Eecna", "q\\u2066x\\u2069",
    "refund \\u001B[31mNOW\\u001B[0m \\u009B2J \\u061Cfile \\u202Eexe.live"};
  const char *verbs[][2] = {{"alerts", "--wide"}, {"calls", NULL}, {"agents", NULL}};
  for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++) {
    EARSHOT(&r, verbs[v][0], "--db", path, verbs[v][1]);
    expect_ok(&r);
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++)
      if (strstr(r.out, raw[i]) != NULL) ES_FAIL_("%s: raw character %zu in:\n%s", verbs[v][0], i, r.out);
    ASSERT(strstr(r.out, shown[1]) != NULL);
    if (v < 2) {
      ASSERT(strstr(r.out, shown[0]) != NULL);
      ASSERT(strstr(r.out, shown[2]) != NULL);
    }
    if (v == 0) ASSERT(strstr(r.out, shown[3]) != NULL);
    /* Columns line up: each starts in the row where it starts in the
     * header, the escaped call id (wider than "call_id") before them. */
    const char *row = strchr(strchr(r.out, '\n') + 1, '\n') + 1;
    const char *cols[] = {"agent", "queue"};
    for (size_t i = 0; i < (v < 2 ? 2u : 1u); i++) {
      const char *h = strstr(r.out, cols[i]);
      const char *c = strstr(row, shown[i + 1]);
      ASSERT(h != NULL && c != NULL && h < row);
      if (h - r.out != c - row)
        ES_FAIL_("%s: column %s at %d in the header, %d in the row:\n%s", verbs[v][0], cols[i],
                 (int)(h - r.out), (int)(c - row), r.out);
    }
    qt_run_free(&r);
  }

  /* CSV and JSON: exactly what was stored. */
  struct csv c;
  EARSHOT(&r, "alerts", "--db", path, "--format", "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 2);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "call_id")], BIDI_CALL);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "agent")], BIDI_AGENT);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "queue")], BIDI_QUEUE);
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "text")], BIDI_TEXT);
  csv_free(&c);
  qt_run_free(&r);
  EARSHOT(&r, "alerts", "--db", path, "--format", "ndjson");
  expect_ok(&r);
  ASSERT(strstr(r.out, "\"agent\":\"" BIDI_AGENT "\"") != NULL); /* the UTF-8 as it is */
  ASSERT(strstr(r.out, "\\u001b[31mNOW") != NULL);                /* JSON's escape */
  cJSON *j = json_parse(&r);
  ASSERT_STR_EQ(str_field(j, "text"), BIDI_TEXT);
  ASSERT_STR_EQ(str_field(j, "call_id"), BIDI_CALL);
  cJSON_Delete(j);
  qt_run_free(&r);
  qt_remove_db(path);
}

/* Calls with no agent (their first line was not a start, or the start
 * named none): `agents` counts them under "(no agent)", and --agent takes
 * that name to pick them in every verb; a real agent is picked as before. */
static void test_no_agent(void) {
  char path[300];
  struct es_store *s = NULL;
  struct qt_run r;
  struct csv c;
  snprintf(path, sizeof path, "%s/no-agent.db", tmpdir);
  ASSERT_EQ(es_store_open(path, NULL, &s, NULL), 0);
  ASSERT_EQ(es_store_begin(s), 0);
  const struct {
    const char *id, *agent;
    int alerts;
  } calls[] = {{"c-none-1", NULL, 2}, {"c-none-2", "", 1}, {"c-alice", "alice", 1},
               {"c-none-3", NULL, 0}};
  int key = 0;
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    /* As earshotd stores a call whose first line is an utterance: no
     * agent, no queue. */
    struct es_call_start cs = {calls[i].id, NULL, calls[i].agent, NULL, now - 600};
    ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
    for (int k = 0; k < calls[i].alerts; k++) {
      char alert_key[16];
      snprintf(alert_key, sizeof alert_key, "na-%d", ++key);
      struct qt_alert q = qt_alerts[5]; /* "this is ridiculous" */
      q.key = alert_key;
      q.call = calls[i].id;
      q.age = 500 - key;
      struct es_alert_rec rec = qt_alert_rec(&q, now);
      ASSERT_EQ(es_store_put_alert(s, &rec), 0);
    }
  }
  ASSERT_EQ(es_store_commit(s), 0);
  es_store_close(s);

  EARSHOT(&r, "agents", "--db", path, "--format", "csv");
  expect_ok(&r);
  csv_parse(r.out, &c);
  ASSERT_EQ(c.nrec, 3); /* the three calls without one in one row, alice's */
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "agent")], "(no agent)");
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "calls")], "3");
  ASSERT_STR_EQ(c.f[1][csv_col(&c, "alerts")], "3");
  ASSERT_STR_EQ(c.f[2][csv_col(&c, "agent")], "alice");
  ASSERT_STR_EQ(c.f[2][csv_col(&c, "alerts")], "1");
  csv_free(&c);
  qt_run_free(&r);
  EARSHOT(&r, "agents", "--db", path);
  expect_ok(&r);
  const char *row1 = strchr(strchr(r.out, '\n') + 1, '\n') + 1;
  ASSERT(strncmp(row1, "(no agent)  ", 12) == 0);
  qt_run_free(&r);

  /* --agent, both ways, in every verb that takes it. */
  const struct {
    const char *verb[3]; /* the verb's words, then search's */
    const char *agent;
    int rows;
    const char *column, *want; /* the first row's */
  } picks[] = {
    {{"agents"}, "(no agent)", 1, "calls", "3"},
    {{"agents"}, "alice", 1, "agent", "alice"},
    {{"calls"}, "(no agent)", 3, "agent", ""},
    {{"calls"}, "alice", 1, "agent", "alice"},
    {{"alerts"}, "(no agent)", 3, "agent", ""},
    {{"alerts"}, "alice", 1, "agent", "alice"},
    {{"search", "ridiculous"}, "(no agent)", 3, "agent", ""},
    {{"search", "ridiculous"}, "alice", 1, "agent", "alice"},
    {{"rules", "stats"}, "(no agent)", 1, "hits", "3"},
    {{"rules", "stats"}, "alice", 1, "hits", "1"},
  };
  for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
    char *argv[16] = {(char *)ES_EARSHOT_CLI};
    int n = 1;
    for (int k = 0; k < 3 && picks[i].verb[k]; k++) argv[n++] = (char *)picks[i].verb[k];
    const char *rest[] = {"--db", path, "--format", "csv", "--agent", picks[i].agent};
    for (size_t k = 0; k < sizeof rest / sizeof rest[0]; k++) argv[n++] = (char *)rest[k];
    argv[n] = NULL;
    qt_run(argv, NULL, NULL, &r);
    expect_ok(&r);
    csv_parse(r.out, &c);
    if (c.nrec - 1 != picks[i].rows || strcmp(c.f[1][csv_col(&c, picks[i].column)], picks[i].want))
      ES_FAIL_("%s --agent \"%s\": expected %d rows, %s %s first:\n%s", picks[i].verb[0],
               picks[i].agent, picks[i].rows, picks[i].column, picks[i].want, r.out);
    csv_free(&c);
    qt_run_free(&r);
  }
  qt_remove_db(path);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/es_query_XXXXXX");
  ASSERT(mkdtemp(tmpdir) != NULL);
  snprintf(db, sizeof db, "%s/alerts.db", tmpdir);
  now = (double)time(NULL);
  qt_build_store(db, now);
  RUN(test_alerts_formats);
  RUN(test_alert_filters);
  RUN(test_usage_errors);
  RUN(test_missing_db);
  RUN(test_calls);
  RUN(test_call_timeline);
  RUN(test_agents);
  RUN(test_search);
  RUN(test_ack_and_rule_stats);
  RUN(test_read_only);
  RUN(test_purge);
  RUN(test_ack_arguments);
  RUN(test_fts_syntax);
  RUN(test_call_missing);
  RUN(test_write_errors);
  RUN(test_limit_notes);
  RUN(test_help);
  RUN(test_option_errors);
  RUN(test_calls_count_matching);
  RUN(test_empty_file);
  RUN(test_terminal_escapes);
  RUN(test_no_agent);
  qt_remove_db(db);
  ASSERT_EQ(rmdir(tmpdir), 0);
  printf("query_cli: all passed\n");
  return 0;
}
