/*
 * task.h: assertions for the unit tests, in the manner of libuv's
 * test/task.h: on failure print both sides, file and line, and abort.
 */
#ifndef ES_TEST_TASK_H
#define ES_TEST_TASK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Tests may count soft failures here and return it from main(). */
static int es_test_failures_ __attribute__((unused));

#define ES_FAIL_(...)                                                        \
  do {                                                                       \
    fprintf(stderr, "%s:%d: assertion failed: ", __FILE__, __LINE__);        \
    fprintf(stderr, __VA_ARGS__);                                            \
    fputc('\n', stderr);                                                     \
    abort();                                                                 \
  } while (0)

#define ASSERT(expr)                                                         \
  do {                                                                       \
    if (!(expr)) ES_FAIL_("%s", #expr);                                      \
  } while (0)

#define ASSERT_INT_(a, op, b)                                                \
  do {                                                                       \
    int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                            \
    if (!(a_ op b_))                                                         \
      ES_FAIL_("%s %s %s (%" PRId64 " vs %" PRId64 ")", #a, #op, #b, a_, b_); \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_(a, !=, b)
#define ASSERT_GT(a, b) ASSERT_INT_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_(a, >=, b)
#define ASSERT_LT(a, b) ASSERT_INT_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_(a, <=, b)

#define ASSERT_STR_EQ(a, b)                                                  \
  do {                                                                       \
    const char *a_ = (a), *b_ = (b);                                         \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                     \
      ES_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",    \
               b_ ? b_ : "(null)");                                          \
  } while (0)

#define ASSERT_MEM_EQ(a, alen, b, blen)                                      \
  do {                                                                       \
    size_t al_ = (alen), bl_ = (blen);                                       \
    if (al_ != bl_ || memcmp((a), (b), al_) != 0)                            \
      ES_FAIL_("%s == %s (\"%.*s\" vs \"%.*s\")", #a, #b, (int)al_,          \
               (const char *)(a), (int)bl_, (const char *)(b));              \
  } while (0)

/* Each test is a static void function; RUN() names it when it starts so
 * that a crash points at the test. */
#define RUN(fn)                                                              \
  do {                                                                       \
    fprintf(stderr, "-- %s\n", #fn);                                         \
    fn();                                                                    \
  } while (0)

#endif
