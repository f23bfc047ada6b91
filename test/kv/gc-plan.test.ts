// GC planning: age, orphans, per-model and global byte limits; never foreign files, never
// files in use.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chainHash, entryFileName, modelHash, serverHash } from '../../src/kv/file-name.js';
import { ORPHAN_GRACE_MS, planGc, type GcInput } from '../../src/kv/gc-plan.js';
import type { ListedFile, SavedEntry } from '../../src/kv/saved-index.js';

const HOUR = 3_600_000;
const OWN = serverHash('http://own');
const name = (model: string, n: number, server = OWN) => entryFileName(server, modelHash(model), chainHash(new Float64Array([n])));
const file = (n: string, bytes: number, mtimeMs = 0): ListedFile => ({ name: n, bytes, mtimeMs });
const entry = (f: string, model: string, lastUsedMs: number, bytes: number): SavedEntry => ({
  file: f, model, chain: new Float64Array([1]), tokens: 1, bytes, createdMs: 0, lastUsedMs, hits: 0,
});
const input = (over: Partial<GcInput>): GcInput => ({
  files: [], entries: [], inUse: new Set(), ownServers: new Set([OWN]), nowMs: 100 * HOUR,
  limits: { maxAgeMs: 24 * HOUR, maxBytes: 1000, maxBytesPerModel: 1000 }, ...over,
});

const test = suite('kv/gc-plan');

test('within limits: nothing to delete', () => {
  const a = name('m', 1);
  assert.equal(planGc(input({ files: [file(a, 10)], entries: [entry(a, 'm', 99 * HOUR, 10)] })), []);
});

test('by age: unused longer than maxAgeMs goes, unless in use', () => {
  const old = name('m', 1);
  const busy = name('m', 2);
  const fresh = name('m', 3);
  const plan = planGc(input({
    files: [file(old, 10), file(busy, 10), file(fresh, 10)],
    entries: [entry(old, 'm', 50 * HOUR, 10), entry(busy, 'm', 50 * HOUR, 10), entry(fresh, 'm', 99 * HOUR, 10)],
    inUse: new Set([busy]),
  }));
  assert.equal(plan, [{ file: old, bytes: 10, reason: 'age' }]);
});

test('orphans (ours, unindexed) go after a grace period, by their mtime', () => {
  const now = 100 * HOUR;
  const young = name('m', 1);
  const old = name('m', 2);
  const plan = planGc(input({ files: [file(young, 10, now - ORPHAN_GRACE_MS / 2), file(old, 10, now - ORPHAN_GRACE_MS - 1)] }));
  assert.equal(plan.map((d) => [d.file, d.reason]), [[old, 'orphan']]);
});

test('total bytes: least recently used first until within maxBytes; busy files count but stay', () => {
  const [a, b, c, d] = [1, 2, 3, 4].map((n) => name('m', n)) as [string, string, string, string];
  const plan = planGc(input({
    files: [file(a, 400), file(b, 400), file(c, 400), file(d, 400)],
    entries: [entry(a, 'm', 91 * HOUR, 400), entry(b, 'm', 92 * HOUR, 400), entry(c, 'm', 93 * HOUR, 400), entry(d, 'm', 94 * HOUR, 400)],
    inUse: new Set([a]),
    limits: { maxAgeMs: 24 * HOUR, maxBytes: 1000, maxBytesPerModel: 10_000 },
  }));
  assert.equal(plan.map((x) => [x.file, x.reason]), [[b, 'bytes'], [c, 'bytes']]);
});

test('per model: each model within maxBytesPerModel, the global limit after', () => {
  const m1 = [1, 2, 3].map((n) => name('one', n));
  const m2 = [4].map((n) => name('two', n));
  const entries = [...m1.map((f, i) => entry(f, 'one', (90 + i) * HOUR, 300)), entry(m2[0]!, 'two', 80 * HOUR, 300)];
  const plan = planGc(input({
    files: [...m1, ...m2].map((f) => file(f, 300)),
    entries,
    limits: { maxAgeMs: 24 * HOUR, maxBytes: 600, maxBytesPerModel: 600 },
  }));
  assert.equal(plan.map((x) => [x.file, x.reason]), [[m1[0], 'model_bytes'], [m2[0], 'bytes']]);
});

test('foreign files are never candidates, whatever their size or age', () => {
  const plan = planGc(input({
    files: [file('rig-test.bin', 10 ** 9), file('slotkeeper-index.msgpack', 10 ** 9), file('notes.txt', 1, 0)],
    limits: { maxAgeMs: 1, maxBytes: 0, maxBytesPerModel: 0 },
  }));
  assert.equal(plan, []);
});

test('another gateway\'s files count against the budget, but only ours go for bytes; theirs go by age', () => {
  const other = serverHash('http://other');
  const theirs = name('m', 1, other);
  const theirsOld = name('m', 2, other);
  const mine = [3, 4].map((n) => name('m', n));
  const plan = planGc(input({
    files: [file(theirs, 500), file(theirsOld, 100), ...mine.map((f) => file(f, 300))],
    // Theirs is the least recently used: a plan blind to ownership would delete it first.
    entries: [entry(theirs, 'm', 80 * HOUR, 500), entry(theirsOld, 'm', 10 * HOUR, 100), entry(mine[0]!, 'm', 90 * HOUR, 300), entry(mine[1]!, 'm', 95 * HOUR, 300)],
    limits: { maxAgeMs: 24 * HOUR, maxBytes: 800, maxBytesPerModel: 10_000 },
  }));
  // 1200 bytes: their old file goes by age (1100 left), then ours, oldest first, until 800.
  assert.equal(plan.map((x) => [x.file, x.reason]), [[theirsOld, 'age'], [mine[0], 'bytes']]);
  assert.equal(planGc(input({
    files: [file(theirs, 500), ...mine.map((f) => file(f, 300))],
    entries: [entry(theirs, 'm', 99 * HOUR, 500), entry(mine[0]!, 'm', 90 * HOUR, 300), entry(mine[1]!, 'm', 95 * HOUR, 300)],
    limits: { maxAgeMs: 24 * HOUR, maxBytes: 500, maxBytesPerModel: 10_000 },
  })).map((x) => x.file), mine, 'with only theirs left the directory is over budget: their GC deletes theirs, not ours');
});

test.run();
