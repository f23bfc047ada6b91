import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { llamaServerTokenizer } from '../../bench/oracle.js';
import type { LlamaServer } from '../../bench/rig/server.js';
import { withServerLog } from '../../bench/rig/server.js';
import { anthropicToOpenAI, llamaServerBillingRewrite } from '../../src/dialects/anthropic-to-openai.js';
import { postJson, rigServer } from '../helpers/llama.js';
import { setup } from '../helpers/setup.js';

const HEADER = 'x-anthropic-billing-header: cc_version=2.1.63.a43; cc_entrypoint=cli; cch=e2224;';

const convert = suite('anthropic-to-openai');

convert('rewrites only the cch value of a leading billing header, as llama-server does', () => {
  assert.is(llamaServerBillingRewrite(`${HEADER}\nrest`), 'x-anthropic-billing-header: cc_version=2.1.63.a43; cc_entrypoint=cli; cch=fffff;\nrest');
  assert.is(llamaServerBillingRewrite(`hello ${HEADER}`), `hello ${HEADER}`);
  assert.is(llamaServerBillingRewrite('x-anthropic-billing-header: cch=abc;'), 'x-anthropic-billing-header: cch=abc;');
});

convert('system blocks join into one system message; tool_use and tool_result become tool calls and tool messages', () => {
  const out = anthropicToOpenAI({
    system: [{ type: 'text', text: 'a' }, { type: 'image' }, { type: 'text', text: 'b' }],
    max_tokens: 9, stop_sequences: ['x'], temperature: 0, metadata: { user_id: 'u' },
    tools: [{ name: 'T', input_schema: { type: 'object' } }],
    tool_choice: { type: 'any' },
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'tool_use', id: 't1', name: 'T', input: { a: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'o' }, { type: 'text', text: 'k' }] }, { type: 'text', text: 'next' }] },
      { role: 'assistant' },
    ],
  });
  assert.equal(out, {
    messages: [
      { role: 'system', content: 'ab' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', tool_calls: [{ id: 't1', type: 'function', function: { name: 'T', arguments: '{"a":1}' } }], reasoning_content: 'hmm' },
      { role: 'user', content: [{ type: 'text', text: 'next' }] },
      { role: 'tool', tool_call_id: 't1', content: 'ok' },
    ],
    tools: [{ type: 'function', function: { name: 'T', description: '', parameters: { type: 'object' } } }],
    tool_choice: 'required', stop: ['x'], max_tokens: 9, temperature: 0, __metadata_user_id: 'u',
  });
  assert.throws(() => anthropicToOpenAI({}), /'messages' is required/);
});

convert.run();

// The port is only right if llama-server agrees: its own /v1/messages/count_tokens converts with
// the C++ original, and must count exactly the tokens our conversion leads to.
let server: LlamaServer | undefined;
const agree = suite('anthropic-to-openai against llama-server');
setup(agree, async () => { server = await rigServer({ slots: 1, cacheRamMiB: 0 }); });
agree.after(async () => { await server?.stop(); });

const bodies: Record<string, Record<string, unknown>> = {
  'system string with billing header': { system: `${HEADER}You are Claude Code.`, messages: [{ role: 'user', content: 'hello' }] },
  'system blocks': { system: [{ type: 'text', text: `${HEADER}\n` }, { type: 'text', text: 'Be terse.' }], messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }] },
  'multi-turn': { messages: [{ role: 'user', content: 'one' }, { role: 'assistant', content: 'two' }, { role: 'user', content: 'three' }] },
  'tools, tool_use and tool_result': {
    tools: [{ name: 'Read', description: 'read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }],
    messages: [
      { role: 'user', content: 'read it' },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }, { type: 'tool_use', id: 'toolu_9', name: 'Read', input: { path: '/a' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: [{ type: 'text', text: 'line 1\nline 2' }] }] },
    ],
  },
  'thinking block': { messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: [{ type: 'thinking', thinking: 'let me see' }, { type: 'text', text: 'a' }] }, { role: 'user', content: 'more' }] },
};

for (const [name, body] of Object.entries(bodies)) {
  agree(`same prompt as llama-server: ${name}`, withServerLog(() => server, async () => {
    const anthropic = { model: 'x', max_tokens: 1, temperature: 0, ...body };
    const { prompt: tokens } = await llamaServerTokenizer(server!.url).tokens('anthropic', anthropic);
    const { input_tokens } = await postJson<{ input_tokens: number }>(`${server!.url}/v1/messages/count_tokens`, { model: 'x', ...body });
    assert.is(tokens.length, input_tokens);
    // Token for token: the converted body fills the only slot, then llama-server's own conversion
    // of the original reuses all of it but the last token, which is always evaluated.
    await postJson(`${server!.url}/v1/chat/completions`, anthropicToOpenAI(anthropic));
    const own = await postJson<{ usage: { cache_read_input_tokens: number } }>(`${server!.url}/v1/messages`, anthropic);
    assert.is(own.usage.cache_read_input_tokens, tokens.length - 1);
  }));
}

agree.run();
