import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, approxTokens, type ToolOutputKind } from '../../../bench/generators/random.js';

const draws = (rng: Rng, n = 8): number[] => Array.from({ length: n }, () => rng.next());

const random = suite('random');

random('the same seed and path give the same stream; another seed or path another', () => {
  assert.equal(draws(new Rng(7)), draws(new Rng(7)));
  assert.equal(draws(new Rng(7, 'team/user/1')), draws(new Rng(7, 'team').child('user').child(1)));
  assert.not.equal(draws(new Rng(7)), draws(new Rng(8)));
  assert.not.equal(draws(new Rng(7).child('a')), draws(new Rng(7).child('b')));
});

random('a child stream does not move when its parent or a sibling draws', () => {
  const untouched = draws(new Rng(3).child('session/2'));
  const parent = new Rng(3);
  draws(parent, 100);
  draws(parent.child('session/1'), 100);
  assert.equal(draws(parent.child('session/2')), untouched);
});

random('next is in [0, 1); int covers both ends of its range and nothing outside', () => {
  const rng = new Rng(1);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const x = rng.next();
    assert.ok(x >= 0 && x < 1);
    const n = rng.int(3, 7);
    assert.ok(Number.isInteger(n) && n >= 3 && n <= 7, String(n));
    seen.add(n);
  }
  assert.equal([...seen].sort(), [3, 4, 5, 6, 7]);
  assert.is(rng.between([4, 4]), 4);
});

random('pick, chance and shuffle', () => {
  const rng = new Rng(2);
  const items = ['a', 'b', 'c', 'd', 'e'];
  for (let i = 0; i < 50; i++) assert.ok(items.includes(rng.pick(items)));
  assert.throws(() => rng.pick([]), /empty/);
  assert.ok(!rng.chance(0));
  assert.ok(rng.chance(1));
  const shuffled = rng.shuffle(items);
  assert.equal([...shuffled].sort(), items);
  assert.equal(items, ['a', 'b', 'c', 'd', 'e'], 'shuffle copies');
});

random('hex and base62 have the asked length and alphabet', () => {
  const rng = new Rng(4);
  assert.match(rng.hex(5), /^[0-9a-f]{5}$/);
  assert.match(rng.hex(3), /^[0-9a-f]{3}$/);
  assert.match(rng.base62(22), /^[0-9A-Za-z]{22}$/);
});

random('text makers fill their budget without exceeding it', () => {
  const rng = new Rng(5);
  const makers: Record<string, (tokens: number) => string> = {
    prose: (n) => rng.prose(n),
    code: (n) => rng.code(n),
    ...Object.fromEntries((['listing', 'tests', 'json', 'grep', 'file'] as ToolOutputKind[]).map((k) => [k, (n: number) => rng.toolOutput(n, k)])),
    any: (n) => rng.toolOutput(n),
  };
  for (const [name, make] of Object.entries(makers)) {
    for (const budget of [40, 300, 2500]) {
      const size = approxTokens(make(budget));
      assert.ok(size <= budget, `${name}(${budget}) gave ${size}`);
      assert.ok(size >= budget * 0.9, `${name}(${budget}) gave only ${size}`);
    }
  }
});

random('text looks like what it claims to be', () => {
  const rng = new Rng(6);
  const prose = rng.prose(200);
  assert.match(prose, /^[A-Z][a-z]+[ ,]/);
  assert.not.match(prose, /processs|\ba [aeiou]/);
  assert.match(rng.code(200), /export function \w+\(/);
  assert.match(rng.toolOutput(200, 'tests'), /^ok 1 - /);
  assert.match(rng.toolOutput(200, 'json'), /^\{\n {2}"status": "ok"/);
  assert.match(rng.toolOutput(200, 'file'), /^ {5}1\t/);
  assert.match(rng.filePath(), /^[a-z/]+\/[a-z]+-[a-z]+\.[a-z]+$/);
});

random.run();
