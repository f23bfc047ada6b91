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

piscina('runs the analyze task in a worker, transferring the body', async () => {
  const body = new TextEncoder().encode('{"model":"m","stream":true}').buffer;
  const pending = pool.analyze(body);
  assert.is(body.byteLength, 0, 'body detached on the sending side');
  assert.equal(await pending, { ok: true, model: 'm', stream: true, bytes: 27 });
});

piscina('a failure comes back as data', async () => {
  const result = await pool.analyze(new TextEncoder().encode('{').buffer);
  assert.is(!result.ok && result.code, 'invalid_json');
});

piscina.run();
