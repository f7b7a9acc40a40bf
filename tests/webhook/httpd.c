/* httpd.c: see httpd.h. */
#define _GNU_SOURCE /* memmem, accept4, pipe2 */
#include "httpd.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define HTTPD_MAX_CONNS 64
#define HTTPD_MAX_REQUEST (16u << 20)

struct hconn {
  int fd;
  char *buf;
  size_t len, cap;
};

struct httpd {
  int lfd, port;
  int ctl[2];              /* wakes the thread: listen, stop */
  int note[2];             /* one byte per recorded request */
  pthread_t thread;
  pthread_mutex_t mu;      /* guards everything below */
  int listening, stop;
  int status;
  char *resp_body;
  struct httpd_req **reqs;
  size_t n, cap;
};

static void lock(struct httpd *h) { pthread_mutex_lock(&h->mu); }
static void unlock(struct httpd *h) { pthread_mutex_unlock(&h->mu); }

static const char *reason(int status) {
  switch (status) {
  case 200: return "OK";
  case 204: return "No Content";
  case 429: return "Too Many Requests";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  default: return "Status";
  }
}

static size_t content_length(const char *headers, size_t len) {
  const char *p = headers, *end = headers + len;
  while (p < end) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    if (eol == NULL)
      eol = end;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
      return (size_t)strtoull(p + 15, NULL, 10);
    p = eol + 2;
  }
  return 0;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return; /* the client went away; its next read says so */
    p += w;
    n -= (size_t)w;
  }
}

/* Handles the complete requests in c's buffer. Returns -1 to close. */
static int serve(struct httpd *h, struct hconn *c) {
  for (;;) {
    char *hdr_end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (hdr_end == NULL)
      return 0;
    size_t head = (size_t)(hdr_end - c->buf) + 4;
    char *line_end = memmem(c->buf, head, "\r\n", 2);
    size_t body_len = content_length(line_end + 2, head - (size_t)(line_end + 2 - c->buf));
    if (body_len > HTTPD_MAX_REQUEST)
      return -1;
    if (c->len < head + body_len)
      return 0;
    struct httpd_req *r = calloc(1, sizeof(*r));
    ASSERT(r != NULL);
    char version[16] = "";
    char *rl = strndup(c->buf, (size_t)(line_end - c->buf));
    ASSERT(rl != NULL);
    if (sscanf(rl, "%15s %255s %15s", r->method, r->path, version) != 3) {
      free(rl);
      free(r);
      return -1;
    }
    free(rl);
    r->headers = strndup(line_end + 2, (size_t)(hdr_end - (line_end + 2)));
    r->body = malloc(body_len + 1);
    ASSERT(r->headers != NULL && r->body != NULL);
    memcpy(r->body, c->buf + head, body_len);
    r->body[body_len] = '\0';
    r->body_len = body_len;

    char resp[512];
    lock(h);
    int status = h->status;
    const char *body = h->resp_body ? h->resp_body : "ok";
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                     status, reason(status), strlen(body), body);
    unlock(h);
    r->status = status;
    /* Answer first: once the test sees the request, the answer is on its way. */
    if (status != 0)
      write_all(c->fd, resp, (size_t)n);
    lock(h);
    if (h->n == h->cap) {
      h->cap = h->cap ? h->cap * 2 : 16;
      h->reqs = realloc(h->reqs, h->cap * sizeof(*h->reqs));
      ASSERT(h->reqs != NULL);
    }
    h->reqs[h->n++] = r;
    unlock(h);
    write_all(h->note[1], "r", 1);
    memmove(c->buf, c->buf + head + body_len, c->len - head - body_len);
    c->len -= head + body_len;
  }
}

static void *run(void *arg) {
  struct httpd *h = arg;
  struct hconn conns[HTTPD_MAX_CONNS];
  size_t nconns = 0;

  for (;;) {
    struct pollfd fds[HTTPD_MAX_CONNS + 2];
    int nfds = 0, listening;
    lock(h);
    listening = h->listening;
    if (h->stop) {
      unlock(h);
      break;
    }
    unlock(h);
    fds[nfds++] = (struct pollfd){.fd = h->ctl[0], .events = POLLIN};
    if (listening)
      fds[nfds++] = (struct pollfd){.fd = h->lfd, .events = POLLIN};
    int first_conn = nfds;
    for (size_t i = 0; i < nconns; i++)
      fds[nfds++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
    if (poll(fds, (nfds_t)nfds, -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (fds[0].revents) {
      char tmp[64];
      while (read(h->ctl[0], tmp, sizeof(tmp)) > 0) {
      }
    }
    /* Connections first (indices stay valid), then new ones. */
    for (int i = nfds - 1; i >= first_conn; i--) {
      struct hconn *c = &conns[i - first_conn];
      int close_it = 0;
      if (!fds[i].revents)
        continue;
      if (c->len + 65536 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 131072;
        char *p = cap <= HTTPD_MAX_REQUEST * 2 ? realloc(c->buf, cap) : NULL;
        if (p == NULL)
          close_it = 1;
        else {
          c->buf = p;
          c->cap = cap;
        }
      }
      if (!close_it) {
        ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (r <= 0 && !(r < 0 && errno == EINTR))
          close_it = 1;
        else if (r > 0) {
          c->len += (size_t)r;
          close_it = serve(h, c) != 0;
        }
      }
      if (close_it) {
        close(c->fd);
        free(c->buf);
        conns[i - first_conn] = conns[--nconns];
      }
    }
    if (listening && fds[1].revents) {
      int fd = accept4(h->lfd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        if (nconns == HTTPD_MAX_CONNS)
          close(fd);
        else
          conns[nconns++] = (struct hconn){.fd = fd};
      }
    }
  }
  for (size_t i = 0; i < nconns; i++) {
    close(conns[i].fd);
    free(conns[i].buf);
  }
  return NULL;
}

struct httpd *httpd_new(void) {
  struct httpd *h = calloc(1, sizeof(*h));
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);

  ASSERT(h != NULL);
  h->status = 200;
  pthread_mutex_init(&h->mu, NULL);
  ASSERT_EQ(pipe2(h->ctl, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_EQ(pipe2(h->note, O_CLOEXEC | O_NONBLOCK), 0);
  h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(h->lfd >= 0);
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0;
  ASSERT_EQ(bind(h->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ASSERT_EQ(getsockname(h->lfd, (struct sockaddr *)&sa, &len), 0);
  h->port = ntohs(sa.sin_port);
  ASSERT_EQ(pthread_create(&h->thread, NULL, run, h), 0);
  return h;
}

static void wake(struct httpd *h) { write_all(h->ctl[1], "w", 1); }

void httpd_listen(struct httpd *h) {
  ASSERT_EQ(listen(h->lfd, 64), 0);
  lock(h);
  h->listening = 1;
  unlock(h);
  wake(h);
}

void httpd_set_status(struct httpd *h, int status, const char *body) {
  lock(h);
  h->status = status;
  free(h->resp_body);
  h->resp_body = body ? strdup(body) : NULL;
  unlock(h);
}

int httpd_port(const struct httpd *h) { return h->port; }

size_t httpd_count(struct httpd *h) {
  lock(h);
  size_t n = h->n;
  unlock(h);
  return n;
}

size_t httpd_wait(struct httpd *h, size_t n, int timeout_ms) {
  uint64_t deadline = it_now_ms() + (uint64_t)(timeout_ms < 0 ? it_scaled(IT_WAIT_MS) : timeout_ms);
  for (;;) {
    size_t have = httpd_count(h);
    uint64_t now = it_now_ms();
    if (have >= n || now >= deadline)
      return have;
    struct pollfd p = {.fd = h->note[0], .events = POLLIN};
    if (it_poll(&p, 1, (int)(deadline - now)) > 0) {
      char tmp[64];
      while (read(h->note[0], tmp, sizeof(tmp)) > 0) {
      }
    }
  }
}

const struct httpd_req *httpd_get(struct httpd *h, size_t i) {
  lock(h);
  const struct httpd_req *r = i < h->n ? h->reqs[i] : NULL;
  unlock(h);
  if (r == NULL)
    IT_FAIL("no request %zu (the receiver has %zu)", i, httpd_count(h));
  return r;
}

char *httpd_header(const struct httpd_req *r, const char *name) {
  size_t nl = strlen(name);
  const char *p = r->headers;
  while (p && *p) {
    const char *eol = strstr(p, "\r\n");
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      return strndup(v, len - (size_t)(v - p));
    }
    p = eol ? eol + 2 : NULL;
  }
  return NULL;
}

void httpd_free(struct httpd *h) {
  lock(h);
  h->stop = 1;
  unlock(h);
  wake(h);
  pthread_join(h->thread, NULL);
  close(h->lfd);
  close(h->ctl[0]);
  close(h->ctl[1]);
  close(h->note[0]);
  close(h->note[1]);
  for (size_t i = 0; i < h->n; i++) {
    free(h->reqs[i]->headers);
    free(h->reqs[i]->body);
    free(h->reqs[i]);
  }
  free(h->reqs);
  free(h->resp_body);
  pthread_mutex_destroy(&h->mu);
  free(h);
}
