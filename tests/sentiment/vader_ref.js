// vader_ref.js: reference scores from the npm package vader-sentiment, for
// tests/sentiment (compat.sh). Uses the package's own implementation, as
// installed (the file its package.json names as main).
//
//   node vader_ref.js PKG_DIR score IN OUT
//       OUT gets one line per line of IN: "compound neg neu pos" as the
//       package returns them (compound rounded to 4 decimals, the rest to 3).
//   node vader_ref.js PKG_DIR package-sentences OUT
//       OUT gets the sentences of the package's own tests
//       (tests/SentimentIntensityAnalyzer_tests.js), one per line.
//   node vader_ref.js PKG_DIR stress N LEXICON OUT
//       OUT gets N generated lines that exercise every rule and odd input:
//       lexicon words (from LEXICON, earshot's lexicon/vader_lexicon.tsv),
//       rule words in any case, punctuation at either end, Unicode spaces
//       and letters, emoji. Deterministic (a fixed-seed xorshift).
'use strict';
const fs = require('fs');
const path = require('path');

const [pkgDir, mode, a, b] = process.argv.slice(2);
if (!pkgDir || !mode) {
  console.error('usage: node vader_ref.js PKG_DIR score IN OUT | package-sentences OUT');
  process.exit(2);
}

if (mode === 'package-sentences') {
  const src = fs.readFileSync(path.join(pkgDir, 'tests', 'SentimentIntensityAnalyzer_tests.js'), 'utf8');
  const re = /text:\s*('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")/g;
  const out = [];
  let m;
  while ((m = re.exec(src)) !== null) {
    // A JavaScript string literal from the package's test file.
    const s = new Function('return ' + m[1])();
    if (/[\r\n]/.test(s)) throw new Error('sentence with a newline: ' + JSON.stringify(s));
    out.push(s);
  }
  if (out.length === 0) {
    console.error('vader_ref.js: no sentences found in the package tests');
    process.exit(1);
  }
  fs.writeFileSync(a, out.map(s => s + '\n').join(''));
  console.log(`vader_ref.js: ${out.length} sentences from the package's tests`);
} else if (mode === 'stress') {
  const n = parseInt(a, 10);
  const [lexPath, outPath] = process.argv.slice(5);
  const lex = fs.readFileSync(lexPath, 'utf8').split('\n').filter(l => l).map(l => l.split('\t')[0]);
  const rule = ['but', 'BUT', 'But', 'never', 'Never', 'so', 'this', 'least', 'Least', 'at', 'very',
    'kind', 'of', 'the', 'shit', 'bomb', 'bad', 'ass', 'yeah', 'right', 'cut', 'mustard', 'kiss',
    'death', 'hand', 'to', 'mouth', 'just', 'enough', 'sort', 'not', 'NOT', "isn't", "don't",
    'dont', 'no', 'nor', 'without', 'uh-uh', 'kind-of', 'sort-of', 'kinda', 'really', 'extremely',
    'hardly', 'FRIGGIN', "can't", 'x', 'i', 'a', 'it', 'is', 'fed', 'up', 'stand', 'screwed',
    'uncontrollability', 'antagonistically', 'unappreciated'];
  const punct = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'.split('').concat(
    ['!!', '!!!', '??', '???', '?!?', '!?!', '?!?!', '!?!?', '...']);
  const spaces = Array(24).fill(' ').concat(['  ', '\t', '\u00a0', '\u2003', '\u3000', '\ufeff',
    '\u2028', '\u202f', '\u0085', '\u180e', '\u200b']);
  const uni = ['\u00e9', '\u{1F600}', '\u00de', '\u00fe', '\u212a', '\u00df', '\u0130', '\u2019',
    '\u2018', '\u02bc', '\u00b4', '\u65e5\u672c'];
  let x = 0x2545F491n;
  const next = () => { x ^= (x << 13n) & 0xffffffffn; x ^= x >> 17n; x ^= (x << 5n) & 0xffffffffn;
    return Number(x & 0xffffffffn) / 4294967296; };
  const pick = arr => arr[Math.floor(next() * arr.length)];
  const word = () => {
    let w;
    const r = next();
    if (r < 0.35) w = pick(lex);
    else if (r < 0.75) w = pick(rule);
    else if (r < 0.85) w = pick(uni) + pick(rule);
    else { w = ''; const k = 1 + Math.floor(next() * 5); for (let i = 0; i < k; i++) w += pick('abcdefghijklmnopqrstuvwxyzABC'.split('')); }
    const c = next();
    if (c < 0.15) w = w.toUpperCase();
    else if (c < 0.2) w = w.charAt(0).toUpperCase() + w.slice(1);
    const p = next();
    if (p < 0.15) w = w + pick(punct);
    else if (p < 0.25) w = pick(punct) + w;
    else if (p < 0.28) w = pick(punct) + w + pick(punct);
    return w;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const k = Math.floor(next() * 14);
    let s = '';
    for (let j = 0; j < k; j++) s += word() + pick(spaces);
    out.push(s.replace(/[\r\n]/g, ' ') + '\n');
  }
  fs.writeFileSync(outPath, out.join(''));
  console.log(`vader_ref.js: ${n} stress lines`);
} else if (mode === 'score') {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const vader = require(path.join(pkgDir, pkg.main));
  const lines = fs.readFileSync(a, 'utf8').split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const out = [];
  for (const line of lines) {
    const r = vader.SentimentIntensityAnalyzer.polarity_scores(line);
    out.push(`${r.compound} ${r.neg} ${r.neu} ${r.pos}\n`);
  }
  fs.writeFileSync(b, out.join(''));
  console.log(`vader_ref.js: ${pkg.name}@${pkg.version} scored ${lines.length} lines of ${path.basename(a)}`);
} else {
  console.error('vader_ref.js: unknown mode ' + mode);
  process.exit(2);
}
