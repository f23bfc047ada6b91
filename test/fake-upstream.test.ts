import { Agent, request } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commonPrefixLength, type FakeUpstream, type FakeUpstreamOptions, startFakeUpstream } from './helpers/fake-upstream.js';

// Each test starts its own fake, so options never leak between tests.
async function withFake(options: FakeUpstreamOptions, fn: (fake: FakeUpstream) => Promise<void>): Promise<void> {
  const fake = await startFakeUpstream(options);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

const post = (url: string, body: unknown, headers: Record<string, string> = {}) => fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

/** Splits an SSE body into its `data:` payloads, checking the framing on the way. */
function sseData(text: string): string[] {
  assert.ok(text.endsWith('\n\n'), 'the stream ends with a blank line');
  const events = text.slice(0, -2).split('\n\n');
  return events.map((event) => {
    assert.ok(event.startsWith('data: '), `event ${JSON.stringify(event)} is a data line`);
    return event.slice('data: '.length);
  });
}

async function streamChunks(res: Response): Promise<{ chunks: any[]; done: boolean }> {
  assert.is(res.headers.get('content-type'), 'text/event-stream');
  const data = sseData(await res.text());
  const done = data.at(-1) === '[DONE]';
  return { chunks: (done ? data.slice(0, -1) : data).map((d) => JSON.parse(d)), done };
}

/** Sends raw HTTP and reports how it ended: a status and body, or the socket error. */
function rawPost(url: string, body: unknown): Promise<{ status?: number; error?: string; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
      res.on('error', (err) => resolve({ status: res.statusCode, error: err.message, body: text }));
    });
    req.on('error', (err) => resolve({ error: err.message, body: '' }));
    req.end(JSON.stringify(body));
  });
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ messages: [{ role: 'user', content }], ...extra });

const surface = suite('fake-upstream: llama-server surface');

surface('GET /health, /props, /slots, /v1/models', () => withFake({ slots: 3, nCtx: 2048, models: ['a.gguf', 'b.gguf'] }, async (fake) => {
  const health = await fetch(`${fake.url}/health`);
  assert.is(health.status, 200);
  assert.is(health.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.is(health.headers.get('server'), 'llama.cpp');
  assert.equal(await health.json(), { status: 'ok' });

  const props = await (await fetch(`${fake.url}/props`)).json() as any;
  assert.is(props.total_slots, 3);
  assert.is(props.default_generation_settings.n_ctx, 2048);
  assert.is(props.model_path, 'a.gguf');

  const slots = await (await fetch(`${fake.url}/slots`)).json() as any[];
  assert.equal(slots.map((s) => [s.id, s.n_ctx, s.is_processing]), [[0, 2048, false], [1, 2048, false], [2, 2048, false]]);

  const models = await (await fetch(`${fake.url}/v1/models`)).json() as any;
  assert.is(models.object, 'list');
  assert.equal(models.data.map((m: any) => [m.id, m.object, m.owned_by]), [['a.gguf', 'model', 'llamacpp'], ['b.gguf', 'model', 'llamacpp']]);
  assert.equal(models.models.map((m: any) => m.model), ['a.gguf', 'b.gguf']);
}));

surface('unknown routes answer llama-server\'s 404 body', () => withFake({}, async (fake) => {
  const res = await fetch(`${fake.url}/nope`);
  assert.is(res.status, 404);
  assert.equal(await res.json(), { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } });
}));

surface('invalid JSON is a 500 server_error, as llama-server answers it', () => withFake({}, async (fake) => {
  const res = await post(`${fake.url}/v1/chat/completions`, '{bad');
  assert.is(res.status, 500);
  const body = await res.json() as any;
  assert.is(body.error.type, 'server_error');
  assert.match(body.error.message, /parse_error/);
}));

surface('apiKey guards every route but /health', () => withFake({ apiKey: 'sekrit' }, async (fake) => {
  assert.is((await fetch(`${fake.url}/health`)).status, 200);
  const denied = await fetch(`${fake.url}/props`);
  assert.is(denied.status, 401);
  assert.equal(await denied.json(), { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } });
  assert.is((await fetch(`${fake.url}/props`, { headers: { authorization: 'Bearer sekrit' } })).status, 200);
  assert.is((await post(`${fake.url}/v1/chat/completions`, chat('hi'), { 'x-api-key': 'sekrit' })).status, 200);
}));

surface.run();

const shapes = suite('fake-upstream: completion shapes');

shapes('non-stream chat completion', () => withFake({ answer: 'Hi there friend' }, async (fake) => {
  const res = await post(`${fake.url}/v1/chat/completions`, chat('x'.repeat(40)));
  assert.is(res.status, 200);
  assert.is(res.headers.get('content-type'), 'application/json; charset=utf-8');
  const body = await res.json() as any;
  assert.equal(Object.keys(body), ['choices', 'created', 'model', 'system_fingerprint', 'object', 'usage', 'id', 'timings']);
  assert.is(body.object, 'chat.completion');
  assert.is(body.model, 'fake-model.gguf');
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.choices, [{ finish_reason: 'stop', index: 0, message: { role: 'assistant', content: 'Hi there friend' } }]);
  const promptTokens = Math.ceil(JSON.stringify([{ role: 'user', content: 'x'.repeat(40) }]).length / 4);
  assert.equal(body.usage, { completion_tokens: 3, prompt_tokens: promptTokens, total_tokens: promptTokens + 3, prompt_tokens_details: { cached_tokens: 0 } });
  assert.equal(Object.keys(body.timings), ['cache_n', 'prompt_n', 'prompt_ms', 'prompt_per_token_ms', 'prompt_per_second',
    'predicted_n', 'predicted_ms', 'predicted_per_token_ms', 'predicted_per_second']);
  assert.is(body.timings.prompt_n, promptTokens);
  assert.is(body.timings.predicted_n, 3);
}));

shapes('streamed chat: role chunk, one chunk per token, timings on the finish chunk, [DONE]', () => withFake({ answer: 'a b c' }, async (fake) => {
  const { chunks, done } = await streamChunks(await post(`${fake.url}/v1/chat/completions`, chat('hello', { stream: true })));
  assert.ok(done);
  assert.equal(chunks.map((c) => c.choices[0].delta), [{ role: 'assistant', content: null }, { content: 'a' }, { content: ' b' }, { content: ' c' }, {}]);
  assert.equal(chunks.map((c) => c.choices[0].finish_reason), [null, null, null, null, 'stop']);
  for (const c of chunks) {
    assert.is(c.object, 'chat.completion.chunk');
    assert.is(c.id, chunks[0].id);
  }
  assert.equal(chunks.map((c) => 'timings' in c), [false, false, false, false, true]);
  assert.is(chunks.at(-1).timings.predicted_n, 3);
  assert.not.ok('usage' in chunks.at(-1));
}));

shapes('stream_options.include_usage adds a usage chunk with empty choices, which carries the timings', () => withFake({ answer: 'a b' }, async (fake) => {
  const { chunks, done } = await streamChunks(await post(`${fake.url}/v1/chat/completions`, chat('hello', { stream: true, stream_options: { include_usage: true } })));
  assert.ok(done);
  const [finish, usage] = chunks.slice(-2);
  assert.is(finish.choices[0].finish_reason, 'stop');
  assert.not.ok('timings' in finish);
  assert.equal(usage.choices, []);
  assert.is(usage.usage.completion_tokens, 2);
  assert.is(usage.timings.predicted_n, 2);
}));

shapes('/v1/completions, streamed and not', () => withFake({ answer: 'one two' }, async (fake) => {
  const whole = await (await post(`${fake.url}/v1/completions`, { prompt: 'Hello there' })).json() as any;
  assert.is(whole.object, 'text_completion');
  assert.equal(whole.choices, [{ text: 'one two', index: 0, logprobs: null, finish_reason: 'stop' }]);
  assert.is(whole.usage.completion_tokens, 2);
  assert.ok('timings' in whole);

  const { chunks, done } = await streamChunks(await post(`${fake.url}/v1/completions`, { prompt: 'Hello there', stream: true }));
  assert.ok(done);
  assert.equal(chunks.map((c) => c.choices[0].text), ['one', ' two', '']);
  assert.equal(chunks.map((c) => c.choices[0].finish_reason), [null, null, 'stop']);
  // Completions carry usage and timings on the last chunk without being asked.
  assert.ok('usage' in chunks.at(-1) && 'timings' in chunks.at(-1));
}));

shapes('max_tokens cuts the answer with finish_reason "length"; a number answer is that many tokens', () => withFake({ answer: 10 }, async (fake) => {
  const full = await (await post(`${fake.url}/v1/chat/completions`, chat('q'))).json() as any;
  assert.is(full.usage.completion_tokens, 10);
  assert.is(full.choices[0].message.content, `tok${' tok'.repeat(9)}`);
  const cut = await (await post(`${fake.url}/v1/chat/completions`, chat('q', { max_tokens: 1 }))).json() as any;
  assert.is(cut.choices[0].message.content, 'tok');
  assert.is(cut.choices[0].finish_reason, 'length');
  const { chunks } = await streamChunks(await post(`${fake.url}/v1/chat/completions`, chat('q', { stream: true, n_predict: 2 })));
  assert.is(chunks.length, 4);
}));

shapes('tokenDelayMs spaces the tokens out, one write each', () => withFake({ answer: 'a b c', tokenDelayMs: 15 }, async (fake) => {
  const started = performance.now();
  const res = await post(`${fake.url}/v1/chat/completions`, chat('q', { stream: true }));
  const reader = res.body!.getReader();
  const reads: string[] = [];
  const decoder = new TextDecoder();
  for (let r = await reader.read(); !r.done; r = await reader.read()) reads.push(decoder.decode(r.value));
  const elapsed = performance.now() - started;
  // Four waits (three tokens, then the end), and never everything in one read.
  assert.ok(elapsed >= 4 * 15 - 5, `took ${elapsed} ms`);
  assert.ok(reads.length >= 3, `${reads.length} reads`);
  assert.ok(sseData(reads.join('')).at(-1) === '[DONE]');
}));

shapes.run();

const cache = suite('fake-upstream: slot cache simulation (chars ÷ 4)');

cache('a growing prompt on the same id_slot reuses its prefix; another slot starts cold', () => withFake({ slots: 2 }, async (fake) => {
  const prompt = 'p'.repeat(400);
  const first = await (await post(`${fake.url}/v1/completions`, { prompt, id_slot: 0 })).json() as any;
  assert.equal([first.timings.cache_n, first.timings.prompt_n], [0, 100]);
  const second = await (await post(`${fake.url}/v1/completions`, { prompt: `${prompt}${'q'.repeat(40)}`, id_slot: 0 })).json() as any;
  assert.equal([second.timings.cache_n, second.timings.prompt_n], [100, 10]);
  assert.is(second.usage.prompt_tokens_details.cached_tokens, 100);
  // The same prompt again: everything but the last token is cached, as llama-server reports it.
  const again = await (await post(`${fake.url}/v1/completions`, { prompt: `${prompt}${'q'.repeat(40)}`, id_slot: 0 })).json() as any;
  assert.equal([again.timings.cache_n, again.timings.prompt_n], [109, 1]);
  const other = await (await post(`${fake.url}/v1/completions`, { prompt, id_slot: 1 })).json() as any;
  assert.equal([other.timings.cache_n, other.timings.prompt_n], [0, 100]);
  assert.equal(fake.requests.map((r) => [r.idSlot, r.slot, r.cacheN]), [[0, 0, 0], [0, 0, 100], [0, 0, 109], [1, 1, 0]]);
}));

cache('without id_slot the most similar slot is chosen, else the least recently used', () => withFake({ slots: 2 }, async (fake) => {
  await post(`${fake.url}/v1/completions`, { prompt: 'a'.repeat(400) });
  await post(`${fake.url}/v1/completions`, { prompt: 'b'.repeat(400) });
  await post(`${fake.url}/v1/completions`, { prompt: `${'a'.repeat(400)}more` });
  await post(`${fake.url}/v1/completions`, { prompt: 'c'.repeat(400) });
  assert.equal(fake.requests.map((r) => r.slot), [0, 1, 0, 1]);
  assert.equal(fake.requests.map((r) => r.cacheN), [0, 0, 100, 0]);
  const slots = await (await fetch(`${fake.url}/slots`)).json() as any[];
  assert.equal(slots.map((s) => [s.n_prompt_tokens, s.n_prompt_tokens_cache]), [[101, 100], [100, 0]]);
}));

cache('chat prompts compare the JSON of their messages; id_slot wraps around like llama-server\'s', () => withFake({ slots: 2 }, async (fake) => {
  const messages = [{ role: 'system', content: 's'.repeat(200) }, { role: 'user', content: 'first' }];
  await post(`${fake.url}/v1/chat/completions`, { messages, id_slot: 3 });
  const next = await (await post(`${fake.url}/v1/chat/completions`, { messages: [...messages, { role: 'user', content: 'again' }], id_slot: 1 })).json() as any;
  const shared = commonPrefixLength(JSON.stringify(messages), JSON.stringify([...messages, { role: 'user', content: 'again' }]));
  assert.is(next.timings.cache_n, Math.floor(shared / 4));
  assert.equal(fake.requests.map((r) => r.slot), [1, 1]);
}));

cache('commonPrefixLength across block boundaries', () => {
  const base = 'x'.repeat(10_000);
  assert.is(commonPrefixLength(base, base), 10_000);
  assert.is(commonPrefixLength(base, `${base.slice(0, 5000)}y`), 5000);
  assert.is(commonPrefixLength(`${base.slice(0, 4096)}y`, base), 4096);
  assert.is(commonPrefixLength('', base), 0);
  assert.is(commonPrefixLength('abc', 'abd'), 2);
  assert.is(commonPrefixLength('ab', 'abc'), 2);
  assert.is(commonPrefixLength(base.slice(0, 300), `${base.slice(0, 260)}y`), 260);
});

cache.run();

const failures = suite('fake-upstream: recording and failure modes');

failures('records path, headers, parsed body and id_slot', () => withFake({}, async (fake) => {
  await fetch(`${fake.url}/health?x=1`);
  await post(`${fake.url}/v1/chat/completions`, chat('hi', { id_slot: 0 }), { 'x-test': 'yes' });
  const [health, completion] = fake.requests;
  assert.equal([health?.method, health?.path, health?.body], ['GET', '/health', undefined]);
  assert.is(completion?.path, '/v1/chat/completions');
  assert.is(completion?.headers['x-test'], 'yes');
  assert.equal(completion?.body, chat('hi', { id_slot: 0 }));
  assert.is(completion?.idSlot, 0);
}));

failures('record: false keeps nothing', () => withFake({ record: false }, async (fake) => {
  await post(`${fake.url}/v1/chat/completions`, chat('hi'));
  assert.is(fake.requests.length, 0);
}));

failures('fail: a status answers it with llama-server\'s error body, on completions only', () => withFake({ fail: 503 }, async (fake) => {
  assert.is((await fetch(`${fake.url}/health`)).status, 200);
  const res = await post(`${fake.url}/v1/chat/completions`, chat('hi', { stream: true }));
  assert.is(res.status, 503);
  assert.equal(await res.json(), { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
}));

failures('fail: "close" drops the connection without an answer', () => withFake({ fail: 'close' }, async (fake) => {
  const result = await rawPost(`${fake.url}/v1/chat/completions`, chat('hi'));
  assert.is(result.status, undefined);
  assert.match(result.error ?? '', /socket hang up|ECONNRESET/);
}));

failures('fail: "close-mid-stream" cuts a stream before [DONE] and a body short of its length', () => withFake({ fail: 'close-mid-stream', answer: 6 }, async (fake) => {
  const streamed = await rawPost(`${fake.url}/v1/chat/completions`, chat('hi', { stream: true }));
  assert.is(streamed.status, 200);
  assert.ok(streamed.error !== undefined, 'the stream ends in an error');
  assert.not.match(streamed.body, /\[DONE\]/);
  assert.is(sseData(streamed.body).length, 1 + 3, 'the role chunk and half the tokens');
  const whole = await rawPost(`${fake.url}/v1/chat/completions`, chat('hi'));
  assert.is(whole.status, 200);
  assert.ok(whole.error !== undefined, 'the body ends in an error');
}));

failures('fail: a function is asked for every request and can let it through', () => withFake({
  fail: (req) => (req.path === '/health' ? 500 : req.idSlot === 1 ? 'close' : undefined),
}, async (fake) => {
  assert.is((await fetch(`${fake.url}/health`)).status, 500);
  assert.is((await post(`${fake.url}/v1/chat/completions`, chat('hi', { id_slot: 0 }))).status, 200);
  assert.ok((await rawPost(`${fake.url}/v1/chat/completions`, chat('hi', { id_slot: 1 }))).error !== undefined);
}));

failures('closeAfterStream: the next request on the kept-alive socket is reset, as llama-server\'s often is', () => withFake({ closeAfterStream: true }, async (fake) => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const send = (stream: boolean) => new Promise<{ reused: boolean; error?: string }>((resolve) => {
    const req = request(`${fake.url}/v1/chat/completions`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ reused: req.reusedSocket }));
    });
    req.on('error', (err) => resolve({ reused: req.reusedSocket, error: err.message }));
    req.end(JSON.stringify(chat('hi', { stream })));
  });
  try {
    assert.equal(await send(false), { reused: false });
    assert.equal(await send(true), { reused: true });
    const after = await send(false);
    assert.ok(after.reused && after.error !== undefined, JSON.stringify(after));
    assert.equal(await send(false), { reused: false }, 'a fresh socket works');
  } finally {
    agent.destroy();
  }
}));

failures('a client that leaves mid-stream frees its slot', () => withFake({ answer: 1000, tokenDelayMs: 5 }, async (fake) => {
  const res = await post(`${fake.url}/v1/chat/completions`, chat('hi', { stream: true }));
  const reader = res.body!.getReader();
  await reader.read();
  const busy = await (await fetch(`${fake.url}/slots`)).json() as any[];
  assert.is(busy[0].is_processing, true);
  await reader.cancel();
  // The fake learns of the close asynchronously; ask until it has (each ask is a round trip, not a sleep).
  let processing = true;
  for (let i = 0; i < 200 && processing; i++) processing = ((await (await fetch(`${fake.url}/slots`)).json()) as any[])[0].is_processing;
  assert.is(processing, false);
}));

failures('close() ends open streams', async () => {
  const fake = await startFakeUpstream({ answer: 1000, tokenDelayMs: 50 });
  const pending = rawPost(`${fake.url}/v1/chat/completions`, chat('hi', { stream: true }));
  while (fake.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
  await fake.close();
  const result = await pending;
  assert.ok(result.error !== undefined || !result.body.includes('[DONE]'));
});

failures.run();
