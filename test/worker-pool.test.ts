import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createWorkerPool, type WorkerPool } from '../src/worker-pool.js';
import { setup } from './helpers/setup.js';

const encode = (text: string) => new TextEncoder().encode(text).buffer;

let pool: WorkerPool;
const workers = suite('worker-pool');

setup(workers, () => {
  pool = createWorkerPool({ minThreads: 1, maxThreads: 1 });
});

workers.after(async () => {
  await pool?.destroy();
});

workers('a task round-trips through the worker', async () => {
  const result = await pool.analyze(encode('{"model":"llama","stream":true}'));
  assert.equal(result, { ok: true, model: 'llama', stream: true, bytes: 31 });
});

workers('the body is transferred, not copied: detached on this side', async () => {
  const body = encode('{"model":"llama"}');
  assert.is(body.byteLength, 17);
  const pending = pool.analyze(body);
  assert.is(body.byteLength, 0);
  const result = await pending;
  assert.is(result.ok && result.bytes, 17);
});

workers('invalid JSON comes back as ok:false, not a rejection', async () => {
  const result = await pool.analyze(encode('{nope'));
  assert.is(result.ok, false);
  assert.is(!result.ok && result.code, 'invalid_json');
  assert.type(!result.ok && result.message, 'string');
});

workers('an aborted signal rejects the task', async () => {
  const controller = new AbortController();
  controller.abort();
  try {
    await pool.analyze(encode('{}'), controller.signal);
    assert.unreachable('should have rejected');
  } catch (err) {
    assert.is((err as Error).name, 'AbortError');
  }
});

workers.run();
