import { setImmediate } from 'node:timers';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { QueueOrder } from '../../src/config/config.js';
import { SlotkeeperError } from '../../src/errors.js';
import { type Lease, LeaseQueue, type LeaseQueueOptions, type Timer } from '../../src/leases/lease-queue.js';
import { Rng } from '../../bench/generators/random.js';

// ---- helpers ---------------------------------------------------------------------------------

/** A clock and timers that move only when told. `honourCancel: false` makes cancel() too late. */
class FakeTime {
  now = 0;
  readonly #timers: { at: number; seq: number; fn: () => void; fired: boolean; cancelled: boolean }[] = [];
  #seq = 0;
  readonly #honourCancel: boolean;

  constructor(options: { honourCancel?: boolean } = {}) {
    this.#honourCancel = options.honourCancel ?? true;
  }

  readonly clock = (): number => this.now;

  readonly setTimer = (fn: () => void, ms: number): Timer => {
    const timer = { at: this.now + ms, seq: this.#seq++, fn, fired: false, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  };

  /** Timers started and neither cancelled nor fired. */
  pending(): number {
    return this.#timers.filter((t) => !t.fired && !t.cancelled).length;
  }

  /** Moves the clock by `ms`, firing due timers in order, each at its own time. */
  advance(ms: number): void {
    const until = this.now + ms;
    const fires = (t: { at: number; fired: boolean; cancelled: boolean }) =>
      !t.fired && t.at <= until && (!t.cancelled || !this.#honourCancel);
    for (;;) {
      const due = this.#timers.filter(fires).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      due.fired = true;
      this.now = due.at;
      due.fn();
    }
    this.now = until;
    // Fired and cancelled timers are done with; keep the list short for the long random runs.
    for (let i = this.#timers.length - 1; i >= 0; i--) {
      const t = this.#timers[i];
      if (t && (t.fired || (t.cancelled && t.at <= until))) this.#timers.splice(i, 1);
    }
  }
}

/** An AbortController whose signal counts the 'abort' listeners still attached to it. */
function countedController() {
  const controller = new AbortController();
  const { signal } = controller;
  const live = new Map<unknown, boolean>(); // listener → registered with once
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((type: string, listener: EventListener, options?: AddEventListenerOptions) => {
    if (type === 'abort') live.set(listener, options?.once === true);
    add(type, listener, options);
  }) as typeof signal.addEventListener;
  signal.removeEventListener = ((type: string, listener: EventListener, options?: EventListenerOptions) => {
    if (type === 'abort') live.delete(listener);
    remove(type, listener, options);
  }) as typeof signal.removeEventListener;
  return {
    signal,
    listeners: () => live.size,
    abort(reason?: unknown) {
      controller.abort(reason);
      // Dispatch drops once-listeners without a removeEventListener call.
      for (const [listener, once] of live) if (once) live.delete(listener);
    },
  };
}

/** A promise's outcome, readable synchronously once microtasks have run. */
function track<T>(promise: Promise<T>) {
  const state: { status: 'pending' | 'resolved' | 'rejected'; value?: T; reason?: unknown } = { status: 'pending' };
  promise.then(
    (value) => Object.assign(state, { status: 'resolved', value }),
    (reason: unknown) => Object.assign(state, { status: 'rejected', reason }),
  );
  return state;
}

/** Lets every queued promise reaction run; nothing sleeps. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function queue(time: FakeTime, options: Partial<LeaseQueueOptions> = {}): LeaseQueue {
  return new LeaseQueue({
    maxWaiting: 100,
    timeoutMs: 60_000,
    order: 'fair',
    agingMsPerSecond: 1000,
    now: time.clock,
    setTimer: time.setTimer,
    ...options,
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.unreachable('expected a rejection');
}

function assertCode(err: unknown, code: string, status: number): SlotkeeperError {
  assert.instance(err, SlotkeeperError);
  const known = err as SlotkeeperError;
  assert.is(known.code, code);
  assert.is(known.status, status);
  return known;
}

// ---- grant and release -----------------------------------------------------------------------

const grant = suite('lease-queue: grant and release');

grant('a free key is leased at once, stamped by the clock', async () => {
  const time = new FakeTime();
  time.now = 42;
  const q = queue(time);
  const lease = await q.acquire({ keys: ['0/0'] });
  assert.is(lease.key, '0/0');
  assert.is(lease.acquiredAt, 42);
  assert.ok(q.isBusy('0/0'));
  assert.is(q.heldSince('0/0'), 42);
  assert.is(q.waiting(), 0);
  assert.is(time.pending(), 0, 'no timer for an immediate grant');
  lease.release();
  assert.not.ok(q.isBusy('0/0'));
  assert.is(q.heldSince('0/0'), null);
});

grant('the first free key in order of preference', async () => {
  const q = queue(new FakeTime());
  const first = await q.acquire({ keys: ['0/1', '0/0'] });
  assert.is(first.key, '0/1');
  const second = await q.acquire({ keys: ['0/1', '0/0'] });
  assert.is(second.key, '0/0');
});

grant('fair: a freed key goes to its waiters first come, first served', async () => {
  const q = queue(new FakeTime());
  const holder = await q.acquire({ keys: ['a'] });
  const order: string[] = [];
  const waiters = ['w1', 'w2', 'w3'].map((name, i) =>
    q.acquire({ keys: ['a'], cost: 1000 * (3 - i) }).then((lease) => {
      order.push(name);
      return lease;
    }),
  );
  assert.is(q.waiting(), 3);
  assert.is(q.waitingFor('a'), 3);
  assert.is(q.waitingFor('b'), 0);
  holder.release();
  (await waiters[0])?.release();
  (await waiters[1])?.release();
  (await waiters[2])?.release();
  assert.equal(order, ['w1', 'w2', 'w3'], 'arrival order, not cost');
  assert.is(q.waiting(), 0);
  assert.not.ok(q.isBusy('a'));
});

grant('a waiter accepting several keys gets whichever is freed first', async () => {
  const q = queue(new FakeTime());
  const a = await q.acquire({ keys: ['a'] });
  const b = await q.acquire({ keys: ['b'] });
  const onlyA = track(q.acquire({ keys: ['a'] }));
  const either = track(q.acquire({ keys: ['a', 'b'] }));
  assert.is(q.waitingFor('a'), 2);
  assert.is(q.waitingFor('b'), 1);
  b.release();
  await flush();
  assert.is(either.status, 'resolved');
  assert.is(either.value?.key, 'b');
  assert.is(onlyA.status, 'pending');
  assert.is(q.waitingFor('a'), 1, 'the served waiter left the other key too');
  a.release();
  await flush();
  assert.is(onlyA.value?.key, 'a');
});

grant('release twice is a no-op: it does not free the next holder', async () => {
  const q = queue(new FakeTime());
  const first = await q.acquire({ keys: ['a'] });
  const next = q.acquire({ keys: ['a'] });
  first.release();
  const second = await next;
  first.release();
  assert.ok(q.isBusy('a'));
  assert.is(q.heldSince('a'), second.acquiredAt);
  const third = track(q.acquire({ keys: ['a'] }));
  first.release();
  await flush();
  assert.is(third.status, 'pending', 'a stale release handed nothing over');
  second.release();
  second.release();
  await flush();
  assert.is(third.status, 'resolved');
  third.value?.release();
  assert.not.ok(q.isBusy('a'));
});

grant('release survives being detached from its lease', async () => {
  const q = queue(new FakeTime());
  const { release } = await q.acquire({ keys: ['a'] });
  release();
  assert.not.ok(q.isBusy('a'));
});

grant.run();

// ---- shortest-first --------------------------------------------------------------------------

const shortest = suite('lease-queue: shortest-first');

shortest('the cheapest waiter first, ties by arrival', async () => {
  const time = new FakeTime();
  const q = queue(time, { order: 'shortest-first' });
  const holder = await q.acquire({ keys: ['a'] });
  const order: number[] = [];
  const costs = [900, 300, 600, 300];
  const waiters = costs.map((cost, i) => q.acquire({ keys: ['a'], cost }).then((lease) => (order.push(i), lease)));
  holder.release();
  for (let i = 0; i < waiters.length; i++) {
    await flush();
    const served = waiters[order[i] ?? -1];
    assert.ok(served, `waiter ${i} served`);
    (await served).release();
  }
  assert.equal(order, [1, 3, 2, 0]);
});

shortest('aging lets an old expensive waiter overtake a newer cheap one', async () => {
  const time = new FakeTime();
  const q = queue(time, { order: 'shortest-first', agingMsPerSecond: 1000 });
  let holder = await q.acquire({ keys: ['a'] });
  const expensive = track(q.acquire({ keys: ['a'], cost: 10_000 }));
  time.advance(9_000);
  const early = track(q.acquire({ keys: ['a'], cost: 300 })); // 300 vs 10 000 − 9 000 = 1 000
  holder.release();
  await flush();
  assert.is(early.status, 'resolved');
  holder = early.value as Lease;
  time.advance(3_000);
  const late = track(q.acquire({ keys: ['a'], cost: 300 })); // 300 vs 10 000 − 12 000 < 0
  holder.release();
  await flush();
  assert.is(expensive.status, 'resolved');
  assert.is(late.status, 'pending');
  expensive.value?.release();
  await flush();
  late.value?.release();
  assert.not.ok(q.isBusy('a'));
});

/**
 * One slot; every 300 ms its holder ends and a fresh 300 ms request arrives just before. With
 * aging, a 20 s request waiting from the start wins once the fresh ones' cost (300 + t) passes
 * its own (20 000): it waits at most its cost ÷ aging, plus one lease. Without aging it starves.
 */
async function cheapFlood(agingMsPerSecond: number, rounds: number): Promise<number | null> {
  const time = new FakeTime();
  const q = queue(time, { order: 'shortest-first', agingMsPerSecond, timeoutMs: 10_000_000, maxWaiting: 10 });
  let holder = await q.acquire({ keys: ['a'] });
  const expensive = track(q.acquire({ keys: ['a'], cost: 20_000 }));
  for (let round = 0; round < rounds; round++) {
    time.advance(300);
    const cheap = track(q.acquire({ keys: ['a'], cost: 300 }));
    holder.release();
    await flush();
    if (expensive.status === 'resolved') {
      const waited = time.now;
      expensive.value?.release();
      await flush();
      cheap.value?.release();
      assert.is(q.waiting(), 0);
      return waited;
    }
    assert.is(cheap.status, 'resolved');
    holder = cheap.value as Lease;
  }
  return null;
}

shortest('starvation-free: a bounded wait under an endless flood of cheap requests', async () => {
  const waited = await cheapFlood(1000, 1_000);
  assert.ok(waited !== null, 'the expensive request was served');
  assert.ok(waited > 19_700 - 300 && waited <= 20_000 + 300, `waited ${waited} ms`);
  const halfAging = await cheapFlood(500, 1_000);
  assert.ok(halfAging !== null && halfAging <= 40_000 + 300, `waited ${halfAging} ms with half the aging`);
});

shortest('without aging the same flood starves it', async () => {
  assert.is(await cheapFlood(0, 1_000), null);
});

shortest.run();

// ---- abort -----------------------------------------------------------------------------------

const abort = suite('lease-queue: abort');

abort('already aborted: rejected with its reason, nothing held, no listener', async () => {
  const time = new FakeTime();
  const q = queue(time);
  const client = countedController();
  const reason = new Error('gone');
  client.abort(reason);
  assert.is(await rejection(q.acquire({ keys: ['a'], signal: client.signal })), reason);
  assert.not.ok(q.isBusy('a'));
  assert.is(q.waiting(), 0);
  assert.is(client.listeners(), 0);
});

abort('while waiting: rejected with its reason, waiter, timer and listener gone', async () => {
  const time = new FakeTime();
  const q = queue(time);
  const holder = await q.acquire({ keys: ['a'] });
  const client = countedController();
  const waiting = q.acquire({ keys: ['a'], signal: client.signal });
  assert.is(client.listeners(), 1);
  assert.is(time.pending(), 1);
  const reason = new Error('client closed');
  client.abort(reason);
  assert.is(q.waiting(), 0, 'removed in the same tick');
  assert.is(q.waitingFor('a'), 0);
  assert.is(time.pending(), 0);
  assert.is(client.listeners(), 0);
  assert.is(await rejection(waiting), reason);
  holder.release();
  assert.not.ok(q.isBusy('a'), 'the key is free: nobody took it');
});

abort('aborted, then the key frees in the same tick: the next waiter gets it', async () => {
  const q = queue(new FakeTime());
  const holder = await q.acquire({ keys: ['a'] });
  const client = countedController();
  const gone = track(q.acquire({ keys: ['a'], signal: client.signal }));
  const next = track(q.acquire({ keys: ['a'] }));
  client.abort(new Error('gone'));
  holder.release();
  await flush();
  assert.is(gone.status, 'rejected');
  assert.is(next.status, 'resolved');
  assert.is(q.heldSince('a'), next.value?.acquiredAt ?? -1);
  next.value?.release();
  assert.not.ok(q.isBusy('a'));
});

abort('the key frees, then the abort in the same tick: the lease is the caller\'s to release', async () => {
  const q = queue(new FakeTime());
  const holder = await q.acquire({ keys: ['a'] });
  const client = countedController();
  const pending = q.acquire({ keys: ['a'], signal: client.signal });
  holder.release();
  client.abort(new Error('gone'));
  const lease = await pending;
  assert.ok(q.isBusy('a'), 'an abort after the grant does not release');
  assert.is(client.listeners(), 0, 'listener removed at the grant');
  lease.release(); // what the caller's finally does
  assert.not.ok(q.isBusy('a'));
});

abort('an abort listener that frees the key before ours runs: the aborted waiter is skipped', async () => {
  const q = queue(new FakeTime());
  const holder = await q.acquire({ keys: ['a'] });
  const client = countedController();
  // The gateway's own listener (say, cancelling the upstream of the request that holds 'a')
  // runs first, and its release hands 'a' over while our waiter is aborted but not yet removed.
  client.signal.addEventListener('abort', () => holder.release(), { once: true });
  const reason = new Error('gone');
  const gone = track(q.acquire({ keys: ['a'], signal: client.signal }));
  const next = track(q.acquire({ keys: ['a'] }));
  client.abort(reason);
  await flush();
  assert.is(gone.status, 'rejected');
  assert.is(gone.reason, reason);
  assert.is(next.status, 'resolved');
  assert.is(client.listeners(), 0);
  next.value?.release();
  assert.not.ok(q.isBusy('a'));
  assert.is(q.waiting(), 0);
});

abort('after the grant: the lease stays until released, then the key is free', async () => {
  const q = queue(new FakeTime());
  const client = countedController();
  const lease = await q.acquire({ keys: ['a'], signal: client.signal });
  assert.is(client.listeners(), 0, 'an immediate grant never listens');
  client.abort(new Error('gone'));
  assert.ok(q.isBusy('a'));
  lease.release();
  assert.not.ok(q.isBusy('a'));
  assert.is(q.waiting(), 0);
});

abort.run();

// ---- timeout ---------------------------------------------------------------------------------

const timeout = suite('lease-queue: timeout');

timeout('rejects with queue_timeout (503) after timeoutMs; waiter and listener gone', async () => {
  const time = new FakeTime();
  const q = queue(time, { timeoutMs: 5_000 });
  await q.acquire({ keys: ['a'] });
  const client = countedController();
  const waiting = track(q.acquire({ keys: ['a'], signal: client.signal }));
  time.advance(4_999);
  await flush();
  assert.is(waiting.status, 'pending');
  time.advance(1);
  assert.is(q.waiting(), 0);
  assert.is(client.listeners(), 0);
  await flush();
  assertCode(waiting.reason, 'queue_timeout', 503);
});

timeout('a release after the timeout frees the key for nobody', async () => {
  const time = new FakeTime();
  const q = queue(time, { timeoutMs: 5_000 });
  const holder = await q.acquire({ keys: ['a'] });
  const late = track(q.acquire({ keys: ['a'] }));
  time.advance(5_000);
  holder.release();
  await flush();
  assert.is(late.status, 'rejected');
  assert.not.ok(q.isBusy('a'));
});

timeout('timeout then release in the same tick: the key goes to the next waiter', async () => {
  const time = new FakeTime();
  const q = queue(time, { timeoutMs: 5_000 });
  const holder = await q.acquire({ keys: ['a'] });
  const first = track(q.acquire({ keys: ['a'] }));
  time.advance(1_000);
  const second = track(q.acquire({ keys: ['a'] }));
  time.advance(4_000); // first's timer fires at 5 000
  holder.release();
  await flush();
  assertCode(first.reason, 'queue_timeout', 503);
  assert.is(second.status, 'resolved');
  second.value?.release();
  assert.not.ok(q.isBusy('a'));
});

timeout('release then a timer that fires anyway (cancel too late): the grant stands', async () => {
  const time = new FakeTime({ honourCancel: false });
  const q = queue(time, { timeoutMs: 5_000 });
  const holder = await q.acquire({ keys: ['a'] });
  const waiter = track(q.acquire({ keys: ['a'] }));
  time.advance(4_999);
  holder.release();
  time.advance(1); // the stale timer fires
  await flush();
  assert.is(waiter.status, 'resolved');
  assert.ok(q.isBusy('a'));
  waiter.value?.release();
  assert.not.ok(q.isBusy('a'));
});

timeout('Infinity: no timer at all', async () => {
  const time = new FakeTime();
  const q = queue(time, { timeoutMs: Infinity });
  const holder = await q.acquire({ keys: ['a'] });
  const waiter = q.acquire({ keys: ['a'] });
  assert.is(time.pending(), 0);
  holder.release();
  (await waiter).release();
});

timeout.run();

// ---- bounds ----------------------------------------------------------------------------------

const bounds = suite('lease-queue: bounds');

bounds('maxWaiting reached: queue_full (429) with Retry-After, nothing allocated', async () => {
  const time = new FakeTime();
  const q = queue(time, { maxWaiting: 2, retryAfterSeconds: (waiting) => waiting * 1.5 });
  await q.acquire({ keys: ['a'] });
  void q.acquire({ keys: ['a'] });
  void q.acquire({ keys: ['a'] });
  const client = countedController();
  const err = assertCode(await rejection(q.acquire({ keys: ['a'], signal: client.signal })), 'queue_full', 429);
  assert.equal(err.headers, { 'retry-after': '3' });
  assert.is(q.waiting(), 2);
  assert.is(time.pending(), 2, 'no timer for the refused request');
  assert.is(client.listeners(), 0);
  assert.ok(await q.acquire({ keys: ['b'] }), 'a free key is still granted when the queue is full');
});

bounds('maxWaiting 0: never wait, but free keys are granted', async () => {
  const q = queue(new FakeTime(), { maxWaiting: 0 });
  await q.acquire({ keys: ['a'] });
  assertCode(await rejection(q.acquire({ keys: ['a'] })), 'queue_full', 429);
});

bounds('default Retry-After: the waiters ahead times the mean lease, over the leases held', async () => {
  const time = new FakeTime();
  const q = queue(time, { maxWaiting: 3, timeoutMs: 300_000 });
  const a = await q.acquire({ keys: ['a'] });
  await q.acquire({ keys: ['b'] });
  time.advance(10_000);
  a.release(); // one lease of 10 s measured
  await q.acquire({ keys: ['a'] });
  for (let i = 0; i < 3; i++) void q.acquire({ keys: ['a', 'b'] });
  const err = assertCode(await rejection(q.acquire({ keys: ['a'] })), 'queue_full', 429);
  assert.is(err.headers['retry-after'], '20', '(3 + 1) × 10 s ÷ 2 leases');
  assert.is(q.estimateRetryAfter(0), 5);
  assert.is(q.estimateRetryAfter(10_000), 300, 'never beyond the queue timeout');
});

bounds('a background lease (tryAcquire) stays out of the mean behind Retry-After', async () => {
  const time = new FakeTime();
  const q = queue(time, { timeoutMs: 300_000 });
  const a = await q.acquire({ keys: ['a'] });
  time.advance(10_000);
  a.release(); // one request's lease of 10 s
  for (let i = 0; i < 5; i++) {
    const save = q.tryAcquire('a')!;
    time.advance(20);
    save.release(); // idle saves of 20 ms
  }
  assert.is(q.estimateRetryAfter(0), 10, 'still the request\'s 10 s');
});

bounds('default Retry-After before any release: the oldest lease\'s age, at least 1 s', async () => {
  const time = new FakeTime();
  const q = queue(time, { maxWaiting: 1 });
  assert.is(q.estimateRetryAfter(0), 1);
  await q.acquire({ keys: ['a'] });
  time.advance(4_000);
  assert.is(q.estimateRetryAfter(1), 8);
});

bounds('options and arguments are checked with exact messages', async () => {
  const time = new FakeTime();
  assert.throws(() => queue(time, { maxWaiting: -1 }), /maxWaiting must be an integer ≥ 0, got -1/);
  assert.throws(() => queue(time, { maxWaiting: 1.5 }), /maxWaiting must be an integer ≥ 0/);
  assert.throws(() => queue(time, { timeoutMs: 0 }), /timeoutMs must be in \(0, 2147483647\] or Infinity, got 0/);
  assert.throws(() => queue(time, { timeoutMs: 2 ** 31 }), /timeoutMs must be/);
  assert.throws(() => queue(time, { order: 'lifo' as QueueOrder }), /order must be 'fair' or 'shortest-first', got lifo/);
  assert.throws(() => queue(time, { agingMsPerSecond: -1 }), /agingMsPerSecond must be a finite number ≥ 0/);
  const q = queue(time);
  const empty = await rejection(q.acquire({ keys: [] }));
  assert.instance(empty, TypeError);
  assert.match((empty as Error).message, 'keys must name at least one slot');
  assert.match((await rejection(q.acquire({ keys: ['a'], cost: NaN })) as Error).message, 'cost must be a finite number');
  assert.match((await rejection(q.acquire({ keys: ['a'], cost: -1 })) as Error).message, 'got -1');
  assert.not.ok(q.isBusy('a'));
});

bounds('duplicate keys count once', async () => {
  const q = queue(new FakeTime());
  const holder = await q.acquire({ keys: ['a'] });
  const waiter = q.acquire({ keys: ['a', 'a'] });
  assert.is(q.waitingFor('a'), 1);
  holder.release();
  (await waiter).release();
  assert.is(q.waitingFor('a'), 0);
  assert.not.ok(q.isBusy('a'));
});

bounds.run();

// ---- forget ----------------------------------------------------------------------------------

const forget = suite('lease-queue: forget');

forget('the key is free at once; the old holder\'s release never frees a newer lease', async () => {
  const q = queue(new FakeTime());
  const old = await q.acquire({ keys: ['0/0'] });
  q.forget('0/0', new Error('server restarted'));
  assert.not.ok(q.isBusy('0/0'));
  assert.is(q.heldSince('0/0'), null);
  const fresh = await q.acquire({ keys: ['0/0'] });
  old.release();
  assert.ok(q.isBusy('0/0'));
  assert.is(q.heldSince('0/0'), fresh.acquiredAt);
  fresh.release();
  assert.not.ok(q.isBusy('0/0'));
});

forget('waiters left with no key are rejected with the reason; others wait on', async () => {
  const time = new FakeTime();
  const q = queue(time);
  const held = [await q.acquire({ keys: ['0/0'] }), await q.acquire({ keys: ['1/0'] })];
  const onlyGone = countedController();
  const stranded = track(q.acquire({ keys: ['0/0'], signal: onlyGone.signal }));
  const either = track(q.acquire({ keys: ['0/0', '1/0'] }));
  const reason = new SlotkeeperError('no_upstream', 'server 0 went away');
  q.forget('0/0', reason);
  assert.is(q.waiting(), 1);
  assert.is(q.waitingFor('0/0'), 0);
  assert.is(q.waitingFor('1/0'), 1);
  assert.is(time.pending(), 1);
  assert.is(onlyGone.listeners(), 0);
  await flush();
  assert.is(stranded.reason, reason);
  assert.is(either.status, 'pending');
  held[0]?.release(); // no-op: forgotten
  await flush();
  assert.is(either.status, 'pending', 'a forgotten lease hands nothing over');
  held[1]?.release();
  await flush();
  assert.is(either.value?.key, '1/0');
  either.value?.release();
  assert.is(q.waiting(), 0);
});

forget.run();

// ---- randomized ------------------------------------------------------------------------------

interface Request {
  keys: Set<string>; // as the queue should see them: forget() removes keys
  client: ReturnType<typeof countedController> | undefined;
  outcome: ReturnType<typeof track<Lease>>;
  released: boolean;
  forgotten: boolean;
}

const KEYS = ['0/0', '0/1', '1/0', '1/1'];

async function randomRun(seed: number, order: QueueOrder, steps: number): Promise<void> {
  const rng = new Rng(seed, 'lease-queue');
  const random = () => rng.next();
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];
  const time = new FakeTime({ honourCancel: random() < 0.5 });
  const q = queue(time, { order, maxWaiting: 12, timeoutMs: 5_000, agingMsPerSecond: 400 });
  const requests: Request[] = [];
  const where = (step: number, what: string) => `seed ${seed} ${order} step ${step}: ${what}`;

  const holding = () => requests.filter((r) => r.outcome.status === 'resolved' && !r.released && !r.forgotten);
  const pending = () => requests.filter((r) => r.outcome.status === 'pending');

  // What must hold whatever happened, in the same tick as it happened.
  function checkSync(step: number) {
    for (const key of KEYS) {
      if (q.waitingFor(key) > 0) assert.ok(q.isBusy(key), where(step, `${key} is free while ${q.waitingFor(key)} wait for it`));
    }
    assert.is(time.pending(), q.waiting(), where(step, 'one live timer per waiter'));
  }

  // What the promises must agree with once their reactions have run.
  async function checkSettled(step: number) {
    await flush();
    checkSync(step);
    const held = holding();
    for (const key of KEYS) {
      const holders = held.filter((r) => r.outcome.value?.key === key);
      assert.ok(holders.length <= 1, where(step, `${key} has ${holders.length} live leases`));
      assert.is(q.isBusy(key), holders.length === 1, where(step, `${key} busy without a live lease, or the reverse`));
      assert.is(q.heldSince(key), holders[0]?.outcome.value?.acquiredAt ?? null, where(step, `${key} heldSince`));
    }
    const waiting = pending();
    assert.is(q.waiting(), waiting.length, where(step, 'waiting() counts the pending promises'));
    for (const key of KEYS) {
      assert.is(q.waitingFor(key), waiting.filter((r) => r.keys.has(key)).length, where(step, `waitingFor(${key})`));
    }
    for (const r of requests) {
      const expected = r.outcome.status === 'pending' && r.client !== undefined ? 1 : 0;
      if (r.client) assert.is(r.client.listeners(), expected, where(step, 'abort listeners'));
    }
  }

  for (let step = 0; step < steps; step++) {
    const roll = random();
    if (roll < 0.35) {
      const keys = KEYS.filter(() => random() < 0.4);
      if (keys.length === 0) keys.push(pick(KEYS) ?? '0/0');
      const client = random() < 0.7 ? countedController() : undefined;
      if (client && random() < 0.05) client.abort(new Error('early'));
      const promise = q.acquire({ keys, cost: Math.floor(random() * 5_000), signal: client?.signal });
      requests.push({ keys: new Set(keys), client, outcome: track(promise), released: false, forgotten: false });
    } else if (roll < 0.5) {
      const victim = pick(requests.filter((r) => r.client && !r.client.signal.aborted));
      victim?.client?.abort(new Error(`abort at ${step}`));
    } else if (roll < 0.62) {
      time.advance(Math.floor(random() * 3_000));
    } else if (roll < 0.87) {
      const r = pick(holding());
      if (r) {
        r.released = true;
        r.outcome.value?.release();
      }
    } else if (roll < 0.93) {
      const r = pick(requests.filter((x) => x.released || x.forgotten));
      r?.outcome.value?.release(); // a second release, or a forgotten lease's
    } else if (roll < 0.95) {
      await flush(); // so the model knows which lease the key is about to lose
      const key = pick(KEYS) ?? '0/0';
      for (const r of holding()) if (r.outcome.value?.key === key) r.forgotten = true;
      for (const r of pending()) r.keys.delete(key);
      q.forget(key, new Error(`forgot ${key}`));
    }
    // Half the steps run back to back in one tick: aborts, timers and releases interleave
    // without promise reactions between them, as they can in the gateway.
    checkSync(step);
    if (random() < 0.5) await checkSettled(step);
  }

  // Drain: release every lease until nobody waits, then nothing may be left behind.
  for (let round = 0; q.waiting() > 0 || holding().length > 0; round++) {
    assert.ok(round < 1_000, where(steps, 'drain terminates'));
    for (const r of holding()) {
      r.released = true;
      r.outcome.value?.release();
    }
    await checkSettled(steps);
  }
  await checkSettled(steps);
  for (const key of KEYS) assert.not.ok(q.isBusy(key), where(steps, `${key} busy after the drain`));
  assert.is(time.pending(), 0);
  for (const r of requests) {
    assert.is.not(r.outcome.status, 'pending');
    if (r.outcome.status === 'rejected' && r.outcome.reason instanceof SlotkeeperError) {
      assert.ok(r.outcome.reason.code === 'queue_full' || r.outcome.reason.code === 'queue_timeout', where(steps, r.outcome.reason.code));
    }
  }
  const outcomes = new Set<string>(requests.map((r) => (r.outcome.reason as SlotkeeperError | undefined)?.code ?? r.outcome.status));
  for (const kind of ['resolved', 'rejected', 'queue_full', 'queue_timeout']) {
    assert.ok(outcomes.has(kind), where(steps, `the run exercised ${kind}`));
  }
}

const randomized = suite('lease-queue: randomized invariants');

for (const order of ['fair', 'shortest-first'] as const) {
  randomized(`${order}: 3 seeds × 3000 random steps keep every invariant`, async () => {
    for (const seed of [1, 2, 3]) await randomRun(seed, order, 3_000);
  });
}

randomized.run();
