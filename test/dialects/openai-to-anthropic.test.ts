import { Buffer } from 'node:buffer';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AnthropicStream, anthropicError, anthropicMessage } from '../../src/dialects/openai-to-anthropic.js';

import { TOOL_STREAM, chatDelta as delta, CHUNK_HEAD as head, chunkTimings as timings } from '../helpers/chat-stream.js';

interface Event { event: string; data: Record<string, any> }

function parseEvents(text: string): Event[] {
  return text.split('\n\n').filter(Boolean).map((block) => {
    const [eventLine, dataLine] = block.split('\n');
    return { event: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
  });
}

/** Feeds `text` in pieces of `size` bytes (splitting UTF-8 sequences too). */
function translate(text: string, size: number): string {
  const stream = new AnthropicStream();
  const bytes = Buffer.from(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += size) out += stream.write(bytes.subarray(i, i + size));
  return out + stream.end();
}

const streaming = suite('dialects/openai-to-anthropic: the stream');

streaming('thinking, text and a tool call become Anthropic\'s event sequence, in order', () => {
  const events = parseEvents(translate(TOOL_STREAM, 1 << 20));
  assert.equal(events.map((e) => e.event), [
    'message_start',
    'content_block_start', 'content_block_delta', 'content_block_delta',
    'ping',
    'content_block_start', 'content_block_delta',
    'content_block_start', 'content_block_delta', 'content_block_delta',
    'content_block_delta', 'content_block_stop', 'content_block_stop', 'content_block_stop',
    'message_delta', 'message_stop',
  ]);
  assert.equal(events[0]!.data.message.usage, { cache_read_input_tokens: 5, input_tokens: 7, output_tokens: 0 });
  assert.is(events[0]!.data.message.id, 'chatcmpl-1');
  assert.equal(events[1]!.data, { type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '' } });
  assert.equal(events[3]!.data.delta, { type: 'thinking_delta', thinking: ' look é.' });
  assert.equal(events[5]!.data.content_block, { type: 'text', text: '' });
  assert.is(events[5]!.data.index, 1);
  assert.equal(events[7]!.data, { type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'call_9', name: 'read_file', input: {} } });
  assert.equal(events[9]!.data.delta, { type: 'input_json_delta', partial_json: '"a.txt"}' });
  assert.equal(events[10]!.data, { type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: '' } });
  assert.equal(events[14]!.data, { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 9 } });
});

streaming('bytes split anywhere (inside lines and UTF-8 sequences) translate the same', () => {
  const whole = translate(TOOL_STREAM, 1 << 20);
  for (const size of [1, 2, 3, 7, 64]) assert.is(translate(TOOL_STREAM, size), whole, `pieces of ${size}`);
});

streaming('message_start waits for the first token\'s timings; nothing is sent before it', () => {
  const stream = new AnthropicStream();
  assert.is(stream.write(Buffer.from(delta({ role: 'assistant', content: null }, 1, false))), '');
  const out = stream.write(Buffer.from(delta({ content: 'Hi' }, 1)));
  assert.equal(parseEvents(out).map((e) => e.event), ['message_start', 'content_block_start', 'content_block_delta']);
});

streaming('no token generated: message_start still comes first, with the final chunk\'s counts', () => {
  const text = `data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}],${head},${timings(0)}}\n\ndata: [DONE]\n\n`;
  const events = parseEvents(translate(text, 4));
  assert.equal(events.map((e) => e.event), ['message_start', 'message_delta', 'message_stop']);
  assert.equal(events[0]!.data.message.usage, { cache_read_input_tokens: 5, input_tokens: 7, output_tokens: 0 });
});

streaming('a stop word, and a length stop', () => {
  const stopped = `${delta({ role: 'assistant', content: null }, 1, false)}${delta({ content: 'x' }, 1)}` +
    `data: {"choices":[{"finish_reason":"stop","index":0,"delta":{}}],${head},"__verbose":{"stopping_word":"END"},${timings(2)}}\n\ndata: [DONE]\n\n`;
  const end = parseEvents(translate(stopped, 5)).find((e) => e.event === 'message_delta')!;
  assert.equal(end.data.delta, { stop_reason: 'end_turn', stop_sequence: 'END' });
  const long = stopped.replace('"stop"', '"length"').replace('"END"', '""');
  assert.equal(parseEvents(translate(long, 5)).find((e) => e.event === 'message_delta')!.data.delta, { stop_reason: 'max_tokens', stop_sequence: null });
});

streaming('an upstream error event becomes Anthropic\'s error event and ends the stream', () => {
  const text = `${delta({ role: 'assistant', content: null }, 1, false)}${delta({ content: 'x' }, 1)}data: {"error":{"code":500,"message":"boom","type":"server_error"}}\n\n`;
  const events = parseEvents(translate(text, 9));
  assert.equal(events.at(-1), { event: 'error', data: { type: 'error', error: { type: 'api_error', message: 'boom' } } });
  assert.not.ok(events.some((e) => e.event === 'message_stop'));
});

streaming('a stream that ends without [DONE] ends with an error, never a message_stop', () => {
  const cut = TOOL_STREAM.slice(0, TOOL_STREAM.indexOf('data: {"choices":[{"finish_reason":"tool_calls"'));
  const events = parseEvents(translate(cut, 13));
  assert.is(events.at(-1)!.event, 'error');
  assert.not.ok(events.some((e) => e.event === 'message_stop' || e.event === 'message_delta'));
});

streaming.run();

const whole = suite('dialects/openai-to-anthropic: whole answers');

whole('a chat completion becomes a message: thinking, text, tool_use, usage split by cache', () => {
  const message = anthropicMessage({
    id: 'chatcmpl-2', model: 'm', object: 'chat.completion',
    choices: [{ index: 0, finish_reason: 'tool_calls', message: {
      role: 'assistant', content: 'Reading.', reasoning_content: 'hmm',
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a"}' } }, { id: 'c2', type: 'function', function: { name: 'bad', arguments: '{not json' } }],
    } }],
    usage: { prompt_tokens: 12, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 10 } },
    __verbose: { stopping_word: '' },
  });
  assert.equal(message, {
    id: 'chatcmpl-2', type: 'message', role: 'assistant',
    content: [
      { type: 'thinking', thinking: 'hmm', signature: '' },
      { type: 'text', text: 'Reading.' },
      { type: 'tool_use', id: 'c1', name: 'read_file', input: { path: 'a' } },
      { type: 'tool_use', id: 'c2', name: 'bad', input: {} },
    ],
    model: 'm', stop_reason: 'tool_use', stop_sequence: null,
    usage: { cache_read_input_tokens: 10, input_tokens: 2, output_tokens: 3 },
  });
});

whole('errors take Anthropic\'s types by status; a body that is not JSON still gets a message', () => {
  assert.equal(anthropicError(400, { error: { code: 400, message: 'bad', type: 'invalid_request_error' } }), { type: 'error', error: { type: 'invalid_request_error', message: 'bad' } });
  assert.equal(anthropicError(503, { error: { message: 'Loading model' } }).error, { type: 'overloaded_error', message: 'Loading model' });
  assert.equal(anthropicError(500, undefined).error, { type: 'api_error', message: 'upstream answered 500' });
});

whole.run();
