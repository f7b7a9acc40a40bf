/*
 * bench_sink: the transport ceiling for bench_load (bench/LOAD.md).
 *
 * A libuv Unix-socket server that does what earshotd's read path does
 * before any protocol work and nothing more: read into a 64 KiB buffer per
 * connection (ESD_READ_CHUNK), split lines with memchr, carry a partial
 * line between reads. At EOF it answers {"type":"sink","lines":N,
 * "bytes":B} and closes, so the client knows every byte was consumed.
 *
 *   bench_sink --socket PATH     runs until SIGTERM or SIGINT
 *
 * It prints "bench_sink ready: PATH" on stderr once listening.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define SINK_READ_CHUNK 65536
#define SINK_MAX_LINE 65536

struct sink_conn {
  uv_pipe_t pipe;
  char rbuf[SINK_READ_CHUNK];
  char line[SINK_MAX_LINE];
  size_t line_len;
  uint64_t lines, bytes, checksum;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  char reply[128];
};

static uv_loop_t *loop;
static uv_pipe_t server;
static uv_signal_t sigterm, sigint;
static uint64_t total_lines, total_conns;

/* Stands in for decoding: touches the line so the split is not free. */
static void on_line(struct sink_conn *c, const char *line, size_t len) {
  c->lines++;
  c->checksum += len + (len ? (unsigned char)line[0] : 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct sink_conn *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->rbuf, SINK_READ_CHUNK);
}

static void on_closed(uv_handle_t *h) { free(h->data); }

static void on_shutdown(uv_shutdown_t *req, int status) {
  struct sink_conn *c = req->data;
  (void)status;
  if (!uv_is_closing((uv_handle_t *)&c->pipe))
    uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void on_written(uv_write_t *req, int status) {
  struct sink_conn *c = req->data;
  if (uv_is_closing((uv_handle_t *)&c->pipe))
    return; /* cancelled by shutdown */
  c->sreq.data = c;
  if (status < 0 || uv_shutdown(&c->sreq, (uv_stream_t *)&c->pipe, on_shutdown) != 0)
    uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void split(struct sink_conn *c, const char *p, size_t n) {
  const char *end = p + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t seg = (size_t)((nl ? nl : end) - p);
    if (nl && c->line_len == 0) {
      on_line(c, p, seg); /* whole line inside this read: no copy */
    } else {
      if (c->line_len + seg > SINK_MAX_LINE)
        seg = SINK_MAX_LINE - c->line_len; /* over-long: truncated, still counted */
      memcpy(c->line + c->line_len, p, seg);
      c->line_len += seg;
      if (nl) {
        on_line(c, c->line, c->line_len);
        c->line_len = 0;
      }
    }
    if (!nl)
      break;
    p = nl + 1;
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  struct sink_conn *c = s->data;

  if (nread > 0) {
    c->bytes += (uint64_t)nread;
    split(c, buf->base, (size_t)nread);
    return;
  }
  if (nread == 0)
    return;
  uv_read_stop(s);
  if (c->line_len > 0) {
    on_line(c, c->line, c->line_len);
    c->line_len = 0;
  }
  total_lines += c->lines;
  if (nread != UV_EOF) {
    uv_close((uv_handle_t *)&c->pipe, on_closed);
    return;
  }
  int n = snprintf(c->reply, sizeof(c->reply),
                   "{\"type\":\"sink\",\"lines\":%" PRIu64 ",\"bytes\":%" PRIu64
                   ",\"checksum\":%" PRIu64 "}\n", c->lines, c->bytes, c->checksum);
  uv_buf_t b = uv_buf_init(c->reply, (unsigned)n);
  c->wreq.data = c;
  if (uv_write(&c->wreq, s, &b, 1, on_written) != 0)
    uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static void on_connection(uv_stream_t *srv, int status) {
  struct sink_conn *c;

  if (status < 0)
    return;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  uv_pipe_init(loop, &c->pipe, 0);
  c->pipe.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->pipe) != 0) {
    uv_close((uv_handle_t *)&c->pipe, on_closed);
    return;
  }
  total_conns++;
  uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

static void close_any(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, h->type == UV_NAMED_PIPE && h != (uv_handle_t *)&server ? on_closed : NULL);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  uv_walk(loop, close_any, NULL);
}

int main(int argc, char **argv) {
  const char *path = NULL;
  int rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
      path = argv[++i];
    else {
      fprintf(stderr, "usage: bench_sink --socket PATH\n");
      return 2;
    }
  }
  if (path == NULL) {
    fprintf(stderr, "usage: bench_sink --socket PATH\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  unlink(path);
  uv_pipe_init(loop, &server, 0);
  rc = uv_pipe_bind(&server, path);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
  if (rc != 0) {
    fprintf(stderr, "bench_sink: cannot listen on %s: %s\n", path, uv_strerror(rc));
    return 1;
  }
  uv_signal_init(loop, &sigterm);
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_start(&sigint, on_signal, SIGINT);
  fprintf(stderr, "bench_sink ready: %s\n", path);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  unlink(path);
  fprintf(stderr, "bench_sink: %" PRIu64 " connections, %" PRIu64 " lines\n", total_conns,
          total_lines);
  return 0;
}
