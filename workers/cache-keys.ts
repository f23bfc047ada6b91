// What the response cache keys a request on, computed where the body is already parsed: the raw
// bytes' digest (exact tier), the normalized body's digest after the strip rules (normalized
// tier), the last messages' digest (suffix tier) and whether the request samples. The main
// thread then hashes 64 characters per tier instead of the body.
import type { StripRuleConfig } from '../src/config/config.js';
import { type BodyDigest, bodyDigest, compileStripRules, normalizedDigest, type StripRule, suffixView } from '../src/response-cache/key.js';
import { isSampling } from '../src/response-cache/policy.js';

/** The response-cache settings a worker needs (config `responseCache`). */
export interface CacheKeySetup {
  stripRules: readonly StripRuleConfig[];
  /** Messages the suffix tier keys on; 0 when no setting turns that tier on. */
  suffixMessages: number;
}

/** A request's response-cache key material. */
export interface CacheKeyMaterial {
  raw: BodyDigest;
  normalized: BodyDigest;
  /** Null when the suffix tier is off or the body has no messages. */
  suffix: BodyDigest | null;
  /** The request may rightly get another answer if repeated (src/response-cache/policy.ts). */
  sampling: boolean;
}

/** Computes a body's key material from its raw bytes and its normalized parse; `generates` is false for count_tokens. */
export type CacheKeys = (raw: ArrayBuffer, normalized: Readonly<Record<string, unknown>>, generates: boolean) => CacheKeyMaterial;

/** Makes a {@link CacheKeys}; a factory so strip rules compile once per worker. */
export function createCacheKeys(setup: CacheKeySetup): CacheKeys {
  const stripRules: StripRule[] = compileStripRules(setup.stripRules);
  return (raw, normalized, generates) => {
    const suffix = setup.suffixMessages > 0 ? suffixView(normalized, setup.suffixMessages) : null;
    return {
      raw: bodyDigest(new Uint8Array(raw)),
      normalized: normalizedDigest(JSON.stringify(normalized), stripRules),
      suffix: suffix === null ? null : bodyDigest(suffix),
      // A route that generates nothing (count_tokens) answers the same every time.
      sampling: generates && isSampling(normalized),
    };
  };
}
