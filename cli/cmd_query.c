/*
 * cmd_query.c: the QA analysts' verbs over the alert store
 * (docs/analysts.md):
 *   earshot alerts | calls | call ID | agents | search WORDS...
 *   earshot purge --older-than AGE      (retention, read-write)
 *   earshot ack ID... --taken|--resolved|--false-positive   (through
 *                                       earshotd, cmd_tail.c; else read-write)
 *   earshot rules stats                 (called from cmd_rules.c)
 *
 * Queries open the store read-only (PRAGMA query_only), run one statement
 * at a time (each its own short read transaction in WAL mode, so
 * earshotd's writer is never blocked) and never change the file. Exit
 * status: 0 done, 1 the database or a query failed (or named something
 * that does not exist), 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli.h"
#include "cmdline.h"
#include "query.h"

#define SQL_MAX 16384       /* bytes of one generated statement */
#define SQL_MAX_PARAMS 48
#define MAX_CATEGORY_COLUMNS 20 /* `agents`: one column per category, at most */
#define DEFAULT_LIMIT 1000  /* rows of alerts, calls and search unless --limit */
#define DEFAULT_WIDTH 60    /* widest table cell unless --wide */
#define PURGE_STEP_ROWS 10000 /* rows per purge transaction */
#define FTS_MAX 4096        /* bytes of a search expression */

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define STR_(x) #x
#define STR(x) STR_(x)

/* Options; each verb accepts a subset (allowed_opts). */
enum opt {
  O_DB, O_FORMAT, O_SINCE, O_UNTIL, O_AGENT, O_QUEUE, O_RULE, O_CATEGORY, O_SEVERITY,
  O_CALL, O_LIMIT, O_WIDE, O_SPEAKER, O_MARK, O_RANK, O_FTS, O_OLDER, O_DRY_RUN,
  O_TAKEN, O_RESOLVED, O_FALSE_POSITIVE, O_BY, O_NOTE, O_SOCKET, O_CONFIG, O_HELP, O_COUNT
};

/* What `agents` shows for the calls with no agent (their start never came,
 * or named none), and what --agent takes to pick them. */
#define NO_AGENT "(no agent)"

#define BIT(o) (1u << (o))
#define FILTERS                                                                    \
  (BIT(O_SINCE) | BIT(O_UNTIL) | BIT(O_AGENT) | BIT(O_QUEUE) | BIT(O_RULE) |         \
   BIT(O_CATEGORY) | BIT(O_SEVERITY) | BIT(O_CALL))
#define COMMON (BIT(O_DB) | BIT(O_CONFIG) | BIT(O_FORMAT) | BIT(O_WIDE) | BIT(O_HELP))

enum verb { V_ALERTS, V_CALLS, V_CALL, V_AGENTS, V_SEARCH, V_RULES_STATS, V_PURGE, V_ACK };

/* What `--help` says of each verb, between its usage line and the options
 * all verbs share; docs/analysts.md says the same at more length. */
static const struct verb_info {
  const char *name;
  unsigned opts;
  const char *usage;
  const char *help;
} verbs[] = {
  [V_ALERTS] = {"alerts", COMMON | FILTERS | BIT(O_LIMIT) | BIT(O_SPEAKER) | BIT(O_MARK),
                "alerts [FILTERS] [--speaker agent|customer] [--mark MARK]",
                "Alerts, newest first, with their latest feedback mark.\n"
                "  --speaker agent|customer  lines said by them\n"
                "  --mark MARK               alerts whose latest mark is MARK: taken, resolved,\n"
                "                            false_positive (or false-positive), or none (not\n"
                "                            marked)\n"},
  [V_CALLS] = {"calls", COMMON | FILTERS | BIT(O_LIMIT), "calls [FILTERS]",
               "Calls with their summaries, newest first. With --rule, --category or\n"
               "--severity: the calls that had such an alert, and `alerts` counts only those.\n"},
  [V_CALL] = {"call", COMMON, "call CALL_ID [--format F] [--wide] [--db PATH | --config FILE]",
              "One call's timeline: its summary (its row in calls), then every alert of the\n"
              "call in the order raised, with the heat after each. --format json prints one\n"
              "object {\"call\": ..., \"alerts\": [...]}; ndjson {\"call\": ...} then one\n"
              "{\"alert\": ...} a line; csv the alerts only. An id with neither a call row nor\n"
              "alerts exits 1.\n"},
  [V_AGENTS] = {"agents", COMMON | FILTERS | BIT(O_LIMIT), "agents [FILTERS]",
                "Per agent, for the calls that started in the period, most alerts first:\n"
                "calls, alerts (only those that pass --rule, --category, --severity), serious,\n"
                "backups, escalated, deescalated, deescalation_rate, and one column per\n"
                "category (at most 20). Calls with no agent (no start line, or one that named\n"
                "none) count under \"" NO_AGENT "\", which --agent takes too.\n"},
  [V_SEARCH] = {"search", COMMON | FILTERS | BIT(O_LIMIT) | BIT(O_RANK) | BIT(O_FTS),
                "search [FILTERS] [--rank] [--fts] WORDS...",
                "Full-text search over the stored alert text (the line, the matched words, the\n"
                "tip and the rule id), newest first, with a snippet of each hit. Every word\n"
                "must appear, in any order and case, accents ignored; a word ending in * is a\n"
                "prefix; punctuation and words like OR are just text.\n"
                "  --rank  best match first instead of newest first\n"
                "  --fts   WORDS are an FTS5 query: \"a phrase\", OR, NOT, NEAR(a b),\n"
                "          text:word for one column (text, matched, tip, rule_id); a malformed\n"
                "          one exits 2\n"},
  [V_RULES_STATS] = {"rules stats", COMMON | FILTERS | BIT(O_LIMIT), "rules stats [FILTERS]",
                     "Per rule that fired, most hits first: hits, calls, reviewed (alerts with a\n"
                     "mark), false_positives (latest mark false_positive), fp_rate, last_hit.\n"},
  [V_PURGE] = {"purge",
               BIT(O_DB) | BIT(O_CONFIG) | BIT(O_FORMAT) | BIT(O_OLDER) | BIT(O_DRY_RUN) |
                   BIT(O_HELP),
               "purge --older-than AGE [--dry-run] [--format F] [--db PATH | --config FILE]",
               "Deletes alerts older than AGE, with their feedback marks and search-index\n"
               "entries, and calls that ended (or, never ended, started) before then; prints\n"
               "what it deleted.\n"
               "  --older-than AGE  30d, 12h, 2w... or a time (2026-01-01, as in the filters)\n"
               "  --dry-run         only count what would go (read-only)\n"},
  [V_ACK] = {"ack",
             BIT(O_DB) | BIT(O_SOCKET) | BIT(O_CONFIG) | BIT(O_TAKEN) | BIT(O_RESOLVED) |
                 BIT(O_FALSE_POSITIVE) | BIT(O_BY) | BIT(O_NOTE) | BIT(O_HELP),
             "ack ALERT_ID... --taken|--resolved|--false-positive [--by NAME] [--note TEXT]\n"
             "                   [--socket PATH | --db PATH] [--config FILE]",
             "Stores a feedback mark on each alert (the id column of `earshot alerts`, the #id\n"
             "of `earshot tail`), at most " STR(ES_CLI_ACK_MAX_IDS) " ids at once.\n"
             "  --taken, --resolved, --false-positive  the mark: exactly one\n"
             "  --by NAME      who marks (default: $USER, else your login name)\n"
             "  --note TEXT    a note, masked like transcript text\n"
             "  --socket PATH  earshotd's socket. Through earshotd (the default) every\n"
             "                 `earshot tail` sees the mark at once.\n"
             "  --db PATH      write to the database directly, all the marks or none (also\n"
             "                 what happens when earshotd cannot be reached)\n"},
};

static const struct option longopts[] = {
  {"db", required_argument, NULL, O_DB},
  {"format", required_argument, NULL, O_FORMAT},
  {"since", required_argument, NULL, O_SINCE},
  {"until", required_argument, NULL, O_UNTIL},
  {"agent", required_argument, NULL, O_AGENT},
  {"queue", required_argument, NULL, O_QUEUE},
  {"rule", required_argument, NULL, O_RULE},
  {"category", required_argument, NULL, O_CATEGORY},
  {"severity", required_argument, NULL, O_SEVERITY},
  {"call", required_argument, NULL, O_CALL},
  {"limit", required_argument, NULL, O_LIMIT},
  {"wide", no_argument, NULL, O_WIDE},
  {"speaker", required_argument, NULL, O_SPEAKER},
  {"mark", required_argument, NULL, O_MARK},
  {"rank", no_argument, NULL, O_RANK},
  {"fts", no_argument, NULL, O_FTS},
  {"older-than", required_argument, NULL, O_OLDER},
  {"dry-run", no_argument, NULL, O_DRY_RUN},
  {"taken", no_argument, NULL, O_TAKEN},
  {"resolved", no_argument, NULL, O_RESOLVED},
  {"false-positive", no_argument, NULL, O_FALSE_POSITIVE},
  {"by", required_argument, NULL, O_BY},
  {"note", required_argument, NULL, O_NOTE},
  {"socket", required_argument, NULL, O_SOCKET},
  {"config", required_argument, NULL, O_CONFIG},
  {"help", no_argument, NULL, O_HELP},
  {NULL, 0, NULL, 0},
};

static const char *const filters_help =
    "FILTERS: --since TIME --until TIME --agent NAME --queue NAME --rule ID (or a glob,\n"
    "  e.g. 'agent.*') --category NAME --severity LEVEL (that level and above)\n"
    "  --call ID --limit N (0: no limit; alerts, calls and search show 1000 by default)\n"
    "TIME: 2026-11-24, 2026-11-24T10:00:00Z (UTC unless an offset is given), unix\n"
    "  seconds, or an age: 90m, 24h, 7d, 2w; also now, today, yesterday (UTC)\n";

struct args {
  enum verb verb;
  const char *db_flag, *socket_flag, *config; /* --db, --socket, --config */
  const char *db;  /* the database, once open_store() has found it */
  struct es_cli_path db_where;
  enum es_out_format format;
  int wide, rank, fts, dry_run;
  int has_since, has_until;
  double since, until, now;
  const char *agent, *queue, *rule, *category, *severity, *call, *speaker, *mark;
  long long limit; /* -1: the verb's default */
  double older_than;
  int has_older;
  int ack_mark;    /* enum es_mark, or -1 */
  int ack_opt;     /* the option that gave it */
  const char *by, *note;
  char **rest;     /* positional arguments */
  int nrest;
};

static double wall_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage_error(const struct args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int usage_error(const struct args *a, const char *fmt, ...) {
  va_list ap;
  fputs("earshot: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nusage: earshot %s\n", verbs[a->verb].usage);
  if (verbs[a->verb].opts & BIT(O_SINCE)) fputs(filters_help, stderr);
  return EXIT_USAGE;
}

/* The output and database options of the verbs that take them. */
static void output_help(FILE *f, unsigned opts) {
  if (opts & BIT(O_FORMAT))
    fprintf(f, "Output: --format table|csv|json|ndjson (default table)%s\n",
            opts & BIT(O_WIDE) ? ", --wide (no limit\n  on the width of a table cell; else 60 columns)" : "");
  fputs("--db PATH: the alert store; --config FILE: earshotd's config file, the store it\n"
        "  names. See docs/analysts.md.\n",
        f);
  fputs(es_cli_find_help, f);
}

static void print_help(enum verb v) {
  printf("usage: earshot %s\n", verbs[v].usage);
  fputs(verbs[v].help, stdout);
  if (verbs[v].opts & BIT(O_SINCE)) fputs(filters_help, stdout);
  output_help(stdout, verbs[v].opts);
}

/* Checks name against a NULL-terminated list; on failure says which
 * values are valid. */
static int one_of(const struct args *a, const char *what, const char *name,
                  const char *const *valid) {
  for (const char *const *v = valid; *v; v++)
    if (strcmp(name, *v) == 0) return 0;
  fprintf(stderr, "earshot: unknown %s \"%s\"; valid values:", what, name);
  for (const char *const *v = valid; *v; v++) fprintf(stderr, " %s", *v);
  fputc('\n', stderr);
  (void)a;
  return -1;
}

/* An option getopt_long() refused with '?': which problem it was. */
static int bad_option(const struct args *a, const char *arg) {
  char msg[640];
  es_cmdline_bad_option(longopts, arg, msg, sizeof msg);
  return usage_error(a, "%s", msg);
}

static int parse_args(struct args *a, int argc, char **argv) {
  static const char *const severities[] = {"info", "low", "medium", "high", "critical", NULL};
  static const char *const formats[] = {"table", "csv", "json", "ndjson", NULL};
  static const char *const speakers[] = {"agent", "customer", NULL};
  static const char *const marks[] = {"taken", "resolved", "false_positive", "none", NULL};
  int c;
  a->now = wall_now();
  a->limit = -1;
  a->ack_mark = -1;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
    if (c == '?') return bad_option(a, argv[optind - 1]);
    if (c == ':') return usage_error(a, "option \"%s\" needs a value", argv[optind - 1]);
    if (!(verbs[a->verb].opts & BIT(c)))
      return usage_error(a, "--%s does not apply to `earshot %s`", longopts[c].name,
                         verbs[a->verb].name);
    switch ((enum opt)c) {
    case O_DB: a->db_flag = optarg; break;
    case O_FORMAT:
      if (one_of(a, "format", optarg, formats) != 0) return EXIT_USAGE;
      es_out_parse_format(optarg, &a->format);
      break;
    case O_SINCE:
    case O_UNTIL: {
      double t;
      if (es_time_parse(optarg, a->now, &t) != 0)
        return usage_error(a, "--%s: cannot read \"%s\" as a time", longopts[c].name, optarg);
      if (c == O_SINCE)
        a->since = t, a->has_since = 1;
      else
        a->until = t, a->has_until = 1;
      break;
    }
    case O_AGENT: a->agent = optarg; break;
    case O_QUEUE: a->queue = optarg; break;
    case O_RULE: a->rule = optarg; break;
    case O_CATEGORY: a->category = optarg; break;
    case O_SEVERITY:
      if (one_of(a, "severity", optarg, severities) != 0) return EXIT_USAGE;
      a->severity = optarg;
      break;
    case O_CALL: a->call = optarg; break;
    case O_LIMIT: {
      char *end;
      errno = 0;
      a->limit = strtoll(optarg, &end, 10);
      if (errno || *end || end == optarg || a->limit < 0 || a->limit > 1000000000)
        return usage_error(a, "--limit must be a number of rows (0: no limit)");
      break;
    }
    case O_WIDE: a->wide = 1; break;
    case O_SPEAKER:
      if (one_of(a, "speaker", optarg, speakers) != 0) return EXIT_USAGE;
      a->speaker = optarg;
      break;
    case O_MARK:
      a->mark = strcmp(optarg, "false-positive") == 0 ? "false_positive" : optarg;
      if (one_of(a, "mark", a->mark, marks) != 0) return EXIT_USAGE;
      break;
    case O_RANK: a->rank = 1; break;
    case O_FTS: a->fts = 1; break;
    case O_OLDER:
      if (es_time_parse(optarg, a->now, &a->older_than) != 0)
        return usage_error(a, "--older-than: cannot read \"%s\" as an age (30d) or a time",
                           optarg);
      a->has_older = 1;
      break;
    case O_DRY_RUN: a->dry_run = 1; break;
    case O_TAKEN:
    case O_RESOLVED:
    case O_FALSE_POSITIVE: {
      static const int mark_of[] = {[O_TAKEN] = ES_MARK_TAKEN, [O_RESOLVED] = ES_MARK_RESOLVED,
                                    [O_FALSE_POSITIVE] = ES_MARK_FALSE_POSITIVE};
      if (a->ack_mark >= 0 && a->ack_mark != mark_of[c])
        return usage_error(a, "--%s and --%s conflict: give one of --taken, --resolved,"
                              " --false-positive", longopts[a->ack_opt].name, longopts[c].name);
      a->ack_mark = mark_of[c];
      a->ack_opt = c;
      break;
    }
    case O_BY:
      if (optarg[0] == '\0') return usage_error(a, "--by needs a name");
      a->by = optarg;
      break;
    case O_NOTE: a->note = optarg; break;
    case O_SOCKET: a->socket_flag = optarg; break;
    case O_CONFIG: a->config = optarg; break;
    case O_HELP: print_help(a->verb); return -1;
    case O_COUNT: break;
    }
  }
  if (a->has_since && a->has_until && a->since >= a->until)
    return usage_error(a, "--since must be earlier than --until");
  a->rest = argv + optind;
  a->nrest = argc - optind;
  return 0;
}

/* ---- the database ----------------------------------------------------- */

static int open_store(struct args *a, int read_only, struct es_store **out) {
  struct es_store_opts opts;
  struct es_diags diags;
  struct stat sb;
  int rc;
  if (a->db == NULL) {
    if (es_cli_find_db(a->db_flag, a->config, &a->db_where) != 0) return EXIT_FAIL;
    a->db = a->db_where.path;
  }
  if (stat(a->db, &sb) != 0) {
    fprintf(stderr,
            "earshot: no alert database at %s%s: %s\n"
            "earshotd creates it when it starts. To read another one, give --db PATH or\n"
            "--config FILE (earshotd's config file), or set EARSHOT_HOME to the directory\n"
            "that holds earshot.db.\n",
            a->db, a->db_where.from, strerror(errno));
    return EXIT_FAIL;
  }
  /* SQLite would call a directory "disk I/O error", and would make an
   * empty file into a new store (read-write) or call it an old one. */
  if (S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "earshot: %s is a directory, not an alert database (give the path of the"
                    " file, e.g. %s/earshot.db)\n", a->db, a->db);
    return EXIT_FAIL;
  }
  if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
    fprintf(stderr, "earshot: %s: empty file, not an earshot store\n", a->db);
    return EXIT_FAIL;
  }
  es_store_opts_init(&opts);
  opts.read_only = read_only;
  es_diags_init(&diags);
  rc = es_store_open(a->db, &opts, out, &diags);
  if (rc != 0) {
    for (size_t i = 0; i < diags.count; i++)
      fprintf(stderr, "earshot: %s: %s\n", a->db, diags.items[i].message);
    if (diags.count == 0) fprintf(stderr, "earshot: %s: %s\n", a->db, es_strerror(rc));
    if (rc == ES_EIO && !read_only)
      fprintf(stderr, "(this command writes to the database: run it as a user who may)\n");
  }
  es_diags_deinit(&diags);
  return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

static int query_failed(const struct args *a, struct es_store *s) {
  fprintf(stderr, "earshot: %s: %s\n", a->db, es_store_errmsg(s));
  return EXIT_FAIL;
}

/* ---- building statements ---------------------------------------------- */

struct sql {
  char text[SQL_MAX];
  size_t len;
  const char *params[SQL_MAX_PARAMS];
  char numbers[SQL_MAX_PARAMS][40]; /* text of numeric parameters */
  size_t n;
  int overflow;
};

static void sql_add(struct sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sql_add(struct sql *q, const char *fmt, ...) {
  va_list ap;
  int n;
  if (q->overflow) return;
  va_start(ap, fmt);
  n = vsnprintf(q->text + q->len, sizeof q->text - q->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof q->text - q->len)
    q->overflow = 1;
  else
    q->len += (size_t)n;
}

/* Binds a string parameter; returns its number (?N). */
static int sql_param(struct sql *q, const char *value) {
  if (q->n == SQL_MAX_PARAMS) {
    q->overflow = 1;
    return 1;
  }
  q->params[q->n] = value;
  return (int)++q->n;
}

/* A number parameter, as text that SQL then casts. */
static int sql_number(struct sql *q, double v) {
  if (q->n == SQL_MAX_PARAMS) {
    q->overflow = 1;
    return 1;
  }
  snprintf(q->numbers[q->n], sizeof q->numbers[0], "%.17g", v);
  return sql_param(q, q->numbers[q->n]);
}

static int has_glob(const char *s) { return strpbrk(s, "*?[") != NULL; }

/* --agent on calls `cl`. */
static void agent_filter(struct sql *q, const struct args *a, const char *cl) {
  if (a->agent == NULL) return;
  if (strcmp(a->agent, NO_AGENT) == 0)
    sql_add(q, " AND (%s.agent IS NULL OR %s.agent = '')", cl, cl);
  else
    sql_add(q, " AND %s.agent = ?%d", cl, sql_param(q, a->agent));
}

/* Conditions on alerts `al` (and on calls `cl` when calls_too) from the
 * common filters, each starting with " AND". */
static void alert_filters(struct sql *q, const struct args *a, const char *al, const char *cl,
                          int calls_too) {
  if (a->has_since) sql_add(q, " AND %s.ts >= CAST(?%d AS REAL)", al, sql_number(q, a->since));
  if (a->has_until) sql_add(q, " AND %s.ts < CAST(?%d AS REAL)", al, sql_number(q, a->until));
  if (a->rule)
    sql_add(q, " AND %s.rule_id %s ?%d", al, has_glob(a->rule) ? "GLOB" : "=",
            sql_param(q, a->rule));
  if (a->category) sql_add(q, " AND %s.category = ?%d", al, sql_param(q, a->category));
  if (a->severity)
    sql_add(q,
            " AND %s.severity IN (SELECT name FROM severity_levels WHERE rank >="
            " (SELECT rank FROM severity_levels WHERE name = ?%d))",
            al, sql_param(q, a->severity));
  if (a->call) sql_add(q, " AND %s.call_id = ?%d", al, sql_param(q, a->call));
  if (a->speaker) sql_add(q, " AND %s.speaker = ?%d", al, sql_param(q, a->speaker));
  if (calls_too) {
    agent_filter(q, a, cl);
    if (a->queue) sql_add(q, " AND %s.queue = ?%d", cl, sql_param(q, a->queue));
  }
}

static void sql_limit(struct sql *q, long long limit) {
  /* One row more than shown tells whether there were more. */
  if (limit > 0) sql_add(q, " LIMIT %lld", limit + 1);
}

/* ---- running them ------------------------------------------------------ */

struct sink {
  struct es_out *out;
  long long limit, seen;
  int more;
};

static int sink_row(void *ud, int ncols, const char *const *names, const char *const *values,
                    const enum es_store_type *types) {
  struct sink *k = ud;
  if (values && k->limit > 0 && k->seen >= k->limit) {
    k->more = 1;
    return 1;
  }
  if (values) k->seen++;
  return es_out_row(k->out, ncols, names, values, types) != 0;
}

static const char *const json_columns[] = {"hits_by_category", "reason", "attributes", NULL};

static void out_opts(const struct args *a, struct es_out_opts *o) {
  memset(o, 0, sizeof *o);
  o->format = a->format;
  o->max_width = a->wide ? 0 : DEFAULT_WIDTH;
  o->json_columns = json_columns;
}

/* Runs q and prints its rows (at most `limit` when > 0); when there were
 * more, says on stderr that it showed "the <which> <limit> <what>": which
 * says how q orders them ("newest", "first"). */
static int run_list(struct args *a, struct es_store *s, struct sql *q, long long limit,
                    const char *which, const char *what) {
  struct es_out_opts oo;
  struct sink k = {NULL, limit, 0, 0};
  int rc;
  if (q->overflow) {
    fprintf(stderr, "earshot: the query is too long (too many or too long filters)\n");
    return EXIT_USAGE;
  }
  out_opts(a, &oo);
  if ((k.out = es_out_new(stdout, &oo)) == NULL) {
    fprintf(stderr, "earshot: out of memory\n");
    return EXIT_FAIL;
  }
  rc = es_store_query_typed(s, q->text, q->params, q->n, sink_row, &k);
  if (rc != 0) {
    es_out_free(k.out);
    return query_failed(a, s);
  }
  if (es_out_finish(k.out) != 0) {
    /* A write error is reported once, by main(). */
    if (!ferror(stdout)) fprintf(stderr, "earshot: out of memory\n");
    es_out_free(k.out);
    return EXIT_FAIL;
  }
  es_out_free(k.out);
  if (k.more)
    fprintf(stderr, "earshot: showing the %s %lld %s; --limit N for more (0: all)\n", which,
            limit, what);
  return EXIT_OK;
}

/* One text value from a one-row query; "" when no row or NULL. */
struct one {
  char value[1024];
  int found;
};

static int one_row(void *ud, int ncols, const char *const *names, const char *const *values,
                   const enum es_store_type *types) {
  struct one *o = ud;
  (void)names, (void)types;
  if (values && ncols > 0) {
    o->found = 1;
    snprintf(o->value, sizeof o->value, "%s", values[0] ? values[0] : "");
  }
  return 1;
}

/* When --category or an exact --rule names something no alert has, says
 * so on stderr with the values that exist (a typo is likelier than an
 * empty week). */
static void hint_unknown(struct args *a, struct es_store *s) {
  static const struct {
    const char *column, *flag;
  } what[] = {{"category", "category"}, {"rule_id", "rule"}};
  for (int i = 0; i < 2; i++) {
    const char *value = i == 0 ? a->category : a->rule;
    char sql[512];
    struct one o = {"", 0};
    if (value == NULL || (i == 1 && has_glob(value))) continue;
    snprintf(sql, sizeof sql, "SELECT 1 FROM alerts WHERE %s = ?1 LIMIT 1", what[i].column);
    if (es_store_query_typed(s, sql, &value, 1, one_row, &o) != 0 || o.found) continue;
    snprintf(sql, sizeof sql,
             "SELECT group_concat(v, ', ') FROM (SELECT DISTINCT %s AS v FROM alerts"
             " WHERE %s IS NOT NULL ORDER BY v LIMIT 50)",
             what[i].column, what[i].column);
    o.found = 0;
    es_store_query_typed(s, sql, NULL, 0, one_row, &o);
    fprintf(stderr, "earshot: no stored alert has %s \"%s\"; %s present: %s\n", what[i].flag,
            value, i == 0 ? "categories" : "rules", o.value[0] ? o.value : "(none)");
  }
}

/* ---- the verbs ---------------------------------------------------------- */

/* For sql_add() formats only (the %% are printf's). */
#define ISO_TIME(expr) "strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', " expr ", 'unixepoch')"

static int cmd_alerts(struct args *a, struct es_store *s) {
  static struct sql q;
  long long limit = a->limit < 0 ? DEFAULT_LIMIT : a->limit;
  memset(&q, 0, sizeof q);
  sql_add(&q,
          "SELECT a.id, " ISO_TIME("a.ts") " AS time, a.call_id, c.agent, c.queue, a.speaker,"
          " a.severity, a.category, a.rule_id, round(a.heat, 2) AS heat, m.mark,"
          " a.matched, a.text"
          " FROM alerts AS a LEFT JOIN calls AS c ON c.call_id = a.call_id"
          " LEFT JOIN alert_mark_latest AS m ON m.alert_id = a.id WHERE 1");
  alert_filters(&q, a, "a", "c", 1);
  if (a->mark && strcmp(a->mark, "none") == 0)
    sql_add(&q, " AND m.mark IS NULL");
  else if (a->mark)
    sql_add(&q, " AND m.mark = ?%d", sql_param(&q, a->mark));
  sql_add(&q, " ORDER BY a.ts DESC, a.id DESC");
  sql_limit(&q, limit);
  int rc = run_list(a, s, &q, limit, "newest", "alerts");
  hint_unknown(a, s);
  return rc;
}

/* Conditions on calls `c`; alert filters become "has such an alert". */
static void call_filters(struct sql *q, const struct args *a) {
  if (a->has_since)
    sql_add(q, " AND c.started >= CAST(?%d AS REAL)", sql_number(q, a->since));
  if (a->has_until) sql_add(q, " AND c.started < CAST(?%d AS REAL)", sql_number(q, a->until));
  agent_filter(q, a, "c");
  if (a->queue) sql_add(q, " AND c.queue = ?%d", sql_param(q, a->queue));
  if (a->call) sql_add(q, " AND c.call_id = ?%d", sql_param(q, a->call));
}

/* Conditions on the alerts `a` of a call from --rule, --category and
 * --severity: which of its alerts `calls` picks and counts. */
static void counted_alert_filters(struct sql *q, const struct args *a) {
  struct args only;
  memset(&only, 0, sizeof only);
  only.rule = a->rule;
  only.category = a->category;
  only.severity = a->severity;
  alert_filters(q, &only, "a", "c", 0);
}

static void call_alert_exists(struct sql *q, const struct args *a) {
  if (!a->rule && !a->category && !a->severity) return;
  sql_add(q, " AND EXISTS (SELECT 1 FROM alerts AS a WHERE a.call_id = c.call_id");
  counted_alert_filters(q, a);
  sql_add(q, ")");
}

static int cmd_calls(struct args *a, struct es_store *s) {
  static struct sql q;
  long long limit = a->limit < 0 ? DEFAULT_LIMIT : a->limit;
  memset(&q, 0, sizeof q);
  sql_add(&q,
          "SELECT c.call_id, c.agent, c.queue, " ISO_TIME("c.started") " AS started, "
          ISO_TIME("c.ended") " AS ended, round(c.ended - c.started, 1) AS duration_s,"
          " c.end_reason, (SELECT count(*) FROM alerts AS a WHERE a.call_id = c.call_id");
  counted_alert_filters(&q, a);
  sql_add(&q,
          ") AS alerts, round(c.peak_heat, 2) AS peak_heat, round(c.final_heat, 2) AS final_heat,"
          " c.backup_raised, c.deescalated, c.hits_by_category"
          " FROM calls AS c WHERE 1");
  call_filters(&q, a);
  call_alert_exists(&q, a);
  sql_add(&q, " ORDER BY coalesce(c.started, c.ended) DESC, c.call_id");
  sql_limit(&q, limit);
  int rc = run_list(a, s, &q, limit, "newest", "calls");
  hint_unknown(a, s);
  return rc;
}

/* The call's summary row, kept to print as field/value pairs. */
struct summary {
  int ncols, found;
  char *names[32];
  char *values[32];
  enum es_store_type types[32];
};

static int keep_summary(void *ud, int ncols, const char *const *names, const char *const *values,
                        const enum es_store_type *types) {
  struct summary *m = ud;
  if (values == NULL || ncols > 32) return 1;
  m->found = 1;
  m->ncols = ncols;
  for (int i = 0; i < ncols; i++) {
    m->names[i] = strdup(names[i]);
    m->values[i] = values[i] ? strdup(values[i]) : NULL;
    m->types[i] = types[i];
  }
  return 1;
}

static void summary_free(struct summary *m) {
  for (int i = 0; i < m->ncols; i++) {
    free(m->names[i]);
    free(m->values[i]);
  }
}

static int cmd_call(struct args *a, struct es_store *s) {
  static struct sql q;
  struct summary sum;
  struct es_out_opts oo;
  struct es_out *out = NULL;
  struct sink k = {NULL, 0, 0, 0};
  const char *id;
  int rc = EXIT_FAIL, table = a->format == ES_OUT_TABLE;

  if (a->nrest != 1) return usage_error(a, "give one call id");
  id = a->rest[0];
  memset(&sum, 0, sizeof sum);
  memset(&q, 0, sizeof q);
  sql_add(&q, "SELECT c.call_id, c.agent, c.queue, " ISO_TIME("c.started") " AS started, "
              ISO_TIME("c.ended") " AS ended, round(c.ended - c.started, 1) AS duration_s,"
              " c.end_reason, c.alert_count,"
              " (SELECT count(*) FROM alerts AS a WHERE a.call_id = c.call_id) AS stored_alerts,"
              " round(c.peak_heat, 2) AS peak_heat, round(c.final_heat, 2) AS final_heat,"
              " c.hits_by_category, c.backup_raised, c.deescalated, c.attributes"
              " FROM calls AS c WHERE c.call_id = ?%d",
          sql_param(&q, id));
  if (es_store_query_typed(s, q.text, q.params, q.n, keep_summary, &sum) != 0) {
    summary_free(&sum);
    return query_failed(a, s);
  }
  /* Alerts without a call row (its start was never stored) still make a
   * timeline; neither is no such call, and nothing goes to stdout. */
  if (!sum.found) {
    struct one any = {"", 0};
    if (es_store_query_typed(s, "SELECT 1 FROM alerts WHERE call_id = ?1 LIMIT 1", &id, 1,
                             one_row, &any) != 0)
      return query_failed(a, s);
    if (!any.found) {
      fprintf(stderr, "earshot: no call \"%s\" in %s\n", id, a->db);
      return EXIT_FAIL;
    }
  }

  memset(&q, 0, sizeof q);
  sql_param(&q, id);
  sql_add(&q,
          "WITH top AS (SELECT max(coalesce((SELECT max(heat) FROM alerts WHERE call_id = ?1),"
          " 0), coalesce((SELECT peak_heat FROM calls WHERE call_id = ?1), 0)) AS h)"
          " SELECT a.id, " ISO_TIME("a.ts") " AS time, round(a.call_ts, 1) AS call_ts,"
          " a.speaker, a.severity, %s a.rule_id, round(a.heat, 2) AS heat,",
          table ? "" : "a.category,");
  if (table)
    sql_add(&q, " CASE WHEN a.heat > 0 AND top.h > 0 THEN substr('%s', 1,"
                " max(1, CAST(round(20.0 * a.heat / top.h) AS INTEGER))) ELSE '' END"
                " AS heat_graph,",
            "####################");
  sql_add(&q, " m.mark, a.matched, a.text%s"
              " FROM alerts AS a CROSS JOIN top"
              " LEFT JOIN alert_mark_latest AS m ON m.alert_id = a.id"
              " WHERE a.call_id = ?1 ORDER BY a.ts, a.id",
          table ? "" : ", a.tip, a.reason");

  out_opts(a, &oo);
  /* The summary: field/value lines in a table; an object in JSON. */
  if (table) {
    if (sum.found) {
      static const char *const names[] = {"field", "value"};
      static const enum es_store_type types[] = {ES_STORE_TEXT, ES_STORE_TEXT};
      struct es_out_opts so = oo;
      struct es_out *o2 = es_out_new(stdout, &so);
      if (o2 == NULL) goto done;
      for (int i = 0; i < sum.ncols; i++) {
        const char *row[2] = {sum.names[i], sum.values[i]};
        es_out_row(o2, 2, names, row, types);
      }
      es_out_finish(o2);
      es_out_free(o2);
    } else {
      printf("call %s: no call record (its start and end were not stored)\n", id);
    }
    fputs("\n", stdout);
  } else if (a->format == ES_OUT_JSON || a->format == ES_OUT_NDJSON) {
    struct es_out_opts so = oo;
    struct es_out *o2;
    so.single = 1;
    if (a->format == ES_OUT_NDJSON) so.wrap_key = "call";
    if ((o2 = es_out_new(stdout, &so)) == NULL) goto done;
    if (a->format == ES_OUT_JSON) fputs("{\"call\":", stdout);
    if (sum.found)
      es_out_row(o2, sum.ncols, (const char *const *)sum.names,
                 (const char *const *)sum.values, sum.types);
    else if (a->format == ES_OUT_NDJSON)
      fputs("{\"call\":null}", stdout);
    es_out_finish(o2);
    es_out_free(o2);
    if (a->format == ES_OUT_JSON)
      fputs(",\"alerts\":", stdout);
    else if (!sum.found)
      fputc('\n', stdout);
  }
  if (a->format == ES_OUT_NDJSON) oo.wrap_key = "alert";
  if ((out = es_out_new(stdout, &oo)) == NULL) goto done;
  k.out = out;
  if (es_store_query_typed(s, q.text, q.params, q.n, sink_row, &k) != 0) {
    rc = query_failed(a, s);
    goto done;
  }
  if (es_out_finish(out) != 0) goto done; /* main() reports write errors */
  if (a->format == ES_OUT_JSON) fputs("}\n", stdout);
  rc = EXIT_OK;
done:
  es_out_free(out);
  summary_free(&sum);
  return rc;
}

/* Column names of `agents` for categories: the category itself, unless it
 * would clash with a fixed column. */
static const char *const agent_columns[] = {"agent", "calls", "alerts", "serious", "backups",
                                            "escalated", "deescalated", "deescalation_rate",
                                            NULL};

struct categories {
  char *names[MAX_CATEGORY_COLUMNS + 1];
  int n;
};

static int keep_category(void *ud, int ncols, const char *const *names,
                         const char *const *values, const enum es_store_type *types) {
  struct categories *c = ud;
  (void)ncols, (void)names, (void)types;
  if (values == NULL || values[0] == NULL) return 0;
  if (c->n > MAX_CATEGORY_COLUMNS) return 1;
  c->names[c->n] = strdup(values[0]);
  return c->names[c->n++] == NULL;
}

/* Appends an SQL identifier, quoted. */
static void sql_ident(struct sql *q, const char *prefix, const char *name) {
  sql_add(q, "\"%s", prefix);
  for (const char *p = name; *p; p++) sql_add(q, *p == '"' ? "\"\"" : "%c", *p);
  sql_add(q, "\"");
}

static int cmd_agents(struct args *a, struct es_store *s) {
  static struct sql q, cq;
  struct categories cats;
  long long limit = a->limit < 0 ? 0 : a->limit;
  int rc;
  memset(&cats, 0, sizeof cats);

  /* The calls: those that started in the range; their alerts count. */
  struct args calls = *a;
  calls.rule = calls.category = calls.severity = NULL;
  struct args alerts = *a;
  alerts.has_since = alerts.has_until = 0;
  alerts.call = NULL;

  /* Which categories get a column: those of the alerts counted. */
  memset(&cq, 0, sizeof cq);
  sql_add(&cq, "SELECT DISTINCT a.category FROM calls AS c JOIN alerts AS a"
               " ON a.call_id = c.call_id WHERE a.category IS NOT NULL");
  call_filters(&cq, &calls);
  alert_filters(&cq, &alerts, "a", "c", 0);
  sql_add(&cq, " ORDER BY 1 LIMIT %d", MAX_CATEGORY_COLUMNS + 1);
  if (cq.overflow) return usage_error(a, "the filters are too long");
  if (es_store_query_typed(s, cq.text, cq.params, cq.n, keep_category, &cats) != 0)
    return query_failed(a, s);
  if (cats.n > MAX_CATEGORY_COLUMNS) {
    fprintf(stderr, "earshot: more than %d categories: columns for the first %d only\n",
            MAX_CATEGORY_COLUMNS, MAX_CATEGORY_COLUMNS);
    free(cats.names[--cats.n]);
  }

  memset(&q, 0, sizeof q);
  sql_add(&q, "WITH cs AS (SELECT c.call_id, c.agent, c.backup_raised, c.deescalated,"
              " c.peak_heat FROM calls AS c WHERE 1");
  call_filters(&q, &calls);
  sql_add(&q, "), al AS (SELECT a.call_id, count(*) AS alerts,"
              " count(CASE WHEN sv.rank >= 3 THEN 1 END) AS serious");
  for (int i = 0; i < cats.n; i++)
    sql_add(&q, ", count(CASE WHEN a.category = ?%d THEN 1 END) AS k%d",
            sql_param(&q, cats.names[i]), i);
  sql_add(&q, " FROM cs JOIN alerts AS a ON a.call_id = cs.call_id"
              " LEFT JOIN severity_levels AS sv ON sv.name = a.severity WHERE 1");
  alert_filters(&q, &alerts, "a", "cs", 0);
  sql_add(&q, " GROUP BY a.call_id)"
              " SELECT coalesce(nullif(cs.agent, ''), '" NO_AGENT "') AS agent, count(*) AS calls, coalesce(sum(al.alerts), 0) AS alerts,"
              " coalesce(sum(al.serious), 0) AS serious,"
              " count(CASE WHEN cs.backup_raised = 1 OR EXISTS (SELECT 1 FROM alerts AS b"
              " WHERE b.call_id = cs.call_id AND b.category = 'backup') THEN 1 END) AS backups,"
              " count(CASE WHEN cs.peak_heat > 0 THEN 1 END) AS escalated,"
              " count(CASE WHEN cs.deescalated = 1 THEN 1 END) AS deescalated,"
              " round(1.0 * count(CASE WHEN cs.deescalated = 1 THEN 1 END)"
              " / nullif(count(CASE WHEN cs.peak_heat > 0 THEN 1 END), 0), 3)"
              " AS deescalation_rate");
  for (int i = 0; i < cats.n; i++) {
    int clash = 0;
    for (const char *const *c = agent_columns; *c; c++) clash |= strcmp(*c, cats.names[i]) == 0;
    sql_add(&q, ", coalesce(sum(al.k%d), 0) AS ", i);
    sql_ident(&q, clash ? "category_" : "", cats.names[i]);
  }
  sql_add(&q, " FROM cs LEFT JOIN al ON al.call_id = cs.call_id GROUP BY 1"
              " ORDER BY alerts DESC, calls DESC, 1");
  sql_limit(&q, limit);
  rc = run_list(a, s, &q, limit, "first", "agents (most alerts first)");
  for (int i = 0; i < cats.n; i++) free(cats.names[i]);
  hint_unknown(a, s);
  return rc;
}

static int cmd_rules_stats(struct args *a, struct es_store *s) {
  static struct sql q;
  long long limit = a->limit < 0 ? 0 : a->limit;
  int calls = a->agent || a->queue;
  memset(&q, 0, sizeof q);
  sql_add(&q,
          "SELECT a.rule_id, max(a.category) AS category, count(*) AS hits,"
          " count(DISTINCT a.call_id) AS calls, count(m.alert_id) AS reviewed,"
          " count(CASE WHEN m.mark = 'false_positive' THEN 1 END) AS false_positives,"
          " round(1.0 * count(CASE WHEN m.mark = 'false_positive' THEN 1 END)"
          " / nullif(count(m.alert_id), 0), 3) AS fp_rate,"
          " " ISO_TIME("max(a.ts)") " AS last_hit"
          " FROM alerts AS a%s LEFT JOIN alert_mark_latest AS m ON m.alert_id = a.id WHERE 1",
          calls ? " LEFT JOIN calls AS c ON c.call_id = a.call_id" : "");
  alert_filters(&q, a, "a", "c", calls);
  sql_add(&q, " GROUP BY a.rule_id ORDER BY hits DESC, a.rule_id");
  sql_limit(&q, limit);
  int rc = run_list(a, s, &q, limit, "first", "rules (most hits first)");
  hint_unknown(a, s);
  return rc;
}

/* Plain words into an FTS5 expression: each word a quoted string (so
 * punctuation and FTS5 operators are just text), all required; a word
 * ending in * matches as a prefix. */
static int fts_words(char **words, int n, char *buf, size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n; i++) {
    const char *p = words[i];
    while (*p) {
      const char *start, *end;
      int prefix = 0;
      while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
      start = p;
      while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
      end = p;
      while (end > start && end[-1] == '*') end--, prefix = 1;
      if (end == start) continue;
      if (len + 2 * (size_t)(end - start) + 5 >= cap) return -1;
      if (len) buf[len++] = ' ';
      buf[len++] = '"';
      for (const char *c = start; c < end; c++) {
        if (*c == '"') buf[len++] = '"';
        buf[len++] = *c;
      }
      buf[len++] = '"';
      if (prefix) buf[len++] = '*';
      buf[len] = '\0';
    }
  }
  return len ? 0 : -1;
}

/* Whether expr is a malformed FTS5 query: it is run against an empty copy
 * of the store's alert_search table in a private in-memory database, where
 * nothing but the query itself can fail. Returns 1 with SQLite's message
 * in msg, 0 when the query is good (or the check could not be made: the
 * real query then says what is wrong). */
static int fts_syntax_error(struct es_store *s, const char *expr, char *msg, size_t cap) {
  struct one table = {"", 0};
  sqlite3 *mem = NULL;
  sqlite3_stmt *st = NULL;
  int bad = 0;
  if (es_store_query_typed(s, "SELECT sql FROM sqlite_master WHERE name = 'alert_search'", NULL,
                           0, one_row, &table) != 0 || !table.found)
    return 0;
  if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
      sqlite3_exec(mem, table.value, NULL, NULL, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2(mem, "SELECT 1 FROM alert_search WHERE alert_search MATCH ?1", -1, &st,
                         NULL) == SQLITE_OK &&
      sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ERROR) {
    snprintf(msg, cap, "%s", sqlite3_errmsg(mem));
    bad = 1;
  }
  sqlite3_finalize(st);
  sqlite3_close(mem);
  return bad;
}

static int cmd_search(struct args *a, struct es_store *s) {
  static struct sql q;
  static char expr[FTS_MAX];
  char why[256];
  long long limit = a->limit < 0 ? DEFAULT_LIMIT : a->limit;
  int rc;
  if (a->nrest < 1) return usage_error(a, "give the words to search for");
  if (a->fts) {
    size_t len = 0;
    for (int i = 0; i < a->nrest; i++) {
      int n = snprintf(expr + len, sizeof expr - len, "%s%s", i ? " " : "", a->rest[i]);
      if (n < 0 || (size_t)n >= sizeof expr - len) return usage_error(a, "the search is too long");
      len += (size_t)n;
    }
  } else if (fts_words(a->rest, a->nrest, expr, sizeof expr) != 0) {
    return usage_error(a, "give the words to search for (at most %d bytes)", FTS_MAX / 2);
  }
  if (fts_syntax_error(s, expr, why, sizeof why)) {
    fprintf(stderr, "earshot: search: %s\n(the search expression \"%s\" is not valid FTS5 syntax%s)\n",
            why, expr, a->fts ? "; without --fts the words are searched as they are" : "");
    return EXIT_USAGE;
  }
  memset(&q, 0, sizeof q);
  sql_add(&q,
          "SELECT a.id, " ISO_TIME("a.ts") " AS time, a.call_id, c.agent, a.speaker,"
          " a.severity, a.rule_id,"
          " snippet(alert_search, -1, '**', '**', '...', 16) AS snippet"
          " FROM alert_search JOIN alerts AS a ON a.id = alert_search.rowid"
          " LEFT JOIN calls AS c ON c.call_id = a.call_id"
          " WHERE alert_search MATCH ?%d",
          sql_param(&q, expr));
  alert_filters(&q, a, "a", "c", 1);
  sql_add(&q, a->rank ? " ORDER BY alert_search.rank, a.ts DESC" : " ORDER BY a.ts DESC, a.id DESC");
  sql_limit(&q, limit);
  rc = run_list(a, s, &q, limit, a->rank ? "best" : "newest", "hits");
  hint_unknown(a, s);
  return rc;
}

/* Counts what a purge would delete (read-only). */
static int purge_counts(struct args *a, struct es_store *s, struct es_prune_counts *c) {
  char before[40];
  const char *p = before;
  struct summary sum;
  snprintf(before, sizeof before, "%.17g", a->older_than);
  memset(&sum, 0, sizeof sum);
  if (es_store_query_typed(
          s,
          "SELECT (SELECT count(*) FROM alerts WHERE ts < CAST(?1 AS REAL)),"
          " (SELECT count(*) FROM calls WHERE coalesce(ended, started) < CAST(?1 AS REAL)),"
          " (SELECT count(*) FROM alert_marks WHERE alert_id IN"
          " (SELECT id FROM alerts WHERE ts < CAST(?1 AS REAL)))",
          &p, 1, keep_summary, &sum) != 0)
    return query_failed(a, s);
  c->alerts = sum.found ? strtoull(sum.values[0], NULL, 10) : 0;
  c->calls = sum.found ? strtoull(sum.values[1], NULL, 10) : 0;
  c->marks = sum.found ? strtoull(sum.values[2], NULL, 10) : 0;
  summary_free(&sum);
  return EXIT_OK;
}

static int cmd_purge(struct args *a) {
  struct es_store *s = NULL;
  struct es_prune_counts c = {0, 0, 0};
  char when[40];
  int rc;
  if (!a->has_older) return usage_error(a, "--older-than is required (e.g. --older-than 30d)");
  if (a->nrest) return usage_error(a, "unexpected argument \"%s\"", a->rest[0]);
  if (a->older_than > a->now)
    return usage_error(a, "--older-than names a time in the future");
  if ((rc = open_store(a, a->dry_run, &s)) != 0) return rc;
  if (a->dry_run) {
    rc = purge_counts(a, s, &c);
  } else {
    /* Bounded steps: earshotd's commits get the write lock in between. */
    do
      rc = es_store_prune_step(s, a->older_than, PURGE_STEP_ROWS, &c);
    while (rc == 1);
    if (rc != 0) {
      fprintf(stderr, "earshot: purge stopped after %llu alerts, %llu calls: %s: %s\n",
              (unsigned long long)c.alerts, (unsigned long long)c.calls, a->db,
              es_store_errmsg(s));
      rc = EXIT_FAIL;
    }
  }
  es_store_close(s);
  if (rc != 0) return rc;
  es_time_format(a->older_than, when, sizeof when);
  if (a->format == ES_OUT_TABLE) {
    printf("%s %llu alerts, %llu calls and %llu feedback marks older than %s\n",
           a->dry_run ? "would delete" : "deleted", (unsigned long long)c.alerts,
           (unsigned long long)c.calls, (unsigned long long)c.marks, when);
  } else {
    static const char *const names[] = {"before", "alerts", "calls", "marks", "dry_run"};
    static const enum es_store_type types[] = {ES_STORE_TEXT, ES_STORE_INTEGER, ES_STORE_INTEGER,
                                               ES_STORE_INTEGER, ES_STORE_INTEGER};
    char n[3][24];
    const char *row[5] = {when, n[0], n[1], n[2], a->dry_run ? "1" : "0"};
    struct es_out_opts oo;
    struct es_out *out;
    snprintf(n[0], sizeof n[0], "%llu", (unsigned long long)c.alerts);
    snprintf(n[1], sizeof n[1], "%llu", (unsigned long long)c.calls);
    snprintf(n[2], sizeof n[2], "%llu", (unsigned long long)c.marks);
    out_opts(a, &oo);
    oo.single = 1;
    if ((out = es_out_new(stdout, &oo)) == NULL) return EXIT_FAIL;
    es_out_row(out, 5, names, row, types);
    rc = es_out_finish(out) == 0 ? EXIT_OK : EXIT_FAIL;
    if (a->format == ES_OUT_JSON) fputc('\n', stdout);
    es_out_free(out);
  }
  return rc;
}

/* Who marks when --by is not given: $USER, else the login name of the
 * effective user; NULL when neither is known. */
static const char *user_name(void) {
  const char *env = getenv("USER");
  struct passwd *pw;
  if (env && *env) return env;
  pw = getpwuid(geteuid());
  return pw && pw->pw_name && *pw->pw_name ? pw->pw_name : NULL;
}

/* The marks in the database, all of them or none. */
static int ack_db(struct args *a, const struct es_cli_ack *req) {
  struct es_store *s = NULL;
  int rc;
  if ((rc = open_store(a, 0, &s)) != 0) return rc;
  if (es_store_begin(s) != 0) {
    rc = query_failed(a, s);
    goto done;
  }
  for (size_t i = 0; i < req->nids; i++) {
    struct es_mark_rec m = {req->ids[i], NULL, (enum es_mark)a->ack_mark, req->by, wall_now(),
                            req->note};
    int err = es_store_mark(s, &m, NULL);
    if (err == ES_ENOENT) {
      fprintf(stderr, "earshot: no alert with id %lld in %s (nothing was marked)\n",
              (long long)req->ids[i], a->db);
      es_store_rollback(s);
      rc = EXIT_FAIL;
      goto done;
    }
    if (err != 0) {
      rc = query_failed(a, s);
      es_store_rollback(s);
      goto done;
    }
  }
  if (es_store_commit(s) != 0) {
    rc = query_failed(a, s);
    goto done;
  }
  for (size_t i = 0; i < req->nids; i++)
    printf("alert %lld marked %s%s%s\n", (long long)req->ids[i], req->mark,
           req->by ? " by " : "", req->by ? req->by : "");
  rc = EXIT_OK;
done:
  es_store_close(s);
  return rc;
}

static int cmd_ack(struct args *a) {
  int64_t ids[ES_CLI_ACK_MAX_IDS];
  struct es_cli_path sock;
  struct es_cli_ack req = {ids, 0, NULL, a->by, a->note, &sock};
  int rc;
  if (a->ack_mark < 0)
    return usage_error(a, "give one of --taken, --resolved, --false-positive");
  if (a->nrest < 1) return usage_error(a, "give the id of the alert (see `earshot alerts`)");
  if (a->db_flag && a->socket_flag) return usage_error(a, "give --socket or --db, not both");
  for (int i = 0; i < a->nrest; i++) {
    char *end;
    int seen = 0;
    errno = 0;
    long long v = strtoll(a->rest[i], &end, 10);
    if (errno || *end || end == a->rest[i] || v <= 0)
      return usage_error(a, "\"%s\" is not an alert id (a number from `earshot alerts`)",
                         a->rest[i]);
    for (size_t k = 0; k < req.nids; k++) seen |= ids[k] == v;
    if (seen) continue; /* one mark per alert, however often it is named */
    if (req.nids == ES_CLI_ACK_MAX_IDS)
      return usage_error(a, "at most %d ids at once", ES_CLI_ACK_MAX_IDS);
    ids[req.nids++] = v;
  }
  req.mark = es_store_mark_name((enum es_mark)a->ack_mark);
  if (req.by == NULL) req.by = user_name();
  if (a->db_flag == NULL) {
    if (es_cli_find_socket(a->socket_flag, a->config, &sock) != 0) return EXIT_FAIL;
    rc = es_cli_ack_socket(&req);
    if (rc >= 0) return rc;
    fprintf(stderr, "earshot ack: earshotd is not reachable at %s%s: %s; writing to the "
                    "database directly (subscribers will not be told)\n",
            sock.path, sock.from, strerror(errno));
  }
  return ack_db(a, &req);
}

static int run_verb(enum verb v, int argc, char **argv) {
  struct args a;
  struct es_store *s = NULL;
  int rc;
  memset(&a, 0, sizeof a);
  a.verb = v;
  if ((rc = parse_args(&a, argc, argv)) != 0) return rc < 0 ? EXIT_OK : rc;
  if (v == V_PURGE) return cmd_purge(&a);
  if (v == V_ACK) return cmd_ack(&a);
  if (v != V_CALL && v != V_SEARCH && a.nrest > 0)
    return usage_error(&a, "unexpected argument \"%s\"", a.rest[0]);
  if ((rc = open_store(&a, 1, &s)) != 0) return rc;
  switch (v) {
  case V_ALERTS: rc = cmd_alerts(&a, s); break;
  case V_CALLS: rc = cmd_calls(&a, s); break;
  case V_CALL: rc = cmd_call(&a, s); break;
  case V_AGENTS: rc = cmd_agents(&a, s); break;
  case V_SEARCH: rc = cmd_search(&a, s); break;
  case V_RULES_STATS: rc = cmd_rules_stats(&a, s); break;
  default: rc = EXIT_USAGE; break;
  }
  es_store_close(s);
  return rc;
}

int es_cli_is_query_verb(const char *name) {
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (i != V_RULES_STATS && strcmp(name, verbs[i].name) == 0) return 1;
  return 0;
}

int es_cmd_query(int argc, char **argv) {
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (i != V_RULES_STATS && strcmp(argv[0], verbs[i].name) == 0)
      return run_verb((enum verb)i, argc, argv);
  fprintf(stderr, "earshot: unknown command \"%s\"\n", argv[0]);
  return EXIT_USAGE;
}

int es_cmd_rules_stats(int argc, char **argv) { return run_verb(V_RULES_STATS, argc, argv); }
