/* test_store.c: the SQLite alert store (lib/store.h, docs/schema.md),
 * against real files in a temporary directory. */
#include <dirent.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "redact.h"
#include "store.h"
#include "task.h"

static char tmpdir[64];

static void path_in_tmp(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void remove_db(const char *path) {
  char p[512];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-journal", path);
  unlink(p);
}

static struct es_store *open_rw(const char *path) {
  struct es_store *s = NULL;
  struct es_diags d;
  es_diags_init(&d);
  int rc = es_store_open(path, NULL, &s, &d);
  if (rc != 0)
    ES_FAIL_("es_store_open(%s) = %d: %s", path, rc, d.count ? d.items[0].message : "");
  es_diags_deinit(&d);
  return s;
}

static struct es_store *open_ro(const char *path) {
  struct es_store *s = NULL;
  struct es_store_opts o;
  es_store_opts_init(&o);
  o.read_only = 1;
  ASSERT_EQ(es_store_open(path, &o, &s, NULL), 0);
  return s;
}

/* Opens with `opts`, expecting failure `want`; returns the first
 * diagnostic's message in msg. */
static void open_fails(const char *path, const struct es_store_opts *opts, int want, char *msg,
                       size_t cap) {
  struct es_store *s = (struct es_store *)&s; /* must be reset to NULL */
  struct es_diags d;
  es_diags_init(&d);
  ASSERT_EQ(es_store_open(path, opts, &s, &d), want);
  ASSERT(s == NULL);
  ASSERT_GE(d.count, 1);
  snprintf(msg, cap, "%s", d.items[0].message);
  es_diags_deinit(&d);
}

/* ---- raw SQLite access, independent of the store ---------------------- */

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

static void raw_exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) ES_FAIL_("%s: %s", sql, err);
}

/* The first column of the first row as text ("NULL" for SQL NULL). */
static void raw_text(sqlite3 *db, const char *sql, char *out, size_t cap) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    ES_FAIL_("%s: %s", sql, sqlite3_errmsg(db));
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  if (sqlite3_column_type(st, 0) == SQLITE_NULL)
    snprintf(out, cap, "NULL");
  else
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

static void expect_text(sqlite3 *db, const char *sql, const char *want) {
  char got[4096];
  raw_text(db, sql, got, sizeof got);
  if (strcmp(got, want) != 0) ES_FAIL_("%s\n   got: %s\n  want: %s", sql, got, want);
}

static int64_t raw_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    ES_FAIL_("%s: %s", sql, sqlite3_errmsg(db));
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static double raw_real(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  ASSERT_EQ(sqlite3_column_type(st, 0), SQLITE_FLOAT);
  double v = sqlite3_column_double(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* ---- fixtures ---------------------------------------------------------- */

static struct es_alert_rec alert(const char *key, const char *line, uint32_t ms, uint32_t me) {
  struct es_alert_rec r;
  memset(&r, 0, sizeof r);
  r.alert_key = key;
  r.call_id = "call-1";
  r.ts = 1700000000.25;
  r.call_ts = 12.5;
  r.rule_id = "customer.manager_request";
  r.category = "escalation";
  r.severity = ES_SEV_HIGH;
  r.speaker = ES_SPEAKER_CUSTOMER;
  r.text = line;
  r.text_len = line ? strlen(line) : 0;
  r.match_start = ms;
  r.match_end = me;
  r.tip = "Acknowledge, then offer what you can do.";
  r.heat = 3.5;
  r.rule_set = "v1abc";
  return r;
}

static int count_schema_files(void) {
  DIR *dir = opendir(ES_SOURCE_DIR "/schema");
  struct dirent *e;
  int n = 0;
  ASSERT(dir != NULL);
  while ((e = readdir(dir)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".sql") == 0) n++;
  }
  closedir(dir);
  return n;
}

/* Reads a whole file (empty when missing). */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  *len = 0;
  if (f == NULL) return calloc(1, 1);
  ASSERT_EQ(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  ASSERT_GE(size, 0);
  rewind(f);
  buf = malloc((size_t)size + 1);
  ASSERT(buf != NULL);
  *len = fread(buf, 1, (size_t)size, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

static int contains(const char *hay, size_t len, const char *needle) {
  size_t nl = strlen(needle);
  for (size_t i = 0; i + nl <= len; i++)
    if (memcmp(hay + i, needle, nl) == 0) return 1;
  return 0;
}

/* ---- tests ------------------------------------------------------------- */

static void expect_cheap_checks(sqlite3 *db);

static void test_migrations(void) {
  char path[256], got[64];
  struct es_store_stats st;
  path_in_tmp(path, sizeof path, "migrate.db");
  ASSERT_EQ(es_store_schema_latest(), count_schema_files());
  ASSERT_GE(es_store_schema_latest(), 2);

  struct es_store *s = open_rw(path);
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.migrations_applied, es_store_schema_latest());
  ASSERT_EQ(es_store_schema_version(s), es_store_schema_latest());
  es_store_close(s);

  /* The file's permissions: 0640 by default. */
  struct stat sb;
  ASSERT_EQ(stat(path, &sb), 0);
  ASSERT_EQ(sb.st_mode & 0777, 0640);

  sqlite3 *db = raw_open(path);
  ASSERT_EQ(raw_int(db, "PRAGMA user_version"), es_store_schema_latest());
  ASSERT_EQ(raw_int(db, "PRAGMA application_id"), 0x45534854);
  expect_text(db, "PRAGMA journal_mode", "wal");
  int64_t objects = raw_int(db, "SELECT count(*) FROM sqlite_schema");
  ASSERT_GT(objects, 10);
  /* every index the analysts' queries rely on */
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name IN "
                        "('alerts_by_ts', 'alerts_by_rule_ts', 'alerts_by_call_ts', "
                        "'alerts_by_category_ts', 'calls_by_agent_started', 'calls_by_started')"),
            6);
  expect_cheap_checks(db);
  sqlite3_close(db);

  /* Re-opening applies nothing and changes nothing. */
  s = open_rw(path);
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.migrations_applied, 0);
  es_store_close(s);
  db = raw_open(path);
  ASSERT_EQ(raw_int(db, "PRAGMA user_version"), es_store_schema_latest());
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
  raw_text(db, "PRAGMA integrity_check", got, sizeof got);
  ASSERT_STR_EQ(got, "ok");
  sqlite3_close(db);
  remove_db(path);
}

static void test_roundtrip(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "roundtrip.db");
  struct es_store *s = open_rw(path);
  const char *files[] = {"rules/escalation.json", "rules/agent \"phrases\".json"};
  const char *line = "I want to speak to your manager right now";

  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_in_transaction(s), 1);
  ASSERT_EQ(es_store_put_rule_set(s, "v1abc", 1700000000.0, files, 2, 42), 0);
  struct es_call_start cs = {"call-1", "{\"customer_tier\":\"gold\",\"lang\":\"en\"}",
                             "agent-007", "billing", 1699999990.5};
  ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  struct es_alert_rec r = alert("call-1:17:customer.manager_request", line, 10, 31);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  /* a call-level alert: no line, a reason */
  struct es_alert_rec r2 = alert("call-1:backup", NULL, 0, 0);
  r2.rule_id = "call.needs_backup";
  r2.category = NULL;
  r2.severity = ES_SEV_CRITICAL;
  r2.speaker = ES_SPEAKER_ANY;
  r2.call_ts = NAN;
  r2.heat = NAN;
  r2.tip = NULL;
  r2.rule_set = NULL;
  r2.matched = "manager + lawyer";
  r2.reason = "{\"rules\":[\"customer.manager_request\",\"customer.legal_threat\"],\"heat\":7.5}";
  ASSERT_EQ(es_store_put_alert(s, &r2), 0);
  struct es_call_end ce = {"call-1", 1700000100.0, ES_END_ENDED, 2, 7.5, 1.25,
                           "{\"escalation\":2,\"banned_phrase\":0}", 1, 0};
  ASSERT_EQ(es_store_put_call_end(s, &ce), 0);

  /* Until the commit a second connection sees nothing (WAL isolation). */
  sqlite3 *db = raw_open(path);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM alerts"), 0);
  ASSERT_EQ(es_store_commit(s), 0);
  ASSERT_EQ(es_store_in_transaction(s), 0);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM alerts"), 2);

  struct es_store_stats st;
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.alerts_written, 2);
  ASSERT_EQ(st.alerts_pending, 0);
  ASSERT_EQ(st.calls_started, 1);
  ASSERT_EQ(st.calls_ended, 1);
  ASSERT_EQ(st.rule_sets, 1);
  ASSERT_EQ(st.commits, 1);
  ASSERT_EQ(st.errors, 0);

  /* alerts: every column */
  const char *q = "SELECT %s FROM alerts WHERE alert_key = 'call-1:17:customer.manager_request'";
  char sql[512];
#define COL(c) (snprintf(sql, sizeof sql, q, c), sql)
  ASSERT_GT(raw_int(db, COL("id")), 0);
  expect_text(db, COL("call_id"), "call-1");
  ASSERT(raw_real(db, COL("ts")) == 1700000000.25);
  ASSERT(raw_real(db, COL("call_ts")) == 12.5);
  expect_text(db, COL("rule_id"), "customer.manager_request");
  expect_text(db, COL("category"), "escalation");
  expect_text(db, COL("severity"), "high");
  expect_text(db, COL("speaker"), "customer");
  expect_text(db, COL("text"), line);
  ASSERT_EQ(raw_int(db, COL("match_start")), 10);
  ASSERT_EQ(raw_int(db, COL("match_end")), 31);
  expect_text(db, COL("matched"), "speak to your manager");
  expect_text(db, COL("tip"), "Acknowledge, then offer what you can do.");
  ASSERT(raw_real(db, COL("heat")) == 3.5);
  expect_text(db, COL("rule_set"), "v1abc");
  expect_text(db, COL("reason"), "NULL");
#undef COL
  q = "SELECT %s FROM alerts WHERE alert_key = 'call-1:backup'";
#define COL(c) (snprintf(sql, sizeof sql, q, c), sql)
  expect_text(db, COL("rule_id"), "call.needs_backup");
  expect_text(db, COL("category"), "NULL");
  expect_text(db, COL("severity"), "critical");
  expect_text(db, COL("speaker"), "NULL");
  expect_text(db, COL("text"), "NULL");
  expect_text(db, COL("match_start"), "NULL");
  expect_text(db, COL("match_end"), "NULL");
  expect_text(db, COL("matched"), "manager + lawyer");
  expect_text(db, COL("call_ts"), "NULL");
  expect_text(db, COL("heat"), "NULL");
  expect_text(db, COL("tip"), "NULL");
  expect_text(db, COL("rule_set"), "NULL");
  expect_text(db, COL("json_extract(reason, '$.rules[1]')"), "customer.legal_threat");
#undef COL

  /* calls: every column */
  q = "SELECT %s FROM calls WHERE call_id = 'call-1'";
#define COL(c) (snprintf(sql, sizeof sql, q, c), sql)
  expect_text(db, COL("json_extract(attributes, '$.customer_tier')"), "gold");
  expect_text(db, COL("agent"), "agent-007");
  expect_text(db, COL("queue"), "billing");
  ASSERT(raw_real(db, COL("started")) == 1699999990.5);
  ASSERT(raw_real(db, COL("ended")) == 1700000100.0);
  expect_text(db, COL("end_reason"), "ended");
  ASSERT_EQ(raw_int(db, COL("alert_count")), 2);
  ASSERT(raw_real(db, COL("peak_heat")) == 7.5);
  ASSERT(raw_real(db, COL("final_heat")) == 1.25);
  expect_text(db, COL("json_extract(hits_by_category, '$.escalation')"), "2");
  ASSERT_EQ(raw_int(db, COL("backup_raised")), 1);
  ASSERT_EQ(raw_int(db, COL("deescalated")), 0);
#undef COL

  /* rule_sets */
  expect_text(db, "SELECT files FROM rule_sets WHERE version = 'v1abc'",
              "[\"rules/escalation.json\",\"rules/agent \\\"phrases\\\".json\"]");
  ASSERT_EQ(raw_int(db, "SELECT rule_count FROM rule_sets"), 42);
  ASSERT(raw_real(db, "SELECT loaded_at FROM rule_sets") == 1700000000.0);
  /* loading the same version again only moves last_loaded_at */
  ASSERT_EQ(es_store_put_rule_set(s, "v1abc", 1700000500.0, files, 2, 42), 0);
  ASSERT(raw_real(db, "SELECT loaded_at FROM rule_sets") == 1700000000.0);
  ASSERT(raw_real(db, "SELECT last_loaded_at FROM rule_sets") == 1700000500.0);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM rule_sets"), 1);
  ASSERT_EQ(es_store_put_rule_set(s, "v2def", 1700000600.0, NULL, 0, 0), 0);
  expect_text(db, "SELECT files FROM rule_sets WHERE version = 'v2def'", "[]");

  /* the analysts' views */
  expect_text(db, "SELECT time_utc || ' ' || agent || ' ' || severity_rank FROM alert_view "
                  "WHERE id = 1",
              "2023-11-14 22:13:20 agent-007 3");
  ASSERT_EQ(raw_int(db, "SELECT stored_alerts FROM call_view WHERE call_id = 'call-1'"), 2);
  ASSERT(raw_real(db, "SELECT duration_s FROM call_view") == 109.5);
  sqlite3_close(db);
  es_store_close(s);
  remove_db(path);
}

static void test_duplicates(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "dup.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("call-1:5:rule", "this is ridiculous", 8, 18);
  struct es_store_stats st;

  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  ASSERT_EQ(es_store_put_alert(s, &r), 1); /* same transaction */
  ASSERT_EQ(es_store_commit(s), 0);
  r.text = "a different line, same key";
  r.text_len = strlen(r.text);
  r.match_start = 0;
  r.match_end = 5;
  ASSERT_EQ(es_store_put_alert(s, &r), 1); /* autocommit, after the commit */
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.alerts_written, 1);
  ASSERT_EQ(st.alerts_duplicate, 2);
  es_store_close(s);

  /* and after a restart of the daemon */
  s = open_rw(path);
  ASSERT_EQ(es_store_put_alert(s, &r), 1);
  es_store_close(s);
  sqlite3 *db = raw_open(path);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM alerts"), 1);
  expect_text(db, "SELECT text FROM alerts", "this is ridiculous");
  sqlite3_close(db);
  remove_db(path);
}

/* The lines below hold a card number, spoken and written, a security
 * code, an SSN, a phone number and an e-mail address. */
static const char *const secret_lines[] = {
    "my card is 4111 1111 1111 1111 and I want a manager",
    "card 4111-1111-1111-1111 security code is 737, get me your supervisor",
    "the number 4111111111111111 you charged twice, this is ridiculous",
    "four one one one one one one one one one one one one one one one, I'll sue",
    "call me on 555-867-5309 or mail jenny.tutone@example.com, ssn 219-09-9999",
};
static const char *const secrets[] = {
    "4111 1111", "1111 1111 1111", "4111-1111", "1111-1111", "4111111111111111",
    "111111111111", "one one one one one one", "737", "555-867-5309", "867-5309",
    "jenny.tutone", "example.com", "219-09-9999", "5558675309",
};

static void put_secrets(struct es_store *s) {
  char key[32];
  ASSERT_EQ(es_store_begin(s), 0);
  /* attributes sent as numbers (earshotd keeps them as JSON numbers) too */
  struct es_call_start cs = {"call-pii",
                             "{\"ani\":\"+1 555 867 5309\",\"note\":\"4111 1111 1111 1111\","
                             "\"tel\":5558675309,\"cards\":[4111111111111111],\"n\":3,\"p\":2.50}",
                             "agent-1", "cards", 1700000000.0};
  ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  for (size_t i = 0; i < sizeof secret_lines / sizeof secret_lines[0]; i++) {
    const char *line = secret_lines[i];
    snprintf(key, sizeof key, "call-pii:%zu:r", i);
    /* the match covers the whole line: matched words hold the secrets too */
    struct es_alert_rec r = alert(key, line, 0, (uint32_t)strlen(line));
    r.call_id = "call-pii";
    r.reason = "{\"said\":\"card 4111 1111 1111 1111, cvv 737\",\"n\":3}";
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
  }
  ASSERT_EQ(es_store_commit(s), 0);
}

/* Counts how many secrets appear in the database file and its WAL. */
static int secrets_on_disk(const char *path, int *in_wal) {
  char wal[512];
  size_t dlen, wlen;
  int found = 0;
  snprintf(wal, sizeof wal, "%s-wal", path);
  char *d = slurp(path, &dlen), *w = slurp(wal, &wlen);
  *in_wal = 0;
  for (size_t k = 0; k < sizeof secrets / sizeof secrets[0]; k++) {
    found += contains(d, dlen, secrets[k]) || contains(w, wlen, secrets[k]);
    *in_wal += contains(w, wlen, secrets[k]);
  }
  free(d);
  free(w);
  return found;
}

static void test_no_secrets_on_disk(void) {
  char path[256], wal[512];
  int in_wal;
  struct stat sb;

  /* Control: with masking off the secrets are found, in the WAL, so the
   * search below is not vacuous. */
  path_in_tmp(path, sizeof path, "clear.db");
  struct es_store_opts o;
  es_store_opts_init(&o);
  o.redact_kinds = 0;
  struct es_store *s = NULL;
  ASSERT_EQ(es_store_open(path, &o, &s, NULL), 0);
  put_secrets(s);
  ASSERT_EQ(secrets_on_disk(path, &in_wal), (int)(sizeof secrets / sizeof secrets[0]));
  ASSERT_GT(in_wal, 0);
  es_store_close(s);
  remove_db(path);

  path_in_tmp(path, sizeof path, "masked.db");
  snprintf(wal, sizeof wal, "%s-wal", path);
  s = open_rw(path);
  put_secrets(s);
  /* while the writer is open the rows live in the -wal file */
  ASSERT_EQ(stat(wal, &sb), 0);
  ASSERT_GT(sb.st_size, 0);
  ASSERT_EQ(secrets_on_disk(path, &in_wal), 0);
  ASSERT_EQ(es_store_checkpoint(s, 0), 0);
  ASSERT_EQ(secrets_on_disk(path, &in_wal), 0);
  struct es_store_stats st;
  es_store_get_stats(s, &st);
  ASSERT_GE(st.masks, 12);
  es_store_close(s);
  ASSERT_EQ(secrets_on_disk(path, &in_wal), 0);

  /* what was stored instead */
  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT text FROM alerts WHERE alert_key = 'call-pii:0:r'",
              "my card is [CARD] and I want a manager");
  expect_text(db, "SELECT text FROM alerts WHERE alert_key = 'call-pii:1:r'",
              "card [CARD] security code is [CVV], get me your supervisor");
  expect_text(db, "SELECT matched FROM alerts WHERE alert_key = 'call-pii:3:r'",
              "[CARD], I'll sue");
  expect_text(db, "SELECT text FROM alerts WHERE alert_key = 'call-pii:4:r'",
              "call me on [PHONE] or mail [EMAIL], ssn [SSN]");
  expect_text(db, "SELECT reason FROM alerts WHERE alert_key = 'call-pii:4:r'",
              "{\"said\":\"card [CARD], cvv [CVV]\",\"n\":3}");
  expect_text(db, "SELECT attributes FROM calls",
              "{\"ani\":\"[PHONE]\",\"note\":\"[CARD]\",\"tel\":\"[PHONE]\",\"cards\":[\"[CARD]\"],"
              "\"n\":3,\"p\":2.50}");
  expect_text(db, "PRAGMA integrity_check", "ok");
  sqlite3_close(db);
  remove_db(path);
}

static void test_matched_masking(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "matched.db");
  struct es_store *s = open_rw(path);
  /* The match ends inside the card number: the part it covers must not be
   * stored, so the whole mask stands in for it. */
  const char *line = "charge 4111 1111 1111 1111 again and I sue";
  struct es_alert_rec r = alert("k1", line, 0, 16); /* "charge 4111 1111" */
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  /* A match that starts inside a phone number. */
  const char *line2 = "call 555-867-5309 now you idiot";
  struct es_alert_rec r2 = alert("k2", line2, 9, 31);
  ASSERT_EQ(es_store_put_alert(s, &r2), 0);
  /* Explicit matched words are masked on their own. */
  struct es_alert_rec r3 = alert("k3", line, 0, 6);
  r3.matched = "charge 4111111111111111";
  ASSERT_EQ(es_store_put_alert(s, &r3), 0);
  /* A reason whose string cuts a JSON escape stays valid JSON. */
  struct es_alert_rec r4 = alert("k4", NULL, 0, 0);
  r4.reason = "{\"x\":\"\\u0014 4111 1111 1111\",\"y\":[1,\"\\\"a@b.com\\\"\"]}";
  ASSERT_EQ(es_store_put_alert(s, &r4), 0);
  es_store_close(s);

  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT matched FROM alerts WHERE alert_key = 'k1'", "charge [CARD]");
  expect_text(db, "SELECT matched FROM alerts WHERE alert_key = 'k2'", "[PHONE] now you idiot");
  expect_text(db, "SELECT matched FROM alerts WHERE alert_key = 'k3'", "charge [CARD]");
  expect_text(db, "SELECT text FROM alerts WHERE alert_key = 'k3'",
              "charge [CARD] again and I sue");
  expect_text(db, "SELECT reason FROM alerts WHERE alert_key = 'k4'",
              "{\"x\":\"[CARD]\",\"y\":[1,\"\\\"[EMAIL]\\\"\"]}");
  ASSERT_EQ(raw_int(db, "SELECT json_valid(reason) FROM alerts WHERE alert_key = 'k4'"), 1);
  sqlite3_close(db);
  remove_db(path);
}

/* Strings the caller masked (es_alert_masked) are stored as given, with
 * their mask count, when they were masked with the store's kinds and match
 * the originals' presence; otherwise the store masks the originals. */
static void test_premasked(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "premasked.db");
  struct es_store *s = open_rw(path);
  struct es_store_stats st;
  const char *line = "my card is 4111 1111 1111 1111 ok";
  const char *reason = "{\"words\":\"4111 1111 1111 1111\"}";
  /* Distinct from what the store would write, to tell whose form is kept. */
  struct es_alert_masked m = {
    .kinds = ES_REDACT_ALL, .text = "GIVEN [CARD] ok", .text_len = 15,
    .matched = "GIVEN", .matched_len = 5, .reason = "{\"words\":\"GIVEN\"}", .reason_len = 17,
    .masks = 7,
  };

  struct es_alert_masked other = m, partial = m;
  other.kinds = ES_REDACT_CARD; /* other kinds: the store masks the originals itself */
  partial.reason = NULL;        /* a reason the masked forms lack: the same */
  const struct es_alert_masked *given[] = {&m, &other, &partial};
  for (int k = 1; k <= 3; k++) {
    char key[8];
    snprintf(key, sizeof key, "k%d", k);
    struct es_alert_rec r = alert(key, line, 0, 7);
    r.reason = reason;
    r.masked = given[k - 1];
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
    if (k == 1) {
      es_store_get_stats(s, &st);
      ASSERT_EQ(st.masks, 7);
    }
  }
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.masks, 7 + 2 + 2); /* the card in each line and in each reason */
  es_store_close(s);

  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT text FROM alerts WHERE alert_key = 'k1'", "GIVEN [CARD] ok");
  expect_text(db, "SELECT matched FROM alerts WHERE alert_key = 'k1'", "GIVEN");
  expect_text(db, "SELECT reason FROM alerts WHERE alert_key = 'k1'", "{\"words\":\"GIVEN\"}");
  for (int k = 2; k <= 3; k++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT text || '|' || matched || '|' || reason FROM alerts "
                              "WHERE alert_key = 'k%d'", k);
    expect_text(db, sql, "my card is [CARD] ok|my card|{\"words\":\"[CARD]\"}");
  }
  sqlite3_close(db);
  remove_db(path);
}

/* The store checks every JSON text it is handed (here a reason) against
 * RFC 8259 without building it: each of these is accepted or refused as
 * JSON is, and a refused one is ES_EJSON. */
static void test_json_checks(void) {
  static const char *const good[] = {
    "{}", "[]", " {\"a\" : [1, -0.5, 2e10, 3E-2, 0, true, false, null, \"x\"]} ", "\"s\"", "0",
    "{\"k\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"}", "[[[{\"a\":{}}]]]",
    "{\"caf\xc3\xa9\":\"\xe2\x80\x99\"}", "-12.5e+3", "\t[1]\r\n",
  };
  static const char *const bad[] = {
    "", " ", "{", "{\"a\":1", "{\"a\" 1}", "{a:1}", "{\"a\":1,}", "[1,]", "[1 2]", "{} x",
    "[] []", "01", "1.", ".5", "-", "+1", "1e", "1e+", "tru", "nul", "True", "\"\\x\"",
    "\"\\u12g4\"", "\"a\x01b\"", "\"open", "{\"a\":undefined}", "[\"\\u00\"]", "'s'",
  };
  char path[256];
  path_in_tmp(path, sizeof path, "json.db");
  struct es_store *s = open_rw(path);
  char key[32];
  int n = 0;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    snprintf(key, sizeof key, "g%d", n++);
    struct es_alert_rec r = alert(key, NULL, 0, 0);
    r.reason = good[i];
    if (es_store_put_alert(s, &r) != 0)
      ES_FAIL_("good JSON refused: %s", good[i]);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(key, sizeof key, "b%d", n++);
    struct es_alert_rec r = alert(key, NULL, 0, 0);
    r.reason = bad[i];
    if (es_store_put_alert(s, &r) != ES_EJSON)
      ES_FAIL_("bad JSON accepted: %s", bad[i]);
  }
  /* nesting: 512 levels are JSON here, 513 are refused */
  char deep[1100];
  for (int depth = 512; depth <= 513; depth++) {
    memset(deep, '[', (size_t)depth);
    memset(deep + depth, ']', (size_t)depth);
    deep[2 * depth] = '\0';
    snprintf(key, sizeof key, "d%d", depth);
    struct es_alert_rec r = alert(key, NULL, 0, 0);
    r.reason = deep;
    ASSERT_EQ(es_store_put_alert(s, &r), depth == 512 ? 0 : ES_EJSON);
  }
  es_store_close(s);
  remove_db(path);
}

static int count_rows(void *ud, int ncols, const char *const *names, const char *const *values) {
  (*(int *)ud)++;
  return 0;
}

static void test_read_only(void) {
  char path[256], msg[512];
  path_in_tmp(path, sizeof path, "ro.db");
  struct es_store_opts o;
  es_store_opts_init(&o);
  o.read_only = 1;

  /* no such file: read-only never creates one */
  open_fails(path, &o, ES_ENOENT, msg, sizeof msg);
  ASSERT_EQ(access(path, F_OK), -1);

  struct es_store *w = open_rw(path);
  struct es_alert_rec r = alert("k", "put me through to your boss", 0, 27);
  ASSERT_EQ(es_store_put_alert(w, &r), 0);

  /* a reader alongside the writer */
  struct es_store *ro = open_ro(path);
  ASSERT_EQ(es_store_schema_version(ro), es_store_schema_latest());
  ASSERT_EQ(es_store_put_alert(ro, &r), ES_EINVAL);
  ASSERT(strstr(es_store_errmsg(ro), "read-only") != NULL);
  ASSERT_EQ(es_store_begin(ro), ES_EINVAL);
  struct es_call_start cs = {"c", NULL, NULL, NULL, 1.0};
  ASSERT_EQ(es_store_put_call_start(ro, &cs), ES_EINVAL);
  ASSERT_EQ(es_store_put_rule_set(ro, "v", 1.0, NULL, 0, 0), ES_EINVAL);
  ASSERT_EQ(es_store_prune(ro, 1e12, NULL, NULL), ES_EINVAL);
  /* SQLite itself refuses writes too */
  ASSERT_EQ(es_store_query(ro, "DELETE FROM alerts", NULL, 0, NULL, NULL), ES_ESTORE);
  ASSERT_EQ(es_store_query(ro, "CREATE TABLE x (a)", NULL, 0, NULL, NULL), ES_ESTORE);
  int rows = 0;
  ASSERT_EQ(es_store_query(ro, "SELECT * FROM alerts", NULL, 0, count_rows, &rows), 0);
  ASSERT_EQ(rows, 1);

  /* the reader sees what the writer commits next */
  struct es_alert_rec r2 = alert("k2", "I will call my lawyer", 12, 21);
  ASSERT_EQ(es_store_put_alert(w, &r2), 0);
  rows = 0;
  ASSERT_EQ(es_store_query(ro, "SELECT * FROM alerts", NULL, 0, count_rows, &rows), 0);
  ASSERT_EQ(rows, 2);
  es_store_close(ro);
  es_store_close(w);
  remove_db(path);
}

/* Undoes 005_writer_cost.sql: the CHECK constraints as 001-004 wrote
 * them (IN lists) and the index trigger back; a file as version 4 left
 * it. */
#define UNDO_IN(table, new_check, old_check)                                       \
  "UPDATE sqlite_schema SET sql = replace(sql, '" new_check "', '" old_check "')"  \
  " WHERE type = 'table' AND name = '" table "';"
/* Undoes 007_restart.sql: a file as version 6 left it. */
#define DROP_007                                                                   \
  "DROP INDEX calls_ended_by_client; DROP TABLE daemon_state;"                     \
  "PRAGMA user_version = 6;"

#define DROP_005                                                                   \
  DROP_007                                                                         \
  "PRAGMA writable_schema = ON;"                                                   \
  UNDO_IN("alerts",                                                                \
          "CHECK (severity = ''info'' OR severity = ''low'' OR severity = "        \
          "''medium'' OR severity = ''high'' OR severity = ''critical'')",         \
          "CHECK (severity IN (''info'', ''low'', ''medium'', ''high'', "          \
          "''critical''))")                                                        \
  UNDO_IN("calls",                                                                 \
          "CHECK (end_reason = ''ended'' OR end_reason = ''abandoned'' OR "        \
          "end_reason = ''shutdown'')",                                            \
          "CHECK (end_reason IN (''ended'', ''abandoned'', ''shutdown''))")        \
  UNDO_IN("alert_marks",                                                           \
          "CHECK (mark = ''taken'' OR mark = ''resolved'' OR "                     \
          "mark = ''false_positive'')",                                            \
          "CHECK (mark IN (''taken'', ''resolved'', ''false_positive''))")         \
  UNDO_IN("webhook_outbox",                                                        \
          "CHECK (state = ''pending'' OR state = ''suppressed'' OR "               \
          "state = ''failed'')",                                                   \
          "CHECK (state IN (''pending'', ''suppressed'', ''failed''))")            \
  "PRAGMA writable_schema = RESET;"                                                \
  "CREATE TRIGGER alerts_search_insert AFTER INSERT ON alerts BEGIN"               \
  " INSERT INTO alert_search (rowid, text, matched, tip, rule_id)"                 \
  " VALUES (new.id, new.text, new.matched, new.tip, new.rule_id); END;"            \
  "PRAGMA user_version = 4;"

/* Undoes 004_outbox.sql (the table's AUTOINCREMENT counter in
 * sqlite_sequence stays; the migration does not mind). */
#define DROP_004                                                                   \
  DROP_005                                                                         \
  "DROP TRIGGER alerts_delete_failed_deliveries; DROP TABLE webhook_outbox;"

/* Undoes 003_marks_search.sql and what came after: a file as version 2
 * left it. */
#define DROP_003                                                                   \
  DROP_004                                                                         \
  "DROP VIEW rule_false_positives; DROP VIEW rule_hits_by_week;"                   \
  "DROP VIEW escalated_calls; DROP VIEW alerts_per_agent_day;"                     \
  "DROP VIEW alert_mark_latest; DROP TRIGGER alerts_search_insert;"                \
  "DROP TRIGGER alerts_search_delete; DROP TRIGGER alerts_search_update;"          \
  "DROP TRIGGER alerts_delete_marks; DROP TABLE alert_search;"                     \
  "DROP TABLE alert_marks; PRAGMA user_version = 2"

static void test_schema_versions(void) {
  char path[256], msg[512];
  struct es_store_opts ro;
  es_store_opts_init(&ro);
  ro.read_only = 1;
  path_in_tmp(path, sizeof path, "versions.db");
  es_store_close(open_rw(path));

  /* Too new: written by a later earshot. */
  sqlite3 *db = raw_open(path);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", es_store_schema_latest() + 1);
  raw_exec(db, sql);
  sqlite3_close(db);
  open_fails(path, NULL, ES_ESTORE, msg, sizeof msg);
  ASSERT(strstr(msg, "newer") != NULL);
  open_fails(path, &ro, ES_ESTORE, msg, sizeof msg);
  ASSERT(strstr(msg, "newer") != NULL);

  /* Too old: a version-1 file, as the first release left it. */
  db = raw_open(path);
  raw_exec(db, DROP_003);
  raw_exec(db, "DROP VIEW alert_view; DROP VIEW call_view; DROP TABLE severity_levels;"
               "PRAGMA user_version = 1");
  sqlite3_close(db);
  open_fails(path, &ro, ES_ESTORE, msg, sizeof msg);
  ASSERT(strstr(msg, "older") != NULL);

  /* A failing migration is rolled back whole and named. */
  db = raw_open(path);
  raw_exec(db, "CREATE TABLE severity_levels (x)");
  sqlite3_close(db);
  open_fails(path, NULL, ES_ESTORE, msg, sizeof msg);
  ASSERT(strstr(msg, "002_analyst_views.sql") != NULL);
  db = raw_open(path);
  ASSERT_EQ(raw_int(db, "PRAGMA user_version"), 1);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'alert_view'"), 0);
  raw_exec(db, "DROP TABLE severity_levels");
  sqlite3_close(db);

  /* The read-write open migrates 1 -> latest, once. */
  struct es_store *s = open_rw(path);
  struct es_store_stats st;
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.migrations_applied, es_store_schema_latest() - 1);
  es_store_close(s);
  db = raw_open(path);
  ASSERT_EQ(raw_int(db, "PRAGMA user_version"), es_store_schema_latest());
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM severity_levels"), 5);
  sqlite3_close(db);
  es_store_close(open_ro(path));
  remove_db(path);
}

static void test_not_a_store(void) {
  char path[256], msg[512];
  path_in_tmp(path, sizeof path, "other.db");
  sqlite3 *db = NULL;
  ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
  raw_exec(db, "CREATE TABLE customers (name TEXT)");
  sqlite3_close(db);
  open_fails(path, NULL, ES_ESTORE, msg, sizeof msg);
  ASSERT(strstr(msg, "not an earshot alert store") != NULL);
  db = raw_open(path);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema"), 1); /* untouched */
  sqlite3_close(db);
  remove_db(path);

  path_in_tmp(path, sizeof path, "text.db");
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  for (int i = 0; i < 200; i++) fputs("this is not a database at all\n", f);
  fclose(f);
  open_fails(path, NULL, ES_ESTORE, msg, sizeof msg);
  remove_db(path);

  /* a store the daemon may not write (root may write anything: skip) */
  if (geteuid() != 0) {
    path_in_tmp(path, sizeof path, "locked.db");
    es_store_close(open_rw(path));
    ASSERT_EQ(chmod(path, 0440), 0);
    open_fails(path, NULL, ES_EIO, msg, sizeof msg);
    ASSERT(strstr(msg, "permission") != NULL);
    es_store_close(open_ro(path));
    remove_db(path);
  }

  path_in_tmp(path, sizeof path, "no/such/dir.db");
  open_fails(path, NULL, ES_EIO, msg, sizeof msg);
  open_fails("", NULL, ES_EINVAL, msg, sizeof msg);
}

static void test_transactions(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "tx.db");
  struct es_store *s = open_rw(path);
  struct es_store_stats st;
  struct es_alert_rec r = alert("a", "unacceptable", 0, 12);

  ASSERT_EQ(es_store_commit(s), ES_EINVAL);
  ASSERT_EQ(es_store_rollback(s), 0);
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_begin(s), ES_EINVAL);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  r.alert_key = "b";
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  ASSERT_EQ(es_store_checkpoint(s, 0), ES_EINVAL);
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.alerts_pending, 2);
  ASSERT_EQ(es_store_rollback(s), 0);
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.alerts_pending, 0);
  ASSERT_EQ(st.alerts_lost, 2);
  ASSERT_EQ(st.rollbacks, 1);
  ASSERT_EQ(st.alerts_written, 0);

  /* closing with a transaction open rolls it back */
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  es_store_close(s);
  sqlite3 *db = raw_open(path);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM alerts"), 0);

  /* a second writer waits busy_timeout_ms, then fails cleanly */
  struct es_store_opts o;
  es_store_opts_init(&o);
  o.busy_timeout_ms = 50;
  s = NULL;
  ASSERT_EQ(es_store_open(path, &o, &s, NULL), 0);
  raw_exec(db, "BEGIN IMMEDIATE");
  ASSERT_EQ(es_store_begin(s), ES_ESTORE);
  ASSERT(strstr(es_store_errmsg(s), "locked") != NULL);
  ASSERT_EQ(es_store_put_alert(s, &r), ES_ESTORE);
  raw_exec(db, "ROLLBACK");
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  ASSERT_EQ(es_store_commit(s), 0);
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.errors, 2);
  ASSERT_EQ(st.alerts_written, 1);
  es_store_close(s);
  sqlite3_close(db);
  remove_db(path);
}

static void test_validation(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "valid.db");
  struct es_store_opts o;
  es_store_opts_init(&o);
  o.max_text_bytes = 64;
  o.synchronous = ES_STORE_SYNC_FULL;
  struct es_store *s = NULL;
  ASSERT_EQ(es_store_open(path, &o, &s, NULL), 0);
  struct es_alert_rec r = alert("k", "calm down", 0, 9);

  r.alert_key = "";
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.alert_key = "k";
  r.call_id = NULL;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.call_id = "c";
  r.rule_id = NULL;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.rule_id = "agent.calm_down";
  r.severity = (enum es_severity)9;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.severity = ES_SEV_MEDIUM;
  r.speaker = (enum es_speaker)7;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.speaker = ES_SPEAKER_AGENT;
  r.match_end = 10; /* past the line */
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.match_start = 5;
  r.match_end = 4;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.match_start = 0;
  r.match_end = 9;
  r.ts = NAN;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EINVAL);
  r.ts = 1.0;
  r.reason = "{not json";
  ASSERT_EQ(es_store_put_alert(s, &r), ES_EJSON);
  r.reason = NULL;
  char big[100];
  memset(big, 'a', sizeof big);
  r.text = big;
  r.text_len = 65;
  r.match_end = 1;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_ETOOBIG);
  r.text_len = 64;
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  big[99] = '\0';
  r.alert_key = "k2";
  r.matched = big;
  ASSERT_EQ(es_store_put_alert(s, &r), ES_ETOOBIG);
  ASSERT(strstr(es_store_errmsg(s), "64") != NULL);

  struct es_call_start cs = {"c", "[1,2]", NULL, NULL, 1.0};
  ASSERT_EQ(es_store_put_call_start(s, &cs), ES_EJSON);
  cs.attributes = "{\"a\":1";
  ASSERT_EQ(es_store_put_call_start(s, &cs), ES_EJSON);
  cs.attributes = NULL;
  cs.call_id = NULL;
  ASSERT_EQ(es_store_put_call_start(s, &cs), ES_EINVAL);
  struct es_call_end ce = {"c", 2.0, (enum es_end_reason)5, -1, NAN, NAN, NULL, -1, -1};
  ASSERT_EQ(es_store_put_call_end(s, &ce), ES_EINVAL);
  ce.reason = ES_END_ABANDONED;
  ce.hits_by_category = "[]";
  ASSERT_EQ(es_store_put_call_end(s, &ce), ES_EJSON);
  ce.hits_by_category = NULL;
  /* an end without a start creates the row; unknowns are NULL */
  ASSERT_EQ(es_store_put_call_end(s, &ce), 0);
  ASSERT_EQ(es_store_put_rule_set(s, NULL, 1.0, NULL, 0, 0), ES_EINVAL);
  ASSERT_EQ(es_store_put_alert(NULL, &r), ES_EINVAL);
  ASSERT_EQ(es_store_put_alert(s, NULL), ES_EINVAL);
  es_store_close(s);

  sqlite3 *db = raw_open(path);
  expect_text(db, "PRAGMA synchronous", "2"); /* FULL */
  expect_text(db, "SELECT end_reason || ' ' || attributes FROM calls WHERE call_id = 'c'",
              "abandoned {}");
  expect_text(db, "SELECT coalesce(started, alert_count, peak_heat, final_heat, backup_raised, "
                  "deescalated, 'all null') FROM calls WHERE call_id = 'c'",
              "all null");
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM alerts"), 1);
  sqlite3_close(db);
  remove_db(path);
}

static void test_call_resume(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "resume.db");
  struct es_store *s = open_rw(path);
  struct es_call_start cs = {"c1", "{\"a\":1}", "agent-1", "q1", 100.0};
  ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  struct es_call_end ce = {"c1", 150.0, ES_END_SHUTDOWN, 0, 0.0, 0.0, NULL, 0, 0};
  ASSERT_EQ(es_store_put_call_end(s, &ce), 0);
  /* the daemon restarts; the platform sends the start again */
  struct es_call_start again = {"c1", "{\"a\":2}", NULL, "q2", 160.0};
  ASSERT_EQ(es_store_put_call_start(s, &again), 0);
  /* ...or only goes on with its lines: the call is opened again with no
   * metadata, which keeps what is stored. */
  struct es_call_start bare = {"c1", NULL, NULL, NULL, 170.0};
  ASSERT_EQ(es_store_put_call_start(s, &bare), 0);
  struct es_call_start whole = {"c1", NULL, NULL, NULL, 180.0};
  struct es_call_end whole_end = {"c1", 190.0, ES_END_ENDED, 0, 0.0, 0.0, NULL, 0, 0};
  ASSERT_EQ(es_store_put_call(s, &whole, &whole_end), 0);
  es_store_close(s);
  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT started || ' ' || agent || ' ' || queue || ' ' || attributes || ' ' || "
                  "coalesce(end_reason, 'open') FROM calls",
              "100.0 agent-1 q2 {\"a\":2} ended");
  sqlite3_close(db);
  remove_db(path);
}

/* es_store_put_call(): a start and its end as one statement, with the
 * same outcome as the two calls, on a new call and on a resumed one. */
static void test_call_whole(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "whole.db");
  struct es_store *s = open_rw(path);
  struct es_call_start cs = {"w1", "{\"a\":1}", "agent-1", "q1", 100.0};
  struct es_call_end ce = {"w1", 150.0, ES_END_ENDED, 2, 5.5, 1.5, "{\"abuse\":2}", 1, 0};
  ASSERT_EQ(es_store_put_call(s, &cs, &ce), 0);
  cs.call_id = ce.call_id = "w2"; /* the same, in two statements */
  ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  ASSERT_EQ(es_store_put_call_end(s, &ce), 0);
  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT count(*) FROM (SELECT DISTINCT attributes, agent, queue, started, ended,"
                  " end_reason, alert_count, peak_heat, final_heat, hits_by_category,"
                  " backup_raised, deescalated FROM calls WHERE call_id IN ('w1', 'w2'))",
              "1");
  sqlite3_close(db);
  /* resumed: the row is there, ended at shutdown; started stays the
   * earliest, agent stays when the new start has none */
  struct es_call_start again = {"w1", "{\"a\":2}", NULL, "q2", 160.0};
  struct es_call_end again_end = {"w1", 170.0, ES_END_ABANDONED, 3, 6.0, 0.5, NULL, 0, 1};
  ASSERT_EQ(es_store_put_call(s, &again, &again_end), 0);
  /* refused: calls that differ, or a part the store refuses on its own */
  again_end.call_id = "other";
  ASSERT_EQ(es_store_put_call(s, &again, &again_end), ES_EINVAL);
  again_end.call_id = "w1";
  again_end.hits_by_category = "[]";
  ASSERT_EQ(es_store_put_call(s, &again, &again_end), ES_EJSON);
  again_end.hits_by_category = NULL;
  again.attributes = "[]";
  ASSERT_EQ(es_store_put_call(s, &again, &again_end), ES_EJSON);
  ASSERT_EQ(es_store_put_call(s, NULL, &again_end), ES_EINVAL);
  struct es_store_stats st;
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.calls_started, 3);
  ASSERT_EQ(st.calls_ended, 3);
  es_store_close(s);
  db = raw_open(path);
  expect_text(db, "SELECT started || ' ' || agent || ' ' || queue || ' ' || attributes || ' ' ||"
                  " ended || ' ' || end_reason || ' ' || alert_count || ' ' ||"
                  " coalesce(hits_by_category, 'null') || ' ' || deescalated"
                  " FROM calls WHERE call_id = 'w1'",
              "100.0 agent-1 q2 {\"a\":2} 170.0 abandoned 3 null 1");
  expect_text(db, "SELECT started || ' ' || agent || ' ' || queue || ' ' || attributes || ' ' ||"
                  " ended || ' ' || end_reason || ' ' || alert_count || ' ' || hits_by_category"
                  " FROM calls WHERE call_id = 'w2'",
              "100.0 agent-1 q1 {\"a\":1} 150.0 ended 2 {\"abuse\":2}");
  sqlite3_close(db);
  remove_db(path);
}

static void test_prune_checkpoint(void) {
  char path[256], wal[512];
  struct stat sb;
  path_in_tmp(path, sizeof path, "prune.db");
  snprintf(wal, sizeof wal, "%s-wal", path);
  struct es_store *s = open_rw(path);
  char key[16];
  ASSERT_EQ(es_store_begin(s), 0);
  for (int i = 0; i < 10; i++) {
    struct es_alert_rec r = alert(key, "let me speak to a manager", 0, 5);
    snprintf(key, sizeof key, "k%d", i);
    r.ts = 1000.0 + i;
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
  }
  struct es_call_start old = {"old", NULL, NULL, NULL, 900.0};
  struct es_call_start open_call = {"open", NULL, NULL, NULL, 1006.0};
  struct es_call_end old_end = {"old", 950.0, ES_END_ENDED, 0, NAN, NAN, NULL, -1, -1};
  ASSERT_EQ(es_store_put_call_start(s, &old), 0);
  ASSERT_EQ(es_store_put_call_end(s, &old_end), 0);
  ASSERT_EQ(es_store_put_call_start(s, &open_call), 0);
  ASSERT_EQ(es_store_commit(s), 0);

  uint64_t alerts = 99, calls = 99;
  ASSERT_EQ(es_store_prune(s, 1005.0, &alerts, &calls), 0);
  ASSERT_EQ(alerts, 5);
  ASSERT_EQ(calls, 1);
  int rows = 0;
  ASSERT_EQ(es_store_query(s, "SELECT * FROM alerts", NULL, 0, count_rows, &rows), 0);
  ASSERT_EQ(rows, 5);

  ASSERT_EQ(stat(wal, &sb), 0);
  ASSERT_GT(sb.st_size, 0);
  ASSERT_EQ(es_store_checkpoint(s, 1), 0);
  ASSERT_EQ(stat(wal, &sb), 0);
  ASSERT_EQ(sb.st_size, 0); /* TRUNCATE empties the -wal file */
  es_store_close(s);
  remove_db(path);
}

struct rows {
  int n;
  char first[3][64];
};

static int keep_rows(void *ud, int ncols, const char *const *names, const char *const *values) {
  struct rows *r = ud;
  ASSERT_EQ(ncols, 2);
  ASSERT_STR_EQ(names[0], "rule_id");
  ASSERT_STR_EQ(names[1], "n");
  if (r->n < 3) snprintf(r->first[r->n], sizeof r->first[0], "%s=%s", values[0], values[1]);
  r->n++;
  return r->n == 2; /* stop after two rows */
}

static int keep_value(void *ud, int ncols, const char *const *names, const char *const *values) {
  (void)names;
  ASSERT_EQ(ncols, 1);
  snprintf(ud, 32, "%s", values[0] ? values[0] : "NULL");
  return 0;
}

/* A one-value query on the store's own connection answers `want`. */
static void expect_setting(struct es_store *s, const char *sql, const char *want) {
  char got[32] = "";
  ASSERT_EQ(es_store_query(s, sql, NULL, 0, keep_value, got), 0);
  ASSERT_STR_EQ(got, want);
}

static void test_query(void) {
  char path[256], path2[256];
  path_in_tmp(path, sizeof path, "query.db");
  struct es_store *s = open_rw(path);
  const char *rules[] = {"a", "b", "b", "c", "c", "c"};
  char key[16];
  for (int i = 0; i < 6; i++) {
    snprintf(key, sizeof key, "k%d", i);
    struct es_alert_rec r = alert(key, "so annoying", 0, 2);
    r.rule_id = rules[i];
    r.ts = 100.0 + i;
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
  }
  struct rows got;
  memset(&got, 0, sizeof got);
  const char *params[] = {"100.5", "1000"};
  ASSERT_EQ(es_store_query(s,
                           "SELECT rule_id, count(*) AS n FROM alerts WHERE ts >= ?1 AND ts < ?2 "
                           "GROUP BY rule_id ORDER BY n DESC;  -- top rules",
                           params, 2, keep_rows, &got),
            0);
  ASSERT_EQ(got.n, 2);
  ASSERT_STR_EQ(got.first[0], "c=3");
  ASSERT_STR_EQ(got.first[1], "b=2");

  /* a new store has 16 KiB pages, and the writer's connection
   * checkpoints every 40 MiB of them (2,560), not SQLite's 1,000 */
  expect_setting(s, "PRAGMA page_size", "16384");
  expect_setting(s, "PRAGMA wal_autocheckpoint", "2560");

  /* and keeps 16 MiB of pages, or what it is told (negative: KiB) */
  expect_setting(s, "PRAGMA cache_size", "-16384");
  struct es_store_opts o;
  es_store_opts_init(&o);
  o.cache_kib = 4096;
  struct es_store *s2 = NULL;
  ASSERT_EQ(es_store_open(path, &o, &s2, NULL), 0);
  expect_setting(s2, "PRAGMA cache_size", "-4096");
  es_store_close(s2);
  /* a store made with 4 KiB pages keeps them, and checkpoints at the same
   * 40 MiB: 10,240 pages */
  path_in_tmp(path2, sizeof path2, "query4k.db");
  s2 = open_rw(path2);
  es_store_close(s2);
  sqlite3 *db4 = raw_open(path2);
  raw_exec(db4, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM;"
                " PRAGMA journal_mode = WAL");
  ASSERT_EQ(raw_int(db4, "PRAGMA page_size"), 4096);
  sqlite3_close(db4);
  s2 = open_rw(path2);
  expect_setting(s2, "PRAGMA page_size", "4096");
  expect_setting(s2, "PRAGMA wal_autocheckpoint", "10240");
  es_store_close(s2);
  remove_db(path2);
  /* a reader keeps SQLite's default */
  s2 = open_ro(path);
  expect_setting(s2, "PRAGMA cache_size", "-2000");
  es_store_close(s2);

  ASSERT_EQ(es_store_query(s, "SELECT 1; SELECT 2", NULL, 0, NULL, NULL), ES_EINVAL);
  ASSERT_EQ(es_store_query(s, "SELEC nonsense", NULL, 0, NULL, NULL), ES_ESTORE);
  ASSERT(strstr(es_store_errmsg(s), "syntax") != NULL);
  ASSERT_EQ(es_store_query(s, "SELECT ?1", params, 2, NULL, NULL), ES_EINVAL);
  ASSERT_EQ(es_store_query(s, "", NULL, 0, NULL, NULL), ES_EINVAL);
  /* NULLs reach the callback as NULL */
  ASSERT_EQ(es_store_query(s, "SELECT NULL AS rule_id, NULL AS n", NULL, 0, NULL, NULL), 0);
  es_store_close(s);
  remove_db(path);
}

static int64_t count_where(sqlite3 *db, const char *sql) { return raw_int(db, sql); }

static void test_marks(void) {
  char path[256];
  int64_t id = 0;
  path_in_tmp(path, sizeof path, "marks.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("call-1:1:r", "I want your manager", 12, 19);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  struct es_alert_rec r2 = alert("call-1:2:r", "this is useless", 8, 15);
  r2.rule_id = "customer.exasperation";
  ASSERT_EQ(es_store_put_alert(s, &r2), 0);

  /* by id, outside a transaction */
  struct es_mark_rec m = {1, NULL, ES_MARK_TAKEN, "alice", 1700000200.0, NULL};
  ASSERT_EQ(es_store_mark(s, &m, &id), 0);
  ASSERT_EQ(id, 1);
  /* by key, in a transaction, with a note quoting a card number */
  ASSERT_EQ(es_store_begin(s), 0);
  struct es_mark_rec m2 = {0, "call-1:1:r", ES_MARK_FALSE_POSITIVE, "bob", 1700000300.0,
                           "customer read 4111 1111 1111 1111, \"not\" an escalation"};
  ASSERT_EQ(es_store_mark(s, &m2, &id), 0);
  ASSERT_EQ(id, 1);
  ASSERT_EQ(es_store_commit(s), 0);
  /* unknown alerts: nothing stored */
  struct es_mark_rec bad = {999, NULL, ES_MARK_RESOLVED, NULL, 1700000400.0, NULL};
  ASSERT_EQ(es_store_mark(s, &bad, &id), ES_ENOENT);
  ASSERT_EQ(id, 0);
  ASSERT(strstr(es_store_errmsg(s), "999") != NULL);
  bad.alert_id = 0;
  bad.alert_key = "no-such-key";
  ASSERT_EQ(es_store_mark(s, &bad, NULL), ES_ENOENT);
  bad.alert_key = NULL;
  ASSERT_EQ(es_store_mark(s, &bad, NULL), ES_EINVAL);
  bad.alert_id = 2;
  bad.mark = (enum es_mark)7;
  ASSERT_EQ(es_store_mark(s, &bad, NULL), ES_EINVAL);
  bad.mark = ES_MARK_RESOLVED;
  bad.at = NAN;
  ASSERT_EQ(es_store_mark(s, &bad, NULL), ES_EINVAL);
  ASSERT_STR_EQ(es_store_mark_name(ES_MARK_FALSE_POSITIVE), "false_positive");
  enum es_mark parsed = ES_MARK_TAKEN;
  ASSERT_EQ(es_store_mark_parse("resolved", &parsed), 0);
  ASSERT_EQ(parsed, ES_MARK_RESOLVED);
  ASSERT_EQ(es_store_mark_parse("false-positive", &parsed), ES_EINVAL);
  ASSERT_EQ(es_store_mark_parse(NULL, &parsed), ES_EINVAL);
  ASSERT(es_store_mark_name((enum es_mark)9) == NULL);

  sqlite3 *db = raw_open(path);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_marks"), 2);
  /* the latest mark wins; the history stays */
  expect_text(db, "SELECT mark || ' ' || marked_by FROM alert_mark_latest WHERE alert_id = 1",
              "false_positive bob");
  expect_text(db, "SELECT note FROM alert_marks WHERE marked_by = 'bob'",
              "customer read [CARD], \"not\" an escalation");
  expect_text(db, "SELECT hits || ' ' || reviewed || ' ' || false_positives || ' ' || fp_rate"
                  " FROM rule_false_positives WHERE rule_id = 'customer.manager_request'",
              "1 1 1 1.0");
  expect_text(db, "SELECT coalesce(fp_rate, 'NULL') FROM rule_false_positives"
                  " WHERE rule_id = 'customer.exasperation'",
              "NULL");
  /* a later mark at the same time still wins (by row order) */
  struct es_mark_rec m3 = {1, NULL, ES_MARK_RESOLVED, "carol", 1700000300.0, NULL};
  ASSERT_EQ(es_store_mark(s, &m3, NULL), 0);
  expect_text(db, "SELECT mark FROM alert_mark_latest WHERE alert_id = 1", "resolved");
  sqlite3_close(db);
  es_store_close(s);

  /* read-only stores refuse */
  s = open_ro(path);
  ASSERT_EQ(es_store_mark(s, &m, NULL), ES_EINVAL);
  es_store_close(s);
  remove_db(path);
}

/* Ids given by the caller (the daemon numbers its alerts). */
static void test_given_ids(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "ids.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("k1", "get me your manager", 7, 19);
  r.id = 100;
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  struct es_alert_rec r2 = alert("k2", "get me your manager", 7, 19);
  ASSERT_EQ(es_store_put_alert(s, &r2), 0); /* id 0: the next free one */
  /* a resent alert with a new id is still a duplicate */
  r.id = 500;
  ASSERT_EQ(es_store_put_alert(s, &r), 1);
  /* an id taken by another alert is refused, not retried */
  struct es_alert_rec r3 = alert("k3", "get me your manager", 7, 19);
  r3.id = 100;
  ASSERT_EQ(es_store_put_alert(s, &r3), ES_EINVAL);
  ASSERT(strstr(es_store_errmsg(s), "100") != NULL);
  r3.id = -4;
  ASSERT_EQ(es_store_put_alert(s, &r3), ES_EINVAL);
  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT group_concat(id || '=' || alert_key, ' ') FROM alerts",
              "100=k1 101=k2");
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM alert_search"), 2);
  sqlite3_close(db);
  es_store_close(s);
  remove_db(path);
}

/* Undoes migrations with `undo` (DROP_NNN) in the closed store at path,
 * then opens it read-write, which migrates it again: every migration after
 * `version`, the one `undo` leaves, is applied. */
static struct es_store *migrated_from(const char *path, const char *undo, int version) {
  sqlite3 *db = raw_open(path);
  raw_exec(db, undo);
  sqlite3_close(db);
  struct es_store *s = open_rw(path);
  struct es_store_stats st;
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.migrations_applied, es_store_schema_latest() - version);
  return s;
}

/* What a restarted earshotd reads: the last id it may have given out, the
 * newest alerts' keys, the calls ended last by their client. */
struct seen {
  char text[512];
  size_t n, stop_at;
};

static int seen_key(void *ud, const char *key, size_t len, int64_t id) {
  struct seen *sn = ud;
  size_t at = strlen(sn->text);
  ASSERT_EQ(len, strlen(key));
  snprintf(sn->text + at, sizeof sn->text - at, "%s%s=%lld", at ? " " : "", key, (long long)id);
  return ++sn->n == sn->stop_at;
}

static int seen_call(void *ud, const char *call_id) {
  return seen_key(ud, call_id, strlen(call_id), 1);
}

static void put_call_ended(struct es_store *s, const char *id, double ended,
                           enum es_end_reason why) {
  struct es_call_start st = {.call_id = id, .started = ended - 60};
  struct es_call_end en = {.call_id = id, .ended = ended, .reason = why, .alert_count = -1,
                           .peak_heat = NAN, .final_heat = NAN, .backup_raised = -1,
                           .deescalated = -1};
  ASSERT_EQ(es_store_put_call(s, &st, &en), 0);
}

static void test_restart_reads(void) {
  char path[256];
  int64_t last = -1;
  path_in_tmp(path, sizeof path, "restart.db");
  struct es_store *s = open_rw(path);
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 0);

  const char *keys[] = {"k5", "k7", "k6"};
  int64_t ids[] = {5, 7, 6};
  for (int i = 0; i < 3; i++) {
    struct es_alert_rec r = alert(keys[i], "get me your manager", 7, 19);
    r.id = ids[i];
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
  }
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 7);
  /* The ceiling counts when higher; it may be lowered (a clean stop). */
  ASSERT_EQ(es_store_reserve_alert_ids(s, 100), 0);
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 100);
  ASSERT_EQ(es_store_reserve_alert_ids(s, 3), 0);
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 7);
  ASSERT_EQ(es_store_reserve_alert_ids(s, -1), ES_EINVAL);
  /* In a transaction: rolled back with it, committed with it. */
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_reserve_alert_ids(s, 900), 0);
  ASSERT_EQ(es_store_rollback(s), 0);
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 7);
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_reserve_alert_ids(s, 900), 0);
  ASSERT_EQ(es_store_commit(s), 0);
  sqlite3 *db = raw_open(path);
  ASSERT_EQ(raw_int(db, "SELECT value FROM daemon_state WHERE name = 'alert_ids_reserved'"), 900);
  /* A row someone deleted is made again. */
  raw_exec(db, "DELETE FROM daemon_state");
  ASSERT_EQ(es_store_reserve_alert_ids(s, 950), 0);
  ASSERT_EQ(raw_int(db, "SELECT value FROM daemon_state WHERE name = 'alert_ids_reserved'"), 950);

  /* The newest alerts by id, at most as many as asked, the oldest of them
   * first, until cb stops. */
  struct seen sn = {{0}, 0, 0};
  ASSERT_EQ(es_store_recent_alerts(s, 2, seen_key, &sn), 0);
  ASSERT_STR_EQ(sn.text, "k6=6 k7=7");
  for (size_t max = 3; max <= 4; max++) {
    memset(&sn, 0, sizeof sn);
    ASSERT_EQ(es_store_recent_alerts(s, max, seen_key, &sn), 0);
    ASSERT_STR_EQ(sn.text, "k5=5 k6=6 k7=7");
  }
  memset(&sn, 0, sizeof sn);
  ASSERT_EQ(es_store_recent_alerts(s, 0, seen_key, &sn), 0);
  ASSERT_EQ(sn.n, 0);
  sn.stop_at = 1;
  ASSERT_EQ(es_store_recent_alerts(s, 10, seen_key, &sn), 0);
  ASSERT_STR_EQ(sn.text, "k5=5");

  /* Calls ended by their client, the latest first; not the abandoned, the
   * ones closed at a shutdown or the open ones, which may go on. */
  put_call_ended(s, "e10", 10, ES_END_ENDED);
  put_call_ended(s, "e30", 30, ES_END_ENDED);
  put_call_ended(s, "e20", 20, ES_END_ENDED);
  put_call_ended(s, "a40", 40, ES_END_ABANDONED);
  put_call_ended(s, "s50", 50, ES_END_SHUTDOWN);
  struct es_call_start open = {.call_id = "open", .started = 5};
  ASSERT_EQ(es_store_put_call_start(s, &open), 0);
  memset(&sn, 0, sizeof sn);
  ASSERT_EQ(es_store_recently_ended_calls(s, 2, seen_call, &sn), 0);
  ASSERT_STR_EQ(sn.text, "e30=1 e20=1");
  /* A call that went on after a restart is open again: out of the list. */
  struct es_call_start again = {.call_id = "e30", .started = 35};
  ASSERT_EQ(es_store_put_call_start(s, &again), 0);
  memset(&sn, 0, sizeof sn);
  ASSERT_EQ(es_store_recently_ended_calls(s, 10, seen_call, &sn), 0);
  ASSERT_STR_EQ(sn.text, "e20=1 e10=1");
  /* Read through the index, never the whole table. */
  char *plan = NULL;
  {
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT call_id FROM calls WHERE "
                                     "end_reason = 'ended' ORDER BY ended DESC LIMIT 10",
                                 -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *detail = (const char *)sqlite3_column_text(st, 3);
      if (plan == NULL && detail) plan = strdup(detail);
    }
    sqlite3_finalize(st);
  }
  ASSERT(plan != NULL);
  ASSERT(strstr(plan, "calls_ended_by_client") != NULL);
  free(plan);
  sqlite3_close(db);
  es_store_close(s);

  /* A read-only store reads them and refuses the write. */
  s = open_ro(path);
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 950);
  ASSERT_EQ(es_store_reserve_alert_ids(s, 2000), ES_EINVAL);
  es_store_close(s);
  remove_db(path);
}

/* A version-6 file with alerts: the ceiling starts at its last id. */
static void test_migrate_restart(void) {
  char path[256];
  int64_t last = 0;
  path_in_tmp(path, sizeof path, "migrate7.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("old-1", "get me your manager", 7, 19);
  r.id = 41;
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  put_call_ended(s, "old-call", 10, ES_END_ENDED);
  es_store_close(s);
  s = migrated_from(path, DROP_007, 6);
  ASSERT_EQ(es_store_last_alert_id(s, &last), 0);
  ASSERT_EQ(last, 41);
  struct seen sn = {{0}, 0, 0};
  ASSERT_EQ(es_store_recently_ended_calls(s, 10, seen_call, &sn), 0);
  ASSERT_STR_EQ(sn.text, "old-call=1");
  es_store_close(s);
  sqlite3 *db = raw_open(path);
  ASSERT_EQ(raw_int(db, "SELECT value FROM daemon_state WHERE name = 'alert_ids_reserved'"), 41);
  sqlite3_close(db);
  remove_db(path);
}

static void test_search_index(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "search.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("k1", "my card is 4111 1111 1111 1111 and I want a refund", 34, 50);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  struct es_alert_rec r2 = alert("k2", "Le café était froid, c'est inadmissible", 0, 7);
  r2.ts += 10;
  ASSERT_EQ(es_store_put_alert(s, &r2), 0);
  ASSERT_EQ(es_store_put_alert(s, &r2), 1); /* a duplicate indexes nothing */

  sqlite3 *db = raw_open(path);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'refund'"), 1);
  /* the masked text is indexed, never the digits */
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH '4111'"), 0);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'card'"), 1);
  /* diacritics fold; the rule id's words are searchable */
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'cafe'"), 1);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH "
                            "'rule_id:manager'"), 2);
  expect_text(db, "SELECT snippet(alert_search, 0, '[', ']', '...', 4) FROM alert_search"
                  " WHERE alert_search MATCH 'refund'",
              "...I want a [refund]");
  raw_exec(db, "INSERT INTO alert_search (alert_search) VALUES ('integrity-check')");
  sqlite3_close(db);
  es_store_close(s);
  remove_db(path);
}

static void test_prune_marks_and_index(void) {
  char path[256], key[16];
  path_in_tmp(path, sizeof path, "prune2.db");
  struct es_store *s = open_rw(path);
  ASSERT_EQ(es_store_begin(s), 0);
  for (int i = 0; i < 25; i++) {
    snprintf(key, sizeof key, "k%02d", i);
    struct es_alert_rec r = alert(key, "please stop shouting at me", 12, 20);
    r.ts = 1000.0 + i;
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
    struct es_mark_rec m = {0, key, ES_MARK_TAKEN, "qa", 2000.0, NULL};
    ASSERT_EQ(es_store_mark(s, &m, NULL), 0);
    if (i % 5 == 0) {
      m.mark = ES_MARK_FALSE_POSITIVE;
      ASSERT_EQ(es_store_mark(s, &m, NULL), 0);
    }
  }
  for (int i = 0; i < 6; i++) {
    char id[16];
    snprintf(id, sizeof id, "c%d", i);
    struct es_call_start cs = {id, NULL, "agent", NULL, 990.0 + i};
    struct es_call_end ce = {id, 995.0 + i * 5, ES_END_ENDED, 0, NAN, NAN, NULL, -1, -1};
    ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
    ASSERT_EQ(es_store_put_call_end(s, &ce), 0);
  }
  ASSERT_EQ(es_store_commit(s), 0);

  /* Bounded steps: 8 rows at a time, alerts first, then calls. Cut-off
   * 1012: alerts k00..k11 (12 of them, with 15 marks); calls ended at
   * 995, 1000, 1005, 1010 (4). */
  struct es_prune_counts c = {0, 0, 0};
  ASSERT_EQ(es_store_prune_step(s, 1012.0, 8, &c), 1);
  ASSERT_EQ(c.alerts, 8);
  ASSERT_EQ(c.calls, 0);
  ASSERT_EQ(c.marks, 10); /* k00..k07: 8 taken + 2 false positives */
  /* 4 alerts and 4 calls: the bound is reached, so more may remain */
  ASSERT_EQ(es_store_prune_step(s, 1012.0, 8, &c), 1);
  ASSERT_EQ(c.alerts, 12);
  ASSERT_EQ(c.calls, 4);
  ASSERT_EQ(c.marks, 15);
  ASSERT_EQ(es_store_prune_step(s, 1012.0, 8, &c), 0);
  ASSERT_EQ(c.alerts, 12);
  ASSERT_EQ(c.calls, 4);
  ASSERT_EQ(es_store_prune_step(s, NAN, 8, &c), ES_EINVAL);

  sqlite3 *db = raw_open(path);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alerts"), 13);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_marks"), 13 + 2); /* k12..k24; k15, k20 */
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_marks WHERE alert_id NOT IN"
                            " (SELECT id FROM alerts)"), 0);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH"
                            " 'shouting'"), 13);
  raw_exec(db, "INSERT INTO alert_search (alert_search) VALUES ('integrity-check')");
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM calls"), 2);
  /* es_store_prune(): the rest at once, marks included, in the caller's
   * transaction when one is open (rolled back here: nothing goes) */
  uint64_t alerts = 0, calls = 0;
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_prune(s, 5000.0, &alerts, &calls), 0);
  ASSERT_EQ(alerts, 13);
  ASSERT_EQ(calls, 2);
  ASSERT_EQ(es_store_rollback(s), 0);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alerts"), 13);
  ASSERT_EQ(es_store_prune(s, 5000.0, &alerts, &calls), 0);
  ASSERT_EQ(alerts, 13);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_marks"), 0);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH"
                            " 'shouting'"), 0);
  raw_exec(db, "INSERT INTO alert_search (alert_search) VALUES ('integrity-check')");
  sqlite3_close(db);
  es_store_close(s);

  s = open_ro(path);
  ASSERT_EQ(es_store_prune_step(s, 5000.0, 0, NULL), ES_EINVAL);
  es_store_close(s);
  remove_db(path);
}

/* A version-2 file with alerts in it: migrating indexes what was there. */
static void test_migrate_search(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "migrate3.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("old-1", "I will post this on twitter", 12, 27);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  es_store_close(s);
  es_store_close(migrated_from(path, DROP_003, 2));
  sqlite3 *db = raw_open(path);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'twitter'"), 1);
  sqlite3_close(db);
  remove_db(path);
}

/* Opcodes of the program SQLite compiles for `sql` that are `opcode`. */
static int64_t count_opcode(sqlite3 *db, const char *sql, const char *opcode) {
  sqlite3_stmt *st = NULL;
  char explain[512];
  int64_t n = 0;
  snprintf(explain, sizeof explain, "EXPLAIN %s", sql);
  ASSERT_EQ(sqlite3_prepare_v2(db, explain, -1, &st, NULL), SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW)
    if (strcmp((const char *)sqlite3_column_text(st, 1), opcode) == 0) n++;
  sqlite3_finalize(st);
  return n;
}

/* The writes earshotd makes, as SQLite compiles them: none may build a
 * temporary index (a CHECK with an IN list did, on every row). */
static void expect_cheap_checks(sqlite3 *db) {
  static const char *const writes[] = {
    "INSERT INTO alerts (alert_key, call_id, ts, rule_id, severity) VALUES ('k', 'c', 1, 'r', ?1)",
    "INSERT INTO calls (call_id, end_reason) VALUES ('c', ?1)"
    " ON CONFLICT (call_id) DO UPDATE SET end_reason = excluded.end_reason",
    "INSERT INTO alert_marks (alert_id, mark, marked_at) VALUES (1, ?1, 0)",
    "INSERT INTO webhook_outbox (destination, alert_id, payload, state, next_attempt_at,"
    " created_at) VALUES ('d', 1, '{}', ?1, 0, 0)",
  };
  for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++)
    ASSERT_EQ(count_opcode(db, writes[i], "OpenEphemeral"), 0);
}

/* 005_writer_cost.sql on a version-4 file with alerts in it: the same
 * constraints, without IN lists; new alerts indexed by the store, not by
 * a trigger; old ones still found. */
static void test_migrate_writer_cost(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "migrate5.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec r = alert("old-1", "I will post this on twitter", 12, 27);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  es_store_close(s);
  sqlite3 *db = raw_open(path);
  raw_exec(db, DROP_005);
  /* as version 4 wrote it: an IN list, checked with a temporary index */
  ASSERT(count_opcode(db, "INSERT INTO alerts (alert_key, call_id, ts, rule_id, severity)"
                          " VALUES ('k', 'c', 1, 'r', ?1)", "OpenEphemeral") > 0);
  sqlite3_close(db);

  s = open_rw(path);
  struct es_store_stats st;
  es_store_get_stats(s, &st);
  ASSERT_EQ(st.migrations_applied, es_store_schema_latest() - 4); /* 005 and on */
  /* this connection uses the new constraints at once: a new alert gets
   * its index entry from the store */
  struct es_alert_rec r2 = alert("new-1", "I will post this on facebook", 12, 28);
  ASSERT_EQ(es_store_put_alert(s, &r2), 0);
  es_store_close(s);

  db = raw_open(path);
  expect_cheap_checks(db);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM sqlite_schema"
                        " WHERE type = 'trigger' AND name = 'alerts_search_insert'"), 0);
  /* 006_search_merge.sql: the index merges 8 segments at a time */
  ASSERT_EQ(raw_int(db, "SELECT v FROM alert_search_config WHERE k = 'automerge'"), 8);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'twitter'"), 1);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'facebook'"), 1);
  ASSERT_EQ(count_where(db, "SELECT count(*) FROM alert_search WHERE alert_search MATCH 'post'"), 2);
  /* the rewritten constraints refuse what the old ones refused */
  ASSERT(sqlite3_exec(db, "INSERT INTO alerts (alert_key, call_id, ts, rule_id, severity)"
                          " VALUES ('bad', 'c', 1, 'r', 'urgent')", NULL, NULL, NULL) ==
         SQLITE_CONSTRAINT);
  ASSERT(sqlite3_exec(db, "INSERT INTO calls (call_id, end_reason) VALUES ('c', 'hung up')",
                      NULL, NULL, NULL) == SQLITE_CONSTRAINT);
  ASSERT(sqlite3_exec(db, "INSERT INTO alert_marks (alert_id, mark, marked_at)"
                          " VALUES (1, 'maybe', 0)", NULL, NULL, NULL) == SQLITE_CONSTRAINT);
  ASSERT(sqlite3_exec(db, "INSERT INTO webhook_outbox (destination, alert_id, payload, state,"
                          " next_attempt_at, created_at) VALUES ('d', 1, '{}', 'lost', 0, 0)",
                      NULL, NULL, NULL) == SQLITE_CONSTRAINT);
  expect_text(db, "PRAGMA integrity_check", "ok");
  raw_exec(db, "INSERT INTO alert_search (alert_search) VALUES ('integrity-check')");
  sqlite3_close(db);
  remove_db(path);
}

struct typed {
  int calls, rows;
  enum es_store_type types[4];
  char names[4][16];
};

static int keep_typed(void *ud, int ncols, const char *const *names, const char *const *values,
                      const enum es_store_type *types) {
  struct typed *t = ud;
  ASSERT_EQ(ncols, 4);
  t->calls++;
  for (int i = 0; i < 4; i++) snprintf(t->names[i], sizeof t->names[i], "%s", names[i]);
  if (values == NULL) {
    ASSERT(types == NULL);
    return 0;
  }
  t->rows++;
  for (int i = 0; i < 4; i++) t->types[i] = types[i];
  ASSERT(values[3] == NULL);
  return 0;
}

static void test_query_typed(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "typed.db");
  struct es_store *s = open_rw(path);
  struct typed t;
  memset(&t, 0, sizeof t);
  ASSERT_EQ(es_store_query_typed(s, "SELECT 1 AS i, 2.5 AS r, 'x' AS t, NULL AS n", NULL, 0,
                                 keep_typed, &t), 0);
  ASSERT_EQ(t.calls, 1);
  ASSERT_EQ(t.rows, 1);
  ASSERT_EQ(t.types[0], ES_STORE_INTEGER);
  ASSERT_EQ(t.types[1], ES_STORE_REAL);
  ASSERT_EQ(t.types[2], ES_STORE_TEXT);
  ASSERT_EQ(t.types[3], ES_STORE_NULL);
  /* no rows: one call with the names, values NULL */
  memset(&t, 0, sizeof t);
  ASSERT_EQ(es_store_query_typed(s, "SELECT id AS i, ts AS r, text AS t, tip AS n FROM alerts",
                                 NULL, 0, keep_typed, &t), 0);
  ASSERT_EQ(t.calls, 1);
  ASSERT_EQ(t.rows, 0);
  ASSERT_STR_EQ(t.names[2], "t");
  /* A bound GLOB pattern makes SQLite re-prepare at the first step: the
   * names handed over must be those of the new statement (ASan checks). */
  struct es_alert_rec r = alert("g1", "get me a manager", 9, 16);
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  const char *glob = "customer.*";
  memset(&t, 0, sizeof t);
  ASSERT_EQ(es_store_query_typed(s, "SELECT id AS i, ts AS r, rule_id AS t, NULL AS n FROM alerts"
                                    " WHERE rule_id GLOB ?1", &glob, 1, keep_typed, &t), 0);
  ASSERT_EQ(t.rows, 1);
  ASSERT_STR_EQ(t.names[2], "t");
  es_store_close(s);
  remove_db(path);
}

/* Every ```sql block of docs/schema.md runs as written against a store
 * with data in it. */
static void test_docs_queries(void) {
  char path[256];
  size_t len;
  char *doc = slurp(ES_SOURCE_DIR "/docs/schema.md", &len);
  ASSERT_GT(len, 0);
  path_in_tmp(path, sizeof path, "docs.db");
  struct es_store *s = open_rw(path);
  put_secrets(s);
  es_store_close(s);

  sqlite3 *db = raw_open(path);
  int blocks = 0;
  for (char *p = strstr(doc, "```sql\n"); p; p = strstr(p, "```sql\n")) {
    p += 7;
    char *end = strstr(p, "```");
    ASSERT(end != NULL);
    *end = '\0';
    const char *sql = p;
    while (*sql) {
      sqlite3_stmt *st = NULL;
      const char *tail = NULL;
      if (sqlite3_prepare_v2(db, sql, -1, &st, &tail) != SQLITE_OK)
        ES_FAIL_("docs/schema.md query fails: %s\n%s", sqlite3_errmsg(db), sql);
      if (st == NULL) break; /* only comments or white space left */
      int rc;
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      }
      if (rc != SQLITE_DONE) ES_FAIL_("docs/schema.md query fails: %s\n%s", sqlite3_errmsg(db), sql);
      sqlite3_finalize(st);
      sql = tail;
    }
    blocks++;
    p = end + 3;
  }
  ASSERT_GE(blocks, 5);
  sqlite3_close(db);
  free(doc);
  remove_db(path);
}

/* The webhook outbox: rows only for stored alerts, in the alert's
 * transaction; outcomes; summaries; retention of failed rows. */
static void test_outbox(void) {
  char path[256];
  path_in_tmp(path, sizeof path, "outbox.db");
  struct es_store *s = open_rw(path);
  struct es_alert_rec a = alert("k1", "get me your manager", 7, 19);
  a.id = 7;
  ASSERT_EQ(es_store_put_alert(s, &a), 0);
  struct es_outbox_rec o = {.destination = "slack", .alert_id = 7,
                            .payload = "{\"text\":\"alert 7\"}", .created_at = 1700000000.5};
  ASSERT_EQ(es_store_put_outbox(s, &o), 0);
  ASSERT_EQ(es_store_put_outbox(s, &o), 1);  /* one row per alert and destination */
  o.destination = "pager";
  ASSERT_EQ(es_store_put_outbox(s, &o), 0);
  o.alert_id = 99;                           /* no such alert: nothing owed */
  ASSERT_EQ(es_store_put_outbox(s, &o), 1);
  o.alert_id = 7;
  o.payload = "{not json";
  ASSERT_EQ(es_store_put_outbox(s, &o), ES_EJSON);
  o.payload = "{}";
  o.destination = "";
  ASSERT_EQ(es_store_put_outbox(s, &o), ES_EINVAL);
  o.destination = "slack";
  o.alert_id = 0;
  ASSERT_EQ(es_store_put_outbox(s, &o), ES_EINVAL);

  /* A resent alert (same key, new id) brings no delivery; a rolled-back
   * alert takes its delivery with it. */
  struct es_alert_rec again = a;
  again.id = 8;
  ASSERT_EQ(es_store_put_alert(s, &again), 1);
  o = (struct es_outbox_rec){.destination = "slack", .alert_id = 8, .payload = "{}",
                             .created_at = 1700000001};
  ASSERT_EQ(es_store_put_outbox(s, &o), 1);
  struct es_alert_rec b = alert("k2", "get me your manager", 7, 19);
  b.id = 9;
  ASSERT_EQ(es_store_begin(s), 0);
  ASSERT_EQ(es_store_put_alert(s, &b), 0);
  o.alert_id = 9;
  ASSERT_EQ(es_store_put_outbox(s, &o), 0);
  /* inside a transaction the same rules hold (a lookup, then the insert) */
  ASSERT_EQ(es_store_put_outbox(s, &o), 1);
  o.alert_id = 99;
  ASSERT_EQ(es_store_put_outbox(s, &o), 1);
  o.alert_id = 9;
  ASSERT_EQ(es_store_rollback(s), 0);
  sqlite3 *db = raw_open(path);
  expect_text(db, "SELECT group_concat(destination || ':' || alert_id || ':' || state || ':' ||"
                  " attempts || ':' || next_attempt_at, ' ') FROM webhook_outbox ORDER BY id",
              "slack:7:pending:0:1700000000.5 pager:7:pending:0:1700000000.5");
  int64_t slack = raw_int(db, "SELECT id FROM webhook_outbox WHERE destination = 'slack'");
  int64_t pager = raw_int(db, "SELECT id FROM webhook_outbox WHERE destination = 'pager'");
  ASSERT_GT(pager, slack);
  expect_text(db, "SELECT payload FROM webhook_outbox WHERE destination = 'slack'",
              "{\"text\":\"alert 7\"}");

  /* Outcomes: a retry, a failure, delivery. */
  struct es_outbox_update u = {.id = slack, .state = ES_OUTBOX_PENDING, .attempts = 2,
                               .next_attempt_at = 1700000010, .last_error = "HTTP 500"};
  ASSERT_EQ(es_store_update_outbox(s, &u), 0);
  expect_text(db, "SELECT state || ':' || attempts || ':' || next_attempt_at || ':' || last_error"
                  " || ':' || coalesce(closed_at, 'open') FROM webhook_outbox"
                  " WHERE destination = 'slack'",
              "pending:2:1700000010.0:HTTP 500:open");
  u = (struct es_outbox_update){.id = pager, .state = ES_OUTBOX_FAILED, .attempts = 3,
                                .last_error = "Connection refused", .at = 1700000020};
  ASSERT_EQ(es_store_update_outbox(s, &u), 0);
  expect_text(db, "SELECT state || ':' || attempts || ':' || last_error || ':' || closed_at"
                  " FROM webhook_outbox WHERE destination = 'pager'",
              "failed:3:Connection refused:1700000020.0");
  u = (struct es_outbox_update){.id = slack, .state = ES_OUTBOX_DELIVERED, .attempts = 3};
  ASSERT_EQ(es_store_update_outbox(s, &u), 0);
  ASSERT_EQ(es_store_update_outbox(s, &u), 0); /* gone already: fine */
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM webhook_outbox WHERE destination = 'slack'"), 0);
  u.state = (enum es_outbox_state)9;
  ASSERT_EQ(es_store_update_outbox(s, &u), ES_EINVAL);
  u = (struct es_outbox_update){.id = 1, .state = ES_OUTBOX_PENDING, .next_attempt_at = NAN};
  ASSERT_EQ(es_store_update_outbox(s, &u), ES_EINVAL);
  u = (struct es_outbox_update){.id = 0, .state = ES_OUTBOX_DELIVERED, .summarised_upto = 5};
  ASSERT_EQ(es_store_update_outbox(s, &u), ES_EINVAL); /* whose? */

  /* Suppressed rows go once a summary covering them is delivered, only
   * the destination's and only up to the id it names. */
  for (int64_t id = 10; id <= 13; id++) {
    char key[16];
    snprintf(key, sizeof key, "k%lld", (long long)id);
    struct es_alert_rec r = alert(key, "get me your manager", 7, 19);
    r.id = id;
    ASSERT_EQ(es_store_put_alert(s, &r), 0);
    o = (struct es_outbox_rec){.destination = id == 13 ? "pager" : "slack", .alert_id = id,
                               .payload = "{}", .created_at = 1700000030};
    ASSERT_EQ(es_store_put_outbox(s, &o), 0);
  }
  int64_t first = raw_int(db, "SELECT min(id) FROM webhook_outbox WHERE alert_id >= 10");
  ASSERT_GT(first, pager); /* ids are not reused */
  ASSERT_EQ(raw_int(db, "SELECT max(id) FROM webhook_outbox") - first, 3);
  for (int64_t id = first; id < first + 4; id++) {
    u = (struct es_outbox_update){.id = id, .state = ES_OUTBOX_SUPPRESSED, .at = 1700000031};
    ASSERT_EQ(es_store_update_outbox(s, &u), 0);
  }
  u = (struct es_outbox_update){.id = 0, .state = ES_OUTBOX_DELIVERED, .destination = "slack",
                                .summarised_upto = first + 1};
  ASSERT_EQ(es_store_update_outbox(s, &u), 0);
  expect_text(db, "SELECT group_concat(alert_id || ':' || destination || ':' || state, ' ')"
                  " FROM webhook_outbox WHERE alert_id >= 10",
              "12:slack:suppressed 13:pager:suppressed");

  /* Retention: the failed delivery goes with its alert; owed ones stay. */
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM webhook_outbox WHERE alert_id = 7"), 1);
  ASSERT_EQ(es_store_prune(s, 1800000000, NULL, NULL), 0);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM webhook_outbox WHERE alert_id = 7"), 0);
  ASSERT_EQ(raw_int(db, "SELECT count(*) FROM webhook_outbox"), 2);

  /* After every row is gone, ids still grow. */
  raw_exec(db, "DELETE FROM webhook_outbox");
  struct es_alert_rec c = alert("k20", "get me your manager", 7, 19);
  c.id = 20;
  ASSERT_EQ(es_store_put_alert(s, &c), 0);
  o = (struct es_outbox_rec){.destination = "slack", .alert_id = 20, .payload = "{}",
                             .created_at = 1700000040};
  ASSERT_EQ(es_store_put_outbox(s, &o), 0);
  ASSERT_GT(raw_int(db, "SELECT id FROM webhook_outbox WHERE alert_id = 20"), first + 3);
  sqlite3_close(db);
  es_store_close(s);

  /* A reader cannot write. */
  struct es_store *ro = open_ro(path);
  ASSERT_EQ(es_store_put_outbox(ro, &o), ES_EINVAL);
  u = (struct es_outbox_update){.id = 1, .state = ES_OUTBOX_DELIVERED};
  ASSERT_EQ(es_store_update_outbox(ro, &u), ES_EINVAL);
  es_store_close(ro);
  remove_db(path);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/es_store_XXXXXX");
  ASSERT(mkdtemp(tmpdir) != NULL);
  RUN(test_migrations);
  RUN(test_roundtrip);
  RUN(test_duplicates);
  RUN(test_no_secrets_on_disk);
  RUN(test_matched_masking);
  RUN(test_premasked);
  RUN(test_json_checks);
  RUN(test_read_only);
  RUN(test_schema_versions);
  RUN(test_not_a_store);
  RUN(test_transactions);
  RUN(test_validation);
  RUN(test_call_resume);
  RUN(test_call_whole);
  RUN(test_prune_checkpoint);
  RUN(test_query);
  RUN(test_marks);
  RUN(test_given_ids);
  RUN(test_search_index);
  RUN(test_prune_marks_and_index);
  RUN(test_migrate_search);
  RUN(test_migrate_writer_cost);
  RUN(test_query_typed);
  RUN(test_docs_queries);
  RUN(test_outbox);
  RUN(test_restart_reads);
  RUN(test_migrate_restart);
  ASSERT_EQ(rmdir(tmpdir), 0); /* every test removed its files */
  return 0;
}
