// The completions route's failure paths against a fake llama-server: queue limits, upstream
// errors and broken connections, and aborts at every stage — each must answer with a coded error
// (or cut the stream) and leave no lease held.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type PartialConfig, withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from '../helpers/fake-upstream.js';

interface Rig { fake: FakeUpstream; gateway: Gateway }

async function rig(fakeOptions: FakeUpstreamOptions, config: PartialConfig = {}): Promise<Rig> {
  const fake = await startFakeUpstream(fakeOptions);
  const gateway = await startGateway(withDefaults({ port: 0, upstreams: [{ url: fake.url }], ...config }), {
    defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 },
  });
  return { fake, gateway };
}

async function stop(r: Rig | undefined): Promise<void> {
  await r?.gateway.close();
  await r?.fake.close();
}

const send = (r: Rig, extra: Record<string, unknown> = {}, signal?: AbortSignal) => fetch(`${r.gateway.url}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, signal,
  body: JSON.stringify({ messages: [{ role: 'user', content: 'hello' }], ...extra }),
});

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

/** Resolves once `check` holds, polling the event loop (the gateway runs in this process). */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const test = suite('routes/completions');

test('queue full → 429 queue_full with Retry-After; waited too long → 503 queue_timeout', async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 1, answer: 40, tokenDelayMs: 25 }, { limits: { queueLength: 1, queueTimeoutMs: 300 } });
    const busy = send(r, { stream: true });
    await until(() => r!.gateway.leases.isBusy('0/0'), 'the slot to be leased');
    const waiting = send(r);
    await until(() => r!.gateway.leases.waiting() === 1, 'a waiter');
    const full = await send(r);
    assert.is(full.status, 429);
    assert.ok(Number(full.headers.get('retry-after')) >= 1);
    assert.is(await errorCode(full), 'queue_full');
    const timedOut = await waiting;
    assert.is(timedOut.status, 503);
    assert.is(await errorCode(timedOut), 'queue_timeout');
    assert.is((await busy).status, 200);
  } finally {
    await stop(r);
  }
});

test('a client that leaves while queued is removed from the queue', async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 1, answer: 40, tokenDelayMs: 25 });
    const busy = send(r, { stream: true });
    await until(() => r!.gateway.leases.isBusy('0/0'), 'the slot to be leased');
    const controller = new AbortController();
    const waiting = send(r, {}, controller.signal).catch(() => 'aborted');
    await until(() => r!.gateway.leases.waiting() === 1, 'a waiter');
    controller.abort();
    assert.is(await waiting, 'aborted');
    await until(() => r!.gateway.leases.waiting() === 0, 'the waiter to go');
    await (await busy).text();
    await until(() => !r!.gateway.leases.isBusy('0/0'), 'the lease to be released');
    assert.is(r.fake.requests.filter((q) => q.method === 'POST' && !q.path.startsWith('/slots/')).length, 1, 'the abandoned request never went upstream');
  } finally {
    await stop(r);
  }
});

test('an upstream error reaches the client with its own status and body; the lease is released', async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 1, fail: 500 });
    const res = await send(r);
    assert.is(res.status, 500);
    const body = (await res.json()) as { error: { type: string } };
    assert.is(body.error.type, 'server_error', "llama-server's own error shape");
    assert.is(r.gateway.leases.isBusy('0/0'), false);
  } finally {
    await stop(r);
  }
});

test('an upstream that drops the connection before answering → 502 upstream_unreachable naming slotkeeper', async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 1, fail: 'close' });
    const res = await send(r);
    assert.is(res.status, 502);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    assert.is(error.code, 'upstream_unreachable');
    assert.match(error.message, 'slotkeeper');
    assert.is(r.gateway.leases.isBusy('0/0'), false);
  } finally {
    await stop(r);
  }
});

test('an upstream that dies mid-stream cuts the client stream; nothing is learned and the lease is released', async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 1, answer: 20, tokenDelayMs: 2, fail: 'close-mid-stream' });
    const res = await send(r, { stream: true });
    assert.is(res.status, 200);
    const outcome = await res.text().then((t) => (t.includes('[DONE]') ? 'complete' : 'cut'), () => 'cut');
    assert.is(outcome, 'cut');
    await until(() => !r!.gateway.leases.isBusy('0/0'), 'the lease to be released');
    assert.is(r.gateway.router.index.slot(0, 0)?.tokens ?? 0, 0, 'a cut request leaves the slot unknown');
  } finally {
    await stop(r);
  }
});

test('an upstream that goes silent mid-stream is cut after upstreamIdleTimeoutMs', async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 1, answer: 5, tokenDelayMs: 2_000 }, { limits: { upstreamIdleTimeoutMs: 200 } });
    const started = performance.now();
    const res = await send(r, { stream: true });
    const outcome = await res.text().then(() => 'ended', () => 'cut');
    assert.is(outcome, 'cut');
    assert.ok(performance.now() - started < 1_900, 'cut by the idle timeout, not by the end of the stream');
    await until(() => !r!.gateway.leases.isBusy('0/0'), 'the lease to be released');
  } finally {
    await stop(r);
  }
});

test('no response headers within upstreamHeadersTimeoutMs → 504 upstream_timeout', async () => {
  let r: Rig | undefined;
  try {
    // Non-streaming: the fake answers only after generating everything (5 × 1 s).
    r = await rig({ slots: 1, answer: 5, tokenDelayMs: 1_000 }, { limits: { upstreamHeadersTimeoutMs: 200 } });
    const res = await send(r);
    assert.is(res.status, 504);
    assert.is(await errorCode(res), 'upstream_timeout');
    await until(() => !r!.gateway.leases.isBusy('0/0'), 'the lease to be released');
  } finally {
    await stop(r);
  }
});

test("an unknown model with two models served → 404 model_not_found; the client's id_slot is honoured", async () => {
  let r: Rig | undefined;
  try {
    r = await rig({ slots: 3, models: ['a.gguf', 'b.gguf'] });
    const res = await send(r, { model: 'c' });
    assert.is(res.status, 404);
    assert.is(await errorCode(res), 'model_not_found');
    const pinned = await send(r, { model: 'a.gguf', id_slot: 2 });
    assert.is(pinned.status, 200);
    await pinned.arrayBuffer();
    assert.is(r.fake.requests.at(-1)?.idSlot, 2);
  } finally {
    await stop(r);
  }
});

test.run();
