// Runtime smoke test: the node:http seam serves the whole gateway (fleet probes, workers, the
// lease queue, forwarding and SSE relay) in front of a fake llama-server, on every runtime.
import { Agent, get as httpGet } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { listen } from '../../src/runtime/http-server.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { setup } from '../helpers/setup.js';

// GET via node:http, so the test controls the agent (fetch's connection reuse is not ours to see).
function get(url: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
      res.on('error', reject);
    }).on('error', reject);
  });
}

let server: Gateway;
let fake: FakeUpstream;
const http = suite('runtime: http-server');

setup(http, async () => {
  fake = await startFakeUpstream({ slots: 2, answer: 'one two three four' });
  server = await startGateway(withDefaults({ port: 0, upstreams: [{ url: fake.url }], limits: { bodyBytes: 1024 } }), {
    defaultMetrics: true, pool: { minThreads: 1, maxThreads: 1 },
  });
});

http.after(async () => {
  await server?.close();
  await fake?.close();
});

http('listens on the port it reports', () => {
  assert.ok(server.port > 0);
  assert.is(server.url, `http://127.0.0.1:${server.port}`);
});

http('GET /health answers with a request id', async () => {
  const res = await fetch(`${server.url}/health`);
  assert.is(res.status, 200);
  assert.equal(await res.json(), { status: 'ok' });
  assert.ok(res.headers.get('x-request-id'));
});

http('the request was counted by route', async () => {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(text, 'slotkeeper_http_requests_total{route="health",model="none",status="200"} 1');
});

http('a streamed chat completion is relayed event by event, with id_slot set upstream', async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], stream: true }),
  });
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', 'text/event-stream');
  const text = await res.text();
  const events = text.split('\n\n').filter((e) => e.startsWith('data: '));
  assert.is(events.at(-1), 'data: [DONE]');
  const deltas = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { choices: { delta: { content?: string } }[] });
  assert.is(deltas.map((d) => d.choices[0]?.delta.content ?? '').join('').trim(), 'one two three four');
  assert.type(fake.requests.at(-1)?.idSlot, 'number');
});

http('a POST body reaches the worker', async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: '{"model":' });
  assert.is(res.status, 400);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'invalid_json');
});

http('a body over the limit is refused', async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: 'x'.repeat(2048) });
  assert.is(res.status, 413);
  assert.is(((await res.json()) as { error: { code: string } }).error.code, 'body_too_large');
});

http.run();

// close() must stop the server even with connections open, or tests and shutdown hang.
const closing = suite('runtime: http-server close');

closing('resolves with an idle keep-alive connection open', async () => {
  const server = await listen((_req, res) => { res.end('ok'); }, { host: '127.0.0.1', port: 0 });
  const agent = new Agent({ keepAlive: true });
  try {
    const body = await get(`${server.url}/`, agent);
    assert.is(body, 'ok');
    await server.close();
  } finally {
    agent.destroy();
  }
});

closing('resolves with a request in flight, which the client sees fail', async () => {
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
  // A handler that never answers.
  const server = await listen(() => arrived(), { host: '127.0.0.1', port: 0 });
  const agent = new Agent({ keepAlive: false });
  try {
    const pending = get(`${server.url}/`, agent).then(
      () => 'answered',
      () => 'failed',
    );
    await requestArrived;
    await server.close();
    assert.is(await pending, 'failed');
  } finally {
    agent.destroy();
  }
});

closing('is idempotent', async () => {
  const server = await listen((_req, res) => { res.end(); }, { host: '127.0.0.1', port: 0 });
  await Promise.all([server.close(), server.close()]);
  await server.close();
});

closing.run();

const failing = suite('runtime: http-server handler failure');

failing('a handler that throws drops the connection and is reported', async () => {
  const reported: unknown[] = [];
  const server = await listen(() => {
    throw new Error('handler bug');
  }, { host: '127.0.0.1', port: 0, onError: (err) => reported.push(err) });
  const agent = new Agent({ keepAlive: false });
  try {
    const outcome = await get(`${server.url}/`, agent).then(() => 'answered', () => 'dropped');
    assert.is(outcome, 'dropped');
    assert.is(reported.length, 1);
    assert.match((reported[0] as Error).message, 'handler bug');
  } finally {
    agent.destroy();
    await server.close();
  }
});

failing.run();
