import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { transferableSymbol, valueSymbol } from 'piscina';
import analyze, {
  analyzeRequest,
  type AnalyzeResult,
  type AnalyzeSuccess,
  type AnalyzeTask,
  type Route,
} from '../../workers/analyze.js';
import type { Normalizer } from '../../workers/normalize.js';

/** A normalizer from one function, for driving a rewrite the real rules lack. */
const normalizer = (fn: (body: Record<string, unknown>, route: string) => boolean): Normalizer => ({
  normalize: (body, route) => (fn(body, route) ? [{ rule: 'test', bytes: 1 }] : []),
});

const bytesOf = (text: string | Uint8Array) => (typeof text === 'string' ? new TextEncoder().encode(text) : text).slice().buffer;
const task = (text: string | Uint8Array, route: Route = 'chat', blockChars = 16): AnalyzeTask => ({
  body: bytesOf(text),
  route,
  blockChars,
});

// Called directly, without a pool: the parsing rules, not the transport.
const run = (text: string | Uint8Array, route: Route = 'chat', blockChars = 16) => analyzeRequest(task(text, route, blockChars));
const ok = (result: AnalyzeResult): AnalyzeSuccess => {
  if (!result.ok) throw new Error(`expected success, got ${result.code}: ${result.message}`);
  return result;
};
const failure = (result: AnalyzeResult) => (result.ok ? 'ok' : result.code);
// The scalar facts, for whole-object comparison without the buffers.
const facts = (result: AnalyzeResult) => {
  const { hashes: _hashes, forward: _forward, fullHash: _fullHash, ends: _ends, ...rest } = ok(result);
  return rest;
};
const commonRun = (a: Float64Array, b: Float64Array) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};
const chatBody = (messages: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'qwen', ...extra, messages });

const reading = suite('workers/analyze: request facts');

reading('reports model, stream, size and the routing facts', () => {
  const text = '{"model":"qwen","stream":true,"messages":[{"role":"user","content":"hi"}]}';
  assert.equal(facts(run(text)), {
    ok: true,
    model: 'qwen',
    stream: true,
    bytes: text.length,
    promptChars: '\u001d\u001erole\u001fuser\u001econtent\u001fhi'.length,
    insertAt: 1,
    emptyObject: false,
    cachePrompt: true,
    clientSlot: null,
    maxTokens: null,
    normalized: [],
    cacheKeys: null,
  });
});

reading('missing or odd fields fall back to null and false', () => {
  const result = facts(run('{"model":7,"stream":"yes","messages":[]}'));
  assert.is(result.model, null);
  assert.is(result.stream, false);
  assert.is(result.bytes, 40);
  assert.is(result.promptChars, 0);
});

reading('maxTokens: max_completion_tokens ?? max_tokens ?? n_predict, when a positive integer', () => {
  const max = (extra: Record<string, unknown>) => ok(run(chatBody([], extra))).maxTokens;
  assert.is(max({ max_completion_tokens: 5, max_tokens: 6, n_predict: 7 }), 5);
  assert.is(max({ max_tokens: 6, n_predict: 7 }), 6);
  assert.is(max({ n_predict: 7 }), 7);
  assert.is(max({ max_completion_tokens: null, max_tokens: 6 }), 6);
  for (const bad of [0, -1, 2.5, '9', true]) assert.is(max({ max_tokens: bad }), null, String(bad));
  assert.is(max({}), null);
});

reading("the client's cache_prompt and id_slot are reported", () => {
  const result = ok(run(chatBody([], { id_slot: 2, cache_prompt: false })));
  assert.is(result.clientSlot, 2);
  assert.is(result.cachePrompt, false);
  for (const bad of [-1, 1.5, '2', null]) {
    const odd = ok(run(chatBody([], { id_slot: bad, cache_prompt: 'no' })));
    assert.is(odd.clientSlot, null, String(bad));
    assert.is(odd.cachePrompt, true);
  }
});

reading.run();

const forwarding = suite('workers/analyze: forwarded bytes');

forwarding('an untouched body is forwarded as the same buffer, byte for byte', () => {
  const t = task(chatBody([{ role: 'user', content: 'é 😀' }], { temperature: 0.10, seed: 12345678901234567890 }));
  const copy = new Uint8Array(t.body).slice();
  const result = ok(analyzeRequest(t));
  assert.ok(result.forward === t.body);
  assert.equal(new Uint8Array(result.forward), copy);
});

forwarding("the client's id_slot and cache_prompt are stripped from what is forwarded", () => {
  const result = ok(run('{"id_slot":1,"messages":[],"cache_prompt":true,"model":"m"}'));
  assert.is(new TextDecoder().decode(result.forward), '{"messages":[],"model":"m"}');
  assert.is(result.insertAt, 1);
  assert.is(result.clientSlot, 1);
});

forwarding('a byte order mark and whitespace before the { move insertAt', () => {
  const body = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('\n  {"model":"m","messages":[]}')]);
  const result = ok(run(body));
  assert.is(result.model, 'm');
  assert.is(result.insertAt, 7);
  assert.is(new Uint8Array(result.forward)[result.insertAt - 1], 0x7b);
});

forwarding('an empty object has no prompt: invalid_request naming the field', () => {
  const result = run('{}');
  assert.is(failure(result), 'invalid_request');
  assert.match(!result.ok ? result.message : '', /`messages`/);
  // emptyObject itself is exercised in forward-body.test.ts: a usable body always has a key.
});

forwarding('a normalization that changes the body re-serializes it and is what gets hashed', () => {
  const rename = normalizer((body) => {
    const messages = body.messages as { content: string }[];
    messages[0]!.content = 'stable';
    return true;
  });
  const text = '{ "messages" : [{"role":"user","content":"volatile 123"}] }';
  const result = ok(analyzeRequest(task(text), rename));
  assert.is(new TextDecoder().decode(result.forward), '{"messages":[{"role":"user","content":"stable"}]}');
  assert.is(result.fullHash, ok(run('{"messages":[{"role":"user","content":"stable"}]}')).fullHash);
  assert.equal(result.normalized, [{ rule: 'test', bytes: 1 }]);
});

forwarding('the normalization hook sees the route; a no-op keeps the buffer', () => {
  const seen: string[] = [];
  const t = task('{"prompt":"x"}', 'completions');
  const result = ok(analyzeRequest(t, normalizer((_body, route) => (seen.push(route), false))));
  assert.equal(seen, ['completions']);
  assert.ok(result.forward === t.body);
});

forwarding('messages: the Anthropic body is translated to llama-server\'s chat body and hashed as that', () => {
  const anthropic = { model: 'm', max_tokens: 9, stream: true, system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], id_slot: 1 };
  const result = ok(analyzeRequest(task(JSON.stringify(anthropic), 'messages')));
  const forwarded = JSON.parse(new TextDecoder().decode(result.forward));
  assert.equal(forwarded.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
  assert.is(forwarded.model, 'm');
  assert.is(forwarded.id_slot, undefined, 'llama-server drops an Anthropic id_slot too; the gateway sets its own');
  assert.equal([forwarded.timings_per_token, forwarded.verbose, forwarded.response_fields], [true, true, ['stopping_word']]);
  assert.equal([result.stream, result.maxTokens, result.clientSlot], [true, 9, null]);
  const chat = ok(run(JSON.stringify({ messages: forwarded.messages })));
  assert.is(result.fullHash, chat.fullHash, 'the same prompt as the chat request llama-server builds');
  assert.is(failure(analyzeRequest(task('{"model":"m"}', 'messages'))), 'invalid_request');
});

forwarding('count_tokens: the normalized Anthropic body is forwarded as it is, with nothing to route on', () => {
  const text = '{"model":"m","messages":[{"role":"user","content":"hi"}]}';
  const t = task(text, 'count_tokens');
  const result = ok(analyzeRequest(t));
  assert.ok(result.forward === t.body, 'unchanged: the client\'s own bytes');
  assert.is(result.hashes.length, 0);
});

forwarding.run();

const hashing = suite('workers/analyze: prompt hashes');

hashing('a growing conversation: turn n hashes are a prefix of turn n + 1', () => {
  const tools = [{ type: 'function', function: { name: 'grep', parameters: { type: 'object', properties: {} } } }];
  const messages: unknown[] = [{ role: 'system', content: 'You are a coding agent. '.repeat(20) }];
  let previous: AnalyzeSuccess | null = null;
  for (let turn = 0; turn < 6; turn++) {
    messages.push({ role: 'user', content: `Question ${turn}: ${'why? '.repeat(turn * 7)}` });
    const current = ok(run(chatBody(messages, { tools, temperature: turn / 10 }), 'chat', 32));
    assert.is(current.hashes.length, Math.floor(current.promptChars / 32));
    if (previous !== null) {
      assert.is(commonRun(previous.hashes, current.hashes), previous.hashes.length, `turn ${turn}`);
      assert.ok(current.hashes.length > previous.hashes.length);
    }
    messages.push({ role: 'assistant', content: `Answer ${turn}`, reasoning_content: 'thinking' });
    previous = current;
  }
});

hashing('tools added or changed: no block from the change on is shared', () => {
  const messages = [{ role: 'user', content: 'x'.repeat(500) }];
  const tool = (name: string) => [{ type: 'function', function: { name } }];
  const none = ok(run(chatBody(messages)));
  const read = ok(run(chatBody(messages, { tools: tool('read') })));
  const edit = ok(run(chatBody(messages, { tools: tool('edit') })));
  assert.is(commonRun(none.hashes, read.hashes), 0);
  // The tools JSON comes first; the names differ at code unit 47 (block 2 of 16 units), and every
  // block after that differs too, the conversation included.
  assert.is(read.promptChars, edit.promptChars);
  assert.is(commonRun(read.hashes, edit.hashes), 2);
  for (let i = 2; i < read.hashes.length; i++) assert.is.not(read.hashes[i], edit.hashes[i]);
});

hashing('images are hashed by content, not inlined', () => {
  const image = (fill: string) =>
    chatBody([{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${fill.repeat(100_000)}` } }] }]);
  const a = ok(run(image('A')));
  const b = ok(run(image('B')));
  assert.is(a.promptChars, b.promptChars);
  assert.ok(a.promptChars < 100);
  assert.is.not(a.fullHash, b.fullHash);
});

hashing('completions prompt forms', () => {
  const string = ok(run('{"prompt":"Once upon a time, there was"}', 'completions', 8));
  assert.is(string.promptChars, 27);
  assert.is(string.hashes.length, 3);
  const tokens = ok(run('{"prompt":[1,2,3]}', 'completions'));
  const longer = ok(run('{"prompt":[1,2,3,4,5,6,7,8,9,10,11,12]}', 'completions', 8));
  assert.is.not(tokens.fullHash, string.fullHash);
  assert.ok(longer.hashes.length > 0);
  assert.is(failure(run('{"messages":[]}', 'completions')), 'invalid_request');
  assert.is(failure(run('{"prompt":null}', 'completions')), 'invalid_request');
});

hashing('an exact repeat has the same fullHash; a one-character edit does not', () => {
  const body = chatBody([{ role: 'user', content: 'same' }]);
  assert.is(ok(run(body)).fullHash, ok(run(body)).fullHash);
  assert.is.not(ok(run(body)).fullHash, ok(run(body.replace('same', 'sane'))).fullHash);
});

hashing.run();

const errors = suite('workers/analyze: coded failures');

errors('malformed JSON is invalid_json', () => {
  assert.is(failure(run('{"model":')), 'invalid_json');
});

errors('an empty body is invalid_json', () => {
  assert.is(failure(run('')), 'invalid_json');
});

errors('invalid UTF-8 is invalid_json', () => {
  assert.is(failure(run(new Uint8Array([0x7b, 0xff, 0x7d]))), 'invalid_json');
});

errors('JSON that is not an object is invalid_request', () => {
  for (const text of ['[]', '42', 'null', '"s"']) assert.is(failure(run(text)), 'invalid_request', text);
});

errors('a throw inside comes back as internal_error, not an exception', () => {
  const result = analyzeRequest(task('{"messages":[]}'), normalizer(() => {
    throw new Error('rule broke');
  }));
  assert.equal(result, { ok: false, code: 'internal_error', message: 'rule broke' });
  assert.is(failure(run('{"messages":[]}', 'chat', 0)), 'internal_error');
});

errors.run();

const ends = suite('workers/analyze: message ends');

ends('a later turn holds the whole earlier prompt\'s hash at a message start, partial last block included', () => {
  const first = [{ role: 'system', content: 'doc '.repeat(100) }, { role: 'user', content: 'a short question' }];
  const earlier = ok(run(JSON.stringify({ messages: first })));
  const later = ok(run(JSON.stringify({ messages: [...first, { role: 'assistant', content: 'an answer' }, { role: 'user', content: 'more' }] })));
  const other = ok(run(JSON.stringify({ messages: [first[0], { role: 'user', content: 'a short questioN' }, { role: 'user', content: 'more' }] })));
  const at = (r: AnalyzeSuccess, offset: number) => { for (let i = 0; i < r.ends.length; i += 2) if (r.ends[i] === offset) return r.ends[i + 1]; return undefined; };
  assert.is(later.ends.length, 8, 'one pair per message');
  assert.is(at(later, earlier.promptChars), earlier.fullHash);
  assert.is.not(at(other, earlier.promptChars), earlier.fullHash, 'a different last message differs there');
  assert.equal([...later.hashes.subarray(0, earlier.hashes.length)], [...earlier.hashes], 'full blocks agree as before');
});

ends.run();

const transfer = suite('workers/analyze: the piscina task');

transfer('a success is wrapped for transfer: forward and the hashes buffer, not copies', () => {
  const t = task(chatBody([{ role: 'user', content: 'z'.repeat(100) }]));
  const moved = analyze(t) as unknown as Record<symbol, unknown>;
  const list = moved[transferableSymbol] as unknown[];
  const value = moved[valueSymbol] as AnalyzeSuccess;
  assert.is(list.length, 3);
  assert.ok(list[0] === t.body);
  assert.ok(list[1] === value.hashes.buffer);
  assert.ok(list[2] === value.ends.buffer);
  assert.ok(value.forward === t.body);
});

transfer('a failure is returned as plain data', () => {
  assert.equal(analyze(task('{')), analyzeRequest(task('{')));
});

transfer.run();
