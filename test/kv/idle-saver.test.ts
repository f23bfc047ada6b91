// Idle saves: the saver's effects against a real LeaseQueue with a hand-driven timer (a save
// holds the slot's lease, a leased slot is skipped, content is saved once per idle period), then
// the whole gateway in front of a REAL llama-server: after idle a file and an index entry appear,
// and when another conversation overwrites the slot, the first one's next turn is restored
// (timings.cache_n proves it) with no save before the overwrite.
import { readdirSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DiskStore } from '../../src/kv/disk-store.js';
import { parseEntryFileName, serverHash } from '../../src/kv/file-name.js';
import { IdleSaver } from '../../src/kv/idle-saver.js';
import type { HotSlot } from '../../src/kv/kv-tier.js';
import { SavedIndex } from '../../src/kv/saved-index.js';
import { LeaseQueue } from '../../src/leases/lease-queue.js';
import { diskTierGateway, withOneSlotServer } from '../helpers/disk-tier.js';
import { complete, words } from '../helpers/llama.js';
import { exitIfStillRunningAfter } from '../helpers/watchdog.js';
import { metric } from '../helpers/metrics.js';

// The real-server test awaits a log line: without idle saves it would wait forever.
exitIfStillRunningAfter(180_000, import.meta.url);

// ---- helpers ----

const T = 60_000;

function hot(key: string, idleMs: number, lastUsedMs = 1): HotSlot & { key: string } {
  const [server, slot] = key.split('/').map(Number) as [number, number];
  return {
    key, upstream: { id: server, url: `http://u${server}`, generation: 1 }, slot, model: 'm',
    content: { chain: new Float64Array([1]), tokens: 1000, lastUsedMs }, idleMs, promptTokensPerMs: 1,
  };
}

/** An IdleSaver over a real LeaseQueue whose timer the test fires by hand. */
function rig(slots: () => (HotSlot & { key: string })[], save: (slot: HotSlot) => Promise<boolean>) {
  const leases = new LeaseQueue({ maxWaiting: 10, timeoutMs: Infinity, order: 'fair', agingMsPerSecond: 0 });
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const lines: string[] = [];
  const saver = new IdleSaver({
    thresholdMs: T, candidates: slots, tryLease: (key) => leases.tryAcquire(key), save, log: (l) => lines.push(l),
    setTimer: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return { cancel: () => { t.cancelled = true; } };
    },
  });
  return { leases, timers, lines, saver };
}

// ---- the saver's effects ----

const unit = suite('kv/idle-saver');

unit('a due slot is saved while its lease is held; a request waits for the save, then gets the slot', async () => {
  let release!: (saved: boolean) => void;
  const saving: string[] = [];
  const r = rig(() => [hot('0/0', T)], (slot) => {
    saving.push(`${slot.upstream.id}/${slot.slot}`);
    return new Promise((resolve) => { release = resolve; });
  });
  r.saver.start();
  assert.is(r.timers[0]!.ms, T / 4);
  const look = r.saver.check();
  await Promise.resolve();
  assert.equal(saving, ['0/0']);
  assert.ok(r.leases.isBusy('0/0'), 'the slot is leased during the save');
  let granted = false;
  const request = r.leases.acquire({ keys: ['0/0'] }).then((lease) => { granted = true; return lease; });
  await Promise.resolve();
  assert.not.ok(granted, 'a request does not run beside the save');
  release(true);
  await look;
  (await request).release();
  assert.ok(granted);
  assert.match(r.lines[0]!, /slot 0 of upstream 0 idle 60 s: saved its 1000 tokens/);
  assert.is(r.timers.at(-1)!.ms, T / 4, 'looks go on');
  await r.saver.close();
  assert.ok(r.timers.at(-1)!.cancelled, 'close stops the timer');
});

unit('a slot a request holds is skipped, not waited for, and not saved later while that content stays', async () => {
  const saved: string[] = [];
  let slots = [hot('0/0', T), hot('0/1', T)];
  const r = rig(() => slots, async (slot) => { saved.push(`${slot.upstream.id}/${slot.slot}`); return true; });
  const held = r.leases.tryAcquire('0/1')!;
  await r.saver.check();
  assert.equal(saved, ['0/0']);
  held.release();
  await r.saver.check();
  assert.equal(saved, ['0/0'], 'each content once: 0/0 was saved, 0/1 is in a request that brings new content');
  slots = [hot('0/0', T, 1), hot('0/1', T, 2)];
  await r.saver.check();
  assert.equal(saved, ['0/0', '0/1'], 'the request ended: a new idle period');
  assert.not.ok(r.leases.isBusy('0/0') || r.leases.isBusy('0/1'), 'every lease released');
});

unit('content that changed between the plan and the lease is not saved', async () => {
  const saved: number[] = [];
  let calls = 0;
  // The first read plans 0/0 and 0/1; by the time 0/1's turn comes it holds something newer.
  const r = rig(() => (calls++ === 0 ? [hot('0/0', T), hot('0/1', T)] : [hot('0/0', T), hot('0/1', 5, 9)]), async (slot) => {
    saved.push(slot.slot);
    return true;
  });
  await r.saver.check();
  assert.equal(saved, [0]);
});

unit('a save that throws is logged, its lease released, and looks go on', async () => {
  const r = rig(() => [hot('0/0', T)], () => Promise.reject(new Error('disk on fire')));
  await r.saver.check();
  assert.match(r.lines.join('\n'), /idle save of slot 0 of upstream 0 failed: disk on fire/);
  assert.not.ok(r.leases.isBusy('0/0'));
  assert.is(r.timers.length, 1);
  assert.throws(() => new IdleSaver({ thresholdMs: 0, candidates: () => [], tryLease: () => null, save: async () => false, log: () => {} }), /thresholdMs/);
});

unit.run();

// ---- on a real llama-server ----




const llama = suite('kv/idle-saver on llama-server');

llama('an idle slot is saved once; after another conversation overwrites it, the first one is restored without a save before the overwrite', () => withOneSlotServer(async (server, dir) => {
  // One slot and no RAM cache: reuse after another conversation can only come from a restore.
  let idleSaved!: () => void;
  const firstIdleSave = new Promise<void>((resolve) => { idleSaved = resolve; });
  const gateway = await diskTierGateway(server, { dir, kv: { saveIdleSeconds: 1 }, log: (line) => { if (/idle .* saved its/.test(line)) idleSaved(); } });
  try {
    const A = words('alpha', 150);
    const a1 = await complete(gateway, A);
    await firstIdleSave;
    const files = readdirSync(dir).filter((n) => parseEntryFileName(n) !== null);
    assert.is(files.length, 1, 'a file after idle');
    const bytes = await new DiskStore(dir).readIndex(serverHash(server.url));
    assert.ok(bytes !== null, 'the index is on disk');
    const entries = SavedIndex.decode(bytes!, 10).entries();
    assert.equal(entries.map((e) => e.file), files);
    assert.ok(entries[0]!.tokens >= a1.timings.prompt_n, `the entry holds ${entries[0]!.tokens} tokens`);
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'ok' }), 1);

    await complete(gateway, words('bravo', 150));
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'ok' }), 1, 'B overwrote A with no save first: A was on disk already');
    const a2 = await complete(gateway, `${A} and a follow-up`);
    assert.is(await metric(gateway, 'slotkeeper_kv_restores_total', { result: 'ok' }), 1);
    assert.ok(a2.timings.cache_n >= a1.timings.prompt_n - 8, `reused ${a2.timings.cache_n} of ${a1.timings.prompt_n} after the restore`);
  } finally {
    await gateway.close();
  }
}));

llama.run();
