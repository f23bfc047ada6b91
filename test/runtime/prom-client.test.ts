// Runtime smoke test: prom-client renders slotkeeper's registry, default metrics included.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createMetrics } from '../../src/metrics.js';

const prom = suite('runtime: prom-client');

prom('renders the request counter', async () => {
  const { registry, httpRequests } = createMetrics();
  httpRequests.inc({ route: 'health', status: '200' });
  const text = await registry.metrics();
  assert.match(registry.contentType, /^text\/plain/);
  assert.match(text, '# TYPE slotkeeper_http_requests_total counter');
  assert.match(text, 'slotkeeper_http_requests_total{route="health",status="200"} 1');
});

prom('default process metrics collect without error', async () => {
  const { registry } = createMetrics({ defaultMetrics: true });
  const text = await registry.metrics();
  assert.match(text, 'process_cpu_user_seconds_total');
  assert.match(text, 'slotkeeper_http_requests_total');
  // Default metrics keep no timer of their own; clear() is for symmetry with a gateway's close.
  registry.clear();
});

prom.run();
