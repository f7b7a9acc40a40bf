/*
 * gen_corpus.c: deterministic test data for bench/match.
 *
 * Writes into an output directory:
 *   corpus.txt       one call-center utterance per line (UTF-8), agent and
 *                    customer turns of calls; about 1.5% of the lines carry
 *                    a trigger phrase of the generated rules
 *   corpus.spk       one byte per line of corpus.txt: 'a' agent, 'c' customer
 *   rules-N.json     a rule set of the first N generated rules (rule language
 *                    of docs/rules.md), for every N of --sizes
 *   pats-N.txt       the plain phrases of those rules, one per line, for
 *                    `rg -F -f`
 *
 * Everything comes from one fixed-seed PRNG (splitmix64); no clock, no
 * environment. The same flags give byte-identical files.
 *
 * Rules are (intent x topic): 25 intents (churn, manager request, legal
 * threat, banned agent phrases, de-escalation moves, ...) each with 2-6
 * phrase templates, crossed with 40 topics ("broadband contract",
 * "car insurance policy", ...): 1,000 distinct, plausible rules. Rule k of
 * the master list is intent k % 25 with a topic chosen so that any prefix
 * covers every intent. Trigger lines draw their rule from the first 50
 * rules with probability 0.6, from rules 50..199 with 0.2 and from the rest
 * with 0.2, so every rule-set size sees hits (about 0.9%, 1.2% and 1.5% of
 * lines for 50, 200 and 1,000 rules at the default trigger rate).
 *
 * usage: bench_gen_corpus [--out DIR] [--lines N] [--seed S]
 *                         [--trigger-rate R] [--sizes 50,200,1000]
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- PRNG ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(uint32_t n)
{
  return (uint32_t)(((rng_next() >> 32) * (uint64_t)n) >> 32);
}

/* 1 with probability p. */
static int rng_chance(double p)
{
  return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0) < p;
}

#define PICK(arr) ((arr)[rng_below((uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ---- a bounded string builder --------------------------------------- */

#define SB_CAP 4096

struct sb {
  char buf[SB_CAP];
  size_t len;
};

static void sb_reset(struct sb *s) { s->len = 0; s->buf[0] = '\0'; }

static void sb_putn(struct sb *s, const char *p, size_t n)
{
  if (n > SB_CAP - 1 - s->len)
    n = SB_CAP - 1 - s->len; /* templates are short; never reached */
  memcpy(s->buf + s->len, p, n);
  s->len += n;
  s->buf[s->len] = '\0';
}

static void sb_puts(struct sb *s, const char *p) { sb_putn(s, p, strlen(p)); }

static void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(s->buf + s->len, SB_CAP - s->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    s->len += (size_t)n < SB_CAP - s->len ? (size_t)n : SB_CAP - 1 - s->len;
}

/* ---- vocabularies ---------------------------------------------------- */

/* Topics: what a call is about. Letters and spaces only (they are pasted
 * into regexes). */
static const char *const topics[] = {
  "broadband contract", "fibre package", "mobile plan", "phone contract",
  "sim only deal", "tv package", "sports subscription", "streaming plan",
  "home insurance policy", "car insurance policy", "travel insurance", "pet insurance",
  "credit card", "current account", "savings account", "personal loan",
  "mortgage application", "energy tariff", "gas account", "electricity account",
  "water bill", "gym membership", "magazine subscription", "meal kit subscription",
  "breakdown cover", "boiler cover", "phone warranty", "laptop warranty",
  "delivery pass", "premium membership", "cloud storage plan", "home security contract",
  "parking permit", "loyalty account", "business account", "family plan",
  "data bundle", "roaming bundle", "landline service", "router rental",
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

struct slot {
  const char *name;
  const char *const *items;
  size_t n;
};

#define ITEMS(...) (const char *const[]){__VA_ARGS__}, \
    sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static const struct slot slots[] = {
  {"company", ITEMS("Northwind Telecom", "Brightwave", "Harbor Bank", "Clearline Mobile",
                    "Acme Energy", "Bluebell Insurance", "Skyport Broadband")},
  {"name", ITEMS("Sarah", "James", "Priya", "Mohammed", "Zoë", "José", "Aoife", "Chen",
                 "Olu", "Tomasz", "Maria", "David", "Emma", "Liam", "Fatima", "Grace",
                 "Siobhán", "Kwame", "Anna", "Raj")},
  {"surname", ITEMS("Smith", "Patel", "O'Brien", "Nguyen", "Kowalski", "García", "Okafor",
                    "Jones", "Murphy", "Müller", "D'Souza", "Williams", "Khan", "Taylor")},
  {"topic", (const char *const *)topics, NTOPICS},
  {"device", ITEMS("router", "hub", "set top box", "phone", "boiler", "smart meter",
                   "tablet", "modem", "card reader", "app")},
  {"team", ITEMS("the billing team", "my team leader", "technical support", "the retentions team",
                 "our engineers", "the claims department", "the collections team")},
  {"amount", ITEMS("£42.50", "$19.99", "£120", "thirty two pounds", "€15", "£7.99",
                   "forty nine ninety nine", "$250", "£3.60", "sixty pounds")},
  {"month", ITEMS("January", "February", "March", "April", "May", "June", "July", "August",
                  "September", "October", "November", "December")},
  {"weekday", ITEMS("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")},
  {"daynum", ITEMS("1st", "3rd", "12th", "14th", "21st", "28th", "fifth", "ninth", "twentieth")},
  {"time", ITEMS("8am", "10", "half past two", "6pm", "noon", "7 o'clock", "4:30")},
  {"changed", ITEMS("updated", "renewed", "suspended", "upgraded", "moved", "changed")},
  {"daypart", ITEMS("morning", "afternoon", "evening")},
  {"nth", ITEMS("first", "second", "third", "fifth", "seventh", "last")},
  {"hours", ITEMS("24", "48", "two", "three")},
  {"postcode", ITEMS("SW1A 2AA", "M4 1BT", "LS6 3HN", "BT9 5AB", "EH3 9QQ", "CF10 1EP")},
  {"housenum", ITEMS("12", "4B", "221", "flat 3, 17", "88", "the old rectory,")},
  {"street", ITEMS("Station Road", "Church Lane", "Victoria Street", "Mill Close",
                   "Park Avenue", "the High Street")},
  {"ref", ITEMS("CX-48213", "A 7 7 1 9", "REF 0042 551", "double 4 double 7 9 1", "QX19-88")},
  {"d4", ITEMS("4 4 1 2", "0 9 3 7", "two eight six one", "7 7 0 3")},
  {"n", ITEMS("three", "five", "ten", "two", "fourteen", "a couple of")},
  {"filler", ITEMS("um", "uh", "erm", "so", "yeah", "okay", "right", "like", "you know",
                   "I mean", "basically", "actually", "sorry")},
};

static const struct slot *slot_find(const char *name, size_t len)
{
  for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
    if (strlen(slots[i].name) == len && memcmp(slots[i].name, name, len) == 0)
      return &slots[i];
  return NULL;
}

static const char *const agent_lines[] = {
  "Thank you for calling {company}, you're speaking with {name}, how can I help?",
  "Good {daypart}, thanks for holding, my name is {name}, who am I speaking with?",
  "Can I start by taking your full name and the postcode on the account?",
  "Could you confirm the first line of your address for me, please?",
  "And for security, can you give me the {nth} and {nth} characters of your password?",
  "Thank you, I've found your account, bear with me a second.",
  "Bear with me one moment while I pull up your {topic}.",
  "Okay, I can see the {topic} was {changed} on the {daynum} of {month}.",
  "So the last payment of {amount} went out on the {daynum} of {month}, does that sound right?",
  "I'm just going to pop you on a brief hold while I check with {team}.",
  "Thanks for waiting, I really appreciate your patience.",
  "What I can see here is that the {topic} renewed automatically last {month}.",
  "Have you tried switching the {device} off at the wall for thirty seconds?",
  "Is the light on the front of the {device} green or orange at the moment?",
  "I've added a note to your account so anyone you speak to can see it.",
  "You should receive a confirmation email within the next {hours} hours.",
  "The engineer can come out on {weekday} between {time} and {time}, would that work?",
  "Is there anything else I can help you with today?",
  "Thanks for calling {company}, have a lovely rest of your day.",
  "Let me just read that back to you to make sure I've got it right.",
  "Okay, so that's {amount} a month from {month}, including the {topic}.",
  "I can see there was an outage in your area on {weekday} evening.",
  "Just so you know, this call may be recorded for training and quality purposes.",
  "The reference number for today's call is {ref}, have you got a pen handy?",
  "I've gone ahead and updated the {topic} details on our system.",
  "Would you like me to send that to the email address we have on file?",
  "Let me check whether you're still within the minimum term on the {topic}.",
  "It looks like the {topic} is due for renewal on the {daynum} of {month}.",
  "Sorry, you broke up a little there, could you say that again?",
  "Right, bear with me, the system's being a bit slow today.",
  "I'll apply a credit of {amount} to your account now, it'll show on the next bill.",
  "Can you see the email I've just sent you with the new {topic} details?",
  "Okay, and when did you first notice the problem with the {device}?",
  "I'm running a line test now, it usually takes about a minute or two.",
  "Your {topic} is on the standard rate of {amount} a month at the moment.",
  "So just to confirm, you'd like the {topic} moved to the new address from {weekday}?",
};

static const char *const customer_lines[] = {
  "Hi, yes, I'm calling about my {topic}.",
  "It's {name} {surname}, and the postcode is {postcode}.",
  "The first line is {housenum} {street}.",
  "Yeah, that's right, that's the one.",
  "I got a letter saying the {topic} is going up to {amount} a month.",
  "My {device} keeps dropping out every evening around {time}.",
  "I was charged {amount} twice last month and I'm not sure why.",
  "I've already turned it off and on again, twice actually.",
  "The light's been flashing orange since {weekday} morning.",
  "Can you tell me when my {topic} actually ends?",
  "I moved house in {month} and I updated the address online.",
  "I'm looking at the bill now and it says {amount} for the {topic}.",
  "Sorry, can you repeat that, the line's really bad here.",
  "Okay, so what happens with the {topic} after that?",
  "My partner set up the {topic}, it might be in her name.",
  "Is it possible to pay by card instead of direct debit?",
  "I just want to understand why the {topic} costs more than last year.",
  "Yes, you can send it to the email on the account, that's fine.",
  "I'm at work at the moment so I can't really check right now.",
  "{weekday} would be fine, any time after {time} works for me.",
  "Right, and will that show up on the next bill or the one after?",
  "Hang on a sec, let me just grab a pen.",
  "The reference they gave me last time was {ref}.",
  "I think the last four digits are {d4}.",
  "Oh, that's great, thank you so much for that.",
  "The {device} just says something went wrong, please try again later.",
  "I did get an email but it didn't say anything about the {topic}.",
  "Can you check if there's a better deal on the {topic} for me?",
  "My son uses the {device} mostly, for his games and stuff.",
  "So is it {amount} a month or {amount} including the {topic}?",
  "Okay, thanks, that's really helpful, I appreciate it.",
  "It's been like this for about {n} days now, on and off.",
  "Why is there a charge for the {topic} on my statement?",
  "I'm not sure, it was a while ago, maybe {month}?",
  "We've had the {topic} with you for about {n} years.",
  "Can I just check the {topic} still includes the {device}?",
  "Okay… and how long will the engineer take — roughly?",
};

/* ---- intents (rule templates) --------------------------------------- */

/* A phrase template: {T} stands for the topic; a leading '^' marks a
 * clause that stands on its own (framed "Honestly, X."), otherwise it is a
 * verb phrase (framed "I want to X."). A '*' word is the rule language's
 * one-word wildcard. */
struct intent {
  const char *key;
  const char *category;
  const char *speaker;
  const char *severity;
  int score;
  const char *desc;     /* printf with the topic */
  const char *tip;
  const char *phrases[7];
  const char *patterns[3];
  const char *unless[2];
};

static const struct intent intents[] = {
  {"cancel", "churn_threat", "customer", "high", 4, "Customer threatens to cancel the %s",
   "Acknowledge the frustration, then say what you can do before talking about cancellation.",
   {"cancel my {T}", "cancel the {T}", "close my {T}", "terminate my {T}", "get rid of this {T}"}, {0}, {0}},
  {"switch", "churn_threat", "customer", "high", 4, "Customer threatens to move the %s to a competitor",
   "Ask what would make them stay and offer a concrete option.",
   {"switch my {T} to another provider", "move my {T} to your competitor", "take my {T} elsewhere"}, {0}, {0}},
  {"manager", "manager_request", "customer", "high", 5, "Customer asks for a manager about the %s",
   "Offer a resolution first; if you escalate, frame it as getting a better answer, not giving up.",
   {"speak to the {T} supervisor", "talk to a {T} manager", "put me through to the {T} manager",
    "get me the {T} team leader"}, {0}, {0}},
  {"legal", "legal_threat", "customer", "critical", 7, "Customer threatens legal action over the %s",
   "Stay calm, do not argue the legal point, and call for backup.",
   {"take the {T} to small claims", "^my lawyer will look at this {T}", "report the {T} to the ombudsman",
    "sue you over the {T}"}, {0}, {0}},
  {"shame", "public_shaming", "customer", "medium", 4, "Customer threatens to go public about the %s",
   "Take it seriously, thank them for telling you, and show what you will fix.",
   {"post a review about your {T}", "tell everyone about your {T}", "put the {T} all over social media"}, {0}, {0}},
  {"repeat", "repeat_contact", "customer", "medium", 3, "Customer has called repeatedly about the %s",
   "Apologise for the repeated contact and take ownership so they need not call again.",
   {"^this is the third time i've called about the {T}", "^i called about this {T} three times",
    "^i'm still waiting on the {T}", "^same {T} problem again"}, {0}, {0}},
  {"exasperated", "exasperation", "customer", "low", 2, "Customer is exasperated with the %s",
   "Acknowledge: \"I can hear how frustrating this is.\"",
   {"^this {T} is ridiculous", "^i'm fed up with the {T}", "^the {T} is an absolute joke",
    "^what a waste of time this {T} is"}, {0}, {"\\bjust kidding\\b"}},
  {"abuse", "abuse", "customer", "critical", 8, "Customer is abusive about the %s",
   "Set a calm boundary and call for backup if it continues.",
   {"^you useless {T} idiots", "^your {T} people are complete morons"}, {0}, {0}},
  {"escalate", "manager_request", "customer", "high", 5, "Customer wants the %s escalated",
   "Offer a resolution first; if you escalate, stay with the customer through the handoff.",
   {"escalate my {T} to your *", "^who is in charge of the {T}", "^get your boss on about the {T}"}, {0}, {0}},
  {"complaint", "legal_threat", "customer", "high", 7, "Customer threatens a formal complaint about the %s",
   "Log the complaint properly and explain what happens next.",
   {"complain to the regulator about the {T}", "file a formal complaint about the {T}"}, {0}, {0}},
  {"boss-pattern", "manager_request", "customer", "high", 5, "Customer asks to speak to a boss about the %s",
   "Offer a resolution first; if you escalate, frame it as getting a better answer.",
   {"^i want your {T} boss", "^get me a {T} manager now"},
   {"\\b(?:speak|talk) (?:to|with) (?:a|your|the) {T} (?:manager|supervisor|boss)\\b"}, {0}},
  {"leaving", "churn_threat", "customer", "high", 4, "Customer says they are leaving the %s",
   "Ask what would make them stay and offer a concrete option.",
   {"^i'm leaving your {T}", "^i'm done with your {T}", "find a better {T} elsewhere"}, {0}, {0}},
  {"policy", "banned_phrase", "agent", "medium", 3, "Agent hides behind policy on the %s",
   "Say \"here's what I can do\" instead.",
   {"^that's our {T} policy", "^it's company policy for the {T}", "^the {T} terms don't allow it"}, {0}, {0}},
  {"nothing", "banned_phrase", "agent", "high", 3, "Agent says nothing can be done about the %s",
   "Say \"let me see what options we have\" instead.",
   {"^there's nothing i can do about the {T}", "^nothing more i can do with your {T}"}, {0}, {0}},
  {"department", "banned_phrase", "agent", "medium", 2, "Agent passes the buck on the %s",
   "Say \"let me connect you with the right person and stay with you\".",
   {"^the {T} is not my department", "^you'll need to ring the {T} team yourself"}, {0}, {0}},
  {"blame", "banned_phrase", "agent", "high", 4, "Agent blames the customer for the %s",
   "Say \"let's look at it together\" instead.",
   {"^you didn't follow the {T} instructions", "^you're wrong about the {T}",
    "^the {T} is not my fault"}, {0}, {0}},
  {"calm-down", "banned_phrase", "agent", "high", 4, "Agent tells the customer to calm down about the %s",
   "Acknowledge instead: \"I can hear how frustrating this is.\"",
   {"^calm down about the {T}", "^relax it's only the {T}"}, {0}, {0}},
  {"dont-know", "banned_phrase", "agent", "low", 2, "Agent says they do not know about the %s",
   "Say \"let me find out for you\" instead.",
   {"^i don't know anything about the {T}", "^no idea about your {T}"}, {0}, {0}},
  {"empathy", "deescalation", "agent", "info", -3, "Agent acknowledges the frustration with the %s",
   "Good: follow up with a concrete next step.",
   {"^i can hear how frustrating the {T} has been", "^i'm sorry about the trouble with your {T}"}, {0}, {0}},
  {"ownership", "deescalation", "agent", "info", -3, "Agent takes ownership of the %s",
   "Good: confirm the resolution with the customer.",
   {"^here's what i can do for your {T}", "^i'll sort out the {T} for you right now",
    "^let me fix the {T} today"}, {0}, {0}},
  {"options", "deescalation", "agent", "info", -2, "Agent offers choices on the %s",
   "Good: let the customer pick and confirm.",
   {"^would you prefer a refund on the {T} or credit", "^i can offer a {T} discount"}, {0}, {0}},
  {"confirm", "deescalation", "agent", "info", -2, "Agent repeats and confirms the %s issue",
   "Good: check you have fully addressed the concern.",
   {"^so the core issue is the {T}", "^what i'm hearing is the {T}"}, {0}, {0}},
  {"backup", "deescalation", "agent", "low", 1, "Agent brings in help on the %s",
   "Stay on the call through the handoff.",
   {"^let me bring in a {T} specialist", "^i'll get my {T} supervisor on the line"}, {0}, {0}},
  {"placation", "banned_phrase", "agent", "low", 1, "Agent uses an overused placation about the %s",
   "Use a specific acknowledgement instead of a stock phrase.",
   {"^i understand your frustration with the {T}", "^i apologize for any {T} inconvenience"}, {0}, {0}},
  {"excuse", "banned_phrase", "agent", "medium", 3, "Agent blames the system for the %s",
   "Take ownership: \"I'll fix this.\"",
   {"^the {T} system is down again", "^it's the {T} computer that's wrong"}, {0}, {0}},
};
#define NINTENTS (sizeof(intents) / sizeof(intents[0]))
#define MAXRULES (NINTENTS * NTOPICS)

static const char *const wildcard_words[] = {"manager", "supervisor", "boss", "superior"};

/* Rule k of the master list. */
static void rule_of(uint32_t k, const struct intent **in, const char **topic)
{
  uint32_t i = k % NINTENTS;
  uint32_t t = (k / NINTENTS + i * 7) % NTOPICS; /* bijective in k for fixed i */
  *in = &intents[i];
  *topic = topics[t];
}

/* Expands {T} in a phrase/pattern template; drops the '^' marker; '*' is
 * replaced by `star` when not NULL. */
static void expand_phrase(struct sb *s, const char *tmpl, const char *topic, const char *star)
{
  if (*tmpl == '^')
    tmpl++;
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '{' && p[1] == 'T' && p[2] == '}') {
      sb_puts(s, topic);
      p += 2;
    } else if (*p == '*' && star) {
      sb_puts(s, star);
    } else {
      sb_putn(s, p, 1);
    }
  }
}

/* ---- utterances ------------------------------------------------------ */

static void expand_template(struct sb *s, const char *tmpl, int depth)
{
  for (const char *p = tmpl; *p; p++) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      const struct slot *sl = close ? slot_find(p + 1, (size_t)(close - p - 1)) : NULL;
      if (sl && depth < 4) {
        expand_template(s, sl->items[rng_below((uint32_t)sl->n)], depth + 1);
        p = close;
        continue;
      }
    }
    sb_putn(s, p, 1);
  }
}

static size_t count_words(const char *s)
{
  size_t n = 0;
  int in = 0;
  for (; *s; s++) {
    int w = *s != ' ';
    if (w && !in)
      n++;
    in = w;
  }
  return n;
}

static int is_punct(unsigned char c)
{
  return c == ',' || c == '.' || c == '?' || c == '!' || c == ';' || c == ':';
}

/* Renders the written utterance the way a transcript engine might emit it.
 * mode 0: formatted (as written; straight apostrophes)
 * mode 1: formatted with typographic apostrophes (’)
 * mode 2: ASR: lower case, no punctuation, apostrophes kept
 * mode 3: ASR: lower case, no punctuation, apostrophes dropped
 * mode 4: shouting: upper case, '!' at the end */
static void render(struct sb *out, const char *in, int mode)
{
  sb_reset(out);
  for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
    unsigned char c = *p;
    if (c == '\'') {
      if (mode == 1)
        sb_puts(out, "\xe2\x80\x99");
      else if (mode != 3)
        sb_putn(out, "'", 1);
      continue;
    }
    if (mode >= 2 && mode <= 3) {
      if (is_punct(c) && (p[1] == ' ' || p[1] == '\0'))
        continue; /* sentence punctuation; keep "4:30", "£42.50" */
      if (c == 0xe2 && p[1] == 0x80 && (p[2] == 0xa6 || p[2] == 0x94)) { /* … — */
        p += 2;
        continue;
      }
      if (c >= 'A' && c <= 'Z')
        c = (unsigned char)(c - 'A' + 'a');
    } else if (mode == 4) {
      if (c >= 'a' && c <= 'z')
        c = (unsigned char)(c - 'a' + 'A');
      if ((c == '.' || c == '?') && p[1] == '\0')
        c = '!';
    }
    sb_putn(out, (const char *)&c, 1);
  }
  /* Collapse the double spaces left by dropped punctuation, trim. */
  size_t w = 0;
  for (size_t r = 0; r < out->len; r++) {
    if (out->buf[r] == ' ' && (w == 0 || out->buf[w - 1] == ' '))
      continue;
    out->buf[w++] = out->buf[r];
  }
  while (w > 0 && out->buf[w - 1] == ' ')
    w--;
  out->len = w;
  out->buf[w] = '\0';
  if (mode == 4 && w > 0 && out->buf[w - 1] != '!')
    sb_puts(out, "!");
}

static int pick_mode(void)
{
  uint32_t r = rng_below(100);
  if (r < 30) return 0;
  if (r < 45) return 1;
  if (r < 78) return 2;
  if (r < 98) return 3;
  return 4;
}

/* Sprinkles ASR-style fillers into a lower-case line. */
static void add_fillers(struct sb *s)
{
  struct sb tmp;
  sb_reset(&tmp);
  const char *p = s->buf;
  int words = 0;
  while (*p) {
    const char *sp = strchr(p, ' ');
    size_t n = sp ? (size_t)(sp - p) : strlen(p);
    if (words > 0 && rng_chance(0.06)) {
      sb_puts(&tmp, PICK(((const char *const[]){"um", "uh", "like", "you know", "i mean"})));
      sb_puts(&tmp, " ");
    }
    sb_putn(&tmp, p, n);
    words++;
    p += n;
    if (*p == ' ') {
      sb_puts(&tmp, " ");
      p++;
    }
  }
  *s = tmp;
}

/* Pads or trims to 5..25 words. */
static void fit_words(struct sb *s)
{
  while (count_words(s->buf) < 5) {
    struct sb tmp;
    sb_reset(&tmp);
    expand_template(&tmp, "{filler}", 0);
    sb_puts(&tmp, count_words(s->buf) ? ", " : "");
    sb_puts(&tmp, s->buf);
    *s = tmp;
  }
  size_t n = 0;
  int in = 0;
  for (size_t i = 0; i < s->len; i++) {
    int w = s->buf[i] != ' ';
    if (w && !in && ++n > 25) {
      s->len = i - 1;
      s->buf[s->len] = '\0';
      break;
    }
    in = w;
  }
}

static const char *const frames_verb[] = {
  "I want to {P}.", "I'm going to {P} if this isn't sorted today.", "Honestly, just let me {P}.",
  "Right, I think I'm going to {P}.", "Then I'll {P}, simple as that.",
  "Listen, I'd like to {P} please.", "I've had enough, I want to {P} now.",
  "Can you just {P} for me?", "If it happens again I will {P}.",
};
static const char *const frames_verb_negated[] = {
  "I'm not going to {P}, don't worry, I just want it fixed.",
  "No, I don't want to {P}, I just need an answer.",
  "I'd never {P}, I've been with you for years.",
};
static const char *const frames_clause[] = {
  "{P}.", "Honestly, {P}.", "{P}, to be honest.", "Look, {P}!", "Right, {P}.",
  "Okay so {P}, if that makes sense.", "Well, {P}, I'm afraid.", "{P}, I'll be honest with you.",
  "Yeah {P}, that's where we are.",
};

/* Writes one trigger utterance for rule k into `written`; returns the
 * rule's speaker ('a' or 'c'). */
static char trigger_line(struct sb *written, uint32_t k)
{
  const struct intent *in;
  const char *topic;
  rule_of(k, &in, &topic);
  size_t nph = 0;
  while (nph < 7 && in->phrases[nph])
    nph++;
  const char *tmpl = in->phrases[rng_below((uint32_t)nph)];
  struct sb phrase;
  sb_reset(&phrase);
  expand_phrase(&phrase, tmpl, topic, PICK(wildcard_words));

  int customer = strcmp(in->speaker, "customer") == 0;
  const char *frame;
  if (tmpl[0] == '^')
    frame = PICK(frames_clause);
  else if (customer && rng_chance(0.1))
    frame = PICK(frames_verb_negated);
  else
    frame = PICK(frames_verb);

  sb_reset(written);
  for (const char *p = frame; *p; p++) {
    if (p[0] == '{' && p[1] == 'P' && p[2] == '}') {
      /* Capitalise a phrase that opens the sentence. */
      if (p == frame && phrase.buf[0] >= 'a' && phrase.buf[0] <= 'z')
        phrase.buf[0] = (char)(phrase.buf[0] - 'a' + 'A');
      sb_puts(written, phrase.buf);
      p += 2;
    } else {
      sb_putn(written, p, 1);
    }
  }
  /* "i" as a word is "I" in written English. */
  for (size_t i = 0; i < written->len; i++)
    if (written->buf[i] == 'i' && (i == 0 || written->buf[i - 1] == ' ') &&
        (written->buf[i + 1] == ' ' || written->buf[i + 1] == '\''))
      written->buf[i] = 'I';
  /* Now and then the other party repeats it. */
  if (rng_chance(0.05))
    customer = !customer;
  return customer ? 'c' : 'a';
}

/* ---- rule files ------------------------------------------------------ */

static void json_str(FILE *f, const char *s)
{
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void slug(char *out, size_t cap, const char *topic)
{
  size_t n = 0;
  for (; *topic && n + 1 < cap; topic++)
    out[n++] = *topic == ' ' ? '-' : *topic;
  out[n] = '\0';
}

static int write_rules(const char *dir, uint32_t nrules)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/rules-%u.json", dir, nrules);
  FILE *f = fopen(path, "w");
  snprintf(path, sizeof path, "%s/pats-%u.txt", dir, nrules);
  FILE *pats = fopen(path, "w");
  if (!f || !pats) {
    fprintf(stderr, "bench_gen_corpus: %s: %s\n", path, strerror(errno));
    if (f) fclose(f);
    if (pats) fclose(pats);
    return -1;
  }
  fprintf(f, "// Generated by bench_gen_corpus: %u benchmark rules. Not for production.\n[\n", nrules);
  for (uint32_t k = 0; k < nrules; k++) {
    const struct intent *in;
    const char *topic;
    rule_of(k, &in, &topic);
    char sl[128];
    slug(sl, sizeof sl, topic);
    struct sb s;
    fprintf(f, "  {\n    \"id\": \"%s.%s.%s\",\n", in->speaker, in->key, sl);
    sb_reset(&s);
    sb_printf(&s, in->desc, topic);
    fprintf(f, "    \"description\": ");
    json_str(f, s.buf);
    fprintf(f, ",\n    \"category\": \"%s\",\n    \"severity\": \"%s\",\n"
               "    \"speaker\": \"%s\",\n    \"score\": %d,\n    \"tip\": ",
            in->category, in->severity, in->speaker, in->score);
    json_str(f, in->tip);
    fprintf(f, ",\n    \"phrases\": [");
    for (size_t i = 0; i < 7 && in->phrases[i]; i++) {
      sb_reset(&s);
      expand_phrase(&s, in->phrases[i], topic, NULL);
      fprintf(f, "%s", i ? ", " : "");
      json_str(f, s.buf);
      /* For rg: the literal part of the phrase (up to a wildcard word). */
      char *star = strstr(s.buf, " *");
      if (star)
        *star = '\0';
      fprintf(pats, "%s\n", s.buf);
    }
    fprintf(f, "]");
    if (in->patterns[0]) {
      fprintf(f, ",\n    \"patterns\": [");
      for (size_t i = 0; i < 3 && in->patterns[i]; i++) {
        sb_reset(&s);
        expand_phrase(&s, in->patterns[i], topic, NULL);
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, s.buf);
      }
      fprintf(f, "]");
    }
    if (in->unless[0]) {
      fprintf(f, ",\n    \"unless\": [");
      for (size_t i = 0; i < 2 && in->unless[i]; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_str(f, in->unless[i]);
      }
      fprintf(f, "]");
    }
    /* Examples: the first phrase in a sentence, plus one line per pattern. */
    fprintf(f, ",\n    \"examples\": {\"match\": [");
    sb_reset(&s);
    const char *p0 = in->phrases[0];
    sb_puts(&s, p0[0] == '^' ? "Well, " : "Well, I want to ");
    expand_phrase(&s, p0, topic, "manager");
    sb_puts(&s, " today.");
    json_str(f, s.buf);
    if (in->patterns[0]) {
      sb_reset(&s);
      sb_printf(&s, ", \"Can I talk to your %s supervisor please?\"", topic);
      fprintf(f, "%s", s.buf);
    }
    fprintf(f, "], \"no_match\": [\"hello there\"]}\n  }%s\n", k + 1 < nrules ? "," : "");
  }
  fprintf(f, "]\n");
  int rc = 0;
  if (ferror(f) || ferror(pats))
    rc = -1;
  if (fclose(f) != 0)
    rc = -1;
  if (fclose(pats) != 0)
    rc = -1;
  if (rc)
    fprintf(stderr, "bench_gen_corpus: write error in %s\n", dir);
  return rc;
}

/* ---- corpus ---------------------------------------------------------- */

static uint32_t pick_trigger_rule(uint32_t maxrules)
{
  uint32_t r = rng_below(10);
  uint32_t lo, hi;
  if (r < 6) { lo = 0; hi = 50; }
  else if (r < 8) { lo = 50; hi = 200; }
  else { lo = 200; hi = maxrules; }
  if (hi > maxrules) hi = maxrules;
  if (lo >= hi) lo = 0;
  return lo + rng_below(hi - lo);
}

static int write_corpus(const char *dir, uint64_t nlines, double trigger_rate,
                        uint32_t maxrules, uint64_t *ntriggers)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/corpus.txt", dir);
  FILE *f = fopen(path, "w");
  snprintf(path, sizeof path, "%s/corpus.spk", dir);
  FILE *spk = fopen(path, "w");
  if (!f || !spk) {
    fprintf(stderr, "bench_gen_corpus: %s: %s\n", path, strerror(errno));
    if (f) fclose(f);
    if (spk) fclose(spk);
    return -1;
  }
  static char fbuf[1 << 20], sbuf[1 << 16];
  setvbuf(f, fbuf, _IOFBF, sizeof fbuf);
  setvbuf(spk, sbuf, _IOFBF, sizeof sbuf);

  struct sb written, out;
  char speaker = 'a';
  uint64_t call_left = 0;
  *ntriggers = 0;
  for (uint64_t i = 0; i < nlines; i++) {
    if (call_left == 0) {
      call_left = 20 + rng_below(41); /* a call: 20..60 turns, agent first */
      speaker = 'a';
    }
    call_left--;
    sb_reset(&written);
    char who = speaker;
    if (rng_chance(trigger_rate)) {
      who = trigger_line(&written, pick_trigger_rule(maxrules));
      (*ntriggers)++;
    } else if (speaker == 'a') {
      expand_template(&written, PICK(agent_lines), 0);
    } else {
      expand_template(&written, PICK(customer_lines), 0);
    }
    /* Speakers mostly alternate; sometimes one says two lines in a row. */
    if (!rng_chance(0.15))
      speaker = speaker == 'a' ? 'c' : 'a';

    int mode = pick_mode();
    render(&out, written.buf, mode);
    if (mode >= 2 && mode <= 3 && rng_chance(0.3))
      add_fillers(&out);
    fit_words(&out);
    fwrite(out.buf, 1, out.len, f);
    fputc('\n', f);
    fputc(who, spk);
  }
  int rc = 0;
  if (ferror(f) || ferror(spk))
    rc = -1;
  if (fclose(f) != 0)
    rc = -1;
  if (fclose(spk) != 0)
    rc = -1;
  if (rc)
    fprintf(stderr, "bench_gen_corpus: write error in %s\n", dir);
  return rc;
}

/* ---- main ------------------------------------------------------------ */

static void usage(void)
{
  fprintf(stderr,
          "usage: bench_gen_corpus [--out DIR] [--lines N] [--seed S] [--trigger-rate R]\n"
          "                        [--sizes 50,200,1000]\n");
}

int main(int argc, char **argv)
{
  const char *dir = "bench-data";
  uint64_t nlines = 1000000;
  uint64_t seed = 20240601;
  double trigger_rate = 0.015;
  const char *sizes = "50,200,1000";

  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      usage();
      return 2;
    }
    if (strcmp(a, "--out") == 0) dir = v;
    else if (strcmp(a, "--lines") == 0) nlines = strtoull(v, NULL, 10);
    else if (strcmp(a, "--seed") == 0) seed = strtoull(v, NULL, 10);
    else if (strcmp(a, "--trigger-rate") == 0) trigger_rate = strtod(v, NULL);
    else if (strcmp(a, "--sizes") == 0) sizes = v;
    else {
      usage();
      return 2;
    }
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "bench_gen_corpus: mkdir %s: %s\n", dir, strerror(errno));
    return 1;
  }

  uint32_t maxsize = 0;
  for (const char *p = sizes; *p;) {
    char *end;
    unsigned long n = strtoul(p, &end, 10);
    if (end == p || n == 0 || n > MAXRULES) {
      fprintf(stderr, "bench_gen_corpus: bad size in --sizes (1..%zu)\n", (size_t)MAXRULES);
      return 2;
    }
    if (write_rules(dir, (uint32_t)n) != 0)
      return 1;
    if (n > maxsize)
      maxsize = (uint32_t)n;
    p = *end == ',' ? end + 1 : end;
  }

  rng_state = seed;
  uint64_t ntriggers;
  if (write_corpus(dir, nlines, trigger_rate, maxsize, &ntriggers) != 0)
    return 1;
  printf("bench_gen_corpus: %s: %llu lines (%llu trigger lines, %.2f%%), rule sets %s, seed %llu\n",
         dir, (unsigned long long)nlines, (unsigned long long)ntriggers,
         nlines ? 100.0 * (double)ntriggers / (double)nlines : 0.0, sizes,
         (unsigned long long)seed);
  return 0;
}
