// Response-cache keys: one SHA-256 over everything that can change an answer. SHA-256 because a
// key collision would serve one request another's answer, so the hash must resist crafted
// collisions too (a client can choose its body freely); node:crypto hashes ~1 GB/s natively, so
// a 1 MB body costs about a millisecond, less than reading it.
import { Buffer } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';

/** Which request a key is for: route and dialect are in every key, so two routes never share one. */
export interface KeyScope {
  /** The request path, e.g. `/v1/messages` (distinct from `/v1/messages/count_tokens`). */
  route: string;
  dialect: 'openai' | 'anthropic';
  /** The model the request resolved to (aliases already applied). */
  model: string;
  /** `anthropic-version` and `anthropic-beta`: Anthropic's API answers differently by them. */
  anthropicVersion?: string | undefined;
  anthropicBeta?: string | undefined;
  /**
   * The client's own credentials (`authorization`, `x-api-key`) when they are what the upstream
   * checks (a gateway without its own token passes them on): an answer is never served to, nor
   * shared in flight with, a client that did not send the same ones.
   */
  credentials?: string | undefined;
}

/** How a key was made, and what a hit through it is marked with (`x-cache`). */
export type CacheTier = 'exact' | 'normalized' | 'suffix';

/** `x-cache` value of a hit by tier. */
export const hitLabel: Readonly<Record<CacheTier, 'HIT' | 'HIT-NORM' | 'HIT-SUFFIX'>> = {
  exact: 'HIT',
  normalized: 'HIT-NORM',
  suffix: 'HIT-SUFFIX',
};

/** An extra rewrite applied to the normalized body before hashing (volatile dates, session ids). */
export interface StripRule {
  pattern: RegExp;
  replacement: string;
}

/** A key: 64 hex characters, safe as a file name. */
export type CacheKey = string;

/** The body's own digest, which the exact tier keys on: computable in a worker before the body is parsed. */
export interface BodyDigest {
  /** Hex SHA-256 of the body's raw bytes. */
  sha256: string;
}

/** {@link BodyDigest} of raw bytes, or of a string's UTF-8. */
export function bodyDigest(body: Uint8Array | string): BodyDigest {
  return { sha256: createHash('sha256').update(body).digest('hex') };
}

/** What the normalized tier keys on: the canonical body after every strip rule, by digest. */
export function normalizedDigest(normalizedBody: string, stripRules: readonly StripRule[]): BodyDigest {
  return bodyDigest(applyStripRules(normalizedBody, stripRules));
}

/**
 * The exact tier: the body's raw bytes, as the client sent them, by way of their digest, so a
 * worker can hash a large body off the main thread and pass 64 characters instead.
 */
export function exactKey(scope: KeyScope, rawBody: Uint8Array | BodyDigest): CacheKey {
  return digest(scope, 'exact', (rawBody instanceof Uint8Array ? bodyDigest(rawBody) : rawBody).sha256);
}

/**
 * The normalized tier: the caller's canonical body with every strip rule applied, or its
 * {@link normalizedDigest} (computed in a worker, where the body is parsed).
 */
export function normalizedKey(scope: KeyScope, normalized: string | BodyDigest, stripRules: readonly StripRule[]): CacheKey {
  return digest(scope, 'normalized', (typeof normalized === 'string' ? normalizedDigest(normalized, stripRules) : normalized).sha256);
}

/** The suffix tier: a string from {@link suffixView}, or its {@link bodyDigest}. */
export function suffixKey(scope: KeyScope, suffix: string | BodyDigest): CacheKey {
  return digest(scope, 'suffix', (typeof suffix === 'string' ? bodyDigest(suffix) : suffix).sha256);
}

/** Applies strip rules in order (each replaces every match: the patterns are made global). */
export function applyStripRules(text: string, rules: readonly StripRule[]): string {
  let out = text;
  for (const rule of rules) out = out.replace(rule.pattern, rule.replacement);
  return out;
}

/** Compiles configured strip rules; throws SyntaxError on a bad pattern (the config loader checks first). */
export function compileStripRules(rules: readonly { pattern: string; replacement?: string; flags?: string }[]): StripRule[] {
  return rules.map((rule) => {
    const flags = rule.flags ?? '';
    return { pattern: new RegExp(rule.pattern, flags.includes('g') ? flags : `${flags}g`), replacement: rule.replacement ?? '' };
  });
}

/**
 * The suffix tier's view of a parsed body: its last `n` messages and every other field but the
 * history (`messages`, Anthropic's `system`), so generation settings and tools still count. Risky
 * by design: two conversations that end alike share an answer whatever came before. Null when
 * the body has no `messages` list (text completions).
 */
export function suffixView(body: Readonly<Record<string, unknown>>, n: number): string | null {
  const messages = body.messages;
  if (!Array.isArray(messages)) return null;
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(body).sort()) {
    if (key !== 'messages' && key !== 'system') rest[key] = body[key];
  }
  return JSON.stringify({ rest, last: messages.slice(-n) });
}

// Every field is length-prefixed, so no choice of values can make two scopes hash the same bytes.
function digest(scope: KeyScope, tier: CacheTier, body: Uint8Array | string): CacheKey {
  const hash = createHash('sha256');
  field(hash, 'slotkeeper-response-cache/2');
  field(hash, tier);
  field(hash, scope.route);
  field(hash, scope.dialect);
  field(hash, scope.model);
  field(hash, scope.anthropicVersion ?? '');
  field(hash, scope.anthropicBeta ?? '');
  field(hash, scope.credentials ?? '');
  field(hash, body);
  return hash.digest('hex');
}

function field(hash: Hash, value: Uint8Array | string): void {
  const length = typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength;
  hash.update(`${length}:`);
  hash.update(value);
}
