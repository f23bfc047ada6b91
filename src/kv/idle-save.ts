// When a slot that has sat idle gets saved (kv.saveIdleSeconds): once per idle period, decided
// purely from what the slots hold and how long they have been idle. Whether the content is worth
// a file is decisions.ts' decideSave, asked when the save is carried out; this only says when.

/** An idle slot holding something, as the router sees it. */
export interface IdleSlot {
  /** The slot's lease key. */
  key: string;
  /** ms since its last request ended. */
  idleMs: number;
  /**
   * Identifies the content: its last-use time. A new request changes it, which starts a new
   * idle period and so allows another save.
   */
  stamp: number;
}

/** What to do now, and when to look again. */
export interface IdlePlan {
  /** Slots idle for the threshold whose content has not been handled yet, most idle first. */
  due: IdleSlot[];
  /** Key → stamp of content already handled (saved, judged not worth it, or busy): not again. */
  handled: Map<string, number>;
  /** ms until the next look. */
  waitMs: number;
}

/**
 * Slots due for an idle save. The next look comes when the next pending slot becomes due, and at
 * the latest after a quarter of the threshold: a request that ends after this look brings content
 * no look has seen yet, so a save comes at most a quarter late.
 */
export function planIdleSaves(slots: readonly IdleSlot[], handled: ReadonlyMap<string, number>, thresholdMs: number): IdlePlan {
  if (!(thresholdMs > 0)) throw new RangeError(`idle threshold must be positive, got ${thresholdMs}`);
  const due: IdleSlot[] = [];
  const next = new Map<string, number>();
  let waitMs = thresholdMs / 4;
  for (const s of slots) {
    // Content handled before stays handled; anything else (forgotten, replaced) drops out, so
    // the map stays as small as the fleet.
    if (handled.get(s.key) === s.stamp) {
      next.set(s.key, s.stamp);
    } else if (s.idleMs >= thresholdMs) {
      due.push(s);
      next.set(s.key, s.stamp);
    } else {
      waitMs = Math.min(waitMs, thresholdMs - s.idleMs);
    }
  }
  due.sort((a, b) => b.idleMs - a.idleMs || (a.key < b.key ? -1 : 1));
  return { due, handled: next, waitMs };
}
