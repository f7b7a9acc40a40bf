/* test_redact.c: personal-data masking (lib/redact.h, docs/redaction.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "redact.h"
#include "task.h"

/* Output rebuilt from es_redact_scan()'s spans. */
struct rebuild {
  const char *in;
  char *out;
  size_t n;   /* bytes written */
  size_t pos; /* input copied up to here */
};

static void rebuild_span(void *ud, size_t start, size_t end, unsigned kind) {
  struct rebuild *rb = ud;
  const char *mask = es_redact_mask(kind);
  ASSERT_LE(rb->pos, start);
  ASSERT_LT(start, end);
  memcpy(rb->out + rb->n, rb->in + rb->pos, start - rb->pos);
  rb->n += start - rb->pos;
  memcpy(rb->out + rb->n, mask, strlen(mask));
  rb->n += strlen(mask);
  rb->pos = end;
}

/* Masks `in` with `kinds` and checks the result against `want`, also that
 * es_redact_scan() agrees and that the bound holds. */
static void check_kinds(const char *text, unsigned kinds, const char *want) {
  size_t len = strlen(text), cap = ES_REDACT_BOUND(len);
  /* An exact-size copy without a NUL: AddressSanitizer catches any read
   * past the end. */
  char *in = malloc(len ? len : 1), *out = malloc(cap);
  ASSERT(in != NULL && out != NULL);
  memcpy(in, text, len);
  size_t n = es_redact(in, len, kinds, out, cap, NULL);
  if (n != strlen(want) || strcmp(out, want) != 0)
    ES_FAIL_("es_redact(\"%s\")\n   got: \"%s\"\n  want: \"%s\"", text, out, want);
  ASSERT_LT(n, cap);
  /* Measuring alone gives the same length. */
  ASSERT_EQ(es_redact(in, len, kinds, NULL, 0, NULL), n);
  /* The spans es_redact_scan() reports give the same text. */
  struct rebuild rb = {in, out, 0, 0};
  memset(out, 0, cap);
  es_redact_scan(in, len, kinds, rebuild_span, &rb);
  memcpy(out + rb.n, in + rb.pos, len - rb.pos);
  out[rb.n + len - rb.pos] = '\0';
  if (strcmp(out, want) != 0)
    ES_FAIL_("es_redact_scan(\"%s\")\n   got: \"%s\"\n  want: \"%s\"", text, out, want);
  free(in);
  free(out);
}

static void check(const char *in, const char *want) { check_kinds(in, ES_REDACT_ALL, want); }

/* Text that must come out unchanged. */
static void keep(const char *in) { check(in, in); }

static void test_cards(void) {
  check("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks");
  check("4111-1111-1111-1111", "[CARD]");
  check("4111111111111111", "[CARD]");
  check("card number: 4111111111111111.", "card number: [CARD].");
  check("it's 5555 5555 5555 4444, expiry 12/27", "it's [CARD], expiry 12/27");
  check("amex 3782 822463 10005 ok", "amex [CARD] ok");            /* 15 digits 4-6-5 */
  check("amex 378282246310005", "amex [CARD]");
  check("diners 30569309025904", "diners [CARD]");                   /* 14 digits */
  check("discover 6011 1111 1111 1117", "discover [CARD]");
  check("13 digits 4222222222222 here", "13 digits [CARD] here");
  check("19 digits 6011 0009 9013 9420 007 is it", "19 digits [CARD] is it");
  check("4111 - 1111 - 1111 - 1111", "[CARD]");
  check("4111, 1111, 1111, 1111", "[CARD]");
  check("two: 4111 1111 1111 1111 and 5555 5555 5555 4444.", "two: [CARD] and [CARD].");
  check("card4111111111111111 glued", "card[CARD] glued");
  check("4111111111111111abc", "[CARD]abc");
  /* every digit said apart, as speech-to-text often writes them */
  check("it is 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 yes", "it is [CARD] yes");
  /* a stray number in front does not leave part of the card readable */
  check("I have 3 4111 1111 1111 1111", "I have 3 [CARD]");
  check("I called 3 times 4111111111111111", "I called 3 times [CARD]");
  /* Unicode separators: no-break space, en dash */
  check("4111\xc2\xa0" "1111\xc2\xa0" "1111\xc2\xa0" "1111", "[CARD]");
  check("4111\xe2\x80\x93" "1111\xe2\x80\x93" "1111\xe2\x80\x93" "1111", "[CARD]");
}

static void test_cards_negative(void) {
  keep("order number 4111111111111112");        /* fails Luhn */
  keep("order 12345678901234 shipped");          /* 14 digits, fails Luhn */
  keep("tracking 1Z999AA10123456784");           /* letters inside */
  keep("ref 4111 1111 1111 1112");               /* grouped, fails Luhn */
  keep("a 20 digit number 41111111111111111111"); /* too long to be a card */
  keep("12.4111.1111.1111.1111");                /* dotted: a version, not a card */
  keep("1,411,111,111,111,111");                 /* thousands separators */
}

static void test_spoken(void) {
  check("four one one one one one one one one one one one one one one one", "[CARD]");
  check("Four One One One, one one one one, one one one one, one one one one please",
        "[CARD] please");
  check("four one one one 1111 1111 1111", "[CARD]");
  check("it's four double one one triple one triple one triple one triple one",
        "it's [CARD]");
  check("five five five one two three four five six seven", "[PHONE]");
  check("call me at five five five one two three four five six seven please",
        "call me at [PHONE] please");
  check("the number is six one seven, five five five, oh one nine nine",
        "the number is [PHONE]");
  check("double five five one two three four five six seven", "[PHONE]");
  check("oh seven seven oh oh nine oh oh one two three", "[PHONE]");
  check("plus four four two zero seven nine four six zero nine five eight", "[PHONE]");
  /* spoken digits that fail Luhn stay (no 13..19-digit stretch of them
   * passes), as do ordinary uses of the words */
  keep("four one one one one one one one one one one one one one one three");
  keep("one two three four five six seven eight one two three four five six seven eight");
  /* but any stretch that passes is masked, here the last 13 digits */
  check("four one one one one one one one one one one one one one one two",
        "four one one [CARD]");
  keep("one of the two agents said three things");
  keep("oh my god, five minutes");
  keep("someone anyone at five o'clock");
}

static void test_cvv(void) {
  check("the security code is 123", "the security code is [CVV]");
  check("security code on the back is 456", "security code on the back is [CVV]");
  check("cvv 4321", "cvv [CVV]");
  check("CVV: 123", "CVV: [CVV]");
  check("my cvv2 is 999", "my cvv2 is [CVV]");
  check("the CVC is 321", "the CVC is [CVV]");
  check("card verification value is one two three", "card verification value is [CVV]");
  check("the code is 1234", "the code is [CVV]");
  check("code's 8812", "code's [CVV]");
  check("card 4111 1111 1111 1111 security code 123 thanks",
        "card [CARD] security code [CVV] thanks");
  check("security code 1234 and phone 555-123-4567",
        "security code [CVV] and phone [PHONE]");
  /* not a code: too far, wrong length, wrong kind of code, no keyword */
  keep("the security code was sent to you in an email yesterday at 123");
  keep("cvv 12");
  keep("cvv 12345");
  keep("zip code is 90210 and area code is 555");
  keep("error code is 404");
  keep("I waited 123 minutes");
}

static void test_ssn(void) {
  check("ssn 123-45-6789", "ssn [SSN]");
  check("my number is 123-45-6789", "my number is [SSN]");
  check("123 45 6789", "[SSN]");
  check("one two three, four five, six seven eight nine", "[SSN]");
  check("social security number one two three four five six seven eight nine",
        "social security number [SSN]");
  check("my social is 123456789", "my social is [SSN]");
  check("my social is 900 12 3456", "my social is [SSN]"); /* keyword: any 9 digits */
  keep("000-12-3456 and 666-12-3456 and 900-12-3456");     /* invalid areas */
  keep("123-00-4567 and 123-45-0000");                      /* invalid group, serial */
  keep("part 123456789 in stock");                          /* 9 digits, no keyword */
}

static void test_email(void) {
  check("email john.smith@example.com now", "email [EMAIL] now");
  check("write to john@gmail.com.", "write to [EMAIL].");
  check("Email: JOHN_SMITH+tag@mail.example.co.uk, thanks", "Email: [EMAIL], thanks");
  check("John's email: jane.o'neil@example.com", "John's email: [EMAIL]");
  check("<a@b.co>", "<[EMAIL]>");
  check("john4111111111111111@x.org", "[EMAIL]");
  check("john dot smith at gmail dot com", "[EMAIL]");
  check("it's mary at yahoo dot co dot uk thanks", "it's [EMAIL] thanks");
  check("reach me at j o h n at gmail dot com", "reach me at [EMAIL]");
  check("john at gmail.com", "[EMAIL]");
  check("j.doe@gmail dot com", "[EMAIL]");
  /* A written address after "at" is the address: the spoken form must not
   * take "me at john.smith" and leave its domain readable. */
  check("you can write me at john.smith@example.com", "you can write me at [EMAIL]");
  check("email me at a.b@c.com", "email me at [EMAIL]");
  check("email me at a.b@c.com please", "email me at [EMAIL] please");
  check("reach me at john@example.com or at jane.doe@example.org",
        "reach me at [EMAIL] or at [EMAIL]");
  check("me at john.smith.jr@mail.example.co.uk", "me at [EMAIL]");
  check("write to jo at example dot com or jo@example.com", "write to [EMAIL] or [EMAIL]");
  check("write to jo@example.com or jo at example dot com", "write to [EMAIL] or [EMAIL]");
  check("at john.smith@example.com", "at [EMAIL]");
  check("me at  john.smith@example.com", "me at  [EMAIL]");
  check("AT JOHN.SMITH@EXAMPLE.COM", "AT [EMAIL]");
  /* The same with a spoken address after "at", and a spoken local part in
   * front of a written address. */
  check("me at john.smith at gmail dot com", "me at [EMAIL]");
  check("email me at john dot smith at gmail dot com", "email me at [EMAIL]");
  check("email john dot smith@example.com", "email [EMAIL]");
  check("it's jane underscore doe@example.org ok", "it's [EMAIL] ok");
  check("john at gmail dot com at noon", "[EMAIL] at noon");
  /* ... but a spoken address stays one when what follows is no address. */
  check("john at gmail.com@", "[EMAIL]@");
  check("john at gmail.com@x", "[EMAIL]@x");
  keep("follow @handle on twitter");
  keep("a@b and user@localhost");
  keep("meet me at the office at noon");
  keep("I'm at home dot com");
  keep("we met at the office dot");
  keep("user@example.c");
}

static void test_phones(void) {
  check("call +1 555 123 4567", "call [PHONE]");
  check("(555) 123-4567", "[PHONE]");
  check("555-123-4567", "[PHONE]");
  check("555.123.4567", "[PHONE]");
  check("+44 20 7946 0958", "[PHONE]");
  check("020 7946 0958", "[PHONE]");
  check("07700 900123", "[PHONE]");
  check("1-800-555-0199", "[PHONE]");
  check("+1 (555) 123-4567", "[PHONE]");
  check("call 1 555 123 4567 now", "call [PHONE] now");
  check("+33 1 23 45 67 89", "[PHONE]");
  check("0044 20 7946 0958", "[PHONE]");
  check("5551234567", "[PHONE]");
  check("call me on 555 1234567 ok", "call me on [PHONE] ok");
  check("1 2 3 4 5 6 7 8 9 0", "[PHONE]");
  check("+86 138 0013 8000", "[PHONE]"); /* 13 digits after '+': a phone */
  keep("call 555-1234");                 /* 7 digits */
  keep("ext 12345");
  keep("+44 20 7946");                   /* too short */
}

static void test_negatives(void) {
  keep("I called 3 times on 12/04/2023 at 10:30 and paid $1,299.99");
  keep("dates 2023-04-12 and 12 04 2023 and 2023.04.12");
  keep("price $49.99 and $5 and 1,234,567.89");
  keep("my account number is 12345678");
  keep("room 101, floor 2, gate 34");
  keep("it was 20 dollars 30 cents at 9 30 am");
  keep("reference 1234 5678 9012");
  keep("call me back in 10 minutes, 15 at most");
  keep("I have been waiting since 2019 2020 2021");
  keep("");
  keep("no numbers here at all, just complaints!");
}

static void test_utf8_and_bytes(void) {
  /* Text outside masks is byte-exact, whatever it is. */
  check("caf\xc3\xa9 4111 1111 1111 1111 \xe2\x80\x94 \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9",
        "caf\xc3\xa9 [CARD] \xe2\x80\x94 \xc3\xbcn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9");
  check("\xe6\x97\xa5\xe6\x9c\xac john@example.com \xf0\x9f\x98\x80",
        "\xe6\x97\xa5\xe6\x9c\xac [EMAIL] \xf0\x9f\x98\x80");
  keep("\xe2\x80\x9cthat\xe2\x80\x99s ridiculous\xe2\x80\x9d she said");
  /* invalid UTF-8 and control bytes pass through */
  check("\xff\xfe 555-123-4567 \x01\x02", "\xff\xfe [PHONE] \x01\x02");

  /* NUL bytes in the middle are copied too (length-based API). */
  const char in[] = "a\0b 4111111111111111";
  char out[64];
  size_t n = es_redact(in, sizeof in - 1, ES_REDACT_ALL, out, sizeof out, NULL);
  ASSERT_MEM_EQ(out, n, "a\0b [CARD]", 10);
}

static void test_kinds_and_counts(void) {
  const char *in = "card 4111111111111111 cvv 123 ssn 123-45-6789 mail a@b.com "
                   "phone 555-123-4567 and 555.765.4321";
  struct es_redact_counts c;
  char out[256];
  es_redact(in, strlen(in), ES_REDACT_ALL, out, sizeof out, &c);
  ASSERT_STR_EQ(out, "card [CARD] cvv [CVV] ssn [SSN] mail [EMAIL] phone [PHONE] and [PHONE]");
  ASSERT_EQ(c.card, 1);
  ASSERT_EQ(c.cvv, 1);
  ASSERT_EQ(c.ssn, 1);
  ASSERT_EQ(c.email, 1);
  ASSERT_EQ(c.phone, 2);

  /* Only the kinds asked for. */
  check_kinds(in, ES_REDACT_EMAIL,
              "card 4111111111111111 cvv 123 ssn 123-45-6789 mail [EMAIL] "
              "phone 555-123-4567 and 555.765.4321");
  check_kinds(in, ES_REDACT_CARD | ES_REDACT_PHONE,
              "card [CARD] cvv 123 ssn 123-45-6789 mail a@b.com phone [PHONE] and [PHONE]");
  check_kinds(in, 0, in);
  es_redact(in, strlen(in), 0, out, sizeof out, &c);
  ASSERT_EQ(c.card + c.cvv + c.ssn + c.email + c.phone, 0);

  ASSERT_STR_EQ(es_redact_mask(ES_REDACT_PHONE), "[PHONE]");
  ASSERT_STR_EQ(es_redact_mask(ES_REDACT_ALL), "");
  ASSERT_STR_EQ(es_redact_kind_name(ES_REDACT_CVV), "cvv");
}

struct spans {
  size_t n;
  size_t start[8], end[8];
  unsigned kind[8];
};

static void collect(void *ud, size_t start, size_t end, unsigned kind) {
  struct spans *sp = ud;
  ASSERT_LT(sp->n, 8);
  if (sp->n > 0) ASSERT_LE(sp->end[sp->n - 1], start); /* in order, disjoint */
  sp->start[sp->n] = start;
  sp->end[sp->n] = end;
  sp->kind[sp->n] = kind;
  sp->n++;
}

static void test_scan(void) {
  const char *in = "x (555) 123-4567 y 4111111111111111";
  struct spans sp;
  memset(&sp, 0, sizeof sp);
  ASSERT_EQ(es_redact_scan(in, strlen(in), ES_REDACT_ALL, collect, &sp), 2);
  ASSERT_EQ(sp.n, 2);
  ASSERT_EQ(sp.start[0], 2); /* the opening parenthesis belongs to the number */
  ASSERT_EQ(sp.end[0], 16);
  ASSERT_EQ(sp.kind[0], ES_REDACT_PHONE);
  ASSERT_EQ(sp.start[1], 19);
  ASSERT_EQ(sp.end[1], strlen(in));
  ASSERT_EQ(sp.kind[1], ES_REDACT_CARD);
  ASSERT_EQ(es_redact_scan(in, strlen(in), ES_REDACT_ALL, NULL, NULL), 2);
  ASSERT_EQ(es_redact_scan(NULL, 0, ES_REDACT_ALL, NULL, NULL), 0);
}

static void test_capacity(void) {
  /* The worst case for growth: three-digit codes, each becoming [CVV]. */
  const char *in = "cvv 123 cvv 456 cvv 789";
  size_t len = strlen(in);
  char out[64];
  size_t n = es_redact(in, len, ES_REDACT_ALL, out, sizeof out, NULL);
  ASSERT_STR_EQ(out, "cvv [CVV] cvv [CVV] cvv [CVV]");
  ASSERT_LT(n, ES_REDACT_BOUND(len));
  ASSERT_EQ(ES_REDACT_BOUND(3), 6); /* "123" -> "[CVV]" + NUL */

  /* Truncation: snprintf-like, always NUL-terminated, never past cap. */
  memset(out, 'Z', sizeof out);
  n = es_redact("call 555-123-4567 now", 21, ES_REDACT_ALL, out, 10, NULL);
  ASSERT_EQ(n, strlen("call [PHONE] now"));
  ASSERT_STR_EQ(out, "call [PHO");
  ASSERT_EQ(out[10], 'Z');
  n = es_redact("abc", 3, ES_REDACT_ALL, out, 1, NULL);
  ASSERT_EQ(n, 3);
  ASSERT_EQ(out[0], '\0');
}

static void test_parse_kinds(void) {
  unsigned k = 0;
  ASSERT_EQ(es_redact_parse_kinds("all", &k), 0);
  ASSERT_EQ(k, ES_REDACT_ALL);
  ASSERT_EQ(es_redact_parse_kinds("none", &k), 0);
  ASSERT_EQ(k, 0);
  ASSERT_EQ(es_redact_parse_kinds(" card , CVV,phone ", &k), 0);
  ASSERT_EQ(k, ES_REDACT_CARD | ES_REDACT_CVV | ES_REDACT_PHONE);
  ASSERT_EQ(es_redact_parse_kinds("email,ssn", &k), 0);
  ASSERT_EQ(k, ES_REDACT_EMAIL | ES_REDACT_SSN);
  ASSERT_EQ(es_redact_parse_kinds("card,iban", &k), ES_EINVAL);
  ASSERT_EQ(es_redact_parse_kinds("", &k), ES_EINVAL);
  ASSERT_EQ(es_redact_parse_kinds("card,,cvv", &k), ES_EINVAL);
  ASSERT_EQ(es_redact_parse_kinds("card cvv", &k), ES_EINVAL);
  ASSERT_EQ(es_redact_parse_kinds(NULL, &k), ES_EINVAL);
}

/* Adversarial inputs: long digit runs, many '@' and "at", many digit
 * words; all must finish (linear) and keep the output within bound. */
static void test_stress(void) {
  size_t len = 65536, cap = ES_REDACT_BOUND(len);
  char *in = malloc(len + 1), *out = malloc(cap);
  ASSERT(in != NULL && out != NULL);
  const char *const patterns[] = {"1 ", "4111 ", "@", "at ", "a@b.", "one ", "123 ",
                                  "cvv 123 ", "double ", "+1", "(", "- "};
  for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
    size_t pl = strlen(patterns[p]);
    for (size_t i = 0; i < len; i++) in[i] = patterns[p][i % pl];
    size_t n = es_redact(in, len, ES_REDACT_ALL, out, cap, NULL);
    ASSERT_LT(n, cap);
    ASSERT_EQ(strlen(out), n);
  }
  /* pseudo-random bytes over a small alphabet */
  uint32_t x = 12345;
  const char alphabet[] = "0123456789 -.,()+@abcdeot";
  for (int round = 0; round < 20; round++) {
    for (size_t i = 0; i < len; i++) {
      x = x * 1103515245u + 12345u;
      in[i] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
    }
    size_t n = es_redact(in, len, ES_REDACT_ALL, out, cap, NULL);
    ASSERT_LT(n, cap);
  }
  free(in);
  free(out);
}

/* A line and its matched words masked from one scan; JSON strings masked
 * without breaking the JSON. */
static void test_line_and_json(void) {
  const char *line = "my card is 4111 1111 1111 1111 ok";
  char text[128], matched[128], json[256];
  size_t tl, ml, jl;
  /* The words cover part of the card number: the whole mask stands in. */
  size_t ms = (size_t)(strstr(line, "card") - line), me = (size_t)(strstr(line, " 1111 ok") - line);
  ASSERT_EQ(es_redact_line(line, strlen(line), ms, me, ES_REDACT_ALL, text, &tl, matched, &ml), 1);
  ASSERT_STR_EQ(text, "my card is [CARD] ok");
  ASSERT_EQ(tl, strlen(text));
  ASSERT_STR_EQ(matched, "card is [CARD]");
  ASSERT_EQ(ml, strlen(matched));
  /* Without matched words, and with masking off. */
  ASSERT_EQ(es_redact_line(line, strlen(line), 0, 2, 0, text, &tl, NULL, NULL), 0);
  ASSERT_STR_EQ(text, line);

  const char *j = "{\"words\":\"call me at 555-123-4567\",\"n\":5555551234,\"e\":\"a\\u0040b.com\"}";
  ASSERT_EQ(es_redact_json(j, strlen(j), ES_REDACT_ALL, json, &jl), 1);
  ASSERT_STR_EQ(json, "{\"words\":\"call me at [PHONE]\",\"n\":5555551234,\"e\":\"a\\u0040b.com\"}");
  ASSERT_EQ(jl, strlen(json));

  /* Names are masked too (a platform's attribute names are its own);
   * words of letters alone are copied as they are. */
  j = "{\"call 555 123 4567\":\"customer\",\"category\":\"manager_request\","
      "\"q\":\"say \\\"hi\\\" to jo@example.com\",\"four\":[\"x\",\"\"]}";
  ASSERT_EQ(es_redact_json(j, strlen(j), ES_REDACT_ALL, json, &jl), 2);
  ASSERT_STR_EQ(json, "{\"call [PHONE]\":\"customer\",\"category\":\"manager_request\","
                      "\"q\":\"say \\\"hi\\\" to [EMAIL]\",\"four\":[\"x\",\"\"]}");
  ASSERT_EQ(jl, strlen(json));
}

/* A call's attributes: numbers are masked too, as strings, so the JSON
 * stays JSON; other numbers and the words true, false and null are kept;
 * the output fits ES_REDACT_JSON_VALUES_BOUND on an exact-size buffer. */
static void test_json_values(void) {
  static const struct {
    const char *in, *want;
    size_t masks;
  } cases[] = {
      {"{\"ani\":5558675309,\"n\":-3,\"p\":2.50,\"big\":1e300,\"vip\":true,\"x\":null}",
       "{\"ani\":\"[PHONE]\",\"n\":-3,\"p\":2.50,\"big\":1e300,\"vip\":true,\"x\":null}", 1},
      {"{\"cards\":[4111111111111111,-4111111111111111,12],\"o\":{\"t\":\"call 555-867-5309\","
       "\"k\":5558675309.5}}",
       "{\"cards\":[\"[CARD]\",\"-[CARD]\",12],\"o\":{\"t\":\"call [PHONE]\",\"k\":\"[PHONE].5\"}}",
       4},
      /* digits inside strings are the strings' (a name holding them too) */
      {"{\"5558675309\":\"x 12\",\"e\":1E-5}", "{\"[PHONE]\":\"x 12\",\"e\":1E-5}", 1},
      {"{}", "{}", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len = strlen(cases[i].in), cap = ES_REDACT_JSON_VALUES_BOUND(len), out_len;
    char *in = malloc(len), *out = malloc(cap);
    ASSERT(in && out);
    memcpy(in, cases[i].in, len);
    ASSERT_EQ(es_redact_json_values(in, len, ES_REDACT_ALL, out, &out_len), cases[i].masks);
    ASSERT_STR_EQ(out, cases[i].want);
    ASSERT_EQ(out_len, strlen(out));
    /* es_redact_json() leaves numbers as they are (the first case has
     * personal data in numbers only) */
    if (i == 0) {
      ASSERT_EQ(es_redact_json(in, len, ES_REDACT_ALL, out, &out_len), 0);
      ASSERT_MEM_EQ(out, out_len, in, len);
    }
    free(in);
    free(out);
  }
  /* The bound holds for the tightest shape: short numbers that mask. */
  {
    char in[4096], *out;
    size_t len = 0, out_len;
    in[len++] = '[';
    while (len + 12 < sizeof in)
      len += (size_t)snprintf(in + len, sizeof in - len, "5558675309,");
    in[len - 1] = ']';
    out = malloc(ES_REDACT_JSON_VALUES_BOUND(len));
    ASSERT(out != NULL);
    ASSERT_GT(es_redact_json_values(in, len, ES_REDACT_ALL, out, &out_len), 300);
    ASSERT_LT(out_len, ES_REDACT_JSON_VALUES_BOUND(len));
    ASSERT_EQ(memcmp(out, "[\"[PHONE]\",\"[PHONE]\",", 20), 0);
    free(out);
  }
}

/* Checks es_redact_cut(text, strlen(text), n) == want, on an exact-size
 * copy (AddressSanitizer catches a read past the end). */
static void check_cut(const char *text, size_t n, size_t want) {
  size_t len = strlen(text);
  char *in = malloc(len ? len : 1);
  ASSERT(in != NULL);
  memcpy(in, text, len);
  size_t got = es_redact_cut(in, len, n);
  if (got != want)
    ES_FAIL_("es_redact_cut(\"%s\", %zu): %zu (\"%.*s\"), want %zu (\"%.*s\")", text, n, got,
             (int)got, text, want, (int)want, text);
  free(in);
}

/* A cut never enters a number or an address: what is kept holds each
 * whole or not at all, whatever the kinds masked later. */
static void test_cut(void) {
  /* Nothing to cut, or nothing in the way. */
  check_cut("hello there", 11, 11);
  check_cut("hello there", 50, 11);
  check_cut("hello there my friend", 8, 8);
  check_cut("", 0, 0);
  ASSERT_EQ(es_redact_cut(NULL, 0, 10), 0);
  check_cut("h\xc3\xa9llo", 2, 1); /* never inside a character */
  /* Card, phone and SSN numbers cut in their digits or between groups:
   * the cut goes back to before the number. */
  check_cut("the card number is just: 4111 1111 1111 1111", 40, 25);
  check_cut("so you can always reach me at 555-123-4567", 40, 30);
  check_cut("and the number they gave me was 123-45-6789", 40, 32);
  check_cut("555-123-4567", 4, 0);
  check_cut("call (555) 123-4567", 7, 5);   /* its '(' */
  check_cut("call plus 1 555 123 4567", 8, 5); /* and "plus" */
  check_cut("call +1 555 123 4567", 6, 5);
  /* Spoken digits, "double" with its digit. */
  check_cut("my card is four one one one one one one one one one one one one one one one", 40, 11);
  check_cut("it's double five", 12, 5);
  /* Any number counts, whether it would be masked or not: the kinds are
   * not known here. */
  check_cut("give me 42 minutes", 9, 8);
  /* A cut at the end of a number, or of an address, keeps it whole. */
  check_cut("call 555-123-4567 now", 17, 17);
  check_cut("call 555-123-4567 now", 18, 18);
  check_cut("mail a@b.com now", 12, 12);
  /* Addresses, written and spoken. */
  check_cut("so yes you can write to john.smith@example.com", 40, 24);
  check_cut("ok so you can write me at john.smith@example.com", 40, 26);
  check_cut("mail john dot smith at gmail dot com now", 20, 5);
  check_cut("mail john dot smith at gmail dot com now", 36, 36);
  /* An address and a number that overlap (the digits are a phone number
   * when addresses are not masked): the cut goes before both. */
  check_cut("call 555 123 4567@x.com", 20, 5);
  /* What follows the cut is read, up to 4 KiB. */
  {
    size_t len = 10000;
    char *t = malloc(len + 1);
    ASSERT(t != NULL);
    memset(t, 'a', len);
    memcpy(t, "call 555-123-4567", 17);
    t[len] = '\0';
    check_cut(t, 10, 5);
    memset(t, ' ', len);
    memcpy(t, "4111 1111 1111 1111", 19);
    t[len] = '\0';
    check_cut(t, 12, 0);
    check_cut(t, 5000, 5000);
    free(t);
  }
}

int main(void) {
  RUN(test_line_and_json);
  RUN(test_json_values);
  RUN(test_cards);
  RUN(test_cards_negative);
  RUN(test_spoken);
  RUN(test_cvv);
  RUN(test_ssn);
  RUN(test_email);
  RUN(test_phones);
  RUN(test_negatives);
  RUN(test_utf8_and_bytes);
  RUN(test_kinds_and_counts);
  RUN(test_scan);
  RUN(test_capacity);
  RUN(test_parse_kinds);
  RUN(test_stress);
  RUN(test_cut);
  return 0;
}
