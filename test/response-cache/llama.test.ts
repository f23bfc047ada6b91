// The response cache before a REAL llama-server: exact hits byte-identical to the first answer
// (JSON and SSE), a normalized hit across a changed billing header, a sampling request that is
// not served, and a coalesced stream whose leader leaves.
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../bench/rig/server.js';
import { responseCacheDefaults } from '../../src/config/config.js';
import { type CachedServer, startCachedServer } from '../helpers/cached-server.js';
import { rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';

interface Answer { status: number; xCache: string | undefined; type: string | undefined; body: Buffer }

function post(url: string, body: unknown, leaveAfterBytes?: number, leaveWhen: Promise<void> = Promise.resolve()): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      const answer = () => ({ status: res.statusCode ?? 0, xCache: res.headers['x-cache'] as string | undefined, type: res.headers['content-type'], body: Buffer.concat(chunks) });
      let leaving = false;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (leaveAfterBytes !== undefined && !leaving && Buffer.concat(chunks).length >= leaveAfterBytes) {
          leaving = true;
          void leaveWhen.then(() => {
            req.destroy();
            resolve(answer());
          });
        }
      });
      res.on('end', () => resolve(answer()));
    });
    req.on('error', (err) => (leaveAfterBytes === undefined ? reject(err) : undefined));
    req.setTimeout(120_000, () => req.destroy(new Error('timeout')));
    req.end(JSON.stringify(body));
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error('timed out');
}

const test = suite('response-cache: real llama-server');
let server: LlamaServer;
let front: CachedServer;
let dir: string;

setup(test, async () => {
  server = await rigServer({ slots: 2, cacheRamMiB: 0 });
  dir = mkdtempSync(join(tmpdir(), 'slotkeeper-llama-cache-'));
  front = await startCachedServer(server.url, responseCacheDefaults({ enabled: true, dir }));
});
test.after(async () => {
  await front?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const stored = () => until(() => front.cache.inFlight === 0);
const chat = (content: string, extra: Record<string, unknown> = {}) =>
  ({ messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0, ...extra });

test('an exact hit is byte-identical to the first answer (JSON)', async () => {
  const url = `${front.url}/v1/chat/completions`;
  const first = await post(url, chat('the cache json'));
  assert.is(first.status, 200);
  assert.is(first.xCache, 'MISS');
  await stored();
  const second = await post(url, chat('the cache json'));
  assert.is(second.xCache, 'HIT');
  assert.is(second.type, first.type);
  assert.ok(second.body.equals(first.body), 'byte-identical, timings and id included');
  const saved = await front.metrics.registry.getSingleMetricAsString('slotkeeper_response_cache_prompt_tokens_saved_total');
  assert.not.match(saved, / 0$/m, 'timings told how many prompt tokens the hit saved');
});

test('an exact hit is byte-identical to the first answer (SSE)', async () => {
  const url = `${front.url}/v1/chat/completions`;
  const first = await post(url, chat('the cache stream', { stream: true }));
  assert.is(first.xCache, 'MISS');
  assert.match(first.body.toString(), /data: \[DONE\]\s*$/);
  await stored();
  const second = await post(url, chat('the cache stream', { stream: true }));
  assert.is(second.xCache, 'HIT');
  assert.is(second.type, first.type);
  assert.ok(second.body.equals(first.body));
});

test('a normalized hit across a changed billing header line', async () => {
  const url = `${front.url}/v1/chat/completions`;
  const body = (cch: string) => ({ ...chat('norm'), system: `x-anthropic-billing-header: cc_version=2.0; cch=${cch};\nBe brief.` });
  const first = await post(url, body('111'));
  await stored();
  const second = await post(url, body('222'));
  assert.is(second.xCache, 'HIT-NORM');
  assert.ok(second.body.equals(first.body));
});

test('a sampling request is not served from the cache by default', async () => {
  const url = `${front.url}/v1/chat/completions`;
  const body = { messages: [{ role: 'user', content: 'sample me' }], max_tokens: 4 };
  const a = await post(url, body);
  const b = await post(url, body);
  assert.is(a.xCache, 'BYPASS');
  assert.is(b.xCache, 'BYPASS');
});

test('coalescing with a leader that leaves: followers get the whole stream, one upstream call', async () => {
  const url = `${front.url}/v1/chat/completions`;
  const body = chat('coalesce on the real server', { stream: true, max_tokens: 64 });
  const calls = front.upstreamCalls;
  const coalesced = async () => (await front.metrics.cacheCoalesced.get()).values[0]?.value ?? 0;
  const before = await coalesced();
  let joined!: () => void;
  const leader = post(url, body, 1, new Promise<void>((resolve) => { joined = resolve; }));
  await until(() => front.cache.inFlight === 1);
  const followers = Promise.all([post(url, body), post(url, body)]);
  for (let i = 0; i < 1000 && await coalesced() < before + 2; i++) await new Promise((r) => setTimeout(r, 5));
  joined();
  const gone = await leader;
  const [a, b] = await followers;
  assert.ok(gone.body.length < a!.body.length, 'the leader left before the end');
  assert.is(front.upstreamCalls - calls, 1);
  assert.match(a!.body.toString(), /data: \[DONE\]\s*$/);
  assert.ok(a!.body.equals(b!.body));
  await stored();
  const hit = await post(url, body);
  assert.is(hit.xCache, 'HIT');
  assert.ok(hit.body.equals(a!.body));
});

test.run();
