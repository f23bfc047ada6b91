// The issue #16 probe's defects against a REAL llama-server behind the gateway: a client cannot
// erase, save or restore slots, nor reach another host or llama-server's own completion route,
// while llama-server's other routes and the admin token still work.
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../bench/rig/server.js';
import { withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { rigServer, words } from '../helpers/llama.js';
import { rawRequest } from '../helpers/raw-request.js';
import { setup } from '../helpers/setup.js';

const ADMIN = 'sk-admin-real-0123';
const json = { 'content-type': 'application/json' };

let server: LlamaServer;
let gateway: Gateway;
let internal: Server;
let internalHits = 0;

const real = suite('passthrough on a real llama-server');

setup(real, async () => {
  internal = createServer((_req, res) => {
    internalHits++;
    res.end('internal');
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  server = await rigServer({ slots: 1, cacheRamMiB: 0 });
  gateway = await startGateway(withDefaults({
    port: 0, adminToken: ADMIN, upstreams: [{ url: server.url, ramCacheTokens: 0 }], kv: { enabled: false },
    fleet: { probeIntervalMs: 200, probeTimeoutMs: 10_000 },
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
});

real.after(async () => {
  await gateway?.close();
  await server?.stop();
  await new Promise((resolve) => internal?.close(resolve));
});

async function cachedTokens(prompt: string): Promise<number> {
  const answer = await rawRequest(gateway.url, 'POST', '/v1/completions', { headers: json, body: JSON.stringify({ prompt, max_tokens: 1, temperature: 0 }) });
  assert.is(answer.status, 200, answer.body);
  return (JSON.parse(answer.body) as { timings: { cache_n: number } }).timings.cache_n;
}

real("a client's erase, save and restore never reach the slot, and its content stays reusable", async () => {
  const prompt = words('keep', 120);
  await cachedTokens(prompt);
  for (const action of ['erase', 'save', 'restore']) {
    const answer = await rawRequest(gateway.url, 'POST', `/slots/0?action=${action}`, { headers: json, body: '{"filename":"../x.bin"}' });
    assert.is(answer.status, 403, action);
  }
  assert.is((await rawRequest(gateway.url, 'GET', '/slots')).status, 403);
  assert.equal(readdirSync(server.slotSavePath!), []);
  // The conversation is still in its slot: the next turn reuses it.
  assert.ok(await cachedTokens(prompt) > 100);
});

real('no forged path reaches another host; /completion is refused; /tokenize and /props still work', async () => {
  const host = `127.0.0.1:${(internal.address() as AddressInfo).port}`;
  for (const target of [`/.//${host}/x`, `/%2e//${host}/x`, `/a/..//${host}/x`, `http://${host}/x`]) {
    assert.is((await rawRequest(gateway.url, 'GET', target)).status, 400, target);
  }
  assert.is(internalHits, 0);
  assert.is((await rawRequest(gateway.url, 'POST', '/completion', { headers: json, body: '{"prompt":"hi","n_predict":1}' })).status, 404);
  const tokens = await rawRequest(gateway.url, 'POST', '/tokenize', { headers: json, body: '{"content":"hello world"}' });
  assert.is(tokens.status, 200, tokens.body);
  assert.ok((JSON.parse(tokens.body) as { tokens: number[] }).tokens.length > 0);
  assert.is((await rawRequest(gateway.url, 'GET', '/props')).status, 200);
});

real('with the admin token a slot action goes through', async () => {
  const answer = await rawRequest(gateway.url, 'POST', '/slots/0?action=erase', { headers: { ...json, authorization: `Bearer ${ADMIN}` }, body: '{}' });
  assert.is(answer.status, 200, answer.body);
  assert.is((JSON.parse(answer.body) as { id_slot: number }).id_slot, 0);
});

real.run();
