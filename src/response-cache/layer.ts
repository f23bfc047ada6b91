// The response cache as routes see it: one call per request that answers a hit from the store,
// or runs the route's upstream call once for every identical request in flight, streams it live
// to all of them and stores it when it completes.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseCacheConfig } from '../config/config.js';
import type { CacheKeySetup } from '../../workers/cache-keys.js';
import { defaults } from '../defaults.js';
import { SlotkeeperError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { clientSink, endToEndHeaders, type HeaderBag } from '../proxy/sink.js';
import { Coalescer, type Flight, type Listener, type RunUpstream } from './coalescer.js';
import { type BodyDigest, type CacheTier, compileStripRules, exactKey, hitLabel, type KeyScope, normalizedKey, type StripRule, suffixKey } from './key.js';
import { DIRECTIVE_HEADER, decide, effectiveSettings, parseDirective } from './policy.js';
import type { Recording } from './recorder.js';
import { ResponseStore } from './store.js';

export type { RunUpstream, UpstreamSink } from './coalescer.js';

export { bodyDigest, normalizedDigest, suffixView } from './key.js';
export { isSampling } from './policy.js';

/** One request, as the route knows it once the body is read and analysed. */
export interface CacheRequest {
  /** The request path, e.g. `/v1/chat/completions`. */
  route: string;
  dialect: 'openai' | 'anthropic';
  /** The model the request resolved to. */
  model: string;
  /** The body exactly as the client sent it, or its {@link bodyDigest} (computed in a worker); null when the cache is off and nothing was hashed. */
  rawBody: Uint8Array | BodyDigest | null;
  /** The canonical normalized body (workers/normalize.ts), or its `normalizedDigest`; null: no normalized tier for this request. */
  normalizedBody?: string | BodyDigest | null;
  /** `suffixView(body, config.responseCache.suffixMessages)`, or its `bodyDigest`; null: no suffix tier. */
  suffixBody?: string | BodyDigest | null;
  /** `isSampling(body)`. */
  sampling: boolean;
  /**
   * The client's credentials reach the upstream, which checks them (no gateway token): they join
   * the key. False when the gateway checked the client itself.
   */
  upstreamChecksCredentials: boolean;
  /** The client's request headers (x-slotkeeper-cache, anthropic-version, anthropic-beta, and credentials). */
  headers: IncomingHttpHeaders;
}

/** The part of a RequestContext the layer uses. */
export interface CacheContext {
  res: ServerResponse;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
}

/** How a request was answered; also the `x-cache` header, except BYPASS without one when the cache is off. */
export type CacheOutcome = 'HIT' | 'HIT-NORM' | 'HIT-SUFFIX' | 'MISS' | 'COALESCED' | 'BYPASS';

/** The metrics the layer records. */
export type ResponseCacheMetrics = Pick<Metrics, 'cacheHits' | 'cacheMisses' | 'cacheCoalesced' | 'cacheBytes'
  | 'cacheEntries' | 'cacheEvictions' | 'cachePromptTokensSaved' | 'cachePrefillSecondsSaved'>;

/** What {@link ResponseCache.open} needs. */
export interface ResponseCacheDeps {
  metrics: ResponseCacheMetrics;
  /** Wall clock, ms since the epoch (TTLs). */
  now?: () => number;
  /** Told when storing an answer fails; clients never see it. */
  onError?: (err: unknown) => void;
}

/** The response cache: store, coalescer and policy behind one call. */
export class ResponseCache {
  private readonly config: ResponseCacheConfig;
  private readonly metrics: ResponseCacheMetrics;
  private readonly store: ResponseStore | null;
  private readonly coalescer: Coalescer;
  private readonly stripRules: StripRule[];
  private readonly onError: (err: unknown) => void;

  /** What the workers hash requests with; null when the cache is off everywhere (nothing to hash). */
  readonly keySetup: CacheKeySetup | null;

  private constructor(config: ResponseCacheConfig, store: ResponseStore | null, keySetup: CacheKeySetup | null, deps: ResponseCacheDeps) {
    this.config = config;
    this.keySetup = keySetup;
    this.metrics = deps.metrics;
    this.store = store;
    this.onError = deps.onError ?? (() => undefined);
    this.coalescer = new Coalescer({
      maxEntryBytes: config.maxEntryBytes, listenerBufferBytes: config.maxEntryBytes, onError: this.onError,
    });
    this.stripRules = compileStripRules(config.stripRules);
  }

  /**
   * Opens the cache. The store's directory is opened (and reconciled) only when the cache is on
   * for something (globally, or for a route or model); otherwise every request goes straight through.
   */
  static async open(config: ResponseCacheConfig, deps: ResponseCacheDeps): Promise<ResponseCache> {
    let cache: ResponseCache | undefined;
    const keySetup = cacheKeySetup(config);
    const store = keySetup !== null
      ? await ResponseStore.open({
        dir: config.dir, maxBytes: config.maxBytes, memoryBytes: config.memoryBytes, now: deps.now,
        indexFlushMs: defaults.responseCacheIndexFlushMs,
        onEvict: (reason) => {
          if (reason !== 'removed') deps.metrics.cacheEvictions.inc({ reason });
          cache?.updateGauges();
        },
      })
      : null;
    cache = new ResponseCache(config, store, keySetup, deps);
    cache.updateGauges();
    return cache;
  }

  /** The cache is on for something: requests should come with their key material. */
  get active(): boolean {
    return this.store !== null;
  }

  /** The store, for tools and tests; null when the cache is off everywhere. */
  get entries(): ResponseStore | null {
    return this.store;
  }

  /** Flights in progress, for tests. */
  get inFlight(): number {
    return this.coalescer.size;
  }

  /**
   * Answers one request: from the store, by joining an identical request in flight, or by
   * running `runUpstream` (once, for everyone who joins it). Resolves when this client's response
   * is finished or the client left; rejects with the call's error when it failed before any
   * header (the caller renders it), or with invalid_request for a bad `x-slotkeeper-cache`.
   *
   * `runUpstream(signal, sink)` must use `signal`, not the client's: with followers the call
   * outlives the client that started it.
   */
  async handle(ctx: CacheContext, request: CacheRequest, runUpstream: RunUpstream): Promise<CacheOutcome> {
    const directive = parseDirective(request.headers[DIRECTIVE_HEADER]);
    if (directive === 'invalid') {
      throw new SlotkeeperError('invalid_request', `${DIRECTIVE_HEADER} must be bypass, refresh or only`);
    }
    const settings = effectiveSettings(this.config, request.route, request.model);
    const available = { exact: true, normalized: request.normalizedBody != null, suffix: request.suffixBody != null };
    const decision = decide({ settings, directive, sampling: request.sampling, available });
    const store = this.store;
    const mark = settings.enabled || directive !== null;

    if (store === null || request.rawBody === null || (decision.lookup.length === 0 && !decision.coalesce)) {
      if (decision.onMiss === 'refuse') throw refusal(ctx);
      const sink = clientSink(ctx.res, mark ? { 'x-cache': 'BYPASS' } : {});
      try {
        await runUpstream(ctx.signal, sink);
      } finally {
        // Headers out but no end: the body was cut (or the call threw midway); so is the client's.
        if (sink.started && !sink.ended) ctx.res.destroy();
      }
      if (!sink.started) throw new SlotkeeperError('internal_error', 'slotkeeper: the upstream call ended without a response');
      return 'BYPASS';
    }

    const scope = scopeOf(request);
    const rawBody = request.rawBody;
    const keys = new Map<CacheTier, string>();
    const keyOf = (tier: CacheTier): string => {
      let key = keys.get(tier);
      if (key === undefined) {
        key = tier === 'exact' ? exactKey(scope, rawBody)
          : tier === 'normalized' ? normalizedKey(scope, request.normalizedBody ?? '', this.stripRules)
            : suffixKey(scope, request.suffixBody ?? '');
        keys.set(tier, key);
      }
      return key;
    };

    for (const tier of decision.lookup) {
      const hit = await store.get(keyOf(tier));
      if (hit === null) continue;
      const label = hitLabel[tier];
      const { body, headers } = hit.response;
      ctx.res.writeHead(200, { ...headers, 'content-length': body.length, 'x-cache': label });
      ctx.res.end(body);
      this.metrics.cacheHits.inc({ tier });
      if (hit.meta.promptTokens !== null) this.metrics.cachePromptTokensSaved.inc(hit.meta.promptTokens);
      if (hit.meta.prefillSeconds !== null) this.metrics.cachePrefillSecondsSaved.inc(hit.meta.prefillSeconds);
      return label;
    }
    if (decision.onMiss === 'refuse') throw refusal(ctx);

    // From here to start() nothing awaits: joining or starting a flight is one synchronous step.
    const flightKey = keyOf('exact');
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const follower = new ResponseListener(ctx.res, 'COALESCED');
    if (this.coalescer.join(flightKey, follower, decision.reason !== 'refresh')) {
      this.metrics.cacheCoalesced.inc();
      return follower.finished(ctx.signal, () => this.coalescer.get(flightKey)?.leave(follower), 'COALESCED');
    }
    const leader = new ResponseListener(ctx.res, 'MISS');
    const storeUnder = decision.store.map((tier) => ({ tier, key: keyOf(tier) }));
    const flight = this.coalescer.start(flightKey, request.dialect, leader, runUpstream,
      (recording) => this.save(recording, storeUnder, request, settings.ttlSeconds));
    this.metrics.cacheMisses.inc();
    return leader.finished(ctx.signal, () => flight.leave(leader), 'MISS');
  }

  /** Resolves once every upstream call in flight has ended and its answer, if complete, is stored. */
  settled(): Promise<void> {
    return this.coalescer.settled();
  }

  /** Waits for flights to store their answers, then writes the index and waits for pending file work. */
  async close(): Promise<void> {
    await this.coalescer.settled();
    await this.store?.close();
  }

  private async save(recording: Recording, keys: { tier: CacheTier; key: string }[], request: CacheRequest, ttlSeconds: number): Promise<void> {
    if (!recording.complete || keys.length === 0 || this.store === null) return;
    try {
      await this.store.put(keys, recording.response, {
        route: request.route, model: request.model, ttlSeconds, ...recording.savings,
      });
    } catch (err) {
      this.onError(err);
    }
    this.updateGauges();
  }

  private updateGauges(): void {
    this.metrics.cacheBytes.set(this.store?.bytes ?? 0);
    this.metrics.cacheEntries.set(this.store?.size ?? 0);
  }
}

/**
 * What workers need to compute key material (workers/cache-keys.ts); null when the cache is off
 * everywhere, so no request pays for hashing (and no store is opened). The suffix tier counts only where some setting has it on.
 */
function cacheKeySetup(config: ResponseCacheConfig): CacheKeySetup | null {
  const overrides = [...Object.values(config.routes), ...Object.values(config.models)];
  if (!config.enabled && !overrides.some((o) => o.enabled === true)) return null;
  const suffix = config.tiers.suffix || overrides.some((o) => o.tiers?.suffix === true);
  return { stripRules: config.stripRules, suffixMessages: suffix ? config.suffixMessages : 0 };
}

// RFC 9111 §5.2.1.7: only-if-cached with nothing stored answers 504; the error handler renders it
// in the request's dialect, still marked as a miss.
function refusal(ctx: CacheContext): SlotkeeperError {
  if (!ctx.res.headersSent) ctx.res.setHeader('x-cache', 'MISS');
  return new SlotkeeperError('cache_miss', `slotkeeper: ${DIRECTIVE_HEADER}: only, and the response cache holds no answer for this request`);
}

function scopeOf(request: CacheRequest): KeyScope {
  const header = (name: string) => {
    const v = request.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  return {
    route: request.route, dialect: request.dialect, model: request.model,
    anthropicVersion: header('anthropic-version'), anthropicBeta: header('anthropic-beta'),
    ...(request.upstreamChecksCredentials
      ? { credentials: `${header('authorization') ?? ''}\n${header('x-api-key') ?? ''}` }
      : {}),
  };
}


/** A client listening to a flight. */
class ResponseListener implements Listener {
  private readonly res: ServerResponse;
  private readonly xCache: string;
  private flight: Flight | undefined;
  private settle: ((error?: unknown) => void) | undefined;
  private outcome: { error?: unknown } | undefined;

  constructor(res: ServerResponse, xCache: string) {
    this.res = res;
    this.xCache = xCache;
  }

  get pendingBytes(): number {
    return this.res.writableLength;
  }

  head(status: number, headers: HeaderBag): void {
    this.res.writeHead(status, endToEndHeaders(headers, { 'x-cache': this.xCache }));
    this.res.flushHeaders();
  }

  write(chunk: Uint8Array): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => this.flight?.drained(this));
    return false;
  }

  end(): void {
    this.res.end();
    this.done();
  }

  fail(error: unknown): void {
    this.done(error);
  }

  cut(): void {
    this.res.destroy();
    this.done();
  }

  /** Resolves once this client is finished or gone; `leave` is called if it goes first. */
  finished(signal: AbortSignal, leave: () => void, outcome: CacheOutcome): Promise<CacheOutcome> {
    return new Promise<CacheOutcome>((resolve, reject) => {
      const onAbort = () => {
        leave();
        this.done();
      };
      this.settle = (error) => {
        signal.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(outcome);
        else reject(error);
      };
      if (this.outcome !== undefined) {
        this.settle(this.outcome.error);
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  bind(flight: Flight): void {
    this.flight = flight;
  }

  private done(error?: unknown): void {
    if (this.outcome !== undefined) return;
    this.outcome = { error };
    const settle = this.settle;
    this.settle = undefined;
    settle?.(error);
  }
}
