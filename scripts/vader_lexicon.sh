#!/bin/sh
# scripts/vader_lexicon.sh: regenerates lexicon/ from the npm package
# vader-sentiment (the reference implementation earshot's sentiment follows).
#
#   scripts/vader_lexicon.sh            # version 1.1.3, the one tests/sentiment pins
#   VADER_VERSION=1.1.3 scripts/vader_lexicon.sh
#
# Needs node and npm (the npm registry, nothing else). Writes:
#   lexicon/vader_lexicon.tsv   "word<TAB>valence" lines, sorted, no comments
#   lexicon/LICENSE-APACHE      the package's LICENSE (Apache-2.0)
#   lexicon/NOTICE              the package's NOTICE
#   lexicon/SOURCE              package, version, tarball integrity, counts
# lexicon/README.md and lexicon/LICENSE are written by hand and left alone.
#
# The conversion keeps what the package's own lookups can reach:
#   - vader_lexicon.txt lists a few words twice; the last line wins, as in
#     the package (its vader_lexicon.js keeps the final occurrence);
#   - keys that are not their own lower case (":-D", "O.o", ":Þ") are
#     dropped: the package looks every token up lower-cased, so they never
#     match (":-d" and "o.o" are present in their own right);
#   - keys with spaces ("fed up", "can't stand") are kept: the package never
#     matches them (it splits on white space), earshot only with the
#     phrases option (docs/sentiment.md).
# The result is checked against the lexicon object inside the package's
# own build (the file node loads), so a package whose .txt and .js disagree
# is refused.
set -eu

version=${VADER_VERSION:-1.1.3}
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/lexicon

command -v node >/dev/null 2>&1 || { echo "vader_lexicon.sh: node is required" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "vader_lexicon.sh: npm is required" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

(cd "$tmp" && npm pack --silent "vader-sentiment@$version" > pack.out)
tarball=$tmp/$(tail -n 1 "$tmp/pack.out")
[ -f "$tarball" ] || { echo "vader_lexicon.sh: npm pack produced no tarball" >&2; exit 1; }
tar -xzf "$tarball" -C "$tmp"
pkg=$tmp/package
integrity=$(npm view "vader-sentiment@$version" dist.integrity 2>/dev/null || echo unknown)

mkdir -p "$out"
node - "$pkg" "$out" "$integrity" <<'EOF'
'use strict';
const fs = require('fs');
const path = require('path');
const [pkgDir, outDir, integrity] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));

// vader_lexicon.txt: word TAB mean TAB stddev TAB [ratings]; last line wins.
const text = fs.readFileSync(path.join(pkgDir, 'vader_lexicon.txt'), 'utf8');
const valueText = new Map();
let lines = 0;
for (const line of text.split('\n')) {
  if (line.trim() === '') continue;
  const f = line.split('\t');
  if (f.length < 2 || f[0] === '' || !Number.isFinite(Number(f[1]))) {
    console.error(`vader_lexicon.sh: bad line in vader_lexicon.txt: ${JSON.stringify(line)}`);
    process.exit(1);
  }
  valueText.set(f[0], f[1].trim());
  lines++;
}

// The lexicon object inside the build node loads (main): its first module
// assigns it to exports.lexicon, which a setter on Object.prototype sees.
let bundled = null;
Object.defineProperty(Object.prototype, 'lexicon', {
  configurable: true,
  set(v) {
    if (bundled === null) bundled = v;
    Object.defineProperty(this, 'lexicon', {value: v, writable: true, enumerable: true});
  },
});
require(path.join(pkgDir, pkg.main));
delete Object.prototype.lexicon;
if (bundled === null) {
  console.error('vader_lexicon.sh: could not find the lexicon inside ' + pkg.main);
  process.exit(1);
}
const bundledKeys = Object.keys(bundled);
let mismatches = 0;
for (const [k, v] of valueText) {
  if (!Object.prototype.hasOwnProperty.call(bundled, k) || bundled[k] !== Number(v)) {
    if (mismatches++ < 10) console.error(`vader_lexicon.sh: ${JSON.stringify(k)}: txt ${v}, build ${bundled[k]}`);
  }
}
for (const k of bundledKeys) {
  if (!valueText.has(k) && mismatches++ < 10) console.error(`vader_lexicon.sh: ${JSON.stringify(k)} only in the build`);
}
if (mismatches) {
  console.error(`vader_lexicon.sh: vader_lexicon.txt and ${pkg.main} disagree on ${mismatches} keys`);
  process.exit(1);
}

const kept = [];
let unreachable = 0, phrases = 0;
for (const k of valueText.keys()) {
  if (k !== k.toLowerCase()) { unreachable++; continue; }
  if (/\s/.test(k)) {
    if (!/^\S+( \S+)+$/.test(k)) {
      console.error(`vader_lexicon.sh: odd spacing in ${JSON.stringify(k)}`);
      process.exit(1);
    }
    phrases++;
  }
  kept.push(k);
}
kept.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
fs.writeFileSync(path.join(outDir, 'vader_lexicon.tsv'),
                 kept.map(k => `${k}\t${valueText.get(k)}\n`).join(''));
fs.copyFileSync(path.join(pkgDir, 'LICENSE'), path.join(outDir, 'LICENSE-APACHE'));
fs.copyFileSync(path.join(pkgDir, 'NOTICE'), path.join(outDir, 'NOTICE'));
fs.writeFileSync(path.join(outDir, 'SOURCE'),
  `package: ${pkg.name}@${pkg.version} (npm registry)\n` +
  `integrity: ${integrity}\n` +
  `file: vader_lexicon.txt, ${lines} lines, ${valueText.size} distinct keys, checked against ${pkg.main}\n` +
  `written: vader_lexicon.tsv, ${kept.length} keys (${phrases} with spaces); ` +
  `${unreachable} keys dropped (not lower case: never looked up)\n` +
  `by: scripts/vader_lexicon.sh\n`);
console.log(`lexicon: ${pkg.name}@${pkg.version}: ${kept.length} keys written ` +
            `(${phrases} phrases), ${unreachable} unreachable keys dropped`);
EOF
