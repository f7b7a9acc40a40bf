/*
 * proto.c: the protocol line decoder. cJSON parses; this file checks every
 * field's presence and type so that the rest of the system sees only
 * well-formed events.
 */
#include "proto.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "jsonrun.h"
#include "norm.h"
#include "strbuf.h"

/* attr_json has a bit per metadata field. */
_Static_assert(ES_ATTR_MAX <= 32, "ES_ATTR_MAX exceeds the bits of es_event.attr_json");

struct es_decoder {
  cJSON *root;  /* the last decoded line (slow path); owns the event's strings */
  size_t max_line;
  char *scratch;  /* fast path: the event's decoded strings */
  size_t scratch_cap;
  int fast;       /* 1: try the fast path first (default) */
  uint64_t fast_lines; /* decoded by the fast path */
  struct es_strbuf texts; /* slow path: a start line's metadata texts (start_meta()) */
};

struct es_decoder *es_decoder_new(size_t max_line) {
  struct es_decoder *d = calloc(1, sizeof(*d));
  if (d) {
    d->max_line = max_line;
    d->fast = 1;
  }
  return d;
}

void es_decoder_free(struct es_decoder *d) {
  if (d == NULL)
    return;
  cJSON_Delete(d->root);
  free(d->scratch);
  es_strbuf_free(&d->texts);
  free(d);
}

void es_decoder_set_fast(struct es_decoder *d, int on) { d->fast = on != 0; }
uint64_t es_decoder_fast_lines(const struct es_decoder *d) { return d->fast_lines; }

/*
 * The fast path. Platforms send millions of utterance lines, all flat
 * objects of strings and numbers; building a cJSON tree for each (a node
 * and a string allocation per field) was half of earshotd's time per line.
 * This scanner reads such a line in one pass without allocating. The start
 * and end lines that frame each call are flat too and go the same way. It
 * only ever says "this is a valid utterance (start, end), here it is" or
 * "not for me": every other shape, every error and every doubtful case
 * (nested values, unknown escapes, surrogates, numbers it would have to
 * think about, a field of the wrong type, another "type") falls through to
 * the cJSON path, so error codes and messages have one implementation. A
 * differential test (and the protocol fuzzer) checks that both paths agree.
 */
struct fast_str {
  const char *p;  /* decoded, NUL-terminated, in scratch */
  size_t len;
};

/* The readers below take the position in the line by value and return
 * the next one, or FAST_FAIL: a position that lives in a register, where
 * one passed by pointer was loaded and stored at every step. */
#define FAST_FAIL SIZE_MAX

static inline size_t fast_ws(const char *s, size_t len, size_t i) {
  /* Most calls find no white space: one compare says so. */
  while (i < len && (unsigned char)s[i] <= ' ' &&
         (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
    i++;
  return i;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The four hex digits of a \u escape at s[0..n): 0 with *cp, or -1. */
static int hex4(const char *s, size_t n, unsigned *cp) {
  int h0, h1, h2, h3;
  if (n < 4 || (h0 = hexval(s[0])) < 0 || (h1 = hexval(s[1])) < 0 || (h2 = hexval(s[2])) < 0 ||
      (h3 = hexval(s[3])) < 0)
    return -1;
  *cp = (unsigned)(h0 << 12 | h1 << 8 | h2 << 4 | h3);
  return 0;
}

/* Reads a JSON string at s[i] == '"' into out at *o: the position after
 * it, or FAST_FAIL. */
static size_t fast_string(const char *s, size_t len, size_t i, char *out, size_t *o,
                          struct fast_str *fs) {
  size_t start = *o;
  int escaped_u = 0;
  i++;
  for (;;) {
    size_t j = es__json_copy_run(s, i, len, out, o);
    if (j >= len || (unsigned char)s[j] < 0x20)
      return FAST_FAIL;
    if (s[j] == '"') {
      i = j + 1;
      break;
    }
    /* an escape */
    if (j + 1 >= len)
      return FAST_FAIL;
    char e = s[j + 1], c;
    switch (e) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
      unsigned cp;
      if (hex4(s + j + 2, len - j - 2, &cp) != 0)
        return FAST_FAIL;
      /* NUL and surrogates are the slow path's to judge. */
      if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
        return FAST_FAIL;
      if (cp < 0x80) {
        out[(*o)++] = (char)cp;
      } else if (cp < 0x800) {
        out[(*o)++] = (char)(0xC0 | (cp >> 6));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
      } else {
        out[(*o)++] = (char)(0xE0 | (cp >> 12));
        out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*o)++] = (char)(0x80 | (cp & 0x3F));
      }
      escaped_u = 1;
      i = j + 6;
      continue;
    }
    default:
      return FAST_FAIL;
    }
    out[(*o)++] = c;
    i = j + 2;
  }
  fs->p = out + start;
  fs->len = *o - start;
  out[(*o)++] = '\0';
  /* \u escapes make bytes that the raw line's UTF-8 check never saw. */
  if (escaped_u && !es_utf8_valid(fs->p, fs->len))
    return FAST_FAIL;
  return i;
}

/* A JSON number, strictly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 *
 * One pass checks the grammar and gathers the mantissa. Clinger's fast
 * path: up to 15 significant digits and 22 decimals, no exponent: the
 * mantissa and the power of ten are exact doubles and one IEEE division
 * rounds correctly, so this equals strtod, which takes every other case. */
static size_t fast_number(const char *s, size_t len, size_t i, double *out) {
  static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  size_t j = i;
  uint64_t mant = 0; /* wraps past 19 digits: then digits > 15 says strtod */
  int digits = 0, decimals = 0, neg = 0, simple = 1;
  char tmp[64];

  if (j < len && s[j] == '-') {
    neg = 1;
    j++;
  }
  if (j >= len || s[j] < '0' || s[j] > '9')
    return FAST_FAIL;
  if (s[j] == '0')
    j++;
  else
    for (; j < len && s[j] >= '0' && s[j] <= '9'; j++, digits++)
      mant = mant * 10 + (uint64_t)(s[j] - '0');
  if (j < len && s[j] == '.') {
    j++;
    if (j >= len || s[j] < '0' || s[j] > '9')
      return FAST_FAIL;
    for (; j < len && s[j] >= '0' && s[j] <= '9'; j++, decimals++) {
      digits += mant || s[j] != '0'; /* leading zeros are not significant */
      mant = mant * 10 + (uint64_t)(s[j] - '0');
    }
  }
  if (j < len && (s[j] == 'e' || s[j] == 'E')) {
    simple = 0;
    j++;
    if (j < len && (s[j] == '+' || s[j] == '-'))
      j++;
    if (j >= len || s[j] < '0' || s[j] > '9')
      return FAST_FAIL;
    while (j < len && s[j] >= '0' && s[j] <= '9')
      j++;
  }
  if (j - i >= sizeof(tmp))
    return FAST_FAIL;
  if (simple && digits <= 15 && decimals <= 22) {
    double v = (double)mant / pow10[decimals];
    *out = neg ? -v : v;
  } else {
    memcpy(tmp, s + i, j - i);
    tmp[j - i] = '\0';
    *out = strtod(tmp, NULL);
  }
  return j;
}

enum { FV_NONE = 0, FV_STR, FV_NUM, FV_TRUE, FV_FALSE, FV_NULL };

struct fast_val {
  int kind;
  struct fast_str str;
  double num;
};

/* A scalar value at s[i] into *v, a string decoded into out at *o: the
 * position after it, or FAST_FAIL for nested values and anything else left
 * to the slow path. Only the member of *v that its kind names is set. */
static inline size_t fast_value(const char *s, size_t len, size_t i, char *out, size_t *o,
                                struct fast_val *v) {
  if (i >= len)
    return FAST_FAIL;
  if (s[i] == '"') {
    v->kind = FV_STR;
    return fast_string(s, len, i, out, o, &v->str);
  }
  if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
    v->kind = FV_NUM;
    return fast_number(s, len, i, &v->num);
  }
  if (len - i >= 4 && memcmp(s + i, "true", 4) == 0) {
    v->kind = FV_TRUE;
    return i + 4;
  }
  if (len - i >= 5 && memcmp(s + i, "false", 5) == 0) {
    v->kind = FV_FALSE;
    return i + 5;
  }
  if (len - i >= 4 && memcmp(s + i, "null", 4) == 0) {
    v->kind = FV_NULL;
    return i + 4;
  }
  return FAST_FAIL;
}

/* Field names the fast path knows: those it reads by name (below NKEYS),
 * then the metadata a start line gives its own event fields. */
enum {
  K_TYPE, K_CALL, K_SPEAKER, K_TEXT, K_TS, K_END_TS, K_SEQ, K_FINAL, NKEYS,
  K_AGENT = NKEYS, K_QUEUE, K_CUSTOMER, K_OTHER
};

/* The fields a start line does not keep as metadata, every occurrence. */
#define K_NOT_ATTR (1u << K_TYPE | 1u << K_CALL | 1u << K_TS | 1u << K_SEQ)

/* The K_* of a field name. By length first, so that each compare is of a
 * known size (inlined, no call). */
static int fast_key(const char *p, size_t n) {
  switch (n) {
  case 2: return memcmp(p, "ts", 2) == 0 ? K_TS : K_OTHER;
  case 3: return memcmp(p, "seq", 3) == 0 ? K_SEQ : K_OTHER;
  case 4: return memcmp(p, "text", 4) == 0 ? K_TEXT : memcmp(p, "type", 4) == 0 ? K_TYPE : K_OTHER;
  case 5:
    return memcmp(p, "final", 5) == 0 ? K_FINAL : memcmp(p, "queue", 5) == 0 ? K_QUEUE : K_OTHER;
  case 6: return memcmp(p, "end_ts", 6) == 0 ? K_END_TS : K_OTHER;
  case 7:
    return memcmp(p, "call_id", 7) == 0 ? K_CALL : memcmp(p, "speaker", 7) == 0 ? K_SPEAKER : K_OTHER;
  case 8:
    return memcmp(p, "agent_id", 8) == 0   ? K_AGENT
           : memcmp(p, "customer", 8) == 0 ? K_CUSTOMER
                                           : K_OTHER;
  default: return K_OTHER;
  }
}

/* A flat object as fast_scan() read it. Its string values are in the
 * decoder's scratch buffer. The metadata is what the cJSON path's
 * start_meta() would make of the object, worked out as the fields go by because
 * the type may come last. A field name without escapes is not copied: it
 * is compared where it lies in the line, and only a start line copies its
 * names (fast_start()); one in the line ends with '"', one in scratch with
 * its NUL. */
struct fast_obj {
  struct fast_val vals[NKEYS]; /* the first occurrence of each name */
  const char *attr_keys[ES_ATTR_MAX];
  size_t attr_klen[ES_ATTR_MAX];
  const char *attr_values[ES_ATTR_MAX];
  size_t nattrs;
  const char *agent, *queue, *customer;
  int attrs_ok;   /* 0: a field only start_meta() takes (not a string), or one too many */
  size_t scratch; /* bytes of the decoder's scratch in use */
};

/* One metadata field, as start_meta() takes it: a string, at most
 * ES_ATTR_MAX of them, and an agent_id, queue or customer replaces the one
 * before (the last occurrence wins). Any other value, null included, is
 * left to start_meta(), which keeps its JSON text. */
static void fast_attr(struct fast_obj *obj, int k, const char *key, size_t klen,
                      const struct fast_val *v) {
  if (v->kind != FV_STR || obj->nattrs == ES_ATTR_MAX) {
    obj->attrs_ok = 0;
    return;
  }
  if (k == K_AGENT)
    obj->agent = v->str.p;
  else if (k == K_QUEUE)
    obj->queue = v->str.p;
  else if (k == K_CUSTOMER)
    obj->customer = v->str.p;
  obj->attr_keys[obj->nattrs] = key;
  obj->attr_klen[obj->nattrs] = klen;
  obj->attr_values[obj->nattrs] = v->str.p;
  obj->nattrs++;
}

/* Reads a line that is one flat object of scalars into *obj, decoding
 * every key and string value into d->scratch. 0, or -1 for any other line. */
static int fast_scan(struct es_decoder *d, const char *s, size_t len, struct fast_obj *obj) {
  size_t i = 0, o = 0;

  /* A decoded string and its NUL take no more bytes than the quoted
   * string, so len + 1 bytes hold every key and value of the line, and
   * the output never runs ahead of the line (o <= i): es__json_copy_run()
   * always has room for the rest of the line. */
  if (d->scratch_cap < len + 1) {
    char *p = realloc(d->scratch, len + 1);
    if (p == NULL)
      return -1;
    d->scratch = p;
    d->scratch_cap = len + 1;
  }
  for (int k = 0; k < NKEYS; k++)
    obj->vals[k].kind = FV_NONE;
  obj->nattrs = 0;
  obj->agent = obj->queue = obj->customer = NULL;
  obj->attrs_ok = 1;
  i = fast_ws(s, len, i);
  if (i >= len || s[i] != '{')
    return -1;
  i = fast_ws(s, len, i + 1);
  if (i < len && s[i] == '}')
    return -1;
  for (;;) {
    struct fast_str key;
    struct fast_val other, *v;
    int k;

    i = fast_ws(s, len, i);
    if (i >= len || s[i] != '"')
      return -1;
    /* The name in place when it has no escape (the closing quote ends
     * its run), else decoded into scratch. es__json_copy_run() writes
     * into scratch all the same; the next string overwrites it. */
    {
      size_t dummy = o, end = es__json_copy_run(s, i + 1, len, d->scratch, &dummy);
      if (end < len && s[end] == '"') {
        key.p = s + i + 1;
        key.len = end - (i + 1);
        i = end + 1;
      } else if ((i = fast_string(s, len, i, d->scratch, &o, &key)) == FAST_FAIL) {
        return -1;
      }
    }
    i = fast_ws(s, len, i);
    if (i >= len || s[i] != ':')
      return -1;
    i = fast_ws(s, len, i + 1);
    /* Like cJSON_GetObjectItemCaseSensitive, the first occurrence wins:
     * a known name's first value is read into its place. */
    k = fast_key(key.p, key.len);
    v = k < NKEYS && obj->vals[k].kind == FV_NONE ? &obj->vals[k] : &other;
    if ((i = fast_value(s, len, i, d->scratch, &o, v)) == FAST_FAIL)
      return -1;
    if (!(K_NOT_ATTR & 1u << k))
      fast_attr(obj, k, key.p, key.len, v);
    i = fast_ws(s, len, i);
    if (i < len && s[i] == ',') {
      i++;
      continue;
    }
    if (i < len && s[i] == '}') {
      i++;
      break;
    }
    return -1;
  }
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  obj->scratch = o;
  return i == len ? 0 : -1;
}

/* An optional number, as opt_number() takes it: 1 with *out for a finite
 * number, 0 when absent or null, -1 otherwise. */
static int fast_opt_number(const struct fast_val *v, double *out) {
  if (v->kind == FV_NONE || v->kind == FV_NULL)
    return 0;
  if (v->kind != FV_NUM || !isfinite(v->num))
    return -1;
  *out = v->num;
  return 1;
}

/* What utterance, start and end lines share: call_id, and seq and ts when
 * present. 0, or -1 to let the slow path judge. */
static int fast_common(const struct fast_obj *obj, struct es_event *ev) {
  const struct fast_val *call = &obj->vals[K_CALL], *seq = &obj->vals[K_SEQ];
  int has_ts;

  if (call->kind != FV_STR || call->str.len == 0 || call->str.len > ES_CALL_ID_MAX)
    return -1;
  if (seq->kind != FV_NONE && seq->kind != FV_NULL &&
      (seq->kind != FV_NUM || seq->num != floor(seq->num) || seq->num < 0 ||
       seq->num >= ES_SEQ_LIMIT))
    return -1;
  if ((has_ts = fast_opt_number(&obj->vals[K_TS], &ev->ts)) < 0)
    return -1;
  ev->call_id = call->str.p;
  ev->has_ts = (unsigned)has_ts;
  if (seq->kind == FV_NUM) {
    ev->seq = (int64_t)seq->num;
    ev->has_seq = 1;
  }
  return 0;
}

/* The fast_* type readers return 1 with *ev filled for a valid line of
 * their type, 0 to let the slow path decide. */
static int fast_utterance(const struct fast_obj *obj, struct es_event *ev) {
  const struct fast_val *speaker = &obj->vals[K_SPEAKER], *text = &obj->vals[K_TEXT];
  const struct fast_val *final = &obj->vals[K_FINAL];
  int has_end_ts;

  if (speaker->kind != FV_STR || text->kind != FV_STR)
    return 0;
  if (es_speaker_parse_len(speaker->str.p, speaker->str.len, &ev->speaker) != 0 ||
      ev->speaker == ES_SPEAKER_ANY)
    return 0;
  if (final->kind != FV_NONE && final->kind != FV_NULL && final->kind != FV_TRUE &&
      final->kind != FV_FALSE)
    return 0;
  if ((has_end_ts = fast_opt_number(&obj->vals[K_END_TS], &ev->end_ts)) < 0 ||
      fast_common(obj, ev) != 0)
    return 0;
  ev->type = ES_EV_UTTERANCE;
  ev->text = text->str.p;
  ev->text_len = text->str.len;
  ev->has_end_ts = (unsigned)has_end_ts;
  ev->final = final->kind == FV_FALSE ? 0u : 1u;
  return 1;
}

static int fast_start(struct es_decoder *d, struct fast_obj *obj, struct es_event *ev) {
  if (!obj->attrs_ok || fast_common(obj, ev) != 0)
    return 0;
  /* The names still in the line, into scratch with their NUL: each is
   * shorter than its quoted form, which scratch's len + 1 bytes counted. */
  for (size_t n = 0; n < obj->nattrs; n++) {
    const char *k = obj->attr_keys[n];
    size_t kl = obj->attr_klen[n];
    if (k[kl] != '\0') {
      memcpy(d->scratch + obj->scratch, k, kl);
      d->scratch[obj->scratch + kl] = '\0';
      obj->attr_keys[n] = d->scratch + obj->scratch;
      obj->scratch += kl + 1;
    }
  }
  ev->type = ES_EV_START;
  ev->agent = obj->agent;
  ev->queue = obj->queue;
  ev->customer = obj->customer;
  memcpy(ev->attr_keys, obj->attr_keys, obj->nattrs * sizeof(obj->attr_keys[0]));
  memcpy(ev->attr_values, obj->attr_values, obj->nattrs * sizeof(obj->attr_values[0]));
  ev->nattrs = obj->nattrs;
  return 1;
}

static int fast_end(const struct fast_obj *obj, struct es_event *ev) {
  if (fast_common(obj, ev) != 0)
    return 0;
  ev->type = ES_EV_END;
  return 1;
}

/* Returns 1 with *ev filled when the line is a valid utterance, start or
 * end line the fast path understands; 0 to let the cJSON path decide. */
static int fast_decode(struct es_decoder *d, const char *s, size_t len, struct es_event *ev) {
  struct fast_obj obj;
  const struct fast_val *type = &obj.vals[K_TYPE];

  if (fast_scan(d, s, len, &obj) != 0)
    return 0;
  if (type->kind == FV_NONE)
    return fast_utterance(&obj, ev);
  if (type->kind != FV_STR)
    return 0;
  switch (type->str.len) {
  case 9: return memcmp(type->str.p, "utterance", 9) == 0 && fast_utterance(&obj, ev);
  case 5: return memcmp(type->str.p, "start", 5) == 0 && fast_start(d, &obj, ev);
  case 3: return memcmp(type->str.p, "end", 3) == 0 && fast_end(&obj, ev);
  default: return 0;
  }
}

static int __attribute__((format(printf, 3, 4)))
fail(struct es_proto_error *err, const char *code, const char *fmt, ...) {
  va_list ap;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
  return ES_EJSON;
}

/* Optional number field: 0 when absent or valid, -1 when mistyped. */
static int opt_number(const cJSON *obj, const char *key, double *out, int *has) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  *has = 0;
  if (v == NULL || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return -1;
  *out = v->valuedouble;
  *has = 1;
  return 0;
}

/*
 * The seq of a line refused for its bytes (a NUL, invalid UTF-8, a bad
 * \u escape) before it was parsed, so that its error record carries the
 * seq and it is acknowledged like any other line with an error
 * (docs/protocol.md). Those lines are JSON in all but the bytes of a
 * string, so their structure still reads: this walks it (strings with
 * their escapes, nesting) and takes the first "seq" field of the top
 * object, as cJSON would, when its value is a whole number a seq may be.
 * Never used on a line cJSON refused: a broken structure could make any
 * digits look like a seq, and a wrong seq would acknowledge lines the
 * platform still needs to resend.
 */
static void salvage_seq(const char *s, size_t len, struct es_event *ev) {
  size_t i = 0, key = 0, key_len = 0;
  int depth = 0, have_key = 0;

  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i == len || s[i] != '{')
    return; /* the top is an object, or nothing is */
  while (i < len) {
    char c = s[i];
    if (c == '"') {
      size_t start = ++i;
      while (i < len && s[i] != '"')
        i += s[i] == '\\' ? 2 : 1;
      if (i >= len)
        return;
      key = start;
      key_len = i - start;
      have_key = depth == 1;
      i++;
      continue;
    }
    if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth == 0)
        return; /* the end of the top object */
    } else if (c == ':' && have_key && key_len == 3 && memcmp(s + key, "seq", 3) == 0) {
      uint64_t v = 0;
      size_t j = i + 1, first, digits;
      while (j < len && (s[j] == ' ' || s[j] == '\t'))
        j++;
      for (first = j; j < len && s[j] >= '0' && s[j] <= '9' && j - first < 17; j++)
        v = v * 10 + (uint64_t)(s[j] - '0');
      digits = j - first;
      while (j < len && (s[j] == ' ' || s[j] == '\t'))
        j++;
      /* Digits alone (no sign, fraction or exponent: cJSON would have
       * refused or rounded them), without a leading zero, below 2^53,
       * then the field's end. */
      if (digits > 0 && (digits == 1 || s[first] != '0') && v < (uint64_t)ES_SEQ_LIMIT &&
          j < len && (s[j] == ',' || s[j] == '}')) {
        ev->seq = (int64_t)v;
        ev->has_seq = 1;
      }
      return; /* the first "seq" is the one cJSON would take */
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      have_key = 0;
    }
    i++;
  }
}

/*
 * The \u escapes in the line's strings, judged before cJSON sees them,
 * because cJSON gets three of them wrong: it decodes "\u0000" into a NUL
 * that silently cuts the string short, decodes a \u without four hex
 * digits ("\uZZZZ") into the same NUL, and calls a lone UTF-16 surrogate
 * ("\ud800" without a "\udc00".."\udfff" after it, or such a low half
 * alone) malformed JSON, when the line is JSON whose text is not Unicode
 * (no UTF-8 encodes a lone surrogate): invalid_utf8, like the same
 * character sent raw. 0, or the error (via fail()), which names the escape,
 * the field whose value holds it and its byte offset.
 *
 * A backslash outside a string is not an escape (cJSON calls the line
 * malformed); strings are followed by their quotes, and a backslash inside
 * one always starts an escape, so the escaped backslash of "\\u0000" is
 * stepped over whole.
 */
static int check_escapes(const char *line, size_t len, struct es_proto_error *err) {
  const char *key = NULL, *str = NULL; /* the last field name; the string being read */
  size_t key_len = 0, str_len = 0, i;
  int in_str = 0, after_colon = 0, is_value = 0;
  char field[80] = "";

  if (memchr(line, '\\', len) == NULL)
    return 0;
  for (i = 0; i < len; i++) {
    char c = line[i];
    if (!in_str) {
      if (c == '"') {
        in_str = 1;
        str = line + i + 1;
        is_value = after_colon;
      } else if (c == ':') {
        key = str;
        key_len = str_len;
        after_colon = 1;
      } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
        after_colon = 0;
      }
      continue;
    }
    if (c == '"') {
      in_str = 0;
      str_len = (size_t)(line + i - str);
      after_colon = 0;
      continue;
    }
    if (c != '\\')
      continue;
    if (i + 1 >= len)
      return 0; /* cJSON says what is wrong */
    if (line[i + 1] != 'u') {
      i++;
      continue;
    }
    unsigned cp, low;
    if (is_value && key)
      snprintf(field, sizeof(field), " in \"%.*s\"", (int)(key_len < 64 ? key_len : 64), key);
    if (hex4(line + i + 2, len - i - 2, &cp) != 0)
      return fail(err, "invalid_json", "\"\\u\" at byte %zu%s is not followed by four hex digits",
                  i, field);
    if (cp == 0)
      return fail(err, "nul_byte", "line contains an escaped NUL (\\u0000) at byte %zu%s", i,
                  field);
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return fail(err, "invalid_utf8",
                  "unpaired UTF-16 surrogate \"%.6s\" at byte %zu%s: a low surrogate "
                  "(\\udc00-\\udfff) must follow a high one (\\ud800-\\udbff)",
                  line + i, i, field);
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (!(i + 7 < len && line[i + 6] == '\\' && line[i + 7] == 'u' &&
            hex4(line + i + 8, len - i - 8, &low) == 0 && low >= 0xDC00 && low <= 0xDFFF))
        return fail(err, "invalid_utf8",
                    "unpaired UTF-16 surrogate \"%.6s\" at byte %zu%s: a high surrogate "
                    "(\\ud800-\\udbff) must be followed by a low one (\\udc00-\\udfff)",
                    line + i, i, field);
      i += 6; /* the pair's low half */
    }
    i += 5;
  }
  return 0;
}

static int get_call_id(const cJSON *root, struct es_event *ev, struct es_proto_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "call_id");
  if (v == NULL)
    return fail(err, "missing_field", "missing \"call_id\"");
  if (!cJSON_IsString(v))
    return fail(err, "wrong_type", "\"call_id\" must be a string");
  size_t n = strlen(v->valuestring);
  if (n == 0)
    return fail(err, "empty_field", "\"call_id\" must not be empty");
  if (n > ES_CALL_ID_MAX)
    return fail(err, "field_too_long", "\"call_id\" is longer than %d bytes", ES_CALL_ID_MAX);
  ev->call_id = v->valuestring;
  return 0;
}

static void put(struct es_strbuf *b, const char *p, size_t n) {
  if (b)
    es_strbuf_add(b, p, n);
}

static int number_byte(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*
 * Moves *i past the JSON value at line[*i], one that cJSON has read (so
 * well formed, but for what cJSON lets through), and copies it to b
 * (when not NULL) without its white space: strings as sent, but for a
 * control character cJSON let through raw, which is escaped; numbers as
 * sent. 0, or when copying, an error (via fail()) about field `name`:
 * invalid_json for a number JSON does not allow but cJSON reads ("01",
 * "1.", "-.5": its text would not be JSON), too_deep for arrays and
 * objects nested more than ES_ATTR_DEPTH_MAX levels.
 */
static int copy_value(struct es_strbuf *b, const char *line, size_t len, size_t *i,
                      const char *name, struct es_proto_error *err) {
  size_t j = *i, depth = 0;
  while (j < len) {
    unsigned char c = (unsigned char)line[j];
    if (c <= ' ') { /* white space, as cJSON skips it */
      j++;
    } else if (c == '"') {
      size_t from = j;
      for (j++; j < len && line[j] != '"'; j++) {
        if (line[j] == '\\' && j + 1 < len) {
          j++;
        } else if ((unsigned char)line[j] < ' ' && b) {
          char u[8];
          snprintf(u, sizeof(u), "\\u%04x", (unsigned)(unsigned char)line[j]);
          put(b, line + from, j - from);
          put(b, u, 6);
          from = j + 1;
        }
      }
      j += j < len; /* the closing quote */
      put(b, line + from, j - from);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      size_t end = j;
      while (end < len && number_byte(line[end]))
        end++;
      if (b && es__json_number_end(line, j, len) != end)
        return fail(err, "invalid_json",
                    "call metadata \"%.64s\": %.*s at byte %zu is not a JSON number (no leading "
                    "zeros, digits on both sides of a \".\")",
                    name, (int)(end - j < 32 ? end - j : 32), line + j, j);
      put(b, line + j, end - j);
      j = end;
    } else if (c >= 'a' && c <= 'z') { /* true, false, null */
      size_t from = j;
      while (j < len && line[j] >= 'a' && line[j] <= 'z')
        j++;
      put(b, line + from, j - from);
    } else {
      if (c == '{' || c == '[') {
        if (++depth > ES_ATTR_DEPTH_MAX && b)
          return fail(err, "too_deep", "call metadata \"%.64s\" is nested more than %d levels deep",
                      name, ES_ATTR_DEPTH_MAX);
      } else if (c == '}' || c == ']') {
        depth--;
      }
      put(b, line + j, 1); /* a bracket, ',' or ':' */
      j++;
    }
    if (depth == 0)
      break;
  }
  *i = j;
  return 0;
}

/*
 * The metadata of a start line (proto.h): every field but type, call_id,
 * ts and seq whose value is not null. The line is walked beside cJSON's
 * members (the same, in the same order: cJSON keeps repeated names)
 * because a number is kept as it was sent, and cJSON keeps only its
 * double. A string is cJSON's, decoded; true and false are their words;
 * a number, an array or an object is its text copied from the line into
 * d->texts, whose pointers are set once it no longer moves.
 */
static int start_meta(struct es_decoder *d, const char *line, size_t len, struct es_event *ev,
                      struct es_proto_error *err) {
  size_t at[ES_ATTR_MAX]; /* offsets in d->texts of the values copied there */
  uint32_t copied = 0;
  int agent = -1, queue = -1, customer = -1;
  /* Just past the '{' of the object cJSON read: before it there is only
   * white space and a UTF-8 byte order mark, which cJSON skips. */
  size_t i = (size_t)((const char *)memchr(line, '{', len) - line) + 1;
  const cJSON *v;

  d->texts.len = 0;
  d->texts.failed = 0;
  cJSON_ArrayForEach(v, d->root) {
    size_t n = ev->nattrs;
    int rc;

    while (i < len && (line[i] == ',' || (unsigned char)line[i] <= ' '))
      i++;
    copy_value(NULL, line, len, &i, NULL, err); /* the name */
    while (i < len && (line[i] == ':' || (unsigned char)line[i] <= ' '))
      i++;
    if (strcmp(v->string, "type") == 0 || strcmp(v->string, "call_id") == 0 ||
        strcmp(v->string, "ts") == 0 || strcmp(v->string, "seq") == 0 || cJSON_IsNull(v)) {
      copy_value(NULL, line, len, &i, NULL, err);
      continue;
    }
    if (n == ES_ATTR_MAX)
      return fail(err, "too_many_fields", "more than %d metadata fields", ES_ATTR_MAX);
    if (cJSON_IsString(v) || cJSON_IsBool(v)) {
      ev->attr_values[n] = cJSON_IsString(v) ? v->valuestring : cJSON_IsTrue(v) ? "true" : "false";
      copy_value(NULL, line, len, &i, NULL, err);
    } else {
      at[n] = d->texts.len;
      copied |= 1u << n;
      if ((rc = copy_value(&d->texts, line, len, &i, v->string, err)) != 0)
        return rc;
      es_strbuf_add(&d->texts, "", 1);
    }
    if (!cJSON_IsString(v))
      ev->attr_json |= 1u << n;
    if (cJSON_IsString(v) || cJSON_IsNumber(v)) {
      if (strcmp(v->string, "agent_id") == 0)
        agent = (int)n;
      else if (strcmp(v->string, "queue") == 0)
        queue = (int)n;
      else if (strcmp(v->string, "customer") == 0)
        customer = (int)n;
    }
    ev->attr_keys[n] = v->string;
    ev->nattrs++;
  }
  if (d->texts.failed) {
    fail(err, "internal", "out of memory reading the call metadata");
    return ES_ENOMEM;
  }
  for (size_t n = 0; n < ev->nattrs; n++)
    if (copied & 1u << n)
      ev->attr_values[n] = d->texts.p + at[n];
  ev->agent = agent >= 0 ? ev->attr_values[agent] : NULL;
  ev->queue = queue >= 0 ? ev->attr_values[queue] : NULL;
  ev->customer = customer >= 0 ? ev->attr_values[customer] : NULL;
  return 0;
}

/* How many arrays and objects are open at line[off], strings skipped: the
 * parser stops at its nesting limit as it stops at a syntax error, and
 * only this tells the two apart. */
static unsigned depth_at(const char *line, size_t off) {
  unsigned depth = 0;
  int in_str = 0;
  for (size_t i = 0; i < off; i++) {
    char c = line[i];
    if (in_str) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_str = 0;
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      depth++;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return depth;
}

int es_proto_decode(struct es_decoder *d, const char *line, size_t len, struct es_event *ev,
                    struct es_proto_error *err) {
  const cJSON *v, *type;
  const char *end = NULL;
  int has;

  /* Everything but the metadata arrays, whose entries past nattrs are
   * not the event's: 0.5 KiB a line not to clear. */
  memset(ev, 0, offsetof(struct es_event, attr_keys));
  err->code = NULL;
  err->message[0] = '\0';
  cJSON_Delete(d->root);
  d->root = NULL;

  if (len > 0 && line[len - 1] == '\r')
    len--;
  if (len > d->max_line)
    return fail(err, "line_too_long", "line is %zu bytes; the limit (max_line_bytes) is %zu",
                len, d->max_line);
  /* One pass on the good path: es_utf8_valid also refuses NUL, so the
   * search for a NUL only runs to name the error of a line that failed. */
  if (!es_utf8_valid(line, len)) {
    salvage_seq(line, len, ev);
    if (memchr(line, '\0', len))
      return fail(err, "nul_byte", "line contains a NUL byte");
    return fail(err, "invalid_utf8", "line is not valid UTF-8");
  }
  if (d->fast && fast_decode(d, line, len, ev)) {
    d->fast_lines++;
    return 0;
  }
  memset(ev, 0, offsetof(struct es_event, attr_keys));
  {
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
      i++;
    if (i == len)
      return fail(err, "empty_line", "empty line");
  }
  if (check_escapes(line, len, err) != 0) {
    salvage_seq(line, len, ev);
    return ES_EJSON;
  }
  d->root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
  if (d->root == NULL) {
    size_t off = end ? (size_t)(end - line) : 0;
    if (depth_at(line, off) >= CJSON_NESTING_LIMIT)
      return fail(err, "too_deep", "arrays and objects nested more than %d levels deep at byte %zu",
                  CJSON_NESTING_LIMIT, off);
    return fail(err, "invalid_json", "malformed JSON at byte %zu", off);
  }
  /* Anything but white space after the object is an error, not ignored. */
  for (size_t i = (size_t)(end - line); i < len; i++)
    if (line[i] != ' ' && line[i] != '\t')
      return fail(err, "invalid_json", "unexpected data after the JSON value at byte %zu", i);
  if (!cJSON_IsObject(d->root))
    return fail(err, "not_object", "a line must be a JSON object");

  /* Any line may carry the client's line number; acks refer to it. First,
   * so that every later error about the line carries it. Below 2^53: a
   * double holds each such number exactly, and a larger one may be
   * another number rounded (2^53 + 1 reads as 2^53). */
  v = cJSON_GetObjectItemCaseSensitive(d->root, "seq");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble >= ES_SEQ_LIMIT)
      return fail(err, "wrong_type", "\"seq\" must be a whole number from 0 to "
                  "9007199254740991 (2^53 - 1)");
    ev->seq = (int64_t)v->valuedouble;
    ev->has_seq = 1;
  }

  type = cJSON_GetObjectItemCaseSensitive(d->root, "type");
  if (type && !cJSON_IsString(type))
    return fail(err, "wrong_type", "\"type\" must be a string");
  const char *t = type ? type->valuestring : "utterance";

  if (strcmp(t, "utterance") == 0) {
    ev->type = ES_EV_UTTERANCE;
    if (get_call_id(d->root, ev, err) != 0)
      return ES_EJSON;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "speaker");
    if (v == NULL)
      return fail(err, "missing_field", "missing \"speaker\" (agent or customer)");
    if (!cJSON_IsString(v))
      return fail(err, "wrong_type", "\"speaker\" must be a string (agent or customer)");
    if (es_speaker_parse(v->valuestring, &ev->speaker) != 0 || ev->speaker == ES_SPEAKER_ANY)
      return fail(err, "unknown_speaker", "unknown speaker \"%.64s\" (expected agent or customer)",
                  v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(d->root, "text");
    if (v == NULL)
      return fail(err, "missing_field", "missing \"text\"");
    if (!cJSON_IsString(v))
      return fail(err, "wrong_type", "\"text\" must be a string");
    ev->text = v->valuestring;
    ev->text_len = strlen(v->valuestring);
    /* Escapes such as \\ud83d\\ude00 decode to bytes the raw-line check never saw. */
    if (!es_utf8_valid(ev->text, ev->text_len))
      return fail(err, "invalid_utf8", "\"text\" is not valid UTF-8");
    if (opt_number(d->root, "ts", &ev->ts, &has) != 0)
      return fail(err, "wrong_type", "\"ts\" must be a number (seconds)");
    ev->has_ts = (unsigned)has;
    if (opt_number(d->root, "end_ts", &ev->end_ts, &has) != 0)
      return fail(err, "wrong_type", "\"end_ts\" must be a number (seconds)");
    ev->has_end_ts = (unsigned)has;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "final");
    ev->final = 1;
    if (v && !cJSON_IsNull(v)) {
      if (!cJSON_IsBool(v))
        return fail(err, "wrong_type", "\"final\" must be true or false");
      ev->final = cJSON_IsTrue(v) ? 1u : 0u;
    }
    return 0;
  }
  if (strcmp(t, "end") == 0) {
    ev->type = ES_EV_END;
    if (get_call_id(d->root, ev, err) != 0)
      return ES_EJSON;
    if (opt_number(d->root, "ts", &ev->ts, &has) != 0)
      return fail(err, "wrong_type", "\"ts\" must be a number (seconds)");
    ev->has_ts = (unsigned)has;
    return 0;
  }
  if (strcmp(t, "start") == 0) {
    ev->type = ES_EV_START;
    if (get_call_id(d->root, ev, err) != 0)
      return ES_EJSON;
    if (opt_number(d->root, "ts", &ev->ts, &has) != 0)
      return fail(err, "wrong_type", "\"ts\" must be a number (seconds)");
    ev->has_ts = (unsigned)has;
    return start_meta(d, line, len, ev, err);
  }
  if (strcmp(t, "hello") == 0) {
    ev->type = ES_EV_HELLO;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "client");
    if (v && !cJSON_IsString(v))
      return fail(err, "wrong_type", "\"client\" must be a string");
    ev->client = v ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "token");
    if (v && !cJSON_IsString(v))
      return fail(err, "wrong_type", "\"token\" must be a string");
    ev->token = v ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "acks");
    if (v && !cJSON_IsBool(v))
      return fail(err, "wrong_type", "\"acks\" must be true or false");
    ev->acks = v && cJSON_IsTrue(v);
    return 0;
  }
  if (strcmp(t, "stats") == 0) {
    ev->type = ES_EV_STATS;
    return 0;
  }
  if (strcmp(t, "reload") == 0) {
    ev->type = ES_EV_RELOAD;
    return 0;
  }
  if (strcmp(t, "subscribe") == 0) {
    ev->type = ES_EV_SUBSCRIBE;
    return 0;
  }
  if (strcmp(t, "mark") == 0) {
    ev->type = ES_EV_MARK;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "alert_id");
    if (v == NULL)
      return fail(err, "missing_field", "a mark needs \"alert_id\" (the id of a feed alert)");
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9e15 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
      return fail(err, "wrong_type", "\"alert_id\" must be a whole number >= 1");
    ev->alert_id = (int64_t)v->valuedouble;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "mark");
    if (v == NULL || !cJSON_IsString(v) ||
        (strcmp(v->valuestring, "taken") != 0 && strcmp(v->valuestring, "resolved") != 0 &&
         strcmp(v->valuestring, "false_positive") != 0))
      return fail(err, v == NULL ? "missing_field" : "wrong_type",
                  "\"mark\" must be \"taken\", \"resolved\" or \"false_positive\"");
    ev->mark = v->valuestring;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "by");
    if (v && (!cJSON_IsString(v) || strlen(v->valuestring) > 128))
      return fail(err, "wrong_type", "\"by\" must be a name of at most 128 bytes");
    ev->by = v ? v->valuestring : NULL;
    v = cJSON_GetObjectItemCaseSensitive(d->root, "note");
    if (v && (!cJSON_IsString(v) || strlen(v->valuestring) > 1024))
      return fail(err, "wrong_type", "\"note\" must be a string of at most 1024 bytes");
    ev->note = v ? v->valuestring : NULL;
    return 0;
  }
  return fail(err, "unknown_type",
              "unknown \"type\" \"%.64s\" (expected utterance, start, end, hello, stats, reload, "
              "subscribe or mark)", t);
}
