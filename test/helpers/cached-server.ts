// A tiny HTTP front with the response cache wired in as a route would wire it: read the body,
// work out the request's cache fields, and hand the upstream call to the layer. Used by the
// response-cache tests and bench/response-cache.ts; it forwards every POST to one upstream.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from '../../src/body-limit.js';
import { SlotkeeperError } from '../../src/errors.js';
import type { ResponseCacheConfig } from '../../src/config/config.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { UpstreamClient } from '../../src/proxy/upstream-client.js';
import { sendError } from '../../src/respond.js';
import { suffixView } from '../../src/response-cache/key.js';
import { type CacheOutcome, ResponseCache } from '../../src/response-cache/layer.js';
import { isSampling } from '../../src/response-cache/policy.js';
import { relay } from '../../src/proxy/relay.js';

/** A running cached front. */
export interface CachedServer {
  readonly url: string;
  readonly cache: ResponseCache;
  readonly metrics: Metrics;
  /** Upstream calls started (one per flight or bypass). */
  readonly upstreamCalls: number;
  /** Outcomes by request, in the order they finished. */
  readonly outcomes: CacheOutcome[];
  close(): Promise<void>;
}

// Stand-in for workers/normalize.ts: drops the volatile line Claude Code puts first in its system
// prompt, so requests that differ only there share a normalized key.
export function normalizeForTest(body: Record<string, unknown>): string {
  const copy = { ...body };
  if (typeof copy.system === 'string') copy.system = copy.system.replace(/^x-anthropic-billing-header:[^\n]*\n/, '');
  return JSON.stringify(copy);
}

/** Starts the front on a free port, forwarding to `upstream`. */
export async function startCachedServer(upstream: string, config: ResponseCacheConfig, options: { now?: () => number } = {}): Promise<CachedServer> {
  const metrics = createMetrics();
  const errors: unknown[] = [];
  const cache = await ResponseCache.open(config, { metrics, now: options.now, onError: (err) => errors.push(err) });
  const client = new UpstreamClient();
  const outcomes: CacheOutcome[] = [];
  let upstreamCalls = 0;

  const server: Server = createServer((req, res) => {
    const abort = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) abort.abort(new SlotkeeperError('client_closed_request', 'client closed the request'));
    });
    const route = (req.url ?? '/').split('?')[0]!;
    const dialect = route.startsWith('/v1/messages') ? 'anthropic' : 'openai';
    (async () => {
      const raw = new Uint8Array(await readBody(req, { limitBytes: 32 << 20 }));
      const body = JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, unknown>;
      const outcome = await cache.handle({ res, signal: abort.signal }, {
        route, dialect, model: typeof body.model === 'string' ? body.model : 'default',
        rawBody: raw, normalizedBody: normalizeForTest(body), suffixBody: suffixView(body, config.suffixMessages),
        sampling: isSampling(body), upstreamChecksCredentials: false, headers: req.headers,
      }, async (signal, sink) => {
        upstreamCalls += 1;
        const upstreamRes = await client.send({
          base: upstream, path: route, method: 'POST', signal, headersTimeoutMs: 60_000,
          headers: { 'content-type': 'application/json' }, body: [raw],
        });
        await relay(upstreamRes, sink, { idleTimeoutMs: 60_000, clientWriteTimeoutMs: 60_000, signal, extraHeaders: { 'x-slotkeeper-upstream': '0' } });
      });
      outcomes.push(outcome);
    })().catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else sendError(res, err, dialect);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    cache,
    metrics,
    get upstreamCalls() {
      return upstreamCalls;
    },
    outcomes,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      client.close();
      await cache.close();
      if (errors.length > 0) throw new AggregateError(errors, 'the response cache reported errors');
    },
  };
}
