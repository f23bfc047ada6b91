import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type Range, requireCount, requireOneOf, resolveParams } from '../../../bench/generators/params.js';

interface Knobs { users: number; thinkMs: Range; mode: string }
const DEFAULTS: Knobs = { users: 2, thinkMs: [1, 5], mode: 'a' };

const params = suite('params');

params('overrides replace defaults and leave the defaults object alone', () => {
  const p = resolveParams('demo', DEFAULTS, { users: 7, thinkMs: [2, 3] });
  assert.equal(p, { users: 7, thinkMs: [2, 3], mode: 'a' });
  assert.equal(DEFAULTS, { users: 2, thinkMs: [1, 5], mode: 'a' });
  assert.equal(resolveParams('demo', DEFAULTS, { users: undefined }), DEFAULTS);
});

params('bad overrides fail naming the key', () => {
  const bad = (given: Record<string, unknown>) => () => resolveParams('demo', DEFAULTS, given as Partial<Knobs>);
  assert.throws(bad({ usres: 3 }), /^demo\.usres: unknown parameter \(known: users, thinkMs, mode\)/);
  assert.throws(bad({ users: '3' }), /demo\.users: expected a non-negative number/);
  assert.throws(bad({ users: -1 }), /demo\.users: expected a non-negative number/);
  assert.throws(bad({ thinkMs: [5, 1] }), /demo\.thinkMs: expected \[min, max\]/);
  assert.throws(bad({ thinkMs: 3 }), /demo\.thinkMs: expected \[min, max\]/);
  assert.throws(bad({ mode: 1 }), /demo\.mode: expected a string/);
});

params('requireCount and requireOneOf', () => {
  requireCount('demo', { users: 1 }, 'users');
  assert.throws(() => requireCount('demo', { users: 0 }, 'users'), /demo\.users: expected an integer of at least 1, got 0/);
  assert.throws(() => requireCount('demo', { users: 1.5 }, 'users'), /at least 1/);
  requireCount('demo', { every: 0 }, 'every', 0);
  requireOneOf('demo', { mode: 'a' }, 'mode', ['a', 'b']);
  assert.throws(() => requireOneOf('demo', { mode: 'c' }, 'mode', ['a', 'b']), /demo\.mode: expected one of a, b, got "c"/);
});

params.run();
