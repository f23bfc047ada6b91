// What the overhead bench puts in front of an upstream, besides nothing (the direct path): the
// bare proxy (the floor of any Node gateway) and slotkeeper with each way of analysing requests.
import { availableParallelism } from 'node:os';
import { withDefaults } from '../../src/config/config.js';
import { type GatewayOptions, startGateway } from '../../src/gateway.js';
import { startBareProxy } from './bare-proxy.js';
import type { ClientThread } from './threads.js';

/** Something the client can send requests through. */
export interface Front {
  name: string;
  /** True for slotkeeper: its /metrics say where its time goes. */
  gateway: boolean;
  start(upstream: string): Promise<{ url: string; close(): Promise<void> }>;
}

/** A front that runs, at `url`. */
export interface LiveFront {
  front: Front;
  url: string;
}

const gateway = (name: string, options: GatewayOptions): Front => ({
  name,
  gateway: true,
  start: (upstream) => startGateway(withDefaults({ port: 0, upstreams: [{ url: upstream }] }), options),
});

/**
 * Every front, measured side by side in each run. The slotkeeper variants are the A/B its
 * `analysis` option exists for: parse and hash in the worker pool (the default), or inline on
 * the main thread, which spares the messaging but blocks the loop for the length of a parse.
 * The pool is measured twice: as the gateway sizes it by default (piscina's 1 to 1.5 × cores
 * threads, idle ones kept for defaults.workerIdleTimeoutMs) and fixed at one thread per core.
 */
export const FRONTS: readonly Front[] = [
  { name: 'bare proxy', gateway: false, start: startBareProxy },
  gateway('slotkeeper/worker', { defaultMetrics: false, analysis: 'worker' }),
  gateway('slotkeeper/worker-fixed', {
    defaultMetrics: false, analysis: 'worker',
    pool: { minThreads: availableParallelism(), maxThreads: availableParallelism(), idleTimeout: Infinity },
  }),
  gateway('slotkeeper/inline', { defaultMetrics: false, analysis: 'inline' }),
];

/**
 * Starts every front before `upstream` and sends each one request; the ones that do not answer
 * 200 (a gateway that does not forward yet) are left out, with a note saying what they answered.
 */
export async function startFronts(upstream: string, client: ClientThread) {
  const live: LiveFront[] = [];
  const closers: (() => Promise<void>)[] = [];
  const notes: string[] = [];
  for (const front of FRONTS) {
    const running = await front.start(upstream);
    closers.push(() => running.close());
    const probe = await client.run({ kind: 'probe', url: running.url, body: { bytes: 1024, stream: false, maxTokens: 1 } });
    if (probe.status === 200) live.push({ front, url: running.url });
    else notes.push('', `${front.name}: not measured, it answered ${probe.status}: ${(probe.text ?? probe.firstError ?? '').slice(0, 200)}`);
  }
  return { live, notes, close: () => Promise.all(closers.map((close) => close())).then(() => {}) };
}
