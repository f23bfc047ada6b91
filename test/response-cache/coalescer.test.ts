// The coalescer driven synchronously with fake listeners and a hand-run upstream call.
import { Buffer } from 'node:buffer';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Coalescer, type Flight, type Listener, type UpstreamSink } from '../../src/response-cache/coalescer.js';
import type { Recording } from '../../src/response-cache/recorder.js';

class FakeListener implements Listener {
  events: string[] = [];
  flight: Flight | undefined;
  full = false;
  pendingBytes = 0;
  bind(flight: Flight) { this.flight = flight; }
  head(status: number) { this.events.push(`head ${status}`); }
  write(chunk: Uint8Array) { this.events.push(Buffer.from(chunk).toString()); return !this.full; }
  end() { this.events.push('end'); }
  fail(error: unknown) { this.events.push(`fail ${(error as Error).message}`); }
  cut() { this.events.push('cut'); }
}

/** An upstream call the test drives by hand. */
function manualUpstream() {
  const state: { sink?: UpstreamSink; signal?: AbortSignal; finish?: (err?: Error) => void } = {};
  let ready!: () => void;
  const started = new Promise<void>((resolve) => { ready = resolve; });
  const run = (signal: AbortSignal, sink: UpstreamSink) => new Promise<void>((resolve, reject) => {
    Object.assign(state, { signal, sink, finish: (err?: Error) => (err ? reject(err) : resolve()) });
    ready();
  });
  return {
    run, started,
    get sink() { return state.sink!; },
    get signal() { return state.signal!; },
    finish: (err?: Error) => state.finish!(err),
  };
}

const sse = { 'content-type': 'text/event-stream' };
const tick = () => new Promise((r) => setImmediate(r));

function start(c: Coalescer, leader: Listener, storing: Promise<void> = Promise.resolve()) {
  const up = manualUpstream();
  const settled: Recording[] = [];
  const flight = c.start('k', 'openai', leader, up.run, async (r) => {
    settled.push(r);
    await storing;
  });
  return { up, flight, settled };
}

const test = suite('response-cache/coalescer');

test('a follower gets past chunks first, then live ones; everyone gets the end; the answer is recorded once', async () => {
  const c = new Coalescer({ maxEntryBytes: 1 << 20, listenerBufferBytes: 1 << 20 });
  const leader = new FakeListener();
  let stored!: () => void;
  const { up, settled } = start(c, leader, new Promise<void>((resolve) => { stored = resolve; }));
  await up.started;
  up.sink.head(200, sse);
  up.sink.write(Buffer.from('data: a\n\n'));
  const follower = new FakeListener();
  assert.ok(c.join('k', follower));
  assert.equal(follower.events, ['head 200', 'data: a\n\n']);
  up.sink.write(Buffer.from('data: [DONE]\n\n'));
  assert.equal(follower.events.at(-1), 'data: [DONE]\n\n', 'live, before the end');
  up.sink.end();
  up.finish();
  await tick();
  assert.equal(leader.events, ['head 200', 'data: a\n\n', 'data: [DONE]\n\n', 'end']);
  assert.equal(follower.events, leader.events);
  assert.is(settled.length, 1);
  assert.ok(settled[0]!.complete);
  assert.not.ok(c.join('k', new FakeListener(), false), 'a refresh does not take an answer that already ended');
  const late = new FakeListener();
  assert.ok(c.join('k', late), 'while it is being stored, an ended flight replays to anyone else');
  assert.equal(late.events, leader.events);
  stored();
  await tick();
  assert.is(c.size, 0);
  assert.not.ok(c.join('k', new FakeListener()), 'gone once stored');
});

test('the leader leaving does not abort the call; the last listener leaving does', async () => {
  const c = new Coalescer({ maxEntryBytes: 1 << 20, listenerBufferBytes: 1 << 20 });
  const leader = new FakeListener();
  const { up, flight } = start(c, leader);
  await up.started;
  const follower = new FakeListener();
  c.join('k', follower);
  flight.leave(leader);
  assert.not.ok(up.signal.aborted);
  up.sink.head(200, sse);
  up.sink.write(Buffer.from('x'));
  assert.equal(follower.events, ['head 200', 'x']);
  assert.equal(leader.events, []);
  flight.leave(follower);
  assert.ok(up.signal.aborted);
  assert.not.ok(c.join('k', new FakeListener()), 'an aborted flight takes no one');
  up.finish(new Error('aborted'));
  await tick();
});

test('a failure before any header reaches every listener as that error', async () => {
  const c = new Coalescer({ maxEntryBytes: 1 << 20, listenerBufferBytes: 1 << 20 });
  const leader = new FakeListener();
  const { up, settled } = start(c, leader);
  await up.started;
  const follower = new FakeListener();
  c.join('k', follower);
  up.finish(new Error('queue_full'));
  await tick();
  assert.equal(leader.events, ['fail queue_full']);
  assert.equal(follower.events, ['fail queue_full']);
  assert.is(settled.length, 0);
});

test('a body cut after the headers cuts every listener and is not stored', async () => {
  const c = new Coalescer({ maxEntryBytes: 1 << 20, listenerBufferBytes: 1 << 20 });
  const leader = new FakeListener();
  const { up, settled } = start(c, leader);
  await up.started;
  up.sink.head(200, sse);
  up.sink.write(Buffer.from('data: a\n\n'));
  up.finish();
  await tick();
  assert.equal(leader.events, ['head 200', 'data: a\n\n', 'cut']);
  assert.is(settled.length, 0);
});

test('backpressure: the upstream waits only while every listener is congested', async () => {
  const c = new Coalescer({ maxEntryBytes: 1 << 20, listenerBufferBytes: 1 << 20 });
  const a = new FakeListener();
  const { up, flight } = start(c, a);
  await up.started;
  const b = new FakeListener();
  c.join('k', b);
  up.sink.head(200, sse);
  a.full = true;
  assert.ok(up.sink.write(Buffer.from('1')), 'b can still take more');
  b.full = true;
  assert.not.ok(up.sink.write(Buffer.from('2')), 'now nobody can');
  let resumed = false;
  up.sink.onDrain(() => { resumed = true; });
  await tick();
  assert.not.ok(resumed);
  b.full = false;
  flight.drained(b);
  assert.ok(resumed);
  up.finish();
  await tick();
});

test('a listener too far behind is cut; the others go on', async () => {
  const c = new Coalescer({ maxEntryBytes: 1 << 20, listenerBufferBytes: 100 });
  const fast = new FakeListener();
  const { up } = start(c, fast);
  await up.started;
  const slow = new FakeListener();
  c.join('k', slow);
  up.sink.head(200, sse);
  slow.full = true;
  slow.pendingBytes = 101;
  up.sink.write(Buffer.from('x'));
  assert.equal(slow.events, ['head 200', 'cut']);
  assert.equal(fast.events, ['head 200', 'x']);
  up.finish();
  await tick();
});

test('past maxEntryBytes a flight takes no late joiners (it has nothing to replay)', async () => {
  const c = new Coalescer({ maxEntryBytes: 4, listenerBufferBytes: 1 << 20 });
  const { up } = start(c, new FakeListener());
  await up.started;
  up.sink.head(200, sse);
  up.sink.write(Buffer.from('12345'));
  assert.not.ok(c.join('k', new FakeListener()));
  up.finish();
  await tick();
});

test.run();
