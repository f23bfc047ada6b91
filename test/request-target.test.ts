import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseRequestTarget } from '../src/request-target.js';

const target = suite('request-target');

target('paths are normalised and decoded for routing, kept encoded for forwarding', () => {
  assert.equal(parseRequestTarget('/v1/models/../chat/completions?x=1'), { path: '/v1/chat/completions', search: '?x=1', route: '/v1/chat/completions' });
  assert.equal(parseRequestTarget('/v1/%63hat/completions'), { path: '/v1/%63hat/completions', search: '', route: '/v1/chat/completions' });
  assert.equal(parseRequestTarget('/a/%2e%2e/props'), { path: '/props', search: '', route: '/props' });
  assert.equal(parseRequestTarget(undefined), { path: '/', search: '', route: '/' });
});

target('anything that would leave the path is refused', () => {
  for (const raw of ['//h:1/x', '/.//h:1/x', '/%2e//h:1/x', '/a/..//h:1/x', '/\\h:1/x', '/%2F%2Fh/x', '/%5Ch/x', '/a/%2e%2E%2fb',
    '/%2e%2e%2f/x', 'http://h:1/x', '*', '/%ZZ', '/%00', '/a%0d%0aX: y']) {
    assert.is(parseRequestTarget(raw), null, raw);
  }
});

target.run();
