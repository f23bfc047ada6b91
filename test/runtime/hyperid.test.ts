// Runtime smoke test: hyperid-backed request ids are unique and header-safe.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequestIds } from '../../src/request-id.js';

const ids = suite('runtime: hyperid');

ids('ids are unique within a generator and across generators', () => {
  const a = createRequestIds();
  const b = createRequestIds();
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    seen.add(a.next());
    seen.add(b.next());
  }
  assert.is(seen.size, 20_000);
});

ids('ids are URL- and header-safe', () => {
  const id = createRequestIds().next();
  assert.match(id, /^[A-Za-z0-9_-]+$/);
});

ids.run();
