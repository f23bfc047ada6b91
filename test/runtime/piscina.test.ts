// Runtime smoke test: the piscina pool loads the compiled worker and runs a task.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createWorkerPool, type WorkerPool } from '../../src/worker-pool.js';
import { setup } from '../helpers/setup.js';

let pool: WorkerPool;
const piscina = suite('runtime: piscina');

setup(piscina, () => {
  pool = createWorkerPool({ minThreads: 1, maxThreads: 1 });
});

piscina.after(async () => {
  await pool?.destroy();
});

piscina('runs the analyze task in a worker, transferring the body there and back', async () => {
  const text = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x'.repeat(600) }] });
  const body = new TextEncoder().encode(text).buffer;
  const pending = pool.analyze(body, { blockChars: 256 });
  assert.is(body.byteLength, 0, 'body detached on the sending side');
  const result = await pending;
  if (!result.ok) throw new Error(`analysis failed: ${result.code}`);
  assert.is(result.model, 'm');
  assert.is(result.stream, true);
  assert.is(new TextDecoder().decode(result.forward), text, 'the forwarded bytes are the body, returned by transfer');
  assert.instance(result.hashes, Float64Array);
  assert.is(result.hashes.length, Math.floor(result.promptChars / 256));
});

piscina('a failure comes back as data', async () => {
  const result = await pool.analyze(new TextEncoder().encode('{').buffer);
  assert.is(!result.ok && result.code, 'invalid_json');
});

piscina.run();
