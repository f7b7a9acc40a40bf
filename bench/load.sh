#!/bin/sh
# bench/load.sh: the end-to-end load benchmark (bench/LOAD.md).
#
# Builds earshotd, bench_load and bench_sink (Release, in build-load/) when
# needed, starts bench_sink and, once per store.synchronous mode, a fresh
# earshotd on a temporary socket and database with the bundled rules; then
# runs, against each daemon:
#   1. 10,000 open calls (start + one line each): earshotd's VmRSS/VmHWM;
#   2. bulk replay over 1, 16 and 256 connections, the sink first on the
#      same buffers (the transport ceiling);
#   3. 50,000 lines/s paced over 16 connections, on a fresh daemon;
# and prints two Markdown tables. SIGTERM stops each daemon, which must exit 0.
#
#   bench/load.sh                    # everything, about 2-3 minutes
#   bench/load.sh --quick            # 300,000 lines, one store mode: ~30 s
#   bench/load.sh --profile          # also perf-profile earshotd at 16 bulk connections
#   bench/load.sh --sync normal --conns "16" --lines 1000000
#
# Options: --lines N (bulk corpus, default 2000000), --paced-lines N
# (default 500000: 10 s at 50,000 lines/s), --rate N (50000), --open-calls N
# (10000), --conns "1 16 256", --sync "full normal", --nice N (run
# earshotd, bench_sink and bench_load at this niceness; negative needs
# root; use it on a shared machine), --profile, --quick.
# Environment: BUILD_DIR (default <repo>/build-load), CMAKE_ARGS, CC.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$src/build-load}
lines=2000000
paced_lines=500000
rate=50000
open_calls=10000
conns="1 16 256"
syncs="full normal"
nice_n=""
profile=0

while [ $# -gt 0 ]; do
  case $1 in
    --lines) lines=$2; shift 2 ;;
    --paced-lines) paced_lines=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --open-calls) open_calls=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --sync) syncs=$2; shift 2 ;;
    --nice) nice_n=$2; shift 2 ;;
    --profile) profile=1; shift ;;
    --quick) lines=300000; paced_lines=150000; syncs=full; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "load.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

# ---- build --------------------------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build" -j2 --target earshotd >/dev/null
if grep -q 'load.cmake' "$src/bench/CMakeLists.txt" 2>/dev/null; then
  cmake --build "$build" -j2 --target bench_load bench_sink >/dev/null
  load=$build/bench/bench_load
  sink=$build/bench/bench_sink
else
  # bench/CMakeLists.txt does not include load.cmake yet: build directly.
  mkdir -p "$build/bench-load"
  load=$build/bench-load/bench_load
  sink=$build/bench-load/bench_sink
  flags="-std=c11 -O2 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
  uv=$(pkg-config --cflags --libs libuv)
  # shellcheck disable=SC2086
  ${CC:-cc} $flags "$src/bench/load.c" -o "$load"
  # shellcheck disable=SC2086
  ${CC:-cc} $flags "$src/bench/sink.c" -o "$sink" $uv
fi
earshotd=$build/daemon/earshotd
if [ "$profile" = 1 ]; then
  rm -f "$build/load-profile.md"
  if ! command -v perf >/dev/null; then
    echo "load.sh: --profile needs perf (linux-perf); skipping the profile" >&2
    profile=0
  fi
fi

# ---- scratch space and cleanup -----------------------------------------
# Sockets under /tmp (short paths); databases in the build tree, so that
# fsync goes to a real disk even where /tmp is tmpfs.
tmp=$(mktemp -d /tmp/esload.XXXXXX)
data=$build/load-data
mkdir -p "$data"
daemon_pid=""
sink_pid=""
perf_pid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  for p in $perf_pid $daemon_pid $sink_pid; do
    kill -TERM "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
  rm -f "$data"/load-*.db "$data"/load-*.db-wal "$data"/load-*.db-shm
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A prefix, not a function: "$!" must be the pid of the program itself.
run=""
if [ -n "$nice_n" ]; then
  run="nice -n $nice_n"
fi

# Waits until file $1 holds $2 while process $3 lives (10 s at most).
wait_for_log() {
  i=0
  while ! grep -q "$2" "$1" 2>/dev/null; do
    if ! kill -0 "$3" 2>/dev/null; then
      echo "load.sh: process $3 died before it was ready:" >&2
      cat "$1" >&2
      exit 1
    fi
    i=$((i + 1))
    if [ $i -gt 200 ]; then
      echo "load.sh: no \"$2\" in $1 after 10 s" >&2
      cat "$1" >&2
      exit 1
    fi
    sleep 0.05
  done
}

start_daemon() { # $1: synchronous mode
  printf '{"store": {"synchronous": "%s"}}\n' "$1" > "$tmp/earshotd-$1.json"
  rm -f "$data/load-$1.db" "$data/load-$1.db-wal" "$data/load-$1.db-shm"
  $run "$earshotd" --foreground --socket "$tmp/earshotd.sock" --db "$data/load-$1.db" \
      --rules "$src/rules" --config "$tmp/earshotd-$1.json" 2> "$tmp/earshotd-$1.log" &
  daemon_pid=$!
  wait_for_log "$tmp/earshotd-$1.log" " ready: " "$daemon_pid"
}

stop_daemon() {
  kill -TERM "$daemon_pid"
  if ! wait "$daemon_pid"; then
    echo "load.sh: earshotd did not exit 0 after SIGTERM:" >&2
    tail -5 "$tmp/earshotd-$1.log" >&2
    exit 1
  fi
  daemon_pid=""
  if grep -E " (error|warn) " "$tmp/earshotd-$1.log" >&2; then
    echo "load.sh: (earshotd logged the warnings above)" >&2
  fi
}

# ---- the machine -------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "## earshotd end-to-end load ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "Machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)," \
     "Linux $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Corpus: $lines lines bulk, $paced_lines lines paced at $rate lines/s; rules: $src/rules."
echo

$run "$sink" --socket "$tmp/sink.sock" 2> "$tmp/sink.log" &
sink_pid=$!
wait_for_log "$tmp/sink.log" "bench_sink ready" "$sink_pid"

mem_rows=""
rows=""
status=0 # 1 once a scenario failed or saw error records; the tables still print
for sync in $syncs; do
  start_daemon "$sync"
  echo "earshotd pid $daemon_pid, store.synchronous $sync" >&2

  row=$($run "$load" --socket "$tmp/earshotd.sock" --pid "$daemon_pid" \
      --open-calls "$open_calls" --conns 16 --label "$sync" --tag "m-$sync") || status=1
  mem_rows="$mem_rows$row
"
  for n in $conns; do
    row=$($run "$load" --socket "$tmp/earshotd.sock" --sink "$tmp/sink.sock" \
        --pid "$daemon_pid" --sink-pid "$sink_pid" --conns "$n" --lines "$lines" \
        --label "$sync" --tag "b$n-$sync") || status=1
    rows="$rows$row
"
  done
  # The paced run gets a daemon of its own: one that has just taken
  # millions of lines in bulk checkpoints their WAL and commits at normal
  # priority for 10 s after its idle-priority commits starved
  # (configuration.md, background_max_rows), which is not a daemon at
  # 50,000 lines/s. The bulk runs' tail shows in their own line->commit.
  stop_daemon "$sync"
  start_daemon "$sync"
  row=$($run "$load" --socket "$tmp/earshotd.sock" --pid "$daemon_pid" \
      --sink-pid "$sink_pid" --conns 16 --lines "$paced_lines" --rate "$rate" \
      --label "$sync" --tag "p-$sync") || status=1
  rows="$rows$row
"
  if [ "$profile" = 1 ] && [ "$sync" = "$(echo "$syncs" | cut -d' ' -f1)" ]; then
    perf record -F 499 --call-graph dwarf,16384 -p "$daemon_pid" -o "$tmp/perf.data" \
      2> "$tmp/perf.log" &
    perf_pid=$!
    sleep 0.5
    $run "$load" --socket "$tmp/earshotd.sock" --pid "$daemon_pid" --conns 16 \
        --lines "$lines" --label "$sync" --tag "prof-$sync" > /dev/null
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true
    perf_pid=""
    {
      rep="perf report -i $tmp/perf.data --stdio -g none"
      echo "### perf: earshotd at 16 bulk connections (store.synchronous $sync)"
      echo
      echo "Percentages are of all samples (every thread). Thread $daemon_pid is the loop;"
      echo "the others are libuv workers running the SQLite writer. PCRE2's JIT code"
      echo "cannot be unwound, so it shows as its own dso, outside es_match_line."
      echo
      echo '```'
      echo "# samples by thread"
      $rep --no-children --sort pid 2>/dev/null | grep -E '^ +[0-9]' | head -6
      echo "# loop thread, including callees"
      $rep --children --tid "$daemon_pid" --sort sym 2>/dev/null |
        grep -E ' (on_read|handle_line|es_proto_decode|cJSON_ParseWithLengthOpts|cJSON_Delete|es_utf8_valid|es_match_line|es__pf_scan|walk|open_call|esd_conn_flush|esd_writer_add_alert|esd_writer_add_call_start|es_alert_json|uv__io_poll|epoll_wait)$'
      echo "# loop thread, self time by library"
      $rep --no-children --tid "$daemon_pid" --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -8
      echo "# writer threads, including callees"
      $rep --children --sort sym 2>/dev/null |
        grep -E ' (work_cb|es_store_put_alert|es_store_put_call_start|es_store_put_call_end|es_store_commit)$'
      echo "# self time by function, all threads"
      $rep --no-children --sort dso,sym 2>/dev/null | grep -E '^ +[0-9]' | head -30
      echo '```'
    } > "$build/load-profile.md"
  fi
  stop_daemon "$sync"
done

cat <<'EOF'
### Throughput and latency

lines/s are end to end: first byte written to the last ack (every row of
every line committed). The sink replays the same buffers into bench_sink,
which only splits lines. "loop CPU" is lines per CPU-second of earshotd's
loop thread / that thread's share of the run / the other threads' (SQLite
writer) share. "others" is CPU used by unrelated processes during the run
(the machine is shared). Latencies in microseconds, p50 / p99 / p99.9:
line→alert from the write() carrying the line to reading its alert;
line→commit from the write() to reading the ack that covers it (alerting
lines only).

| store | load | conns | lines | earshotd lines/s | sink lines/s | earshotd/sink | loop CPU: lines/s / loop / writer | others (CPUs) | alerts | line→alert µs | line→commit µs | errors |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
EOF
printf '%s' "$rows"
cat <<'EOF'

### Memory with open calls

VmRSS of earshotd before, with the calls open (each: a start line with
metadata and one utterance), its VmHWM then, and VmRSS after they ended.
Each daemon is fresh, so the high-water mark is this scenario's own.

| store | open calls | conns | VmRSS before (MB) | VmRSS open (MB) | VmHWM (MB) | VmRSS after end (MB) | errors |
|---|---|---|---|---|---|---|---|
EOF
printf '%s' "$mem_rows"
if [ "$profile" = 1 ] && [ -f "$build/load-profile.md" ]; then
  echo
  cat "$build/load-profile.md"
fi
exit $status
