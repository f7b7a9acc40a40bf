/*
 * cmd_tail.c: `earshot tail`, the supervisor console in the terminal, and
 * the marks of `earshot ack` over the socket (its arguments are read in
 * cmd_query.c).
 *
 * tail subscribes to earshotd's feed (docs/protocol.md, "The supervisor
 * feed") and prints one line per alert: time, call, agent, queue,
 * category, severity, the words that triggered it and the tip; backup
 * alerts stand out and show their reason; marks other supervisors make
 * show as they happen. When the daemon goes away it reconnects by itself
 * with "since" set to the last alert it showed, so a restart loses
 * nothing on screen.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"

#define TAIL_RECONNECT_MAX_MS 5000 /* longest wait between reconnection attempts */

struct tail {
  struct es_cli_path socket;
  int json, color, reconnect;
  long long count;      /* stop after this many alerts (0: never) */
  long long shown;
  long long last_id;    /* the last alert shown; -1: none yet */
  cJSON *filters;       /* owned: the subscribe object without since */
};

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *sev_color(const char *sev, const char *cat) {
  if (cat && strcmp(cat, "backup") == 0)
    return "\033[1;41;97m"; /* white on red, bold */
  if (sev == NULL)
    return "";
  if (strcmp(sev, "critical") == 0)
    return "\033[1;31m";
  if (strcmp(sev, "high") == 0)
    return "\033[31m";
  if (strcmp(sev, "medium") == 0)
    return "\033[33m";
  if (strcmp(sev, "low") == 0)
    return "\033[36m";
  return "\033[2m";
}

static void print_alert(struct tail *t, const cJSON *a) {
  const char *cat = jstr(a, "category"), *sev = jstr(a, "severity");
  const char *words = jstr(a, "matched"), *tip = jstr(a, "tip");
  const char *agent = jstr(a, "agent"), *queue = jstr(a, "queue");
  double when = jnum(a, "time"), heat = jnum(a, "heat");
  int backup = cat && strcmp(cat, "backup") == 0;
  const char *on = t->color ? sev_color(sev, cat) : "", *off = t->color ? "\033[0m" : "";
  char stamp[32] = "--:--:--";

  if (isfinite(when)) {
    time_t s = (time_t)when;
    struct tm tm;
    if (localtime_r(&s, &tm))
      strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
  }
  printf("%s #%.0f %s agent=%s queue=%s %s%s%s %s%s%s", stamp, jnum(a, "id"),
         jstr(a, "call_id") ? jstr(a, "call_id") : "?", agent ? agent : "-",
         queue ? queue : "-", on, backup ? "BACKUP" : cat ? cat : "?", off, on,
         sev ? sev : "?", off);
  if (isfinite(heat))
    printf(" heat=%.1f", heat);
  if (words)
    printf(" \"%s\"", words);
  putchar('\n');
  if (backup) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "reason");
    const char *sum = jstr(r, "summary");
    printf("    %swhy:%s %s\n", on, off, sum ? sum : "(no reason given)");
  } else {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(a, "reason");
    if (cJSON_IsObject(r) && jstr(r, "missed"))
      printf("    missed (%s) after \"%s\"\n", jstr(r, "missed"),
             jstr(cJSON_GetObjectItemCaseSensitive(r, "trigger"), "words")
                 ? jstr(cJSON_GetObjectItemCaseSensitive(r, "trigger"), "words")
                 : "");
  }
  if (tip)
    printf("    tip: %s\n", tip);
}

static void print_mark(struct tail *t, const cJSON *m) {
  const char *by = jstr(m, "by");
  printf("         #%.0f marked %s%s%s%s by %s\n", jnum(m, "alert_id"), t->color ? "\033[1m" : "",
         jstr(m, "mark") ? jstr(m, "mark") : "?", t->color ? "\033[0m" : "", "",
         by ? by : "someone");
}

/* One connection: subscribe, print until the daemon goes away. Returns 0
 * when the count was reached, 1 when the connection ended, -1 when it
 * could not be made, 2 on a refused subscription (no point retrying). */
static int tail_once(struct tail *t, int quiet) {
  struct es_cli_reader r;
  char *line, *req;
  int fd = es_cli_connect(&t->socket, quiet), rc = 1;
  cJSON *sub;

  if (fd < 0)
    return -1;
  sub = cJSON_Duplicate(t->filters, 1);
  if (sub == NULL) {
    close(fd);
    return -1;
  }
  if (t->last_id >= 0)
    cJSON_AddNumberToObject(sub, "since", (double)t->last_id);
  req = cJSON_PrintUnformatted(sub);
  cJSON_Delete(sub);
  if (req == NULL || es_cli_write_all(fd, req, strlen(req)) != 0 ||
      es_cli_write_all(fd, "\n", 1) != 0) {
    free(req);
    close(fd);
    return 1;
  }
  free(req);
  es_cli_reader_init(&r, fd);
  while (es_cli_read_reply(&r, -1, &line) == 1) {
    cJSON *o = cJSON_Parse(line);
    const char *type = jstr(o, "type");
    if (type == NULL) {
      cJSON_Delete(o);
      continue;
    }
    if (strcmp(type, "feed_alert") == 0) {
      double id = jnum(o, "id");
      if (isfinite(id) && (long long)id <= t->last_id) {
        cJSON_Delete(o); /* never shown twice */
        continue;
      }
      if (isfinite(id))
        t->last_id = (long long)id;
      if (t->json)
        printf("%s\n", line);
      else
        print_alert(t, o);
      es_cli_flush_stdout();
      if (t->count && ++t->shown >= t->count) {
        cJSON_Delete(o);
        rc = 0;
        break;
      }
    } else if (strcmp(type, "feed_mark") == 0) {
      if (t->json)
        printf("%s\n", line);
      else
        print_mark(t, o);
      es_cli_flush_stdout();
    } else if (strcmp(type, "subscribed") == 0) {
      if (t->last_id < 0)
        t->last_id = (long long)jnum(o, "last_id");
    } else if (strcmp(type, "error") == 0) {
      fprintf(stderr, "earshot tail: earshotd says: %s\n",
              jstr(o, "message") ? jstr(o, "message") : line);
      if (jstr(o, "code") && strcmp(jstr(o, "code"), "bad_subscribe") == 0) {
        cJSON_Delete(o);
        rc = 2;
        break;
      }
    }
    cJSON_Delete(o);
  }
  es_cli_reader_deinit(&r);
  close(fd);
  return rc;
}

static void tail_usage(FILE *f) {
  fprintf(f, "usage: earshot tail [--socket PATH | --config FILE] [--severity MIN]\n"
             "                    [--category NAME]... [--queue NAME]... [--agent NAME]...\n"
             "                    [--since ID] [--json] [--count N] [--no-reconnect]\n"
             "Prints every alert of every call as earshotd raises it, one line each; backup\n"
             "alerts show their reason. Reconnects by itself and resumes after the last alert\n"
             "shown. --since ID first shows the stored alerts after that id. --json prints the\n"
             "raw feed records. --count N stops after N alerts. --socket PATH: earshotd's\n"
             "socket; --config FILE: earshotd's config file, the socket it names.\n%s",
          es_cli_find_help);
}

static int add_name(cJSON *filters, const char *key, const char *name) {
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(filters, key);
  if (arr == NULL)
    arr = cJSON_AddArrayToObject(filters, key);
  return arr && cJSON_AddItemToArray(arr, cJSON_CreateString(name)) ? 0 : -1;
}

int es_cmd_tail(int argc, char **argv) {
  static const struct option longopts[] = {
    {"socket", required_argument, NULL, 's'},   {"severity", required_argument, NULL, 'S'},
    {"category", required_argument, NULL, 'c'}, {"queue", required_argument, NULL, 'q'},
    {"agent", required_argument, NULL, 'a'},    {"since", required_argument, NULL, 'i'},
    {"json", no_argument, NULL, 'j'},           {"count", required_argument, NULL, 'n'},
    {"no-reconnect", no_argument, NULL, 'R'},   {"help", no_argument, NULL, 'h'},
    {"config", required_argument, NULL, 'C'},   {NULL, 0, NULL, 0},
  };
  const char *sock_flag = NULL, *config = NULL;
  struct tail t = {.color = isatty(STDOUT_FILENO), .reconnect = 1, .last_id = -1};
  int c, rc, wait_ms = 250, warned = 0;
  char *end;

  t.filters = cJSON_CreateObject();
  if (t.filters == NULL || !cJSON_AddStringToObject(t.filters, "type", "subscribe"))
    return 1;
  optind = 1;
  while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
    switch (c) {
    case 's': sock_flag = optarg; break;
    case 'C': config = optarg; break;
    case 'S':
      if (strcmp(optarg, "info") && strcmp(optarg, "low") && strcmp(optarg, "medium") &&
          strcmp(optarg, "high") && strcmp(optarg, "critical")) {
        fprintf(stderr, "earshot tail: unknown severity \"%s\" (info, low, medium, high, "
                        "critical)\n", optarg);
        cJSON_Delete(t.filters);
        return 2;
      }
      cJSON_AddStringToObject(t.filters, "min_severity", optarg);
      break;
    case 'c': add_name(t.filters, "categories", optarg); break;
    case 'q': add_name(t.filters, "queues", optarg); break;
    case 'a': add_name(t.filters, "agents", optarg); break;
    case 'i':
      t.last_id = strtoll(optarg, &end, 10);
      if (*end || t.last_id < 0) {
        fprintf(stderr, "earshot tail: --since takes an alert id (a whole number)\n");
        cJSON_Delete(t.filters);
        return 2;
      }
      break;
    case 'j': t.json = 1; t.color = 0; break;
    case 'n': t.count = strtoll(optarg, NULL, 10); break;
    case 'R': t.reconnect = 0; break;
    case 'h':
      tail_usage(stdout);
      cJSON_Delete(t.filters);
      return 0;
    default:
      tail_usage(stderr);
      cJSON_Delete(t.filters);
      return 2;
    }
  }
  if (optind < argc) {
    tail_usage(stderr);
    cJSON_Delete(t.filters);
    return 2;
  }
  if (es_cli_find_socket(sock_flag, config, &t.socket) != 0) {
    cJSON_Delete(t.filters);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  for (;;) {
    rc = tail_once(&t, warned);
    if (rc == 0 || rc == 2)
      break;
    if (!t.reconnect) {
      rc = rc < 0 ? 1 : 0;
      break;
    }
    if (rc == 1) {
      if (!t.json)
        fprintf(stderr, "earshot tail: connection to earshotd closed; reconnecting...\n");
      wait_ms = 250;
    } else {
      warned = 1; /* said once what is wrong; keep trying quietly */
    }
    /* A person's console waiting for a daemon: a plain back-off. */
    struct timespec ts = {wait_ms / 1000, (long)(wait_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    wait_ms = wait_ms * 2 > TAIL_RECONNECT_MAX_MS ? TAIL_RECONNECT_MAX_MS : wait_ms * 2;
  }
  cJSON_Delete(t.filters);
  return rc == 2 ? 1 : 0;
}

int es_cli_ack_socket(const struct es_cli_ack *req) {
  static const char hello[] = "{\"type\":\"hello\",\"client\":\"earshot-ack\",\"acks\":true}\n";
  struct es_cli_reader r;
  char *line;
  int confirmed = 0, failed = 0, rc = 1;
  int fd = es_cli_connect(req->socket, 1);

  if (fd < 0)
    return -1;
  es_cli_reader_init(&r, fd);
  if (es_cli_write_all(fd, hello, sizeof(hello) - 1) != 0)
    goto broken;
  for (size_t i = 0; i < req->nids; i++) {
    cJSON *mark = cJSON_CreateObject();
    cJSON_AddStringToObject(mark, "type", "mark");
    cJSON_AddNumberToObject(mark, "alert_id", (double)req->ids[i]);
    cJSON_AddStringToObject(mark, "mark", req->mark);
    if (req->by)
      cJSON_AddStringToObject(mark, "by", req->by);
    if (req->note)
      cJSON_AddStringToObject(mark, "note", req->note);
    cJSON_AddNumberToObject(mark, "seq", (double)(i + 1));
    char *text = cJSON_PrintUnformatted(mark);
    cJSON_Delete(mark);
    int bad = text == NULL || es_cli_write_all(fd, text, strlen(text)) != 0 ||
              es_cli_write_all(fd, "\n", 1) != 0;
    free(text);
    if (bad)
      goto broken;
  }
  /* Each mark is confirmed (feed_mark, with the name earshotd stored) or
   * refused (error); the ack of the last seq says the marks are committed. */
  while (es_cli_read_reply(&r, 30000, &line) == 1) {
    cJSON *o = cJSON_Parse(line);
    const char *type = jstr(o, "type");
    if (type && strcmp(type, "feed_mark") == 0) {
      const char *by = jstr(o, "by");
      printf("alert %.0f marked %s%s%s\n", jnum(o, "alert_id"), req->mark, by ? " by " : "",
             by ? by : "");
      confirmed++;
    } else if (type && strcmp(type, "error") == 0) {
      fprintf(stderr, "earshot ack: %s\n", jstr(o, "message") ? jstr(o, "message") : line);
      failed++;
    } else if (type && strcmp(type, "ack") == 0 && jnum(o, "seq") >= (double)req->nids) {
      cJSON_Delete(o);
      rc = failed ? 1 : 0;
      goto done;
    }
    cJSON_Delete(o);
  }
broken:
  fprintf(stderr, "earshot ack: earshotd did not confirm the marks (%d of %zu confirmed)\n",
          confirmed, req->nids);
done:
  es_cli_reader_deinit(&r);
  close(fd);
  return rc;
}
