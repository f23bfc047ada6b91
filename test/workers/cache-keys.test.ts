import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { analyzeRequest, type AnalyzeSuccess, type Route } from '../../workers/analyze.js';
import { createCacheKeys } from '../../workers/cache-keys.js';
import { createNormalizer, defaultNormalizeConfig } from '../../workers/normalize.js';

const normalizer = createNormalizer(defaultNormalizeConfig);
const keysOff = createCacheKeys({ stripRules: [], suffixMessages: 0 });

function analyzed(body: unknown, route: Route = 'chat', keys = keysOff): AnalyzeSuccess {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const result = analyzeRequest({ body: new TextEncoder().encode(text).slice().buffer, route, blockChars: 16, cacheKeys: true }, normalizer, keys);
  if (!result.ok) throw new Error(result.message);
  return result;
}

const header = (cch: string) => `x-anthropic-billing-header: cc_version=2.1.3.abc; cc_entrypoint=cli; cch=${cch};\nYou are a coding agent.`;
const messages = (cch: string, extra: Record<string, unknown> = {}) => ({
  model: 'm', max_tokens: 8, temperature: 0, system: header(cch), messages: [{ role: 'user', content: 'hi' }], ...extra,
});

test('the exact digest is the SHA-256 of the bytes as sent, before any rewrite', () => {
  const text = '{ "model":"m",  "messages":[{"role":"user","content":"hi"}], "id_slot": 1 }';
  const keys = analyzed(text).cacheKeys!;
  assert.is(keys.raw.sha256, createHash('sha256').update(text).digest('hex'));
});

test('no key material unless the task asks for it', () => {
  const result = analyzeRequest({ body: new TextEncoder().encode('{"messages":[]}').slice().buffer, route: 'chat', blockChars: 16 });
  assert.ok(result.ok && result.cacheKeys === null);
});

test('two billing headers: different exact digests, one normalized digest', () => {
  const a = analyzed(messages('11111'), 'messages').cacheKeys!;
  const b = analyzed(messages('22222'), 'messages').cacheKeys!;
  assert.is.not(a.raw.sha256, b.raw.sha256);
  assert.is(a.normalized.sha256, b.normalized.sha256);
  const other = analyzed(messages('11111', { messages: [{ role: 'user', content: 'bye' }] }), 'messages').cacheKeys!;
  assert.is.not(other.normalized.sha256, a.normalized.sha256);
});

test('strip rules apply to the normalized digest only', () => {
  const keys = createCacheKeys({ stripRules: [{ pattern: 'Today is \\d{4}-\\d{2}-\\d{2}', replacement: 'Today is DATE', flags: '' }], suffixMessages: 0 });
  const on = (day: string) => analyzed({ messages: [{ role: 'system', content: `Today is ${day}.` }], temperature: 0 }, 'chat', keys).cacheKeys!;
  assert.is(on('2026-11-21').normalized.sha256, on('2026-11-22').normalized.sha256);
  assert.is.not(on('2026-11-21').raw.sha256, on('2026-11-22').raw.sha256);
  const plain = (day: string) => analyzed({ messages: [{ role: 'system', content: `Today is ${day}.` }], temperature: 0 }).cacheKeys!;
  assert.is.not(plain('2026-11-21').normalized.sha256, plain('2026-11-22').normalized.sha256);
});

test('the suffix digest covers the last messages only, and only when that tier is on', () => {
  const keys = createCacheKeys({ stripRules: [], suffixMessages: 1 });
  const body = (first: string) => ({ temperature: 0, messages: [{ role: 'user', content: first }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'last' }] });
  const a = analyzed(body('one'), 'chat', keys).cacheKeys!;
  const b = analyzed(body('two'), 'chat', keys).cacheKeys!;
  assert.ok(a.suffix !== null);
  assert.is(a.suffix!.sha256, b.suffix!.sha256);
  assert.is.not(a.normalized.sha256, b.normalized.sha256);
  assert.is(analyzed(body('one')).cacheKeys!.suffix, null);
});

test('sampling: no temperature or temperature > 0 samples; temperature 0, a seed, or count_tokens do not', () => {
  assert.ok(analyzed({ messages: [] }).cacheKeys!.sampling);
  assert.ok(analyzed({ messages: [], temperature: 0.7 }).cacheKeys!.sampling);
  assert.not.ok(analyzed({ messages: [], temperature: 0 }).cacheKeys!.sampling);
  assert.not.ok(analyzed({ messages: [], temperature: 0.7, seed: 42 }).cacheKeys!.sampling);
  const count = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
  assert.ok(analyzed(count, 'messages').cacheKeys!.sampling);
  assert.not.ok(analyzed(count, 'count_tokens').cacheKeys!.sampling);
});

test.run();
