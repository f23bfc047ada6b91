// The responseCache section of the config: defaults, validation with key paths, precedence.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../../src/config/config.js';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

const upstreams = ['http://127.0.0.1:8080'];
const parse = (responseCache: unknown) => parseConfig({ upstreams, responseCache }, 'f.yaml').responseCache;

function configError(fn: () => unknown, key: string, pattern?: RegExp): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.is(err.key, key, err.message);
    if (pattern) assert.match(err.message, pattern);
    return;
  }
  assert.unreachable(`expected a ConfigError on ${key}`);
}

const test = suite('response-cache/config');

test('off by default, with every limit set', () => {
  const c = withDefaults().responseCache;
  assert.is(c.enabled, false);
  assert.is(c.dir, join(homedir(), '.cache', 'slotkeeper', 'responses'));
  assert.equal(c.tiers, { exact: true, normalized: true, suffix: false });
  assert.is(c.serveSampling, false);
  assert.ok(c.maxEntryBytes <= c.maxBytes);
});

test('a file sets fields; tiers merge with their defaults', () => {
  const c = parse({ enabled: true, dir: 'cache', ttlSeconds: 5, tiers: { suffix: true }, stripRules: [{ pattern: 'a+' }],
    routes: { '/v1/messages': { ttlSeconds: 1 } }, models: { m: { enabled: false, tiers: { exact: false } } } });
  assert.is(c.enabled, true);
  assert.is(c.dir, 'cache');
  assert.is(c.ttlSeconds, 5);
  assert.equal(c.tiers, { exact: true, normalized: true, suffix: true });
  assert.equal(c.stripRules, [{ pattern: 'a+', replacement: '', flags: '' }]);
  assert.equal({ ...c.routes }, { '/v1/messages': { ttlSeconds: 1 } });
  assert.equal({ ...c.models }, { m: { enabled: false, tiers: { exact: false } } });
});

test('mistakes name their key path', () => {
  configError(() => parse({ enabled: 'yes' }), 'responseCache.enabled');
  configError(() => parse({ ttlSeconds: 0 }), 'responseCache.ttlSeconds');
  configError(() => parse({ maxBytes: -1 }), 'responseCache.maxBytes');
  configError(() => parse({ maxBytes: 10, maxEntryBytes: 11 }), 'responseCache.maxEntryBytes', /must not exceed/);
  configError(() => parse({ tiers: { fuzzy: true } }), 'responseCache.tiers.fuzzy', /unknown key/);
  configError(() => parse({ stripRules: [{ pattern: '(' }] }), 'responseCache.stripRules[0].pattern', /not a valid regular expression/);
  configError(() => parse({ stripRules: [{ replacement: 'x' }] }), 'responseCache.stripRules[0].pattern', /required/);
  configError(() => parse({ stripRules: [{ pattern: 'a', flags: 'g' }] }), 'responseCache.stripRules[0].flags');
  configError(() => parse({ routes: { 'v1/messages': {} } }), 'responseCache.routes.v1/messages', /paths starting with \//);
  configError(() => parse({ models: { m: { ttlSecond: 3 } } }), 'responseCache.models.m.ttlSecond', /did you mean ttlSeconds/);
  configError(() => parse({ suffixMessages: 0 }), 'responseCache.suffixMessages');
  configError(() => parse({ max_bytes: 1 }), 'responseCache.max_bytes', /did you mean maxBytes/);
});

test('--response-cache turns it on over the file; XDG_CACHE_HOME moves the default directory', () => {
  const files: Record<string, string> = { 'c.yaml': 'upstreams: [http://127.0.0.1:1]\nresponseCache: { enabled: false, ttlSeconds: 7 }\n' };
  const config = loadConfig({ flags: { config: 'c.yaml', responseCache: true }, env: { XDG_CACHE_HOME: '/xdg' }, readFile: (p) => files[p]! });
  assert.is(config.responseCache.enabled, true);
  assert.is(config.responseCache.ttlSeconds, 7);
  assert.is(config.responseCache.dir, join('/xdg', 'slotkeeper', 'responses'));
  const explicit = loadConfig({ flags: { config: 'd.yaml', upstream: upstreams }, env: { XDG_CACHE_HOME: '/xdg' }, readFile: () => 'responseCache: { dir: /mine }' });
  assert.is(explicit.responseCache.dir, '/mine');
});

test.run();
