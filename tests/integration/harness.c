/* harness.c: see harness.h. */
#define _GNU_SOURCE /* memmem, pipe2, closefrom */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IT_EARSHOTD
#error "IT_EARSHOTD (the path of the built earshotd) must be defined"
#endif
#ifndef IT_RULES_DIR
#error "IT_RULES_DIR (tests/integration/rules) must be defined"
#endif

#define IT_MAX_DAEMONS 8
#define IT_MAX_CONN_BUF (512u << 20) /* a test reading more than this is broken */

static struct it_daemon *running[IT_MAX_DAEMONS];
static int timeout_scale = 1;

/* ---- time, failure -------------------------------------------------------- */

uint64_t it_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int it_scaled(int ms) { return ms * timeout_scale; }

static int remaining(uint64_t deadline) {
  uint64_t now = it_now_ms();
  return now >= deadline ? 0 : (int)(deadline - now);
}

static uint64_t deadline_in(int timeout_ms) {
  return it_now_ms() + (uint64_t)(timeout_ms < 0 ? it_scaled(IT_WAIT_MS) : timeout_ms);
}

static int only_argc;
static char **only_argv;

int it_named(const char *test) {
  for (int i = 1; i < only_argc; i++)
    if (strcmp(only_argv[i], test) == 0)
      return 1;
  return 0;
}

int it_selected(const char *test) { return only_argc <= 1 || it_named(test); }

void it_init(int argc, char **argv) {
  const char *s = getenv("IT_TIMEOUT_SCALE");
  only_argc = argc;
  only_argv = argv;
  signal(SIGPIPE, SIG_IGN);
  if (s && atoi(s) > 0)
    timeout_scale = atoi(s);
  setvbuf(stderr, NULL, _IONBF, 0);
}

static void dump_log(const struct it_daemon *d) {
  size_t from = d->log_len > 6000 ? d->log_len - 6000 : 0;
  fprintf(stderr, "---- earshotd log (%s, pid %d)%s ----\n%s---- end of log ----\n", d->dir,
          (int)d->pid, from ? ", last 6000 bytes" : "", d->log ? d->log + from : "");
}

void it_fail_(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: assertion failed: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  for (int i = 0; i < IT_MAX_DAEMONS; i++) {
    if (running[i] == NULL)
      continue;
    dump_log(running[i]);
    if (running[i]->pid > 0 && !running[i]->exited)
      kill(running[i]->pid, SIGKILL);
    fprintf(stderr, "(kept %s for inspection)\n", running[i]->dir);
  }
  abort();
}

/* ---- the daemons' logs ------------------------------------------------------ */

static void log_append(struct it_daemon *d, const char *p, size_t n) {
  if (d->log_len + n + 1 > d->log_cap) {
    size_t cap = d->log_cap ? d->log_cap : 8192;
    while (cap < d->log_len + n + 1)
      cap *= 2;
    char *q = realloc(d->log, cap);
    ASSERT(q != NULL);
    d->log = q;
    d->log_cap = cap;
  }
  memcpy(d->log + d->log_len, p, n);
  d->log_len += n;
  d->log[d->log_len] = '\0';
}

/* Reads what the daemon's pipe holds now; closes it at EOF. */
static void drain_log(struct it_daemon *d) {
  char buf[16384];
  while (d->err_fd >= 0) {
    ssize_t n = read(d->err_fd, buf, sizeof(buf));
    if (n > 0) {
      log_append(d, buf, (size_t)n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    close(d->err_fd); /* EOF (or an error: nothing more to read either way) */
    d->err_fd = -1;
  }
}

static void register_daemon(struct it_daemon *d) {
  for (int i = 0; i < IT_MAX_DAEMONS; i++)
    if (running[i] == NULL || running[i] == d) {
      running[i] = d;
      return;
    }
  IT_FAIL("more than %d daemons at once", IT_MAX_DAEMONS);
}

static void unregister_daemon(struct it_daemon *d) {
  for (int i = 0; i < IT_MAX_DAEMONS; i++)
    if (running[i] == d)
      running[i] = NULL;
}

/* One poll() over the caller's fds plus every daemon's log pipe; drains
 * the pipes. Returns how many of the caller's fds are ready. */
static int poll_once(struct pollfd *fds, int nfds, int timeout_ms) {
  struct pollfd all[64];
  struct it_daemon *owner[64];
  int n = 0, rc, ready = 0;

  ASSERT(nfds + IT_MAX_DAEMONS <= 64);
  for (int i = 0; i < nfds; i++)
    all[n++] = fds[i];
  for (int i = 0; i < IT_MAX_DAEMONS; i++) {
    if (running[i] && running[i]->err_fd >= 0) {
      owner[n] = running[i];
      all[n].fd = running[i]->err_fd;
      all[n].events = POLLIN;
      all[n].revents = 0;
      n++;
    }
  }
  rc = poll(all, (nfds_t)n, timeout_ms);
  if (rc < 0) {
    if (errno == EINTR)
      return 0;
    IT_FAIL("poll: %s", strerror(errno));
  }
  for (int i = nfds; i < n; i++)
    if (all[i].revents)
      drain_log(owner[i]);
  for (int i = 0; i < nfds; i++) {
    fds[i].revents = all[i].revents;
    ready += fds[i].revents != 0;
  }
  return ready;
}

int it_poll(struct pollfd *fds, int nfds, int timeout_ms) {
  uint64_t deadline = deadline_in(timeout_ms);
  for (;;) {
    int rc = poll_once(fds, nfds, remaining(deadline));
    if (rc > 0 || remaining(deadline) == 0)
      return rc;
  }
}

void it_pump(int timeout_ms) {
  uint64_t deadline = deadline_in(timeout_ms);
  for (;;) {
    int open = 0;
    for (int i = 0; i < IT_MAX_DAEMONS; i++)
      open += running[i] && running[i]->err_fd >= 0;
    if (!open || remaining(deadline) == 0)
      return;
    poll_once(NULL, 0, remaining(deadline));
  }
}

/* ---- files ------------------------------------------------------------------ */

void it_write_file(const char *path, const void *data, size_t len) {
  char tmp[512];
  int fd;
  const char *p = data;

  snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    IT_FAIL("cannot create %s: %s", tmp, strerror(errno));
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      IT_FAIL("cannot write %s: %s", tmp, strerror(errno));
    p += n;
    len -= (size_t)n;
  }
  close(fd);
  if (rename(tmp, path) != 0)
    IT_FAIL("cannot rename %s to %s: %s", tmp, path, strerror(errno));
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rbe");
  struct it_str s = {0};
  char buf[65536];
  size_t n;

  if (f == NULL)
    return NULL;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
    it_str_add(&s, buf, n);
  fclose(f);
  it_str_add(&s, "", 1);
  *len = s.len - 1;
  return s.p;
}

int it_file_contains(const char *path, const void *needle, size_t len) {
  size_t n;
  char *text = read_file(path, &n);
  int found;
  if (text == NULL)
    return 0;
  found = memmem(text, n, needle, len) != NULL;
  free(text);
  return found;
}

int it_file_exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

void it_str_add(struct it_str *s, const void *data, size_t len) {
  if (s->len + len + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + len + 1)
      cap *= 2;
    char *p = realloc(s->p, cap);
    ASSERT(p != NULL);
    s->p = p;
    s->cap = cap;
  }
  memcpy(s->p + s->len, data, len);
  s->len += len;
  s->p[s->len] = '\0';
}

void it_str_addf(struct it_str *s, const char *fmt, ...) {
  va_list ap;
  char small[1024];
  int n;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  ASSERT(n >= 0);
  if ((size_t)n < sizeof(small)) {
    it_str_add(s, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  ASSERT(big != NULL);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  it_str_add(s, big, (size_t)n);
  free(big);
}

void it_str_free(struct it_str *s) {
  free(s->p);
  memset(s, 0, sizeof(*s));
}

/* ---- the daemon --------------------------------------------------------------- */

void it_daemon_init(struct it_daemon *d) {
  const char *tmp = getenv("TMPDIR");
  memset(d, 0, sizeof(*d));
  d->pidfd = d->err_fd = -1;
  if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
    tmp = "/tmp";
  snprintf(d->dir, sizeof(d->dir), "%s/earshot-it-XXXXXX", tmp);
  if (mkdtemp(d->dir) == NULL)
    IT_FAIL("mkdtemp %s: %s", d->dir, strerror(errno));
  snprintf(d->sock, sizeof(d->sock), "%s/d.sock", d->dir);
  snprintf(d->db, sizeof(d->db), "%s/alerts.db", d->dir);
  snprintf(d->rules, sizeof(d->rules), "%s/rules.json", d->dir);
  snprintf(d->config, sizeof(d->config), "%s/config.json", d->dir);
}

void it_rules(struct it_daemon *d, const char *name) {
  char src[512];
  size_t n;
  char *text;
  snprintf(src, sizeof(src), "%s/%s", IT_RULES_DIR, name);
  text = read_file(src, &n);
  if (text == NULL)
    IT_FAIL("cannot read %s", src);
  it_write_file(d->rules, text, n);
  free(text);
}

void it_config(struct it_daemon *d, const char *json) {
  it_write_file(d->config, json, strlen(json));
  d->has_config = 1;
}

/* The daemon under test: $IT_EARSHOTD when set (to run the suite against
 * another build or an installed binary), else the one built here. */
static const char *earshotd_path(void) {
  const char *p = getenv("IT_EARSHOTD");
  return p && *p ? p : IT_EARSHOTD;
}

/* fork/exec argv[0] (earshotd, or another program of the build) with
 * stdout and stderr on a pipe we read. */
static void spawn(struct it_daemon *d, const char *const *argv) {
  int p[2];
  pid_t parent = getpid(), pid;

  if (pipe2(p, O_CLOEXEC) != 0)
    IT_FAIL("pipe2: %s", strerror(errno));
  pid = fork();
  if (pid < 0)
    IT_FAIL("fork: %s", strerror(errno));
  if (pid == 0) {
    /* Die with the test, whatever kills it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
      _exit(127);
    closefrom(3);
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(p[1]);
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  d->pid = pid;
  d->err_fd = p[0];
  d->exited = 0;
  d->status = 0;
  d->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (d->pidfd < 0)
    IT_FAIL("pidfd_open: %s", strerror(errno));
  register_daemon(d);
}

int it_exit_code(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

/* A sanitizer report in the daemon's output fails the test whatever the
 * exit status says. */
static void check_sanitizers(const struct it_daemon *d) {
  static const char *const marks[] = {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                                      "runtime error:", NULL};
  for (int i = 0; marks[i]; i++)
    if (d->log && strstr(d->log, marks[i]))
      IT_FAIL("earshotd reported \"%s\"", marks[i]);
}

int it_daemon_wait_exit(struct it_daemon *d, int timeout_ms) {
  uint64_t deadline = deadline_in(timeout_ms);

  if (d->pid <= 0)
    IT_FAIL("no daemon to wait for");
  if (!d->exited) {
    for (;;) {
      struct pollfd pfd = {.fd = d->pidfd, .events = POLLIN};
      if (poll_once(&pfd, 1, remaining(deadline)) > 0)
        break;
      if (remaining(deadline) == 0)
        IT_FAIL("earshotd (pid %d) did not exit within %d ms", (int)d->pid,
                timeout_ms < 0 ? it_scaled(IT_WAIT_MS) : timeout_ms);
    }
    if (waitpid(d->pid, &d->status, 0) != d->pid)
      IT_FAIL("waitpid: %s", strerror(errno));
    d->exited = 1;
    close(d->pidfd);
    d->pidfd = -1;
  }
  /* The pipe has everything it will ever have: read it to EOF. */
  while (d->err_fd >= 0) {
    struct pollfd pfd = {.fd = d->err_fd, .events = POLLIN};
    if (poll(&pfd, 1, remaining(deadline)) <= 0)
      IT_FAIL("earshotd's output did not end after it exited");
    drain_log(d);
  }
  check_sanitizers(d);
  return it_exit_code(d->status);
}

long it_wait_log(struct it_daemon *d, size_t from, const char *needle, int timeout_ms) {
  uint64_t deadline = deadline_in(timeout_ms);
  for (;;) {
    if (d->log && from <= d->log_len) {
      const char *hit = strstr(d->log + from, needle);
      if (hit)
        return (long)(hit - d->log) + (long)strlen(needle);
    }
    if (d->err_fd < 0 || remaining(deadline) == 0)
      return -1;
    poll_once(NULL, 0, remaining(deadline));
  }
}

int it_log_count(const struct it_daemon *d, const char *needle) {
  int n = 0;
  for (const char *p = d->log; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  return n;
}

int it_daemon_start(struct it_daemon *d, const char *const *extra) {
  const char *argv[64];
  int n = 0;
  size_t from = d->log_len;

  argv[n++] = earshotd_path();
  argv[n++] = "--foreground";
  argv[n++] = "--socket";
  argv[n++] = d->sock;
  argv[n++] = "--db";
  argv[n++] = d->db;
  if (!d->rules_in_config) {
    argv[n++] = "--rules";
    argv[n++] = d->rules;
  }
  if (d->has_config) {
    argv[n++] = "--config";
    argv[n++] = d->config;
  }
  for (int i = 0; extra && extra[i]; i++) {
    ASSERT(n < 62);
    argv[n++] = extra[i];
  }
  argv[n] = NULL;
  spawn(d, argv);
  if (it_wait_log(d, from, " ready: ", -1) >= 0)
    return 0;
  if (d->err_fd >= 0)
    IT_FAIL("earshotd did not get ready within %d ms", it_scaled(IT_WAIT_MS));
  it_daemon_wait_exit(d, -1);
  return -1;
}

void it_start(struct it_daemon *d, const char *rules) {
  it_daemon_init(d);
  if (rules)
    it_rules(d, rules);
  else
    snprintf(d->rules, sizeof(d->rules), "%s", ES_BUNDLED_RULES);
  ASSERT_EQ(it_daemon_start(d, NULL), 0);
}

int it_daemon_stop(struct it_daemon *d, int sig) {
  if (d->pid <= 0 || d->exited)
    IT_FAIL("the daemon is not running");
  if (kill(d->pid, sig) != 0)
    IT_FAIL("kill(%d, %d): %s", (int)d->pid, sig, strerror(errno));
  return it_daemon_wait_exit(d, -1);
}

void it_daemon_cleanup(struct it_daemon *d) {
  DIR *dir;
  struct dirent *de;

  if (d->pid > 0 && !d->exited) {
    kill(d->pid, SIGKILL);
    it_daemon_wait_exit(d, -1);
  }
  if (d->err_fd >= 0)
    close(d->err_fd);
  if (d->pidfd >= 0)
    close(d->pidfd);
  unregister_daemon(d);
  if ((dir = opendir(d->dir)) != NULL) {
    while ((de = readdir(dir)) != NULL) {
      char path[512];
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      snprintf(path, sizeof(path), "%s/%s", d->dir, de->d_name);
      unlink(path);
    }
    closedir(dir);
  }
  rmdir(d->dir);
  free(d->log);
  memset(d, 0, sizeof(*d));
  d->pidfd = d->err_fd = -1;
}

int it_run(const char *const *argv, char **out, int timeout_ms) {
  struct it_daemon d;
  const char *name = strrchr(argv[0], '/');
  int code;

  memset(&d, 0, sizeof(d));
  d.pidfd = d.err_fd = -1;
  snprintf(d.dir, sizeof(d.dir), "(%.100s run)", name ? name + 1 : argv[0]);
  spawn(&d, argv);
  code = it_daemon_wait_exit(&d, timeout_ms);
  unregister_daemon(&d);
  *out = d.log ? d.log : strdup("");
  return code;
}

int it_run_earshotd(const char *const *args, char **out, int timeout_ms) {
  const char *argv[64];
  int n = 0;

  argv[n++] = earshotd_path();
  for (int i = 0; args[i]; i++) {
    ASSERT(n < 62);
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  return it_run(argv, out, timeout_ms);
}

/* ---- clients ----------------------------------------------------------------- */

struct it_conn *it_try_connect(const char *path) {
  struct sockaddr_un sa;
  struct it_conn *c;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    IT_FAIL("socket: %s", strerror(errno));
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    close(fd);
    return NULL;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  c = calloc(1, sizeof(*c));
  ASSERT(c != NULL);
  c->fd = fd;
  return c;
}

struct it_conn *it_connect(const struct it_daemon *d) {
  struct it_conn *c = it_try_connect(d->sock);
  if (c == NULL)
    IT_FAIL("cannot connect to %s: %s", d->sock, strerror(errno));
  return c;
}

void it_close(struct it_conn *c) {
  if (c == NULL)
    return;
  close(c->fd);
  free(c->buf);
  free(c);
}

long it_recv_some(struct it_conn *c) {
  long total = 0;
  if (c->eof)
    return -1;
  for (;;) {
    if (c->off > 0 && (c->off == c->len || c->off > c->cap / 2)) {
      memmove(c->buf, c->buf + c->off, c->len - c->off);
      c->len -= c->off;
      c->off = 0;
    }
    if (c->cap - c->len < 65536) {
      size_t cap = c->cap ? c->cap * 2 : 131072;
      if (cap > IT_MAX_CONN_BUF)
        IT_FAIL("more than %u bytes unread on a test connection", IT_MAX_CONN_BUF);
      char *p = realloc(c->buf, cap);
      ASSERT(p != NULL);
      c->buf = p;
      c->cap = cap;
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
    if (n > 0) {
      c->len += (size_t)n;
      total += n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return total;
    c->eof = 1; /* 0: orderly EOF; ECONNRESET and the like: closed all the same */
    return total ? total : -1;
  }
}

long it_send_some(struct it_conn *c, const void *data, size_t len) {
  for (;;) {
    ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0)
      return n;
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 0;
    if (errno == EPIPE || errno == ECONNRESET)
      return -1;
    IT_FAIL("send: %s", strerror(errno));
  }
}

int it_send(struct it_conn *c, const void *data, size_t len) {
  const char *p = data;
  uint64_t deadline = deadline_in(-1);

  while (len > 0) {
    long n = it_send_some(c, p, len);
    if (n < 0)
      return -1;
    p += n;
    len -= (size_t)n;
    if (len == 0)
      break;
    struct pollfd pfd = {.fd = c->fd, .events = POLLOUT | (c->eof ? 0 : POLLIN)};
    if (it_poll(&pfd, 1, remaining(deadline)) == 0)
      IT_FAIL("could not write to earshotd within %d ms (%zu bytes left)",
              it_scaled(IT_WAIT_MS), len);
    if (pfd.revents & (POLLIN | POLLHUP))
      it_recv_some(c); /* keep the daemon's output moving while we write */
  }
  return 0;
}

int it_send_jsonl(struct it_conn *c, const char *path, const char *call_id, int *seq) {
  FILE *f = fopen(path, "r");
  char *line = NULL;
  size_t cap = 0;
  int sent = 0;
  if (f == NULL)
    IT_FAIL("cannot read %s: %s", path, strerror(errno));
  while (getline(&line, &cap, f) > 0) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    cJSON *o = cJSON_Parse(line);
    if (o == NULL || !cJSON_IsObject(o))
      IT_FAIL("%s: not a JSON object: %s", path, line);
    if (call_id)
      cJSON_ReplaceItemInObject(o, "call_id", cJSON_CreateString(call_id));
    cJSON_AddNumberToObject(o, "seq", ++*seq);
    char *out = cJSON_PrintUnformatted(o);
    ASSERT_EQ(it_sendf(c, "%s", out), 0);
    free(out);
    cJSON_Delete(o);
    sent++;
  }
  fclose(f);
  free(line);
  return sent;
}

int it_sendf(struct it_conn *c, const char *fmt, ...) {
  struct it_str s = {0};
  va_list ap;
  char small[2048];
  int n, rc;

  va_start(ap, fmt);
  n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  ASSERT(n >= 0 && (size_t)n < sizeof(small) - 1);
  it_str_add(&s, small, (size_t)n);
  it_str_add(&s, "\n", 1);
  rc = it_send(c, s.p, s.len);
  it_str_free(&s);
  return rc;
}

char *it_take_line(struct it_conn *c) {
  char *nl, *line;
  size_t n;
  if (c->len == c->off || (nl = memchr(c->buf + c->off, '\n', c->len - c->off)) == NULL)
    return NULL;
  n = (size_t)(nl - (c->buf + c->off));
  line = malloc(n + 1);
  ASSERT(line != NULL);
  memcpy(line, c->buf + c->off, n);
  line[n] = '\0';
  c->off += n + 1;
  c->lines_read++;
  return line;
}

char *it_read_line(struct it_conn *c, int timeout_ms) {
  uint64_t deadline = deadline_in(timeout_ms);
  for (;;) {
    char *line = it_take_line(c);
    if (line)
      return line;
    if (c->eof)
      return NULL;
    if (it_recv_some(c) != 0)
      continue; /* data, or EOF */
    if (remaining(deadline) == 0)
      return NULL;
    struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
    it_poll(&pfd, 1, remaining(deadline));
  }
}

cJSON *it_read_json(struct it_conn *c, int timeout_ms) {
  char *line = it_read_line(c, timeout_ms);
  cJSON *j;
  if (line == NULL)
    return NULL;
  j = cJSON_Parse(line);
  if (j == NULL || !cJSON_IsObject(j))
    IT_FAIL("earshotd sent a line that is not a JSON object: %s", line);
  free(line);
  return j;
}

const char *it_jtype(const cJSON *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) ? t->valuestring : "";
}

const char *it_jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsString(v)) {
    char *text = cJSON_PrintUnformatted(o);
    IT_FAIL("no string \"%s\" in %s", key, text);
  }
  return v->valuestring;
}

int64_t it_jint(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v)) {
    char *text = cJSON_PrintUnformatted(o);
    IT_FAIL("no number \"%s\" in %s", key, text);
  }
  return (int64_t)v->valuedouble;
}

cJSON *it_expect(struct it_conn *c, const char *type, int timeout_ms,
                 void (*other)(void *ud, cJSON *msg), void *ud) {
  uint64_t deadline = deadline_in(timeout_ms);
  for (;;) {
    cJSON *j = it_read_json(c, remaining(deadline));
    if (j == NULL)
      IT_FAIL("no \"%s\" message from earshotd (%s)", type,
              c->eof ? "it closed the connection" : "timed out");
    if (strcmp(it_jtype(j), type) == 0)
      return j;
    if (other == NULL) {
      char *text = cJSON_PrintUnformatted(j);
      IT_FAIL("expected a \"%s\" message, got %s", type, text);
    }
    other(ud, j);
    cJSON_Delete(j);
  }
}

void it_expect_seq(struct it_conn *c, const char *type, int64_t seq) {
  cJSON *m = it_expect(c, type, -1, NULL, NULL);
  ASSERT_EQ(it_jint(m, "seq"), seq);
  cJSON_Delete(m);
}

int64_t it_stat(struct it_conn *c, const char *key) {
  ASSERT_EQ(it_sendf(c, "{\"type\":\"stats\"}"), 0);
  cJSON *m = it_expect(c, "stats", -1, NULL, NULL);
  int64_t v = it_jint(m, key);
  cJSON_Delete(m);
  return v;
}

void it_expect_error_acked(struct it_conn *c, const char *code, int64_t seq) {
  cJSON *m = it_expect(c, "error", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(m, "code"), code);
  ASSERT_EQ(it_jint(m, "seq"), seq);
  cJSON_Delete(m);
  it_expect_seq(c, "ack", seq);
}

int it_alerts_until_ack(struct it_conn *c, int64_t seq) {
  int alerts = 0;
  for (;;) {
    cJSON *m = it_read_json(c, -1);
    ASSERT(m != NULL);
    const char *type = it_jtype(m);
    if (strcmp(type, "alert") == 0) {
      alerts++;
    } else if (strcmp(type, "ack") == 0) {
      int64_t got = it_jint(m, "seq");
      cJSON_Delete(m);
      ASSERT(got <= seq);
      if (got == seq)
        return alerts;
      continue;
    } else {
      IT_FAIL("unexpected %s", type);
    }
    cJSON_Delete(m);
  }
}

char *it_hello(struct it_conn *c, int acks) {
  cJSON *j;
  char *rule_set;
  ASSERT(it_sendf(c, "{\"type\":\"hello\",\"client\":\"it\",\"acks\":%s}",
                  acks ? "true" : "false") == 0);
  j = it_expect(c, "hello", -1, NULL, NULL);
  ASSERT_STR_EQ(it_jstr(j, "server"), "earshotd");
  ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "acks")) == (acks != 0));
  rule_set = strdup(it_jstr(j, "rule_set"));
  cJSON_Delete(j);
  return rule_set;
}

/* ---- the database ---------------------------------------------------------------- */

sqlite3 *it_db_open(const char *path) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
  if (rc != SQLITE_OK)
    IT_FAIL("cannot open %s read-only: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  sqlite3_busy_timeout(db, it_scaled(10000));
  return db;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, va_list ap) {
  sqlite3_stmt *st = NULL;
  const char *p;
  int i = 1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    IT_FAIL("SQL %s: %s", sql, sqlite3_errmsg(db));
  while ((p = va_arg(ap, const char *)) != NULL)
    sqlite3_bind_text(st, i++, p, -1, SQLITE_TRANSIENT);
  return st;
}

int64_t it_db_int(sqlite3 *db, const char *sql, ...) {
  va_list ap;
  sqlite3_stmt *st;
  int64_t v;
  int rc;

  va_start(ap, sql);
  st = prepare(db, sql, ap);
  va_end(ap);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW)
    IT_FAIL("SQL %s: %s", sql, rc == SQLITE_DONE ? "no row" : sqlite3_errmsg(db));
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

char *it_db_text(sqlite3 *db, const char *sql, ...) {
  va_list ap;
  sqlite3_stmt *st;
  char *v = NULL;
  int rc;

  va_start(ap, sql);
  st = prepare(db, sql, ap);
  va_end(ap);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW)
    IT_FAIL("SQL %s: %s", sql, rc == SQLITE_DONE ? "no row" : sqlite3_errmsg(db));
  if (sqlite3_column_type(st, 0) != SQLITE_NULL)
    v = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

/* ---- the test rules ----------------------------------------------------------- */

const struct it_rule *it_rule(const char *id) {
  static const struct it_rule rules[] = {
    {"it.trigger", "exasperation", "medium", "any", "Trigger tip: acknowledge the frustration first."},
    {"it.policy", "banned_phrase", "high", "agent",
     "Explain the reason behind the rule and offer what you can do."},
    {"it.manager", "manager_request", "critical", "customer",
     "Acknowledge, offer what you can do now, then hand over if they still want it."},
    {"it.reloaded", "churn_threat", "low", "any", "Reloaded tip."},
  };
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
    if (strcmp(rules[i].id, id) == 0)
      return &rules[i];
  IT_FAIL("unknown rule id \"%s\"", id);
}
