/*
 * it_agree.c: earshotd and `earshot replay` give the same alerts for the
 * same transcript. Each bundled sample call (tests/golden/calls) is
 * streamed through the socket and replayed offline with the bundled
 * rules; the alerts must be identical field by field (heat and the
 * call-level reasons included), except the line number (the socket's count
 * includes the hello) and seq (added here). The call rows earshotd stores
 * must carry the same summaries as replay prints, and the outcome
 * must hold: the escalating call raises exactly one backup alert with a
 * readable reason, the de-escalated call none.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *const calls[] = {"escalating", "deescalated", "calm", "negated", "overtalk"};

/* The fields both sides must agree on, as one comparable line. */
static char *key_of(const cJSON *a) {
  static const char *const fields[] = {"call_id", "rule", "category", "severity", "speaker",
                                       "text", "match_start", "match_end", "matched", "ts",
                                       "score", "tip", "description", "heat", "reason",
                                       NULL};
  struct it_str s = {0};
  for (int i = 0; fields[i]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, fields[i]);
    char *p = v ? cJSON_PrintUnformatted(v) : NULL;
    it_str_addf(&s, "%s=%s|", fields[i], p ? p : "(absent)");
    free(p);
  }
  return s.p;
}

static void test_socket_and_replay_agree(void) {
  struct it_daemon d;
  char path[512], cmd[1200];
  cJSON *summaries[sizeof(calls) / sizeof(calls[0])] = {0};
  int backups[sizeof(calls) / sizeof(calls[0])] = {0};

  it_start(&d, NULL);
  for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
    snprintf(path, sizeof(path), "%s/%s.jsonl", ES_GOLDEN_CALLS, calls[k]);

    /* Offline. */
    snprintf(cmd, sizeof(cmd), "'%s' replay --rules '%s' '%s' 2>/dev/null", ES_EARSHOT_CLI,
             ES_BUNDLED_RULES, path);
    FILE *p = popen(cmd, "r");
    ASSERT(p != NULL);
    char *line = NULL;
    size_t cap = 0;
    struct it_str offline = {0};
    int noffline = 0;
    while (getline(&line, &cap, p) > 0) {
      cJSON *a = cJSON_Parse(line);
      ASSERT(a != NULL);
      if (strcmp(it_jtype(a), "call_summary") == 0) {
        ASSERT(summaries[k] == NULL);
        summaries[k] = a;
        continue;
      }
      char *kk = key_of(a);
      it_str_addf(&offline, "%s\n", kk);
      free(kk);
      cJSON_Delete(a);
      noffline++;
    }
    ASSERT_EQ(pclose(p), 0);

    /* Through the socket, line by line with a seq, waiting for the last ack. */
    struct it_conn *c = it_connect(&d);
    free(it_hello(c, 1));
    int seq = 0;
    it_send_jsonl(c, path, NULL, &seq);
    struct it_str online = {0};
    int nonline = 0;
    for (;;) {
      cJSON *m = it_read_json(c, -1);
      ASSERT(m != NULL);
      if (strcmp(it_jtype(m), "alert") == 0) {
        char *kk = key_of(m);
        if (strcmp(it_jstr(m, "category"), "backup") == 0) {
          const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "reason");
          const cJSON *sum = cJSON_GetObjectItemCaseSensitive(r, "summary");
          const cJSON *hits = cJSON_GetObjectItemCaseSensitive(r, "hits");
          backups[k]++;
          ASSERT_STR_EQ(it_jstr(m, "severity"), "critical");
          ASSERT(cJSON_IsString(sum) && strstr(sum->valuestring, "reached") != NULL);
          ASSERT(cJSON_IsArray(hits) && cJSON_GetArraySize(hits) >= 2);
          fprintf(stderr, "   %s: backup: %s\n", calls[k], sum->valuestring);
        }
        it_str_addf(&online, "%s\n", kk);
        free(kk);
        nonline++;
      } else if (strcmp(it_jtype(m), "ack") == 0 && it_jint(m, "seq") == seq) {
        cJSON_Delete(m);
        break;
      } else if (strcmp(it_jtype(m), "error") == 0) {
        IT_FAIL("error record for %s: %s", calls[k], cJSON_PrintUnformatted(m));
      }
      cJSON_Delete(m);
    }
    fprintf(stderr, "   %s: %d alerts offline, %d through the socket\n", calls[k], noffline,
            nonline);
    ASSERT_EQ(nonline, noffline);
    if (strcmp(online.p ? online.p : "", offline.p ? offline.p : "") != 0)
      IT_FAIL("%s: alerts differ\n-- socket:\n%s-- replay:\n%s", calls[k],
              online.p ? online.p : "", offline.p ? offline.p : "");
    it_str_free(&online);
    it_str_free(&offline);
    free(line);
    it_close(c);
  }
  ASSERT_EQ(it_daemon_stop(&d, SIGTERM), 0);

  /* The outcome. */
  ASSERT_EQ(backups[0], 1); /* escalating */
  ASSERT_EQ(backups[1], 0); /* de-escalated */
  ASSERT_EQ(backups[2], 0); /* calm */
  ASSERT_EQ(backups[3], 0); /* negated threats */
  ASSERT_EQ(backups[4], 0); /* overtalk and dead air: signals, not a backup */

  /* The stored call rows carry the same summaries as replay printed. */
  sqlite3 *db = it_db_open(d.db);
  for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
    const cJSON *s = summaries[k];
    const char *id;
    ASSERT(s != NULL);
    id = it_jstr(s, "call_id");
    double peak = cJSON_GetObjectItemCaseSensitive(s, "peak_heat")->valuedouble;
    double fin = cJSON_GetObjectItemCaseSensitive(s, "final_heat")->valuedouble;
    char *cats = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s, "hits_by_category"));
    char num[2][32];
    snprintf(num[0], sizeof(num[0]), "%.3f", peak);
    snprintf(num[1], sizeof(num[1]), "%.3f", fin);
    ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM calls WHERE call_id = ?1 AND "
                            "end_reason = 'ended'", id, NULL), 1);
    ASSERT_EQ(it_db_int(db, "SELECT backup_raised FROM calls WHERE call_id = ?1", id, NULL),
              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "backup_raised")));
    ASSERT_EQ(it_db_int(db, "SELECT deescalated FROM calls WHERE call_id = ?1", id, NULL),
              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "deescalated")));
    ASSERT_EQ(it_db_int(db, "SELECT abs(peak_heat - ?2) < 0.001 AND abs(final_heat - ?3) "
                            "< 0.001 FROM calls WHERE call_id = ?1", id, num[0], num[1], NULL), 1);
    char *stored = it_db_text(db, "SELECT hits_by_category FROM calls WHERE call_id = ?1", id,
                              NULL);
    ASSERT_STR_EQ(stored, cats);
    free(stored);
    free(cats);
    ASSERT_EQ(it_db_int(db, "SELECT count(*) FROM alerts WHERE call_id = ?1 AND "
                            "category = 'backup' AND json_valid(reason)", id, NULL), backups[k]);
  }
  ASSERT_EQ(it_db_int(db, "SELECT deescalated FROM calls WHERE call_id = 'c-1002'", NULL), 1);
  ASSERT_EQ(it_db_int(db, "SELECT backup_raised FROM calls WHERE call_id = 'c-1001'", NULL), 1);
  sqlite3_close(db);
  for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++)
    cJSON_Delete(summaries[k]);
  it_daemon_cleanup(&d);
}

int main(int argc, char **argv) {
  it_init(argc, argv);
  RUN(test_socket_and_replay_agree);
  return 0;
}
