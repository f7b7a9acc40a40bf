#!/usr/bin/env bash
# Installs what is missing, builds earshot, checks the bundled rules and
# runs earshotd in the foreground with them and an embedded SQLite store
# (as root: /var/lib/earshot/earshotd.sock and /var/lib/earshot/earshot.db).
# Stop it with Ctrl-C: it commits every alert before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
build/cli/earshot rules check
cat >&2 <<'MSG'

earshotd is starting. In another terminal, from this directory:
  build/cli/earshot send tests/golden/calls/escalating.jsonl        # stream a sample call, see alerts
  build/cli/earshot stats                                            # the daemon's counters
  sqlite3 "${EARSHOT_HOME:-/var/lib/earshot}/earshot.db" 'SELECT call_id, rule_id, severity, text FROM alerts'

MSG
exec build/daemon/earshotd --foreground "$@"
