import { Buffer } from 'node:buffer';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ResponseRecorder } from '../../src/response-cache/recorder.js';

const record = (dialect: 'openai' | 'anthropic', status: number, type: string, chunks: string[], end = true, maxEntryBytes = 1 << 20) => {
  const r = new ResponseRecorder({ dialect, maxEntryBytes });
  r.head(status, { 'content-type': type, 'x-request-id': 'abc', connection: 'keep-alive', date: 'now' });
  for (const c of chunks) r.write(Buffer.from(c));
  if (end) r.end();
  else r.cut();
  return r.result();
};

const openaiStream = [
  'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n',
  'data: {"choices":[{"delta":{}}],"timings":{"cache_n":3,"prompt_n":7,"prompt_ms":250}}\n\n',
  'data: [DONE]\n\n',
];
const anthropicStream = [
  'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":11,"output_tokens":1}}}\n\n',
  'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\n\n',
  'event: message_stop\ndata: {"type":"message_stop"}\n\n',
];

const test = suite('response-cache/recorder');

test('a 200 JSON body that ended is complete, with its bytes, content type only, and timings', () => {
  const body = '{"choices":[],"timings":{"cache_n":10,"prompt_n":5,"prompt_ms":1500}}';
  const r = record('openai', 200, 'application/json; charset=utf-8', [body.slice(0, 10), body.slice(10)]);
  assert.ok(r.complete);
  if (!r.complete) return;
  assert.is(r.response.body.toString(), body);
  assert.equal(r.response.headers, { 'content-type': 'application/json; charset=utf-8' });
  assert.equal(r.savings, { promptTokens: 15, prefillSeconds: 1.5 });
});

test('an OpenAI stream is complete only when it ends with data: [DONE]', () => {
  const r = record('openai', 200, 'text/event-stream', openaiStream);
  assert.ok(r.complete);
  if (r.complete) assert.equal(r.savings, { promptTokens: 10, prefillSeconds: 0.25 });
  assert.equal(record('openai', 200, 'text/event-stream', openaiStream.slice(0, 2)), { complete: false, reason: 'unterminated' });
  // [DONE] split across chunks still counts.
  assert.ok(record('openai', 200, 'text/event-stream', [...openaiStream.slice(0, 2), 'data: [DO', 'NE]\n\n']).complete);
  // Anthropic's terminal event does not end an OpenAI stream.
  assert.not.ok(record('openai', 200, 'text/event-stream', anthropicStream).complete);
});

test('an Anthropic stream is complete only when its last event is message_stop', () => {
  const r = record('anthropic', 200, 'text/event-stream', anthropicStream);
  assert.ok(r.complete);
  if (r.complete) assert.equal(r.savings, { promptTokens: 11, prefillSeconds: null });
  assert.not.ok(record('anthropic', 200, 'text/event-stream', anthropicStream.slice(0, 2)).complete);
  assert.not.ok(record('anthropic', 200, 'text/event-stream', [...anthropicStream, 'event: ping\ndata: {}\n\n']).complete);
});

test('not stored: a cut body, another status, another content type, an oversize body', () => {
  assert.equal(record('openai', 200, 'text/event-stream', openaiStream, false), { complete: false, reason: 'cut' });
  assert.equal(record('openai', 400, 'application/json', ['{"error":{}}']), { complete: false, reason: 'status' });
  assert.equal(record('openai', 200, 'text/plain', ['hi']), { complete: false, reason: 'content-type' });
  assert.equal(record('openai', 200, 'text/event-stream', openaiStream, true, 60), { complete: false, reason: 'oversize' });
});

test('past the bound no chunk is kept for replay', () => {
  const r = new ResponseRecorder({ dialect: 'openai', maxEntryBytes: 10 });
  r.head(200, { 'content-type': 'application/json' });
  r.write(Buffer.from('12345'));
  assert.is(r.chunks.length, 1);
  r.write(Buffer.from('678901'));
  assert.ok(r.oversize);
  assert.is(r.chunks.length, 0);
});

test.run();
