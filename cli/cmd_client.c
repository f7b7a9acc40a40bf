/*
 * cmd_client.c: the verbs that talk to a running earshotd over its socket:
 *   earshot send [--socket PATH] [FILE|-]   stream a transcript, print alerts
 *   earshot stats [--socket PATH]           print the daemon's counters
 *   earshot reload [--socket PATH]          reload the daemon's rules
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "defaults.h"
#include "lines.h"

#define CLIENT_TIMEOUT_MS 30000 /* give up when the daemon says nothing for this long */

static int connect_socket(const char *path) {
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path)) {
    close(fd);
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(sa.sun_path, path, strlen(path) + 1);
  if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static int open_daemon(const char *path) {
  char def[4096];
  if (path == NULL) {
    if (es_default_socket(def, sizeof(def)) != 0)
      return -1;
    path = def;
  }
  int fd = connect_socket(path);
  if (fd < 0)
    fprintf(stderr, "earshot: cannot connect to earshotd at %s: %s\n"
                    "(is earshotd running? give --socket PATH if it listens elsewhere)\n",
            path, strerror(errno));
  return fd;
}

/* Reads the daemon's replies: buffered, line by line. */
struct reader {
  int fd;
  char buf[1 << 16];
  size_t len;
  char *line; /* last line returned; valid until the next call */
  int eof;
};

/* Returns 1 with a line, 0 on timeout, -1 on EOF or error. */
static int read_reply(struct reader *r, int timeout_ms, char **line) {
  for (;;) {
    char *nl = memchr(r->buf, '\n', r->len);
    if (nl) {
      size_t n = (size_t)(nl - r->buf);
      free(r->line);
      r->line = malloc(n + 1);
      if (r->line == NULL)
        return -1;
      memcpy(r->line, r->buf, n);
      r->line[n] = '\0';
      memmove(r->buf, nl + 1, r->len - n - 1);
      r->len -= n + 1;
      *line = r->line;
      return 1;
    }
    if (r->eof || r->len == sizeof(r->buf))
      return -1;
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int pr = poll(&p, 1, timeout_ms);
    if (pr == 0)
      return 0;
    if (pr < 0 && errno != EINTR)
      return -1;
    ssize_t got = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
    if (got <= 0) {
      r->eof = 1;
      if (r->len == 0)
        return -1;
      continue;
    }
    r->len += (size_t)got;
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        struct pollfd pw = {.fd = fd, .events = POLLOUT};
        poll(&pw, 1, 1000);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static const char *type_of(const cJSON *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) ? t->valuestring : "";
}

/* One request, one reply of the given type: stats and reload. */
static int request(int argc, char **argv, const char *verb, const char *req, const char *want) {
  static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
                                           {NULL, 0, NULL, 0}};
  const char *sock = NULL;
  struct reader r;
  char *line;
  int c, fd, rc = 1;

  optind = 1;
  while ((c = getopt_long(argc, argv, "s:", longopts, NULL)) != -1) {
    if (c != 's') {
      fprintf(stderr, "usage: earshot %s [--socket PATH]\n", verb);
      return 2;
    }
    sock = optarg;
  }
  if ((fd = open_daemon(sock)) < 0)
    return 1;
  memset(&r, 0, sizeof(r));
  r.fd = fd;
  if (write_all(fd, req, strlen(req)) != 0) {
    fprintf(stderr, "earshot %s: write failed: %s\n", verb, strerror(errno));
    close(fd);
    return 1;
  }
  for (;;) {
    int got = read_reply(&r, CLIENT_TIMEOUT_MS, &line);
    if (got <= 0) {
      fprintf(stderr, "earshot %s: %s\n", verb, got == 0 ? "no answer from earshotd" : "connection closed");
      break;
    }
    cJSON *o = cJSON_Parse(line);
    if (o && strcmp(type_of(o), want) == 0) {
      char *pretty = cJSON_Print(o);
      if (pretty)
        puts(pretty);
      free(pretty);
      const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
      rc = ok && cJSON_IsFalse(ok) ? 1 : 0;
      cJSON_Delete(o);
      break;
    }
    cJSON_Delete(o);
  }
  free(r.line);
  close(fd);
  return rc;
}

int es_cmd_stats(int argc, char **argv) {
  return request(argc, argv, "stats", "{\"type\":\"stats\"}\n", "stats");
}

int es_cmd_reload(int argc, char **argv) {
  return request(argc, argv, "reload", "{\"type\":\"reload\"}\n", "reload");
}

/* Handles one reply during `send`; returns the acked seq or -1. */
static long long on_reply(const char *line, long long *alerts, long long *errors) {
  cJSON *o = cJSON_Parse(line);
  long long acked = -1;
  const char *t = o ? type_of(o) : "";

  if (strcmp(t, "ack") == 0) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "seq");
    if (cJSON_IsNumber(s))
      acked = (long long)s->valuedouble;
  } else if (strcmp(t, "hello") != 0) {
    puts(line);
    *alerts += strcmp(t, "alert") == 0;
    *errors += strcmp(t, "error") == 0;
  }
  cJSON_Delete(o);
  return acked;
}

int es_cmd_send(int argc, char **argv) {
  static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *sock = NULL;
  FILE *in = stdin;
  struct es_lines rd;
  struct reader r;
  char *line, *reply;
  size_t len;
  int c, fd, too_long, rc = 1;
  long long seq = 0, acked = 0, alerts = 0, errors = 0;
  static const char hello[] = "{\"type\":\"hello\",\"client\":\"earshot-send\",\"acks\":true}\n";

  optind = 1;
  while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
    if (c == 's') {
      sock = optarg;
      continue;
    }
    fprintf(stderr, "usage: earshot send [--socket PATH] [FILE|-]\n"
                    "Streams protocol lines to earshotd, prints its alerts and errors, and\n"
                    "waits until every line is acknowledged (its alerts are in the database).\n");
    return c == 'h' ? 0 : 2;
  }
  if (optind < argc && strcmp(argv[optind], "-") != 0 && (in = fopen(argv[optind], "r")) == NULL) {
    fprintf(stderr, "earshot send: cannot open %s: %s\n", argv[optind], strerror(errno));
    return 1;
  }
  if ((fd = open_daemon(sock)) < 0)
    goto out_file;
  memset(&r, 0, sizeof(r));
  r.fd = fd;
  if (es_lines_init(&rd, in, 1 << 20) != 0 || write_all(fd, hello, sizeof(hello) - 1) != 0)
    goto out;

  /* Each line goes out with a seq so that its ack can be awaited; a line
   * that is not a JSON object is sent as is (the daemon says what is wrong). */
  while (es_lines_next(&rd, &line, &len, &too_long) == 1) {
    cJSON *o = too_long ? NULL : cJSON_ParseWithLength(line, len);
    char *out = NULL;
    seq++;
    if (cJSON_IsObject(o)) {
      cJSON_DeleteItemFromObjectCaseSensitive(o, "seq");
      cJSON_AddNumberToObject(o, "seq", (double)seq);
      out = cJSON_PrintUnformatted(o);
    } else {
      seq--; /* no seq: it will not be acked */
    }
    cJSON_Delete(o);
    if ((out ? write_all(fd, out, strlen(out)) : write_all(fd, line, len)) != 0 ||
        write_all(fd, "\n", 1) != 0) {
      fprintf(stderr, "earshot send: write failed: %s\n", strerror(errno));
      free(out);
      goto out;
    }
    free(out);
    /* Print replies as they come, without blocking the stream. */
    while (read_reply(&r, 0, &reply) == 1) {
      long long a = on_reply(reply, &alerts, &errors);
      if (a > acked)
        acked = a;
    }
  }
  /* A last line that the daemon rejected is never acked; a closing hello
   * with its own seq tells when everything before it has been handled. */
  {
    char fin[96];
    int n = snprintf(fin, sizeof(fin), "{\"type\":\"hello\",\"acks\":true,\"seq\":%lld}\n", ++seq);
    if (write_all(fd, fin, (size_t)n) != 0)
      goto out;
  }
  while (acked < seq) {
    int got = read_reply(&r, CLIENT_TIMEOUT_MS, &reply);
    if (got <= 0) {
      fprintf(stderr, "earshot send: %s before every line was acknowledged (%lld of %lld)\n",
              got == 0 ? "no answer from earshotd" : "connection closed", acked, seq);
      goto out;
    }
    long long a = on_reply(reply, &alerts, &errors);
    if (a > acked)
      acked = a;
  }
  fflush(stdout);
  fprintf(stderr, "earshot send: %lld lines sent and acknowledged, %lld alerts, %lld errors\n",
          rd.lineno, alerts, errors);
  rc = 0;
out:
  es_lines_deinit(&rd);
  free(r.line);
  close(fd);
out_file:
  if (in != stdin)
    fclose(in);
  return rc;
}
