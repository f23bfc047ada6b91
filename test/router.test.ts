import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withDefaults } from '../src/config/config.js';
import { LeaseQueue } from '../src/leases/lease-queue.js';
import { createMetrics } from '../src/metrics.js';
import { Router } from '../src/router.js';

const test = suite('router');

test('concurrent placements take different idle slots instead of queueing behind a fresh lease', async () => {
  const config = withDefaults();
  const leases = new LeaseQueue({ maxWaiting: 10, timeoutMs: 1_000, order: 'fair', agingMsPerSecond: 1_000 });
  const router = new Router({ config, leases, metrics: createMetrics(), now: () => performance.now() });
  const upstream = { id: 0, url: 'http://x', slotIds: [0, 1, 2, 3], generation: 1, ramCacheTokens: 0 };
  const request = (n: number) => ({ chain: Float64Array.from([n]), promptChars: 300, maxTokens: null, clientSlot: null });
  // Started in the same tick: each sees the others' leases before their placements resume.
  // Without the fix they queue behind each other and never resolve; fail instead of hanging.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('placements queued behind busy slots')), 2_000); });
  const placements = await Promise.race([Promise.all([1, 2, 3, 4].map((n) => router.place(request(n), [upstream]))), deadline]);
  clearTimeout(timer);
  assert.equal(placements.map((p) => p.slot).sort(), [0, 1, 2, 3]);
  assert.is(leases.waiting(), 0);
  for (const p of placements) p.release();
});

test.run();
