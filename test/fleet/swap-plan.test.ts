// The swap decision, exhaustively and without servers.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { planSwap } from '../../src/fleet/swap-plan.js';

const test = suite('fleet/swap-plan');

test('a loaded model swaps nothing and is not cold', () => {
  assert.equal(planSwap({ requested: 'a', loaded: ['a', 'b'], capacity: 1 }), { cold: false, evicts: [] });
});

test('an unknown loaded set changes nothing: no save and no dropped belief on a guess', () => {
  assert.equal(planSwap({ requested: 'a', loaded: null, capacity: 1 }), { cold: false, evicts: [] });
});

test('nothing loaded: the model is cold, nobody is evicted', () => {
  assert.equal(planSwap({ requested: 'a', loaded: [], capacity: 1 }), { cold: true, evicts: [] });
});

test('one swap group (capacity 1): every other loaded model may go', () => {
  assert.equal(planSwap({ requested: 'a', loaded: ['b'], capacity: 1 }), { cold: true, evicts: ['b'] });
  // llama-swap lists several when groups run side by side; without the groups, all are at risk.
  assert.equal(planSwap({ requested: 'a', loaded: ['c', 'b'], capacity: 1 }).evicts, ['b', 'c']);
});

test('no limit (capacity 0): cold, nothing evicted', () => {
  assert.equal(planSwap({ requested: 'a', loaded: ['b', 'c', 'd'], capacity: 0 }), { cold: true, evicts: [] });
});

test('room left under the capacity: cold, nothing evicted', () => {
  assert.equal(planSwap({ requested: 'a', loaded: ['b'], capacity: 2 }), { cold: true, evicts: [] });
});

test('at capacity: the least recently used go, as many as make room', () => {
  const lastUsed = { b: 30, c: 10, d: 20 };
  assert.equal(planSwap({ requested: 'a', loaded: ['b', 'c', 'd'], capacity: 3, lastUsed }).evicts, ['c']);
  assert.equal(planSwap({ requested: 'a', loaded: ['b', 'c', 'd'], capacity: 2, lastUsed }).evicts, ['c', 'd']);
});

test('models slotkeeper never used count as the oldest, by name among themselves', () => {
  assert.equal(planSwap({ requested: 'a', loaded: ['b', 'z', 'y'], capacity: 2, lastUsed: { b: 5 } }).evicts, ['y', 'z']);
});

test.run();
