// The response cache wired into the gateway, before a REAL llama-server: exact hits byte-identical
// to the first answer (JSON and SSE) with no upstream work, a normalized hit across a changed
// Claude Code billing header on /v1/messages, a sampling request that is not served, coalescing
// whose leader leaves, /v1/messages and count_tokens keyed apart, `only`, TTL and budget
// eviction, and a corrupt entry that is dropped, never served.
import { Buffer } from 'node:buffer';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../bench/rig/server.js';
import { type PartialConfig, withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { rigServer } from '../helpers/llama.js';
import { metric } from '../helpers/metrics.js';
import { setup } from '../helpers/setup.js';

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

/** POSTs `body`; with `leave`, the client goes away after its first bytes, once `leave` resolves. */
function post(url: string, body: unknown, headers: Record<string, string> = {}, leave?: Promise<void>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      const answer = () => ({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      let leaving = false;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (leave !== undefined && !leaving) {
          leaving = true;
          void leave.then(() => {
            req.destroy();
            resolve(answer());
          });
        }
      });
      res.on('end', () => resolve(answer()));
    });
    req.on('error', (err) => (leave === undefined ? reject(err) : undefined));
    req.setTimeout(120_000, () => req.destroy(new Error('timeout')));
    req.end(JSON.stringify(body));
  });
}

/** llama-server's count of generated tokens (--metrics): unchanged means no upstream generation. */
async function predicted(server: LlamaServer): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = /^llamacpp:tokens_predicted_total (\d+)/m.exec(text);
  if (!line) throw new Error('llama-server /metrics has no tokens_predicted_total');
  return Number(line[1]);
}


const chat = (content: string, extra: Record<string, unknown> = {}) =>
  ({ messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0, ...extra });

let server: LlamaServer;
const dirs: string[] = [];

async function gatewayWith(responseCache: PartialConfig['responseCache'], now?: () => number): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'slotkeeper-response-cache-'));
  dirs.push(dir);
  return startGateway(withDefaults({
    port: 0, upstreams: [{ url: server.url, ramCacheTokens: 0 }], fleet: { probeIntervalMs: 200, probeTimeoutMs: 10_000 },
    responseCache: { enabled: true, dir, ...responseCache },
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 }, ...(now ? { now } : {}) });
}

const served = suite('response cache in the gateway: hits, coalescing, keys');
let gateway: Gateway;

setup(served, async () => {
  server = await rigServer({ slots: 2, cacheRamMiB: 0, extraArgs: ['--metrics'] });
  gateway = await gatewayWith({});
});
served.after(async () => {
  await gateway?.close();
});

served('an exact hit is byte-identical to the first answer (JSON), and llama-server generates nothing for it', async () => {
  const url = `${gateway.url}/v1/chat/completions`;
  const first = await post(url, chat('the cache json'));
  assert.is(first.status, 200);
  assert.is(first.headers['x-cache'], 'MISS');
  assert.ok(first.headers['x-slotkeeper-slot'] !== undefined, 'a miss says where it ran');
  await gateway.cache.settled();
  const before = await predicted(server);
  const second = await post(url, chat('the cache json'));
  assert.is(second.headers['x-cache'], 'HIT');
  assert.is(second.headers['content-type'], first.headers['content-type']);
  assert.ok(second.body.equals(first.body), 'byte-identical, id and timings included');
  assert.is(second.headers['x-slotkeeper-slot'], undefined, 'a hit ran nowhere');
  assert.is(await predicted(server), before);
  assert.ok(await metric(gateway, 'slotkeeper_response_cache_prompt_tokens_saved_total') > 0, 'timings told what the hit saved');
});

served('an exact hit is byte-identical to the first answer (SSE)', async () => {
  const url = `${gateway.url}/v1/chat/completions`;
  const first = await post(url, chat('the cache stream', { stream: true }));
  assert.is(first.headers['x-cache'], 'MISS');
  assert.match(first.body.toString(), /data: \[DONE\]\s*$/);
  await gateway.cache.settled();
  const before = await predicted(server);
  const second = await post(url, chat('the cache stream', { stream: true }));
  assert.is(second.headers['x-cache'], 'HIT');
  assert.is(second.headers['content-type'], first.headers['content-type']);
  assert.ok(second.body.equals(first.body));
  assert.is(await predicted(server), before);
});

const HEADER = (cch: string) => `x-anthropic-billing-header: cc_version=2.1.63.abc; cc_entrypoint=cli; cch=${cch};`;
const anthropic = (cch: string, extra: Record<string, unknown> = {}) => ({
  model: 'm', max_tokens: 8, temperature: 0,
  system: [{ type: 'text', text: HEADER(cch) }, { type: 'text', text: 'You are terse.' }],
  messages: [{ role: 'user', content: 'Say hello.' }], ...extra,
});

served('/v1/messages: a normalized hit across a changed billing header, byte-identical, streamed and not', async () => {
  for (const stream of [false, true]) {
    const url = `${gateway.url}/v1/messages`;
    const first = await post(url, anthropic('11111', { stream }));
    assert.is(first.status, 200);
    assert.is(first.headers['x-cache'], 'MISS');
    if (stream) assert.match(first.body.toString(), /event: message_stop/);
    await gateway.cache.settled();
    const before = await predicted(server);
    const second = await post(url, anthropic('22222', { stream }));
    assert.is(second.headers['x-cache'], 'HIT-NORM');
    assert.ok(second.body.equals(first.body));
    assert.is(await predicted(server), before);
  }
});

served('a sampling request (no temperature) is not served from the cache by default', async () => {
  const url = `${gateway.url}/v1/chat/completions`;
  const body = { messages: [{ role: 'user', content: 'sample me' }], max_tokens: 4 };
  const before = await predicted(server);
  const a = await post(url, body);
  const b = await post(url, body);
  assert.is(a.headers['x-cache'], 'BYPASS');
  assert.is(b.headers['x-cache'], 'BYPASS');
  assert.ok(await predicted(server) > before + 1, 'both generated upstream');
});

served('coalescing with a leader that leaves: followers get the whole stream from one upstream call', async () => {
  const url = `${gateway.url}/v1/chat/completions`;
  const body = chat('coalesce on the real server', { stream: true, max_tokens: 64 });
  const coalesced = () => metric(gateway, 'slotkeeper_response_cache_coalesced_total');
  const misses = () => metric(gateway, 'slotkeeper_response_cache_misses_total');
  const [joinedBefore, missesBefore] = [await coalesced(), await misses()];
  let joined!: () => void;
  const leader = post(url, body, {}, new Promise<void>((resolve) => { joined = resolve; }));
  const followers = (async () => {
    // Followers are sent once the leader's flight exists, so they join it rather than start their own.
    while (gateway.cache.inFlight === 0) await new Promise((r) => setImmediate(r));
    return Promise.all([post(url, body), post(url, body)]);
  })();
  while (await coalesced() < joinedBefore + 2) await new Promise((r) => setImmediate(r));
  joined();
  const gone = await leader;
  const [a, b] = await followers;
  assert.is(a!.headers['x-cache'], 'COALESCED');
  assert.ok(gone.body.length < a!.body.length, 'the leader left before the end');
  assert.is(await misses() - missesBefore, 1, 'one upstream call');
  assert.match(a!.body.toString(), /data: \[DONE\]\s*$/);
  assert.ok(a!.body.equals(b!.body));
  await gateway.cache.settled();
  const hit = await post(url, body);
  assert.is(hit.headers['x-cache'], 'HIT');
  assert.ok(hit.body.equals(a!.body));
});

served('/v1/messages and /v1/messages/count_tokens with the same body have different keys', async () => {
  const body = anthropic('33333', { messages: [{ role: 'user', content: 'Count me.' }] });
  const message = await post(`${gateway.url}/v1/messages`, body);
  assert.is(message.headers['x-cache'], 'MISS');
  await gateway.cache.settled();
  const count = await post(`${gateway.url}/v1/messages/count_tokens`, body);
  assert.is(count.status, 200);
  assert.is(count.headers['x-cache'], 'MISS', 'not the /v1/messages answer');
  assert.type(JSON.parse(count.body.toString()).input_tokens, 'number');
  await gateway.cache.settled();
  const again = await post(`${gateway.url}/v1/messages/count_tokens`, body);
  assert.is(again.headers['x-cache'], 'HIT');
  assert.ok(again.body.equals(count.body));
  const messageAgain = await post(`${gateway.url}/v1/messages`, body);
  assert.is(messageAgain.headers['x-cache'], 'HIT');
  assert.ok(messageAgain.body.equals(message.body));
});

served('without a gateway token, the client\'s credentials are in the key: another key never gets the answer', async () => {
  const url = `${gateway.url}/v1/chat/completions`;
  const first = await post(url, chat('credentials'), { authorization: 'Bearer alice' });
  assert.is(first.headers['x-cache'], 'MISS');
  await gateway.cache.settled();
  assert.is((await post(url, chat('credentials'), { authorization: 'Bearer alice' })).headers['x-cache'], 'HIT');
  assert.is((await post(url, chat('credentials'), { authorization: 'Bearer mallory' })).headers['x-cache'], 'MISS');
  assert.is((await post(url, chat('credentials'))).headers['x-cache'], 'MISS');
});

served('x-slotkeeper-cache: only on a miss is a 504 cache_miss in the client\'s dialect, with no upstream call', async () => {
  const before = await predicted(server);
  const openai = await post(`${gateway.url}/v1/chat/completions`, chat('never asked'), { 'x-slotkeeper-cache': 'only' });
  assert.is(openai.status, 504);
  assert.is(JSON.parse(openai.body.toString()).error.code, 'cache_miss');
  const claude = await post(`${gateway.url}/v1/messages`, anthropic('44444', { messages: [{ role: 'user', content: 'never asked' }] }), { 'x-slotkeeper-cache': 'only' });
  assert.is(claude.status, 504);
  assert.equal(JSON.parse(claude.body.toString()).type, 'error');
  assert.is(claude.headers['x-cache'], 'MISS');
  assert.is(await predicted(server), before);
});

served.run();

const eviction = suite('response cache in the gateway: TTL, budget, corruption');
let clock = Date.now();
let small: Gateway;
let smallDir: string;

setup(eviction, async () => {
  // No memory tier: every hit reads its file, so a corrupted file is found.
  small = await gatewayWith({ ttlSeconds: 60, memoryBytes: 0 }, () => clock);
  smallDir = dirs[dirs.length - 1]!;
});
eviction.after(async () => {
  await small?.close();
  await server?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

eviction('an entry past its TTL is evicted and asked again upstream', async () => {
  const url = `${small.url}/v1/chat/completions`;
  assert.is((await post(url, chat('ttl'))).headers['x-cache'], 'MISS');
  await small.cache.settled();
  assert.is((await post(url, chat('ttl'))).headers['x-cache'], 'HIT');
  clock += 61_000;
  assert.is((await post(url, chat('ttl'))).headers['x-cache'], 'MISS');
  assert.ok(await metric(small, 'slotkeeper_response_cache_evictions_total', { reason: 'ttl' }) >= 1);
});

eviction('a corrupt entry file is removed, never served, and the request is answered upstream', async () => {
  const url = `${small.url}/v1/chat/completions`;
  clock += 1_000; // so this answer is the newest entry
  const first = await post(url, chat('corrupt me'));
  await small.cache.settled();
  const blobs = join(smallDir, 'blobs');
  const stored = small.cache.entries!.list().sort((a, b) => a.createdMs - b.createdMs).at(-1);
  assert.ok(stored, 'the answer is stored');
  const file = readdirSync(blobs).find((name) => name === stored!.blob);
  assert.ok(file, 'its file is in the store');
  writeFileSync(join(blobs, file!), Buffer.from('not what was stored'));
  const before = await predicted(server);
  const again = await post(url, chat('corrupt me'));
  assert.is(again.headers['x-cache'], 'MISS');
  assert.is(JSON.parse(again.body.toString()).choices[0].message.content, JSON.parse(first.body.toString()).choices[0].message.content);
  assert.ok(await predicted(server) > before, 'answered upstream');
  assert.ok(await metric(small, 'slotkeeper_response_cache_evictions_total', { reason: 'corrupt' }) >= 1);
});

eviction('the byte budget evicts the least recently used answer', async () => {
  await small.close();
  // Room for one short answer, not two.
  const first = await post(`${server.url}/v1/chat/completions`, chat('budget a'));
  small = await gatewayWith({ maxBytes: Math.round(first.body.length * 1.5), memoryBytes: 0 }, () => clock);
  const url = `${small.url}/v1/chat/completions`;
  assert.is((await post(url, chat('budget a'))).headers['x-cache'], 'MISS');
  await small.cache.settled();
  assert.is((await post(url, chat('budget a'))).headers['x-cache'], 'HIT');
  assert.is((await post(url, chat('budget b'))).headers['x-cache'], 'MISS');
  await small.cache.settled();
  assert.is((await post(url, chat('budget a'))).headers['x-cache'], 'MISS', 'a was evicted to make room for b');
  assert.ok(await metric(small, 'slotkeeper_response_cache_evictions_total', { reason: 'budget' }) >= 1);
});

eviction.run();
