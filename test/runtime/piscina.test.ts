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

piscina('the workers apply the normalization config the pool was built with (workerData)', async () => {
  const remove = createWorkerPool({ minThreads: 1, maxThreads: 1, normalize: { billingHeader: 'remove', billingHeaderValue: '0', rules: [] } });
  try {
    const body = { model: 'm', system: 'x-anthropic-billing-header: cc_version=1.a; cch=abcde;\nYou are', messages: [{ role: 'user', content: 'hi' }] };
    const result = await remove.analyze(new TextEncoder().encode(JSON.stringify(body)).buffer, { route: 'messages' });
    if (!result.ok) throw new Error(`analysis failed: ${result.code}`);
    const forwarded = JSON.parse(new TextDecoder().decode(result.forward)) as { messages: { role: string; content: string }[] };
    assert.equal(forwarded.messages[0], { role: 'system', content: 'You are' });
    assert.equal(result.normalized.map((n) => n.rule), ['claude-code-billing-header']);
  } finally {
    await remove.destroy();
  }
});

piscina('the workers hash with the response cache\'s strip rules the pool was built with (workerData)', async () => {
  const keyed = createWorkerPool({
    minThreads: 1, maxThreads: 1, cacheKeys: { stripRules: [{ pattern: '\\d{4}-\\d{2}-\\d{2}', replacement: 'DATE', flags: '' }], suffixMessages: 0 },
  });
  try {
    const digests = await Promise.all(['2026-11-21', '2026-11-22'].map(async (day) => {
      const body = { temperature: 0, messages: [{ role: 'system', content: `Today is ${day}.` }] };
      const result = await keyed.analyze(new TextEncoder().encode(JSON.stringify(body)).buffer, { cacheKeys: true });
      if (!result.ok || result.cacheKeys === null) throw new Error('no key material');
      assert.not.ok(result.cacheKeys.sampling);
      return result.cacheKeys;
    }));
    assert.is(digests[0]!.normalized.sha256, digests[1]!.normalized.sha256);
    assert.is.not(digests[0]!.raw.sha256, digests[1]!.raw.sha256);
  } finally {
    await keyed.destroy();
  }
});

piscina.run();
