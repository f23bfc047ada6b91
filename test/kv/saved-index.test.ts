// The saved-entry index: longest match, lineage replacement, bounds, reconciliation with a
// directory listing, and its msgpack encoding.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chainHash, entryFileName, modelHash, serverHash } from '../../src/kv/file-name.js';
import { type SavedEntry, SavedIndex } from '../../src/kv/saved-index.js';

const chain = (...xs: number[]) => new Float64Array(xs);
const entry = (c: Float64Array, over: Partial<SavedEntry> = {}): SavedEntry => ({
  file: entryFileName(serverHash('u'), modelHash(over.model ?? 'm'), chainHash(c)), model: 'm', chain: c,
  tokens: c.length * 60, bytes: c.length * 60 * 1000, createdMs: 1, lastUsedMs: 1, hits: 0, ...over,
});

const test = suite('kv/saved-index');

test('best: the entry of the model sharing the most blocks; none when nothing shares', () => {
  const index = new SavedIndex(10);
  index.put(entry(chain(1, 2, 3)));
  index.put(entry(chain(1, 2, 9, 10)));
  index.put(entry(chain(1, 2, 3, 4, 5), { model: 'other' }));
  const best = index.best('m', chain(1, 2, 3, 4));
  assert.is(best?.blocks, 3);
  assert.equal(Array.from(best!.entry.chain), [1, 2, 3]);
  assert.is(index.best('m', chain(7)), null);
  assert.is(index.best('nobody', chain(1, 2, 3)), null);
});

test('covering: an entry holding the whole chain with as many tokens; lineageOf: the longest saved prefix', () => {
  const index = new SavedIndex(10);
  const short = entry(chain(1, 2));
  const long = entry(chain(1, 2, 3, 4));
  index.put(short);
  index.put(long);
  assert.is(index.covering('m', chain(1, 2, 3), 100), long);
  assert.is(index.covering('m', chain(1, 2, 3), 10_000), undefined, 'fewer tokens than the slot holds');
  assert.is(index.covering('m', chain(1, 2, 3, 4, 5), 1), undefined);
  assert.is(index.lineageOf('m', chain(1, 2, 3, 4, 5)), long);
  assert.is(index.lineageOf('m', chain(1, 2, 7)), short);
  assert.is(index.lineageOf('m', chain(8)), undefined);
  assert.is(index.lineageOf('other', chain(1, 2, 3, 4)), undefined);
});

test('put replaces by file and evicts the least recently used beyond maxEntries', () => {
  const index = new SavedIndex(2);
  const a = entry(chain(1), { lastUsedMs: 10 });
  const b = entry(chain(2), { lastUsedMs: 20 });
  const c = entry(chain(3), { lastUsedMs: 30 });
  assert.equal(index.put(a), []);
  assert.equal(index.put(b), []);
  index.touch(a.file, 40);
  assert.is(a.hits, 1);
  assert.equal(index.put(c).map((e) => e.file), [b.file]);
  assert.is(index.size, 2);
  const a2 = { ...a, tokens: 999 };
  assert.equal(index.put(a2), []);
  assert.is(index.get(a.file)?.tokens, 999);
  assert.is(index.totalBytes, a.bytes + c.bytes);
  assert.is(index.remove(c.file), c);
  assert.is(index.size, 1);
  assert.throws(() => new SavedIndex(0), /maxEntries/);
});

test('reconcile drops entries whose file is gone, forgets those of another size than their save wrote, reports our unknown files', () => {
  const index = new SavedIndex(10);
  const kept = entry(chain(1));
  const lost = entry(chain(2));
  const cut = entry(chain(4));
  index.put(kept);
  index.put(lost);
  index.put(cut);
  const orphan = entryFileName(serverHash('u'), modelHash('m'), chainHash(chain(3)));
  const r = index.reconcile([
    { name: kept.file, bytes: kept.bytes, mtimeMs: 0 },
    { name: cut.file, bytes: cut.bytes - 4096, mtimeMs: 0 },
    { name: orphan, bytes: 5, mtimeMs: 0 },
    { name: 'someone-elses.bin', bytes: 5, mtimeMs: 0 },
  ]);
  assert.equal(r.dropped.map((e) => e.file), [lost.file]);
  assert.equal(r.resized.map((e) => e.file), [cut.file], 'a partial copy is not trusted');
  assert.equal(r.orphans.map((f) => f.name), [orphan], 'nor taken for an orphan: the caller deletes it as damaged');
  assert.equal(index.entries().map((e) => e.file), [kept.file]);
});

test('encode/decode round-trips every field; foreign or damaged bytes are refused or skipped', () => {
  const index = new SavedIndex(10);
  const e = entry(chain(0.5, -2, 1e300), { hits: 3, createdMs: 100, lastUsedMs: 200, sha256: 'ab'.repeat(32) });
  index.put(e);
  const back = SavedIndex.decode(index.encode(), 10);
  const got = back.get(e.file)!;
  assert.instance(got.chain, Float64Array);
  assert.equal(Array.from(got.chain), [0.5, -2, 1e300]);
  assert.equal({ ...got, chain: null }, { ...e, chain: null });
  assert.throws(() => SavedIndex.decode(new Uint8Array([0xc0]), 10), /not a slotkeeper KV index/);
  // An index written before content hashes: its entries come back without one.
  const old = new SavedIndex(10);
  old.put(entry(chain(7)));
  assert.is(SavedIndex.decode(old.encode(), 10).entries()[0]!.sha256, undefined);
  // A decoder bounded smaller keeps only the most recently used.
  index.put(entry(chain(9), { lastUsedMs: 500 }));
  assert.is(SavedIndex.decode(index.encode(), 1).size, 1);
});

test.run();
