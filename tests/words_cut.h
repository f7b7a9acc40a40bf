/*
 * words_cut.h: lines whose personal data straddles byte 40 (ES_WORDS_MAX),
 * with the words a call must remember of them when the whole line is a
 * hit's words (a signal's): up to the number or address, and nothing of
 * it. test_engine checks the engine's reasons with them, it_feed the
 * reasons earshotd sends to the feed and stores.
 */
#ifndef ES_TEST_WORDS_CUT_H
#define ES_TEST_WORDS_CUT_H

static const struct {
  const char *line;
  const char *words;
} words_cut_cases[] = {
    {"the card number is just: 4111 1111 1111 1111", "the card number is just:"},
    {"so you can always reach me at 555-123-4567", "so you can always reach me at"},
    {"and the number they gave me was 123-45-6789", "and the number they gave me was"},
    {"so yes you can write to john.smith@example.com", "so yes you can write to"},
    {"ok so you can write me at john.smith@example.com", "ok so you can write me at"},
    {"my card is four one one one one one one one one one one one one one one one", "my card is"},
};

#define WORDS_CUT_CASES (sizeof(words_cut_cases) / sizeof(words_cut_cases[0]))

#endif
