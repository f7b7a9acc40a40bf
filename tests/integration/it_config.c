/*
 * it_config.c: how the earshot command finds earshotd (docs/configuration.md,
 * "How earshot finds earshotd"). A real earshotd runs with a config file
 * that names its socket and database; the real earshot command, run with
 * a controlled environment, finds them through --config, $EARSHOT_CONFIG
 * or the system config file ($EARSHOT_SYSTEM_CONFIG stands in for
 * /etc/earshot/earshotd.json, so that nothing here depends on the
 * machine's /etc), in that order after the flags, with an explicit
 * $EARSHOT_HOME before the system file. A config file that is there but
 * broken is an error naming the file and the problem.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Runs the earshot command with args, in the environment of this test
 * without EARSHOT_HOME, EARSHOT_CONFIG, EARSHOT_SYSTEM_CONFIG and
 * EARSHOT_RULES, plus
 * `env` ("NAME=VALUE" strings, NULL-terminated; may be NULL). Its stdout
 * and stderr go to *out (malloc'd). Returns the exit code. */
static int run_cli(const struct it_daemon *d, const char *const *env, const char *const *args,
                   char **out) {
  const char *argv[32];
  char path[256];
  int n = 0, st;

  argv[n++] = ES_EARSHOT_CLI;
  for (int i = 0; args[i]; i++) {
    ASSERT(n < 30);
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  snprintf(path, sizeof(path), "%s/cli.out", d->dir);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
      _exit(126);
    dup2(fd, 1);
    dup2(fd, 2);
    unsetenv("EARSHOT_HOME");
    unsetenv("EARSHOT_CONFIG");
    unsetenv("EARSHOT_SYSTEM_CONFIG");
    unsetenv("EARSHOT_RULES");
    for (int i = 0; env && env[i]; i++)
      putenv((char *)env[i]);
    execv(ES_EARSHOT_CLI, (char *const *)argv);
    _exit(127);
  }
  /* The command's own deadlines (30 s without an answer) bound this. */
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  FILE *f = fopen(path, "r");
  ASSERT(f != NULL);
  struct it_str s = {0};
  char buf[4096];
  size_t got;
  while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
    it_str_add(&s, buf, got);
  fclose(f);
  it_str_add(&s, "", 1);
  *out = s.p;
  return it_exit_code(st);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Runs the command; checks its exit code and that its output holds each
 * of `needles` (NULL-terminated). */
static void expect(const struct it_daemon *d, const char *what, const char *const *env,
                   const char *const *args, int code, const char *const *needles) {
  char *out;
  int rc = run_cli(d, env, args, &out);
  if (rc != code)
    IT_FAIL("%s: exit %d, expected %d; output:\n%s", what, rc, code, out);
  for (int i = 0; needles[i]; i++)
    if (strstr(out, needles[i]) == NULL)
      IT_FAIL("%s: output lacks \"%s\":\n%s", what, needles[i], out);
  fprintf(stderr, "   %-44s exit %d\n", what, rc);
  free(out);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A daemon whose config file names its socket and database, and one call
 * in its store. */
static void start(struct it_daemon *d) {
  char json[512];
  int seq = 0;

  it_daemon_init(d);
  it_rules(d, "base.json");
  snprintf(json, sizeof(json), "{\"socket\": \"%s\", \"db\": \"%s\"}", d->sock, d->db);
  it_config(d, json);
  ASSERT_EQ(it_daemon_start(d, NULL), 0);
  struct it_conn *c = it_connect(d);
  free(it_hello(c, 1));
  ASSERT_EQ(it_sendf(c, "{\"call_id\":\"cfg-1\",\"speaker\":\"agent\",\"agent\":\"ana\","
                        "\"text\":\"sorry, that's our policy\",\"seq\":%d}", ++seq), 0);
  it_expect_seq(c, "alert", seq);
  it_expect_seq(c, "ack", seq);
  it_close(c);
}

/* The environment that names the daemon's config file each way, and a
 * <home> without a daemon. */
struct envs {
  char config[300], system[300], home[300];
};

static void envs_init(struct envs *e, const struct it_daemon *d) {
  snprintf(e->config, sizeof(e->config), "EARSHOT_CONFIG=%s", d->config);
  snprintf(e->system, sizeof(e->system), "EARSHOT_SYSTEM_CONFIG=%s", d->config);
  snprintf(e->home, sizeof(e->home), "EARSHOT_HOME=%s/elsewhere", d->dir);
}

static void test_socket_from_config(void) {
  struct it_daemon d;
  struct envs e;
  char broken[256];

  start(&d);
  envs_init(&e, &d);
  snprintf(broken, sizeof(broken), "%s/broken.json", d.dir);
  it_write_file(broken, "{\"socket\": \"/nowhere.sock\",}\n", 29);

  expect(&d, "stats --config", NULL, ARGS("stats", "--config", d.config), 0,
         NEEDLES("\"lines\":"));
  expect(&d, "reload --config (the unit's ExecReload)", NULL,
         ARGS("reload", "--config", d.config), 0, NEEDLES("\"ok\":\ttrue"));
  expect(&d, "stats, $EARSHOT_CONFIG", ENV(e.config), ARGS("stats"), 0, NEEDLES("\"lines\":"));
  /* Where earshotd is may also be said before the verb. */
  expect(&d, "--config FILE before the verb", NULL, ARGS("--config", d.config, "stats"), 0,
         NEEDLES("\"lines\":"));
  expect(&d, "unknown command", NULL, ARGS("--frob", "stats"), 2,
         NEEDLES("unknown command \"--frob\""));
  expect(&d, "stats, the system config file", ENV(e.system), ARGS("stats"), 0,
         NEEDLES("\"lines\":"));
  expect(&d, "send, the system config file", ENV(e.system),
         ARGS("send", ES_GOLDEN_CALLS "/escalating.jsonl"), 0,
         NEEDLES("lines sent and acknowledged"));
  {
    /* A line the daemon refuses: printed, counted, and the exit status. */
    char mixed[256];
    static const char lines[] =
        "{\"call_id\":\"cfg-2\",\"speaker\":\"agent\",\"text\":\"that's our policy\"}\n"
        "{\"call_id\":\"cfg-2\",\"speaker\":\"bob\",\"text\":\"hi\"}\n";
    snprintf(mixed, sizeof(mixed), "%s/mixed.jsonl", d.dir);
    it_write_file(mixed, lines, sizeof(lines) - 1);
    expect(&d, "send, a line refused: exit 1", NULL, ARGS("send", "--config", d.config, mixed), 1,
           NEEDLES("\"code\":\"unknown_speaker\"", "\"seq\":2",
                   "2 lines sent and acknowledged, 1 alerts, 1 errors"));
  }
  expect(&d, "tail --config", NULL,
         ARGS("tail", "--config", d.config, "--since", "0", "--count", "1", "--json"), 0,
         NEEDLES("\"call_id\":\"cfg-1\""));

  /* The flag first: the file is not even read. */
  expect(&d, "--socket over a broken --config", NULL,
         ARGS("stats", "--socket", d.sock, "--config", broken), 0, NEEDLES("\"lines\":"));
  /* --config over $EARSHOT_CONFIG, and that over the system file. */
  expect(&d, "--config over $EARSHOT_CONFIG", ENV(e.config),
         ARGS("stats", "--config", broken), 1,
         NEEDLES(broken, "malformed JSON near line 1", "give --socket PATH"));
  char env_broken[300];
  snprintf(env_broken, sizeof(env_broken), "EARSHOT_CONFIG=%s", broken);
  expect(&d, "$EARSHOT_CONFIG over the system file", ENV(env_broken, e.system),
         ARGS("stats"), 1, NEEDLES(broken, "malformed JSON"));
  /* An explicit $EARSHOT_HOME over the system file: its earshotd, not the
   * packaged one. */
  expect(&d, "$EARSHOT_HOME over the system file", ENV(e.home, e.system), ARGS("stats"), 1,
         NEEDLES("cannot connect to earshotd at", "/elsewhere/earshotd.sock",
                 "the default under $EARSHOT_HOME"));
  /* Where a path came from is in the message when earshotd is not there. */
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  char said[1024];
  snprintf(said, sizeof(said), "cannot connect to earshotd at %s (named in %s): ", d.sock,
           d.config);
  expect(&d, "no daemon: the message names the file", ENV(e.system), ARGS("stats"), 1,
         NEEDLES(said));
  snprintf(said, sizeof(said), "cannot connect to earshotd at %s (named in %s, --config): ",
           d.sock, d.config);
  expect(&d, "... and how it was named", ENV(e.system), ARGS("stats", "--config", d.config), 1,
         NEEDLES(said));
  it_daemon_cleanup(&d);
}

static void test_broken_config(void) {
  struct it_daemon d;
  char env_system[300], bad[256], missing[256];

  it_daemon_init(&d);
  snprintf(bad, sizeof(bad), "%s/bad.json", d.dir);
  snprintf(missing, sizeof(missing), "%s/missing.json", d.dir);
  snprintf(env_system, sizeof(env_system), "EARSHOT_SYSTEM_CONFIG=%s", bad);

  /* A system file that is there but broken is an error, never skipped
   * for a default: for the socket verbs and the database verbs alike. */
  it_write_file(bad, "{\"socket\": \"/x.sock\", \"bogus\": 1}", 33);
  expect(&d, "system file with an unknown setting", ENV(env_system), ARGS("stats"), 1,
         NEEDLES(bad, "unknown setting \"bogus\""));
  expect(&d, "... for a database verb", ENV(env_system), ARGS("alerts"), 1,
         NEEDLES(bad, "unknown setting \"bogus\"", "give --db PATH"));
  expect(&d, "... for ack", ENV(env_system), ARGS("ack", "1", "--taken"), 1,
         NEEDLES(bad, "unknown setting \"bogus\""));
  it_write_file(bad, "{\"limits\": {\"max_connections\": 0}}", 35);
  expect(&d, "system file with a bad value", ENV(env_system), ARGS("tail", "--no-reconnect"), 1,
         NEEDLES(bad, "limits.max_connections must be"));
  it_write_file(bad, "[1, 2]", 6);
  expect(&d, "system file that is not an object", ENV(env_system), ARGS("calls"), 1,
         NEEDLES(bad, "must hold one JSON object"));
  /* A config file named explicitly must be there. */
  expect(&d, "missing --config", NULL, ARGS("stats", "--config", missing), 1,
         NEEDLES("cannot open config file", missing));
  char env_missing[300];
  snprintf(env_missing, sizeof(env_missing), "EARSHOT_CONFIG=%s", missing);
  expect(&d, "missing $EARSHOT_CONFIG", ENV(env_missing), ARGS("alerts"), 1,
         NEEDLES("cannot open config file", missing));
  /* Rule files given: the file is not read. */
  expect(&d, "rules check with a file ignores it", ENV(env_system),
         ARGS("rules", "check", IT_RULES_DIR "/base.json"), 0, NEEDLES("ok: 3 rules"));
  it_daemon_cleanup(&d);
}

static void test_database_from_config(void) {
  struct it_daemon d;
  struct envs e;

  start(&d);
  envs_init(&e, &d);

  expect(&d, "alerts --config", NULL, ARGS("alerts", "--config", d.config, "--format", "csv"), 0,
         NEEDLES("cfg-1", "it.policy"));
  expect(&d, "calls, $EARSHOT_CONFIG", ENV(e.config), ARGS("calls", "--format", "csv"), 0,
         NEEDLES("cfg-1"));
  char db_flag[300];
  snprintf(db_flag, sizeof(db_flag), "--db=%s", d.db);
  expect(&d, "--db=PATH before the verb", NULL, ARGS(db_flag, "calls", "--format", "csv"), 0,
         NEEDLES("cfg-1"));
  expect(&d, "call, the system config file", ENV(e.system), ARGS("call", "cfg-1"), 0,
         NEEDLES("it.policy"));
  expect(&d, "rules stats, the system config file", ENV(e.system),
         ARGS("rules", "stats", "--format", "csv"), 0, NEEDLES("it.policy"));
  expect(&d, "purge --dry-run --config", NULL,
         ARGS("purge", "--older-than", "30d", "--dry-run", "--config", d.config), 0,
         NEEDLES("would delete 0 alerts"));
  expect(&d, "$EARSHOT_HOME over the system file", ENV(e.home, e.system), ARGS("alerts"), 1,
         NEEDLES("no alert database at", "/elsewhere/earshot.db",
                 "the default under $EARSHOT_HOME"));
  /* ack through the socket the file names, then (earshotd stopped)
   * straight into the database it names. */
  expect(&d, "ack --config, through earshotd", NULL,
         ARGS("ack", "1", "--taken", "--by", "lee", "--config", d.config), 0,
         NEEDLES("alert 1 marked taken by lee"));
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);
  char said[1024];
  snprintf(said, sizeof(said), "earshotd is not reachable at %s (named in %s): ", d.sock,
           d.config);
  expect(&d, "ack, earshotd gone: the file's database", ENV(e.system),
         ARGS("ack", "1", "--resolved", "--by", "kim"), 0,
         NEEDLES(said, "alert 1 marked resolved by kim"));
  sqlite3 *db = it_db_open(d.db);
  ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alert_marks WHERE alert_id = 1", NULL), 2);
  sqlite3_close(db);
  it_daemon_cleanup(&d);
}

/* The rule verbs, given no rule files, run what earshotd runs: the rules
 * its config file names (docs/rules.md, "Which rules the earshot command
 * runs"), found as the socket is, with $EARSHOT_RULES after --config. */
static void test_rules_from_config(void) {
  struct it_daemon d;
  char conf[256], bad[256], env_conf[300], env_system[300], env_bad[300];
  char env_rules[300], named[512], json[256];

  it_daemon_init(&d);
  snprintf(conf, sizeof(conf), "%s/rules-conf.json", d.dir);
  snprintf(bad, sizeof(bad), "%s/bad.json", d.dir);
  snprintf(json, sizeof(json), "{\"rules\": [\"%s\"]}", IT_RULES_DIR "/base.json");
  it_write_file(conf, json, strlen(json));
  it_write_file(bad, "{\"rules\": 3}", 12);
  snprintf(env_conf, sizeof(env_conf), "EARSHOT_CONFIG=%s", conf);
  snprintf(env_system, sizeof(env_system), "EARSHOT_SYSTEM_CONFIG=%s", conf);
  snprintf(env_bad, sizeof(env_bad), "EARSHOT_SYSTEM_CONFIG=%s", bad);
  snprintf(env_rules, sizeof(env_rules), "EARSHOT_RULES=%s", IT_RULES_DIR "/signals.json");
  snprintf(named, sizeof(named), "the rules %s names: %s", conf, IT_RULES_DIR "/base.json");

  expect(&d, "rules check --config", NULL, ARGS("rules", "check", "--config", conf), 0,
         NEEDLES("ok: 3 rules from 1 files", named));
  expect(&d, "rules test, $EARSHOT_CONFIG", ENV(env_conf), ARGS("rules", "test"), 0,
         NEEDLES("examples: ", " 0 failed", named));
  expect(&d, "rules check, the system config file", ENV(env_system), ARGS("rules", "check"), 0,
         NEEDLES("ok: 3 rules from 1 files", named));
  expect(&d, "replay, the system config file", ENV(env_system),
         ARGS("replay", ES_GOLDEN_CALLS "/escalating.jsonl"), 0,
         NEEDLES("\"rule\":\"it.policy\"", named));
  expect(&d, "rules cost --config", NULL,
         ARGS("rules", "cost", "--config", conf, ES_GOLDEN_CALLS "/escalating.jsonl"), 0,
         NEEDLES("3 rules", "it.policy"));
  /* $EARSHOT_RULES over $EARSHOT_CONFIG and the system file; --config
   * over $EARSHOT_RULES; rule files given over everything. */
  expect(&d, "$EARSHOT_RULES over the system file", ENV(env_rules, env_system),
         ARGS("rules", "check"), 0, NEEDLES("ok: 1 rules from 1 files"));
  expect(&d, "--config over $EARSHOT_RULES", ENV(env_rules), ARGS("rules", "check", "--config", conf),
         0, NEEDLES("ok: 3 rules from 1 files", named));
  expect(&d, "a rule file over a broken system file", ENV(env_bad),
         ARGS("rules", "check", IT_RULES_DIR "/signals.json"), 0,
         NEEDLES("ok: 1 rules from 1 files"));
  /* A broken file is an error that names it, never passed over for the
   * bundled rules; a missing system file means the bundled rules. */
  expect(&d, "rules check, a broken system file", ENV(env_bad), ARGS("rules", "check"), 1,
         NEEDLES(bad, "\"rules\" must be a path or an array of paths", "give the rule files"));
  expect(&d, "replay, a broken system file", ENV(env_bad),
         ARGS("replay", ES_GOLDEN_CALLS "/escalating.jsonl"), 1, NEEDLES(bad));
  char env_missing[300];
  snprintf(env_missing, sizeof(env_missing), "EARSHOT_SYSTEM_CONFIG=%s/missing.json", d.dir);
  expect(&d, "no system file: the bundled rules", ENV(env_missing),
         ARGS("replay", ES_GOLDEN_CALLS "/escalating.jsonl"), 0,
         NEEDLES("\"rule\":\"agent.", "25 alerts"));
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_socket_from_config);
  RUN(test_broken_config);
  RUN(test_database_from_config);
  RUN(test_rules_from_config);
  return 0;
}
