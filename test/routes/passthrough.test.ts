// Passthrough as an attacker would use it (issue #16): it must only ever reach the configured
// upstream, never hand a client the administrative routes, and never reach llama-server's
// completions past the scheduled routes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../../src/config/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { rawRequest } from '../helpers/raw-request.js';
import { setup } from '../helpers/setup.js';

const UPSTREAM_KEY = 'sk-upstream-secret';
const ADMIN = 'sk-admin-0123456789';

let internal: Server;
let internalHits: string[] = [];
let internalPort: number;
let fake: FakeUpstream;
let gateway: Gateway;
let adminGateway: Gateway;

const ssrf = suite('passthrough: only the upstream');

setup(ssrf, async () => {
  // The "internal host" a forged path would reach; nothing may ever arrive here.
  internal = createServer((req, res) => {
    internalHits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    res.end('internal secret');
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  internalPort = (internal.address() as AddressInfo).port;
  fake = await startFakeUpstream({ slots: 1 });
  const config = { port: 0, upstreams: [{ url: fake.url, apiKey: UPSTREAM_KEY }] };
  gateway = await startGateway(withDefaults(config), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
  adminGateway = await startGateway(withDefaults({ ...config, adminToken: ADMIN }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
});


ssrf.before.each(() => {
  internalHits = [];
});

const json = { 'content-type': 'application/json' };

ssrf('no forged target reaches another host, on any method', async () => {
  const host = `127.0.0.1:${internalPort}`;
  const targets = [
    `/.//${host}/x`, `/%2e//${host}/x`, `/%2E//${host}/x`, `/a/..//${host}/x`, `/a/%2e%2e//${host}/x`,
    `//${host}/x`, `/\\${host}/x`, `/\\\\${host}/x`, `/%2F%2F${host}/x`, `/%5c${host}/x`, `/.%2F/${host}/x`,
    `http://${host}/x`, `*`, `/././/${host}/x?model=m`, `/v1/../..//${host}/x`,
  ];
  for (const method of ['GET', 'POST', 'DELETE']) {
    for (const target of targets) {
      const answer = await rawRequest(gateway.url, method, target, method === 'POST' ? { headers: json, body: '{}' } : {});
      assert.ok(answer.status >= 400 && answer.status < 500, `${method} ${target}: ${answer.status} ${answer.body}`);
      assert.not.match(answer.body, 'internal secret');
    }
  }
  assert.equal(internalHits, []);
  // And the upstream saw none of them as a path of its own either.
  assert.not.ok(fake.requests.some((r) => r.path.includes(String(internalPort))), JSON.stringify(fake.requests.map((r) => r.path)));
});

ssrf('an ordinary passthrough still reaches the upstream, normalised', async () => {
  const answer = await rawRequest(gateway.url, 'GET', '/a/../props');
  assert.is(answer.status, 200);
  assert.is(fake.requests.at(-1)?.path, '/props');
  assert.is(fake.requests.at(-1)?.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
});

ssrf('a dot-segment or encoded spelling of a completion goes through the scheduled route', async () => {
  for (const target of ['/v1/models/../chat/completions', '/v1/%63hat/completions', '/chat/completions']) {
    const before = fake.requests.length;
    const answer = await rawRequest(gateway.url, 'POST', target, { headers: json, body: '{"messages":[{"role":"user","content":"hi"}]}' });
    assert.is(answer.status, 200, `${target}: ${answer.body}`);
    const sent = fake.requests.slice(before).find((r) => r.path === '/v1/chat/completions');
    // id_slot set: the gateway chose the slot, so the request was leased and scheduled.
    assert.ok(sent?.idSlot !== undefined, target);
  }
});

ssrf("llama-server's own completion spellings are refused", async () => {
  for (const target of ['/completion', '/completions', '/infill', '/v1/responses', '/%63ompletion', '/x/../completion']) {
    const before = fake.requests.length;
    const answer = await rawRequest(gateway.url, 'POST', target, { headers: json, body: '{"prompt":"hi"}' });
    assert.is(answer.status, 404, target);
    assert.is(JSON.parse(answer.body).error.code, 'not_found');
    assert.is(fake.requests.length, before, target);
  }
});

ssrf.run();

const admin = suite('passthrough: administrative routes');

admin('slot actions, /slots, POST /props and model loading are refused without the admin token', async () => {
  const cases: [string, string][] = [
    ['POST', '/slots/0?action=erase'], ['POST', '/slots/0?action=save'], ['POST', '/slots/0?action=restore'],
    ['GET', '/slots'], ['POST', '/props'], ['POST', '/lora-adapters'], ['POST', '/models/load'], ['POST', '/models/unload'],
    ['POST', '/upstream/m/slots/0?action=erase'], ['GET', '/upstream/m/v1/models'], ['POST', '/%73lots/0?action=erase'],
  ];
  for (const g of [gateway, adminGateway]) {
    const before = fake.requests.length;
    for (const [method, target] of cases) {
      const answer = await rawRequest(g.url, method, target, method === 'POST' ? { headers: json, body: '{"filename":"x.bin"}' } : {});
      assert.is(answer.status, 403, `${method} ${target}`);
      assert.is(JSON.parse(answer.body).error.code, 'forbidden');
    }
    assert.is(fake.requests.length, before);
  }
});

admin('the admin token opens them, and is never sent upstream', async () => {
  const answer = await rawRequest(adminGateway.url, 'GET', '/slots', { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.is(answer.status, 200);
  const sent = fake.requests.at(-1)!;
  assert.is(sent.path, '/slots');
  assert.is(sent.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  const wrong = await rawRequest(adminGateway.url, 'GET', '/slots', { headers: { authorization: 'Bearer sk-wrong' } });
  assert.is(wrong.status, 403);
});

// The second suite shares the first one's servers and stops them.
admin.after(async () => {
  await gateway?.close();
  await adminGateway?.close();
  await fake?.close();
  await new Promise((resolve) => internal?.close(resolve));
});

admin('a web page can neither post a simple request nor read through DNS rebinding', async () => {
  const before = fake.requests.length;
  const body = '{"messages":[{"role":"user","content":"hi"}]}';
  // A cross-origin "simple" POST: text/plain needs no preflight.
  const simple = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: { origin: 'https://evil.example', 'content-type': 'text/plain' }, body });
  assert.is(simple.status, 403);
  // Same-origin after rebinding evil.example to 127.0.0.1: the Host gives it away.
  const port = new URL(gateway.url).port;
  const rebound = await rawRequest(gateway.url, 'GET', '/v1/models', { headers: { host: `evil.example:${port}` } });
  assert.is(rebound.status, 403);
  assert.is(JSON.parse(rebound.body).error.code, 'forbidden');
  assert.is(fake.requests.length, before);
  // curl and SDKs: no Origin, a loopback Host.
  assert.is((await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })).status, 200);
});

admin('GET /props stays open to clients', async () => {
  assert.is((await rawRequest(gateway.url, 'GET', '/props')).status, 200);
});

admin.run();
