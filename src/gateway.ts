// Composition root: builds metrics, ids, the worker pool, the fleet, the lease queue, the router
// and the response cache, wires them into the app and serves it. Nothing else constructs these.
import { createApp } from './app.js';
import { createAuthCheck } from './auth.js';
import type { Config } from './config/config.js';
import { defaults } from './defaults.js';
import { Fleet } from './fleet/fleet.js';
import { IdleSaver } from './kv/idle-saver.js';
import { KvTier } from './kv/kv-tier.js';
import { LeaseQueue } from './leases/lease-queue.js';
import { createMetrics } from './metrics.js';
import { UpstreamClient } from './proxy/upstream-client.js';
import { createRequestIds } from './request-id.js';
import { ResponseCache } from './response-cache/layer.js';
import { Router, slotLeaseKey } from './router.js';
import { listen, type RunningServer } from './runtime/http-server.js';
import { createInlineAnalyzer, createWorkerPool, poolLimits, type WorkerPoolOptions } from './worker-pool.js';

/** How the gateway runs, beside its {@link Config}. */
export interface GatewayOptions {
  pool?: WorkerPoolOptions;
  /**
   * Where request bodies are analysed: 'worker' (default; the piscina pool) or 'inline' on the
   * main thread, which bench/overhead.ts measures against it.
   */
  analysis?: 'worker' | 'inline';
  /** Collect prom-client's process metrics too (default true). */
  defaultMetrics?: boolean;
  /** Told about unexpected failures; `requestId` is absent when no request could be named. */
  onError?: (err: unknown, requestId: string | undefined) => void;
  /** Operational log lines (upstream state changes, verbose request lines). */
  log?: (line: string) => void;
  /** Wall clock, ms since the epoch: response-cache TTLs and the disk tier's index. Default Date.now. */
  now?: () => number;
}

/** A running gateway. */
export interface Gateway {
  readonly url: string;
  readonly port: number;
  /** The fleet, for tests and tools that want to see upstream states. */
  readonly fleet: Fleet;
  /** The routing state (prefix index, rates), for tests. */
  readonly router: Router;
  /** The slot leases, for tests that check nothing stays held. */
  readonly leases: LeaseQueue;
  /** The response cache, for tests and tools. */
  readonly cache: ResponseCache;
  /** Stops accepting, drops connections, then stops probes, pools and workers. */
  close(): Promise<void>;
}

/** Starts slotkeeper: probes the fleet once, then serves. */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? (() => {});
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? true });
  const fleet = new Fleet(config, { log });
  const leases = new LeaseQueue({
    maxWaiting: config.limits.queueLength, timeoutMs: config.limits.queueTimeoutMs,
    order: config.queue.order, agingMsPerSecond: config.queue.agingMsPerSecond,
  });
  const now = options.now ?? Date.now;
  const kv = config.kv.enabled ? new KvTier({ config, metrics: metrics.kv, now, log }) : undefined;
  const router = new Router({ config, leases, metrics, now: () => performance.now(), swaps: fleet, ...(kv ? { kv } : {}) });
  const idleSeconds = config.kv.saveIdleSeconds ?? 0;
  const idleSaver = kv && idleSeconds > 0 ? new IdleSaver({
    thresholdMs: idleSeconds * 1000,
    // Loaded models only: any slot call to a model llama-swap has unloaded would load it again.
    candidates: () => router.hotSlots(fleet.routables()).map((h) => ({ ...h, key: slotLeaseKey(h.upstream, h.slot) })),
    tryLease: (key) => leases.tryAcquire(key),
    save: async (slot) => (await kv.saveHot([slot])) > 0,
    log,
  }) : undefined;
  const client = new UpstreamClient();
  const cache = await ResponseCache.open(config.responseCache, {
    metrics, now, onError: (err) => log(`response cache: ${err instanceof Error ? err.message : String(err)}`),
  });
  const analyzerSetup = { normalize: config.normalize, ...(cache.keySetup ? { cacheKeys: cache.keySetup } : {}) };
  const pool = options.analysis === 'inline'
    ? createInlineAnalyzer(analyzerSetup)
    : createWorkerPool({ idleTimeout: defaults.workerIdleTimeoutMs, ...poolLimits(config.limits), ...options.pool, ...analyzerSetup });
  metrics.observe({
    queueWaiting: () => leases.waiting(),
    workerQueue: () => pool.queueSize(),
    upstreams: () => fleet.upstreams.map((u) => ({ id: u.id, up: u.state === 'ready' })),
    ...(kv ? { kvDiskBytes: () => kv.diskBytes() } : {}),
  });
  const authorized = createAuthCheck(config.authToken);
  const app = createApp({
    config, metrics, client, fleet, pool, router, cache, ids: createRequestIds(),
    authorized: (req) => authorized(req.headers),
    log,
    onError: options.onError,
  });
  // Hot slots go to disk before the fleet stops, so a restarted gateway can restore them.
  const saveHot = async () => {
    await idleSaver?.close();
    if (!kv) return;
    await kv.saveHot(router.hotSlots(fleet.routables()));
    await kv.close();
  };
  const stopAll = async () => {
    fleet.close();
    client.close();
    await Promise.all([pool.destroy(), cache.close()]);
  };
  let server: RunningServer;
  try {
    // A first probe, so the first requests find the fleet known; failures leave servers draining.
    await fleet.start();
    // Each upstream's disk-tier mode (a capability probe, maybe a tiny probe save) is settled and
    // logged before serving, so the first requests never race it; it never rejects.
    await kv?.start(fleet.upstreams);
    server = await listen(app, { host: config.host, port: config.port, limits: config.limits, onError: (err) => options.onError?.(err, undefined) });
    idleSaver?.start();
  } catch (err) {
    await idleSaver?.close();
    await stopAll();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    fleet,
    router,
    leases,
    cache,
    close() {
      // Server first, so no request arrives to find the pool gone.
      closing ??= server.close().then(saveHot).finally(stopAll);
      return closing;
    },
  };
}
