#!/bin/sh
# compat.sh: earshot's sentiment against the npm package vader-sentiment
# (ctest sentiment/compat; docs/sentiment.md). Exits 77 (skipped) when node
# or npm is missing or the package cannot be installed.
#
#   compat.sh CACHE_DIR SRC_DIR COMPAT [COMPAT_SCALAR]
#
# CACHE_DIR gets the package (npm install --prefix, once) and the
# generated files. SRC_DIR is the source tree. COMPAT is the
# sentiment_compat binary; COMPAT_SCALAR the same built without SIMD.
# Every set must agree with the package (compound within 0.01) on at least
# 99% of its lines: the package's own test sentences, the hand-written edge
# cases, the committed call-center corpus, and generated stress lines.
set -u

cache=$1
src=$2
compat=$3
scalar=${4:-}
version=${VADER_VERSION:-1.1.3}
here=$src/tests/sentiment

skip() {
  echo "SKIP: $*"
  exit 77
}

command -v node >/dev/null 2>&1 || skip "node is not installed (the reference is the npm package vader-sentiment)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (the reference is the npm package vader-sentiment)"

mkdir -p "$cache" || exit 1
pkg=$cache/node_modules/vader-sentiment
if [ ! -f "$pkg/package.json" ] || ! grep -q "\"version\": \"$version\"" "$pkg/package.json"; then
  echo "installing vader-sentiment@$version into $cache (once)"
  if ! npm install --prefix "$cache" --no-audit --no-fund --no-package-lock --no-save \
      --fetch-retries=1 --fetch-timeout=60000 "vader-sentiment@$version" >"$cache/npm.log" 2>&1; then
    sed 's/^/  npm: /' "$cache/npm.log" | tail -n 5
    skip "could not install vader-sentiment@$version from the npm registry"
  fi
fi
[ -f "$pkg/package.json" ] || skip "vader-sentiment is not in $pkg after npm install"

ref=$here/vader_ref.js
node "$ref" "$pkg" package-sentences "$cache/package.txt" || exit 1
node "$ref" "$pkg" stress 20000 "$src/lexicon/vader_lexicon.tsv" "$cache/stress.txt" || exit 1

rc=0
run() { # NAME TEXTS
  node "$ref" "$pkg" score "$2" "$cache/$1.ref" >/dev/null || { rc=1; return; }
  "$compat" "$1" "$2" "$cache/$1.ref" || rc=1
  if [ -n "$scalar" ]; then
    "$scalar" --show 3 "$1 (no SIMD)" "$2" "$cache/$1.ref" || rc=1
  fi
}
run package "$cache/package.txt"
run edge "$here/edge.txt"
run corpus "$here/corpus.txt"
run stress "$cache/stress.txt"
exit $rc
