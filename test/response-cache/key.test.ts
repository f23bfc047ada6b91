import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { bodyDigest, compileStripRules, exactKey, type KeyScope, normalizedKey, suffixKey, suffixView } from '../../src/response-cache/key.js';

const enc = (s: string) => new TextEncoder().encode(s);
const scope: KeyScope = { route: '/v1/messages', dialect: 'anthropic', model: 'm', anthropicVersion: '2023-06-01' };
const body = enc('{"messages":[{"role":"user","content":"hi"}],"max_tokens":8}');

const test = suite('response-cache/key');

test('a key is 64 hex chars and stable', () => {
  const key = exactKey(scope, body);
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.is(exactKey({ ...scope }, enc(new TextDecoder().decode(body))), key);
});

test('/v1/messages and /v1/messages/count_tokens with the same body have different keys', () => {
  assert.is.not(exactKey(scope, body), exactKey({ ...scope, route: '/v1/messages/count_tokens' }, body));
  assert.is.not(normalizedKey(scope, 'x', []), normalizedKey({ ...scope, route: '/v1/messages/count_tokens' }, 'x', []));
});

test('the exact tier keys on the body digest: bytes and a digest computed elsewhere agree', () => {
  assert.is(exactKey(scope, bodyDigest(body)), exactKey(scope, body));
  assert.is.not(exactKey(scope, bodyDigest(enc('{}'))), exactKey(scope, body));
});

test('dialect, model and the answer-changing headers are in the key', () => {
  const base = exactKey(scope, body);
  for (const other of [
    { ...scope, dialect: 'openai' as const }, { ...scope, model: 'n' }, { ...scope, anthropicVersion: '2024-01-01' },
    { ...scope, anthropicBeta: 'tools-2024' }, { ...scope, anthropicVersion: undefined }, { ...scope, credentials: 'Bearer a\n' },
  ]) assert.is.not(exactKey(other, body), base);
});

test('fields cannot run into each other', () => {
  // Without length prefixes model "ab" + version "" would hash like model "a" + version "b".
  assert.is.not(exactKey({ ...scope, model: 'ab', anthropicVersion: '' }, body), exactKey({ ...scope, model: 'a', anthropicVersion: 'b' }, body));
});

test('tiers never share keys, even for the same bytes', () => {
  const text = new TextDecoder().decode(body);
  const keys = new Set([exactKey(scope, body), normalizedKey(scope, text, []), suffixKey(scope, text)]);
  assert.is(keys.size, 3);
});

test('raw bytes count in the exact tier; strip rules make volatile fields equal in the normalized tier', () => {
  const a = '{"system":"Today is 2025-01-02. session=abc123","messages":[]}';
  const b = '{"system":"Today is 2026-11-22. session=zz9","messages":[]}';
  assert.is.not(exactKey(scope, enc(a)), exactKey(scope, enc(b)));
  assert.is.not(normalizedKey(scope, a, []), normalizedKey(scope, b, []));
  const rules = compileStripRules([{ pattern: '\\d{4}-\\d{2}-\\d{2}', replacement: 'DATE' }, { pattern: 'session=\\w+', replacement: '', flags: 'i' }]);
  assert.is(normalizedKey(scope, a, rules), normalizedKey(scope, b, rules));
  // Global by construction: every match is replaced.
  assert.is(normalizedKey(scope, '2025-01-01 2025-01-02', rules), normalizedKey(scope, '2026-01-01 2026-01-02', rules));
});

test('suffixView keeps the last n messages and every other field but the history', () => {
  const view = (b: Record<string, unknown>) => suffixView(b, 2);
  const a = { system: 'A', temperature: 0, messages: [{ c: 1 }, { c: 2 }, { c: 3 }] };
  const b = { messages: [{ c: 9 }, { c: 2 }, { c: 3 }], temperature: 0, system: 'B' };
  assert.is(view(a), view(b));
  assert.is.not(view(a), view({ ...a, temperature: 1 }));
  assert.is.not(view(a), view({ ...a, messages: [{ c: 1 }, { c: 2 }, { c: 4 }] }));
  assert.is(suffixView({ prompt: 'x' }, 2), null);
});

test.run();
