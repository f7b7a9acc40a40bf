/* client.c: talking to earshotd over its Unix socket (client.h). */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

int es_cli_connect(const struct es_cli_path *sock, int quiet) {
  const char *path = sock->path;
  struct sockaddr_un sa;
  int fd, e;

  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path)) {
    errno = ENAMETOOLONG;
    fd = -1;
  } else if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
      e = errno;
      close(fd);
      errno = e;
      fd = -1;
    }
  }
  if (fd < 0 && !quiet) {
    e = errno;
    fprintf(stderr, "earshot: cannot connect to earshotd at %s%s: %s\n"
                    "(is earshotd running? give --socket PATH or --config FILE if it listens "
                    "elsewhere)\n",
            path, sock->from, strerror(e));
    errno = e;
  }
  return fd;
}

int es_cli_open_daemon(const struct es_cli_path *sock) { return es_cli_connect(sock, 0); }

void es_cli_reader_init(struct es_cli_reader *r, int fd) {
  memset(r, 0, sizeof(*r));
  r->fd = fd;
}

void es_cli_reader_deinit(struct es_cli_reader *r) {
  free(r->buf);
  free(r->line);
  memset(r, 0, sizeof(*r));
  r->fd = -1;
}

int es_cli_read_reply(struct es_cli_reader *r, int timeout_ms, char **line) {
  for (;;) {
    char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
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
    if (r->eof || r->len >= ES_CLI_REPLY_MAX)
      return -1;
    if (r->cap - r->len < 65536) {
      size_t cap = r->cap ? r->cap * 2 : 131072;
      char *p = realloc(r->buf, cap);
      if (p == NULL)
        return -1;
      r->buf = p;
      r->cap = cap;
    }
    struct pollfd p = {.fd = r->fd, .events = POLLIN};
    int pr = poll(&p, 1, timeout_ms);
    if (pr == 0)
      return 0;
    if (pr < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    ssize_t got = read(r->fd, r->buf + r->len, r->cap - r->len);
    if (got <= 0) {
      if (got < 0 && errno == EINTR)
        continue;
      r->eof = 1;
      if (r->len == 0)
        return -1;
      continue;
    }
    r->len += (size_t)got;
  }
}

int es_cli_write_all(int fd, const char *p, size_t n) {
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
