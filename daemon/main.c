/*
 * main.c: earshotd's lifecycle. Validate everything, lock and open the store, bind
 * the socket, detach (unless --foreground) only once ready, run the loop;
 * on SIGTERM/SIGINT stop accepting, take what clients already sent, commit
 * every pending row, deliver the last acks, close, exit 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "dblock.h"
#include "defaults.h"
#include "esd.h"
#include "log.h"
#include "redact.h"

#define ESD_SHUTDOWN_DEADLINE_MS 30000 /* give up committing after this */

static void maybe_finish(struct esd *d);

static void on_commit(void *ud, uint64_t batch) {
  struct esd *d = ud;
  esd_on_commit(d, batch);
  esd_webhooks_on_commit(d->webhooks, batch);
  if (d->stopping)
    maybe_finish(d);
}

static void on_handle_closed_noop(uv_handle_t *h) { (void)h; }

static void on_writer_closed(void *ud) { (void)ud; }

static uv_timer_t deadline;
static int finished; /* finish() ran: by the last commit or by the deadline, once */
static int db_lock = -1; /* esd_dblock_take(): held until everything that uses the store is gone */

static void finish(struct esd *d) {
  if (finished)
    return;
  finished = 1;
  esd_finish_all(d);
  uv_close((uv_handle_t *)&d->sigterm, on_handle_closed_noop);
  uv_close((uv_handle_t *)&d->sigint, on_handle_closed_noop);
  uv_close((uv_handle_t *)&d->sighup, on_handle_closed_noop);
  uv_close((uv_handle_t *)&d->tick, on_handle_closed_noop);
  if (!uv_is_closing((uv_handle_t *)&deadline))
    uv_close((uv_handle_t *)&deadline, on_handle_closed_noop);
  esd_writer_close(d->writer, on_writer_closed, d);
}

static void maybe_finish(struct esd *d) {
  if (finished || !esd_writer_idle(d->writer))
    return;
  esd_info("main", "every alert committed (%" PRIu64 " commits); closing", esd_writer_commits(d->writer));
  finish(d);
}

static void on_deadline(uv_timer_t *t) {
  struct esd *d = t->data;
  esd_error("main", "store still failing after %d s: %zu rows could not be committed", 
            ESD_SHUTDOWN_DEADLINE_MS / 1000, esd_writer_pending(d->writer));
  d->exit_code = 1;
  finish(d);
}

static void begin_shutdown(struct esd *d, const char *why) {
  if (d->stopping) {
    esd_info("main", "%s: already stopping", why);
    return;
  }
  d->stopping = 1;
  esd_info("main", "%s: stopping (no new connections; committing what was received)", why);
  esd_stop_listening(d);
  esd_drain_and_close_all(d);
  esd_end_all_calls(d, ES_END_SHUTDOWN);
  esd_feed_release_ids(d);
  /* Requests in flight are abandoned: their outbox rows stay pending (and
   * the rows of the alerts just raised are committed below) for the next
   * start. */
  esd_webhooks_stop(d->webhooks);
  uv_timer_init(d->loop, &deadline);
  deadline.data = d;
  uv_timer_start(&deadline, on_deadline, ESD_SHUTDOWN_DEADLINE_MS, 0);
  uv_unref((uv_handle_t *)&deadline);
  maybe_finish(d);
}

static void on_signal(uv_signal_t *s, int signum) {
  struct esd *d = s->data;
  if (signum == SIGHUP) {
    if (!d->stopping)
      esd_reload(d, 0);
    return;
  }
  begin_shutdown(d, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Detaches from the terminal once the daemon is ready: the parent waits on
 * a pipe and exits with the child's startup status, so `earshotd` without
 * --foreground still fails loudly when it cannot start. Returns the write
 * end in the child, or -1 in the foreground. */
static int detach(void) {
  int p[2];
  pid_t pid;
  char status = 1;

  if (pipe(p) != 0) {
    perror("earshotd: pipe");
    exit(1);
  }
  pid = fork();
  if (pid < 0) {
    perror("earshotd: fork");
    exit(1);
  }
  if (pid > 0) {
    close(p[1]);
    if (read(p[0], &status, 1) != 1)
      status = 1;
    _exit(status);
  }
  close(p[0]);
  setsid();
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > 2)
      close(null);
  }
  return p[1];
}

static void ready(int fd, char status) {
  if (fd >= 0) {
    if (write(fd, &status, 1) != 1) {
      /* the parent is gone; nothing to tell */
    }
    close(fd);
  }
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

/* Startup failed, at any step: tell a waiting parent, close every handle
 * and free everything (sanitizer builds check that a failed start leaks
 * nothing), and return the exit code. */
static int fail_startup(struct esd *d, struct es_config *cfg, int notify) {
  ready(notify, 1);
  esd_webhooks_stop(d->webhooks);
  if (d->loop) {
    uv_walk(d->loop, close_any, NULL);
    uv_run(d->loop, UV_RUN_DEFAULT);
    uv_loop_close(d->loop);
  }
  esd_webhooks_free(d->webhooks);
  es_store_close(d->store);
  esd_writer_free(d->writer);
  esd_feed_free(d);
  es_keymap_free(d->alert_keys);
  es_calls_free(d->calls);
  es_decoder_free(d->dec);
  es_engine_free(d->engine);
  es_matcher_free(d->matcher);
  es_rules_free(d->rules);
  esd_dblock_release(db_lock);
  esd_flags_free(&d->flags);
  es_config_deinit(cfg);
  return 1;
}

/* Everything startup checks before it acts: the settings (esd_config_check),
 * the rules and the webhooks. Prints every problem, not only the first,
 * so that --check-config, which stops here, tells them all. d->rules and
 * d->webhooks hold what loaded: the webhook module exists when a
 * destination is configured, or when a config file could add some at a
 * reload. Returns how many problems there were. */
static int validate(struct esd *d, struct es_config *cfg) {
  struct es_rules_opts ropts;
  struct es_diags diags;
  struct esd_webhooks_config *whcfg = NULL;
  char msg[512];
  int problems, rc;

  es_diags_init(&diags);
  problems = esd_config_check(cfg, &d->res, &diags);
  for (size_t i = 0; i < diags.count; i++)
    fprintf(stderr, "earshotd: %s\n", diags.items[i].message);
  es_diags_clear(&diags);
  es_rules_opts_init(&ropts);
  ropts.max_line_bytes = cfg->max_line_bytes;
  rc = es_rules_load((const char *const *)cfg->rules, cfg->nrules, &ropts, &d->rules, &diags);
  for (size_t i = 0; i < diags.count; i++) {
    char text[ES_DIAG_TEXT_MAX];
    es_diag_text(&diags.items[i], text, sizeof(text));
    fprintf(stderr, "%s\n", text);
  }
  if (rc != 0) {
    /* The diagnostics say why; a generic code after them ("input/output
     * error" for a missing file) only misleads. */
    if (diags.count)
      fprintf(stderr, "earshotd: cannot load rules: %zu problem%s above\n", diags.count,
              diags.count == 1 ? "" : "s");
    else
      fprintf(stderr, "earshotd: cannot load rules: %s\n", es_strerror(rc));
    problems++;
  }
  es_diags_deinit(&diags);
  if (esd_webhooks_config_parse(cfg->webhooks_json, &whcfg, msg, sizeof(msg)) != 0) {
    fprintf(stderr, "earshotd: %s: %s\n", cfg->config_file ? cfg->config_file : "config", msg);
    problems++;
  } else if ((whcfg || cfg->config_file) && (d->webhooks = esd_webhooks_new(whcfg)) == NULL) {
    fprintf(stderr, "earshotd: out of memory\n");
    problems++;
  }
  return problems;
}

/* earshotd reads only the file --config names. Run by hand on a machine
 * whose package installed /etc/earshot/earshotd.json, without --config, it
 * would check or run the built-in defaults while the operator means that
 * file: say so. */
static void note_unread_config(const struct es_config *cfg) {
  char sys[4096];
  if (cfg->config_file == NULL && es_default_config(sys, sizeof(sys)) == 0 &&
      access(sys, F_OK) == 0)
    esd_warn("config", "%s exists but is not read: earshotd reads only the file --config names "
             "(running on the built-in defaults and the flags)", sys);
}

/* Descriptors earshotd needs besides its clients': listeners, the store's
 * files on the writer's and readers' connections, libuv's own, webhook
 * sockets. */
#define ESD_RESERVED_FDS 64

/* Every client is a descriptor, and past the limit on open files the
 * kernel's accept() fails, so that libuv drops the connections waiting
 * (with no callback, so no log line either). Raises the soft limit to what
 * max_connections needs, up to the hard limit (as redis does), and says so
 * when that is not enough. With --check-config only says. */
static void fit_open_files(const struct es_config *cfg, int check_only) {
  struct rlimit rl;
  rlim_t want = (rlim_t)cfg->max_connections + ESD_RESERVED_FDS;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
    return;
  rlim_t can = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
  if (!check_only && can > rl.rlim_cur) {
    struct rlimit raised = {can, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      esd_debug("main", "open files limit raised from %llu to %llu", (unsigned long long)rl.rlim_cur,
                (unsigned long long)can);
      rl.rlim_cur = can;
    }
  }
  rlim_t now = check_only ? can : rl.rlim_cur;
  if (now < want)
    esd_warn("main", "the open files limit (%llu, hard limit %llu) is below the %llu that "
             "limits.max_connections (%u) needs: past it, clients are dropped as they connect, "
             "with no error record; raise LimitNOFILE= (systemd) or ulimit -n, or lower "
             "max_connections", (unsigned long long)now, (unsigned long long)rl.rlim_max,
             (unsigned long long)want, cfg->max_connections);
}

int main(int argc, char **argv) {
  struct es_config cfg;
  struct esd d;
  struct es_diags diags;
  struct es_store_opts sopts;
  int rc, notify = -1;

  signal(SIGPIPE, SIG_IGN);
  /* SQLite's memory statistics take a process-wide mutex on every
   * allocation; earshotd never reads them, and its writer allocates for
   * every row: 5-8% of the writer's CPU (bench_store). Before any other
   * SQLite call, or it is refused (and changes nothing). */
  if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
    esd_debug("main", "SQLite refused to turn off its memory statistics");
  es_config_init(&cfg);
  memset(&d, 0, sizeof(d));
  rc = esd_config_load(&cfg, &d.flags, argc, argv);
  if (rc != 0) {
    esd_flags_free(&d.flags);
    es_config_deinit(&cfg);
    return rc > 0 ? 0 : 1;
  }
  esd_log_set_level(cfg.log_level);
  d.cfg = &cfg;
  note_unread_config(&cfg);
  fit_open_files(&cfg, d.flags.check_only);

  /* A bad setting or rules file is a clear message and exit 1, before
   * anything is created. */
  if (validate(&d, &cfg) != 0)
    return fail_startup(&d, &cfg, notify);
  if (d.flags.check_only) {
    printf("earshotd: configuration OK; %u rules from %zu files, rule set %s\n",
           es_rules_count(d.rules), es_rules_nfiles(d.rules), es_rules_version(d.rules));
    esd_webhooks_free(d.webhooks);
    es_rules_free(d.rules);
    esd_flags_free(&d.flags);
    es_config_deinit(&cfg);
    return 0;
  }

  if (!cfg.foreground)
    notify = detach();

  /* The store: create its directory (like the socket's), apply migrations. */
  if (esd_mkdir_parent(cfg.db_path) != 0)
    esd_warn("store", "cannot create the directory of %s: %s", cfg.db_path, strerror(errno));
  /* One earshotd per database, before this one reads or writes it; after
   * detach(), because a fork()ed child does not inherit the lock. */
  if ((db_lock = esd_dblock_take(cfg.db_path)) < 0)
    return fail_startup(&d, &cfg, notify);
  es_store_opts_init(&sopts);
  sopts.synchronous = cfg.synchronous >= 2 ? ES_STORE_SYNC_FULL : ES_STORE_SYNC_NORMAL;
  sopts.redact_kinds = cfg.redact ? ES_REDACT_ALL : 0;
  /* A stored line is at most a protocol line; a reason, attributes or a
   * note can be longer than a small max_line_bytes allows (a backup's
   * reason is about 600 bytes), so the store's own default is the floor. */
  if (cfg.max_line_bytes > sopts.max_text_bytes)
    sopts.max_text_bytes = cfg.max_line_bytes;
  sopts.cache_kib = cfg.cache_mb * 1024;
  es_diags_init(&diags);
  rc = es_store_open(cfg.db_path, &sopts, &d.store, &diags);
  for (size_t i = 0; i < diags.count; i++)
    esd_error("store", "%s: %s", diags.items[i].file[0] ? diags.items[i].file : cfg.db_path,
              diags.items[i].message);
  if (rc != 0) {
    /* The diagnostics above say what was wrong; a generic error code
     * after them ("input/output error" for a permission) only misleads. */
    if (diags.count == 0)
      esd_error("store", "cannot open %s: %s", cfg.db_path, es_strerror(rc));
    es_diags_deinit(&diags);
    return fail_startup(&d, &cfg, notify);
  }
  es_diags_deinit(&diags);
  /* Before the writer thread may use the store. */
  if (esd_feed_init(&d) != 0)
    return fail_startup(&d, &cfg, notify);

  d.loop = uv_default_loop();
  d.matcher = es_matcher_new(d.rules);
  d.engine = es_engine_new(d.rules);
  d.dec = es_decoder_new(cfg.max_line_bytes);
  d.calls = es_calls_new(cfg.max_open_calls);
  if (!d.matcher || !d.engine || !d.dec || !d.calls) {
    esd_error("main", "out of memory at startup");
    return fail_startup(&d, &cfg, notify);
  }
  if (esd_resume(&d) != 0)
    return fail_startup(&d, &cfg, notify);
  d.writer = esd_writer_new(d.loop, d.store, cfg.commit_interval_ms, cfg.background_max_rows,
                            on_commit, &d);
  if (!d.writer) {
    esd_error("main", "out of memory at startup");
    return fail_startup(&d, &cfg, notify);
  }
  /* Before any worker thread runs: it initialises libcurl. */
  if (esd_webhooks_start(d.webhooks, d.loop, d.writer, cfg.db_path) != 0)
    return fail_startup(&d, &cfg, notify);
  esd_writer_start_retention(d.writer, cfg.retention_days);
  d.started_wall = esd_wall_now();
  d.started_ms = uv_now(d.loop);
  esd_writer_add_rule_set(d.writer, d.rules, d.started_wall);

  if (esd_listen(&d) != 0)
    return fail_startup(&d, &cfg, notify);
  uv_signal_init(d.loop, &d.sigterm);
  uv_signal_init(d.loop, &d.sigint);
  uv_signal_init(d.loop, &d.sighup);
  d.sigterm.data = d.sigint.data = d.sighup.data = &d;
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sighup, on_signal, SIGHUP);
  uv_timer_init(d.loop, &d.tick);
  d.tick.data = &d;
  uv_timer_start(&d.tick, esd_tick, 1000, 1000);

  esd_info("main", "earshotd %s ready: %u rules (rule set %s), store %s (synchronous %s)",
           ES_VERSION, es_rules_count(d.rules), es_rules_version(d.rules), cfg.db_path,
           cfg.synchronous >= 2 ? "full" : "normal");
  ready(notify, 0);

  uv_run(d.loop, UV_RUN_DEFAULT);

  rc = uv_loop_close(d.loop);
  if (rc != 0)
    esd_warn("main", "event loop closed with handles still open: %s", uv_strerror(rc));
  esd_webhooks_free(d.webhooks);
  es_store_close(d.store);
  esd_writer_free(d.writer);
  esd_feed_free(&d);
  es_keymap_free(d.alert_keys);
  es_calls_free(d.calls);
  es_decoder_free(d.dec);
  es_engine_free(d.engine);
  es_matcher_free(d.matcher);
  es_rules_free(d.rules);
  esd_dblock_release(db_lock);
  esd_info("main", "stopped");
  esd_flags_free(&d.flags);
  es_config_deinit(&cfg);
  return d.exit_code;
}
