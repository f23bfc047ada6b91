import { request } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../src/app.js';
import { createMetrics, type Metrics } from '../src/metrics.js';
import { createRequestIds } from '../src/request-id.js';
import { listen, type RunningServer } from '../src/runtime/http-server.js';
import { createWorkerPool, type WorkerPool } from '../src/worker-pool.js';
import { setup } from './helpers/setup.js';

const BODY_LIMIT = 64;

let server: RunningServer;
let pool: WorkerPool;
let metrics: Metrics;

const post = (path: string, body: string) =>
  fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });

async function errorOf(res: Response): Promise<{ message: string; type: string; code: string }> {
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await res.json()) as { error: { message: string; type: string; code: string } };
  assert.equal(Object.keys(body.error).sort(), ['code', 'message', 'type']);
  return body.error;
}

// Sends a chunked body (no content-length) in pieces, so the limit is met mid-stream.
function postChunked(path: string, chunks: string[]): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method: 'POST' }, (res) => {
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

const app = suite('app');

setup(app, async () => {
  metrics = createMetrics();
  pool = createWorkerPool({ minThreads: 1, maxThreads: 1 });
  const handler = createApp({ metrics, ids: createRequestIds(), pool, bodyLimitBytes: BODY_LIMIT });
  server = await listen(handler, { host: '127.0.0.1', port: 0 });
});

app.after(async () => {
  await server?.close();
  await pool?.destroy();
});

app('GET /health is ok', async () => {
  const res = await fetch(`${server.url}/health`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(await res.json(), { status: 'ok' });
});

app('GET /metrics is Prometheus text with the request counter', async () => {
  await (await fetch(`${server.url}/health?probe=1`)).text();
  const res = await fetch(`${server.url}/metrics`);
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), metrics.registry.contentType);
  const text = await res.text();
  assert.match(text, '# TYPE slotkeeper_http_requests_total counter');
  assert.match(text, 'slotkeeper_http_requests_total{route="health",status="200"}');
});

app('an unknown path is 404 not_found, counted under route="other"', async () => {
  const res = await fetch(`${server.url}/no/such/path?x=1`);
  assert.is(res.status, 404);
  const error = await errorOf(res);
  assert.is(error.code, 'not_found');
  assert.is(error.type, 'invalid_request_error');
  const text = await metrics.registry.metrics();
  assert.match(text, 'slotkeeper_http_requests_total{route="other",status="404"} 1');
  assert.not.match(text, '/no/such/path');
});

app('a known path with the wrong method is 405 with allow', async () => {
  const res = await fetch(`${server.url}/v1/chat/completions`);
  assert.is(res.status, 405);
  assert.is(res.headers.get('allow'), 'POST');
  assert.is((await errorOf(res)).code, 'method_not_allowed');
});

app('a body over the limit is 413 body_too_large (declared length)', async () => {
  const res = await post('/v1/chat/completions', JSON.stringify({ model: 'm', pad: 'x'.repeat(200) }));
  assert.is(res.status, 413);
  assert.is(res.headers.get('connection'), 'close');
  const error = await errorOf(res);
  assert.is(error.code, 'body_too_large');
  assert.is(error.type, 'invalid_request_error');
});

app('a body over the limit is 413 body_too_large (chunked)', async () => {
  const res = await postChunked('/v1/chat/completions', ['{"model":"m",', `"pad":"${'x'.repeat(40)}`, `${'x'.repeat(40)}"}`]);
  assert.is(res.status, 413);
  assert.is(res.connection, 'close');
  assert.is(JSON.parse(res.body).error.code, 'body_too_large');
});

app('malformed JSON is 400 invalid_json', async () => {
  const res = await post('/v1/chat/completions', '{"model": ');
  assert.is(res.status, 400);
  const error = await errorOf(res);
  assert.is(error.code, 'invalid_json');
  assert.is(error.type, 'invalid_request_error');
});

app('a JSON body that is not an object is 400 invalid_request', async () => {
  const res = await post('/v1/chat/completions', '[1,2]');
  assert.is(res.status, 400);
  assert.is((await errorOf(res)).code, 'invalid_request');
});

app('a valid body is 501 not_implemented until forwarding lands', async () => {
  const res = await post('/v1/chat/completions', '{"model":"m","messages":[]}');
  assert.is(res.status, 501);
  const error = await errorOf(res);
  assert.is(error.code, 'not_implemented');
  assert.is(error.type, 'server_error');
});

app('every response has a unique x-request-id', async () => {
  const responses = await Promise.all([
    fetch(`${server.url}/health`),
    fetch(`${server.url}/nope`),
    post('/v1/chat/completions', 'not json'),
    fetch(`${server.url}/metrics`),
  ]);
  const ids = await Promise.all(responses.map(async (res) => {
    await res.arrayBuffer();
    return res.headers.get('x-request-id');
  }));
  for (const id of ids) assert.ok(id !== null && id.length > 0);
  assert.is(new Set(ids).size, ids.length);
});

app.run();

const failures = suite('app: unexpected failures');

let failing: RunningServer;
const reported: { err: unknown; requestId: string }[] = [];

setup(failures, async () => {
  const brokenPool: WorkerPool = {
    analyze: () => Promise.reject(new Error('pool exploded')),
    destroy: () => Promise.resolve(),
  };
  const handler = createApp({
    metrics: createMetrics(),
    ids: createRequestIds(),
    pool: brokenPool,
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
