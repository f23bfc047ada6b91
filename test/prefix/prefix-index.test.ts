import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PrefixIndex } from '../../src/prefix/prefix-index.js';

const chain = (...values: number[]) => Float64Array.from(values);
const test = suite('prefix/prefix-index');

function indexWith(ramTokens = 10_000): PrefixIndex {
  const index = new PrefixIndex();
  index.resetServer(0, ramTokens);
  return index;
}

const done = (index: PrefixIndex, slot: number, c: Float64Array, tokens: number) =>
  index.recordOutcome({ server: 0, slot, chain: c, tokens, expected: { blocks: 0, source: 'none' }, reusedTokens: null, expectedTokens: 0, nowMs: 1 }, 10);

test('a slot holding a prefix of the request is reused from the slot', () => {
  const index = indexWith();
  done(index, 0, chain(1, 2, 3), 300);
  assert.equal(index.expectedReuse(0, 0, chain(1, 2, 3, 4)), { blocks: 3, source: 'slot' });
  assert.equal(index.expectedReuse(0, 1, chain(1, 2, 3, 4)), { blocks: 0, source: 'none' });
});

test('when the request keeps less than half of the slot, a better RAM entry is expected to load', () => {
  const index = indexWith();
  done(index, 0, chain(1, 2, 3, 4, 5, 6), 600);
  index.dispatch(0, 0, chain(9), () => false); // overwritten: llama-server saves it to RAM first
  done(index, 0, chain(9), 100);
  const reuse = index.expectedReuse(0, 0, chain(1, 2, 3, 4, 5, 6, 7));
  assert.is(reuse.source, 'ram');
  assert.is(reuse.blocks, 6);
  // An entry the request keeps less than a quarter of is not loaded (llama-server's f_keep < 0.25).
  assert.is(index.expectedReuse(0, 0, chain(1, 8)).source, 'none');
});

test('dispatch returns the chosen slot\'s content it believes saved to RAM, so a restore can take the belief back', () => {
  const index = indexWith();
  done(index, 0, chain(1, 2, 3, 4), 400);
  const saved = index.dispatch(0, 0, chain(9), () => false);
  assert.equal(saved && [...saved.chain], [1, 2, 3, 4]);
  // A restore replaced the slot before llama-server could save it: the router forgets the belief.
  index.ram(0)!.forget(saved!);
  assert.is(index.ram(0)!.best(chain(1, 2, 3, 4, 5)), null);
  // Nothing new goes to RAM when the request extends the slot, or when RAM already holds it.
  done(index, 0, chain(1, 2, 3, 4), 400);
  assert.is(index.dispatch(0, 0, chain(1, 2, 3, 4, 5), () => false), null);
  index.ram(0)!.save({ chain: chain(1, 2, 3, 4), tokens: 400 });
  assert.is(index.dispatch(0, 0, chain(9), () => false), null, 'already held: forgetting it would be wrong');
  assert.is(indexWith(0).dispatch(0, 0, chain(9), () => false), null, 'no RAM cache');
});

test('idle slots are saved to RAM when a task starts (--cache-idle-slots)', () => {
  const index = indexWith();
  done(index, 1, chain(4, 5), 200);
  index.dispatch(0, 0, chain(1), (slot) => slot === 2);
  assert.is(index.ram(0)?.best(chain(4, 5))?.blocks, 2);
});

test('a RAM load takes the entry out of RAM, found or not; tolerances decide corrections', () => {
  const index = indexWith();
  done(index, 0, chain(1, 2, 3, 4), 400);
  index.dispatch(0, 0, chain(9), () => false);
  done(index, 0, chain(9), 100);
  const expected = index.expectedReuse(0, 0, chain(1, 2, 3, 4, 5));
  const outcome = { server: 0, slot: 0, chain: chain(1, 2, 3, 4, 5), tokens: 500, expected, expectedTokens: 400, nowMs: 2 };
  const ram = index.ram(0)!;
  assert.is(ram.missChance(), 0.5, 'no load seen yet');
  assert.is(index.recordOutcome({ ...outcome, reusedTokens: 395 }, 10), null);
  assert.is(ram.best(chain(1, 2, 3, 4, 5)), null, 'a loaded entry moved into the slot, out of RAM');
  assert.ok(ram.missChance() < 0.5, 'a load that found its entry');
  const afterHit = ram.missChance();
  assert.is(index.recordOutcome({ ...outcome, reusedTokens: 0 }, 10), 'overestimate');
  assert.ok(ram.missChance() > afterHit, 'a load that did not');
  assert.is(index.recordOutcome({ ...outcome, expected: { blocks: 0, source: 'none' }, expectedTokens: 0, reusedTokens: 300 }, 10), 'underestimate');
  assert.is(index.recordOutcome({ ...outcome, reusedTokens: null }, 10), null);
});

test('the slot holds the last request after recordOutcome; resetServer forgets everything', () => {
  const index = indexWith();
  done(index, 0, chain(1, 2), 200);
  done(index, 0, chain(3), 100);
  assert.equal(Array.from(index.slot(0, 0)!.chain), [3]);
  index.resetServer(0, 10_000);
  assert.is(index.slot(0, 0), undefined);
  assert.equal(index.expectedReuse(0, 0, chain(3)), { blocks: 0, source: 'none' });
});

test('a request placed on a slot makes its prompt pending there: later requests expect it before any timings', () => {
  const index = indexWith();
  done(index, 0, chain(9, 9), 200);
  index.setPending(0, 0, { chain: chain(1, 2, 3), tokens: 300, lastUsedMs: 1 });
  assert.equal(index.expectedReuse(0, 0, chain(1, 2, 3, 4)), { blocks: 3, source: 'slot' });
  // What the slot holds now is still the old content: the disk tier saves that before overwriting.
  assert.equal(index.slot(0, 0)?.chain, chain(9, 9));
  assert.equal(index.pending(0, 0)?.chain, chain(1, 2, 3));
  done(index, 0, chain(1, 2, 3), 320);
  assert.is(index.pending(0, 0), undefined, 'the outcome replaces the pending belief');
  index.setPending(0, 0, { chain: chain(5), tokens: 100, lastUsedMs: 2 });
  index.forgetSlot(0, 0);
  assert.is(index.pending(0, 0), undefined, 'a failed request leaves nothing pending');
  index.setPending(0, 0, { chain: chain(5), tokens: 100, lastUsedMs: 2 });
  index.clearPending(0, 0);
  assert.equal(index.expectedReuse(0, 0, chain(5)), { blocks: 0, source: 'none' });
});

test('unknown servers expect nothing and record nothing', () => {
  const index = new PrefixIndex();
  assert.equal(index.expectedReuse(5, 0, chain(1)), { blocks: 0, source: 'none' });
  assert.is(done(index, 0, chain(1), 10), null);
});

test.run();
