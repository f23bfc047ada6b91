import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import analyze from '../../workers/analyze.js';

// Called directly, without a pool: the parsing rules, not the transport.
const run = (text: string | Uint8Array) =>
  analyze({ body: (typeof text === 'string' ? new TextEncoder().encode(text) : text).slice().buffer });

const worker = suite('workers/analyze');

worker('reports model, stream and size', () => {
  const text = '{"model":"qwen","stream":true,"messages":[]}';
  assert.equal(run(text), { ok: true, model: 'qwen', stream: true, bytes: text.length });
});

worker('missing or odd fields fall back to null and false', () => {
  assert.equal(run('{"messages":[]}'), { ok: true, model: null, stream: false, bytes: 15 });
  assert.equal(run('{"model":7,"stream":"yes"}'), { ok: true, model: null, stream: false, bytes: 26 });
});

worker('a UTF-8 byte order mark is allowed', () => {
  const result = run(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode('{"model":"m"}')]));
  assert.is(result.ok && result.model, 'm');
});

worker('malformed JSON is invalid_json', () => {
  const result = run('{"model":');
  assert.is(result.ok, false);
  assert.is(!result.ok && result.code, 'invalid_json');
});

worker('an empty body is invalid_json', () => {
  assert.is(!run('').ok && (run('') as { code: string }).code, 'invalid_json');
});

worker('invalid UTF-8 is invalid_json', () => {
  const result = run(new Uint8Array([0x7b, 0xff, 0x7d]));
  assert.is(!result.ok && result.code, 'invalid_json');
});

worker('JSON that is not an object is invalid_request', () => {
  for (const text of ['[]', '42', 'null', '"s"']) {
    const result = run(text);
    assert.is(!result.ok && result.code, 'invalid_request', text);
  }
});

worker.run();
