import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { canonicalPrompt, type CanonicalPrompt } from '../../workers/canonical.js';

const textOf = (result: CanonicalPrompt) => {
  if (!result.ok) throw new Error(`expected a prompt, got: ${result.message}`);
  return result.text;
};
const chat = (body: Record<string, unknown>) => textOf(canonicalPrompt(body, 'chat'));
const completion = (body: Record<string, unknown>) => textOf(canonicalPrompt(body, 'completions'));

const tools = [{ type: 'function', function: { name: 'read', parameters: { type: 'object' } } }];
const conversation = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Read a file.' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'read', arguments: '{}' } }] },
  { role: 'tool', tool_call_id: 'c1', content: 'file contents' },
];

const chatSuite = suite('workers/canonical: chat');

chatSuite('appending a message only appends to the string', () => {
  for (let n = 1; n < conversation.length; n++) {
    const shorter = chat({ tools, messages: conversation.slice(0, n) });
    const longer = chat({ tools, messages: conversation.slice(0, n + 1) });
    assert.ok(longer.startsWith(shorter), `turn ${n}`);
    assert.ok(longer.length > shorter.length, `turn ${n}`);
  }
});

chatSuite('sampling parameters, stream and model are not part of it', () => {
  const plain = chat({ messages: conversation });
  assert.is(chat({ messages: conversation, model: 'm', stream: true, temperature: 0.2, max_tokens: 9, id_slot: 1 }), plain);
});

chatSuite('tools and chat_template_kwargs come first, tools as given (not sorted)', () => {
  const plain = chat({ messages: conversation });
  const withTools = chat({ tools, messages: conversation });
  assert.ok(withTools.endsWith(plain));
  assert.ok(withTools.startsWith(`\u001etools\u001f${JSON.stringify(tools)}`));
  const reordered = [{ function: tools[0]!.function, type: 'function' }];
  assert.is.not(chat({ tools: reordered, messages: conversation }), withTools);
  const kwargs = chat({ chat_template_kwargs: { enable_thinking: false }, messages: conversation });
  assert.ok(kwargs.startsWith('\u001echat_template_kwargs\u001f{"enable_thinking":false}\u001d'));
});

chatSuite('fields are separated so they cannot run into each other', () => {
  const a = chat({ messages: [{ role: 'user', content: 'ab' }, { role: 'user', content: 'c' }] });
  const b = chat({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'bc' }] });
  assert.is.not(a, b);
  assert.is.not(chat({ messages: [{ role: 'user', name: 'x' }] }), chat({ messages: [{ role: 'user', tool_call_id: 'x' }] }));
});

chatSuite('every message field in template order', () => {
  const text = chat({
    messages: [{ role: 'assistant', content: 'hi', tool_calls: [{ id: 1 }], tool_call_id: 't', name: 'n', reasoning_content: 'r' }],
  });
  assert.is(
    text,
    '\u001d\u001erole\u001fassistant\u001econtent\u001fhi\u001etool_calls\u001f[{"id":1}]' +
      '\u001etool_call_id\u001ft\u001ename\u001fn\u001ereasoning_content\u001fr',
  );
});

chatSuite('text parts contribute their text; unknown parts their JSON', () => {
  const text = chat({
    messages: [{ role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'file', file: { id: 'f' } }] }],
  });
  assert.ok(text.includes('one\u001c{"type":"file","file":{"id":"f"}}'));
});

chatSuite('images and audio go in by hash: not their data, and different data differs', () => {
  const image = (url: string) => chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
  const data1 = `data:image/png;base64,${'A'.repeat(50_000)}`;
  const data2 = `data:image/png;base64,${'A'.repeat(49_999)}B`;
  const one = image(data1);
  const two = image(data2);
  assert.is.not(one, two);
  assert.ok(!one.includes('AAAA'));
  assert.ok(one.length < 100);
  assert.is(image(data1), one);
  const bare = chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: data1 }] }] });
  assert.is(bare, one);
  const audio = (data: string) =>
    chat({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format: 'wav' } }] }] });
  assert.is.not(audio('x'.repeat(9000)), audio(`${'x'.repeat(8999)}y`));
  assert.ok(!audio('x'.repeat(9000)).includes('xxxx'));
});

chatSuite('missing or non-array messages is a failure naming the field', () => {
  for (const body of [{}, { messages: null }, { prompt: 'hi' }]) {
    const result = canonicalPrompt(body, 'chat');
    assert.is(result.ok, false);
    assert.match(!result.ok ? result.message : '', /`messages`/);
  }
  const result = canonicalPrompt({ messages: 'hi' }, 'chat');
  assert.match(!result.ok ? result.message : '', /`messages` must be an array/);
});

chatSuite('an empty conversation or an odd message still has a deterministic form', () => {
  assert.is(chat({ messages: [] }), '');
  assert.is(chat({ messages: ['x', 3] }), '\u001d"x"\u001d3');
});

chatSuite.run();

const completions = suite('workers/canonical: completions');

completions('a string prompt is itself', () => {
  assert.is(completion({ prompt: 'Once upon a time', n_predict: 4 }), 'Once upon a time');
  assert.is(completion({ prompt: '' }), '');
});

completions('token ids are joined, each terminated, so [1, 2] is not a prefix of [1, 23]', () => {
  const short = completion({ prompt: [1, 2] });
  const long = completion({ prompt: [1, 2, 3] });
  assert.ok(long.startsWith(short));
  assert.ok(!completion({ prompt: [1, 23] }).startsWith(short));
  assert.ok(short.endsWith('1,2,'));
});

completions('anything else is its JSON', () => {
  assert.is(completion({ prompt: ['a', 'b'] }), '["a","b"]');
  assert.is(completion({ prompt: [] }), '[]');
  assert.is(completion({ prompt: { prompt_string: 'x', multimodal_data: [] } }), '{"prompt_string":"x","multimodal_data":[]}');
});

completions('a missing prompt is a failure naming the field', () => {
  for (const body of [{}, { prompt: null }, { messages: [] }]) {
    const result = canonicalPrompt(body, 'completions');
    assert.match(!result.ok ? result.message : '', /`prompt`/);
  }
});

completions.run();
