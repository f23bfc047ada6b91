import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Candidate, effectiveCost, pickNext } from '../../src/leases/waiter-order.js';

const waiter = (seq: number, cost: number, enqueuedAt: number): Candidate => ({ seq, cost, enqueuedAt });
const seqOf = (c: Candidate | undefined) => c?.seq;

const order = suite('waiter-order: pickNext');

order('nobody waiting: undefined', () => {
  assert.is(pickNext([], 'fair', 1000), undefined);
  assert.is(pickNext([], 'shortest-first', 1000), undefined);
});

order('fair: earliest arrival, whatever the costs and the iteration order', () => {
  const waiters = [waiter(3, 0, 30), waiter(1, 9_000, 10), waiter(2, 5, 20)];
  assert.is(seqOf(pickNext(waiters, 'fair', 1000)), 1);
});

order('shortest-first: lowest cost when all arrived together', () => {
  const waiters = [waiter(1, 900, 0), waiter(2, 300, 0), waiter(3, 600, 0)];
  assert.is(seqOf(pickNext(waiters, 'shortest-first', 1000)), 2);
});

order('shortest-first: equal effective costs go by arrival', () => {
  // 2000 − 1 s × 1000 ms/s = 1000: the same effective cost as a fresh 1000 ms waiter.
  const waiters = [waiter(5, 1000, 1000), waiter(4, 2000, 0), waiter(6, 1000, 1000)];
  assert.is(seqOf(pickNext(waiters, 'shortest-first', 1000)), 4);
});

order('shortest-first: aging lets an old expensive waiter overtake a fresh cheap one', () => {
  const old = waiter(1, 20_000, 0);
  const fresh = (at: number) => waiter(2, 300, at);
  assert.is(seqOf(pickNext([old, fresh(19_000)], 'shortest-first', 1000)), 2);
  assert.is(seqOf(pickNext([old, fresh(20_000)], 'shortest-first', 1000)), 1);
  assert.is(seqOf(pickNext([old, fresh(1e9)], 'shortest-first', 0)), 2, 'no aging: cheap always wins');
});

order('the choice matches a comparison of effective costs at any common time', () => {
  const waiters = [waiter(1, 7_000, 0), waiter(2, 4_000, 2_500), waiter(3, 500, 6_000)];
  for (const now of [6_000, 10_000, 60_000]) {
    const byEffective = [...waiters].sort(
      (a, b) => effectiveCost(a.cost, now - a.enqueuedAt, 700) - effectiveCost(b.cost, now - b.enqueuedAt, 700) || a.seq - b.seq,
    );
    assert.is(seqOf(pickNext(waiters, 'shortest-first', 700)), byEffective[0]?.seq, `at ${now}`);
  }
});

order.run();

const cost = suite('waiter-order: effectiveCost');

cost('cost less aging per second waited', () => {
  assert.is(effectiveCost(20_000, 0, 1000), 20_000);
  assert.is(effectiveCost(20_000, 5_000, 1000), 15_000);
  assert.is(effectiveCost(20_000, 5_000, 500), 17_500);
  assert.is(effectiveCost(300, 5_000, 0), 300);
});

cost.run();
