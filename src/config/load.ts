// The one configuration loader: the config file, then the environment, then the flags, each
// validated where it comes in so an error names both the key and where the bad value came from.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { extname, join } from 'node:path';
import { parseDocument } from 'yaml';
import { nestedQuantifier } from '../../workers/nested-quantifier.js';
import { BILLING_RULE, compilePattern } from '../../workers/normalize.js';
import { defaults } from '../defaults.js';
import {
  withDefaults, type AnthropicMode, type BillingHeaderMode, type Config, type NormalizeConfig, type NormalizeRuleConfig,
  type PartialConfig, type ResponseCacheConfig, type ResponseCacheOverride, type ResponseCacheTiers, type RuleTarget,
  type StripRuleConfig, type UpstreamConfig,
} from './config.js';

/** `slotkeeper serve`'s flags as typed: strings, so the loader validates them and names the flag. */
export interface FlagValues {
  config?: string;
  host?: string;
  port?: string;
  /**
   * Every `--upstream`, each `URL` or `URL=DIR` (DIR: the server's --slot-save-path as seen here);
   * when given they replace the file's and the environment's upstreams.
   */
  upstream?: string[];
  /** Every `--slot-save-dir`: the n-th is the n-th --upstream's slotSaveDir. */
  slotSaveDir?: string[];
  defaultModel?: string;
  queueOrder?: string;
  /** `--response-cache`: turns the response cache on. */
  responseCache?: boolean;
  verbose?: boolean;
}

/** Where {@link loadConfig} reads from; tests pass their own. */
export interface ConfigSources {
  flags: FlagValues;
  env: Record<string, string | undefined>;
  /** Reads the config file as UTF-8; defaults to the file system. */
  readFile?: (path: string) => string;
}

/** A configuration mistake, with the key path (`upstreams[1].url`; '' for a whole file) and its origin. */
export class ConfigError extends Error {
  /** Key path of the bad value, e.g. `limits.queueLength`; '' when the file as a whole is bad. */
  readonly key: string;
  /** Where the value came from: a file path, an environment variable or a flag; null when nowhere. */
  readonly origin: string | null;

  constructor(origin: string | null, key: string, problem: string) {
    super(origin === null ? problem : `${origin}: ${problem}`);
    this.name = 'ConfigError';
    this.key = key;
    this.origin = origin;
  }
}

/** The environment variables the loader reads. */
export const envVars = {
  config: 'SLOTKEEPER_CONFIG',
  host: 'SLOTKEEPER_HOST',
  port: 'SLOTKEEPER_PORT',
  upstreams: 'SLOTKEEPER_UPSTREAMS',
  authToken: 'SLOTKEEPER_AUTH_TOKEN',
  adminToken: 'SLOTKEEPER_ADMIN_TOKEN',
  defaultModel: 'SLOTKEEPER_DEFAULT_MODEL',
  /** Where the response cache's directory goes by default (`$XDG_CACHE_HOME/slotkeeper/responses`). */
  cacheHome: 'XDG_CACHE_HOME',
} as const;

/**
 * Builds the configuration `slotkeeper serve` runs with. Precedence: file < environment < flags;
 * upstreams from a later source replace earlier ones as a whole, limits and other sections merge
 * key by key. An empty environment variable counts as unset.
 */
export function loadConfig(sources: ConfigSources): Config {
  const { merged, path, hostOrigin } = mergeSources(sources);
  return finish(merged, { host: hostOrigin, upstreams: path, responseCache: path });
}

/**
 * The response cache's settings from the same sources as {@link loadConfig}, for `slotkeeper
 * cache`, which needs no upstreams.
 */
export function loadResponseCacheConfig(sources: ConfigSources): ResponseCacheConfig {
  const { merged, path } = mergeSources(sources);
  const config = withDefaults(merged).responseCache;
  checkResponseCache(config, path);
  return config;
}

/** What `slotkeeper kv` needs: the upstreams (for their slot-save directories) and the kv section. */
export type KvCommandConfig = Pick<Config, 'upstreams' | 'kv'>;

/**
 * The upstreams and the disk tier's settings from the config file alone (named by --config or
 * the environment), for `slotkeeper kv`: slotSaveDir can only be set there, and the environment's
 * upstream list, which would replace the file's, cannot carry it. No gateway starts, so no
 * whole-config rule (authToken, at least one upstream) applies.
 */
export function loadKvConfig(sources: ConfigSources): KvCommandConfig {
  const path = sources.flags.config ?? (sources.env[envVars.config] || undefined);
  if (path === undefined) return { upstreams: [], kv: withDefaults().kv };
  const namedBy = sources.flags.config !== undefined ? '--config' : envVars.config;
  const file = parsePartial(readConfigFile(path, namedBy, sources.readFile ?? ((p) => readFileSync(p, 'utf8'))), path);
  const { upstreams, kv } = withDefaults(file);
  return { upstreams, kv };
}

function mergeSources(sources: ConfigSources): { merged: PartialConfig; path: string | null; hostOrigin: string | null } {
  const { flags } = sources;
  const env = (name: string): string | undefined => (sources.env[name] === '' ? undefined : sources.env[name]);
  const path = flags.config ?? env(envVars.config) ?? null;
  let file: PartialConfig = {};
  if (path !== null) {
    const namedBy = flags.config !== undefined ? '--config' : envVars.config;
    file = parsePartial(readConfigFile(path, namedBy, sources.readFile ?? ((p) => readFileSync(p, 'utf8'))), path);
  }
  const fromEnv = environmentSource(env);
  const fromFlags = flagSource(flags);
  const hostOrigin = fromFlags.host !== undefined ? '--host' : fromEnv.host !== undefined ? envVars.host : path;
  const merged = merge(merge(file, fromEnv), fromFlags);
  const cacheHome = env(envVars.cacheHome);
  if (merged.responseCache?.dir === undefined && cacheHome !== undefined) {
    merged.responseCache = { ...merged.responseCache, dir: join(cacheHome, defaults.responseCacheDirName) };
  }
  return { merged, path, hostOrigin };
}

function environmentSource(env: (name: string) => string | undefined): PartialConfig {
  const out: PartialConfig = {};
  const host = env(envVars.host);
  if (host !== undefined) out.host = hostname(host, at(envVars.host, 'host'));
  const port = env(envVars.port);
  if (port !== undefined) out.port = portNumber(numeric(port), at(envVars.port, 'port'));
  const upstreams = env(envVars.upstreams);
  if (upstreams !== undefined) {
    const entries = upstreams.split(',').map((s) => s.trim()).filter((s) => s !== '');
    out.upstreams = upstreamList(entries.map(upstreamEntry), at(envVars.upstreams, 'upstreams'));
  }
  const token = env(envVars.authToken);
  if (token !== undefined) out.authToken = secret(token, at(envVars.authToken, 'authToken'));
  const admin = env(envVars.adminToken);
  if (admin !== undefined) out.adminToken = secret(admin, at(envVars.adminToken, 'adminToken'));
  const model = env(envVars.defaultModel);
  if (model !== undefined) out.defaultModel = nonEmptyString(model, at(envVars.defaultModel, 'defaultModel'));
  return out;
}

function flagSource(flags: FlagValues): PartialConfig {
  const out: PartialConfig = {};
  if (flags.host !== undefined) out.host = hostname(flags.host, at('--host', 'host'));
  if (flags.port !== undefined) out.port = portNumber(numeric(flags.port), at('--port', 'port'));
  const dirs = flags.slotSaveDir ?? [];
  if (flags.upstream !== undefined && flags.upstream.length > 0) {
    const entries = flags.upstream.map(upstreamEntry);
    if (dirs.length > 0) {
      if (dirs.length !== entries.length) {
        throw new ConfigError('--slot-save-dir', 'upstreams', `give one --slot-save-dir per --upstream, in the same order (${dirs.length} for ${entries.length}), or use --upstream URL=DIR`);
      }
      entries.forEach((e, i) => {
        if (typeof e !== 'string') throw new ConfigError('--slot-save-dir', `upstreams[${i}].slotSaveDir`, `upstreams[${i}] already names its directory (--upstream ${flags.upstream![i]})`);
        entries[i] = { url: e, slotSaveDir: dirs[i]! };
      });
    }
    out.upstreams = upstreamList(entries, at('--upstream', 'upstreams'));
  } else if (dirs.length > 0) {
    throw new ConfigError('--slot-save-dir', 'upstreams', 'each --slot-save-dir names the directory of an --upstream given beside it');
  }
  if (flags.defaultModel !== undefined) {
    out.defaultModel = nonEmptyString(flags.defaultModel, at('--default-model', 'defaultModel'));
  }
  if (flags.queueOrder !== undefined) out.queue = { order: queueOrder(flags.queueOrder, at('--queue-order', 'queue.order')) };
  if (flags.verbose === true) out.verbose = true;
  if (flags.responseCache === true) out.responseCache = { enabled: true };
  return out;
}

/**
 * Validates a config-file-shaped object (as parsed from YAML or JSON) and fills the defaults.
 * `origin` names it in errors, e.g. the file's path.
 */
export function parseConfig(raw: unknown, origin: string): Config {
  return finish(parsePartial(raw, origin), { host: origin, upstreams: origin, responseCache: origin });
}

function readConfigFile(path: string, namedBy: string, readFile: (path: string) => string): unknown {
  const ext = extname(path).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml' && ext !== '.json') {
    throw new ConfigError(path, '', `a config file must end in .yaml, .yml or .json (named by ${namedBy})`);
  }
  let text: string;
  try {
    text = readFile(path);
  } catch (err) {
    throw new ConfigError(path, '', `cannot read the config file named by ${namedBy}: ${messageOf(err)}`);
  }
  // YAML 1.2 is a superset of JSON; its JSON schema keeps a .json file strict JSON in its values.
  const doc = parseDocument(text, { prettyErrors: true, schema: ext === '.json' ? 'json' : 'core' });
  // Warnings (an unknown !tag) mean the file does not say what its author thinks: refuse it too.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) throw new ConfigError(path, '', `invalid ${ext === '.json' ? 'JSON' : 'YAML'}: ${problem.message.trimEnd()}`);
  try {
    return doc.toJS();
  } catch (err) {
    // An alias to a missing anchor, or too many aliases (the "billion laughs" guard).
    throw new ConfigError(path, '', `invalid YAML: ${messageOf(err)}`);
  }
}

// ---- Whole-config rules, on the merged result ----

const ipv4MappedLoopback = /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/;

/** True for 127.0.0.0/8, ::1 (in any spelling) and localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  try {
    // The URL parser canonicalizes IPv6, so 0:0:0:0:0:0:0:1 and ::1 compare equal.
    const canonical = new URL(`http://[${host}]`).hostname;
    return canonical === '[::1]' || ipv4MappedLoopback.test(canonical);
  } catch {
    // Not an IPv6 literal: a name other than localhost, which may resolve to anything.
    return false;
  }
}

function finish(partial: PartialConfig, origins: { host: string | null; upstreams: string | null; responseCache: string | null }): Config {
  // Null prototype: a request naming model "constructor" must not find Object's.
  const aliases: Record<string, string> = Object.assign(Object.create(null) as object, partial.aliases);
  const config = withDefaults({ ...partial, aliases });
  if (config.upstreams.length === 0) {
    throw new ConfigError(
      origins.upstreams,
      'upstreams',
      `upstreams: at least one upstream is required: pass --upstream URL, set ${envVars.upstreams}, or list upstreams in the config file`,
    );
  }
  if (config.authToken === null && !isLoopbackHost(config.host)) {
    throw new ConfigError(
      origins.host,
      'authToken',
      `authToken is required when host is ${JSON.stringify(config.host)}, which is not loopback: ` +
        `anyone who can reach the port could use the fleet. Set ${envVars.authToken} or authToken in the config file ` +
        `(there is no flag: flags show in ps), or listen on 127.0.0.1`,
    );
  }
  checkResponseCache(config.responseCache, origins.responseCache);
  return config;
}

function checkResponseCache(cache: ResponseCacheConfig, origin: string | null): void {
  if (cache.maxEntryBytes > cache.maxBytes) {
    throw new ConfigError(
      origin,
      'responseCache.maxEntryBytes',
      `responseCache.maxEntryBytes (${cache.maxEntryBytes}) must not exceed responseCache.maxBytes (${cache.maxBytes})`,
    );
  }
}

function merge(base: PartialConfig, over: PartialConfig): PartialConfig {
  return {
    ...base,
    ...over,
    limits: { ...base.limits, ...over.limits },
    queue: { ...base.queue, ...over.queue },
    fleet: { ...base.fleet, ...over.fleet },
    scheduler: { ...base.scheduler, ...over.scheduler },
    normalize: { ...base.normalize, ...over.normalize },
    kv: { ...base.kv, ...over.kv },
    responseCache: {
      ...base.responseCache,
      ...over.responseCache,
      tiers: { ...base.responseCache?.tiers, ...over.responseCache?.tiers },
    },
  };
}

// ---- Field validators: each takes an unknown value and where it is, returns it typed or throws ----

interface At {
  origin: string;
  key: string;
}
type Check<T> = (value: unknown, at: At) => T;
type Checks<T> = { [K in keyof T]-?: Check<Exclude<T[K], undefined>> };

const at = (origin: string, key: string): At => ({ origin, key });
const child = (parent: At, key: string | number): At => ({
  origin: parent.origin,
  key: typeof key === 'number' ? `${parent.key}[${key}]` : parent.key === '' ? key : `${parent.key}.${key}`,
});

// setTimeout fires at once (with a TimeoutOverflowWarning) past 2^31-1 ms, about 24.8 days.
const maxTimerMs = 2 ** 31 - 1;

/** Throws "<key> must be <expected>, got <value>". */
function fail(where: At, expected: string, value: unknown): never {
  return failQuietly(where, `${expected}, got ${describe(value)}`);
}

/** Like {@link fail} without echoing the value, for secrets: error messages end up in logs. */
function failQuietly(where: At, expected: string): never {
  const subject = where.key === '' ? 'the configuration' : where.key;
  throw new ConfigError(where.origin, where.key, `${subject} must be ${expected}`);
}

const integer = (min: number, max: number, expected: string): Check<number> => (value, where) =>
  Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max
    ? (value as number)
    : fail(where, expected, value);

const positiveInteger = integer(1, Number.MAX_SAFE_INTEGER, 'a positive integer');
const nonNegativeInteger = integer(0, Number.MAX_SAFE_INTEGER, 'an integer, 0 or more');
const milliseconds = integer(1, maxTimerMs, `a positive integer of milliseconds, at most ${maxTimerMs}`);
const portNumber = integer(0, 65535, 'an integer from 0 to 65535');
const seconds: Check<number> = (value, where) =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value * 1000 <= maxTimerMs
    ? value
    : fail(where, `a number of seconds, 0 or more, at most ${Math.floor(maxTimerMs / 1000)}`, value);

/** A number as typed in the environment or a flag; anything else stays a string and fails its check. */
const numeric = (raw: string): number | string => (/^\d+$/.test(raw) ? Number(raw) : raw);

const number = (min: number, expected: string): Check<number> => (value, where) =>
  typeof value === 'number' && Number.isFinite(value) && value >= min ? value : fail(where, expected, value);

const nonEmptyString: Check<string> = (value, where) =>
  typeof value === 'string' && value.trim() !== '' ? value : fail(where, 'a non-empty string', value);

const boolean: Check<boolean> = (value, where) =>
  typeof value === 'boolean' ? value : fail(where, 'true or false', value);

const nullable = <T>(check: Check<T>): Check<T | null> => (value, where) => (value === null ? null : check(value, where));

const hostname: Check<string> = (value, where) =>
  typeof value === 'string' && /^[^\s[\]]+$/.test(value)
    ? value
    : fail(where, 'a host name or IP address (IPv6 without brackets, e.g. ::1)', value);

const queueOrder: Check<'fair' | 'shortest-first'> = (value, where) =>
  value === 'fair' || value === 'shortest-first' ? value : fail(where, '"fair" or "shortest-first"', value);

const secretPattern = /^[\x21-\x7e]+$/;
const secret: Check<string> = (value, where) =>
  typeof value === 'string' && secretPattern.test(value)
    ? value
    : failQuietly(where, 'a non-empty string of printable ASCII without spaces (it travels in an HTTP header)');

function url(value: unknown, where: At): string {
  if (typeof value !== 'string') return fail(where, 'an http or https URL', value);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return fail(where, 'an http or https URL', value);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return fail(where, 'an http or https URL', value);
  // fetch refuses URLs with credentials; llama-server's --api-key goes in apiKey.
  if (parsed.username !== '' || parsed.password !== '') {
    return failQuietly(where, "a URL without user:password (put llama-server's --api-key in apiKey)");
  }
  if (parsed.search !== '' || parsed.hash !== '') return fail(where, 'a base URL without ?query or #fragment', value);
  return parsed.href.replace(/\/+$/, '');
}

function isMapping(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Checks a mapping key by key; an empty YAML key (null) counts as an empty mapping. */
function section<T>(checks: Checks<T>): Check<Partial<T>> {
  return (value, where) => {
    if (value === null) return {};
    if (!isMapping(value)) return fail(where, 'a mapping', value);
    const out: Partial<T> = {};
    for (const [key, item] of Object.entries(value)) {
      if (!Object.hasOwn(checks, key)) unknownKey(child(where, key), key, Object.keys(checks));
      const name = key as keyof T;
      out[name] = checks[name](item, child(where, key));
    }
    return out;
  };
}

function unknownKey(where: At, key: string, known: string[]): never {
  // Typos and snake_case are the usual reasons; suggest the key that was meant.
  const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const near = known.find((k) => squash(k) === squash(key)) ?? known.find((k) => editDistance(k, key) <= 2);
  const hint = near === undefined ? `known keys: ${known.join(', ')}` : `did you mean ${near}?`;
  throw new ConfigError(where.origin, where.key, `unknown key ${where.key} (${hint})`);
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      next.push(Math.min((row[j] ?? 0) + 1, (next[j - 1] ?? 0) + 1, (row[j - 1] ?? 0) + cost));
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

const stringList = (what: string): Check<string[]> => (value, where) => {
  if (value === null) return [];
  if (!Array.isArray(value)) return fail(where, `a list of ${what}`, value);
  return value.map((item, i) => nonEmptyString(item, child(where, i)));
};

// An origin is scheme://host[:port], as browsers send it: a path or a trailing slash never matches.
const originList: Check<string[]> = (value, where) => stringList('origins')(value, where).map((origin, i) => {
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || parsed.origin === 'null' || parsed.origin !== origin.toLowerCase().replace(/\/$/, '')) {
    return fail(child(where, i), 'an origin like https://app.example.com (scheme, host, optional port, no path)', origin);
  }
  return parsed.origin;
});

const anthropicMode: Check<AnthropicMode> = (value, where) =>
  value === 'translate' || value === 'passthrough' ? value : fail(where, '"translate" or "passthrough"', value);

const billingHeaderMode: Check<BillingHeaderMode> = (value, where) =>
  value === 'fixed' || value === 'remove' || value === 'off' ? value : fail(where, '"fixed", "remove" or "off"', value);

// The value replaces `value` in `key=value;`, so it cannot hold the field's own delimiters.
const billingHeaderValue: Check<string> = (value, where) =>
  typeof value === 'string' && !/[;\n\r]/.test(value) ? value : fail(where, 'a string without ";" or line breaks', value);

const ruleTarget: Check<RuleTarget> = (value, where) =>
  value === 'system' || value === 'messages' || value === 'tool_results'
    ? value
    : fail(where, '"system", "messages" or "tool_results"', value);

const anyString: Check<string> = (value, where) => (typeof value === 'string' ? value : fail(where, 'a string', value));

const ruleFields = section<NormalizeRuleConfig>({
  name: nonEmptyString,
  target: ruleTarget,
  pattern: anyString,
  flags: (value, where) => (typeof value === 'string' && /^[imsuyvg]*$/.test(value) ? value : fail(where, 'RegExp flags (any of g i m s u v y)', value)),
  replacement: anyString,
  enabled: boolean,
});

function normalizeRule(value: unknown, where: At): NormalizeRuleConfig {
  if (!isMapping(value)) return fail(where, 'a mapping with name, target, pattern and replacement', value);
  const fields = ruleFields(value, where);
  for (const key of ['name', 'target', 'pattern'] as const) {
    if (fields[key] === undefined) throw new ConfigError(where.origin, `${where.key}.${key}`, `${where.key}.${key} is required`);
  }
  const rule: NormalizeRuleConfig = {
    name: fields.name!, target: fields.target!, pattern: fields.pattern!,
    flags: fields.flags ?? '', replacement: fields.replacement ?? '', enabled: fields.enabled ?? true,
  };
  try {
    compilePattern(rule);
  } catch (err) {
    throw new ConfigError(where.origin, `${where.key}.pattern`, `${where.key}.pattern of rule "${rule.name}" is not a valid regular expression: ${messageOf(err)}`);
  }
  refuseNestedQuantifier(rule.pattern, child(where, 'pattern'), ` of rule "${rule.name}"`);
  return rule;
}

// A backtracking pattern would pin a worker thread on a crafted message (workers/nested-quantifier.ts).
function refuseNestedQuantifier(pattern: string, where: At, rule: string): void {
  const nested = nestedQuantifier(pattern);
  if (nested === null) return;
  throw new ConfigError(where.origin, where.key,
    `${where.key}${rule} repeats a group that itself repeats without bound (${JSON.stringify(nested)}): such patterns can take exponential time on some input; rewrite it without the nested quantifier (e.g. (a+)+ as a+)`);
}

function normalizeRuleList(value: unknown, where: At): NormalizeRuleConfig[] {
  if (value === null) return [];
  if (!Array.isArray(value)) return fail(where, 'a list of rules', value);
  const rules = value.map((item, i) => normalizeRule(item, child(where, i)));
  // Names label metrics and logs; two rules with one name would be counted as one.
  rules.forEach((rule, i) => {
    const first = rules.findIndex((other) => other.name === rule.name);
    if (first !== i || rule.name === BILLING_RULE) {
      const key = `${where.key}[${i}].name`;
      throw new ConfigError(where.origin, key, `${key} "${rule.name}" is already the name of ${first !== i ? `${where.key}[${first}]` : 'the built-in rule'}`);
    }
  });
  return rules;
}

const upstreamFields = section<UpstreamConfig>({
  url,
  slots: positiveInteger,
  ramCacheTokens: nonNegativeInteger,
  apiKey: secret,
  slotSaveDir: nonEmptyString,
  kind: (value, where) => value === 'llama-server' || value === 'llama-swap' || value === 'router'
    ? value : fail(where, '"llama-server", "llama-swap" or "router"', value),
});

function upstream(value: unknown, where: At): UpstreamConfig {
  if (typeof value === 'string') return { url: url(value, child(where, 'url')) };
  if (!isMapping(value)) return fail(where, 'a URL or a mapping with url', value);
  const fields = upstreamFields(value, where);
  if (fields.url === undefined) throw new ConfigError(where.origin, `${where.key}.url`, `${where.key}.url is required`);
  return { ...fields, url: fields.url };
}

/**
 * One upstream as a flag or the environment writes it: `URL`, or `URL=DIR` with its slot-save
 * directory (a base URL has no query, so the first `=` ends it).
 */
function upstreamEntry(text: string): string | { url: string; slotSaveDir: string } {
  const eq = text.indexOf('=');
  return eq < 0 ? text : { url: text.slice(0, eq), slotSaveDir: text.slice(eq + 1) };
}

function upstreamList(value: unknown, where: At): UpstreamConfig[] {
  if (value === null) return [];
  if (!Array.isArray(value)) return fail(where, 'a list of upstreams', value);
  const list = value.map((item, i) => upstream(item, child(where, i)));
  // The same server twice would count its slots twice.
  list.forEach((u, i) => {
    const first = list.findIndex((other) => other.url === u.url);
    if (first !== i) {
      const key = `${where.key}[${i}].url`;
      throw new ConfigError(where.origin, key, `${key} repeats ${where.key}[${first}].url (${u.url})`);
    }
  });
  return list;
}

function aliasMap(value: unknown, where: At): Record<string, string> {
  if (value === null) return {};
  if (!isMapping(value)) return fail(where, 'a mapping of alias to model', value);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [alias, model] of Object.entries(value)) {
    if (alias.trim() === '') throw new ConfigError(where.origin, where.key, `${where.key} has an empty alias`);
    out[alias] = nonEmptyString(model, child(where, alias));
  }
  return out;
}

const cacheTiers = section<ResponseCacheTiers>({ exact: boolean, normalized: boolean, suffix: boolean });

const cacheOverride = section<ResponseCacheOverride>({
  enabled: boolean,
  ttlSeconds: positiveInteger,
  serveSampling: boolean,
  tiers: cacheTiers,
});

const regexFlags: Check<string> = (value, where) =>
  typeof value === 'string' && /^[imsu]*$/.test(value) && new Set(value).size === value.length
    ? value
    : fail(where, 'RegExp flags from i, m, s, u (g is always on)', value);

const stripRuleFields = section<StripRuleConfig>({
  pattern: nonEmptyString,
  replacement: (value, where) => (typeof value === 'string' ? value : fail(where, 'a string', value)),
  flags: regexFlags,
});

function stripRule(value: unknown, where: At): StripRuleConfig {
  if (!isMapping(value)) return fail(where, 'a mapping with pattern and replacement', value);
  const fields = stripRuleFields(value, where);
  if (fields.pattern === undefined) throw new ConfigError(where.origin, `${where.key}.pattern`, `${where.key}.pattern is required`);
  const rule = { pattern: fields.pattern, replacement: fields.replacement ?? '', flags: fields.flags ?? '' };
  try {
    new RegExp(rule.pattern, `${rule.flags}g`);
  } catch (err) {
    throw new ConfigError(where.origin, `${where.key}.pattern`, `${where.key}.pattern is not a valid regular expression: ${messageOf(err)}`);
  }
  refuseNestedQuantifier(rule.pattern, child(where, 'pattern'), '');
  return rule;
}

const stripRuleList: Check<StripRuleConfig[]> = (value, where) => {
  if (value === null) return [];
  if (!Array.isArray(value)) return fail(where, 'a list of strip rules', value);
  return value.map((item, i) => stripRule(item, child(where, i)));
};

/** A mapping of name → override; `route` says the names are request paths. */
const overrideMap = (route: boolean): Check<Record<string, ResponseCacheOverride>> => (value, where) => {
  if (value === null) return {};
  if (!isMapping(value)) return fail(where, route ? 'a mapping of request path to settings' : 'a mapping of model to settings', value);
  const out: Record<string, ResponseCacheOverride> = Object.create(null) as Record<string, ResponseCacheOverride>;
  for (const [name, item] of Object.entries(value)) {
    if (route && !name.startsWith('/')) throw new ConfigError(where.origin, `${where.key}.${name}`, `${where.key} keys are request paths starting with /, got ${JSON.stringify(name)}`);
    if (name.trim() === '') throw new ConfigError(where.origin, where.key, `${where.key} has an empty name`);
    out[name] = cacheOverride(item, child(where, name));
  }
  return out;
};

const responseCacheSection = section<Omit<ResponseCacheConfig, 'tiers'> & { tiers: Partial<ResponseCacheTiers> }>({
  enabled: boolean,
  dir: nonEmptyString,
  ttlSeconds: positiveInteger,
  maxBytes: positiveInteger,
  maxEntryBytes: positiveInteger,
  memoryBytes: nonNegativeInteger,
  serveSampling: boolean,
  tiers: cacheTiers,
  suffixMessages: positiveInteger,
  stripRules: stripRuleList,
  routes: overrideMap(true),
  models: overrideMap(false),
});

const parsePartial: (raw: unknown, origin: string) => PartialConfig = (raw, origin) =>
  section<PartialConfig>({
    host: hostname,
    port: portNumber,
    upstreams: upstreamList,
    aliases: aliasMap,
    defaultModel: nullable(nonEmptyString),
    authToken: nullable(secret),
    adminToken: nullable(secret),
    allowedHosts: stringList('host names'),
    allowedOrigins: originList,
    limits: section<Config['limits']>({
      bodyBytes: positiveInteger,
      queueLength: positiveInteger,
      queueTimeoutMs: milliseconds,
      upstreamHeadersTimeoutMs: milliseconds,
      upstreamIdleTimeoutMs: milliseconds,
      clientWriteTimeoutMs: milliseconds,
      translatedResponseBytes: positiveInteger,
      analysisTimeoutMs: milliseconds,
      workerQueueLength: nonNegativeInteger,
      workerHeapMb: integer(16, 1 << 20, 'an integer of MiB, 16 or more'),
      maxConnections: positiveInteger,
      bufferedBodyBytes: positiveInteger,
      bodyTimeoutMs: milliseconds,
    }),
    queue: section<Config['queue']>({
      order: queueOrder,
      agingMsPerSecond: number(0, 'a number, 0 or more'),
    }),
    fleet: section<Config['fleet']>({ probeIntervalMs: milliseconds, probeTimeoutMs: milliseconds }),
    scheduler: section<Config['scheduler']>({
      blockChars: positiveInteger,
      balanceAbsThreshold: nonNegativeInteger,
      balanceRelThreshold: number(1, 'a number, 1 or more'),
    }),
    anthropic: anthropicMode,
    normalize: section<NormalizeConfig>({
      billingHeader: billingHeaderMode,
      billingHeaderValue,
      rules: normalizeRuleList,
    }),
    kv: section<Config['kv']>({
      enabled: boolean,
      minSaveTokens: nonNegativeInteger,
      maxEntries: positiveInteger,
      maxBytes: nonNegativeInteger,
      maxBytesPerModel: nonNegativeInteger,
      maxAgeMs: positiveInteger,
      ringSize: integer(1, 10_000, 'an integer from 1 to 10000'),
      detectSaveDir: boolean,
      unverifiedRestoreLimit: positiveInteger,
      actionTimeoutMs: milliseconds,
      saveIdleSeconds: nullable(seconds),
    }),
    responseCache: responseCacheSection,
    verbose: boolean,
  })(raw, { origin, key: '' });

function describe(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'a list';
  if (isMapping(value)) return 'a mapping';
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'value'}`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
