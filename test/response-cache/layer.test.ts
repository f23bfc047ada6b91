// The layer end to end over real HTTP: a cached front (test/helpers/cached-server.ts) before the
// fake llama-server, and before a tiny Anthropic-shaped upstream built here.
import { Buffer } from 'node:buffer';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type PartialConfig, type ResponseCacheConfig, responseCacheDefaults } from '../../src/config/config.js';
import { type CachedServer, startCachedServer } from '../helpers/cached-server.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from '../helpers/fake-upstream.js';

/** What a client got, with when its first and last bytes came (performance.now ms). */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  firstByteMs: number;
  endMs: number;
}

/**
 * POSTs with node:http so chunk timing is the socket's. `abortAfter` leaves after that many body
 * bytes, once `leaveWhen` (if given) resolved.
 */
function post(url: string, body: unknown, headers: Record<string, string> = {}, abortAfter?: number, leaveWhen?: Promise<void>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      let firstByteMs = 0;
      let received = 0;
      let leaving = false;
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs === 0) firstByteMs = performance.now();
        chunks.push(chunk);
        received += chunk.length;
        if (abortAfter !== undefined && received >= abortAfter && !leaving) {
          leaving = true;
          void (leaveWhen ?? Promise.resolve()).then(() => {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), firstByteMs, endMs: performance.now() });
          });
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), firstByteMs, endMs: performance.now() }));
      res.on('error', (err) => (abortAfter === undefined ? reject(err) : undefined));
    });
    req.on('error', (err) => (abortAfter === undefined ? reject(err) : undefined));
    req.end(text);
  });
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const chat = (content: string, extra: Record<string, unknown> = {}) =>
  ({ model: 'm', temperature: 0, messages: [{ role: 'user', content }], ...extra });

interface Rig { fake: FakeUpstream; front: CachedServer; dir: string; clock: { ms: number } }
let rig: Rig | undefined;

async function start(fakeOptions: FakeUpstreamOptions = {}, cache: PartialConfig['responseCache'] = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-layer-'));
  const clock = { ms: 1_000_000 };
  const fake = await startFakeUpstream(fakeOptions);
  const config: ResponseCacheConfig = responseCacheDefaults({ enabled: true, dir, ...cache });
  const front = await startCachedServer(fake.url, config, { now: () => clock.ms });
  rig = { fake, front, dir, clock };
  return rig;
}

/** Resolves once the answer is stored and its flight is gone, so the next request is a plain hit. */
const stored = (r: Rig | { front: CachedServer }, keys = 1) =>
  until(() => r.front.cache.entries!.size >= keys && r.front.cache.inFlight === 0, 'the answer to be stored');

async function coalescedCount(front: CachedServer): Promise<number> {
  return (await front.metrics.cacheCoalesced.get()).values[0]?.value ?? 0;
}

const completions = (r: Rig) => r.fake.requests.filter((q) => q.method === 'POST').length;

const test = suite('response-cache/layer');
test.after.each(async () => {
  if (rig === undefined) return;
  await rig.front.close();
  await rig.fake.close();
  rmSync(rig.dir, { recursive: true, force: true });
  rig = undefined;
});

test('JSON: a miss is stored, the repeat is byte-identical with its content type and x-cache: HIT', async () => {
  const r = await start();
  const first = await post(`${r.front.url}/v1/chat/completions`, chat('hello'));
  assert.is(first.status, 200);
  assert.is(first.headers['x-cache'], 'MISS');
  assert.is(first.headers['x-slotkeeper-upstream'], '0');
  await stored(r, 2);
  const second = await post(`${r.front.url}/v1/chat/completions`, chat('hello'));
  assert.is(second.headers['x-cache'], 'HIT');
  assert.ok(second.body.equals(first.body));
  assert.is(second.headers['content-type'], first.headers['content-type']);
  assert.is(completions(r), 1);
  const other = await post(`${r.front.url}/v1/chat/completions`, chat('hello again'));
  assert.is(other.headers['x-cache'], 'MISS');
  assert.is(completions(r), 2);
  const text = await r.front.metrics.registry.getSingleMetricAsString('slotkeeper_response_cache_hits_total');
  assert.match(text, /tier="exact"} 1/);
});

test('SSE: a stream that ended with [DONE] replays byte for byte', async () => {
  const r = await start({ answer: 12, tokenDelayMs: 1 });
  const first = await post(`${r.front.url}/v1/chat/completions`, chat('stream me', { stream: true }));
  assert.is(first.headers['x-cache'], 'MISS');
  assert.match(first.body.toString(), /data: \[DONE\]\n\n$/);
  await stored(r);
  const second = await post(`${r.front.url}/v1/chat/completions`, chat('stream me', { stream: true }));
  assert.is(second.headers['x-cache'], 'HIT');
  assert.is(second.headers['content-type'], 'text/event-stream');
  assert.ok(second.body.equals(first.body));
  assert.is(completions(r), 1);
});

test('normalized tier: a changed billing header line is a HIT-NORM', async () => {
  const r = await start();
  const body = (cch: string) => ({ ...chat('q'), system: `x-anthropic-billing-header: cc_version=1; cch=${cch};\nYou are helpful.` });
  const first = await post(`${r.front.url}/v1/chat/completions`, body('aaa'));
  await stored(r, 2);
  const second = await post(`${r.front.url}/v1/chat/completions`, body('bbb'));
  assert.is(second.headers['x-cache'], 'HIT-NORM');
  assert.ok(second.body.equals(first.body));
  const third = await post(`${r.front.url}/v1/chat/completions`, { ...body('ccc'), system: 'x-anthropic-billing-header: x\nYou are terse.' });
  assert.is(third.headers['x-cache'], 'MISS');
});

test('a sampling request (no temperature) is neither served nor stored by default', async () => {
  const r = await start();
  const body = { messages: [{ role: 'user', content: 'roll a die' }] };
  const a = await post(`${r.front.url}/v1/chat/completions`, body);
  const b = await post(`${r.front.url}/v1/chat/completions`, body);
  assert.is(a.headers['x-cache'], 'BYPASS');
  assert.is(b.headers['x-cache'], 'BYPASS');
  assert.is(completions(r), 2);
  assert.is(r.front.cache.entries!.size, 0);
});

test('serveSampling: true serves them', async () => {
  const r = await start({}, { serveSampling: true });
  const body = { messages: [{ role: 'user', content: 'roll a die' }] };
  await post(`${r.front.url}/v1/chat/completions`, body);
  await stored(r);
  assert.is((await post(`${r.front.url}/v1/chat/completions`, body)).headers['x-cache'], 'HIT');
});

test('x-slotkeeper-cache: only answers 504 cache_miss on a miss, bypass skips, refresh recomputes', async () => {
  const r = await start();
  const url = `${r.front.url}/v1/chat/completions`;
  const miss = await post(url, chat('o'), { 'x-slotkeeper-cache': 'only' });
  assert.is(miss.status, 504);
  assert.is(JSON.parse(miss.body.toString()).error.code, 'cache_miss');
  assert.is(completions(r), 0);
  const first = await post(url, chat('o'));
  await stored(r);
  assert.is((await post(url, chat('o'), { 'x-slotkeeper-cache': 'only' })).headers['x-cache'], 'HIT');
  assert.is((await post(url, chat('o'), { 'x-slotkeeper-cache': 'bypass' })).headers['x-cache'], 'BYPASS');
  assert.is(completions(r), 2);
  const refreshed = await post(url, chat('o'), { 'x-slotkeeper-cache': 'refresh' });
  assert.is(refreshed.headers['x-cache'], 'MISS');
  assert.is(completions(r), 3);
  await until(() => r.front.cache.entries!.list().some((m) => m.createdMs === r.clock.ms && m.hits === 0) && r.front.cache.inFlight === 0, 'the refreshed answer to be stored');
  const after = await post(url, chat('o'));
  assert.is(after.headers['x-cache'], 'HIT');
  assert.ok(after.body.equals(refreshed.body));
  assert.not.ok(after.body.equals(first.body), 'the fake answers with a new id each time');
  const bad = await post(url, chat('o'), { 'x-slotkeeper-cache': 'maybe' });
  assert.is(bad.status, 400);
});

test('coalescing: one upstream call; followers get the first byte long before the end, then the whole stream', async () => {
  const r = await start({ answer: 30, tokenDelayMs: 15 });
  const url = `${r.front.url}/v1/chat/completions`;
  const body = chat('together', { stream: true });
  const leader = post(url, body);
  await until(() => r.front.cache.inFlight === 1, 'the leader to start a flight');
  const followers = await Promise.all(Array.from({ length: 5 }, () => post(url, body)));
  const first = await leader;
  assert.is(completions(r), 1);
  assert.is(first.headers['x-cache'], 'MISS');
  for (const f of followers) {
    assert.is(f.headers['x-cache'], 'COALESCED');
    assert.ok(f.body.equals(first.body));
    // The stream takes ~450 ms; a follower that waited for the end would see its first byte after it.
    assert.ok(f.firstByteMs < first.endMs - 200, `first byte ${(first.endMs - f.firstByteMs).toFixed(0)} ms before the end`);
  }
  const text = await r.front.metrics.registry.getSingleMetricAsString('slotkeeper_response_cache_coalesced_total');
  assert.match(text, / 5$/m);
});

test('the leader leaving mid-stream does not cut the followers; the answer is still stored', async () => {
  const r = await start({ answer: 30, tokenDelayMs: 10 });
  const url = `${r.front.url}/v1/chat/completions`;
  const body = chat('leader leaves', { stream: true });
  let joined!: () => void;
  const allJoined = new Promise<void>((resolve) => { joined = resolve; });
  const leader = post(url, body, {}, 200, allJoined);
  await until(() => r.front.cache.inFlight === 1, 'a flight');
  const followers = Promise.all(Array.from({ length: 3 }, () => post(url, body)));
  for (let i = 0; i < 500 && await coalescedCount(r.front) < 3; i++) await new Promise((res) => setTimeout(res, 2));
  joined();
  const gone = await leader;
  assert.ok(gone.body.length < 2000);
  const all = await followers;
  for (const f of all) {
    assert.match(f.body.toString(), /data: \[DONE\]\n\n$/);
    assert.ok(f.body.equals(all[0]!.body));
  }
  assert.is(completions(r), 1);
  await stored(r);
  const hit = await post(url, body);
  assert.is(hit.headers['x-cache'], 'HIT');
  assert.ok(hit.body.equals(all[0]!.body));
});

test('when every client leaves, the upstream call is cut and nothing is stored', async () => {
  const r = await start({ answer: 200, tokenDelayMs: 10 });
  const url = `${r.front.url}/v1/chat/completions`;
  const body = chat('everyone leaves', { stream: true });
  let joined!: () => void;
  const a = post(url, body, {}, 100, new Promise<void>((resolve) => { joined = resolve; }));
  await until(() => r.front.cache.inFlight === 1, 'a flight');
  const b = post(url, body, {}, 100);
  for (let i = 0; i < 500 && await coalescedCount(r.front) < 1; i++) await new Promise((res) => setTimeout(res, 2));
  joined();
  await Promise.all([a, b]);
  assert.is(completions(r), 1);
  await until(() => r.front.cache.inFlight === 0, 'the flight to end');
  // The fake stops generating when it sees the connection close, a moment after the abort.
  let processing = true;
  for (let i = 0; i < 200 && processing; i++) {
    const slots = await (await fetch(`${r.fake.url}/slots`)).json() as { is_processing: boolean }[];
    processing = slots[0]!.is_processing;
    if (processing) await new Promise((res) => setTimeout(res, 5));
  }
  assert.is(processing, false, 'the fake stopped generating');
  assert.is(r.front.cache.entries!.size, 0);
});

test('a corrupt entry is not served: it is removed and the request goes upstream', async () => {
  // No memory tier: the corrupt file must be what the next request reads.
  const r = await start({}, { memoryBytes: 0 });
  const url = `${r.front.url}/v1/chat/completions`;
  const first = await post(url, chat('fragile'));
  await stored(r, 2);
  const blobs = join(r.dir, 'blobs');
  for (const name of readdirSync(blobs)) {
    const bytes = readFileSync(join(blobs, name));
    writeFileSync(join(blobs, name), Buffer.concat([bytes.subarray(0, bytes.length - 2), Buffer.from('!}')]));
  }
  const second = await post(url, chat('fragile'));
  assert.is(second.headers['x-cache'], 'MISS');
  assert.not.ok(second.body.equals(first.body));
  assert.is(completions(r), 2);
  const text = await r.front.metrics.registry.getSingleMetricAsString('slotkeeper_response_cache_evictions_total');
  assert.match(text, /reason="corrupt"} 2/);
});

test('TTL: an answer older than ttlSeconds is not served', async () => {
  const r = await start({}, { ttlSeconds: 60 });
  const url = `${r.front.url}/v1/chat/completions`;
  await post(url, chat('ttl'));
  await stored(r);
  r.clock.ms += 59_000;
  assert.is((await post(url, chat('ttl'))).headers['x-cache'], 'HIT');
  r.clock.ms += 1_000;
  assert.is((await post(url, chat('ttl'))).headers['x-cache'], 'MISS');
  assert.is(completions(r), 2);
});

test('an upstream error is relayed to everyone and not stored', async () => {
  const r = await start({ fail: 500 });
  const url = `${r.front.url}/v1/chat/completions`;
  const a = await post(url, chat('boom'));
  assert.is(a.status, 500);
  const b = await post(url, chat('boom'));
  assert.is(b.headers['x-cache'], 'MISS');
  assert.is(r.front.cache.entries!.size, 0);
});

test('a bypassed stream cut midway is cut for the client too', async () => {
  const r = await start({ answer: 20, tokenDelayMs: 2, fail: 'close-mid-stream' });
  const cut = await new Promise<string>((resolve) => {
    const req = httpRequest(`${r.front.url}/v1/chat/completions`, { method: 'POST', headers: { 'x-slotkeeper-cache': 'bypass' } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve('ended'));
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
    });
    req.on('error', () => resolve('cut'));
    req.end(JSON.stringify(chat('cut me', { stream: true })));
  });
  assert.is(cut, 'cut');
});

test('an unreachable upstream is a coded error for the client, not a hang', async () => {
  const r = await start();
  await r.fake.close();
  const a = await post(`${r.front.url}/v1/chat/completions`, chat('nobody home'));
  assert.is(a.status, 502);
  assert.is(JSON.parse(a.body.toString()).error.code, 'upstream_unreachable');
});

// ---- an Anthropic-shaped upstream ----

interface Tiny { server: Server; url: string; calls: string[] }

async function tinyAnthropic(): Promise<Tiny> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(req.url ?? '');
      if (req.url === '/v1/messages/count_tokens') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"input_tokens":${calls.length}}`);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":7}}}\n\n`);
      setTimeout(() => res.end(`event: content_block_delta\ndata: {"n":${calls.length}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`), 5);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

test('/v1/messages and /v1/messages/count_tokens with the same body are cached apart; message_stop ends a stream', async () => {
  const tiny = await tinyAnthropic();
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-layer-'));
  const front = await startCachedServer(tiny.url, responseCacheDefaults({ enabled: true, dir }));
  try {
    const body = { model: 'm', temperature: 0, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] };
    const headers = { 'anthropic-version': '2023-06-01' };
    const msg = await post(`${front.url}/v1/messages`, body, headers);
    const count = await post(`${front.url}/v1/messages/count_tokens`, body, headers);
    assert.is(msg.headers['x-cache'], 'MISS');
    assert.is(count.headers['x-cache'], 'MISS');
    await stored({ front }, 4);
    const msg2 = await post(`${front.url}/v1/messages`, body, headers);
    const count2 = await post(`${front.url}/v1/messages/count_tokens`, body, headers);
    assert.is(msg2.headers['x-cache'], 'HIT');
    assert.ok(msg2.body.equals(msg.body));
    assert.is(count2.headers['x-cache'], 'HIT');
    assert.is(count2.body.toString(), '{"input_tokens":2}');
    assert.is((await post(`${front.url}/v1/messages`, body, { 'anthropic-version': '2024-01-01' })).headers['x-cache'], 'MISS');
    assert.equal(tiny.calls, ['/v1/messages', '/v1/messages/count_tokens', '/v1/messages']);
    const saved = await front.metrics.registry.getSingleMetricAsString('slotkeeper_response_cache_prompt_tokens_saved_total');
    assert.match(saved, / 7$/m, 'message_start usage counted for the stream hit');
  } finally {
    await front.close();
    tiny.server.closeAllConnections();
    await new Promise((resolve) => tiny.server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
