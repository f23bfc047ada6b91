import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commonBlocks } from '../../src/prefix/chain.js';

const chain = (...values: number[]) => Float64Array.from(values);
const test = suite('prefix/chain');

test('common blocks of chains sharing a prefix', () => {
  assert.is(commonBlocks(chain(1, 2, 3, 4), chain(1, 2, 3, 9, 9)), 3);
  assert.is(commonBlocks(chain(1, 2, 3), chain(1, 2, 3, 4)), 3);
  assert.is(commonBlocks(chain(1, 2, 3, 4), chain(1, 2, 3)), 3);
  assert.is(commonBlocks(chain(5), chain(1, 2)), 0);
  assert.is(commonBlocks(chain(), chain(1)), 0);
  assert.is(commonBlocks(chain(), chain()), 0);
});

test('agrees with a linear scan on every boundary of long chains', () => {
  const a = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
  for (const k of [0, 1, 2, 499, 500, 998, 999, 1000]) {
    const b = Float64Array.from({ length: 1200 }, (_, i) => (i < k ? i + 1 : -i));
    assert.is(commonBlocks(a, b), k, `boundary ${k}`);
  }
});

test.run();
