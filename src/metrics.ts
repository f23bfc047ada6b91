// The metrics registry and the metrics slotkeeper records. Each gateway (and each test) builds
// its own Registry, so nothing leaks through prom-client's global one.
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/** Route label values: bounded by construction, never a raw path. */
export type RouteLabel = 'health' | 'metrics' | 'chat_completions' | 'other';

/** The registry and the metrics slotkeeper records into it. */
export interface Metrics {
  readonly registry: Registry;
  /** `slotkeeper_http_requests_total{route,status}`. */
  readonly httpRequests: Counter<'route' | 'status'>;
}

/** Options for {@link createMetrics}. */
export interface MetricsOptions {
  /** Also collect prom-client's process and runtime metrics (default false). */
  defaultMetrics?: boolean;
}

/** Creates a fresh registry with slotkeeper's metrics registered in it. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
    name: 'slotkeeper_http_requests_total',
    help: 'HTTP requests answered by slotkeeper, by route and status code.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
  });
  return { registry, httpRequests };
}
