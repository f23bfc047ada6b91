// Queue order, measured: a discrete-event simulation over the real LeaseQueue on a simulated
// clock, so hours of traffic replay in a second and the same seed prints the same table.
//   node dist/bench/queue-order.js [--seed N] [--requests N] [--load 0.9]
// 4 slots; Poisson arrivals; 90 % side requests of 0.2–0.4 s, 10 % prefills of 10–30 s. The queue
// is told each job's true cost: the gateway only estimates it, so shortest-first does a bit worse
// in life than here. Queue length and timeout are the shipped defaults.
import { parseArgs } from 'node:util';
import type { QueueOrder } from '../src/config/config.js';
import { defaults } from '../src/defaults.js';
import { SlotkeeperError } from '../src/errors.js';
import { LeaseQueue, type Timer } from '../src/leases/lease-queue.js';
import { Rng } from './generators/random.js';
import { formatInt, formatSeconds } from './report/format.js';
import { percentile } from './report/stats.js';

const SLOTS = ['0/0', '0/1', '0/2', '0/3'];
const SHORT = { share: 0.9, ms: [200, 400] as const };
const LONG = { ms: [10_000, 30_000] as const };
const MEAN_COST_MS = SHORT.share * 300 + (1 - SHORT.share) * 20_000;

interface Job {
  at: number;
  cost: number;
  long: boolean;
}

/** The same arrivals for every order compared: only the queue differs between rows. */
function workload(seed: number, requests: number, load: number): Job[] {
  const rng = new Rng(seed, 'queue-order');
  const perMs = (load * SLOTS.length) / MEAN_COST_MS;
  const jobs: Job[] = [];
  let at = 0;
  for (let i = 0; i < requests; i++) {
    at += -Math.log(1 - rng.next()) / perMs;
    const long = !rng.chance(SHORT.share);
    jobs.push({ at, cost: rng.between(long ? LONG.ms : SHORT.ms), long });
  }
  return jobs;
}

interface Event {
  at: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}

/** Pending events in time order (ties by insertion); a few hundred at most, so a sorted array. */
class Agenda {
  readonly #events: Event[] = [];
  #seq = 0;

  add(at: number, run: () => void): Timer {
    const event: Event = { at, seq: this.#seq++, run, cancelled: false };
    let lo = 0;
    let hi = this.#events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#events[mid]?.at ?? Infinity) <= at) lo = mid + 1;
      else hi = mid;
    }
    this.#events.splice(lo, 0, event);
    return { cancel: () => void (event.cancelled = true) };
  }

  next(): Event | undefined {
    let event = this.#events.shift();
    while (event?.cancelled) event = this.#events.shift();
    return event;
  }
}

interface Row {
  label: string;
  waits: number[];
  longWaits: number[];
  shortWaits: number[];
  timeouts: number;
  full: number;
}

async function simulate(jobs: readonly Job[], order: QueueOrder, agingMsPerSecond: number): Promise<Row> {
  const agenda = new Agenda();
  let now = 0;
  const queue = new LeaseQueue({
    maxWaiting: defaults.queueLength,
    timeoutMs: defaults.queueTimeoutMs,
    order,
    agingMsPerSecond,
    now: () => now,
    setTimer: (fn, ms) => agenda.add(now + ms, fn),
  });
  const row: Row = { label: order === 'fair' ? 'fair' : `shortest-first, aging ${agingMsPerSecond} ms/s`, waits: [], longWaits: [], shortWaits: [], timeouts: 0, full: 0 };
  const record = (job: Job, waited: number) => {
    row.waits.push(waited);
    (job.long ? row.longWaits : row.shortWaits).push(waited);
  };
  // Each arrival books the next, so the agenda holds a few hundred events, not every arrival.
  const arrive = (i: number) => {
    const job = jobs[i];
    if (job === undefined) return;
    const next = jobs[i + 1];
    if (next !== undefined) agenda.add(next.at, () => arrive(i + 1));
    queue.acquire({ keys: SLOTS, cost: job.cost }).then(
      (lease) => {
        record(job, lease.acquiredAt - job.at);
        agenda.add(lease.acquiredAt + job.cost, () => lease.release());
      },
      (err: unknown) => {
        if (!(err instanceof SlotkeeperError)) throw err;
        // A timed-out request waited the whole timeout: count it, so starving shows in the tail.
        if (err.code === 'queue_timeout') {
          row.timeouts++;
          record(job, now - job.at);
        } else {
          row.full++;
        }
      },
    );
  };
  if (jobs[0] !== undefined) agenda.add(jobs[0].at, () => arrive(0));
  for (let event = agenda.next(); event !== undefined; event = agenda.next()) {
    now = event.at;
    event.run();
    // A grant settles its promise in a microtask; let it book the release before time moves on.
    await Promise.resolve();
  }
  if (queue.waiting() !== 0 || SLOTS.some((key) => queue.isBusy(key))) throw new Error('simulation leaked a lease');
  return row;
}

function table(rows: readonly Row[]): string {
  const s = (values: number[], p: number) => formatSeconds(percentile(values, p));
  const mean = (values: number[]) => formatSeconds(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length));
  const header = ['order', 'wait p50', 'p95', 'p99', 'max', 'mean', 'short p99', 'long p50', 'long p99', 'long max', 'timeouts', '429s'];
  const lines = [header, header.map((_, i) => (i === 0 ? ':---' : '---:'))];
  for (const r of rows) {
    lines.push([
      r.label,
      s(r.waits, 50), s(r.waits, 95), s(r.waits, 99), s(r.waits, 100), mean(r.waits),
      s(r.shortWaits, 99), s(r.longWaits, 50), s(r.longWaits, 99), s(r.longWaits, 100),
      formatInt(r.timeouts), formatInt(r.full),
    ]);
  }
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '1' },
      requests: { type: 'string', default: '20000' },
      load: { type: 'string', default: '0.9' },
    },
  });
  const seed = Number(values.seed);
  const requests = Number(values.requests);
  const load = Number(values.load);
  const jobs = workload(seed, requests, load);
  const rows = [
    await simulate(jobs, 'fair', 0),
    await simulate(jobs, 'shortest-first', defaults.agingMsPerSecond),
    await simulate(jobs, 'shortest-first', defaults.agingMsPerSecond / 10),
    await simulate(jobs, 'shortest-first', 0),
  ];
  const hours = (jobs.at(-1)?.at ?? 0) / 3_600_000;
  console.log(`${formatInt(requests)} requests over ${hours.toFixed(1)} simulated hours, ${SLOTS.length} slots, load ${load}, seed ${seed}`);
  console.log(`waits in seconds; queue ${defaults.queueLength} deep, timeout ${defaults.queueTimeoutMs / 1000} s (a timed-out wait counts as the timeout)\n`);
  console.log(table(rows));
}

await main();
