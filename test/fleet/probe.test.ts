// probe() against scripted answers: the shapes real llama-server gives are covered by
// fleet.test.ts; here, the ones a test cannot easily make a real server give.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ProbeOptions, type ProbeResult, probe } from '../../src/fleet/probe.js';

// --- helpers -------------------------------------------------------------------------------

type Answer = { status: number; body: unknown } | 'refused' | 'hang';

const llamaModels = { object: 'list', data: [{ id: 'tiny', aliases: ['tiny', 't'], owned_by: 'llamacpp', created: 7, meta: { n_ctx: 1024 } }] };
const llamaProps = { total_slots: 2, default_generation_settings: { n_ctx: 4096 }, is_sleeping: false };
const llamaSlots = [{ id: 0, n_ctx: 2048 }, { id: 1, n_ctx: 2048 }];
const loading = { error: { message: 'Loading model', type: 'unavailable_error', code: 503 } };

/** A fetch that answers each path from `answers` (404 when missing) and records what it was asked. */
function fakeFetch(answers: Record<string, Answer>, seen: Array<{ path: string; auth: string | null }> = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const path = new URL(String(input)).pathname;
    const headers = new Headers(init?.headers);
    seen.push({ path, auth: headers.get('authorization') });
    const answer = answers[path] ?? { status: 404, body: { error: { message: 'File Not Found' } } };
    if (answer === 'refused') throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
    if (answer === 'hang') {
      return new Promise((_, reject) => {
        // A real socket keeps the process alive; AbortSignal.timeout alone does not (it is unref'd).
        const keepAlive = setTimeout(() => {}, 10_000);
        init?.signal?.addEventListener('abort', () => { clearTimeout(keepAlive); reject(init.signal!.reason); }, { once: true });
      });
    }
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    return new Response(text, { status: answer.status });
  }) as typeof fetch;
}

const ok = (body: unknown): Answer => ({ status: 200, body });

function run(answers: Record<string, Answer>, options: Partial<ProbeOptions> = {}): Promise<ProbeResult> {
  return probe({ url: 'http://up:1', apiKey: null, timeoutMs: 1000, readSlots: true, fetch: fakeFetch(answers), ...options });
}

const llama = { '/health': ok({ status: 'ok' }), '/props': ok(llamaProps), '/v1/models': ok(llamaModels), '/slots': ok(llamaSlots) };

// --- suites ----------------------------------------------------------------------------------

const answers = suite('probe: answers');

answers('llama-server: models with aliases, slot ids and n_ctx from /slots', async () => {
  assert.equal(await run(llama), {
    ok: true,
    models: [{ id: 'tiny', aliases: ['tiny', 't'], ownedBy: 'llamacpp', created: 7 }],
    slotIds: [0, 1],
    nCtx: 2048,
    sleeping: false,
  });
});

answers('without reading /slots: slot ids from total_slots, n_ctx from /props', async () => {
  const seen: Array<{ path: string; auth: string | null }> = [];
  const result = await run(llama, { readSlots: false, fetch: fakeFetch(llama, seen) });
  assert.equal(result.ok && [result.slotIds, result.nCtx], [[0, 1], 4096]);
  assert.not.ok(seen.some((s) => s.path === '/slots'));
});

answers('/slots disabled (501, no --slots): falls back to /props', async () => {
  const result = await run({ ...llama, '/slots': { status: 501, body: { error: { code: 501, message: 'This server does not support slots endpoint.' } } } });
  assert.equal(result.ok && [result.slotIds, result.nCtx], [[0, 1], 4096]);
});

answers('a sleeping server is not asked for /slots, which would wake it', async () => {
  const seen: Array<{ path: string; auth: string | null }> = [];
  const answersAsleep = { ...llama, '/props': ok({ ...llamaProps, is_sleeping: true }) };
  const result = await run(answersAsleep, { fetch: fakeFetch(answersAsleep, seen) });
  assert.equal(result.ok && [result.sleeping, result.slotIds], [true, [0, 1]]);
  assert.equal(seen.map((s) => s.path).sort(), ['/health', '/props', '/v1/models']);
});

answers('llama-swap: plain "OK" health, no /props or /slots, many models', async () => {
  const result = await run({
    '/health': ok('OK'),
    '/v1/models': ok({ object: 'list', data: [{ id: 'qwen', object: 'model', owned_by: 'llama-swap', created: 1 }, { id: 'llama', object: 'model', owned_by: 'llama-swap', created: 1 }] }),
  });
  assert.equal(result, {
    ok: true,
    models: [{ id: 'qwen', aliases: [], ownedBy: 'llama-swap', created: 1 }, { id: 'llama', aliases: [], ownedBy: 'llama-swap', created: 1 }],
    slotIds: null,
    nCtx: null,
    sleeping: false,
  });
});

answers('sends the API key as a Bearer token on every request', async () => {
  const seen: Array<{ path: string; auth: string | null }> = [];
  await run(llama, { apiKey: 'sekrit', fetch: fakeFetch(llama, seen) });
  assert.is(seen.length, 4);
  for (const s of seen) assert.is(s.auth, 'Bearer sekrit', s.path);
});

const failures = suite('probe: failures');

// [name, answers, kind, error pattern]
const table: Array<[string, Record<string, Answer>, string, RegExp]> = [
  ['model loading: /health 503', { ...llama, '/health': { status: 503, body: loading } }, 'loading', /answered 503: Loading model/],
  ['connection refused', { '/health': 'refused' }, 'unreachable', /fetch failed \(ECONNREFUSED\)/],
  ['wrong API key', { ...llama, '/props': { status: 401, body: { error: { message: 'Invalid API Key' } } } }, 'http', /GET \/props answered 401: Invalid API Key/],
  ['no /v1/models', { ...llama, '/v1/models': { status: 404, body: 'Not Found' } }, 'http', /GET \/v1\/models answered 404: Not Found/],
  ['/v1/models without data', { ...llama, '/v1/models': ok({ object: 'list' }) }, 'invalid', /without a data array/],
  ['/v1/models lists nothing', { ...llama, '/v1/models': ok({ object: 'list', data: [] }) }, 'invalid', /lists no models/],
  ['/props is not JSON', { ...llama, '/props': ok('<html>') }, 'invalid', /not JSON/],
  ['/health 500', { ...llama, '/health': { status: 500, body: 'boom' } }, 'http', /GET \/health answered 500: boom/],
];

for (const [name, script, kind, pattern] of table) {
  failures(name, async () => {
    const result = await run(script);
    assert.is(result.ok, false);
    if (!result.ok) {
      assert.is(result.kind, kind);
      assert.match(result.error, pattern);
    }
  });
}

failures('a server that does not answer in time: timeout', async () => {
  const result = await run({ ...llama, '/v1/models': 'hang' }, { timeoutMs: 50 });
  assert.equal(result, { ok: false, kind: 'timeout', error: 'no answer within 50 ms' });
});

failures('aborted by the caller: aborted, not timeout', async () => {
  const controller = new AbortController();
  const pending = run({ '/health': 'hang' }, { signal: controller.signal, timeoutMs: 10_000 });
  controller.abort();
  assert.equal(await pending, { ok: false, kind: 'aborted', error: 'probe aborted' });
});

failures('a keep-alive connection the server closed while idle is retried once; a second socket failure fails', async () => {
  const socketError = () => new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
  const flaky = (failures: number): typeof fetch => {
    const inner = fakeFetch(llama);
    let left = failures;
    return ((input: RequestInfo | URL, init?: RequestInit) => (new URL(String(input)).pathname === '/props' && left-- > 0 ? Promise.reject(socketError()) : inner(input, init))) as typeof fetch;
  };
  assert.is((await run(llama, { fetch: flaky(1) })).ok, true);
  const twice = await run(llama, { fetch: flaky(2) });
  assert.is(twice.ok, false);
});

failures.run();

const multi = suite('probe: multi-model upstreams');

const swapModels = { object: 'list', data: [{ id: 'm1', object: 'model', created: 9, owned_by: 'llama-swap' }, { id: 'm2', object: 'model', created: 9, owned_by: 'llama-swap' }] };
const swap = {
  '/health': ok('OK'), '/v1/models': ok(swapModels),
  '/running': ok({ running: [{ model: 'm1', state: 'ready', cmd: 'llama-server', proxy: 'http://127.0.0.1:9', ttl: 0, name: '', description: '' }] }),
  '/upstream/m1/props': ok(llamaProps), '/upstream/m1/slots': ok(llamaSlots),
};

multi('llama-swap: models from /v1/models, loaded set from /running, slots of loaded models only', async () => {
  const seen: Array<{ path: string; auth: string | null }> = [];
  const result = await run(swap, { kind: 'llama-swap', fetch: fakeFetch(swap, seen) });
  assert.equal(result, {
    ok: true,
    models: [{ id: 'm1', aliases: [], ownedBy: 'llama-swap', created: 9 }, { id: 'm2', aliases: [], ownedBy: 'llama-swap', created: 9 }],
    slotIds: null, nCtx: null, sleeping: false,
    loaded: ['m1'], modelFacts: { m1: { slotIds: [0, 1], nCtx: 2048 } }, capacity: 1,
  });
  assert.not.ok(seen.some((s) => s.path.startsWith('/upstream/m2')), 'asking m2 through /upstream would load it');
  assert.not.ok(seen.some((s) => s.path === '/slots'));
});

multi('a model whose slots are known is not asked again (each /upstream call may race a swap)', async () => {
  const seen: Array<{ path: string; auth: string | null }> = [];
  const result = await run(swap, { kind: 'llama-swap', discoverModel: () => false, fetch: fakeFetch(swap, seen) });
  assert.equal(result.ok && result.modelFacts, {});
  assert.not.ok(seen.some((s) => s.path.startsWith('/upstream/')));
});

multi('a loaded model that answers 503 (swapped out meanwhile, loading) leaves the probe good', async () => {
  const result = await run({ ...swap, '/upstream/m1/props': { status: 503, body: 'loading' } }, { kind: 'llama-swap' });
  assert.equal(result.ok && [result.loaded, result.modelFacts], [['m1'], {}]);
});

multi('a loaded model whose connection is cut (its process stopped mid-read) leaves the probe good', async () => {
  const result = await run({ ...swap, '/upstream/m1/slots': 'refused' }, { kind: 'llama-swap' });
  assert.equal(result.ok && [result.loaded, result.modelFacts], [['m1'], {}]);
});

multi('a loaded model that does not answer in time still fails the probe: timeout', async () => {
  const result = await run({ ...swap, '/upstream/m1/slots': 'hang' }, { kind: 'llama-swap', timeoutMs: 50 });
  assert.equal(result, { ok: false, kind: 'timeout', error: 'no answer within 50 ms' });
});

const routerModels = { object: 'list', data: [
  { id: 'r1', aliases: [], owned_by: 'llamacpp', created: 3, status: { value: 'loaded' } },
  { id: 'r2', aliases: [], owned_by: 'llamacpp', created: 3, status: { value: 'unloaded' } },
] };

multi('router mode: loaded set from /v1/models status, capacity from /props max_instances, ?model= reads', async () => {
  const seen: string[] = [];
  const fetchImpl = (async (input: string | URL | Request) => {
    const url = new URL(String(input));
    seen.push(`${url.pathname}${url.search}`);
    const body = url.pathname === '/health' ? { status: 'ok' }
      : url.pathname === '/v1/models' ? routerModels
      : url.pathname === '/props' && url.search === '' ? { role: 'router', max_instances: 2, default_generation_settings: { n_ctx: 0 } }
      : url.pathname === '/props' ? llamaProps
      : llamaSlots;
    return new Response(JSON.stringify(body), { status: 200 });
  }) as typeof fetch;
  const result = await run({}, { kind: 'router', fetch: fetchImpl });
  assert.equal(result.ok && [result.loaded, result.modelFacts, result.capacity], [['r1'], { r1: { slotIds: [0, 1], nCtx: 2048 } }, 2]);
  assert.ok(seen.includes('/props?model=r1&autoload=false'));
  assert.ok(seen.includes('/slots?model=r1&autoload=false'));
  assert.not.ok(seen.some((s) => s.includes('r2')), 'an unloaded model is never asked');
  assert.not.ok(seen.includes('/slots'), 'the router\'s own /slots wants a model');
});

answers.run();
multi.run();
