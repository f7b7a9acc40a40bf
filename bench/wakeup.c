/*
 * bench_wakeup: the machine's own latency floor for bench_load's paced run
 * (bench/LOAD.md).
 *
 * Two processes and a Unix stream socketpair. The client sends 16-byte
 * messages at a fixed rate, paced like bench_load (a 100 µs timerfd tick
 * writes every message due, in one write), and stamps each with
 * CLOCK_MONOTONIC; the echo process reads whatever has arrived, blocking,
 * and writes it straight back; the client's epoll loop reads the echoes and
 * records send->echo latency. No protocol, no matching, no store: what is
 * left is the kernel's and the hypervisor's wakeup and scheduling latency,
 * twice (there and back). earshotd's line->alert latency cannot be lower.
 *
 *   bench_wakeup [--rate N] [--seconds S] [--work N]
 *
 * --rate 50000 (messages per second), --seconds 5, --work N: the echo
 * process spins N iterations per message before answering (0: none), to
 * see how the floor moves when the server has work to do.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG_BYTES 16
#define TICK_NS 100000 /* 100 µs */

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void die(const char *what) {
  fprintf(stderr, "bench_wakeup: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The echo process: read what is there, spin, write it back, until EOF. */
static void echo(int fd, long work) {
  static char buf[65536];
  volatile double sink = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf), off = 0;
    if (n <= 0)
      _exit(n == 0 ? 0 : 1);
    for (long i = 0; i < work * (n / MSG_BYTES); i++)
      sink += (double)i * 0.5;
    while (off < n) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0)
        _exit(1);
      off += w;
    }
  }
}

static long arg_long(const char *opt, const char *v) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*end || n < 0) {
    fprintf(stderr, "bench_wakeup: %s wants a number, got \"%s\"\n", opt, v);
    exit(2);
  }
  return n;
}

int main(int argc, char **argv) {
  long rate = 50000, seconds = 5, work = 0;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--rate") == 0)
      rate = arg_long(argv[i], argv[i + 1]), i++;
    else if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0)
      seconds = arg_long(argv[i], argv[i + 1]), i++;
    else if (i + 1 < argc && strcmp(argv[i], "--work") == 0)
      work = arg_long(argv[i], argv[i + 1]), i++;
    else {
      fprintf(stderr, "usage: bench_wakeup [--rate N] [--seconds S] [--work N]\n");
      return 2;
    }
  }
  if (rate == 0 || seconds == 0) {
    fprintf(stderr, "bench_wakeup: --rate and --seconds must be above 0\n");
    return 2;
  }

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
    die("socketpair");
  pid_t child = fork();
  if (child < 0)
    die("fork");
  if (child == 0) {
    close(sv[0]);
    echo(sv[1], work);
  }
  close(sv[1]);

  int ep = epoll_create1(0), tfd = timerfd_create(CLOCK_MONOTONIC, 0);
  if (ep < 0 || tfd < 0)
    die("epoll/timerfd");
  struct itimerspec its = {{0, TICK_NS}, {0, TICK_NS}};
  if (timerfd_settime(tfd, 0, &its, NULL) != 0)
    die("timerfd_settime");
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  ev.data.fd = sv[0];
  epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);

  const long total = rate * seconds;
  long sent = 0, got = 0;
  double *lat = malloc((size_t)total * sizeof(*lat));
  static char rbuf[65536], wbuf[65536];
  size_t rlen = 0;
  if (lat == NULL)
    die("malloc");
  const double t0 = now_us();
  while (got < total) {
    struct epoll_event e[2];
    int n = epoll_wait(ep, e, 2, -1);
    if (n < 0 && errno != EINTR)
      die("epoll_wait");
    for (int i = 0; i < n; i++) {
      if (e[i].data.fd == tfd) {
        uint64_t ticks;
        if (read(tfd, &ticks, sizeof ticks) < 0)
          die("read timerfd");
        double t = now_us();
        long due = (long)((t - t0) * (double)rate / 1e6), k = 0;
        if (due > total)
          due = total;
        for (; sent < due && (size_t)(k + 1) * MSG_BYTES <= sizeof wbuf; k++, sent++) {
          memcpy(wbuf + k * MSG_BYTES, &t, sizeof t);
          memcpy(wbuf + k * MSG_BYTES + 8, &sent, sizeof sent);
        }
        /* The stamp is taken just before the write (bench_load's just after):
         * the floor errs low, never high. */
        if (k > 0 && write(sv[0], wbuf, (size_t)k * MSG_BYTES) != (ssize_t)(k * MSG_BYTES))
          die("write");
      } else {
        ssize_t r = read(sv[0], rbuf + rlen, sizeof rbuf - rlen);
        if (r <= 0)
          die("read echo");
        rlen += (size_t)r;
        double t = now_us();
        size_t off = 0;
        for (; off + MSG_BYTES <= rlen && got < total; off += MSG_BYTES) {
          double ts;
          memcpy(&ts, rbuf + off, sizeof ts);
          lat[got++] = t - ts;
        }
        memmove(rbuf, rbuf + off, rlen - off);
        rlen -= off;
      }
    }
  }
  close(sv[0]);
  waitpid(child, NULL, 0);

  qsort(lat, (size_t)got, sizeof(*lat), cmp_double);
  printf("bench_wakeup: %ld messages at %ld/s, echo work %ld: send->echo us p50 %.1f p90 %.1f "
         "p99 %.1f p99.9 %.1f max %.1f\n",
         got, rate, work, lat[got / 2], lat[got * 9 / 10], lat[got * 99 / 100],
         lat[got * 999 / 1000], lat[got - 1]);
  free(lat);
  return 0;
}
