// The disk tier's effects against a fake slot-action server (test/helpers/fake-slot-server.ts):
// the capability probe once per server generation, a failing save counted with the request
// unharmed, restores stopping after kv.unverifiedRestoreLimit unverified ones, the blind ring of
// names without slotSaveDir, and two upstreams sharing one slot-save directory.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Counter } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type PartialConfig, withDefaults } from '../../src/config/config.js';
import { DiskStore } from '../../src/kv/disk-store.js';
import { indexFileName, parseEntryFileName, serverHash } from '../../src/kv/file-name.js';
import { KvTier, type SlotSituation, type TierUpstream } from '../../src/kv/kv-tier.js';
import { SavedIndex } from '../../src/kv/saved-index.js';
import { createMetrics, type KvMetrics } from '../../src/metrics.js';
import { type FakeSlotServer, startFakeSlotServer } from '../helpers/fake-slot-server.js';

// ---- helpers ----

/** A chain of `n` blocks starting at `seed`: conversations with different seeds share nothing. */
const chain = (seed: number, n = 10) => new Float64Array(Array.from({ length: n }, (_, i) => seed * 1000 + i));

interface Rig {
  tier: KvTier;
  metrics: KvMetrics;
  lines: string[];
  clock: { now: number };
}

/**
 * Wall-clock ms like the tier's real clock: files' mtimes, which orphan GC reads, are real.
 * `candidates` stand for the slot-save directories of this host's processes (none by default,
 * so an upstream without slotSaveDir works blind without a probe save).
 */
function rig(upstreams: PartialConfig['upstreams'], kv: PartialConfig['kv'] = {}, startMs = Date.now(), candidates: string[] = []): Rig {
  const metrics = createMetrics().kv;
  const lines: string[] = [];
  const clock = { now: startMs };
  const tier = new KvTier({
    config: withDefaults({ upstreams, kv }), metrics, now: () => clock.now, log: (l) => lines.push(l),
    saveDirCandidates: async () => candidates,
  });
  return { tier, metrics, lines, clock };
}

const up = (id: number, url: string, generation = 1): TierUpstream => ({ id, url, generation });

/**
 * A request in slot 0 that overwrites a slot holding `held` (1000 tokens, 10 blocks) and whose
 * own prompt is `wants` plus more: enough to make a save and a restore worth it at the rates a
 * fresh tier assumes, on a server prefilling 1 token per ms.
 */
function situation(u: TierUpstream, held: Float64Array | null, wants: Float64Array): SlotSituation {
  return {
    upstream: u, slot: 0, model: 'm', content: held === null ? undefined : { chain: held, tokens: 1000, lastUsedMs: 0 }, idleMs: 0,
    overwrites: true, chain: new Float64Array([...wants, 7e9]), promptTokens: 1200, currentReuseTokens: 0,
    tokensPerBlock: 100, promptTokensPerMs: 1,
  };
}

async function count(counter: Counter<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await counter.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

async function indexOf(dir: string, url: string): Promise<string[]> {
  const bytes = await new DiskStore(dir).readIndex(serverHash(url));
  return bytes === null ? [] : SavedIndex.decode(bytes, 100).entries().map((e) => e.file);
}

let fake: FakeSlotServer;
let fake2: FakeSlotServer;
let dir = '';

const test = suite('kv/kv-tier with a fake server');
test.before.each(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slotkeeper-kv-unit-'));
  fake = await startFakeSlotServer({ dir });
  fake2 = await startFakeSlotServer({ dir });
});
test.after.each(async () => {
  await fake.close();
  await fake2.close();
  rmSync(dir, { recursive: true, force: true });
});

// ---- capabilities ----

test('the capability probe is asked once per server generation, and only when there is something to save', async () => {
  const r = rig([{ url: fake.url, slotSaveDir: dir }]);
  await r.tier.beforeRun(situation(up(0, fake.url), null, chain(1)));
  assert.is(fake.actions('save', { probes: true }).length, 0, 'nothing to save: no probe');
  await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(2)));
  await r.tier.beforeRun(situation(up(0, fake.url), chain(2), chain(3)));
  assert.is(fake.actions('save', { probes: true }).length, 1);
  assert.is(fake.actions('save').length, 2);
  await r.tier.beforeRun(situation(up(0, fake.url, 2), chain(3), chain(4)));
  assert.is(fake.actions('save', { probes: true }).length, 2, 'the server restarted: asked again');
  await r.tier.close();
});

test('a server without slot actions (501) gets the probe and nothing else', async () => {
  fake.options.enabled = false;
  const r = rig([{ url: fake.url, slotSaveDir: dir }]);
  assert.is(await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(2))), null);
  await r.tier.beforeRun(situation(up(0, fake.url), chain(2), chain(3)));
  assert.equal(fake.requests.map((q) => q.path), ['/slots/x']);
  assert.match(r.lines.join('\n'), /has no slot save\/restore/);
  assert.is(await count(r.metrics.saves), 0);
  await r.tier.close();
});

// ---- failures ----

test('a failing or hanging save is counted and logged, and the request goes on', async () => {
  fake.options.failSave = 500;
  const r = rig([{ url: fake.url, slotSaveDir: dir }], { actionTimeoutMs: 100 });
  assert.is(await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(2))), null);
  assert.is(await count(r.metrics.saves, { result: 'failed' }), 1);
  assert.match(r.lines.join('\n'), /save of slot 0 .* failed; the request goes on without it/);
  fake.options.failSave = undefined;
  fake.options.hangSave = true;
  assert.is(await r.tier.beforeRun(situation(up(0, fake.url), chain(3), chain(4))), null);
  assert.is(await count(r.metrics.saves, { result: 'failed' }), 2);
  assert.is(r.tier.diskBytes(), 0, 'nothing indexed');
  await r.tier.close();
});

// ---- restores ----

test('a save is restored by a later request; restores stop after unverifiedRestoreLimit that gave no reuse', async () => {
  const r = rig([{ url: fake.url, slotSaveDir: dir }], { unverifiedRestoreLimit: 2 });
  const u = up(0, fake.url);
  await r.tier.beforeRun(situation(u, chain(1), chain(2)));
  const first = await r.tier.beforeRun(situation(u, chain(2), chain(1)));
  assert.ok(first !== null, 'restored');
  assert.is(first!.expectedTokens, 1000);
  assert.is(fake.actions('restore').at(-1)!.body.filename, first!.file);
  r.tier.verify(first!, 0);
  const second = await r.tier.beforeRun(situation(u, chain(2), chain(1)));
  assert.ok(second !== null, 'one unverified restore is not enough to stop');
  r.tier.verify(second!, 3);
  assert.is(await count(r.metrics.restoresDisabled), 1);
  assert.match(r.lines.join('\n'), /restores stop on .* for model m: 2 in a row gave no reuse/);
  const restores = fake.actions('restore').length;
  assert.is(await r.tier.beforeRun(situation(u, chain(2), chain(1))), null);
  assert.is(fake.actions('restore').length, restores, 'no restore tried any more');
  assert.is(await count(r.metrics.verifications, { result: 'not_reused' }), 2);
  const restarted = await r.tier.beforeRun(situation(up(0, fake.url, 2), chain(2), chain(1)));
  assert.ok(restarted !== null, 'the server restarted (a new generation): restores are tried again');
  assert.is(fake.actions('restore').length, restores + 1);
  await r.tier.close();
});

test('a verified restore resets the count', async () => {
  const r = rig([{ url: fake.url, slotSaveDir: dir }], { unverifiedRestoreLimit: 2 });
  const u = up(0, fake.url);
  await r.tier.beforeRun(situation(u, chain(1), chain(2)));
  for (const cacheN of [0, 1000, 0]) r.tier.verify((await r.tier.beforeRun(situation(u, chain(2), chain(1))))!, cacheN);
  assert.is(await count(r.metrics.restoresDisabled), 0);
  assert.ok(await r.tier.beforeRun(situation(u, chain(2), chain(1))) !== null);
  await r.tier.close();
});

// ---- blind ----

test('without slotSaveDir: a ring of kv.ringSize names per model, the least recently used reused', async () => {
  fake.options.dir = null;
  const r = rig([{ url: fake.url }], { ringSize: 2 });
  const u = up(0, fake.url);
  for (const seed of [1, 2, 3]) {
    r.clock.now += 1000;
    await r.tier.beforeRun(situation(u, chain(seed), chain(seed + 100)));
  }
  const lineages = fake.actions('save').map((q) => parseEntryFileName(String(q.body.filename))?.lineage);
  assert.equal(lineages, ['r0', 'r1', 'r0']);
  assert.ok(fake.actions('save').every((q) => parseEntryFileName(String(q.body.filename))?.server === serverHash(fake.url)));
  assert.is(await r.tier.beforeRun(situation(u, null, chain(1))), null, 'the first conversation\'s name went to the third');
  const restored = await r.tier.beforeRun(situation(u, null, chain(2)));
  assert.is(parseEntryFileName(restored?.file ?? '')?.lineage, 'r1');
  assert.equal(readdirSync(dir), [], 'blind: nothing written locally, no index');
  await r.tier.close();
});

test('blind: saves in flight at once take different ring names, and each is restored later', async () => {
  fake.options.dir = null;
  const r = rig([{ url: fake.url }]);
  const u = up(0, fake.url);
  // Two slots overwritten at the same moment: both saves are in flight before either is indexed.
  await Promise.all([1, 2].map((seed, slot) => r.tier.beforeRun({ ...situation(u, chain(seed), chain(seed + 100)), slot })));
  const names = fake.actions('save').map((q) => String(q.body.filename));
  assert.is(names.length, 2, 'both conversations saved');
  assert.is(new Set(names).size, 2, names.join(' '));
  for (const seed of [1, 2]) assert.ok(await r.tier.beforeRun(situation(u, null, chain(seed))) !== null, `conversation ${seed} restored`);
  await r.tier.close();
});

// ---- integrity ----

test('a file whose content changed after its save is never restored: deleted and counted, the request goes on', async () => {
  const r = rig([{ url: fake.url, slotSaveDir: dir }]);
  const u = up(0, fake.url);
  await r.tier.beforeRun(situation(u, chain(1), chain(2)));
  await r.tier.close(); // the content hash is computed in the background after the save
  const [file] = await indexOf(dir, fake.url);
  const bytes = readFileSync(join(dir, file!));
  bytes.fill(0x1b, Math.floor(bytes.length * 0.7), Math.floor(bytes.length * 0.7) + 64);
  writeFileSync(join(dir, file!), bytes);
  assert.is(await r.tier.beforeRun(situation(u, null, chain(1))), null, 'not restored');
  assert.is(fake.actions('restore').length, 0, 'llama-server was never asked');
  assert.not.ok(existsSync(join(dir, file!)), 'deleted');
  assert.is(await count(r.metrics.damaged, { check: 'hash' }), 1);
  assert.match(r.lines.join('\n'), /is damaged \(its content .* does not hash to what its save wrote/);
  await r.tier.close();
  assert.equal(await indexOf(dir, fake.url), [], 'and forgotten');
});

test('at load: a file of another size than its save wrote, and entries of an index without content hashes, are deleted', async () => {
  const first = rig([{ url: fake.url, slotSaveDir: dir }]);
  const u = up(0, fake.url);
  await first.tier.beforeRun(situation(u, chain(1), chain(9)));
  first.clock.now += 1000;
  await first.tier.beforeRun(situation(u, chain(2), chain(9)));
  await first.tier.close();
  const files = await indexOf(dir, fake.url); // least recently used first: chain(1)'s
  assert.is(files.length, 2);
  truncateSync(join(dir, files[0]!), 4000);
  const second = rig([{ url: fake.url, slotSaveDir: dir }], {}, first.clock.now + 1000);
  assert.is(await second.tier.beforeRun(situation(u, null, chain(1))), null, 'the partial copy is not restored');
  assert.ok((await second.tier.beforeRun(situation(u, null, chain(2)))) !== null, 'the intact one is');
  assert.is(await count(second.metrics.damaged, { check: 'size' }), 1);
  assert.not.ok(existsSync(join(dir, files[0]!)));
  await second.tier.close();
  // The same index as an older gateway wrote it: no hashes.
  const disk = new DiskStore(dir);
  const old = SavedIndex.decode((await disk.readIndex(serverHash(fake.url)))!, 100);
  for (const e of old.entries()) delete e.sha256;
  await disk.writeIndex(serverHash(fake.url), old.encode());
  const third = rig([{ url: fake.url, slotSaveDir: dir }], {}, first.clock.now + 2000);
  assert.is(await third.tier.beforeRun(situation(u, null, chain(2))), null, 'an unhashed entry is never restored');
  assert.equal(readdirSync(dir).filter((n) => parseEntryFileName(n) !== null), [], 'its file is deleted');
  assert.match(third.lines.join('\n'), /1 saved entries without a content hash/);
  await third.tier.close();
});

test('blind: a restore that reads other than the save wrote erases the slot, and the slot is said to hold nothing', async () => {
  fake.options.dir = null;
  const r = rig([{ url: fake.url }]);
  const u = up(0, fake.url);
  await r.tier.beforeRun(situation(u, chain(1), chain(2)));
  // Another writer replaced the file with one of a different shape: n_restored is not n_saved.
  fake.options.bytesPerToken = 20;
  const restored = await r.tier.beforeRun(situation(u, null, chain(1)));
  assert.ok(restored !== null && restored.erased === true, 'erased');
  assert.is(restored!.tokens, 0);
  assert.is(restored!.chain.length, 0, 'the router believes the slot empty');
  assert.is(restored!.expectedTokens, 0);
  assert.equal(fake.actions('erase').map((q) => q.path), ['/slots/0']);
  assert.is(await count(r.metrics.damaged, { check: 'size' }), 1);
  r.tier.verify(restored!, 0);
  assert.is(await count(r.metrics.verifications), 0, 'nothing to verify');
  assert.is(await r.tier.beforeRun(situation(u, null, chain(1))), null, 'forgotten');
  await r.tier.close();
});

// ---- finding the directory ----

const starting = (id: number, url: string) => ({ ...up(id, url), models: ['m'] });

test('not told its directory: a probe save into the emptiest idle slot finds it, and the tier works indexed there', async () => {
  const other = mkdtempSync(join(tmpdir(), 'slotkeeper-kv-other-'));
  try {
    fake.options.slots = [{ id: 0, is_processing: false, n_prompt_tokens: 900 }, { id: 1, is_processing: true }, { id: 2, is_processing: false, n_prompt_tokens: 12 }];
    const r = rig([{ url: fake.url }], {}, Date.now(), [other, dir]);
    await r.tier.start([starting(0, fake.url)]);
    const [probe] = fake.actions('save');
    assert.ok(probe !== undefined && /^slotkeeper-probe-/.test(String(probe.body.filename)), 'a probe save');
    assert.is(probe!.path, '/slots/2', 'the idle slot holding least');
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('slotkeeper-probe-')), [], 'the probe file is deleted');
    assert.equal(r.lines.filter((l) => l.includes('disk tier')), [`kv: upstream 0 (${fake.url}): disk tier indexed in ${dir} (found: the server's --slot-save-path, proved by a probe save): garbage collection, and restores after a gateway restart`]);
    await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(2)));
    const saved = String(fake.actions('save').at(-1)!.body.filename);
    assert.is(parseEntryFileName(saved)?.lineage.length, 16, `a chain-hash name, not a ring's: ${saved}`);
    await r.tier.close();
    assert.equal(await indexOf(dir, fake.url), [saved], 'an index on disk');
    assert.is(fake.actions('save', { probes: true }).length, 1, 'one capability probe');
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('the probe save appears in none of the host\'s directories: blind, and the line says why and what to do', async () => {
  const other = mkdtempSync(join(tmpdir(), 'slotkeeper-kv-other-'));
  try {
    const r = rig([{ url: fake.url }], {}, Date.now(), [other]);
    await r.tier.start([starting(0, fake.url)]);
    const line = r.lines.find((l) => l.includes('disk tier')) ?? '';
    assert.match(line, /disk tier blind \(not told its directory, and its probe save slotkeeper-probe-[0-9a-f]{16}\.bin appeared in none of the 1 --slot-save-path directories/);
    assert.ok(line.includes(`--upstream ${fake.url}=DIR or upstreams[].slotSaveDir`), line);
    await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(2)));
    assert.is(parseEntryFileName(String(fake.actions('save').at(-1)!.body.filename))?.lineage, 'r0');
    await r.tier.close();
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('start: one line per upstream, told, off, or blind without a probe when no process on this host has --slot-save-path', async () => {
  fake2.options.enabled = false;
  const fake3 = await startFakeSlotServer({ dir: null });
  try {
    const r = rig([{ url: fake.url, slotSaveDir: dir }, { url: fake2.url }, { url: fake3.url }]);
    await r.tier.start([starting(0, fake.url), starting(1, fake2.url), starting(2, fake3.url)]);
    const lines = r.lines.filter((l) => l.includes('disk tier'));
    assert.is(lines.length, 3, lines.join('\n'));
    assert.ok(lines.includes(`kv: upstream 0 (${fake.url}): disk tier indexed in ${dir} (upstreams[].slotSaveDir): garbage collection, and restores after a gateway restart`), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`kv: upstream 1 (${fake2.url}): disk tier off: the server has no slot save/restore`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`kv: upstream 2 (${fake3.url}): disk tier blind (not told its directory, and no process on this host runs with --slot-save-path`)), lines.join('\n'));
    assert.is(fake3.actions('save').length, 0, 'no probe save');
    await r.tier.close();
  } finally {
    await fake3.close();
  }
});

// ---- a shared directory ----

test('two upstreams sharing a directory keep an index each, and a restart restores from both', async () => {
  const upstreams = [{ url: fake.url, slotSaveDir: dir }, { url: fake2.url, slotSaveDir: dir }];
  const first = rig(upstreams);
  await first.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(9)));
  await first.tier.beforeRun(situation(up(1, fake2.url), chain(2), chain(9)));
  await first.tier.close();
  const files = readdirSync(dir);
  assert.ok(files.includes(indexFileName(serverHash(fake.url))) && files.includes(indexFileName(serverHash(fake2.url))), files.join(' '));
  const [a] = await indexOf(dir, fake.url);
  const [b] = await indexOf(dir, fake2.url);
  assert.is(parseEntryFileName(a!)?.server, serverHash(fake.url));
  assert.is(parseEntryFileName(b!)?.server, serverHash(fake2.url));
  // A restart: the first server's store loads and collects before the second one's loads.
  const second = rig(upstreams, {}, first.clock.now + 2 * 3_600_000);
  assert.is((await second.tier.beforeRun(situation(up(0, fake.url), null, chain(1))))?.file, a);
  assert.is((await second.tier.beforeRun(situation(up(1, fake2.url), null, chain(2))))?.file, b, 'not dropped as an orphan of the other server');
  assert.ok(existsSync(join(dir, a!)) && existsSync(join(dir, b!)));
  await second.tier.close();
});

test('GC counts every file in the directory once: the least recently used goes, whichever upstream saved it', async () => {
  const bytes = 1000 * 10;
  const r = rig([{ url: fake.url, slotSaveDir: dir }, { url: fake2.url, slotSaveDir: dir }], { maxBytes: 2.5 * bytes });
  await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(9)));
  r.clock.now += 1000;
  await r.tier.beforeRun(situation(up(1, fake2.url), chain(2), chain(9)));
  await r.tier.close();
  assert.is(readdirSync(dir).filter((n) => parseEntryFileName(n) !== null).length, 2, 'each server alone is within budget, both too');
  r.clock.now += 1000;
  await r.tier.beforeRun(situation(up(1, fake2.url), chain(3), chain(9)));
  await r.tier.close();
  const left = readdirSync(dir).filter((n) => parseEntryFileName(n) !== null);
  assert.is(left.length, 2, left.join(' '));
  assert.ok(left.every((n) => parseEntryFileName(n)?.server === serverHash(fake2.url)), 'the first upstream\'s older file went');
  assert.equal(await indexOf(dir, fake.url), [], 'and its index says so');
  assert.is(await count(r.metrics.gcDeletions, { reason: 'bytes' }), 1);
  assert.is(r.tier.diskBytes(), 2 * bytes);
});

test('another gateway\'s files in the directory: counted, never deleted for bytes, never taken for orphans', async () => {
  const other = rig([{ url: fake2.url, slotSaveDir: dir }]);
  await other.tier.beforeRun(situation(up(0, fake2.url), chain(5), chain(9)));
  await other.tier.close();
  const [theirs] = await indexOf(dir, fake2.url);
  // An hour later (past the orphan grace period), with a budget of one file.
  const r = rig([{ url: fake.url, slotSaveDir: dir }], { maxBytes: 15_000 }, other.clock.now + 3_600_000);
  await r.tier.beforeRun(situation(up(0, fake.url), chain(1), chain(9)));
  await r.tier.close();
  assert.ok(existsSync(join(dir, theirs!)), 'their file stays');
  assert.equal(await indexOf(dir, fake2.url), [theirs], 'their index is untouched');
  const ours = await indexOf(dir, fake.url);
  assert.is(ours.length, 0, 'over budget with theirs counted: ours went');
  assert.is(await count(r.metrics.gcDeletions, { reason: 'bytes' }), 1);
  assert.is(await count(r.metrics.gcDeletions, { reason: 'orphan' }), 0);
});

test.run();
