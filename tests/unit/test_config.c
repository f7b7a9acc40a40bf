/*
 * test_config.c: lib/config.c, earshotd's config file as earshotd and the
 * earshot command both read it: what a file sets and leaves alone, and
 * the one diagnostic a bad file gets (its file, its line, the setting).
 * earshotd's flags over it are tested in tests/query/retention.c, its
 * startup checks in tests/integration/it_lifecycle.c.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "task.h"

static char dir[64], file[128];

static void write_file(const char *text) {
  FILE *f = fopen(file, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  ASSERT_EQ(fclose(f), 0);
}

/* Reads `text` as a config file over the defaults; returns what
 * es_config_read() does, its diagnostic in diags. */
static int read_text(const char *text, struct es_config *c, struct es_diags *diags) {
  write_file(text);
  es_config_init(c);
  es_diags_init(diags);
  return es_config_read(c, file, diags);
}

/* The text must be refused with `code`, one diagnostic naming the file
 * (and line) and holding `needle` after the path. */
static void refused(const char *text, int code, int line, const char *needle) {
  struct es_config c;
  struct es_diags diags;
  int rc = read_text(text, &c, &diags);
  if (rc != code) ES_FAIL_("%s: %d, expected %d", text, rc, code);
  ASSERT_EQ(diags.count, 1);
  ASSERT_STR_EQ(diags.items[0].file, file);
  ASSERT_EQ(diags.items[0].line, line);
  const char *msg = diags.items[0].message;
  if (strncmp(msg, file, strlen(file)) != 0 || strncmp(msg + strlen(file), ": ", 2) != 0 ||
      strstr(msg, needle) == NULL)
    ES_FAIL_("%s: \"%s\" is not \"%s: ...%s...\"", text, msg, file, needle);
  es_diags_deinit(&diags);
  es_config_deinit(&c);
}

static void test_settings(void) {
  struct es_config c;
  struct es_diags diags;

  ASSERT_EQ(read_text("{\"socket\": \"/run/earshot/earshotd.sock\", \"db\": \"/srv/e.db\",\n"
                      " \"socket_group\": \"earshot\", \"socket_mode\": \"0600\",\n"
                      " \"rules\": [\"/a\", \"/b\"], \"log_level\": \"debug\",\n"
                      " \"limits\": {\"max_connections\": 64}, \"store\": {\"synchronous\": "
                      "\"normal\"},\n \"webhooks\": [{\"name\": \"x\"}]}\n",
                      &c, &diags),
            0);
  ASSERT_EQ(diags.count, 0);
  ASSERT_STR_EQ(c.socket_path, "/run/earshot/earshotd.sock");
  ASSERT_STR_EQ(c.db_path, "/srv/e.db");
  ASSERT_STR_EQ(c.socket_group, "earshot");
  ASSERT_EQ(c.socket_mode, 0600);
  ASSERT_EQ(c.nrules, 2);
  ASSERT_STR_EQ(c.rules[1], "/b");
  ASSERT_EQ(c.log_level, ES_LOG_DEBUG);
  ASSERT_EQ(c.max_connections, 64);
  ASSERT_EQ(c.synchronous, 1);
  ASSERT_STR_EQ(c.webhooks_json, "[{\"name\":\"x\"}]");
  ASSERT_STR_EQ(c.config_file, file);
  /* What the file does not name keeps its default. */
  ASSERT_EQ(c.max_line_bytes, 65536);
  ASSERT_EQ(c.cache_mb, 16);
  ASSERT(c.listen_tcp == NULL);
  es_diags_deinit(&diags);
  es_config_deinit(&c);

  /* A path the file does not name stays what it was: NULL here, which is
   * how the earshot command tells "named" from "the default". */
  es_config_init(&c);
  ASSERT_EQ(es_config_set_str(&c.socket_path, NULL), 0);
  es_diags_init(&diags);
  write_file("{\"db\": \"/srv/e.db\"}");
  ASSERT_EQ(es_config_read(&c, file, &diags), 0);
  ASSERT(c.socket_path == NULL);
  ASSERT_STR_EQ(c.db_path, "/srv/e.db");
  const char *paths[] = {"/x", "/y", "/z"};
  ASSERT_EQ(es_config_set_rules(&c, paths, 3), 0);
  ASSERT_EQ(c.nrules, 3);
  ASSERT_STR_EQ(c.rules[2], "/z");
  es_diags_deinit(&diags);
  es_config_deinit(&c);
}

static void test_refused(void) {
  refused("{\"bogus\": 1}", ES_EINVAL, 0, "unknown setting \"bogus\"");
  refused("{\"db\": \"/a\", \"db\": \"/b\"}", ES_EINVAL, 0, "setting \"db\" is given twice");
  refused("{\"socket\": \"\"}", ES_EINVAL, 0, "\"socket\" must be a non-empty string");
  refused("{\"rules\": [\"/a\", 3]}", ES_EINVAL, 0, "\"rules\" must be a path or an array");
  refused("{\"limits\": {\"max_connections\": 10.5}}", ES_EINVAL, 0,
          "limits.max_connections must be a whole number from 1 to 100000");
  refused("{\"store\": {\"synchronous\": \"off\"}}", ES_EINVAL, 0,
          "store.synchronous must be \"normal\" or \"full\"");
  refused("{\"log_level\": \"loud\"}", ES_EINVAL, 0, "\"log_level\" must be one of");
  refused("[]", ES_EJSON, 0, "must hold one JSON object");
  refused("{\n  \"db\": \"/a\",\n}\n", ES_EJSON, 3, "malformed JSON near line 3");
  refused("{}\n{}\n", ES_EJSON, 2, "malformed JSON near line 2");
  refused("", ES_EJSON, 0, "the file is empty: a config file holds one JSON object");
  refused(" \n\t\n", ES_EJSON, 0, "the file is empty");
}

/* Every wrong setting is told at once, not only the first. */
static void test_every_problem(void) {
  struct es_config c;
  struct es_diags diags;
  static const char *const says[] = {
    "\"log_level\" must be one of", "\"retention_days\" must be a whole number",
    "unknown limit \"max_lines\"", "limits.max_connections must be a whole number from 1",
    "store.synchronous must be \"normal\" or \"full\""};
  ASSERT_EQ(read_text("{\"log_level\": \"loud\", \"retention_days\": -3, \"db\": \"/srv/x.db\","
                      " \"limits\": {\"max_connections\": 0, \"max_lines\": 5},"
                      " \"store\": {\"synchronous\": \"off\"}}",
                      &c, &diags),
            ES_EINVAL);
  ASSERT_EQ(diags.count, sizeof(says) / sizeof(says[0]));
  for (size_t i = 0; i < diags.count; i++)
    ASSERT(strstr(diags.items[i].message, says[i]) != NULL);
  es_diags_deinit(&diags);
  es_config_deinit(&c);
}

static void test_unreadable(void) {
  struct es_config c;
  struct es_diags diags;
  char missing[160];

  /* No file: ES_ENOENT (the earshot command then takes the default for the
   * system file); the message names the path. */
  snprintf(missing, sizeof(missing), "%s/missing.json", dir);
  es_config_init(&c);
  es_diags_init(&diags);
  ASSERT_EQ(es_config_read(&c, missing, &diags), ES_ENOENT);
  ASSERT_EQ(diags.count, 1);
  ASSERT_STR_EQ(diags.items[0].file, missing);
  ASSERT(strstr(diags.items[0].message, "cannot open config file") != NULL);
  ASSERT(strstr(diags.items[0].message, missing) != NULL);
  /* A directory is not one. */
  es_diags_clear(&diags);
  ASSERT_EQ(es_config_read(&c, dir, &diags), ES_EIO);
  ASSERT_EQ(diags.count, 1);
  ASSERT(strstr(diags.items[0].message, dir) != NULL);
  es_diags_deinit(&diags);
  es_config_deinit(&c);
}

static void test_levels_and_default_path(void) {
  enum es_log_level level;
  char buf[256];

  ASSERT_EQ(es_log_level_parse("warn", &level), 0);
  ASSERT_EQ(level, ES_LOG_WARN);
  ASSERT_EQ(es_log_level_parse("verbose", &level), ES_EINVAL);
  ASSERT_STR_EQ(es_log_level_name(ES_LOG_DEBUG), "debug");

  unsetenv("EARSHOT_SYSTEM_CONFIG");
  ASSERT_EQ(es_default_config(buf, sizeof(buf)), 0);
  ASSERT_STR_EQ(buf, "/etc/earshot/earshotd.json");
  setenv("EARSHOT_SYSTEM_CONFIG", "/opt/earshot/etc/earshotd.json", 1);
  ASSERT_EQ(es_default_config(buf, sizeof(buf)), 0);
  ASSERT_STR_EQ(buf, "/opt/earshot/etc/earshotd.json");
  ASSERT_EQ(es_default_config(buf, 8), ES_ETOOBIG);
  unsetenv("EARSHOT_SYSTEM_CONFIG");
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/es_config_XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(file, sizeof(file), "%s/earshotd.json", dir);
  RUN(test_settings);
  RUN(test_refused);
  RUN(test_every_problem);
  RUN(test_unreadable);
  RUN(test_levels_and_default_path);
  unlink(file);
  ASSERT_EQ(rmdir(dir), 0);
  printf("config: all passed\n");
  return 0;
}
