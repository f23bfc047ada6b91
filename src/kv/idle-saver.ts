// Carries out idle-save.ts' plan: a timer looks at the idle slots, and each one due is saved
// while its lease is held, so no request runs in the slot during the save and no save runs in a
// slot a request holds. A slot whose lease is taken is skipped, not waited for: the request in it
// brings new content and a new idle period.
import type { HotSlot } from './kv-tier.js';
import { type IdleSlot, planIdleSaves } from './idle-save.js';

/** A cancellable timer, as {@link IdleSaverDeps.setTimer} makes. */
export interface IdleTimer {
  cancel(): void;
}

/** What the idle saver works with, injected. */
export interface IdleSaverDeps {
  /** Idle seconds before a slot's content is saved (config kv.saveIdleSeconds, > 0). */
  thresholdMs: number;
  /** Idle slots holding something, with their lease keys (Router.hotSlots and slotLeaseKey). */
  candidates: () => readonly (HotSlot & { key: string })[];
  /** A lease on the slot if it is free now, else null (LeaseQueue.tryAcquire). */
  tryLease: (key: string) => { release(): void } | null;
  /** Saves the slot when decideSave says it is worth it; resolves true when a file was written. */
  save: (slot: HotSlot) => Promise<boolean>;
  log: (line: string) => void;
  /** Default: setTimeout, unref'd, so the saver never keeps a process alive. */
  setTimer?: (fn: () => void, ms: number) => IdleTimer;
}

function defaultSetTimer(fn: () => void, ms: number): IdleTimer {
  const handle = setTimeout(fn, ms);
  handle.unref();
  return { cancel: () => clearTimeout(handle) };
}

/** Saves slots that have sat idle for the threshold, once per idle period. */
export class IdleSaver {
  private readonly deps: IdleSaverDeps;
  private readonly setTimer: (fn: () => void, ms: number) => IdleTimer;
  private handled = new Map<string, number>();
  private timer: IdleTimer | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(deps: IdleSaverDeps) {
    if (!(deps.thresholdMs > 0)) throw new RangeError(`IdleSaver: thresholdMs must be positive, got ${deps.thresholdMs}`);
    this.deps = deps;
    this.setTimer = deps.setTimer ?? defaultSetTimer;
  }

  /** Starts looking; the first look comes after a quarter of the threshold. */
  start(): void {
    if (this.closed || this.timer !== null || this.running !== null) return;
    this.schedule(this.deps.thresholdMs / 4);
  }

  /** Looks now: saves every slot due, one at a time. Resolves when done; a look already running is joined. */
  check(): Promise<void> {
    if (this.running !== null) return this.running;
    this.timer?.cancel();
    this.timer = null;
    this.running = this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Stops the timer and waits for a save in progress (its lease is released when it ends). */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  private async run(): Promise<void> {
    const plan = planIdleSaves(this.deps.candidates().map(idleSlot), this.handled, this.deps.thresholdMs);
    this.handled = plan.handled;
    for (const due of plan.due) {
      if (this.closed) break;
      // Read again after the previous save's await, and leased in the same tick: what is saved
      // is what the slot holds while the lease keeps requests out.
      const slot = this.deps.candidates().find((c) => c.key === due.key && c.content.lastUsedMs === due.stamp);
      if (slot === undefined) continue;
      const lease = this.deps.tryLease(slot.key);
      if (lease === null) continue;
      try {
        if (await this.deps.save(slot)) {
          this.deps.log(`kv: slot ${slot.slot} of upstream ${slot.upstream.id} idle ${Math.round(slot.idleMs / 1000)} s: saved its ${slot.content.tokens} tokens`);
        }
      } catch (err) {
        // KvTier counts and logs its own failures; this is anything else, and the timer goes on.
        this.deps.log(`kv: idle save of slot ${slot.slot} of upstream ${slot.upstream.id} failed: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        lease.release();
      }
    }
    if (!this.closed) this.schedule(plan.waitMs);
  }

  private schedule(ms: number): void {
    this.timer = this.setTimer(() => {
      this.timer = null;
      void this.check();
    }, ms);
  }
}

function idleSlot(c: HotSlot & { key: string }): IdleSlot {
  return { key: c.key, idleMs: c.idleMs, stamp: c.content.lastUsedMs };
}
