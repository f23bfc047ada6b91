// The relay's two clocks: upstream silence counts only while the relay waits on the upstream;
// a receiver that is slow to drain is bounded by clientWriteTimeoutMs instead. Against a local
// node:http upstream and a sink the test congests and drains by hand.
import { Buffer } from 'node:buffer';
import { type IncomingMessage, type Server, createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { relay } from '../../src/proxy/relay.js';
import type { ResponseSink } from '../../src/proxy/sink.js';

/** An upstream that sends `chunks` chunks of `size` bytes, `gapMs` apart (0: at once), then ends. */
async function upstream(chunks: number, size: number, gapMs = 0): Promise<{ server: Server; response: () => Promise<IncomingMessage> }> {
  const server = createServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    for (let i = 0; i < chunks; i++) {
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      if (!res.write(Buffer.alloc(size, i % 256)) && gapMs === 0) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { server, response: () => new Promise((resolve, reject) => get(`http://127.0.0.1:${port}/`, resolve).once('error', reject)) };
}

/** A sink that says "congested" on its first write and drains when the test says so (or never). */
function congestedSink() {
  let bytes = 0;
  let ended = false;
  let congested = true;
  let drain: (() => void) | null = null;
  const sink: ResponseSink = {
    head: () => {},
    write(chunk) {
      bytes += chunk.length;
      if (!congested) return true;
      congested = false;
      return false;
    },
    onDrain(fn) {
      drain = fn;
    },
    end() {
      ended = true;
    },
  };
  return { sink, bytes: () => bytes, ended: () => ended, drain: () => drain?.() };
}

const close = (server: Server) => new Promise<void>((r) => {
  server.closeAllConnections();
  server.close(() => r());
});

const test = suite('proxy/relay');

test('a receiver congested for longer than idleTimeoutMs, the upstream fine: the whole body arrives', async () => {
  const up = await upstream(64, 64 * 1024);
  try {
    const s = congestedSink();
    const signal = new AbortController().signal;
    const done = relay(await up.response(), s.sink, { idleTimeoutMs: 50, clientWriteTimeoutMs: 5_000, signal });
    // The client reads nothing for four idle timeouts (the relay has paused the upstream).
    const timer = setTimeout(s.drain, 200);
    const result = await done;
    clearTimeout(timer);
    assert.ok(result.complete, 'not cut for the client\'s slowness');
    assert.is(s.bytes(), 64 * 64 * 1024);
    assert.ok(s.ended());
  } finally {
    await close(up.server);
  }
});

test('a receiver that never drains is cut after clientWriteTimeoutMs', async () => {
  const up = await upstream(64, 64 * 1024);
  try {
    const s = congestedSink();
    const started = performance.now();
    const result = await relay(await up.response(), s.sink, { idleTimeoutMs: 10_000, clientWriteTimeoutMs: 100, signal: new AbortController().signal });
    assert.not.ok(result.complete);
    assert.not.ok(s.ended());
    assert.ok(performance.now() - started < 5_000, 'by the client-write timeout, not the idle one');
  } finally {
    await close(up.server);
  }
});

test('an upstream silent for longer than idleTimeoutMs is cut, the receiver keeping up', async () => {
  const up = await upstream(3, 10, 300);
  try {
    const s = congestedSink();
    s.drain(); // never congested after the first write
    const sink = { ...s.sink, write: () => true };
    const result = await relay(await up.response(), sink, { idleTimeoutMs: 100, clientWriteTimeoutMs: 10_000, signal: new AbortController().signal });
    assert.not.ok(result.complete);
  } finally {
    await close(up.server);
  }
});

test.run();
