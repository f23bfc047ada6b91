import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RamCache } from '../../src/prefix/ram-cache.js';

const chain = (...values: number[]) => Float64Array.from(values);
const test = suite('prefix/ram-cache');

test('best finds the entry sharing most blocks', () => {
  const ram = new RamCache(10_000);
  ram.save({ chain: chain(1, 2, 3), tokens: 300 });
  ram.save({ chain: chain(7, 8), tokens: 200 });
  assert.is(ram.best(chain(1, 2, 9))?.blocks, 2);
  assert.is(ram.best(chain(7, 8, 9))?.entry.tokens, 200);
  assert.is(ram.best(chain(5)), null);
});

test('a longer save of the same prompt replaces the shorter one; a covered save changes nothing', () => {
  const ram = new RamCache(10_000);
  ram.save({ chain: chain(1, 2), tokens: 200 });
  ram.save({ chain: chain(1, 2, 3), tokens: 300 });
  assert.is(ram.size, 1);
  assert.is(ram.heldTokens, 300);
  assert.is(ram.save({ chain: chain(1, 2), tokens: 200 }), null);
  assert.is(ram.size, 1);
  assert.is(ram.heldTokens, 300);
});

test('bounded by tokens, oldest saved out first: a covered save does not make an entry younger (as llama-server)', () => {
  const ram = new RamCache(1_000);
  ram.save({ chain: chain(1, 2), tokens: 400 });
  ram.save({ chain: chain(3), tokens: 400 });
  ram.save({ chain: chain(1), tokens: 100 });
  ram.save({ chain: chain(4), tokens: 400 });
  assert.is(ram.heldTokens, 800);
  assert.is(ram.best(chain(1, 2)), null, 'the oldest is gone, though a save it covered came later');
  assert.ok(ram.best(chain(3)));
  assert.ok(ram.best(chain(4)));
});

test('states bigger than the cache and a zero-capacity cache hold nothing', () => {
  const small = new RamCache(100);
  small.save({ chain: chain(1), tokens: 101 });
  assert.is(small.size, 0);
  const none = new RamCache(0);
  none.save({ chain: chain(1), tokens: 1 });
  assert.is(none.size, 0);
});

test('missChance: 0.5 before any load; measured from loads, recent ones weighing more', () => {
  const ram = new RamCache(10_000);
  assert.is(ram.missChance(), 0.5);
  for (let i = 0; i < 40; i++) ram.recordLoad(true);
  assert.ok(ram.missChance() < 0.06, `${ram.missChance()} after 40 found`);
  for (let i = 0; i < 5; i++) ram.recordLoad(false);
  assert.ok(ram.missChance() > 0.2, `${ram.missChance()} after 5 missed`);
  for (let i = 0; i < 100; i++) ram.recordLoad(false);
  assert.ok(ram.missChance() > 0.9 && ram.missChance() < 1);
});

test('forget and clear', () => {
  const ram = new RamCache(1_000);
  ram.save({ chain: chain(1), tokens: 100 });
  ram.save({ chain: chain(2), tokens: 100 });
  ram.forget(ram.best(chain(1))!.entry);
  assert.is(ram.size, 1);
  assert.is(ram.heldTokens, 100);
  ram.clear();
  assert.is(ram.size, 0);
  assert.is(ram.heldTokens, 0);
});

test.run();
