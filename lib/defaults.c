/* defaults.c: see defaults.h. */
#include "defaults.h"

#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int es_default_home(char *buf, size_t cap) {
  const char *env = getenv("EARSHOT_HOME");
  int n;

  if (env && *env)
    n = snprintf(buf, cap, "%s", env);
  else if (geteuid() == 0)
    n = snprintf(buf, cap, "/var/lib/earshot");
  else if ((env = getenv("XDG_STATE_HOME")) && *env)
    n = snprintf(buf, cap, "%s/earshot", env);
  else if ((env = getenv("HOME")) && *env)
    n = snprintf(buf, cap, "%s/.local/state/earshot", env);
  else
    n = snprintf(buf, cap, "/tmp/earshot-%u", (unsigned)geteuid());
  return n < 0 || (size_t)n >= cap ? ES_ETOOBIG : 0;
}

static int under_home(char *buf, size_t cap, const char *name) {
  char home[4096];
  int n;
  if (es_default_home(home, sizeof(home)) != 0)
    return ES_ETOOBIG;
  n = snprintf(buf, cap, "%s/%s", home, name);
  return n < 0 || (size_t)n >= cap ? ES_ETOOBIG : 0;
}

int es_default_socket(char *buf, size_t cap) { return under_home(buf, cap, "earshotd.sock"); }
int es_default_db(char *buf, size_t cap) { return under_home(buf, cap, "earshot.db"); }

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int put(char *buf, size_t cap, const char *s) {
  int n = snprintf(buf, cap, "%s", s);
  return n < 0 || (size_t)n >= cap ? ES_ETOOBIG : 0;
}

int es_default_config(char *buf, size_t cap) {
  const char *env = getenv("EARSHOT_SYSTEM_CONFIG");
  return put(buf, cap, env && *env ? env : "/etc/earshot/earshotd.json");
}

int es_default_rules(char *buf, size_t cap) {
  char exe[PATH_MAX], build[PATH_MAX], guess[PATH_MAX + 32];
  const char *env = getenv("EARSHOT_RULES");
  ssize_t n;

  if (env && *env)
    return put(buf, cap, env);
  n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    if (realpath(ES_BUILD_DIR, build) && strncmp(exe, build, strlen(build)) == 0 &&
        exe[strlen(build)] == '/' && is_dir(ES_SOURCE_RULES_DIR))
      return put(buf, cap, ES_SOURCE_RULES_DIR);
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      snprintf(guess, sizeof(guess), "%s/../share/earshot/rules", exe);
      if (is_dir(guess))
        return put(buf, cap, guess);
    }
  }
  if (is_dir(ES_INSTALL_RULES_DIR))
    return put(buf, cap, ES_INSTALL_RULES_DIR);
  return put(buf, cap, ES_SOURCE_RULES_DIR);
}
