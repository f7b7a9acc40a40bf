/* defaults.h: where earshotd and the earshot command look by default. */
#ifndef ES_DEFAULTS_H
#define ES_DEFAULTS_H

#include <stddef.h>

/* The data directory: $EARSHOT_HOME when set; /var/lib/earshot for root;
 * else $XDG_STATE_HOME/earshot or $HOME/.local/state/earshot. Writes it to
 * buf; returns 0 or ES_ETOOBIG. */
int es_default_home(char *buf, size_t cap);

/* <home>/earshotd.sock and <home>/earshot.db. 0 or ES_ETOOBIG. */
int es_default_socket(char *buf, size_t cap);
int es_default_db(char *buf, size_t cap);

/* The system-wide config file, earshotd's on a packaged install, where the
 * earshot command looks for the daemon's socket and database
 * (docs/configuration.md, "How earshot finds earshotd"):
 * $EARSHOT_SYSTEM_CONFIG when set (tests; an install under another
 * prefix), else /etc/earshot/earshotd.json. 0 or ES_ETOOBIG. */
int es_default_config(char *buf, size_t cap);

/* The bundled rules directory: $EARSHOT_RULES when set; the source tree's
 * rules/ when the running binary sits in this project's build tree;
 * PREFIX/share/earshot/rules beside an installed binary (PREFIX/bin);
 * else the configured install path. 0 or ES_ETOOBIG. */
int es_default_rules(char *buf, size_t cap);

#endif
