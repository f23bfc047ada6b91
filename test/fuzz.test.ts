// Random paths, headers and bodies against a running gateway and a fake llama-server (issue #16),
// bounded in time and deterministic (fixed seed). Invariants: nothing reaches any host but the
// upstream, every error is a coded JSON body in the route's dialect (never a 500), the gateway
// stays up, and its memory stays bounded.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import process from 'node:process';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../src/config/config.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { parseRequestTarget } from '../src/request-target.js';
import { type FakeUpstream, startFakeUpstream } from './helpers/fake-upstream.js';
import { type RawAnswer, rawRequest } from './helpers/raw-request.js';
import { setup } from './helpers/setup.js';

let internal: Server;
let internalHits = 0;
let internalHost = '';
let fake: FakeUpstream;
let gateway: Gateway;

const fuzz = suite('fuzz');

setup(fuzz, async () => {
  internal = createServer((_req, res) => {
    internalHits++;
    res.end('internal');
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  internalHost = `127.0.0.1:${(internal.address() as AddressInfo).port}`;
  fake = await startFakeUpstream({ slots: 2, record: false });
  gateway = await startGateway(withDefaults({ port: 0, upstreams: [{ url: fake.url, apiKey: 'sk-up' }], limits: { bodyBytes: 64 * 1024 } }),
    { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
});

fuzz.after(async () => {
  await gateway?.close();
  await fake?.close();
  await new Promise((resolve) => internal?.close(resolve));
});

const segment = fc.oneof(
  fc.constantFrom('', '.', '..', '%2e', '%2E%2e', '.%2e', '%2f', '%2F%2F', '%5c', '\\', 'v1', 'chat', 'completions', 'completion',
    'messages', 'count_tokens', 'models', 'slots', '0', 'props', 'upstream', 'health', 'metrics', 'tokenize', '%00', '%ZZ', 'HOST'),
  fc.string({ maxLength: 6 }),
);
const path = fc.tuple(fc.array(segment, { maxLength: 6 }), fc.constantFrom('', '?action=erase', '?model=m', '?a=%2f%2f'), fc.boolean())
  .map(([segments, query, absolute]) => {
    const joined = `/${segments.join('/')}`.replaceAll('HOST', () => internalHost) + query;
    return absolute ? `http://${internalHost}${joined}` : joined;
  });
const headers = fc.record({
  'content-type': fc.constantFrom(undefined, 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/JSON; charset=utf-8'),
  origin: fc.constantFrom(undefined, 'https://evil.example', 'null', 'http://127.0.0.1'),
  host: fc.constantFrom(undefined, 'evil.example', 'localhost', internalHost, '[::1]'),
  'x-slotkeeper-cache': fc.constantFrom(undefined, 'only', 'bypass', 'nonsense'),
  authorization: fc.constantFrom(undefined, 'Bearer x', 'Basic Zm9v'),
}, { requiredKeys: [] });
const message = fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool', 7), content: fc.oneof(fc.string(), fc.jsonValue({ maxDepth: 3 })) }, { requiredKeys: [] });
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.record({
    model: fc.constantFrom(undefined, 'm', 'constructor', '__proto__'), messages: fc.oneof(fc.array(message, { maxLength: 4 }), fc.jsonValue({ maxDepth: 2 })),
    prompt: fc.oneof(fc.string(), fc.array(fc.integer(), { maxLength: 5 })), max_tokens: fc.oneof(fc.integer(), fc.string()),
    stream: fc.boolean(), temperature: fc.oneof(fc.double(), fc.constant('0')), seed: fc.oneof(fc.integer(), fc.maxSafeInteger()),
    id_slot: fc.integer({ min: -2, max: 4 }), tools: fc.jsonValue({ maxDepth: 3 }),
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }),
);
const method = fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

fuzz('random requests: only the upstream is reached, every error is coded, the gateway stays up', async () => {
  const rssBefore = process.memoryUsage().rss;
  await fc.assert(fc.asyncProperty(method, path, headers, body, async (m, target, h, b) => {
    const sent: Record<string, string> = {};
    for (const [name, value] of Object.entries(h)) if (value !== undefined) sent[name] = value;
    let answer: RawAnswer;
    try {
      answer = await rawRequest(gateway.url, m, target, { headers: sent, ...(m === 'GET' || m === 'HEAD' ? {} : { body: b }) });
    } catch (err) {
      // Node's client will not send a target with spaces or control characters: nothing to test.
      if ((err as NodeJS.ErrnoException).code === 'ERR_UNESCAPED_CHARACTERS') return;
      throw err;
    }
    assert.ok(answer.status >= 200 && answer.status < 600, `${m} ${target}: ${answer.status}`);
    assert.is.not(answer.status, 500, `${m} ${target}: ${answer.body}`);
    // Node's own parser refuses malformed requests before the app sees them (no request id).
    const fromApp = answer.headers['x-request-id'] !== undefined;
    if (answer.status >= 400 && m !== 'HEAD' && fromApp) {
      const parsed = JSON.parse(answer.body) as { type?: string; error?: { code?: unknown; type?: unknown } };
      assert.ok(typeof parsed.error === 'object' && parsed.error !== null, `${m} ${target}: ${answer.body}`);
      // The route's dialect: Anthropic's shape on /v1/messages*, however the path was spelled.
      const route = parseRequestTarget(target)?.route;
      if (route === '/v1/messages' || route === '/v1/messages/count_tokens') assert.is(parsed.type, 'error', `${m} ${target}: ${answer.body}`);
      else if (answer.headers['server'] === undefined) assert.type(parsed.error.code, 'string', `${m} ${target}: ${answer.body}`);
    }
    assert.is(internalHits, 0, `${m} ${target} reached the internal host`);
  }), { seed: 16, numRuns: 400, interruptAfterTimeLimit: 6000, markInterruptAsFailure: false });
  assert.is((await rawRequest(gateway.url, 'GET', '/health')).status, 200);
  const grown = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  assert.ok(grown < 200, `RSS grew by ${grown.toFixed(0)} MiB`);
});

fuzz.run();
