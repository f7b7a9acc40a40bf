/* client.h: talking to earshotd over its Unix socket, for the verbs that
 * do (send, stats, reload, tail, ack). */
#ifndef ES_CLI_CLIENT_H
#define ES_CLI_CLIENT_H

#include <stddef.h>

/* The longest reply line read: an alert of a 64 KiB line with every byte
 * escaped, plus its reason (alert.h ES_ALERT_JSON_CAP(65536)). */
#define ES_CLI_REPLY_MAX (12u * 65536u + 65536u)

struct es_cli_path;

/* Connects to earshotd's socket (es_cli_find_socket()). Returns the fd, or
 * -1 with errno set; `quiet` 0 prints what to do, with where the path came
 * from. */
int es_cli_connect(const struct es_cli_path *sock, int quiet);
/* es_cli_connect(sock, 0). */
int es_cli_open_daemon(const struct es_cli_path *sock);

/* Reads the daemon's replies: buffered, line by line. */
struct es_cli_reader {
  int fd;
  char *buf;
  size_t len, cap;
  char *line; /* last line returned; valid until the next call */
  int eof;
};

void es_cli_reader_init(struct es_cli_reader *r, int fd);
void es_cli_reader_deinit(struct es_cli_reader *r); /* does not close fd */

/* Returns 1 with a line (NUL-terminated, without its newline), 0 on
 * timeout (timeout_ms < 0: wait for ever), -1 on EOF, error, or a line
 * longer than ES_CLI_REPLY_MAX. */
int es_cli_read_reply(struct es_cli_reader *r, int timeout_ms, char **line);

/* Writes all of p; 0 or -1. */
int es_cli_write_all(int fd, const char *p, size_t n);

#endif
