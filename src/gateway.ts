// Composition root: builds the real metrics, ids and pool, wires them into the app and serves it.
import { createApp } from './app.js';
import type { Config } from './config/config.js';
import { defaults } from './defaults.js';
import { createMetrics } from './metrics.js';
import { createRequestIds } from './request-id.js';
import { listen, type RunningServer } from './runtime/http-server.js';
import { createWorkerPool, type WorkerPoolOptions } from './worker-pool.js';

/** How the gateway runs, beside its {@link Config}. */
export interface GatewayOptions {
  pool?: WorkerPoolOptions;
  /** Collect prom-client's process metrics too. */
  defaultMetrics?: boolean;
  /** Told about unexpected failures; `requestId` is absent when no request could be named. */
  onError?: (err: unknown, requestId: string | undefined) => void;
}

/** A running gateway. */
export interface Gateway {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, drops connections, then stops the workers. */
  close(): Promise<void>;
}

/** Starts slotkeeper: pool, app and HTTP server. */
export async function startGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? defaults.defaultMetrics });
  const pool = createWorkerPool(options.pool);
  const app = createApp({
    metrics,
    ids: createRequestIds(),
    pool,
    bodyLimitBytes: config.limits.bodyBytes,
    onError: options.onError,
  });
  let server: RunningServer;
  try {
    server = await listen(app, {
      host: config.host,
      port: config.port,
      onError: (err) => options.onError?.(err, undefined),
    });
  } catch (err) {
    await pool.destroy();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    url: server.url,
    port: server.port,
    close() {
      // Server first, so no request arrives to find the pool gone.
      closing ??= server.close().finally(() => pool.destroy());
      return closing;
    },
  };
}
