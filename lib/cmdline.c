/* cmdline.c: what went wrong with a command-line option (cmdline.h). */
#include "cmdline.h"

#include <stdio.h>
#include <string.h>

void es_cmdline_bad_option(const struct option *longopts, const char *arg, char *msg,
                           size_t cap) {
  const char *name = arg + 2, *eq = strchr(name, '=');
  size_t len = eq ? (size_t)(eq - name) : strlen(name);
  const struct option *exact = NULL, *prefix = NULL;
  int prefixes = 0;
  char list[512];
  size_t used = 0;

  if (strncmp(arg, "--", 2) != 0 || len == 0) {
    snprintf(msg, cap, "unknown option \"%s\"", arg);
    return;
  }
  for (const struct option *o = longopts; o->name; o++) {
    if (strncmp(o->name, name, len) != 0)
      continue;
    if (o->name[len] == '\0')
      exact = o;
    prefix = o;
    prefixes++;
  }
  if (exact == NULL && prefixes == 1)
    exact = prefix;
  if (exact && eq && exact->has_arg == no_argument) {
    snprintf(msg, cap, "option --%s takes no value", exact->name);
    return;
  }
  if (exact || prefixes == 0) {
    snprintf(msg, cap, "unknown option \"%s\"", arg);
    return;
  }
  list[0] = '\0';
  for (const struct option *o = longopts; o->name; o++) {
    if (strncmp(o->name, name, len) != 0 || used >= sizeof(list))
      continue;
    int n = snprintf(list + used, sizeof(list) - used, "%s--%s", used ? ", " : "", o->name);
    if (n > 0)
      used += (size_t)n;
  }
  snprintf(msg, cap, "ambiguous option --%.*s (could be %s)", (int)len, name, list);
}
