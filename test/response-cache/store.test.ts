import { Buffer } from 'node:buffer';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoredResponse } from '../../src/response-cache/entry-file.js';
import { type EvictionReason, ResponseStore, type StoreOptions } from '../../src/response-cache/store.js';

const response = (text: string, type = 'application/json'): StoredResponse =>
  ({ status: 200, headers: { 'content-type': type }, body: Buffer.from(text) });
const meta = { route: '/v1/chat/completions', model: 'm', ttlSeconds: 60, promptTokens: 12, prefillSeconds: 0.5 };
const exact = (key: string) => [{ key, tier: 'exact' as const }];

interface Ctx { dir: string; clock: { ms: number }; evicted: [EvictionReason, string][] }
const ctx: Ctx = { dir: '', clock: { ms: 1_000_000 }, evicted: [] };

const open = (options: Partial<StoreOptions> = {}) => ResponseStore.open({
  dir: ctx.dir, maxBytes: 1 << 20, indexFlushMs: 10, now: () => ctx.clock.ms,
  onEvict: (reason, m) => ctx.evicted.push([reason, m.key]), ...options,
});
const blobs = () => readdirSync(join(ctx.dir, 'blobs'));

const test = suite('response-cache/store');
test.before.each(() => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'slotkeeper-store-'));
  ctx.clock.ms = 1_000_000;
  ctx.evicted = [];
});
test.after.each(() => rmSync(ctx.dir, { recursive: true, force: true }));

test('put then get returns the exact bytes, headers and metadata, and counts the hit', async () => {
  const store = await open();
  const body = Buffer.from([0, 255, 10, 13, 0xe2, 0x82]); // not even UTF-8
  assert.ok(await store.put(exact('k'), { status: 200, headers: { 'content-type': 'text/event-stream' }, body }, meta));
  ctx.clock.ms += 5;
  const hit = await store.get('k');
  assert.ok(hit);
  assert.ok(hit.response.body.equals(body));
  assert.equal(hit.response.headers, { 'content-type': 'text/event-stream' });
  assert.is(hit.meta.hits, 1);
  assert.is(hit.meta.lastHitMs, ctx.clock.ms);
  assert.is(hit.meta.promptTokens, 12);
  assert.is(hit.meta.prefillSeconds, 0.5);
  assert.is(await store.get('missing'), null);
  await store.close();
});

test('one answer under two tiers is one file, counted once', async () => {
  const store = await open();
  await store.put([{ key: 'a', tier: 'exact' }, { key: 'b', tier: 'normalized' }], response('{"x":1}'), meta);
  assert.is(blobs().length, 1);
  assert.is(store.size, 2);
  assert.is(store.bytes, store.list()[0]!.bytes);
  await store.remove('a');
  assert.is(blobs().length, 1, 'b still points at it');
  await store.remove('b');
  assert.is(blobs().length, 0);
  assert.is(store.bytes, 0);
  await store.close();
});

test('TTL: an expired entry is not served and is dropped', async () => {
  const store = await open();
  await store.put(exact('k'), response('{}'), { ...meta, ttlSeconds: 10 });
  ctx.clock.ms += 9_999;
  assert.ok(await store.get('k'));
  ctx.clock.ms += 1;
  assert.is(await store.get('k'), null);
  assert.equal(ctx.evicted, [['ttl', 'k']]);
  await store.close();
  assert.is(blobs().length, 0);
});

test('budget: least recently used keys are evicted, a recent hit protects an entry', async () => {
  const size = (await (async () => {
    const probe = await open();
    await probe.put(exact('probe'), response('x'.repeat(1000)), meta);
    const bytes = probe.bytes;
    await probe.clear();
    await probe.close();
    return bytes;
  })());
  ctx.evicted = [];
  const store = await open({ maxBytes: size * 3 });
  for (const k of ['a', 'b', 'c']) await store.put(exact(k), response(k.repeat(1000)), meta);
  assert.ok(await store.get('a')); // a is now the most recent
  await store.put(exact('d'), response('d'.repeat(1000)), meta);
  assert.equal(store.list().map((m) => m.key), ['c', 'a', 'd']);
  assert.equal(ctx.evicted, [['budget', 'b']]);
  assert.ok(store.bytes <= size * 3);
  assert.is(blobs().length, 3);
  assert.not.ok(await store.put(exact('huge'), response('h'.repeat(size * 4)), meta), 'larger than the whole budget');
  await store.close();
});

test('a corrupt entry is detected, removed and never served', async () => {
  const store = await open();
  await store.put([{ key: 'k', tier: 'exact' }, { key: 'n', tier: 'normalized' }], response('{"answer":42}'), meta);
  const [name] = blobs();
  const path = join(ctx.dir, 'blobs', name!);
  const bytes = readFileSync(path);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 0x01, bytes.length - 3); // one flipped bit in the body
  writeFileSync(path, bytes);
  assert.is(await store.get('k'), null);
  assert.equal(ctx.evicted.sort(), [['corrupt', 'k'], ['corrupt', 'n']]);
  assert.is(await store.get('n'), null);
  await store.close();
  assert.is(blobs().length, 0);
});

test('a truncated entry is corrupt too', async () => {
  const store = await open();
  await store.put(exact('k'), response('{"answer":"a longer answer"}'), meta);
  const path = join(ctx.dir, 'blobs', blobs()[0]!);
  writeFileSync(path, readFileSync(path).subarray(0, 10));
  assert.is(await store.get('k'), null);
  assert.equal(ctx.evicted, [['corrupt', 'k']]);
  await store.close();
});

test('survives a restart: entries, hit counts and LRU order come back', async () => {
  const first = await open();
  await first.put(exact('a'), response('{"a":1}'), meta);
  await first.put(exact('b'), response('{"b":2}'), meta);
  ctx.clock.ms += 1;
  await first.get('a');
  await first.close();
  const second = await open();
  assert.equal(second.list().map((m) => [m.key, m.hits]), [['b', 0], ['a', 1]]);
  const hit = await second.get('b');
  assert.is(hit?.response.body.toString(), '{"b":2}');
  await second.close();
});

test('reopening reconciles: orphan files and temp files go, keys without a file are forgotten', async () => {
  const first = await open();
  await first.put(exact('a'), response('{"a":1}'), meta);
  await first.put(exact('b'), response('{"b":2}'), meta);
  await first.close();
  const bBlob = first.list().find((m) => m.key === 'b')!.blob;
  rmSync(join(ctx.dir, 'blobs', bBlob));
  writeFileSync(join(ctx.dir, 'blobs', 'f'.repeat(64)), 'orphan');
  writeFileSync(join(ctx.dir, 'tmp', 'half.tmp'), 'half written');
  const second = await open();
  assert.equal(second.list().map((m) => m.key), ['a']);
  assert.equal(blobs(), [second.list()[0]!.blob]);
  assert.equal(readdirSync(join(ctx.dir, 'tmp')), []);
  await second.close();
});

test('an unreadable index loses the keys, never correctness', async () => {
  const first = await open();
  await first.put(exact('a'), response('{"a":1}'), meta);
  await first.close();
  writeFileSync(join(ctx.dir, 'index.msgpack'), 'not msgpack at all \xff\xfe');
  const second = await open();
  assert.is(second.size, 0);
  assert.equal(blobs(), []);
  await second.close();
});

test('rewriting a key with the same bytes keeps its file', async () => {
  const store = await open();
  await store.put(exact('k'), response('{"same":1}'), meta);
  await store.put(exact('k'), response('{"same":1}'), meta);
  assert.is(blobs().length, 1);
  assert.is((await store.get('k'))?.response.body.toString(), '{"same":1}');
  await store.close();
});

test('a get while the put is still writing waits for the file instead of forgetting the key', async () => {
  const store = await open();
  const putting = store.put(exact('k'), response('{"soon":1}'), meta);
  const hit = await store.get('k');
  await putting;
  assert.is(hit?.response.body.toString(), '{"soon":1}');
  await store.close();
});

test('the memory tier serves recent answers without reading their file, and forgets evicted ones', async () => {
  const store = await open({ memoryBytes: 100 });
  await store.put(exact('k'), response('{"warm":1}'), meta);
  const [name] = blobs();
  writeFileSync(join(ctx.dir, 'blobs', name!), 'clobbered on disk');
  assert.is((await store.get('k'))?.response.body.toString(), '{"warm":1}', 'checked when written, served from memory');
  await store.put(exact('big'), response('x'.repeat(200)), meta); // larger than the memory tier: disk only
  assert.is((await store.get('big'))?.response.body.length, 200);
  await store.remove('k');
  assert.is(await store.get('k'), null);
  await store.close();
  const cold = await open({ memoryBytes: 100 });
  assert.is((await cold.get('big'))?.response.body.length, 200);
  await cold.close();
});

test('answers are private to their owner: 0600 files in 0700 directories', async () => {
  const store = await open();
  assert.ok(await store.put(exact('k'), response('a whole conversation'), meta));
  await store.close();
  for (const dir of [ctx.dir, join(ctx.dir, 'blobs'), join(ctx.dir, 'tmp')]) assert.is(statSync(dir).mode & 0o777, 0o700, dir);
  for (const name of blobs()) assert.is(statSync(join(ctx.dir, 'blobs', name)).mode & 0o777, 0o600, name);
});

test('a blobs directory that is a symbolic link is refused, and its target left alone', async () => {
  const target = mkdtempSync(join(tmpdir(), 'slotkeeper-victim-'));
  try {
    writeFileSync(join(target, 'precious.txt'), 'keep me');
    symlinkSync(target, join(ctx.dir, 'blobs'));
    let refused: unknown;
    await open().then((store) => store.close(), (err: unknown) => (refused = err));
    assert.match(String(refused), /symbolic link/);
    assert.equal(readdirSync(target), ['precious.txt']);
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
});

test.run();
