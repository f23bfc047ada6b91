// Whether a request may be answered from, joined to, or stored in the response cache. Pure:
// settings, the request's header and its sampling in, a decision out.
import type { ResponseCacheConfig, ResponseCacheTiers } from '../config/config.js';
import type { CacheTier } from './key.js';

/** `x-slotkeeper-cache`: skip the cache, recompute and overwrite, or answer from the cache only. */
export type CacheDirective = 'bypass' | 'refresh' | 'only';

/** The request header clients set to steer the cache. */
export const DIRECTIVE_HEADER = 'x-slotkeeper-cache';

/** Settings for one request, after per-route and per-model overrides. */
export interface EffectiveSettings {
  enabled: boolean;
  ttlSeconds: number;
  serveSampling: boolean;
  tiers: ResponseCacheTiers;
}

/** What the layer does with one request. */
export interface CacheDecision {
  /** Tiers to look up, in order (most specific first). */
  lookup: readonly CacheTier[];
  /** Tiers a complete answer is stored under. */
  store: readonly CacheTier[];
  /** May share an identical in-flight upstream call. */
  coalesce: boolean;
  /** On a miss: call the upstream, or refuse (`only`). */
  onMiss: 'upstream' | 'refuse';
  /** Why, for logs and tests. */
  reason: 'disabled' | 'bypass' | 'sampling' | 'refresh' | 'only' | 'cacheable';
}

/** What {@link decide} looks at. */
export interface PolicyInput {
  settings: EffectiveSettings;
  directive: CacheDirective | null;
  /** From {@link isSampling}. */
  sampling: boolean;
  /** Which tiers the request has a key for (no normalized body, no suffix view: not those). */
  available: Readonly<Record<CacheTier, boolean>>;
}

const TIER_ORDER: readonly CacheTier[] = ['exact', 'normalized', 'suffix'];

/**
 * Reads `x-slotkeeper-cache`. Null when absent; 'invalid' for any other value, which the caller
 * refuses (400) rather than guess what the client meant.
 */
export function parseDirective(value: string | readonly string[] | undefined): CacheDirective | null | 'invalid' {
  if (value === undefined) return null;
  if (typeof value !== 'string') return 'invalid';
  const v = value.trim().toLowerCase();
  return v === 'bypass' || v === 'refresh' || v === 'only' ? v : 'invalid';
}

/** The settings for `route` and `model`: global, then the route's override, then the model's. */
export function effectiveSettings(config: ResponseCacheConfig, route: string, model: string): EffectiveSettings {
  const out: EffectiveSettings = {
    enabled: config.enabled, ttlSeconds: config.ttlSeconds, serveSampling: config.serveSampling, tiers: { ...config.tiers },
  };
  for (const override of [Object.hasOwn(config.routes, route) ? config.routes[route] : undefined,
    Object.hasOwn(config.models, model) ? config.models[model] : undefined]) {
    if (override === undefined) continue;
    if (override.enabled !== undefined) out.enabled = override.enabled;
    if (override.ttlSeconds !== undefined) out.ttlSeconds = override.ttlSeconds;
    if (override.serveSampling !== undefined) out.serveSampling = override.serveSampling;
    out.tiers = { ...out.tiers, ...override.tiers };
  }
  return out;
}

/**
 * True when a request samples, so that an identical request may rightly get another answer.
 *
 * A request is deterministic only when it says so: `temperature` ≤ 0 (llama-server then samples
 * greedily), `top_k` 1, or a fixed `seed` (llama-server seeds the slot's sampler with it; see
 * isFixedSeed for which are random). With no temperature at all it samples: the defaults are 1 for
 * OpenAI and Anthropic and 0.8 for llama-server (de3ff815ea7d, `common_params_sampling`), never 0.
 */
export function isSampling(body: Readonly<Record<string, unknown>>): boolean {
  const { temperature, top_k: topK, seed } = body;
  if (typeof temperature === 'number' && temperature <= 0) return false;
  if (topK === 1) return false;
  if (typeof seed === 'number' && isFixedSeed(seed)) return false;
  return true;
}

/**
 * llama-server keeps a seed's low 32 bits (it reads `seed` as uint32_t), and 0xFFFFFFFF means
 * random: 8589934591 and -1 are random seeds, -2 a fixed one. A seed beyond 2^53 is not known
 * exactly here (JSON.parse rounds it), so it counts as random, as does a fractional one.
 */
function isFixedSeed(seed: number): boolean {
  if (!Number.isSafeInteger(seed)) return false;
  const low32 = ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
  return low32 !== 0xffffffff;
}

/** Decides what the cache does with one request. */
export function decide(input: PolicyInput): CacheDecision {
  const { settings, directive, sampling, available } = input;
  const tiers = TIER_ORDER.filter((tier) => settings.tiers[tier] && available[tier]);
  const none = (reason: CacheDecision['reason']): CacheDecision => ({
    lookup: [], store: [], coalesce: false, onMiss: directive === 'only' ? 'refuse' : 'upstream', reason,
  });
  if (!settings.enabled) return none('disabled');
  if (directive === 'bypass') return none('bypass');
  // Not even joined to an identical request in flight: a "regenerate" wants its own sample.
  if (sampling && !settings.serveSampling) return none('sampling');
  if (directive === 'only') return { lookup: tiers, store: [], coalesce: false, onMiss: 'refuse', reason: 'only' };
  if (directive === 'refresh') return { lookup: [], store: tiers, coalesce: true, onMiss: 'upstream', reason: 'refresh' };
  return { lookup: tiers, store: tiers, coalesce: true, onMiss: 'upstream', reason: 'cacheable' };
}
