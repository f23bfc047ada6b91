import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commonBlocks, coveredBlocks } from '../../src/prefix/chain.js';

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

test('coveredBlocks counts one more block when the query holds the whole prompt, partial tail included', () => {
  const content = { chain: Float64Array.from([1, 2, 3]), endHash: 77, chars: 350 };
  const query = (hashAt350: number) => ({ chain: Float64Array.from([1, 2, 3, 4, 5]), ends: Float64Array.from([0, 5, 350, hashAt350, 600, 9]) });
  assert.is(coveredBlocks(content, query(77)), 4);
  assert.is(coveredBlocks(content, query(78)), 3, 'another tail at the same offset');
  assert.is(coveredBlocks({ chain: content.chain }, query(77)), 3, 'no end hash known');
  assert.is(coveredBlocks(content, { chain: Float64Array.from([1, 2, 9, 9]), ends: Float64Array.from([350, 77]) }), 2, 'full blocks diverge first');
  assert.is(coveredBlocks(content, { chain: Float64Array.from([1, 2, 3, 4]) }), 3, 'a query without ends');
});

test.run();
