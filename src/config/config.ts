// The shape of slotkeeper's configuration: what the loader (config/load.ts) produces from the
// config file, the environment and the flags, and what the gateway is built from.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../defaults.js';
import type { NormalizeConfig } from '../../workers/normalize.js';

export type { NormalizeConfig, NormalizeRuleConfig, RuleTarget, BillingHeaderMode } from '../../workers/normalize.js';

/** How /v1/messages is served: translated to a pinned chat completion, or forwarded untouched. */
export type AnthropicMode = 'translate' | 'passthrough';

/** One llama-server (or llama-swap) the gateway forwards to. */
export interface UpstreamConfig {
  /** Base URL, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  url: string;
  /** Slot count override; by default discovered from the server's /props `total_slots`. */
  slots?: number;
  /**
   * Tokens the server's `--cache-ram` holds, for the prefix index's model of it; 0 when the
   * server runs with `--cache-ram 0`. By default estimated (see defaults.ramCacheTokens).
   */
  ramCacheTokens?: number;
  /** Sent as `Authorization: Bearer` to this upstream (llama-server's --api-key); never the gateway's own token. */
  apiKey?: string;
  /**
   * This server's --slot-save-path as slotkeeper sees it on its own file system, when they share
   * one: enables garbage collection, reconciliation and an index that survives restarts.
   * Without it the disk tier works blind, with a bounded ring of file names (kv.ringSize).
   */
  slotSaveDir?: string;
  /** How slot actions are addressed: a plain llama-server (default), llama-swap, or llama.cpp's router mode. */
  kind?: 'llama-server' | 'llama-swap' | 'router';
}

/** Order in which waiters for a busy slot are served. */
export type QueueOrder = 'fair' | 'shortest-first';

/** Which response-cache tiers look up and store answers. */
export interface ResponseCacheTiers {
  /** The body's exact bytes (`x-cache: HIT`). */
  exact: boolean;
  /** The normalized body, after the strip rules (`HIT-NORM`). */
  normalized: boolean;
  /** The last `suffixMessages` messages only (`HIT-SUFFIX`): risky, off by default. */
  suffix: boolean;
}

/** Per-route or per-model response-cache settings; a field left out keeps the wider setting. */
export interface ResponseCacheOverride {
  enabled?: boolean;
  ttlSeconds?: number;
  serveSampling?: boolean;
  tiers?: Partial<ResponseCacheTiers>;
}

/** One extra rewrite of the normalized body before it is hashed (volatile dates, session ids). */
export interface StripRuleConfig {
  /** A JavaScript regular expression; every match is replaced. */
  pattern: string;
  replacement: string;
  /** RegExp flags besides `g` (always on), e.g. `i` or `m`. */
  flags: string;
}

/** The response cache (src/response-cache/). */
export interface ResponseCacheConfig {
  enabled: boolean;
  /** Directory of the on-disk store. */
  dir: string;
  ttlSeconds: number;
  /** Byte budget of the store; least recently used entries are evicted beyond it. */
  maxBytes: number;
  /** Largest answer stored (and buffered for coalesced followers); a larger one is passed on only. */
  maxEntryBytes: number;
  /** Bytes of recently used answers also kept in memory, so a hit on one reads no file. */
  memoryBytes: number;
  /** Serve and store sampling requests (temperature > 0 without a seed) too. */
  serveSampling: boolean;
  tiers: ResponseCacheTiers;
  /** Messages the suffix tier keys on. */
  suffixMessages: number;
  stripRules: StripRuleConfig[];
  /** By request path, e.g. `/v1/messages`. */
  routes: Record<string, ResponseCacheOverride>;
  /** By model, as resolved (aliases applied); a model's settings win over its route's. */
  models: Record<string, ResponseCacheOverride>;
}

/** Everything the gateway is configured with; the loader fills every field. */
export interface Config {
  host: string;
  port: number;
  upstreams: UpstreamConfig[];
  /** Alias → model id served by the fleet (e.g. `gpt-4o: qwen2.5-coder`). */
  aliases: Record<string, string>;
  /** Model that requests naming an unknown model go to; null: only when the fleet serves one model. */
  defaultModel: string | null;
  /** Required for a non-loopback host; checked against `Authorization: Bearer` or `x-api-key`. */
  authToken: string | null;
  /**
   * Lets a client use the administrative upstream routes (slot actions, POST /props, model
   * loading; src/admin-routes.ts); null: nobody may. From the environment or file, never a flag.
   */
  adminToken: string | null;
  /** Host names accepted in the Host header beside loopback ones (a reverse proxy's), src/request-guard.ts. */
  allowedHosts: string[];
  /** Origins of web pages allowed to call the gateway. */
  allowedOrigins: string[];
  limits: {
    /** Largest request body, bytes (413 beyond). */
    bodyBytes: number;
    /** Requests waiting for a slot, gateway-wide (429 beyond). */
    queueLength: number;
    /** Longest wait for a slot, ms (503 after). */
    queueTimeoutMs: number;
    /** Longest wait for an upstream's response headers, ms (504 after); prefill happens before them. */
    upstreamHeadersTimeoutMs: number;
    /** Longest silence while an upstream streams its body, ms (the stream is cut after); not counted while the client is slow to read. */
    upstreamIdleTimeoutMs: number;
    /** Longest a client may leave a streamed body unread (its socket full, the upstream paused), ms; the stream is cut after. */
    clientWriteTimeoutMs: number;
    /** Largest non-streamed upstream answer translated for /v1/messages, bytes (502 beyond). */
    translatedResponseBytes: number;
    /** Longest analysis of one body in a worker, ms (503 after; the worker is replaced). */
    analysisTimeoutMs: number;
    /** Bodies waiting for a worker (503 beyond). */
    workerQueueLength: number;
    /** A worker thread's heap limit, MiB. */
    workerHeapMb: number;
    /** Open client connections; more are closed at once. */
    maxConnections: number;
    /** Bytes of request bodies held at once, all requests together (503 beyond). */
    bufferedBodyBytes: number;
    /** Longest time to receive a whole request, headers and body, ms (408 after). */
    bodyTimeoutMs: number;
  };
  queue: {
    order: QueueOrder;
    /** shortest-first: a waiter's expected work counts as this many ms less per second waited. */
    agingMsPerSecond: number;
  };
  fleet: {
    /** How often every upstream is probed, ms. */
    probeIntervalMs: number;
    /** How long one probe may take, ms. */
    probeTimeoutMs: number;
  };
  scheduler: {
    /** Characters per hashed block of the canonical prompt. */
    blockChars: number;
    /**
     * Cross-server balance (SGLang's cache-aware router): load is unbalanced when the busiest
     * server's queue exceeds the idlest's by both this many requests and this ratio; then the
     * least loaded server wins regardless of cache.
     */
    balanceAbsThreshold: number;
    balanceRelThreshold: number;
  };
  /** `translate`: /v1/messages is pinned to a slot like chat; `passthrough`: forwarded untouched. */
  anthropic: AnthropicMode;
  /** Rewrites of volatile prompt text, applied in the workers before hashing and forwarding. */
  normalize: NormalizeConfig;
  /** The disk tier: slot caches saved before they are overwritten, restored on demand. */
  kv: {
    /** On wherever a server has --slot-save-path; false turns it off everywhere. */
    enabled: boolean;
    /** Slot contents shorter than this many tokens are never saved. */
    minSaveTokens: number;
    /** Saved entries kept per directory (least recently used go first). */
    maxEntries: number;
    /** Bytes of our files per directory, all models together (local directories only). */
    maxBytes: number;
    /** Bytes of our files per directory and model (local directories only). */
    maxBytesPerModel: number;
    /** A saved entry unused this long is deleted, ms (local directories only). */
    maxAgeMs: number;
    /** File names per server when its directory is not local: disk use stays bounded anyway. */
    ringSize: number;
    /**
     * Look for the --slot-save-path of an upstream without slotSaveDir on this host (its command
     * line in /proc, verified by a tiny save under a unique name); false: such upstreams work blind.
     */
    detectSaveDir: boolean;
    /** Restores in a row whose next response shows no reuse before restores stop on that server and model. */
    unverifiedRestoreLimit: number;
    /** Longest wait for one save or restore, ms. */
    actionTimeoutMs: number;
    /**
     * Save a slot's content once it has sat idle this many seconds (when decideSave says it is
     * worth it), so an overwrite later need not wait for a save; null or 0: only before an overwrite.
     */
    saveIdleSeconds: number | null;
  };
  responseCache: ResponseCacheConfig;
  /** Log one line per request to stderr. */
  verbose: boolean;
}

/** A config where any field may be left out; {@link withDefaults} fills the rest. */
export type PartialConfig = Partial<Omit<Config, 'limits' | 'queue' | 'fleet' | 'scheduler' | 'normalize' | 'kv' | 'responseCache'>> & {
  normalize?: Partial<NormalizeConfig>;
  kv?: Partial<Config['kv']>;
  limits?: Partial<Config['limits']>;
  queue?: Partial<Config['queue']>;
  fleet?: Partial<Config['fleet']>;
  scheduler?: Partial<Config['scheduler']>;
  responseCache?: Partial<Omit<ResponseCacheConfig, 'tiers'>> & { tiers?: Partial<ResponseCacheTiers> };
};

/** Fills every missing field from `defaults`. No validation: the loader validates first. */
export function withDefaults(partial: PartialConfig = {}): Config {
  return {
    host: partial.host ?? defaults.host,
    port: partial.port ?? defaults.port,
    upstreams: partial.upstreams ?? [],
    aliases: partial.aliases ?? {},
    defaultModel: partial.defaultModel ?? null,
    authToken: partial.authToken ?? null,
    adminToken: partial.adminToken ?? null,
    allowedHosts: partial.allowedHosts ?? [],
    allowedOrigins: partial.allowedOrigins ?? [],
    limits: {
      bodyBytes: defaults.bodyLimitBytes,
      queueLength: defaults.queueLength,
      queueTimeoutMs: defaults.queueTimeoutMs,
      upstreamHeadersTimeoutMs: defaults.upstreamHeadersTimeoutMs,
      upstreamIdleTimeoutMs: defaults.upstreamIdleTimeoutMs,
      clientWriteTimeoutMs: defaults.clientWriteTimeoutMs,
      translatedResponseBytes: defaults.translatedResponseBytes,
      analysisTimeoutMs: defaults.analysisTimeoutMs,
      workerQueueLength: defaults.workerQueueLength,
      workerHeapMb: defaults.workerHeapMb,
      maxConnections: defaults.maxConnections,
      bufferedBodyBytes: defaults.bufferedBodyBytes,
      bodyTimeoutMs: defaults.bodyTimeoutMs,
      ...partial.limits,
    },
    queue: { order: defaults.queueOrder, agingMsPerSecond: defaults.agingMsPerSecond, ...partial.queue },
    fleet: { probeIntervalMs: defaults.probeIntervalMs, probeTimeoutMs: defaults.probeTimeoutMs, ...partial.fleet },
    scheduler: {
      blockChars: defaults.blockChars,
      balanceAbsThreshold: defaults.balanceAbsThreshold,
      balanceRelThreshold: defaults.balanceRelThreshold,
      ...partial.scheduler,
    },
    anthropic: partial.anthropic ?? defaults.anthropic,
    normalize: {
      billingHeader: defaults.billingHeader,
      billingHeaderValue: defaults.billingHeaderValue,
      rules: [],
      ...partial.normalize,
    },
    kv: {
      enabled: true,
      minSaveTokens: defaults.kvMinSaveTokens,
      maxEntries: defaults.kvMaxEntries,
      maxBytes: defaults.kvMaxBytes,
      maxBytesPerModel: defaults.kvMaxBytesPerModel,
      maxAgeMs: defaults.kvMaxAgeMs,
      ringSize: defaults.kvRingSize,
      detectSaveDir: defaults.kvDetectSaveDir,
      unverifiedRestoreLimit: defaults.kvUnverifiedRestoreLimit,
      actionTimeoutMs: defaults.kvActionTimeoutMs,
      saveIdleSeconds: defaults.kvSaveIdleSeconds,
      ...partial.kv,
    },
    responseCache: responseCacheDefaults(partial.responseCache),
    verbose: partial.verbose ?? false,
  };
}

/** The response-cache section with every missing field filled. */
export function responseCacheDefaults(partial: PartialConfig['responseCache'] = {}): ResponseCacheConfig {
  return {
    enabled: defaults.responseCacheEnabled,
    dir: join(homedir(), '.cache', defaults.responseCacheDirName),
    ttlSeconds: defaults.responseCacheTtlSeconds,
    maxBytes: defaults.responseCacheMaxBytes,
    maxEntryBytes: defaults.responseCacheMaxEntryBytes,
    memoryBytes: defaults.responseCacheMemoryBytes,
    serveSampling: defaults.responseCacheServeSampling,
    suffixMessages: defaults.responseCacheSuffixMessages,
    stripRules: [],
    routes: {},
    models: {},
    ...partial,
    tiers: { exact: true, normalized: true, suffix: false, ...partial.tiers },
  };
}
