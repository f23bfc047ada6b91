// What a client can make the gateway hold or spend (issue #16, defects 4 and 5), end to end with
// a fake llama-server: the analysis deadline, the buffered-body budget, the body read timeout,
// the connection limit and the workers' heap limit.
import { connect, type Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults, type PartialConfig } from '../src/config/config.js';
import { createApp } from '../src/app.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { createMetrics } from '../src/metrics.js';
import { UpstreamClient } from '../src/proxy/upstream-client.js';
import { createRequestIds } from '../src/request-id.js';
import { ResponseCache } from '../src/response-cache/layer.js';
import { Router } from '../src/router.js';
import { listen } from '../src/runtime/http-server.js';
import type { WorkerPool } from '../src/worker-pool.js';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.js';
import { rawRequest } from './helpers/raw-request.js';
import { setup } from './helpers/setup.js';

let fake: FakeUpstream;
let gateway: Gateway;
const sockets: Socket[] = [];

const json = { 'content-type': 'application/json' };
const chat = (content: string) => JSON.stringify({ messages: [{ role: 'user', content }] });
const start = (config: PartialConfig) => startGateway(withDefaults({ port: 0, upstreams: [{ url: fake.url }], ...config }),
  { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });

/** Opens a connection and sends `head` (and maybe part of a body), then leaves it open. */
function stall(url: string, head: string): Promise<Socket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(head);
      resolve(socket);
    });
    socket.on('error', () => {});
    socket.once('error', reject);
    sockets.push(socket);
  });
}

const closed = (socket: Socket) => new Promise<string>((resolve) => {
  let data = '';
  socket.on('data', (chunk) => (data += chunk.toString()));
  socket.on('close', () => resolve(data));
});

const limits = suite('limits');

setup(limits, async () => {
  fake = await startFakeUpstream({ slots: 1 });
});

limits.after.each(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await gateway?.close();
});

limits.after(async () => {
  await fake?.close();
});

limits('a backtracking rule no longer freezes the pool: 503 analysis_timeout, then service goes on', async () => {
  gateway = await start({
    limits: { analysisTimeoutMs: 300 },
    normalize: { billingHeader: 'off', billingHeaderValue: '0', rules: [
      { name: 'trailing-a', target: 'messages', pattern: '(a+)+$', flags: '', replacement: '', enabled: true },
    ] },
  });
  const evil = chat(`${'a'.repeat(40)}!`);
  const [first, second] = await Promise.all([
    rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body: evil }),
    rawRequest(gateway.url, 'POST', '/v1/messages', { headers: json, body: JSON.stringify({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: `${'a'.repeat(40)}!` }] }) }),
  ]);
  assert.is(first.status, 503);
  assert.is(JSON.parse(first.body).error.code, 'analysis_timeout');
  assert.is(second.status, 503);
  assert.equal(JSON.parse(second.body).error.type, 'overloaded_error');
  const healthy = await rawRequest(gateway.url, 'GET', '/health');
  assert.is(healthy.status, 200);
  const ok = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body: chat('hello') });
  assert.is(ok.status, 200, ok.body);
});

limits('bodies held at once are bounded: past limits.bufferedBodyBytes a body is refused with 503', async () => {
  gateway = await start({ limits: { bodyBytes: 4000, bufferedBodyBytes: 6000 } });
  // Two clients that stall before the end of their 2.5 kB bodies: 5 kB held.
  const head = (length: number) => `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{"messages":`;
  await stall(gateway.url, head(2500));
  await stall(gateway.url, head(2500));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const refused = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body: chat('x'.repeat(1500)) });
  assert.is(refused.status, 503);
  assert.is(JSON.parse(refused.body).error.code, 'overloaded');
  // A small body still fits.
  const small = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body: chat('hi') });
  assert.is(small.status, 200);
  // The stalled clients leave: their share comes back.
  for (const socket of sockets.splice(0)) socket.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body: chat('x'.repeat(1500)) });
  assert.is(after.status, 200, after.body);
});

limits('a client that stalls its body is cut after limits.bodyTimeoutMs', async () => {
  gateway = await start({ limits: { bodyTimeoutMs: 400 } });
  const started = performance.now();
  const socket = await stall(gateway.url, 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{"mess');
  const answer = await closed(socket);
  const took = performance.now() - started;
  assert.ok(took < 2000, `cut after ${took} ms`);
  assert.match(answer, /^HTTP\/1\.1 408/);
});

limits('connections past limits.maxConnections are closed at once', async () => {
  gateway = await start({ limits: { maxConnections: 2 } });
  await stall(gateway.url, '');
  await stall(gateway.url, '');
  const third = await stall(gateway.url, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  assert.is(await closed(third), '');
});

limits('a body that needs more heap than limits.workerHeapMb is refused (413), and the pool carries on', async () => {
  gateway = await start({ limits: { workerHeapMb: 16, bodyBytes: 8 * 1024 * 1024 } });
  // Many separate strings: the shape Node ends a worker for at its limit. (One array grown past
  // the limit can abort the whole process instead, nodejs/node#47224: the value count prevents that.)
  const body = JSON.stringify({ messages: Array.from({ length: 6000 }, (_, i) => ({ role: 'user', content: `${i}${'x'.repeat(1000)}` })) });
  const refused = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body });
  assert.is(refused.status, 413, refused.body.slice(0, 200));
  const ok = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body: chat('hello') });
  assert.is(ok.status, 200);
});

limits('31 MiB of messages [1,1,…] is a 400: it took a worker past 1 GiB (a 1 GiB heap limit aborted the process)', async () => {
  gateway = await start({});
  const body = `{"messages":[${'1,'.repeat(15_500_000)}1]}`;
  const answer = await rawRequest(gateway.url, 'POST', '/v1/chat/completions', { headers: json, body });
  assert.is(answer.status, 400, answer.body.slice(0, 200));
  assert.is(JSON.parse(answer.body).error.code, 'invalid_json');
  assert.is((await rawRequest(gateway.url, 'GET', '/health')).status, 200);
});

limits('nesting 20k levels deep inside a field is a 400, not a 500', async () => {
  gateway = await start({});
  const deep = '['.repeat(20_000) + ']'.repeat(20_000);
  for (const [path, body] of [['/v1/chat/completions', `{"messages":[{"role":"user","content":"x"}],"tools":${deep}}`], ['/v1/completions', `{"prompt":${deep}}`]]) {
    const answer = await rawRequest(gateway.url, 'POST', path!, { headers: json, body: body! });
    assert.is(answer.status, 400, path);
    assert.is(JSON.parse(answer.body).error.code, 'invalid_json');
  }
});

limits.run();

const health = suite('limits: /health and the worker pool');

health('a stalled worker pool makes /health 503', async () => {
  const config = withDefaults();
  const metrics = createMetrics();
  let stalled = false;
  const pool: WorkerPool = { analyze: () => Promise.reject(new Error('unused')), destroy: async () => {}, queueSize: () => 1, stalled: () => stalled };
  const app = createApp({
    config, metrics, ids: createRequestIds(), pool, client: new UpstreamClient(),
    cache: await ResponseCache.open(config.responseCache, { metrics }),
    router: new Router({ config, metrics, now: () => 0, leases: { acquire: () => Promise.reject(new Error('unused')), tryAcquire: () => null, isBusy: () => false, waitingFor: () => 0 } }),
    fleet: { resolveModel: () => { throw new Error('unused'); }, reportFailure: () => {}, modelList: () => ({}) },
    authorized: () => true,
  });
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  try {
    assert.is((await rawRequest(server.url, 'GET', '/health')).status, 200);
    stalled = true;
    const answer = await rawRequest(server.url, 'GET', '/health');
    assert.is(answer.status, 503);
    assert.is(JSON.parse(answer.body).status, 'stalled');
  } finally {
    await server.close();
  }
});

health.run();
