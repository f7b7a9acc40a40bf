/*
 * bench_load: the end-to-end load generator for earshotd (bench/LOAD.md).
 *
 * It builds a deterministic corpus of call transcripts in memory (own PRNG,
 * fixed seed, no clock), serialises it into one protocol buffer per
 * connection before any timing starts, then drives a Unix socket over N
 * connections from one epoll loop:
 *
 *   bulk (--rate 0)  every connection writes its share as fast as the
 *                    socket takes it;
 *   paced (--rate R) the connections together write R lines/s, each line
 *                    going out when it is due;
 *   open calls (--open-calls N)  N calls are opened (a start line and one
 *                    utterance each) and the daemon's VmRSS/VmHWM read from
 *                    /proc/PID/status while they are open; then they end.
 *
 * Latency: each line is stamped (CLOCK_MONOTONIC) when the write() that
 * carries its last byte returns. An alert naming the line's seq gives
 * line-to-alert; a cumulative ack covering it gives line-to-commit (the
 * daemon acks a line once every row it produced is committed). Latencies go
 * into log-linear histograms (64 sub-buckets per power of two: under 1.6 %
 * error).
 *
 * With --sink PATH the same buffers are first driven into bench_sink (a
 * libuv server that only splits lines), which gives the transport ceiling
 * of this machine in the same run.
 *
 * Output: a human summary on stderr; one Markdown table row on stdout
 * (bench/load.sh prints the header).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define IN_CAP (1u << 20)       /* bytes of unread server output per connection */
#define ACTIVE_CALLS 64         /* calls interleaved on one connection */
#define PACE_LINES_PER_TICK 10  /* paced mode: ~10 lines per tick, 100 us to 1 ms */
#define MAX_PHASES 2

/* ---- small helpers ---------------------------------------------------- */

static void die(const char *fmt, ...) {
  va_list ap;
  fputs("bench_load: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    die("out of memory (%zu bytes)", n);
  return p;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (p == NULL)
    die("out of memory (%zu x %zu bytes)", n, size);
  return p;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_self_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A growable byte buffer (the corpus is built before timing; no ceiling
 * beyond memory, which --lines bounds). */
struct buf {
  char *p;
  size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more) {
  if (b->len + more <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more)
    cap *= 2;
  char *p = realloc(b->p, cap);
  if (p == NULL)
    die("out of memory (%zu bytes)", cap);
  b->p = p;
  b->cap = cap;
}

/* Touches each page of p[0..n), writing a zero at its start (the buffers
 * passed hold zeros, or nothing read yet), so that the timed run does not
 * take their page faults. */
static void prefault(void *p, size_t n) {
  volatile char *v = p;
  for (size_t i = 0; i < n; i += 4096)
    v[i] = 0;
}

static inline void buf_add(struct buf *b, const char *s, size_t n) {
  if (b->len + n > b->cap)
    buf_reserve(b, n);
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void buf_str(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_u64(struct buf *b, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  buf_add(b, tmp + sizeof(tmp) - n, (size_t)n);
}

/* splitmix64: one fixed-seed stream per call, so call k reads the same
 * whatever the connection count. */
static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n) { return (unsigned)(rnd(s) % n); }
static double unit(uint64_t *s) { return (double)(rnd(s) >> 11) / 9007199254740992.0; }

/* ---- the corpus ------------------------------------------------------- */

/* Utterance templates. Slots: %N name, %T topic, %A amount, %D date,
 * %R reference, %P postcode. None of them fires a bundled rule; every
 * trigger line below does (bench_load --dump + `earshot replay` checks). */
static const char *const agent_lines[] = {
  "thank you for calling %T support my name is %N how can I help you today",
  "can I take your account number please",
  "could you confirm the first line of your address for me",
  "thanks for that I can see the %T on your account",
  "let me just pull up your details one moment",
  "I can see a payment of %A was taken on %D",
  "the reference for this is %R",
  "I've booked an engineer for %D between eight and one",
  "is there anything else I can help you with today",
  "I'm just going to put you on a short hold while I check that",
  "thanks for holding I've had a look at the %T",
  "I can apply a credit of %A to your next bill",
  "the work in your area should be finished by %D",
  "you'll get a text message confirming the appointment",
  "I've updated the direct debit so it goes out on %D",
  "can you try turning the router off and on again for me",
  "the contract on your %T ends on %D",
  "I'll send you an email with everything we've discussed",
  "your new monthly price will be %A from %D",
  "I've noted that on the account for you %N",
  "the engineer will ring about thirty minutes before arriving",
  "your balance at the moment is %A",
  "the upgrade will be active within twenty four hours",
  "can I confirm the best number to reach you on",
  "we sent a letter about the price change on %D",
  "just to confirm the payment of %A went through today",
  "and what's the postcode there",
  "the system shows \"pending\" next to the %T so it's still being set up",
};

static const char *const customer_lines[] = {
  "hi I'm calling about my %T",
  "yes it's %N speaking",
  "my account number is %R",
  "I was charged %A on %D and I don't know why",
  "the internet keeps dropping out in the evenings",
  "I moved house last month and need to update my address",
  "okay that's fine",
  "yes that's right",
  "no I haven't had a letter about that",
  "can you tell me when the engineer is coming",
  "I paid the bill on %D",
  "the app says \"payment failed\" but the money left my account",
  "how much is the %T going to cost me each month",
  "I'd like to add my partner %N to the account",
  "sorry can you say that again",
  "right okay so what happens next",
  "the router lights are flashing orange",
  "I've been waiting since %D for the refund of %A",
  "can you email me the details",
  "that's all thanks for your help",
  "is there a cheaper deal on the %T",
  "I've already restarted it twice",
  "my bill went up to %A this month",
  "I only use it for streaming really",
  "could I pay by card instead",
  "the postcode is %P",
  "I'm not sure I'll have to check with my wife",
  "it's the one ending in %R",
};

/* Trigger lines: phrases of the bundled rules that DOMAIN.md names. */
static const char *const agent_triggers[] = {
  "I'm sorry but that's our policy",
  "that's our policy I'm afraid there's no way around it",
  "sir you need to calm down",
  "please calm down and let me look at the %T",
};

static const char *const customer_triggers[] = {
  "I want to speak to your manager",
  "I want to speak to your manager right now",
  "I'm going to sue you over this %T",
  "if this isn't fixed I'm going to sue",
  "I want to cancel my account today",
  "just cancel my account",
  "this is ridiculous",
  "honestly this is ridiculous I've called three times",
};

static const char *const names[] = {"Zoë", "José", "O'Brien", "García", "Smith", "Patel",
                                    "Nguyen", "Kowalski", "Okafor", "Müller"};
static const char *const topics[] = {"broadband", "mobile contract", "home insurance",
                                     "car insurance", "energy account", "TV package", "landline",
                                     "fibre package", "credit card", "savings account"};
static const char *const amounts[] = {"£42.50", "€15", "£120", "£9.99", "£310.20", "£64",
                                      "€1,200", "£18.75"};
static const char *const dates[] = {"the 3rd of March", "Monday", "next Tuesday", "the 14th",
                                    "Friday", "the 28th of June", "last Wednesday"};
static const char *const postcodes[] = {"SW1A 1AA", "M4 3EB", "LS6 2QT", "EH1 1YZ", "BS8 4RU"};
static const char *const fillers[] = {"um ", "uh ", "you know ", "so ", "yeah "};
static const char *const queues[] = {"billing", "technical", "retention", "sales", "claims"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum line_kind { L_UTTER, L_START, L_END };

/* One protocol line without its call-id tag and seq: the connection
 * serialiser writes prefix[kind] + tag + tail + ",\"seq\":N}\n". */
struct cline {
  uint32_t tail_off, tail_len;
  uint8_t kind, trigger;
};

struct call {
  uint32_t first, n; /* lines[first .. first+n) */
};

struct corpus {
  struct buf arena;
  struct cline *lines;
  size_t nlines, cap;
  struct call *calls;
  size_t ncalls;
  size_t utterances, triggers;
};

static const char *const line_prefix[] = {
  "{\"call_id\":\"", "{\"type\":\"start\",\"call_id\":\"", "{\"type\":\"end\",\"call_id\":\"",
};

/* Expands a template into `out` (plain text, not yet JSON-escaped). */
static void expand(struct buf *out, const char *tpl, uint64_t *s) {
  for (const char *p = tpl; *p; p++) {
    if (*p != '%' || p[1] == '\0') {
      buf_add(out, p, 1);
      continue;
    }
    char ref[16];
    switch (*++p) {
    case 'N': buf_str(out, names[below(s, COUNT(names))]); break;
    case 'T': buf_str(out, topics[below(s, COUNT(topics))]); break;
    case 'A': buf_str(out, amounts[below(s, COUNT(amounts))]); break;
    case 'D': buf_str(out, dates[below(s, COUNT(dates))]); break;
    case 'P': buf_str(out, postcodes[below(s, COUNT(postcodes))]); break;
    case 'R':
      snprintf(ref, sizeof(ref), "AB-%06u", below(s, 1000000));
      buf_str(out, ref);
      break;
    default: buf_add(out, p - 1, 2); break;
    }
  }
}

/* Renders the text in one of the styles a transcript arrives in:
 * formatted, formatted with ’, ASR lower case without punctuation, or ASR
 * without apostrophes either. Appends it JSON-escaped to `out`. */
static void render(struct buf *out, const char *text, size_t len, uint64_t *s) {
  double style = unit(s);
  int asr = style >= 0.5, no_apos = style >= 0.85, curly = style >= 0.35 && style < 0.5;

  if (asr && unit(s) < 0.15)
    buf_str(out, fillers[below(s, COUNT(fillers))]);
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (asr) {
      if (ch == '"' || ch == '.' || ch == ',' || ch == '?' || ch == '!')
        continue;
      if (ch == '\'' && no_apos)
        continue;
      if (ch >= 'A' && ch <= 'Z' && !(i + 1 < len && text[i + 1] >= 'A' && text[i + 1] <= 'Z'))
        ch = (char)(ch - 'A' + 'a'); /* keep acronyms such as TV */
    } else if (i == 0 && ch >= 'a' && ch <= 'z') {
      ch = (char)(ch - 'a' + 'A');
    }
    if (ch == '\'' && curly) {
      buf_str(out, "\xe2\x80\x99");
      continue;
    }
    if (ch == '"' || ch == '\\')
      buf_add(out, "\\", 1);
    buf_add(out, &ch, 1);
  }
  if (!asr)
    buf_str(out, unit(s) < 0.2 ? "?" : ".");
}

static struct cline *corpus_push(struct corpus *c, enum line_kind kind, int trigger,
                                 size_t tail_off) {
  if (c->nlines == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 65536;
    c->lines = realloc(c->lines, c->cap * sizeof(*c->lines));
    if (c->lines == NULL)
      die("out of memory");
  }
  struct cline *l = &c->lines[c->nlines++];
  l->kind = (uint8_t)kind;
  l->trigger = (uint8_t)trigger;
  l->tail_off = (uint32_t)tail_off;
  l->tail_len = (uint32_t)(c->arena.len - tail_off);
  if (c->arena.len > UINT32_MAX)
    die("corpus over 4 GiB; use fewer --lines");
  return l;
}

/* Generates calls until the corpus holds at least `want` lines. Each call:
 * a start line with metadata, 20 to 60 turns (agent first, mostly
 * alternating), an end line. `trigger_rate` of the turns carry a trigger.
 * With `open_only`, each call is just a start line and one utterance. */
static void corpus_build(struct corpus *c, size_t want, uint64_t seed, double trigger_rate,
                         int open_only) {
  struct buf text = {0};
  memset(c, 0, sizeof(*c));
  /* Sized up front: reallocating hundreds of MB costs more than building. */
  buf_reserve(&c->arena, want * 80 + 4096);
  c->cap = want + 128;
  c->lines = xmalloc(c->cap * sizeof(*c->lines));
  size_t calls_cap = want / 20 + 1024;
  c->calls = xmalloc(calls_cap * sizeof(*c->calls));

  for (uint64_t k = 0; c->nlines < want; k++) {
    uint64_t s = seed ^ (k * 0xd1342543de82ef95ULL);
    char id[32];
    int idlen = snprintf(id, sizeof(id), "-%07" PRIu64 "\"", k);
    unsigned turns = open_only ? 1 : 20 + below(&s, 41);
    int speaker = 0; /* 0 agent, 1 customer */
    double ts = 0.5 + unit(&s);
    size_t off;

    if (c->ncalls == calls_cap) {
      calls_cap *= 2;
      c->calls = realloc(c->calls, calls_cap * sizeof(*c->calls));
      if (c->calls == NULL)
        die("out of memory");
    }
    c->calls[c->ncalls].first = (uint32_t)c->nlines;

    off = c->arena.len;
    buf_add(&c->arena, id, (size_t)idlen);
    buf_str(&c->arena, ",\"agent_id\":\"agent-");
    buf_u64(&c->arena, below(&s, 400));
    buf_str(&c->arena, "\",\"queue\":\"");
    buf_str(&c->arena, queues[below(&s, COUNT(queues))]);
    buf_str(&c->arena, "\",\"customer\":\"cust-");
    buf_u64(&c->arena, rnd(&s) % 10000000);
    buf_str(&c->arena, "\"");
    corpus_push(c, L_START, 0, off);

    for (unsigned t = 0; t < turns; t++) {
      int trig = unit(&s) < trigger_rate;
      const char *tpl;
      if (trig)
        tpl = speaker ? customer_triggers[below(&s, COUNT(customer_triggers))]
                      : agent_triggers[below(&s, COUNT(agent_triggers))];
      else
        tpl = speaker ? customer_lines[below(&s, COUNT(customer_lines))]
                      : agent_lines[below(&s, COUNT(agent_lines))];
      text.len = 0;
      expand(&text, tpl, &s);

      off = c->arena.len;
      buf_add(&c->arena, id, (size_t)idlen);
      buf_str(&c->arena, speaker ? ",\"speaker\":\"customer\",\"text\":\""
                                 : ",\"speaker\":\"agent\",\"text\":\"");
      render(&c->arena, text.p, text.len, &s);
      buf_str(&c->arena, "\",\"ts\":");
      unsigned cs = (unsigned)(ts * 100);
      buf_u64(&c->arena, cs / 100);
      buf_add(&c->arena, ".", 1);
      buf_add(&c->arena, (char[]){(char)('0' + cs / 10 % 10), (char)('0' + cs % 10)}, 2);
      corpus_push(c, L_UTTER, trig, off);
      c->utterances++;
      c->triggers += (size_t)trig;
      ts += 1.5 + 6 * unit(&s);
      if (unit(&s) < 0.85)
        speaker ^= 1;
    }
    if (!open_only) {
      off = c->arena.len;
      buf_add(&c->arena, id, (size_t)idlen);
      corpus_push(c, L_END, 0, off);
    }
    c->calls[c->ncalls].n = (uint32_t)(c->nlines - c->calls[c->ncalls].first);
    c->ncalls++;
  }
  free(text.p);
}

static void corpus_free(struct corpus *c) {
  free(c->arena.p);
  free(c->lines);
  free(c->calls);
}

static void emit_line(struct buf *out, const struct corpus *c, const struct cline *l,
                      const char *tag, int64_t seq) {
  buf_str(out, line_prefix[l->kind]);
  buf_str(out, tag);
  buf_add(out, c->arena.p + l->tail_off, l->tail_len);
  buf_str(out, ",\"seq\":");
  buf_u64(out, (uint64_t)seq);
  buf_add(out, "}\n", 2);
}

/* ---- histograms ------------------------------------------------------- */

#define H_SUB 64
#define H_BUCKETS (H_SUB * 60)

struct hist {
  uint64_t n, min, max;
  double sum;
  uint64_t b[H_BUCKETS];
};

static unsigned h_index(uint64_t v) {
  if (v < 2 * H_SUB)
    return (unsigned)v;
  unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 2^e <= v, e >= 7 */
  unsigned shift = e - 6;
  unsigned i = (shift + 1) * H_SUB + (unsigned)((v >> shift) - H_SUB);
  return i < H_BUCKETS ? i : H_BUCKETS - 1;
}

static uint64_t h_value(unsigned i) { /* middle of bucket i */
  if (i < 2 * H_SUB)
    return i;
  unsigned shift = i / H_SUB - 1;
  uint64_t lo = ((uint64_t)(i % H_SUB) + H_SUB) << shift;
  return lo + ((1ull << shift) >> 1);
}

static void h_add(struct hist *h, uint64_t v) {
  if (h->n == 0 || v < h->min)
    h->min = v;
  if (v > h->max)
    h->max = v;
  h->n++;
  h->sum += (double)v;
  h->b[h_index(v)]++;
}

/* The value below which a fraction q of the samples lie (q in 0..1]. */
static uint64_t h_pct(const struct hist *h, double q) {
  if (h->n == 0)
    return 0;
  uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
  if (rank < 1)
    rank = 1;
  for (unsigned i = 0; i < H_BUCKETS; i++) {
    seen += h->b[i];
    if (seen >= rank) {
      uint64_t v = h_value(i);
      return v > h->max ? h->max : v < h->min ? h->min : v;
    }
  }
  return h->max;
}

/* ---- connections ------------------------------------------------------ */

struct conn {
  int fd;
  struct buf out;          /* every byte this connection sends, all phases */
  size_t off;              /* bytes written */
  size_t *line_end;        /* line_end[i]: offset just past line seq i+1 */
  size_t nlines, stamped;  /* lines; lines fully written */
  size_t phase_end[MAX_PHASES]; /* lines in phases 0..p */
  uint64_t *sent_ns;       /* by seq - 1 */
  uint8_t *alerted;        /* by seq - 1 */
  uint8_t *trigger;        /* by seq - 1: a trigger line */
  int64_t acked;           /* last cumulative ack */
  char *in;
  size_t in_len;
  unsigned want_out : 1, shut : 1, eof : 1;
  uint64_t done_ns;        /* the phase's last ack (or EOF from the sink) */
  uint64_t alerts, errors, acks, sink_lines;
};

struct run {
  const char *label;
  int use_acks;            /* earshotd: completion by ack; sink: by EOF */
  struct conn *conns;
  unsigned nconns;
  unsigned phase, nphases;
  double rate;             /* lines/s over all connections; 0: bulk */
  uint64_t t0, t_end;
  uint64_t t_sent; /* when the last line of the phase was written */
  int ep, tfd;
  struct hist alert_h, commit_h, ack_h;
  uint64_t alerts, alerted_lines, alerted_triggers, errors, sink_lines;
  unsigned errors_shown;
};

static void set_out_interest(struct run *r, struct conn *c, int want) {
  if (c->want_out == (unsigned)(want != 0))
    return;
  struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
    die("epoll_ctl: %s", strerror(errno));
  c->want_out = want != 0;
}

/* Lines this connection may have written by now. */
static size_t lines_allowed(const struct run *r, const struct conn *c, uint64_t t) {
  size_t limit = c->phase_end[r->phase];
  if (r->rate <= 0)
    return limit;
  double per_conn = r->rate / r->nconns;
  size_t due = (size_t)(per_conn * (double)(t - r->t0) / 1e9) + 1;
  return due < limit ? due : limit;
}

/* Writes what is allowed; stamps every line whose last byte went out. */
static void conn_write(struct run *r, struct conn *c) {
  uint64_t t = now_ns();
  size_t allowed = lines_allowed(r, c, t);
  size_t target = allowed ? c->line_end[allowed - 1] : 0;

  while (c->off < target) {
    ssize_t n = write(c->fd, c->out.p + c->off, target - c->off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      die("%s: write: %s", r->label, strerror(errno));
    }
    c->off += (size_t)n;
    t = now_ns();
    while (c->stamped < c->nlines && c->line_end[c->stamped] <= c->off)
      c->sent_ns[c->stamped++] = t;
  }
  set_out_interest(r, c, c->off < target);
  /* The sink answers only at EOF; so does a bulk daemon run. */
  if (!r->use_acks && c->off == c->out.len && !c->shut) {
    shutdown(c->fd, SHUT_WR);
    c->shut = 1;
  }
}

static int64_t parse_int_after(const char *line, size_t len, const char *key) {
  size_t klen = strlen(key);
  for (size_t i = 0; i + klen <= len; i++) {
    if (line[i] == key[0] && memcmp(line + i, key, klen) == 0) {
      int64_t v = 0;
      for (size_t j = i + klen; j < len && line[j] >= '0' && line[j] <= '9'; j++)
        v = v * 10 + (line[j] - '0');
      return v;
    }
  }
  return -1;
}

static void handle_server_line(struct run *r, struct conn *c, const char *line, size_t len,
                               uint64_t t) {
  static const char type_key[] = "{\"type\":\"";
  const char *type;

  if (len < sizeof(type_key) || memcmp(line, type_key, sizeof(type_key) - 1) != 0)
    return;
  type = line + sizeof(type_key) - 1;
  if (strncmp(type, "alert\"", 6) == 0) {
    int64_t seq = parse_int_after(line, len, "\"seq\":");
    c->alerts++;
    r->alerts++;
    if (seq >= 1 && (size_t)seq <= c->stamped && !c->alerted[seq - 1]) {
      c->alerted[seq - 1] = 1;
      r->alerted_lines++;
      r->alerted_triggers += c->trigger[seq - 1];
      h_add(&r->alert_h, t - c->sent_ns[seq - 1]);
    }
  } else if (strncmp(type, "ack\"", 4) == 0) {
    int64_t seq = parse_int_after(line, len, "\"seq\":");
    c->acks++;
    if (seq > (int64_t)c->stamped)
      die("%s: ack for seq %" PRId64 " before it was sent", r->label, seq);
    for (int64_t s = c->acked + 1; s <= seq; s++) {
      uint64_t d = t - c->sent_ns[s - 1];
      h_add(&r->ack_h, d);
      if (c->alerted[s - 1])
        h_add(&r->commit_h, d);
    }
    if (seq > c->acked)
      c->acked = seq;
    if ((size_t)c->acked == c->phase_end[r->phase])
      c->done_ns = t;
  } else if (strncmp(type, "error\"", 6) == 0) {
    c->errors++;
    r->errors++;
    if (r->errors_shown++ < 5)
      fprintf(stderr, "bench_load: %s: server error: %.*s\n", r->label, (int)len, line);
  } else if (strncmp(type, "sink\"", 5) == 0) {
    c->sink_lines = (uint64_t)parse_int_after(line, len, "\"lines\":");
    r->sink_lines += c->sink_lines;
  }
}

static void conn_read(struct run *r, struct conn *c) {
  for (;;) {
    if (c->in_len == IN_CAP)
      die("%s: a server line over %u bytes", r->label, IN_CAP);
    ssize_t n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      die("%s: read: %s", r->label, strerror(errno));
    }
    if (n == 0) {
      c->eof = 1;
      if (!r->use_acks)
        c->done_ns = now_ns();
      epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
      return;
    }
    uint64_t t = now_ns();
    c->in_len += (size_t)n;
    char *p = c->in, *end = c->in + c->in_len, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
      handle_server_line(r, c, p, (size_t)(nl - p), t);
      p = nl + 1;
    }
    c->in_len = (size_t)(end - p);
    memmove(c->in, p, c->in_len);
  }
}

static int connect_unix(const char *path) {
  struct sockaddr_un sa;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket: %s", strerror(errno));
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof(sa.sun_path))
    die("socket path too long: %s", path);
  strcpy(sa.sun_path, path);
  for (int tries = 0; connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0; tries++) {
    /* A full accept backlog (256 connections at once) says EAGAIN. */
    if ((errno != EAGAIN && errno != EINTR) || tries > 1000)
      die("connect %s: %s", path, strerror(errno));
    usleep(1000);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

/* Is every connection finished with the current phase? */
static int phase_done(const struct run *r) {
  for (unsigned i = 0; i < r->nconns; i++) {
    const struct conn *c = &r->conns[i];
    if (r->use_acks ? (size_t)c->acked < c->phase_end[r->phase] : !c->eof)
      return 0;
  }
  return 1;
}

/* Runs phase r->phase to completion; returns its elapsed seconds (first
 * write to last ack, or last EOF for the sink). */
static double run_phase(struct run *r, double timeout_s) {
  struct epoll_event evs[256];
  uint64_t deadline;

  r->t0 = now_ns();
  deadline = r->t0 + (uint64_t)(timeout_s * 1e9);
  for (unsigned i = 0; i < r->nconns; i++) {
    r->conns[i].done_ns = 0;
    conn_write(r, &r->conns[i]);
  }
  if (r->rate > 0) {
    double tick = 1e9 * PACE_LINES_PER_TICK / r->rate;
    long tick_ns = tick < 1e5 ? 100000 : tick > 1e6 ? 1000000 : (long)tick;
    struct itimerspec its = {.it_interval = {0, tick_ns}, .it_value = {0, tick_ns}};
    timerfd_settime(r->tfd, 0, &its, NULL);
  }
  while (!phase_done(r)) {
    int n = epoll_wait(r->ep, evs, 256, 100);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        uint64_t ticks;
        if (read(r->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
          die("timerfd: %s", strerror(errno));
        for (unsigned k = 0; k < r->nconns; k++)
          if (!r->conns[k].want_out)
            conn_write(r, &r->conns[k]);
        continue;
      }
      struct conn *c = evs[i].data.ptr;
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_read(r, c);
      if ((evs[i].events & EPOLLOUT) && !c->eof)
        conn_write(r, c);
      if (c->eof && !phase_done(r) && (r->use_acks && (size_t)c->acked < c->phase_end[r->phase]))
        die("%s: the server closed a connection after %" PRId64 " of %zu acks", r->label,
            c->acked, c->phase_end[r->phase]);
    }
    if (now_ns() > deadline)
      die("%s: timed out after %.0f s", r->label, timeout_s);
  }
  if (r->rate > 0) {
    struct itimerspec off = {{0, 0}, {0, 0}};
    timerfd_settime(r->tfd, 0, &off, NULL);
  }
  r->t_end = r->t_sent = r->t0;
  for (unsigned i = 0; i < r->nconns; i++) {
    const struct conn *c = &r->conns[i];
    if (c->done_ns > r->t_end)
      r->t_end = c->done_ns;
    if (c->phase_end[r->phase] > 0 && c->sent_ns[c->phase_end[r->phase] - 1] > r->t_sent)
      r->t_sent = c->sent_ns[c->phase_end[r->phase] - 1];
  }
  return (double)(r->t_end - r->t0) / 1e9;
}

/* Closes the sending side and waits for the server to close. */
static void run_close(struct run *r, double timeout_s) {
  struct epoll_event evs[256];
  uint64_t deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
  int open = 0;

  for (unsigned i = 0; i < r->nconns; i++) {
    struct conn *c = &r->conns[i];
    if (!c->shut) {
      shutdown(c->fd, SHUT_WR);
      c->shut = 1;
    }
    open += !c->eof;
  }
  while (open > 0 && now_ns() < deadline) {
    int n = epoll_wait(r->ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (c == NULL)
        continue;
      int was = c->eof;
      conn_read(r, c);
      open -= !was && c->eof;
    }
  }
  if (open > 0)
    fprintf(stderr, "bench_load: %s: %d connections still open after %.0f s\n", r->label, open,
            timeout_s);
  for (unsigned i = 0; i < r->nconns; i++)
    close(r->conns[i].fd);
}

/* ---- building the per-connection buffers ------------------------------ */

/* Call k goes to connection k mod N; each connection interleaves up to
 * ACTIVE_CALLS of its calls, picking the next speaker's line at random. */
static void build_conns(struct conn *conns, unsigned nconns, const struct corpus *c,
                        const char *tag, uint64_t seed, int open_calls) {
  static const char hello[] = "{\"type\":\"hello\",\"client\":\"bench_load\",\"acks\":true}\n";

  for (unsigned ci = 0; ci < nconns; ci++) {
    struct conn *cn = &conns[ci];
    size_t ncalls = c->ncalls / nconns + (ci < c->ncalls % nconns);
    size_t total = 0, next_call = 0;
    uint64_t s = seed ^ (0x5851f42d4c957f2dULL * (ci + 1));
    struct { size_t call, pos; } active[ACTIVE_CALLS];
    unsigned nactive = 0;
    int64_t seq = 0;

    for (size_t k = 0; k < ncalls; k++)
      total += c->calls[ci + k * nconns].n;
    if (open_calls)
      total += ncalls; /* phase 2: an end line per call */
    memset(cn, 0, sizeof(*cn));
    cn->fd = -1;
    cn->line_end = xmalloc(total * sizeof(*cn->line_end));
    cn->sent_ns = xcalloc(total, sizeof(*cn->sent_ns));
    cn->alerted = xcalloc(total, 1);
    cn->trigger = xcalloc(total, 1);
    cn->in = xmalloc(IN_CAP);
    /* Written during the run: their pages are faulted in now, not then. */
    prefault(cn->sent_ns, total * sizeof(*cn->sent_ns));
    prefault(cn->alerted, total);
    prefault(cn->in, IN_CAP);
    buf_reserve(&cn->out, total * 120 + sizeof(hello));
    buf_add(&cn->out, hello, sizeof(hello) - 1);

    if (open_calls) {
      /* Phase 0: every call's start and utterance, call by call. */
      for (size_t k = 0; k < ncalls; k++) {
        const struct call *call = &c->calls[ci + k * nconns];
        for (uint32_t j = 0; j < call->n; j++) {
          emit_line(&cn->out, c, &c->lines[call->first + j], tag, ++seq);
          cn->line_end[seq - 1] = cn->out.len;
        }
      }
      cn->phase_end[0] = (size_t)seq;
      /* Phase 1: end them. */
      for (size_t k = 0; k < ncalls; k++) {
        const struct call *call = &c->calls[ci + k * nconns];
        struct cline end = c->lines[call->first];
        end.kind = L_END;
        end.tail_len = 9; /* "-NNNNNNN\"" */
        emit_line(&cn->out, c, &end, tag, ++seq);
        cn->line_end[seq - 1] = cn->out.len;
      }
      cn->phase_end[1] = (size_t)seq;
      cn->nlines = (size_t)seq;
      continue;
    }
    while (nactive > 0 || next_call < ncalls) {
      while (nactive < ACTIVE_CALLS && next_call < ncalls) {
        active[nactive].call = ci + next_call++ * nconns;
        active[nactive++].pos = 0;
      }
      unsigned a = below(&s, nactive);
      const struct call *call = &c->calls[active[a].call];
      const struct cline *l = &c->lines[call->first + active[a].pos++];
      emit_line(&cn->out, c, l, tag, ++seq);
      cn->line_end[seq - 1] = cn->out.len;
      cn->trigger[seq - 1] = l->trigger;
      if (active[a].pos == call->n)
        active[a] = active[--nactive];
    }
    cn->phase_end[0] = (size_t)seq;
    cn->nlines = (size_t)seq;
  }
}

static void conns_reset(struct conn *conns, unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    c->off = c->stamped = 0;
    c->acked = 0;
    c->in_len = 0;
    c->want_out = c->shut = c->eof = 0;
    c->done_ns = 0;
    c->alerts = c->errors = c->acks = c->sink_lines = 0;
    memset(c->sent_ns, 0, c->nlines * sizeof(*c->sent_ns));
    memset(c->alerted, 0, c->nlines);
  }
}

/* This process's anonymous memory in transparent huge pages, in MB
 * (/proc/self/smaps_rollup), or -1. */
static double anon_huge_mb(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  double mb = -1;
  unsigned long kb;

  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1)
      mb = (double)kb / 1024.0;
  fclose(f);
  return mb;
}

/* conns_to_huge_pages()'s mapping, which holds every connection's out.p;
 * NULL: none does. */
static void *huge_region;
static size_t huge_region_len;

/* Moves every connection's bytes into one mapping backed by transparent
 * huge pages, when the kernel gives them (madvise MADV_HUGEPAGE): 1 if it
 * did, 0 if the buffers stay as they were.
 *
 * What this is for: the kernel copies each written byte out of these
 * buffers, hundreds of MB of them, touched once per run. Where a first
 * touch of a page from the kernel costs a trap into the hypervisor (this
 * project's development machines, a software-virtualised guest), writing
 * from 4 KiB pages cost bench_load 0.4 CPU-seconds per 250 MB, ten times
 * the copy itself: CPU taken from the two cores earshotd shares with
 * bench_load, which a platform on its own machines would not take. With
 * 2 MiB pages it is one trap per 512 pages. earshotd is not changed by it
 * (docs/performance.md). */
static int conns_to_huge_pages(struct conn *conns, unsigned n) {
  const size_t huge = (size_t)2 << 20;
  size_t total = 0;

  for (unsigned i = 0; i < n; i++)
    total += (conns[i].out.len + huge - 1) / huge * huge;
  /* one more huge page, to align the start */
  void *m = mmap(NULL, total + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED)
    return 0;
  char *base = (char *)(((uintptr_t)m + huge - 1) & ~(uintptr_t)(huge - 1));
  if (madvise(base, total, MADV_HUGEPAGE) != 0) {
    munmap(m, total + huge);
    return 0;
  }
  for (unsigned i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    memcpy(base, c->out.p, c->out.len);
    free(c->out.p);
    c->out.p = base;
    c->out.cap = c->out.len;
    base += (c->out.len + huge - 1) / huge * huge;
  }
  huge_region = m;
  huge_region_len = total + huge;
  return 1;
}

static void conns_free(struct conn *conns, unsigned n) {
  for (unsigned i = 0; i < n; i++) {
    if (huge_region == NULL) /* else out.p lies in it */
      free(conns[i].out.p);
    free(conns[i].line_end);
    free(conns[i].sent_ns);
    free(conns[i].alerted);
    free(conns[i].trigger);
    free(conns[i].in);
  }
  free(conns);
  if (huge_region) {
    munmap(huge_region, huge_region_len);
    huge_region = NULL;
  }
}

static void run_open(struct run *r, const char *path) {
  r->ep = epoll_create1(EPOLL_CLOEXEC);
  r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (r->ep < 0 || r->tfd < 0)
    die("epoll/timerfd: %s", strerror(errno));
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(r->ep, EPOLL_CTL_ADD, r->tfd, &tev);
  for (unsigned i = 0; i < r->nconns; i++) {
    struct conn *c = &r->conns[i];
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    c->fd = connect_unix(path);
    if (epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
      die("epoll_ctl: %s", strerror(errno));
  }
}

static void run_free(struct run *r) {
  close(r->ep);
  close(r->tfd);
}

/* ---- /proc ------------------------------------------------------------ */

struct proc_sample {
  long rss_kb, hwm_kb;
  double main_s, other_s; /* CPU seconds of the main thread and of all others */
};

/* Reads a thread's run time (ns, exact) from its schedstat. */
static double thread_cpu_s(long pid, const char *tid) {
  char path[320];
  unsigned long long ns = 0;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%ld/task/%s/schedstat", pid, tid);
  if ((f = fopen(path, "r")) == NULL)
    return 0;
  if (fscanf(f, "%llu", &ns) != 1)
    ns = 0;
  fclose(f);
  return (double)ns / 1e9;
}

static int proc_read(long pid, struct proc_sample *out) {
  char path[64], line[256];
  FILE *f;
  DIR *dir;
  struct dirent *de;

  memset(out, 0, sizeof(*out));
  if (pid <= 0)
    return -1;
  snprintf(path, sizeof(path), "/proc/%ld/status", pid);
  if ((f = fopen(path, "r")) == NULL)
    return -1;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "VmRSS:", 6) == 0)
      out->rss_kb = strtol(line + 6, NULL, 10);
    else if (strncmp(line, "VmHWM:", 6) == 0)
      out->hwm_kb = strtol(line + 6, NULL, 10);
  }
  fclose(f);
  snprintf(path, sizeof(path), "/proc/%ld/task", pid);
  if ((dir = opendir(path)) == NULL)
    return -1;
  while ((de = readdir(dir)) != NULL) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9')
      continue;
    double t = thread_cpu_s(pid, de->d_name);
    if (strtol(de->d_name, NULL, 10) == pid)
      out->main_s += t;
    else
      out->other_s += t;
  }
  closedir(dir);
  return 0;
}

/* Busy CPU-seconds of the whole machine so far (all processes). */
static double machine_busy_s(void) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
             &v[4], &v[5], &v[6], &v[7]) != 8)
    memset(v, 0, sizeof(v));
  fclose(f);
  /* user nice system [idle iowait] irq softirq steal */
  return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f) {
  fputs("usage: bench_load --socket PATH [--sink PATH] [--conns N] [--lines N]\n"
        "                  [--rate LINES_PER_S] [--open-calls N] [--pid PID] [--sink-pid PID]\n"
        "                  [--label TEXT] [--tag TEXT] [--seed N] [--trigger-rate F]\n"
        "                  [--timeout S] [--dump FILE]\n"
        "  --socket PATH      earshotd's Unix socket (omit to drive only --sink)\n"
        "  --sink PATH        bench_sink's socket: first drive the same buffers into it\n"
        "  --conns N          concurrent connections (default 16)\n"
        "  --lines N          protocol lines in the corpus (default 2000000)\n"
        "  --rate R           aggregate lines/s (default 0: bulk, as fast as possible)\n"
        "  --open-calls N     memory scenario: open N calls (start + one line each),\n"
        "                     read --pid's VmRSS/VmHWM, then end them\n"
        "  --pid PID          earshotd's pid, for CPU time and memory from /proc\n"
        "  --label TEXT       first column of the Markdown row (e.g. the store mode)\n"
        "  --tag TEXT         call_id prefix; must differ between runs on one database\n"
        "  --dump FILE        write the corpus as one connection's stream (no acks) and exit\n",
        f);
}

int main(int argc, char **argv) {
  const char *socket_path = NULL, *sink_path = NULL, *label = "", *tag = "load",
             *dump = NULL;
  unsigned nconns = 16;
  size_t want_lines = 2000000, open_calls = 0;
  double rate = 0, trigger_rate = 0.015, timeout_s = 240;
  long pid = 0, sink_pid = 0;
  uint64_t seed = 20240601;

  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v && (i++, 1))
    if (ARG("--socket")) socket_path = v;
    else if (ARG("--sink")) sink_path = v;
    else if (ARG("--conns")) nconns = (unsigned)strtoul(v, NULL, 10);
    else if (ARG("--lines")) want_lines = strtoull(v, NULL, 10);
    else if (ARG("--rate")) rate = strtod(v, NULL);
    else if (ARG("--open-calls")) open_calls = strtoull(v, NULL, 10);
    else if (ARG("--pid")) pid = strtol(v, NULL, 10);
    else if (ARG("--sink-pid")) sink_pid = strtol(v, NULL, 10);
    else if (ARG("--label")) label = v;
    else if (ARG("--tag")) tag = v;
    else if (ARG("--seed")) seed = strtoull(v, NULL, 10);
    else if (ARG("--trigger-rate")) trigger_rate = strtod(v, NULL);
    else if (ARG("--timeout")) timeout_s = strtod(v, NULL);
    else if (ARG("--dump")) dump = v;
    else if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
    else { usage(stderr); return 2; }
#undef ARG
  }
  if (nconns < 1 || nconns > MAX_CONNS)
    die("--conns must be from 1 to %d", MAX_CONNS);
  if (!dump && !socket_path && !sink_path)
    die("give --socket, --sink or --dump");
  if (open_calls && !socket_path)
    die("--open-calls needs --socket");

  /* 1. The corpus and the buffers, before any timing. */
  struct corpus corpus;
  uint64_t tb = now_ns();
  corpus_build(&corpus, open_calls ? 2 * open_calls : want_lines, seed, trigger_rate,
               open_calls > 0);
  if (open_calls && corpus.ncalls > open_calls)
    corpus.ncalls = open_calls; /* two lines a call: exactly N calls */
  if (dump) {
    struct conn one;
    FILE *f = fopen(dump, "wb");
    if (f == NULL)
      die("%s: %s", dump, strerror(errno));
    build_conns(&one, 1, &corpus, tag, seed, open_calls > 0);
    if (one.nlines == 0)
      die("empty corpus");
    /* Skip the hello line: `earshot replay` reads utterances. */
    const char *p = memchr(one.out.p, '\n', one.out.len) + 1;
    fwrite(p, 1, one.out.len - (size_t)(p - one.out.p), f);
    fclose(f);
    fprintf(stderr, "bench_load: wrote %zu lines (%zu utterances, %zu trigger lines) to %s\n",
            one.nlines, corpus.utterances, corpus.triggers, dump);
    free(one.out.p);
    free(one.line_end);
    free(one.sent_ns);
    free(one.alerted);
    free(one.trigger);
    free(one.in);
    corpus_free(&corpus);
    return 0;
  }
  struct conn *conns = xcalloc(nconns, sizeof(*conns));
  build_conns(conns, nconns, &corpus, tag, seed, open_calls > 0);
  int huge = conns_to_huge_pages(conns, nconns);
  size_t total_lines = 0, total_bytes = 0;
  for (unsigned i = 0; i < nconns; i++) {
    total_lines += conns[i].nlines;
    total_bytes += conns[i].out.len;
  }
  fprintf(stderr, "bench_load: %zu lines (%zu calls, %zu utterances, %zu trigger lines), "
          "%.1f MB over %u connections, built in %.2f s\n", total_lines, corpus.ncalls,
          corpus.utterances, corpus.triggers, (double)total_bytes / 1e6, nconns,
          (double)(now_ns() - tb) / 1e9);
  if (huge)
    fprintf(stderr, "bench_load: the corpus asked for transparent huge pages; bench_load holds "
            "%.0f MB in them\n", anon_huge_mb());
  else
    fprintf(stderr, "bench_load: the corpus is in 4 KiB pages (no transparent huge pages: "
            "see /sys/kernel/mm/transparent_hugepage/enabled)\n");

  /* 2. The memory scenario. */
  if (open_calls) {
    struct run r = {.label = "open-calls", .use_acks = 1, .conns = conns, .nconns = nconns,
                    .nphases = 2};
    struct proc_sample before, open_s, after;
    proc_read(pid, &before);
    run_open(&r, socket_path);
    double t_open = run_phase(&r, timeout_s);
    proc_read(pid, &open_s);
    r.phase = 1;
    double t_end = run_phase(&r, timeout_s);
    proc_read(pid, &after);
    run_close(&r, 10);
    run_free(&r);
    fprintf(stderr, "bench_load: opened %zu calls in %.3f s, ended them in %.3f s; errors %"
            PRIu64 "\n", open_calls, t_open, t_end, r.errors);
    fprintf(stderr, "bench_load: earshotd VmRSS %.1f MB before, %.1f MB with %zu calls open, "
            "%.1f MB after they ended; VmHWM %.1f MB\n", before.rss_kb / 1024.0,
            open_s.rss_kb / 1024.0, open_calls, after.rss_kb / 1024.0, open_s.hwm_kb / 1024.0);
    printf("| %s | %zu | %u | %.1f | %.1f | %.1f | %.1f | %" PRIu64 " |\n", label, open_calls,
           nconns, before.rss_kb / 1024.0, open_s.rss_kb / 1024.0, open_s.hwm_kb / 1024.0,
           after.rss_kb / 1024.0, r.errors);
    conns_free(conns, nconns);
    corpus_free(&corpus);
    return r.errors ? 1 : 0;
  }

  /* 3. The sink: the transport ceiling on the same buffers. */
  double sink_lps = 0;
  if (sink_path) {
    struct run r = {.label = "sink", .use_acks = 0, .conns = conns, .nconns = nconns,
                    .nphases = 1, .rate = rate};
    struct proc_sample p0, p1;
    proc_read(sink_pid, &p0);
    double c0 = cpu_self_s();
    run_open(&r, sink_path);
    double secs = run_phase(&r, timeout_s);
    double cself = cpu_self_s() - c0;
    proc_read(sink_pid, &p1);
    run_close(&r, 10);
    run_free(&r);
    if (r.sink_lines != total_lines + nconns) /* + each connection's hello */
      die("sink counted %" PRIu64 " lines, sent %zu", r.sink_lines, total_lines + nconns);
    sink_lps = (double)total_lines / secs;
    fprintf(stderr, "bench_load: sink: %zu lines in %.3f s: %.0f lines/s, %.0f MB/s "
            "(sink CPU %.2f s, bench_load CPU %.2f s)\n", total_lines, secs, sink_lps,
            (double)total_bytes / secs / 1e6, p1.main_s - p0.main_s, cself);
    conns_reset(conns, nconns);
  }
  if (!socket_path) {
    printf("| %s | %s | %u | %zu | | %.0f | | | | | | | |\n", label,
           rate > 0 ? "paced" : "bulk", nconns, total_lines, sink_lps);
    conns_free(conns, nconns);
    corpus_free(&corpus);
    return 0;
  }

  /* 4. earshotd. */
  struct run r = {.label = "earshotd", .use_acks = 1, .conns = conns, .nconns = nconns,
                  .nphases = 1, .rate = rate};
  struct proc_sample p0, p1, s0, s1;
  proc_read(pid, &p0);
  proc_read(sink_pid, &s0);
  double c0 = cpu_self_s(), m0 = machine_busy_s();
  run_open(&r, socket_path);
  double secs = run_phase(&r, timeout_s);
  double cself = cpu_self_s() - c0, mbusy = machine_busy_s() - m0;
  proc_read(pid, &p1);
  proc_read(sink_pid, &s1);
  run_close(&r, 30);
  run_free(&r);
  double lps = (double)total_lines / secs;
  double dmain = p1.main_s - p0.main_s, dother = p1.other_s - p0.other_s;
  /* CPU that neither earshotd, bench_load nor an idle bench_sink used:
   * other jobs on the machine, competing for the same cores. */
  double others = (mbusy - dmain - dother - cself - (s1.main_s - s0.main_s)) / secs;
  if (others < 0)
    others = 0;

  fprintf(stderr, "bench_load: earshotd: %zu lines in %.3f s: %.0f lines/s end to end%s",
          total_lines, secs, lps, sink_path ? "" : "\n");
  if (sink_path)
    fprintf(stderr, " (%.1f%% of the sink's %.0f)\n", 100 * lps / sink_lps, sink_lps);
  fprintf(stderr, "bench_load: the last line was written at %.3f s, the last ack read %.3f s "
          "after it\n", (double)(r.t_sent - r.t0) / 1e9,
          (double)(r.t_end - r.t_sent) / 1e9);
  fprintf(stderr, "bench_load: earshotd CPU: loop thread %.2f s (%.0f%% of the run), other "
          "threads (SQLite writer) %.2f s (%.0f%%); bench_load CPU %.2f s (%.0f%%); "
          "earshotd VmRSS %.1f MB, VmHWM %.1f MB\n", dmain, 100 * dmain / secs, dother,
          100 * dother / secs, cself, 100 * cself / secs, p1.rss_kb / 1024.0,
          p1.hwm_kb / 1024.0);
  fprintf(stderr, "bench_load: %.0f lines per CPU-second of the loop thread; other processes "
          "used %.2f CPUs during the run\n", (double)total_lines / dmain, others);
  fprintf(stderr, "bench_load: %" PRIu64 " alerts on %" PRIu64 " lines (%" PRIu64 " of %zu "
          "trigger lines), %" PRIu64 " errors\n", r.alerts, r.alerted_lines, r.alerted_triggers,
          corpus.triggers, r.errors);
  struct { const char *name; struct hist *h; } hs[] = {
    {"line->alert ", &r.alert_h}, {"line->commit", &r.commit_h}, {"line->ack   ", &r.ack_h}};
  for (size_t i = 0; i < COUNT(hs); i++)
    fprintf(stderr, "bench_load: %s us: n %" PRIu64 " min %.1f p50 %.1f p90 %.1f p99 %.1f "
            "p99.9 %.1f max %.1f mean %.1f\n", hs[i].name, hs[i].h->n,
            hs[i].h->min / 1e3, h_pct(hs[i].h, .5) / 1e3, h_pct(hs[i].h, .9) / 1e3,
            h_pct(hs[i].h, .99) / 1e3, h_pct(hs[i].h, .999) / 1e3, hs[i].h->max / 1e3,
            hs[i].h->n ? hs[i].h->sum / (double)hs[i].h->n / 1e3 : 0.0);

  char sink_col[32] = "", ratio_col[32] = "";
  if (sink_path) {
    snprintf(sink_col, sizeof(sink_col), "%.0f", sink_lps);
    snprintf(ratio_col, sizeof(ratio_col), "%.1f%%", 100 * lps / sink_lps);
  }
  printf("| %s | %s | %u | %zu | %.0f | %s | %s | %.0f / %.0f%% / %.0f%% | %.2f | %" PRIu64
         " | %.0f / %.0f / %.0f | %.0f / %.0f / %.0f | %" PRIu64 " |\n",
         label, rate > 0 ? "paced" : "bulk", nconns, total_lines, lps, sink_col, ratio_col,
         (double)total_lines / dmain, 100 * dmain / secs, 100 * dother / secs, others, r.alerts,
         h_pct(&r.alert_h, .5) / 1e3, h_pct(&r.alert_h, .99) / 1e3,
         h_pct(&r.alert_h, .999) / 1e3, h_pct(&r.commit_h, .5) / 1e3,
         h_pct(&r.commit_h, .99) / 1e3, h_pct(&r.commit_h, .999) / 1e3, r.errors);
  conns_free(conns, nconns);
  corpus_free(&corpus);
  return r.errors ? 1 : 0;
}
