/*
 * docs_sql.c: the documentation runs as written.
 *   - every ```sql block of docs/schema.md through the sqlite3 shell
 *     (`sqlite3 -bail -readonly DB`), against a store built by the current
 *     schema with rows in every table;
 *   - every `earshot ...` line of the ```sh blocks of docs/analysts.md,
 *     through /bin/sh with EARSHOT_HOME pointing at that store; a line that
 *     ends in "# exit N" must exit N, every other one 0;
 *   - every rule id the two pages name is one of the bundled rules', and
 *     the database they name is earshot.db.
 * Exits 77 (skipped) when the sqlite3 shell is not installed.
 */
#include <ctype.h>
#include <dirent.h>
#include <libgen.h>

#include "qtest.h"

static char tmpdir[64], db[256];

/* The ```LANG blocks of a file, one after the other: returns the next
 * block's text (NUL-terminated in place) or NULL. */
static char *next_block(char **cursor, const char *lang) {
  char fence[32];
  snprintf(fence, sizeof fence, "```%s\n", lang);
  char *p = strstr(*cursor, fence);
  if (p == NULL) return NULL;
  p += strlen(fence);
  char *end = strstr(p, "```");
  ASSERT(end != NULL);
  *end = '\0';
  *cursor = end + 3;
  return p;
}

static void test_schema_sql(void) {
  size_t len;
  char *doc = qt_slurp(ES_SCHEMA_DOC, &len), *cursor = doc, *sql;
  ASSERT(doc != NULL);
  int blocks = 0;
  while ((sql = next_block(&cursor, "sql")) != NULL) {
    struct qt_run r;
    char *argv[] = {(char *)ES_SQLITE3_SHELL, "-bail", "-readonly", db, NULL};
    qt_run(argv, NULL, sql, &r);
    if (r.status != 0 || r.err_len != 0)
      ES_FAIL_("docs/schema.md query fails (exit %d): %s\n%s", r.status, r.err, sql);
    qt_run_free(&r);
    blocks++;
  }
  ASSERT_GE(blocks, 12);
  free(doc);
}

static void test_analysts_commands(void) {
  size_t len;
  char *doc = qt_slurp(ES_ANALYSTS_DOC, &len), *cursor = doc, *block;
  char home[300], path[4200], cli[4096];
  ASSERT(doc != NULL);
  snprintf(cli, sizeof cli, "%s", ES_EARSHOT_CLI);
  snprintf(home, sizeof home, "EARSHOT_HOME=%s", tmpdir);
  snprintf(path, sizeof path, "PATH=%s:%s", dirname(cli), getenv("PATH") ? getenv("PATH") : "");
  const char *env[] = {home, path, "USER=docs", NULL};
  int commands = 0;
  while ((block = next_block(&cursor, "sh")) != NULL) {
    /* Lines continued with a backslash are one command. */
    char *line = block;
    while (*line) {
      char *end = line;
      while (*end && !(*end == '\n' && (end == line || end[-1] != '\\'))) end++;
      char saved = *end;
      *end = '\0';
      if (strncmp(line, "earshot ", 8) == 0) {
        int want = 0;
        const char *mark = strstr(line, "# exit ");
        if (mark) want = atoi(mark + 7);
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "cd '%s' && %s", tmpdir, line);
        char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        struct qt_run r;
        qt_run(argv, env, NULL, &r);
        if (r.status != want)
          ES_FAIL_("docs/analysts.md: `%s` exits %d (want %d): %s", line, r.status, want, r.err);
        qt_run_free(&r);
        commands++;
      }
      *end = saved;
      line = *end ? end + 1 : end;
    }
  }
  ASSERT_GE(commands, 15);
  free(doc);
}

/* The text of every bundled rules file, one after the other. */
static char *bundled_rules(void) {
  char *all = NULL;
  size_t len = 0;
  DIR *dir = opendir(ES_BUNDLED_RULES);
  ASSERT(dir != NULL);
  for (struct dirent *e; (e = readdir(dir)) != NULL;) {
    char p[4200];
    size_t n;
    if (strstr(e->d_name, ".json") == NULL) continue;
    snprintf(p, sizeof p, "%s/%s", ES_BUNDLED_RULES, e->d_name);
    char *text = qt_slurp(p, &n);
    ASSERT(text != NULL);
    qt_append(&all, &len, text, n);
    free(text);
  }
  closedir(dir);
  ASSERT(all != NULL);
  return all;
}

/* Words like agent.calm-down in the docs are rule ids: each must be one
 * of the bundled rules (or call.backup, the id of the backup alert that
 * the call logic raises, docs/rules.md). */
static void check_rule_ids(const char *path, const char *rules) {
  static const char *const prefixes[] = {"agent.", "customer.", "call.", "deesc.", "signal.",
                                         NULL};
  size_t len;
  char *doc = qt_slurp(path, &len);
  ASSERT(doc != NULL);
  for (const char *p = doc; *p; p++) {
    if (p > doc && (isalnum((unsigned char)p[-1]) || p[-1] == '.' || p[-1] == '_')) continue;
    for (const char *const *pre = prefixes; *pre; pre++) {
      size_t n = strlen(*pre), end = n;
      if (strncmp(p, *pre, n) != 0) continue;
      while (isalnum((unsigned char)p[end]) || p[end] == '_' || p[end] == '-') end++;
      if (end == n || p[end] == '.') continue; /* a file name (call.json...) or none */
      char id[128], quoted[140];
      snprintf(id, sizeof id, "%.*s", (int)end, p);
      snprintf(quoted, sizeof quoted, "\"id\": \"%s\"", id);
      if (strcmp(id, "call.backup") != 0 && strstr(rules, quoted) == NULL)
        ES_FAIL_("%s names rule %s, which is not among the bundled rules", path, id);
    }
  }
  ASSERT(strstr(doc, "alerts.db") == NULL);
  free(doc);
}

static void test_rule_ids_and_paths(void) {
  char *rules = bundled_rules();
  check_rule_ids(ES_ANALYSTS_DOC, rules);
  check_rule_ids(ES_SCHEMA_DOC, rules);
  free(rules);
}

int main(void) {
  struct stat sb;
  if (stat(ES_SQLITE3_SHELL, &sb) != 0) {
    printf("docs_sql: skipped: no sqlite3 shell (apt-get install sqlite3)\n");
    return 77;
  }
  snprintf(tmpdir, sizeof tmpdir, "/tmp/es_docs_XXXXXX");
  ASSERT(mkdtemp(tmpdir) != NULL);
  snprintf(db, sizeof db, "%s/earshot.db", tmpdir);
  qt_build_store(db, (double)time(NULL));
  /* a mark, so that the feedback queries return rows, and the call the
   * examples of docs/analysts.md name */
  struct es_store *s = NULL;
  ASSERT_EQ(es_store_open(db, NULL, &s, NULL), 0);
  struct es_mark_rec m = {2, NULL, ES_MARK_FALSE_POSITIVE, "qa", (double)time(NULL), "quoted"};
  ASSERT_EQ(es_store_mark(s, &m, NULL), 0);
  struct es_call_start cs = {"7f3c9e21", "{\"customer_tier\":\"gold\"}", "alice", "billing",
                             (double)time(NULL) - 600};
  ASSERT_EQ(es_store_put_call_start(s, &cs), 0);
  const struct qt_alert q = {"7f3c9e21/1", "7f3c9e21", 590, 10, "customer.manager_request",
                             "manager_request", ES_SEV_HIGH, ES_SPEAKER_CUSTOMER,
                             "I want a refund or your manager", "your manager", NULL, 3, NULL};
  struct es_alert_rec r = qt_alert_rec(&q, (double)time(NULL));
  ASSERT_EQ(es_store_put_alert(s, &r), 0);
  es_store_close(s);
  RUN(test_rule_ids_and_paths);
  RUN(test_schema_sql);
  RUN(test_analysts_commands);
  qt_remove_db(db);
  /* what the examples wrote (serious-week.csv...) */
  DIR *dir = opendir(tmpdir);
  ASSERT(dir != NULL);
  for (struct dirent *e; (e = readdir(dir)) != NULL;) {
    char p[600];
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
    unlink(p);
  }
  closedir(dir);
  ASSERT_EQ(rmdir(tmpdir), 0);
  printf("docs_sql: all passed\n");
  return 0;
}
