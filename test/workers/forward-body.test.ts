import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { forwardBody, type ForwardBody } from '../../workers/forward-body.js';

const encode = (text: string) => new TextEncoder().encode(text).buffer;
const decode = (buffer: ArrayBuffer) => new TextDecoder().decode(buffer);

// What the main thread does with the result: splice the gateway's keys in after the '{'.
const splice = ({ forward, insertAt, emptyObject }: ForwardBody, slot: number) => {
  const bytes = new Uint8Array(forward);
  const keys = new TextEncoder().encode(`"id_slot":${slot},"cache_prompt":true${emptyObject ? '' : ','}`);
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([...bytes.subarray(0, insertAt), ...keys, ...bytes.subarray(insertAt)]));
};

const layout = (text: string, changed = false) => {
  const body = encode(text);
  return { body, result: forwardBody(body, JSON.parse(text.replace(/^\ufeff/, '')), changed) };
};

const forward = suite('workers/forward-body');

forward('an untouched body is forwarded as the very same buffer', () => {
  const { body, result } = layout('{"model":"m","messages":[]}');
  assert.ok(result.forward === body);
  assert.is(result.insertAt, 1);
  assert.is(result.emptyObject, false);
  assert.equal(JSON.parse(splice(result, 2)), { id_slot: 2, cache_prompt: true, model: 'm', messages: [] });
});

forward('insertAt skips a byte order mark and leading whitespace', () => {
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(' \t\r\n{"a":1}')]);
  const result = forwardBody(bom.buffer, { a: 1 }, false);
  assert.ok(result.forward === bom.buffer);
  assert.is(result.insertAt, 3 + 4 + 1);
  const spliced = splice(result, 0);
  assert.ok(spliced.startsWith('\ufeff \t\r\n{"id_slot":0,"cache_prompt":true,"a":1}'));
});

forward('an empty object takes the keys without a comma', () => {
  const { body, result } = layout('  {}');
  assert.ok(result.forward === body);
  assert.is(result.insertAt, 3);
  assert.is(result.emptyObject, true);
  assert.equal(JSON.parse(splice(result, 1)), { id_slot: 1, cache_prompt: true });
});

forward("the client's id_slot and cache_prompt are stripped: no duplicate keys reach llama-server", () => {
  const { body, result } = layout('{"id_slot":3,"model":"m","cache_prompt":false}');
  assert.ok(result.forward !== body);
  assert.is(decode(result.forward), '{"model":"m"}');
  assert.is(result.insertAt, 1);
  assert.is(result.forward.byteLength, 13);
  assert.is(splice(result, 0), '{"id_slot":0,"cache_prompt":true,"model":"m"}');
});

forward('stripping the only keys leaves an empty object', () => {
  const { result } = layout('{"cache_prompt":true}');
  assert.is(decode(result.forward), '{}');
  assert.is(result.emptyObject, true);
  assert.is(splice(result, 4), '{"id_slot":4,"cache_prompt":true}');
});

forward('a normalized body is re-serialized from the parsed object', () => {
  const text = '{ "model" : "m" }';
  const parsed = JSON.parse(text) as Record<string, unknown>;
  parsed.model = 'n';
  const result = forwardBody(encode(text), parsed, true);
  assert.is(decode(result.forward), '{"model":"n"}');
});

forward.run();
