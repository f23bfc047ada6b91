import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { withDefaults, type Config } from '../../src/config/config.js';
import { ConfigError, isLoopbackHost, loadConfig, parseConfig, type FlagValues } from '../../src/config/load.js';

// ---- helpers ----

const upstream = 'http://127.0.0.1:8080';

/** loadConfig over in-memory files; a missing file fails like the file system does. */
function load(flags: FlagValues, env: Record<string, string> = {}, files: Record<string, string> = {}): Config {
  return loadConfig({
    flags,
    env,
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return text;
    },
  });
}

/** Runs `fn`, expects a ConfigError on `key` whose message matches every pattern; returns it. */
function configError(fn: () => unknown, key: string, ...patterns: (string | RegExp)[]): ConfigError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    assert.is(err.key, key, err.message);
    for (const pattern of patterns) assert.match(err.message, pattern);
    return err;
  }
  assert.unreachable(`expected a ConfigError on ${key}`);
  throw new Error('unreachable');
}

/** Aliases come back with a null prototype; a plain copy compares with deep equality. */
const plain = (config: Config) => ({ ...config, aliases: { ...config.aliases } });

// ---- sources and precedence ----

const sources = suite('loadConfig: sources and precedence');

sources('flags alone: one upstream, everything else defaults', () => {
  const config = load({ upstream: [upstream] });
  assert.equal(plain(config), withDefaults({ upstreams: [{ url: upstream }] }));
});

sources('a YAML file named by --config', () => {
  const yaml = `host: localhost\nport: 9000\nupstreams:\n  - ${upstream}\n  - url: http://b:8080\n    slots: 2\nlimits:\n  queueLength: 10\n`;
  const config = load({ config: 'sk.yaml' }, {}, { 'sk.yaml': yaml });
  assert.is(config.host, 'localhost');
  assert.is(config.port, 9000);
  assert.equal(config.upstreams, [{ url: upstream }, { url: 'http://b:8080', slots: 2 }]);
  assert.is(config.limits.queueLength, 10);
  assert.is(config.limits.bodyBytes, withDefaults().limits.bodyBytes);
});

sources('a JSON file named by SLOTKEEPER_CONFIG; --config wins over it', () => {
  const files = {
    'env.json': JSON.stringify({ port: 1111, upstreams: [upstream] }),
    'flag.yml': `port: 2222\nupstreams: [${upstream}]\n`,
  };
  assert.is(load({}, { SLOTKEEPER_CONFIG: 'env.json' }, files).port, 1111);
  assert.is(load({ config: 'flag.yml' }, { SLOTKEEPER_CONFIG: 'env.json' }, files).port, 2222);
});

sources('the environment overrides the file', () => {
  const files = { 'f.yaml': `host: 127.0.0.2\nport: 1\nupstreams: [http://file:1]\ndefaultModel: a\n` };
  const env = {
    SLOTKEEPER_CONFIG: 'f.yaml',
    SLOTKEEPER_HOST: '127.0.0.3',
    SLOTKEEPER_PORT: '2',
    SLOTKEEPER_UPSTREAMS: 'http://env:1',
    SLOTKEEPER_AUTH_TOKEN: 'secret',
    SLOTKEEPER_DEFAULT_MODEL: 'b',
  };
  const config = load({}, env, files);
  assert.is(config.host, '127.0.0.3');
  assert.is(config.port, 2);
  assert.equal(config.upstreams, [{ url: 'http://env:1' }]);
  assert.is(config.authToken, 'secret');
  assert.is(config.defaultModel, 'b');
});

sources('flags override the environment and the file', () => {
  const files = { 'f.yaml': `queue:\n  order: fair\n  agingMsPerSecond: 5\nupstreams: [http://file:1]\n` };
  const env = { SLOTKEEPER_HOST: '127.0.0.3', SLOTKEEPER_PORT: '2', SLOTKEEPER_UPSTREAMS: 'http://env:1', SLOTKEEPER_DEFAULT_MODEL: 'b' };
  const flags: FlagValues = {
    config: 'f.yaml',
    host: '127.0.0.4',
    port: '3',
    upstream: ['http://flag:1', 'http://flag:2'],
    defaultModel: 'c',
    queueOrder: 'shortest-first',
    verbose: true,
  };
  const config = load(flags, env, files);
  assert.is(config.host, '127.0.0.4');
  assert.is(config.port, 3);
  assert.equal(config.upstreams, [{ url: 'http://flag:1' }, { url: 'http://flag:2' }]);
  assert.is(config.defaultModel, 'c');
  assert.is(config.verbose, true);
  // Sections merge key by key: the flag sets the order, the file's aging stays.
  assert.equal(config.queue, { order: 'shortest-first', agingMsPerSecond: 5 });
});

sources('--upstream URL=DIR and --slot-save-dir name an upstream\'s slot-save directory', () => {
  assert.equal(load({ upstream: ['http://a:1=/srv/slots', 'http://b:2'] }).upstreams, [{ url: 'http://a:1', slotSaveDir: '/srv/slots' }, { url: 'http://b:2' }]);
  assert.equal(load({ upstream: ['http://a:1', 'http://b:2/'], slotSaveDir: ['/x', 'rel/y'] }).upstreams, [{ url: 'http://a:1', slotSaveDir: '/x' }, { url: 'http://b:2', slotSaveDir: 'rel/y' }]);
  assert.equal(load({}, { SLOTKEEPER_UPSTREAMS: 'http://a:1=/srv/slots,http://b:2' }).upstreams, [{ url: 'http://a:1', slotSaveDir: '/srv/slots' }, { url: 'http://b:2' }]);
  configError(() => load({ upstream: ['http://a:1='] }), 'upstreams[0].slotSaveDir', /^--upstream: upstreams\[0\]\.slotSaveDir/);
  configError(() => load({ upstream: ['http://a:1', 'http://b:2'], slotSaveDir: ['/x'] }), 'upstreams', /one --slot-save-dir per --upstream, in the same order \(1 for 2\)/);
  configError(() => load({ upstream: ['http://a:1=/x'], slotSaveDir: ['/y'] }), 'upstreams[0].slotSaveDir', /already names its directory/);
  configError(() => load({ slotSaveDir: ['/y'] }, { SLOTKEEPER_UPSTREAMS: 'http://a:1' }), 'upstreams', /an --upstream given beside it/);
});

sources('SLOTKEEPER_UPSTREAMS: comma-separated, spaces and empty items ignored', () => {
  const config = load({}, { SLOTKEEPER_UPSTREAMS: ' http://a:1/ , http://b:2,' });
  assert.equal(config.upstreams, [{ url: 'http://a:1' }, { url: 'http://b:2' }]);
});

sources('an empty environment variable counts as unset', () => {
  const config = load({ upstream: [upstream] }, { SLOTKEEPER_PORT: '', SLOTKEEPER_HOST: '', SLOTKEEPER_AUTH_TOKEN: '', SLOTKEEPER_CONFIG: '' });
  assert.is(config.port, withDefaults().port);
  assert.is(config.authToken, null);
});

sources('URLs: trailing slashes dropped, scheme and host lowercased, a base path kept', () => {
  const config = load({ upstream: ['HTTP://Example.COM:8080/', 'https://proxy.example/llama/'] }, { SLOTKEEPER_AUTH_TOKEN: 't' });
  assert.equal(config.upstreams.map((u) => u.url), ['http://example.com:8080', 'https://proxy.example/llama']);
});

sources('aliases have no prototype: a model named "constructor" is not an alias', () => {
  const config = load({ config: 'a.yaml' }, {}, { 'a.yaml': `upstreams: [${upstream}]\naliases:\n  gpt-4o: qwen\n` });
  assert.is(config.aliases['gpt-4o'], 'qwen');
  assert.is(config.aliases['constructor'], undefined);
  assert.is(load({ upstream: [upstream] }).aliases['toString'], undefined);
});

sources('an empty file, and empty sections, are allowed', () => {
  assert.is(load({ config: 'e.yaml', upstream: [upstream] }, {}, { 'e.yaml': '' }).port, withDefaults().port);
  const config = load({ config: 's.yaml' }, {}, { 's.yaml': `upstreams: [${upstream}]\nlimits:\naliases:\n` });
  assert.equal(config.limits, withDefaults().limits);
});

sources.run();

// ---- validation: every error names its key and origin ----

const validation = suite('parseConfig: validation');

const cases: [string, Record<string, unknown>, string, RegExp?][] = [
  ['root', { port: 1 }, 'upstreams'],
  ['host empty', { host: '' }, 'host'],
  ['host bracketed', { host: '[::1]' }, 'host', /without brackets/],
  ['port not a number', { port: 'x' }, 'port', /got "x"/],
  ['port too large', { port: 70000 }, 'port', /0 to 65535, got 70000/],
  ['port fractional', { port: 1.5 }, 'port'],
  ['upstreams not a list', { upstreams: 'http://a' }, 'upstreams', /a list/],
  ['upstream not a URL', { upstreams: ['nonsense'] }, 'upstreams[0].url'],
  ['upstream scheme', { upstreams: [upstream, 'ftp://a'] }, 'upstreams[1].url', /http or https/],
  ['upstream with a query', { upstreams: ['http://a/?x=1'] }, 'upstreams[0].url', /query/],
  ['upstream of the wrong type', { upstreams: [42] }, 'upstreams[0]'],
  ['upstream without url', { upstreams: [upstream, { slots: 2 }] }, 'upstreams[1].url', /required/],
  ['upstream twice', { upstreams: ['http://a:1', 'http://a:1/'] }, 'upstreams[1].url', /repeats upstreams\[0\]\.url/],
  ['slots zero', { upstreams: [{ url: upstream, slots: 0 }] }, 'upstreams[0].slots', /positive integer/],
  ['ramCacheTokens negative', { upstreams: [{ url: upstream, ramCacheTokens: -1 }] }, 'upstreams[0].ramCacheTokens'],
  ['apiKey empty', { upstreams: [{ url: upstream, apiKey: '' }] }, 'upstreams[0].apiKey'],
  ['aliases a list', { aliases: ['a'] }, 'aliases'],
  ['alias to nothing', { aliases: { a: '' } }, 'aliases.a'],
  ['defaultModel a number', { defaultModel: 3 }, 'defaultModel'],
  ['authToken with a space', { authToken: 'a b' }, 'authToken'],
  ['limits a string', { limits: 'x' }, 'limits', /a mapping/],
  ['limits.bodyBytes zero', { limits: { bodyBytes: 0 } }, 'limits.bodyBytes'],
  ['limits.queueLength', { limits: { queueLength: 'x' } }, 'limits.queueLength'],
  ['limits.queueTimeoutMs past setTimeout', { limits: { queueTimeoutMs: 2 ** 31 } }, 'limits.queueTimeoutMs', /2147483647/],
  ['limits.upstreamHeadersTimeoutMs', { limits: { upstreamHeadersTimeoutMs: -5 } }, 'limits.upstreamHeadersTimeoutMs'],
  ['limits.upstreamIdleTimeoutMs', { limits: { upstreamIdleTimeoutMs: null } }, 'limits.upstreamIdleTimeoutMs', /got null/],
  ['queue.order', { queue: { order: 'lifo' } }, 'queue.order', /"fair" or "shortest-first"/],
  ['queue.agingMsPerSecond', { queue: { agingMsPerSecond: -1 } }, 'queue.agingMsPerSecond'],
  ['fleet.probeIntervalMs', { fleet: { probeIntervalMs: 0 } }, 'fleet.probeIntervalMs'],
  ['fleet.probeTimeoutMs', { fleet: { probeTimeoutMs: '2s' } }, 'fleet.probeTimeoutMs', /got "2s"/],
  ['scheduler.blockChars', { scheduler: { blockChars: 0 } }, 'scheduler.blockChars'],
  ['scheduler.balanceAbsThreshold', { scheduler: { balanceAbsThreshold: 1.5 } }, 'scheduler.balanceAbsThreshold'],
  ['scheduler.balanceRelThreshold', { scheduler: { balanceRelThreshold: 0.5 } }, 'scheduler.balanceRelThreshold', /1 or more/],
  ['verbose', { verbose: 'yes' }, 'verbose', /true or false/],
  ['limits.translatedResponseBytes', { limits: { translatedResponseBytes: 0 } }, 'limits.translatedResponseBytes'],
  ['anthropic', { anthropic: 'proxy' }, 'anthropic', /"translate" or "passthrough"/],
  ['normalize.billingHeader', { normalize: { billingHeader: 'strip' } }, 'normalize.billingHeader', /"fixed", "remove" or "off"/],
  ['normalize.billingHeaderValue with a ;', { normalize: { billingHeaderValue: 'a;b' } }, 'normalize.billingHeaderValue'],
  ['normalize.rules not a list', { normalize: { rules: { a: 1 } } }, 'normalize.rules', /a list/],
  ['a rule without a pattern', { normalize: { rules: [{ name: 'x', target: 'system' }] } }, 'normalize.rules[0].pattern', /required/],
  ['a rule with a bad target', { normalize: { rules: [{ name: 'x', target: 'tools', pattern: 'a' }] } }, 'normalize.rules[0].target', /tool_results/],
  ['a rule with bad flags', { normalize: { rules: [{ name: 'x', target: 'system', pattern: 'a', flags: 'x' }] } }, 'normalize.rules[0].flags'],
  ['a bad regex names its rule', { normalize: { rules: [{ name: 'ok', target: 'system', pattern: 'a' }, { name: 'dates', target: 'system', pattern: '(\\d+' }] } },
    'normalize.rules[1].pattern', /rule "dates" is not a valid regular expression/],
  ['two rules with one name', { normalize: { rules: [{ name: 'd', target: 'system', pattern: 'a' }, { name: 'd', target: 'messages', pattern: 'b' }] } },
    'normalize.rules[1].name', /normalize\.rules\[0\]/],
  ['a rule named like the built-in one', { normalize: { rules: [{ name: 'claude-code-billing-header', target: 'system', pattern: 'a' }] } },
    'normalize.rules[0].name', /built-in/],
  ['unknown top-level key', { prot: 1 }, 'prot', /unknown key prot \(did you mean port\?\)/],
  ['unknown key, snake_case', { limits: { queue_length: 1 } }, 'limits.queue_length', /did you mean queueLength\?/],
  ['unknown upstream key', { upstreams: [{ url: upstream, slot: 1 }] }, 'upstreams[0].slot', /did you mean slots\?/],
  ['unknown key, nothing near', { zzzzzz: 1 }, 'zzzzzz', /known keys: host, port/],
];

for (const [name, raw, key, pattern] of cases) {
  validation(`${name}: the error is on ${key}`, () => {
    // Every case but the first has an upstream, so only the broken key can fail.
    const input = name === 'root' || 'upstreams' in raw ? raw : { upstreams: [upstream], ...raw };
    configError(() => parseConfig(input, 'cfg.yaml'), key, `cfg.yaml: `, key, ...(pattern ? [pattern] : []));
  });
}

validation('the message reads "<origin>: <key> must be <what>, got <value>"', () => {
  const err = configError(() => parseConfig({ upstreams: [upstream], limits: { queueLength: 'x' } }, 'config.yaml'), 'limits.queueLength');
  assert.is(err.message, 'config.yaml: limits.queueLength must be a positive integer, got "x"');
  assert.is(err.origin, 'config.yaml');
});

validation('secrets are never echoed in messages', () => {
  const token = configError(() => parseConfig({ upstreams: [upstream], authToken: 'hunter2 x' }, 'c.yaml'), 'authToken');
  assert.not.match(token.message, 'hunter2');
  const key = configError(() => parseConfig({ upstreams: [{ url: upstream, apiKey: 'hunter2 x' }] }, 'c.yaml'), 'upstreams[0].apiKey');
  assert.not.match(key.message, 'hunter2');
  const url = configError(() => parseConfig({ upstreams: ['http://user:hunter2@a:1'] }, 'c.yaml'), 'upstreams[0].url', /apiKey/);
  assert.not.match(url.message, 'hunter2');
});

validation('a config that is not a mapping', () => {
  configError(() => parseConfig([1], 'c.yaml'), '', 'c.yaml: the configuration must be a mapping, got a list');
});

validation('the environment and flags are named as origins', () => {
  configError(() => load({ upstream: [upstream] }, { SLOTKEEPER_PORT: 'abc' }), 'port', 'SLOTKEEPER_PORT: port must be', '"abc"');
  configError(() => load({ upstream: [upstream], port: '-1' }), 'port', '--port: port must be', '"-1"');
  configError(() => load({ upstream: [upstream], port: '70000' }), 'port', '--port: port must be');
  configError(() => load({ upstream: [upstream, 'ftp://x'] }), 'upstreams[1].url', '--upstream: upstreams[1].url must be');
  configError(() => load({}, { SLOTKEEPER_UPSTREAMS: 'http://a,b' }), 'upstreams[1].url', 'SLOTKEEPER_UPSTREAMS: ');
  configError(() => load({ upstream: [upstream], queueOrder: 'lifo' }), 'queue.order', '--queue-order: queue.order must be');
  configError(() => load({ upstream: [upstream], defaultModel: '' }), 'defaultModel', '--default-model: ');
  configError(() => load({ upstream: [upstream], host: 'a b' }), 'host', '--host: ');
  configError(() => load({ upstream: [upstream] }, { SLOTKEEPER_AUTH_TOKEN: 'a b' }), 'authToken', 'SLOTKEEPER_AUTH_TOKEN: ');
  configError(() => load({ upstream: [upstream] }, { SLOTKEEPER_DEFAULT_MODEL: ' ' }), 'defaultModel', 'SLOTKEEPER_DEFAULT_MODEL: ');
});

validation('at least one upstream, from any source', () => {
  configError(() => load({}), 'upstreams', /--upstream URL/, /SLOTKEEPER_UPSTREAMS/);
  configError(() => load({ config: 'c.yaml' }, {}, { 'c.yaml': 'upstreams: []\n' }), 'upstreams', /^c\.yaml: /);
});

validation('normalize: rules get their defaults, the built-in rule its mode', () => {
  const config = parseConfig({ upstreams: [upstream], normalize: { billingHeader: 'remove', rules: [{ name: 'd', target: 'messages', pattern: 'x' }] } }, 'c.yaml');
  assert.equal(config.normalize, {
    billingHeader: 'remove', billingHeaderValue: '0',
    rules: [{ name: 'd', target: 'messages', pattern: 'x', flags: '', replacement: '', enabled: true }],
  });
  assert.is(parseConfig({ upstreams: [upstream] }, 'c.yaml').anthropic, 'translate');
});

validation('kv.saveIdleSeconds: off by default; seconds, 0 or more (fractions too), or null', () => {
  assert.is(parseConfig({ upstreams: [upstream] }, 'c.yaml').kv.saveIdleSeconds, null);
  assert.is(parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: 30 } }, 'c.yaml').kv.saveIdleSeconds, 30);
  assert.is(parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: 0.5 } }, 'c.yaml').kv.saveIdleSeconds, 0.5);
  assert.is(parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: 0 } }, 'c.yaml').kv.saveIdleSeconds, 0);
  assert.is(parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: null } }, 'c.yaml').kv.saveIdleSeconds, null);
  configError(() => parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: -1 } }, 'c.yaml'), 'kv.saveIdleSeconds', 'c.yaml: kv.saveIdleSeconds must be a number of seconds', 'got -1');
  configError(() => parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: '30s' } }, 'c.yaml'), 'kv.saveIdleSeconds', 'got "30s"');
  configError(() => parseConfig({ upstreams: [upstream], kv: { saveIdleSeconds: 3e6 } }, 'c.yaml'), 'kv.saveIdleSeconds', 'at most 2147483');
});

validation.run();

// ---- config files ----

const files = suite('loadConfig: config files');

files('bad YAML: a ConfigError naming the file, with the line', () => {
  configError(() => load({ config: 'bad.yaml' }, {}, { 'bad.yaml': 'port: [1\n' }), '', /^bad\.yaml: invalid YAML: /, /at line \d+, column \d+/);
});

files('duplicate keys are an error, not "the last one wins"', () => {
  configError(() => load({ config: 'd.yaml' }, {}, { 'd.yaml': 'port: 1\nport: 2\n' }), '', /^d\.yaml: invalid YAML: /, /unique/);
});

files('an unknown YAML tag is an error', () => {
  configError(() => load({ config: 't.yaml' }, {}, { 't.yaml': 'port: !seconds 5\n' }), '', /^t\.yaml: invalid YAML: /, /!seconds/);
});

files('an alias to a missing anchor is an error', () => {
  configError(() => load({ config: 'a.yaml' }, {}, { 'a.yaml': 'port: *nope\n' }), '', /^a\.yaml: invalid YAML: /);
});

files('bad JSON: values are strict JSON', () => {
  configError(() => load({ config: 'bad.json' }, {}, { 'bad.json': '{"port": eighty}' }), '', /^bad\.json: invalid JSON: /);
});

files('a missing file names the file and who named it', () => {
  configError(() => load({ config: 'nope.yaml' }), '', /^nope\.yaml: cannot read the config file named by --config/, /ENOENT/);
  configError(() => load({}, { SLOTKEEPER_CONFIG: 'nope.yaml' }), '', /named by SLOTKEEPER_CONFIG/);
});

files('an extension that is neither YAML nor JSON', () => {
  configError(() => load({ config: 'c.toml' }, {}, { 'c.toml': '' }), '', /^c\.toml: a config file must end in \.yaml, \.yml or \.json/);
});

files('validation errors in a file name the file', () => {
  configError(() => load({ config: 'c.yaml' }, {}, { 'c.yaml': 'limits:\n  queueLength: x\n' }), 'limits.queueLength', 'c.yaml: limits.queueLength must be a positive integer, got "x"');
});

files.run();

// ---- the auth rule ----

const authRule = suite('loadConfig: non-loopback hosts need a token');

authRule('0.0.0.0 without a token is refused, naming where the host came from', () => {
  const err = configError(() => load({ upstream: [upstream], host: '0.0.0.0' }), 'authToken', /^--host: /, /not loopback/, /SLOTKEEPER_AUTH_TOKEN/);
  assert.match(err.message, '"0.0.0.0"');
  configError(() => load({ upstream: [upstream] }, { SLOTKEEPER_HOST: '::' }), 'authToken', /^SLOTKEEPER_HOST: /);
  configError(() => load({ config: 'h.yaml' }, {}, { 'h.yaml': `host: 10.0.0.1\nupstreams: [${upstream}]\n` }), 'authToken', /^h\.yaml: /);
});

authRule('with a token from the environment or the file, accepted', () => {
  assert.is(load({ upstream: [upstream], host: '0.0.0.0' }, { SLOTKEEPER_AUTH_TOKEN: 'tok' }).authToken, 'tok');
  const files = { 'h.yaml': 'authToken: tok\n' };
  assert.is(load({ config: 'h.yaml', upstream: [upstream], host: '192.168.1.2' }, {}, files).host, '192.168.1.2');
});

authRule('loopback addresses need no token', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
    assert.ok(isLoopbackHost(host), host);
    assert.is(load({ upstream: [upstream], host }).host, host);
  }
});

authRule('everything else needs one', () => {
  for (const host of ['0.0.0.0', '::', '128.0.0.1', '10.0.0.1', '::2', '::ffff:10.0.0.1', 'example.com', 'localhost.example.com', 'fe80::1%eth0']) {
    assert.not.ok(isLoopbackHost(host), host);
  }
});

authRule.run();

// ---- the example config ----

const example = suite('slotkeeper.example.yaml');

const examplePath = fileURLToPath(new URL('../../../slotkeeper.example.yaml', import.meta.url));
const exampleRaw: unknown = parse(readFileSync(examplePath, 'utf8'));

/** Every key path in a parsed config, list items merged (`upstreams[].url`). */
function keyPaths(value: unknown, prefix = ''): Set<string> {
  const paths = new Set<string>();
  if (Array.isArray(value)) {
    for (const item of value) for (const path of keyPaths(item, `${prefix}[]`)) paths.add(path);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      paths.add(path);
      for (const sub of keyPaths(item, path)) paths.add(sub);
    }
  }
  return paths;
}

example('is a valid config', () => {
  parseConfig(exampleRaw, examplePath);
});

example('sets every key a Config has, and every upstream field', () => {
  const inExample = keyPaths(exampleRaw);
  // aliases' keys are examples, not config keys.
  const expected = [...keyPaths({ ...withDefaults(), aliases: {}, upstreams: [] })];
  expected.push('upstreams[].url', 'upstreams[].slots', 'upstreams[].ramCacheTokens', 'upstreams[].apiKey', 'upstreams[].slotSaveDir', 'upstreams[].kind');
  for (const path of expected) assert.ok(inExample.has(path), `the example does not show ${path}`);
});

example('says the defaults truthfully', () => {
  const config = parseConfig(exampleRaw, examplePath);
  const defaults = withDefaults();
  for (const key of ['host', 'port', 'defaultModel', 'authToken', 'limits', 'queue', 'fleet', 'scheduler', 'kv', 'verbose'] as const) {
    assert.equal(config[key], defaults[key], key);
  }
});

example.run();

// ---- security settings (issue #16) ----

const security = suite('loadConfig: admin token, allowed hosts and origins, limits');

security('the admin token comes from the environment or the file, never echoed', () => {
  assert.is(load({ upstream: [upstream] }).adminToken, null);
  assert.is(load({ upstream: [upstream] }, { SLOTKEEPER_ADMIN_TOKEN: 'adm' }).adminToken, 'adm');
  assert.is(load({ config: 'a.yaml', upstream: [upstream] }, {}, { 'a.yaml': 'adminToken: adm2\n' }).adminToken, 'adm2');
  const err = configError(() => load({ upstream: [upstream] }, { SLOTKEEPER_ADMIN_TOKEN: 'has space' }), 'adminToken', /^SLOTKEEPER_ADMIN_TOKEN: /);
  assert.not.match(err.message, 'has space');
});

security('allowedOrigins are origins; allowedHosts are names', () => {
  const files = { 'o.yaml': 'allowedOrigins: [https://app.example, "http://localhost:3000"]\nallowedHosts: [proxy.lan]\n' };
  const config = load({ config: 'o.yaml', upstream: [upstream] }, {}, files);
  assert.equal(config.allowedOrigins, ['https://app.example', 'http://localhost:3000']);
  assert.equal(config.allowedHosts, ['proxy.lan']);
  configError(() => load({ config: 'p.yaml', upstream: [upstream] }, {}, { 'p.yaml': 'allowedOrigins: [https://app.example/path]\n' }), 'allowedOrigins[0]', /an origin like/);
  configError(() => load({ config: 'p.yaml', upstream: [upstream] }, {}, { 'p.yaml': 'allowedHosts: proxy.lan\n' }), 'allowedHosts', /a list of host names/);
});

security('the new limits are validated by key', () => {
  const files = { 'l.yaml': 'limits:\n  analysisTimeoutMs: 500\n  maxConnections: 10\n  bufferedBodyBytes: 1000\n  bodyTimeoutMs: 2000\n  workerQueueLength: 0\n  workerHeapMb: 64\n' };
  const { limits } = load({ config: 'l.yaml', upstream: [upstream] }, {}, files);
  assert.equal([limits.analysisTimeoutMs, limits.maxConnections, limits.bufferedBodyBytes, limits.bodyTimeoutMs, limits.workerQueueLength, limits.workerHeapMb], [500, 10, 1000, 2000, 0, 64]);
  configError(() => load({ config: 'm.yaml', upstream: [upstream] }, {}, { 'm.yaml': 'limits:\n  bodyTimeoutMs: 0\n' }), 'limits.bodyTimeoutMs');
  configError(() => load({ config: 'm.yaml', upstream: [upstream] }, {}, { 'm.yaml': 'limits:\n  workerHeapMb: 1\n' }), 'limits.workerHeapMb');
});

security.run();

const catastrophic = suite('loadConfig: catastrophic patterns');

catastrophic('a normalization or strip rule with a nested quantifier is refused, naming the rule', () => {
  const rules = 'normalize:\n  rules:\n    - name: dates\n      target: system\n      pattern: "(a+)+$"\n';
  configError(() => load({ config: 'r.yaml', upstream: [upstream] }, {}, { 'r.yaml': rules }), 'normalize.rules[0].pattern', /rule "dates"/, /\(a\+\)\+/, /exponential/);
  const strip = 'responseCache:\n  stripRules:\n    - pattern: "(\\\\s*x)*y"\n';
  configError(() => load({ config: 's.yaml', upstream: [upstream] }, {}, { 's.yaml': strip }), 'responseCache.stripRules[0].pattern', /exponential/);
});

catastrophic.run();
