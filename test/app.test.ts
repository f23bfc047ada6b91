// The HTTP front: routing, errors, limits and ids, with the gateway forwarding to a fake
// llama-server (the forwarding itself is proven against the real one in test/gateway.test.ts).
import { request } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../src/app.js';
import { withDefaults } from '../src/config/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { createMetrics } from '../src/metrics.js';
import { UpstreamClient } from '../src/proxy/upstream-client.js';
import { createRequestIds } from '../src/request-id.js';
import { ResponseCache } from '../src/response-cache/layer.js';
import { Router } from '../src/router.js';
import { listen, type RunningServer } from '../src/runtime/http-server.js';
import type { WorkerPool } from '../src/worker-pool.js';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.js';
import { setup } from './helpers/setup.js';

const BODY_LIMIT = 256;

let gateway: Gateway;
let fake: FakeUpstream;

const post = (path: string, body: string) =>
  fetch(`${gateway.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

async function errorOf(res: Response): Promise<{ message: string; type: string; code: string }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { error: { message: string; type: string; code: string } };
  assert.equal(Object.keys(body.error).sort(), ['code', 'message', 'type']);
  return body.error;
}

// Sends a chunked body (no content-length) in pieces, so the limit is met mid-stream.
function postChunked(path: string, chunks: string[]): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gateway.url}${path}`, { method: 'POST' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

const metricsText = async () => (await fetch(`${gateway.url}/metrics`)).text();

const app = suite('app');

setup(app, async () => {
  fake = await startFakeUpstream({ slots: 2, models: ['fake-model.gguf'] });
  gateway = await startGateway(
    withDefaults({ port: 0, upstreams: [{ url: fake.url }], limits: { bodyBytes: BODY_LIMIT } }),
    { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } },
  );
});

app.after(async () => {
  await gateway?.close();
  await fake?.close();
});

app('GET /health is ok', async () => {
  const res = await fetch(`${gateway.url}/health`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(await res.json(), { status: 'ok' });
});

app('GET /metrics is Prometheus text with the request counter', async () => {
  await (await fetch(`${gateway.url}/health?probe=1`)).text();
  const res = await fetch(`${gateway.url}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  assert.match(text, '# TYPE slotkeeper_http_requests_total counter');
  assert.match(text, 'slotkeeper_http_requests_total{route="health",model="none",status="200"}');
  assert.match(text, 'slotkeeper_upstream_up{upstream="0"} 1');
});

app('a chat completion is forwarded with id_slot and cache_prompt, and its timings are learned', async () => {
  const res = await post('/v1/chat/completions', JSON.stringify({ model: 'anything', messages: [{ role: 'user', content: 'hi there' }] }));
  assert.is(res.status, 200);
  assert.is(res.headers.get('x-slotkeeper-upstream'), '0');
  assert.is(res.headers.get('x-slotkeeper-decision'), 'cold');
  const body = (await res.json()) as { object: string; timings: { prompt_n: number } };
  assert.is(body.object, 'chat.completion');
  const sent = fake.requests.filter((r) => r.path === '/v1/chat/completions').at(-1)!;
  assert.ok(sent.idSlot === 0 || sent.idSlot === 1, `id_slot ${sent.idSlot}`);
  assert.is(res.headers.get('x-slotkeeper-slot'), String(sent.idSlot));
  assert.is((sent.body as { cache_prompt: boolean }).cache_prompt, true);
  assert.is((sent.body as { model: string }).model, 'anything', 'the body is otherwise what the client sent');
  const text = await metricsText();
  assert.match(text, 'slotkeeper_http_requests_total{route="chat_completions",model="fake-model.gguf",status="200"} 1');
  assert.match(text, /slotkeeper_prompt_tokens_total\{kind="evaluated"\} [1-9]/);
});

app('/v1/completions is forwarded the same way', async () => {
  const res = await post('/v1/completions', JSON.stringify({ prompt: 'once upon a time' }));
  assert.is(res.status, 200);
  const sent = fake.requests.filter((r) => r.path === '/v1/completions').at(-1)!;
  assert.type(sent.idSlot, 'number');
});

app('GET /v1/models is the fleet\'s merged list', async () => {
  const res = await fetch(`${gateway.url}/v1/models`);
  const body = (await res.json()) as { object: string; data: { id: string }[] };
  assert.is(body.object, 'list');
  assert.equal(body.data.map((m) => m.id), ['fake-model.gguf']);
});

app('any other path passes through to the upstream, its status and body untouched', async () => {
  const props = await fetch(`${gateway.url}/props`);
  assert.is(props.status, 200);
  assert.type(((await props.json()) as { total_slots: number }).total_slots, 'number');
  const res = await fetch(`${gateway.url}/no/such/path?x=1`);
  assert.is(res.status, 404);
  assert.is(fake.requests.at(-1)?.path, '/no/such/path');
  await res.arrayBuffer();
  const text = await metricsText();
  assert.match(text, 'slotkeeper_http_requests_total{route="passthrough",model="fake-model.gguf",status="404"} 1');
  assert.not.match(text, '/no/such/path');
});

app('a route of slotkeeper\'s own with the wrong method is 405 with allow', async () => {
  const res = await fetch(`${gateway.url}/v1/chat/completions`);
  assert.is(res.status, 405);
  assert.is(res.headers.get('allow'), 'POST');
  assert.is((await errorOf(res)).code, 'method_not_allowed');
});

app('a body over the limit is 413 body_too_large (declared length)', async () => {
  const res = await post('/v1/chat/completions', JSON.stringify({ model: 'm', pad: 'x'.repeat(400) }));
  assert.is(res.status, 413);
  assert.is(res.headers.get('connection'), 'close');
  const error = await errorOf(res);
  assert.is(error.code, 'body_too_large');
  assert.is(error.type, 'invalid_request_error');
});

app('a body over the limit is 413 body_too_large (chunked)', async () => {
  const res = await postChunked('/v1/chat/completions', ['{"model":"m",', `"pad":"${'x'.repeat(200)}`, `${'x'.repeat(200)}"}`]);
  assert.is(res.status, 413);
  assert.is(res.connection, 'close');
  assert.is(JSON.parse(res.body).error.code, 'body_too_large');
});

app('malformed JSON is 400 invalid_json; a non-object or a missing prompt is 400 invalid_request', async () => {
  const bad = await post('/v1/chat/completions', '{"model": ');
  assert.is(bad.status, 400);
  assert.is((await errorOf(bad)).code, 'invalid_json');
  const array = await post('/v1/chat/completions', '[1,2]');
  assert.is(array.status, 400);
  assert.is((await errorOf(array)).code, 'invalid_request');
  const noMessages = await post('/v1/chat/completions', '{"model":"m"}');
  assert.is(noMessages.status, 400);
  assert.is((await errorOf(noMessages)).code, 'invalid_request');
});

app('every response has a unique x-request-id, also forwarded upstream', async () => {
  const responses = await Promise.all([
    fetch(`${gateway.url}/health`),
    fetch(`${gateway.url}/nope`),
    post('/v1/chat/completions', 'not json'),
    post('/v1/chat/completions', '{"messages":[{"role":"user","content":"x"}]}'),
  ]);
  const ids = await Promise.all(responses.map(async (res) => {
    await res.arrayBuffer();
    return res.headers.get('x-request-id');
  }));
  for (const id of ids) assert.ok(id !== null && id.length > 0);
  assert.is(new Set(ids).size, ids.length);
  assert.is(fake.requests.find((r) => r.path === '/nope')?.headers['x-request-id'], ids[1]);
});

app.run();

const failures = suite('app: unexpected failures');

let failing: RunningServer;
const reported: { err: unknown; requestId: string }[] = [];

setup(failures, async () => {
  const brokenPool: WorkerPool = {
    analyze: () => Promise.reject(new Error('pool exploded')),
    destroy: () => Promise.resolve(),
    queueSize: () => 0,
  };
  const config = withDefaults();
  const metrics = createMetrics();
  const handler = createApp({
    config, metrics, ids: createRequestIds(), pool: brokenPool, client: new UpstreamClient(),
    cache: await ResponseCache.open(config.responseCache, { metrics }),
    router: new Router({ config, metrics, now: () => 0, leases: { acquire: () => Promise.reject(new Error('unused')), tryAcquire: () => null, isBusy: () => false, waitingFor: () => 0 } }),
    fleet: { resolveModel: () => { throw new Error('unused'); }, reportFailure: () => {}, modelList: () => ({}) },
    authorized: () => true,
    onError: (err, requestId) => reported.push({ err, requestId }),
  });
  failing = await listen(handler, { host: '127.0.0.1', port: 0 });
});

failures.after(async () => {
  await failing?.close();
});

failures('a foreign error is 500 internal_error and reported with the request id', async () => {
  const res = await fetch(`${failing.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
  assert.is(res.status, 500);
  const error = await errorOf(res);
  assert.is(error.code, 'internal_error');
  assert.is(error.type, 'server_error');
  assert.match(error.message, /slotkeeper/);
  assert.not.match(error.message, /exploded/);
  assert.is(reported.length, 1);
  assert.is(reported[0]?.requestId, res.headers.get('x-request-id'));
  assert.match(String((reported[0]?.err as Error).message), 'pool exploded');
});

failures.run();

const auth = suite('app: gateway token');
let guarded: Gateway;
let guardedFake: FakeUpstream;
const TOKEN = 'sk-gateway-secret';

setup(auth, async () => {
  guardedFake = await startFakeUpstream({ slots: 1 });
  guarded = await startGateway(withDefaults({ port: 0, upstreams: [{ url: guardedFake.url }], authToken: TOKEN }), {
    defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 },
  });
});

auth.after(async () => {
  await guarded?.close();
  await guardedFake?.close();
});

const chatBody = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });

auth('without the token: 401 unauthorized with WWW-Authenticate, and nothing reaches the upstream', async () => {
  const before = guardedFake.requests.length;
  for (const headers of [{}, { authorization: 'Bearer wrong' }, { 'x-api-key': TOKEN.slice(0, -1) }, { authorization: TOKEN }] as Record<string, string>[]) {
    const res = await fetch(`${guarded.url}/v1/chat/completions`, { method: 'POST', body: chatBody, headers: { 'content-type': 'application/json', ...headers } });
    assert.is(res.status, 401, JSON.stringify(headers));
    assert.is(res.headers.get('www-authenticate'), 'Bearer');
    assert.is((await errorOf(res)).code, 'unauthorized');
  }
  const probes = guardedFake.requests.slice(before).filter((r) => r.method === 'POST');
  assert.is(probes.length, 0);
});

auth('with the token (Bearer or x-api-key) the request goes through, and the token is not forwarded', async () => {
  for (const headers of [{ authorization: `Bearer ${TOKEN}` }, { 'x-api-key': TOKEN }] as Record<string, string>[]) {
    const res = await fetch(`${guarded.url}/v1/chat/completions`, { method: 'POST', body: chatBody, headers: { 'content-type': 'application/json', ...headers } });
    assert.is(res.status, 200);
    await res.arrayBuffer();
    const sent = guardedFake.requests.at(-1)!;
    assert.is(sent.headers.authorization, undefined);
    assert.is(sent.headers['x-api-key'], undefined);
  }
});

auth('/health stays open for load balancers', async () => {
  assert.is((await fetch(`${guarded.url}/health`)).status, 200);
  assert.is((await fetch(`${guarded.url}/metrics`)).status, 401);
});

auth.run();

const leaving = suite('app: a client that leaves');
let stuck: FakeUpstream;
let front: Gateway;

setup(leaving, async () => {
  stuck = await startFakeUpstream({ fail: (r) => (r.path === '/hang' ? 'hang' : undefined) });
  front = await startGateway(withDefaults({ port: 0, upstreams: [{ url: stuck.url }] }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
});
leaving.after(async () => {
  await front?.close();
  await stuck?.close();
});

leaving('leaving a passthrough request before the server answers does not take the server out of service', async () => {
  const left = new AbortController();
  const pending = fetch(`${front.url}/hang`, { signal: left.signal }).catch((err: unknown) => err);
  while (!stuck.requests.some((r) => r.path === '/hang')) await new Promise((r) => setImmediate(r));
  left.abort();
  await pending;
  // The gateway cut its upstream call (the fake sees the socket close) after reacting to the abort.
  while (!stuck.requests.some((r) => r.path === '/hang' && r.abandoned)) await new Promise((r) => setImmediate(r));
  assert.is(front.fleet.upstreams[0]!.state, 'ready');
});

leaving.run();
