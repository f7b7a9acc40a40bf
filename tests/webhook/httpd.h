/*
 * httpd.h: a tiny HTTP/1.1 receiver for the webhook tests.
 *
 * It binds 127.0.0.1 on a port the kernel chooses and, until
 * httpd_listen(), does not listen: connections are refused, as with a
 * receiver that is down. Once listening, a thread of its own accepts
 * connections (keep-alive, one request after another), records every
 * complete request (method, path, headers, body, Content-Length bodies
 * only) and answers with the status set by httpd_set_status() (200 by
 * default) and a short body. Each recorded request also writes a byte to
 * a pipe, so that the test waits for requests with poll() and a deadline
 * (through the integration harness, which drains the daemons' logs
 * meanwhile), never by sleeping.
 */
#ifndef WH_HTTPD_H
#define WH_HTTPD_H

#include <stddef.h>

struct httpd_req {
  char method[16];
  char path[256];
  char *headers;   /* the header lines as received, "\r\n"-separated */
  char *body;      /* NUL-terminated */
  size_t body_len;
  int status;      /* what the receiver answered */
};

struct httpd;

/* Binds (not listening yet) and starts the thread; fails the test when it cannot. */
struct httpd *httpd_new(void);
/* Stops the thread, closes every socket, frees the requests. */
void httpd_free(struct httpd *h);

int httpd_port(const struct httpd *h);
/* Starts accepting on the bound port (connections were refused before). */
void httpd_listen(struct httpd *h);
/* The status of the answers from now on (200, 500...; 0: never answer,
 * keep the connection open); body is the response body (copied; NULL for
 * "ok"). */
void httpd_set_status(struct httpd *h, int status, const char *body);

/* Requests recorded so far. */
size_t httpd_count(struct httpd *h);
/* Waits until at least n requests were recorded or timeout_ms (< 0: the
 * harness's default deadline) passed; returns the count. */
size_t httpd_wait(struct httpd *h, size_t n, int timeout_ms);
/* Request i (0-based, in arrival order), valid until httpd_free(). */
const struct httpd_req *httpd_get(struct httpd *h, size_t i);
/* The value of header `name` (case-insensitive) of a request, malloc'd,
 * or NULL when absent. */
char *httpd_header(const struct httpd_req *r, const char *name);

#endif
