import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { responseCacheDefaults } from '../../src/config/config.js';
import { decide, effectiveSettings, type EffectiveSettings, isSampling, parseDirective } from '../../src/response-cache/policy.js';

const on: EffectiveSettings = { enabled: true, ttlSeconds: 60, serveSampling: false, tiers: { exact: true, normalized: true, suffix: false } };
const all = { exact: true, normalized: true, suffix: true };

const test = suite('response-cache/policy');

test('parseDirective reads bypass, refresh, only; refuses anything else', () => {
  assert.is(parseDirective(undefined), null);
  assert.is(parseDirective('bypass'), 'bypass');
  assert.is(parseDirective(' Refresh '), 'refresh');
  assert.is(parseDirective('only'), 'only');
  assert.is(parseDirective('no-store'), 'invalid');
  assert.is(parseDirective(['only', 'only']), 'invalid');
});

test('isSampling: no temperature samples (defaults are 1 and 0.8, never 0)', () => {
  assert.ok(isSampling({}));
  assert.ok(isSampling({ temperature: 0.7 }));
  assert.not.ok(isSampling({ temperature: 0 }));
  assert.not.ok(isSampling({ temperature: -1 }));
  assert.not.ok(isSampling({ temperature: 1, seed: 42 }));
  assert.not.ok(isSampling({ seed: 0 }));
  assert.ok(isSampling({ temperature: 1, seed: -1 }), '-1 is a random seed');
  assert.ok(isSampling({ seed: 0xffffffff }), 'LLAMA_DEFAULT_SEED is a random seed');
  assert.ok(isSampling({ seed: 1.5 }));
  // llama-server keeps the low 32 bits (issue #16): these are LLAMA_DEFAULT_SEED too.
  assert.ok(isSampling({ seed: 8589934591 }), '2^33-1 is 0xFFFFFFFF to llama-server');
  assert.ok(isSampling({ seed: 2 ** 53 + 2 }), 'beyond 2^53 the seed is not known exactly');
  assert.not.ok(isSampling({ seed: 2 ** 32 + 5 }));
  assert.not.ok(isSampling({ seed: -2 }), '-2 is 0xFFFFFFFE, a fixed seed');
  assert.not.ok(isSampling({ top_k: 1 }));
  assert.ok(isSampling({ temperature: '0' }), 'a string is not a temperature llama-server reads as 0');
});

test('decide: off, bypass and sampling go straight through; only refuses on a miss', () => {
  const d = (settings: EffectiveSettings, directive: 'bypass' | 'refresh' | 'only' | null, sampling = false) =>
    decide({ settings, directive, sampling, available: all });
  assert.equal(d({ ...on, enabled: false }, null), { lookup: [], store: [], coalesce: false, onMiss: 'upstream', reason: 'disabled' });
  assert.is(d({ ...on, enabled: false }, 'only').onMiss, 'refuse');
  assert.equal(d(on, 'bypass'), { lookup: [], store: [], coalesce: false, onMiss: 'upstream', reason: 'bypass' });
  assert.equal(d(on, null, true), { lookup: [], store: [], coalesce: false, onMiss: 'upstream', reason: 'sampling' });
  assert.equal(d(on, null), { lookup: ['exact', 'normalized'], store: ['exact', 'normalized'], coalesce: true, onMiss: 'upstream', reason: 'cacheable' });
  assert.equal(d({ ...on, serveSampling: true }, null, true).reason, 'cacheable');
  assert.equal(d(on, 'refresh'), { lookup: [], store: ['exact', 'normalized'], coalesce: true, onMiss: 'upstream', reason: 'refresh' });
  assert.equal(d(on, 'only'), { lookup: ['exact', 'normalized'], store: [], coalesce: false, onMiss: 'refuse', reason: 'only' });
});

test('decide: only tiers that are on and that the request has a key for', () => {
  const settings = { ...on, tiers: { exact: true, normalized: true, suffix: true } };
  assert.equal(decide({ settings, directive: null, sampling: false, available: { exact: true, normalized: false, suffix: true } }).lookup, ['exact', 'suffix']);
  assert.equal(decide({ settings: { ...on, tiers: { exact: false, normalized: true, suffix: false } }, directive: null, sampling: false, available: all }).lookup, ['normalized']);
});

test('effectiveSettings: global, then the route, then the model', () => {
  const config = responseCacheDefaults({
    enabled: false, ttlSeconds: 100,
    routes: { '/v1/messages': { enabled: true, ttlSeconds: 5, tiers: { suffix: true } } },
    models: { big: { enabled: false }, small: { serveSampling: true, tiers: { exact: false } } },
  });
  assert.equal(effectiveSettings(config, '/v1/chat/completions', 'x'), { enabled: false, ttlSeconds: 100, serveSampling: false, tiers: { exact: true, normalized: true, suffix: false } });
  assert.equal(effectiveSettings(config, '/v1/messages', 'x'), { enabled: true, ttlSeconds: 5, serveSampling: false, tiers: { exact: true, normalized: true, suffix: true } });
  assert.is(effectiveSettings(config, '/v1/messages', 'big').enabled, false);
  assert.equal(effectiveSettings(config, '/v1/messages', 'small'), { enabled: true, ttlSeconds: 5, serveSampling: true, tiers: { exact: false, normalized: true, suffix: true } });
  assert.is(effectiveSettings(config, '/v1/messages', 'constructor').enabled, true, 'prototype names are not overrides');
});

test.run();
