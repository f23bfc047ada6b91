import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { blockHashes, hashString } from '../../workers/block-hash.js';

const text = (length: number, seed = 0) =>
  Array.from({ length }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed) % 26))).join('');

// Number of leading hashes two runs share.
const commonRun = (a: Float64Array, b: Float64Array) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

const hashes = suite('workers/block-hash');

hashes('one hash per full block; the partial tail only reaches fullHash', () => {
  const result = blockHashes(text(1000), 256);
  assert.is(result.hashes.length, 3);
  assert.ok(result.hashes instanceof Float64Array);
  assert.is.not(result.fullHash, result.hashes[2]);
});

hashes('an exact multiple of blockChars: the last block hash is the full hash', () => {
  const result = blockHashes(text(512), 256);
  assert.is(result.hashes.length, 2);
  assert.is(result.fullHash, result.hashes[1]);
});

hashes('empty text and text shorter than a block have no block hashes', () => {
  const empty = blockHashes('', 4);
  assert.is(empty.hashes.length, 0);
  assert.is(empty.fullHash, hashString(''));
  const short = blockHashes('abc', 4);
  assert.is(short.hashes.length, 0);
  assert.is(short.fullHash, hashString('abc'));
  assert.is.not(short.fullHash, empty.fullHash);
});

hashes('the full hash is the whole-string hash', () => {
  const sample = text(777, 3);
  assert.is(blockHashes(sample, 64).fullHash, hashString(sample));
});

hashes('hashes are integers below 2^53', () => {
  for (const h of blockHashes(text(4096, 5), 16).hashes) {
    assert.ok(Number.isSafeInteger(h) && h >= 0, String(h));
  }
});

hashes('identical prefixes give identical leading hashes', () => {
  const prefix = text(1000);
  const a = blockHashes(prefix + 'tail one', 100).hashes;
  const b = blockHashes(prefix + 'a different and longer tail', 100).hashes;
  assert.is(commonRun(a, b), 10);
});

hashes('a change at char k changes hashes from block floor(k / blockChars) on, not before', () => {
  const base = text(2048);
  const before = blockHashes(base, 128).hashes;
  for (const k of [0, 127, 128, 129, 1000, 2047]) {
    const changed = base.slice(0, k) + (base[k] === 'x' ? 'y' : 'x') + base.slice(k + 1);
    const after = blockHashes(changed, 128).hashes;
    const first = Math.floor(k / 128);
    assert.is(commonRun(before, after), first, `k=${k}`);
    for (let i = first; i < after.length; i++) assert.is.not(after[i], before[i], `k=${k} block ${i}`);
  }
});

hashes('surrogate pairs are two code units, split across a boundary like any other', () => {
  const emoji = '\u{1F600}'; // two UTF-16 code units
  assert.is(emoji.length, 2);
  const result = blockHashes('a' + emoji + 'b', 2);
  assert.is(result.hashes.length, 2);
  assert.is(result.hashes[0], blockHashes('a\ud83d', 2).hashes[0]);
  assert.is(result.fullHash, hashString('a' + emoji + 'b'));
});

hashes('blockChars must be a positive integer', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => blockHashes('abc', bad), /blockChars must be a positive integer/);
  }
});

hashes.run();
