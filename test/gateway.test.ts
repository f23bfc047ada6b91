// The gateway in front of REAL llama-servers: prefix reuse across turns, side requests that do
// not evict long contexts, aborts that free the slot at once, failover, and the official openai
// client working unchanged.
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../bench/rig/server.js';
import { withDefaults } from '../src/config/config.js';
import { type Gateway, startGateway } from '../src/gateway.js';
import { rigServer } from './helpers/llama.js';
import { setup } from './helpers/setup.js';

interface Timings { cache_n: number; prompt_n: number }
interface Chat { choices: { message: { content: string } }[]; timings: Timings }

const words = (seed: string, n: number) => Array.from({ length: n }, (_, i) => `${seed}${i % 97} ${i}`).join(' ');

async function chat(gateway: Gateway, messages: { role: string; content: string }[], extra: Record<string, unknown> = {}): Promise<Chat> {
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages, max_tokens: 4, temperature: 0, ...extra }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`status ${res.status}: ${text}`);
  return JSON.parse(text) as Chat;
}

async function start(servers: LlamaServer[], extra: Parameters<typeof withDefaults>[0] = {}): Promise<Gateway> {
  return startGateway(withDefaults({
    port: 0, upstreams: servers.map((s) => ({ url: s.url, ramCacheTokens: 0 })),
    fleet: { probeIntervalMs: 200, probeTimeoutMs: 2_000 }, ...extra,
  }), { defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 } });
}

// One server, two slots, no RAM cache: every reuse must come from slot choice.
const single = suite('gateway: one llama-server');
let server: LlamaServer;
let gateway: Gateway;

setup(single, async () => {
  server = await rigServer({ slots: 2, cacheRamMiB: 0 });
  gateway = await start([server]);
});
single.after(async () => {
  await gateway?.close();
  await server?.stop();
});

single('a second turn reuses its prefix', async () => {
  const history = [{ role: 'system', content: words('doc', 300) }, { role: 'user', content: 'first question' }];
  const first = await chat(gateway, history);
  const second = await chat(gateway, [...history, { role: 'assistant', content: first.choices[0]!.message.content }, { role: 'user', content: 'second' }]);
  const firstTotal = first.timings.prompt_n + first.timings.cache_n;
  assert.ok(second.timings.cache_n >= firstTotal - 2, `reused ${second.timings.cache_n} of ${firstTotal}`);
  assert.ok(second.timings.prompt_n < 40, `evaluated ${second.timings.prompt_n}`);
});

single('a short side request does not evict a long context', async () => {
  const long = [{ role: 'system', content: words('ctx', 400) }, { role: 'user', content: 'q1' }];
  const other = [{ role: 'system', content: words('zzz', 200) }, { role: 'user', content: 'q1' }];
  const a1 = await chat(gateway, long);
  await chat(gateway, other);
  // Both slots are now full; the side request must overwrite the cheaper context (the shorter
  // one), never the long one, and the long conversation's next turn must reuse it all.
  await chat(gateway, [{ role: 'user', content: 'write a title for: hello' }]);
  const a2 = await chat(gateway, [...long, { role: 'assistant', content: a1.choices[0]!.message.content }, { role: 'user', content: 'q2' }]);
  const total = a1.timings.prompt_n + a1.timings.cache_n;
  assert.ok(a2.timings.cache_n >= total - 2, `long context reused ${a2.timings.cache_n} of ${total}`);
});

single('a client aborting mid-stream frees its slot at once', async () => {
  const controller = new AbortController();
  const res = await fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
    body: JSON.stringify({ messages: [{ role: 'user', content: 'tell a long story' }], max_tokens: 3000, stream: true, ignore_eos: true }),
  });
  const reader = res.body!.getReader();
  await reader.read(); // the stream has started: a slot is leased
  const held = [0, 1].filter((slot) => gateway.leases.isBusy(`0/${slot}`));
  assert.is(held.length, 1, 'one slot is leased while streaming');
  controller.abort();
  await reader.read().catch(() => undefined);
  // The lease goes within the same turn of the event loop as the close; allow a few ticks.
  for (let i = 0; i < 100 && gateway.leases.isBusy(`0/${held[0]}`); i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(gateway.leases.isBusy(`0/${held[0]}`), false, 'lease released');
  // llama-server saw the connection close and stopped generating: the slot serves the next request now.
  const next = await chat(gateway, [{ role: 'user', content: 'next' }], { id_slot: held[0] });
  assert.type(next.timings.prompt_n, 'number');
  const slots = (await (await fetch(`${server.url}/slots`)).json()) as { id: number; is_processing: boolean }[];
  assert.is(slots.every((s) => !s.is_processing), true, 'no generation left running upstream');
});

single('requests queued behind streams all succeed (llama-server closes a kept-alive connection after a stream)', async () => {
  const stream = (i: number) => fetch(`${gateway.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: `${words('q', 60)} ${i}` }], max_tokens: 8, stream: true }),
  }).then(async (res) => `${res.status} ${res.status === 200 ? '' : await res.text()}`.trim());
  const statuses = await Promise.all([0, 1, 2, 3, 4, 5].map(stream));
  assert.equal(statuses, ['200', '200', '200', '200', '200', '200']);
  assert.is(gateway.fleet.upstreams[0]!.state, 'ready', 'no request failure drained the server');
});

single('the official openai client works unchanged, streaming and not', async () => {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const models = await client.models.list();
  assert.ok(models.data.length === 1);
  const completion = await client.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0 });
  assert.is(completion.object, 'chat.completion');
  assert.type(completion.choices[0]?.message.content, 'string');
  const stream = await client.chat.completions.create({ model: 'any', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0, stream: true });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(chunks >= 2, `${chunks} chunks`);
  assert.is(text, completion.choices[0]?.message.content, 'temperature 0: streamed text equals the non-streamed answer');
  const legacy = await client.completions.create({ model: 'any', prompt: 'once upon', max_tokens: 4, temperature: 0 });
  assert.is(legacy.object, 'text_completion');
});

single('answers are the same through slotkeeper as straight from llama-server', async () => {
  const body = { messages: [{ role: 'user', content: 'compare me' }], max_tokens: 12, temperature: 0 };
  const direct = await (await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json() as Chat;
  const via = await chat(gateway, body.messages, { max_tokens: 12 });
  assert.is(via.choices[0]!.message.content, direct.choices[0]!.message.content);
});

single.run();

// Two servers: one dies, requests move to the other; with none left, a coded error.
const fleet = suite('gateway: failover');
let a: LlamaServer;
let b: LlamaServer;
let pair: Gateway;

setup(fleet, async () => {
  [a, b] = await Promise.all([rigServer({ slots: 1, cacheRamMiB: 0 }), rigServer({ slots: 1, cacheRamMiB: 0 })]);
  pair = await start([a, b]);
});
fleet.after(async () => {
  await pair?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

fleet('a killed server: requests fail over to the other, then a clean coded error when none is left', async () => {
  await a.stop();
  // Whichever server the scheduler picks, the answer comes back: from b directly or after failover.
  for (let i = 0; i < 3; i++) {
    const answer = await chat(pair, [{ role: 'user', content: `after the kill ${i}` }]);
    assert.type(answer.timings.prompt_n, 'number');
  }
  assert.is.not(pair.fleet.upstreams[0]!.state, 'ready');
  await b.stop();
  const res = await fetch(`${pair.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'anyone?' }], max_tokens: 2 }),
  });
  assert.ok(res.status === 502 || res.status === 503, `status ${res.status}`);
  const error = ((await res.json()) as { error: { code: string; message: string } }).error;
  assert.ok(['upstream_unreachable', 'no_upstream'].includes(error.code), error.code);
  assert.match(error.message, 'slotkeeper');
});

fleet.run();
