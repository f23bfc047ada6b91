// /v1/messages through slotkeeper against a REAL llama-server: the same request at temperature 0
// gives the same content blocks, stop reason and token counts as llama-server's own /v1/messages
// (ids and timings aside), streamed or not, through the official @anthropic-ai/sdk; turns are
// pinned to their slot; Claude Code's billing header no longer breaks reuse.
import Anthropic from '@anthropic-ai/sdk';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LlamaServer } from '../../bench/rig/server.js';
import { withDefaults } from '../../src/config/config.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';

// The SDK's types no longer list `temperature`; it still sends what it is given, and llama-server reads it.
type Params = Anthropic.MessageCreateParamsNonStreaming & { temperature?: number };
type Message = Anthropic.Message;

const words = (seed: string, n: number) => Array.from({ length: n }, (_, i) => `${seed}${i % 89} ${i}`).join(' ');
const HEADER = (v: string, cch: string) => `x-anthropic-billing-header: cc_version=2.1.63.${v}; cc_entrypoint=cli; cch=${cch};`;

/** What must match between llama-server's answer and slotkeeper's: all but ids and the cache split. */
function essence(message: Message) {
  return {
    type: message.type,
    role: message.role,
    content: message.content.map((block) => (block.type === 'tool_use' ? { ...block, id: typeof block.id } : block)),
    stop_reason: message.stop_reason,
    stop_sequence: message.stop_sequence,
    promptTokens: message.usage.input_tokens + (message.usage.cache_read_input_tokens ?? 0),
    output_tokens: message.usage.output_tokens,
  };
}

const tools: Anthropic.Tool[] = [{
  name: 'read_file', description: 'Read a file',
  input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
}];

// The transparency cases of the issue; each runs non-streamed and streamed.
const cases: [string, Params][] = [
  ['plain text', { model: 'm', max_tokens: 8, temperature: 0, messages: [{ role: 'user', content: 'Say hello.' }] }],
  ['system as a string', { model: 'm', max_tokens: 8, temperature: 0, system: 'You are terse.', messages: [{ role: 'user', content: 'hi' }] }],
  ['system as blocks', {
    model: 'm', max_tokens: 8, temperature: 0,
    system: [{ type: 'text', text: 'You are terse.' }, { type: 'text', text: ' Answer in French.' }],
    messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'text', text: 'there' }] }],
  }],
  ['multi-turn', {
    model: 'm', max_tokens: 8, temperature: 0,
    messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }, { role: 'user', content: 'three' }],
  }],
  // Forcing a call (tool_choice any) makes llama-server (de3ff815ea7d) fail to build its grammar
  // sampler for this template, on its own /v1/messages too; a forced call's translation is tested
  // in messages.test.ts against a scripted upstream.
  ['tools with tool_use and tool_result turns', {
    model: 'm', max_tokens: 16, temperature: 0, tools,
    messages: [
      { role: 'user', content: 'Read a.txt' },
      { role: 'assistant', content: [{ type: 'text', text: 'Reading.' }, { type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'a.txt' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_1', content: 'contents of a' }] },
    ],
  }],
  ['thinking: enabled, with a thinking block in the history', {
    model: 'm', max_tokens: 8, temperature: 0, thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [
      { role: 'user', content: 'one' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'let me think', signature: '' }, { type: 'text', text: 'two' }] },
      { role: 'user', content: 'three' },
    ],
  }],
  ['a stop sequence', { model: 'm', max_tokens: 24, temperature: 0, stop_sequences: ['1', 'e', 'a'], messages: [{ role: 'user', content: 'count' }] }],
];

const transparency = suite('/v1/messages on a real llama-server');
let server: LlamaServer;
let gateway: Gateway;
let direct: Anthropic;
let through: Anthropic;

setup(transparency, async () => {
  server = await rigServer({ slots: 2, cacheRamMiB: 0 });
  // A generous probe timeout: once in three full CI runs the server left `ready` mid-suite and
  // every later test got 503; this suite is about what the answers say, not about probing.
  gateway = await startGateway(withDefaults({
    port: 0, upstreams: [{ url: server.url, ramCacheTokens: 0 }], fleet: { probeIntervalMs: 200, probeTimeoutMs: 10_000 },
  }), {
    defaultMetrics: false, pool: { minThreads: 1, maxThreads: 1 },
    // A server leaving `ready` fails every later test here; say why in the test log.
    log: (line) => { if (/draining|down|fail/.test(line)) process.stderr.write(`slotkeeper: ${line}\n`); },
  });
  direct = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
  through = new Anthropic({ baseURL: gateway.url, apiKey: 'unused', maxRetries: 0 });
});
transparency.after(async () => {
  await gateway?.close();
  await server?.stop();
});

for (const [name, params] of cases) {
  transparency(`${name}: not streamed`, async () => {
    const want = await direct.messages.create(params);
    const got = await through.messages.create(params);
    assert.equal(essence(got), essence(want));
    assert.ok(got.content.length > 0, 'an answer with content');
  });
  transparency(`${name}: streamed, through the SDK's stream helper`, async () => {
    const want = await direct.messages.stream(params).finalMessage();
    const got = await through.messages.stream(params).finalMessage();
    assert.equal(essence(got), essence(want));
    // The streamed answer is the non-streamed one.
    assert.equal(essence(got).content, essence(await through.messages.create(params)).content);
  });
}

transparency('with a billing header: the same answer as llama-server given the normalized header', async () => {
  const system = (header: string) => [{ type: 'text' as const, text: header }, { type: 'text' as const, text: 'You are terse.' }];
  const params: Params = { model: 'm', max_tokens: 8, temperature: 0, system: system(HEADER('a43', 'e2224')), messages: [{ role: 'user', content: 'hi' }] };
  const normalized: Params = { ...params, system: system('x-anthropic-billing-header: cc_version=0; cc_entrypoint=0; cch=0;') };
  assert.equal(essence(await through.messages.create(params)), essence(await direct.messages.create(normalized)));
  assert.equal(essence(await through.messages.stream(params).finalMessage()), essence(await direct.messages.stream(normalized).finalMessage()));
});

transparency('Anthropic errors: a body without messages, and an unknown model, in Anthropic\'s shape', async () => {
  const res = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"m"}' });
  assert.is(res.status, 400);
  const body = await res.json() as { type: string; error: { type: string; message: string } };
  assert.is(body.type, 'error');
  assert.is(body.error.type, 'invalid_request_error');
  const bad = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' });
  assert.equal((await bad.json() as { type: string }).type, 'error');
  try {
    await through.messages.create({ ...cases[0]![1], max_tokens: -5 });
    assert.unreachable('llama-server refuses a negative max_tokens');
  } catch (err) {
    // llama-server's own refusal, passed on with its status, in Anthropic's shape.
    assert.instance(err, Anthropic.APIError);
    const error = (err as InstanceType<typeof Anthropic.APIError>).error as { type: string; error: { type: string } };
    assert.is(error.type, 'error');
  }
});

transparency('count_tokens counts what the model sees: llama-server\'s count of the normalized body', async () => {
  const params = { model: 'm', system: [{ type: 'text' as const, text: HEADER('a43', 'e2224') }, { type: 'text' as const, text: 'You are terse.' }], messages: [{ role: 'user' as const, content: 'hi there' }] };
  const got = await through.messages.countTokens(params);
  const normalized = { ...params, system: [{ type: 'text' as const, text: 'x-anthropic-billing-header: cc_version=0; cc_entrypoint=0; cch=0;' }, params.system[1]!] };
  const want = await direct.messages.countTokens(normalized);
  assert.is(got.input_tokens, want.input_tokens);
  assert.ok(got.input_tokens > 10);
});


transparency('a changing billing header no longer breaks reuse across turns, with a side conversation in between', async () => {
  const system = (v: string, cch: string) => [{ type: 'text' as const, text: HEADER(v, cch) }, { type: 'text' as const, text: words('agent', 300) }];
  const first: Params = { model: 'm', max_tokens: 4, temperature: 0, system: system('a43', 'e2224'), messages: [{ role: 'user', content: 'task one' }] };
  const a = await through.messages.create(first);
  // A side conversation on the other slot, so pinning (not luck) keeps the first context.
  const side: Params = { model: 'm', max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: words('side', 200) }] };
  await through.messages.create(side);
  const second: Params = {
    ...first, system: system('9f1', '0b7c1'),
    messages: [...first.messages, { role: 'assistant', content: a.content as Anthropic.ContentBlockParam[] }, { role: 'user', content: 'task two' }],
  };
  const b = await through.messages.create(second);
  const firstPrompt = a.usage.input_tokens + (a.usage.cache_read_input_tokens ?? 0);
  assert.ok((b.usage.cache_read_input_tokens ?? 0) >= firstPrompt - 2, `reused ${b.usage.cache_read_input_tokens} of ${firstPrompt}`);
  assert.ok(b.usage.input_tokens < 40, `evaluated ${b.usage.input_tokens}`);

  // Straight to llama-server the same two turns re-evaluate from the header on: its own rewrite
  // fixes cch but not cc_version's suffix.
  await direct.messages.create({ ...first, system: system('b11', 'aaaaa') });
  const d = await direct.messages.create({ ...second, system: system('c22', 'bbbbb') });
  assert.ok(d.usage.input_tokens > 200, `llama-server alone evaluated ${d.usage.input_tokens}`);
});

transparency('the normalization is counted per rule', async () => {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const applied = /slotkeeper_normalize_applied_total\{rule="claude-code-billing-header"\} (\d+)/.exec(text);
  assert.ok(applied && Number(applied[1]) >= 2, text.split('\n').filter((l) => l.includes('normalize')).join('\n'));
  assert.match(text, /slotkeeper_http_requests_total\{route="messages",model="[^"]+",status="200"\}/);
});

transparency.run();
