// Which waiter a freed slot goes to: a pure decision over the waiters that accept the slot.
import type { QueueOrder } from '../config/config.js';

/** What the order looks at in a waiter. */
export interface Candidate {
  /** Expected work, ms. */
  readonly cost: number;
  /** Clock reading when the waiter joined the queue, ms. */
  readonly enqueuedAt: number;
  /** Arrival number, unique and increasing: the tie-break, and the whole of 'fair'. */
  readonly seq: number;
}

/** A waiter's effective cost after `waitedMs`: its cost less `agingMsPerSecond` per second waited. */
export function effectiveCost(cost: number, waitedMs: number, agingMsPerSecond: number): number {
  return cost - (agingMsPerSecond * waitedMs) / 1000;
}

/**
 * The waiter that gets a freed slot, or undefined when none waits for it. `candidates` need not
 * be sorted. 'fair' takes the earliest arrival; 'shortest-first' the lowest effective cost, ties
 * by arrival.
 *
 * Effective costs are compared without a clock: cost − aging × (now − enqueuedAt) orders waiters
 * exactly as cost + aging × enqueuedAt does, because `now` is the same for all of them. So the
 * choice never depends on when it is made, only on who waits.
 */
export function pickNext<T extends Candidate>(
  candidates: Iterable<T>,
  order: QueueOrder,
  agingMsPerSecond: number,
): T | undefined {
  let best: T | undefined;
  let bestRank = Infinity;
  for (const candidate of candidates) {
    const rank = order === 'fair' ? 0 : candidate.cost + (agingMsPerSecond * candidate.enqueuedAt) / 1000;
    if (best === undefined || rank < bestRank || (rank === bestRank && candidate.seq < best.seq)) {
      best = candidate;
      bestRank = rank;
    }
  }
  return best;
}
