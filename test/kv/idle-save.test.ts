// When idle slots are due for a save: once per idle period, the most idle first, and when to
// look again.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type IdleSlot, planIdleSaves } from '../../src/kv/idle-save.js';

const T = 10_000;
const slot = (key: string, idleMs: number, stamp = 1): IdleSlot => ({ key, idleMs, stamp });

const test = suite('kv/idle-save');

test('slots idle for the threshold are due, most idle first; the others set the next look', () => {
  const plan = planIdleSaves([slot('0/0', T), slot('0/1', T - 1000), slot('1/0', 3 * T)], new Map(), T);
  assert.equal(plan.due.map((s) => s.key), ['1/0', '0/0']);
  assert.is(plan.waitMs, 1000, '0/1 becomes due in a second');
  assert.equal([...plan.handled], [['0/0', 1], ['1/0', 1]]);
});

test('content handled once is not due again while it stays idle; a new request (new stamp) starts over', () => {
  const first = planIdleSaves([slot('0/0', T)], new Map(), T);
  assert.is(first.due.length, 1);
  const again = planIdleSaves([slot('0/0', 5 * T)], first.handled, T);
  assert.equal(again.due, []);
  assert.equal([...again.handled], [['0/0', 1]], 'still remembered');
  const renewed = planIdleSaves([slot('0/0', 100, 2)], again.handled, T);
  assert.equal(renewed.due, []);
  assert.is(renewed.waitMs, T / 4, 'due in 9.9 s, but looks come at least every quarter threshold');
  assert.equal([...renewed.handled], [], 'the old content is forgotten');
  assert.equal(planIdleSaves([slot('0/0', T, 2)], renewed.handled, T).due.map((s) => s.stamp), [2]);
});

test('with nothing pending the next look is a quarter threshold away; slots gone drop out of the memory', () => {
  const plan = planIdleSaves([], new Map([['0/0', 1], ['0/1', 2]]), T);
  assert.equal(plan, { due: [], handled: new Map(), waitMs: T / 4 });
  assert.throws(() => planIdleSaves([], new Map(), 0), /positive/);
});

test.run();
