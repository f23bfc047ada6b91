import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SlotkeeperError } from '../src/errors.js';
import { createRequestGuard } from '../src/request-guard.js';

const codeOf = (fn: () => void): string | null => {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof SlotkeeperError) return err.code;
    throw err;
  }
};

const loopback = createRequestGuard({ bindHost: '127.0.0.1', allowedHosts: ['proxy.example'], allowedOrigins: ['https://app.example'] });
const guard = suite('request-guard');

guard('a loopback bind takes loopback Host names only, and the allow-list', () => {
  for (const host of ['127.0.0.1:8081', 'localhost:8081', 'LOCALHOST', '[::1]:8081', 'a.localhost:8081', '127.1.2.3', 'proxy.example', undefined]) {
    assert.is(codeOf(() => loopback('GET', host === undefined ? {} : { host })), null, String(host));
  }
  // DNS rebinding: the page's own name, now pointing at 127.0.0.1.
  for (const host of ['evil.example:8081', 'evil.example', '10.0.0.1:8081', 'localhost.evil.example', '']) {
    assert.is(codeOf(() => loopback('GET', { host })), host === '' ? null : 'forbidden', host);
  }
});

guard('an Origin must be allowed or the gateway itself', () => {
  const host = '127.0.0.1:8081';
  assert.is(codeOf(() => loopback('GET', { host, origin: 'https://evil.example' })), 'forbidden');
  assert.is(codeOf(() => loopback('GET', { host, origin: 'null' })), 'forbidden');
  assert.is(codeOf(() => loopback('POST', { host, origin: 'https://app.example', 'content-type': 'application/json' })), null);
  // llama-server's web UI, served through passthrough, calls the gateway under its own origin.
  assert.is(codeOf(() => loopback('POST', { host, origin: 'http://127.0.0.1:8081', 'content-type': 'application/json' })), null);
});

guard("a browser's body must be JSON; other clients send what they like", () => {
  const host = 'localhost:8081';
  const app = 'https://app.example';
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
    const headers = { host, origin: app, ...(type === undefined ? {} : { 'content-type': type }) };
    assert.is(codeOf(() => loopback('POST', headers)), 'unsupported_media_type', String(type));
    // No Origin but Sec-Fetch-Site: still a browser.
    assert.is(codeOf(() => loopback('POST', { host, 'sec-fetch-site': 'cross-site', ...(type === undefined ? {} : { 'content-type': type }) })), 'unsupported_media_type');
    // curl, SDKs, Node's fetch of a string (text/plain).
    assert.is(codeOf(() => loopback('POST', { host, 'sec-fetch-mode': 'cors', ...(type === undefined ? {} : { 'content-type': type }) })), null);
  }
  assert.is(codeOf(() => loopback('POST', { host, origin: app, 'content-type': 'Application/JSON; charset=utf-8' })), null);
});

guard('a non-loopback bind checks Host only when told which', () => {
  const open = createRequestGuard({ bindHost: '0.0.0.0', allowedHosts: [], allowedOrigins: [] });
  assert.is(codeOf(() => open('GET', { host: 'gpu-box.lan:8081' })), null);
  assert.is(codeOf(() => open('GET', { host: 'gpu-box.lan', origin: 'http://evil.example' })), 'forbidden');
  const listed = createRequestGuard({ bindHost: '0.0.0.0', allowedHosts: ['gpu-box.lan'], allowedOrigins: [] });
  assert.is(codeOf(() => listed('GET', { host: 'gpu-box.lan:8081' })), null);
  assert.is(codeOf(() => listed('GET', { host: 'evil.example' })), 'forbidden');
});

guard.run();
