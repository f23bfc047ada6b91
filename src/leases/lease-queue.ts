// Slot leases: a llama-server slot serves one request at a time, so a request holds a lease on
// its slot until its upstream response has ended, and waits in a bounded queue while every slot
// it accepts is leased.
//
// Every transition (grant, release, abort, timeout, forget) is one synchronous method that leaves
// the state consistent before it returns: a waiter leaves the queue, loses its timer and its abort
// listener, and has its promise settled in the same tick. Being in #waiters is what "still
// waiting" means, so a timer or abort that arrives after a grant finds nothing to do, and a
// waiter whose promise was rejected can never be handed a slot.
import { clearTimeout, setTimeout } from 'node:timers';
import type { QueueOrder } from '../config/config.js';
import { SlotkeeperError } from '../errors.js';
import { pickNext } from './waiter-order.js';

/** A timer that can be cancelled, as LeaseQueueOptions.setTimer returns. */
export interface Timer {
  cancel(): void;
}

/** How a LeaseQueue is bounded and ordered; clock and timers are injectable for tests and simulations. */
export interface LeaseQueueOptions {
  /** Waiters gateway-wide; one more is rejected with queue_full (429) and a Retry-After header. */
  maxWaiting: number;
  /** Longest wait for a slot, ms; then queue_timeout (503). Infinity: no limit. */
  timeoutMs: number;
  order: QueueOrder;
  /** shortest-first: effective cost = cost − agingMsPerSecond × seconds waited. */
  agingMsPerSecond: number;
  /** Clock in ms; default performance.now. */
  now?: () => number;
  /** Starts a timer; default setTimeout, unref'd. It must not call `fn` before returning. */
  setTimer?: (fn: () => void, ms: number) => Timer;
  /** Retry-After seconds for a queue_full answer, given the waiters; default {@link LeaseQueue.estimateRetryAfter}. */
  retryAfterSeconds?: (waiting: number) => number;
}

/** One request's wish for a slot. */
export interface AcquireOptions {
  /** Acceptable slots, in order of preference when several are free at once. */
  keys: readonly string[];
  /** Expected work in ms, for shortest-first; default 0. */
  cost?: number;
  /** The client went away: the wait ends, rejected with signal.reason. */
  signal?: AbortSignal;
}

/** The right to send one request to one slot. */
export interface Lease {
  readonly key: string;
  /** Clock reading when the lease was granted, ms. */
  readonly acquiredAt: number;
  /** Frees the slot for the next waiter; a second call does nothing. */
  release(): void;
}

interface Waiter {
  /** Distinct keys, shrunk by forget(). */
  keys: readonly string[];
  readonly cost: number;
  readonly enqueuedAt: number;
  readonly seq: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (lease: Lease) => void;
  readonly reject: (reason: unknown) => void;
  timer: Timer | undefined;
  onAbort: (() => void) | undefined;
}

// setTimeout clamps longer delays to 1 ms: a finite timeout must fit in a signed 32-bit int.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Weight of the newest lease in the mean lease duration behind Retry-After: it follows a change
// of load within a handful of requests, yet one outlier moves it by a fifth only.
const HOLD_EWMA_WEIGHT = 0.2;

function defaultSetTimer(fn: () => void, ms: number): Timer {
  // unref: a waiter alone must not keep a shutting-down process alive; the server handle does.
  const handle = setTimeout(fn, ms).unref();
  return { cancel: () => clearTimeout(handle) };
}

/** Leases on slots, and the bounded queue of requests waiting for one. */
export class LeaseQueue {
  readonly #maxWaiting: number;
  readonly #timeoutMs: number;
  readonly #order: QueueOrder;
  readonly #aging: number;
  readonly #now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => Timer;
  readonly #retryAfterSeconds: (waiting: number) => number;

  /** key → its current lease. A key not here is free. */
  readonly #holders = new Map<string, Lease>();
  /** Everyone waiting, in arrival order. */
  readonly #waiters = new Set<Waiter>();
  /** key → the waiters that accept it, in arrival order; no empty sets. */
  readonly #byKey = new Map<string, Set<Waiter>>();
  #seq = 0;
  #meanHoldMs: number | undefined;

  constructor(options: LeaseQueueOptions) {
    const { maxWaiting, timeoutMs, order, agingMsPerSecond } = options;
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) {
      throw new RangeError(`LeaseQueue: maxWaiting must be an integer ≥ 0, got ${maxWaiting}`);
    }
    if (!(timeoutMs > 0 && (timeoutMs <= MAX_TIMER_MS || timeoutMs === Infinity))) {
      throw new RangeError(`LeaseQueue: timeoutMs must be in (0, ${MAX_TIMER_MS}] or Infinity, got ${timeoutMs}`);
    }
    if (order !== 'fair' && order !== 'shortest-first') {
      throw new RangeError(`LeaseQueue: order must be 'fair' or 'shortest-first', got ${String(order)}`);
    }
    if (!(Number.isFinite(agingMsPerSecond) && agingMsPerSecond >= 0)) {
      throw new RangeError(`LeaseQueue: agingMsPerSecond must be a finite number ≥ 0, got ${agingMsPerSecond}`);
    }
    this.#maxWaiting = maxWaiting;
    this.#timeoutMs = timeoutMs;
    this.#order = order;
    this.#aging = agingMsPerSecond;
    this.#now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? defaultSetTimer;
    this.#retryAfterSeconds = options.retryAfterSeconds ?? ((waiting) => this.estimateRetryAfter(waiting));
  }

  /**
   * A lease on the first free key of `keys`, at once; else one on whichever accepted key is
   * handed over first, in the queue's order. Rejects with signal.reason if the signal is or
   * becomes aborted while waiting, with queue_full when maxWaiting requests already wait, and
   * with queue_timeout after timeoutMs.
   *
   * Once the promise has resolved, the lease is the caller's: an abort after that (even in the
   * same tick) does not release it, so release it in a `finally` around the whole upstream
   * exchange.
   */
  acquire(options: AcquireOptions): Promise<Lease> {
    const { keys, cost = 0, signal } = options;
    if (keys.length === 0) return Promise.reject(new TypeError('acquire: keys must name at least one slot'));
    if (!(Number.isFinite(cost) && cost >= 0)) {
      return Promise.reject(new TypeError(`acquire: cost must be a finite number of ms ≥ 0, got ${cost}`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    // A free key has no waiters (#handOver gives a freed key away at once), so taking it jumps no queue.
    const free = keys.find((key) => !this.#holders.has(key));
    if (free !== undefined) return Promise.resolve(this.#grant(free));
    if (this.#waiters.size >= this.#maxWaiting) return Promise.reject(this.#fullError());
    return new Promise<Lease>((resolve, reject) => {
      this.#enqueue({
        keys: [...new Set(keys)],
        cost,
        enqueuedAt: this.#now(),
        seq: this.#seq++,
        signal,
        resolve,
        reject,
        timer: undefined,
        onAbort: undefined,
      });
    });
  }

  /**
   * A lease on `key` if it is free now, else null; never waits or queues. For background work
   * (the disk tier's idle saves) that must not run beside a request yet must not delay one
   * that is already waiting: a free key has no waiters, so taking it jumps no queue. Such a
   * lease is not a request's, so its length stays out of the mean that Retry-After estimates from.
   */
  tryAcquire(key: string): Lease | null {
    return this.#holders.has(key) ? null : this.#grant(key, false);
  }

  /** True while `key` is leased. */
  isBusy(key: string): boolean {
    return this.#holders.has(key);
  }

  /** Requests waiting for a slot, gateway-wide. */
  waiting(): number {
    return this.#waiters.size;
  }

  /** Waiters that would accept `key`. */
  waitingFor(key: string): number {
    return this.#byKey.get(key)?.size ?? 0;
  }

  /** When the current lease on `key` was granted, or null when the key is free. */
  heldSince(key: string): number | null {
    return this.#holders.get(key)?.acquiredAt ?? null;
  }

  /**
   * Forgets a slot whose server was removed or restarted. The key is free at once. Its holder
   * keeps its Lease, but that lease no longer counts: its release() does nothing, so it can never
   * free a lease granted on the same key after the forget. Waiters stop accepting the key; those
   * left with no acceptable slot are rejected with `reason`, for the caller to schedule afresh
   * (a restarted slot has lost its KV cache, so the choice that named it no longer holds).
   * Acquiring the key later works as for any key.
   */
  forget(key: string, reason: unknown): void {
    this.#holders.delete(key);
    const waiters = this.#byKey.get(key);
    if (waiters === undefined) return;
    this.#byKey.delete(key);
    for (const waiter of waiters) {
      waiter.keys = waiter.keys.filter((k) => k !== key);
      if (waiter.keys.length > 0) continue;
      this.#remove(waiter);
      waiter.reject(reason);
    }
  }

  /**
   * The default Retry-After, in whole seconds: how long the `waiting` requests ahead, plus this
   * one, take to get a slot if leases keep ending at the recent rate, i.e. (waiting + 1) × mean
   * lease duration ÷ leases held. The mean is an exponentially weighted one over released leases
   * (before the first release, the oldest current lease's age stands in). At least 1 s; at most
   * the queue timeout, as no waiter would be kept longer.
   */
  estimateRetryAfter(waiting: number): number {
    let holdMs = this.#meanHoldMs;
    if (holdMs === undefined) {
      const now = this.#now();
      holdMs = 0;
      for (const lease of this.#holders.values()) holdMs = Math.max(holdMs, now - lease.acquiredAt);
    }
    const seconds = Math.ceil(((waiting + 1) * holdMs) / Math.max(1, this.#holders.size) / 1000);
    return Math.min(Math.max(1, seconds), Math.ceil(this.#timeoutMs / 1000));
  }

  #enqueue(waiter: Waiter): void {
    this.#waiters.add(waiter);
    for (const key of waiter.keys) {
      let waiters = this.#byKey.get(key);
      if (waiters === undefined) this.#byKey.set(key, (waiters = new Set()));
      waiters.add(waiter);
    }
    if (waiter.signal !== undefined) {
      const { signal } = waiter;
      waiter.onAbort = () => this.#abandon(waiter, signal.reason);
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    if (this.#timeoutMs !== Infinity) waiter.timer = this.#setTimer(() => this.#expire(waiter), this.#timeoutMs);
  }

  /** Takes a waiter out of every structure and drops its timer and listener; the caller settles it. */
  #remove(waiter: Waiter): void {
    this.#waiters.delete(waiter);
    for (const key of waiter.keys) {
      const waiters = this.#byKey.get(key);
      if (waiters === undefined) continue;
      waiters.delete(waiter);
      if (waiters.size === 0) this.#byKey.delete(key);
    }
    waiter.timer?.cancel();
    waiter.timer = undefined;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    waiter.onAbort = undefined;
  }

  #abandon(waiter: Waiter, reason: unknown): void {
    if (!this.#waiters.has(waiter)) return;
    this.#remove(waiter);
    waiter.reject(reason);
  }

  #expire(waiter: Waiter): void {
    // A timer that fires after a grant (cancel came too late) finds the waiter gone: a no-op.
    if (!this.#waiters.has(waiter)) return;
    this.#remove(waiter);
    waiter.reject(new SlotkeeperError('queue_timeout', `no slot became free within ${this.#timeoutMs} ms`));
  }

  /** Makes `key` held by a new lease; the key must be free. */
  #grant(key: string, measured = true): Lease {
    let live = true;
    const lease: Lease = Object.freeze({
      key,
      acquiredAt: this.#now(),
      release: () => {
        if (!live) return;
        live = false;
        this.#release(lease, measured);
      },
    });
    this.#holders.set(key, lease);
    return lease;
  }

  #release(lease: Lease, measured: boolean): void {
    // Not the holder: the key was forgotten, and may since be leased to someone else.
    if (this.#holders.get(lease.key) !== lease) return;
    this.#holders.delete(lease.key);
    if (measured) {
      const heldMs = this.#now() - lease.acquiredAt;
      this.#meanHoldMs = this.#meanHoldMs === undefined
        ? heldMs
        : this.#meanHoldMs + HOLD_EWMA_WEIGHT * (heldMs - this.#meanHoldMs);
    }
    this.#handOver(lease.key);
  }

  /** Gives a freed key to the next waiter that accepts it, if any. */
  #handOver(key: string): void {
    for (;;) {
      const waiter = pickNext(this.#byKey.get(key) ?? [], this.#order, this.#aging);
      if (waiter === undefined) return;
      this.#remove(waiter);
      // Aborted, but its listener has not run yet (an earlier listener on the same signal
      // released this key): it is abandoned, not served, and the key goes on.
      if (waiter.signal?.aborted) {
        waiter.reject(waiter.signal.reason);
        continue;
      }
      waiter.resolve(this.#grant(key));
      return;
    }
  }

  #fullError(): SlotkeeperError {
    const waiting = this.#waiters.size;
    const seconds = this.#retryAfterSeconds(waiting);
    // Retry-After takes whole seconds (RFC 9110 §10.2.3); a hook's odd answer still yields one.
    const retryAfter = Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : 1;
    return new SlotkeeperError('queue_full', `${waiting} requests are already waiting for a slot`, {
      headers: { 'retry-after': String(retryAfter) },
    });
  }
}
