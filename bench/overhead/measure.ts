// Measurement loops shared by the overhead bench's sections: latency in alternating rounds, and
// the split of a gateway's time read from its own /metrics.
import { readMetrics } from '../server-metrics.js';
import type { BodySpec } from './bodies.js';
import type { PathRun, Split } from './tables.js';
import type { ClientThread } from './threads.js';

/** Where requests go: the upstream itself ('direct') or a front; `gateway` fronts have /metrics. */
export interface Target {
  name: string;
  url: string;
  gateway: boolean;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Latency of each target, one request at a time. The targets take turns in `rounds` blocks, so
 * drift (CPU frequency, GC, other load) falls on all of them alike. A short warm-up comes first.
 */
export async function latencyRounds(client: ClientThread, targets: readonly Target[], body: BodySpec, count: number, rounds: number): Promise<Record<string, PathRun>> {
  const runs: Record<string, PathRun> = {};
  const before: Record<string, SplitSnapshot> = {};
  for (const t of targets) {
    await client.run({ kind: 'latency', url: t.url, body, count: Math.max(10, Math.ceil(count / 20)) });
    runs[t.name] = { latencies: [], errors: 0, retries: 0 };
    if (t.gateway) before[t.name] = await splitSnapshot(t.url);
  }
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const r = await client.run({ kind: 'latency', url: t.url, body, count: Math.ceil(count / rounds) });
      const run = runs[t.name]!;
      run.latencies.push(...r.latencies);
      run.errors += r.errors;
      run.retries = (run.retries ?? 0) + r.retries;
      run.firstError ??= r.firstError;
    }
  }
  for (const t of targets) {
    const run = runs[t.name]!;
    const start = before[t.name];
    if (start !== undefined) run.split = { latency: splitSince(start, await splitSnapshot(t.url)) };
    if (run.firstError !== undefined) log(`overhead: ${t.name}: ${run.errors} errors, first: ${run.firstError}`);
  }
  return runs;
}

/** Closed-loop req/s of `target`, added to its run (with the split for a gateway). */
export async function throughput(client: ClientThread, target: Target, run: PathRun, body: BodySpec, concurrency: number, durationMs: number): Promise<void> {
  const before = target.gateway ? await splitSnapshot(target.url) : null;
  const r = await client.run({ kind: 'throughput', url: target.url, body, concurrency, durationMs });
  run.rps = (r.completed * 1000) / r.elapsedMs;
  run.errors += r.errors;
  run.firstError ??= r.firstError;
  if (before !== null) run.split = { ...run.split, throughput: splitSince(before, await splitSnapshot(target.url)) };
}

/** The sums and counts of the gateway's analysis and slot-wait histograms. */
interface SplitSnapshot {
  analysisSum: number;
  analysisCount: number;
  waitSum: number;
  waitCount: number;
}

async function splitSnapshot(gatewayUrl: string): Promise<SplitSnapshot> {
  const m = await readMetrics(gatewayUrl);
  return {
    analysisSum: m.slotkeeper_worker_task_seconds_sum ?? NaN, analysisCount: m.slotkeeper_worker_task_seconds_count ?? NaN,
    waitSum: m.slotkeeper_queue_wait_seconds_sum ?? NaN, waitCount: m.slotkeeper_queue_wait_seconds_count ?? NaN,
  };
}

function splitSince(a: SplitSnapshot, b: SplitSnapshot): Split {
  return {
    analysisMs: (1000 * (b.analysisSum - a.analysisSum)) / (b.analysisCount - a.analysisCount),
    slotWaitMs: (1000 * (b.waitSum - a.waitSum)) / (b.waitCount - a.waitCount),
  };
}
