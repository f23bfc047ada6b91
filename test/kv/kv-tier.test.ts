// The disk tier in front of REAL llama-servers: an eviction saves the slot and a later request
// restores it (timings.cache_n proves the reuse); restores work after slotkeeper restarts and
// after llama-server restarts; a server without --slot-save-path just works with the tier off;
// GC never touches foreign files; a save that fails leaves the request unharmed.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../bench/rig/server.js';
import { indexFileName, parseEntryFileName, serverHash } from '../../src/kv/file-name.js';
import { diskTierGateway, withOneSlotServer } from '../helpers/disk-tier.js';
import { complete, rigServer, words } from '../helpers/llama.js';
import { metric } from '../helpers/metrics.js';

/** Resolves once `check` holds, polling the event loop. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const ours = (dir: string) => readdirSync(dir).filter((n) => parseEntryFileName(n) !== null);

const A = words('alpha', 150);
const B = words('bravo', 150);

const test = suite('kv/kv-tier on llama-server');

test('an eviction saves the slot; a later request restores it and reuses it (cache_n)', () => withOneSlotServer(async (server, dir) => {
  const gateway = await diskTierGateway(server, { dir });
  try {
    const a1 = await complete(gateway, A);
    assert.ok(a1.timings.prompt_n > 600, `prompt of ${a1.timings.prompt_n} tokens`);
    await complete(gateway, B);
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'ok' }), 1, 'A was saved before B overwrote it');
    assert.is(ours(dir).length, 1);
    const a2 = await complete(gateway, `${A} and a follow-up`);
    assert.is(await metric(gateway, 'slotkeeper_kv_restores_total', { result: 'ok' }), 1);
    assert.ok(a2.timings.cache_n >= a1.timings.prompt_n - 8, `reused ${a2.timings.cache_n} of ${a1.timings.prompt_n} after the restore`);
    assert.is(a1.restored, null, 'nothing was restored for the first request');
    assert.ok(a2.restored !== null && a2.restored >= a1.timings.prompt_n - 8 && a2.timings.cache_n <= a2.restored, `x-slotkeeper-restored: ${a2.restored}`);
    assert.is(await metric(gateway, 'slotkeeper_kv_restore_verifications_total', { result: 'reused' }), 1);
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'ok' }), 2, 'B was saved before the restore overwrote it');
    assert.ok(await metric(gateway, 'slotkeeper_kv_disk_bytes') > 0);
  } finally {
    await gateway.close();
  }
}));

test('a wrong belief that the RAM cache holds the prefix does not stop the restore', () => withOneSlotServer(async (server, dir) => {
  // The server runs --cache-ram 0, but slotkeeper is not told so (80k tokens, its default).
  const gateway = await diskTierGateway(server, { dir, ramCacheTokens: 80_000 });
  try {
    const a1 = await complete(gateway, A);
    await complete(gateway, B);
    const a2 = await complete(gateway, `${A} and a follow-up`);
    assert.is(await metric(gateway, 'slotkeeper_scheduler_decisions_total', { kind: 'ram_hit' }), 1, 'the scheduler believed A was in RAM');
    assert.ok(a2.restored !== null, 'restored from disk all the same');
    assert.ok(a2.timings.cache_n >= a1.timings.prompt_n - 8, `reused ${a2.timings.cache_n} of ${a1.timings.prompt_n}`);
  } finally {
    await gateway.close();
  }
}));

test('restores work after slotkeeper restarts (the index is on disk) and after llama-server restarts', () => withOneSlotServer(async (first, dir) => {
  let gateway = await diskTierGateway(first, { dir });
  const a1 = await complete(gateway, A);
  // Shutdown saves the hot slot.
  await gateway.close();
  assert.is(ours(dir).length, 1);
  assert.ok(readdirSync(dir).includes(indexFileName(serverHash(first.url))));
  let server: LlamaServer | undefined;
  try {
    gateway = await diskTierGateway(first, { dir });
    await complete(gateway, B);
    const a2 = await complete(gateway, `${A} again`);
    assert.ok(a2.timings.cache_n >= a1.timings.prompt_n - 8, `after a slotkeeper restart: reused ${a2.timings.cache_n}`);
    // llama-server restarts on the same port with the same directory: its slots are empty.
    const generation = gateway.fleet.upstreams[0]!.generation;
    await first.stop();
    server = await rigServer({ slots: 1, cacheRamMiB: 0, slotSavePath: dir, extraArgs: ['--port', String(first.port)] });
    await until(() => gateway.fleet.upstreams[0]!.generation > generation && gateway.fleet.upstreams[0]!.state === 'ready', 'the gateway to see the restart');
    const a3 = await complete(gateway, `${A} once more`);
    assert.ok(a3.timings.cache_n >= a1.timings.prompt_n - 8, `after a llama-server restart: reused ${a3.timings.cache_n}`);
  } finally {
    await gateway.close();
    await server?.stop();
  }
}));

test('not told the directory: the gateway finds it on this host, says so, and its index outlives a gateway restart', () => withOneSlotServer(async (server, dir) => {
  const lines: string[] = [];
  let gateway = await diskTierGateway(server, { dir: null, log: (line) => lines.push(line) });
  try {
    const a1 = await complete(gateway, A);
    await complete(gateway, B);
    const line = lines.find((l) => l.includes('disk tier')) ?? '';
    assert.ok(line.includes(`disk tier indexed in ${dir} (found: the server's --slot-save-path, proved by a probe save)`), lines.join('\n'));
    assert.equal(readdirSync(dir).filter((n) => n.startsWith('slotkeeper-probe-')), [], 'the probe file is gone');
    assert.is(ours(dir).length, 1, 'A saved under its chain-hash name');
    assert.is(parseEntryFileName(ours(dir)[0]!)?.lineage.length, 16);
    await gateway.close();
    gateway = await diskTierGateway(server, { dir: null });
    const a2 = await complete(gateway, `${A} again`);
    assert.ok(a2.restored !== null && a2.timings.cache_n >= a1.timings.prompt_n - 8, `after a gateway restart: reused ${a2.timings.cache_n} of ${a1.timings.prompt_n}`);
  } finally {
    await gateway.close();
  }
}));

test('a server without --slot-save-path works with the tier off', () => withOneSlotServer(async (server) => {
  const lines: string[] = [];
  const gateway = await diskTierGateway(server, { dir: null, log: (line) => lines.push(line) });
  try {
    await complete(gateway, A);
    await complete(gateway, B);
    const a2 = await complete(gateway, A);
    assert.ok(a2.timings.prompt_n > 600, 'nothing restored');
    assert.is(await metric(gateway, 'slotkeeper_kv_saves_total'), 0);
    assert.is(await metric(gateway, 'slotkeeper_kv_restores_total'), 0);
    assert.ok(lines.some((l) => l.includes('has no slot save/restore')), lines.join('\n'));
  } finally {
    await gateway.close();
  }
}, { saveDir: false }));

test('GC deletes only our files, and a failing save leaves the request unharmed', () => withOneSlotServer(async (server, dir) => {
  writeFileSync(join(dir, 'someone-elses.bin'), 'x'.repeat(10_000));
  writeFileSync(join(dir, 'slotkeeper-kv-notes.txt'), 'not ours either');
  // A byte budget of 1: every file of ours goes as soon as it is written.
  const gateway = await diskTierGateway(server, { dir, kv: { maxBytes: 1 } });
  try {
    await complete(gateway, A);
    await complete(gateway, B);
    await until(() => ours(dir).length === 0, 'GC');
    assert.ok(await metric(gateway, 'slotkeeper_kv_gc_deletions_total') >= 1);
    assert.ok(readdirSync(dir).includes('someone-elses.bin'));
    assert.ok(readdirSync(dir).includes('slotkeeper-kv-notes.txt'));
    // The directory goes away under llama-server (tests run as root, so a read-only mode would not
    // stop the write): its save fails, and the request that caused it still succeeds.
    rmSync(dir, { recursive: true, force: true });
    const a2 = await complete(gateway, A);
    assert.ok(a2.timings.prompt_n > 600);
    assert.ok(await metric(gateway, 'slotkeeper_kv_saves_total', { result: 'failed' }) >= 1);
  } finally {
    await gateway.close();
  }
}));

test.run();
