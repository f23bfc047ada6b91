import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SlotkeeperError } from '../../src/errors.js';
import { upstreamUrl } from '../../src/proxy/upstream-client.js';

const url = suite('upstream-client: upstreamUrl');

url('base and path make one URL on the base origin, its path prefix kept', () => {
  assert.is(upstreamUrl('http://127.0.0.1:8080', '/v1/chat/completions?x=1').href, 'http://127.0.0.1:8080/v1/chat/completions?x=1');
  assert.is(upstreamUrl('http://h:1/llama', '/props').href, 'http://h:1/llama/props');
});

url('a path that would name another host is refused, whoever the caller', () => {
  for (const path of ['//evil:2/x', 'http://evil/x', 'evil/x', '']) {
    assert.throws(() => upstreamUrl('http://127.0.0.1:8080', path), (err: unknown) => err instanceof SlotkeeperError && err.code === 'internal_error', path);
  }
});

url.run();
