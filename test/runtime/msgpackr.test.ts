// Runtime smoke test: msgpackr round-trips what we will cache and send to workers.
import { Packr, pack, unpack } from 'msgpackr';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const nested = () => ({
  slot: 3,
  tags: ['a', 'b', null, true],
  tokens: new Uint8Array([1, 2, 3, 255]),
  inner: { big: 2n ** 63n - 1n, negative: -(2n ** 40n), deep: { ok: [1.5, 'x'] } },
});

const msgpack = suite('runtime: msgpackr');

msgpack('default pack/unpack: nested objects, bytes and 64-bit bigints', () => {
  const out = unpack(pack(nested())) as ReturnType<typeof nested>;
  // Binary comes back as a Uint8Array (a Buffer on runtimes that have one).
  assert.instance(out.tokens, Uint8Array);
  assert.equal(Array.from(out.tokens), [1, 2, 3, 255]);
  assert.is(out.inner.big, 2n ** 63n - 1n);
  assert.is(out.inner.negative, -(2n ** 40n));
  assert.equal(out.inner.deep, { ok: [1.5, 'x'] });
  assert.equal(out.tags, ['a', 'b', null, true]);
});

msgpack('default unpack turns a Map into a plain object', () => {
  const out = unpack(pack({ m: new Map([['k', 1]]) })) as { m: unknown };
  assert.not.instance(out.m, Map);
  assert.equal(out.m, { k: 1 });
});

msgpack('structuredClone mode keeps Map, Set, Date and the exact Uint8Array type', () => {
  const packr = new Packr({ structuredClone: true });
  const value = { ...nested(), map: new Map<unknown, unknown>([['k', 1], [2, { x: 2n }]]), set: new Set([1, 2]), at: new Date(0) };
  const out = packr.unpack(packr.pack(value)) as typeof value;
  assert.is(Object.getPrototypeOf(out.tokens), Uint8Array.prototype);
  assert.instance(out.map, Map);
  assert.equal([...out.map.entries()], [['k', 1], [2, { x: 2n }]]);
  assert.instance(out.set, Set);
  assert.equal([...out.set], [1, 2]);
  assert.is(out.at.getTime(), 0);
  assert.is(out.inner.big, 2n ** 63n - 1n);
});

msgpack.run();
