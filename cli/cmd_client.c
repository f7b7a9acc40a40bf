/*
 * cmd_client.c: the verbs that talk to a running earshotd over its socket:
 *   earshot send [--socket PATH] [FILE|-]   stream a transcript, print alerts
 *   earshot stats [--socket PATH]           print the daemon's counters
 *   earshot reload [--socket PATH]          reload the daemon's rules and webhooks
 * Each also takes --config FILE: the socket earshotd's config file names
 * (es_cli_find_socket()).
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
#include "client.h"
#include "lines.h"

#define CLIENT_TIMEOUT_MS 30000 /* give up when the daemon says nothing for this long */

static const char *type_of(const cJSON *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
  return cJSON_IsString(t) ? t->valuestring : "";
}

static const char socket_help[] =
    "  --socket PATH  earshotd's socket\n"
    "  --config FILE  earshotd's config file: the socket it names\n";

/* One request, one reply of the given type: stats and reload. */
static int request(int argc, char **argv, const char *verb, const char *what, const char *req,
                   const char *want) {
  static const struct option longopts[] = {{"socket", required_argument, NULL, 's'},
                                           {"config", required_argument, NULL, 'c'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *sock_flag = NULL, *config = NULL;
  struct es_cli_path sock;
  struct es_cli_reader r;
  char *line;
  int c, fd, rc = 1;

  optind = 1;
  while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
    if (c == 's') {
      sock_flag = optarg;
    } else if (c == 'c') {
      config = optarg;
    } else {
      fprintf(c == 'h' ? stdout : stderr, "usage: earshot %s [--socket PATH | --config FILE]\n%s\n%s%s",
              verb, what, socket_help, es_cli_find_help);
      return c == 'h' ? 0 : 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "earshot %s: unexpected argument \"%s\"\nusage: earshot %s [--socket PATH | "
                    "--config FILE]\n", verb, argv[optind], verb);
    return 2;
  }
  if (es_cli_find_socket(sock_flag, config, &sock) != 0)
    return 1;
  if ((fd = es_cli_open_daemon(&sock)) < 0)
    return 1;
  es_cli_reader_init(&r, fd);
  if (es_cli_write_all(fd, req, strlen(req)) != 0) {
    fprintf(stderr, "earshot %s: write failed: %s\n", verb, strerror(errno));
    close(fd);
    return 1;
  }
  for (;;) {
    int got = es_cli_read_reply(&r, CLIENT_TIMEOUT_MS, &line);
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
  es_cli_reader_deinit(&r);
  close(fd);
  return rc;
}

int es_cmd_stats(int argc, char **argv) {
  return request(argc, argv, "stats", "Prints earshotd's counters (JSON).",
                 "{\"type\":\"stats\"}\n", "stats");
}

int es_cmd_reload(int argc, char **argv) {
  return request(argc, argv, "reload",
                 "Reloads earshotd's rules and, when it runs with --config, the webhooks of its\n"
                 "config file, as SIGHUP does, and prints the outcome: exit 1 when anything\n"
                 "did not load (earshotd then keeps its rules and webhooks as they were).",
                 "{\"type\":\"reload\"}\n", "reload");
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
                                           {"config", required_argument, NULL, 'c'},
                                           {"help", no_argument, NULL, 'h'},
                                           {NULL, 0, NULL, 0}};
  const char *sock_flag = NULL, *config = NULL;
  struct es_cli_path sock;
  FILE *in = stdin;
  struct es_lines rd;
  struct es_cli_reader r;
  char *line, *reply;
  size_t len;
  int c, fd, too_long, rc = 1;
  long long seq = 0, acked = 0, alerts = 0, errors = 0;
  static const char hello[] = "{\"type\":\"hello\",\"client\":\"earshot-send\",\"acks\":true}\n";

  optind = 1;
  while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
    if (c == 's') {
      sock_flag = optarg;
      continue;
    }
    if (c == 'c') {
      config = optarg;
      continue;
    }
    fprintf(c == 'h' ? stdout : stderr,
            "usage: earshot send [--socket PATH | --config FILE] [FILE|-]\n"
            "Streams protocol lines to earshotd, prints its alerts and errors, and\n"
            "waits until every line is acknowledged (its alerts are in the database).\n"
            "Each JSON object goes out with \"seq\" set to its number among them (a\n"
            "seq in the file is replaced), so an error's \"seq\" is that number; its\n"
            "\"line\" counts the connection's lines, one more than the file's.\n"
            "Exit status: 0 when every line was acknowledged and none got an error\n"
            "record, 1 otherwise.\n%s%s",
            socket_help, es_cli_find_help);
    return c == 'h' ? 0 : 2;
  }
  if (es_cli_find_socket(sock_flag, config, &sock) != 0)
    return 1;
  if (optind < argc && strcmp(argv[optind], "-") != 0 && (in = fopen(argv[optind], "r")) == NULL) {
    fprintf(stderr, "earshot send: cannot open %s: %s\n", argv[optind], strerror(errno));
    return 1;
  }
  if ((fd = es_cli_open_daemon(&sock)) < 0)
    goto out_file;
  es_cli_reader_init(&r, fd);
  if (es_lines_init(&rd, in, 1 << 20) != 0 || es_cli_write_all(fd, hello, sizeof(hello) - 1) != 0)
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
    if ((out ? es_cli_write_all(fd, out, strlen(out)) : es_cli_write_all(fd, line, len)) != 0 ||
        es_cli_write_all(fd, "\n", 1) != 0) {
      fprintf(stderr, "earshot send: write failed: %s\n", strerror(errno));
      free(out);
      goto out;
    }
    free(out);
    /* Print replies as they come, without blocking the stream. */
    while (es_cli_read_reply(&r, 0, &reply) == 1) {
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
    if (es_cli_write_all(fd, fin, (size_t)n) != 0)
      goto out;
  }
  while (acked < seq) {
    int got = es_cli_read_reply(&r, CLIENT_TIMEOUT_MS, &reply);
    if (got <= 0) {
      fprintf(stderr, "earshot send: %s before every line was acknowledged (%lld of %lld)\n",
              got == 0 ? "no answer from earshotd" : "connection closed", acked, seq);
      goto out;
    }
    long long a = on_reply(reply, &alerts, &errors);
    if (a > acked)
      acked = a;
  }
  es_cli_flush_stdout();
  fprintf(stderr, "earshot send: %lld lines sent and acknowledged, %lld alerts, %lld errors\n",
          rd.lineno, alerts, errors);
  rc = errors ? 1 : 0;
out:
  es_lines_deinit(&rd);
  es_cli_reader_deinit(&r);
  close(fd);
out_file:
  if (in != stdin)
    fclose(in);
  return rc;
}
