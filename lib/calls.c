/* calls.c: a chained hash table of open calls that grows by doubling. */
#include "calls.h"
#include "engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "error.h"
#include "hash.h"

/* Calls no longer open, remembered by the hash of their id (never 0: 0
 * marks a free slot) in two generations of at most `max` each, open
 * addressing at half load; when the newer one is full the older is
 * forgotten. `vals`, when the set has them, holds a number per id. */
struct gone {
  uint64_t *ids[2];   /* 2 * max slots each */
  uint64_t *vals[2];  /* the same, or NULL */
  size_t n[2];
  size_t max;         /* a power of two */
  unsigned gen;       /* the generation now filling */
};

struct es_calls {
  struct es_call **buckets;
  size_t nbuckets;  /* power of two */
  size_t count;
  size_t max;
  struct gone ended;      /* ES_CALLS_ENDED, ids only */
  struct gone abandoned;  /* ES_CALLS_ABANDONED, each with its line count */
};

static uint64_t hash_id(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 0x100000001b3ULL;
  }
  return h;
}

static int gone_init(struct gone *g, size_t max, int with_vals) {
  g->max = max;
  for (int i = 0; i < 2; i++) {
    g->ids[i] = calloc(2 * max, sizeof(uint64_t));
    if (with_vals)
      g->vals[i] = calloc(2 * max, sizeof(uint64_t));
    if (g->ids[i] == NULL || (with_vals && g->vals[i] == NULL))
      return ES_ENOMEM;
  }
  return 0;
}

static void gone_deinit(struct gone *g) {
  for (int i = 0; i < 2; i++) {
    free(g->ids[i]);
    free(g->vals[i]);
  }
}

/* The slot of h in generation `gen`: where it is, or the free slot where
 * it would go. */
static size_t gone_slot(const struct gone *g, unsigned gen, uint64_t h) {
  size_t mask = 2 * g->max - 1, i = (size_t)(h ^ (h >> 32)) & mask;
  while (g->ids[gen][i] != 0 && g->ids[gen][i] != h)
    i = (i + 1) & mask;
  return i;
}

/* The generation that holds h, the newer first, its slot in *slot; -1
 * when neither does. */
static int gone_find(const struct gone *g, uint64_t h, size_t *slot) {
  for (unsigned k = 0; k < 2; k++) {
    unsigned gen = g->gen ^ k;
    size_t i = gone_slot(g, gen, h);
    if (g->ids[gen][i] == h) {
      *slot = i;
      return (int)gen;
    }
  }
  return -1;
}

/* Puts h in the newer generation (forgetting the older when the newer is
 * full) unless it is there; returns its slot there. */
static size_t gone_put(struct gone *g, uint64_t h) {
  size_t i = gone_slot(g, g->gen, h);
  if (g->ids[g->gen][i] == h)
    return i;
  if (g->n[g->gen] == g->max) {
    g->gen ^= 1;
    memset(g->ids[g->gen], 0, 2 * g->max * sizeof(uint64_t));
    g->n[g->gen] = 0;
    i = gone_slot(g, g->gen, h);
  }
  g->ids[g->gen][i] = h;
  g->n[g->gen]++;
  return i;
}

/* An id's hash as the sets keep it: 0 marks a free slot. */
static uint64_t gone_key(uint64_t h) { return h ? h : 1; }

struct es_calls *es_calls_new(size_t max_calls) {
  struct es_calls *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->nbuckets = 64;
  t->max = max_calls;
  t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
  if (t->buckets == NULL || gone_init(&t->ended, ES_CALLS_ENDED, 0) != 0 ||
      gone_init(&t->abandoned, ES_CALLS_ABANDONED, 1) != 0) {
    es_calls_free(t);
    return NULL;
  }
  return t;
}

static void free_call(struct es_call *c) {
  es_callstate_free(c->state);
  free(c->agent);
  free(c->queue);
  free(c->attrs_json);
  free(c);
}

void es_calls_free(struct es_calls *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; t->buckets && i < t->nbuckets; i++) {
    struct es_call *c = t->buckets[i];
    while (c) {
      struct es_call *next = c->next_;
      free_call(c);
      c = next;
    }
  }
  free(t->buckets);
  gone_deinit(&t->ended);
  gone_deinit(&t->abandoned);
  free(t);
}

/* Call `id`, whose hash_id() is h, or NULL. */
static struct es_call *find_hashed(const struct es_calls *t, const char *id, uint64_t h) {
  for (struct es_call *c = t->buckets[h & (t->nbuckets - 1)]; c; c = c->next_)
    if (c->hash_ == h && strcmp(c->id, id) == 0)
      return c;
  return NULL;
}

struct es_call *es_calls_find(const struct es_calls *t, const char *id) {
  return find_hashed(t, id, hash_id(id));
}

static void grow(struct es_calls *t) {
  size_t n = t->nbuckets * 2;
  struct es_call **b = calloc(n, sizeof(*b));
  if (b == NULL)
    return; /* chains just get longer */
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct es_call *c = t->buckets[i];
    while (c) {
      struct es_call *next = c->next_;
      c->next_ = b[c->hash_ & (n - 1)];
      b[c->hash_ & (n - 1)] = c;
      c = next;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
}

int es_calls_open(struct es_calls *t, const char *id, double now, struct es_call **out,
                  int *created) {
  uint64_t h = hash_id(id);
  struct es_call *c = find_hashed(t, id, h);
  size_t len = strlen(id);

  *created = 0;
  if (c) {
    *out = c;
    return 0;
  }
  if (len > ES_CALL_ID_MAX || len == 0)
    return ES_EINVAL;
  if (t->count >= t->max)
    return ES_ETOOBIG;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return ES_ENOMEM;
  memcpy(c->id, id, len + 1);
  c->hash_ = h;
  c->opened_at = now;
  c->last_seen = now;
  c->recent_top = -INFINITY; /* the first line is new */
  if (t->abandoned.n[0] + t->abandoned.n[1] > 0) {
    size_t slot;
    int gen = gone_find(&t->abandoned, gone_key(c->hash_), &slot);
    if (gen >= 0)
      c->lines = t->abandoned.vals[gen][slot];
  }
  if (t->count >= t->nbuckets)
    grow(t);
  c->next_ = t->buckets[c->hash_ & (t->nbuckets - 1)];
  t->buckets[c->hash_ & (t->nbuckets - 1)] = c;
  t->count++;
  *out = c;
  *created = 1;
  return 0;
}

uint64_t es_line_key(const struct es_event *ev) {
  uint64_t h = 0xcbf29ce484222325ULL, tag;
  if (ev->has_seq) {
    tag = (uint64_t)ev->seq << 1;
  } else if (ev->has_ts) {
    memcpy(&tag, &ev->ts, sizeof(tag));
    tag |= 1;
  } else {
    return 0;
  }
  /* Eight bytes at a time (every line pays for it), then the speaker and
   * the tag mixed in. */
  h = es__hash_bytes(h, ev->text, ev->text_len);
  h ^= (uint64_t)ev->speaker * 0x9e3779b97f4a7c15ULL;
  h ^= tag * 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 31;
  return h ? h : 1;
}

int es_call_seen(struct es_call *c, const struct es_event *ev, uint64_t key) {
  double at = ev->has_seq ? (double)ev->seq : ev->ts;
  if (at > c->recent_top) {
    c->recent_top = at;
  } else {
    for (size_t i = 0; i < ES_CALL_RECENT; i++)
      if (c->recent[i] == key)
        return 1;
  }
  c->recent[c->recent_pos] = key;
  c->recent_pos = (c->recent_pos + 1) % ES_CALL_RECENT;
  return 0;
}

int es_call_set_meta(struct es_call *c, const struct es_event *start) {
  char *agent = start->agent ? strdup(start->agent) : NULL;
  char *queue = start->queue ? strdup(start->queue) : NULL;
  char *attrs = NULL;
  size_t cap = 3, pos = 0; /* "{}" and its NUL */

  /* Each field: a comma, the name and the value each escaped (at most 6
   * bytes per byte) and quoted, a colon. A value that is JSON text goes in
   * as it is, which takes less. */
  for (size_t i = 0; i < start->nattrs; i++)
    cap += 8 * (strlen(start->attr_keys[i]) + strlen(start->attr_values[i])) + 8;
  attrs = malloc(cap);
  if ((start->agent && !agent) || (start->queue && !queue) || attrs == NULL)
    goto oom;
  attrs[pos++] = '{';
  for (size_t i = 0; i < start->nattrs; i++) {
    if (i)
      attrs[pos++] = ',';
    es_json_str(attrs, cap, &pos, start->attr_keys[i], strlen(start->attr_keys[i]));
    attrs[pos++] = ':';
    if (start->attr_json & 1u << i) {
      size_t n = strlen(start->attr_values[i]);
      memcpy(attrs + pos, start->attr_values[i], n);
      pos += n;
    } else {
      es_json_str(attrs, cap, &pos, start->attr_values[i], strlen(start->attr_values[i]));
    }
  }
  attrs[pos++] = '}';
  attrs[pos] = '\0';
  free(c->agent);
  free(c->queue);
  free(c->attrs_json);
  c->agent = agent;
  c->queue = queue;
  c->attrs_json = attrs;
  c->started = 1;
  return 0;
oom:
  free(agent);
  free(queue);
  free(attrs);
  return ES_ENOMEM;
}

void es_calls_remove(struct es_calls *t, struct es_call *c) {
  struct es_call **pp = &t->buckets[c->hash_ & (t->nbuckets - 1)];
  while (*pp && *pp != c)
    pp = &(*pp)->next_;
  if (*pp) {
    *pp = c->next_;
    t->count--;
  }
  free_call(c);
}

/* Remembers the call whose id hashes to h as ended. */
static void remember_ended(struct es_calls *t, uint64_t h) {
  size_t slot;
  h = gone_key(h);
  if (gone_find(&t->ended, h, &slot) < 0)
    gone_put(&t->ended, h);
}

void es_calls_end(struct es_calls *t, struct es_call *c) {
  remember_ended(t, c->hash_);
  es_calls_remove(t, c);
}

void es_calls_ended_add(struct es_calls *t, const char *id) { remember_ended(t, hash_id(id)); }

int es_calls_ended(const struct es_calls *t, const char *id) {
  size_t slot;
  return gone_find(&t->ended, gone_key(hash_id(id)), &slot) >= 0;
}

size_t es_calls_count(const struct es_calls *t) { return t->count; }

void es_calls_foreach(struct es_calls *t, void (*fn)(void *ud, struct es_call *c), void *ud) {
  for (size_t i = 0; i < t->nbuckets; i++)
    for (struct es_call *c = t->buckets[i]; c; c = c->next_)
      fn(ud, c);
}

size_t es_calls_expire(struct es_calls *t, double now, double idle,
                       void (*fn)(void *ud, struct es_call *c), void *ud) {
  size_t n = 0;
  for (size_t i = 0; i < t->nbuckets; i++) {
    struct es_call **pp = &t->buckets[i];
    while (*pp) {
      struct es_call *c = *pp;
      if (now - c->last_seen >= idle) {
        *pp = c->next_;
        t->count--;
        if (fn)
          fn(ud, c);
        if (c->lines > 0) {
          size_t slot = gone_put(&t->abandoned, gone_key(c->hash_));
          t->abandoned.vals[t->abandoned.gen][slot] = c->lines;
        }
        free_call(c);
        n++;
      } else {
        pp = &c->next_;
      }
    }
  }
  return n;
}

double es_call_line_time(struct es_call *c, const struct es_event *ev, double elapsed) {
  if (ev->has_ts) {
    c->call_t = ev->ts;
    c->has_ts = 1;
  } else if (!c->has_ts && elapsed == elapsed) {
    c->call_t = elapsed;
  }
  return c->call_t;
}
