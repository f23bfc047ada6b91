import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createWorkerPool, type WorkerPool } from '../src/worker-pool.js';
import { analyzeRequest, type AnalyzeResult, type AnalyzeSuccess } from '../workers/analyze.js';
import { setup } from './helpers/setup.js';

const encode = (text: string) => new TextEncoder().encode(text).buffer;
const ok = (result: AnalyzeResult): AnalyzeSuccess => {
  if (!result.ok) throw new Error(`expected success, got ${result.code}: ${result.message}`);
  return result;
};

let pool: WorkerPool;
const workers = suite('worker-pool');

setup(workers, () => {
  pool = createWorkerPool({ minThreads: 1, maxThreads: 1 });
});

workers.after(async () => {
  await pool?.destroy();
});

workers('a task round-trips through the worker', async () => {
  const text = '{"model":"llama","stream":true,"messages":[{"role":"user","content":"hi"}]}';
  const result = ok(await pool.analyze(encode(text)));
  assert.is(result.model, 'llama');
  assert.is(result.stream, true);
  assert.is(result.bytes, text.length);
  // Same answer as in-process, with the default route and blockChars.
  const local = ok(analyzeRequest({ body: encode(text), route: 'chat', blockChars: 256 }));
  assert.is(result.fullHash, local.fullHash);
  assert.is(result.promptChars, local.promptChars);
});

workers('the body is transferred, not copied: detached on this side', async () => {
  const body = encode('{"model":"llama","messages":[]}');
  assert.is(body.byteLength, 31);
  const pending = pool.analyze(body);
  assert.is(body.byteLength, 0);
  const result = await pending;
  assert.is(result.ok && result.bytes, 31);
});

workers('forward and hashes arrive as working buffers of this thread', async () => {
  const text = JSON.stringify({ messages: [{ role: 'user', content: 'é😀'.repeat(1000) }] });
  const expected = new TextEncoder().encode(text);
  const result = ok(await pool.analyze(encode(text), { blockChars: 64 }));
  assert.ok(result.forward instanceof ArrayBuffer);
  assert.ok(result.hashes instanceof Float64Array);
  assert.equal(new Uint8Array(result.forward), expected);
  assert.is(result.hashes.length, Math.floor(result.promptChars / 64));
  const local = ok(analyzeRequest({ body: encode(text), route: 'chat', blockChars: 64 }));
  assert.equal(Array.from(result.hashes), Array.from(local.hashes));
});

workers('a large body comes back whole, with its bytes intact', async () => {
  const text = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(8 * 1024 * 1024) }] });
  const result = ok(await pool.analyze(encode(text)));
  assert.is(result.forward.byteLength, text.length);
  const bytes = new Uint8Array(result.forward);
  assert.is(bytes[0], 0x7b);
  assert.is(bytes[bytes.length - 1], 0x7d);
  assert.is(bytes[text.length >> 1], 0x78);
});

workers('a re-serialized body arrives without the client id_slot', async () => {
  const result = ok(await pool.analyze(encode('{"id_slot":5,"prompt":"p"}'), { route: 'completions' }));
  assert.is(result.clientSlot, 5);
  assert.is(new TextDecoder().decode(result.forward), '{"prompt":"p"}');
});

workers('invalid JSON comes back as ok:false, not a rejection', async () => {
  const result = await pool.analyze(encode('{nope'));
  assert.is(result.ok, false);
  assert.is(!result.ok && result.code, 'invalid_json');
  assert.type(!result.ok && result.message, 'string');
});

workers('bad options are rejected by the facade with the option named', async () => {
  for (const [options, pattern] of [
    [{ blockChars: 0 }, /blockChars must be a positive integer, got 0/],
    [{ blockChars: 2.5 }, /blockChars must be a positive integer/],
    [{ route: 'embeddings' as 'chat' }, /route must be one of chat, completions, messages, count_tokens, got embeddings/],
  ] as const) {
    try {
      await pool.analyze(encode('{"messages":[]}'), options);
      assert.unreachable('should have rejected');
    } catch (err) {
      assert.instance(err, TypeError);
      assert.match((err as Error).message, pattern);
    }
  }
});

workers('an aborted signal rejects the task', async () => {
  const controller = new AbortController();
  controller.abort();
  try {
    await pool.analyze(encode('{}'), { signal: controller.signal });
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.is((err as Error).name, 'AbortError');
  }
});

workers.run();

// ---- a catastrophic rule (issue #16): the deadline frees the worker, the queue is bounded ----

const backtracking = { billingHeader: 'off' as const, billingHeaderValue: '0', rules: [
  { name: 'trailing-a', target: 'messages' as const, pattern: '(a+)+$', flags: '', replacement: '', enabled: true },
] };
// 2^40 ways to split the a's before the '!' fails the match: never finishes.
const evil = () => encode(JSON.stringify({ messages: [{ role: 'user', content: `${'a'.repeat(40)}!` }] }));
const fine = () => encode('{"messages":[{"role":"user","content":"hello"}]}');

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).name;
  }
}

let slow: WorkerPool;
const deadline = suite('worker-pool: analysis deadline');

setup(deadline, () => {
  slow = createWorkerPool({ minThreads: 1, maxThreads: 1, maxQueue: 1, normalize: backtracking, analysisTimeoutMs: 400 });
});

deadline.after(async () => {
  await slow?.destroy();
});

deadline('a backtracking rule fails with analysis_timeout, and the next body is served by a new worker', async () => {
  const started = performance.now();
  assert.is(await codeOf(slow.analyze(evil())), 'analysis_timeout');
  const took = performance.now() - started;
  assert.ok(took >= 350 && took < 3000, `took ${took} ms`);
  assert.ok(ok(await slow.analyze(fine())).promptChars > 0);
});

deadline('a client that leaves takes its queued body out at once', async () => {
  const stuck = slow.analyze(evil());
  const client = new AbortController();
  const queued = slow.analyze(fine(), { signal: client.signal });
  assert.is(slow.queueSize(), 1);
  client.abort(Object.assign(new Error('client left'), { code: 'client_closed_request' }));
  assert.is(await codeOf(queued), 'client_closed_request');
  assert.is(slow.queueSize(), 0);
  assert.is(await codeOf(stuck), 'analysis_timeout');
});

deadline('beyond the queue bound a body is refused with overloaded', async () => {
  const stuck = slow.analyze(evil());
  const queued = slow.analyze(fine());
  assert.is(await codeOf(slow.analyze(fine())), 'overloaded');
  assert.is(await codeOf(stuck), 'analysis_timeout');
  ok(await queued);
});

deadline.run();
